//! What runs behind `lguest_arch_run_guest()`: the Guest's code.
//!
//! Two engines: the x86 core executing real Guest code (see [`crate::cpu`]), and a *scripted* Guest whose
//! next hypercalls a lesson or test chooses ("NOTIFY 0x7000, then HALT"). The scripted one lets a lesson
//! about the Host's side stay on the Host's side; both leave the CPU the same way, with a trap number in
//! `regs.trapnum`, so everything after the switch back (`lguest_arch_handle_trap()`) is shared.

use serde::Serialize;

use super::regs::LguestRegs;
use crate::guest_ram::GuestRam;

/// One thing the scripted Guest does the next time it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum ScriptAction {
    /// Make hypercall `nr` with up to four arguments (`int $0x1f`).
    Hypercall { nr: u32, args: [u32; 4] },
    /// Store a NUL-terminated string in Guest memory (the Guest's own write; not a trap).
    Store { gpa: u32, bytes: Vec<u8> },
    /// Load the stack pointer (`mov $esp, %esp`).
    SetStack { esp: u32 },
    /// Take trap `num` (a fault such as 0 for divide error or 14 for a page fault) with an error code.
    Trap { num: u32, errcode: u32 },
}

/// The engine of a virtual CPU.
#[derive(Clone, Debug)]
pub enum GuestEngine {
    Scripted,
}

/// How one trip into the Guest ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestExit {
    /// The Guest trapped to the Host: `regs.trapnum` and `regs.errcode` say why.
    Trap,
    /// The Guest is running and has done nothing the Host must see (a scripted Guest with an empty script,
    /// or real code that used up its time slice): the Launcher stays in `read()`.
    StillRunning,
}

/// Run the scripted Guest once: take actions off the script until one traps to the Host.
pub fn run_scripted(
    script: &mut std::collections::VecDeque<ScriptAction>,
    regs: &mut LguestRegs,
    ram: &mut GuestRam,
    limit: u64,
) -> GuestExit {
    while let Some(action) = script.pop_front() {
        match action {
            ScriptAction::Store { gpa, bytes } => {
                // A store beyond the Guest's memory is a page fault, as it would be for real code.
                if gpa as u64 + bytes.len() as u64 > limit || ram.write(gpa, &bytes).is_err() {
                    regs.trapnum = 14;
                    regs.errcode = 2;
                    return GuestExit::Trap;
                }
            }
            ScriptAction::Hypercall { nr, args } => {
                regs.eax = nr;
                regs.ebx = args[0];
                regs.ecx = args[1];
                regs.edx = args[2];
                regs.esi = args[3];
                regs.trapnum = crate::params::LGUEST_TRAP_ENTRY as u32;
                regs.errcode = 0;
                // `int $0x1f` is two bytes; the Guest resumes after it.
                regs.eip = regs.eip.wrapping_add(2);
                return GuestExit::Trap;
            }
            ScriptAction::SetStack { esp } => regs.esp = esp,
            ScriptAction::Trap { num, errcode } => {
                regs.trapnum = num;
                regs.errcode = errcode;
                return GuestExit::Trap;
            }
        }
    }
    GuestExit::StillRunning
}
