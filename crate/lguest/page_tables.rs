//! H:300 The shadow page tables (drivers/lguest/page_tables.c): the Guest writes page tables in its own
//! memory, but the CPU never walks them. The Host keeps "shadow" copies, checked and converted, and points
//! the CPU at those. They start empty and are filled lazily: each time the Guest touches a page the shadow
//! does not map yet, the CPU faults to the Host, `demand_page()` walks the Guest's tables, and either
//! copies the entry into the shadow (the Guest never knows) or hands the fault back to the Guest.
//!
//! What this file holds, in the order of the journey:
//! - the shadow tables themselves: [`PgDir`]s, each a [`crate::cpu::paging::PageDirectory`] (the kind of
//!   directory the CPU walks, shared copy-on-write so a snapshot of the machine costs nothing) with the
//!   Guest page directory it shadows and the book entries of its pages;
//! - `demand_page()` and its checks `check_gpgd()` / `check_gpte()` / `gpte_to_spte()`;
//! - the hypercalls: `guest_new_pagetable()` (NEW_PGTABLE), `guest_pagetable_clear_all()` and
//!   `guest_pagetable_flush_user()` (FLUSH_TLB), `guest_set_pte()` (SET_PTE), `guest_set_pgd()` (SET_PGD);
//! - `pin_stack_pages()`, so the Guest's kernel stack is always mapped when the Host must push on it;
//! - `free_guest_pagetable()`, for `close()`.
//!
//! **From the first instruction.** The Guest runs on shadow tables from its first instruction:
//! `pgdirs[0]` shadows the boot tables `setup_pagetables()` wrote at INITIALIZE (RAM mapped at 0 and at
//! 0xC0000000, as much RAM as boot_params' e820 map says, and nothing above it), so every access of the
//! Guest's first instructions faults once into `demand_page()`, `guest_pa()` walks the boot tables, and
//! `pin_stack_pages()` works from the first SET_STACK. The device pages the Launcher puts above RAM are not
//! in the boot tables: a Guest maps them itself before it touches them (a Linux Guest with `lguest_map()`;
//! the course's console Guests with a page table of their own, see lessons/guests/virtio_console.S).
//!
//! **Our shadow ptes hold Guest frame numbers.** The kernel's shadow pte holds the host-physical frame
//! `get_user_pages()` found behind the Launcher's mapping; the simulated core addresses the Guest's RAM
//! directly, so `gpte_to_spte()` keeps the Guest frame number and only checks that the Launcher has that
//! page mapped (`get_pfn()`).

use serde::Serialize;

use super::core::{kill_guest, lgread_or_zeroes, lgread_u32, lgwrite};
use super::hypercalls::SWITCHER_PGD_INDEX;
use super::lg::{Guest, LgCpu, Lguest};
use crate::kernel::alloc::{AllocId, AllocKind};
use crate::kernel::Kernel;
use crate::params::{PAGE_SHIFT, PAGE_SIZE};

pub use crate::cpu::paging::{
    pgd_index, pte_index, PageDirectory, PtePage, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_GLOBAL, _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW, _PAGE_TABLE, _PAGE_USER,
    PTE_FLAGS_MASK, PTRS_PER_PGD, PTRS_PER_PTE,
};
/// `ARRAY_SIZE(lg->pgdirs)`: how many shadow page directories the Host caches per Guest.
pub const NR_PGDIRS: usize = 4;
pub use crate::params::SHADOW_VIEW_CAP;

/// `struct pgdir`: which Guest page directory a cached shadow directory shadows.
#[derive(Clone, Debug, Default)]
pub struct PgDir {
    /// `gpgdir`: the Guest-physical address of the Guest's page directory.
    pub gpgdir: u32,
    /// The shadow directory's page (`pgdir` is NULL in the kernel until one is allocated).
    pub page: Option<AllocId>,
    /// The shadow directory the CPU walks.
    pub shadow: PageDirectory,
    /// The book entry of each shadow pte page, by slot (the CPU's directory knows nothing of the book).
    pub pte_pages: std::collections::BTreeMap<usize, AllocId>,
}

/// One mapping as the UI shows it: the Guest's pte beside the Host's shadow pte.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingView {
    pub vaddr: u32,
    pub gpte: u32,
    pub spte: u32,
}

/// A flag word spelled out, for events: "P RW U A D".
pub fn flag_names(e: u32) -> String {
    let names = [(_PAGE_PRESENT, "P"), (_PAGE_RW, "RW"), (_PAGE_USER, "U"), (_PAGE_ACCESSED, "A"), (_PAGE_DIRTY, "D"), (_PAGE_PSE, "PSE"), (_PAGE_GLOBAL, "G")];
    let v: Vec<&str> = names.iter().filter(|(b, _)| e & b != 0).map(|(_, n)| *n).collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(" ")
    }
}

