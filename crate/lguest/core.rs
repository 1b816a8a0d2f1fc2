//! H:030 `run_guest()`: the loop behind `read()` (drivers/lguest/core.c), in the kernel's order: pending
//! hypercall, pending notify, signal, interrupt, halt, run, trap. It leaves only by returning to the
//! Launcher (a NOTIFY no eventfd took, a signal, death) or by sleeping (a halted Guest), which is how a
//! student sees the Launcher "stuck" in `read()` while the Guest works. Also here, as in core.c and lg.h:
//! `lguest_address_ok()`, `lgread()`, `lgwrite()` and `kill_guest()`.
//!
//! Sleeping is modelled by returning [`RunOutcome::Halted`]: when something wakes the task the loop is
//! entered again from the top, exactly where `schedule()` would have returned to (the loop's `continue`).

use super::hypercalls::do_hypercalls;
use super::interrupts_and_traps::{interrupt_pending, try_deliver_interrupt};
use super::lg::{Dead, LgCpu, Lguest};
use super::lguest_user::send_notify_to_eventfd;
use super::x86_core::{lguest_arch_handle_trap, lguest_arch_run_guest, GuestExit};
use crate::errno::Errno;
use crate::kernel::alloc::AllocKind;
use crate::kernel::syscall::{fail, Fail};
use crate::kernel::Kernel;
use crate::params::{LGUEST_IRQS, LOOP_CAP, MAX_REASON, PAGE_SIZE, WORD};

pub enum RunOutcome {
    /// `read()` returns: `Ok((4, notify address))` or an errno.
    Return(Result<(i64, u32), Fail>),
    /// The Guest keeps trapping without anything for the Launcher; the task stays in `read()` (between two
    /// turns of the loop) and the simulation lets others run. The reason, for the page.
    Blocked(String),
    /// The Guest is running on the task's CPU and has not trapped (the simulation paused it to let others run):
    /// when the task goes on, so does the Guest, where it was. A `kick_process()` meanwhile knocks it out.
    Running(String),
    /// The task sleeps because the Guest halted: only an interrupt (the timer, LHREQ_IRQ) or a signal wakes
    /// it, so simulated time may jump to the next timer.
    Halted(String),
}

