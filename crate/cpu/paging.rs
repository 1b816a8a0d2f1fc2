//! The x86's two-level page walk (Intel SDM vol. 3, 4.3 "32-bit paging"): what the processor does with the
//! page directory cr3 points at, for every access once paging is on. It is hardware, so it lives with the
//! CPU; who builds the directory is not the CPU's business. (Under lguest it is the Host: its shadow page
//! tables, `crate::lguest::page_tables`, are page directories of this kind that it fills lazily.)
//!
//! A [`PageDirectory`] is 1024 slots, each optionally a page of 1024 ptes, shared copy-on-write (`Rc`) so a
//! snapshot of a Guest costs nothing and whoever edits one copies only the page it changes.

use std::rc::Rc;

use crate::params::{PAGE_SHIFT, PAGE_SIZE};

/// Page-table entry bits (the same in a pgd and a pte on a non-PAE i386).
pub const _PAGE_PRESENT: u32 = 0x001;
pub const _PAGE_RW: u32 = 0x002;
pub const _PAGE_USER: u32 = 0x004;
pub const _PAGE_ACCESSED: u32 = 0x020;
pub const _PAGE_DIRTY: u32 = 0x040;
pub const _PAGE_PSE: u32 = 0x080;
pub const _PAGE_GLOBAL: u32 = 0x100;
/// `_PAGE_TABLE`: the flags a page-directory entry of a normal page table carries.
pub const _PAGE_TABLE: u32 = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;
/// The flag bits of an entry (the low 12); the rest is the frame.
pub const PTE_FLAGS_MASK: u32 = PAGE_SIZE - 1;
/// `PTRS_PER_PGD` / `PTRS_PER_PTE` on a non-PAE i386.
pub const PTRS_PER_PGD: usize = 1024;
pub const PTRS_PER_PTE: usize = 1024;

/// `pgd_index()`: which page-directory slot maps `vaddr`.
#[inline]
pub fn pgd_index(vaddr: u32) -> usize {
    (vaddr >> 22) as usize
}

/// `pte_index()`: which entry of its page table maps `vaddr`.
#[inline]
pub fn pte_index(vaddr: u32) -> usize {
    ((vaddr >> PAGE_SHIFT) & (PTRS_PER_PTE as u32 - 1)) as usize
}

/// One present page-directory entry: the page of ptes it points at and the entry's own flags (the CPU
/// checks both levels).
#[derive(Clone, Debug)]
pub struct PtePage {
    pub flags: u32,
    pub ptes: Rc<[u32; PTRS_PER_PTE]>,
}

impl PtePage {
    /// An empty page table under a directory entry with `flags`.
    pub fn new(flags: u32) -> PtePage {
        PtePage { flags, ptes: Rc::new([0; PTRS_PER_PTE]) }
    }
}

/// A page directory: what cr3 points at.
#[derive(Clone, Debug)]
pub struct PageDirectory {
    pub pgd: Rc<Vec<Option<PtePage>>>,
}

impl Default for PageDirectory {
    fn default() -> Self {
        PageDirectory { pgd: Rc::new(vec![None; PTRS_PER_PGD]) }
    }
}

impl PageDirectory {
    /// The walk: the physical address behind linear `lin`, or the #PF error code (present, write, user bits)
    /// if the access may not happen. A write to a read-only entry faults even at ring 1 (lguest's Host runs
    /// with CR0.WP set), which is how the Host notices the Guest's first write to a page it mapped read-only.
    /// Not inlined: every memory access calls it while paging is on, and keeping it out of line keeps the
    /// core's identity path (no paging) as small as it is.
    #[inline(never)]
    pub fn walk(&self, lin: u32, write: bool, user: bool) -> Result<u32, u32> {
        let access = if write { _PAGE_RW } else { 0 } | if user { _PAGE_USER } else { 0 };
        let Some(pt) = &self.pgd[pgd_index(lin)] else { return Err(access) };
        let pte = pt.ptes[pte_index(lin)];
        if pte & _PAGE_PRESENT == 0 {
            return Err(access);
        }
        let allowed = pte & pt.flags;
        if (write && allowed & _PAGE_RW == 0) || (user && allowed & _PAGE_USER == 0) {
            return Err(access | _PAGE_PRESENT);
        }
        Ok((pte & !PTE_FLAGS_MASK) | (lin & PTE_FLAGS_MASK))
    }

