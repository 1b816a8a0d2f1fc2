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
    pub length: usize,
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

/// A steppable RCU run: a schedule to follow (a counterexample), or free choice of the next CPU.
#[derive(Clone, Debug)]
pub struct RcuPlayer {
    pub run: crate::rcu::Run,
    pub schedule: Vec<crate::rcu::Choice>,
}

/// One position of an RCU run: the lanes and what the last step did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RcuRunView {
    pub position: usize,
    pub length: usize,
    pub snapshot: crate::rcu::RcuSnapshot,
    pub last: Option<crate::rcu::RcuEvent>,
}

impl RcuPlayer {
    pub fn new(sc: &crate::rcu::Scenario, schedule: &str) -> Result<RcuPlayer, String> {
        Ok(RcuPlayer { run: crate::rcu::Run::new(sc)?, schedule: crate::rcu::model::parse_schedule(schedule)? })
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
        self.run.step_choice(choice)?;
        if cpu.is_some() && self.schedule.get(pos) != Some(&choice) {
            // The student left the schedule: what follows is theirs.
            self.schedule.truncate(pos);
            self.schedule.push(choice);
        }
        Ok(())
    }

    pub fn back(&mut self) -> bool {
        self.run.back()
    }

    pub fn view(&self) -> RcuRunView {
        RcuRunView {
            position: self.position(),
            length: self.schedule.len().max(self.position()),
            snapshot: self.run.snapshot(),
            last: self.run.events().last().cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(run.step(None).is_err() || run.position() == uaf.length + 1);
        assert!(run.back());
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
