//! What ring 1 may not do (#GP for the Host), the hypercall and vmcall paths, cpuid and rdtsc,
//! segment loads, #UD for what is not modelled, single stepping and random code (fuzzing).

use super::{run_exit, run_regs, run_with, CODE, PAGES, STACK};
use crate::cpu::segments::{GUEST_KERNEL_DS, USER_DS};
use crate::cpu::{Cpu, Exit, Fault};
use crate::guest_ram::GuestRam;

#[test]
fn privileged_instructions_are_gp0_with_eip_unchanged() {
    let cases: [&[u8]; 9] = [
        &[0xfa],             // cli
        &[0xfb],             // sti
        &[0xf4],             // hlt
        &[0x0f, 0x01, 0x10], // lgdtl (%eax)
        &[0x0f, 0x20, 0xc0], // mov %cr0,%eax
        &[0xe4, 0x60],       // in $0x60,%al
        &[0xe6, 0x60],       // out %al,$0x60
        &[0x0f, 0x01, 0x38], // invlpg (%eax)
        &[0x0f, 0x30],       // wrmsr
    ];
    for code in cases {
        let mut v = vec![0x90];
        v.extend_from_slice(code);
        let (c, _, exit) = run_exit(&v);
        assert_eq!(exit, Exit::Fault { fault: Fault::gp0() }, "{code:02x?}");
        assert_eq!(c.state.eip, CODE + 1);
        assert_eq!(c.state.eflags, 0x202);
    }
}

#[test]
fn hypercall_registers_and_return() {
    // mov $17,%eax; mov $0x3000,%ebx; int $0x1f
    let (c, _, exit) = run_exit(&[0xb8, 17, 0, 0, 0, 0xbb, 0, 0x30, 0, 0]);
    assert_eq!(exit, Exit::Hypercall);
    assert_eq!((c.state.regs[0], c.state.regs[3], c.state.eip), (17, 0x3000, CODE + 12));
}

#[test]
fn vmcall_is_ud_until_the_host_rewrites_it() {
    let mut ram = GuestRam::new(PAGES);
    ram.write(CODE, &[0x40, 0x0f, 0x01, 0xc1, 0x40]).unwrap(); // inc %eax; vmcall; inc %eax
    let mut cpu = Cpu::new(PAGES, CODE);
    assert_eq!(cpu.run(&mut ram, 10), Exit::Fault { fault: Fault::ud("vmcall") });
    assert_eq!(cpu.state.eip, CODE + 1);
    // The Host's rewrite_hypercall() writes int $0x1f; nop over it in Guest memory (no paging here: eip is
    // the physical address); the decoded-block cache must see the new bytes.
    ram.write(cpu.state.eip, &[0xcd, 0x1f, 0x90]).unwrap();
    assert_eq!(cpu.run(&mut ram, 10), Exit::Hypercall);
    assert_eq!(cpu.state.eip, CODE + 3);
    // ...then the nop, the inc, and on into zeroed memory (add %al,(%eax)) until the budget.
    cpu.run(&mut ram, 2);
    assert_eq!(cpu.state.regs[0], 2);
}