    /// What the walk would allow at `lin` if its pte is present: the frame's address and the pte's flags
    /// as the directory entry's flags restrict them (RW and USER decide the walk's answer). For the CPU's
    /// software TLB, which caches it for one run.
    #[inline]
    pub fn entry(&self, lin: u32) -> Option<(u32, u32)> {
        let pt = self.pgd.get(pgd_index(lin))?.as_ref()?;
        let pte = pt.ptes[pte_index(lin)];
        (pte & _PAGE_PRESENT != 0).then_some((pte & !PTE_FLAGS_MASK, pte & pt.flags))
    }

    /// The pte for `vaddr` (0 if its slot has no page table).
    pub fn pte(&self, vaddr: u32) -> u32 {
        self.pgd[pgd_index(vaddr)].as_ref().map(|pt| pt.ptes[pte_index(vaddr)]).unwrap_or(0)
    }

    /// Set the pte for `vaddr`; false if its slot has no page table.
    pub fn set_pte(&mut self, vaddr: u32, pte: u32) -> bool {
        match Rc::make_mut(&mut self.pgd)[pgd_index(vaddr)].as_mut() {
            Some(pt) => {
                Rc::make_mut(&mut pt.ptes)[pte_index(vaddr)] = pte;
                true
            }
            None => false,
        }
    }

    /// Put (or, with `None`, remove) the page table of slot `slot`.
    pub fn set_slot(&mut self, slot: usize, table: Option<PtePage>) {
        if let Some(s) = Rc::make_mut(&mut self.pgd).get_mut(slot) {
            *s = table;
        }
    }

    /// Every present pte, as (vaddr, pte), lowest first, at most `cap`.
    pub fn mappings(&self, cap: usize) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for (i, slot) in self.pgd.iter().enumerate() {
            let Some(pt) = slot else { continue };
            for (j, &pte) in pt.ptes.iter().enumerate() {
                if pte & _PAGE_PRESENT != 0 {
                    if out.len() == cap {
                        return out;
                    }
                    out.push((((i << 22) | (j << 12)) as u32, pte));
                }
            }
        }
        out
    }

    /// Is it the same directory (not a copy) as `other`?
    pub fn same(&self, other: &PageDirectory) -> bool {
        Rc::ptr_eq(&self.pgd, &other.pgd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_faults_like_the_hardware() {
        let mut s = PageDirectory::default();
        assert_eq!(s.walk(0x1234, false, false), Err(0));
        assert_eq!(s.walk(0x1234, true, true), Err(_PAGE_RW | _PAGE_USER));
        let mut ptes = [0u32; PTRS_PER_PTE];
        ptes[1] = 0x5000 | _PAGE_PRESENT | _PAGE_USER; // read-only
        ptes[2] = 0x6000 | _PAGE_PRESENT | _PAGE_RW; // kernel only
        s.set_slot(0, Some(PtePage { flags: _PAGE_TABLE, ptes: Rc::new(ptes) }));
        assert_eq!(s.walk(0x1234, false, true), Ok(0x5234));
        assert_eq!(s.walk(0x1234, true, false), Err(_PAGE_PRESENT | _PAGE_RW));
        assert_eq!(s.walk(0x2010, true, false), Ok(0x6010));
        assert_eq!(s.walk(0x2010, false, true), Err(_PAGE_PRESENT | _PAGE_USER));
        assert_eq!(s.walk(0x3000, false, false), Err(0));
        assert_eq!(s.mappings(10), vec![(0x1000, 0x5000 | 5), (0x2000, 0x6000 | 3)]);
        assert!(s.set_pte(0x3000, 0x7000 | _PAGE_PRESENT));
        assert_eq!(s.pte(0x3000), 0x7000 | _PAGE_PRESENT);
        assert!(!s.set_pte(0x40_0000, 1), "no page table in slot 1");
    }
}
