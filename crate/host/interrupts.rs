//! Interrupts and traps for the Guest (drivers/lguest/interrupts_and_traps.c): `set_interrupt()` marks
//! one pending and wakes the Launcher; `interrupt_pending()` picks the first the Guest has not blocked;
//! `try_deliver_interrupt()` wakes a halted Guest and, if the Guest has interrupts enabled and a handler in
//! its IDT, builds the interrupt frame on the Guest's stack and points it at the handler. The Guest's
//! clock event is an hrtimer that raises irq 0 when it expires.

use crate::host::hypercalls::lguest_data;
use crate::host::regs::GUEST_CS;
use crate::machine::Machine;
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

impl Machine {
    /// X:200 `set_interrupt()`: set the bit, then wake the Launcher if it sleeps (or kick it if it runs).
    pub(crate) fn set_interrupt(&mut self, g: usize, c: u32, irq: u32) {
        let ci = c as usize;
        self.lg_mut(g).cpus[ci].irqs_pending |= 1 << irq;
        let tsk = self.lg_mut(g).cpus[ci].tsk;
        let how = if self.wake_up_process(tsk) {
            "wake_up_process(cpu->tsk): the Launcher, asleep in read(), can run again"
        } else {
            "kick_process(cpu->tsk) (it is not asleep)"
        };
        self.ev("set_interrupt", format!("set_bit({irq}, irqs_pending); {how}"), &["cpu0.irqs_pending"]);
    }

    /// X:201 `interrupt_pending()`: the first pending, unblocked interrupt (or LGUEST_IRQS for none), and
    /// whether there may be more (in this kernel the answer is always yes).
    pub(crate) fn interrupt_pending(&mut self, g: usize, c: u32) -> (u32, bool) {
        if self.lg_mut(g).lguest_data.is_none() {
            return (LGUEST_IRQS, true);
        }
        let Some(blocked) = self.data_get(g, lguest_data::BLOCKED_INTERRUPTS) else {
            return (LGUEST_IRQS, true);
        };
        let raised = self.lg_mut(g).cpus[c as usize].irqs_pending;
        let pending = raised & !blocked;
        if pending == 0 {
            (LGUEST_IRQS, true)
        } else {
            let irq = pending.trailing_zeros();
            self.ev("interrupt_pending", format!("irqs_pending {raised:#x} & ~blocked_interrupts {blocked:#x}: irq {irq} is first"), &[]);
            (irq, true)
        }
    }

    /// X:202 `try_deliver_interrupt()`.
    pub(crate) fn try_deliver_interrupt(&mut self, g: usize, c: u32, irq: u32, more: bool) {
        let ci = c as usize;
        let eip = self.lg_mut(g).cpus[ci].regs.eip;
        let (ns, ne) = (self.lg_mut(g).noirq_start, self.lg_mut(g).noirq_end);
        if eip >= ns && eip < ne {
            self.ev("try_deliver_interrupt", format!("eip {eip:#x} is inside the no-interrupt range: not now"), &[]);
            return;
        }
        if self.lg_mut(g).cpus[ci].halted {
            if !self.data_put(g, lguest_data::IRQ_ENABLED, X86_EFLAGS_IF) {
                self.kill_guest(g, "Re-enabling interrupts".into());
            }
            self.lg_mut(g).cpus[ci].halted = false;
            self.ev("try_deliver_interrupt", format!("irq {irq} wakes the halted Guest: irq_enabled = 512, halted = 0"), &["cpu0.halted"]);
        } else {
            let enabled = self.data_get(g, lguest_data::IRQ_ENABLED).unwrap_or(0);
            if enabled == 0 {
                let _ = self.data_put(g, lguest_data::IRQ_PENDING, X86_EFLAGS_IF);
                self.ev("try_deliver_interrupt", format!("irq {irq} waits: the Guest has interrupts off (irq_enabled = 0); irq_pending = 512"), &[]);
                return;
            }
        }
        let (lo, hi) = self.lg_mut(g).cpus[ci].idt[(FIRST_EXTERNAL_VECTOR + irq) as usize];
        if idt_present(lo, hi) {
            self.lg_mut(g).cpus[ci].irqs_pending &= !(1 << irq);
            self.ev("try_deliver_interrupt", format!("IDT entry {} is present: clear the bit and deliver irq {irq}", FIRST_EXTERNAL_VECTOR + irq), &["cpu0.irqs_pending"]);
            self.set_guest_interrupt(g, c, lo, hi, None);
        } else {
            self.ev("try_deliver_interrupt", format!("IDT entry {} is not present: irq {irq} stays pending", FIRST_EXTERNAL_VECTOR + irq), &[]);
        }
        self.write_timestamp(g);
        if !more {
            let _ = self.data_put(g, lguest_data::IRQ_PENDING, 0);
        }
    }