/// H:030 `run_guest()`. A cpu whose Guest was still running when the simulation paused it (`in_guest`) goes
/// straight back to step 8, inside `lguest_arch_run_guest()`.
pub fn run_guest(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, user: u32) -> RunOutcome {
    for _ in 0..LOOP_CAP {
        if lg.dead.is_some() {
            cpu.in_guest = false;
            break;
        }
        if cpu.in_guest {
            match lguest_arch_run_guest(k, lg, cpu) {
                GuestExit::StillRunning if k.sched.budget.exhausted() => return RunOutcome::Running(budget_spent(k)),
                GuestExit::StillRunning => return RunOutcome::Running("the Guest is running and has not trapped to the Host".into()),
                GuestExit::Trap => lguest_arch_handle_trap(k, lg, cpu),
            }
            continue;
        }
        // 1. A hypercall the Guest made last time round.
        if cpu.hcall.is_some() {
            do_hypercalls(k, lg, cpu);
        }
        // 2. A NOTIFY: an eventfd may take it; otherwise read() returns it to the Launcher.
        let notify = cpu.pending_notify;
        if notify != 0 && !send_notify_to_eventfd(k, lg, cpu) {
            k.ev("run_guest", format!("no eventfd for {notify:#x}: put_user() it into the read buffer, return 4"), &[]);
            if !k.copy_to_user(user, &notify.to_le_bytes()) {
                return RunOutcome::Return(fail(Errno::EFAULT, format!("the read buffer at {user:#x} is not mapped for 4 bytes; the notify stays pending")));
            }
            return RunOutcome::Return(Ok((WORD as i64, notify)));
        }
        // 3. A signal for the Launcher.
        if k.tasks.get(k.current as usize).is_some_and(|t| t.signal_pending) {
            k.ev("run_guest", "signal_pending(current): return -ERESTARTSYS".into(), &[]);
            return RunOutcome::Return(fail(Errno::ERESTARTSYS, "a signal is pending for the Launcher (it sees EINTR, or the read restarts)"));
        }
        // 4. An interrupt the Guest can take.
        let (irq, more) = interrupt_pending(k, lg, cpu);
        if irq < LGUEST_IRQS {
            try_deliver_interrupt(k, lg, cpu, irq, more);
        }
        // 5. try_to_freeze(): nothing to freeze in the simulation.
        // 6. Death while delivering.
        if lg.dead.is_some() {
            break;
        }
        // 7. A halted Guest sleeps until an interrupt is pending.
        if cpu.halted {
            if interrupt_pending(k, lg, cpu).0 < LGUEST_IRQS {
                continue;
            }
            let why = match cpu.hrt_expires {
                Some(t) => format!("the Guest is halted: the Launcher sleeps in read() until an interrupt (its timer fires at {t} ns)"),
                None => "the Guest is halted: the Launcher sleeps in read() until an interrupt or a signal".to_string(),
            };
            k.ev("run_guest", "halted: set_current_state(TASK_INTERRUPTIBLE); schedule()".into(), &["tasks"]);
            return RunOutcome::Halted(why);
        }
        // 8. Run the Guest, 9. then see why it stopped.
        match lguest_arch_run_guest(k, lg, cpu) {
            GuestExit::StillRunning if k.sched.budget.exhausted() => return RunOutcome::Running(budget_spent(k)),
            GuestExit::StillRunning => return RunOutcome::Running("the Guest is running and has not trapped to the Host".into()),
            GuestExit::Trap => lguest_arch_handle_trap(k, lg, cpu),
        }
    }
    if lg.dead.is_none() {
        return RunOutcome::Blocked("the Guest is busy trapping to the Host; the simulation lets others run".into());
    }
    if matches!(lg.dead, Some(Dead::Err { errno: Errno::ERESTART })) {
        k.ev("run_guest", "lg->dead is ERR_PTR(-ERESTART): return -ERESTART".into(), &[]);
        RunOutcome::Return(fail(Errno::ERESTART, "the Guest asked to reboot: the Launcher should restart itself"))
    } else {
        k.ev("run_guest", "lg->dead is set: return -ENOENT".into(), &[]);
        RunOutcome::Return(fail(Errno::ENOENT, "the Guest died: read() again to learn why"))
    }
}

/// Why the Guest stopped although it would go on: the call's work budget is spent (the simulation's pause,
/// not the kernel's; `wait` goes on).
fn budget_spent(k: &Kernel) -> String {
    format!(
        "the Guest is still running: this call's work budget ({} units of Guest work) is spent, so the simulation paused it here; `wait` goes on",
        k.sched.budget.spent
    )
}

/// H:000 `init()`: what loading the lguest module does (`module_init(init)`), which the simulated kernel
/// runs as the machine starts, before any program, and again at each `insmod`. In the kernel's order, each
/// step undone by the labels below it if a later one fails:
/// 1. `paravirt_enabled()`: a Host that is itself a paravirtualized guest (Xen, VMI, lguest) refuses, since
///    the Switcher's tricks need the real hardware: -EPERM.
/// 2. [`map_switcher`] (H:010): the Switcher's pages, at the same high address in Host and every Guest.
/// 3. `init_pagetables()` (H:510): each CPU's Switcher pte page.
/// 4. `init_interrupts()`: reserve the system-call vector if the module was told another one; one the Host
///    already uses fails the load with -EBUSY (`free_pgtables:`, then `unmap:`).
/// 5. `lguest_device_init()`: register `/dev/lguest`, the misc device the Launcher opens.
/// 6. `lguest_arch_host_init()` (H:020): each CPU's `struct lguest_pages`, and PGE off.
///
/// Returns 0 or the errno `insmod` would report; on failure nothing stays registered, so `open()` of
/// `/dev/lguest` finds no device node.
pub fn init(k: &mut Kernel) -> Result<(), Errno> {
    if k.paravirt {
        module_ev(k, "init", "paravirt_enabled(): the Host itself runs paravirtualized, so the kernel log gets \"lguest is afraid of being a guest\" and init() fails with -EPERM".into());
        return Err(Errno::EPERM);
    }
    module_ev(k, "init", "paravirt_enabled() is false: the Host runs on the bare machine, so lguest may load".into());
    // A freshly loaded module: its globals start empty (no CPU has run a Guest of it yet).
    k.lguest.pages = Default::default();
    k.lguest.lg_last_cpu = None;
    map_switcher(k);
    super::page_tables::init_pagetables(k);
    if let Err(e) = super::interrupts_and_traps::init_interrupts(k) {
        module_ev(k, "init", format!("init_interrupts() returned {e}: goto free_pgtables, then unmap"));
        super::page_tables::free_pagetables(k);
        unmap_switcher(k);
        return Err(e);
    }
    super::lguest_user::lguest_device_init(k);
    super::x86_core::lguest_arch_host_init(k);
    Ok(())
}

