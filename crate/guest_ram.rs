//! Guest-physical memory: the pages the Launcher mapped for its Guest, which the Host reaches at
//! `mem_base + guest-physical address` and the Guest CPU reaches directly.
//!
//! Pages are reference-counted and copied on write, so a snapshot of the whole memory (for stepping back in
//! the UI) costs one pointer per page, and two snapshots share every page neither has written since. Every
//! page starts as the one shared zero page, as `mmap` of `/dev/zero` does.
//!
//! Bounds are the caller's business: the Host checks `lguest_address_ok()` against `pfn_limit` before it
//! touches Guest memory; here an address past the end is simply an `OutOfRange` error, never a panic.

use std::cell::Cell;
use std::rc::Rc;

use crate::params::PAGE_SIZE;

/// One page of memory.
pub type Page = [u8; PAGE_SIZE as usize];

/// An access that reached past the end of the memory; `addr` is the first byte that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfRange {
    pub addr: u32,
}

thread_local! {
    /// Source of code generations: every value is handed out once per thread, so a generation names one
    /// exact content of one page even across snapshots (see [`GuestRam::mark_code`]). It only decides what
    /// a decoded-block cache may reuse, never what the Guest computes, so determinism is untouched.
    static NEXT_CODE_GEN: Cell<u64> = const { Cell::new(1) };
}

fn fresh_code_gen() -> u64 {
    NEXT_CODE_GEN.with(|c| {
        let g = c.get();
        c.set(g.wrapping_add(1));
        g
    })
}

/// Per-page marks (`GuestRam::marks`): any mark sends a write down the cold path, once.
const CODE: u8 = 1;
const TRACKED: u8 = 2;

/// Guest-physical memory, copy-on-write by page.
///
/// Beside the pages it keeps, per page, a *code* mark and a *code generation* for the Guest CPU's
/// decoded-block cache: the CPU marks a page when it decodes instructions from it, and any write to a
/// marked page (by the CPU, the Host or the Launcher) unmarks it and gives it a new generation, so a block
/// decoded from the old bytes is never run again.
///
/// It can also note which pages are written from a moment on ([`GuestRam::track_writes`]): the Guest's
/// timeline uses that to learn what the Host changed between two runs of the Guest. Both marks cost the
/// hot write path one byte test, whether or not either is in use.
#[derive(Clone)]
pub struct GuestRam {
    pages: Vec<Rc<Page>>,
    /// `CODE` and `TRACKED` bits, per page.
    marks: Vec<u8>,
    code_gen: Vec<u64>,
    /// Pages written since `track_writes()`, each once (while tracking).
    written: Vec<u32>,
    tracking: bool,
    /// Writes so far that landed on a marked page: the CPU compares it across an instruction to notice
    /// that the Guest overwrote code it is running.
    code_writes: u64,
}

impl std::fmt::Debug for GuestRam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GuestRam({} pages)", self.pages.len())
    }
}

impl GuestRam {
    /// `pages` zeroed pages, all sharing one zero page until written.
    pub fn new(pages: u32) -> GuestRam {
        let zero: Rc<Page> = Rc::new([0u8; PAGE_SIZE as usize]);
        let n = pages as usize;
        GuestRam { pages: vec![zero; n], marks: vec![0; n], code_gen: vec![0; n], written: Vec::new(), tracking: false, code_writes: 0 }
    }

    #[inline(always)]
    pub fn pages(&self) -> u32 {
        self.pages.len() as u32
    }

