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

/// Run `rep` code to its end both ways: fast (run) and element by element (single steps, which take
/// the element loop); everything must agree, including where a fault stops it.
fn run_and_step_agree(code: &[u8], regs: [u32; 8], fill: &dyn Fn(&mut crate::guest_ram::GuestRam)) -> (crate::cpu::Cpu, crate::guest_ram::GuestRam, Exit) {
    let mut ram = crate::guest_ram::GuestRam::new(super::PAGES);
    let mut bytes = code.to_vec();
    bytes.extend_from_slice(&super::HCALL);
    ram.write(CODE, &bytes).unwrap();
    fill(&mut ram);
    let mut cpu = crate::cpu::Cpu::new(super::PAGES, CODE);
    cpu.state.regs = regs;
    let (mut cpu2, mut ram2) = (cpu.clone(), ram.clone());
    let exit = cpu.run(&mut ram, 1_000_000);
    let mut exit2 = Exit::Budget;
    for _ in 0..100_000 {
        if let Some(e) = cpu2.step(&mut ram2).exit {
            if e != Exit::Budget {
                exit2 = e;
                break;
            }
        }
    }
    assert_eq!(exit, exit2);
    assert_eq!(cpu.state, cpu2.state);
    for a in (0..super::PAGES * 4096).step_by(4) {
        assert_eq!(ram.read_u32(a).unwrap(), ram2.read_u32(a).unwrap(), "memory differs at {a:#x}");
    }
    (cpu, ram, exit)
}

#[test]
fn page_sized_rep_runs_match_the_element_loop() {
    // rep movsb of 10,000 bytes from 0x2001 to 0x6003: unaligned, crossing pages on both sides
    let fill = |ram: &mut crate::guest_ram::GuestRam| {
        let data: Vec<u8> = (0..10_000u32).map(|k| (k * 7 + 3) as u8).collect();
        ram.write(0x2001, &data).unwrap();
    };
    let (c, ram, exit) = run_and_step_agree(&[0xf3, 0xa4], [0, 10_000, 0, 0, STACK, 0, 0x2001, 0x6003], &fill);
    assert_eq!(exit, Exit::Hypercall);
    assert_eq!(c.state.regs[1], 0);
    let mut b = [0u8; 4];
    ram.read(0x6003 + 9996, &mut b).unwrap();
    assert_eq!(b[3], (9999u32 * 7 + 3) as u8);
    // rep stosl running off the end of memory: #PF at the first missing byte, with the progress made
    let end = super::PAGES * 4096;
    let (c, _, exit) = run_and_step_agree(&[0xf3, 0xab], [0xabcd_ef01, 5000, 0, 0, STACK, 0, 0, end - 4 * 1500 - 2], &|_| {});
    assert!(matches!(exit, Exit::Fault { fault: crate::cpu::Fault::PageFault { .. } }), "{exit:?}");
    assert_eq!(c.state.regs[1], 5000 - 1500);
    assert_eq!(c.state.eip, CODE);
}

#[test]
fn overlapping_rep_movsb_repeats_the_first_byte() {
    // rep movsb with edi = esi + 1 spreads one byte, element by element, as real processors do
    let fill = |ram: &mut crate::guest_ram::GuestRam| ram.write(0x3000, b"ab").unwrap();
    let (_, ram, _) = run_and_step_agree(&[0xf3, 0xa4], [0, 8, 0, 0, STACK, 0, 0x3000, 0x3001], &fill);
    assert_eq!(ram.read_cstr(0x3000, 16).unwrap(), b"aaaaaaaaa");
}
