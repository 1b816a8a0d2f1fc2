//! The Guest's Global Descriptor Table (drivers/lguest/segments.c): the Guest may change its entries
//! (`LHCALL_LOAD_GDT_ENTRY`, `LHCALL_LOAD_TLS`), but never hand out ring 0, and the Host's own entries (the
//! Switcher's code and data, the TSS, the double-fault TSS) stay the Host's. A change only marks the GDT
//! `changed`; `copy_in_guest_info()` copies it into the Switcher's GDT before the next run, and the Switcher
//! reloads every segment register from it.

use super::core::{kill_guest, lgread};
use super::lg::{LgCpu, Lguest, CHANGED_GDT, CHANGED_GDT_TLS};
use super::switcher::{GDT_ENTRY_DOUBLEFAULT_TSS, GDT_ENTRY_TSS};
use crate::cpu::segments::{GDT_ENTRY_LGUEST_CS, GDT_ENTRY_LGUEST_DS};
use crate::kernel::Kernel;

/// `GDT_ENTRY_TLS_MIN`: the first of the three thread-local-storage descriptors.
pub const GDT_ENTRY_TLS_MIN: usize = 6;
/// `GDT_ENTRY_TLS_MAX`.
pub const GDT_ENTRY_TLS_MAX: usize = 8;

/// `ignored_gdt()`: the entries the Guest may not change, because the Switcher's copy of them is the Host's:
/// the TSS, the Switcher's code and data (`LGUEST_CS`, `LGUEST_DS`) and the double-fault TSS.
pub fn ignored_gdt(i: u32) -> bool {
    let i = i as usize;
    i == GDT_ENTRY_TSS || i == GDT_ENTRY_LGUEST_CS || i == GDT_ENTRY_LGUEST_DS || i == GDT_ENTRY_DOUBLEFAULT_TSS
}

/// `setup_guest_gdt()`: the GDT a Guest cpu starts with: flat kernel code and data at privilege 1 (entries 12
/// and 13). We take them from the x86 core's first table, which also has the flat user segments (14, 15)
/// ready, and whose segments end below the Switcher (the core's choice: in the kernel they are full 4 GB
/// segments and the Switcher is protected by its page table entries).
pub fn setup_guest_gdt() -> Vec<(u32, u32)> {
    let core = crate::cpu::segments::initial_gdt();
    (0..core.len() as u32).map(|i| if ignored_gdt(i) { (0, 0) } else { super::switcher::split_desc(core[i as usize]) }).collect()
}

/// H:620 `load_guest_gdt_entry()`: LHCALL_LOAD_GDT_ENTRY(num, lo, hi). The entry is stored, fixed up, and
/// the GDT marked changed: the Switcher copies it before the Guest next runs.
pub fn load_guest_gdt_entry(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, num: u32, lo: u32, hi: u32) {
    if num as usize >= cpu.gdt.len() {
        kill_guest(k, lg, format!("too many gdt entries {}", num as i32));
        return;
    }
    cpu.gdt[num as usize] = (lo, hi);
    fixup_gdt_table(cpu, num, num + 1);
    cpu.changed |= CHANGED_GDT;
    let (lo, hi) = cpu.gdt[num as usize];
    k.ev("load_guest_gdt_entry", format!("GDT entry {num} = ({lo:#010x}, {hi:#010x}) after fixup_gdt_table(); changed |= CHANGED_GDT"), &["cpu0.gdt"]);
}

/// `guest_load_tls()`: LHCALL_LOAD_TLS(gtls): the three TLS descriptors (GDT entries 6 to 8) from Guest
/// memory. A read outside the Guest kills it and leaves the entries zeroed, as `__lgread()` does.
pub fn guest_load_tls(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, gtls: u32) {
    let b = lgread(k, lg, gtls, 3 * 8).unwrap_or_else(|| vec![0; 24]);
    for i in 0..3usize {
        let w = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        cpu.gdt[GDT_ENTRY_TLS_MIN + i] = (w(8 * i), w(8 * i + 4));
    }
    fixup_gdt_table(cpu, GDT_ENTRY_TLS_MIN as u32, GDT_ENTRY_TLS_MAX as u32 + 1);
    cpu.changed |= CHANGED_GDT_TLS;
    k.ev("guest_load_tls", format!("LHCALL_LOAD_TLS: TLS entries 6-8 loaded from {gtls:#x}; changed |= CHANGED_GDT_TLS"), &["cpu0.gdt"]);
}

/// H:630 `fixup_gdt_table()`: a descriptor privilege level of 0 becomes 1, and every entry is marked accessed
/// (the CPU could not set that bit itself: the GDT is not the Guest's to write). Invalid entries are left as
/// they are: loading one is the Switcher's fault, and the Guest dies of it ("unhandled trap 256").
fn fixup_gdt_table(cpu: &mut LgCpu, start: u32, end: u32) {
    for i in start..end.min(cpu.gdt.len() as u32) {
        if ignored_gdt(i) {
            continue;
        }
        let (lo, mut hi) = cpu.gdt[i as usize];
        if hi & (3 << 13) == 0 {
            hi |= 1 << 13;
        }
        hi |= 1 << 8;
        cpu.gdt[i as usize] = (lo, hi);
    }
}

/// H:640 `copy_gdt()`: every entry the Guest may change, into the GDT the Switcher loads.
pub fn copy_gdt(cpu: &LgCpu, gdt: &mut [(u32, u32)]) {
    for (i, g) in gdt.iter_mut().enumerate().take(cpu.gdt.len()) {
        if !ignored_gdt(i as u32) {
            *g = cpu.gdt[i];
        }
    }
}

/// H:650 `copy_gdt_tls()`: only the three TLS entries (what changes on every Guest context switch).
pub fn copy_gdt_tls(cpu: &LgCpu, gdt: &mut [(u32, u32)]) {
    for i in GDT_ENTRY_TLS_MIN..=GDT_ENTRY_TLS_MAX {
        if let (Some(g), Some(e)) = (gdt.get_mut(i), cpu.gdt.get(i)) {
            *g = *e;
        }
    }
}