/// The shadow directory `idx`, to change it. With `flush` (a mapping is removed or replaced, not merely
/// added) the cpus forget their decoded blocks before they run again: a block decoded through the old
/// mapping may describe other bytes now. (Each run of the core takes the current directory afresh.)
fn spgdir_mut(lg: &mut Lguest, idx: usize, flush: bool) -> &mut PageDirectory {
    if flush {
        lg.flushes += 1;
    }
    &mut lg.pgdirs[idx].shadow
}

/// `spgd_addr()`'s guard: the top slot is the Switcher's, which no Guest may touch.
fn spgd_ok(k: &mut Kernel, lg: &mut Lguest, vaddr: u32) -> bool {
    if pgd_index(vaddr) >= SWITCHER_PGD_INDEX as usize {
        kill_guest(k, lg, "attempt to access switcher pages".into());
        return false;
    }
    true
}

/// `find_pgdir()`: the cached shadow directory for Guest page directory `pgtable`, or `NR_PGDIRS`.
pub fn find_pgdir(lg: &Lguest, pgtable: u32) -> usize {
    (0..NR_PGDIRS).find(|&i| lg.pgdirs[i].page.is_some() && lg.pgdirs[i].gpgdir == pgtable).unwrap_or(NR_PGDIRS)
}

// --- (i) demand_page ----------------------------------------------------------------------------------

/// `check_gpgd()`: a Guest directory entry may carry only `_PAGE_TABLE` flags and must point below
/// `pfn_limit`. (In 2.6.3x it only kills and lets the caller carry on; the Guest never runs again, so we
/// stop at once.)
pub fn check_gpgd(k: &mut Kernel, lg: &mut Lguest, gpgd: u32) -> bool {
    let limit = lg.pfn_limit;
    if gpgd & PTE_FLAGS_MASK & !_PAGE_TABLE != 0 || gpgd >> PAGE_SHIFT >= limit {
        k.ev("check_gpgd", format!("Guest pgd {gpgd:#010x} ({}): flags beyond _PAGE_TABLE or a frame past pfn_limit {limit:#x}", flag_names(gpgd)), &[]);
        kill_guest(k, lg, "bad page directory entry".into());
        return false;
    }
    true
}

/// `check_gpte()`: no large pages (`_PAGE_PSE`), and the frame must be the Guest's (below `pfn_limit`),
/// never the Launcher's own memory above it.
pub fn check_gpte(k: &mut Kernel, lg: &mut Lguest, gpte: u32) -> bool {
    let limit = lg.pfn_limit;
    if gpte & _PAGE_PSE != 0 || gpte >> PAGE_SHIFT >= limit {
        k.ev("check_gpte", format!("Guest pte {gpte:#010x} ({}): a large page or a frame past pfn_limit {limit:#x}", flag_names(gpte)), &[]);
        kill_guest(k, lg, "bad page table entry".into());
        return false;
    }
    true
}

/// `gpte_to_spte()`: the shadow entry for a Guest pte: its flags without `_PAGE_GLOBAL` (the Guest only sets
/// it to tell us kernel from user mappings), its frame looked up in the Launcher's memory (`get_pfn()`; a
/// page the Launcher does not have kills the Guest and leaves an empty entry). The kernel passes `write` on
/// to `get_user_pages()`; the Launcher's Guest memory is always writable, so here it changes nothing.
pub fn gpte_to_spte(k: &mut Kernel, lg: &mut Lguest, gpte: u32, _write: bool) -> u32 {
    let flags = gpte & PTE_FLAGS_MASK & !_PAGE_GLOBAL;
    let pfn = gpte >> PAGE_SHIFT;
    let ua = lg.mem_base.wrapping_add(pfn << PAGE_SHIFT);
    if k.copy_from_user(ua, 1).is_none() {
        kill_guest(k, lg, format!("failed to get page {pfn}"));
        return pfn << PAGE_SHIFT;
    }
    (pfn << PAGE_SHIFT) | flags
}

