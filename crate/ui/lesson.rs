//! What the walkthrough page shows of a lesson, computed in Rust so JavaScript only renders: a
//! [`LessonPlayer`] that replays a lesson step by step and keeps a checkpoint (a cloned [`Runner`]; Guest
//! memory is copy-on-write) after every step, so going back or jumping to any step is instant; the
//! [`StepView`] of a position (results, events, the state and what changed, the Guest CPU, the console);
//! and the text of our own host function for a kernel name ([`host_source`]), cut out of `crate/host/*.rs`
//! at build time. Pure Rust: `crate::wasm` hands these structs to the page. A player opens a lesson of the
//! embedded course by id ([`LessonPlayer::open`]) or a lesson given as text with its Guest programs beside
//! it ([`LessonPlayer::from_text`]: a lesson a page loads at run time, the author's preview); both replay
//! the same way, failed lines and all.

use serde::Serialize;

use super::diagram::{Figure, Panel};
use super::state::{book_rows, paging_table, BookRow, PagingTable, Snapshot};
use super::stepper::Stepper;
use crate::diagnostic::Diagnostic;
use crate::params::{SECTION_ROWS, VIEW_EVENTS};
use crate::scenario::check::{lesson_runner_from, run_line, run_rcu, Guests, RcuResult, StepBudget};
use crate::scenario::lesson::{parse_lesson, Lesson};
use crate::scenario::library::LESSONS;
use crate::scenario::parse::CallKind;
use crate::scenario::{Runner, Step};
use crate::tags;

/// A lesson in the course list.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonInfo {
    pub id: String,
    pub title: String,
    pub goals: Vec<String>,
    pub steps: usize,
    pub guest: Option<String>,
}

/// The embedded course, parsed once (every walkthrough on a page opens from it). Lessons that do not parse
/// are left out (the checker and `tests/lessons.rs` hold the course to parsing).
fn course() -> &'static [Lesson] {
    static COURSE: std::sync::OnceLock<Vec<Lesson>> = std::sync::OnceLock::new();
    COURSE.get_or_init(|| LESSONS.iter().filter_map(|(file, text)| parse_lesson(text, file).ok()).collect())
}

/// Every lesson of the embedded course, in file order (the order of their numbered file names).
pub fn lessons() -> Vec<LessonInfo> {
    course()
        .iter()
        .map(|l| LessonInfo { id: l.id.clone(), title: l.title.clone(), goals: l.goals.clone(), steps: l.steps.len(), guest: l.guest.clone() })
        .collect()
}

/// Each lesson of the embedded course as `(id, title)`, in file order, read from its first line without
/// parsing it: what a page's list of lessons needs as it starts (parsing the course took 30 ms of a cold
/// start in the page).
pub fn lesson_titles() -> Vec<(&'static str, &'static str)> {
    LESSONS
        .iter()
        .map(|(f, text)| {
            let title = text.lines().find(|l| !l.trim().is_empty()).and_then(|l| l.strip_prefix("# ")).map(str::trim).unwrap_or("");
            (f.trim_end_matches(".lesson"), title)
        })
        .collect()
}

/// The ids of the embedded course's lessons, in file order, without parsing them (what a page checks a
/// `lesson` attribute against before it opens one).
pub fn lesson_ids() -> Vec<&'static str> {
    LESSONS.iter().map(|(f, _)| f.trim_end_matches(".lesson")).collect()
}

/// A lesson of the embedded course by id (`04-read-runs-the-guest`), parsed (on its own: a page that opens
/// one lesson does not pay for parsing the course).
pub fn lesson(id: &str) -> Result<Lesson, String> {
    let (file, text) = LESSONS.iter().find(|(f, _)| f.trim_end_matches(".lesson") == id).ok_or_else(|| format!("no lesson called {id:?}"))?;
    parse_lesson(text, file).map_err(|es| es.iter().map(|e| format!("{}:{}: {}", e.file, e.line, e.message)).collect::<Vec<_>>().join("\n"))
}

/// Our Rust text of a kernel function, for the code pane: without the calls that only record events for
/// the page (`k.ev(...)`, `sys.log(...)`), each line with its number in our file.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostSource {
    pub func: String,
    pub tag: String,
    /// Our file, and the number of each line shown (1-based; the lines cut out leave gaps).
    pub file: String,
    pub line: usize,
    pub numbers: Vec<usize>,
    pub text: String,
    /// The line that declares the function (after its doc comment), as an index into the lines shown.
    pub signature: Option<usize>,
    /// The same function in the real 2.6.39 source.
    pub link: Option<String>,
    pub summary: String,
}

/// One function cut out of our sources at build time (see crate/build.rs).
struct HostCut {
    func: &'static str,
    file: &'static str,
    first: usize,
    text: &'static str,
    /// (index of a line shown, how many lines were cut out just before it).
    gaps: &'static [(usize, usize)],
    /// (source line of an instrumentation statement, the index of the line shown for its event).
    moved: &'static [(usize, usize)],
}

impl HostCut {
    /// The number in our file of each line shown.
    fn numbers(&self) -> Vec<usize> {
        let mut n = self.first;
        (0..self.text.lines().count())
            .map(|i| {
                n += self.gaps.iter().find(|(j, _)| *j == i).map(|(_, skip)| *skip).unwrap_or(0);
                let at = n;
                n += 1;
                at
            })
            .collect()
    }
}

// `HOST_SOURCES`: every function of `tags::FUNCS` cut out of crate/lguest, crate/kernel and crate/launcher by
// crate/build.rs (with `fn_cut`), so the page carries the functions it shows and not the files around them.
include!(concat!(env!("OUT_DIR"), "/host_source.rs"));

