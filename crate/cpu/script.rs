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
    /// The Guest kernel's `async_hcall()` (arch/x86/lguest/boot.c, G:037): with its interrupts saved and
    /// turned off, queue hypercall `nr` in the ring slot `next_call` names if that slot is free (0xFF): the
    /// five words, then status 0, then `next_call` moves on; if the slot is still pending the ring is full,
    /// and it makes the call synchronously instead (which has the Host run the whole ring first). Then its
    /// interrupts are restored (`RestoreFlags`).
    AsyncHcall { ring: AsyncRing, nr: u32, args: [u32; 4] },
    /// `local_irq_restore(flags)` as the lguest Guest does it (`lg_restore_fl`): store `flags` into
    /// `irq_enabled`, and if an interrupt the Host left pending (`irq_pending`) is now allowed, ask for it
    /// with LHCALL_SEND_INTERRUPTS.
    RestoreFlags { ring: AsyncRing, flags: u32 },
}

/// Where the words `async_hcall()` touches sit in the Guest's `lguest_data` (Guest-physical addresses),
/// and the numbers it needs: the Guest knows its own ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncRing {
    pub irq_enabled: u32,
    pub irq_pending: u32,
    /// `hcall_status[0]`, one byte a slot.
    pub status: u32,
    /// `hcalls[0]`, five words a slot.
    pub hcalls: u32,
    /// `LHCALL_RING_SIZE`.
    pub size: u32,
    /// `LHCALL_SEND_INTERRUPTS`.
    pub send_interrupts: u32,
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
/// `next_call` is `async_hcall()`'s static: the ring slot it fills next.
pub fn run_script(script: &mut VecDeque<ScriptAction>, esp: &mut u32, next_call: &mut u32, ram: &mut GuestRam, limit: u64) -> ScriptExit {
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
            ScriptAction::AsyncHcall { ring, nr, args } => {
                // local_irq_save(): the flags are irq_enabled, which then reads 0.
                let flags = ram.read_u32(ring.irq_enabled).unwrap_or(0);
                if let Err(e) = store(ram, ring.irq_enabled, &0u32.to_le_bytes()) {
                    return e;
                }
                let slot = *next_call % ring.size.max(1);
                let mut status = [0u8; 1];
                let _ = ram.read(ring.status.wrapping_add(slot), &mut status);
                let status = status[0];
                if status != 0xFF {
                    // The ring is full: a normal hypercall, which flushes it. Interrupts come back after it.
                    script.push_front(ScriptAction::RestoreFlags { ring, flags });
                    return ScriptExit::Hypercall { nr, args };
                }
                let words = [nr, args[0], args[1], args[2], args[3]];
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                // The arguments first, then (after wmb()) the status that hands the slot to the Host.
                if let Err(e) = store(ram, ring.hcalls.wrapping_add(slot * 20), &bytes) {
                    return e;
                }
                if let Err(e) = store(ram, ring.status.wrapping_add(slot), &[0]) {
                    return e;
                }
                *next_call = if slot + 1 == ring.size { 0 } else { slot + 1 };
                script.push_front(ScriptAction::RestoreFlags { ring, flags });
            }
            ScriptAction::RestoreFlags { ring, flags } => {
                if let Err(e) = store(ram, ring.irq_enabled, &flags.to_le_bytes()) {
                    return e;
                }
                if ram.read_u32(ring.irq_pending).unwrap_or(0) & flags != 0 {
                    return ScriptExit::Hypercall { nr: ring.send_interrupts, args: [0; 4] };
                }
            }
        }
    }
    ScriptExit::Idle
}