/// H:330 `demand_page()`: the Guest faulted at `vaddr` (error code `errcode`: bit 1 write, bit 2 user). If
/// the Guest's own tables allow the access, copy the entry into the shadow (read-only unless this is a
/// write or the page is already dirty), mark it accessed (and dirty) in the Guest's pte, and return true:
/// the Guest runs the instruction again and never knows. Otherwise false: it is the Guest's fault.
pub fn demand_page(k: &mut Kernel, lg: &mut Lguest, cpu: &LgCpu, vaddr: u32, errcode: u32) -> bool {
    let idx = cpu.cpu_pgd;
    let gpgd_ptr = lg.pgdirs[idx].gpgdir.wrapping_add(pgd_index(vaddr) as u32 * 4);
    let Some(gpgd) = lgread_u32(k, lg, gpgd_ptr) else { return false };
    if gpgd & _PAGE_PRESENT == 0 {
        k.ev("demand_page", format!("{vaddr:#x}: the Guest's pgd entry {} is not present: the fault is the Guest's", pgd_index(vaddr)), &[]);
        return false;
    }
    if !spgd_ok(k, lg, vaddr) {
        return false;
    }
    if lg.pgdirs[idx].shadow.pgd[pgd_index(vaddr)].is_none() {
        let alloc = match k.alloc.alloc(AllocKind::Page, "shadow pte page".into(), "demand_page", PAGE_SIZE) {
            Ok(a) => a,
            Err(_) => {
                kill_guest(k, lg, "out of memory allocating pte page".into());
                return false;
            }
        };
        if !check_gpgd(k, lg, gpgd) {
            let _ = k.alloc.free(alloc);
            return false;
        }
        let flags = gpgd & PTE_FLAGS_MASK;
        spgdir_mut(lg, idx, false).set_slot(pgd_index(vaddr), Some(PtePage::new(flags)));
        lg.pgdirs[idx].pte_pages.insert(pgd_index(vaddr), alloc);
        k.ev(
            "demand_page",
            format!("shadow pgd slot {} was empty: get_zeroed_page() a pte page (#{alloc}), flags {} from the Guest's", pgd_index(vaddr), flag_names(flags)),
            &["alloc", "shadow"],
        );
    }
    let gpte_ptr = (gpgd & !PTE_FLAGS_MASK).wrapping_add(pte_index(vaddr) as u32 * 4);
    let Some(mut gpte) = lgread_u32(k, lg, gpte_ptr) else { return false };
    let why = if gpte & _PAGE_PRESENT == 0 {
        Some("the Guest's pte is not present")
    } else if errcode & 2 != 0 && gpte & _PAGE_RW == 0 {
        Some("a write to a page the Guest mapped read-only")
    } else if errcode & 4 != 0 && gpte & _PAGE_USER == 0 {
        Some("a user access to a kernel-only page")
    } else {
        None
    };
    if let Some(why) = why {
        k.ev("demand_page", format!("{vaddr:#x}: {why} (gpte {gpte:#010x}): the fault is the Guest's"), &[]);
        return false;
    }
    if !check_gpte(k, lg, gpte) {
        return false;
    }
    gpte |= _PAGE_ACCESSED;
    if errcode & 2 != 0 {
        gpte |= _PAGE_DIRTY;
    }
    let old = lg.pgdirs[idx].shadow.pte(vaddr);
    if old & _PAGE_PRESENT != 0 {
        release_pte(old);
    }
    let spte = if gpte & _PAGE_DIRTY != 0 { gpte_to_spte(k, lg, gpte, true) } else { gpte_to_spte(k, lg, gpte & !_PAGE_RW, false) };
    // The usual replacement is the first write to a page mapped read-only: the same frame, so the decoded
    // blocks stay good.
    let moved = old & _PAGE_PRESENT != 0 && old >> PAGE_SHIFT != spte >> PAGE_SHIFT;
    spgdir_mut(lg, idx, moved).set_pte(vaddr, spte);
    if !lgwrite(k, lg, gpte_ptr, &gpte.to_le_bytes()) {
        return false;
    }
    let how = if spte & _PAGE_RW != 0 { "writable" } else { "read-only, so the first write comes back here to set D" };
    k.ev(
        "demand_page",
        format!("{vaddr:#x}: Guest pte at {gpte_ptr:#x} is now {gpte:#010x} ({}); shadow pte {spte:#010x}, {how}", flag_names(gpte)),
        &["guest.memory", "shadow"],
    );
    true
}

/// H:460 `release_pte()`: the kernel drops the page reference `get_pfn()` took. We book no such references
/// (the Launcher's memory stays mapped), so there is nothing to give back.
fn release_pte(_spte: u32) {}

/// H:450 `release_pgd()`: throw away one shadow directory slot and the pte page behind it.
fn release_pgd(k: &mut Kernel, lg: &mut Lguest, idx: usize, slot: usize) -> bool {
    let Some(pt) = lg.pgdirs[idx].shadow.pgd[slot].clone() else { return false };
    for &pte in pt.ptes.iter() {
        if pte & _PAGE_PRESENT != 0 {
            release_pte(pte);
        }
    }
    if let Some(alloc) = lg.pgdirs[idx].pte_pages.remove(&slot) {
        let _ = k.alloc.free(alloc);
    }
    spgdir_mut(lg, idx, true).set_slot(slot, None);
    true
}

/// H:445 `flush_user_mappings()`: release every slot below the Guest kernel's address in directory `idx`
/// (the kernel's part is the same in every directory and stays).
fn flush_user_mappings(k: &mut Kernel, lg: &mut Lguest, idx: usize) -> u32 {
    let top = pgd_index(lg.kernel_address).min(SWITCHER_PGD_INDEX as usize);
    (0..top).filter(|&i| release_pgd(k, lg, idx, i)).count() as u32
}

/// H:440 `guest_pagetable_flush_user()`: LHCALL_FLUSH_TLB(0), the Guest changed user mappings.
pub fn guest_pagetable_flush_user(k: &mut Kernel, lg: &mut Lguest, cpu: &LgCpu) {
    let idx = cpu.cpu_pgd;
    let n = flush_user_mappings(k, lg, idx);
    let ka = lg.kernel_address;
    k.ev("guest_pagetable_flush_user", format!("pgdirs[{idx}]: {n} pte pages below kernel_address {ka:#x} released; they fault back in"), &["alloc", "shadow"]);
}

