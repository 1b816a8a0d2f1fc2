//! Memory: addressing modes, page crossing, the `pfn_limit` bound, the Switcher's addresses, and the
//! decoded-block cache staying right when code is overwritten.

use super::{run_exit, run_regs, run_with, CODE, PAGES, STACK};
use crate::cpu::{Cpu, Exit, Fault};
use crate::guest_ram::GuestRam;

#[test]
fn addressing_modes_32_and_16_bit() {
    // movl %eax,(%ebx,%esi,4)
    let (_, ram, _) = run_with(&[0x89, 0x04, 0xb3], |c, _| c.state.regs = [0xdead_beef, 0, 0, 0x3000, STACK, 0, 2, 0]);
    assert_eq!(ram.read_u32(0x3008).unwrap(), 0xdead_beef);
    // movw 0x10(%bp,%si),%ax with 16-bit addressing: (0x1ff0 + 0xe010 + 0x10) & 0xffff = 0x10
    let (c, _, _) = run_with(&[0x67, 0x66, 0x8b, 0x42, 0x10], |c, ram| {
        ram.write_u32(0x10, 0x4321).unwrap();
        c.state.regs = [0, 0, 0, 0, STACK, 0x1_1ff0, 0xe010, 0];
    });
    assert_eq!(c.state.regs[0] & 0xffff, 0x4321);
    // lea 8(%eax,%ecx,2),%edx
    let c = run_regs(&[0x8d, 0x54, 0x48, 0x08], [0x100, 0x10, 0, 0, 0, 0, 0, 0]);
    assert_eq!(c.state.regs[2], 0x128);
}

#[test]
fn accesses_across_a_page_boundary() {
    // movl %eax,(%ebx) then movl (%ebx),%ecx at 0x2ffe
    let (c, ram, _) = run_with(&[0x89, 0x03, 0x8b, 0x0b], |c, _| c.state.regs = [0x1122_3344, 0, 0, 0x2ffe, STACK, 0, 0, 0]);
    assert_eq!(c.state.regs[1], 0x1122_3344);
    assert_eq!(ram.read_u32(0x2ffe).unwrap(), 0x1122_3344);
}

#[test]
fn beyond_pfn_limit_is_a_page_fault_with_cr2() {
    // movl (%ebx),%eax with ebx just past the Guest's memory
    let limit = PAGES * 4096;
    let (c, _, exit) = run_with(&[0x8b, 0x03], |c, _| c.state.regs[3] = limit);
    assert_eq!(exit, Exit::Fault { fault: Fault::PageFault { cr2: limit, error_code: 0 } });
    assert_eq!((c.state.cr2, c.state.eip), (limit, CODE));
    // A write straddling the limit changes nothing: movl %eax,(%ebx)
    let (_, ram, exit) = run_with(&[0x89, 0x03], |c, _| c.state.regs = [0xffff_ffff, 0, 0, limit - 2, STACK, 0, 0, 0]);
    assert_eq!(exit, Exit::Fault { fault: Fault::PageFault { cr2: limit, error_code: 2 } });
    assert_eq!(ram.read(limit - 2, &mut [0u8; 2]), Ok(()));
    assert_eq!(ram.read_u32(limit - 4).unwrap(), 0);
    // A smaller pfn_limit than the memory holds is still the bound.
    let (_, _, exit) = run_with(&[0x8b, 0x03], |c, _| {
        c.pfn_limit = 4;
        c.state.regs[3] = 0x4000;
    });
    assert!(matches!(exit, Exit::Fault { fault: Fault::PageFault { cr2: 0x4000, .. } }));
}

