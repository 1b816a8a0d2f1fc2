//! The Guest CPU pane's stepper: the timeline a step recorded ([`crate::cpu::timeline`]), shown one
//! instruction at a time: registers, flags, the listing around EIP with the program's labels and source
//! line, the stack, and what the last instruction read and wrote. Going to any instruction, back or forth,
//! and running to a Guest-address breakpoint are replays from the nearest checkpoint, so they take about a
//! millisecond however long the run was. Pure Rust, like `view`: `crate::wasm` hands these structs to the
//! page.

use serde::Serialize;

use crate::cpu::timeline::{Replay, Timeline, TripView};
use crate::cpu::{Cpu, MemTouch, StepRecord};
use crate::guest_ram::GuestRam;
use crate::scenario::run::LoadedProgram;

/// Bytes in a row of the memory views (narrow enough for the pane's column), and rows shown of the stack.
pub const ROW_BYTES: u32 = 8;
const STACK_ROWS: u32 = 6;
/// Instructions listed around EIP: before it (when the program says where instructions start) and after.
const LIST_BEFORE: usize = 4;
const LIST_AFTER: usize = 7;
/// The most rows `memory()` shows at once.
pub const MAX_MEMORY_ROWS: u32 = 64;

/// A recorded timeline with what is needed to show it: the program that ran, and a replay kept between
/// calls so stepping forward costs one instruction.
#[derive(Clone, Debug)]
pub struct Stepper {
    pub timeline: Box<Timeline>,
    pub program: Option<LoadedProgram>,
    /// Which Guest (the index of its `struct lguest`) the timeline followed, if it still lives.
    pub guest: Option<usize>,
    replay: Option<Replay>,
}

/// One line of the listing.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingLine {
    pub addr: u32,
    /// The program's label at this address, if it has one.
    pub label: Option<String>,
    pub text: String,
    pub current: bool,
}

/// [`ROW_BYTES`] bytes of Guest memory at a linear address (`None` where nothing is mapped), with those the last
/// instruction read or wrote marked.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryRow {
    pub addr: u32,
    pub bytes: Vec<Option<u8>>,
    pub read: Vec<bool>,
    pub written: Vec<bool>,
    /// The same bytes as text: printable ASCII as itself, anything else `.`, nothing mapped ` `.
    pub ascii: String,
}

/// What the last instruction did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastInstruction {
    pub eip: u32,
    pub text: String,
    pub bytes: Vec<u8>,
    /// Registers it changed: (name, before, after).
    pub changed: Vec<(String, u32, u32)>,
    pub flags_before: Vec<&'static str>,
    pub flags_after: Vec<&'static str>,
    pub mem: Vec<MemTouch>,
    /// A `rep` iteration that leaves EIP on the instruction.
    pub repeating: bool,
}

/// The Guest CPU at one position of a step's timeline.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestAt {
    pub position: u64,
    pub total: u64,
    /// Which run of the Guest (trip) it is in, counting from 0; that run; how many runs there were.
    pub trip: usize,
    pub trip_info: Option<TripView>,
    pub trip_count: usize,
    /// Why the recording stopped early, if it did.
    pub note: Option<String>,
    pub program: Option<String>,
    pub regs: Vec<(String, u32)>,
    pub eip: u32,
    pub eflags: u32,
    pub flags: Vec<(String, bool)>,
    /// The flags the instruction just executed left architecturally undefined, each with the sentence to
    /// show instead of its value as fact ("OF undefined after shl by 3: vendors differ").
    pub undefined_flags: Vec<(String, String)>,
    pub cpl: u8,
    pub listing: Vec<ListingLine>,
    pub source_line: Option<usize>,
    pub source_text: Option<String>,
    /// Rows of memory from the Guest's stack pointer (the row holding `ss` base + esp, then up), and what
    /// they are, in words: the stack from esp, or, at esp 0 (a Guest that set up no stack), only memory.
    pub stack: Vec<MemoryRow>,
    pub stack_from: u32,
    pub stack_title: String,
    pub last: Option<LastInstruction>,
    /// Something went wrong replaying (a simulator bug, reported rather than shown wrongly).
    pub error: Option<String>,
}

const REG_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
/// The order a student reads them in.
const REG_ORDER: [usize; 8] = [0, 3, 1, 2, 6, 7, 5, 4];

impl Stepper {
    pub fn new(timeline: Box<Timeline>, program: Option<LoadedProgram>, guest: Option<usize>) -> Stepper {
        Stepper { timeline, program, guest, replay: None }
    }

    pub fn total(&self) -> u64 {
        self.timeline.total()
    }

    /// The replay kept from last time, or a fresh one at the start.
    fn take_replay(&mut self) -> Option<Replay> {
        self.replay.take().or_else(|| self.timeline.replay())
    }

