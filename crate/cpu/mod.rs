//! The Guest CPU: a 32-bit x86 core that runs the Guest kernel at ring 1, as lguest's Switcher ran it on
//! a real processor between `lguest_arch_run_guest()` and `lguest_arch_handle_trap()`.
//!
//! iced-x86 decodes; we execute. The core is split the way a reader meets it:
//! - [`CpuState`] (here): registers, EFLAGS, segment registers, CPL, the instruction counter: the part a
//!   snapshot copies and the UI shows.
//! - [`fault`]: the exceptions an instruction raises, as values.
//! - [`flags`]: EFLAGS bits and the flag arithmetic.
//! - [`segments`]: selectors, the GDT, the limits that keep the Guest below the Switcher.
//! - [`mem`]: every memory access: segment check, linear-to-physical translation (through a software TLB
//!   that lives for one run), the `pfn_limit` bound; [`paging`]: the two-level page walk through the
//!   directory in cr3.
//! - [`decode`]: the decoded-block cache that lets the fast path skip re-decoding.
//! - [`exec`]: one function per instruction family, and `exec::fast`: the common forms lowered to
//!   micro-ops when a block is decoded (`exec::forms`: the rest of the integer set, size-generic).
//! - [`trace`]: the record of one single step, for the UI; [`att`]: its text, as objdump spells it;
//!   [`undefined`]: the flags it left architecturally undefined.
//! - [`timeline`]: the Guest's work during a lesson step, recorded so any instruction of it can be shown
//!   again, forwards or backwards, and searched for a breakpoint.
//! - [`bench`]: the speed measurement.
//!
//! [`Cpu::run`] executes until an [`Exit`]: a hypercall (`int $0x1f`), a fault for the Host, a software
//! interrupt, or the end of the instruction budget (so no Guest loop can freeze the page). [`Cpu::step`]
//! executes exactly one instruction and says what it did. Both are deterministic: nothing here reads a
//! clock; `rdtsc` reads the count of instructions retired.

pub mod att;
pub mod bench;
pub mod decode;
pub mod exec;
pub mod fault;
pub mod flags;
pub mod mem;
pub mod paging;
pub mod script;
pub mod segments;
pub mod timeline;
pub mod trace;
pub mod undefined;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::guest_ram::GuestRam;

pub use decode::BlockCache;
pub use exec::Delivery;
pub use fault::Fault;
pub use segments::Segment;
pub use trace::{MemTouch, StepRecord};

use segments::{GDT_ENTRIES, GUEST_KERNEL_CS, GUEST_KERNEL_DS};

/// General registers in their x86 encoding order, which is also the order of `CpuState::regs`.
pub const EAX: usize = 0;
pub const ECX: usize = 1;
pub const EDX: usize = 2;
pub const EBX: usize = 3;
pub const ESP: usize = 4;
pub const EBP: usize = 5;
pub const ESI: usize = 6;
pub const EDI: usize = 7;

/// The EFLAGS a Guest starts with (`lguest_arch_setup_regs()`): IF set and bit 1.
pub const INITIAL_EFLAGS: u32 = 0x202;

/// CR0 bits the Guest can see with `smsw`: PE (protected mode) and ET; PG once paging is on; MP and TS as
/// the Host's cr0 has them while the Guest runs.
pub const CR0_PE: u32 = 1;
/// MP (monitor coprocessor) and TS (task switched): with TS set, an x87, MMX or SSE instruction raises #NM
/// (vector 7), and so does `fwait` if MP is set too. The Host runs the Guest under its own cr0, so these are
/// the Host's: Linux sets MP on a CPU with an FPU, and TS whenever the running task's FPU state is not in
/// the FPU (the Host sets both before each run, see `lguest::x86_core`).
pub const CR0_MP: u32 = 1 << 1;
pub const CR0_TS: u32 = 1 << 3;
pub const CR0_ET: u32 = 1 << 4;
pub const CR0_PG: u32 = 1 << 31;

