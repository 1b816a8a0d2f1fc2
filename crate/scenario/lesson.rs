//! Lessons: the course a student follows, written by course authors as plain text files in `lessons/`.
//!
//! A lesson is Markdown with a little structure (the full format, with an example, is in
//! `lessons/README.md`):
//!
//! ```text
//! # Meet /dev/lguest                          <- the title
//! goals:                                      <- what the student will understand at the end
//! - why a read() before anything else is -EINVAL
//!
//! Introductory prose...
//!
//! ## Step: Open the device                    <- a step
//! about: write L:040                          <- the host functions or journey tags it is about
//! question: What will this read() return?     <- asked before the step runs
//! choices: 4 | -EINVAL | -EPERM
//! answer: -EINVAL
//!
//! Prose shown before the lines run...
//! (a fenced block opened with three backticks and `scenario`)
//! open   => fd 3
//! read   => -EINVAL
//! (closed with three backticks)
//! Prose shown after they ran (the explanation).
//! ```
//!
//! Parsing only reads the file: [`parse_lesson`] returns a [`Lesson`] (serde, camelCase, for the browser)
//! or every error it found, each naming its line and what was expected. Running and checking the lesson
//! against the model is [`super::check`]'s job.

use serde::Serialize;

use super::parse::{parse_expect, parse_line, Action, Line};
use crate::rcu::{MemoryMode, Variant};
use crate::tags::{self, FUNCS};

/// A whole lesson.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lesson {
    /// From the file name without `.lesson`, e.g. `01-meet-dev-lguest`: what deep links use.
    pub id: String,
    /// The file as the author named it (for messages).
    pub file: String,
    pub title: String,
    /// "By the end you will understand...": one entry per goal.
    pub goals: Vec<String>,
    /// A Guest program to run instead of the scripted Guest, relative to `lessons/` (e.g. `guests/hello.S`).
    pub guest: Option<String>,
    /// Line of the `guest:` header (0 if none).
    #[serde(skip)]
    pub guest_line: usize,
    /// Markdown between the header and the first step.
    pub intro: String,
    pub steps: Vec<LessonStep>,
}

/// One step: prose, the scenario lines it performs, and what it is about.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonStep {
    /// 1-based position in the lesson (what `step=` in a deep link counts).
    pub number: usize,
    pub title: String,
    /// Line of the `## Step:` heading.
    pub line: usize,
    /// Markdown shown before the step runs (everything before its first scenario block).
    pub prose: String,
    /// Markdown shown once the step has run (everything after its first scenario block).
    pub explain: String,
    pub about: Vec<About>,
    pub question: Option<Question>,
    /// The scenario lines, in order, with their file line numbers.
    pub lines: Vec<ScenarioLine>,
    /// Lines of `rcu` blocks: runs of the RCU interleaving explorer.
    pub rcu: Vec<RcuLine>,
}

/// A host function (or journey tag) a step is about, resolved against `host::tags::FUNCS`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct About {
    /// As the author wrote it (`read` or `L:040`).
    pub name: String,
    pub func: String,
    pub tag: String,
    pub file: String,
    /// The function in the real 2.6.39 source.
    pub link: Option<String>,
}

/// A question asked before the step is revealed.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub line: usize,
    pub text: String,
    /// Empty for a free answer.
    pub choices: Vec<String>,
    pub answer: String,
}

/// A scenario line of a step, as written (the browser runs the text; the checker the parsed form).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioLine {
    pub line: usize,
    pub source: String,
    /// The action without its expectation or comment, and what kind of line it is.
    pub action: String,
    pub call: crate::scenario::parse::CallKind,
    #[serde(skip)]
    pub parsed: Line,
}

/// One run of the RCU explorer over the eventfd map: `explore variant=no-synchronize-rcu => use-after-free`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RcuLine {
    pub line: usize,
    pub source: String,
    pub variant: String,
    pub memory: String,
    /// The RCU flavour (`preemptible`, the default, or `classic`).
    pub flavour: String,
    pub cpus: u8,
    pub readers: u8,
    pub writers: u8,
    pub initial: u8,
    /// The checks that must fire on some schedule (empty: the explorer must find nothing).
    pub expect: Vec<String>,
}

impl RcuLine {
    /// The explorer's scenario for this line.
    pub fn scenario(&self) -> crate::rcu::model::Scenario {
        crate::rcu::model::Scenario {
            cpus: self.cpus,
            readers: self.readers,
            writers: self.writers,
            variant: Variant::parse(&self.variant).unwrap_or(Variant::Correct),
            memory: MemoryMode::parse(&self.memory).unwrap_or(MemoryMode::Sc),
            flavour: crate::rcu::Flavour::parse(&self.flavour).unwrap_or_default(),
            placement: None,
            initial_entries: self.initial,
            ..Default::default()
        }
    }
}