    /// The Guest CPU after `pos` units of the step's work (clamped to the end), with the instruction that
    /// got it there.
    pub fn at(&mut self, pos: u64) -> GuestAt {
        let pos = pos.min(self.total());
        let Some(mut r) = self.take_replay() else {
            return self.view(None, pos, None, Some("nothing was recorded".into()));
        };
        match self.timeline.step_into(&mut r, pos) {
            Ok(rec) => {
                let v = self.view(Some(&r), r.pos, rec, None);
                self.replay = Some(r);
                v
            }
            // A replay that went wrong is not kept: the next call starts afresh from a checkpoint.
            Err(e) => self.view(Some(&r), r.pos, None, Some(e)),
        }
    }

    /// The next position after `from` where the Guest is about to run an instruction at one of `stops`.
    pub fn find(&mut self, from: u64, stops: &[u32]) -> Result<Option<u64>, String> {
        let mut r = self.take_replay().ok_or("nothing was recorded")?;
        let out = self.timeline.find(&mut r, from, stops);
        if out.is_ok() {
            self.replay = Some(r);
        }
        out
    }

    /// The first position where the Guest is about to run an instruction at one of `stops`, counting the
    /// very first instruction of the step too.
    pub fn first_hit(&mut self, stops: &[u32]) -> Result<Option<u64>, String> {
        let mut r = self.take_replay().ok_or("nothing was recorded")?;
        let start = self.timeline.seek(&mut r, 0).map(|()| r.cpu.state.eip)?;
        self.replay = Some(r);
        if stops.contains(&start) {
            return Ok(Some(0));
        }
        self.find(0, stops)
    }

    /// `rows` rows of [`ROW_BYTES`] bytes of Guest memory from linear address `addr` (rounded down to a row),
    /// as the Guest sees it at position `pos`.
    pub fn memory(&mut self, pos: u64, addr: u32, rows: u32) -> Result<Vec<MemoryRow>, String> {
        let mut r = self.take_replay().ok_or("nothing was recorded")?;
        self.timeline.seek(&mut r, pos)?;
        let out = memory_rows(&r.cpu, &r.ram, addr & !(ROW_BYTES - 1), rows.clamp(1, MAX_MEMORY_ROWS), &[]);
        self.replay = Some(r);
        Ok(out)
    }

    /// The address of a label of the program (`top`, `_start`), for a breakpoint typed by name.
    pub fn symbol(&self, name: &str) -> Option<u32> {
        self.program.as_ref()?.symbols.get(name).copied()
    }

    fn view(&self, r: Option<&Replay>, pos: u64, rec: Option<StepRecord>, error: Option<String>) -> GuestAt {
        let tl = &self.timeline;
        let trip = tl.trip_of(pos);
        let mut v = GuestAt {
            position: pos,
            total: tl.total(),
            trip,
            trip_info: tl.trip_view(trip),
            trip_count: tl.trip_count(),
            note: tl.note.clone(),
            program: self.program.as_ref().map(|p| p.name.clone()),
            regs: Vec::new(),
            eip: 0,
            eflags: 0,
            flags: Vec::new(),
            undefined_flags: Vec::new(),
            cpl: 0,
            listing: Vec::new(),
            source_line: None,
            source_text: None,
            stack: Vec::new(),
            stack_from: 0,
            stack_title: String::new(),
            last: None,
            error,
        };
        let Some(r) = r else { return v };
        let st = &r.cpu.state;
        v.regs = REG_ORDER.iter().map(|&k| (REG_NAMES[k].to_string(), st.regs[k])).collect();
        v.eip = st.eip;
        v.eflags = st.eflags;
        v.cpl = st.cpl;
        v.flags = crate::cpu::trace::flag_states(st.eflags);
        v.listing = listing(&r.cpu, &r.ram, self.program.as_ref());
        if let Some(prog) = &self.program {
            let phys = r.cpu.linear_to_physical(st.segs[crate::cpu::segments::CS].base.wrapping_add(st.eip));
            v.source_line = phys.and_then(|a| prog.lines.iter().find(|(x, _)| *x == a)).map(|(_, l)| *l);
            v.source_text = v.source_line.and_then(|l| prog.source.lines().nth(l.wrapping_sub(1))).map(|t| t.trim().to_string());
        }
        let touched: Vec<MemTouch> = rec.as_ref().map(|x| x.mem.clone()).unwrap_or_default();
        let esp = st.regs[crate::cpu::ESP];
        let ss = st.segs[crate::cpu::segments::SS].base;
        v.stack_from = ss.wrapping_add(esp);
        v.stack = memory_rows(&r.cpu, &r.ram, v.stack_from & !(ROW_BYTES - 1), STACK_ROWS, &touched);
        v.stack_title = stack_title(esp);
        v.undefined_flags = rec.as_ref().map(|x| x.undefined_flags.clone()).unwrap_or_default();
        v.last = rec.map(|x| LastInstruction {
            eip: x.eip,
            changed: (0..8).filter(|&k| x.before.regs[k] != x.after.regs[k]).map(|k| (REG_NAMES[k].to_string(), x.before.regs[k], x.after.regs[k])).collect(),
            repeating: x.after.eip == x.eip && x.exit.is_some(),
            text: x.text,
            bytes: x.bytes,
            flags_before: x.flags_before,
            flags_after: x.flags_after,
            mem: x.mem,
        });
        v
    }
}

