//! Free play: the student types scenario lines (or loads a Guest program) and sees each one's result, with
//! Undo. Each line's Guest CPU work is recorded, as a lesson step's is, so the Guest CPU pane can step
//! through it; Undo brings back the machine, and the timeline, of the line before.
//!
//! A line runs with a work budget (the CLI's and lessons' [`crate::params::CALL_BUDGET`] unless the page gives a smaller
//! one). When a `read` or `wait` spends it while the Guest still runs, the task stays asleep at a clean
//! point and the line can go on in further slices ([`FreePlay::go_on`]), each a `wait` with a fresh budget:
//! the page runs one slice a task, so it never blocks however long the Guest runs, and Undo takes back the
//! line with all its slices.

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
    /// The Guest CPU's timeline of the last line, if it ran Guest code (of its last slice, if it went on).
    guest: Option<Stepper>,
    /// The last line, if it spent its budget with its task still asleep: its slices so far.
    slices: Option<Slices>,
}

/// A line going on in slices: the machine before its last slice (the view compares with it, so it shows the
/// last slice's work, not the whole run's) and the progress so far.
#[derive(Clone, Debug)]
struct Slices {
    before: Runner,
    /// The line that started it (its text, its action and kind) and the task asleep in it.
    source: String,
    action: String,
    call: crate::scenario::parse::CallKind,
    task: String,
    /// Slices run (the line itself is the first) and the Guest CPU work they recorded.
    count: u32,
    units: u64,
    /// Can it go on: the last slice left the task asleep, and moved the machine.
    more: bool,
    /// The student stopped it (Stop on the page).
    stopped: bool,
}

/// Where a line that runs in slices is, in numbers and in words, for the page's progress line.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoingOn {
    pub source: String,
    pub task: String,
    pub slices: u32,
    /// Units of Guest CPU work (instructions and `rep` iterations) the slices ran.
    pub units: u64,
    /// True while another slice would go on; false once the call returned or nothing more happens.
    pub more: bool,
    pub text: String,
}

impl FreePlay {
    /// A Launcher with `guest_mb` MB of Guest memory, before its first system call.
    pub fn new(guest_mb: u32) -> FreePlay {
        FreePlay::from(Runner::new(guest_mb), guest_mb)
    }

