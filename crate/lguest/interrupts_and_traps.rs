//! Interrupts and traps for the Guest (drivers/lguest/interrupts_and_traps.c): `set_interrupt()` marks one
//! pending and wakes the Launcher; `interrupt_pending()` picks the first the Guest has not blocked;
//! `try_deliver_interrupt()` wakes a halted Guest and, if the Guest has interrupts enabled and a handler in
//! its IDT, builds the interrupt frame on the Guest's stack and points it at the handler. The Guest's
//! clock event is an hrtimer that raises irq 0 when it expires.
//!
//! The other half is how the Guest's IDT reaches the CPU. `load_guest_idt_entry()` and `set_trap()` check
//! and keep each entry the Guest gives; before every run `copy_traps()` builds the IDT the CPU really uses:
//! a trap gate for a vector `direct_trap()` allows is copied as it is, so the CPU enters the Guest's handler
//! without ever leaving the Guest (H:250); every other vector keeps the Switcher's gate and comes back to the
//! Host, which reflects it with `deliver_trap()` or handles it itself.

use super::core::{kill_guest, lgwrite};
use super::hypercalls::{data_get, data_put, lguest_data, SYSCALL_VECTOR};
use super::lg::{Guest, LgCpu, Lguest, CHANGED_IDT};
use super::page_tables::{guest_pa, pin_stack_pages};
use super::regs::GUEST_CS;
use super::switcher::default_idt_entry;
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::params::{LGUEST_IRQS, LGUEST_TRAP_ENTRY};

const X86_EFLAGS_IF: u32 = 0x200;
const FIRST_EXTERNAL_VECTOR: u32 = 32;

/// `__KERNEL_CS|GUEST_PL`: the selector `set_trap()` puts in every Guest gate.
const GUEST_KERNEL_CS: u32 = super::regs::GUEST_CS;

/// Is this IDT entry present (the P bit of its high word)?
pub(crate) fn idt_present(_lo: u32, hi: u32) -> bool {
    hi & 0x8000 != 0
}

/// The gate's type: 0xE an interrupt gate (the CPU clears IF on entry), 0xF a trap gate.
pub(crate) fn idt_type(_lo: u32, hi: u32) -> u32 {
    (hi >> 8) & 0xF
}

/// The handler's address, split across the two words.
pub(crate) fn idt_address(lo: u32, hi: u32) -> u32 {
    (lo & 0xFFFF) | (hi & 0xFFFF_0000)
}

/// X:200 `set_interrupt()`: set the bit, then wake the Launcher if it sleeps, or, if it is running the
/// Guest on another CPU, `kick_process()` it out so `run_guest()` goes round and sees the bit.
pub fn set_interrupt(k: &mut Kernel, cpu: &mut LgCpu, irq: u32) {
    cpu.irqs_pending |= 1 << irq;
    let how = if k.wake_up_process(cpu.tsk) {
        "wake_up_process(cpu->tsk): the Launcher, asleep in read(), can run again"
    } else if k.kick_process(cpu.tsk) {
        "kick_process(cpu->tsk): it is running the Guest on another CPU, so a reschedule IPI knocks the Guest out to the Host"
    } else {
        "kick_process(cpu->tsk) does nothing: the task is not running the Guest right now, and run_guest() looks at irqs_pending before it enters the Guest again"
    };
    k.ev("set_interrupt", format!("set_bit({irq}, irqs_pending); {how}"), &["cpu0.irqs_pending"]);
}

/// H:205 `interrupt_pending()`: the first pending, unblocked interrupt (or LGUEST_IRQS for none), and
/// whether there may be more (in this kernel the answer is always yes).
pub fn interrupt_pending(k: &mut Kernel, lg: &mut Lguest, cpu: &LgCpu) -> (u32, bool) {
    if lg.lguest_data.is_none() {
        return (LGUEST_IRQS, true);
    }
    let Some(blocked) = data_get(k, lg, lguest_data::BLOCKED_INTERRUPTS) else {
        return (LGUEST_IRQS, true);
    };
    let raised = cpu.irqs_pending;
    let pending = raised & !blocked;
    if pending == 0 {
        (LGUEST_IRQS, true)
    } else {
        let irq = pending.trailing_zeros();
        k.ev("interrupt_pending", format!("irqs_pending {raised:#x} & ~blocked_interrupts {blocked:#x}: irq {irq} is first"), &[]);
        (irq, true)
    }
}