/// Everything that makes up the Guest CPU's architectural state: cheap to clone, so the UI can keep one
/// per step and step back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuState {
    /// eax, ecx, edx, ebx, esp, ebp, esi, edi.
    pub regs: [u32; 8],
    pub eip: u32,
    pub eflags: u32,
    /// es, cs, ss, ds, fs, gs.
    pub segs: [Segment; 6],
    /// Current privilege level: 1 for the Guest kernel, 3 for its user programs.
    pub cpl: u8,
    pub cr0: u32,
    /// The last page-fault address (the Host copies it to `lguest_data->cr2` when it reflects a #PF).
    pub cr2: u32,
    /// Work done so far: one per instruction retired plus one per extra `rep` iteration. `rdtsc` reads it.
    pub tsc: u64,
    /// `IA32_SYSENTER_CS`, the MSR `sysenter` and `sysexit` take their segments from: 0 (its value after
    /// reset) makes both #GP(0). The lguest Host zeroes it before every run, so a Guest never has another.
    pub sysenter_cs: u32,
}

/// Why [`Cpu::run`] stopped.
///
/// There is no "interrupt window" exit: an lguest Guest never executes `sti` (it would be #GP at
/// ring 1); it enables interrupts by storing to `lguest_data.irq_enabled` and makes a hypercall if
/// one is pending, and the Host looks for interrupts to deliver each time `run_guest()` gets control
/// back: at every hypercall, fault and budget exit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum Exit {
    /// `int $0x1f` (`LGUEST_TRAP_ENTRY`): a hypercall. EIP is past the `int`; eax holds the call number,
    /// ebx, ecx, edx and esi the arguments; the Host puts the return value in eax.
    Hypercall,
    /// An exception, with EIP still at the faulting instruction (trap 6 for `vmcall`, 13 for `cli`, ...).
    Fault { fault: Fault },
    /// A software interrupt or trap (`int n`, `int3`, `into`, the single-step trap): EIP is past the
    /// instruction, ready for the Host to deliver `vector` through the Guest's IDT.
    Interrupt { vector: u8 },
    /// The instruction budget ran out; the Guest can simply be run again.
    Budget,
}

/// Why [`Cpu::run_to`] stopped: an exit as from [`Cpu::run`], or a breakpoint reached (EIP is at it, the
/// instruction not yet executed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    Exit(Exit),
    At(u32),
}

/// The Guest CPU: its state, the Guest's GDT (held by the Host, as `lg_cpu.arch.gdt` is), the memory
/// bound, and the decoded-block cache.
#[derive(Clone, Debug)]
pub struct Cpu {
    pub state: CpuState,
    /// The Guest's GDT, which only the Host writes (`LHCALL_LOAD_GDT_ENTRY`).
    pub gdt: [u64; GDT_ENTRIES],
    /// What `sgdt` / `sidt` show the Guest: (limit, base) of the tables the Host loaded for it.
    pub gdtr: (u16, u32),
    pub idtr: (u16, u32),
    /// `lg->pfn_limit`: the first guest-physical page frame the Guest may not touch.
    pub pfn_limit: u32,
    /// Use the decoded-block cache in [`Cpu::run`] (off only to measure what it buys).
    pub use_cache: bool,
    pub(crate) cache: BlockCache,
    /// Memory touched by the instruction being single-stepped (None outside `step`).
    pub(crate) touch: Option<Vec<MemTouch>>,
    /// Work units left in the current run; `rep` iterations draw on it too.
    pub(crate) budget_left: u64,
    /// cr3: the page directory every access is translated through (see [`paging`]), or `None` while the
    /// Guest runs without paging (the identity). The Host sets it before each run.
    pub cr3: Option<paging::PageDirectory>,
    /// The page directory the Guest itself loaded (guest-physical), as the Host last told the CPU. No access
    /// walks it (they walk the shadow in `cr3`); only [`Cpu::peek`] does, so that a memory view shows what
    /// the Guest would read at a page the Host has not shadowed yet (its first touch would fault it in).
    pub guest_tables: Option<u32>,
    /// The page walk's cache for the length of one run (see [`mem::Tlb`]).
    pub(crate) tlb: mem::Tlb,
}