/// `fini()` (`module_exit`): unloading undoes `init()` in reverse: the misc device goes (and with it the
/// `/dev/lguest` node), the reserved vector is given back, the Switcher's pte pages are freed, the Switcher
/// is unmapped and its pages freed, and PGE is turned back on. Only a module nobody uses gets here (see
/// [`crate::kernel::module`]): no file of `/dev/lguest` is open, so no Guest is left.
pub fn fini(k: &mut Kernel) {
    super::lguest_user::lguest_device_remove(k);
    super::interrupts_and_traps::free_interrupts(k);
    super::page_tables::free_pagetables(k);
    unmap_switcher(k);
    super::x86_core::lguest_arch_host_fini(k);
}

/// The module's parameter (`module_param(syscall_vector, uint, 0444)`): a `uint` read as `kstrtoul()` with
/// base 0 reads it. No value, or one that is not a number, is -EINVAL; any other name -ENOENT (a dash in
/// the name counts as an underscore, as `parameq()` has it). The kernel
/// would take any 32-bit value and then test that bit of the 256-bit `used_vectors`, past its end for 256
/// and up: the simulation refuses those rather than guess what lies there.
pub fn set_param(k: &mut Kernel, name: &str, val: Option<&str>) -> Result<Result<(), Errno>, String> {
    // parse_args() compares names with a dash read as an underscore (parameq()): syscall-vector is it too.
    if name.replace('-', "_") != "syscall_vector" {
        return Ok(Err(Errno::ENOENT));
    }
    let Some(v) = val.and_then(crate::kernel::module::parse_uint) else {
        return Ok(Err(Errno::EINVAL));
    };
    if v >= crate::kernel::irq::NR_VECTORS as u64 {
        return Err(format!(
            "syscall_vector={}: a vector is 0 to 255; the kernel does not check, and would test bit {v} of the 256-bit used_vectors, past its end (the simulation does not follow it there)",
            val.unwrap_or("")
        ));
    }
    k.lguest.syscall_vector = Some(v as u32);
    Ok(Ok(()))
}

/// A fresh copy of the module: `syscall_vector` is `SYSCALL_VECTOR` again.
pub fn reset_params(k: &mut Kernel) {
    k.lguest.syscall_vector = None;
}

/// H:010 `map_switcher()`: zeroed pages for the Switcher (`TOTAL_SWITCHER_PAGES`: its code page, then two
/// for each CPU, `nr_cpu_ids`: this Host has one), checked to stay clear of the fixmap at the top of
/// memory, mapped at `SWITCHER_ADDR` (0xFFC00000 without PAE: the top 4 MB, one page directory slot, which
/// keeps the page tables simple), and the Switcher's code copied into the first. Its printk shows the
/// address with `%p`: eight hex digits, no 0x.
fn map_switcher(k: &mut Kernel) {
    module_ev(
        k,
        "map_switcher",
        "3 zeroed pages (the Switcher's code page and two for the one CPU) mapped at SWITCHER_ADDR 0xffc00000, clear of the fixmap; the Switcher's code copied in; printk(KERN_INFO \"lguest: mapped switcher at ffc00000\")".into(),
    );
}

/// `unmap_switcher()`: `vunmap()` of the Switcher's area, then its pages freed.
fn unmap_switcher(k: &mut Kernel) {
    module_ev(k, "unmap_switcher", "vunmap(0xffc00000): the Switcher's mapping goes; its 3 pages are freed, and the array that listed them".into());
}