/// X:202 `try_deliver_interrupt()`.
pub fn try_deliver_interrupt(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, irq: u32, more: bool) {
    let eip = cpu.regs.eip;
    if eip >= lg.noirq_start && eip < lg.noirq_end {
        k.ev("try_deliver_interrupt", format!("eip {eip:#x} is inside the no-interrupt range: not now"), &[]);
        return;
    }
    if cpu.halted {
        if !data_put(k, lg, lguest_data::IRQ_ENABLED, X86_EFLAGS_IF) {
            kill_guest(k, lg, "Re-enabling interrupts".into());
        }
        cpu.halted = false;
        k.ev("try_deliver_interrupt", format!("irq {irq} wakes the halted Guest: irq_enabled = 512, halted = 0"), &["cpu0.halted"]);
    } else {
        let enabled = data_get(k, lg, lguest_data::IRQ_ENABLED).unwrap_or(0);
        if enabled == 0 {
            let _ = data_put(k, lg, lguest_data::IRQ_PENDING, X86_EFLAGS_IF);
            k.ev("try_deliver_interrupt", format!("irq {irq} waits: the Guest has interrupts off (irq_enabled = 0); irq_pending = 512"), &[]);
            return;
        }
    }
    let (lo, hi) = cpu.idt[(FIRST_EXTERNAL_VECTOR + irq) as usize];
    if idt_present(lo, hi) {
        cpu.irqs_pending &= !(1 << irq);
        k.ev(
            "try_deliver_interrupt",
            format!("IDT entry {} is present: clear the bit and deliver irq {irq}", FIRST_EXTERNAL_VECTOR + irq),
            &["cpu0.irqs_pending"],
        );
        set_guest_interrupt(k, lg, cpu, lo, hi, None);
    } else {
        k.ev("try_deliver_interrupt", format!("IDT entry {} is not present: irq {irq} stays pending", FIRST_EXTERNAL_VECTOR + irq), &[]);
    }
    super::hypercalls::write_timestamp(k, lg);
    if !more {
        let _ = data_put(k, lg, lguest_data::IRQ_PENDING, 0);
    }
}

/// H:210 `set_guest_interrupt()`: push eflags, cs, eip (and an error code) on the Guest's stack, switching to
/// the kernel stack from SET_STACK if the Guest was in user mode, and jump to the handler.
///
/// As in the kernel, each push is its own `lgwrite()` (`push_guest_stack()`): a word that cannot be written
/// kills the Guest, and the function goes on regardless. The later words are still written where they can
/// be, the first reason is the one kept (`kill_guest()` ignores the rest), and the registers end as if
/// every push had worked: esp lowered by all of them, cs and eip at the handler. The frame is pushed below
/// the physical address of the stack pointer, found once (`guest_pa()`): the Host writes down through
/// physical memory, whatever page the Guest's tables map below.
pub fn set_guest_interrupt(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, lo: u32, hi: u32, err: Option<u32>) {
    let regs = cpu.regs;
    let (stack_va, stack_ss, from_user) = if regs.ss & 3 != 1 { (cpu.esp1, cpu.ss1, true) } else { (regs.esp, regs.ss, false) };
    // The stack pointer is a Guest virtual address: the Host walks the Guest's tables to find where to
    // write (`guest_pa()`); the frame is pushed below that.
    let stack_pa = guest_pa(k, lg, cpu, stack_va);
    let mut at = stack_pa;
    let mut failed = Vec::new();
    let mut push = |k: &mut Kernel, lg: &mut Lguest, what: &'static str, w: u32| {
        at = at.wrapping_sub(4);
        if !lgwrite(k, lg, at, &w.to_le_bytes()) {
            failed.push(what);
        }
    };
    if from_user {
        push(k, lg, "ss", regs.ss);
        push(k, lg, "esp", regs.esp);
    }
    // The Guest's idea of IF lives in lguest_data.irq_enabled: copy it into the eflags pushed.
    let mut eflags = regs.eflags;
    if let Some(en) = data_get(k, lg, lguest_data::IRQ_ENABLED) {
        if en & X86_EFLAGS_IF == 0 {
            eflags &= !X86_EFLAGS_IF;
        }
    }
    push(k, lg, "eflags", eflags);
    push(k, lg, "cs", regs.cs);
    push(k, lg, "eip", regs.eip);
    if let Some(e) = err {
        push(k, lg, "error code", e);
    }
    cpu.regs.ss = stack_ss;
    cpu.regs.esp = stack_va.wrapping_add(at.wrapping_sub(stack_pa));
    cpu.regs.cs = GUEST_CS;
    cpu.regs.eip = idt_address(lo, hi);
    let (sp, to) = (cpu.regs.esp, cpu.regs.eip);
    if idt_type(lo, hi) == 0xE && !data_put(k, lg, lguest_data::IRQ_ENABLED, 0) {
        kill_guest(k, lg, "Disabling interrupts".into());
    }
    let text = if failed.is_empty() {
        format!("frame pushed at {sp:#x}; the Guest continues at its handler {to:#x}")
    } else {
        format!(
            "frame pushed at {sp:#x}, but {} could not be written (the Guest is dead); esp, cs and eip are set all the same, eip at the handler {to:#x}",
            failed.join(", ")
        )
    };
    k.ev("set_guest_interrupt", text, &["cpu0.regs"]);
}

