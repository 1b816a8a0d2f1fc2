//! The course author's checker: replay every lesson on a fresh machine and report, with `file:line`, every
//! step whose outcome differs from what the lesson says, every line that cannot run, every Guest action
//! that never runs, every answer the model contradicts, every `rcu` explorer run whose verdict differs,
//! and every parse error. `lguest-sim check lessons/` prints the report; `tests/lessons.rs` asserts it is
//! clean.
//!
//! **Unreachable** has two meanings here, both things a student could never see:
//! - a scenario line the machine cannot carry out at that point (its task is still blocked in an earlier
//!   call or has exited, no `/dev/lguest` is open, the task does not exist);
//! - a `guest ...` line whose action is still queued when the lesson ends: the scripted Guest never ran
//!   it, because the Guest died first or no `read()` ran it.
//!
//! A lesson's Guest programs come from one of three places ([`Guests`]): the course the library embeds,
//! an author's directory (`lguest-sim check`), or sources given beside the lesson's text (a lesson a page
//! loads at run time, the author's page, `lguest-sim-check` in Node): [`check_text`] is the checker for
//! those, the same replay as for a file, with the verdict as one serde value.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::lesson::{answer_as_result, parse_lesson, Lesson, LessonError, RcuLine};
use super::parse::{Action, GuestLine, Line};
use super::run::{check as check_outcome, render_expect, Runner, Step};
use crate::kernel::syscall::Outcome;

/// What an `rcu` line's explorer run found.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RcuResult {
    pub line: usize,
    /// Schedules explored.
    pub schedules: u64,
    /// Checks that fired on at least one schedule, by name.
    pub found: Vec<String>,
    /// For the first check found: its shortest counterexample schedule (`"0 0 1 1"`).
    pub counterexample: Option<String>,
    pub ok: bool,
    pub message: Option<String>,
}

/// One step's results.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRun {
    pub number: usize,
    pub results: Vec<Step>,
    pub rcu: Vec<RcuResult>,
    /// The work units its lines spent in all (at most [`crate::params::STEP_BUDGET`]).
    pub units: u64,
}

/// The work one lesson step's lines share: one budget of [`crate::params::STEP_BUDGET`] units for the whole
/// step (a step is one call into the core: the page shows it in one go), each line drawing on what the
/// lines before it left. The checker and the page run steps through it, so both stop at the same place.
#[derive(Clone, Copy, Debug)]
pub struct StepBudget {
    left: u64,
    /// Units spent so far by the step's lines.
    pub spent: u64,
    /// The first line (its number in the lesson) that ran out of the budget, if one did.
    pub ran_out: Option<usize>,
}

impl Default for StepBudget {
    fn default() -> Self {
        StepBudget { left: crate::params::STEP_BUDGET, spent: 0, ran_out: None }
    }
}

impl StepBudget {
    /// Run `line` (as [`run_line`] does) with what is left of the step's budget.
    pub fn run_line(&mut self, runner: &mut Runner, line: &Line, guests: Guests) -> Step {
        let keep = runner.line_budget;
        runner.line_budget = self.left;
        // Given here as well, so a line that gives none (a `load`) is not charged for the line before it.
        runner.kernel.sched.budget.give(self.left);
        let step = run_line(runner, line, guests);
        runner.line_budget = keep;
        let spent = runner.kernel.sched.budget.spent.min(self.left);
        self.left -= spent;
        self.spent += spent;
        if self.left == 0 && spent > 0 && self.ran_out.is_none() {
            self.ran_out = Some(line.number);
        }
        step
    }
}

/// A lesson replayed.
#[derive(Clone, Debug)]
pub struct LessonRun {
    pub lesson: Lesson,
    pub steps: Vec<StepRun>,
    /// The machine after the last step (its event log is what coverage reads).
    pub runner: Runner,
    pub errors: Vec<LessonError>,
    /// What the lesson should change but that does not make it fail (an `about:` naming a function twice).
    pub warnings: Vec<LessonError>,
}

