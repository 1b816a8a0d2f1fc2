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
//! **When the shadow path is active.** A real lguest Guest runs on shadow tables from its first
//! instruction: `pgdirs[0]` shadows the boot tables `setup_pagetables()` wrote (RAM at 0 and at
//! 0xC0000000, as much RAM as boot_params' e820 map says). Here the shadow path starts with the Guest's
//! first `LHCALL_NEW_PGTABLE` (`lg.paging`); until then the x86 core runs with no translation
//! (`Cpu::shadow` is `None`, the identity, exactly as fast as before) and a #PF only means "past
//! `pfn_limit`". The reason is the course's small Guests: the console Guests touch the devices page and
//! their rings above RAM by physical address, which the boot tables do not map (a Linux Guest maps them
//! itself with `lguest_map()` before it touches them), and scripted Guests often have no boot tables at
//! all. A Guest that wants the boot tables loads them like any other: `NEW_PGTABLE(lguest_data.pgdir)`
//! finds them cached in slot 0 (paging.S does this). From then on everything is as in lguest.
//!
//! **Our shadow ptes hold Guest frame numbers.** The kernel's shadow pte holds the host-physical frame
//! `get_user_pages()` found behind the Launcher's mapping; the simulated core addresses the Guest's RAM
//! directly, so `gpte_to_spte()` keeps the Guest frame number and only checks that the Launcher has that
//! page mapped (`get_pfn()`).

use serde::Serialize;

use super::alloc::{AllocId, AllocKind};
use super::guest::GuestEngine;
use super::hypercalls::SWITCHER_PGD_INDEX;
use crate::machine::Machine;
use crate::params::{PAGE_SHIFT, PAGE_SIZE};

pub use crate::cpu::paging::{
    pgd_index, pte_index, PageDirectory, PtePage, PTE_FLAGS_MASK, PTRS_PER_PGD, PTRS_PER_PTE, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_GLOBAL,
    _PAGE_PRESENT, _PAGE_PSE, _PAGE_RW, _PAGE_TABLE, _PAGE_USER,
};
/// `ARRAY_SIZE(lg->pgdirs)`: how many shadow page directories the Host caches per Guest.
pub const NR_PGDIRS: usize = 4;
/// The most mappings the snapshot lists for the UI (a Guest with 32 MB mapped has 8192).
pub const SHADOW_VIEW_CAP: usize = 256;

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

impl Machine {
    // --- helpers ------------------------------------------------------------------------------------

