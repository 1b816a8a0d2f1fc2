//! Arithmetic, logic, shifts, multiply/divide, bit and BCD instructions (more cases in the differential
//! test against the real processor, tests/cpu_diff.rs).

use super::run_regs;
use crate::cpu::exec::alu::{bcd_op, shift_double_op, shift_op};
use crate::cpu::flags::*;
use crate::cpu::{Exit, Fault};
use iced_x86::Mnemonic as M;

const F: u32 = FIXED1 | IF;

#[test]
fn add_sets_carry_overflow_and_aux() {
    // add %ebx,%eax
    let c = run_regs(&[0x01, 0xd8], [0x7fff_ffff, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0], 0x8000_0000);
    assert_eq!(c.state.eflags & STATUS, OF | SF | AF | PF);
    let c = run_regs(&[0x01, 0xd8], [0xffff_ffff, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0], 0);
    assert_eq!(c.state.eflags & STATUS, CF | ZF | AF | PF);
}

#[test]
fn adc_and_sbb_use_the_carry_in_eight_bits() {
    // stc; adc $5,%al; sbb %dl,%bh
    let c = run_regs(&[0xf9, 0x14, 0x05, 0x18, 0xd7], [0xfa, 0, 0x01, 0x0100, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0] & 0xff, 0x00); // 0xfa + 5 + 1 = 0x100: CF set
    assert_eq!(c.state.regs[3] >> 8 & 0xff, 0xff); // 1 - 1 - CF(1) = 0xff
    assert_eq!(c.state.eflags & CF, CF);
}

#[test]
fn inc_keeps_carry_neg_sets_it_not_touches_nothing() {
    // stc; inc %ax; neg %ecx; not %bl
    let c = run_regs(&[0xf9, 0x66, 0x40, 0xf7, 0xd9, 0xf6, 0xd3], [0x1234_ffff, 5, 0, 0x0f, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0], 0x1234_0000);
    assert_eq!(c.state.regs[1], (-5i32) as u32);
    assert_eq!(c.state.regs[3], 0xf0);
    assert_eq!(c.state.eflags & (CF | ZF), CF); // neg of nonzero: CF=1, ZF=0
}

#[test]
fn cmp_and_test_only_set_flags() {
    // cmp $0x80,%eax; (test leaves eax too)
    let c = run_regs(&[0x3d, 0x80, 0, 0, 0], [0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0], 0x80);
    assert_eq!(c.state.eflags & (ZF | CF), ZF);
}

