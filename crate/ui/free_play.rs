//! Free play: the student types scenario lines (or loads a Guest program) and sees each one's result, with
//! Undo. Each line's Guest CPU work is recorded, as a lesson step's is, so the Guest CPU pane can step
//! through it; Undo brings back the machine, and the timeline, of the line before.

use super::lesson::{guest_cpu, run_recorded, step_view, GuestCpuView, StepView};
use super::state::Snapshot;
use super::stepper::Stepper;
use crate::append_log::AppendLog;
use crate::params::UNDO_DEPTH;
use crate::scenario::{parse, parse_line, ParseError, Runner, Step};

/// A machine being played with, and its history.
#[derive(Clone, Debug)]
pub struct FreePlay {
    runner: Runner,
    /// The machine before each line run, with the Guest CPU timeline of the line before it, so `back()` is
    /// instant and shows what that line's Guest did again: the last [`UNDO_DEPTH`] of them.
    history: std::collections::VecDeque<(Runner, Option<Stepper>)>,
    /// Lines and programs given so far (a line's number in the scenario language's messages).
    given: usize,
    guest_mb: u32,
    /// The Guest CPU's timeline of the last line, if it ran Guest code.
    guest: Option<Stepper>,
}

impl FreePlay {
    /// A Launcher with `guest_mb` MB of Guest memory, before its first system call.
    pub fn new(guest_mb: u32) -> FreePlay {
        FreePlay::from(Runner::new(guest_mb), guest_mb)
    }