    /// A 32-bit word of Guest-physical memory (`lgread()`; a bad address kills the Guest).
    fn lgread_u32(&mut self, g: usize, gpa: u32) -> Option<u32> {
        let b = self.lgread(g, gpa, 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The shadow directory `idx`, to change it. The cores let go of their copy first (so the change does
    /// not copy the table; each run loads the current one again). With `flush` (a mapping is removed or
    /// replaced, not merely added) they also forget their decoded blocks before they run again: a block
    /// decoded through the old mapping may describe other bytes now.
    fn spgdir_mut(&mut self, g: usize, idx: usize, flush: bool) -> &mut PageDirectory {
        let lg = self.lg_mut(g);
        for cpu in lg.cpus.iter_mut() {
            cpu.flush_pending |= flush;
            if let GuestEngine::Cpu(core) = &mut cpu.engine {
                core.cr3 = None;
            }
        }
        &mut lg.pgdirs[idx].shadow
    }

    /// `spgd_addr()`'s guard: the top slot is the Switcher's, which no Guest may touch.
    fn spgd_ok(&mut self, g: usize, vaddr: u32) -> bool {
        if pgd_index(vaddr) >= SWITCHER_PGD_INDEX as usize {
            self.kill_guest(g, "attempt to access switcher pages".into());
            return false;
        }
        true
    }

    /// `find_pgdir()`: the cached shadow directory for Guest page directory `pgtable`, or `NR_PGDIRS`.
    pub(crate) fn find_pgdir(&mut self, g: usize, pgtable: u32) -> usize {
        let lg = self.lg_mut(g);
        (0..NR_PGDIRS).find(|&i| lg.pgdirs[i].page.is_some() && lg.pgdirs[i].gpgdir == pgtable).unwrap_or(NR_PGDIRS)
    }

    // --- (i) demand_page ----------------------------------------------------------------------------

    /// `check_gpgd()`: a Guest directory entry may carry only `_PAGE_TABLE` flags and must point below
    /// `pfn_limit`. (In 2.6.3x it only kills and lets the caller carry on; the Guest never runs again, so
    /// we stop at once.)
    pub(crate) fn check_gpgd(&mut self, g: usize, gpgd: u32) -> bool {
        let limit = self.lg_mut(g).pfn_limit;
        if gpgd & PTE_FLAGS_MASK & !_PAGE_TABLE != 0 || gpgd >> PAGE_SHIFT >= limit {
            self.ev("check_gpgd", format!("Guest pgd {gpgd:#010x} ({}): flags beyond _PAGE_TABLE or a frame past pfn_limit {limit:#x}", flag_names(gpgd)), &[]);
            self.kill_guest(g, "bad page directory entry".into());
            return false;
        }
        true
    }

    /// `check_gpte()`: no large pages (`_PAGE_PSE`), and the frame must be the Guest's (below
    /// `pfn_limit`), never the Launcher's own memory above it.
    pub(crate) fn check_gpte(&mut self, g: usize, gpte: u32) -> bool {
        let limit = self.lg_mut(g).pfn_limit;
        if gpte & _PAGE_PSE != 0 || gpte >> PAGE_SHIFT >= limit {
            self.ev("check_gpte", format!("Guest pte {gpte:#010x} ({}): a large page or a frame past pfn_limit {limit:#x}", flag_names(gpte)), &[]);
            self.kill_guest(g, "bad page table entry".into());
            return false;
        }
        true
    }

    /// `gpte_to_spte()`: the shadow entry for a Guest pte: its flags without `_PAGE_GLOBAL` (the Guest
    /// only sets it to tell us kernel from user mappings), its frame looked up in the Launcher's memory
    /// (`get_pfn()`; a page the Launcher does not have kills the Guest and leaves an empty entry). The
    /// kernel passes `write` on to `get_user_pages()`; the Launcher's Guest memory is always writable, so
    /// here it changes nothing.
    pub(crate) fn gpte_to_spte(&mut self, g: usize, gpte: u32, _write: bool) -> u32 {
        let flags = gpte & PTE_FLAGS_MASK & !_PAGE_GLOBAL;
        let pfn = gpte >> PAGE_SHIFT;
        let ua = self.lg_mut(g).mem_base.wrapping_add(pfn << PAGE_SHIFT);
        if self.copy_from_user(ua, 1).is_none() {
            self.kill_guest(g, format!("failed to get page {pfn}"));
            return pfn << PAGE_SHIFT;
        }
        (pfn << PAGE_SHIFT) | flags
    }

    /// H:330 `demand_page()`: the Guest faulted at `vaddr` (error code `errcode`: bit 1 write, bit 2 user).
    /// If the Guest's own tables allow the access, copy the entry into the shadow (read-only unless this is
    /// a write or the page is already dirty), mark it accessed (and dirty) in the Guest's pte, and return
    /// true: the Guest runs the instruction again and never knows. Otherwise false: it is the Guest's fault.
    pub(crate) fn demand_page(&mut self, g: usize, c: u32, vaddr: u32, errcode: u32) -> bool {
        let idx = self.lg_mut(g).cpus[c as usize].cpu_pgd;
        let gpgdir = self.lg_mut(g).pgdirs[idx].gpgdir;
        let gpgd_ptr = gpgdir.wrapping_add(pgd_index(vaddr) as u32 * 4);
        let Some(gpgd) = self.lgread_u32(g, gpgd_ptr) else { return false };
        if gpgd & _PAGE_PRESENT == 0 {
            self.ev("demand_page", format!("{vaddr:#x}: the Guest's pgd entry {} is not present: the fault is the Guest's", pgd_index(vaddr)), &[]);
            return false;
        }
        if !self.spgd_ok(g, vaddr) {
            return false;
        }
        if self.lg_mut(g).pgdirs[idx].shadow.pgd[pgd_index(vaddr)].is_none() {
            let alloc = match self.host.alloc.alloc(AllocKind::Page, "shadow pte page".into(), "demand_page", PAGE_SIZE) {
                Ok(a) => a,
                Err(_) => {
                    self.kill_guest(g, "out of memory allocating pte page".into());
                    return false;
                }
            };
            if !self.check_gpgd(g, gpgd) {
                let _ = self.host.alloc.free(alloc);
                return false;
            }
            let flags = gpgd & PTE_FLAGS_MASK;
            self.spgdir_mut(g, idx, false).set_slot(pgd_index(vaddr), Some(PtePage::new(flags)));
            self.lg_mut(g).pgdirs[idx].pte_pages.insert(pgd_index(vaddr), alloc);
            self.ev(
                "demand_page",
                format!("shadow pgd slot {} was empty: get_zeroed_page() a pte page (#{alloc}), flags {} from the Guest's", pgd_index(vaddr), flag_names(flags)),
                &["alloc", "shadow"],
            );
        }
        let gpte_ptr = (gpgd & !PTE_FLAGS_MASK).wrapping_add(pte_index(vaddr) as u32 * 4);
        let Some(mut gpte) = self.lgread_u32(g, gpte_ptr) else { return false };
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
            self.ev("demand_page", format!("{vaddr:#x}: {why} (gpte {gpte:#010x}): the fault is the Guest's"), &[]);
            return false;
        }
        if !self.check_gpte(g, gpte) {
            return false;
        }
        gpte |= _PAGE_ACCESSED;
        if errcode & 2 != 0 {
            gpte |= _PAGE_DIRTY;
        }
        let old = self.lg_mut(g).pgdirs[idx].shadow.pte(vaddr);
        if old & _PAGE_PRESENT != 0 {
            self.release_pte(old);
        }
        let spte = if gpte & _PAGE_DIRTY != 0 { self.gpte_to_spte(g, gpte, true) } else { self.gpte_to_spte(g, gpte & !_PAGE_RW, false) };
        // The usual replacement is the first write to a page mapped read-only: the same frame, so the
        // decoded blocks stay good.
        let moved = old & _PAGE_PRESENT != 0 && old >> PAGE_SHIFT != spte >> PAGE_SHIFT;
        self.set_spte(g, idx, vaddr, spte, moved);
        if !self.lgwrite(g, gpte_ptr, &gpte.to_le_bytes()) {
            return false;
        }
        let how = if spte & _PAGE_RW != 0 { "writable" } else { "read-only, so the first write comes back here to set D" };
        self.ev(
            "demand_page",
            format!("{vaddr:#x}: Guest pte at {gpte_ptr:#x} is now {gpte:#010x} ({}); shadow pte {spte:#010x}, {how}", flag_names(gpte)),
            &["guest.memory", "shadow"],
        );
        true
    }

    /// Store a shadow pte for `vaddr` in directory `idx` (its pte page must exist); `flush` if it replaces
    /// a present one.
    fn set_spte(&mut self, g: usize, idx: usize, vaddr: u32, spte: u32, flush: bool) {
        self.spgdir_mut(g, idx, flush).set_pte(vaddr, spte);
    }

    /// H:460 `release_pte()`: the kernel drops the page reference `get_pfn()` took. We book no such
    /// references (the Launcher's memory stays mapped), so there is nothing to give back.
    fn release_pte(&mut self, _spte: u32) {}

    /// H:450 `release_pgd()`: throw away one shadow directory slot and the pte page behind it.
    fn release_pgd(&mut self, g: usize, idx: usize, slot: usize) -> bool {
        let Some(pt) = self.lg_mut(g).pgdirs[idx].shadow.pgd[slot].clone() else { return false };
        for &pte in pt.ptes.iter() {
            if pte & _PAGE_PRESENT != 0 {
                self.release_pte(pte);
            }
        }
        if let Some(alloc) = self.lg_mut(g).pgdirs[idx].pte_pages.remove(&slot) {
            let _ = self.host.alloc.free(alloc);
        }
        self.spgdir_mut(g, idx, true).set_slot(slot, None);
        true
    }

    /// H:445 `flush_user_mappings()`: release every slot below the Guest kernel's address in directory
    /// `idx` (the kernel's part is the same in every directory and stays).
    fn flush_user_mappings(&mut self, g: usize, idx: usize) -> u32 {
        let top = pgd_index(self.lg_mut(g).kernel_address).min(SWITCHER_PGD_INDEX as usize);
        (0..top).filter(|&i| self.release_pgd(g, idx, i)).count() as u32
    }

    /// H:440 `guest_pagetable_flush_user()`: LHCALL_FLUSH_TLB(0), the Guest changed user mappings.
    pub(crate) fn guest_pagetable_flush_user(&mut self, g: usize, c: u32) {
        let idx = self.lg_mut(g).cpus[c as usize].cpu_pgd;
        let n = self.flush_user_mappings(g, idx);
        let ka = self.lg_mut(g).kernel_address;
        self.ev("guest_pagetable_flush_user", format!("pgdirs[{idx}]: {n} pte pages below kernel_address {ka:#x} released; they fault back in"), &["alloc", "shadow"]);
    }

    /// H:470 `release_all_pagetables()`: every slot of every cached directory (but the Switcher's).
    fn release_all_pagetables(&mut self, g: usize) -> u32 {
        let mut n = 0;
        for idx in 0..NR_PGDIRS {
            if self.lg_mut(g).pgdirs[idx].page.is_none() {
                continue;
            }
            n += (0..SWITCHER_PGD_INDEX as usize).filter(|&i| self.release_pgd(g, idx, i)).count() as u32;
        }
        n
    }

    /// `guest_pagetable_clear_all()`: LHCALL_FLUSH_TLB(1), a kernel mapping changed: everything goes, in
    /// every cached directory, and the kernel stack is pinned again.
    pub(crate) fn guest_pagetable_clear_all(&mut self, g: usize, c: u32) {
        let n = self.release_all_pagetables(g);
        self.ev("guest_pagetable_clear_all", format!("all {n} shadow pte pages released in every cached pgdir"), &["alloc", "shadow"]);
        self.pin_stack_pages(g, c);
    }

    // --- (ii) the stack ------------------------------------------------------------------------------

    /// `page_writable()`: does the current shadow map `vaddr` present and writable?
    fn page_writable(&mut self, g: usize, c: u32, vaddr: u32) -> bool {
        let idx = self.lg_mut(g).cpus[c as usize].cpu_pgd;
        if pgd_index(vaddr) >= SWITCHER_PGD_INDEX as usize {
            return self.spgd_ok(g, vaddr);
        }
        let spte = self.lg_mut(g).pgdirs[idx].shadow.pte(vaddr);
        spte & (_PAGE_PRESENT | _PAGE_RW) == _PAGE_PRESENT | _PAGE_RW
    }

    /// H:360 `pin_page()`: make sure a stack page is mapped writable, or kill the Guest.
    fn pin_page(&mut self, g: usize, c: u32, vaddr: u32) {
        if !self.page_writable(g, c, vaddr) && !self.demand_page(g, c, vaddr, 2) {
            self.kill_guest(g, format!("bad stack page {vaddr:#x}"));
        }
    }

    /// `pin_stack_pages()`: the Host pushes interrupt frames onto the Guest's kernel stack, so each of its
    /// `stack_pages` pages (from SET_STACK) must be mapped. Nothing to do while paging is off.
    pub(crate) fn pin_stack_pages(&mut self, g: usize, c: u32) {
        if !self.lg_mut(g).paging {
            return;
        }
        let (esp1, pages) = (self.lg_mut(g).cpus[c as usize].esp1, self.lg_mut(g).stack_pages);
        for i in 0..pages {
            // esp1 is one past the top of the stack: start at the byte below it.
            self.pin_page(g, c, esp1.wrapping_sub(1).wrapping_sub(i * PAGE_SIZE));
        }
    }

    // --- (iii) SET_PTE and SET_PGD -------------------------------------------------------------------

    /// H:420 `do_set_pte()`: the Guest changed the pte for `vaddr`; update shadow directory `idx`. If the
    /// Guest already marked it accessed (or dirty) the new entry goes in at once (read-only unless
    /// dirty); otherwise the old one is simply dropped and `demand_page()` fills it when used.
    fn do_set_pte(&mut self, g: usize, idx: usize, vaddr: u32, gpte: u32) {
        if !self.spgd_ok(g, vaddr) {
            return;
        }
        if self.lg_mut(g).pgdirs[idx].shadow.pgd[pgd_index(vaddr)].is_none() {
            self.ev("do_set_pte", format!("pgdirs[{idx}]: no shadow pte page for {vaddr:#x}: nothing to update"), &[]);
            return;
        }
        let old = self.lg_mut(g).pgdirs[idx].shadow.pte(vaddr);
        if old & _PAGE_PRESENT != 0 {
            self.release_pte(old);
        }
        let spte = if gpte & (_PAGE_DIRTY | _PAGE_ACCESSED) != 0 {
            if !self.check_gpte(g, gpte) {
                return;
            }
            self.gpte_to_spte(g, gpte, gpte & _PAGE_DIRTY != 0)
        } else {
            0
        };
        self.set_spte(g, idx, vaddr, spte, old & _PAGE_PRESENT != 0);
        self.ev("do_set_pte", format!("pgdirs[{idx}]: shadow pte for {vaddr:#x} = {spte:#010x} (Guest pte {gpte:#010x}: {})", flag_names(gpte)), &["shadow"]);
    }

    /// H:410 `guest_set_pte()`: LHCALL_SET_PTE(gpgdir, vaddr, pte). A kernel address is mapped the same in
    /// every directory, so every cached one is updated; a user address only in the one for `gpgdir`.
    pub(crate) fn guest_set_pte(&mut self, g: usize, _c: u32, gpgdir: u32, vaddr: u32, gpte: u32) {
        let ka = self.lg_mut(g).kernel_address;
        if vaddr >= ka {
            self.ev("guest_set_pte", format!("{vaddr:#x} is at or above kernel_address {ka:#x}: update every cached pgdir"), &[]);
            for idx in 0..NR_PGDIRS {
                if self.lg_mut(g).pgdirs[idx].page.is_some() && self.lg_mut(g).dead.is_none() {
                    self.do_set_pte(g, idx, vaddr, gpte);
                }
            }
        } else {
            let idx = self.find_pgdir(g, gpgdir);
            if idx < NR_PGDIRS {
                self.ev("guest_set_pte", format!("{vaddr:#x} is a user address: only pgdirs[{idx}], the shadow of {gpgdir:#x}"), &[]);
                self.do_set_pte(g, idx, vaddr, gpte);
            } else {
                self.ev("guest_set_pte", format!("no shadow for Guest pgdir {gpgdir:#x}: nothing to do"), &[]);
            }
        }
    }

    /// H:400 `guest_set_pgd()`: LHCALL_SET_PGD(gpgdir, idx): the Guest changed a directory entry; throw
    /// the matching shadow slot away (the Switcher's slot and beyond are ignored).
    pub(crate) fn guest_set_pgd(&mut self, g: usize, gpgdir: u32, idx: u32) {
        if idx >= SWITCHER_PGD_INDEX {
            self.ev("guest_set_pgd", format!("slot {idx} is the Switcher's or beyond: ignored"), &[]);
            return;
        }
        let pgdir = self.find_pgdir(g, gpgdir);
        if pgdir < NR_PGDIRS {
            let released = self.release_pgd(g, pgdir, idx as usize);
            let what = if released { "its pte page released" } else { "it was empty" };
            self.ev("guest_set_pgd", format!("pgdirs[{pgdir}] slot {idx}: {what}"), &["alloc", "shadow"]);
        } else {
            self.ev("guest_set_pgd", format!("no shadow for Guest pgdir {gpgdir:#x}: nothing to do"), &[]);
        }
    }

    // --- (iv) switching page tables ------------------------------------------------------------------

    /// H:435 `new_pgdir()`: take a slot for Guest page directory `gpgdir`. The kernel throws out a slot
    /// chosen with `random32()`; we go round the slots in turn (1, 2, 3, 0, ...) so every run is the same.
    /// A slot never used gets its page now (if that fails the current one is reused); its user part is
    /// flushed. Returns the slot and whether its page is brand new (nothing mapped, not even the kernel).
    fn new_pgdir(&mut self, g: usize, c: u32, gpgdir: u32) -> (usize, bool) {
        let lg = self.lg_mut(g);
        let mut next = lg.next_pgdir;
        lg.next_pgdir = (next + 1) % NR_PGDIRS;
        let mut blank = false;
        if self.lg_mut(g).pgdirs[next].page.is_none() {
            match self.host.alloc.alloc(AllocKind::Page, "shadow page directory".into(), "new_pgdir", PAGE_SIZE) {
                Ok(p) => {
                    let lg = self.lg_mut(g);
                    lg.pgdirs[next].page = Some(p);
                    lg.pgdirs[next].shadow = PageDirectory::default();
                    lg.pgdirs[next].pte_pages.clear();
                    blank = true;
                    self.ev("new_pgdir", format!("pgdirs[{next}] never used: get_zeroed_page() (#{p})"), &["alloc"]);
                }
                Err(_) => {
                    next = self.lg_mut(g).cpus[c as usize].cpu_pgd;
                    self.ev("new_pgdir", format!("get_zeroed_page() fails: keep using pgdirs[{next}]"), &[]);
                }
            }
        }
        let old = self.lg_mut(g).pgdirs[next].gpgdir;
        self.lg_mut(g).pgdirs[next].gpgdir = gpgdir;
        let n = self.flush_user_mappings(g, next);
        self.ev("new_pgdir", format!("pgdirs[{next}] now shadows {gpgdir:#x} (was {old:#x}); {n} user pte pages flushed"), &["shadow"]);
        (next, blank)
    }

    /// H:430 `guest_new_pagetable()`: LHCALL_NEW_PGTABLE(pgtable), the Guest loads cr3. Reuse the cached
    /// shadow of that directory if there is one, else make one. The first call turns the shadow path on.
    pub(crate) fn guest_new_pagetable(&mut self, g: usize, c: u32, pgtable: u32) {
        let mut idx = self.find_pgdir(g, pgtable);
        let mut repin = false;
        if idx == NR_PGDIRS {
            (idx, repin) = self.new_pgdir(g, c, pgtable);
        } else {
            self.ev("guest_new_pagetable", format!("pgdirs[{idx}] already shadows {pgtable:#x}: switch to it"), &[]);
        }
        let lg = self.lg_mut(g);
        lg.cpus[c as usize].cpu_pgd = idx;
        lg.cpus[c as usize].flush_pending = true;
        let first = !lg.paging;
        lg.paging = true;
        if first {
            self.ev("guest_new_pagetable", "the first NEW_PGTABLE: from now on the CPU walks the shadow page tables".into(), &["shadow"]);
        }
        self.ev("guest_new_pagetable", format!("cpu->cpu_pgd = {idx}"), &["cpu0.cpu_pgd"]);
        if repin || first {
            self.pin_stack_pages(g, c);
        }
    }

    /// `guest_pa()`: walk the Guest's own tables (not the shadow) to the Guest-physical address of
    /// `vaddr`, as the Host does before it pushes an interrupt frame on the Guest's stack. Not mapped: the
    /// Guest dies ("Bad address"). The identity while the Guest does not page.
    pub(crate) fn guest_pa(&mut self, g: usize, c: u32, vaddr: u32) -> Option<u32> {
        if !self.lg_mut(g).paging {
            return Some(vaddr);
        }
        let idx = self.lg_mut(g).cpus[c as usize].cpu_pgd;
        let gpgdir = self.lg_mut(g).pgdirs[idx].gpgdir;
        let gpgd = self.lgread_u32(g, gpgdir.wrapping_add(pgd_index(vaddr) as u32 * 4))?;
        if gpgd & _PAGE_PRESENT == 0 {
            self.kill_guest(g, format!("Bad address {vaddr:#x}"));
            return None;
        }
        let gpte = self.lgread_u32(g, (gpgd & !PTE_FLAGS_MASK).wrapping_add(pte_index(vaddr) as u32 * 4))?;
        if gpte & _PAGE_PRESENT == 0 {
            self.kill_guest(g, format!("Bad address {vaddr:#x}"));
            return None;
        }
        Some((gpte & !PTE_FLAGS_MASK) | (vaddr & PTE_FLAGS_MASK))
    }

    // --- teardown and views --------------------------------------------------------------------------

    /// `free_guest_pagetable()` (from `close()`): release everything, then each directory page.
    pub(crate) fn free_guest_pagetable(&mut self, g: usize) {
        self.release_all_pagetables(g);
        for idx in 0..NR_PGDIRS {
            if let Some(p) = self.lg_mut(g).pgdirs[idx].page.take() {
                self.free_page(p, "close");
            }
        }
    }

    /// The active shadow directory's mappings beside the Guest's own ptes, for the UI (at most
    /// [`SHADOW_VIEW_CAP`]). The Guest pte is read by walking the Guest's tables without side effects.
    pub fn shadow_view(&self, g: usize) -> Vec<MappingView> {
        let Some(lg) = self.lg(g) else { return Vec::new() };
        let Some(cpu) = lg.cpus.first() else { return Vec::new() };
        let dir = &lg.pgdirs[cpu.cpu_pgd];
        let pidx = self.proc_of(cpu.tsk);
        let ram = &self.procs[pidx].ram;
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
}

#[cfg(test)]
mod tests {
    //! Each path of `demand_page()` and the paging hypercalls, on a scripted Guest whose page tables the
    //! test writes straight into its memory (Guest-physical addresses below).
    use super::*;
    use crate::host::lg::Dead;
    use crate::scenario::replay;

    const PGDIR: u32 = 0x10000;
    const PT0: u32 = 0x11000;
    const DATA: u32 = 0x20000;

    /// A live scripted Guest after LGUEST_INIT, with a page directory at PGDIR whose slot 0 points at PT0.
    fn guest() -> Machine {
        let r = replay("open => fd 3\nwrite INITIALIZE => 12\nguest init 0x5000\nguest notify 0x8000\nread => 4 notify=0x8000\n").expect("setup replays");
        let mut m = r.machine;
        m.lg_mut(0).kernel_address = 0xc000_0000;
        poke(&mut m, PGDIR, PT0 | 7);
        m
    }

    fn poke(m: &mut Machine, gpa: u32, v: u32) {
        m.procs[0].ram.write_u32(gpa, v).unwrap();
    }

    fn peek(m: &Machine, gpa: u32) -> u32 {
        m.procs[0].ram.read_u32(gpa).unwrap()
    }

    fn dead(m: &mut Machine) -> Option<String> {
        match &m.lg_mut(0).dead {
            Some(Dead::Reason { text, .. }) => Some(text.clone()),
            Some(Dead::Err { errno }) => Some(errno.to_string()),
            None => None,
        }
    }

    /// The Guest switches to PGDIR (slot 1, fresh) and paging is on.
    fn paging(m: &mut Machine) {
        m.guest_new_pagetable(0, 0, PGDIR);
        assert!(m.lg_mut(0).paging);
        assert_eq!(m.lg_mut(0).cpus[0].cpu_pgd, 1);
    }

    fn spte(m: &mut Machine, vaddr: u32) -> u32 {
        let idx = m.lg_mut(0).cpus[0].cpu_pgd;
        m.lg_mut(0).pgdirs[idx].shadow.pte(vaddr)
    }

    #[test]
    fn demand_page_refuses_what_the_guest_does_not_map() {
        let mut m = guest();
        paging(&mut m);
        // pgd slot 1 (0x400000) not present; pte 5 of slot 0 not present.
        assert!(!m.demand_page(0, 0, 0x40_0000, 0));
        assert!(!m.demand_page(0, 0, 0x5000, 0));
        // Read-only page written; kernel page touched from user mode.
        poke(&mut m, PT0 + 4 * 6, DATA | _PAGE_PRESENT);
        assert!(!m.demand_page(0, 0, 0x6000, 2));
        poke(&mut m, PT0 + 4 * 7, DATA | _PAGE_PRESENT | _PAGE_RW);
        assert!(!m.demand_page(0, 0, 0x7000, 4));
        assert_eq!(dead(&mut m), None, "a refused fault is the Guest's to handle, not a reason to kill it");
        assert_eq!(spte(&mut m, 0x6000), 0);
    }

    #[test]
    fn demand_page_sets_accessed_then_dirty() {
        let mut m = guest();
        paging(&mut m);
        let gpte_at = PT0 + 4 * 3;
        poke(&mut m, gpte_at, DATA | 7);
        // A read: accessed in the Guest's pte, and the shadow entry read-only.
        assert!(m.demand_page(0, 0, 0x3010, 0));
        assert_eq!(peek(&m, gpte_at), DATA | 7 | _PAGE_ACCESSED);
        assert_eq!(spte(&mut m, 0x3000), DATA | 5 | _PAGE_ACCESSED);
        // The write that then faults: dirty, and writable in the shadow.
        assert!(m.demand_page(0, 0, 0x3010, 2));
        assert_eq!(peek(&m, gpte_at), DATA | 7 | _PAGE_ACCESSED | _PAGE_DIRTY);
        assert_eq!(spte(&mut m, 0x3000), DATA | 7 | _PAGE_ACCESSED | _PAGE_DIRTY);
        // The global bit never reaches the shadow.
        poke(&mut m, PT0 + 4 * 4, DATA | 7 | _PAGE_GLOBAL);
        assert!(m.demand_page(0, 0, 0x4000, 2));
        assert_eq!(spte(&mut m, 0x4000) & _PAGE_GLOBAL, 0);
        assert!(m.host.alloc.live.iter().any(|a| a.what == "shadow pte page"));
    }

    #[test]
    fn a_bad_page_directory_entry_kills() {
        let mut m = guest();
        paging(&mut m);
        poke(&mut m, PGDIR, PT0 | 7 | _PAGE_PSE);
        assert!(!m.demand_page(0, 0, 0x1000, 0));
        assert_eq!(dead(&mut m).as_deref(), Some("bad page directory entry"));
        let mut m = guest();
        paging(&mut m);
        poke(&mut m, PGDIR + 4, 0x3000_0000 | 7); // a frame past pfn_limit
        assert!(!m.demand_page(0, 0, 0x40_0000, 0));
        assert_eq!(dead(&mut m).as_deref(), Some("bad page directory entry"));
    }

    #[test]
    fn a_bad_page_table_entry_kills() {
        let mut m = guest();
        paging(&mut m);
        poke(&mut m, PT0 + 4, DATA | 7 | _PAGE_PSE);
        assert!(!m.demand_page(0, 0, 0x1000, 0));
        assert_eq!(dead(&mut m).as_deref(), Some("bad page table entry"));
        let mut m = guest();
        paging(&mut m);
        poke(&mut m, PT0 + 4, 0x3000_0000 | 7);
        assert!(!m.demand_page(0, 0, 0x1000, 0));
        assert_eq!(dead(&mut m).as_deref(), Some("bad page table entry"));
    }

    #[test]
    fn new_pgtable_reuses_a_cached_shadow_and_goes_round_the_slots() {
        let mut m = guest();
        paging(&mut m); // slot 1
        m.guest_new_pagetable(0, 0, 0x30000);
        assert_eq!(m.lg_mut(0).cpus[0].cpu_pgd, 2);
        m.guest_new_pagetable(0, 0, PGDIR);
        assert_eq!(m.lg_mut(0).cpus[0].cpu_pgd, 1, "find_pgdir() finds the cached one");
        m.guest_new_pagetable(0, 0, 0x31000);
        m.guest_new_pagetable(0, 0, 0x32000);
        assert_eq!(m.lg_mut(0).cpus[0].cpu_pgd, 0, "slot 3, then slot 0 (the boot tables') is thrown out");
        m.guest_new_pagetable(0, 0, 0x33000);
        assert_eq!(m.lg_mut(0).cpus[0].cpu_pgd, 1, "round robin comes back to slot 1");
        assert_eq!(m.find_pgdir(0, PGDIR), NR_PGDIRS, "PGDIR's shadow was the victim");
        let pages = m.host.alloc.live.iter().filter(|a| a.what == "shadow page directory").count();
        assert_eq!(pages, NR_PGDIRS);
    }

    #[test]
    fn flush_tlb_drops_user_or_all_mappings() {
        let mut m = guest();
        paging(&mut m);
        poke(&mut m, PT0 + 4, DATA | 7);
        poke(&mut m, PGDIR + 4 * 0x300, PT0 | 7); // the same table at 0xc0000000: a kernel mapping
        assert!(m.demand_page(0, 0, 0x1000, 0));
        assert!(m.demand_page(0, 0, 0xc000_1000, 0));
        m.guest_pagetable_flush_user(0, 0);
        assert_eq!(spte(&mut m, 0x1000), 0);
        assert_ne!(spte(&mut m, 0xc000_1000), 0, "kernel mappings survive a user flush");
        m.guest_pagetable_clear_all(0, 0);
        assert_eq!(spte(&mut m, 0xc000_1000), 0);
        assert!(!m.host.alloc.live.iter().any(|a| a.what == "shadow pte page"), "every pte page was freed");
    }

    #[test]
    fn set_pte_and_set_pgd_update_the_shadow() {
        let mut m = guest();
        paging(&mut m);
        poke(&mut m, PT0 + 4, DATA | 7);
        assert!(m.demand_page(0, 0, 0x1000, 2));
        // Not accessed: the shadow entry is simply dropped, to fault in later.
        m.guest_set_pte(0, 0, PGDIR, 0x1000, 0x21000 | 7);
        assert_eq!(spte(&mut m, 0x1000), 0);
        // Accessed but clean: installed at once (the write bit is the Guest's).
        m.guest_set_pte(0, 0, PGDIR, 0x1000, 0x21000 | 7 | _PAGE_ACCESSED);
        assert_eq!(spte(&mut m, 0x1000), 0x21000 | 7 | _PAGE_ACCESSED);
        // A pgdir we do not shadow: nothing happens.
        m.guest_set_pte(0, 0, 0x77000, 0x1000, 0);
        assert_ne!(spte(&mut m, 0x1000), 0);
        // SET_PGD throws the slot away; the Switcher's slot is ignored.
        m.guest_set_pgd(0, PGDIR, 1023);
        m.guest_set_pgd(0, PGDIR, 0);
        assert_eq!(spte(&mut m, 0x1000), 0);
        assert!(m.lg_mut(0).pgdirs[1].shadow.pgd[0].is_none());
        assert_eq!(dead(&mut m), None);
        // A pte in the Switcher's 4 MB kills.
        m.guest_set_pte(0, 0, PGDIR, 0xffc0_1000, 0x1000 | 7 | _PAGE_ACCESSED);
        assert_eq!(dead(&mut m).as_deref(), Some("attempt to access switcher pages"));
    }

    #[test]
    fn a_stack_the_guest_does_not_map_kills() {
        let mut m = guest();
        m.lg_mut(0).cpus[0].esp1 = 0x9000;
        m.lg_mut(0).stack_pages = 1;
        paging(&mut m);
        assert_eq!(dead(&mut m).as_deref(), Some("bad stack page 0x8fff"));
        let mut m = guest();
        poke(&mut m, PT0 + 4 * 8, DATA | 7);
        m.lg_mut(0).cpus[0].esp1 = 0x9000;
        m.lg_mut(0).stack_pages = 1;
        paging(&mut m);
        assert_eq!(dead(&mut m), None);
        assert_eq!(spte(&mut m, 0x8000) & _PAGE_RW, _PAGE_RW, "pinned writable");
    }
}