/// Our source of kernel function `func` (a name of `tags::FUNCS`): its doc comment and body.
pub fn host_source(func: &str) -> Option<HostSource> {
    let info = tags::info(func);
    let c = HOST_SOURCES.iter().find(|c| c.func == func)?;
    let name = crate::fn_cut::rust_name(func);
    Some(HostSource {
        numbers: c.numbers(),
        func: func.to_string(),
        tag: info.map(|i| i.tag.to_string()).unwrap_or_default(),
        file: c.file.to_string(),
        line: c.first,
        text: c.text.to_string(),
        signature: c.text.lines().position(|l| l.contains(&format!("fn {name}"))),
        link: tags::source_link(func),
        summary: info.map(|i| i.summary.to_string()).unwrap_or_default(),
    })
}

/// The lines of one function's listing a step ran: each line shown (an index) with the numbers of the
/// step's events it stands for (an event recorded by instrumentation marks the statement it reports).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeMarks {
    pub func: String,
    /// Did the step run it (an event of it, or the file operation a line called)?
    pub ran: bool,
    pub lines: Vec<(usize, Vec<usize>)>,
}

/// The marks of function `func` for a step's `events` (numbered from 1, as the page lists them).
pub fn code_marks(func: &str, events: &[EventView], called: bool) -> Option<CodeMarks> {
    let c = HOST_SOURCES.iter().find(|c| c.func == func)?;
    let numbers = c.numbers();
    let mut lines: Vec<(usize, Vec<usize>)> = Vec::new();
    for (k, e) in events.iter().enumerate() {
        if e.file != c.file {
            continue;
        }
        let line = e.line as usize;
        let at = c.moved.iter().find(|(l, _)| *l == line).map(|(_, i)| *i).or_else(|| numbers.iter().position(|&n| n == line));
        if let Some(i) = at {
            match lines.iter_mut().find(|(j, _)| *j == i) {
                Some((_, evs)) => evs.push(k + 1),
                None => lines.push((i, vec![k + 1])),
            }
        }
    }
    crate::small_sort::sort_by_key(&mut lines, |(i, _)| *i);
    Some(CodeMarks { func: func.to_string(), ran: called || !lines.is_empty(), lines })
}

/// An event of the step, with the link to its function in the real kernel source.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub seq: u64,
    pub task: String,
    pub func: String,
    pub tag: String,
    pub text: String,
    pub changed: Vec<String>,
    pub link: Option<String>,
    /// Our source file and line that recorded it (for the code pane's "ran" marks).
    pub file: String,
    pub line: u32,
}

/// The Guest CPU as the page shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestCpuView {
    pub program: String,
    /// (name, value) in the order a student reads them.
    pub regs: Vec<(String, u32)>,
    pub eip: u32,
    pub eflags: u32,
    /// (flag, set) for CF PF AF ZF SF TF IF DF OF.
    pub flags: Vec<(String, bool)>,
    /// Flags the instruction just executed left architecturally undefined, with the sentence to show (the
    /// same shape as the stepper's `GuestAt`). Empty here: this view is the CPU at rest, in a step that ran
    /// no Guest instruction, so there is no instruction just executed to say it of.
    pub undefined_flags: Vec<(String, String)>,
    /// Instructions around EIP: (address, GNU as text, is EIP).
    pub disasm: Vec<(u32, String, bool)>,
    /// The program's source line of the instruction at EIP (1-based) and its text.
    pub source_line: Option<usize>,
    pub source_text: Option<String>,
    /// `lguest_data` fields read from Guest memory, once the Guest told the Host where it is.
    pub lguest_data: Vec<(String, u32)>,
    /// The registers whose value differs from the step before (set by [`step_view`]).
    pub changed: Vec<String>,
}

/// Everything the page shows at one position of a lesson.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    pub lesson: String,
    /// Steps taken (0 = before the first step).
    pub position: usize,
    pub total: usize,
    /// The results of the scenario lines of the step just taken (empty at position 0).
    pub results: Vec<Step>,
    pub rcu: Vec<RcuResult>,
    /// For each explorer run, its counterexample in words and how many steps it has.
    pub rcu_schedules: Vec<Option<(String, usize)>>,
    pub events: Vec<EventView>,
    /// Events of the step between the first and the last [`VIEW_EVENTS`] / 2 that `events` leaves out.
    pub events_left_out: u64,
    /// Kernel functions the step's events ran in, first seen first (for the code pane).
    pub funcs: Vec<String>,
    /// For each function the code pane offers (those, then the lesson's `about:`), the lines the step ran.
    pub code: Vec<CodeMarks>,
    /// The machine's state. Not sent to the page, which draws the pictures, sections and rows below.
    #[serde(skip)]
    pub snapshot: Snapshot,
    /// The state as `name = value` pairs, and the names whose value this step changed (or made appear).
    #[serde(skip)]
    pub fields: Vec<(String, String)>,
    #[serde(skip)]
    pub changed: Vec<String>,
    /// The same fields in titled sections, each row with whether this step changed it and what it was.
    pub sections: Vec<SectionView>,
    /// Early-console output so far (the `console` of NOTIFY results), oldest first.
    pub console: Vec<String>,
    pub cpu: Option<GuestCpuView>,
    /// `struct lguest_data` in Guest memory (empty until the Guest's LGUEST_INIT).
    #[serde(skip)]
    pub lguest_data: Vec<(String, u32)>,
    /// The same, where it is and each field with what this step changed.
    pub ldata: Option<LguestDataView>,
    /// The system, with the step's path numbered hop by hop.
    pub system: Figure,
    /// The eventfd map as boxes and arrows, the Guest's memory map, and (once paging is on) the Guest's ptes
    /// beside their shadows as bit fields.
    pub map: Option<Figure>,
    pub memory: Option<Figure>,
    pub ptes: Option<Figure>,
    /// The shadow page tables as a table (the `ptes` picture shows the first few).
    pub paging: Option<PagingTable>,
    /// The account book: what is held, what this step allocated and freed.
    pub book: Vec<BookRow>,
    /// The panels beside the story, in order, and which open for this step.
    pub panels: Vec<Panel>,
    /// Every line of every step so far is as the lesson says.
    pub all_ok: bool,
    /// In free play, what to try next when the last line leaves a student stuck (set by `FreePlay::view`).
    pub hint: Option<String>,
    /// Units of Guest CPU work this step recorded (instructions and `rep` iterations), if Guest code ran:
    /// the page then offers to step through them.
    pub guest_units: Option<u64>,
}

