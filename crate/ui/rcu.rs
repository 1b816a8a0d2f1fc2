//! The RCU pane: the explorer's report of a scenario (how many schedules break each check, the shortest
//! counterexample) and a steppable run of the model, one lane per simulated CPU ([`RcuPlayer`]).

use serde::Serialize;

/// The RCU pane's choices: which code (`correct` or a broken variant), the memory model, how many reader
/// and writer tasks on how many CPUs, and how many entries the map holds before any writer runs.
pub fn rcu_scenario(variant: &str, memory: &str, readers: u8, writers: u8, cpus: u8, initial: u8) -> Result<crate::rcu::Scenario, String> {
    Ok(crate::rcu::Scenario {
        cpus,
        readers,
        writers,
        initial_entries: initial,
        variant: crate::rcu::Variant::parse(variant)?,
        memory: crate::rcu::MemoryMode::parse(memory)?,
        ..Default::default()
    })
}

/// What the explorer found, for the RCU pane: schedules, states, and per check how many schedules break it
/// and its shortest counterexample.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RcuReportView {
    pub variants: Vec<String>,
    pub schedules: u64,
    pub saturated: bool,
    pub states: usize,
    pub checks: Vec<RcuCheckView>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RcuCheckView {
    pub name: String,
    pub schedules: u64,
    pub counterexample: Option<String>,
    /// The same in words: "CPU 0, CPU 0, CPU 1, …".
    pub words: Option<String>,
    pub length: usize,
}

/// A schedule (`0 0 1:1 1i`: which CPU takes each step) in words: `CPU 0, CPU 0, CPU 1 (its load sees an
/// older value), CPU 1's timer interrupt`.
pub fn schedule_words(schedule: &str) -> String {
    match crate::rcu::model::parse_schedule(schedule) {
        Ok(cs) => cs.iter().map(choice_words).collect::<Vec<_>>().join(", "),
        Err(_) => schedule.to_string(),
    }
}

fn choice_words(c: &crate::rcu::Choice) -> String {
    if c.irq {
        format!("CPU {}'s timer interrupt", c.cpu)
    } else if c.pick > 0 {
        format!("CPU {} (its load sees the value {} stores older)", c.cpu, c.pick)
    } else {
        format!("CPU {}", c.cpu)
    }
}

/// Run the explorer over every interleaving of the scenario, in one go (tests and small setups; the page
/// uses [`RcuExploring`]).
pub fn rcu_explore(sc: &crate::rcu::Scenario) -> Result<RcuReportView, String> {
    Ok(report_view(&crate::rcu::explore(&crate::rcu::Setup::lguest(sc)?)?))
}

fn report_view(r: &crate::rcu::Report) -> RcuReportView {
    RcuReportView {
        variants: crate::rcu::Variant::ALL.iter().map(|v| v.name().to_string()).collect(),
        schedules: r.schedules,
        saturated: r.saturated,
        states: r.states,
        checks: r
            .checks
            .iter()
            .map(|c| RcuCheckView {
                name: c.name.clone(),
                schedules: c.schedules,
                counterexample: c.counterexample_text.clone(),
                words: c.counterexample_text.as_deref().map(schedule_words),
                length: c.counterexample.as_ref().map(|v| v.len()).unwrap_or(0),
            })
            .collect(),
    }
}

/// The page's explorer run, in slices: each [`RcuExploring::run`] does at most [`crate::params::EXPLORE_SLICE`]
/// model steps and says how far it got, so the page stays responsive, shows progress and can stop (by
/// dropping it) whatever the setup.
pub struct RcuExploring {
    ex: Result<crate::rcu::explore::Exploration, String>,
}

/// Where a sliced exploration stands: still working (states and schedules so far), finished with its
/// report, or failed with the reason.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RcuProgressView {
    pub done: bool,
    pub states: usize,
    pub schedules: u64,
    /// Model steps so far.
    pub steps: u64,
    pub report: Option<RcuReportView>,
    pub error: Option<String>,
}

impl RcuExploring {
    pub fn new(sc: &crate::rcu::Scenario) -> RcuExploring {
        let ex = crate::rcu::Setup::lguest(sc).map(|s| crate::rcu::explore::Exploration::exhaustive(&s, crate::params::EXPLORE_STATES));
        RcuExploring { ex }
    }

    /// One that says at once why it cannot run (a setup the page could not even describe).
    pub fn failed(e: String) -> RcuExploring {
        RcuExploring { ex: Err(e) }
    }

