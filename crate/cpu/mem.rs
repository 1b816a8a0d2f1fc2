//! Every Guest memory access, in the order the hardware checks it: the segment (usable, readable or
//! writable, offset within the limit: the Switcher above 0xFFC00000 is out of reach), then the
//! linear-to-physical translation, then the guest-physical bound `pfn_limit`.
//!
//! Translation is the identity while the Guest runs without paging, and the two-level walk through the page
//! directory in cr3 once it pages ([`super::paging`]); both live in one function, [`Cpu::translate`]. A physical
//! page at or past `pfn_limit` raises #PF with `cr2` = the linear address: the Host's `demand_page()`
//! would have failed for it too.
//!
//! Accesses inside one page go straight to that page; an access that straddles two pages checks both
//! before it writes either, so a fault never leaves half a value behind.

use super::fault::{Fault, PF_USER, PF_WRITE};
use super::paging::{_PAGE_RW, _PAGE_USER};
use super::segments::{Segment, ACC_CODE, ACC_PRESENT, ACC_RW, SS, SWITCHER_ADDR};
use super::trace::MemTouch;
use super::Cpu;
use crate::guest_ram::GuestRam;
use crate::params::{PAGE_SHIFT, PAGE_SIZE};

/// Entries in the software TLB (a power of two): 4 MB of pages.
const TLB_SIZE: usize = 1024;

/// A software TLB for the page walk: linear page -> frame and the RW/USER rights the walk found, filled by
/// a walk that succeeded. It lives for one [`Cpu::run`] or [`Cpu::run_to`] only (`on`), and every call
/// starts it afresh (a new `epoch` makes every entry stale), so whatever the Host does to cr3, the page
/// tables or `pfn_limit` between runs can never be missed; inside a run only the Guest runs, and it cannot
/// change any of them without trapping out. Each entry is `(linear page << 12 | epoch) << 32 | frame << 12 |
/// rights`; epoch 0 never matches.
#[derive(Debug, Default)]
pub struct Tlb {
    entries: Vec<u64>,
    epoch: u32,
    on: bool,
}

impl Clone for Tlb {
    /// A copied CPU starts with an empty TLB (like the block cache, never part of a snapshot).
    fn clone(&self) -> Tlb {
        Tlb::default()
    }
}

impl Cpu {
    /// A run begins: the TLB serves it, empty (only while paging: without it translation is free).
    pub(crate) fn tlb_begin(&mut self) {
        if self.cr3.is_none() {
            return;
        }
        let t = &mut self.tlb;
        if t.entries.len() != TLB_SIZE {
            t.entries = vec![0; TLB_SIZE];
        }
        t.epoch += 1;
        if t.epoch >= 1 << 12 {
            t.entries.iter_mut().for_each(|e| *e = 0);
            t.epoch = 1;
        }
        t.on = true;
    }

    pub(crate) fn tlb_end(&mut self) {
        self.tlb.on = false;
    }

    /// [`Cpu::frame`] through the TLB when a run has it on: a hit skips the walk and the bound checks it
    /// already passed; a miss (or a right the entry lacks) walks, faults exactly as the walk does, and
    /// fills the entry.
    #[inline(always)]
    fn frame_tlb(&mut self, ram: &GuestRam, lin: u32, write: bool) -> Result<u32, Fault> {
        if !self.tlb.on {
            return self.frame(ram, lin, write);
        }
        let page = lin >> PAGE_SHIFT;
        let need = if write { _PAGE_RW } else { 0 } | if self.state.cpl == 3 { _PAGE_USER } else { 0 };
        let e = self.tlb.entries.get(page as usize & (TLB_SIZE - 1)).copied().unwrap_or(0);
        if (e >> 32) as u32 == (page << 12 | self.tlb.epoch) && (e as u32) & need == need {
            return Ok((e as u32) >> PAGE_SHIFT);
        }
        self.tlb_fill(ram, lin, write)
    }

    #[inline(never)]
    fn tlb_fill(&mut self, ram: &GuestRam, lin: u32, write: bool) -> Result<u32, Fault> {
        let pfn = self.frame(ram, lin, write)?;
        if let Some((_, rights)) = self.cr3.as_ref().and_then(|d| d.entry(lin)) {
            let page = lin >> PAGE_SHIFT;
            let tag = (page << 12 | self.tlb.epoch) as u64;
            if let Some(slot) = self.tlb.entries.get_mut(page as usize & (TLB_SIZE - 1)) {
                *slot = tag << 32 | (pfn << PAGE_SHIFT | (rights & (_PAGE_RW | _PAGE_USER))) as u64;
            }
        }
        Ok(pfn)
    }