/// Run the explorer for one `rcu` line and compare with its expectation.
pub fn run_rcu(line: &RcuLine) -> RcuResult {
    let mut res = RcuResult { line: line.line, schedules: 0, found: Vec::new(), counterexample: None, ok: true, message: None };
    let report = crate::rcu::model::Setup::lguest(&line.scenario()).and_then(|s| {
        let mut ex = crate::rcu::explore::Exploration::exhaustive(&s, crate::params::EXPLORE_STATES);
        match ex.run(crate::params::EXPLORE_LESSON) {
            crate::rcu::explore::Progress::Done(r) => r,
            crate::rcu::explore::Progress::Working { states, .. } => Err(format!(
                "it needs more than {} model steps ({states} states so far), more than one step of a lesson may take in the page; \
                 use fewer tasks, CPUs or entries here, and let the student run the larger setup in the RCU pane",
                crate::params::EXPLORE_LESSON
            )),
        }
    });
    match report {
        Err(e) => {
            res.ok = false;
            res.message = Some(format!("the explorer cannot run this: {e}"));
        }
        Ok(r) => {
            res.schedules = r.schedules;
            for c in &r.checks {
                if c.schedules > 0 {
                    res.found.push(c.name.clone());
                    if res.counterexample.is_none() {
                        res.counterexample = c.counterexample_text.clone();
                    }
                }
            }
            let mut want = line.expect.clone();
            crate::small_sort::sort(&mut want);
            let mut got = res.found.clone();
            crate::small_sort::sort(&mut got);
            if want != got {
                res.ok = false;
                let show = |v: &[String]| if v.is_empty() { "clean".to_string() } else { v.join(", ") };
                res.message =
                    Some(format!("expected the explorer to find {}, but over {} schedules it found {}", show(&line.expect), r.schedules, show(&res.found)));
            }
        }
    }
    res
}

/// Where a lesson's Guest programs (`guest:` and `load` lines) come from.
#[derive(Clone, Copy, Debug)]
pub enum Guests<'a> {
    /// The course the library embeds (the browser) or, natively, the repository's `lessons/`.
    Library,
    /// An author's course directory, read as it is now (`guest:` is relative to it).
    Dir(&'a Path),
    /// Given beside the lesson's text, by the name the lesson uses (`guests/mine.S`); a name not given is
    /// looked up in the library, so a lesson from elsewhere can still run the course's own programs.
    Given(&'a [(String, String)]),
}

impl<'a> Guests<'a> {
    /// The source given for `name`, for [`Guests::Given`].
    fn given(&self, name: &str) -> Option<&'a str> {
        match self {
            Guests::Given(list) => list.iter().find(|(n, _)| n == name.trim_start_matches("./")).map(|(_, s)| s.as_str()),
            _ => None,
        }
    }
}

/// The fresh machine a lesson starts from: a Launcher with 32 MB of Guest memory and, if the lesson names
/// a Guest program (`guest: guests/hello.S`), that program loaded at 0x100000. The program comes from
/// `dir` when one is given (an author's course directory, read as it is now), else from the course the
/// library embeds (the browser) or the repository's `lessons/`.
pub fn lesson_runner(lesson: &Lesson, dir: Option<&Path>) -> Result<Runner, String> {
    lesson_runner_from(lesson, dir.map(Guests::Dir).unwrap_or(Guests::Library))
}

/// [`lesson_runner`] with the Guest programs from `guests`.
pub fn lesson_runner_from(lesson: &Lesson, guests: Guests) -> Result<Runner, String> {
    let mut runner = Runner::default();
    if let Some(g) = &lesson.guest {
        match (guests, guests.given(g)) {
            (Guests::Dir(d), _) => {
                let path = d.join(g);
                if !path.exists() {
                    return Err(format!("the Guest program {g:?} does not exist (looked in {})", path.display()));
                }
                let src = super::read_text(&path).map_err(|e| format!("the Guest program {g:?} cannot be read: {e}"))?;
                runner.load_program(0, g, &src).map_err(|e| format!("the Guest program {g:?} does not assemble: {e}"))?;
            }
            (_, Some(src)) => runner.load_program(0, g, src).map_err(|e| format!("the Guest program {g:?} does not assemble: {e}"))?,
            (Guests::Given(list), None) => runner.load_named(0, g).map_err(|e| {
                let names: Vec<&str> = list.iter().map(|(n, _)| n.as_str()).collect();
                if names.is_empty() {
                    e
                } else {
                    format!("{e}; given beside the lesson: {}", names.join(", "))
                }
            })?,
            (Guests::Library, None) => runner.load_named(0, g)?,
        }
    }
    Ok(runner)
}