    /// Free play from a machine as it is (a lesson's position, say).
    pub fn from(runner: Runner, guest_mb: u32) -> FreePlay {
        FreePlay { runner, history: Default::default(), given: 0, guest_mb, guest: None }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Run one scenario line: its step, `None` for a blank line or a comment, or why it does not parse.
    pub fn exec(&mut self, line: &str) -> Result<Option<Step>, ParseError> {
        let Some(l) = parse_line(self.given + 1, line)? else { return Ok(None) };
        self.given += 1;
        self.remember(self.runner.clone());
        let (mut steps, guest) = run_recorded(&mut self.runner, std::iter::once(&l));
        self.guest = guest;
        Ok(steps.pop())
    }

    /// Does a whole scenario parse? Its first error if not.
    pub fn check(text: &str) -> Result<(), ParseError> {
        parse(text).map(|_| ())
    }

    /// Keep `before`, the machine before what is being done, for Undo (forgetting the oldest past
    /// [`UNDO_DEPTH`]), with the last line's timeline.
    fn remember(&mut self, before: Runner) {
        if self.history.len() >= UNDO_DEPTH {
            self.history.pop_front();
        }
        self.history.push_back((before, self.guest.take()));
    }

    /// Undo the last line (or program load). False if there is nothing to undo.
    pub fn back(&mut self) -> bool {
        match self.history.pop_back() {
            Some((r, g)) => {
                self.runner = r;
                self.guest = g;
                true
            }
            None => false,
        }
    }

    /// Start again from a fresh Launcher.
    pub fn reset(&mut self) {
        *self = FreePlay::new(self.guest_mb);
    }

    /// Assemble a Guest program (GNU as source) into the main task's Guest memory, so the next INITIALIZE
    /// runs it. Undo takes it out again.
    pub fn load_program(&mut self, name: &str, source: &str) -> Result<(), String> {
        // Every error, one a line, for the editor (the runner names the first few).
        if let Err(errs) = crate::asm::assemble(source, crate::scenario::run::GUEST_START) {
            return Err(errs.iter().map(|e| format!("{name}:{}: {}", e.line, e.message)).collect::<Vec<_>>().join("\n"));
        }
        let before = self.runner.clone();
        let main = self.runner.main;
        self.runner.load_program(main, name, source)?;
        self.given += 1;
        self.remember(before);
        Ok(())
    }

    /// Lines run so far.
    pub fn step_count(&self) -> usize {
        self.runner.steps.len()
    }

    pub fn steps(&self) -> &AppendLog<Step> {
        &self.runner.steps
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot::of(&self.runner.kernel)
    }

    pub fn cpu(&self) -> Option<GuestCpuView> {
        guest_cpu(&self.runner)
    }

    /// The walkthrough's view of the machine after the last line (compared with the machine before it).
    pub fn view(&self) -> StepView {
        let results = if self.history.is_empty() { Vec::new() } else { self.runner.steps.last().cloned().into_iter().collect() };
        let console = self.runner.steps.iter().filter_map(|s| s.console.clone()).collect();
        let mut v = step_view(self.history.back().map(|(r, _)| r), &self.runner, results, console);
        v.ran_guest(self.guest.as_ref().map(|g| g.total()));
        v.hint = v.results.last().and_then(|s| hint(s, &v.snapshot));
        v
    }

    /// The Guest CPU timeline of the last line, if it ran Guest code.
    pub fn guest(&mut self) -> Option<&mut Stepper> {
        self.guest.as_mut()
    }
}

/// What to try after line `s` where a student tends to get stuck: a `read()` left asleep while the Guest
/// runs on, a dead Guest's `-ENOENT` (its reason is read next, with a buffer long enough for it).
fn hint(s: &Step, snap: &Snapshot) -> Option<String> {
    use crate::scenario::parse::CallKind;
    match (s.call, s.result.as_deref()) {
        (CallKind::Read, Some("blocked")) => Some(format!(
            "{} is asleep in read() while the Guest runs{}. Type wait to let it run until read() returns (a long Guest takes a while), or signal {0} to interrupt it.",
            s.task,
            s.message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default()
        )),
        (CallKind::Read | CallKind::Wait, Some("-ENOENT")) => {
            let reason = snap.guests.last().and_then(|g| match &g.dead {
                Some(crate::lguest::lg::Dead::Reason { text, .. }) => Some(text.clone()),
                _ => None,
            })?;
            Some(format!(
                "The Guest is dead. The next read() returns its reason: read len={} fetches all of {reason:?} and its NUL ({} characters + 1); a shorter buffer gets the first bytes and no NUL.",
                reason.len() + 1,
                reason.len()
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_student_stuck_gets_a_hint() {
        let mut f = FreePlay::new(32);
        for l in ["open", "write INITIALIZE", "guest init 0x5000", "read"] {
            f.exec(l).unwrap();
        }
        assert!(f.view().hint.unwrap().contains("Type wait"), "a read left asleep while the Guest runs");
        let mut f = FreePlay::new(32);
        for l in ["open", "write INITIALIZE", "guest init 0x5000", "guest shutdown \"Power down\"", "read"] {
            f.exec(l).unwrap();
        }
        let h = f.view().hint.unwrap();
        let bad: String = (1..=8).map(|i| format!("frob{i} %eax\n")).collect();
        assert_eq!(FreePlay::new(32).load_program("g.S", &bad).unwrap_err().lines().count(), 8, "every error, not the first five");
        assert!(h.contains("read len=18") && h.contains("CRASH: Power down"), "{h}");
        f.exec("read len=18").unwrap();
        assert_eq!(f.view().hint, None);
    }

    #[test]
    fn lines_run_undo_and_keep_their_guest_timeline() {
        let mut f = FreePlay::new(32);
        assert!(f.exec("# a comment").unwrap().is_none());
        assert!(f.exec("write IRQ").is_err(), "a line that does not parse is an error, and runs nothing");
        assert_eq!(f.step_count(), 0);
        f.load_program("guests/hello.S", crate::scenario::library::source("guests/hello.S").unwrap()).unwrap();
        assert_eq!(f.exec("open").unwrap().unwrap().result.as_deref(), Some("3"));
        assert_eq!(f.exec("write INITIALIZE").unwrap().unwrap().result.as_deref(), Some("12"));
        let read = f.exec("read").unwrap().unwrap();
        assert!(read.result.unwrap().starts_with("4 notify="), "the Guest's first NOTIFY");
        let units = f.guest().map(|g| g.total()).expect("the read ran Guest code");
        assert!(units > 0);
        assert_eq!(f.view().guest_units, Some(units));
        assert_eq!(f.view().results.len(), 1);
        assert!(f.back());
        assert_eq!(f.step_count(), 2);
        assert!(f.guest().is_none(), "the line before ran no Guest code");
        assert!(f.back() && f.back() && f.back(), "two lines and the program load");
        assert!(!f.back());
        assert!(f.snapshot().guests.is_empty());
        f.exec("open").unwrap();
        f.reset();
        assert_eq!(f.step_count(), 0);
        assert!(FreePlay::check("open\nbogus").is_err());
        assert!(FreePlay::check("open\nread").is_ok());
    }

    #[test]
    fn undo_goes_back_a_bounded_number_of_lines() {
        let mut f = FreePlay::new(1);
        for _ in 0..UNDO_DEPTH + 10 {
            f.exec("eventfd").unwrap();
        }
        assert_eq!(f.step_count(), UNDO_DEPTH + 10);
        for _ in 0..UNDO_DEPTH {
            assert!(f.back());
        }
        assert!(!f.back(), "the oldest lines are past Undo");
        assert_eq!(f.step_count(), 10);
        // Numbering goes on from every line given, undone or not.
        assert_eq!(f.exec("bogus").unwrap_err().line, UNDO_DEPTH + 11);
    }
}
