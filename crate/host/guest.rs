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

/// The engine of a virtual CPU.
#[derive(Clone, Debug)]
pub enum GuestEngine {
    Scripted,
    /// The x86 core running the Guest's own code from its memory.
    Cpu(Box<crate::cpu::Cpu>),
}

/// Copy the Host's saved registers into the core before it runs (the Switcher's restore half). Segment
/// registers are reloaded only when the Host changed the selector (interrupt delivery sets cs and ss).
pub fn regs_to_cpu(r: &LguestRegs, c: &mut crate::cpu::Cpu) {
    use crate::cpu::segments::{self, CS, SS};
    use crate::cpu::{EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP};
    let st = &mut c.state;
    st.regs[EAX] = r.eax;
    st.regs[EBX] = r.ebx;
    st.regs[ECX] = r.ecx;
    st.regs[EDX] = r.edx;
    st.regs[ESI] = r.esi;
    st.regs[EDI] = r.edi;
    st.regs[EBP] = r.ebp;
    st.regs[ESP] = r.esp;
    st.eip = r.eip;
    st.eflags = r.eflags;
    if st.segs[CS].selector as u32 != r.cs & 0xffff {
        if let Ok(seg) = segments::load_code_segment(&c.gdt, r.cs as u16) {
            c.state.segs[CS] = seg;
            c.state.cpl = (r.cs & 3) as u8;
        }
    }
    if c.state.segs[SS].selector as u32 != r.ss & 0xffff {
        if let Ok(seg) = segments::load_stack_segment(&c.gdt, r.ss as u16, c.state.cpl) {
            c.state.segs[SS] = seg;
        }
    }
}

/// Copy the core's registers back into the Host's saved registers after it stopped.
pub fn cpu_to_regs(c: &crate::cpu::Cpu, r: &mut LguestRegs) {
    use crate::cpu::segments::{CS, DS, ES, FS, GS, SS};
    use crate::cpu::{EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP};
    let st = &c.state;
    r.eax = st.regs[EAX];
    r.ebx = st.regs[EBX];
    r.ecx = st.regs[ECX];
    r.edx = st.regs[EDX];
    r.esi = st.regs[ESI];
    r.edi = st.regs[EDI];
    r.ebp = st.regs[EBP];
    r.esp = st.regs[ESP];
    r.eip = st.eip;
    r.eflags = st.eflags;
    r.cs = st.segs[CS].selector as u32;
    r.ss = st.segs[SS].selector as u32;
    r.ds = st.segs[DS].selector as u32;
    r.es = st.segs[ES].selector as u32;
    r.fs = st.segs[FS].selector as u32;
    r.gs = st.segs[GS].selector as u32;
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
    cr2: &mut u32,
    ram: &mut GuestRam,
    limit: u64,
) -> GuestExit {
    while let Some(action) = script.pop_front() {
        match action {
            ScriptAction::Store { gpa, bytes } => {
                // A store beyond the Guest's memory is a page fault, as it would be for real code.
                if gpa as u64 + bytes.len() as u64 > limit || ram.write(gpa, &bytes).is_err() {
                    // The first byte that is out of reach is the faulting address.
                    *cr2 = gpa.max(limit.min(u32::MAX as u64) as u32);
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
            ScriptAction::Stores { writes } => {
                for (gpa, bytes) in writes {
                    if gpa as u64 + bytes.len() as u64 > limit || ram.write(gpa, &bytes).is_err() {
                        *cr2 = gpa.max(limit.min(u32::MAX as u64) as u32);
                        regs.trapnum = 14;
                        regs.errcode = 2;
                        return GuestExit::Trap;
                    }
                }
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
