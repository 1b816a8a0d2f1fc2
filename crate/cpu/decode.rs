//! Fetch and decode: iced-x86 turns Guest bytes into `Instruction`s, and the decoded-block cache keeps
//! them so the fast path decodes each block of straight-line code once.
//!
//! A block starts at an EIP and runs to the first unconditional change of flow (jump, call, return,
//! interrupt), to the end of its page, or to [`MAX_BLOCK`] instructions; conditional branches stay
//! inside it, and the executor leaves the block where one is taken. It remembers the code
//! generation of the page(s) it came from ([`GuestRam::mark_code`]); any write to such a page, by the
//! Guest or by the Host (the `vmcall` rewrite, the Launcher loading a program), changes the generation,
//! and the block is decoded afresh the next time. An instruction that straddles a page boundary gets a
//! block of its own that depends on both pages. The cache is keyed by EIP and CS base only: when the
//! Guest pages, the Host flushes it ([`Cpu::flush_code_cache`]) whenever a mapping changes or cr3 does.
//!
//! Single-stepping does not use the cache: it decodes the one instruction at EIP every time.
//!
//! iced-x86 decodes for a modern processor; the Guest's is a P6. Where the two read the same bytes
//! differently, [`as_p6`] makes the decoded instruction the P6's, so that the executor, the fast path and
//! the listing all see what a P6 runs.

use iced_x86::{Code, Decoder, DecoderError, DecoderOptions, Instruction, Mnemonic};

use super::exec::fast::Uop;
use super::fault::{Fault, PF_USER};
use super::paging::PageDirectory;
use super::segments::CS;
use super::{Cpu, CpuState};
use crate::guest_ram::GuestRam;
use crate::params::{PAGE_SHIFT, PAGE_SIZE};

/// The most instructions one block holds.
pub const MAX_BLOCK: usize = 64;
/// Slots in the direct-mapped block cache (a power of two).
pub const CACHE_SLOTS: usize = 4096;
/// The longest x86 instruction.
const MAX_INSN: usize = 15;

/// A run of decoded instructions starting at `eip`.
#[derive(Clone, Debug)]
pub struct Block {
    pub eip: u32,
    cs_base: u32,
    cs_limit: u32,
    /// The `pfn_limit` it was decoded under (the Host could lower it).
    pfn_limit: u32,
    /// The page frames the bytes came from and their code generations (one or two pages).
    pages: [(u32, u64); 2],
    npages: usize,
    /// The instructions as decoded. A block entering the cache moves them into `ops`, so this is
    /// empty there; the single-step fetch reads it directly.
    pub insts: Vec<Instruction>,
    /// Each instruction with its lowered form for the fast paths (`Uop::Generic` where there is
    /// none), side by side so the executor walks one array.
    pub ops: Vec<(Uop, Instruction)>,
    /// The bytes the instructions were decoded from, kept for a block in one page whose end its own last
    /// instruction decided (a change of flow, or `MAX_BLOCK`), so that after a write to its page it can be
    /// brought up to date instruction by instruction ([`Block::refresh`]); empty for any other block.
    bytes: Vec<u8>,
}

impl Block {
    /// Does this block still describe the code at the current CS:EIP (after a jump back to its start)?
    #[inline]
    pub(crate) fn starts_at(&self, state: &CpuState) -> bool {
        let cs = &state.segs[CS];
        state.eip == self.eip && cs.base == self.cs_base && cs.limit == self.cs_limit
    }

    /// Keep the bytes of a block that [`Block::refresh`] can bring up to date: one page, and an end that
    /// depends on no byte past its last instruction (a block cut short by the page end or the CS limit
    /// ended where the *next* instruction did not fit, so its end depends on bytes it does not hold).
    fn keep_bytes(&mut self, page: &[u8], off: usize) {
        let ends = self.ops.last().is_some_and(|(_, i)| i.is_invalid() || changes_flow(i.mnemonic()));
        let len = self.ops.last().map_or(0, |(_, i)| i.next_ip32().wrapping_sub(self.eip) as usize);
        if self.npages == 1 && (ends || self.ops.len() == MAX_BLOCK) {
            if let Some(b) = page.get(off..off + len) {
                self.bytes = b.to_vec();
            }
        }
    }

