//! H:030 `run_guest()`: the loop behind `read()` (drivers/lguest/core.c), in the kernel's order:
//! pending hypercall, pending notify, signal, interrupt, halt, run, trap. It leaves only by returning to
//! the Launcher (a NOTIFY no eventfd took, a signal, death) or by sleeping (a halted Guest), which is how a
//! student sees the Launcher "stuck" in `read()` while the Guest works.
//!
//! Sleeping is modelled by returning [`RunOutcome::Blocked`]: when something wakes the task the loop is
//! entered again from the top, exactly where `schedule()` would have returned to (the loop's `continue`).

use crate::errno::Errno;
use crate::host::guest::{run_scripted, GuestEngine, GuestExit};
use crate::launcher::FileId;
use crate::machine::{fail, Fail, Machine};
use crate::params::{LGUEST_IRQS, LGUEST_TRAP_ENTRY, PAGE_SIZE, WORD};

pub enum RunOutcome {
    /// `read()` returns: `Ok((4, notify address))` or an errno.
    Return(Result<(i64, u32), Fail>),
    /// The task sleeps (or the Guest keeps running) until something wakes it; the reason, for the page.
    Blocked(String),
}

/// How many trips around the loop one wake-up may take before the simulation lets others run (a Guest
/// that traps without end would otherwise hold the page).
const LOOP_CAP: u32 = 10_000;

impl Machine {
    pub(crate) fn run_guest_for(&mut self, file: FileId, cpu: u32, user: u32) -> RunOutcome {
        let Some(g) = self.lguest_of(file) else {
            return RunOutcome::Return(fail(Errno::EINVAL, "the Guest went away"));
        };
        self.run_guest(g, cpu, user)
    }

    /// H:030 `run_guest()`.
    fn run_guest(&mut self, g: usize, c: u32, user: u32) -> RunOutcome {
        let ci = c as usize;
        for _ in 0..LOOP_CAP {
            if self.lg_mut(g).dead.is_some() {
                break;
            }
            // 1. A hypercall the Guest made last time round.
            if self.lg_mut(g).cpus[ci].hcall.is_some() {
                self.do_hypercalls(g, c);
            }
            // 2. A NOTIFY: an eventfd may take it; otherwise read() returns it to the Launcher.
            let notify = self.lg_mut(g).cpus[ci].pending_notify;
            if notify != 0 && !self.send_notify_to_eventfd(g, c) {
                self.ev("run_guest", format!("no eventfd for {notify:#x}: put_user() it into the read buffer, return 4"), &[]);
                if !self.copy_to_user(user, &notify.to_le_bytes()) {
                    return RunOutcome::Return(fail(Errno::EFAULT, format!("the read buffer at {user:#x} is not mapped for 4 bytes; the notify stays pending")));
                }
                return RunOutcome::Return(Ok((WORD as i64, notify)));
            }
            // 3. A signal for the Launcher.
            if self.tasks[self.current as usize].signal_pending {
                self.ev("run_guest", "signal_pending(current): return -ERESTARTSYS".into(), &[]);
                return RunOutcome::Return(fail(Errno::ERESTARTSYS, "a signal is pending for the Launcher (it sees EINTR, or the read restarts)"));
            }
            // 4. An interrupt the Guest can take.
            let (irq, more) = self.interrupt_pending(g, c);
            if irq < LGUEST_IRQS {
                self.try_deliver_interrupt(g, c, irq, more);
            }
            // 5. try_to_freeze(): nothing to freeze in the simulation.
            // 6. Death while delivering.
            if self.lg_mut(g).dead.is_some() {
                break;
            }
            // 7. A halted Guest sleeps until an interrupt is pending.
            if self.lg_mut(g).cpus[ci].halted {
                if self.interrupt_pending(g, c).0 < LGUEST_IRQS {
                    continue;
                }
                let why = match self.lg_mut(g).cpus[ci].hrt_expires {
                    Some(t) => format!("the Guest is halted: the Launcher sleeps in read() until an interrupt (its timer fires at {t} ns)"),
                    None => "the Guest is halted: the Launcher sleeps in read() until an interrupt or a signal".to_string(),
                };
                self.ev("run_guest", "halted: set_current_state(TASK_INTERRUPTIBLE); schedule()".into(), &["tasks"]);
                return RunOutcome::Blocked(why);
            }
            // 8. Run the Guest, 9. then see why it stopped.
            match self.lguest_arch_run_guest(g, c) {
                GuestExit::StillRunning => {
                    return RunOutcome::Blocked("the Guest is running and has not trapped to the Host".into());
                }
                GuestExit::Trap => self.lguest_arch_handle_trap(g, c),
            }
        }
        if self.lg_mut(g).dead.is_none() {
            return RunOutcome::Blocked("the Guest is busy trapping to the Host; the simulation lets others run".into());
        }
        let restart = matches!(self.lg_mut(g).dead, Some(crate::host::lg::Dead::Err { errno: Errno::ERESTART }));
        if restart {
            self.ev("run_guest", "lg->dead is ERR_PTR(-ERESTART): return -ERESTART".into(), &[]);
            RunOutcome::Return(fail(Errno::ERESTART, "the Guest asked to reboot: the Launcher should restart itself"))
        } else {
            self.ev("run_guest", "lg->dead is set: return -ENOENT".into(), &[]);
            RunOutcome::Return(fail(Errno::ENOENT, "the Guest died: read() again to learn why"))
        }
    }

