//! How fast the Guest core runs: two workloads built with iced-x86's code assembler and run until
//! their closing hypercall, with the decoded-block cache on and off.
//!
//! - *mix*: a loop of the integer work a kernel does: loads and stores with scaled indexes, ALU and
//!   shifts, imul and div, a call and return, push/pop, setcc/cmov, a short `rep movsd`, conditional
//!   branches.
//! - *tight loop*: `add`, `dec`, `jnz`: the best case for the interpreter's dispatch.
//!
//! The core never reads a clock, so the caller passes one in (`now()` in seconds): natively
//! `std::time::Instant`, in the browser `performance.now() / 1000`. The figures are guest instructions
//! per second (work units, as `rdtsc` counts them) in millions.
//!
//! What it showed when written (2-core AMD EPYC shared with other builds, so only lightly loaded runs
//! count): native release, cache on: mix about 200-220, tight loop about 290; cache off about 14 for
//! both. In wasm (tests/cpu_wasm_bench/bench.sh): Node 20 mix about 150, tight loop about 140; headless
//! Chromium 156 mix about 95-120, tight loop about 205. Under callgrind the mix costs about 87 host
//! instructions per guest instruction and the tight loop about 65.

use iced_x86::code_asm::*;
use serde::Serialize;

use super::{Cpu, Exit};
use crate::guest_ram::GuestRam;

/// One measurement.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchEntry {
    pub workload: String,
    pub cache: bool,
    pub instructions: u64,
    pub seconds: f64,
    pub mips: f64,
}

/// All measurements of one [`run_bench`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchReport {
    pub entries: Vec<BenchEntry>,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.entries {
            writeln!(
                f,
                "{:<12} cache {:<3} {:>12} instructions in {:>8.3} s: {:>8.1} M instructions/s",
                e.workload,
                if e.cache { "on" } else { "off" },
                e.instructions,
                e.seconds,
                e.mips
            )?;
        }
        Ok(())
    }
}

/// Where the workloads live in Guest memory.
const CODE: u32 = 0x1000;
const DATA: u32 = 0x8000;
const STACK: u32 = 0x10000;
const PAGES: u32 = 32;

/// The mixed workload: `rounds` x 256 passes of about 40 instructions.
pub fn mix_workload(rounds: u32) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut outer = a.create_label();
    let mut top = a.create_label();
    let mut func = a.create_label();
    let mut skip = a.create_label();
    a.mov(dword_ptr(DATA + 0xf00), rounds)?;
    a.set_label(&mut outer)?;
    a.mov(ebp, 256u32)?;
    a.mov(esi, DATA)?;
    a.mov(edi, DATA + 0x800)?;
    a.mov(ebx, 0x1234_5678u32)?;
    a.set_label(&mut top)?;
    a.mov(eax, dword_ptr(esi + ebp * 4 - 4))?; // load with a scaled index (ebp <= 256 below)
    a.add(eax, ebx)?;
    a.xor(edx, eax)?;
    a.shl(eax, 3u32)?;
    a.sar(edx, 2u32)?;
    a.imul_2(eax, edx)?;
    a.mov(dword_ptr(edi + 8), eax)?;
    a.and(ebx, 0xffffu32)?;
    a.or(ebx, 1u32)?;
    a.mov(eax, ebp)?;
    a.xor(edx, edx)?;
    a.div(ebx)?;
    a.push(eax)?;
    a.call(func)?;
    a.pop(ecx)?;
    a.cmp(eax, edx)?;
    a.setb(cl)?;
    a.cmove(eax, ecx)?;
    a.lea(ecx, ptr(eax + eax * 2 + 5))?;
    a.test(ecx, 1u32)?;
    a.je(skip)?;
    a.inc(edx)?;
    a.set_label(&mut skip)?;
    a.push(esi)?;
    a.push(edi)?;
    a.mov(ecx, 4u32)?;
    a.add(edi, 0x40u32)?;
    a.rep().movsd()?;
    a.pop(edi)?;
    a.pop(esi)?;
    a.add(ebx, edx)?;
    a.dec(ebp)?;
    a.jne(top)?;
    a.dec(dword_ptr(DATA + 0xf00))?;
    a.jne(outer)?;
    a.int(0x1fu32)?;
    a.set_label(&mut func)?;
    a.mov(eax, dword_ptr(esp + 4))?;
    a.add(eax, ebx)?;
    a.rol(eax, 5u32)?;
    a.ret()?;
    a.assemble(CODE as u64)
}

/// The tight loop: `iterations` passes of add, dec, jnz.
pub fn loop_workload(iterations: u32) -> Result<Vec<u8>, IcedError> {
    let mut a = CodeAssembler::new(32)?;
    let mut top = a.create_label();
    a.mov(ecx, iterations)?;
    a.set_label(&mut top)?;
    a.add(eax, ecx)?;
    a.dec(ecx)?;
    a.jne(top)?;
    a.int(0x1fu32)?;
    a.assemble(CODE as u64)
}

/// Run `code` to its hypercall; returns the work done, or why it stopped early.
fn time_one(code: &[u8], cache: bool, now: &mut dyn FnMut() -> f64) -> Result<(u64, f64), String> {
    let mut ram = GuestRam::new(PAGES);
    ram.write(CODE, code).map_err(|e| format!("workload does not fit: {e:?}"))?;
    let mut cpu = Cpu::new(PAGES, CODE);
    cpu.state.regs[super::ESP] = STACK;
    cpu.use_cache = cache;
    let t0 = now();
    loop {
        match cpu.run(&mut ram, u64::MAX) {
            Exit::Hypercall => break,
            Exit::Budget => continue,
            e => return Err(format!("workload stopped at {:#x}: {e:?}", cpu.state.eip)),
        }
    }
    let t1 = now();
    Ok((cpu.state.tsc, (t1 - t0).max(1e-9)))
}

/// Measure both workloads with the cache on and off. `scale` sets the work: the tight loop runs
/// 1,000,000 x `scale` iterations (3 instructions each); the mix runs 100 x `scale` rounds of 256
/// iterations (so its scaled loads stay inside its data page).
pub fn run_bench(scale: u32, now: &mut dyn FnMut() -> f64) -> Result<BenchReport, String> {
    let scale = scale.max(1);
    let mix = mix_workload(100u32.saturating_mul(scale)).map_err(|e| e.to_string())?;
    let tight = loop_workload(1_000_000u32.saturating_mul(scale)).map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    for cache in [true, false] {
        let (n, s) = time_one(&mix, cache, now)?;
        entries.push(BenchEntry { workload: "mix".into(), cache, instructions: n, seconds: s, mips: n as f64 / s / 1e6 });
        let (n, s) = time_one(&tight, cache, now)?;
        entries.push(BenchEntry { workload: "tight loop".into(), cache, instructions: n, seconds: s, mips: n as f64 / s / 1e6 });
    }
    Ok(BenchReport { entries })
}
