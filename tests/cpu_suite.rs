//! The benchmark kernels (tests/bench/kernels/*.S) as tests and as the suite's native figures.
//!
//! Each kernel prints a checksum of its work. Built as a Linux program it runs on the real processor, whose
//! checksum every build of ours must print: here, a short run of each (a small `ITERS`) through the whole
//! Launcher and Host, and, for the kernels that need no paging or interrupt gates, through a bare loop
//! around the core with the decoded-block cache on and off.
//!
//! `native_figures` (ignored: a measurement, meaningful only with --release) is what `tests/bench/suite.mjs`
//! runs for its native column: every kernel at full size through `launch_with_stdin`, the Launcher's boot
//! (a Guest that stops at once) taken out, as `tests/bench/measure.mjs` does in wasm:
//!
//! `cargo test --release --test cpu_suite -- --ignored --nocapture native_figures`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use lguest_sim::cpu::{Cpu, Exit};
use lguest_sim::guest_ram::GuestRam;
use lguest_sim::scenario::launch::launch_with_stdin;

/// Every kernel, with a short `ITERS` for the exactness test, and whether it runs without the Host's paging
/// and interrupt gates (so a bare loop around the core can run it).
const KERNELS: [(&str, u32, bool); 12] = [
    ("alu", 3000, true),
    ("shift", 3000, true),
    ("muldiv", 3000, true),
    ("bits", 3000, true),
    ("string", 400, true),
    ("control", 2000, true),
    ("addressing", 3000, true),
    ("bcd", 800, true),
    ("calls", 6, true),
    ("memory", 2000, false),
    ("selfmod", 5000, true),
    ("interrupts", 3000, false),
];

fn kernel_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bench/kernels")
}

