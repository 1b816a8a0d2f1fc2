//! Stack and control transfer: push/pop, pusha/popa, pushf/popf, call/ret, enter/leave, loop, far
//! transfers, iret, software interrupts.

use super::{run_exit, run_regs, run_with, CODE, STACK};
use crate::cpu::flags::*;
use crate::cpu::segments::{GUEST_KERNEL_CS, GUEST_KERNEL_DS, USER_CS, USER_DS};
use crate::cpu::{Delivery, Exit, Fault, ESP};

#[test]
fn push_and_pop_every_size() {
    // push %eax; pushw $0x1234; pop %ebx (0x1234 | low word of eax<<16); popw %cx
    let c = run_regs(&[0x50, 0x66, 0x68, 0x34, 0x12, 0x5b, 0x66, 0x59], [0xaabb_ccdd, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[3], 0xccdd_1234);
    assert_eq!(c.state.regs[1] & 0xffff, 0xaabb);
    assert_eq!(c.state.regs[ESP], STACK);
}

#[test]
fn push_esp_pushes_the_old_value_and_pop_esp_loads() {
    // push %esp; pop %eax ; push %ebx; pop %esp
    let c = run_regs(&[0x54, 0x58, 0x53, 0x5c], [0, 0, 0, 0x6000, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0], STACK);
    assert_eq!(c.state.regs[ESP], 0x6000);
}

#[test]
fn call_and_ret_with_immediate() {
    // call 1f; int $0x1f; 1: pop %edx; push %edx; push $0; push %edx ... simpler: call +0; pop %edx
    let c = run_regs(&[0xe8, 0, 0, 0, 0, 0x5a], [0; 8]);
    assert_eq!(c.state.regs[2], CODE + 5);
    // push $1; call f; (f:) ret $4 -> esp back to STACK after: code layout
    // 0: 6a 01        push $1
    // 2: e8 02 00 00 00  call 9
    // 7: eb 03        jmp 0xc
    // 9: c2 04 00     ret $4
    // c: (int $0x1f)
    let c = run_regs(&[0x6a, 0x01, 0xe8, 0x02, 0, 0, 0, 0xeb, 0x03, 0xc2, 0x04, 0x00], [0; 8]);
    assert_eq!(c.state.regs[ESP], STACK);
}

#[test]
fn pusha_popa_round_trip() {
    // pusha; xor %eax,%eax; xor %esi,%esi; popa
    let regs = [1, 2, 3, 4, 0, 6, 7, 8];
    let c = run_regs(&[0x60, 0x31, 0xc0, 0x31, 0xf6, 0x61], regs);
    assert_eq!(c.state.regs, [1, 2, 3, 4, STACK, 6, 7, 8]);
}

#[test]
fn popf_cannot_touch_if_or_iopl_at_ring_one() {
    // pushl $0x3000 (IOPL 3, IF clear, CF clear); popf; pushf; pop %eax
    let c = run_regs(&[0x68, 0x01, 0x30, 0, 0, 0x9d, 0x9c, 0x58], [0; 8]);
    assert_eq!(c.state.regs[0], FIXED1 | IF | CF);
}

#[test]
fn enter_and_leave() {
    // push %ebp? enter $8,$0; leave
    let c = run_regs(&[0xc8, 0x08, 0x00, 0x00, 0xc9], [0, 0, 0, 0, 0, 0x1234, 0, 0]);
    assert_eq!((c.state.regs[ESP], c.state.regs[5]), (STACK, 0x1234));
    // enter $0,$1 pushes the frame pointer twice
    let c = run_regs(&[0xc8, 0x00, 0x00, 0x01], [0, 0, 0, 0, 0, 0x1234, 0, 0]);
    assert_eq!(c.state.regs[ESP], STACK - 8);
    assert_eq!(c.state.regs[5], STACK - 4);
}

#[test]
fn loop_counts_down() {
    // mov $5,%ecx; 1: inc %eax; loop 1b
    let c = run_regs(&[0xb9, 5, 0, 0, 0, 0x40, 0xe2, 0xfd], [0; 8]);
    assert_eq!((c.state.regs[0], c.state.regs[1]), (5, 0));
    // jecxz taken over a ud2 when ecx == 0: jecxz +2; ud2
    let c = run_regs(&[0xe3, 0x02, 0x0f, 0x0b], [0; 8]);
    assert_eq!(c.state.regs[1], 0);
}

#[test]
fn indirect_jumps_and_calls() {
    // mov $CODE+9,%eax; jmp *%eax; ud2; ud2 ; (9:) call *(%ebx)  with [ebx] -> CODE+0x10
    let target = CODE + 9;
    let mut code = vec![0xb8];
    code.extend_from_slice(&target.to_le_bytes());
    code.extend_from_slice(&[0xff, 0xe0, 0x0f, 0x0b]);
    code.extend_from_slice(&[0xff, 0x13]); // 9: call *(%ebx)
    code.extend_from_slice(&[0x0f, 0x0b, 0x0f, 0x0b, 0x0f, 0x0b]); // b..10
    code.extend_from_slice(&[0x5a]); // 0x11: pop %edx
    let (c, _, exit) = run_with(&code, |c, ram| {
        ram.write_u32(0x3000, CODE + 0x11).unwrap();
        c.state.regs[3] = 0x3000;
    });
    assert_eq!(exit, Exit::Hypercall);
    assert_eq!(c.state.regs[2], CODE + 11);
}

#[test]
fn far_jump_within_the_kernel_segment_and_not_to_the_host() {
    // ljmp $0x61,$CODE+7 ; (7:) nothing
    let mut code = vec![0xea];
    code.extend_from_slice(&(CODE + 7).to_le_bytes());
    code.extend_from_slice(&GUEST_KERNEL_CS.to_le_bytes());
    let c = run_regs(&code, [0; 8]);
    assert_eq!(c.state.segs[1].selector, GUEST_KERNEL_CS);
    // ljmp $0x50,... : the Host's LGUEST_CS, DPL 0
    let mut code = vec![0xea];
    code.extend_from_slice(&(CODE + 7).to_le_bytes());
    code.extend_from_slice(&0x50u16.to_le_bytes());
    let (c, _, exit) = run_exit(&code);
    assert_eq!(exit, Exit::Fault { fault: Fault::GeneralProtection { error_code: 0x50 } });
    assert_eq!(c.state.eip, CODE);
}

#[test]
fn software_interrupts_exit_with_eip_past_them() {
    let (c, _, exit) = run_exit(&[0xcd, 0x80]);
    assert_eq!(exit, Exit::Interrupt { vector: 0x80 });
    assert_eq!(c.state.eip, CODE + 2);
    assert_eq!(run_exit(&[0xcc]).2, Exit::Interrupt { vector: 3 });
    // into without OF falls through to the hypercall; with OF (0x7fffffff + 1) it traps
    assert_eq!(run_exit(&[0xce]).2, Exit::Hypercall);
    let code = [0xb8, 0xff, 0xff, 0xff, 0x7f, 0x40, 0xce];
    assert_eq!(run_exit(&code).2, Exit::Interrupt { vector: 4 });
}

#[test]
fn iret_same_ring_and_out_to_ring_three() {
    // Same ring: frame eip, cs, eflags
    let (c, _, exit) = run_with(&[0xcf], |c, ram| {
        let sp = STACK - 12;
        ram.write_u32(sp, CODE + 0x100).unwrap();
        ram.write_u32(sp + 4, GUEST_KERNEL_CS as u32).unwrap();
        ram.write_u32(sp + 8, 0x202 | CF).unwrap();
        ram.write(CODE + 0x100, &[0xcd, 0x1f]).unwrap();
        c.state.regs[ESP] = sp;
    });
    assert_eq!(exit, Exit::Hypercall);
    assert_eq!((c.state.eflags & CF, c.state.regs[ESP]), (CF, STACK));
    // To ring 3: eip, cs, eflags, esp, ss. The Guest's user code then tries int $0x1f: #GP(0xfa).
    let (c, _, exit) = run_with(&[0xcf], |c, ram| {
        let sp = STACK - 20;
        for (k, v) in [CODE + 0x100, USER_CS as u32, 0x202, 0x5000, USER_DS as u32].iter().enumerate() {
            ram.write_u32(sp + 4 * k as u32, *v).unwrap();
        }
        ram.write(CODE + 0x100, &[0xcd, 0x1f]).unwrap();
        c.state.regs[ESP] = sp;
    });
    assert_eq!(exit, Exit::Fault { fault: Fault::GeneralProtection { error_code: 0x1f * 8 + 2 } });
    assert_eq!((c.state.cpl, c.state.regs[ESP], c.state.segs[2].selector), (3, 0x5000, USER_DS));
    // The kernel's data segments are not for ring 3: DS became null.
    assert_eq!(c.state.segs[3].selector, 0);
}

#[test]
fn deliver_from_ring_three_switches_stacks() {
    let (mut c, mut ram, _) = run_exit(&[]);
    c.state.cpl = 3;
    c.state.segs[1] = crate::cpu::segments::lookup(&c.gdt, USER_CS).unwrap();
    c.state.segs[2] = crate::cpu::segments::lookup(&c.gdt, USER_DS).unwrap();
    c.state.regs[ESP] = 0x5000;
    c.state.eip = 0x1234;
    let d = Delivery {
        vector: 14,
        error_code: Some(6),
        handler_cs: GUEST_KERNEL_CS,
        handler_eip: CODE,
        kernel_ss: GUEST_KERNEL_DS,
        kernel_esp: STACK,
        pushed_eflags: None,
    };
    c.deliver(&mut ram, &d).unwrap();
    assert_eq!((c.state.cpl, c.state.eip, c.state.regs[ESP]), (1, CODE, STACK - 24));
    let frame: Vec<u32> = (0..6).map(|k| ram.read_u32(STACK - 24 + 4 * k).unwrap()).collect();
    assert_eq!(frame, vec![6, 0x1234, USER_CS as u32, c.state.eflags | (0x202 & !c.state.eflags), 0x5000, USER_DS as u32]);
}

#[test]
fn push_and_pop_memory_operands() {
    // pushl (%ebx); popl 4(%ebx)
    let (c, ram, _) = run_with(&[0xff, 0x33, 0x8f, 0x43, 0x04], |c, ram| {
        ram.write_u32(0x3000, 0xfeed).unwrap();
        c.state.regs[3] = 0x3000;
    });
    assert_eq!((ram.read_u32(0x3004).unwrap(), c.state.regs[ESP]), (0xfeed, STACK));
    // popl (%esp): the address is computed after ESP moves up
    let (c, ram, _) = run_with(&[0x6a, 0x07, 0x6a, 0x09, 0x8f, 0x04, 0x24], |_, _| {});
    assert_eq!((c.state.regs[ESP], ram.read_u32(STACK - 4).unwrap()), (STACK - 4, 9));
    // pushw %ds moves ESP by 2; pushl %ds by 4 writing 16 bits
    let c = run_regs(&[0x66, 0x1e], [0; 8]);
    assert_eq!(c.state.regs[ESP], STACK - 2);
}

#[test]
fn far_call_and_far_return() {
    // lcall $0x61,$CODE+9 ; int $0x1f (at 7) ; (9:) lret
    let mut code = vec![0x9a];
    code.extend_from_slice(&(CODE + 9).to_le_bytes());
    code.extend_from_slice(&GUEST_KERNEL_CS.to_le_bytes());
    code.extend_from_slice(&[0xcd, 0x1f, 0xcb]);
    let (c, ram, exit) = run_with(&code, |_, _| {});
    assert_eq!(exit, Exit::Hypercall);
    assert_eq!(c.state.eip, CODE + 9);
    assert_eq!(c.state.regs[ESP], STACK);
    assert_eq!(ram.read_u32(STACK - 4).unwrap(), GUEST_KERNEL_CS as u32);
}

#[test]
fn bound_raises_br() {
    // bound %eax,(%ebx)
    let (c, _, exit) = run_with(&[0x62, 0x03], |c, ram| {
        ram.write_u32(0x3000, 10).unwrap();
        ram.write_u32(0x3004, 20).unwrap();
        c.state.regs = [21, 0, 0, 0x3000, STACK, 0, 0, 0];
    });
    assert_eq!((exit, c.state.eip), (Exit::Fault { fault: Fault::BoundRange }, CODE));
}

#[test]
fn sixteen_bit_code_segments_are_refused_not_misrun() {
    use crate::cpu::segments::{descriptor, ACC_CODE, ACC_PRESENT, ACC_RW, ACC_S};
    // Entry 8: a ring-1 code segment with D clear (selector 0x41); ljmp $0x41,$0
    let (c, _, exit) = run_with(&[0xea, 0, 0, 0, 0, 0x41, 0x00], |c, _| {
        c.gdt[8] = descriptor(0, 0xffff, ACC_PRESENT | ACC_S | ACC_CODE | ACC_RW | (1 << 5), 0);
    });
    assert!(matches!(exit, Exit::Fault { fault: Fault::InvalidOpcode { .. } }), "{exit:?}");
    assert_eq!(c.state.eip, CODE);
}

#[test]
fn lowering_pfn_limit_is_seen_by_cached_code() {
    let (mut c, mut ram, exit) = run_exit(&[0x90]);
    assert_eq!(exit, Exit::Hypercall);
    c.state.eip = CODE;
    c.pfn_limit = CODE >> 12; // the code's own page is now out of bounds
    assert!(matches!(c.run(&mut ram, 10), Exit::Fault { fault: Fault::PageFault { .. } }));
}