impl StepView {
    /// Record the units of Guest work the step did, if it ran Guest code: the Guest CPU pane opens for them.
    pub fn ran_guest(&mut self, units: Option<u64>) {
        self.guest_units = units;
        if units.is_some() {
            for p in self.panels.iter_mut().filter(|p| p.id == "guest-cpu" && !p.open) {
                p.open = true;
                p.why = "the Guest ran in this step".into();
            }
        }
    }
}

/// A titled group of fields (`struct lguest`, `struct lg_cpu`, ...) as the page shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SectionView {
    pub id: crate::ui::state::Section,
    pub title: String,
    pub rows: Vec<RowView>,
}

/// One field: its name (as `expect` lines name it), its value, and, if this step changed it, what it was
/// (`None` with `changed` for a field the step made appear).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowView {
    pub key: String,
    pub value: String,
    pub changed: bool,
    pub was: Option<String>,
}

/// `struct lguest_data` in Guest memory: where the Guest said it is, and its fields.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LguestDataView {
    pub address: String,
    pub rows: Vec<RowView>,
}

/// What one step of a lesson did: its lines' results, its explorer runs, and the Guest CPU's timeline if
/// Guest code ran.
#[derive(Clone, Debug)]
struct StepRun {
    results: Vec<Step>,
    rcu: Vec<RcuResult>,
    guest: Option<Stepper>,
}

/// A lesson being stepped through. Every step's results and Guest timeline are kept once run; of the
/// machines after each step (a [`Runner`] costs about 140 KB, most of it Guest memory's page table, even
/// copy-on-write) only a few are kept: the start, every [`KEEP_EVERY`]th step, the furthest step run and
/// the current position. Any other position is replayed from the kept machine before it (the core is
/// deterministic), so ten walkthroughs on a page stepped to their ends stay within a few MB, and a step
/// back replays at most `KEEP_EVERY - 1` steps.
#[derive(Clone, Debug)]
pub struct LessonPlayer {
    pub lesson: Lesson,
    /// The machine before the first step.
    start: Runner,
    /// Machines after `k` steps (`k > 0`), for the `k` [`LessonPlayer::keeps`].
    kept: Vec<(usize, Runner)>,
    /// `runs[k]` is what step `k + 1` did.
    runs: Vec<StepRun>,
    /// `before[k]`: what the page compares the machine after step `k + 1` with (the machine after `k` steps).
    before: Vec<Before>,
    pub position: usize,
    /// Guest programs given beside a lesson's text, by name (empty for a lesson of the course).
    guests: Vec<(String, String)>,
}

/// Every how many steps the player keeps the machine (see [`LessonPlayer`]).
pub const KEEP_EVERY: usize = 4;

/// What a step's view compares with: the machine before the step, as its event count and its fields.
#[derive(Clone, Debug)]
pub struct Before {
    log_len: u64,
    snapshot: Snapshot,
    fields: std::collections::HashMap<String, String>,
    ldata: Vec<(String, u32)>,
    regs: Option<Vec<(String, u32)>>,
    /// Each task that sleeps in a call, and what it sleeps on (the picture's path starts from there).
    asleep: Vec<(String, String)>,
}

impl Before {
    pub fn of(r: &Runner) -> Before {
        let snapshot = Snapshot::of(&r.kernel);
        Before {
            log_len: r.kernel.log.len(),
            fields: snapshot.fields().into_iter().collect(),
            snapshot,
            ldata: lguest_data_fields(r),
            regs: cpu_regs(r),
            asleep: super::diagram::asleep(&r.kernel),
        }
    }
}

impl LessonPlayer {
    /// Open a lesson of the embedded course at position 0.
    pub fn open(id: &str) -> Result<LessonPlayer, String> {
        let lesson = each_about_once(lesson(id)?);
        let start = lesson_runner_from(&lesson, Guests::Library)?;
        Ok(LessonPlayer::new(lesson, start, Vec::new()))
    }

    /// Open a lesson given as text (`file` names it in messages and gives its id), with the Guest programs
    /// its `guest:` and `load` lines name given beside it (a name not given comes from the course), at
    /// position 0. A lesson that does not parse, or whose `guest:` program is missing or does not assemble,
    /// gives every problem found, each at its line; lines that fail when they run are the steps' results.
    pub fn from_text(text: &str, file: &str, guests: Vec<(String, String)>) -> Result<LessonPlayer, Vec<Diagnostic>> {
        let lesson = each_about_once(parse_lesson(text, file)?);
        let start = lesson_runner_from(&lesson, Guests::Given(&guests)).map_err(|m| vec![Diagnostic::in_file(file, lesson.guest_line, m)])?;
        Ok(LessonPlayer::new(lesson, start, guests))
    }

    fn new(lesson: Lesson, start: Runner, guests: Vec<(String, String)>) -> LessonPlayer {
        LessonPlayer { lesson, start, kept: Vec::new(), runs: Vec::new(), before: Vec::new(), position: 0, guests }
    }

    pub fn total(&self) -> usize {
        self.lesson.steps.len()
    }

    /// Go to position `n` (clamped to `0..=total`), running the steps not yet run. Returns the position.
    pub fn go_to(&mut self, n: usize) -> usize {
        let n = n.min(self.total());
        self.run_steps(n);
        if n > 0 && !self.kept.iter().any(|(k, _)| *k == n) {
            let r = self.replay(n);
            self.kept.push((n, r));
        }
        self.position = n;
        self.forget();
        n
    }

