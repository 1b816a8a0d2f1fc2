//! Segmentation as the Guest sees it: selectors, the Guest's GDT, and the cached part of each segment
//! register (base, limit, access rights) that every memory access checks.
//!
//! lguest's Guest kernel runs at ring 1 (`GUEST_PL`) with `cs = __KERNEL_CS|1` (0x61) and
//! `ds = es = ss = __KERNEL_DS|1` (0x69); its user programs run at ring 3 with `__USER_CS` (0x73) and
//! `__USER_DS` (0x7b). The Host owns the GDT (the Guest changes it with `LHCALL_LOAD_GDT_ENTRY`), keeps
//! its own `LGUEST_CS`/`LGUEST_DS` (entries 10 and 11, DPL 0) for the Switcher, and lowers every Guest
//! segment's DPL 0 to 1. Here, the Guest's segments stop short of the Switcher at 0xFFC00000: an access
//! at or beyond it is #GP, as the issue asks. No LDT, no call gates, no task switches (selectors that
//! would need them fault as #GP(selector)).

use serde::Serialize;

use super::fault::Fault;

/// The Guest's privilege level (`GUEST_PL`): its kernel runs in ring 1.
pub const GUEST_PL: u8 = 1;
/// Entries in the Guest's GDT (`GDT_ENTRIES` on i386).
pub const GDT_ENTRIES: usize = 32;
/// `GDT_ENTRY_LGUEST_CS` / `_DS`: the Host's own segments for the Switcher (selectors 0x50 / 0x58).
pub const GDT_ENTRY_LGUEST_CS: usize = 10;
pub const GDT_ENTRY_LGUEST_DS: usize = 11;
pub const GDT_ENTRY_KERNEL_CS: usize = 12;
pub const GDT_ENTRY_KERNEL_DS: usize = 13;
pub const GDT_ENTRY_DEFAULT_USER_CS: usize = 14;
pub const GDT_ENTRY_DEFAULT_USER_DS: usize = 15;
/// The selectors the Guest kernel starts with: `__KERNEL_CS|GUEST_PL`, `__KERNEL_DS|GUEST_PL`.
pub const GUEST_KERNEL_CS: u16 = (GDT_ENTRY_KERNEL_CS as u16) << 3 | GUEST_PL as u16;
pub const GUEST_KERNEL_DS: u16 = (GDT_ENTRY_KERNEL_DS as u16) << 3 | GUEST_PL as u16;
/// `__USER_CS`, `__USER_DS`: ring 3.
pub const USER_CS: u16 = (GDT_ENTRY_DEFAULT_USER_CS as u16) << 3 | 3;
pub const USER_DS: u16 = (GDT_ENTRY_DEFAULT_USER_DS as u16) << 3 | 3;
/// Where the Switcher lives (non-PAE): the top 4 MB, beyond every Guest segment.
pub const SWITCHER_ADDR: u32 = 0xFFC0_0000;

/// Segment registers in iced-x86's order (ES, CS, SS, DS, FS, GS), which is also the x86 encoding order.
pub const ES: usize = 0;
pub const CS: usize = 1;
pub const SS: usize = 2;
pub const DS: usize = 3;
pub const FS: usize = 4;
pub const GS: usize = 5;

/// Access byte bits of a descriptor (SDM 3.4.5).
pub const ACC_ACCESSED: u8 = 0x01;
pub const ACC_RW: u8 = 0x02; // readable code / writable data
pub const ACC_DC: u8 = 0x04; // conforming code / expand-down data
pub const ACC_CODE: u8 = 0x08;
pub const ACC_S: u8 = 0x10; // code or data (not system)
pub const ACC_PRESENT: u8 = 0x80;

/// Build a descriptor from base, 20-bit limit, access byte and the flags nibble (G, D/B).
pub const fn descriptor(base: u32, limit20: u32, access: u8, flags: u8) -> u64 {
    (limit20 as u64 & 0xffff)
        | (base as u64 & 0xff_ffff) << 16
        | (access as u64) << 40
        | ((limit20 as u64 >> 16) & 0xf) << 48
        | ((flags as u64) & 0xf) << 52
        | ((base as u64 >> 24) & 0xff) << 56
}

/// Limit in 4 KB units of the Guest's flat segments: they end just below the Switcher.
const FLAT_LIMIT20: u32 = (SWITCHER_ADDR >> 12) - 1;
/// G (4 KB granularity) and D/B (32-bit) set.
const FLAGS_G_32: u8 = 0xc;

