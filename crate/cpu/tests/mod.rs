//! Unit tests of the Guest CPU, one file per instruction group (mooneye-gb style): each test places
//! hand-written bytes in Guest memory, with the GNU as source beside them, runs them, and checks
//! registers, flags, memory and how the run ended.

mod alu;
mod control;
mod memory;
mod p6;
mod string;
mod system;

use super::{Cpu, Exit};
use crate::guest_ram::GuestRam;

/// Where test code is placed, and the initial stack pointer.
pub const CODE: u32 = 0x1000;
pub const STACK: u32 = 0x8000;
/// Test memory: 16 pages, all below `pfn_limit`.
pub const PAGES: u32 = 16;

/// `int $0x1f`, appended to every snippet so a run ends in a hypercall.
pub const HCALL: [u8; 2] = [0xcd, 0x1f];

/// Load `code` (followed by `int $0x1f`) at [`CODE`], let `setup` adjust the CPU, run with a budget.
pub fn run_with(code: &[u8], setup: impl FnOnce(&mut Cpu, &mut GuestRam)) -> (Cpu, GuestRam, Exit) {
    let mut ram = GuestRam::new(PAGES);
    let mut bytes = code.to_vec();
    bytes.extend_from_slice(&HCALL);
    ram.write(CODE, &bytes).unwrap();
    let mut cpu = Cpu::new(PAGES, CODE);
    cpu.state.regs[super::ESP] = STACK;
    setup(&mut cpu, &mut ram);
    let exit = cpu.run(&mut ram, 10_000);
    (cpu, ram, exit)
}

/// Run `code` with the registers given (eax, ecx, edx, ebx, esp, ebp, esi, edi order; esp is
/// replaced by [`STACK`] when given as 0) and expect it to reach the trailing hypercall.
pub fn run_regs(code: &[u8], regs: [u32; 8]) -> Cpu {
    let (cpu, _, exit) = run_with(code, |c, _| {
        let mut r = regs;
        if r[super::ESP] == 0 {
            r[super::ESP] = STACK;
        }
        c.state.regs = r;
    });
    assert_eq!(exit, Exit::Hypercall, "code {code:02x?} did not reach int $0x1f");
    cpu
}

/// Run `code` and return the exit it ends with (not necessarily the hypercall).
pub fn run_exit(code: &[u8]) -> (Cpu, GuestRam, Exit) {
    run_with(code, |_, _| {})
}