    /// The Guest (or the Host) wrote to this block's page: compare the bytes it was decoded from with the
    /// page's, and decode again each instruction whose bytes changed. Decoding an instruction reads only
    /// its own bytes, so if each re-decoded one keeps its length and whether it ends the block, the rest
    /// decode as before and the block is what a fresh decode would give; otherwise (or for a block that
    /// kept no bytes) says no, and the caller decodes the whole block afresh. Self-modifying code that
    /// patches an immediate costs one instruction's decode, not a block's.
    fn refresh(&mut self, page: &[u8], off: usize) -> bool {
        let len = self.bytes.len();
        let Some(now) = page.get(off..off + len) else { return false };
        if len == 0 {
            return false;
        }
        if now == &self.bytes[..] {
            return true;
        }
        let last = self.ops.len() - 1;
        for (k, (uop, ins)) in self.ops.iter_mut().enumerate() {
            let start = ins.ip32().wrapping_sub(self.eip) as usize;
            let end = start + ins.len();
            if now.get(start..end) == self.bytes.get(start..end) {
                continue;
            }
            let mut dec = Decoder::with_ip(32, &page[off + start..], ins.ip(), DecoderOptions::NONE);
            let mut fresh = Instruction::default();
            dec.decode_out(&mut fresh);
            as_p6(&mut fresh);
            let ends = |i: &Instruction| i.is_invalid() || changes_flow(i.mnemonic());
            if dec.last_error() != DecoderError::None
                || fresh.is_invalid()
                || ins.is_invalid()
                || fresh.len() != ins.len()
                || ends(&fresh) != (k == last && ends(ins))
            {
                return false;
            }
            *uop = super::exec::fast::lower(&fresh);
            *ins = fresh;
        }
        self.bytes.copy_from_slice(now);
        true
    }
}

/// The decoded-block cache: direct-mapped by EIP.
#[derive(Debug)]
pub struct BlockCache {
    slots: Vec<Option<Box<Block>>>,
    pub hits: u64,
    pub misses: u64,
}

impl Clone for BlockCache {
    /// A copied CPU starts with an empty cache: the cache is never part of a snapshot.
    fn clone(&self) -> BlockCache {
        BlockCache::new()
    }
}

impl Default for BlockCache {
    fn default() -> Self {
        BlockCache::new()
    }
}

#[inline]
fn slot_of(eip: u32) -> usize {
    ((eip ^ (eip >> 11)) as usize) & (CACHE_SLOTS - 1)
}

impl BlockCache {
    pub fn new() -> BlockCache {
        BlockCache { slots: (0..CACHE_SLOTS).map(|_| None).collect(), hits: 0, misses: 0 }
    }

    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
    }

    /// The block at the current EIP, from the cache if its pages are unchanged, else freshly decoded.
    /// It is taken out of its slot while it runs; [`BlockCache::put_back`] returns it.
    pub(crate) fn lookup_or_decode(
        &mut self,
        ram: &mut GuestRam,
        state: &CpuState,
        pfn_limit: u32,
        cr3: Option<&PageDirectory>,
    ) -> Result<(usize, Box<Block>), Fault> {
        let eip = state.eip;
        let slot = slot_of(eip);
        let cs = &state.segs[CS];
        let off = (cs.base.wrapping_add(eip) & (PAGE_SIZE - 1)) as usize;
        if let Some(mut b) = self.slots[slot].take() {
            if b.eip == eip && b.cs_base == cs.base && b.cs_limit == cs.limit && b.pfn_limit == pfn_limit {
                if b.pages[..b.npages].iter().all(|&(pfn, gen)| ram.code_gen(pfn) == gen) {
                    self.hits += 1;
                    return Ok((slot, b));
                }
                // Its page was written: the mapping is the one it was decoded through (a change to it
                // flushes the cache), so its bytes are still at the same frame, changed or not.
                let pfn = b.pages[0].0;
                if ram.page(pfn).is_some_and(|page| b.refresh(&page[..], off)) {
                    self.misses += 1;
                    b.pages[0].1 = ram.mark_code(pfn);
                    return Ok((slot, b));
                }
            }
        }
        self.misses += 1;
        let mut block = decode_block(ram, state, pfn_limit, cr3, MAX_BLOCK)?;
        block.ops = block.insts.drain(..).map(|i| (super::exec::fast::lower(&i), i)).collect();
        if let Some(page) = ram.page(block.pages[0].0) {
            block.keep_bytes(&page[..], off);
        }
        for k in 0..block.npages {
            block.pages[k].1 = ram.mark_code(block.pages[k].0);
        }
        Ok((slot, Box::new(block)))
    }

    pub(crate) fn put_back(&mut self, slot: usize, block: Box<Block>) {
        self.slots[slot] = Some(block);
    }
}

