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

/// The Guest's timeline on a long run: record `units` units of a loop (in trips of `GUEST_SLICE`, with a
/// Host write between trips, as `run_guest()` makes them), then go to positions all over it, step back one
/// instruction at a time, and search it for a breakpoint. Prints the times and what the recording holds.
pub fn bench_timeline(units: u64, now: &mut dyn FnMut() -> f64) -> Result<String, String> {
    use super::timeline::Timeline;
    use crate::params::GUEST_SLICE;
    let passes = (units / 3).clamp(1, u32::MAX as u64) as u32;
    let mut a = CodeAssembler::new(32).map_err(|e| e.to_string())?;
    let mut top = a.create_label();
    let step = |r: Result<(), IcedError>| r.map_err(|e| e.to_string());
    step(a.mov(ecx, passes))?;
    step(a.set_label(&mut top))?;
    step(a.mov(dword_ptr(DATA), ecx))?;
    step(a.dec(ecx))?;
    step(a.jne(top))?;
    step(a.int(0x1fu32))?;
    let code = a.assemble(CODE as u64).map_err(|e| e.to_string())?;
    let top_addr = CODE + 5;
    // As big as the Launcher's default Guest (32 MB and the device pages), since a checkpoint's cost grows
    // with the number of pages.
    let pages = crate::params::DEFAULT_GUEST_MB * (1 << 20) / crate::params::PAGE_SIZE + crate::params::DEVICE_PAGES;
    let fresh = || -> Result<(Cpu, GuestRam), String> {
        let mut ram = GuestRam::new(pages);
        ram.write(CODE, &code).map_err(|e| format!("{e:?}"))?;
        let mut cpu = Cpu::new(pages, CODE);
        cpu.state.regs[super::ESP] = STACK;
        Ok((cpu, ram))
    };

    // The same run, plain and recorded.
    let (mut cpu, mut ram) = fresh()?;
    let t0 = now();
    while cpu.run(&mut ram, GUEST_SLICE) == Exit::Budget {}
    let plain = now() - t0;
    let (mut cpu, mut ram) = fresh()?;
    let mut tl = Timeline::new();
    let t0 = now();
    loop {
        let exit = tl.run_trip(&mut cpu, &mut ram, GUEST_SLICE, |_, _| String::new()).ok_or("the timeline stopped recording")?;
        if exit != Exit::Budget {
            break;
        }
        let k = cpu.state.tsc as u32;
        ram.write_u32(DATA + 0x100, k).map_err(|e| format!("{e:?}"))?;
    }
    tl.finish(&mut ram);
    let recorded = now() - t0;
    let total = tl.total();

    // Jumps to positions spread over the run (a fixed sequence, so every run measures the same work).
    let mut r = tl.replay().ok_or("nothing recorded")?;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut worst, mut sum) = (0f64, 0f64);
    let jumps = 200;
    for _ in 0..jumps {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = now();
        tl.step_into(&mut r, x % (total + 1))?;
        let d = now() - t;
        worst = worst.max(d);
        sum += d;
    }
    // Stepping back one instruction at a time from the far end.
    let backs = 50;
    let t = now();
    for k in 0..backs {
        tl.step_into(&mut r, total - 1 - k)?;
    }
    let back = (now() - t) / backs as f64;
    // A breakpoint search over the whole run: the loop's top is found once a pass; the last pass from the start.
    let t = now();
    let first = tl.find(&mut r, 0, &[top_addr])?;
    let find_first = now() - t;
    let t = now();
    let none = tl.find(&mut r, total - 4, &[0xdead_beef])?;
    let find_none = now() - t;
    let t = now();
    let none_whole = tl.find(&mut r, 0, &[0xdead_beef])?;
    let find_whole = now() - t;
    let held = tl.pages_held(&ram);
    let ms = |s: f64| s * 1e3;
    Ok(format!(
        "  {total} units in {} trips: run {:.1} ms, recorded {:.1} ms ({:.0}% more)\n  \
         {} checkpoints, one every {} units; {} pages ({} KB) held only by the timeline, plus {} KB of page lists ({} pages each)\n  \
         go to any position: mean {:.3} ms, worst {:.3} ms over {jumps} jumps; step back one instruction: {:.3} ms\n  \
         breakpoint: next hit {:.3} ms ({}), none in the last units {:.3} ms ({}), none in the whole run {:.1} ms ({})",
        tl.trip_count(),
        ms(plain),
        ms(recorded),
        (recorded / plain.max(1e-9) - 1.0) * 100.0,
        tl.checkpoints(),
        tl.every,
        held,
        held * 4,
        tl.checkpoints() * pages as usize * 17 / 1024,
        pages,
        ms(sum / jumps as f64),
        ms(worst),
        ms(back),
        ms(find_first),
        first.map_or("none".into(), |p| format!("at {p}")),
        ms(find_none),
        none.map_or("none".into(), |p| format!("at {p}")),
        ms(find_whole),
        none_whole.map_or("none".into(), |p| format!("at {p}")),
    ))
}
