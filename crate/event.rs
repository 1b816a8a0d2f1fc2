//! Everything is an event: each step of the machine records which task did it, in which kernel function
//! (with the journey tag our lessons cite), what happened, and which pieces of state it changed.
//!
//! The UI, the CLI's `--trace`, the lessons and the tests all read the same list.

use serde::Serialize;

use crate::append_log::AppendLog;

/// Who was running when the step happened: a Launcher task (by name), or the Guest itself.
pub type TaskName = String;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Position in the run, from 0.
    pub seq: u64,
    /// The task the step ran in (`main`, a device thread, `guest` for the Guest CPU, `timer` for the hrtimer).
    pub task: TaskName,
    /// The kernel (or Launcher) function the step belongs to, e.g. `add_eventfd`.
    pub func: &'static str,
    /// Our journey tag for that function (see `host::tags`), e.g. `L:055`.
    pub tag: &'static str,
    /// One sentence saying what happened, in the simulator's words.
    pub text: Box<str>,
    /// Paths of the state this step changed (`lg.eventfds`, `cpu0.pending_notify`, `alloc`), so a view can
    /// highlight them. Always a list written in our source, so an event borrows it rather than copying it
    /// (a full log is `params::EVENT_CAP` events).
    pub changed: &'static [&'static str],
    /// Where in our source the step was recorded (`crate/host/lguest_user.rs`, line 372): the line of the
    /// modelled function that did it, so the code pane can mark the lines a step ran.
    pub file: &'static str,
    pub line: u32,
}

/// The list of events of a run, with the cap from `params::EVENT_CAP`. Append-only and shared by chunks
/// ([`AppendLog`]), so a copy of the machine does not copy its past.
#[derive(Clone, Debug, Default)]
pub struct EventLog {
    events: AppendLog<Event>,
    next_seq: u64,
    /// Events dropped because the cap was reached (the oldest are kept: they are what lessons point at).
    pub dropped: u64,
}

impl EventLog {
    /// Record an event, with the source line of the call (`#[track_caller]`: the line of our host code that
    /// reports it, through `Machine::ev`).
    #[track_caller]
    pub fn push(&mut self, task: &str, func: &'static str, tag: &'static str, text: String, changed: &'static [&'static str]) {
        self.push_with(task, func, tag, || text, changed);
    }

    /// [`EventLog::push`] with the text made only if the event is kept: a Guest that takes millions of
    /// direct traps fills the log early, and formatting a sentence per trap only to drop it was most of
    /// what each trap cost. The same events, numbers and count of dropped ones either way.
    #[track_caller]
    pub fn push_with(&mut self, task: &str, func: &'static str, tag: &'static str, text: impl FnOnce() -> String, changed: &'static [&'static str]) {
        let at = std::panic::Location::caller();
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.events.len() >= crate::params::EVENT_CAP {
            self.dropped += 1;
            return;
        }
        self.events.push(Event {
            seq,
            // Each kept to its length (a formatted text has room to spare): a full log is
            // `params::EVENT_CAP` of them.
            task: task.to_string(),
            func,
            tag,
            text: text().into_boxed_str(),
            changed,
            file: at.file(),
            line: at.line(),
        });
    }

    pub fn len(&self) -> u64 {
        self.next_seq
    }

    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// Every event kept, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> + '_ {
        self.events.iter()
    }

    /// Events from position `from` on (what one scenario action produced). Events are kept from the first,
    /// so event `seq` is the `seq`-th kept.
    pub fn since(&self, from: u64) -> impl Iterator<Item = &Event> + '_ {
        self.events.since(usize::try_from(from).unwrap_or(usize::MAX))
    }
}