/// H:470 `release_all_pagetables()`: every slot of every cached directory (but the Switcher's).
fn release_all_pagetables(k: &mut Kernel, lg: &mut Lguest) -> u32 {
    let mut n = 0;
    for idx in 0..NR_PGDIRS {
        if lg.pgdirs[idx].page.is_none() {
            continue;
        }
        n += (0..SWITCHER_PGD_INDEX as usize).filter(|&i| release_pgd(k, lg, idx, i)).count() as u32;
    }
    n
}

/// `guest_pagetable_clear_all()`: LHCALL_FLUSH_TLB(1), a kernel mapping changed: everything goes, in every
/// cached directory, and the kernel stack is pinned again.
pub fn guest_pagetable_clear_all(k: &mut Kernel, lg: &mut Lguest, cpu: &LgCpu) {
    let n = release_all_pagetables(k, lg);
    k.ev("guest_pagetable_clear_all", format!("all {n} shadow pte pages released in every cached pgdir"), &["alloc", "shadow"]);
    pin_stack_pages(k, lg, cpu);
}

// --- (ii) the stack -----------------------------------------------------------------------------------

/// `page_writable()`: does the current shadow map `vaddr` present and writable?
fn page_writable(k: &mut Kernel, lg: &mut Lguest, cpu: &LgCpu, vaddr: u32) -> bool {
    if pgd_index(vaddr) >= SWITCHER_PGD_INDEX as usize {
        return spgd_ok(k, lg, vaddr);
    }
    let spte = lg.pgdirs[cpu.cpu_pgd].shadow.pte(vaddr);
    spte & (_PAGE_PRESENT | _PAGE_RW) == _PAGE_PRESENT | _PAGE_RW
}

/// H:360 `pin_page()`: make sure a stack page is mapped writable, or kill the Guest.
fn pin_page(k: &mut Kernel, lg: &mut Lguest, cpu: &LgCpu, vaddr: u32) {
    if !page_writable(k, lg, cpu, vaddr) && !demand_page(k, lg, cpu, vaddr, 2) {
        kill_guest(k, lg, format!("bad stack page {vaddr:#x}"));
    }
}

/// H:260 `pin_stack_pages()`: traps that go straight to the Guest kernel from its user mode are pushed by
/// the CPU onto the Guest's kernel stack, through the shadow page tables; if a stack page were not mapped
/// there the CPU would fault while delivering, a double fault. So each of the `stack_pages` pages below
/// `esp1` (from SET_STACK) is kept mapped and writable.
pub fn pin_stack_pages(k: &mut Kernel, lg: &mut Lguest, cpu: &LgCpu) {
    for i in 0..lg.stack_pages {
        // esp1 is one past the top of the stack: start at the byte below it.
        pin_page(k, lg, cpu, cpu.esp1.wrapping_sub(1).wrapping_sub(i * PAGE_SIZE));
    }
}

// --- (iii) SET_PTE and SET_PGD ------------------------------------------------------------------------

/// H:420 `do_set_pte()`: the Guest changed the pte for `vaddr`; update shadow directory `idx`. If the Guest
/// already marked it accessed (or dirty) the new entry goes in at once, with the Guest's own write bit (so
/// an accessed, clean, writable pte gets a *writable* shadow entry: unlike `demand_page()`, this path does
/// not write-protect a clean page); otherwise the old one is simply dropped and `demand_page()` fills it
/// when used.
fn do_set_pte(k: &mut Kernel, lg: &mut Lguest, idx: usize, vaddr: u32, gpte: u32) {
    if !spgd_ok(k, lg, vaddr) {
        return;
    }
    if lg.pgdirs[idx].shadow.pgd[pgd_index(vaddr)].is_none() {
        k.ev("do_set_pte", format!("pgdirs[{idx}]: no shadow pte page for {vaddr:#x}: nothing to update"), &[]);
        return;
    }
    let old = lg.pgdirs[idx].shadow.pte(vaddr);
    if old & _PAGE_PRESENT != 0 {
        release_pte(old);
    }
    let spte = if gpte & (_PAGE_DIRTY | _PAGE_ACCESSED) != 0 {
        if !check_gpte(k, lg, gpte) {
            return;
        }
        gpte_to_spte(k, lg, gpte, gpte & _PAGE_DIRTY != 0)
    } else {
        0
    };
    spgdir_mut(lg, idx, old & _PAGE_PRESENT != 0).set_pte(vaddr, spte);
    k.ev("do_set_pte", format!("pgdirs[{idx}]: shadow pte for {vaddr:#x} = {spte:#010x} (Guest pte {gpte:#010x}: {})", flag_names(gpte)), &["shadow"]);
}