fn scratch(name: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("cpu_suite-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Build `name` with `as --32` and `ld -m elf_i386` as bench.inc describes: `guest` or the Linux program.
fn build(dir: &Path, name: &str, guest: bool, iters: Option<u32>) -> PathBuf {
    let tag = format!("{name}-{}{}", if guest { "guest" } else { "linux" }, iters.map(|n| format!("-{n}")).unwrap_or_default());
    let obj = dir.join(format!("{tag}.o"));
    let elf = dir.join(format!("{tag}.elf"));
    let mut asm = Command::new("as");
    asm.arg("--32").arg("-I").arg(kernel_dir());
    if guest {
        asm.args(["--defsym", "GUEST=1"]);
    }
    if let Some(n) = iters {
        asm.arg("--defsym").arg(format!("ITERS={n}"));
    }
    asm.arg("-o").arg(&obj).arg(kernel_dir().join(format!("{name}.S")));
    let out = asm.output().expect("GNU as (binutils) must be installed to build the benchmark kernels");
    assert!(out.status.success(), "as failed on {name}:\n{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("ld")
        .args(["-m", "elf_i386", "-static", "--no-warn-rwx-segments", "-Ttext", "0x100000", "-e", "start", "-o"])
        .arg(&elf)
        .arg(&obj)
        .output()
        .expect("ld (binutils) must be installed");
    assert!(out.status.success(), "ld failed on {name}:\n{}", String::from_utf8_lossy(&out.stderr));
    elf
}

fn run_linux(elf: &Path) -> String {
    let out = Command::new(elf).output().unwrap_or_else(|e| panic!("cannot run {} natively: {e}", elf.display()));
    assert!(out.status.success(), "{} failed natively", elf.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A bare Host for the plain kernels: LGUEST_INIT is noted and ignored, NOTIFY prints, SHUTDOWN stops.
fn run_bare(elf: &[u8], cache: bool) -> (String, u64) {
    let pages = 4096;
    let mut ram = GuestRam::new(pages);
    let u32_at = |o: usize| u32::from_le_bytes([elf[o], elf[o + 1], elf[o + 2], elf[o + 3]]);
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let (phoff, phnum) = (u32_at(28) as usize, u16_at(44));
    for k in 0..phnum {
        let ph = phoff + k * 32;
        if u32_at(ph) == 1 {
            let (off, vaddr, filesz) = (u32_at(ph + 4) as usize, u32_at(ph + 8), u32_at(ph + 16) as usize);
            ram.write(vaddr, &elf[off..off + filesz]).expect("segment fits");
        }
    }
    let mut cpu = Cpu::new(pages, u32_at(24));
    cpu.use_cache = cache;
    let mut out = String::new();
    loop {
        assert!(cpu.state.tsc < 200_000_000, "the kernel ran past its budget");
        match cpu.run(&mut ram, 100_000) {
            Exit::Budget => {}
            Exit::Hypercall => match cpu.state.regs[0] {
                1 => {}
                17 => out.push_str(&String::from_utf8_lossy(&ram.read_cstr(cpu.state.regs[3], 4096).expect("string"))),
                2 => break,
                n => panic!("hypercall {n} in a plain kernel"),
            },
            e => panic!("stopped at {:#x}: {e:?}", cpu.state.eip),
        }
    }
    (out, cpu.state.tsc)
}

#[test]
fn suite_kernels_agree_with_the_processor() {
    let dir = scratch("check");
    for (name, iters, plain) in KERNELS {
        let expected = run_linux(&build(&dir, name, false, Some(iters)));
        let elf = std::fs::read(build(&dir, name, true, Some(iters))).expect("read ELF");
        let r = launch_with_stdin(&elf, 32, &[]);
        let ours = String::from_utf8_lossy(&r.stdout).into_owned();
        assert_eq!(ours, expected, "{name}: the Launcher's Guest and the processor disagree");
        if plain {
            let (cached, n1) = run_bare(&elf, true);
            let (uncached, n2) = run_bare(&elf, false);
            assert_eq!(cached, expected, "{name}: block cache on");
            assert_eq!(uncached, expected, "{name}: block cache off");
            assert_eq!(n1, n2, "{name}: the cached and uncached runs counted differently");
        }
        eprintln!("{name}: {} instructions, {}", r.instructions, expected.trim());
    }
}

/// The smallest Guest (as measure.mjs builds it): a hypercall before LGUEST_INIT, after the whole boot.
fn null_guest() -> Vec<u8> {
    let code = [0xb8, 0x02, 0x00, 0x00, 0x00, 0x31, 0xdb, 0xcd, 0x1f, 0xeb, 0xfe];
    let size = 52 + 32 + code.len();
    let mut b = vec![0u8; size];
    b[..7].copy_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1]);
    let put16 = |b: &mut Vec<u8>, o: usize, v: u16| b[o..o + 2].copy_from_slice(&v.to_le_bytes());
    put16(&mut b, 16, 2);
    put16(&mut b, 18, 3);
    put16(&mut b, 40, 52);
    put16(&mut b, 42, 32);
    put16(&mut b, 44, 1);
    let put32 = |b: &mut Vec<u8>, o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    put32(&mut b, 20, 1);
    put32(&mut b, 24, 0x100000 + 84);
    put32(&mut b, 28, 52);
    for (o, v) in [(0, 1), (8, 0x100000), (12, 0x100000), (16, size as u32), (20, size as u32), (24, 5), (28, 0x1000)] {
        put32(&mut b, 52 + o, v);
    }
    b[84..].copy_from_slice(&code);
    b
}

#[test]
#[ignore = "a measurement for tests/bench/suite.mjs, meaningful only with --release"]
fn native_figures() {
    let rounds: usize = std::env::var("SUITE_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let only = std::env::var("SUITE_KERNELS").ok();
    let dir = scratch("figures");
    let kernels: Vec<(&str, Vec<u8>)> = KERNELS
        .iter()
        .filter(|(n, _, _)| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == *n)))
        .map(|(n, _, _)| (*n, std::fs::read(build(&dir, n, true, None)).expect("read ELF")))
        .collect();
    let null = null_guest();
    let mut boots: Vec<(f64, u64)> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let r = launch_with_stdin(&null, 32, &[]);
            (t.elapsed().as_secs_f64(), r.instructions)
        })
        .collect();
    boots.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (boot_s, boot_n) = boots[2];
    for round in 0..rounds {
        for (name, elf) in &kernels {
            let t = Instant::now();
            let r = launch_with_stdin(elf, 32, &[]);
            let seconds = (t.elapsed().as_secs_f64() - boot_s).max(1e-6);
            let instructions = r.instructions - boot_n;
            let output = String::from_utf8_lossy(&r.stdout).replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            println!(
                "SUITE {{\"round\":{round},\"kernel\":\"{name}\",\"engine\":\"native\",\"output\":\"{output}\",\"instructions\":{instructions},\"seconds\":{seconds}}}"
            );
            eprintln!("{name}: {instructions} instructions in {seconds:.3} s = {:.1} M instructions/s", instructions as f64 / seconds / 1e6);
        }
    }
}
