//! What a single step shows the student: the instruction as GNU as would write it, the registers and
//! flags before and after, every memory access with old and new values, and how the step ended.
//! These are serde snapshot structs (camelCase) that the UI renders as they are.

use iced_x86::{Formatter, GasFormatter, Instruction};
use serde::Serialize;

use super::{CpuState, Exit};

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
    /// AT&T syntax from iced-x86's GNU as formatter, e.g. `addl $0x1,%eax`.
    pub text: String,
    pub before: CpuState,
    pub after: CpuState,
    pub mem: Vec<MemTouch>,
    /// `None` if the instruction simply completed.
    pub exit: Option<Exit>,
}

/// Format one instruction in GNU as (AT&T) syntax, as the course's Guest sources are written.
pub fn format_gas(ins: &Instruction) -> String {
    let mut f = GasFormatter::new();
    let mut out = String::new();
    f.format(ins, &mut out);
    out
}

/// Disassemble `bytes` placed at `ip` as a list of (address, text) lines, for the UI's listing.
pub fn disassemble(bytes: &[u8], ip: u32) -> Vec<(u32, String)> {
    let mut d = iced_x86::Decoder::with_ip(32, bytes, ip as u64, iced_x86::DecoderOptions::NONE);
    let mut out = Vec::new();
    let mut ins = Instruction::default();
    while d.can_decode() {
        d.decode_out(&mut ins);
        out.push((ins.ip32(), if ins.is_invalid() { String::from("(bad)") } else { format_gas(&ins) }));
    }
    out
}
