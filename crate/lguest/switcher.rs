//! S:100 The Switcher (drivers/lguest/x86/switcher_32.S) and the two pages of each host CPU it works from
//! (`struct lguest_pages`, lg.h). The Switcher, a short stretch of assembly, is mapped at 0xFFC00000 in
//! both the Host and every Guest, so the instructions that change from one world to the other run at the
//! same address on both sides.
//!
//! Each host CPU has two pages up there. The first is where the Guest's registers live while the Guest
//! runs (`map_switcher_in_guest()` maps the Guest cpu's own `regs_page` in its place, so nothing has to be
//! copied out afterwards); the second, read-only to the Guest, holds `struct lguest_ro_state`: the Host's
//! cr3, GDT, IDT and stack to return to, and the Guest's IDT, GDT and TSS as the Host last copied them
//! (`copy_in_guest_info()`, S:010). The way in (`switch_to_guest`) loads the Guest's GDT, IDT, TSS and cr3,
//! then pops the Guest's registers off the regs page and `iret`s into it. The way out is one of 256 stubs,
//! one per vector: each pushes its vector (and a zero error code where the CPU pushed none) and jumps to
//! `return_to_host` (a trap) or `deliver_to_host` (a Host interrupt, whose Host handler then runs).
//!
//! This is hardware and assembly, so here it is the part of the model the x86 core cannot do itself: which
//! gate of the IDT the CPU follows for a trap (straight into the Guest, or into a stub), what the stubs
//! leave in the regs page, and the segment loads that can make the Switcher itself fault (trap 256).

use serde::Serialize;

use super::interrupts_and_traps::{idt_present, idt_type};
use super::regs::LguestRegs;
use crate::cpu::segments::{self, Segment, CS, DS, ES, FS, GDT_ENTRIES, GS, SS};
use crate::cpu::Fault;
use crate::kernel::alloc::AllocId;

/// `SWITCHER_ADDR` (non-PAE): the top 4 MB of every address space.
pub const SWITCHER_ADDR: u32 = 0xFFC0_0000;
/// `LGUEST_CS` / `LGUEST_DS`: the Switcher's own segments (GDT entries 10 and 11, DPL 0).
pub const LGUEST_CS: u32 = 10 << 3;
pub const LGUEST_DS: u32 = 11 << 3;
/// `GDT_ENTRY_TSS` and `GDT_ENTRY_DOUBLEFAULT_TSS` (i386 segment.h).
pub const GDT_ENTRY_TSS: usize = 16;
pub const GDT_ENTRY_DOUBLEFAULT_TSS: usize = 31;
/// The vector `run_guest_once()` writes into `regs->trapnum` before it enters the Switcher: no trap has that
/// number, so if it is still there when the Host looks, the Switcher itself faulted on the way in.
pub const SWITCHER_TRAPNUM: u32 = 256;
/// `LOCAL_TIMER_VECTOR` and `RESCHEDULE_VECTOR` of a 2.6.39 i386 host (asm/irq_vectors.h): the local APIC
/// timer, which runs hrtimers such as the Guest's clock, and the IPI `kick_process()` sends.
pub const LOCAL_TIMER_VECTOR: u32 = 0xef;
pub const RESCHEDULE_VECTOR: u32 = 0xfd;

/// `default_idt_entries[n]`: where stub `n` sits in the Switcher. The stubs are 16-byte aligned one after
/// the other; their offset in the page is illustrative (the real one depends on how switcher_32.S
/// assembles).
pub fn default_idt_entries(n: u32) -> u32 {
    SWITCHER_ADDR + 0x100 + 16 * (n & 0xff)
}

/// Which stub vector `n` leads to: the Host handles the first 32 and the system-call vector itself
/// (`return_to_host`); the rest are the Host's own interrupts (`deliver_to_host`), but NMI has its own.
pub fn stub_target(n: u32) -> &'static str {
    match n {
        2 => "handle_nmi",
        0..=31 | 128 => "return_to_host",
        _ => "deliver_to_host",
    }
}

/// The privilege level (DPL) of a gate: `int n` from a ring above it is #GP.
pub fn gate_dpl(_lo: u32, hi: u32) -> u32 {
    (hi >> 13) & 3
}