#[test]
fn the_switcher_is_out_of_reach() {
    // movl 0xffc00000,%eax
    let (c, _, exit) = run_exit(&[0xa1, 0x00, 0x00, 0xc0, 0xff]);
    assert_eq!(exit, Exit::Fault { fault: Fault::gp0() });
    assert_eq!(c.state.eip, CODE);
    // A stack access there is #SS: mov $0xffc00004,%esp; push %eax
    let (_, _, exit) = run_exit(&[0xbc, 0x04, 0x00, 0xc0, 0xff, 0x50]);
    assert_eq!(exit, Exit::Fault { fault: Fault::StackFault { error_code: 0 } });
    // Jumping there is #GP at the jump: mov $0xffc00000,%eax; jmp *%eax
    let (c, _, exit) = run_exit(&[0xb8, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xe0]);
    assert_eq!(exit, Exit::Fault { fault: Fault::gp0() });
    assert_eq!(c.state.eip, CODE + 5);
}

#[test]
fn executing_past_memory_faults_on_fetch() {
    let mut ram = GuestRam::new(PAGES);
    let mut cpu = Cpu::new(PAGES, PAGES * 4096 - 1);
    ram.write(PAGES * 4096 - 1, &[0xb8]).unwrap(); // mov $imm32,%eax: needs 4 more bytes
    let exit = cpu.run(&mut ram, 10);
    assert_eq!(exit, Exit::Fault { fault: Fault::PageFault { cr2: PAGES * 4096, error_code: 0 } });
    assert_eq!(cpu.state.eip, PAGES * 4096 - 1);
}

#[test]
fn instructions_straddling_pages_execute() {
    let mut ram = GuestRam::new(PAGES);
    let start = 0x2000 - 3;
    // mov $0x12345678,%eax split 3/2 across the page boundary; int $0x1f
    ram.write(start, &[0xb8, 0x78, 0x56, 0x34, 0x12, 0xcd, 0x1f]).unwrap();
    for cache in [true, false] {
        let mut cpu = Cpu::new(PAGES, start);
        cpu.use_cache = cache;
        assert_eq!(cpu.run(&mut ram, 10), Exit::Hypercall);
        assert_eq!(cpu.state.regs[0], 0x1234_5678);
    }
}

#[test]
fn self_modifying_code_is_seen_by_the_cache() {
    // A loop run twice: the first pass rewrites the immediate of the mov the second pass executes.
    //  0: b8 01 00 00 00     mov $1,%eax
    //  5: 01 c3              add %eax,%ebx
    //  7: c6 05 01 10 00 00 05  movb $5,0x1001     (the mov's immediate)
    //  e: 41                 inc %ecx
    //  f: 83 f9 02           cmp $2,%ecx
    // 12: 75 ec              jne 0
    let code = [0xb8, 0x01, 0, 0, 0, 0x01, 0xc3, 0xc6, 0x05, 0x01, 0x10, 0, 0, 0x05, 0x41, 0x83, 0xf9, 0x02, 0x75, 0xec];
    let c = run_regs(&code, [0; 8]);
    assert_eq!(c.state.regs[3], 1 + 5);
    // The next instruction in the same block is overwritten by the one before it:
    //  0: c6 05 07 10 00 00 40   movb $0x40,0x1007   (turns the nop below into inc %eax)
    //  7: 90                     nop
    let c = run_regs(&[0xc6, 0x05, 0x07, 0x10, 0, 0, 0x40, 0x90], [0; 8]);
    assert_eq!(c.state.regs[0], 1);
}

#[test]
fn host_writes_invalidate_cached_blocks() {
    let mut ram = GuestRam::new(PAGES);
    ram.write(CODE, &[0x40, 0xcd, 0x1f]).unwrap(); // inc %eax; int $0x1f
    let mut cpu = Cpu::new(PAGES, CODE);
    assert_eq!(cpu.run(&mut ram, 10), Exit::Hypercall);
    ram.write(CODE, &[0x48]).unwrap(); // dec %eax
    cpu.state.eip = CODE;
    assert_eq!(cpu.run(&mut ram, 10), Exit::Hypercall);
    assert_eq!(cpu.state.regs[0], 0);
    assert!(cpu.cache_stats().1 >= 2);
}