/// H:410 `guest_set_pte()`: LHCALL_SET_PTE(gpgdir, vaddr, pte). A kernel address is mapped the same in every
/// directory, so every cached one is updated; a user address only in the one for `gpgdir`.
pub fn guest_set_pte(k: &mut Kernel, lg: &mut Lguest, gpgdir: u32, vaddr: u32, gpte: u32) {
    let ka = lg.kernel_address;
    if vaddr >= ka {
        k.ev("guest_set_pte", format!("{vaddr:#x} is at or above kernel_address {ka:#x}: update every cached pgdir"), &[]);
        for idx in 0..NR_PGDIRS {
            if lg.pgdirs[idx].page.is_some() && lg.dead.is_none() {
                do_set_pte(k, lg, idx, vaddr, gpte);
            }
        }
    } else {
        let idx = find_pgdir(lg, gpgdir);
        if idx < NR_PGDIRS {
            k.ev("guest_set_pte", format!("{vaddr:#x} is a user address: only pgdirs[{idx}], the shadow of {gpgdir:#x}"), &[]);
            do_set_pte(k, lg, idx, vaddr, gpte);
        } else {
            k.ev("guest_set_pte", format!("no shadow for Guest pgdir {gpgdir:#x}: nothing to do"), &[]);
        }
    }
}

/// H:400 `guest_set_pgd()`: LHCALL_SET_PGD(gpgdir, idx): the Guest changed a directory entry; throw the
/// matching shadow slot away (the Switcher's slot and beyond are ignored).
pub fn guest_set_pgd(k: &mut Kernel, lg: &mut Lguest, gpgdir: u32, idx: u32) {
    if idx >= SWITCHER_PGD_INDEX {
        k.ev("guest_set_pgd", format!("slot {idx} is the Switcher's or beyond: ignored"), &[]);
        return;
    }
    let pgdir = find_pgdir(lg, gpgdir);
    if pgdir < NR_PGDIRS {
        let released = release_pgd(k, lg, pgdir, idx as usize);
        let what = if released { "its pte page released" } else { "it was empty" };
        k.ev("guest_set_pgd", format!("pgdirs[{pgdir}] slot {idx}: {what}"), &["alloc", "shadow"]);
    } else {
        k.ev("guest_set_pgd", format!("no shadow for Guest pgdir {gpgdir:#x}: nothing to do"), &[]);
    }
}

// --- (iv) switching page tables -----------------------------------------------------------------------

/// H:435 `new_pgdir()`: take a slot for Guest page directory `gpgdir`. The kernel throws out a slot chosen
/// with `random32()`; we go round the slots in turn (1, 2, 3, 0, ...) so every run is the same. A slot never
/// used gets its page now (if that fails the current one is reused); its user part is flushed. Returns the
/// slot and whether its page is brand new (nothing mapped, not even the kernel).
fn new_pgdir(k: &mut Kernel, lg: &mut Lguest, cpu: &LgCpu, gpgdir: u32) -> (usize, bool) {
    let mut next = lg.next_pgdir;
    lg.next_pgdir = (next + 1) % NR_PGDIRS;
    let mut blank = false;
    if lg.pgdirs[next].page.is_none() {
        match k.alloc.alloc(AllocKind::Page, "shadow page directory".into(), "new_pgdir", PAGE_SIZE) {
            Ok(p) => {
                lg.pgdirs[next].page = Some(p);
                lg.pgdirs[next].shadow = PageDirectory::default();
                lg.pgdirs[next].pte_pages.clear();
                blank = true;
                k.ev("new_pgdir", format!("pgdirs[{next}] never used: get_zeroed_page() (#{p})"), &["alloc"]);
            }
            Err(_) => {
                next = cpu.cpu_pgd;
                k.ev("new_pgdir", format!("get_zeroed_page() fails: keep using pgdirs[{next}]"), &[]);
            }
        }
    }
    let old = lg.pgdirs[next].gpgdir;
    lg.pgdirs[next].gpgdir = gpgdir;
    let n = flush_user_mappings(k, lg, next);
    k.ev("new_pgdir", format!("pgdirs[{next}] now shadows {gpgdir:#x} (was {old:#x}); {n} user pte pages flushed"), &["shadow"]);
    (next, blank)
}

/// H:430 `guest_new_pagetable()`: LHCALL_NEW_PGTABLE(pgtable), the Guest loads cr3. Reuse the cached shadow
/// of that directory if there is one, else make one (and pin the stack in a brand new one).
pub fn guest_new_pagetable(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, pgtable: u32) {
    let mut idx = find_pgdir(lg, pgtable);
    let mut repin = false;
    if idx == NR_PGDIRS {
        (idx, repin) = new_pgdir(k, lg, cpu, pgtable);
    } else {
        k.ev("guest_new_pagetable", format!("pgdirs[{idx}] already shadows {pgtable:#x}: switch to it"), &[]);
    }
    cpu.cpu_pgd = idx;
    cpu.flush_pending = true;
    k.ev("guest_new_pagetable", format!("cpu->cpu_pgd = {idx}"), &["cpu0.cpu_pgd"]);
    if repin {
        pin_stack_pages(k, lg, cpu);
    }
}