    /// The fault for a segment violation on `seg`: #SS for the stack segment, #GP otherwise.
    #[cold]
    fn seg_fault(seg: usize) -> Fault {
        if seg == SS {
            Fault::StackFault { error_code: 0 }
        } else {
            Fault::gp0()
        }
    }

    /// Segment check: `size` bytes at `off` in segment `seg`, for reading or writing. Returns the linear
    /// address.
    #[inline(always)]
    pub(crate) fn linear(&self, seg: usize, off: u32, size: u32, write: bool) -> Result<u32, Fault> {
        let s: &Segment = &self.state.segs[seg];
        let a = s.access;
        // Present, and writable data for a write; present and not execute-only code for a read.
        let allowed =
            if write { a & (ACC_PRESENT | ACC_CODE | ACC_RW) == ACC_PRESENT | ACC_RW } else { a & ACC_PRESENT != 0 && a & (ACC_CODE | ACC_RW) != ACC_CODE };
        // In 64-bit arithmetic an offset or address at the top of the 4 GB space cannot wrap.
        if !allowed || off as u64 + (size - 1) as u64 > s.limit as u64 {
            return Err(Self::seg_fault(seg));
        }
        let lin = s.base.wrapping_add(off);
        if lin as u64 + (size - 1) as u64 >= SWITCHER_ADDR as u64 {
            return Err(Fault::gp0());
        }
        Ok(lin)
    }

    /// Linear to guest-physical: the identity while the Guest runs without paging, else the hardware walk
    /// through the page directory in cr3 ([`super::paging::PageDirectory::walk`]).
    #[inline(always)]
    pub(crate) fn translate(&self, lin: u32, write: bool) -> Result<u32, Fault> {
        match &self.cr3 {
            None => Ok(lin),
            Some(s) => s.walk(lin, write, self.state.cpl == 3).map_err(|error_code| Fault::PageFault { cr2: lin, error_code }),
        }
    }

    #[cold]
    fn pf(&self, lin: u32, write: bool) -> Fault {
        let mut error_code = if write { PF_WRITE } else { 0 };
        if self.state.cpl == 3 {
            error_code |= PF_USER;
        }
        Fault::PageFault { cr2: lin, error_code }
    }

    /// The page frame behind linear address `lin`, checked against `pfn_limit` and the memory's size.
    #[inline(always)]
    pub(crate) fn frame(&self, ram: &GuestRam, lin: u32, write: bool) -> Result<u32, Fault> {
        let phys = self.translate(lin, write)?;
        let pfn = phys >> PAGE_SHIFT;
        if pfn >= self.pfn_limit || pfn >= ram.pages() {
            return Err(self.pf(lin, write));
        }
        Ok(pfn)
    }

    /// Read `size` (1, 2 or 4) bytes at linear address `lin`.
    #[inline(always)]
    pub(crate) fn read_linear(&mut self, ram: &GuestRam, lin: u32, size: u32) -> Result<u32, Fault> {
        let off = (lin & (PAGE_SIZE - 1)) as usize;
        if self.touch.is_none() && off + size as usize <= PAGE_SIZE as usize {
            let pfn = self.frame_tlb(ram, lin, false)?;
            if let Some(page) = ram.page(pfn) {
                // Byte by byte, not through a sub-slice: the page's size-optimised build calls, rather than
                // inlines, the slice indexing and conversions, and this is every load.
                return Ok(match size {
                    1 => page[off] as u32,
                    2 => u16::from_le_bytes([page[off], page[off + 1]]) as u32,
                    _ => u32::from_le_bytes([page[off], page[off + 1], page[off + 2], page[off + 3]]),
                });
            }
        }
        self.read_linear_slow(ram, lin, size)
    }

    /// Reads that straddle a page, or are traced for a single step.
    #[cold]
    #[inline(never)]
    fn read_linear_slow(&mut self, ram: &GuestRam, lin: u32, size: u32) -> Result<u32, Fault> {
        let mut v = 0u32;
        for k in 0..size {
            let a = lin.wrapping_add(k);
            let pfn = self.frame(ram, a, false)?;
            let page = ram.page(pfn).ok_or_else(|| self.pf(a, false))?;
            v |= (page[(a & (PAGE_SIZE - 1)) as usize] as u32) << (8 * k);
        }
        if let Some(t) = &mut self.touch {
            t.push(MemTouch { addr: lin, size, old: v, new: v, write: false });
        }
        Ok(v)
    }