/// An event of the module's load: it runs in `insmod`'s context, before any task of the simulation.
pub(crate) fn module_ev(k: &mut Kernel, func: &'static str, text: String) {
    k.log.push("insmod", func, crate::tags::tag(func), text, &[]);
}

/// H:032 `lguest_address_ok()`: is [addr, addr+len) inside the Guest's memory? The kernel's test, in the
/// host's 32-bit arithmetic: the page of `addr + len` must lie below `pfn_limit` (so a range that ends
/// exactly at the limit is refused), and the sum must not wrap.
pub fn lguest_address_ok(lg: &Lguest, addr: u32, len: u32) -> bool {
    let end = addr.wrapping_add(len);
    end / PAGE_SIZE < lg.pfn_limit && end >= addr
}

/// The Launcher address of Guest-physical `gpa` (`mem_base + gpa`).
pub(crate) fn guest_user(lg: &Lguest, gpa: u32) -> u32 {
    lg.mem_base.wrapping_add(gpa)
}

/// `__lgread()`: read Guest memory, killing the Guest if the range is outside it.
pub fn lgread(k: &mut Kernel, lg: &mut Lguest, gpa: u32, len: u32) -> Option<Vec<u8>> {
    let ua = guest_user(lg, gpa);
    if !lguest_address_ok(lg, gpa, len) {
        kill_guest(k, lg, format!("bad read address {gpa:#x} len {len}"));
        return None;
    }
    match k.copy_from_user(ua, len) {
        Some(b) => Some(b),
        None => {
            kill_guest(k, lg, format!("bad read address {gpa:#x} len {len}"));
            None
        }
    }
}

/// `__lgread()` as its callers in the kernel use it: a refused read has killed the Guest and reads as zeroes
/// (the kernel clears the buffer), and the caller goes on with them.
pub fn lgread_or_zeroes(k: &mut Kernel, lg: &mut Lguest, gpa: u32, len: u32) -> Vec<u8> {
    lgread(k, lg, gpa, len).unwrap_or_else(|| vec![0; len as usize])
}

/// A 32-bit word of Guest-physical memory (`lgread()`; a bad address kills the Guest).
pub fn lgread_u32(k: &mut Kernel, lg: &mut Lguest, gpa: u32) -> Option<u32> {
    let b = lgread(k, lg, gpa, 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// `lgwrite()`: write Guest memory, killing the Guest if the range is outside it.
pub fn lgwrite(k: &mut Kernel, lg: &mut Lguest, gpa: u32, data: &[u8]) -> bool {
    let ua = guest_user(lg, gpa);
    if !lguest_address_ok(lg, gpa, data.len() as u32) || !k.copy_to_user(ua, data) {
        kill_guest(k, lg, format!("bad write address {gpa:#x} len {}", data.len()));
        return false;
    }
    true
}

/// L:035 `kill_guest()`: only the first reason counts; if `kasprintf()` fails, `dead` becomes
/// `ERR_PTR(-ENOMEM)`.
pub fn kill_guest(k: &mut Kernel, lg: &mut Lguest, reason: String) {
    if lg.dead.is_some() {
        k.ev("kill_guest", format!("already dead; \"{}\" is ignored", reason.escape_debug()), &[]);
        return;
    }
    let text: String = reason.chars().take(MAX_REASON).collect();
    let dead = match k.alloc.alloc(AllocKind::Slab, format!("kill reason \"{}\"", text.escape_debug()), "kill_guest", text.len() as u32 + 1) {
        Ok(alloc) => Dead::Reason { text: text.clone(), alloc },
        Err(_) => Dead::Err { errno: Errno::ENOMEM },
    };
    let shown = match &dead {
        Dead::Reason { .. } => format!("lg->dead = \"{}\"", text.escape_debug()),
        Dead::Err { .. } => "kasprintf() fails: lg->dead = ERR_PTR(-ENOMEM)".into(),
    };
    lg.dead = Some(dead);
    k.ev("kill_guest", shown, &["lg.dead", "alloc"]);
}