    /// X:300 `lguest_arch_run_guest()`: run the Guest's code until it traps back.
    fn lguest_arch_run_guest(&mut self, g: usize, c: u32) -> GuestExit {
        let ci = c as usize;
        let tsk = self.lg_mut(g).cpus[ci].tsk;
        let pidx = self.proc_of(tsk);
        let limit = self.lg_mut(g).pfn_limit as u64 * PAGE_SIZE as u64;
        let engine = self.lg_mut(g).cpus[ci].engine.clone();
        let mut regs = self.lg_mut(g).cpus[ci].regs;
        let exit = match engine {
            GuestEngine::Scripted => {
                let p = &mut self.procs[pidx];
                run_scripted(&mut p.script, &mut regs, &mut p.ram, limit)
            }
        };
        self.lg_mut(g).cpus[ci].regs = regs;
        if exit == GuestExit::Trap {
            self.log.push("guest", "lguest_arch_run_guest", "X:300", format!("the Guest traps to the Host: trap {:#x} at eip {:#x}", regs.trapnum, regs.eip), &["cpu0.regs"]);
        }
        exit
    }

    /// X:301 `lguest_arch_handle_trap()`: a hypercall is remembered; other traps are handled here.
    fn lguest_arch_handle_trap(&mut self, g: usize, c: u32) {
        let ci = c as usize;
        let regs = self.lg_mut(g).cpus[ci].regs;
        match regs.trapnum {
            n if n == LGUEST_TRAP_ENTRY as u32 => {
                self.lg_mut(g).cpus[ci].hcall = Some(regs.hcall_args());
                self.ev("lguest_arch_handle_trap", format!("trap 0x1f is a hypercall: cpu->hcall = regs (call {})", regs.eax), &["cpu0.hcall"]);
            }
            n @ 32..=255 => {
                self.ev("lguest_arch_handle_trap", format!("trap {n} was a Host interrupt: cond_resched() and go round again"), &[]);
            }
            7 if self.lg_mut(g).cpus[ci].ts == 0 => {
                self.ev("lguest_arch_handle_trap", "trap 7 with TS clear: nothing to do".into(), &[]);
            }
            n => {
                if !self.deliver_trap(g, c, n) {
                    let reason = format!("unhandled trap {} at {:#x} ({:#x})", n, regs.eip, regs.errcode);
                    self.kill_guest(g, reason);
                }
            }
        }
    }
}