#[test]
fn a_rewritten_block_runs_as_freshly_decoded() {
    // A cached block whose page is written is brought up to date instruction by instruction when the
    // lengths and the block's end stay the same, and decoded afresh when they do not; either way it must
    // run as the cache-less core runs the new bytes.
    //  0: b8 01 00 00 00   mov $1,%eax
    //  5: 40               inc %eax
    //  6: 40               inc %eax
    //  7: cd 1f            int $0x1f
    let code = [0xb8, 0x01, 0, 0, 0, 0x40, 0x40, 0xcd, 0x1f];
    let rewrites: [(u32, &[u8]); 5] = [
        (1, &[0x07]),                         // mov $7,%eax: the immediate, same length
        (5, &[0x48]),                         // dec %eax: same length, same end
        (8, &[0x80]),                         // int $0x80: the last instruction, still the end
        (6, &[0xcc]),                         // int3: ends the block one instruction early
        (5, &[0x83, 0xc0, 0x05, 0xcd, 0x1f]), // add $5,%eax; int $0x1f: a longer instruction, new boundaries
    ];
    let mut ram = GuestRam::new(PAGES);
    ram.write(CODE, &code).unwrap();
    let mut cached = Cpu::new(PAGES, CODE);
    assert_eq!(cached.run(&mut ram, 10), Exit::Hypercall);
    for (at, bytes) in rewrites {
        ram.write(CODE + at, bytes).unwrap();
        let mut fresh = Cpu::new(PAGES, CODE);
        fresh.use_cache = false;
        let want = fresh.run(&mut ram.clone(), 10);
        cached.state = Cpu::new(PAGES, CODE).state;
        assert_eq!(cached.run(&mut ram, 10), want, "after writing {bytes:02x?} at {at}");
        assert_eq!(cached.state, fresh.state, "after writing {bytes:02x?} at {at}");
    }
}

#[test]
fn budget_bounds_an_infinite_loop() {
    // jmp .
    let (c, _, exit) = run_exit(&[0xeb, 0xfe]);
    assert_eq!(exit, Exit::Budget);
    assert_eq!((c.state.eip, c.state.tsc), (CODE, 10_000));
}

#[test]
fn read_modify_write_on_memory_and_bit_strings() {
    // addw $1,(%ebx); incl 4(%ebx)... : addw $1,(%ebx) then incl (%ebx)
    let (_, ram, _) = run_with(&[0x66, 0x83, 0x03, 0x01, 0xff, 0x03], |c, ram| {
        ram.write_u32(0x3000, 0x0001_ffff).unwrap();
        c.state.regs[3] = 0x3000;
    });
    assert_eq!(ram.read_u32(0x3000).unwrap(), 0x0001_0001); // the word wrapped, then +1
                                                            // bts %eax,(%ebx) with eax = 35 sets bit 3 of the next dword; a negative offset reaches below.
    let (c, ram, _) = run_with(&[0x0f, 0xab, 0x03], |c, _| c.state.regs = [35, 0, 0, 0x3000, STACK, 0, 0, 0]);
    assert_eq!((ram.read_u32(0x3004).unwrap(), c.state.eflags & 1), (8, 0));
    let (_, ram, _) = run_with(&[0x0f, 0xab, 0x03], |c, _| c.state.regs = [(-1i32) as u32, 0, 0, 0x3000, STACK, 0, 0, 0]);
    assert_eq!(ram.read_u32(0x2ffc).unwrap(), 0x8000_0000);
    // btrl $3,(%ebx)
    let (c, ram, _) = run_with(&[0x0f, 0xba, 0x33, 0x03], |c, ram| {
        ram.write_u32(0x3000, 0xff).unwrap();
        c.state.regs[3] = 0x3000;
    });
    assert_eq!((ram.read_u32(0x3000).unwrap(), c.state.eflags & 1), (0xf7, 1));
}