/// The GDT a Guest starts with: the kernel's flat segments (DPL already lowered to 1 by the Host),
/// the user segments, and the Host's Switcher segments at DPL 0 which the Guest can never load.
pub fn initial_gdt() -> [u64; GDT_ENTRIES] {
    let mut g = [0u64; GDT_ENTRIES];
    let code = ACC_PRESENT | ACC_S | ACC_CODE | ACC_RW | ACC_ACCESSED;
    let data = ACC_PRESENT | ACC_S | ACC_RW | ACC_ACCESSED;
    g[GDT_ENTRY_LGUEST_CS] = descriptor(0, 0xfffff, code, FLAGS_G_32);
    g[GDT_ENTRY_LGUEST_DS] = descriptor(0, 0xfffff, data, FLAGS_G_32);
    g[GDT_ENTRY_KERNEL_CS] = descriptor(0, FLAT_LIMIT20, code | (GUEST_PL << 5), FLAGS_G_32);
    g[GDT_ENTRY_KERNEL_DS] = descriptor(0, FLAT_LIMIT20, data | (GUEST_PL << 5), FLAGS_G_32);
    g[GDT_ENTRY_DEFAULT_USER_CS] = descriptor(0, FLAT_LIMIT20, code | (3 << 5), FLAGS_G_32);
    g[GDT_ENTRY_DEFAULT_USER_DS] = descriptor(0, FLAT_LIMIT20, data | (3 << 5), FLAGS_G_32);
    g
}

/// A segment register: the visible selector and the descriptor cache loaded with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub selector: u16,
    pub base: u32,
    /// The largest valid offset (a byte-granular limit).
    pub limit: u32,
    /// The descriptor's access byte (0 for a null selector: any use is #GP(0)).
    pub access: u8,
}

impl Segment {
    pub const NULL: Segment = Segment { selector: 0, base: 0, limit: 0, access: 0 };

    pub fn usable(&self) -> bool {
        self.access & ACC_PRESENT != 0
    }
    pub fn dpl(&self) -> u8 {
        (self.access >> 5) & 3
    }
    pub fn is_code(&self) -> bool {
        self.access & ACC_CODE != 0
    }
    pub fn writable(&self) -> bool {
        self.access & (ACC_CODE | ACC_RW) == ACC_RW
    }
    pub fn readable(&self) -> bool {
        !self.is_code() || self.access & ACC_RW != 0
    }

    /// Decode a raw descriptor into a segment cache for `selector`.
    pub fn from_descriptor(selector: u16, d: u64) -> Segment {
        let base = ((d >> 16) & 0xff_ffff) as u32 | (((d >> 56) & 0xff) as u32) << 24;
        let limit20 = (d & 0xffff) as u32 | (((d >> 48) & 0xf) as u32) << 16;
        let granular = (d >> 55) & 1 != 0;
        let limit = if granular { (limit20 << 12) | 0xfff } else { limit20 };
        Segment { selector, base, limit, access: (d >> 40) as u8 }
    }
}

/// Why a selector cannot be loaded: the fault it raises (SDM vol. 2, MOV/POP "Protected Mode Exceptions").
pub fn selector_error(selector: u16) -> Fault {
    Fault::GeneralProtection { error_code: (selector & 0xfffc) as u32 }
}

/// Fetch the descriptor `selector` names from `gdt`: #GP(selector) for the LDT or past the table's end.
pub fn lookup(gdt: &[u64; GDT_ENTRIES], selector: u16) -> Result<Segment, Fault> {
    if selector & 4 != 0 {
        return Err(selector_error(selector)); // no LDT in this model
    }
    let idx = (selector >> 3) as usize;
    let d = *gdt.get(idx).ok_or_else(|| selector_error(selector))?;
    Ok(Segment::from_descriptor(selector, d))
}

/// Expand-down data segments (valid offsets above the limit) are not modelled: every limit check here
/// is expand-up, so loading one is refused (#UD naming why) rather than checked wrongly.
fn refuse_expand_down(seg: &Segment) -> Result<(), Fault> {
    if !seg.is_code() && seg.access & ACC_DC != 0 {
        return Err(Fault::ud("expand-down data segment (not modelled)"));
    }
    Ok(())
}