/// `has_err()`: the six traps for which the CPU pushes an error code.
pub fn has_err(trap: u32) -> bool {
    matches!(trap, 8 | 10..=14 | 17)
}

/// H:220 `deliver_trap()`: reflect a trap through the Guest's IDT as the CPU would have. False if the Guest
/// has no handler (or the number is the impossible 256 of a fault inside the Switcher), which kills it.
pub fn deliver_trap(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, num: u32) -> bool {
    if num >= 256 {
        return false;
    }
    let (lo, hi) = cpu.idt[num as usize];
    if !idt_present(lo, hi) {
        return false;
    }
    let err = has_err(num).then_some(cpu.regs.errcode);
    set_guest_interrupt(k, lg, cpu, lo, hi, err);
    true
}

/// `init_interrupts()` (module load): a `syscall_vector` other than `SYSCALL_VECTOR` must be free on the
/// Host, neither in `used_vectors` nor on a device interrupt (`vector_used_by_percpu_irq()`; which vectors
/// the Host holds is in [`crate::kernel::irq`]): then it is marked in `used_vectors`, so nothing else takes
/// it while the module is loaded. One already used fails the load, with the kernel's printk, -EBUSY.
pub fn init_interrupts(k: &mut Kernel) -> Result<(), Errno> {
    let sv = k.lguest.syscall_vector();
    if sv == SYSCALL_VECTOR {
        let text =
            format!("syscall_vector is SYSCALL_VECTOR ({SYSCALL_VECTOR:#x}), the module's default: the Host's own system-call vector, nothing to reserve");
        super::core::module_ev(k, "init_interrupts", text);
        return Ok(());
    }
    if k.used_vectors.test_bit(sv) || k.vector_used_by_percpu_irq(sv) {
        let what = crate::kernel::irq::boot_use(sv).unwrap_or_else(|| "taken since boot".into());
        let text = format!("syscall_vector {sv:#x} is already used by the Host ({what}): printk(KERN_ERR \"lg: couldn't reserve syscall {sv}\"), -EBUSY");
        super::core::module_ev(k, "init_interrupts", text);
        return Err(Errno::EBUSY);
    }
    k.used_vectors.set_bit(sv);
    let text = format!("syscall_vector {sv:#x} is free on the Host: set_bit({sv}, used_vectors) reserves it while the module is loaded");
    super::core::module_ev(k, "init_interrupts", text);
    Ok(())
}

/// `free_interrupts()` (module unload, or a failed load after `init_interrupts()`): a reserved vector is
/// given back.
pub fn free_interrupts(k: &mut Kernel) {
    let sv = k.lguest.syscall_vector();
    if sv == SYSCALL_VECTOR {
        super::core::module_ev(k, "free_interrupts", "syscall_vector is the default: nothing was reserved, nothing to give back".into());
    } else {
        k.used_vectors.clear_bit(sv);
        super::core::module_ev(k, "free_interrupts", format!("clear_bit({sv}, used_vectors): vector {sv:#x} is the Host's to give out again"));
    }
}

/// `could_be_syscall()`: Linux's `SYSCALL_VECTOR`, or the module's `syscall_vector` (`sv`).
pub fn could_be_syscall(num: u32, sv: u32) -> bool {
    num == SYSCALL_VECTOR || num == sv
}