impl Cpu {
    /// A Guest CPU as `lguest_arch_setup_regs()` leaves it: ring 1, the kernel's flat segments, EFLAGS
    /// 0x202, EIP at `start`, all general registers zero (the Host sets esi to the boot_params address).
    pub fn new(pfn_limit: u32, start: u32) -> Cpu {
        let gdt = segments::initial_gdt();
        let cs = segments::lookup(&gdt, GUEST_KERNEL_CS).unwrap_or(Segment::NULL);
        let ds = segments::lookup(&gdt, GUEST_KERNEL_DS).unwrap_or(Segment::NULL);
        let mut segs = [ds; 6];
        segs[segments::CS] = cs;
        segs[segments::FS] = Segment::NULL;
        segs[segments::GS] = Segment::NULL;
        Cpu {
            state: CpuState {
                regs: [0; 8],
                eip: start,
                eflags: INITIAL_EFLAGS,
                segs,
                cpl: segments::GUEST_PL,
                cr0: CR0_PE | CR0_ET,
                cr2: 0,
                tsc: 0,
                sysenter_cs: 0,
            },
            gdt,
            gdtr: ((GDT_ENTRIES * 8 - 1) as u16, 0),
            idtr: (256 * 8 - 1, 0),
            pfn_limit,
            use_cache: true,
            cache: BlockCache::new(),
            touch: None,
            budget_left: 0,
            cr3: None,
            guest_tables: None,
            tlb: mem::Tlb::default(),
        }
    }

    /// Forget every decoded block (after restoring a snapshot of memory from elsewhere, say). Never
    /// needed for correctness after ordinary writes: those are noticed by page.
    pub fn flush_code_cache(&mut self) {
        self.cache.clear();
    }

    /// Hit and miss counts of the decoded-block cache.
    pub fn cache_stats(&self) -> (u64, u64) {
        (self.cache.hits, self.cache.misses)
    }

    /// Run until something needs the Host, or `budget` units of work are done (the fast path).
    pub fn run(&mut self, ram: &mut GuestRam, budget: u64) -> Exit {
        self.tlb_begin();
        let exit = self.run_inner(ram, budget);
        self.tlb_end();
        exit
    }

    fn run_inner(&mut self, ram: &mut GuestRam, budget: u64) -> Exit {
        self.budget_left = budget;
        loop {
            if self.budget_left == 0 {
                return Exit::Budget;
            }
            let exit = if self.use_cache { self.run_block(ram) } else { self.run_uncached(ram) };
            if let Some(e) = exit {
                return e;
            }
        }
    }

    /// Like [`Cpu::run`], but stop *before* executing an instruction whose EIP is in `stops` (a breakpoint),
    /// other than the one EIP is at when called (so a search can go on from a breakpoint it stopped at).
    /// Blocks that hold no stop run on the fast path; a block that holds one runs an instruction at a time.
    /// The same state, instruction for instruction, as `run` (a `rep` runs whole within one step here).
    pub fn run_to(&mut self, ram: &mut GuestRam, budget: u64, stops: &[u32]) -> Stop {
        if stops.is_empty() {
            return Stop::Exit(self.run(ram, budget));
        }
        self.tlb_begin();
        let stop = self.run_to_inner(ram, budget, stops);
        self.tlb_end();
        stop
    }

    fn run_to_inner(&mut self, ram: &mut GuestRam, budget: u64, stops: &[u32]) -> Stop {
        self.budget_left = budget;
        let mut arrived = false;
        loop {
            if self.budget_left == 0 {
                return Stop::Exit(Exit::Budget);
            }
            if arrived && stops.contains(&self.state.eip) {
                return Stop::At(self.state.eip);
            }
            arrived = true;
            if self.use_cache {
                let (slot, block) = match self.cache.lookup_or_decode(ram, &self.state, self.pfn_limit, self.cr3.as_ref()) {
                    Ok(b) => b,
                    Err(fault) => return Stop::Exit(self.fetch_fault(fault)),
                };
                if !block.ops.iter().any(|(_, i)| stops.contains(&i.ip32())) {
                    let result = self.run_cached(ram, &block);
                    self.cache.put_back(slot, block);
                    match result {
                        Some(e) => return Stop::Exit(e),
                        None => continue,
                    }
                }
                self.cache.put_back(slot, block);
            }
            if let Some(e) = self.run_uncached(ram) {
                return Stop::Exit(e);
            }
        }
    }