/// A problem in a lesson: where, and what was expected (see [`crate::diagnostic`]).
pub type LessonError = crate::diagnostic::Diagnostic;

/// Keys a line may start with (at column 0, outside a fenced block) to set a field instead of being prose.
const STEP_KEYS: [&str; 4] = ["about", "question", "choices", "answer"];

/// Resolve an `about:` name: a function in `FUNCS` or one of their journey tags.
pub fn resolve_about(name: &str) -> Option<About> {
    let info = tags::info(name).or_else(|| FUNCS.iter().find(|f| f.tag.eq_ignore_ascii_case(name)))?;
    Some(About {
        name: name.to_string(),
        func: info.func.to_string(),
        tag: info.tag.to_string(),
        file: info.file.to_string(),
        link: tags::source_link(info.func),
    })
}

/// Does this scenario line make a system call (so a lesson must say what it returns)?
fn is_call(a: &Action) -> bool {
    matches!(
        a,
        Action::Open
            | Action::Write { .. }
            | Action::Read { .. }
            | Action::Close { .. }
            | Action::Eventfd
            | Action::EventfdRead { .. }
            | Action::EventfdWrite { .. }
            | Action::Wait { .. }
    )
}

fn parse_rcu_line(number: usize, src: &str) -> Result<Option<RcuLine>, String> {
    let code = src.split('#').next().unwrap_or("").trim();
    if code.is_empty() {
        return Ok(None);
    }
    let (call, expect) = match code.split_once("=>") {
        Some((a, e)) => (a.trim(), e.trim()),
        None => return Err("an rcu line needs `=> clean` or `=> CHECK, ...` (what the explorer must find)".into()),
    };
    let mut ws = call.split_whitespace();
    if ws.next() != Some("explore") {
        return Err(format!(
            "an rcu block holds `explore [variant=V] [memory=sc|weak] [flavour=preemptible|classic] [cpus=N] [readers=N] [writers=N] [initial=N] => ...` lines; found {call:?}"
        ));
    }
    let sc = crate::rcu::model::Scenario::default();
    let mut line = RcuLine {
        line: number,
        source: src.trim().to_string(),
        variant: Variant::Correct.name().into(),
        memory: "sc".into(),
        flavour: sc.flavour.name().into(),
        cpus: sc.cpus,
        readers: sc.readers,
        writers: sc.writers,
        initial: sc.initial_entries,
        expect: Vec::new(),
    };
    for w in ws {
        let (k, v) = w.split_once('=').ok_or_else(|| format!("expected name=value, found {w:?}"))?;
        let n = || v.parse::<u8>().map_err(|_| format!("{k}={v}: not a small number"));
        match k {
            "variant" => line.variant = Variant::parse(v)?.name().to_string(),
            "memory" => line.memory = MemoryMode::parse(v)?.name().to_string(),
            "flavour" => line.flavour = crate::rcu::Flavour::parse(v)?.name().to_string(),
            "cpus" => line.cpus = n()?,
            "readers" => line.readers = n()?,
            "writers" => line.writers = n()?,
            "initial" => line.initial = n()?,
            _ => return Err(format!("unknown explore option {k:?}: use variant, memory, flavour, cpus, readers, writers or initial")),
        }
    }
    if expect != "clean" {
        for c in expect.split(',').map(str::trim) {
            if !crate::rcu::Check::ALL.iter().any(|k| k.name() == c) {
                let names: Vec<&str> = crate::rcu::Check::ALL.iter().map(|k| k.name()).collect();
                return Err(format!("unknown check {c:?}: use clean or {}", names.join(", ")));
            }
            line.expect.push(c.to_string());
        }
    }
    Ok(Some(line))
}

fn key_line(l: &str) -> Option<(&str, &str)> {
    let (k, v) = l.split_once(':')?;
    if k.chars().all(|c| c.is_ascii_lowercase()) && !k.is_empty() {
        Some((k, v.trim()))
    } else {
        None
    }
}

