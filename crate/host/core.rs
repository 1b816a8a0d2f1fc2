//! H:030 `run_guest()`: the loop behind `read()` (drivers/lguest/core.c), in the kernel's order:
//! pending hypercall, pending notify, signal, interrupt, halt, run, trap. It leaves only by returning to
//! the Launcher (a NOTIFY no eventfd took, a signal, death) or by sleeping (a halted Guest), which is how a
//! student sees the Launcher "stuck" in `read()` while the Guest works.
//!
//! Sleeping is modelled by returning [`RunOutcome::Blocked`]: when something wakes the task the loop is
//! entered again from the top, exactly where `schedule()` would have returned to (the loop's `continue`).

use crate::errno::Errno;
use crate::cpu::timeline::Timeline;
use crate::cpu::Exit;
use crate::host::guest::{cpu_to_regs, regs_to_cpu, run_scripted, GuestEngine, GuestExit};
use crate::launcher::FileId;
use crate::machine::{fail, Fail, Machine};
use crate::params::{GUEST_SLICE, LGUEST_IRQS, LGUEST_TRAP_ENTRY, PAGE_SIZE, WORD};

/// The Guest CPU's timeline being recorded for the page, and which Guest cpu it follows (the first one that
/// ran; others are not recorded) in which Launcher process's memory.
#[derive(Clone, Debug)]
pub struct Recording {
    pub guest: usize,
    pub cpu: u32,
    pub proc: usize,
    pub timeline: Box<Timeline>,
}

pub enum RunOutcome {
    /// `read()` returns: `Ok((4, notify address))` or an errno.
    Return(Result<(i64, u32), Fail>),
    /// The task sleeps (or the Guest keeps running) until something wakes it; the reason, for the page.
    Blocked(String),
    /// The task sleeps because the Guest halted: only an interrupt (the timer, LHREQ_IRQ) or a signal wakes
    /// it, so simulated time may jump to the next timer.
    Halted(String),
}

/// How many trips around the loop one wake-up may take before the simulation lets others run (a Guest
/// that traps without end would otherwise hold the page).
const LOOP_CAP: u32 = 1_000;