    /// Free play from a machine as it is (a lesson's position, say).
    pub fn from(runner: Runner, guest_mb: u32) -> FreePlay {
        FreePlay { runner, history: Default::default(), given: 0, guest_mb, guest: None, slices: None }
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Run one scenario line with the runner's work budget ([`crate::params::CALL_BUDGET`] unless it was given another):
    /// its step, `None` for a blank line or a comment, or why it does not parse.
    pub fn exec(&mut self, line: &str) -> Result<Option<Step>, ParseError> {
        self.exec_with_budget(line, self.runner.line_budget)
    }

    /// [`FreePlay::exec`] with a work budget of `units` for this line (the page's slice,
    /// [`crate::params::PAGE_SLICE_BUDGET`]). A `read` or `wait` that spends it while the Guest still runs
    /// leaves its task asleep at a clean point and says so; [`FreePlay::go_on`] carries on from there.
    pub fn exec_with_budget(&mut self, line: &str, units: u64) -> Result<Option<Step>, ParseError> {
        let Some(l) = parse_line(self.given + 1, line)? else { return Ok(None) };
        self.given += 1;
        let before = self.runner.clone();
        self.remember(before.clone());
        let step = self.run_budgeted(&l, units);
        self.slices = step.as_ref().and_then(|s| {
            let task = sleeper(s)?;
            let mut slices =
                Slices { before, source: s.source.clone(), action: s.action.clone(), call: s.call, task, count: 1, units: 0, more: false, stopped: false };
            self.sliced(&mut slices, s);
            Some(slices)
        });
        Ok(step)
    }

    /// Go on with the last line for one more slice of `units`, a `wait` for its task: its step, or `None`
    /// if the last line cannot go on (it returned, nothing more happens, or another line came after).
    /// No new Undo entry: Undo takes back the line with all its slices.
    pub fn go_on(&mut self, units: u64) -> Option<Step> {
        let task = self.slices.as_ref().filter(|s| s.more)?.task.clone();
        let Ok(Some(l)) = parse_line(self.given, &format!("wait {task}")) else { return None };
        let mut slices = self.slices.take()?;
        slices.before = self.runner.clone();
        slices.count += 1;
        let step = self.run_budgeted(&l, units)?;
        self.sliced(&mut slices, &step);
        self.slices = Some(slices);
        Some(step)
    }

    /// Where the last line that ran in slices is, if it spent a budget with its task still asleep.
    pub fn going_on(&self) -> Option<GoingOn> {
        let s = self.slices.as_ref()?;
        // Millions to one decimal, rounded, in integers (formatting a float would bring the float printer,
        // about 11 KB of wasm, into the page for this one line).
        let m = |u: u64| {
            let tenths = u.saturating_add(50_000) / 100_000;
            format!("{}.{} M", tenths / 10, tenths % 10)
        };
        let text = if s.stopped {
            format!(
                "stopped: `{}` ran {} instructions in {} slice{} and {} is still asleep in its call. Type wait to go on, or Undo to take the line back.",
                s.source,
                m(s.units),
                s.count,
                if s.count == 1 { "" } else { "s" },
                s.task
            )
        } else if s.more {
            format!(
                "running the Guest: {} instructions so far in {} slice{}, {} still asleep in its call (`{}`); it goes on a slice at a time until the call returns, or Stop",
                m(s.units),
                s.count,
                if s.count == 1 { "" } else { "s" },
                s.task,
                s.source
            )
        } else {
            let last = self.runner.steps.last();
            match last.and_then(|st| st.result.as_deref()) {
                Some("blocked") => format!(
                    "{} is asleep in its call (`{}`) and nothing more happens on its own ({}): give a scripted Guest its next hypercall (guest notify 0x7000, guest halt), or type signal {0} to interrupt the call",
                    s.task,
                    s.source,
                    last.and_then(|st| st.message.clone()).unwrap_or_default()
                ),
                Some(r) => format!("`{}` returned {r} after {} instructions in {} slices", s.source, m(s.units), s.count),
                None => format!("`{}` stopped after {} slices: {}", s.source, s.count, last.and_then(|st| st.message.clone()).unwrap_or_default()),
            }
        };
        Some(GoingOn { source: s.source.clone(), task: s.task.clone(), slices: s.count, units: s.units, more: s.more, text })
    }

    /// Stop a line that goes on in slices where it is (a clean point: its task asleep in its call, its
    /// Guest paused between two trips). `wait` goes on from there; Undo takes the whole line back.
    pub fn stop(&mut self) -> Option<GoingOn> {
        let s = self.slices.as_mut().filter(|s| s.more)?;
        s.more = false;
        s.stopped = true;
        self.going_on()
    }

    /// Run `l` with a budget of `units` (the runner's own budget is left as it was), recording its Guest work.
    fn run_budgeted(&mut self, l: &crate::scenario::Line, units: u64) -> Option<Step> {
        let was = std::mem::replace(&mut self.runner.line_budget, units);
        let (mut steps, guest) = run_recorded(&mut self.runner, std::iter::once(l));
        self.runner.line_budget = was;
        self.guest = guest;
        steps.pop()
    }

    /// Count slice `step` in `slices`: it may go on if its task is still asleep (its budget spent, or the
    /// Guest paused between two trips) and it moved the machine on (so a slice that changes nothing, a Guest
    /// halted with no timer, say, never repeats).
    fn sliced(&self, slices: &mut Slices, step: &Step) {
        slices.units += self.guest.as_ref().map(|g| g.total()).unwrap_or(0);
        let moved = (slices.before.kernel.log.len(), slices.before.kernel.now_ns) != (self.runner.kernel.log.len(), self.runner.kernel.now_ns);
        slices.more = sleeper(step).is_some() && moved;
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
                self.slices = None;
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
        let prog = match crate::asm::assemble(source, crate::scenario::run::GUEST_START) {
            Ok(prog) => prog,
            Err(errs) => return Err(errs.iter().map(|e| crate::asm::located(name, e)).collect::<Vec<_>>().join("\n")),
        };
        let before = self.runner.clone();
        let main = self.runner.main;
        // Assembled once: the page's one task for the editor's button.
        self.runner.load_assembled(main, name, source, prog)?;
        self.given += 1;
        self.remember(before);
        self.slices = None;
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
        let mut results: Vec<Step> = if self.history.is_empty() { Vec::new() } else { self.runner.steps.last().cloned().into_iter().collect() };
        // A line that went on in slices is shown as the line the student typed: each further slice is a
        // `wait` for its task inside the simulator, but the call asleep (or returned) is the line's own.
        if let (Some(s), Some(r)) = (self.slices.as_ref().filter(|s| s.count > 1), results.last_mut()) {
            r.source.clone_from(&s.source);
            r.action.clone_from(&s.action);
            r.call = s.call;
            let went = format!("it went on in {} slices of the page's work budget", s.count);
            r.message = Some(match r.message.take() {
                Some(m) => format!("{m} ({went})"),
                None => went,
            });
        }
        let console = self.runner.steps.iter().filter_map(|s| s.console.clone()).collect();
        // What the line changed, all its slices together: the machine before it is the last Undo entry.
        let before = self.history.back().map(|(r, _)| r);
        let mut v = step_view(before, &self.runner, results, console);
        v.ran_guest(self.guest.as_ref().map(|g| g.total()));
        v.hint = match self.going_on() {
            // Once it went on (or was stopped): where it is; after one slice, the hint a read asleep gets.
            Some(g) if g.slices > 1 || self.slices.as_ref().is_some_and(|s| s.stopped) => Some(g.text),
            _ => v.results.last().and_then(|s| hint(s, &v.snapshot)),
        };
        v
    }

    /// The Guest CPU timeline of the last line, if it ran Guest code.
    pub fn guest(&mut self) -> Option<&mut Stepper> {
        self.guest.as_mut()
    }
}

/// The task of step `s` if it is a `read` or `wait` left asleep (`blocked`): the one a further `wait` collects.
fn sleeper(s: &Step) -> Option<String> {
    use crate::scenario::parse::CallKind;
    if s.result.as_deref() != Some("blocked") || !matches!(s.call, CallKind::Read | CallKind::Wait) {
        return None;
    }
    // `wait T` waits for T; otherwise the line's task (`main` unless `as T:` names another).
    match parse_line(s.line, &s.source) {
        Ok(Some(crate::scenario::Line { action: crate::scenario::parse::Action::Wait { task: Some(t) }, .. })) => Some(t),
        _ => Some(s.task.clone()),
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
        // A line that woke a call asleep (a Guest's NOTIFY ending a read, say): its result waits for `wait`.
        _ if s.call != CallKind::Wait && snap.tasks.iter().any(|t| t.finished.is_some()) => {
            let t = snap.tasks.iter().find(|t| t.finished.is_some())?;
            Some(format!(
                "{}'s blocked call has returned ({}): type wait {0} to collect what it returned.",
                t.name,
                t.finished.as_deref().unwrap_or_default()
            ))
        }
        // Everything closed, and the kernel still holds memory: nothing will ever free it.
        (CallKind::Close, Some("0")) if snap.guests.is_empty() && !snap.allocations.is_empty() => {
            let n = snap.allocations.len();
            Some(format!(
                "No Guest is left, yet the kernel still holds {n} allocation{}: {}. Nothing can free {} now: {} leaked (an error path that did not free what it made; see the account book).",
                if n == 1 { "" } else { "s" },
                snap.allocations.iter().map(|a| format!("{} (by {})", a.what, a.by)).collect::<Vec<_>>().join(", "),
                if n == 1 { "it" } else { "them" },
                if n == 1 { "it has" } else { "they have" }
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_launcher_with_hundreds_of_eventfds_gets_a_view_of_bounded_size() {
        // Each round makes an eventfd and a new version of the map; none is closed.
        let mut f = FreePlay::new(32);
        for l in ["open", "write INITIALIZE", "guest init 0x5000"] {
            f.exec(l).unwrap();
        }
        for _ in 0..300 {
            f.exec("eventfd").unwrap();
            f.exec("write EVENTFD addr=0x7000 fd=4").unwrap();
        }
        let v = f.view();
        let efds = v.sections.iter().find(|s| s.title.contains("eventfd") && s.rows.iter().any(|r| r.key.ends_with(".refs"))).expect("an eventfds section");
        assert_eq!(efds.rows.len(), crate::params::SECTION_ROWS + 1);
        let last = efds.rows.last().unwrap();
        assert_eq!(last.key, "…");
        assert!(last.value.starts_with("400 more rows not shown"), "{}", last.value);
        // The row the last line changed is among those shown.
        let newest = efds.rows[..efds.rows.len() - 1].iter().filter(|r| r.changed).count();
        assert!(newest >= 1, "the eventfd the last line made is shown");
        let map = v.map.expect("a map picture");
        let versions = map.boxes.iter().filter(|b| b.id.starts_with("v:")).count();
        let ctxs = map.boxes.iter().filter(|b| b.id.starts_with("ctx:")).count();
        assert!(versions <= 8 && ctxs == 12, "{versions} versions, {ctxs} contexts drawn");
        assert!(map.boxes.iter().any(|b| b.cls.contains("current")), "the current version is drawn");
        assert!(map.text.iter().any(|t| t.contains("older freed maps are not drawn")), "{:?}", map.text);
        assert!(map.text.iter().any(|t| t.starts_with("288 more eventfd contexts are not drawn")), "{:?}", map.text);
    }

    #[test]
    fn millions_of_instructions_read_as_a_float_would_print_them() {
        let mut f = FreePlay::new(32);
        for (units, said) in [(0u64, "0.0 M"), (49_999, "0.0 M"), (50_000, "0.1 M"), (10_249_999, "10.2 M"), (139_960_000, "140.0 M")] {
            f.slices = Some(Slices {
                before: f.runner.clone(),
                source: "read".into(),
                action: "read".into(),
                call: crate::scenario::parse::CallKind::Read,
                task: "main".into(),
                count: 2,
                units,
                more: true,
                stopped: false,
            });
            let text = f.going_on().unwrap().text;
            assert!(text.starts_with(&format!("running the Guest: {said} instructions so far in 2 slices")), "{units}: {text}");
        }
    }

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
        // A NOTIFY that ends a read asleep: its result waits for `wait`, and the hint says so.
        let mut f = FreePlay::new(32);
        for l in ["open", "write INITIALIZE", "read", "guest init 0x5000", "guest notify 0x9000"] {
            f.exec(l).unwrap();
        }
        let h = f.view().hint.unwrap();
        assert!(h.starts_with("main's blocked call has returned (") && h.ends_with("type wait main to collect what it returned."), "{h}");
        f.exec("wait").unwrap();
        assert_eq!(f.view().hint, None, "collected");
        // An injected failure in INITIALIZE leaks; after close the hint says what is left and that it leaked.
        let mut f = FreePlay::new(32);
        for l in ["open", "inject kmalloc-fail 4", "write INITIALIZE", "close"] {
            f.exec(l).unwrap();
        }
        let h = f.view().hint.unwrap();
        assert!(h.starts_with("No Guest is left, yet the kernel still holds 1 allocation: ") && h.contains("it has leaked"), "{h}");
        let mut f = FreePlay::new(32);
        for l in ["open", "write INITIALIZE", "close"] {
            f.exec(l).unwrap();
        }
        assert_eq!(f.view().hint, None, "a clean close leaks nothing");
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
