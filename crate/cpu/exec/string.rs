//! The string instructions movs, stos, lods, cmps, scas in 8/16/32-bit sizes, with rep / repe / repne,
//! both directions (DF), 32- or 16-bit addressing (ESI/EDI or SI/DI).
//!
//! A `rep` runs one element per iteration and counts each against the run's budget, so a huge `rep
//! movs` cannot freeze the page: when the budget runs out mid-way, EIP stays on the instruction with
//! ECX, ESI and EDI showing the progress, and running again carries on, just as an interrupt would
//! find it on a real processor. A fault mid-way leaves the same restartable state.

use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

use super::Done;
use crate::cpu::flags::{self, DF, ZF};
use crate::cpu::{Cpu, Exit, ECX, EDI, ESI};
use crate::guest_ram::GuestRam;

impl Cpu {
    pub(super) fn string(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let m = i.mnemonic();
        let size: u32 = match m {
            M::Movsb | M::Stosb | M::Lodsb | M::Cmpsb | M::Scasb => 1,
            M::Movsw | M::Stosw | M::Lodsw | M::Cmpsw | M::Scasw => 2,
            _ => 4,
        };
        // movsd/cmpsd share their mnemonic with SSE2 instructions; only the string forms come here.
        let a16 = (0..i.op_count()).any(|n| matches!(i.op_kind(n), OpKind::MemorySegSI | OpKind::MemoryESDI));
        let a32 = (0..i.op_count()).any(|n| matches!(i.op_kind(n), OpKind::MemorySegESI | OpKind::MemoryESEDI));
        if !a16 && !a32 {
            return Err(crate::cpu::fault::Fault::ud(format!("{} (SSE not modelled)", super::system::name(i))));
        }
        let amask = if a16 { 0xffff } else { 0xffff_ffff };
        let (src_seg, dst_seg) = Self::string_segs(i);
        let rep = i.has_rep_prefix() || i.has_repe_prefix() || i.has_repne_prefix();
        let compares = matches!(m, M::Cmpsb | M::Cmpsw | M::Cmpsd | M::Scasb | M::Scasw | M::Scasd);
        let until_ne = i.has_repe_prefix() || (i.has_rep_prefix() && compares);
        let step = if self.state.eflags & DF != 0 { size.wrapping_neg() } else { size };
        let acc = match size {
            1 => Register::AL,
            2 => Register::AX,
            _ => Register::EAX,
        };
        if rep && !a16 && step == size && self.touch.is_none() && matches!(m, M::Movsb | M::Movsd | M::Movsw | M::Stosb | M::Stosw | M::Stosd) {
            // The common memcpy/memset: whole runs inside one page at a time.
            if let Some(done) = self.rep_by_page(ram, m, size, src_seg, dst_seg, i) {
                return Ok(done);
            }
        }
        loop {
            let count = self.state.regs[ECX] & amask;
            if rep && count == 0 {
                break;
            }
            let si = self.state.regs[ESI] & amask;
            let di = self.state.regs[EDI] & amask;
            let (mut adv_si, mut adv_di) = (false, false);
            match m {
                M::Movsb | M::Movsw | M::Movsd => {
                    let v = self.read_mem(ram, src_seg, si, size)?;
                    self.write_mem(ram, dst_seg, di, size, v)?;
                    adv_si = true;
                    adv_di = true;
                }
                M::Stosb | M::Stosw | M::Stosd => {
                    let v = self.reg(acc);
                    self.write_mem(ram, dst_seg, di, size, v)?;
                    adv_di = true;
                }
                M::Lodsb | M::Lodsw | M::Lodsd => {
                    let v = self.read_mem(ram, src_seg, si, size)?;
                    self.set_reg(acc, v);
                    adv_si = true;
                }
                M::Cmpsb | M::Cmpsw | M::Cmpsd => {
                    let a = self.read_mem(ram, src_seg, si, size)?;
                    let b = self.read_mem(ram, dst_seg, di, size)?;
                    let (_, f) = flags::sub(a, b, 0, size);
                    self.set_status(f);
                    adv_si = true;
                    adv_di = true;
                }
                _ => {
                    let a = self.reg(acc);
                    let b = self.read_mem(ram, dst_seg, di, size)?;
                    let (_, f) = flags::sub(a, b, 0, size);
                    self.set_status(f);
                    adv_di = true;
                }
            }
            let keep = !amask;
            if adv_si {
                self.state.regs[ESI] = (self.state.regs[ESI] & keep) | (si.wrapping_add(step) & amask);
            }
            if adv_di {
                self.state.regs[EDI] = (self.state.regs[EDI] & keep) | (di.wrapping_add(step) & amask);
            }
            if !rep {
                break;
            }
            let left = count.wrapping_sub(1) & amask;
            self.state.regs[ECX] = (self.state.regs[ECX] & !amask) | left;
            if compares {
                let zf = self.state.eflags & ZF != 0;
                if zf != until_ne {
                    break;
                }
            }
            if left == 0 {
                break;
            }
            // Another iteration: it costs one unit of budget; out of budget, stop here, restartable.
            self.budget_left = self.budget_left.saturating_sub(1);
            self.state.tsc += 1;
            if self.budget_left == 0 {
                self.state.eip = i.ip32();
                return Ok(Some(Exit::Budget));
            }
        }
        Ok(None)
    }