    /// Execute one decoded instruction whose EIP is current; on a fault, put EIP back.
    #[inline(always)]
    pub(crate) fn retire(&mut self, ram: &mut GuestRam, ins: &iced_x86::Instruction) -> Option<Exit> {
        let eip0 = self.state.eip;
        let single_step = self.state.eflags & flags::TF != 0;
        self.state.eip = ins.next_ip32();
        match self.execute(ram, ins) {
            Ok(None) => {
                self.budget_left = self.budget_left.saturating_sub(1);
                self.state.tsc += 1;
                if single_step {
                    return Some(Exit::Interrupt { vector: 1 });
                }
                None
            }
            Ok(Some(exit)) => {
                if exit != Exit::Budget {
                    self.budget_left = self.budget_left.saturating_sub(1);
                    self.state.tsc += 1;
                }
                Some(exit)
            }
            Err(fault) => {
                self.state.eip = eip0;
                if let Fault::PageFault { cr2, .. } = fault {
                    self.state.cr2 = cr2;
                }
                Some(Exit::Fault { fault })
            }
        }
    }

    /// The slow path: decode the one instruction at EIP and execute it.
    fn run_uncached(&mut self, ram: &mut GuestRam) -> Option<Exit> {
        match self.fetch_one(ram) {
            Ok(ins) => self.retire(ram, &ins),
            Err(fault) => Some(self.fetch_fault(fault)),
        }
    }

    pub(crate) fn fetch_fault(&mut self, fault: Fault) -> Exit {
        if let Fault::PageFault { cr2, .. } = fault {
            self.state.cr2 = cr2;
        }
        Exit::Fault { fault }
    }

    /// The fast path: find (or decode) the block at EIP and run it until it ends, jumps, or exits.
    /// Lowered instructions run through [`exec::fast`]; a block that jumps back to its own start (a
    /// tight loop) runs again without another lookup.
    fn run_block(&mut self, ram: &mut GuestRam) -> Option<Exit> {
        let (slot, block) = match self.cache.lookup_or_decode(ram, &self.state, self.pfn_limit, self.cr3.as_ref()) {
            Ok(b) => b,
            Err(fault) => return Some(self.fetch_fault(fault)),
        };
        let result = self.run_cached(ram, &block);
        self.cache.put_back(slot, block);
        result
    }

    fn run_cached(&mut self, ram: &mut GuestRam, block: &decode::Block) -> Option<Exit> {
        let writes0 = ram.code_writes();
        loop {
            // Fast-path instructions retired and not yet counted: counted in bulk (budget and tsc)
            // before anything that reads them. EIP too is only brought up to date where it matters:
            // before a generic instruction, at a fault or exit, and at the end of the pass.
            let mut done = 0u64;
            let mut exit = None;
            let mut jumped = false;
            // Only a generic instruction (popf, iret) can set TF, so it is looked at again only then.
            let mut stepping = self.state.eflags & flags::TF != 0;
            // The budget as of the last bulk count (a local, so it can live in a register).
            let mut budget = self.budget_left;
            for (u, ins) in block.ops.iter() {
                if budget <= done {
                    self.state.eip = ins.ip32();
                    exit = Some(Exit::Budget);
                    break;
                }
                if stepping || matches!(u, exec::fast::Uop::Generic) {
                    self.count(done);
                    done = 0;
                    self.state.eip = ins.ip32();
                    if let Some(e) = self.retire(ram, ins) {
                        return Some(e);
                    }
                    budget = self.budget_left;
                    // The Guest wrote over code: whatever follows in this block may be stale.
                    if ram.code_writes() != writes0 {
                        return None;
                    }
                    if self.state.eip != ins.next_ip32() {
                        jumped = true;
                        break;
                    }
                    stepping = self.state.eflags & flags::TF != 0;
                } else {
                    match self.exec_uop(ram, u, ins.next_ip32()) {
                        Ok(false) => done += 1,
                        Ok(true) => {
                            done += 1;
                            jumped = true;
                            break;
                        }
                        Err(fault) => {
                            self.state.eip = ins.ip32();
                            exit = Some(self.fetch_fault(fault));
                            break;
                        }
                    }
                    if u.stores() && ram.code_writes() != writes0 {
                        self.state.eip = ins.next_ip32();
                        self.count(done);
                        return None;
                    }
                }
            }
            if exit.is_none() && !jumped {
                // Ran off the end of the block.
                if let Some((_, last)) = block.ops.last() {
                    self.state.eip = last.next_ip32();
                }
            }
            self.count(done);
            if exit.is_some() {
                return exit;
            }
            if ram.code_writes() != writes0 || !block.starts_at(&self.state) {
                return None;
            }
        }
    }