#[test]
fn exchange_and_compare_exchange_in_memory() {
    // xchg %eax,(%ebx)
    let (c, ram, _) = run_with(&[0x87, 0x03], |c, ram| {
        ram.write_u32(0x3000, 5).unwrap();
        c.state.regs = [9, 0, 0, 0x3000, STACK, 0, 0, 0];
    });
    assert_eq!((c.state.regs[0], ram.read_u32(0x3000).unwrap()), (5, 9));
    // cmpxchg8b (%ebx): equal -> store ecx:ebx
    let (c, ram, _) = run_with(&[0x0f, 0xc7, 0x0b], |c, ram| {
        ram.write_u32(0x3000, 1).unwrap();
        ram.write_u32(0x3004, 2).unwrap();
        c.state.regs = [1, 0xcc, 2, 0x3000, STACK, 0, 0, 0];
    });
    assert_eq!((ram.read_u32(0x3000).unwrap(), ram.read_u32(0x3004).unwrap()), (0x3000, 0xcc));
    assert_eq!(c.state.eflags & crate::cpu::flags::ZF, crate::cpu::flags::ZF);
    // cmpxchg %bl,(%ecx): not equal -> al = memory
    let (c, _, _) = run_with(&[0x0f, 0xb0, 0x19], |c, ram| {
        ram.write(0x3000, &[0x42]).unwrap();
        c.state.regs = [0x11, 0x3000, 0, 0x99, STACK, 0, 0, 0];
    });
    assert_eq!(c.state.regs[0], 0x42);
}

#[test]
fn snapshots_restore_exactly_and_runs_are_deterministic() {
    // A loop that stores and computes: run part, snapshot, run on; restore, run on again: same result.
    //  0: 01 c8      add %ecx,%eax
    //  2: 89 04 8d 00 30 00 00   mov %eax,0x3000(,%ecx,4)
    //  9: e2 f5      loop 0
    let code = [0x01, 0xc8, 0x89, 0x04, 0x8d, 0x00, 0x30, 0, 0, 0xe2, 0xf5];
    let mut ram = GuestRam::new(PAGES);
    let mut bytes = code.to_vec();
    bytes.extend_from_slice(&super::HCALL);
    ram.write(CODE, &bytes).unwrap();
    let mut cpu = Cpu::new(PAGES, CODE);
    cpu.state.regs[1] = 500;
    assert_eq!(cpu.run(&mut ram, 700), Exit::Budget);
    let (snap_cpu, snap_ram) = (cpu.clone(), ram.clone());
    assert_eq!(cpu.run(&mut ram, 1_000_000), Exit::Hypercall);
    let (mut cpu2, mut ram2) = (snap_cpu, snap_ram);
    assert_eq!(cpu2.run(&mut ram2, 1_000_000), Exit::Hypercall);
    assert_eq!(cpu2.state, cpu.state);
    assert_eq!(ram2.pages_differing_from(&ram), 1); // equal content, but each wrote its own copy
    for a in (0x3000..0x3800).step_by(4) {
        assert_eq!(ram2.read_u32(a).unwrap(), ram.read_u32(a).unwrap());
    }
    // Single-stepping the same start gives the same final state as running.
    let (mut cpu3, mut ram3) = (cpu2.clone(), ram2.clone());
    cpu3.state = cpu2.state.clone();
    cpu3.state.eip = CODE;
    cpu3.state.regs[1] = 3;
    let mut cpu4 = cpu3.clone();
    let mut ram4 = ram3.clone();
    let exit = cpu3.run(&mut ram3, 100);
    let mut last = None;
    for _ in 0..100 {
        let rec = cpu4.step(&mut ram4);
        if rec.exit.is_some() {
            last = rec.exit;
            break;
        }
    }
    assert_eq!(Some(exit), last);
    assert_eq!(cpu3.state, cpu4.state);
}

