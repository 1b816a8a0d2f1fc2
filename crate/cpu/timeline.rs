//! The Guest's timeline: every unit of work the Guest CPU did while a lesson step ran, kept so that any
//! instruction of it can be shown again, forwards or backwards, and searched for a breakpoint, however long
//! the run (ten million instructions and more).
//!
//! Nothing is stored per instruction. The CPU is deterministic, so a position is reached by going back to a
//! *checkpoint* before it and running forward: a checkpoint is the CPU's state and a snapshot of Guest
//! memory (copy-on-write, so it costs one pointer per page until the Guest writes). Between two runs of the
//! Guest (two *trips*: `lguest_arch_run_guest()` calls, separated by hypercalls, faults and interrupts) the
//! Host changes things: registers, an interrupt frame pushed on the Guest's stack, `lguest_data`. Each trip
//! therefore starts with the CPU's state as the Host left it and the pages the Host wrote meanwhile
//! ([`GuestRam::track_writes`]), which is all a replay needs to cross from one trip to the next.
//!
//! Positions count units of work as the CPU's time-stamp counter does: one per instruction, one per `rep`
//! iteration (as a real CPU single-steps a `rep` with TF set). Position `p` is the state after `p` units;
//! at the boundary between two trips it is the state the next trip starts from (the last of them, when the
//! Guest trapped again before it ran anything). Checkpoints come every
//! [`Timeline::every`] units, which doubles whenever there are more than [`MAX_CHECKPOINTS`], so going to
//! any position runs at most that many units on the fast path: about a millisecond.

use std::rc::Rc;

use serde::Serialize;

use super::paging::PageDirectory;
use super::segments::GDT_ENTRIES;
use super::{Cpu, CpuState, Exit, StepRecord, Stop};
use crate::guest_ram::{GuestRam, Page};

/// Units between checkpoints at first.
pub const FIRST_EVERY: u64 = 4096;
pub use crate::params::{MAX_CHECKPOINTS, MAX_TRIPS};

/// What the CPU needs, beside memory, to go on from a point: registers and the Host-held tables.
#[derive(Clone, Debug)]
struct CpuSnap {
    state: CpuState,
    gdt: Rc<[u64; GDT_ENTRIES]>,
    gdtr: (u16, u32),
    idtr: (u16, u32),
    pfn_limit: u32,
    cr3: Option<PageDirectory>,
    guest_tables: Option<u32>,
}

impl CpuSnap {
    fn of(cpu: &Cpu, prev: Option<&CpuSnap>) -> CpuSnap {
        // The GDT rarely changes: share the previous copy when it is the same.
        let gdt = match prev {
            Some(p) if *p.gdt == cpu.gdt => Rc::clone(&p.gdt),
            _ => Rc::new(cpu.gdt),
        };
        CpuSnap {
            state: cpu.state.clone(),
            gdt,
            gdtr: cpu.gdtr,
            idtr: cpu.idtr,
            pfn_limit: cpu.pfn_limit,
            cr3: cpu.cr3.clone(),
            guest_tables: cpu.guest_tables,
        }
    }

    fn restore(&self, cpu: &mut Cpu) {
        cpu.state = self.state.clone();
        cpu.gdt = *self.gdt;
        cpu.gdtr = self.gdtr;
        cpu.idtr = self.idtr;
        cpu.pfn_limit = self.pfn_limit;
        let same_tables = match (&cpu.cr3, &self.cr3) {
            (None, None) => true,
            (Some(a), Some(b)) => a.same(b),
            _ => false,
        };
        cpu.cr3 = self.cr3.clone();
        cpu.guest_tables = self.guest_tables;
        if !same_tables {
            // Blocks were decoded through other mappings.
            cpu.flush_code_cache();
        }
    }
}

/// One run of the Guest between two visits to the Host.
#[derive(Clone, Debug)]
struct Trip {
    /// Position of its first unit, and how many units it ran.
    start: u64,
    len: u64,
    /// The CPU as the Host handed it over, and the pages the Host wrote since the trip before.
    entry: CpuSnap,
    host_pages: Vec<(u32, Rc<Page>)>,
    /// The registers as the trip ended (a replay that arrives anywhere else has gone wrong).
    end: Option<Box<CpuState>>,
    /// How it ended, in words ("hypercall 17", "trap 14 at 0x100123", "its time slice ran out").
    ended: String,
}