/// Load rules for DS, ES, FS and GS at privilege `cpl` (SDM vol. 2 "MOV", protected mode).
pub fn load_data_segment(gdt: &[u64; GDT_ENTRIES], selector: u16, cpl: u8) -> Result<Segment, Fault> {
    if selector & 0xfffc == 0 {
        return Ok(Segment { selector, ..Segment::NULL });
    }
    let seg = lookup(gdt, selector)?;
    let rpl = (selector & 3) as u8;
    if seg.access & ACC_S == 0 || !seg.readable() {
        return Err(selector_error(selector));
    }
    let conforming_code = seg.is_code() && seg.access & ACC_DC != 0;
    if !conforming_code && (rpl > seg.dpl() || cpl > seg.dpl()) {
        return Err(selector_error(selector));
    }
    refuse_expand_down(&seg)?;
    if !seg.usable() {
        return Err(Fault::NotPresent { error_code: (selector & 0xfffc) as u32 });
    }
    Ok(seg)
}

/// Load rules for SS at privilege `cpl`: writable data, RPL = DPL = CPL.
pub fn load_stack_segment(gdt: &[u64; GDT_ENTRIES], selector: u16, cpl: u8) -> Result<Segment, Fault> {
    if selector & 0xfffc == 0 {
        return Err(Fault::gp0());
    }
    let seg = lookup(gdt, selector)?;
    if (selector & 3) as u8 != cpl || seg.access & ACC_S == 0 || !seg.writable() || seg.dpl() != cpl {
        return Err(selector_error(selector));
    }
    refuse_expand_down(&seg)?;
    if !seg.usable() {
        return Err(Fault::StackFault { error_code: (selector & 0xfffc) as u32 });
    }
    Ok(seg)
}

/// Is the code segment `selector` names a 16-bit one (D clear)? Those are not modelled: this core
/// decodes 32-bit code only, so entering one is refused (#UD naming why) rather than run wrongly.
pub fn check_32bit_code(gdt: &[u64; GDT_ENTRIES], selector: u16) -> Result<(), Fault> {
    match gdt.get((selector >> 3) as usize) {
        Some(d) if (d >> 54) & 1 == 0 => Err(Fault::ud("far transfer to a 16-bit code segment (not modelled)")),
        _ => Ok(()),
    }
}

/// Checks for a code segment reached by a far jump, call or return to privilege `new_cpl` = RPL.
pub fn load_code_segment(gdt: &[u64; GDT_ENTRIES], selector: u16) -> Result<Segment, Fault> {
    if selector & 0xfffc == 0 {
        return Err(Fault::gp0());
    }
    let seg = lookup(gdt, selector)?;
    if seg.is_code() {
        check_32bit_code(gdt, selector)?;
    }
    let rpl = (selector & 3) as u8;
    if seg.access & ACC_S == 0 || !seg.is_code() {
        return Err(selector_error(selector));
    }
    let conforming = seg.access & ACC_DC != 0;
    if (!conforming && seg.dpl() != rpl) || (conforming && seg.dpl() > rpl) {
        return Err(selector_error(selector));
    }
    if !seg.usable() {
        return Err(Fault::NotPresent { error_code: (selector & 0xfffc) as u32 });
    }
    Ok(seg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_segments_end_below_the_switcher() {
        let gdt = initial_gdt();
        let cs = load_code_segment(&gdt, GUEST_KERNEL_CS).unwrap();
        assert_eq!((cs.base, cs.limit, cs.dpl()), (0, SWITCHER_ADDR - 1, 1));
        let ds = load_data_segment(&gdt, GUEST_KERNEL_DS, 1).unwrap();
        assert!(ds.writable());
        assert_eq!(GUEST_KERNEL_CS, 0x61);
        assert_eq!(GUEST_KERNEL_DS, 0x69);
        // The Host's own segments are DPL 0: ring 1 cannot load them.
        assert_eq!(load_data_segment(&gdt, 0x59, 1), Err(Fault::GeneralProtection { error_code: 0x58 }));
        // User data at ring 1 is fine (DPL 3 >= CPL); kernel data at ring 3 is not.
        assert!(load_data_segment(&gdt, USER_DS, 1).is_ok());
        assert!(load_data_segment(&gdt, GUEST_KERNEL_DS, 3).is_err());
        assert!(load_stack_segment(&gdt, 0, 1).is_err());
        assert!(lookup(&gdt, 0xfffc).is_err());
        assert!(lookup(&gdt, 0x64).is_err()); // TI=1: the LDT
    }
}