    #[inline(always)]
    fn count(&mut self, n: u64) {
        self.budget_left -= n;
        self.state.tsc += n;
    }

    /// Execute exactly one instruction and describe it: the text, the state before and after, the memory
    /// it touched and how it ended.
    pub fn step(&mut self, ram: &mut GuestRam) -> StepRecord {
        let before = self.state.clone();
        self.budget_left = 1;
        self.touch = Some(Vec::new());
        let (text, bytes, exit, undefined_flags) = match self.fetch_one(ram) {
            Ok(ins) => {
                let text = att::format(&ins);
                let bytes = self.instruction_bytes(ram, &ins);
                let exit = self.retire(ram, &ins);
                // A faulting instruction changed no flag; one that completed may have left some undefined.
                let undefined = if matches!(exit, Some(Exit::Fault { .. })) { Vec::new() } else { undefined::undefined_flags(&ins, &before) };
                (text, bytes, exit, undefined.into_iter().map(|(f, why)| (f.to_string(), why)).collect())
            }
            Err(fault) => (String::from("(fetch failed)"), Vec::new(), Some(self.fetch_fault(fault)), Vec::new()),
        };
        let mem = self.touch.take().unwrap_or_default();
        StepRecord {
            eip: before.eip,
            bytes,
            text,
            flags_before: trace::flag_names(before.eflags),
            flags_after: trace::flag_names(self.state.eflags),
            undefined_flags,
            before,
            after: self.state.clone(),
            mem,
            exit,
        }
    }

    /// Disassemble up to `count` instructions from `eip` (CS-relative) for the UI's listing, as
    /// (address, bytes, GNU as text). Stops early at memory the Guest cannot reach.
    pub fn disassemble_at(&self, ram: &GuestRam, eip: u32, count: usize) -> Vec<(u32, Vec<u8>, String)> {
        let mut out = Vec::new();
        let mut probe = self.clone_for_decode(eip);
        for _ in 0..count {
            match probe.fetch_one(ram) {
                Ok(ins) => {
                    let text = att::format(&ins);
                    out.push((ins.ip32(), self.instruction_bytes(ram, &ins), text));
                    probe.state.eip = ins.next_ip32();
                }
                Err(_) => break,
            }
        }
        out
    }

    /// A copy of just what decoding needs (state, bound), pointed at `eip`.
    fn clone_for_decode(&self, eip: u32) -> Cpu {
        let mut c = Cpu::new(self.pfn_limit, eip);
        c.state = self.state.clone();
        c.state.eip = eip;
        c.cr3 = self.cr3.clone();
        c.guest_tables = self.guest_tables;
        c
    }

    fn instruction_bytes(&self, ram: &GuestRam, ins: &iced_x86::Instruction) -> Vec<u8> {
        let lin = self.state.segs[segments::CS].base.wrapping_add(ins.ip32());
        let lin = self.translate(lin, false).unwrap_or(lin);
        let mut b = vec![0u8; ins.len()];
        match ram.read(lin, &mut b) {
            Ok(()) => b,
            Err(_) => Vec::new(),
        }
    }

    /// Reload every segment register from the GDT, as the Switcher's return to the Guest does (it loads
    /// them all from the saved registers), so the Host's GDT changes (`LOAD_GDT_ENTRY`, `LOAD_TLS`) take
    /// effect. A selector that is no longer loadable gives its fault (lguest would kill the Guest);
    /// nothing is changed then.
    pub fn reload_segments(&mut self) -> Result<(), Fault> {
        let cpl = self.state.cpl;
        let mut segs = self.state.segs;
        for (k, seg) in segs.iter_mut().enumerate() {
            let sel = seg.selector;
            *seg = match k {
                segments::CS => segments::load_code_segment(&self.gdt, sel)?,
                segments::SS => segments::load_stack_segment(&self.gdt, sel, cpl)?,
                _ => segments::load_data_segment(&self.gdt, sel, cpl)?,
            };
        }
        self.state.segs = segs;
        Ok(())
    }
}