/// Run one scenario line of a lesson as the [`Runner`] does, except that `load NAME` takes a Guest program
/// given beside the lesson ([`Guests::Given`]) before the library's.
pub fn run_line(runner: &mut Runner, line: &Line, guests: Guests) -> Step {
    let Action::Load { name } = &line.action else { return runner.run_line(line) };
    let Some(src) = guests.given(name) else { return runner.run_line(line) };
    // What the Runner's own `load` line records, with the source given.
    let from = runner.kernel.log.len();
    let task = line.task.clone().unwrap_or_else(|| "main".into());
    let loaded = match runner.kernel.task_by_name(&task) {
        Some(tid) => runner.load_program(tid, name, src),
        None => Err(format!("no task called {task:?} (make one with `thread {task}` or `process {task}`)")),
    };
    let mut message = loaded.err();
    if let (Some(exp), None) = (&line.expect, &message) {
        message = Some(format!("expected {}, but the line gives no result", render_expect(exp)));
    }
    let step = Step {
        line: line.number,
        source: line.source.clone(),
        action: line.action_text.clone(),
        call: line.action.kind(),
        task,
        result: None,
        sys: None,
        console: None,
        expected: line.expect.as_ref().map(render_expect),
        ok: message.is_none(),
        message,
        events: (from, runner.kernel.log.len()),
    };
    runner.steps.push(step.clone());
    step
}

/// Replay a parsed lesson on a fresh machine. `dir` is the lessons directory for `guest:` files (`None`: the
/// Guest programs embedded in the library).
pub fn run_lesson(lesson: &Lesson, dir: Option<&Path>) -> LessonRun {
    run_lesson_from(lesson, dir.map(Guests::Dir).unwrap_or(Guests::Library))
}

/// [`run_lesson`] with the Guest programs from `guests`.
pub fn run_lesson_from(lesson: &Lesson, guests: Guests) -> LessonRun {
    let file = lesson.file.clone();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut err = |line: usize, message: String| errors.push(LessonError::in_file(file.clone(), line, message));
    let mut runner = match lesson_runner_from(lesson, guests) {
        Ok(r) => r,
        Err(e) => {
            err(lesson.guest_line, e);
            Runner::default()
        }
    };
    // For each process: the scenario line of every Guest action queued, in order (FIFO, as the script runs).
    let mut queued: Vec<Vec<usize>> = Vec::new();
    let mut steps = Vec::new();
    for s in &lesson.steps {
        // `about:` lists a function once (`read` and `L:040` are the same function): a warning, as the page
        // shows each function once anyway.
        for (i, a) in s.about.iter().enumerate() {
            if let Some(first) = s.about[..i].iter().find(|b| b.func == a.func) {
                let how = if first.name == a.name { String::new() } else { format!(" (as {:?} and as {:?})", first.name, a.name) };
                warnings.push(LessonError::in_file(
                    file.clone(),
                    s.line,
                    format!("warning: this step's `about:` lists {}() twice{how}: name each function once", a.func),
                ));
            }
        }
        let mut run = StepRun { number: s.number, results: Vec::new(), rcu: Vec::new(), units: 0 };
        let mut budget = StepBudget::default();
        for l in &s.lines {
            if let Action::Guest(g) = &l.parsed.action {
                let name = l.parsed.task.clone().unwrap_or_else(|| "main".into());
                if let Some(t) = runner.kernel.task_by_name(&name) {
                    let p = runner.kernel.proc_of(t);
                    if queued.len() <= p {
                        queued.resize(p + 1, Vec::new());
                    }
                    // Actions the line queues: SHUTDOWN stores its message first; LGUEST_INIT frees the ring first.
                    let n = match g {
                        GuestLine::Shutdown { .. } => 2,
                        GuestLine::Init { lguest_data, .. } => {
                            let pages = runner.launcher(p).map(|l| l.guest_pages).unwrap_or(0);
                            let bytes = (pages + crate::params::DEVICE_PAGES) as u64 * crate::params::PAGE_SIZE as u64;
                            if *lguest_data as u64 + 24 + 64 <= bytes {
                                2
                            } else {
                                1
                            }
                        }
                        _ => 1,
                    };
                    queued[p].extend(std::iter::repeat_n(l.line, n));
                }
            }
            let step = budget.run_line(&mut runner, &l.parsed, guests);
            if !step.ok {
                let msg = step.message.clone().unwrap_or_default();
                if step.result.is_none() && !matches!(l.parsed.action, Action::Expect { .. }) {
                    err(l.line, format!("unreachable: this line cannot run here: {msg}"));
                } else {
                    err(l.line, msg);
                }
            }
            if budget.ran_out == Some(l.parsed.number) {
                warnings.push(LessonError::in_file(
                    file.clone(),
                    l.line,
                    format!(
                        "warning: this line used up the work one step may do ({} units of Guest instructions and trips, \
                         params::STEP_BUDGET): it stopped with its Guest still running, and the rest of the step gets no \
                         Guest time; a Guest that stops sooner (a hypercall) or a `wait` in a step of its own keeps \
                         the steps short",
                        crate::params::STEP_BUDGET
                    ),
                ));
            }
            run.results.push(step);
        }
        run.units = budget.spent;
        if let Some(q) = &s.question {
            if let Some(want) = answer_as_result(&q.answer) {
                let outcomes: Vec<Outcome> = run
                    .results
                    .iter()
                    .filter_map(|st| match (&st.sys, &st.result) {
                        (Some(r), _) => Some(Outcome::Done(r.clone())),
                        (None, Some(t)) if t == "blocked" => Some(Outcome::Blocked { why: String::new() }),
                        _ => None,
                    })
                    .collect();
                // A state the step checks with `expect name = value` also confirms an answer (`1` for
                // "how many entries are left?").
                let by_expect = s.lines.iter().zip(&run.results).any(|(l, st)| match &l.parsed.action {
                    Action::Expect { value, .. } => st.ok && same_number(value, &q.answer),
                    _ => false,
                });
                if !by_expect && !outcomes.iter().any(|o| check_outcome(&want, o, None).is_ok()) {
                    let got: Vec<String> = run.results.iter().filter_map(|st| st.result.clone()).collect();
                    err(
                        q.line,
                        format!(
                            "the answer {:?} is not what any line of this step returns or expects (they return: {})",
                            q.answer,
                            if got.is_empty() { "nothing".into() } else { got.join(", ") }
                        ),
                    );
                }
            }
        }
        for r in &s.rcu {
            let res = run_rcu(r);
            if !res.ok {
                err(r.line, res.message.clone().unwrap_or_default());
            }
            run.rcu.push(res);
        }
        steps.push(run);
    }
    // Guest actions still queued never ran: the last ones queued are the ones left.
    for (p, lines) in queued.iter().enumerate() {
        let left = runner.kernel.procs.get(p).map(|pr| pr.mm.guest.script.len()).unwrap_or(0);
        let mut seen = Vec::new();
        for &line in &lines[lines.len().saturating_sub(left)..] {
            if !seen.contains(&line) {
                seen.push(line);
                err(line, "unreachable: the scripted Guest never runs this action (it died first, or no read() ran it before the lesson ends)".into());
            }
        }
    }
    crate::small_sort::sort_by_key(&mut errors, |e| e.line);
    LessonRun { lesson: lesson.clone(), steps, runner, errors, warnings }
}