#[derive(Clone, Debug)]
struct Checkpoint {
    at: u64,
    trip: usize,
    cpu: CpuSnap,
    ram: GuestRam,
}

/// A trip as the page lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TripView {
    pub start: u64,
    pub len: u64,
    pub ended: String,
}

/// The Guest's work during one lesson step (or one line of free play), for one virtual CPU.
#[derive(Clone, Debug)]
pub struct Timeline {
    trips: Vec<Trip>,
    checkpoints: Vec<Checkpoint>,
    /// Units between checkpoints now.
    pub every: u64,
    /// Units since the last checkpoint.
    since: u64,
    total: u64,
    /// Why recording stopped early, if it did.
    pub note: Option<String>,
}

/// A replay of a timeline: a CPU (with its own decoded-block cache) and memory at some position.
#[derive(Clone, Debug)]
pub struct Replay {
    pub cpu: Cpu,
    pub ram: GuestRam,
    pub pos: u64,
    trip: usize,
}

impl Default for Timeline {
    fn default() -> Timeline {
        Timeline::new()
    }
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline { trips: Vec::new(), checkpoints: Vec::new(), every: FIRST_EVERY, since: 0, total: 0, note: None }
    }

    /// Units of work recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn trips(&self) -> Vec<TripView> {
        (0..self.trips.len()).filter_map(|k| self.trip_view(k)).collect()
    }

    /// Trip `k` as the page lists it.
    pub fn trip_view(&self, k: usize) -> Option<TripView> {
        self.trips.get(k).map(|t| TripView { start: t.start, len: t.len, ended: t.ended.clone() })
    }

    pub fn trip_count(&self) -> usize {
        self.trips.len()
    }

    /// Checkpoints held now (each a snapshot of memory).
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.len()
    }

    /// Pages of memory only the timeline still holds (its cost beyond the machine's own memory), counted
    /// against `now`, the Guest's memory as it is.
    pub fn pages_held(&self, now: &GuestRam) -> usize {
        let mut seen = std::collections::HashSet::new();
        for c in &self.checkpoints {
            for pfn in 0..c.ram.pages() {
                if let (Some(a), Some(b)) = (c.ram.share_page(pfn), now.share_page(pfn)) {
                    if !Rc::ptr_eq(&a, &b) {
                        seen.insert(Rc::as_ptr(&a) as usize);
                    }
                }
            }
        }
        for t in &self.trips {
            for (_, p) in &t.host_pages {
                seen.insert(Rc::as_ptr(p) as usize);
            }
        }
        seen.len()
    }

    // ---- recording (called by the Host around the Guest's runs) ------------------------------------------

    /// A trip begins: `cpu` and `ram` as the Host hands them to the Guest. False if the timeline records no
    /// more (then the caller runs the Guest as usual).
    fn begin_trip(&mut self, cpu: &Cpu, ram: &mut GuestRam) -> bool {
        if self.note.is_some() {
            return false;
        }
        if self.trips.len() >= MAX_TRIPS {
            self.note = Some(format!("recording stopped after {MAX_TRIPS} runs of the Guest; later instructions are not shown"));
            ram.stop_tracking();
            return false;
        }
        let written = ram.take_written();
        let entry = CpuSnap::of(cpu, self.trips.last().map(|t| &t.entry));
        let host_pages = match &written {
            Some(pfns) => pfns.iter().filter_map(|&p| ram.share_page(p).map(|pg| (p, pg))).collect(),
            None => Vec::new(),
        };
        let index = self.trips.len();
        // The first trip, a memory that was replaced (not tracked), or a checkpoint that is due: a full one.
        if index == 0 || written.is_none() || self.since >= self.every {
            self.checkpoint(index, entry.clone(), ram);
        }
        self.trips.push(Trip { start: self.total, len: 0, entry, host_pages, end: None, ended: String::new() });
        true
    }

    /// How many units the Guest may run before the next checkpoint is due.
    fn chunk(&self) -> u64 {
        self.every.saturating_sub(self.since).max(1)
    }

    /// The Guest ran `n` more units of this trip and is still running; a checkpoint is taken if one is due.
    fn ran(&mut self, n: u64, cpu: &Cpu, ram: &GuestRam) {
        self.count(n);
        if self.since >= self.every {
            let trip = self.trips.len() - 1;
            let snap = CpuSnap::of(cpu, self.trips.last().map(|t| &t.entry));
            self.checkpoint(trip, snap, ram);
        }
    }

    /// The trip ends after `n` more units, `ended` saying how. From here until the next trip, every page
    /// written is the Host's doing and is noted.
    fn end_trip(&mut self, n: u64, cpu: &Cpu, ram: &mut GuestRam, ended: String) {
        self.count(n);
        if let Some(t) = self.trips.last_mut() {
            t.end = Some(Box::new(cpu.state.clone()));
            t.ended = ended;
        }
        ram.track_writes();
    }

    /// Run `cpu` for one trip of at most `slice` units, recorded: begin it, run in chunks up to each due
    /// checkpoint, end it with `ended`'s words for how it stopped. `None`, with nothing run, if the timeline
    /// records no more.
    pub fn run_trip(&mut self, cpu: &mut Cpu, ram: &mut GuestRam, slice: u64, ended: impl Fn(&Exit, &Cpu) -> String) -> Option<Exit> {
        if !self.begin_trip(cpu, ram) {
            return None;
        }
        let mut left = slice;
        loop {
            let before = cpu.state.tsc;
            let exit = cpu.run(ram, left.min(self.chunk()));
            let ran = cpu.state.tsc - before;
            left = left.saturating_sub(ran);
            if exit != Exit::Budget || left == 0 {
                let words = ended(&exit, cpu);
                self.end_trip(ran, cpu, ram, words);
                return Some(exit);
            }
            self.ran(ran, cpu, ram);
        }
    }

    fn count(&mut self, n: u64) {
        self.total += n;
        self.since += n;
        if let Some(t) = self.trips.last_mut() {
            t.len += n;
        }
    }

    fn checkpoint(&mut self, trip: usize, cpu: CpuSnap, ram: &GuestRam) {
        self.checkpoints.push(Checkpoint { at: self.total, trip, cpu, ram: ram.clone() });
        self.since = 0;
        if self.checkpoints.len() > MAX_CHECKPOINTS {
            // Keep the first and every other one after it; the spacing doubles.
            let mut k = 0;
            self.checkpoints.retain(|_| {
                k += 1;
                k % 2 == 1
            });
            self.every *= 2;
        }
    }

    /// Recording is over: stop noting the Host's writes.
    pub fn finish(&mut self, ram: &mut GuestRam) {
        ram.stop_tracking();
    }

    // ---- replaying ---------------------------------------------------------------------------------------

    /// A replay at position 0 (the state the first trip started from), or `None` for an empty timeline.
    pub fn replay(&self) -> Option<Replay> {
        let c = self.checkpoints.first()?;
        let mut cpu = Cpu::new(c.cpu.pfn_limit, c.cpu.state.eip);
        c.cpu.restore(&mut cpu);
        Some(Replay { cpu, ram: c.ram.clone(), pos: c.at, trip: c.trip })
    }

    /// Move `r` to position `pos` (clamped to the end). Errors only if the replay does not arrive where the
    /// recording did, which would be a bug in the simulator, said so rather than shown wrongly.
    pub fn seek(&self, r: &mut Replay, pos: u64) -> Result<(), String> {
        let pos = pos.min(self.total);
        let k = self.checkpoints.partition_point(|c| c.at <= pos);
        let c = self.checkpoints.get(k.wrapping_sub(1)).ok_or("the timeline is empty")?;
        // Go on from where the replay is if that is at least as close as the checkpoint.
        if !(r.pos <= pos && r.pos >= c.at) {
            c.cpu.restore(&mut r.cpu);
            r.ram = c.ram.clone();
            r.pos = c.at;
            r.trip = c.trip;
        }
        loop {
            let t = self.trips.get(r.trip).ok_or("the replay went past the last run of the Guest")?;
            let end = t.start + t.len;
            if pos < end || r.trip + 1 == self.trips.len() {
                return self.run(r, pos.min(end) - r.pos);
            }
            // On into the next trip; several may start at the same position (a Guest that traps before it
            // runs anything), and the position shows the last of them.
            self.run(r, end - r.pos)?;
            self.enter_next(r)?;
        }
    }

    /// The instruction (or `rep` iteration) that took the timeline from `pos - 1` to `pos`, with `r` left at
    /// `pos`; `None` at position 0.
    pub fn step_into(&self, r: &mut Replay, pos: u64) -> Result<Option<StepRecord>, String> {
        let pos = pos.min(self.total);
        if pos == 0 {
            self.seek(r, 0)?;
            return Ok(None);
        }
        self.seek(r, pos - 1)?;
        // At a boundary the last unit belongs to the trip before: step it there.
        let rec = r.cpu.step(&mut r.ram);
        if rec.exit.as_ref().is_some_and(|e| matches!(e, Exit::Fault { .. })) {
            return Err(format!("replaying unit {pos} faulted where the recorded run did not"));
        }
        r.pos += 1;
        // At the end of a trip: on into the next, and past any that ran nothing (as `seek` does).
        while let Some(t) = self.trips.get(r.trip) {
            if r.pos < t.start + t.len || r.trip + 1 >= self.trips.len() {
                break;
            }
            self.enter_next(r)?;
        }
        Ok(Some(rec))
    }

    /// The next position after `from` where the Guest is about to execute an instruction at one of `stops`
    /// (a Guest-address breakpoint), or `None` if it never is again in this timeline. `r` is left there (or at
    /// the end).
    pub fn find(&self, r: &mut Replay, from: u64, stops: &[u32]) -> Result<Option<u64>, String> {
        self.seek(r, from)?;
        loop {
            let t = self.trips.get(r.trip).ok_or("the timeline is empty")?;
            let end = t.start + t.len;
            let before = r.cpu.state.tsc;
            let stop = r.cpu.run_to(&mut r.ram, end - r.pos, stops);
            r.pos += r.cpu.state.tsc - before;
            if let Stop::At(_) = stop {
                return Ok(Some(r.pos));
            }
            if r.trip + 1 >= self.trips.len() {
                return Ok(None);
            }
            self.enter_next(r)?;
            // Arriving at a stop from the Host (an interrupt handler, say) is a hit too.
            if stops.contains(&r.cpu.state.eip) {
                return Ok(Some(r.pos));
            }
        }
    }

    /// Which trip position `pos` is in (the later one at a boundary).
    pub fn trip_of(&self, pos: u64) -> usize {
        self.trips.partition_point(|t| t.start <= pos).saturating_sub(1)
    }

    /// Run `n` units of the current trip; they must all be done without the Guest leaving early.
    fn run(&self, r: &mut Replay, n: u64) -> Result<(), String> {
        if n == 0 {
            return Ok(());
        }
        let before = r.cpu.state.tsc;
        let exit = r.cpu.run(&mut r.ram, n);
        let done = r.cpu.state.tsc - before;
        r.pos += done;
        if done != n {
            return Err(format!("the replay stopped after {done} of {n} units ({exit:?}) where the recorded run went on"));
        }
        Ok(())
    }

    /// At the end of a trip: check the replay arrived where the recording did, then hand over to the next
    /// trip as the Host did.
    fn enter_next(&self, r: &mut Replay) -> Result<(), String> {
        let t = &self.trips[r.trip];
        if let Some(end) = &t.end {
            let s = &r.cpu.state;
            if (s.regs, s.eip, s.eflags, s.tsc) != (end.regs, end.eip, end.eflags, end.tsc) {
                return Err(format!("the replay of run {} of the Guest ended at eip {:#x}, the recording at {:#x}", r.trip + 1, s.eip, end.eip));
            }
        }
        let next = self.trips.get(r.trip + 1).ok_or("no run of the Guest follows")?;
        next.entry.restore(&mut r.cpu);
        for (pfn, page) in &next.host_pages {
            r.ram.restore_page(*pfn, Rc::clone(page));
        }
        r.trip += 1;
        r.pos = next.start;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loop of `n` passes that writes a counter to memory and ends in a hypercall (as bytes, with the
    /// GNU as source beside them).
    fn counting_loop(n: u32) -> Vec<u8> {
        let mut c = vec![0xb9]; // mov $n, %ecx
        c.extend_from_slice(&n.to_le_bytes());
        c.extend_from_slice(&[
            0x31, 0xc0, //             xor %eax, %eax
            0x40, //             top:  inc %eax
            0xa3, 0x00, 0x80, 0, 0, //   mov %eax, 0x8000
            0xe2, 0xf8, //             loop top
            0xcd, 0x1f, //             int $0x1f
        ]);
        c
    }

    const TOP: u32 = 0x1000 + 7;

    fn setup(code: &[u8]) -> (Cpu, GuestRam) {
        let mut ram = GuestRam::new(16);
        ram.write(0x1000, code).unwrap();
        let mut cpu = Cpu::new(16, 0x1000);
        cpu.state.regs[super::super::ESP] = 0x9000;
        (cpu, ram)
    }

    /// Record as the Host does: trips of at most `slice` units, with a Host write between trips.
    fn record(code: &[u8], slice: u64) -> (Timeline, Cpu, GuestRam) {
        let (mut cpu, mut ram) = setup(code);
        let mut tl = Timeline::new();
        loop {
            let exit = tl.run_trip(&mut cpu, &mut ram, slice, |e, _| format!("{e:?}")).expect("recording");
            if exit == Exit::Hypercall {
                break;
            }
            // The Host between trips: it changes a register and writes a page.
            cpu.state.regs[super::super::EDX] += 1;
            let k = cpu.state.regs[super::super::EDX];
            ram.write_u32(0xa000, k).unwrap();
        }
        tl.finish(&mut ram);
        (tl, cpu, ram)
    }

    #[test]
    fn every_position_replays_to_what_single_stepping_shows() {
        let code = counting_loop(3000);
        let (tl, live, live_ram) = record(&code, 2000);
        assert_eq!(tl.total(), live.state.tsc);
        assert!(tl.trip_count() >= 3, "{} trips", tl.trip_count());
        assert_eq!(tl.trips().iter().map(|t| t.len).sum::<u64>(), tl.total(), "the trips cover the timeline");
        let mut r = tl.replay().unwrap();
        // The end is the live end, registers and memory.
        tl.seek(&mut r, tl.total()).unwrap();
        assert_eq!(r.cpu.state, live.state);
        assert_eq!(r.ram.read_u32(0x8000).unwrap(), live_ram.read_u32(0x8000).unwrap());
        assert_eq!(r.ram.read_u32(0xa000).unwrap(), live_ram.read_u32(0xa000).unwrap());
        // Forwards one unit at a time equals seeking each position afresh, from wherever the replay was.
        let mut fwd = tl.replay().unwrap();
        let mut jump = tl.replay().unwrap();
        for p in 0..=tl.total() {
            if p > 0 {
                tl.step_into(&mut fwd, p).unwrap();
            }
            tl.seek(&mut jump, tl.total() - (p * 7919) % (tl.total() + 1)).unwrap();
            tl.seek(&mut jump, p).unwrap();
            assert_eq!(fwd.cpu.state, jump.cpu.state, "at {p}");
            assert_eq!(fwd.ram.read_u32(0x8000), jump.ram.read_u32(0x8000), "at {p}");
        }
    }

    #[test]
    fn a_long_run_keeps_few_checkpoints_and_seeks_anywhere() {
        let (tl, live, _) = record(&counting_loop(400_000), 100_000);
        assert!(tl.total() > 1_200_000);
        assert!(tl.checkpoints() <= MAX_CHECKPOINTS);
        assert!(tl.every > FIRST_EVERY, "the spacing grew");
        let mut r = tl.replay().unwrap();
        for p in [tl.total(), 17, tl.total() / 2, 1, tl.total() - 1, 0] {
            tl.seek(&mut r, p).unwrap();
            assert_eq!(r.pos, p);
        }
        tl.seek(&mut r, tl.total()).unwrap();
        assert_eq!(r.cpu.state, live.state);
    }

    #[test]
    fn step_into_names_the_instruction_and_find_stops_at_a_breakpoint() {
        let (tl, _, _) = record(&counting_loop(50), 40);
        let mut r = tl.replay().unwrap();
        let rec = tl.step_into(&mut r, 1).unwrap().unwrap();
        assert_eq!(rec.text, format!("mov $0x{:x},%ecx", 50));
        assert!(tl.step_into(&mut r, 0).unwrap().is_none());
        // The loop's top is reached once per pass: 50 times, the first after mov and xor.
        let mut hits = Vec::new();
        let mut from = 0;
        while let Some(p) = tl.find(&mut r, from, &[TOP]).unwrap() {
            assert_eq!(r.cpu.state.eip, TOP);
            hits.push(p);
            from = p;
        }
        assert_eq!(hits.len(), 50);
        assert_eq!(hits[0], 2);
        assert!(hits.windows(2).all(|w| w[1] - w[0] == 3), "inc, mov, loop between hits");
        assert_eq!(tl.find(&mut r, 0, &[0xdead]).unwrap(), None);
    }
}
