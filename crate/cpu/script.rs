//! A scripted Guest: a stand-in for the x86 core whose next moves a lesson or test dictates ("NOTIFY
//! 0x7000, then HALT"), so a lesson about the Host's side can stay on the Host's side. It leaves the CPU the
//! way real code does: with a hypercall (`int $0x1f` and the registers of its arguments) or a trap, so
//! everything the Host does after the switch back is the same for both.

use std::collections::VecDeque;

use serde::Serialize;

use crate::guest_ram::GuestRam;

/// One thing the scripted Guest does the next time it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum ScriptAction {
    /// Make hypercall `nr` with up to four arguments (`int $0x1f`).
    Hypercall { nr: u32, args: [u32; 4] },
    /// Store a NUL-terminated string in Guest memory (the Guest's own write; not a trap).
    Store { gpa: u32, bytes: Vec<u8> },
    /// Several stores at once (what a Guest's boot code does to `lguest_data` before LGUEST_INIT).
    Stores { writes: Vec<(u32, Vec<u8>)> },
    /// Load the stack pointer (`mov $esp, %esp`).
    SetStack { esp: u32 },
    /// Take trap `num` (a fault such as 0 for divide error or 14 for a page fault) with an error code.
    Trap { num: u32, errcode: u32 },
}

/// How a run of the scripted Guest ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptExit {
    /// `int $0x1f` with eax = `nr` and ebx, ecx, edx, esi = `args`; the Guest resumes two bytes on.
    Hypercall { nr: u32, args: [u32; 4] },
    /// A trap; for a page fault, `cr2` is the faulting address.
    Trap { num: u32, errcode: u32, cr2: Option<u32> },
    /// The script is empty: the Guest runs with nothing to show the Host.
    Idle,
}

/// Run the script once: take actions off it until one traps. `esp` is the Guest's stack pointer (a
/// `SetStack` loads it); stores at or past `limit` (the Guest's memory, `pfn_limit`) fault.
pub fn run_script(script: &mut VecDeque<ScriptAction>, esp: &mut u32, ram: &mut GuestRam, limit: u64) -> ScriptExit {
    // A store beyond the Guest's memory is a page fault, as it would be for real code; the first byte out
    // of reach is the faulting address.
    let store = |ram: &mut GuestRam, gpa: u32, bytes: &[u8]| -> Result<(), ScriptExit> {
        if gpa as u64 + bytes.len() as u64 > limit || ram.write(gpa, bytes).is_err() {
            return Err(ScriptExit::Trap { num: 14, errcode: 2, cr2: Some(gpa.max(limit.min(u32::MAX as u64) as u32)) });
        }
        Ok(())
    };
    while let Some(action) = script.pop_front() {
        match action {
            ScriptAction::Store { gpa, bytes } => {
                if let Err(e) = store(ram, gpa, &bytes) {
                    return e;
                }
            }
            ScriptAction::Stores { writes } => {
                for (gpa, bytes) in writes {
                    if let Err(e) = store(ram, gpa, &bytes) {
                        return e;
                    }
                }
            }
            ScriptAction::Hypercall { nr, args } => return ScriptExit::Hypercall { nr, args },
            ScriptAction::SetStack { esp: sp } => *esp = sp,
            ScriptAction::Trap { num, errcode } => return ScriptExit::Trap { num, errcode, cr2: None },
        }
    }
    ScriptExit::Idle
}