#[test]
fn shift_and_rotate_flag_rules() {
    // shl by 1 of 0x80 (8 bits): result 0, CF=1, OF=1 (sign changed from CF).
    let (r, f) = shift_op(M::Shl, 0x80, 1, 1, F);
    assert_eq!((r, f & STATUS), (0, CF | OF | ZF | PF));
    // A masked count of zero changes nothing, not even flags.
    assert_eq!(shift_op(M::Shl, 0x80, 32, 1, F | CF), (0x80, F | CF));
    // sar keeps the sign; CF is the last bit out.
    assert_eq!(shift_op(M::Sar, 0x8000_0001, 1, 4, F).0, 0xc000_0000);
    // rcl through 9 bits: count 9 is a full turn.
    assert_eq!(shift_op(M::Rcl, 0x81, 9, 1, F | CF), (0x81, F | CF));
    let (r, f) = shift_op(M::Rcl, 0x81, 1, 1, F);
    assert_eq!((r, f & CF), (0x02, CF));
    // rcr %cl,%dx with CF=1, count 1: 0x0001 -> 0x8000, CF=1, OF = MSB ^ CF before = 0 ^ 1.
    let c = run_regs(&[0xf9, 0x66, 0xd3, 0xda], [0, 1, 1, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[2], 0x8000);
    assert_eq!(c.state.eflags & (CF | OF), CF | OF);
    // ror: CF = new MSB.
    assert_eq!(shift_op(M::Ror, 1, 1, 4, F).1 & CF, CF);
}

#[test]
fn double_shifts() {
    // shld $4,%ebx,%eax
    let c = run_regs(&[0x0f, 0xa4, 0xd8, 0x04], [0x1234_5678, 0, 0, 0xabcd_ef01, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0], 0x2345_678a);
    assert_eq!(c.state.eflags & CF, CF); // bit 28 of 0x12345678 is 1
    assert_eq!(shift_double_op(false, 0x1, 0xf, 4, 4, F).0, 0xf000_0000);
}

#[test]
fn multiply_and_divide() {
    // imul %ebx: -2 * 3 = -6 fits, CF=OF=0
    let c = run_regs(&[0xf7, 0xeb], [(-2i32) as u32, 0, 0, 3, 0, 0, 0, 0]);
    assert_eq!((c.state.regs[0], c.state.regs[2]), ((-6i32) as u32, 0xffff_ffff));
    assert_eq!(c.state.eflags & (CF | OF), 0);
    // imul $7,%ecx,%edx
    let c = run_regs(&[0x6b, 0xd1, 0x07], [0, 0x2000_0000, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[2], 0xe000_0000);
    assert_eq!(c.state.eflags & (CF | OF), CF | OF);
    // div %ecx: edx:eax = 0x1_0000_0005 / 0x10
    let c = run_regs(&[0xf7, 0xf1], [5, 0x10, 1, 0, 0, 0, 0, 0]);
    assert_eq!((c.state.regs[0], c.state.regs[2]), (0x1000_0000, 5));
    // idivb %bl: -7 / 2 = -3 rem -1
    let c = run_regs(&[0xf6, 0xfb], [(-7i16) as u16 as u32, 0, 0, 2, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0] & 0xffff, 0xfffd);
}

#[test]
fn divide_errors_fault_with_eip_on_the_instruction() {
    // div %ecx with ecx = 0
    let (c, _, exit) = super::run_with(&[0x90, 0xf7, 0xf1], |_, _| {});
    assert_eq!(exit, Exit::Fault { fault: Fault::DivideError });
    assert_eq!(c.state.eip, super::CODE + 1);
    // div %ecx whose quotient does not fit in 32 bits
    let (_, _, exit) = super::run_with(&[0xf7, 0xf1], |c, _| c.state.regs = [0, 1, 1, 0, super::STACK, 0, 0, 0]);
    assert_eq!(exit, Exit::Fault { fault: Fault::DivideError });
    // aam $0
    assert!(bcd_op(M::Aam, 0, 0, F).is_err());
}

#[test]
fn bit_test_and_scan() {
    // bt %ecx,%eax with ecx = 33: bit 1 (register operand: modulo 32)
    let c = run_regs(&[0x0f, 0xa3, 0xc8], [2, 33, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.eflags & CF, CF);
    // bsr %eax,%edx
    let c = run_regs(&[0x0f, 0xbd, 0xd0], [0x0001_0010, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!((c.state.regs[2], c.state.eflags & ZF), (16, 0));
    // bsr of zero: ZF set, destination unchanged
    let c = run_regs(&[0x0f, 0xbd, 0xd0], [0, 0, 77, 0, 0, 0, 0, 0]);
    assert_eq!((c.state.regs[2], c.state.eflags & ZF), (77, ZF));
}

#[test]
fn bcd_adjustments() {
    // 0x19 + 0x28 = 0x41 -> daa -> 0x47
    let (ax, f) = bcd_op(M::Daa, 0x41, 0, F | AF).unwrap();
    assert_eq!((ax, f & CF), (0x47, 0));
    // 0x99 + 0x01 = 0x9a -> daa -> 0x00 with CF
    let (ax, f) = bcd_op(M::Daa, 0x9a, 0, F).unwrap();
    assert_eq!((ax, f & (CF | ZF)), (0x00, CF | ZF));
    // aaa on AX = 0x000f -> 0x0105
    assert_eq!(bcd_op(M::Aaa, 0x000f, 0, F).unwrap().0, 0x0105);
    // aam: AL = 73 -> AH 7, AL 3 ; aad $7: AH 2 AL 3 -> 17
    let c = run_regs(&[0xd4, 0x0a], [73, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0] & 0xffff, 0x0703);
    let c = run_regs(&[0xd5, 0x07], [0x0203, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0] & 0xffff, 17);
}

#[test]
fn sign_extensions_and_moves() {
    // cbtw; cwtl (al = 0x80 -> ax = 0xff80 -> eax = 0xffffff80); cltd
    let c = run_regs(&[0x66, 0x98, 0x98, 0x99], [0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!((c.state.regs[0], c.state.regs[2]), (0xffff_ff80, 0xffff_ffff));
    // movzbl %al,%ecx; bswap %eax
    let c = run_regs(&[0x0f, 0xb6, 0xc8, 0x0f, 0xc8], [0x1122_3344, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!((c.state.regs[1], c.state.regs[0]), (0x44, 0x4433_2211));
    // movswl %ax,%ecx
    let c = run_regs(&[0x0f, 0xbf, 0xc8], [0x8001, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[1], 0xffff_8001);
    // cmove %ebx,%eax (ZF from xor %edx,%edx first: 31 d2)
    let c = run_regs(&[0x31, 0xd2, 0x0f, 0x44, 0xc3], [1, 0, 0, 9, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0], 9);
    // stc; setb %al; lahf
    let c = run_regs(&[0xf9, 0x0f, 0x92, 0xc0, 0x9f], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0] & 0xffff, 0x0301);
    // xadd %eax,%ebx
    let c = run_regs(&[0x0f, 0xc1, 0xc3], [3, 0, 0, 4, 0, 0, 0, 0]);
    assert_eq!((c.state.regs[0], c.state.regs[3]), (4, 7));
}

/// Single-step `code` (one instruction) with `regs` and return the flags the step says it left undefined.
fn undefined_after(code: &[u8], regs: [u32; 8]) -> Vec<String> {
    let (mut c, mut ram, _) = super::run_with(&[], |_, _| {});
    ram.write(super::CODE, code).unwrap();
    c.state.regs = regs;
    c.state.regs[crate::cpu::ESP] = super::STACK;
    c.state.eip = super::CODE;
    let rec = c.step(&mut ram);
    assert_eq!(rec.exit, None, "{}", rec.text);
    rec.undefined_flags.into_iter().map(|(f, why)| format!("{f}: {why}")).collect()
}

#[test]
fn the_step_says_which_flags_the_instruction_left_undefined() {
    // shl $3,%eax: OF (a multi-bit shift) and AF.
    assert_eq!(
        undefined_after(&[0xc1, 0xe0, 0x03], [1, 0, 0, 0, 0, 0, 0, 0]),
        ["AF: AF undefined after shl by 3: vendors differ", "OF: OF undefined after shl by 3: vendors differ"]
    );
    // shl %eax (by one): OF is defined; AF is not.
    assert_eq!(undefined_after(&[0xd1, 0xe0], [1, 0, 0, 0, 0, 0, 0, 0]), ["AF: AF undefined after shl by 1: vendors differ"]);
    // shl %cl,%eax with cl = 0x20: the masked count is 0, no flag changes, nothing is undefined.
    assert!(undefined_after(&[0xd3, 0xe0], [1, 0x20, 0, 0, 0, 0, 0, 0]).is_empty());
    // shr %cl,%al by 9: CF too (the count is past the operand's width).
    let f = undefined_after(&[0xd2, 0xe8], [1, 9, 0, 0, 0, 0, 0, 0]);
    assert_eq!(f.iter().map(|s| &s[..2]).collect::<Vec<_>>(), ["CF", "AF", "OF"]);
    // rol $1 defines OF; rol $2 does not.
    assert!(undefined_after(&[0xd1, 0xc0], [1, 0, 0, 0, 0, 0, 0, 0]).is_empty());
    assert_eq!(undefined_after(&[0xc1, 0xc0, 0x02], [1, 0, 0, 0, 0, 0, 0, 0]), ["OF: OF undefined after rol by 2: vendors differ"]);
    // mul %ebx: SF ZF AF PF.
    let f = undefined_after(&[0xf7, 0xe3], [3, 0, 0, 5, 0, 0, 0, 0]);
    assert_eq!(f.iter().map(|s| &s[..2]).collect::<Vec<_>>(), ["PF", "AF", "ZF", "SF"]);
    assert_eq!(f[3], "SF: SF undefined after mul: vendors differ");
    // bsf %ecx,%eax and the P6's repz bsf: CF OF SF AF PF (ZF is defined).
    for code in [&[0x0f, 0xbc, 0xc1][..], &[0xf3, 0x0f, 0xbc, 0xc1]] {
        let f = undefined_after(code, [0, 8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(f.iter().map(|s| &s[..2]).collect::<Vec<_>>(), ["CF", "PF", "AF", "SF", "OF"], "{code:02x?}");
    }
    assert!(undefined_after(&[0xf3, 0x0f, 0xbc, 0xc1], [0, 8, 0, 0, 0, 0, 0, 0])[0].ends_with("after rep bsf: vendors differ"));
    // aad: CF, AF, OF; and %ebx,%eax: AF; add: nothing.
    let f = undefined_after(&[0xd5, 0x0a], [0x0102, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(f.iter().map(|s| &s[..2]).collect::<Vec<_>>(), ["CF", "AF", "OF"]);
    assert_eq!(undefined_after(&[0x21, 0xd8], [1, 0, 0, 1, 0, 0, 0, 0]), ["AF: AF undefined after and: vendors differ"]);
    assert!(undefined_after(&[0x01, 0xd8], [1, 0, 0, 1, 0, 0, 0, 0]).is_empty());
    // The mask, for code that wants bits.
    let mut d = iced_x86::Decoder::new(32, &[0xc1, 0xe0, 0x03], iced_x86::DecoderOptions::NONE);
    let st = crate::cpu::Cpu::new(16, 0).state;
    assert_eq!(crate::cpu::undefined::undefined_mask(&d.decode(), &st), OF | AF);
}