/// H:250 `direct_trap()`: may trap `num` go straight to the Guest (`sv`: the module's `syscall_vector`)? Not
/// the Host's own interrupts (32 and up) except a system call, and not the five the Host must see first:
/// page faults (14: the shadow page tables), general protection (13: `in`/`out` emulation), device not
/// available (7: the FPU), invalid opcode (6: a `vmcall` to rewrite) and the hypercall trap itself.
pub fn direct_trap(num: u32, sv: u32) -> bool {
    if num >= FIRST_EXTERNAL_VECTOR && !could_be_syscall(num, sv) {
        return false;
    }
    !matches!(num, 14 | 13 | 7 | 6) && num != LGUEST_TRAP_ENTRY as u32
}

/// Why vector `num` does not go straight to the Guest, in words (for the event of a trap that came back).
pub fn why_not_direct(cpu: &LgCpu, num: u32, sv: u32) -> String {
    if num >= 256 {
        return "it is no vector at all: the Switcher itself faulted".into();
    }
    if !direct_trap(num, sv) {
        return match num {
            14 => "the Host must see page faults (shadow page tables, cr2)".into(),
            13 => "the Host must see general protection faults (in/out emulation)".into(),
            7 => "the Host must see device-not-available (the FPU's TS bit)".into(),
            6 => "the Host must see invalid opcodes (a vmcall to rewrite)".into(),
            n if n == LGUEST_TRAP_ENTRY as u32 => "it is the hypercall trap".into(),
            _ => "vectors 32 and up are the Host's own interrupts".into(),
        };
    }
    let (lo, hi) = cpu.idt[num as usize];
    if !idt_present(lo, hi) {
        "the Guest has no entry for it, so the IDT keeps the Switcher's gate".into()
    } else {
        format!(
            "the Guest's entry is an interrupt gate (type {:#x}): only trap gates may go direct, since entering one must turn the Guest's interrupts off",
            idt_type(lo, hi)
        )
    }
}

/// H:235 `set_trap()`: check the Guest's IDT entry and keep what of it the Host trusts: a not-present entry
/// is zeroed; any type but an interrupt or trap gate kills the Guest (and is kept anyway, as the kernel
/// does: it never runs again); the selector becomes `__KERNEL_CS|GUEST_PL`, and of the high word only the
/// address, present bit, privilege level and type are kept (`& 0xFFFFEF00`).
pub fn set_trap(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, num: u32, lo: u32, hi: u32) {
    let t = idt_type(lo, hi);
    if !idt_present(lo, hi) {
        cpu.idt[num as usize] = (0, 0);
        k.ev("set_trap", format!("IDT entry {num} is not present ({lo:#010x}, {hi:#010x}): zeroed"), &["cpu0.idt"]);
        return;
    }
    if t != 0xE && t != 0xF {
        k.ev("set_trap", format!("IDT entry {num} has type {t:#x}: only interrupt gates (0xE) and trap gates (0xF) are allowed"), &[]);
        kill_guest(k, lg, format!("bad IDT type {}", t as u8));
    }
    let entry = ((GUEST_KERNEL_CS << 16) | (lo & 0xFFFF), hi & 0xFFFF_EF00);
    cpu.idt[num as usize] = entry;
    let kind = if t == 0xF {
        "trap gate"
    } else if t == 0xE {
        "interrupt gate"
    } else {
        "kept though bad"
    };
    k.ev(
        "set_trap",
        format!("IDT entry {num} = ({:#010x}, {:#010x}): {kind} to {:#x}, DPL {}", entry.0, entry.1, idt_address(entry.0, entry.1), (entry.1 >> 13) & 3),
        &["cpu0.idt"],
    );
}

/// H:230 `load_guest_idt_entry()`: LHCALL_LOAD_IDT_ENTRY(num, lo, hi). NMI (2), double fault (8), the
/// spurious vector (15) and the hypercall trap are the Host's: ignored. Otherwise the IDT is marked changed
/// (the Switcher copies it again before the next run) and the entry goes through `set_trap()`; a number past
/// the table kills the Guest.
pub fn load_guest_idt_entry(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, num: u32, lo: u32, hi: u32) {
    if num == 2 || num == 8 || num == 15 || num == LGUEST_TRAP_ENTRY as u32 {
        k.ev("load_guest_idt_entry", format!("IDT entry {num} is the Host's: ignored"), &[]);
        return;
    }
    cpu.changed |= CHANGED_IDT;
    if num as usize >= cpu.idt.len() {
        kill_guest(k, lg, format!("Setting idt entry {num}"));
    } else {
        set_trap(k, lg, cpu, num, lo, hi);
    }
}

