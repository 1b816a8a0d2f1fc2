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

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::lesson::{answer_as_result, parse_lesson, Lesson, LessonError, RcuLine};
use super::parse::{Action, GuestLine};
use super::run::{check as check_outcome, Runner, Step};
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
}

/// A lesson replayed.
#[derive(Clone, Debug)]
pub struct LessonRun {
    pub lesson: Lesson,
    pub steps: Vec<StepRun>,
    /// The machine after the last step (its event log is what coverage reads).
    pub runner: Runner,
    pub errors: Vec<LessonError>,
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

/// The fresh machine a lesson starts from: a Launcher with 32 MB of Guest memory and, if the lesson names
/// a Guest program (`guest: guests/hello.S`), that program loaded at 0x100000. The program comes from
/// `dir` when one is given (an author's course directory, read as it is now), else from the course the
/// library embeds (the browser) or the repository's `lessons/`.
pub fn lesson_runner(lesson: &Lesson, dir: Option<&Path>) -> Result<Runner, String> {
    let mut runner = Runner::default();
    if let Some(g) = &lesson.guest {
        match dir {
            Some(d) => {
                let path = d.join(g);
                if !path.exists() {
                    return Err(format!("the Guest program {g:?} does not exist (looked in {})", path.display()));
                }
                let src = super::read_text(&path).map_err(|e| format!("the Guest program {g:?} cannot be read: {e}"))?;
                runner.load_program(0, g, &src).map_err(|e| format!("the Guest program {g:?} does not assemble: {e}"))?;
            }
            None => runner.load_named(0, g)?,
        }
    }
    Ok(runner)
}

/// Replay a parsed lesson on a fresh machine. `dir` is the lessons directory for `guest:` files (`None`: the
/// Guest programs embedded in the library).
pub fn run_lesson(lesson: &Lesson, dir: Option<&Path>) -> LessonRun {
    let file = lesson.file.clone();
    let mut errors = Vec::new();
    let mut err = |line: usize, message: String| errors.push(LessonError::in_file(file.clone(), line, message));
    let mut runner = match lesson_runner(lesson, dir) {
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
        let mut run = StepRun { number: s.number, results: Vec::new(), rcu: Vec::new() };
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
                        GuestLine::Init { lguest_data } => {
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
            let step = runner.run_line(&l.parsed);
            if !step.ok {
                let msg = step.message.clone().unwrap_or_default();
                if step.result.is_none() && !matches!(l.parsed.action, Action::Expect { .. }) {
                    err(l.line, format!("unreachable: this line cannot run here: {msg}"));
                } else {
                    err(l.line, msg);
                }
            }
            run.results.push(step);
        }
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
    LessonRun { lesson: lesson.clone(), steps, runner, errors }
}

/// Parse and replay one lesson's text.
pub fn check_source(src: &str, file: &str, dir: Option<&Path>) -> Result<LessonRun, Vec<LessonError>> {
    let lesson = parse_lesson(src, file)?;
    Ok(run_lesson(&lesson, dir))
}

/// The checker's verdict over files and directories.
#[derive(Clone, Debug, Default)]
pub struct CourseCheck {
    pub runs: Vec<LessonRun>,
    pub errors: Vec<LessonError>,
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