#[test]
fn sixteen_bit_addressing_wraps_and_uses_the_16_bit_registers() {
    // movl 4(%bx),%eax with 16-bit addressing: ebx's upper half is ignored
    let (c, _, _) = run_with(&[0x67, 0x8b, 0x47, 0x04], |c, ram| {
        ram.write_u32(0x3004, 0x5555).unwrap();
        c.state.regs[3] = 0xabcd_3000;
    });
    assert_eq!(c.state.regs[0], 0x5555);
    // lea 2(%bx,%si),%eax wraps at 64 KB: 0xffff + 0x0003 + 2 = 0x10004 -> 0x0004
    let c = super::run_regs(&[0x67, 0x8d, 0x40, 0x02], [0, 0, 0, 0xffff, 0, 0, 3, 0]);
    assert_eq!(c.state.regs[0], 4);
    // movw (%bp,%di),%ax: BP-based, so SS is the default segment (flat here)
    let (c, _, _) = run_with(&[0x67, 0x66, 0x8b, 0x03], |c, ram| {
        ram.write_u32(0x3010, 0x7777).unwrap();
        c.state.regs = [0xffff_0000, 0, 0, 0, STACK, 0x3000, 0, 0x10];
    });
    assert_eq!(c.state.regs[0], 0xffff_7777);
}

#[test]
fn sixteen_bit_counts_for_loop_and_strings() {
    // loopw with 16-bit addressing counts in CX: ecx = 0x1_0003 -> three turns, upper half kept
    let c = super::run_regs(&[0x40, 0x67, 0xe2, 0xfc], [0, 0x1_0003, 0, 0, 0, 0, 0, 0]);
    assert_eq!((c.state.regs[0], c.state.regs[1]), (3, 0x1_0000));
    // rep movsb with 16-bit addressing uses CX, SI, DI; SI wraps at 64 KB
    let (c, ram, _) = run_with(&[0x67, 0xf3, 0xa4], |c, ram| {
        ram.write(0xfffe, &[1, 2]).unwrap();
        ram.write(0x0000, &[3]).unwrap();
        c.state.regs = [0, 0xaaaa_0003, 0, 0, STACK, 0, 0xffff_fffe, 0x4000];
    });
    let mut b = [0u8; 3];
    ram.read(0x4000, &mut b).unwrap();
    assert_eq!(b, [1, 2, 3]);
    assert_eq!((c.state.regs[1], c.state.regs[6], c.state.regs[7]), (0xaaaa_0000, 0xffff_0001, 0x4003));
}

#[test]
fn sixteen_bit_stack_operations() {
    // pushw %ax; popw %bx; (call *%ax with 16-bit operand size pushes 2 bytes and jumps to ax)
    let c = super::run_regs(&[0x66, 0x50, 0x66, 0x5b], [0x1234_5678, 0, 0, 0xffff_0000, 0, 0, 0, 0]);
    assert_eq!((c.state.regs[3], c.state.regs[4]), (0xffff_5678, STACK));
}

#[test]
fn peek_reads_through_the_guests_own_tables_where_the_shadow_has_nothing_yet() {
    let mut ram = GuestRam::new(PAGES);
    // The Guest's directory at 0x1000: slot 1 (0x400000-0x7fffff) -> table at 0x2000; its entry 0 -> 0x3000.
    ram.write_u32(0x1000 + 4, 0x2000 | 0x7).unwrap();
    ram.write_u32(0x2000, 0x3000 | 0x7).unwrap();
    ram.write(0x3005, b"H").unwrap();
    let mut c = Cpu::new(PAGES, CODE);
    c.cr3 = Some(crate::cpu::paging::PageDirectory::default());
    assert_eq!(c.peek(&ram, 0x40_0005), None, "the shadow maps nothing, and the CPU was not told the Guest's tables");
    c.guest_tables = Some(0x1000);
    assert_eq!(c.peek(&ram, 0x40_0005), Some(b'H'));
    assert_eq!(c.peek(&ram, 0x40_1005), None, "the table's entry 1 is not present");
    assert_eq!(c.peek(&ram, 0x80_0000), None, "the directory's slot 2 is not present");
}