/// H:240 `copy_traps()`: the IDT the CPU uses while this Guest runs. For each vector that may go direct, a
/// Guest trap gate is copied as it is (the CPU will enter the Guest's handler itself); anything else gets the
/// Switcher's gate back (`default_idt_entry()`), with the privilege level of the Guest's entry so Guest user
/// mode can still `int` a vector the Guest opened to it. Vectors that never go direct keep the gate module
/// load gave them.
pub fn copy_traps(cpu: &LgCpu, idt: &mut [(u32, u32)], sv: u32) -> u32 {
    let mut direct = 0;
    for (i, gate) in idt.iter_mut().enumerate().take(cpu.idt.len()) {
        let num = i as u32;
        if !direct_trap(num, sv) {
            continue;
        }
        let (lo, hi) = cpu.idt[i];
        if idt_type(lo, hi) == 0xF {
            *gate = (lo, hi);
            direct += 1;
        } else {
            *gate = default_idt_entry(num, Some((lo, hi)));
        }
    }
    direct
}

/// `guest_set_stack()`: LHCALL_SET_STACK(seg, esp, pages), the Guest kernel's stack for traps from its user
/// mode. A segment of the wrong ring or more than two pages kill the Guest, but what it gave is stored all
/// the same (as the kernel does), and the pages are pinned.
pub fn guest_set_stack(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, seg: u32, esp: u32, pages: u32) {
    if seg & 3 != 1 {
        kill_guest(k, lg, format!("bad stack segment {}", seg as i32));
    }
    if pages > 2 {
        kill_guest(k, lg, format!("bad stack pages {pages}"));
    }
    cpu.ss1 = seg;
    cpu.esp1 = esp;
    lg.stack_pages = pages;
    k.ev("guest_set_stack", format!("LHCALL_SET_STACK: kernel stack {seg:#x}:{esp:#x}, {pages} page(s); pin_stack_pages()"), &["cpu0.stack"]);
    pin_stack_pages(k, lg, cpu);
}

/// H:200 `guest_set_clockevent()`: arm (or, with 0, cancel) the hrtimer `delta` ns from now.
pub fn guest_set_clockevent(k: &mut Kernel, cpu: &mut LgCpu, delta: u32) {
    if delta == 0 {
        cpu.hrt_expires = None;
        k.ev("do_hcall", "LHCALL_SET_CLOCKEVENT 0: hrtimer_cancel()".into(), &["cpu0.hrt"]);
    } else {
        let at = k.now_ns.saturating_add(delta as u64);
        cpu.hrt_expires = Some(at);
        k.ev("do_hcall", format!("LHCALL_SET_CLOCKEVENT: hrtimer_start() to fire at {at} ns ({delta} ns from now)"), &["cpu0.hrt"]);
    }
}

/// X:210 `clockdev_fn()`: the cpu's hrtimer, if due by `until`, fires: irq 0 for the Guest (whether or not
/// the Guest still lives: only `close()` cancels the timer). `here`: the timer interrupt came in on the CPU
/// running this cpu's Launcher task, which is already back in the Host; otherwise it runs in interrupt
/// context elsewhere, and `set_interrupt()` wakes or kicks the task.
pub fn clockdev_fn(k: &mut Kernel, cpu: &mut LgCpu, until: u64, here: bool) {
    let Some(t) = cpu.hrt_expires.filter(|t| *t <= until) else { return };
    k.now_ns = k.now_ns.max(t);
    cpu.hrt_expires = None;
    k.log.push("timer", "clockdev_fn", crate::tags::tag("clockdev_fn"), format!("the Guest's hrtimer fires at {t} ns: set_interrupt(irq 0)"), &["cpu0.hrt"]);
    let saved = k.current;
    k.current = if here { cpu.tsk } else { crate::kernel::task::IRQ_CONTEXT };
    set_interrupt(k, cpu, 0);
    k.current = saved;
}

/// Every timer of a Guest due by `until` fires. A dead Guest's too: `kill_guest()` stops nothing, the hrtimer
/// is only cancelled in `close()`, so it still raises irq 0 and wakes the Launcher (whose `read()` then says
/// -ENOENT).
pub fn run_timers(k: &mut Kernel, guest: &mut Guest, until: u64) {
    for cpu in guest.cpus.iter_mut() {
        clockdev_fn(k, cpu, until, false);
    }
}