    /// Run the steps not yet run, up to position `n` (clamped), without moving the current position.
    fn run_steps(&mut self, n: usize) {
        let n = n.min(self.total());
        if self.runs.len() >= n {
            return;
        }
        let mut runner = self.replay(self.runs.len());
        while self.runs.len() < n {
            let k = self.runs.len();
            self.before.push(Before::of(&runner));
            let step = &self.lesson.steps[k];
            let (results, guest) = run_step_recorded(&mut runner, step.lines.iter().map(|l| &l.parsed), Guests::Given(&self.guests));
            let rcu: Vec<RcuResult> = step.rcu.iter().map(run_rcu).collect();
            self.runs.push(StepRun { results, rcu, guest });
            if (k + 1) % KEEP_EVERY == 0 && k + 1 < n {
                self.kept.push((k + 1, runner.clone()));
            }
        }
        self.kept.retain(|(k, _)| *k != n);
        self.kept.push((n, runner));
        self.forget();
    }

    /// Whether the machine after `k` steps is one the player keeps.
    fn keeps(&self, k: usize) -> bool {
        k % KEEP_EVERY == 0 || k == self.runs.len() || k == self.position
    }

    /// Drop the machines no longer kept.
    fn forget(&mut self) {
        let keep: Vec<bool> = self.kept.iter().map(|(k, _)| self.keeps(*k)).collect();
        let mut it = keep.into_iter();
        self.kept.retain(|_| it.next().unwrap_or(true));
    }

    /// The machine after `n` steps (`n` at most the steps run), replayed from the nearest one kept before it.
    fn replay(&self, n: usize) -> Runner {
        let (from, base) = self.kept.iter().filter(|(k, _)| *k <= n).max_by_key(|(k, _)| *k).map(|(k, r)| (*k, r)).unwrap_or((0, &self.start));
        let mut runner = base.clone();
        for step in &self.lesson.steps[from..n.min(self.runs.len())] {
            // As the step first ran (recording included), so the machine is the same; what it did is kept.
            let _ = run_step_recorded(&mut runner, step.lines.iter().map(|l| &l.parsed), Guests::Given(&self.guests));
        }
        runner
    }

    /// The machine at the current position.
    pub fn runner(&self) -> &Runner {
        self.machine(self.position)
    }

    /// A kept machine after `k` steps (the start if none is: `go_to` keeps the current one).
    fn machine(&self, k: usize) -> &Runner {
        self.kept.iter().find(|(p, _)| *p == k && k > 0).map(|(_, r)| r).unwrap_or(&self.start)
    }

    /// Run to the next step in which the Launcher sees the Guest: a `read()` of `/dev/lguest` that
    /// returns (a NOTIFY, the console, the reason it died, an errno), or to the end. Returns the position.
    pub fn next_event(&mut self) -> usize {
        let mut n = self.position + 1;
        while n < self.total() {
            self.go_to(n);
            let seen = self.runs[n - 1].results.iter().any(|s| matches!(s.call, CallKind::Read | CallKind::Wait) && s.sys.is_some());
            if seen {
                return n;
            }
            n += 1;
        }
        self.go_to(self.total())
    }

    /// What the page shows now.
    pub fn view(&self) -> StepView {
        self.view_of(self.position, self.runner())
    }

    /// The view at position `pos`, whose machine is `runner`.
    fn view_of(&self, pos: usize, runner: &Runner) -> StepView {
        let (results, rcu) = if pos > 0 { (self.runs[pos - 1].results.clone(), self.runs[pos - 1].rcu.clone()) } else { (Vec::new(), Vec::new()) };
        let before = pos.checked_sub(1).and_then(|k| self.before.get(k));
        let console = self.runs[..pos].iter().flat_map(|r| r.results.iter().filter_map(|s| s.console.clone())).collect();
        let all_ok = self.runs[..pos].iter().all(|r| r.results.iter().all(|s| s.ok) && r.rcu.iter().all(|x| x.ok));
        let mut v = step_view_after(before, runner, results, console);
        v.lesson = self.lesson.id.clone();
        v.position = pos;
        v.total = self.total();
        v.rcu_schedules = rcu
            .iter()
            .map(|r| r.counterexample.as_deref().map(|c| (super::rcu::schedule_words(c), crate::rcu::model::parse_schedule(c).map(|s| s.len()).unwrap_or(0))))
            .collect();
        v.rcu = rcu;
        v.all_ok = all_ok;
        v.ran_guest(if pos > 0 { self.runs[pos - 1].guest.as_ref().map(|g| g.total()) } else { None });
        let about: Vec<String> = if pos > 0 { self.lesson.steps[pos - 1].about.iter().map(|a| a.func.clone()).collect() } else { Vec::new() };
        super::diagram::reopen(&mut v.panels, &about);
        for f in &about {
            if !v.code.iter().any(|c| c.func == *f) {
                // The file operation a line called ran, though it may record no event of its own.
                let called = v.results.iter().any(|s| {
                    matches!((s.call, f.as_str()), (CallKind::Read | CallKind::Wait, "read") | (CallKind::Write, "write") | (CallKind::Close, "close"))
                });
                v.code.extend(code_marks(f, &v.events, called));
            }
        }
        v
    }

    /// What the page would show at position `n` (clamped), running the steps not yet run, without moving
    /// the current position: the page computes the next step's view while the student reads this one.
    pub fn view_at(&mut self, n: usize) -> StepView {
        self.run_steps(n);
        let n = n.min(self.total());
        if n == 0 || self.kept.iter().any(|(k, _)| *k == n) {
            return self.view_of(n, self.machine(n));
        }
        // Not kept: replayed for this view and dropped (the player keeps its machines in proportion).
        let runner = self.replay(n);
        self.view_of(n, &runner)
    }

    /// The Guest CPU's timeline of the step just taken (the one that led to the current position), if Guest
    /// code ran in it.
    pub fn guest(&mut self) -> Option<&mut Stepper> {
        let pos = self.position.checked_sub(1)?;
        self.runs.get_mut(pos)?.guest.as_mut()
    }

    /// The address of label `name` of the Guest program the lesson loads (as the machine at the current
    /// position holds it, else as it is at the end of the lesson).
    pub fn program_symbol(&mut self, name: &str) -> Option<u32> {
        if let Some(a) = self.runner().program.as_ref().and_then(|p| p.symbols.get(name)) {
            return Some(*a);
        }
        self.run_steps(self.total());
        self.machine(self.total()).program.as_ref()?.symbols.get(name).copied()
    }