/// The fault for fetching from a missing page.
fn fetch_pf(state: &CpuState, lin: u32) -> Fault {
    Fault::PageFault { cr2: lin, error_code: if state.cpl == 3 { PF_USER } else { 0 } }
}

/// The frame holding code at linear `lin` (through cr3's page directory when paging), within
/// `pfn_limit`.
fn code_frame(ram: &GuestRam, state: &CpuState, pfn_limit: u32, cr3: Option<&PageDirectory>, lin: u32) -> Result<u32, Fault> {
    let phys = match cr3 {
        None => lin, // paging off: linear is physical
        Some(s) => s.walk(lin, false, state.cpl == 3).map_err(|error_code| Fault::PageFault { cr2: lin, error_code })?,
    };
    let pfn = phys >> PAGE_SHIFT;
    if pfn >= pfn_limit || pfn >= ram.pages() {
        return Err(fetch_pf(state, lin));
    }
    Ok(pfn)
}

/// Decode up to `max` instructions starting at `state.eip`.
fn decode_block(ram: &GuestRam, state: &CpuState, pfn_limit: u32, cr3: Option<&PageDirectory>, max: usize) -> Result<Block, Fault> {
    let eip = state.eip;
    let cs = state.segs[CS];
    let probe = Cpu::code_linear_of(state, eip)?;
    let pfn = code_frame(ram, state, pfn_limit, cr3, probe)?;
    let page = ram.page(pfn).ok_or_else(|| fetch_pf(state, probe))?;
    let off = (probe & (PAGE_SIZE - 1)) as usize;
    let mut block = Block {
        eip,
        cs_base: cs.base,
        cs_limit: cs.limit,
        pfn_limit,
        pages: [(pfn, 0), (0, 0)],
        npages: 1,
        insts: Vec::with_capacity(8),
        ops: Vec::new(),
        bytes: Vec::new(),
    };
    let mut dec = Decoder::with_ip(32, &page[off..], eip as u64, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    while block.insts.len() < max {
        dec.decode_out(&mut ins);
        as_p6(&mut ins);
        if dec.last_error() == DecoderError::NoMoreBytes {
            if block.insts.is_empty() {
                return decode_straddling(ram, state, pfn_limit, cr3, block);
            }
            break;
        }
        // An instruction that runs past the CS limit (or into the Switcher) faults when reached.
        let last = ins.ip32().wrapping_add(ins.len() as u32 - 1);
        if last < ins.ip32() || last > cs.limit || Cpu::code_linear_of(state, last).is_err() {
            if block.insts.is_empty() {
                return Err(Fault::gp0());
            }
            break;
        }
        // A conditional branch does not end a block: the block carries on with the fall-through
        // path, and the executor leaves it when the branch is taken (a "superblock").
        let ends = ins.is_invalid() || changes_flow(ins.mnemonic());
        block.insts.push(ins);
        if ends {
            break;
        }
    }
    Ok(block)
}

/// The instruction as a P6 reads its bytes. `f3 0f bc` and `f3 0f bd` are `tzcnt` and `lzcnt` to iced-x86
/// (BMI1 and ABM, 2007 and later), but a P6 knows neither: it ignores the `f3` (a `rep` prefix on an
/// instruction that does not repeat) and runs `bsf` and `bsr`, which differ from them exactly where a
/// student would look (for a zero source `bsf` leaves the destination as it was and sets ZF; `tzcnt` writes
/// the operand size and sets CF). The prefix is kept, so the listing shows `repz bsf` as the bytes say, and
/// the fast path, which lowers no instruction with a `rep` prefix, leaves them to the generic `bsf`.
#[inline]
pub(crate) fn as_p6(ins: &mut Instruction) {
    let code = match ins.code() {
        Code::Tzcnt_r16_rm16 => Code::Bsf_r16_rm16,
        Code::Tzcnt_r32_rm32 => Code::Bsf_r32_rm32,
        Code::Lzcnt_r16_rm16 => Code::Bsr_r16_rm16,
        Code::Lzcnt_r32_rm32 => Code::Bsr_r32_rm32,
        _ => return,
    };
    ins.set_code(code);
    ins.set_has_repe_prefix(true);
}

/// Does an instruction with this mnemonic always leave the straight line (a jump, call, return, interrupt
/// or deliberate fault)? What iced-x86's `flow_control()` says, without its per-opcode table, which is 40 KB
/// of the page; the test below holds the two to the same answer for every opcode iced knows.
pub(crate) fn changes_flow(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Jmp | Jmpe
            | Call
            | Ret
            | Retf
            | Iret
            | Iretd
            | Iretq
            | Int
            | Int1
            | Int3
            | Into
            | Ud0
            | Ud1
            | Ud2
            | Syscall
            | Sysenter
            | Sysexit
            | Sysexitq
            | Sysret
            | Sysretq
            | Xbegin
            | Vmlaunch
            | Vmresume
            | Vmcall
            | Vmrun
            | Vmmcall
            | Skinit
            | Rsm
            | Smint
            | Dmint
            | Rdm
            | Altinst
            | Uiret
            | Eretu
            | Erets
            | Seamcall
            | Seamret
            | Tdcall
            | Vmgexit
            | INVALID
            | Db
            | Dw
            | Dd
            | Dq
    )
}