    /// Size in bytes (may be 4 GiB exactly for a full mapping, hence u64).
    pub fn len(&self) -> u64 {
        self.pages.len() as u64 * PAGE_SIZE as u64
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// The page holding `addr`, for reading.
    #[inline(always)]
    pub fn page(&self, pfn: u32) -> Option<&Page> {
        self.pages.get(pfn as usize).map(|p| &**p)
    }

    /// The page holding `addr`, for writing: copies it first if a snapshot still shares it.
    #[inline(always)]
    pub fn page_mut(&mut self, pfn: u32) -> Option<&mut Page> {
        let i = pfn as usize;
        if let Some(m) = self.marks.get(i) {
            if *m != 0 {
                self.marked_write(i);
            }
        }
        let p = self.pages.get_mut(i)?;
        if Rc::get_mut(p).is_none() {
            Rc::make_mut(p); // shared with a snapshot: copy it first
        }
        Rc::get_mut(p)
    }

    /// A write is about to land on marked page `i`: a code page loses its mark and gets a new generation;
    /// a tracked page is noted as written.
    #[cold]
    fn marked_write(&mut self, i: usize) {
        let m = self.marks[i];
        if m & CODE != 0 {
            self.code_gen[i] = fresh_code_gen();
            self.code_writes += 1;
        }
        if m & TRACKED != 0 {
            self.written.push(i as u32);
        }
        self.marks[i] = 0;
    }

    /// From now on, note every page written (by anyone), until [`GuestRam::take_written`] or
    /// [`GuestRam::stop_tracking`].
    pub fn track_writes(&mut self) {
        self.tracking = true;
        self.written.clear();
        for m in &mut self.marks {
            *m |= TRACKED;
        }
    }

    /// The pages written since [`GuestRam::track_writes`], in the order first written, or `None` if this
    /// memory was not tracking (a fresh memory, say, that replaced the one being tracked). Tracking stops.
    pub fn take_written(&mut self) -> Option<Vec<u32>> {
        let was = std::mem::replace(&mut self.tracking, false);
        for m in &mut self.marks {
            *m &= !TRACKED;
        }
        let w = std::mem::take(&mut self.written);
        was.then_some(w)
    }

    /// Stop noting writes.
    pub fn stop_tracking(&mut self) {
        let _ = self.take_written();
    }

    /// Page `pfn` shared (not copied) for a snapshot of it, or `None` past the end.
    pub fn share_page(&self, pfn: u32) -> Option<Rc<Page>> {
        self.pages.get(pfn as usize).cloned()
    }

    /// Put a page saved with [`GuestRam::share_page`] back at `pfn`. Its code mark goes, so no block decoded
    /// from what was there before runs again. False past the end.
    pub fn restore_page(&mut self, pfn: u32, page: Rc<Page>) -> bool {
        let i = pfn as usize;
        let Some(slot) = self.pages.get_mut(i) else { return false };
        *slot = page;
        if self.marks[i] & CODE != 0 {
            self.code_gen[i] = fresh_code_gen();
            self.code_writes += 1;
        }
        self.marks[i] &= !CODE;
        true
    }

    /// Copy `len` bytes from page `src` at `soff` to page `dst` at `doff` (both ranges inside their
    /// pages; overlapping ranges in one page are copied as `memmove` does). `None` if a page or range
    /// does not exist; nothing is written then.
    pub fn copy_between_pages(&mut self, src: u32, soff: usize, dst: u32, doff: usize, len: usize) -> Option<()> {
        let (send, dend) = (soff.checked_add(len)?, doff.checked_add(len)?);
        if send > PAGE_SIZE as usize || dend > PAGE_SIZE as usize {
            return None;
        }
        if src == dst {
            self.page_mut(dst)?.copy_within(soff..send, doff);
            return Some(());
        }
        // Holding a second reference to the source page is cheap; if the destination shares it (two
        // zero pages, say), `page_mut` copies the destination first, as copy-on-write must.
        let from = Rc::clone(self.pages.get(src as usize)?);
        self.page_mut(dst)?.get_mut(doff..dend)?.copy_from_slice(from.get(soff..send)?);
        Some(())
    }

    /// Mark page `pfn` as holding decoded code and return its code generation. A page being marked afresh
    /// gets a new generation, so bytes written while it was unmarked can never pass for older ones.
    pub fn mark_code(&mut self, pfn: u32) -> u64 {
        let i = pfn as usize;
        match self.marks.get_mut(i) {
            Some(m) => {
                if *m & CODE == 0 {
                    *m |= CODE;
                    self.code_gen[i] = fresh_code_gen();
                }
                self.code_gen[i]
            }
            None => 0,
        }
    }

    /// The code generation of page `pfn` (0 for a page that does not exist). While a page stays marked
    /// its generation stays the same, and so do its bytes.
    #[inline(always)]
    pub fn code_gen(&self, pfn: u32) -> u64 {
        match (self.marks.get(pfn as usize), self.code_gen.get(pfn as usize)) {
            (Some(m), Some(g)) if m & CODE != 0 => *g,
            _ => 0,
        }
    }

    /// How many writes have landed on marked code pages since this memory was created.
    #[inline(always)]
    pub fn code_writes(&self) -> u64 {
        self.code_writes
    }

    /// Copy `buf.len()` bytes starting at `addr` out of memory; crossing page boundaries is fine.
    pub fn read(&self, addr: u32, buf: &mut [u8]) -> Result<(), OutOfRange> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr as u64 + done as u64;
            let (pfn, off) = ((a / PAGE_SIZE as u64) as u32, (a % PAGE_SIZE as u64) as usize);
            let page = self.page(pfn).ok_or(OutOfRange { addr: a.min(u32::MAX as u64) as u32 })?;
            let n = (PAGE_SIZE as usize - off).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&page[off..off + n]);
            done += n;
        }
        Ok(())
    }

    /// Copy `data` into memory at `addr`. Nothing is written unless all of it fits.
    pub fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), OutOfRange> {
        let end = addr as u64 + data.len() as u64;
        if end > self.len() {
            return Err(OutOfRange { addr: (self.len().max(addr as u64)).min(u32::MAX as u64) as u32 });
        }
        let mut done = 0usize;
        while done < data.len() {
            let a = addr as u64 + done as u64;
            let (pfn, off) = ((a / PAGE_SIZE as u64) as u32, (a % PAGE_SIZE as u64) as usize);
            let n = (PAGE_SIZE as usize - off).min(data.len() - done);
            let page = self.page_mut(pfn).ok_or(OutOfRange { addr: a as u32 })?;
            page[off..off + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    pub fn read_u32(&self, addr: u32) -> Result<u32, OutOfRange> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub fn write_u32(&mut self, addr: u32, v: u32) -> Result<(), OutOfRange> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Bytes from `addr` up to (not including) the first NUL, at most `max` of them.
    pub fn read_cstr(&self, addr: u32, max: u32) -> Result<Vec<u8>, OutOfRange> {
        let mut out = Vec::new();
        for i in 0..max {
            let mut b = [0u8; 1];
            self.read(addr.wrapping_add(i), &mut b)?;
            if b[0] == 0 {
                break;
            }
            out.push(b[0]);
        }
        Ok(out)
    }

    /// How many pages this memory and `other` no longer share (what a snapshot has cost so far).
    pub fn pages_differing_from(&self, other: &GuestRam) -> usize {
        self.pages.iter().zip(&other.pages).filter(|(a, b)| !Rc::ptr_eq(a, b)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_cross_pages() {
        let mut ram = GuestRam::new(2);
        ram.write(4094, &[1, 2, 3, 4]).unwrap();
        let mut b = [0u8; 4];
        ram.read(4094, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3, 4]);
        assert_eq!(ram.read_u32(4094).unwrap(), 0x0403_0201);
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let mut ram = GuestRam::new(1);
        assert_eq!(ram.write(4093, &[0; 4]), Err(OutOfRange { addr: 4096 }));
        assert_eq!(ram.read_u32(4093), Err(OutOfRange { addr: 4096 }));
        assert_eq!(ram.read_u32(u32::MAX), Err(OutOfRange { addr: u32::MAX }));
        // A failed write changed nothing.
        assert_eq!(ram.read_u32(4092).unwrap(), 0);
    }

    #[test]
    fn snapshots_share_pages_until_written() {
        let mut ram = GuestRam::new(4);
        ram.write_u32(0, 7).unwrap();
        let snap = ram.clone();
        ram.write_u32(8192, 9).unwrap();
        assert_eq!(ram.pages_differing_from(&snap), 1);
        assert_eq!(snap.read_u32(8192).unwrap(), 0);
        assert_eq!(ram.read_cstr(0, 16).unwrap(), vec![7]);
    }

    #[test]
    fn copies_between_pages_respect_sharing() {
        let mut ram = GuestRam::new(3);
        ram.write(10, b"hello").unwrap();
        let snap = ram.clone();
        assert_eq!(ram.copy_between_pages(0, 10, 2, 4000, 5), Some(()));
        assert_eq!(ram.read_cstr(8192 + 4000, 8).unwrap(), b"hello");
        assert_eq!(snap.read_cstr(8192 + 4000, 8).unwrap(), b""); // the snapshot's zero page untouched
        assert_eq!(ram.read_cstr(4096, 8).unwrap(), b""); // page 1 shares the zero page, still zero
        assert_eq!(ram.copy_between_pages(0, 4095, 1, 0, 2), None);
        assert_eq!(ram.copy_between_pages(0, 10, 0, 12, 5), Some(())); // memmove within a page
        assert_eq!(ram.read_cstr(10, 8).unwrap(), b"hehello");
    }

    #[test]
    fn tracking_notes_each_written_page_once() {
        let mut ram = GuestRam::new(4);
        ram.write_u32(0, 1).unwrap();
        assert_eq!(ram.take_written(), None, "not tracking");
        let code = ram.mark_code(3);
        ram.track_writes();
        ram.write_u32(8192, 1).unwrap();
        ram.write_u32(8196, 2).unwrap();
        ram.write(4094, &[1, 2, 3, 4]).unwrap(); // pages 0 and 1
        ram.write_u32(3 * 4096, 5).unwrap(); // a code page: both marks act
        assert_ne!(ram.code_gen(3), code);
        assert_eq!(ram.take_written(), Some(vec![2, 0, 1, 3]));
        ram.write_u32(8192, 3).unwrap();
        assert_eq!(ram.take_written(), None, "tracking stopped");
        // A saved page put back: its contents, and no code mark left to trust.
        let saved = ram.share_page(2).unwrap();
        ram.write_u32(8192, 9).unwrap();
        let g = ram.mark_code(2);
        assert!(ram.restore_page(2, saved));
        assert_eq!(ram.read_u32(8192).unwrap(), 3);
        assert_eq!(ram.code_gen(2), 0);
        assert!(g != 0 && !ram.restore_page(9, ram.share_page(0).unwrap()));
    }

    #[test]
    fn writing_a_code_page_changes_its_generation() {
        let mut ram = GuestRam::new(2);
        let g = ram.mark_code(1);
        assert_ne!(g, 0);
        assert_eq!(ram.code_gen(1), g);
        ram.write_u32(0, 1).unwrap(); // another page: no change
        assert_eq!((ram.code_gen(1), ram.code_writes()), (g, 0));
        let snap = ram.clone();
        ram.write_u32(4096, 1).unwrap();
        assert_eq!((ram.code_gen(1), ram.code_writes()), (0, 1));
        let g2 = ram.mark_code(1);
        assert!(g2 != g && g2 != 0);
        // The snapshot still holds the old bytes under the old generation.
        assert_eq!(snap.code_gen(1), g);
        assert_eq!(ram.mark_code(99), 0);
    }
}
