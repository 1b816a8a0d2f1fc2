//! The lesson Guests, assembled by our assembler, booted by the simulated Launcher on the x86 core:
//! what they print and how they end must be what the lessons promise.
//!
//! `launch()` takes what the real Launcher takes, an ELF executable, so we wrap the flat image in
//! the smallest one: an ELF header, one PT_LOAD program header, the bytes.

use lguest_sim::asm::{assemble, Program};
use lguest_sim::scenario::launch::launch;

const ORIGIN: u32 = 0x100000;

/// An ELF32 i386 executable with `p.image` as one loadable, executable segment at `p.origin`.
fn elf(p: &Program) -> Vec<u8> {
    const EHDR: usize = 52;
    const PHDR: usize = 32;
    let mut f = vec![0u8; EHDR + PHDR];
    f[0..7].copy_from_slice(b"\x7fELF\x01\x01\x01"); // ELFCLASS32, little-endian, version 1
    let put16 = |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |f: &mut Vec<u8>, at: usize, v: u32| f[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put16(&mut f, 16, 2); // ET_EXEC
    put16(&mut f, 18, 3); // EM_386
    put32(&mut f, 20, 1); // EV_CURRENT
    put32(&mut f, 24, p.entry);
    put32(&mut f, 28, EHDR as u32); // e_phoff
    put16(&mut f, 40, EHDR as u16); // e_ehsize
    put16(&mut f, 42, PHDR as u16); // e_phentsize
    put16(&mut f, 44, 1); // e_phnum
    let ph = EHDR;
    put32(&mut f, ph, 1); // PT_LOAD
    put32(&mut f, ph + 4, (EHDR + PHDR) as u32); // p_offset
    put32(&mut f, ph + 8, p.origin); // p_vaddr
    put32(&mut f, ph + 12, p.origin); // p_paddr
    put32(&mut f, ph + 16, p.image.len() as u32); // p_filesz
    put32(&mut f, ph + 20, p.image.len() as u32); // p_memsz
    put32(&mut f, ph + 24, 7); // PF_R | PF_W | PF_X
    f.extend_from_slice(&p.image);
    f
}

fn run(name: &str) -> (String, String, i32, Program) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/guests").join(name);
    let src = std::fs::read_to_string(&path).unwrap();
    let p = assemble(&src, ORIGIN).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let r = launch(&elf(&p), 32);
    (String::from_utf8_lossy(&r.stdout).into_owned(), r.stderr, r.exit_code, p)
}

#[test]
fn hello_prints_and_powers_down() {
    let (out, err, code, _) = run("hello.S");
    assert_eq!(out, "Hello from the Guest!\n");
    assert_eq!(err, "lguest: CRASH: Power down\n");
    assert_eq!(code, 1);
}

#[test]
fn count_prints_the_sum_of_squares() {
    let (out, err, _, _) = run("count.S");
    assert_eq!(out, "sum of squares 1..10 = 385\n");
    assert_eq!(err, "lguest: CRASH: Power down\n");
}

#[test]
fn divzero_is_killed_at_its_div() {
    let (out, err, code, p) = run("divzero.S");
    assert_eq!(out, "About to divide by zero...\n");
    let at = p.symbols["divide"];
    assert_eq!(err, format!("lguest: unhandled trap 0 at {at:#x} (0x0)\n"));
    assert_eq!(code, 1);
}

#[test]
fn timer_counts_five_ticks() {
    let (out, err, _, _) = run("timer.S");
    assert_eq!(out, "ticks: 5\n");
    assert_eq!(err, "lguest: CRASH: Power down\n");
}