    /// The timeline of step `n` (1-based, as positions count), running the steps up to it if need be
    /// without moving the current position.
    pub fn guest_of_step(&mut self, n: usize) -> Option<&mut Stepper> {
        if n == 0 || n > self.total() {
            return None;
        }
        self.run_steps(n);
        self.runs.get_mut(n - 1)?.guest.as_mut()
    }
}

/// The page lists each function a step is about once, however many of its names `about:` gives (`read
/// L:040`; the checker warns about those).
fn each_about_once(mut lesson: Lesson) -> Lesson {
    for s in &mut lesson.steps {
        let mut seen: Vec<String> = Vec::new();
        s.about.retain(|a| {
            let new = !seen.contains(&a.func);
            seen.push(a.func.clone());
            new
        });
    }
    lesson
}

/// Run `lines` on `runner`, recording the Guest CPU's work: their results, and the timeline to step
/// through if Guest code ran (what one lesson step or one free-play line shows).
pub fn run_recorded<'a>(runner: &mut Runner, lines: impl Iterator<Item = &'a crate::scenario::Line>) -> (Vec<Step>, Option<Stepper>) {
    run_recorded_from(runner, lines, Guests::Library)
}

/// [`run_recorded`], with `load` lines taking the Guest programs `guests` gives.
pub fn run_recorded_from<'a>(runner: &mut Runner, lines: impl Iterator<Item = &'a crate::scenario::Line>, guests: Guests) -> (Vec<Step>, Option<Stepper>) {
    recording(runner, |r| lines.map(|l| run_line(r, l, guests)).collect())
}

/// [`run_recorded_from`] for the lines of one lesson step: they share one step's budget
/// ([`StepBudget`], as `lguest-sim check` runs them).
pub fn run_step_recorded<'a>(runner: &mut Runner, lines: impl Iterator<Item = &'a crate::scenario::Line>, guests: Guests) -> (Vec<Step>, Option<Stepper>) {
    let mut budget = StepBudget::default();
    recording(runner, |r| lines.map(|l| budget.run_line(r, l, guests)).collect())
}

/// What `run` does to `runner`, with the Guest CPU's work recorded: its steps, and the timeline to step
/// through if Guest code ran.
fn recording(runner: &mut Runner, run: impl FnOnce(&mut Runner) -> Vec<Step>) -> (Vec<Step>, Option<Stepper>) {
    crate::lguest::start_recording(&mut runner.kernel);
    let results = run(runner);
    let guest = crate::lguest::stop_recording(&mut runner.kernel).map(|(tl, g)| Stepper::new(tl, runner.program.clone(), g));
    (results, guest)
}

/// The view of machine `now` after `results`, compared with `prev` (the machine before them; `None` at the
/// start, when nothing counts as changed). Lesson fields (`lesson`, `position`, `total`) are left empty.
pub fn step_view(prev: Option<&Runner>, now: &Runner, results: Vec<Step>, console: Vec<String>) -> StepView {
    step_view_after(prev.map(Before::of).as_ref(), now, results, console)
}

