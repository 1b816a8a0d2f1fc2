//! String instructions with and without rep prefixes, both directions, and budget-limited reps.

use super::{run_regs, run_with, CODE, STACK};
use crate::cpu::flags::*;
use crate::cpu::Exit;

#[test]
fn rep_movsb_copies_forward() {
    // rep movsb
    let (c, ram, exit) = run_with(&[0xf3, 0xa4], |c, ram| {
        ram.write(0x3000, b"hello").unwrap();
        c.state.regs = [0, 5, 0, 0, STACK, 0, 0x3000, 0x4000];
    });
    assert_eq!(exit, Exit::Hypercall);
    assert_eq!(ram.read_cstr(0x4000, 16).unwrap(), b"hello");
    assert_eq!((c.state.regs[1], c.state.regs[6], c.state.regs[7]), (0, 0x3005, 0x4005));
}

#[test]
fn rep_stosl_backwards() {
    // std; rep stosl
    let (c, ram, _) = run_with(&[0xfd, 0xf3, 0xab], |c, _| c.state.regs = [0xabcd, 2, 0, 0, STACK, 0, 0, 0x4004]);
    assert_eq!((ram.read_u32(0x4000).unwrap(), ram.read_u32(0x4004).unwrap()), (0xabcd, 0xabcd));
    assert_eq!(c.state.regs[7], 0x3ffc);
}

#[test]
fn repne_scasb_finds_a_byte_and_repe_cmpsw_a_difference() {
    // repnz scasb: find 0 in "abc\0"
    let (c, _, _) = run_with(&[0xf2, 0xae], |c, ram| {
        ram.write(0x3000, b"abc\0").unwrap();
        c.state.regs = [0, 100, 0, 0, STACK, 0, 0, 0x3000];
    });
    assert_eq!((c.state.regs[7], c.state.regs[1]), (0x3004, 96));
    assert_eq!(c.state.eflags & ZF, ZF);
    // repz cmpsw over "abcd" vs "abxd"
    let (c, _, _) = run_with(&[0x66, 0xf3, 0xa7], |c, ram| {
        ram.write(0x3000, b"abcd").unwrap();
        ram.write(0x4000, b"abxd").unwrap();
        c.state.regs = [0, 2, 0, 0, STACK, 0, 0x3000, 0x4000];
    });
    assert_eq!((c.state.regs[1], c.state.regs[6]), (0, 0x3004));
    assert_eq!(c.state.eflags & ZF, 0);
}

#[test]
fn lods_without_rep() {
    // lodsl; lodsl
    let (c, _, _) = run_with(&[0xad, 0xad], |c, ram| {
        ram.write_u32(0x3004, 7).unwrap();
        c.state.regs[6] = 0x3000;
    });
    assert_eq!((c.state.regs[0], c.state.regs[6]), (7, 0x3008));
    let _ = run_regs(&[0xfc], [0; 8]);
}

#[test]
fn a_long_rep_stops_on_budget_and_resumes() {
    let mut ram = crate::guest_ram::GuestRam::new(super::PAGES);
    ram.write(CODE, &[0xf3, 0xaa, 0xcd, 0x1f]).unwrap(); // rep stosb; int $0x1f
    let mut cpu = crate::cpu::Cpu::new(super::PAGES, CODE);
    cpu.state.regs = [0x55, 1000, 0, 0, STACK, 0, 0, 0x3000];
    assert_eq!(cpu.run(&mut ram, 100), Exit::Budget);
    assert_eq!(cpu.state.eip, CODE);
    assert_eq!(cpu.state.regs[1], 900);
    assert_eq!(cpu.run(&mut ram, 10_000), Exit::Hypercall);
    assert_eq!((cpu.state.regs[1], cpu.state.regs[7]), (0, 0x3000 + 1000));
    assert_eq!(ram.read_cstr(0x3000, 2000).unwrap().len(), 1000);
}
