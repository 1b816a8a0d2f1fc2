//! What a single step shows the student: the instruction as GNU as would write it, the registers and
//! flags before and after, every memory access with old and new values, and how the step ended.
//! These are serde snapshot structs (camelCase) that the UI renders as they are.

use iced_x86::Instruction;
use serde::Serialize;

use super::{flags, CpuState, Exit};

/// One memory access by the stepped instruction. Reads have `old == new`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemTouch {
    /// Linear address (guest-physical while paging is off).
    pub addr: u32,
    pub size: u32,
    pub old: u32,
    pub new: u32,
    pub write: bool,
}

/// The record of one [`super::Cpu::step`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub eip: u32,
    pub bytes: Vec<u8>,
    /// AT&T syntax as objdump prints it (see [`super::att`]), e.g. `addl $0x1,(%eax)`.
    pub text: String,
    pub before: CpuState,
    pub after: CpuState,
    pub mem: Vec<MemTouch>,
    /// The set EFLAGS bits by name, before and after ("CF", "ZF", "IF", ...), for the flags pane.
    pub flags_before: Vec<&'static str>,
    pub flags_after: Vec<&'static str>,
    /// The status flags this instruction left architecturally undefined (see [`super::undefined`]), each with
    /// the sentence the pane shows: the value in `after` is one vendor's, not the architecture's.
    pub undefined_flags: Vec<(String, String)>,
    /// `None` if the instruction simply completed. A `rep` string instruction is stepped one
    /// iteration at a time: until its last iteration the step ends in `Budget` with EIP still on it.
    pub exit: Option<Exit>,
}

/// The nine flags the Guest CPU pane shows, in the order a student reads them, each with whether it is set.
pub fn flag_states(eflags: u32) -> Vec<(String, bool)> {
    [
        (flags::CF, "CF"),
        (flags::PF, "PF"),
        (flags::AF, "AF"),
        (flags::ZF, "ZF"),
        (flags::SF, "SF"),
        (flags::TF, "TF"),
        (flags::IF, "IF"),
        (flags::DF, "DF"),
        (flags::OF, "OF"),
    ]
    .iter()
    .map(|(bit, n)| (n.to_string(), eflags & bit != 0))
    .collect()
}

/// The names of the EFLAGS bits set in `eflags` (IOPL shown as "IOPL=n" when not zero).
pub fn flag_names(eflags: u32) -> Vec<&'static str> {
    const NAMES: [(u32, &str); 13] = [
        (flags::CF, "CF"),
        (flags::PF, "PF"),
        (flags::AF, "AF"),
        (flags::ZF, "ZF"),
        (flags::SF, "SF"),
        (flags::TF, "TF"),
        (flags::IF, "IF"),
        (flags::DF, "DF"),
        (flags::OF, "OF"),
        (flags::NT, "NT"),
        (flags::RF, "RF"),
        (flags::AC, "AC"),
        (flags::ID, "ID"),
    ];
    let mut v: Vec<&'static str> = NAMES.iter().filter(|(bit, _)| eflags & bit != 0).map(|(_, n)| *n).collect();
    match flags::iopl(eflags) {
        1 => v.push("IOPL=1"),
        2 => v.push("IOPL=2"),
        3 => v.push("IOPL=3"),
        _ => {}
    }
    v
}

/// Disassemble `bytes` placed at `ip` as a list of (address, text) lines, for the UI's listing.
pub fn disassemble(bytes: &[u8], ip: u32) -> Vec<(u32, String)> {
    let mut d = iced_x86::Decoder::with_ip(32, bytes, ip as u64, iced_x86::DecoderOptions::NONE);
    let mut out = Vec::new();
    let mut ins = Instruction::default();
    while d.can_decode() {
        d.decode_out(&mut ins);
        super::decode::as_p6(&mut ins);
        out.push((ins.ip32(), super::att::format(&ins)));
    }
    out
}
