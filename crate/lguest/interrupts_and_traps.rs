//! Interrupts and traps for the Guest (drivers/lguest/interrupts_and_traps.c): `set_interrupt()` marks one
//! pending and wakes the Launcher; `interrupt_pending()` picks the first the Guest has not blocked;
//! `try_deliver_interrupt()` wakes a halted Guest and, if the Guest has interrupts enabled and a handler in
//! its IDT, builds the interrupt frame on the Guest's stack and points it at the handler. The Guest's
//! clock event is an hrtimer that raises irq 0 when it expires.

use super::core::{kill_guest, lgwrite};
use super::hypercalls::{data_get, data_put, lguest_data};
use super::lg::{Guest, LgCpu, Lguest};
use super::page_tables::guest_pa;
use super::regs::GUEST_CS;
use crate::kernel::Kernel;
use crate::params::LGUEST_IRQS;

const X86_EFLAGS_IF: u32 = 0x200;
const FIRST_EXTERNAL_VECTOR: u32 = 32;

/// Is this IDT entry present (the P bit of its high word)?
fn idt_present(_lo: u32, hi: u32) -> bool {
    hi & 0x8000 != 0
}

fn idt_type(_lo: u32, hi: u32) -> u32 {
    (hi >> 8) & 0xF
}

fn idt_address(lo: u32, hi: u32) -> u32 {
    (lo & 0xFFFF) | (hi & 0xFFFF_0000)
}

/// X:200 `set_interrupt()`: set the bit, then wake the Launcher if it sleeps (or kick it if it runs).
pub fn set_interrupt(k: &mut Kernel, cpu: &mut LgCpu, irq: u32) {
    cpu.irqs_pending |= 1 << irq;
    let how = if k.wake_up_process(cpu.tsk) {
        "wake_up_process(cpu->tsk): the Launcher, asleep in read(), can run again"
    } else {
        "kick_process(cpu->tsk) (it is not asleep)"
    };
    k.ev("set_interrupt", format!("set_bit({irq}, irqs_pending); {how}"), &["cpu0.irqs_pending"]);
}

/// X:201 `interrupt_pending()`: the first pending, unblocked interrupt (or LGUEST_IRQS for none), and
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

/// X:203 `set_guest_interrupt()`: push eflags, cs, eip (and an error code) on the Guest's stack, switching to
/// the kernel stack from SET_STACK if the Guest was in user mode, and jump to the handler.
pub fn set_guest_interrupt(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, lo: u32, hi: u32, err: Option<u32>) {
    let regs = cpu.regs;
    let (mut sp, ss, from_user) = if regs.ss & 3 != 1 { (cpu.esp1, cpu.ss1, true) } else { (regs.esp, regs.ss, false) };
    let mut eflags = regs.eflags;
    if let Some(en) = data_get(k, lg, lguest_data::IRQ_ENABLED) {
        if en & X86_EFLAGS_IF == 0 {
            eflags &= !X86_EFLAGS_IF;
        }
    }
    let mut words = Vec::new();
    if from_user {
        words.push(regs.ss);
        words.push(regs.esp);
    }
    words.extend([eflags, regs.cs, regs.eip]);
    if let Some(e) = err {
        words.push(e);
    }
    // The stack pointer is a Guest virtual address: once the Guest pages, the Host walks the Guest's tables
    // to find where to write (`guest_pa()`); the frame is pushed below that.
    let Some(mut phys) = guest_pa(k, lg, cpu, sp) else { return };
    for w in words {
        sp = sp.wrapping_sub(4);
        phys = phys.wrapping_sub(4);
        if !lgwrite(k, lg, phys, &w.to_le_bytes()) {
            return;
        }
    }
    cpu.regs.ss = ss;
    cpu.regs.esp = sp;
    cpu.regs.cs = GUEST_CS;
    cpu.regs.eip = idt_address(lo, hi);
    let to = cpu.regs.eip;
    if idt_type(lo, hi) == 0xE && !data_put(k, lg, lguest_data::IRQ_ENABLED, 0) {
        kill_guest(k, lg, "Disabling interrupts".into());
    }
    k.ev("set_guest_interrupt", format!("frame pushed at {sp:#x}; the Guest continues at its handler {to:#x}"), &["cpu0.regs"]);
}

/// `deliver_trap()`: reflect a fault through the Guest's IDT. False if the Guest has no handler (or the trap
/// is one lguest never reflects), which kills it.
pub fn deliver_trap(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, num: u32) -> bool {
    if num >= 256 {
        return false;
    }
    let (lo, hi) = cpu.idt[num as usize];
    if !idt_present(lo, hi) {
        return false;
    }
    let has_err = matches!(num, 8 | 10..=14 | 17);
    let err = has_err.then_some(cpu.regs.errcode);
    set_guest_interrupt(k, lg, cpu, lo, hi, err);
    true
}

/// `guest_set_clockevent()`: arm (or, with 0, cancel) the hrtimer `delta` ns from now.
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

/// X:210 `clockdev_fn()`: the cpu's hrtimer, if due by `until`, fires: irq 0 for the Guest.
pub fn clockdev_fn(k: &mut Kernel, cpu: &mut LgCpu, until: u64) {
    let Some(t) = cpu.hrt_expires.filter(|t| *t <= until) else { return };
    k.now_ns = k.now_ns.max(t);
    cpu.hrt_expires = None;
    k.log.push("timer", "clockdev_fn", "X:210", format!("the Guest's hrtimer fires at {t} ns: set_interrupt(irq 0)"), &["cpu0.hrt"]);
    let saved = k.current;
    k.current = cpu.tsk;
    set_interrupt(k, cpu, 0);
    k.current = saved;
}

/// Every timer of a live Guest due by `until` fires.
pub fn run_timers(k: &mut Kernel, guest: &mut Guest, until: u64) {
    if guest.lg.dead.is_some() {
        return;
    }
    for cpu in guest.cpus.iter_mut() {
        clockdev_fn(k, cpu, until);
    }
}
