//! Bytes a P6 runs differently from the modern processor iced-x86 decodes for: `f3 0f bc` and `f3 0f bd`
//! are `tzcnt` and `lzcnt` since BMI1/ABM, but a P6 ignores the `f3` and runs `bsf` and `bsr` (see
//! `decode::as_p6`). Each case runs on the fast path (the block cache), on the uncached path and single
//! stepped, which must all agree, and is listed as `repz bsf` / `repz bsr`.

use super::{run_with, CODE, HCALL};
use crate::cpu::flags::{CF, ZF};
use crate::cpu::{Cpu, Exit};
use crate::guest_ram::GuestRam;

/// Run `code` with `regs` three ways (cached, uncached, stepped) and return the CPU, after checking the
/// three agree on registers and flags.
fn run3(code: &[u8], regs: [u32; 8], setup: impl Fn(&mut GuestRam)) -> Cpu {
    let mut ends = Vec::new();
    for cache in [true, false] {
        let (c, _, exit) = run_with(code, |c, ram| {
            c.use_cache = cache;
            let esp = c.state.regs[crate::cpu::ESP];
            c.state.regs = regs;
            c.state.regs[crate::cpu::ESP] = esp;
            setup(ram);
        });
        assert_eq!(exit, Exit::Hypercall, "{code:02x?} (cache {cache})");
        ends.push(c);
    }
    let (mut c, mut ram, _) = run_with(&[], |_, _| {});
    let mut bytes = code.to_vec();
    bytes.extend_from_slice(&HCALL);
    ram.write(CODE, &bytes).unwrap();
    setup(&mut ram);
    let esp = c.state.regs[crate::cpu::ESP];
    c.state.regs = regs;
    c.state.regs[crate::cpu::ESP] = esp;
    c.state.eip = CODE;
    while c.state.eip < CODE + code.len() as u32 {
        let rec = c.step(&mut ram);
        assert_eq!(rec.exit, None, "{}", rec.text);
    }
    for e in &ends {
        assert_eq!((e.state.regs, e.state.eflags), (c.state.regs, c.state.eflags), "{code:02x?}: the paths differ");
    }
    c
}

#[test]
fn rep_bsf_is_bsf_on_a_p6() {
    // repz bsf %ecx,%eax (f3 0f bc c1): the lowest set bit of 0x50 is 4; ZF clear.
    let c = run3(&[0xf3, 0x0f, 0xbc, 0xc1], [0xdead, 0x50, 0, 0, 0, 0, 0, 0], |_| {});
    assert_eq!(c.state.regs[0], 4);
    assert_eq!(c.state.eflags & ZF, 0);
    // A zero source: ZF set and the destination left alone (tzcnt would write 32 and set CF).
    let c = run3(&[0xf9, 0xf3, 0x0f, 0xbc, 0xc1], [0xdead, 0, 0, 0, 0, 0, 0, 0], |_| {});
    assert_eq!(c.state.regs[0], 0xdead);
    assert_eq!(c.state.eflags & (ZF | CF), ZF | CF, "stc before it: CF is bsf's to leave, not tzcnt's to set");
    // 16 bits: repz bsf %cx,%ax (66 f3 0f bc c1) keeps eax's top half.
    let c = run3(&[0x66, 0xf3, 0x0f, 0xbc, 0xc1], [0x1234_0000, 0x8000, 0, 0, 0, 0, 0, 0], |_| {});
    assert_eq!(c.state.regs[0], 0x1234_000f);
    let c = run3(&[0x66, 0xf3, 0x0f, 0xbc, 0xc1], [0x1234_5678, 0xffff_0000, 0, 0, 0, 0, 0, 0], |_| {});
    assert_eq!((c.state.regs[0], c.state.eflags & ZF), (0x1234_5678, ZF), "only cx is scanned");
}

#[test]
fn rep_bsr_is_bsr_on_a_p6() {
    // repz bsr %ecx,%eax (f3 0f bd c1): the highest set bit of 0x50 is 6 (lzcnt would say 25).
    let c = run3(&[0xf3, 0x0f, 0xbd, 0xc1], [0, 0x50, 0, 0, 0, 0, 0, 0], |_| {});
    assert_eq!((c.state.regs[0], c.state.eflags & ZF), (6, 0));
    let c = run3(&[0xf3, 0x0f, 0xbd, 0xc1], [0x77, 0, 0, 0, 0, 0, 0, 0], |_| {});
    assert_eq!((c.state.regs[0], c.state.eflags & ZF), (0x77, ZF));
    // repz bsr %cx,%ax
    let c = run3(&[0x66, 0xf3, 0x0f, 0xbd, 0xc1], [0xaaaa_0000, 0x0101, 0, 0, 0, 0, 0, 0], |_| {});
    assert_eq!(c.state.regs[0], 0xaaaa_0008);
}

#[test]
fn the_memory_forms_read_their_operand() {
    // repz bsf (%ebx),%eax and repz bsrw 0x2(%ebx),%dx, on the dword 0x0100_0040 at 0x3000.
    let put = |ram: &mut GuestRam| ram.write(0x3000, &0x0100_0040u32.to_le_bytes()).unwrap();
    let c = run3(&[0xf3, 0x0f, 0xbc, 0x03, 0x66, 0xf3, 0x0f, 0xbd, 0x53, 0x02], [0, 0, 0x5555, 0x3000, 0, 0, 0, 0], put);
    assert_eq!(c.state.regs[0], 6);
    assert_eq!(c.state.regs[2], 8);
    let zero = |ram: &mut GuestRam| ram.write(0x3000, &[0; 4]).unwrap();
    let c = run3(&[0xf3, 0x0f, 0xbc, 0x03], [9, 0, 0, 0x3000, 0, 0, 0, 0], zero);
    assert_eq!((c.state.regs[0], c.state.eflags & ZF), (9, ZF));
    // Beyond memory: the page fault of any memory read, with nothing changed.
    let (c, _, exit) = run_with(&[0xf3, 0x0f, 0xbc, 0x03], |c, _| c.state.regs[3] = 0x10_0000);
    assert!(matches!(exit, Exit::Fault { fault: crate::cpu::Fault::PageFault { cr2: 0x10_0000, .. } }), "{exit:?}");
    assert_eq!(c.state.eip, CODE);
}

#[test]
fn they_are_listed_as_the_p6_runs_them() {
    let (c, mut ram, _) = run_with(&[], |_, _| {});
    let code = [0xf3, 0x0f, 0xbc, 0xc1, 0x66, 0xf3, 0x0f, 0xbd, 0x03, 0xf3, 0x0f, 0xbc, 0x00];
    ram.write(CODE, &code).unwrap();
    let texts: Vec<String> = c.disassemble_at(&ram, CODE, 3).into_iter().map(|(_, _, t)| t).collect();
    assert_eq!(texts, ["repz bsf %ecx,%eax", "repz bsr (%ebx),%ax", "repz bsf (%eax),%eax"]);
    let listed: Vec<String> = crate::cpu::trace::disassemble(&code, CODE).into_iter().map(|(_, t)| t).collect();
    assert_eq!(listed, texts);
    let mut c = c;
    c.state.eip = CODE;
    assert_eq!(c.step(&mut ram).text, "repz bsf %ecx,%eax");
}
