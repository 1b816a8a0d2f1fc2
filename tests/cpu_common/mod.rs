//! Shared by the CPU's integration tests: assemble and link 32-bit GNU as sources with the installed
//! binutils, load an ELF32 executable into Guest memory, run it natively, and run it in our core with
//! the few Linux system calls such programs use (read, write, exit) answered by the test.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lguest_sim::cpu::{Cpu, Exit};
use lguest_sim::guest_ram::GuestRam;

/// Where test programs are linked: low enough that Guest memory stays small, above Linux's
/// `mmap_min_addr`.
pub const LOAD_ADDR: u32 = 0x0010_0000;

/// A fresh scratch directory under the target dir's tmp (or the system temp dir).
pub fn scratch(name: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn run_tool(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {what} ({e}): this test needs GNU binutils (as --32, ld -m elf_i386)"));
    assert!(out.status.success(), "{what} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Assemble `src` with `as --32` (plus `--defsym` symbols) and link a static ELF32 at [`LOAD_ADDR`].
pub fn build(dir: &Path, name: &str, src: &Path, defsyms: &[&str]) -> PathBuf {
    let obj = dir.join(format!("{name}.o"));
    let exe = dir.join(name);
    let mut asm = Command::new("as");
    asm.arg("--32");
    for d in defsyms {
        asm.arg("--defsym").arg(d);
    }
    asm.arg("-o").arg(&obj).arg(src);
    run_tool(&mut asm, "as --32");
    let mut ld = Command::new("ld");
    ld.args(["-m", "elf_i386", "-static", "--no-warn-rwx-segments", "-Ttext"]).arg(format!("{LOAD_ADDR:#x}")).arg("-o").arg(&exe).arg(&obj);
    run_tool(&mut ld, "ld -m elf_i386");
    exe
}

/// Run a native 32-bit program with `input` on stdin; its stdout.
pub fn run_native(exe: &Path, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the 32-bit program {} natively: {e}", exe.display()));
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for native program");
    let _ = feeder.join();
    assert!(out.status.success(), "native program failed: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Load the PT_LOAD segments of an ELF32 executable into `ram`; returns the entry point.
pub fn load_elf(ram: &mut GuestRam, elf: &[u8]) -> u32 {
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes([elf[o], elf[o + 1], elf[o + 2], elf[o + 3]]);
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 1, "not ELF32");
    let entry = u32_at(24);
    let (phoff, phentsize, phnum) = (u32_at(28) as usize, u16_at(42), u16_at(44));
    for k in 0..phnum {
        let ph = phoff + k * phentsize;
        if u32_at(ph) != 1 {
            continue; // PT_LOAD only
        }
        let (off, vaddr, filesz) = (u32_at(ph + 4) as usize, u32_at(ph + 8), u32_at(ph + 16) as usize);
        ram.write(vaddr, &elf[off..off + filesz]).expect("segment fits in Guest memory");
    }
    entry
}

/// The outcome of running a program in our core.
pub struct GuestRun {
    pub stdout: Vec<u8>,
    pub instructions: u64,
    pub cpu: Cpu,
}

/// Run an ELF32 Linux program in our core, answering `int $0x80` read/write/exit, and (for Guest
/// builds) the lguest hypercalls NOTIFY (17: print the NUL-terminated string at ebx) and SHUTDOWN (2).
pub fn run_in_core(elf: &[u8], mem_pages: u32, input: &[u8], budget: u64, cache: bool) -> GuestRun {
    let mut ram = GuestRam::new(mem_pages);
    let entry = load_elf(&mut ram, elf);
    let mut cpu = Cpu::new(mem_pages, entry);
    cpu.use_cache = cache;
    cpu.state.regs[4] = mem_pages * 4096 - 16;
    let mut out = Vec::new();
    let mut pos = 0usize;
    let start = cpu.state.tsc;
    loop {
        assert!(cpu.state.tsc - start < budget, "program ran past its budget");
        match cpu.run(&mut ram, 1_000_000) {
            Exit::Budget => continue,
            Exit::Interrupt { vector: 0x80 } => {
                let r = cpu.state.regs;
                match r[0] {
                    1 => break,
                    3 => {
                        let n = (r[2] as usize).min(input.len() - pos);
                        ram.write(r[1], &input[pos..pos + n]).expect("read buffer in memory");
                        pos += n;
                        cpu.state.regs[0] = n as u32;
                    }
                    4 => {
                        let mut b = vec![0u8; r[2] as usize];
                        ram.read(r[1], &mut b).expect("write buffer in memory");
                        out.extend_from_slice(&b);
                        cpu.state.regs[0] = r[2];
                    }
                    n => panic!("system call {n} not answered by the test"),
                }
            }
            Exit::Hypercall => match cpu.state.regs[0] {
                17 => {
                    let s = ram.read_cstr(cpu.state.regs[3], 4096).expect("NOTIFY string in memory");
                    out.extend_from_slice(&s);
                }
                2 => break,
                n => panic!("hypercall {n} not expected"),
            },
            e => panic!("program stopped at eip {:#x}: {e:?}", cpu.state.eip),
        }
    }
    GuestRun { stdout: out, instructions: cpu.state.tsc - start, cpu }
}