    /// `rep movs` / `rep stos` forwards with 32-bit addressing, a page-sized run at a time: each run
    /// lies within one source and one destination page and is checked whole before anything moves, so
    /// the result, the registers and the counts (budget and `tsc`) are exactly those of the element
    /// loop. Returns `None` to hand over to the element loop (at a page-straddling element, or where
    /// a check fails, so that the loop raises the exact fault with the exact progress).
    fn rep_by_page(&mut self, ram: &mut GuestRam, m: M, size: u32, src_seg: usize, dst_seg: usize, i: &Instruction) -> Option<Option<Exit>> {
        let movs = matches!(m, M::Movsb | M::Movsw | M::Movsd);
        let pattern = self.state.regs[0];
        loop {
            let count = self.state.regs[ECX];
            if count == 0 {
                return Some(None);
            }
            let (si, di) = (self.state.regs[ESI], self.state.regs[EDI]);
            let page = crate::params::PAGE_SIZE;
            let dst_lin = ok(self.linear(dst_seg, di, size, true))?;
            let mut n = ((page - (dst_lin & (page - 1))) / size).min(count);
            let src_lin = if movs {
                let l = ok(self.linear(src_seg, si, size, false))?;
                n = n.min((page - (l & (page - 1))) / size);
                Some(l)
            } else {
                None
            };
            // Never run past the budget: the last element of a run that finishes is the instruction's
            // own (counted by the caller), every other one costs a unit.
            let finishing = n == count;
            let cost = if finishing { n - 1 } else { n };
            // The element loop needs n units of budget to get through n elements without stopping.
            if n == 0 || n as u64 > self.budget_left {
                return None;
            }
            let bytes = n * size;
            ok(self.linear(dst_seg, di, bytes, true))?;
            let dst_pfn = ok(self.frame(ram, dst_lin, true))?;
            let off = (dst_lin & (page - 1)) as usize;
            let len = bytes as usize;
            match src_lin {
                Some(src_lin) => {
                    ok(self.linear(src_seg, si, bytes, false))?;
                    let src_pfn = ok(self.frame(ram, src_lin, false))?;
                    let soff = (src_lin & (page - 1)) as usize;
                    // Copying forwards element by element over an overlap ahead of the source repeats
                    // the source (the old byte-fill trick); leave that to the element loop.
                    if src_pfn == dst_pfn && off > soff && off < soff + len {
                        return None;
                    }
                    ram.copy_between_pages(src_pfn, soff, dst_pfn, off, len)?;
                    self.state.regs[ESI] = si.wrapping_add(bytes);
                }
                None => {
                    let p = pattern.to_le_bytes();
                    for (k, b) in ram.page_mut(dst_pfn)?.get_mut(off..off + len)?.iter_mut().enumerate() {
                        *b = p[k % size as usize];
                    }
                }
            }
            self.state.regs[EDI] = di.wrapping_add(bytes);
            self.state.regs[ECX] = count - n;
            self.budget_left -= cost as u64;
            self.state.tsc += cost as u64;
            if finishing {
                return Some(None);
            }
            if self.budget_left == 0 {
                self.state.eip = i.ip32();
                return Some(Some(Exit::Budget));
            }
        }
    }
}

/// `r.ok()`, spelled so that it is inlined even in a size-optimised build (the page's): the page-at-a-time
/// `rep` path calls it for every page it copies.
// Spelled out rather than `Result::ok`, which the size-optimised build does not inline.
#[allow(clippy::manual_ok_err)]
#[inline(always)]
fn ok<T>(r: Result<T, crate::cpu::Fault>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(_) => None,
    }
}