/// Parse a lesson. `file` is used in messages and for the lesson's id.
pub fn parse_lesson(src: &str, file: &str) -> Result<Lesson, Vec<LessonError>> {
    let mut errors = Vec::new();
    let mut err = |line: usize, message: String| errors.push(LessonError::in_file(file.to_string(), line, message));
    let stem = std::path::Path::new(file).file_name().and_then(|s| s.to_str()).unwrap_or(file);
    let id = stem.strip_suffix(".lesson").unwrap_or(stem).to_string();
    let mut lesson =
        Lesson { id, file: file.to_string(), title: String::new(), goals: Vec::new(), guest: None, guest_line: 0, intro: String::new(), steps: Vec::new() };

    let lines: Vec<&str> = src.lines().collect();
    let mut i = 0;
    // The title: the first line that is not blank.
    while i < lines.len() && lines[i].trim().is_empty() {
        i += 1;
    }
    match lines.get(i).and_then(|l| l.strip_prefix("# ")) {
        Some(t) if !t.trim().is_empty() => lesson.title = t.trim().to_string(),
        _ => err(i + 1, "a lesson starts with its title: `# Title`".into()),
    }
    i += 1;

    // Where prose goes: the intro, or the current step's prose (before its first block) or explanation.
    let mut in_goals = false;
    let mut step: Option<LessonStep> = None;
    let mut seen_block = false;
    let mut pending_choices: Option<(usize, Vec<String>)> = None;
    let mut pending_answer: Option<(usize, String)> = None;

    fn finish(
        step: &mut Option<LessonStep>,
        lesson: &mut Lesson,
        choices: &mut Option<(usize, Vec<String>)>,
        answer: &mut Option<(usize, String)>,
        err: &mut dyn FnMut(usize, String),
    ) {
        let Some(mut s) = step.take() else { return };
        match (&mut s.question, choices.take(), answer.take()) {
            (Some(q), c, Some((_, a))) => {
                if let Some((cl, c)) = c {
                    if !c.contains(&a) {
                        err(cl, format!("the answer {a:?} is not one of the choices ({})", c.join(" | ")));
                    }
                    q.choices = c;
                }
                q.answer = a;
            }
            (Some(q), _, None) => err(q.line, "a question needs an `answer:` line (the correct answer)".into()),
            (None, c, a) => {
                if let Some((l, _)) = c {
                    err(l, "`choices:` without a `question:` in this step".into());
                }
                if let Some((l, _)) = a {
                    err(l, "`answer:` without a `question:` in this step".into());
                }
            }
        }
        s.prose = s.prose.trim().to_string();
        s.explain = s.explain.trim().to_string();
        if s.lines.is_empty() && s.rcu.is_empty() && s.prose.is_empty() && s.explain.is_empty() {
            err(s.line, "this step is empty: give it prose, scenario lines, or both".into());
        }
        lesson.steps.push(s);
    }

    while i < lines.len() {
        let raw = lines[i];
        let number = i + 1;
        i += 1;
        // A fenced block.
        if let Some(lang) = raw.trim_start().strip_prefix("```") {
            let lang = lang.trim().to_string();
            let start = number;
            let mut body = Vec::new();
            let mut closed = false;
            while i < lines.len() {
                let l = lines[i];
                i += 1;
                if l.trim_start().starts_with("```") {
                    closed = true;
                    break;
                }
                body.push((i, l));
            }
            if !closed {
                err(start, format!("the ```{lang} block opened here is never closed with ```"));
            }
            match (lang.as_str(), step.as_mut()) {
                ("scenario" | "rcu", None) => err(start, format!("a ```{lang} block must be inside a step (`## Step: title` first)")),
                ("scenario", Some(s)) => {
                    seen_block = true;
                    for (n, l) in body {
                        match parse_line(n, l) {
                            Ok(Some(parsed)) => {
                                if parsed.expect.is_none() && is_call(&parsed.action) {
                                    err(n, "a system call in a lesson must say what it returns: add `=> result`".into());
                                }
                                s.lines.push(ScenarioLine {
                                    line: n,
                                    source: l.trim().to_string(),
                                    action: parsed.action_text.clone(),
                                    call: parsed.action.kind(),
                                    parsed,
                                });
                            }
                            Ok(None) => {}
                            Err(e) => err(n, e.message),
                        }
                    }
                }
                ("rcu", Some(s)) => {
                    seen_block = true;
                    for (n, l) in body {
                        match parse_rcu_line(n, l) {
                            Ok(Some(r)) => s.rcu.push(r),
                            Ok(None) => {}
                            Err(e) => err(n, e),
                        }
                    }
                }
                (_, target) => {
                    // Any other fence (```c, ```text) is prose, kept verbatim.
                    let mut text = format!("{raw}\n");
                    for (_, l) in &body {
                        text += l;
                        text.push('\n');
                    }
                    text += "```\n";
                    match target {
                        Some(s) if seen_block => s.explain += &text,
                        Some(s) => s.prose += &text,
                        None => lesson.intro += &text,
                    }
                }
            }
            continue;
        }
        // A step heading.
        if let Some(h) = raw.strip_prefix("## ") {
            let Some(title) = h.trim().strip_prefix("Step:").map(str::trim).filter(|t| !t.is_empty()) else {
                err(number, "a `## ` heading starts a step: write `## Step: title` (use `###` for a heading inside prose)".into());
                continue;
            };
            finish(&mut step, &mut lesson, &mut pending_choices, &mut pending_answer, &mut err);
            in_goals = false;
            seen_block = false;
            step = Some(LessonStep {
                number: lesson.steps.len() + 1,
                title: title.to_string(),
                line: number,
                prose: String::new(),
                explain: String::new(),
                about: Vec::new(),
                question: None,
                lines: Vec::new(),
                rcu: Vec::new(),
            });
            continue;
        }
        if raw.starts_with("# ") {
            err(number, "only the first line is a `# title`; a step is `## Step: title`".into());
            continue;
        }
        match step.as_mut() {
            None => {
                // The header: goals, guest, intro prose.
                if let Some((k, v)) = key_line(raw) {
                    match k {
                        "goals" => {
                            in_goals = true;
                            if !v.is_empty() {
                                lesson.goals.push(v.to_string());
                            }
                            continue;
                        }
                        "guest" => {
                            if v.is_empty() {
                                err(number, "`guest:` needs a path under lessons/, e.g. `guest: guests/hello.S`".into());
                            } else {
                                lesson.guest = Some(v.to_string());
                                lesson.guest_line = number;
                            }
                            in_goals = false;
                            continue;
                        }
                        k if STEP_KEYS.contains(&k) => {
                            err(number, format!("`{k}:` belongs to a step: put it after a `## Step: title` heading"));
                            continue;
                        }
                        _ => {}
                    }
                }
                if in_goals {
                    if let Some(g) = raw.trim_start().strip_prefix("- ") {
                        lesson.goals.push(g.trim().to_string());
                        continue;
                    }
                    if raw.trim().is_empty() {
                        in_goals = false;
                        continue;
                    }
                    if raw.starts_with(' ') {
                        if let Some(last) = lesson.goals.last_mut() {
                            last.push(' ');
                            last.push_str(raw.trim());
                            continue;
                        }
                    }
                    in_goals = false;
                }
                lesson.intro += raw;
                lesson.intro.push('\n');
            }
            Some(s) => {
                if let Some((k, v)) = key_line(raw) {
                    match k {
                        "about" => {
                            let names: Vec<&str> = v.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()).collect();
                            if names.is_empty() {
                                err(number, "`about:` needs host functions or journey tags, e.g. `about: read L:040`".into());
                            }
                            for n in names {
                                match resolve_about(n) {
                                    Some(a) => s.about.push(a),
                                    None => err(number, format!("about: {n:?} names no function or tag in host::tags::FUNCS (e.g. read, run_guest, L:055)")),
                                }
                            }
                            continue;
                        }
                        "question" => {
                            if s.question.is_some() {
                                err(number, "a step has at most one question".into());
                            } else if v.is_empty() {
                                err(number, "`question:` needs the question's text".into());
                            } else {
                                s.question = Some(Question { line: number, text: v.to_string(), choices: Vec::new(), answer: String::new() });
                            }
                            continue;
                        }
                        "choices" => {
                            let c: Vec<String> = v.split('|').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
                            if c.len() < 2 {
                                err(number, "`choices:` needs at least two answers separated by `|`".into());
                            }
                            pending_choices = Some((number, c));
                            continue;
                        }
                        "answer" => {
                            if v.is_empty() {
                                err(number, "`answer:` needs the correct answer".into());
                            }
                            pending_answer = Some((number, v.to_string()));
                            continue;
                        }
                        _ => {}
                    }
                }
                if seen_block {
                    s.explain += raw;
                    s.explain.push('\n');
                } else {
                    s.prose += raw;
                    s.prose.push('\n');
                }
            }
        }
    }
    finish(&mut step, &mut lesson, &mut pending_choices, &mut pending_answer, &mut err);
    lesson.intro = lesson.intro.trim().to_string();
    if lesson.steps.is_empty() && !lesson.title.is_empty() {
        err(lines.len().max(1), "a lesson needs at least one `## Step: title`".into());
    }
    if lesson.goals.is_empty() && !lesson.title.is_empty() {
        err(1, "a lesson says what the student will understand: add `goals:` with `- ` items before the first step".into());
    }
    if errors.is_empty() {
        Ok(lesson)
    } else {
        Err(errors)
    }
}

/// Whether an answer is a result the scenario language can check (`-EINVAL`, `4 notify=0x8000`, `blocked`).
pub fn answer_as_result(answer: &str) -> Option<super::parse::Expect> {
    parse_expect(answer).ok()
}