/// What the rows from the stack pointer are: the stack, or (esp 0: the Guest has set up none) just memory.
fn stack_title(esp: u32) -> String {
    if esp == 0 {
        "Memory at esp 0x0 (this Guest has set up no stack)".into()
    } else {
        format!("The stack, from esp {esp:#x}")
    }
}

/// The listing around EIP: from a few instructions before it, where the program says instructions start
/// (x86 cannot be decoded backwards), to a few after; each line with the program's label.
fn listing(cpu: &Cpu, ram: &GuestRam, prog: Option<&LoadedProgram>) -> Vec<ListingLine> {
    let eip = cpu.state.eip;
    let start = prog
        .and_then(|p| {
            // Instruction starts the program knows of below EIP, as addresses EIP would have (the program is
            // linked where it runs unless the Guest maps it elsewhere; then EIP's own page is used).
            let starts: Vec<u32> = p.lines.iter().map(|(a, _)| *a).filter(|a| *a <= eip && eip - *a < 64).collect();
            let k = starts.len().checked_sub(1)?;
            Some(starts[k.saturating_sub(LIST_BEFORE)])
        })
        .unwrap_or(eip);
    let mut lines: Vec<ListingLine> = Vec::new();
    let labels = |a: u32| prog.and_then(|p| p.symbols.iter().find(|(n, v)| **v == a && !n.starts_with('.')).map(|(n, _)| n.clone()));
    let decoded = cpu.disassemble_at(ram, start, LIST_BEFORE + LIST_AFTER + 1);
    // If decoding from the program's start does not land on EIP (data in between), list from EIP itself.
    let decoded = if decoded.iter().any(|(a, ..)| *a == eip) { decoded } else { cpu.disassemble_at(ram, eip, LIST_AFTER + 1) };
    let at = decoded.iter().position(|(a, ..)| *a == eip).unwrap_or(0);
    for (a, bytes, text) in decoded.into_iter().skip(at.saturating_sub(LIST_BEFORE)).take(LIST_BEFORE + LIST_AFTER + 1) {
        // Zero bytes after EIP are the end of the code (data or padding), not instructions to list.
        if a > eip && bytes.iter().all(|b| *b == 0) {
            break;
        }
        lines.push(ListingLine { addr: a, label: labels(a), text, current: a == eip });
    }
    lines
}

/// Rows of memory from linear `addr`, read through the CPU's translation, with `touched` marked.
fn memory_rows(cpu: &Cpu, ram: &GuestRam, addr: u32, rows: u32, touched: &[MemTouch]) -> Vec<MemoryRow> {
    (0..rows)
        .map(|k| {
            let base = addr.wrapping_add(k * ROW_BYTES);
            let n = ROW_BYTES as usize;
            let mut row = MemoryRow { addr: base, bytes: Vec::with_capacity(n), read: vec![false; n], written: vec![false; n], ascii: String::new() };
            for i in 0..ROW_BYTES {
                let a = base.wrapping_add(i);
                row.bytes.push(cpu.peek(ram, a));
                for t in touched {
                    if a.wrapping_sub(t.addr) < t.size {
                        if t.write {
                            row.written[i as usize] = true;
                        } else {
                            row.read[i as usize] = true;
                        }
                    }
                }
            }
            row.ascii = row.bytes.iter().map(|b| b.map(|b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).unwrap_or(' ')).collect();
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::lesson::{lessons, LessonPlayer};

    #[test]
    fn the_stack_rows_start_at_esp_and_rust_says_what_they_are() {
        assert_eq!(stack_title(0), "Memory at esp 0x0 (this Guest has set up no stack)");
        assert_eq!(stack_title(0x1ff8), "The stack, from esp 0x1ff8");
        let mut seen = 0;
        for info in lessons().into_iter().filter(|l| l.id.starts_with("16-")) {
            let mut p = LessonPlayer::open(&info.id).unwrap();
            for n in 1..=info.steps {
                p.go_to(n);
                let Some(total) = p.view().guest_units else { continue };
                let g = p.guest().unwrap();
                for pos in [0, total / 2, total] {
                    let v = g.at(pos);
                    let esp = v.regs.iter().find(|(r, _)| r == "esp").unwrap().1;
                    assert_eq!(v.stack_title, stack_title(esp), "{} step {n} at {pos}", info.id);
                    assert_eq!(v.stack.first().map(|r| r.addr), Some(v.stack_from & !(ROW_BYTES - 1)));
                    assert_eq!(v.stack.len(), STACK_ROWS as usize);
                    seen += 1;
                }
            }
        }
        assert!(seen >= 3, "{seen} positions looked at");
    }
}