/// The instruction at EIP crosses into the next page: decode it alone from bytes of both pages.
fn decode_straddling(ram: &GuestRam, state: &CpuState, pfn_limit: u32, cr3: Option<&PageDirectory>, mut block: Block) -> Result<Block, Fault> {
    let eip = state.eip;
    let first = Cpu::code_linear_of(state, eip)?;
    let in_first = (PAGE_SIZE - (first & (PAGE_SIZE - 1))) as usize;
    let mut buf = [0u8; MAX_INSN];
    let page = ram.page(block.pages[0].0).ok_or_else(|| fetch_pf(state, first))?;
    let off = (first & (PAGE_SIZE - 1)) as usize;
    buf[..in_first].copy_from_slice(&page[off..]);
    let next_lin = first.wrapping_add(in_first as u32);
    // First see whether the bytes in this page alone already make a (too short) instruction.
    let next = Cpu::code_linear_of(state, eip.wrapping_add(in_first as u32)).and_then(|lin| code_frame(ram, state, pfn_limit, cr3, lin));
    let mut ins = Instruction::default();
    match next {
        Ok(pfn2) => {
            let page2 = ram.page(pfn2).ok_or_else(|| fetch_pf(state, next_lin))?;
            buf[in_first..].copy_from_slice(&page2[..MAX_INSN - in_first]);
            let mut dec = Decoder::with_ip(32, &buf, eip as u64, DecoderOptions::NONE);
            dec.decode_out(&mut ins);
            as_p6(&mut ins);
            let last = eip.wrapping_add(ins.len() as u32 - 1);
            if last > state.segs[CS].limit || last < eip {
                return Err(Fault::gp0());
            }
            block.pages[1] = (pfn2, 0);
            block.npages = 2;
        }
        Err(f) => {
            // The next page is unreachable: the instruction needs it (it did not fit), so fault on it.
            return Err(f);
        }
    }
    block.insts.push(ins);
    Ok(block)
}

impl Cpu {
    /// Code-segment check for `eip` with a given state (shared by the block decoder).
    pub(crate) fn code_linear_of(state: &CpuState, eip: u32) -> Result<u32, Fault> {
        let cs = &state.segs[CS];
        if eip > cs.limit {
            return Err(Fault::gp0());
        }
        let lin = cs.base.wrapping_add(eip);
        if lin >= super::segments::SWITCHER_ADDR {
            return Err(Fault::gp0());
        }
        Ok(lin)
    }

    /// Decode the one instruction at EIP without the cache (single-stepping and the uncached path).
    pub(crate) fn fetch_one(&self, ram: &GuestRam) -> Result<Instruction, Fault> {
        let block = decode_block(ram, &self.state, self.pfn_limit, self.cr3.as_ref(), 1)?;
        block.insts.first().copied().ok_or_else(Fault::gp0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn changes_flow_agrees_with_iced_for_every_opcode() {
        use iced_x86::{Code, FlowControl};
        let mut wrong = Vec::new();
        for code in Code::values() {
            let iced = !matches!(code.flow_control(), FlowControl::Next | FlowControl::ConditionalBranch);
            if super::changes_flow(code.mnemonic()) != iced {
                wrong.push(format!("{code:?} ({:?}): iced {:?}", code.mnemonic(), code.flow_control()));
            }
        }
        assert!(wrong.is_empty(), "{} opcodes differ:\n{}", wrong.len(), wrong.join("\n"));
    }
}