/// Parse and replay one lesson's text.
pub fn check_source(src: &str, file: &str, dir: Option<&Path>) -> Result<LessonRun, Vec<LessonError>> {
    let lesson = parse_lesson(src, file)?;
    Ok(run_lesson(&lesson, dir))
}

/// The checker's verdict on one lesson given as text (what the author's page and `lguest-sim-check` show).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TextCheck {
    /// No problem at all: the lesson parses and replays as it says.
    pub ok: bool,
    /// Whether it parses (a lesson that parses can be previewed, problems and all).
    pub parses: bool,
    pub id: String,
    pub title: String,
    pub steps: usize,
    /// Lines of scenario and `rcu` blocks.
    pub lines: usize,
    /// Every problem, in line order.
    pub problems: Vec<LessonError>,
    /// What should change but does not make the lesson fail (each message starts `warning:`).
    pub warnings: Vec<LessonError>,
}

/// Check one lesson given as text, its Guest programs given beside it by name (`guests/mine.S`; a name not
/// given comes from the course): parse it and replay it as `lguest-sim check` does a file.
pub fn check_text(src: &str, file: &str, guests: &[(String, String)]) -> TextCheck {
    match parse_lesson(src, file) {
        Err(problems) => {
            let id = std::path::Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or(file).to_string();
            TextCheck { ok: false, parses: false, id, title: String::new(), steps: 0, lines: 0, problems, warnings: Vec::new() }
        }
        Ok(lesson) => {
            let run = run_lesson_from(&lesson, Guests::Given(guests));
            let lines = lesson.steps.iter().map(|s| s.lines.len() + s.rcu.len()).sum();
            TextCheck {
                ok: run.errors.is_empty(),
                parses: true,
                id: lesson.id,
                title: lesson.title,
                steps: lesson.steps.len(),
                lines,
                problems: run.errors,
                warnings: run.warnings,
            }
        }
    }
}