/// [`step_view`], compared with what the machine before was ([`Before`]).
pub fn step_view_after(prev: Option<&Before>, now: &Runner, results: Vec<Step>, console: Vec<String>) -> StepView {
    let from = prev.map(|p| p.log_len).unwrap_or(u64::MAX);
    // A line that ran long (a Guest trapping for ever, through many slices) can have made hundreds of
    // thousands: the view carries the first and the last of them and says how many it left out.
    let mut head: Vec<&crate::event::Event> = Vec::new();
    let mut tail: std::collections::VecDeque<&crate::event::Event> = std::collections::VecDeque::new();
    let mut events_left_out = 0u64;
    for e in now.kernel.log.since(from) {
        if head.len() < VIEW_EVENTS / 2 {
            head.push(e);
        } else {
            if tail.len() == VIEW_EVENTS / 2 {
                tail.pop_front();
                events_left_out += 1;
            }
            tail.push_back(e);
        }
    }
    let events: Vec<EventView> = head
        .into_iter()
        .chain(tail)
        .map(|e| EventView {
            seq: e.seq,
            task: e.task.clone(),
            func: e.func.to_string(),
            tag: e.tag.to_string(),
            text: e.text.to_string(),
            changed: e.changed.iter().map(|c| c.to_string()).collect(),
            link: tags::source_link(e.func),
            file: e.file.to_string(),
            line: e.line,
        })
        .collect();
    let mut funcs: Vec<String> = Vec::new();
    for e in &events {
        if e.func != "launcher" && !funcs.contains(&e.func) {
            funcs.push(e.func.clone());
        }
    }
    let code = funcs.iter().filter_map(|f| code_marks(f, &events, true)).collect();
    let snapshot = Snapshot::of(&now.kernel);
    let fields = snapshot.fields();
    let empty = std::collections::HashMap::new();
    let before = prev.map(|p| &p.fields).unwrap_or(&empty);
    let earlier = prev.map(|p| &p.snapshot);
    let is_changed = |k: &String, v: &String| prev.is_some() && before.get(k) != Some(v);
    let changed: Vec<String> = fields.iter().filter(|(k, v)| is_changed(k, v)).map(|(k, _)| k.clone()).collect();
    let sections: Vec<SectionView> = snapshot
        .sections()
        .into_iter()
        .map(|(id, rows)| {
            let total = rows.len();
            let mut rows: Vec<RowView> = rows
                .into_iter()
                .map(|(key, value)| {
                    let changed = is_changed(&key, &value);
                    let was = if changed { before.get(&key).cloned() } else { None };
                    RowView { key, value, changed, was }
                })
                .collect();
            // A section as long as a thousand eventfds: the rows this step changed, and the first others.
            if total > SECTION_ROWS {
                let mut room = SECTION_ROWS.saturating_sub(rows.iter().filter(|r| r.changed).count());
                rows.retain(|r| {
                    let keep = r.changed || room > 0;
                    room -= usize::from(!r.changed && room > 0);
                    keep
                });
                let left = total - rows.len();
                rows.push(RowView {
                    key: "…".into(),
                    value: format!(
                        "{left} more rows not shown: the page shows {SECTION_ROWS} of a section (those this step changed first); `expect` lines see them all"
                    ),
                    changed: false,
                    was: None,
                });
            }
            SectionView { id, title: id.title().to_string(), rows }
        })
        .collect();
    let all_ok = results.iter().all(|s| s.ok);
    let lguest_data = lguest_data_fields(now);
    let ldata = (!lguest_data.is_empty()).then(|| {
        let old: Vec<(String, u32)> = prev.map(|p| p.ldata.clone()).unwrap_or_default();
        LguestDataView {
            address: snapshot.guests.last().and_then(|g| g.lguest_data).map(|a| format!("{a:#x}")).unwrap_or_else(|| "?".into()),
            rows: lguest_data
                .iter()
                .map(|(k, v)| {
                    let was = old.iter().find(|(o, _)| o == k).map(|(_, w)| *w);
                    let changed = was.is_some_and(|w| w != *v);
                    RowView { key: k.clone(), value: format!("{v:#x}"), changed, was: if changed { was.map(|w| format!("{w:#x}")) } else { None } }
                })
                .collect(),
        }
    });
    let g = snapshot.guests.last();
    let gb = earlier.and_then(|b| b.guests.last());
    let book = book_rows(&snapshot, earlier);
    let mut cpu = guest_cpu(now);
    if let (Some(c), Some(before)) = (cpu.as_mut(), prev.and_then(|p| p.regs.clone())) {
        c.changed = c.regs.iter().filter(|(n, v)| before.iter().any(|(m, w)| m == n && w != v)).map(|(n, _)| n.clone()).collect();
    }
    let system = super::diagram::system(prev.map(|p| p.asleep.as_slice()), now, &results, &events, &snapshot, &changed);
    let map = g.map(|g| super::diagram::map(g, gb, prev.is_none(), &events, &snapshot));
    let memory = g.map(|g| super::diagram::memory(g, &snapshot, g.cpus.first().map(|c| c.regs.eip)));
    let ptes = g.and_then(super::diagram::ptes);
    let paging = g.and_then(paging_table);
    let mut also: Vec<&'static str> = Vec::new();
    if prev.is_some() {
        if g.map(|g| &g.map_versions) != gb.map(|g| &g.map_versions) {
            also.push("map");
        }
        if book.iter().any(|r| !r.change.is_empty()) {
            also.push("book");
        }
        if ldata.as_ref().is_some_and(|l| l.rows.iter().any(|r| r.changed)) {
            also.push("ldata");
        }
        if results.iter().any(|s| s.console.is_some()) {
            also.push("console");
        }
        if g.map(|g| (&g.paging.mappings, g.paging.active)) != gb.map(|g| (&g.paging.mappings, g.paging.active)) && g.is_some_and(|g| g.paging.active) {
            also.push("paging");
        }
        if g.map(|g| g.pfn_limit) != gb.map(|g| g.pfn_limit) {
            also.push("memory");
        }
    }
    let panels = super::diagram::panels(&sections, &also);
    StepView {
        lesson: String::new(),
        position: now.steps.len(),
        total: now.steps.len(),
        results,
        rcu: Vec::new(),
        rcu_schedules: Vec::new(),
        events,
        events_left_out,
        funcs,
        code,
        snapshot,
        fields,
        changed,
        sections,
        console,
        cpu,
        lguest_data,
        ldata,
        system,
        map,
        memory,
        ptes,
        paging,
        book,
        panels,
        all_ok,
        hint: None,
        guest_units: None,
    }
}

/// `struct lguest_data` as the Guest holds it in its own memory, once `LHCALL_LGUEST_INIT` said where:
/// the fields the Host reads and writes (interrupts enabled and blocked, cr2, the noirq range).
pub fn lguest_data_fields(runner: &Runner) -> Vec<(String, u32)> {
    use crate::lguest::hypercalls::lguest_data as ld;
    let Some((_, guest)) = runner.kernel.lguest.last() else { return Vec::new() };
    let (Some(base), Some(cpu)) = (guest.lg.lguest_data, guest.cpus.first()) else { return Vec::new() };
    let Some(p) = runner.kernel.procs.get(cpu.mm as usize) else { return Vec::new() };
    let mut out = Vec::new();
    for (name, off) in [
        ("irq_enabled", ld::IRQ_ENABLED),
        ("blocked_interrupts[0]", ld::BLOCKED_INTERRUPTS),
        ("cr2", ld::CR2),
        ("irq_pending", ld::IRQ_PENDING),
        ("noirq_start", ld::NOIRQ_START),
        ("noirq_end", ld::NOIRQ_END),
    ] {
        let mut w = [0u8; 4];
        if p.mm.guest.ram.read(base.wrapping_add(off), &mut w).is_ok() {
            out.push((name.to_string(), u32::from_le_bytes(w)));
        }
    }
    out
}