#[test]
fn cpuid_is_a_plain_i686_and_rdtsc_counts_instructions() {
    let c = run_regs(&[0x0f, 0xa2], [0; 8]);
    assert_eq!([c.state.regs[3], c.state.regs[2], c.state.regs[1]], [0x756e_6547, 0x4965_6e69, 0x6c65_746e]);
    let c = run_regs(&[0x0f, 0xa2], [1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[0] >> 8 & 0xf, 6);
    assert_ne!(c.state.regs[2] & (1 << 15), 0); // cmov
                                                // nop; nop; rdtsc: two instructions retired before it
    let c = run_regs(&[0x90, 0x90, 0x0f, 0x31], [0; 8]);
    assert_eq!((c.state.regs[0], c.state.regs[2]), (2, 0));
}

#[test]
fn segment_loads_follow_the_rules() {
    // mov %eax,%ds with user data: allowed at ring 1
    let c = run_regs(&[0x8e, 0xd8], [USER_DS as u32, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.segs[3].selector, USER_DS);
    // The Host's LGUEST_DS (0x58, DPL 0): #GP(0x58)
    let (_, _, exit) = run_with(&[0x8e, 0xd8], |c, _| c.state.regs[0] = 0x59);
    assert_eq!(exit, Exit::Fault { fault: Fault::GeneralProtection { error_code: 0x58 } });
    // A null DS loads, and then using it is #GP(0): mov %eax,%ds; mov (%ebx),%eax
    let (_, _, exit) = run_with(&[0x8e, 0xd8, 0x8b, 0x03], |c, _| c.state.regs[0] = 0);
    assert_eq!(exit, Exit::Fault { fault: Fault::gp0() });
    // push %ds; pop %es
    let c = run_regs(&[0x1e, 0x07], [0; 8]);
    assert_eq!((c.state.segs[0].selector, c.state.regs[4]), (GUEST_KERNEL_DS, STACK));
}

#[test]
fn unmodelled_and_invalid_opcodes_are_named() {
    let (_, _, exit) = run_exit(&[0xd9, 0xe8]); // fld1
    match exit {
        Exit::Fault { fault: Fault::InvalidOpcode { what } } => assert_eq!(what, "fld1 (x87 FPU not modelled)"),
        e => panic!("{e:?}"),
    }
    // An SSE and an MMX instruction are named as such; a plain one without an extension.
    for (code, want) in [
        (&[0x0f, 0x58, 0xc1][..], "addps (SSE not modelled)"),
        (&[0x0f, 0xfc, 0xc1], "paddb (MMX not modelled)"),
        (&[0x0f, 0x01, 0xf9], "rdtscp (not modelled)"),
    ] {
        match run_exit(code).2 {
            Exit::Fault { fault: Fault::InvalidOpcode { what } } => assert_eq!(what, want, "{code:02x?}"),
            e => panic!("{code:02x?}: {e:?}"),
        }
    }
    assert_eq!(run_exit(&[0x0f, 0x0b]).2, Exit::Fault { fault: Fault::ud("ud2") });
    assert_eq!(run_exit(&[0x0f, 0xff]).2.clone(), Exit::Fault { fault: Fault::ud("ud0") });
    assert!(matches!(run_exit(&[0xf0, 0x90]).2, Exit::Fault { fault: Fault::InvalidOpcode { .. } }));
}

#[test]
fn single_step_records_text_state_and_memory() {
    let mut ram = GuestRam::new(PAGES);
    ram.write(CODE, &[0x89, 0x03]).unwrap(); // movl %eax,(%ebx)
    ram.write_u32(0x3000, 0x11).unwrap();
    let mut cpu = Cpu::new(PAGES, CODE);
    cpu.state.regs[0] = 0x22;
    cpu.state.regs[3] = 0x3000;
    let rec = cpu.step(&mut ram);
    assert_eq!(rec.text, "mov %eax,(%ebx)");
    assert_eq!(rec.bytes, vec![0x89, 0x03]);
    assert_eq!((rec.before.eip, rec.after.eip), (CODE, CODE + 2));
    assert_eq!(rec.mem.len(), 1);
    assert_eq!((rec.mem[0].addr, rec.mem[0].old, rec.mem[0].new, rec.mem[0].write), (0x3000, 0x11, 0x22, true));
    assert_eq!(rec.exit, None);
    assert_eq!(rec.flags_after, vec!["IF"]);
    let json = serde_json::to_string(&rec).unwrap();
    assert!(json.contains("\"flagsBefore\":[\"IF\"]"), "{json}");
    assert!(json.contains("\"mem\":[{\"addr\":12288,\"size\":4,\"old\":17,\"new\":34,\"write\":true}]"), "{json}");
    // The listing around EIP.
    let listing = cpu.disassemble_at(&ram, CODE, 2);
    assert_eq!(listing[0], (CODE, vec![0x89, 0x03], String::from("mov %eax,(%ebx)")));
    assert_eq!(listing.len(), 2);
}

/// A tiny seeded PRNG (xorshift64*), so random tests replay exactly.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_code_never_panics_and_always_ends_defined() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut exits = [0usize; 4];
    // FUZZ_ROUNDS=n runs a longer campaign by hand.
    let rounds = std::env::var("FUZZ_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    for round in 0..rounds {
        let mut ram = GuestRam::new(PAGES);
        let mut code = vec![0u8; 64];
        for b in code.iter_mut() {
            // Bias towards prefixes and the 0f escape so more unusual forms are reached.
            *b = match rng.next() % 8 {
                0 => [0x66, 0x67, 0xf2, 0xf3, 0x0f, 0x26, 0x64, 0xf0][(rng.next() % 8) as usize],
                _ => rng.next() as u8,
            };
        }
        ram.write(CODE, &code).unwrap();
        let mut cpu = Cpu::new(PAGES, CODE);
        cpu.use_cache = round % 2 == 0;
        for r in cpu.state.regs.iter_mut() {
            *r = rng.next() as u32;
        }
        if round % 3 == 0 {
            cpu.state.regs[4] = STACK;
        }
        let exit = cpu.run(&mut ram, 2000);
        exits[match exit {
            Exit::Hypercall => 0,
            Exit::Fault { .. } => 1,
            Exit::Interrupt { .. } => 2,
            Exit::Budget => 3,
        }] += 1;
        // Stepping the same bytes also ends defined.
        let rec = cpu.step(&mut ram);
        let _ = serde_json::to_string(&rec).unwrap();
    }
    assert!(exits[1] > 1000, "{exits:?}");
}

#[test]
fn sgdt_and_lds() {
    // sgdtl (%ebx)
    let (_, ram, _) = run_with(&[0x0f, 0x01, 0x03], |c, _| c.state.regs[3] = 0x3000);
    assert_eq!(ram.read_u32(0x3000).unwrap() & 0xffff, 32 * 8 - 1);
    // lds (%ebx),%eax with a far pointer to USER_DS:0x1234
    let (c, _, exit) = run_with(&[0xc5, 0x03], |c, ram| {
        ram.write_u32(0x3000, 0x1234).unwrap();
        ram.write(0x3004, &USER_DS.to_le_bytes()).unwrap();
        c.state.regs[3] = 0x3000;
    });
    assert_eq!(exit, Exit::Hypercall);
    assert_eq!((c.state.regs[0], c.state.segs[3].selector), (0x1234, USER_DS));
}

#[test]
fn the_trap_flag_single_steps() {
    // pushf; orl $0x100,(%esp); popf; nop  -> a debug trap (vector 1) after the nop
    let (c, _, exit) = run_exit(&[0x9c, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x90]);
    assert_eq!(exit, Exit::Interrupt { vector: 1 });
    assert_eq!(c.state.eip, CODE + 10);
}

#[test]
fn a_gdt_change_takes_effect_when_segments_are_reloaded() {
    use crate::cpu::segments::{descriptor, ACC_PRESENT, ACC_RW, ACC_S, FS};
    let (mut c, mut ram, _) = run_exit(&[]);
    // A TLS-like segment with base 0x3000 in entry 6 (selector 0x31 at ring 1).
    c.gdt[6] = descriptor(0x3000, 0xf, ACC_PRESENT | ACC_S | ACC_RW | (1 << 5), 0x4);
    c.load_segment(FS, 0x31).unwrap();
    ram.write_u32(0x3008, 0x4242).unwrap();
    // mov %fs:8,%eax
    ram.write(CODE, &[0x64, 0xa1, 0x08, 0, 0, 0, 0xcd, 0x1f]).unwrap();
    c.state.eip = CODE;
    assert_eq!(c.run(&mut ram, 10), Exit::Hypercall);
    assert_eq!(c.state.regs[0], 0x4242);
    // mov %fs:0x10,%eax is past the 16-byte limit: #GP(0)
    ram.write(CODE, &[0x64, 0xa1, 0x10, 0, 0, 0]).unwrap();
    c.state.eip = CODE;
    assert_eq!(c.run(&mut ram, 10), Exit::Fault { fault: Fault::gp0() });
    // The Host moves the segment; the cached copy only changes on reload.
    c.gdt[6] = descriptor(0x3004, 0xf, ACC_PRESENT | ACC_S | ACC_RW | (1 << 5), 0x4);
    assert_eq!(c.state.segs[FS].base, 0x3000);
    c.reload_segments().unwrap();
    assert_eq!(c.state.segs[FS].base, 0x3004);
    // Removing it makes the reload fail, leaving everything as it was.
    c.gdt[6] = 0;
    assert!(c.reload_segments().is_err());
    assert_eq!(c.state.segs[FS].base, 0x3004);
}

#[test]
fn exits_and_faults_serialize_in_camel_case() {
    let e = Exit::Fault { fault: Fault::PageFault { cr2: 0x1000, error_code: 2 } };
    assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"kind":"fault","fault":{"kind":"pageFault","cr2":4096,"errorCode":2}}"#);
    assert_eq!(serde_json::to_string(&Exit::Interrupt { vector: 3 }).unwrap(), r#"{"kind":"interrupt","vector":3}"#);
    let state = serde_json::to_string(&Cpu::new(1, 0).state).unwrap();
    assert!(state.starts_with(r#"{"regs":[0,0,0,0,0,0,0,0],"eip":0,"eflags":514,"segs":[{"selector":105,"#), "{state}");
}

#[test]
fn not_present_segments_are_np_or_ss() {
    use crate::cpu::segments::{descriptor, ACC_RW, ACC_S};
    // Entry 7: a writable data segment at DPL 1 with P clear (selector 0x39).
    let absent = descriptor(0, 0xfffff, ACC_S | ACC_RW | (1 << 5), 0xc);
    // mov %eax,%ds
    let (_, _, exit) = run_with(&[0x8e, 0xd8], |c, _| {
        c.gdt[7] = absent;
        c.state.regs[0] = 0x39;
    });
    assert_eq!(exit, Exit::Fault { fault: Fault::NotPresent { error_code: 0x38 } });
    // mov %eax,%ss
    let (c, _, exit) = run_with(&[0x8e, 0xd0], |c, _| {
        c.gdt[7] = absent;
        c.state.regs[0] = 0x39;
    });
    assert_eq!(exit, Exit::Fault { fault: Fault::StackFault { error_code: 0x38 } });
    assert_eq!(c.state.segs[2].selector, GUEST_KERNEL_DS);
    assert_eq!(Fault::NotPresent { error_code: 0x38 }.vector(), 11);
    assert_eq!(Fault::StackFault { error_code: 0 }.error_code(), Some(0));
}

#[test]
fn expand_down_segments_are_refused_not_misjudged() {
    use crate::cpu::segments::{descriptor, ACC_DC, ACC_PRESENT, ACC_RW, ACC_S};
    // Entry 9: an expand-down data segment at DPL 1 (selector 0x49); mov %eax,%es
    let (_, _, exit) = run_with(&[0x8e, 0xc0], |c, _| {
        c.gdt[9] = descriptor(0, 0xff, ACC_PRESENT | ACC_S | ACC_RW | ACC_DC | (1 << 5), 0x4);
        c.state.regs[0] = 0x49;
    });
    assert!(matches!(exit, Exit::Fault { fault: Fault::InvalidOpcode { .. } }), "{exit:?}");
}

#[test]
fn an_fpu_instruction_with_ts_set_is_nm_before_anything_else() {
    use crate::cpu::{CR0_MP, CR0_TS};
    let fpu: [(&[u8], &str); 6] = [
        (&[0xd9, 0xe8], "fld1 (x87 FPU not modelled)"),
        (&[0xd9, 0x00], "fld (x87 FPU not modelled)"),    // flds (%eax)
        (&[0xdb, 0xe3], "fninit (x87 FPU not modelled)"), // d8-df: every escape opcode
        (&[0x0f, 0x77], "emms (MMX not modelled)"),
        (&[0x0f, 0x6f, 0xc1], "movq (MMX not modelled)"),   // movq %mm1,%mm0
        (&[0x0f, 0x28, 0xc8], "movaps (SSE not modelled)"), // movaps %xmm0,%xmm1
    ];
    for (code, what) in fpu {
        let mut v = vec![0x90];
        v.extend_from_slice(code);
        // TS set (with or without MP): #NM, vector 7, no error code, EIP still on the instruction.
        for cr0 in [CR0_TS, CR0_TS | CR0_MP] {
            let (c, _, exit) = run_with(&v, |c, _| c.state.cr0 |= cr0);
            assert_eq!(exit, Exit::Fault { fault: Fault::DeviceNotAvailable }, "{code:02x?}");
            assert_eq!((Fault::DeviceNotAvailable.vector(), Fault::DeviceNotAvailable.error_code()), (7, None));
            assert_eq!(c.state.eip, CODE + 1);
        }
        // TS clear: the instruction reaches the FPU, which is not modelled.
        let (c, _, exit) = run_with(&v, |c, _| c.state.cr0 |= CR0_MP);
        assert_eq!(exit, Exit::Fault { fault: Fault::ud(what) }, "{code:02x?}");
        assert_eq!(c.state.eip, CODE + 1);
    }
    // Single-stepped, the same.
    let (mut c, mut ram, _) = run_with(&[], |_, _| {});
    ram.write(CODE, &[0xd9, 0xe8]).unwrap();
    c.state.eip = CODE;
    c.state.cr0 |= CR0_TS;
    assert_eq!(c.step(&mut ram).exit, Some(Exit::Fault { fault: Fault::DeviceNotAvailable }));
}

#[test]
fn fwait_is_nm_only_with_mp_and_ts() {
    use crate::cpu::{CR0_MP, CR0_TS};
    // fwait; nop
    for (cr0, nm) in [(0, false), (CR0_TS, false), (CR0_MP, false), (CR0_MP | CR0_TS, true)] {
        let (c, _, exit) = run_with(&[0x9b, 0x90], |c, _| c.state.cr0 |= cr0);
        if nm {
            assert_eq!(exit, Exit::Fault { fault: Fault::DeviceNotAvailable });
            assert_eq!(c.state.eip, CODE);
        } else {
            assert_eq!(exit, Exit::Hypercall, "cr0 {cr0:#x}: fwait does nothing");
        }
    }
}