    /// Write the low `size` bytes of `v` at linear address `lin`.
    #[inline(always)]
    pub(crate) fn write_linear(&mut self, ram: &mut GuestRam, lin: u32, size: u32, v: u32) -> Result<(), Fault> {
        let off = (lin & (PAGE_SIZE - 1)) as usize;
        if self.touch.is_none() && off + size as usize <= PAGE_SIZE as usize {
            let pfn = self.frame_tlb(ram, lin, true)?;
            if let Some(page) = ram.page_mut(pfn) {
                // Byte by byte, for the same reason as in `read_linear`.
                let b = v.to_le_bytes();
                page[off] = b[0];
                if size >= 2 {
                    page[off + 1] = b[1];
                    if size == 4 {
                        page[off + 2] = b[2];
                        page[off + 3] = b[3];
                    }
                }
                return Ok(());
            }
        }
        self.write_linear_slow(ram, lin, size, v)
    }

    /// Writes that straddle a page, or are traced for a single step: every byte's frame is checked
    /// before any byte is written.
    #[cold]
    #[inline(never)]
    fn write_linear_slow(&mut self, ram: &mut GuestRam, lin: u32, size: u32, v: u32) -> Result<(), Fault> {
        let mut frames = [0u32; 4];
        for k in 0..size {
            frames[k as usize] = self.frame(ram, lin.wrapping_add(k), true)?;
        }
        if self.touch.is_some() {
            let saved = self.touch.take();
            let old = self.read_linear_slow(ram, lin, size);
            self.touch = saved;
            if let (Ok(old), Some(t)) = (old, &mut self.touch) {
                t.push(MemTouch { addr: lin, size, old, new: v & super::flags::mask(size), write: true });
            }
        }
        for k in 0..size {
            let a = lin.wrapping_add(k);
            let page = match ram.page_mut(frames[k as usize]) {
                Some(p) => p,
                None => return Err(self.pf(a, true)),
            };
            page[(a & (PAGE_SIZE - 1)) as usize] = (v >> (8 * k)) as u8;
        }
        Ok(())
    }

    /// Read `size` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn read_mem(&mut self, ram: &GuestRam, seg: usize, off: u32, size: u32) -> Result<u32, Fault> {
        let lin = self.linear(seg, off, size, false)?;
        self.read_linear(ram, lin, size)
    }

    /// Write `size` bytes at `seg:off`.
    #[inline(always)]
    pub(crate) fn write_mem(&mut self, ram: &mut GuestRam, seg: usize, off: u32, size: u32, v: u32) -> Result<(), Fault> {
        let lin = self.linear(seg, off, size, true)?;
        self.write_linear(ram, lin, size, v)
    }

    /// Check that `size` bytes at `seg:off` could be written, without writing (for instructions that
    /// must not change anything before they know all their stores will succeed).
    /// The guest-physical address a read of linear `lin` would reach (through cr3's page directory once the
    /// Guest pages), if any: for the page's memory view and source lines.
    pub fn linear_to_physical(&self, lin: u32) -> Option<u32> {
        self.translate(lin, false).ok()
    }

    /// The byte at linear `lin` as the Guest would read it, or `None` where nothing is mapped for it.
    pub fn peek(&self, ram: &GuestRam, lin: u32) -> Option<u8> {
        let phys = self.linear_to_physical(lin).or_else(|| self.guest_walk(ram, lin))?;
        if phys >> PAGE_SHIFT >= self.pfn_limit {
            return None;
        }
        let mut b = [0u8];
        ram.read(phys, &mut b).ok()?;
        Some(b[0])
    }

    /// Linear `lin` through the Guest's own two-level tables in its memory ([`Cpu::guest_tables`]), for a
    /// page the shadow does not map yet: directory entry, then table entry, each present or nothing.
    fn guest_walk(&self, ram: &GuestRam, lin: u32) -> Option<u32> {
        let root = self.guest_tables?;
        let entry = |addr: u32| -> Option<u32> {
            let mut b = [0u8; 4];
            ram.read(addr, &mut b).ok()?;
            let e = u32::from_le_bytes(b);
            (e & 1 != 0).then_some(e)
        };
        let pde = entry((root & !0xfff).wrapping_add((lin >> 22) * 4))?;
        let pte = entry((pde & !0xfff).wrapping_add(((lin >> 12) & 0x3ff) * 4))?;
        Some((pte & !0xfff) | (lin & 0xfff))
    }

    pub(crate) fn probe_write(&self, ram: &GuestRam, seg: usize, off: u32, size: u32) -> Result<(), Fault> {
        let lin = self.linear(seg, off, size, true)?;
        self.frame(ram, lin, true)?;
        self.frame(ram, lin.wrapping_add(size - 1), true)?;
        Ok(())
    }
}