/// H:510 `init_pagetables()` (module load): a zeroed page for each CPU's Switcher pte page, filled by
/// `populate_switcher_pte_page()` (H:520): the Switcher's code page mapped present and read-only, then that
/// CPU's two pages, the registers page writable (the Guest's traps are saved into it) and the read-only
/// state page (GDT, IDT, TSS) not. Every Guest's shadow page directory later points its top slot here.
pub fn init_pagetables(k: &mut Kernel) {
    super::core::module_ev(
        k,
        "init_pagetables",
        "the one CPU's Switcher pte page: get_zeroed_page(); populate_switcher_pte_page(): entry 0 the code page (present, read-only), entry 1 the registers page (present, writable), entry 2 the read-only state page".into(),
    );
}

/// `free_pagetables()` (module unload, or a load that failed after `init_pagetables()`): each CPU's
/// Switcher pte page is freed (`free_switcher_pte_pages()`).
pub fn free_pagetables(k: &mut Kernel) {
    super::core::module_ev(k, "free_pagetables", "free_switcher_pte_pages(): the one CPU's Switcher pte page is freed".into());
}

/// `guest_pa()`: walk the Guest's own tables (not the shadow) to the Guest-physical address of `vaddr`, as
/// the Host does before it pushes an interrupt frame on the Guest's stack, or reads the instruction at eip.
/// Each entry is read with `lgread()`: a refused read kills the Guest and reads as zero (not present). A
/// directory entry not present kills the Guest ("Bad address") and gives the kernel's `-1UL`, all ones. A pte
/// not present kills it too, but, as in the kernel, the address is still computed from that entry and
/// returned. Either way the caller goes on with the address; the Guest will never run again.
pub fn guest_pa(k: &mut Kernel, lg: &mut Lguest, cpu: &LgCpu, vaddr: u32) -> u32 {
    let gpgdir = lg.pgdirs[cpu.cpu_pgd].gpgdir;
    let gpgd = word(&lgread_or_zeroes(k, lg, gpgdir.wrapping_add(pgd_index(vaddr) as u32 * 4), 4));
    if gpgd & _PAGE_PRESENT == 0 {
        kill_guest(k, lg, format!("Bad address {vaddr:#x}"));
        return u32::MAX;
    }
    let gpte = word(&lgread_or_zeroes(k, lg, (gpgd & !PTE_FLAGS_MASK).wrapping_add(pte_index(vaddr) as u32 * 4), 4));
    if gpte & _PAGE_PRESENT == 0 {
        kill_guest(k, lg, format!("Bad address {vaddr:#x}"));
    }
    (gpte & !PTE_FLAGS_MASK) | (vaddr & PTE_FLAGS_MASK)
}