/// The code segment selector a gate enters.
pub fn gate_selector(lo: u32, _hi: u32) -> u32 {
    lo >> 16
}

/// Does this gate of the Switcher's IDT take the CPU straight into the Guest (a trap gate `copy_traps()`
/// copied from the Guest), rather than into one of the Switcher's stubs?
pub fn goes_direct(lo: u32, hi: u32) -> bool {
    idt_present(lo, hi) && idt_type(lo, hi) == 0xF && gate_selector(lo, hi) != LGUEST_CS
}

/// `struct lguest_pages` of one host CPU (there is one host CPU here): the regs page the Guest cpu's
/// registers are mapped over, and `struct lguest_ro_state`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LguestPages {
    /// Whose registers page `map_switcher_in_guest()` last mapped at the top of this CPU's first page.
    pub regs_page: Option<AllocId>,
    /// `state.host_cr3`: the page directory of the task that entered (the Launcher's process), to come
    /// back to.
    pub host_cr3: Option<u32>,
    /// `state.guest_idt`: the IDT the CPU uses while the Guest runs, as (lo, hi) per vector.
    pub guest_idt: Vec<(u32, u32)>,
    /// `state.guest_gdt`: the GDT the CPU uses while the Guest runs.
    pub guest_gdt: Vec<(u32, u32)>,
    /// `state.guest_tss.sp1` / `ss1`: the stack the CPU switches to for a trap that goes straight into the
    /// Guest kernel from Guest user mode (the Guest's SET_STACK).
    pub tss_sp1: u32,
    pub tss_ss1: u32,
}

impl Default for LguestPages {
    fn default() -> Self {
        LguestPages::new()
    }
}

/// A descriptor as the (lo, hi) words the kernel's `struct desc_struct` holds.
pub fn split_desc(d: u64) -> (u32, u32) {
    (d as u32, (d >> 32) as u32)
}

impl LguestPages {
    /// What `lguest_arch_host_init()` leaves in a CPU's pages at module load: `setup_default_gdt_entries()`
    /// (the Switcher's two segments and the TSS) and `setup_default_idt_entries()` (every vector a present
    /// interrupt gate into its stub, privilege 0 except the hypercall's, which the Guest kernel may `int`).
    pub fn new() -> LguestPages {
        let host = segments::initial_gdt();
        let mut gdt = vec![(0, 0); GDT_ENTRIES];
        gdt[segments::GDT_ENTRY_LGUEST_CS] = split_desc(host[segments::GDT_ENTRY_LGUEST_CS]);
        gdt[segments::GDT_ENTRY_LGUEST_DS] = split_desc(host[segments::GDT_ENTRY_LGUEST_DS]);
        // An available 386 TSS of 0x68 bytes at the start of the read-only page (a system segment: the
        // Guest can load nothing from it).
        let tss = SWITCHER_ADDR + 0x2000;
        gdt[GDT_ENTRY_TSS] = (0x67 | (tss << 16), 0x8900 | (tss & 0xFF00_0000) | ((tss >> 16) & 0xFF));
        let guest_idt = (0..256).map(|i| default_idt_entry(i, None)).collect();
        LguestPages { regs_page: None, host_cr3: None, guest_idt, guest_gdt: gdt, tss_sp1: 0, tss_ss1: 0 }
    }

    /// The GDT as the CPU holds it once the Switcher's `lgdt` loaded it.
    pub fn gdt_table(&self) -> [u64; GDT_ENTRIES] {
        let mut t = [0u64; GDT_ENTRIES];
        for (i, (lo, hi)) in self.guest_gdt.iter().enumerate().take(GDT_ENTRIES) {
            t[i] = ((*hi as u64) << 32) | *lo as u64;
        }
        t
    }
}