/// `SYSCALL_VECTOR`: the Guest's system calls (`int $0x80`), which lguest lets reach the Guest's own IDT.
const SYSCALL_VECTOR: u8 = 0x80;

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
                return RunOutcome::Halted(why);
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
        let Some(lg) = self.host.guests.get_mut(g).and_then(|x| x.as_mut()) else { return GuestExit::StillRunning };
        // The Switcher loads cr3 with this cpu's shadow page directory (once the Guest pages at all).
        let shadow = if lg.paging { Some(lg.pgdirs[lg.cpus[ci].cpu_pgd].shadow.clone()) } else { None };
        let cpu = &mut lg.cpus[ci];
        let proc = &mut self.procs[pidx];
        let ram = &mut proc.ram;
        let (exit, ran) = match &mut cpu.engine {
            GuestEngine::Scripted => (run_scripted(&mut proc.script, &mut cpu.regs, &mut cpu.cr2, ram, limit), 0),
            GuestEngine::Cpu(core) => {
                core.cr3 = shadow;
                if std::mem::take(&mut cpu.flush_pending) {
                    // A mapping changed (or cr3 did): blocks decoded through the old one may be stale.
                    core.flush_code_cache();
                }
                regs_to_cpu(&cpu.regs, core);
                let before = core.state.tsc;
                // Recording the Guest's timeline for the page: the same run, in chunks between checkpoints.
                let timeline: Option<&mut Timeline> = match &mut self.timeline {
                    Some(rec) if rec.guest == g && rec.cpu == c && rec.proc == pidx => Some(&mut *rec.timeline),
                    Some(_) => None,
                    None if self.recording => {
                        Some(&mut *self.timeline.insert(Recording { guest: g, cpu: c, proc: pidx, timeline: Box::new(Timeline::new()) }).timeline)
                    }
                    None => None,
                };
                let exit = match timeline.and_then(|tl| tl.run_trip(core, ram, GUEST_SLICE, trip_ended)) {
                    Some(exit) => exit,
                    None => core.run(ram, GUEST_SLICE),
                };
                cpu_to_regs(core, &mut cpu.regs);
                let ran = core.state.tsc - before;
                let exit = match exit {
                    Exit::Budget => GuestExit::StillRunning,
                    Exit::Hypercall => {
                        cpu.regs.trapnum = LGUEST_TRAP_ENTRY as u32;
                        cpu.regs.errcode = 0;
                        GuestExit::Trap
                    }
                    Exit::Interrupt { vector } => {
                        // On real hardware `int n` goes through the Switcher's IDT, whose gates only let
                        // ring 1 reach the debug/breakpoint/overflow traps and the system-call vector; any
                        // other `int n` is a #GP with the vector in the error code (reading of the gates).
                        if matches!(vector, 1 | 3 | 4 | SYSCALL_VECTOR) {
                            cpu.regs.trapnum = vector as u32;
                            cpu.regs.errcode = 0;
                        } else {
                            cpu.regs.trapnum = 13;
                            cpu.regs.errcode = ((vector as u32) << 3) | 2;
                        }
                        GuestExit::Trap
                    }
                    Exit::Fault { fault } => {
                        cpu.regs.trapnum = fault.vector() as u32;
                        cpu.regs.errcode = fault.error_code().unwrap_or(0);
                        if let crate::cpu::Fault::PageFault { cr2, .. } = fault {
                            cpu.cr2 = cr2;
                        }
                        if let crate::cpu::Fault::InvalidOpcode { what } = &fault {
                            cpu.last_ud = Some(what.clone());
                        }
                        GuestExit::Trap
                    }
                };
                (exit, ran)
            }
        };
        let regs = cpu.regs;
        // Simulated time moves with the Guest's work: one nanosecond per instruction (a 1 GHz Guest).
        if ran > 0 {
            self.host.now_ns = self.host.now_ns.saturating_add(ran);
            let now = self.host.now_ns;
            self.run_timers(now);
        }
        if exit == GuestExit::Trap {
            self.log.push("guest", "lguest_arch_run_guest", "X:300", format!("the Guest traps to the Host: trap {:#x} at eip {:#x}", regs.trapnum, regs.eip), &["cpu0.regs"]);
        }
        exit
    }

    /// X:301 `lguest_arch_handle_trap()`: a hypercall is remembered; other traps are handled here or
    /// reflected to the Guest, and a trap nobody can take kills it.
    fn lguest_arch_handle_trap(&mut self, g: usize, c: u32) {
        let ci = c as usize;
        let regs = self.lg_mut(g).cpus[ci].regs;
        match regs.trapnum {
            n if n == LGUEST_TRAP_ENTRY as u32 => {
                self.lg_mut(g).cpus[ci].hcall = Some(regs.hcall_args());
                self.ev("lguest_arch_handle_trap", format!("trap 0x1f is a hypercall: cpu->hcall = regs (call {})", regs.eax), &["cpu0.hcall"]);
                return;
            }
            13 | 6 => {
                if regs.trapnum == 13 && regs.errcode == 0 && self.emulate_insn(g, c) {
                    return;
                }
                // Under KVM vmcall is a #GP, normally a #UD: either way it may be the Guest's hypercall.
                if self.rewrite_hypercall(g, c) {
                    return;
                }
            }
            14 => {
                // demand_page(): the Guest's own tables may allow the access, and the shadow simply did
                // not have the entry yet. (While the Guest does not page, a #PF means "past pfn_limit",
                // which no page table can fix.)
                let cr2 = self.lg_mut(g).cpus[ci].cr2;
                if self.lg_mut(g).paging && self.demand_page(g, c, cr2, regs.errcode) {
                    return;
                }
                if self.lg_mut(g).dead.is_some() {
                    return;
                }
                if self.lg_mut(g).lguest_data.is_some() && !self.data_put(g, crate::host::hypercalls::lguest_data::CR2, cr2) {
                    self.kill_guest(g, "Writing cr2".into());
                }
            }
            7 if self.lg_mut(g).cpus[ci].ts == 0 => {
                self.ev("lguest_arch_handle_trap", "trap 7 with TS clear: nothing to do".into(), &[]);
                return;
            }
            n if n == SYSCALL_VECTOR as u32 => {}
            n @ 32..=255 => {
                self.ev("lguest_arch_handle_trap", format!("trap {n} was a Host interrupt: cond_resched() and go round again"), &[]);
                return;
            }
            _ => {}
        }
        let n = regs.trapnum;
        if self.deliver_trap(g, c, n) {
            self.ev("lguest_arch_handle_trap", format!("trap {n} reflected through the Guest's IDT"), &["cpu0.regs"]);
            return;
        }
        let third = if n == 14 { self.lg_mut(g).cpus[ci].cr2 } else { regs.errcode };
        let reason = format!("unhandled trap {} at {:#x} ({:#x})", n, regs.eip, third);
        if let Some(what) = self.lg_mut(g).cpus[ci].last_ud.take().filter(|_| n == 6) {
            self.ev("lguest_arch_handle_trap", format!("the instruction at {:#x} was #UD: {what}", regs.eip), &[]);
        }
        self.kill_guest(g, reason);
    }

    /// `emulate_insn()`: the Guest kernel's `in` and `out` (which trap at ring 1) are emulated: `in` reads
    /// all ones, `out` goes nowhere, and the Guest continues after the instruction.
    fn emulate_insn(&mut self, g: usize, c: u32) -> bool {
        let ci = c as usize;
        let regs = self.lg_mut(g).cpus[ci].regs;
        if regs.cs & 3 != 1 {
            return false;
        }
        // eip is a Guest virtual address: guest_pa() walks the Guest's tables once it pages.
        let Some(pa) = self.guest_pa(g, c, regs.eip) else { return false };
        let Some(b) = self.lgread(g, pa, 1) else { return false };
        let (mut insn, mut len, mut shift) = (b[0], 0u32, 0u32);
        if insn == 0x66 {
            shift = 16;
            len = 1;
            let Some(b2) = self.lgread(g, pa.wrapping_add(1), 1) else { return false };
            insn = b2[0];
        }
        let is_in = match insn & 0xFE {
            0xE4 => {
                len += 2;
                true
            }
            0xEC => {
                len += 1;
                true
            }
            0xE6 => {
                len += 2;
                false
            }
            0xEE => {
                len += 1;
                false
            }
            _ => return false,
        };
        let cpu = &mut self.lg_mut(g).cpus[ci];
        if is_in {
            if insn & 1 != 0 {
                cpu.regs.eax = if shift != 0 { (cpu.regs.eax & 0xFFFF_0000) | 0xFFFF } else { 0xFFFF_FFFF };
            } else {
                cpu.regs.eax |= 0xFF;
            }
        }
        cpu.regs.eip = cpu.regs.eip.wrapping_add(len);
        let what = if is_in { "in: the value read is all ones" } else { "out: the value goes nowhere" };
        self.ev("lguest_arch_handle_trap", format!("#GP(0) from an I/O instruction: emulate_insn() skips it ({what})"), &["cpu0.regs"]);
        true
    }

    /// `is_hypercall()` + `rewrite_hypercall()`: a `vmcall` at ring 1 becomes `int $0x1f; nop` in the Guest's
    /// code, and the Guest runs it again.
    fn rewrite_hypercall(&mut self, g: usize, c: u32) -> bool {
        let ci = c as usize;
        let regs = self.lg_mut(g).cpus[ci].regs;
        if regs.cs & 3 != 1 {
            return false;
        }
        let tsk = self.lg_mut(g).cpus[ci].tsk;
        let pidx = self.proc_of(tsk);
        let Some(lg) = self.host.guests.get_mut(g).and_then(|x| x.as_mut()) else { return false };
        let GuestEngine::Cpu(core) = &mut lg.cpus[ci].engine else { return false };
        if !core.rewrite_vmcall(&mut self.procs[pidx].ram, regs.eip) {
            return false;
        }
        lg.cpus[ci].last_ud = None;
        self.ev("lguest_arch_handle_trap", format!("vmcall at {:#x} rewritten to int $0x1f; nop (cd 1f 90)", regs.eip), &["guest.code"]);
        // That write may have made the kernel copy a read-only page of the Guest's code: the shadow tables
        // could name the old copy, so they all go (rare enough not to matter).
        self.guest_pagetable_clear_all(g, c);
        true
    }
}

/// How a run of the Guest ended, in words, for its timeline.
fn trip_ended(exit: &Exit, core: &crate::cpu::Cpu) -> String {
    let eax = core.state.regs[crate::cpu::EAX];
    match exit {
        Exit::Hypercall => format!("hypercall {eax} ({})", crate::host::hypercalls::hcall_name(eax)),
        Exit::Fault { fault } => format!("trap {}: {fault}", fault.vector()),
        Exit::Interrupt { vector } => format!("int ${vector:#x}"),
        Exit::Budget => "its time slice ran out (the Host takes the CPU back)".to_string(),
    }
}
