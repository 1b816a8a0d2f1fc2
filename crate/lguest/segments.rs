//! The Guest's Global Descriptor Table (drivers/lguest/segments.c): the Guest may change its entries
//! (`LHCALL_LOAD_GDT_ENTRY`, `LHCALL_LOAD_TLS`), but never hand out ring 0, and the Host's own entries (the
//! Switcher's code and data, the TSS, the double-fault TSS) stay the Host's. The x86 core then reloads its
//! segment caches from the new table.

use super::core::{kill_guest, lgread};
use super::guest::GuestEngine;
use super::lg::{LgCpu, Lguest};
use crate::kernel::Kernel;

/// `GDT_ENTRY_TLS_MIN`: the first of the three thread-local-storage descriptors.
pub const GDT_ENTRY_TLS_MIN: usize = 6;

/// GDT entries the Guest may not change: the Switcher's code and data (10, 11), the TSS (16) and the
/// double-fault TSS (31).
fn hosts_own(i: u32) -> bool {
    matches!(i, 10 | 11 | 16 | 31)
}

/// `load_guest_gdt_entry()`: LHCALL_LOAD_GDT_ENTRY(num, lo, hi).
pub fn load_guest_gdt_entry(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, num: u32, lo: u32, hi: u32) {
    if num as usize >= cpu.gdt.len() {
        kill_guest(k, lg, format!("too many gdt entries {num}"));
        return;
    }
    cpu.gdt[num as usize] = (lo, hi);
    k.ev("do_hcall", format!("LHCALL_LOAD_GDT_ENTRY: GDT entry {num} loaded"), &["cpu0.gdt"]);
    fixup_gdt_table(k, cpu, num, num + 1);
}

/// `guest_load_tls()`: LHCALL_LOAD_TLS(gtls): the three TLS descriptors (GDT entries 6 to 8) from Guest
/// memory.
pub fn guest_load_tls(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, gtls: u32) {
    let Some(b) = lgread(k, lg, gtls, 3 * 8) else { return };
    for i in 0..3usize {
        let w = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        cpu.gdt[GDT_ENTRY_TLS_MIN + i] = (w(8 * i), w(8 * i + 4));
    }
    k.ev("do_hcall", format!("LHCALL_LOAD_TLS: TLS entries 6-8 loaded from {gtls:#x}"), &["cpu0.gdt"]);
    fixup_gdt_table(k, cpu, GDT_ENTRY_TLS_MIN as u32, GDT_ENTRY_TLS_MIN as u32 + 3);
}

/// `fixup_gdt_table()`: a descriptor privilege level of 0 becomes 1, and every entry is marked accessed; the
/// Host's own entries are left alone. Then the x86 core reloads its segment caches.
fn fixup_gdt_table(k: &mut Kernel, cpu: &mut LgCpu, start: u32, end: u32) {
    for i in start..end.min(32) {
        if hosts_own(i) {
            continue;
        }
        let (lo, mut hi) = cpu.gdt[i as usize];
        if hi & (3 << 13) == 0 {
            hi |= 1 << 13;
        }
        hi |= 1 << 8;
        cpu.gdt[i as usize] = (lo, hi);
    }
    let LgCpu { gdt, engine, .. } = cpu;
    if let GuestEngine::Cpu(core) = engine {
        for i in start..end.min(32) {
            if hosts_own(i) || i as usize >= core.gdt.len() {
                continue;
            }
            let (lo, hi) = gdt[i as usize];
            core.gdt[i as usize] = ((hi as u64) << 32) | lo as u64;
        }
        if let Err(f) = core.reload_segments() {
            k.ev("do_hcall", format!("a segment register no longer loads after the GDT change: {f}"), &[]);
        }
    }
}
