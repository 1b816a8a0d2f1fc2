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

/// Run the explorer over every interleaving of the scenario.
pub fn rcu_explore(sc: &crate::rcu::Scenario) -> Result<RcuReportView, String> {
    let r = crate::rcu::explore(&crate::rcu::Setup::lguest(sc)?)?;
    Ok(RcuReportView {
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
    })
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
}
