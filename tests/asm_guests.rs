//! The lesson Guests, checked as lguest would see them: loaded at 0x100000, entered at `start`,
//! LGUEST_INIT first with the address of a big enough `struct lguest_data`, and the strings they
//! hand to NOTIFY and SHUTDOWN really where the registers point.
//!
//! A tiny tracker follows the straight-line start of each Guest, remembering `mov $imm, %reg`,
//! and records the registers at every `int $0x1f` until the first branch.

use std::collections::HashMap;

use iced_x86::{Code, Decoder, DecoderOptions, OpKind, Register};
use lguest_sim::asm::{assemble, Program};

const ORIGIN: u32 = 0x100000;
const LHCALL_LGUEST_INIT: u32 = 1;
const LHCALL_SHUTDOWN: u32 = 2;
const LHCALL_NOTIFY: u32 = 17;

fn guest(name: &str) -> Program {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/guests").join(name);
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assemble(&src, ORIGIN).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

/// (eax, ebx, ecx) at each hypercall on the straight-line path from the entry point.
fn hypercalls(p: &Program) -> Vec<(u32, Option<u32>, Option<u32>)> {
    let start = (p.entry - p.origin) as usize;
    let mut d = Decoder::with_ip(32, &p.image[start..], p.entry as u64, DecoderOptions::NONE);
    let mut regs: HashMap<Register, u32> = HashMap::new();
    let mut calls = Vec::new();
    while d.can_decode() {
        let i = d.decode();
        match i.code() {
            Code::Mov_r32_imm32 => {
                regs.insert(i.op0_register(), i.immediate32());
            }
            Code::Int_imm8 if i.immediate8() == 0x1f => {
                let eax = regs.get(&Register::EAX).copied().expect("hypercall with unknown %eax");
                calls.push((eax, regs.get(&Register::EBX).copied(), regs.get(&Register::ECX).copied()));
            }
            _ if i.is_jmp_short_or_near() || i.is_jcc_short_or_near() || i.code() == Code::Hlt => break,
            _ => {
                // Anything else that writes a register we track makes it unknown.
                if i.op_count() > 0 && i.op0_kind() == OpKind::Register {
                    regs.remove(&i.op0_register().full_register32());
                }
            }
        }
    }
    calls
}

fn c_string(p: &Program, addr: u32) -> String {
    let at = (addr - p.origin) as usize;
    let bytes = &p.image[at..];
    let end = bytes.iter().position(|b| *b == 0).expect("string without NUL");
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn check_init(name: &str, p: &Program) {
    assert_eq!(p.entry, ORIGIN, "{name}: `start` should be the first byte");
    assert_eq!(p.symbols.get("start"), Some(&ORIGIN), "{name}");
    let data = *p.symbols.get("lguest_data").unwrap_or_else(|| panic!("{name}: no lguest_data"));
    assert_eq!(data % 4096, 0, "{name}: lguest_data should be page aligned");
    let room = p.origin as usize + p.image.len() - data as usize;
    assert!(room >= 2048, "{name}: only {room} bytes reserved for struct lguest_data");
    let calls = hypercalls(p);
    assert_eq!(calls.first().map(|c| (c.0, c.1)), Some((LHCALL_LGUEST_INIT, Some(data))), "{name}: the first hypercall must be LGUEST_INIT(&lguest_data)");
}

#[test]
fn hello_says_hello_then_powers_down() {
    let p = guest("hello.S");
    check_init("hello.S", &p);
    let calls = hypercalls(&p);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1].0, LHCALL_NOTIFY);
    assert_eq!(c_string(&p, calls[1].1.unwrap()), "Hello from the Guest!\n");
    assert_eq!((calls[2].0, calls[2].2), (LHCALL_SHUTDOWN, Some(1)));
    assert_eq!(c_string(&p, calls[2].1.unwrap()), "Power down");
}

#[test]
fn every_guest_starts_with_lguest_init() {
    for name in ["hello.S", "count.S", "divzero.S", "timer.S"] {
        check_init(name, &guest(name));
    }
}

#[test]
fn divzero_divides_by_zero_at_a_known_address() {
    let p = guest("divzero.S");
    let at = p.symbols["divide"];
    let mut d = Decoder::with_ip(32, &p.image[(at - ORIGIN) as usize..], at as u64, DecoderOptions::NONE);
    let div = d.decode();
    assert_eq!(div.code(), Code::Div_rm32);
    assert_eq!(div.op0_register(), Register::ECX);
    // The UI highlights the source line of the faulting EIP.
    assert!(p.line_of(at).is_some());
}

#[test]
fn timer_handler_ends_with_iret_and_gate_points_at_it() {
    let p = guest("timer.S");
    let (start, end) = (p.symbols["noirq_start"], p.symbols["noirq_end"]);
    assert_eq!(p.image[(end - ORIGIN - 1) as usize], 0xcf, "the no-interrupt window ends right after `iret`");
    assert!(start < end && p.symbols["timer_interrupt"] < start);
    // Interrupts push onto the current stack, and the Host starts a Guest with %esp = 0.
    let mut d = Decoder::with_ip(32, &p.image, ORIGIN as u64, DecoderOptions::NONE);
    let first = d.decode();
    assert_eq!((first.code(), first.op0_register()), (Code::Mov_r32_imm32, Register::ESP));
    assert_eq!(first.immediate32(), p.symbols["stack_top"]);
}