    /// `set_guest_interrupt()`: push eflags, cs, eip (and an error code) on the Guest's stack, switching to
    /// the kernel stack from SET_STACK if the Guest was in user mode, and jump to the handler.
    pub(crate) fn set_guest_interrupt(&mut self, g: usize, c: u32, lo: u32, hi: u32, err: Option<u32>) {
        let ci = c as usize;
        let regs = self.lg_mut(g).cpus[ci].regs;
        let (mut sp, ss, from_user) = if regs.ss & 3 != 1 {
            (self.lg_mut(g).cpus[ci].esp1, self.lg_mut(g).cpus[ci].ss1, true)
        } else {
            (regs.esp, regs.ss, false)
        };
        let mut eflags = regs.eflags;
        if let Some(en) = self.data_get(g, lguest_data::IRQ_ENABLED) {
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
        for w in words {
            sp = sp.wrapping_sub(4);
            if !self.lgwrite(g, sp, &w.to_le_bytes()) {
                return;
            }
        }
        let cpu = &mut self.lg_mut(g).cpus[ci];
        cpu.regs.ss = ss;
        cpu.regs.esp = sp;
        cpu.regs.cs = GUEST_CS;
        cpu.regs.eip = idt_address(lo, hi);
        let to = cpu.regs.eip;
        if idt_type(lo, hi) == 0xE && !self.data_put(g, lguest_data::IRQ_ENABLED, 0) {
            self.kill_guest(g, "Disabling interrupts".into());
        }
        self.ev("set_guest_interrupt", format!("frame pushed at {sp:#x}; the Guest continues at its handler {to:#x}"), &["cpu0.regs"]);
    }

    /// `deliver_trap()`: reflect a fault through the Guest's IDT. False if the Guest has no handler (or the
    /// trap is one lguest never reflects), which kills it.
    pub(crate) fn deliver_trap(&mut self, g: usize, c: u32, num: u32) -> bool {
        if num >= 256 {
            return false;
        }
        let (lo, hi) = self.lg_mut(g).cpus[c as usize].idt[num as usize];
        if !idt_present(lo, hi) {
            return false;
        }
        let has_err = matches!(num, 8 | 10..=14 | 17);
        let err = has_err.then(|| self.lg_mut(g).cpus[c as usize].regs.errcode);
        self.set_guest_interrupt(g, c, lo, hi, err);
        true
    }

    /// `guest_set_clockevent()`: arm (or, with 0, cancel) the hrtimer `delta` ns from now.
    pub(crate) fn guest_set_clockevent(&mut self, g: usize, c: u32, delta: u32) {
        let now = self.host.now_ns;
        let cpu = &mut self.lg_mut(g).cpus[c as usize];
        if delta == 0 {
            cpu.hrt_expires = None;
            self.ev("do_hcall", "LHCALL_SET_CLOCKEVENT 0: hrtimer_cancel()".into(), &["cpu0.hrt"]);
        } else {
            let at = now.saturating_add(delta as u64);
            cpu.hrt_expires = Some(at);
            self.ev("do_hcall", format!("LHCALL_SET_CLOCKEVENT: hrtimer_start() to fire at {at} ns ({delta} ns from now)"), &["cpu0.hrt"]);
        }
    }

    /// The earliest armed Guest timer, if any.
    pub fn next_timer(&self) -> Option<u64> {
        self.host.guests.iter().flatten().flat_map(|lg| lg.cpus.iter().filter_map(|c| c.hrt_expires)).min()
    }

    /// X:210 `clockdev_fn()`: every timer due by `until` fires, raising irq 0.
    pub(crate) fn run_timers(&mut self, until: u64) {
        for g in 0..self.host.guests.len() {
            let Some(lg) = self.host.guests[g].as_ref() else { continue };
            if lg.dead.is_some() {
                continue;
            }
            for c in 0..lg.cpus.len() {
                let due = self.lg_mut(g).cpus[c].hrt_expires.filter(|t| *t <= until);
                if let Some(t) = due {
                    self.host.now_ns = self.host.now_ns.max(t);
                    self.lg_mut(g).cpus[c].hrt_expires = None;
                    self.log.push("timer", "clockdev_fn", "X:210", format!("the Guest's hrtimer fires at {t} ns: set_interrupt(irq 0)"), &["cpu0.hrt"]);
                    let saved = self.current;
                    self.current = self.lg_mut(g).cpus[c].tsk;
                    self.set_interrupt(g, c as u32, 0);
                    self.current = saved;
                }
            }
        }
    }
}