/// The Guest programs a lesson's text names (its `guest:` and its `load` lines), each once, in order: what a
/// page fetches beside a lesson it loads. Empty when the lesson does not parse.
pub fn guests_named(src: &str, file: &str) -> Vec<String> {
    let Ok(lesson) = parse_lesson(src, file) else { return Vec::new() };
    let loads = lesson.steps.iter().flat_map(|s| &s.lines).filter_map(|l| match &l.parsed.action {
        Action::Load { name } => Some(name.clone()),
        _ => None,
    });
    let mut out: Vec<String> = Vec::new();
    for n in lesson.guest.clone().into_iter().chain(loads) {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// The checker's verdict over files and directories.
#[derive(Clone, Debug, Default)]
pub struct CourseCheck {
    pub runs: Vec<LessonRun>,
    pub errors: Vec<LessonError>,
    pub warnings: Vec<LessonError>,
    pub files: usize,
}

impl CourseCheck {
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The `.lesson` files of `path` (itself, if it is a file), sorted.
pub fn lesson_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().map(|x| x == "lesson").unwrap_or(false)).collect();
    v.sort();
    Ok(v)
}

/// Check every lesson under each path. A file's Guest programs are looked up beside the file.
pub fn check_paths(paths: &[PathBuf]) -> CourseCheck {
    let mut out = CourseCheck::default();
    for p in paths {
        let files = match lesson_files(p) {
            Ok(f) => f,
            Err(e) => {
                out.errors.push(LessonError::in_file(p.display().to_string(), 0, e));
                continue;
            }
        };
        if files.is_empty() {
            out.errors.push(LessonError::in_file(p.display().to_string(), 0, "no .lesson files here"));
        }
        for f in files {
            out.files += 1;
            let name = f.display().to_string();
            let src = match super::read_text(&f) {
                Ok(s) => s,
                Err(e) => {
                    out.errors.push(LessonError::in_file(name, 0, format!("cannot read: {e}")));
                    continue;
                }
            };
            match check_source(&src, &name, f.parent()) {
                Ok(run) => {
                    out.errors.extend(run.errors.iter().cloned());
                    out.warnings.extend(run.warnings.iter().cloned());
                    out.runs.push(run);
                }
                Err(es) => out.errors.extend(es),
            }
        }
    }
    out
}

/// `0x10` and `16` are the same answer; otherwise the text must match.
fn same_number(a: &str, b: &str) -> bool {
    match (super::parse::num(a.trim()), super::parse::num(b.trim())) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::library::{source, LESSONS};

    const SMALL: &str = "# A read too early\n\ngoals:\n- why read() is -EINVAL\n\nIntro.\n\n## Step: Open\nabout: launcher\n\nOpen it.\n\n```scenario\nopen => fd 3\n```\n\n## Step: Read\nabout: read\n\n```scenario\nread => -EINVAL\n```\n";

    fn given(name: &str, src: &str) -> Vec<(String, String)> {
        vec![(name.to_string(), src.to_string())]
    }

    #[test]
    fn a_course_lesson_checks_as_text_as_it_does_as_a_file() {
        for (file, text) in LESSONS.iter().filter(|(f, _)| f.starts_with("0") || f.starts_with("16")) {
            let c = check_text(text, file, &[]);
            assert!(c.ok && c.parses, "{file}: {:?}", c.problems);
            assert_eq!(c.id, file.trim_end_matches(".lesson"));
            assert!(c.steps > 0 && c.lines > 0 && !c.title.is_empty());
        }
    }

    #[test]
    fn every_problem_comes_back_at_its_line() {
        // Line 15 does not parse; line 19 names no function.
        let bad = SMALL.replace("\n```\n\n## Step: Read", "\nwrite NONSENSE\n```\n\n## Step: Read").replace("about: read", "about: reed");
        let c = check_text(&bad, "week3/my.lesson", &[]);
        assert!(!c.ok && !c.parses, "a bad line is a parse error: nothing runs");
        let at: Vec<usize> = c.problems.iter().map(|p| p.line).collect();
        assert_eq!(at, vec![15, 19], "{:?}", c.problems);
        assert!(c.problems.iter().all(|p| p.file == "week3/my.lesson"));
        assert_eq!(c.id, "my");
        // Parsing, it replays: a wrong result is a problem at its own line.
        let c = check_text(&SMALL.replace("open => fd 3", "open => fd 4"), "my.lesson", &[]);
        assert!(c.parses && !c.ok);
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert_eq!(c.problems[0].line, 14);
        assert!(c.problems[0].message.contains("expected 4"), "{}", c.problems[0].message);
    }

    #[test]
    fn about_lists_a_function_once() {
        let twice = SMALL.replace("about: read", "about: read run_guest L:040");
        let c = check_text(&twice, "t.lesson", &[]);
        assert!(c.ok, "a warning, not a problem: {:?}", c.problems);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert_eq!(c.warnings[0].line, 17, "at the step's heading");
        assert_eq!(
            c.warnings[0].to_string(),
            "t.lesson:17: warning: this step's `about:` lists read() twice (as \"read\" and as \"L:040\"): name each function once"
        );
        let c = check_text(&SMALL.replace("about: read", "about: read read"), "t.lesson", &[]);
        assert!(c.warnings[0].message.contains("read() twice:"), "{:?}", c.warnings);
        assert!(check_text(SMALL, "t.lesson", &[]).warnings.is_empty());
    }

    #[test]
    fn guest_programs_given_beside_the_text() {
        let hello = source("guests/hello.S").unwrap();
        let text = LESSONS.iter().find(|(f, _)| f.starts_with("16")).unwrap().1.replace("guest: guests/hello.S", "guest: guests/mine.S");
        // Given: it runs as the course's lesson does.
        assert!(check_text(&text, "16.lesson", &given("guests/mine.S", hello)).ok);
        // Not given, not in the course: one problem, at the `guest:` line (3), naming what was given.
        let c = check_text(&text, "16.lesson", &given("guests/other.S", hello));
        assert_eq!(c.problems.first().map(|p| p.line), Some(3), "{:?}", c.problems);
        assert!(c.problems[0].message.contains("guests/other.S"), "{}", c.problems[0].message);
        // Given but broken: the assembler's message, at the `guest:` line.
        let c = check_text(&text, "16.lesson", &given("guests/mine.S", "start:\n\tmovx %eax, %ebx\n"));
        assert_eq!(c.problems.first().map(|p| p.line), Some(3));
        assert!(c.problems[0].message.contains("does not assemble") && c.problems[0].message.contains("mine.S:2"), "{}", c.problems[0].message);
        // Not given but in the course: the course's.
        assert!(check_text(&text.replace("guests/mine.S", "guests/hello.S"), "16.lesson", &given("guests/other.S", "")).ok);
        assert_eq!(guests_named(&text, "16.lesson"), vec!["guests/mine.S".to_string()]);
    }

    #[test]
    fn a_load_line_takes_the_program_given() {
        let text = SMALL
            .replace("open => fd 3", "load guests/mine.S\nopen => fd 3\nwrite INITIALIZE => 12\nread => 4 notify=0x101000")
            .replace("read => -EINVAL", "read => -ENOENT");
        let hello = source("guests/hello.S").unwrap();
        let c = check_text(&text, "t.lesson", &given("guests/mine.S", hello));
        assert!(c.ok, "{:?}", c.problems);
        let c = check_text(&text, "t.lesson", &[]);
        assert_eq!(c.problems.first().map(|p| p.line), Some(14), "{:?}", c.problems);
        assert_eq!(guests_named(&text, "t.lesson"), vec!["guests/mine.S".to_string()]);
    }

    #[test]
    fn hostile_text_gives_problems_never_a_panic() {
        let text = LESSONS.iter().find(|(f, _)| f.starts_with("02")).unwrap().1;
        let lines: Vec<&str> = text.lines().collect();
        // Every prefix, every line dropped, and a few kinds of garbage.
        for n in 0..lines.len() {
            let _ = check_text(&lines[..n].join("\n"), "p.lesson", &[]);
            let dropped: Vec<&str> = lines.iter().enumerate().filter(|(i, _)| *i != n).map(|(_, l)| *l).collect();
            let _ = check_text(&dropped.join("\n"), "d.lesson", &[]);
        }
        for junk in
            ["", "\0\0\0", "# T\n## Step: x\n```scenario\n", "```", "# é\u{feff}\r\n## Step: ü\r\nabout: \u{202e}read\r\n", "guest: ../../../etc/passwd"]
        {
            let c = check_text(junk, "j.lesson", &given("guests/x.S", "\u{0}"));
            assert!(!c.ok);
        }
    }
}