/// The Guest CPU pane: only for a machine with a loaded Guest program and a Guest to run it.
pub fn guest_cpu(runner: &Runner) -> Option<GuestCpuView> {
    let prog = runner.program.as_ref()?;
    let (_, guest) = runner.kernel.lguest.last()?;
    let cpu = guest.cpus.first()?;
    let r = &cpu.regs;
    let regs = cpu_regs(runner)?;
    let flags = crate::cpu::trace::flag_states(r.eflags);
    let ram = &runner.kernel.procs.get(cpu.mm as usize)?.mm.guest.ram;
    // Disassemble from a known instruction a few lines before EIP (x86 cannot be decoded backwards).
    let addrs: Vec<u32> = prog.lines.iter().map(|(a, _)| *a).collect();
    let idx = addrs.iter().rposition(|a| *a <= r.eip);
    let start = idx.map(|i| addrs[i.saturating_sub(4)]).unwrap_or(r.eip);
    let mut bytes = vec![0u8; 96];
    let disasm = if ram.read(start, &mut bytes).is_ok() {
        crate::cpu::trace::disassemble(&bytes, start).into_iter().take(11).map(|(a, t)| (a, t, a == r.eip)).collect()
    } else {
        Vec::new()
    };
    let source_line = prog.lines.iter().find(|(a, _)| *a == r.eip).or_else(|| idx.map(|i| &prog.lines[i])).map(|(_, l)| *l);
    let source_text = source_line.and_then(|l| prog.source.lines().nth(l.wrapping_sub(1))).map(|s| s.trim().to_string());
    let lguest_data = lguest_data_fields(runner);
    Some(GuestCpuView {
        program: prog.name.clone(),
        regs,
        eip: r.eip,
        eflags: r.eflags,
        flags,
        undefined_flags: Vec::new(),
        disasm,
        source_line,
        source_text,
        lguest_data,
        changed: Vec::new(),
    })
}