/// A little-endian word from four bytes read out of Guest memory.
fn word(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

// --- teardown and views -------------------------------------------------------------------------------

/// `free_guest_pagetable()` (from `close()`): release everything, then each directory page.
pub fn free_guest_pagetable(k: &mut Kernel, lg: &mut Lguest) {
    release_all_pagetables(k, lg);
    for idx in 0..NR_PGDIRS {
        if let Some(p) = lg.pgdirs[idx].page.take() {
            k.free_page(p, "close");
        }
    }
}

/// The active shadow directory's mappings beside the Guest's own ptes, for the UI (at most
/// [`SHADOW_VIEW_CAP`]). The Guest pte is read by walking the Guest's tables without side effects.
pub fn shadow_view(k: &Kernel, guest: &Guest) -> Vec<MappingView> {
    let Some(cpu) = guest.cpus.first() else { return Vec::new() };
    let dir = &guest.lg.pgdirs[cpu.cpu_pgd];
    let Some(proc) = k.procs.get(k.proc_of(cpu.tsk)) else { return Vec::new() };
    let ram = &proc.mm.guest.ram;
    let read = |gpa: u32| ram.read_u32(gpa).ok();
    dir.shadow
        .mappings(SHADOW_VIEW_CAP)
        .into_iter()
        .map(|(vaddr, spte)| {
            let gpte = read(dir.gpgdir.wrapping_add(pgd_index(vaddr) as u32 * 4))
                .filter(|gpgd| gpgd & _PAGE_PRESENT != 0)
                .and_then(|gpgd| read((gpgd & !PTE_FLAGS_MASK).wrapping_add(pte_index(vaddr) as u32 * 4)))
                .unwrap_or(0);
            MappingView { vaddr, gpte, spte }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Each path of `demand_page()` and the paging hypercalls, on a scripted Guest whose page tables the
    //! test writes straight into its memory (Guest-physical addresses below). The test holds the Guest
    //! out of the driver's table, as a call into the driver does.
    use super::*;
    use crate::lguest::lg::Dead;
    use crate::scenario::replay;

    const PGDIR: u32 = 0x10000;
    const PT0: u32 = 0x11000;
    const DATA: u32 = 0x20000;

    struct T {
        k: Kernel,
        g: Guest,
    }

    /// A live scripted Guest after LGUEST_INIT, with a page directory at PGDIR whose slot 0 points at PT0.
    fn guest() -> T {
        let r = replay("open => fd 3\nwrite INITIALIZE => 12\nguest init 0x5000\nguest notify 0x8000\nread => 4 notify=0x8000\n").expect("setup replays");
        let mut k = r.kernel;
        let mut g = k.lguest.take(0).expect("the Guest");
        g.lg.kernel_address = 0xc000_0000;
        let mut t = T { k, g };
        t.poke(PGDIR, PT0 | 7);
        t
    }

    impl T {
        fn poke(&mut self, gpa: u32, v: u32) {
            self.k.procs[0].mm.guest.ram.write_u32(gpa, v).unwrap();
        }

        fn peek(&self, gpa: u32) -> u32 {
            self.k.procs[0].mm.guest.ram.read_u32(gpa).unwrap()
        }

        fn dead(&self) -> Option<String> {
            match &self.g.lg.dead {
                Some(Dead::Reason { text, .. }) => Some(text.clone()),
                Some(Dead::Err { errno }) => Some(errno.to_string()),
                None => None,
            }
        }

        fn demand(&mut self, vaddr: u32, errcode: u32) -> bool {
            demand_page(&mut self.k, &mut self.g.lg, &self.g.cpus[0], vaddr, errcode)
        }

        fn new_pagetable(&mut self, pgtable: u32) {
            guest_new_pagetable(&mut self.k, &mut self.g.lg, &mut self.g.cpus[0], pgtable);
        }

        fn cpu_pgd(&self) -> usize {
            self.g.cpus[0].cpu_pgd
        }

        /// The Guest switches to PGDIR (slot 1, fresh) and paging is on.
        fn paging(&mut self) {
            self.new_pagetable(PGDIR);
            assert!(self.g.lg.paging);
            assert_eq!(self.cpu_pgd(), 1);
        }

        fn spte(&self, vaddr: u32) -> u32 {
            self.g.lg.pgdirs[self.cpu_pgd()].shadow.pte(vaddr)
        }

        fn live(&self, what: &str) -> usize {
            self.k.alloc.live.iter().filter(|a| a.what == what).count()
        }
    }

    #[test]
    fn demand_page_refuses_what_the_guest_does_not_map() {
        let mut t = guest();
        t.paging();
        // pgd slot 1 (0x400000) not present; pte 5 of slot 0 not present.
        assert!(!t.demand(0x40_0000, 0));
        assert!(!t.demand(0x5000, 0));
        // Read-only page written; kernel page touched from user mode.
        t.poke(PT0 + 4 * 6, DATA | _PAGE_PRESENT);
        assert!(!t.demand(0x6000, 2));
        t.poke(PT0 + 4 * 7, DATA | _PAGE_PRESENT | _PAGE_RW);
        assert!(!t.demand(0x7000, 4));
        assert_eq!(t.dead(), None, "a refused fault is the Guest's to handle, not a reason to kill it");
        assert_eq!(t.spte(0x6000), 0);
    }

    #[test]
    fn demand_page_sets_accessed_then_dirty() {
        let mut t = guest();
        t.paging();
        let gpte_at = PT0 + 4 * 3;
        t.poke(gpte_at, DATA | 7);
        // A read: accessed in the Guest's pte, and the shadow entry read-only.
        assert!(t.demand(0x3010, 0));
        assert_eq!(t.peek(gpte_at), DATA | 7 | _PAGE_ACCESSED);
        assert_eq!(t.spte(0x3000), DATA | 5 | _PAGE_ACCESSED);
        // The write that then faults: dirty, and writable in the shadow.
        assert!(t.demand(0x3010, 2));
        assert_eq!(t.peek(gpte_at), DATA | 7 | _PAGE_ACCESSED | _PAGE_DIRTY);
        assert_eq!(t.spte(0x3000), DATA | 7 | _PAGE_ACCESSED | _PAGE_DIRTY);
        // The global bit never reaches the shadow.
        t.poke(PT0 + 4 * 4, DATA | 7 | _PAGE_GLOBAL);
        assert!(t.demand(0x4000, 2));
        assert_eq!(t.spte(0x4000) & _PAGE_GLOBAL, 0);
        assert!(t.live("shadow pte page") > 0);
    }

    #[test]
    fn a_bad_page_directory_entry_kills() {
        let mut t = guest();
        t.paging();
        t.poke(PGDIR, PT0 | 7 | _PAGE_PSE);
        assert!(!t.demand(0x1000, 0));
        assert_eq!(t.dead().as_deref(), Some("bad page directory entry"));
        let mut t = guest();
        t.paging();
        t.poke(PGDIR + 4, 0x3000_0000 | 7); // a frame past pfn_limit
        assert!(!t.demand(0x40_0000, 0));
        assert_eq!(t.dead().as_deref(), Some("bad page directory entry"));
    }

    #[test]
    fn a_bad_page_table_entry_kills() {
        let mut t = guest();
        t.paging();
        t.poke(PT0 + 4, DATA | 7 | _PAGE_PSE);
        assert!(!t.demand(0x1000, 0));
        assert_eq!(t.dead().as_deref(), Some("bad page table entry"));
        let mut t = guest();
        t.paging();
        t.poke(PT0 + 4, 0x3000_0000 | 7);
        assert!(!t.demand(0x1000, 0));
        assert_eq!(t.dead().as_deref(), Some("bad page table entry"));
    }

    #[test]
    fn new_pgtable_reuses_a_cached_shadow_and_goes_round_the_slots() {
        let mut t = guest();
        t.paging(); // slot 1
        t.new_pagetable(0x30000);
        assert_eq!(t.cpu_pgd(), 2);
        t.new_pagetable(PGDIR);
        assert_eq!(t.cpu_pgd(), 1, "find_pgdir() finds the cached one");
        t.new_pagetable(0x31000);
        t.new_pagetable(0x32000);
        assert_eq!(t.cpu_pgd(), 0, "slot 3, then slot 0 (the boot tables') is thrown out");
        t.new_pagetable(0x33000);
        assert_eq!(t.cpu_pgd(), 1, "round robin comes back to slot 1");
        assert_eq!(find_pgdir(&t.g.lg, PGDIR), NR_PGDIRS, "PGDIR's shadow was the victim");
        assert_eq!(t.live("shadow page directory"), NR_PGDIRS);
    }

    #[test]
    fn flush_tlb_drops_user_or_all_mappings() {
        let mut t = guest();
        t.paging();
        t.poke(PT0 + 4, DATA | 7);
        t.poke(PGDIR + 4 * 0x300, PT0 | 7); // the same table at 0xc0000000: a kernel mapping
        assert!(t.demand(0x1000, 0));
        assert!(t.demand(0xc000_1000, 0));
        guest_pagetable_flush_user(&mut t.k, &mut t.g.lg, &t.g.cpus[0]);
        assert_eq!(t.spte(0x1000), 0);
        assert_ne!(t.spte(0xc000_1000), 0, "kernel mappings survive a user flush");
        guest_pagetable_clear_all(&mut t.k, &mut t.g.lg, &t.g.cpus[0]);
        assert_eq!(t.spte(0xc000_1000), 0);
        assert_eq!(t.live("shadow pte page"), 0, "every pte page was freed");
    }

    #[test]
    fn set_pte_and_set_pgd_update_the_shadow() {
        let mut t = guest();
        t.paging();
        t.poke(PT0 + 4, DATA | 7);
        assert!(t.demand(0x1000, 2));
        // Not accessed: the shadow entry is simply dropped, to fault in later.
        guest_set_pte(&mut t.k, &mut t.g.lg, PGDIR, 0x1000, 0x21000 | 7);
        assert_eq!(t.spte(0x1000), 0);
        // Accessed but clean: installed at once (the write bit is the Guest's).
        guest_set_pte(&mut t.k, &mut t.g.lg, PGDIR, 0x1000, 0x21000 | 7 | _PAGE_ACCESSED);
        assert_eq!(t.spte(0x1000), 0x21000 | 7 | _PAGE_ACCESSED);
        // A pgdir we do not shadow: nothing happens.
        guest_set_pte(&mut t.k, &mut t.g.lg, 0x77000, 0x1000, 0);
        assert_ne!(t.spte(0x1000), 0);
        // SET_PGD throws the slot away; the Switcher's slot is ignored.
        guest_set_pgd(&mut t.k, &mut t.g.lg, PGDIR, 1023);
        guest_set_pgd(&mut t.k, &mut t.g.lg, PGDIR, 0);
        assert_eq!(t.spte(0x1000), 0);
        assert!(t.g.lg.pgdirs[1].shadow.pgd[0].is_none());
        assert_eq!(t.dead(), None);
        // A pte in the Switcher's 4 MB kills.
        guest_set_pte(&mut t.k, &mut t.g.lg, PGDIR, 0xffc0_1000, 0x1000 | 7 | _PAGE_ACCESSED);
        assert_eq!(t.dead().as_deref(), Some("attempt to access switcher pages"));
    }

    #[test]
    fn a_stack_the_guest_does_not_map_kills() {
        let mut t = guest();
        t.g.cpus[0].esp1 = 0x9000;
        t.g.lg.stack_pages = 1;
        t.paging();
        assert_eq!(t.dead().as_deref(), Some("bad stack page 0x8fff"));
        let mut t = guest();
        t.poke(PT0 + 4 * 8, DATA | 7);
        t.g.cpus[0].esp1 = 0x9000;
        t.g.lg.stack_pages = 1;
        t.paging();
        assert_eq!(t.dead(), None);
        assert_eq!(t.spte(0x8000) & _PAGE_RW, _PAGE_RW, "pinned writable");
    }
}