    /// Go on for one slice of `budget` model steps.
    pub fn run(&mut self, budget: u64) -> RcuProgressView {
        use crate::rcu::explore::Progress;
        let mut v = RcuProgressView { done: true, states: 0, schedules: 0, steps: 0, report: None, error: None };
        match &mut self.ex {
            Err(e) => v.error = Some(e.clone()),
            Ok(ex) => {
                let progress = ex.run(budget);
                v.steps = ex.steps;
                match progress {
                    Progress::Working { states, schedules } => (v.done, v.states, v.schedules) = (false, states, schedules),
                    Progress::Done(Ok(r)) => {
                        (v.states, v.schedules) = (r.states, r.schedules);
                        v.report = Some(report_view(&r));
                    }
                    Progress::Done(Err(e)) => {
                        v.states = ex.states();
                        v.error = Some(e);
                    }
                }
            }
        }
        v
    }
}

/// The model names its map versions `v0`, `v1`; the page names every map `#n`, as the Host's account book
/// numbers its allocations (the explorer's machine allocates nothing but maps, so its `#0` is the map it
/// starts with and `#1` the writer's copy).
pub fn renamed(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, ch) in text.char_indices() {
        let starts = ch == 'v' && b.get(i + 1).is_some_and(u8::is_ascii_digit) && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
        out.push(if starts { '#' } else { ch });
    }
    out
}

/// A steppable RCU run: a schedule to follow (a counterexample), or free choice of the next CPU, and one row
/// per step taken for the sequence diagram.
#[derive(Clone, Debug)]
pub struct RcuPlayer {
    pub run: crate::rcu::Run,
    pub schedule: Vec<crate::rcu::Choice>,
    /// The counterexample as the explorer gave it, to say where the student left it.
    given: Vec<crate::rcu::Choice>,
    rows: Vec<SeqRow>,
}

/// One step of the run as the sequence diagram draws it.
#[derive(Clone, Debug)]
struct SeqRow {
    cpu: u8,
    what: String,
    violations: Vec<String>,
    /// Each CPU inside `rcu_read_lock()` after the step.
    reading: Vec<bool>,
    /// The grace periods after the step: who began each, and whether it is over.
    gps: Vec<(String, bool)>,
}

/// One position of an RCU run: the lanes, what the last step did, every step so far as a sequence diagram,
/// and whether the student has left the counterexample.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RcuRunView {
    pub position: usize,
    pub length: usize,
    pub snapshot: crate::rcu::RcuSnapshot,
    pub last: Option<crate::rcu::RcuEvent>,
    /// The violations of the current state, each by its check's name.
    pub violations: Vec<(String, String)>,
    pub sequence: super::diagram::Figure,
    /// The map now, as boxes and arrows: `lg->eventfds`, every version, and each reader's arrow to the one
    /// it holds.
    pub map: super::diagram::Figure,
    /// The schedule being followed, in words.
    pub words: String,
    /// Where the student left the counterexample, in a sentence.
    pub left: Option<String>,
}

impl RcuPlayer {
    pub fn new(sc: &crate::rcu::Scenario, schedule: &str) -> Result<RcuPlayer, String> {
        let schedule = crate::rcu::model::parse_schedule(schedule)?;
        Ok(RcuPlayer { run: crate::rcu::Run::new(sc)?, given: schedule.clone(), schedule, rows: Vec::new() })
    }

    pub fn position(&self) -> usize {
        self.run.schedule().len()
    }

    /// Take the schedule's next choice (or, past its end or off it, run `cpu` if given).
    pub fn step(&mut self, cpu: Option<u8>) -> Result<(), String> {
        let pos = self.position();
        let choice = match cpu {
            Some(c) => crate::rcu::Choice::cpu(c),
            None => *self.schedule.get(pos).ok_or("the schedule is over: pick a CPU to run")?,
        };
        let ev = self.run.step_choice(choice)?;
        if cpu.is_some() && self.schedule.get(pos) != Some(&choice) {
            // The student left the schedule: what follows is theirs.
            self.schedule.truncate(pos);
            self.schedule.push(choice);
        }
        let snap = self.run.snapshot();
        self.rows.push(SeqRow {
            cpu: ev.cpu,
            what: renamed(&format!("{}: {}", ev.task, ev.step)),
            violations: ev.violations.iter().map(|v| v.check.name().to_string()).collect(),
            reading: snap.cpus.iter().map(|c| c.in_read_side).collect(),
            gps: snap.grace_periods.iter().map(|g| (g.by.clone(), g.done)).collect(),
        });
        Ok(())
    }

    pub fn back(&mut self) -> bool {
        let ok = self.run.back();
        if ok {
            self.rows.pop();
        }
        ok
    }

