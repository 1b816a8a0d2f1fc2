//! The stepping API the UI and the CLI drive: a [`Run`] holds one run of a scenario, lets the student
//! pick which CPU steps next, records the schedule so it can be replayed, shared or stepped back, and hands
//! out snapshots. Part of the RCU tour ([`super`]): a thin layer over `model.rs`.

use super::checks::Violation;
use super::explore::XorShift;
use super::model::{format_schedule, step, Choice, RcuEvent, Scenario, Setup, State};
use super::snapshot::{snapshot, RcuSnapshot};

/// One run of an RCU scenario, stepped by the student (or by a schedule).
#[derive(Clone, Debug)]
pub struct Run {
    setup: Setup,
    state: State,
    schedule: Vec<Choice>,
    events: Vec<RcuEvent>,
}

impl Run {
    /// A fresh run of the eventfd-map scenario.
    pub fn new(scenario: &Scenario) -> Result<Run, String> {
        Ok(Run::from_setup(Setup::lguest(scenario)?))
    }

    /// A fresh run of any setup (a litmus test, say).
    pub fn from_setup(setup: Setup) -> Run {
        let state = State::initial(&setup);
        Run { setup, state, schedule: Vec::new(), events: Vec::new() }
    }

    /// A run of `scenario` replayed along `schedule` (the explorer's counterexamples are such schedules).
    pub fn replay(scenario: &Scenario, schedule: &[Choice]) -> Result<Run, String> {
        let mut m = Run::new(scenario)?;
        m.run_schedule(schedule)?;
        Ok(m)
    }

    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The CPUs that can run a step now (`step(cpu)`); a pending timer interrupt is in [`Run::choices`]
    /// and [`Run::timer_cpus`].
    pub fn enabled_cpus(&self) -> Vec<u8> {
        (0..self.setup.cpus).filter(|&c| self.state.options(&self.setup, c) > 0).collect()
    }

    /// The CPUs where a timer interrupt can arrive now (`interrupt(cpu)`).
    pub fn timer_cpus(&self) -> Vec<u8> {
        (0..self.setup.cpus).filter(|&c| self.state.pending_timer(&self.setup, c).is_some()).collect()
    }

    /// Let the timer interrupt arrive on `cpu` now.
    pub fn interrupt(&mut self, cpu: u8) -> Result<RcuEvent, String> {
        self.step_choice(Choice { cpu, irq: true, ..Choice::default() })
    }

    /// Every choice available now; more than one per CPU only when weak memory offers older values.
    pub fn choices(&self) -> Vec<Choice> {
        self.state.choices(&self.setup)
    }

    /// Step `cpu`, loading the newest value if it loads anything.
    pub fn step(&mut self, cpu: u8) -> Result<RcuEvent, String> {
        self.step_choice(Choice::cpu(cpu))
    }

    /// Step with a full choice (CPU and which visible value a load returns).
    pub fn step_choice(&mut self, choice: Choice) -> Result<RcuEvent, String> {
        let ev = step(&self.setup, &mut self.state, choice)?;
        self.schedule.push(choice);
        self.events.push(ev.clone());
        Ok(ev)
    }

    /// Follow a schedule; an entry that cannot be taken is an error naming its position.
    pub fn run_schedule(&mut self, schedule: &[Choice]) -> Result<Vec<RcuEvent>, String> {
        let mut out = Vec::new();
        for (i, &c) in schedule.iter().enumerate() {
            out.push(self.step_choice(c).map_err(|e| format!("schedule entry {} ('{c}'): {e}", i + 1))?);
        }
        Ok(out)
    }

    /// Undo the last step (by replaying all the others: the model is deterministic). False at the start.
    pub fn back(&mut self) -> bool {
        let Some(_) = self.schedule.pop() else { return false };
        let keep = std::mem::take(&mut self.schedule);
        let mut fresh = Run::from_setup(self.setup.clone());
        // Replaying a prefix of a schedule that already ran cannot fail.
        if fresh.run_schedule(&keep).is_ok() {
            *self = fresh;
            true
        } else {
            false
        }
    }

    /// Nothing can run any more.
    pub fn is_finished(&self) -> bool {
        self.choices().is_empty()
    }

    pub fn schedule(&self) -> &[Choice] {
        &self.schedule
    }

    /// The schedule so far as text (`"0 0 1 1:1 0i"`), for a link that replays this position.
    pub fn schedule_text(&self) -> String {
        format_schedule(&self.schedule)
    }

    /// Take up to `max_steps` random choices (seeded, so the same seed gives the same run), stopping when
    /// nothing can run. Returns the events of the steps taken.
    pub fn run_random(&mut self, seed: u64, max_steps: usize) -> Vec<RcuEvent> {
        let mut rng = XorShift::new(seed);
        let mut out = Vec::new();
        for _ in 0..max_steps {
            let choices = self.choices();
            if choices.is_empty() {
                break;
            }
            match self.step_choice(choices[rng.below(choices.len())]) {
                Ok(ev) => out.push(ev),
                Err(_) => break,
            }
        }
        out
    }

    pub fn events(&self) -> &[RcuEvent] {
        &self.events
    }

    /// Every violation so far, and, once finished, those found at the end (lost update, leak, deadlock).
    pub fn violations(&self) -> Vec<Violation> {
        let mut out: Vec<Violation> = self.events.iter().flat_map(|e| e.violations.iter().cloned()).collect();
        if self.is_finished() {
            out.extend(self.state.final_checks(&self.setup));
        }
        out
    }

    pub fn snapshot(&self) -> RcuSnapshot {
        snapshot(&self.setup, &self.state, self.schedule.len(), self.violations())
    }
}