/// `default_idt_entry()`: a present interrupt gate into stub `trap` through `LGUEST_CS`. The hypercall's gate
/// gets privilege 1 so the Guest kernel can `int $0x1f`; any other takes the privilege of the Guest's own
/// entry `base` (so Guest user mode may `int $3` if the Guest said so), or 0 when there is none.
pub fn default_idt_entry(trap: u32, base: Option<(u32, u32)>) -> (u32, u32) {
    let handler = default_idt_entries(trap);
    let mut flags = 0x8e00;
    if trap == crate::params::LGUEST_TRAP_ENTRY as u32 {
        flags |= 1 << 13;
    } else if let Some((_, hi)) = base {
        flags |= hi & 0x6000;
    }
    ((LGUEST_CS << 16) | (handler & 0xFFFF), (handler & 0xFFFF_0000) | flags)
}

/// Which segment register the Switcher could not load, for the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitcherFault {
    pub register: &'static str,
    pub selector: u32,
    pub fault: Fault,
}

/// The segment registers `switch_to_guest` loads from the regs page, as the CPU caches them, and the ring it
/// `iret`s to: `%gs`, `%fs`, `%ds`, `%es` popped at ring 0, then `iret` loads `%cs` and `%ss` for the Guest's
/// ring and clears any data segment that ring may not use. A selector the GDT does not allow faults inside the
/// Switcher (`SwitcherFault`), before a single Guest instruction runs.
pub fn switch_to_guest(gdt: &[u64; GDT_ENTRIES], regs: &LguestRegs) -> Result<([Segment; 6], u8), SwitcherFault> {
    let fail = |register: &'static str, selector: u32, fault: Fault| SwitcherFault { register, selector, fault };
    let mut segs = [Segment::NULL; 6];
    for (idx, name, sel) in [(GS, "%gs", regs.gs), (FS, "%fs", regs.fs), (DS, "%ds", regs.ds), (ES, "%es", regs.es)] {
        segs[idx] = segments::load_data_segment(gdt, sel as u16, 0).map_err(|f| fail(name, sel, f))?;
    }
    let cs = segments::load_code_segment(gdt, regs.cs as u16).map_err(|f| fail("%cs", regs.cs, f))?;
    let cpl = (regs.cs & 3) as u8;
    let ss = segments::load_stack_segment(gdt, regs.ss as u16, cpl).map_err(|f| fail("%ss", regs.ss, f))?;
    segs[CS] = cs;
    segs[SS] = ss;
    for idx in [ES, DS, FS, GS] {
        let s = segs[idx];
        let conforming_code = s.is_code() && s.access & segments::ACC_DC != 0;
        if s.usable() && !conforming_code && s.dpl() < cpl {
            segs[idx] = Segment { selector: 0, ..Segment::NULL };
        }
    }
    Ok((segs, cpl))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lguest::regs::LguestRegs;

    #[test]
    fn the_default_gates_lead_to_the_switcher() {
        let p = LguestPages::new();
        let (lo, hi) = p.guest_idt[0];
        assert_eq!(gate_selector(lo, hi), LGUEST_CS);
        assert_eq!((idt_type(lo, hi), gate_dpl(lo, hi)), (0xE, 0));
        assert!(!goes_direct(lo, hi));
        let (lo, hi) = p.guest_idt[0x1f];
        assert_eq!(gate_dpl(lo, hi), 1, "the Guest kernel may int $0x1f");
        // With a Guest entry of DPL 3, the default gate takes its privilege.
        let (_, hi) = default_idt_entry(3, Some((0x0061_1000, 0x0010_ee00)));
        assert_eq!(gate_dpl(0, hi), 3);
    }

    #[test]
    fn the_switcher_loads_the_guests_segments_or_faults() {
        let p = LguestPages::new();
        let mut gdt = p.gdt_table();
        let core = segments::initial_gdt();
        gdt[12] = core[12];
        gdt[13] = core[13];
        let regs = LguestRegs::setup(0x100000);
        let (segs, cpl) = switch_to_guest(&gdt, &regs).unwrap();
        assert_eq!((segs[CS].selector, segs[SS].selector, cpl), (0x61, 0x69, 1));
        // A data selector into an empty entry: not present, the Switcher faults on %ds.
        let bad = LguestRegs { ds: 0x71, ..regs };
        let f = switch_to_guest(&gdt, &bad).unwrap_err();
        assert_eq!((f.register, f.selector), ("%ds", 0x71));
    }
}