    pub fn view(&self) -> RcuRunView {
        let mut snapshot = self.run.snapshot();
        snapshot.eventfds = renamed(&snapshot.eventfds);
        for v in &mut snapshot.versions {
            v.history = v.history.iter().map(|h| renamed(h)).collect();
        }
        for c in &mut snapshot.cpus {
            c.next = renamed(&c.next);
        }
        let mut last = self.run.events().last().cloned();
        if let Some(e) = last.as_mut() {
            e.step = renamed(&e.step);
            e.text = renamed(&e.text);
        }
        let left = self.schedule.iter().zip(&self.given).position(|(a, b)| a != b).map(|i| {
            format!(
                "You left the counterexample at step {}: it runs {} there, you ran {}. From there on the schedule is yours, and it may not go wrong.",
                i + 1,
                choice_words(&self.given[i]),
                choice_words(&self.schedule[i])
            )
        });
        RcuRunView {
            position: self.position(),
            length: self.schedule.len().max(self.position()),
            violations: snapshot.violations.iter().map(|v| (v.check.name().to_string(), renamed(&v.text))).collect(),
            sequence: self.sequence(snapshot.cpus.len()),
            map: map_now(&snapshot),
            words: self.schedule.iter().map(choice_words).collect::<Vec<_>>().join(", "),
            left,
            snapshot,
            last,
        }
    }

    /// The run so far as a sequence diagram: a lane per CPU, a row per step (who ran what), each CPU's
    /// read-side sections as a bar down its lane, where each grace period began and ended, and the step
    /// that broke a check marked.
    fn sequence(&self, cpus: usize) -> super::diagram::Figure {
        use super::diagram::{FigBox, Figure, Label};
        let lane = ((720 - 50) / cpus.max(1)) as i32;
        let row = 22;
        let mut f = Figure { kind: "rcu", title: "Every step so far: a lane per CPU, time going down".into(), width: 720, ..Default::default() };
        let mut y = 30;
        for c in 0..cpus {
            f.labels.push(Label { x: 50 + c as i32 * lane + lane / 2, y: 16, text: format!("CPU {c}"), cls: "mid title".into() });
        }
        let mut before: Vec<(String, bool)> = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            // A grace period that began or ended at this step: a line across every lane.
            for (by, done) in &r.gps {
                let was = before.iter().find(|(b, _)| b == by).map(|(_, d)| *d);
                let said = match (was, done) {
                    (None, false) => Some(format!("grace period of {by} begins: it waits for every CPU reading now")),
                    (None, true) => Some(format!("grace period of {by} begins and ends at once: no CPU was reading")),
                    (Some(false), true) => Some(format!("grace period of {by} ends: every CPU has passed a quiescent state")),
                    _ => None,
                };
                if let Some(t) = said {
                    f.boxes.push(FigBox { id: format!("gp:{i}"), x: 46, y, w: 670, h: 16, cls: "gp".into(), title: t.clone(), lines: Vec::new() });
                    f.text.push(format!("After step {}: {t}.", i + 1));
                    y += 18;
                }
            }
            before = r.gps.clone();
            f.labels.push(Label { x: 40, y: y + 15, text: format!("{}", i + 1), cls: "end mono".into() });
            for (c, reading) in r.reading.iter().enumerate() {
                if *reading {
                    f.boxes.push(FigBox {
                        id: format!("rs:{i}:{c}"),
                        x: 50 + c as i32 * lane,
                        y,
                        w: 5,
                        h: row,
                        cls: "reading".into(),
                        title: String::new(),
                        lines: Vec::new(),
                    });
                }
            }
            let bad = !r.violations.is_empty();
            let last = i + 1 == self.rows.len();
            let cls = format!("step{}{}", if bad { " bad" } else { "" }, if last { " on" } else { "" });
            let title = if bad { format!("✗ {} — {}", r.violations.join(", "), r.what) } else { r.what.clone() };
            let w = lane - 14;
            f.boxes.push(FigBox {
                id: format!("step:{}", i + 1),
                x: 58 + r.cpu as i32 * lane,
                y: y + 1,
                w,
                h: row - 3,
                cls,
                title: super::diagram::fit(&title, w),
                lines: Vec::new(),
            });
            f.text.push(format!("{}. CPU {}: {}{}", i + 1, r.cpu, r.what, if bad { format!(" — ✗ {}", r.violations.join(", ")) } else { String::new() }));
            y += row;
        }
        if self.rows.is_empty() {
            f.text.push("Nothing has run yet: each step will add a row in the lane of the CPU that takes it.".into());
        }
        f.text.push("A bar down a lane: that CPU is inside rcu_read_lock().".into());
        f.height = y + 8;
        f
    }
}