/// The Guest CPU's registers in the order a student reads them, for a machine with a loaded Guest program.
fn cpu_regs(runner: &Runner) -> Option<Vec<(String, u32)>> {
    runner.program.as_ref()?;
    let r = &runner.kernel.lguest.last()?.1.cpus.first()?.regs;
    Some(
        [
            ("eax", r.eax),
            ("ebx", r.ebx),
            ("ecx", r.ecx),
            ("edx", r.edx),
            ("esi", r.esi),
            ("edi", r.edi),
            ("ebp", r.ebp),
            ("esp", r.esp),
            ("cs", r.cs),
            ("ss", r.ss),
            ("ds", r.ds),
        ]
        .map(|(n, v)| (n.to_string(), v))
        .to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_modelled_host_function_has_its_source() {
        for f in tags::FUNCS {
            if matches!(f.func, "launcher" | "clockdev_fn" | "eventfd_ctx_fdget" | "eventfd_signal") {
                continue;
            }
            let s = host_source(f.func).unwrap_or_else(|| panic!("no source for {}", f.func));
            assert!(s.text.contains(&format!("fn {}", crate::fn_cut::rust_name(f.func))), "{}", f.func);
            // The cut ends where the function does: its closing brace, at the indentation of its `fn` line,
            // and the file goes on with something else (a blank line, a comment, another item, or the end
            // of an impl).
            let last = s.text.lines().last().unwrap_or("");
            let fn_line = s.text.lines().find(|l| l.contains(&format!("fn {}", crate::fn_cut::rust_name(f.func)))).unwrap_or("");
            let indent = |l: &str| l.len() - l.trim_start().len();
            assert_eq!(last.trim(), "}", "{} is cut short:\n{}", f.func, s.text);
            // Each line shown is the line of our file its number says, and none of them records an event.
            let file = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&s.file)).unwrap();
            let file: Vec<&str> = file.lines().collect();
            for (l, n) in s.text.lines().zip(&s.numbers) {
                assert_eq!(l, file[n - 1], "{}: line {n}", f.func);
                assert!(!l.trim_start().starts_with("k.ev("), "{}: line {n} is instrumentation", f.func);
            }
            assert_eq!(indent(last), indent(fn_line), "{}: the cut ends at a brace of another depth:\n{}", f.func, s.text);
        }
    }

    #[test]
    fn every_lesson_plays_to_its_end_as_it_says_and_back() {
        let all = lessons();
        assert_eq!(all.len(), LESSONS.len());
        assert_eq!(all.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), lesson_ids());
        for info in all {
            let mut p = LessonPlayer::open(&info.id).unwrap();
            assert_eq!(p.go_to(usize::MAX), info.steps);
            let v = p.view();
            assert!(v.all_ok, "{}: {:?}", info.id, v.results);
            p.go_to(1);
            assert_eq!(p.view().position, 1);
            let ahead = p.view_at(2.min(info.steps));
            assert_eq!((ahead.position, p.position), (2.min(info.steps), 1), "{}: a view ahead leaves the position", info.id);
            p.go_to(2.min(info.steps));
            assert_eq!(serde_json::to_string(&p.view()).unwrap(), serde_json::to_string(&ahead).unwrap(), "{}: the view ahead is the view there", info.id);
            p.go_to(1);
            assert_eq!(p.go_to(0), 0);
            assert!(p.view().results.is_empty());
        }
    }

    #[test]
    fn a_lesson_given_as_text_plays_as_the_course_lesson_does() {
        let to_json = |v: &StepView| serde_json::to_string(v).unwrap();
        for id in ["05-hypercalls-and-notify", "16-a-real-guest"] {
            let (file, text) = LESSONS.iter().find(|(f, _)| f.starts_with(id)).unwrap();
            let mut a = LessonPlayer::open(id).unwrap();
            let mut b = LessonPlayer::from_text(text, file, Vec::new()).unwrap();
            assert_eq!(a.total(), b.total());
            for n in (0..=a.total()).chain([2, 0]) {
                a.go_to(n);
                b.go_to(n);
                assert_eq!(to_json(&a.view()), to_json(&b.view()), "{id} at {n}");
            }
        }
    }

    #[test]
    fn a_position_replayed_from_a_kept_machine_is_the_position_run() {
        let to_json = |v: &StepView| serde_json::to_string(v).unwrap();
        for info in lessons() {
            let mut seq = LessonPlayer::open(&info.id).unwrap();
            let views: Vec<String> = (0..=seq.total())
                .map(|n| {
                    seq.go_to(n);
                    to_json(&seq.view())
                })
                .collect();
            assert!(seq.kept.len() <= seq.total() / KEEP_EVERY + 2, "{}: {} machines kept", info.id, seq.kept.len());
            let mut p = LessonPlayer::open(&info.id).unwrap();
            let t = p.total();
            for n in [t, 1, t / 2, 0, t.saturating_sub(1), 2.min(t), t, 3.min(t), 1] {
                p.go_to(n);
                assert_eq!(to_json(&p.view()), views[n], "{} at {n}", info.id);
            }
        }
    }

    #[test]
    fn the_lessons_titles_read_without_parsing_are_the_parsed_ones() {
        let parsed: Vec<(String, String)> = lessons().into_iter().map(|l| (l.id, l.title)).collect();
        let read: Vec<(String, String)> = lesson_titles().into_iter().map(|(i, t)| (i.to_string(), t.to_string())).collect();
        assert_eq!(read, parsed);
        assert!(read.len() >= 25 && read.iter().all(|(_, t)| !t.is_empty()));
    }

    #[test]
    fn a_step_shares_one_budget_in_the_page_as_in_the_checker() {
        // A Guest that never stops: the step's `read` and `wait` together spend STEP_BUDGET, no more, and
        // the page's player leaves the machine where the checker's run left it.
        let text = "# Spinning\n\nguest: spin.S\n\ngoals:\n- that a step is short\n\n## Step: spin\nabout: read\n\n\
                    ```scenario\nopen => fd 3\nwrite INITIALIZE start=0x100000 => 12\nread => blocked\nwait => blocked\n```\n\nIt spins.\n";
        let guests = vec![("spin.S".to_string(), "start:\n1: jmp 1b\n".to_string())];
        let mut p = LessonPlayer::from_text(text, "spin.lesson", guests.clone()).unwrap();
        p.go_to(1);
        assert!(p.view().all_ok);
        let lesson = parse_lesson(text, "spin.lesson").unwrap();
        let run = crate::scenario::check::run_lesson_from(&lesson, Guests::Given(&guests));
        assert_eq!(run.steps[0].units, crate::params::STEP_BUDGET);
        let (page, checker) = (&p.runner().kernel, &run.runner.kernel);
        assert_eq!(page.log.len(), checker.log.len());
        assert_eq!(p.runner().steps.last().map(|s| s.result.clone()), run.runner.steps.last().map(|s| s.result.clone()));
    }

    #[test]
    fn a_text_lesson_with_its_own_guest_and_its_errors() {
        let (_, text) = LESSONS.iter().find(|(f, _)| f.starts_with("16")).unwrap();
        let mine = text.replace("guest: guests/hello.S", "guest: guests/mine.S");
        let hello = crate::scenario::library::source("guests/hello.S").unwrap().to_string();
        let mut p = LessonPlayer::from_text(&mine, "week3/mine.lesson", vec![("guests/mine.S".into(), hello)]).unwrap();
        assert_eq!(p.lesson.id, "mine");
        p.go_to(p.total());
        assert!(p.view().all_ok);
        assert_eq!(p.program_symbol("start"), Some(0x100000));
        // Missing: the problem at the `guest:` line, not a player.
        let e = LessonPlayer::from_text(&mine, "week3/mine.lesson", Vec::new()).unwrap_err();
        assert_eq!((e.len(), e[0].line, e[0].file.as_str()), (1, 3, "week3/mine.lesson"));
        // A line that fails plays as failed, as it would in the course.
        let wrong = text.replace("write INITIALIZE start=0x100000        => 12", "write INITIALIZE start=0x100000        => 13");
        let mut p = LessonPlayer::from_text(&wrong, "w.lesson", Vec::new()).unwrap();
        p.go_to(1);
        let v = p.view();
        assert!(!v.all_ok && v.results.iter().any(|r| !r.ok));
        // A lesson that does not parse: every problem, with its line.
        let e = LessonPlayer::from_text("# T\n\n## Step: a\nabout: nothing\n", "x.lesson", Vec::new()).unwrap_err();
        assert!(e.len() >= 2 && e.iter().all(|d| d.line > 0), "{e:?}");
    }

    #[test]
    fn sections_hold_every_field_once_and_say_what_it_was() {
        let mut p = LessonPlayer::open("09-eventfds").unwrap();
        let mut prev: Option<StepView> = None;
        for n in 0..=p.total() {
            p.go_to(n);
            let v = p.view();
            let flat: Vec<(String, String)> = v.sections.iter().flat_map(|s| s.rows.iter().map(|r| (r.key.clone(), r.value.clone()))).collect();
            let mut sorted = flat.clone();
            sorted.sort();
            let mut fields = v.fields.clone();
            fields.sort();
            assert_eq!(sorted, fields, "step {n}: the sections hold exactly the fields");
            let changed: Vec<&str> = v.sections.iter().flat_map(|s| s.rows.iter().filter(|r| r.changed).map(|r| r.key.as_str())).collect();
            assert_eq!(changed.len(), v.changed.len(), "step {n}");
            if let Some(pv) = &prev {
                for r in v.sections.iter().flat_map(|s| &s.rows) {
                    let before = pv.fields.iter().find(|(k, _)| *k == r.key).map(|(_, v)| v.clone());
                    assert_eq!(r.changed, before.as_ref() != Some(&r.value), "step {n}: {}", r.key);
                    assert_eq!(r.was, if r.changed { before } else { None }, "step {n}: {}", r.key);
                }
            }
            assert!(v.sections.iter().any(|s| s.title == "struct lguest") || n < 2, "step {n}: a Guest exists after INITIALIZE");
            prev = Some(v);
        }
    }

    #[test]
    fn a_guest_program_shows_its_cpu_and_source_line() {
        let mut r = Runner::default();
        for (n, l) in ["load guests/hello.S", "open => fd 3", "write INITIALIZE => 12", "read => 4"].iter().enumerate() {
            let _ = r.exec(n + 1, l).unwrap();
        }
        let c = guest_cpu(&r).expect("a Guest with a program");
        assert_eq!(c.program, "guests/hello.S");
        assert!(c.disasm.iter().any(|d| d.2), "EIP is in the listing: {:?}", c.disasm);
        assert!(c.source_line.is_some() && c.source_text.is_some());
        assert!(!c.lguest_data.is_empty(), "LGUEST_INIT told the Host where lguest_data is");
        assert_eq!(lguest_data_fields(&r), c.lguest_data);
    }
}