/// The explorer's map at this moment, drawn as the Host's is (crate/ui/diagram.rs `map`): `lg->eventfds`
/// pointing at the current version, each version with its entries, retired ones waiting for their grace
/// period, freed ones greyed, and each reader task (on its CPU) with an arrow to the version it holds.
fn map_now(s: &crate::rcu::RcuSnapshot) -> super::diagram::Figure {
    use super::diagram::{fit, Arrow, FigBox, Figure};
    use crate::rcu::model::Life;
    let row = 58;
    let readers: Vec<&crate::rcu::snapshot::TaskSnap> = s.tasks.iter().filter(|t| t.holds.is_some()).collect();
    let mut f = Figure { kind: "map", title: "The map now: lg->eventfds, every version, and the readers holding one".into(), width: 720, ..Default::default() };
    f.height = (s.versions.len().max(1) as i32 * row + 20).max(readers.len() as i32 * 60 + 90);
    let current = renamed(&s.eventfds);
    let mut b = |id: String, (x, y, w, h): (i32, i32, i32, i32), cls: &str, title: String, lines: Vec<String>| {
        f.boxes.push(FigBox { id, x, y, w, h, cls: cls.into(), title: fit(&title, w), lines: lines.iter().map(|l| fit(l, w)).collect() })
    };
    b("ptr".into(), (12, 20, 140, 40), "ptr", "lg->eventfds".into(), vec![format!("= {current}")]);
    for (i, r) in readers.iter().enumerate() {
        b(format!("reader:{}", r.name), (12, 90 + i as i32 * 60, 140, 48), "reader on", format!("{} on CPU {}", r.name, r.cpu), vec!["holds a map".into()]);
    }
    let mut text = vec![format!("lg->eventfds = {current}. #n: the nth map this machine allocated (#0 is the one it starts with).")];
    for (i, v) in s.versions.iter().enumerate().rev() {
        let y = 10 + (s.versions.len() - 1 - i) as i32 * row;
        let life = match v.life {
            Life::Building => "being built",
            Life::Published => "current",
            Life::Retired => "retired, waiting for a grace period",
            Life::Freed => "freed",
        };
        let cls = match v.life {
            Life::Published => "version current",
            Life::Freed if !v.held_by.is_empty() => "version freed bad",
            Life::Freed => "version freed",
            _ => "version",
        };
        let entries: Vec<String> = v.entries.iter().map(|e| format!("{}→{}", e.addr, e.event)).collect();
        b(
            format!("v:{}", v.id),
            (230, y, 300, 48),
            cls,
            format!("map #{} — {life}", v.id),
            vec![
                format!("num {}: {}", v.num, if entries.is_empty() { "no entries".into() } else { entries.join("  ") }),
                if v.held_by.is_empty() { "held by no reader".into() } else { format!("held by {}", v.held_by.join(", ")) },
            ],
        );
        text.push(format!(
            "map #{}: {life}; num {}; {}{}.",
            v.id,
            v.num,
            if v.held_by.is_empty() { "no reader holds it".into() } else { format!("held by {}", v.held_by.join(", ")) },
            if v.life == Life::Freed && !v.held_by.is_empty() { " — a reader holds freed memory: use-after-free" } else { "" }
        ));
    }
    let mut arrows = Vec::new();
    let find = |f: &Figure, id: &str| f.boxes.iter().find(|x| x.id == id).map(|x| (x.x, x.y, x.w, x.h));
    if let (Some(p), Some(c)) = (find(&f, "ptr"), find(&f, &format!("v:{}", current.trim_start_matches('#')))) {
        arrows.push(Arrow { points: vec![(p.0 + p.2, p.1 + p.3 / 2), (c.0, c.1 + c.3 / 2)], cls: "ptr".into(), n: Vec::new(), label: String::new() });
    }
    for r in &readers {
        if let (Some(a), Some(v)) = (find(&f, &format!("reader:{}", r.name)), r.holds.and_then(|h| find(&f, &format!("v:{h}")))) {
            arrows.push(Arrow { points: vec![(a.0 + a.2, a.1 + a.3 / 2), (v.0, v.1 + v.3 / 2)], cls: "reader".into(), n: Vec::new(), label: String::new() });
            text.push(format!("{} (on CPU {}) holds map #{}.", r.name, r.cpu, r.holds.unwrap_or(0)));
        }
    }
    f.arrows = arrows;
    f.text = text;
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_named_as_the_host_names_maps() {
        assert_eq!(renamed("rcu_assign_pointer(lg->eventfds, v1); v0->num dev2 v"), "rcu_assign_pointer(lg->eventfds, #1); #0->num dev2 v");
    }

    #[test]
    fn the_rcu_pane_finds_the_use_after_free_and_steps_its_counterexample() {
        let sc = rcu_scenario("no-synchronize-rcu", "sc", 1, 1, 2, 1).unwrap();
        let r = rcu_explore(&sc).unwrap();
        let uaf = r.checks.iter().find(|c| c.name == "use-after-free").unwrap();
        assert!(uaf.schedules > 0);
        let mut run = RcuPlayer::new(&sc, uaf.counterexample.as_deref().unwrap()).unwrap();
        for _ in 0..uaf.length {
            run.step(None).unwrap();
        }
        let v = run.view();
        assert_eq!(v.position, uaf.length);
        assert!(!v.snapshot.violations.is_empty(), "the counterexample ends in the violation");
        // The sequence diagram: a row per step in its CPU's lane, the last one marked with the check it broke.
        let rows: Vec<_> = v.sequence.boxes.iter().filter(|b| b.id.starts_with("step:")).collect();
        assert_eq!(rows.len(), uaf.length);
        let last = rows.last().unwrap();
        assert!(last.cls.contains("bad") && last.title.contains("use-after-free"), "{last:?}");
        assert!(!v.sequence.boxes.iter().any(|b| b.cls == "gp"), "this code waits for no grace period");
        assert!(uaf.words.as_deref().unwrap().starts_with("CPU "), "{:?}", uaf.words);
        assert_eq!(v.left, None);
        // The map: the reader's arrow ends on the freed version it still holds.
        let freed = v.map.boxes.iter().find(|b| b.cls.contains("freed bad")).expect("a freed version a reader holds");
        let arrow = v.map.arrows.iter().find(|a| a.cls == "reader").unwrap();
        assert_eq!(arrow.points[1], (freed.x, freed.y + freed.h / 2));
        assert!(run.step(None).is_err() || run.position() == uaf.length + 1);
        assert!(run.back());
        // Taking another CPU than the counterexample's leaves it, and the view says so.
        let next = run.schedule[run.position()];
        let other = (next.cpu + 1) % 2;
        if run.step(Some(other)).is_ok() {
            assert!(run.view().left.unwrap().starts_with(&format!("You left the counterexample at step {}", uaf.length)));
        }
        // The correct code's writer waits: its grace period's start and end are drawn.
        let mut ok = RcuPlayer::new(&rcu_scenario("correct", "sc", 1, 1, 2, 1).unwrap(), "").unwrap();
        while let Some(c) = ok.run.snapshot().enabled_cpus.last().copied() {
            ok.step(Some(c)).unwrap();
        }
        let gps: Vec<String> = ok.view().sequence.boxes.iter().filter(|b| b.cls == "gp").map(|b| b.title.clone()).collect();
        assert!(gps.iter().any(|t| t.contains("begins")), "{gps:?}");
        assert!(rcu_scenario("no-such", "sc", 1, 1, 2, 1).is_err());
        assert!(rcu_explore(&rcu_scenario("correct", "sc", 1, 1, 2, 1).unwrap()).unwrap().checks.iter().all(|c| c.schedules == 0));
    }

    #[test]
    fn the_pages_explorer_goes_in_slices_and_ends_as_the_whole_run() {
        let sc = rcu_scenario("no-synchronize-rcu", "weak", 2, 1, 2, 1).unwrap();
        let whole = rcu_explore(&sc).unwrap();
        let mut ex = RcuExploring::new(&sc);
        let mut slices = Vec::new();
        let last = loop {
            let v = ex.run(100);
            if v.done {
                break v;
            }
            slices.push((v.steps, v.states));
        };
        assert!(slices.len() > 3, "a small slice takes several calls: {slices:?}");
        assert!(slices.windows(2).all(|w| w[1].0 > w[0].0 && w[1].0 - w[0].0 <= 100), "each slice moves on, within its budget: {slices:?}");
        let report = last.report.unwrap();
        assert_eq!((report.schedules, report.states), (whole.schedules, whole.states));
        assert_eq!(
            report.checks.iter().map(|c| (c.schedules, c.counterexample.clone())).collect::<Vec<_>>(),
            whole.checks.iter().map(|c| (c.schedules, c.counterexample.clone())).collect::<Vec<_>>()
        );
        assert!(ex.run(100).done, "a finished exploration stays finished");
        // A setup the model refuses says why, at once.
        let mut bad = RcuExploring::new(&rcu_scenario("correct", "sc", 1, 1, 9, 1).unwrap());
        let v = bad.run(100);
        assert!(v.done && v.error.as_deref().unwrap_or("").contains("9 CPUs"), "{v:?}");
    }
}
