//! The interleaving explorer: for one setup, every schedule the CPUs could follow, how many of them break
//! each check, and the shortest one that does, as a schedule the UI can step through. Part of the RCU tour
//! ([`super`]), read last before the CLI.
//!
//! **What it does to stay fast.** Many schedules lead to the same machine state (two steps on different
//! CPUs that touch different things commute). The explorer visits each distinct [`State`] once and
//! remembers, per state, how many complete schedules start there, how many of them violate each check, and
//! the shortest way from there to a violation. The counts are therefore exact counts of *all* schedules
//! (nothing is pruned, so no partial-order reduction changes the numbers), while the work grows with the
//! number of distinct states, which is far smaller. A schedule is a maximal sequence of [`Choice`]s, a
//! choice being a CPU (and, under weak memory, which visible value its load returns); a state records the
//! checks that have already fired, so "violates" is a property of the whole schedule.
//!
//! States are remembered by a 128-bit fingerprint (two independent 64-bit hashes) rather than whole:
//! "hash compaction", as explicit-state model checkers do. It keeps the memory per state near 150 bytes;
//! the chance that two of 100,000 distinct states share a fingerprint is about 10^-29.
//!
//! The random mode follows `runs` schedules chosen by a seeded xorshift generator instead.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde::Serialize;

use super::checks::{Check, Checks};
use super::model::{apply, format_schedule, step, Choice, Setup, State};
use crate::params::EXPLORE_WORK;

pub use crate::params::EXPLORE_STATES as STATE_CAP;

/// A state's fingerprint: two 64-bit hashes with different seeds and multipliers, in one pass over the
/// state. Each word the state hashes is folded in with a bijective mix (multiply, xor-shift), so the two
/// lanes behave as independent random functions of the state for this purpose; five times faster than two
/// passes of SipHash, which took most of a model step.
pub fn fingerprint(st: &State) -> u128 {
    let mut h = Fingerprint { a: 0x243f_6a88_85a3_08d3, b: 0x1319_8a2e_0370_7344 };
    st.hash(&mut h);
    ((h.finish() as u128) << 64) | h.lanes().1 as u128
}

/// The hasher behind [`fingerprint`].
struct Fingerprint {
    a: u64,
    b: u64,
}

impl Fingerprint {
    fn word(&mut self, w: u64) {
        let mix = |mut x: u64, k: u64| {
            x = x.wrapping_mul(k);
            x ^= x >> 29;
            x.wrapping_mul(0xbf58_476d_1ce4_e5b9)
        };
        self.a = mix(self.a ^ w, 0x9e37_79b9_7f4a_7c15).rotate_left(23);
        self.b = mix(self.b ^ w.rotate_left(31), 0x94d0_49bb_1331_11eb).rotate_left(41);
    }

    fn lanes(&self) -> (u64, u64) {
        let fin = |mut x: u64| {
            x ^= x >> 31;
            x = x.wrapping_mul(0xd6e8_feb8_6659_fd93);
            x ^ (x >> 32)
        };
        (fin(self.a), fin(self.b))
    }
}

impl Hasher for Fingerprint {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        // The length goes in with the tail, so "ab" and "ab\0" differ.
        self.word(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
    }
    fn write_u8(&mut self, i: u8) {
        self.word(i as u64);
    }
    fn write_u16(&mut self, i: u16) {
        self.word(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.word(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }
    fn finish(&self) -> u64 {
        self.lanes().0
    }
}

/// Maps and sets keyed by fingerprints, which are hashes already: their low 64 bits are the bucket hash.
#[derive(Default, Clone, Copy)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type ByPrint = std::hash::BuildHasherDefault<Prehashed>;
type Seen = HashSet<u128, ByPrint>;

/// The exhaustive walk's memory: each finished state's summary, found by its fingerprint. The summaries
/// live in a vector and the map holds their index, so when the map grows it moves 20 bytes an entry, not
/// a summary's hundred (growing a map of 100,000 summaries held the page for over 100 ms).
#[derive(Default)]
struct Memo {
    index: HashMap<u128, u32, ByPrint>,
    sums: Vec<Summary>,
}

impl Memo {
    fn get(&self, key: &u128) -> Option<&Summary> {
        self.index.get(key).and_then(|&i| self.sums.get(i as usize))
    }

    fn insert(&mut self, key: u128, sum: Summary) {
        self.index.insert(key, self.sums.len() as u32);
        self.sums.push(sum);
    }

    fn len(&self) -> usize {
        self.sums.len()
    }
}

/// A tiny deterministic generator (xorshift64): the seed comes in from outside, so runs replay.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // Zero is the one seed xorshift cannot leave; any fixed odd constant will do instead.
        XorShift(if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// The result for one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub check: Check,
    pub name: String,
    /// Schedules that violate it.
    pub schedules: u64,
    /// The shortest schedule that violates it, up to the step where it does.
    pub counterexample: Option<Vec<Choice>>,
    /// The same, as text (`"0 0 1 1:1"`), for the CLI and links.
    pub counterexample_text: Option<String>,
}

/// What the explorer found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `"exhaustive"` or `"random"`.
    pub mode: String,
    /// Complete schedules counted (exhaustive) or run (random).
    pub schedules: u64,
    /// The count did not fit in 64 bits and stopped at the maximum.
    pub saturated: bool,
    /// Distinct states visited.
    pub states: usize,
    /// Every check, in [`Check::ALL`] order.
    pub checks: Vec<CheckResult>,
}

impl Report {
    pub fn violations(&self, c: Check) -> u64 {
        self.checks.iter().find(|r| r.check == c).map_or(0, |r| r.schedules)
    }

    pub fn counterexample(&self, c: Check) -> Option<&[Choice]> {
        self.checks.iter().find(|r| r.check == c).and_then(|r| r.counterexample.as_deref())
    }

    /// No check fired on any schedule.
    pub fn is_clean(&self) -> bool {
        self.checks.iter().all(|r| r.schedules == 0)
    }
}

const N: usize = Check::ALL.len();

/// Per state: schedules from here, violating schedules per check, and the shortest way to each violation
/// (distance, and the first choice to take; distance 0 means "already violated here").
#[derive(Clone, Debug)]
struct Summary {
    total: u64,
    per: [u64; N],
    short: [Option<(u16, Option<Choice>)>; N],
}

/// One state on the explorer's path from the initial state: its choices, how many it has tried, what
/// the tried ones added up to, and the choice that led here from the frame below.
struct Frame {
    st: State,
    key: u128,
    choices: Vec<Choice>,
    next: usize,
    sum: Summary,
    via: Option<Choice>,
}

/// How a sliced exploration stands after [`Exploration::run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The slice's work is spent and the exploration goes on at the next call: distinct states so far
    /// (finished ones) and schedules counted or followed so far.
    Working { states: usize, schedules: u64 },
    /// Finished: the report, or why it cannot be made (a state cap, a model error).
    Done(Result<Report, String>),
}

/// An exploration that runs in slices: each [`Exploration::run`] does at most the work it is given (in
/// model steps: one choice applied to a state) and stops at a clean point, so a page can explore a large
/// setup without one long task and show progress meanwhile; a stopped exploration is simply dropped.
/// Exhaustive: a depth-first walk with the path held on an explicit stack (no recursion), the counts
/// exactly those of a recursive walk. Random: `runs` schedules from a seeded generator.
pub struct Exploration {
    setup: Setup,
    kind: Kind,
    /// Model steps done so far, over every slice.
    pub steps: u64,
    done: Option<Result<Report, String>>,
}

enum Kind {
    Exhaustive(Box<Walk>),
    Random(Box<Sampler>),
}

/// The exhaustive walk's position: what it has finished, and the path it is on.
struct Walk {
    memo: Memo,
    saturated: bool,
    cap: usize,
    stack: Vec<Frame>,
    root: State,
    started: bool,
}

/// The random sampler's position: schedules still to follow and what those followed found.
struct Sampler {
    rng: XorShift,
    runs: u64,
    followed: u64,
    per: [u64; N],
    best: Vec<Option<Vec<Choice>>>,
    states: Seen,
    /// The schedule being followed, if one is under way.
    current: Option<(State, Vec<Choice>, [Option<usize>; N])>,
    /// Model steps the whole sampling may take (the CLI's budget): spent, it reports what it followed.
    work: u64,
}

impl Exploration {
    /// Every schedule of `setup`, giving up with an error after `cap` distinct states.
    pub fn exhaustive(setup: &Setup, cap: usize) -> Exploration {
        let root = State::initial(setup);
        let kind = Kind::Exhaustive(Box::new(Walk { memo: Memo::default(), saturated: false, cap, stack: Vec::new(), root, started: false }));
        Exploration { setup: setup.clone(), kind, steps: 0, done: None }
    }

    /// `runs` random schedules of `setup`, chosen by a generator seeded with `seed`, within `work` model
    /// steps in all (spent first, the report counts the schedules followed by then and says so).
    pub fn random(setup: &Setup, seed: u64, runs: u64, work: u64) -> Exploration {
        let sampler = Sampler { rng: XorShift::new(seed), runs, followed: 0, per: [0; N], best: vec![None; N], states: Seen::default(), current: None, work };
        Exploration { setup: setup.clone(), kind: Kind::Random(Box::new(sampler)), steps: 0, done: None }
    }

    /// Go on for at most `budget` model steps (a little more when a state's last child finishes it).
    pub fn run(&mut self, budget: u64) -> Progress {
        if let Some(done) = &self.done {
            return Progress::Done(done.clone());
        }
        let limit = self.steps.saturating_add(budget.max(1));
        let result = match &mut self.kind {
            Kind::Exhaustive(w) => w.slice(&self.setup, &mut self.steps, limit),
            Kind::Random(s) => random_slice(&self.setup, s, &mut self.steps, limit),
        };
        match result {
            Some(r) => {
                self.done = Some(r.clone());
                Progress::Done(r)
            }
            None => Progress::Working { states: self.states(), schedules: self.schedules() },
        }
    }

    /// Distinct states finished (exhaustive) or seen (random) so far.
    pub fn states(&self) -> usize {
        match &self.kind {
            Kind::Exhaustive(w) => w.memo.len(),
            Kind::Random(s) => s.states.len(),
        }
    }

    /// Schedules counted below the states finished so far (exhaustive), or followed (random).
    pub fn schedules(&self) -> u64 {
        match &self.kind {
            Kind::Exhaustive(w) => w.stack.first().map_or(0, |f| f.sum.total),
            Kind::Random(s) => s.followed,
        }
    }
}

/// A finished state's summary: a leaf counts as one schedule, with the checks it ended with.
fn leaf(setup: &Setup, st: &State) -> Summary {
    let mut sum = Summary { total: 1, per: [0; N], short: [None; N] };
    let mut seen = st.seen;
    for v in st.final_checks(setup) {
        seen.insert(v.check);
    }
    for (k, c) in Check::ALL.iter().enumerate() {
        if seen.contains(*c) {
            sum.per[k] = 1;
            sum.short[k] = Some((0, None));
        }
    }
    sum
}

/// Add the schedules below a child reached by `ch` to its parent's summary.
fn merge(sum: &mut Summary, cs: &Summary, ch: Choice, saturated: &mut bool) {
    sum.total = add(sum.total, cs.total, saturated);
    for k in 0..N {
        sum.per[k] = add(sum.per[k], cs.per[k], saturated);
        if let Some((d, _)) = cs.short[k] {
            let cand = (d.saturating_add(1), Some(ch));
            if sum.short[k].is_none_or(|(best, _)| cand.0 < best) {
                sum.short[k] = Some(cand);
            }
        }
    }
}

fn too_many(cap: usize) -> String {
    format!(
        "more than {cap} distinct states: this setup is too large to explore exhaustively; \
         try fewer tasks, CPUs or initial entries, or follow random schedules instead"
    )
}

impl Walk {
    /// One slice of the walk; `Some` when it finished.
    fn slice(&mut self, setup: &Setup, steps: &mut u64, limit: u64) -> Option<Result<Report, String>> {
        let Walk { memo, saturated, cap, stack, root, started } = self;
        let cap = *cap;
        let report = |memo: &Memo, saturated: bool, sum: &Summary| {
            let ex = Walked { setup, memo };
            let examples = (0..N).map(|k| if sum.per[k] > 0 { ex.counterexample(root, k) } else { None }).collect();
            Ok(Report { mode: "exhaustive".into(), schedules: sum.total, saturated, states: memo.len(), checks: results(sum.per, examples) })
        };
        if !*started {
            *started = true;
            let choices = root.choices(setup);
            if choices.is_empty() {
                let sum = leaf(setup, root);
                memo.insert(fingerprint(root), sum.clone());
                return Some(report(memo, *saturated, &sum));
            }
            if cap == 0 {
                return Some(Err(too_many(cap)));
            }
            let sum = Summary { total: 0, per: [0; N], short: [None; N] };
            stack.push(Frame { key: fingerprint(root), st: root.clone(), choices, next: 0, sum, via: None });
        }
        while *steps < limit {
            let Some(top) = stack.last_mut() else { return Some(Err("the explorer lost its place".into())) };
            if top.next < top.choices.len() {
                let ch = top.choices[top.next];
                top.next += 1;
                let mut child = top.st.clone();
                *steps += 1;
                if let Err(e) = apply(setup, &mut child, ch) {
                    return Some(Err(e));
                }
                let key = fingerprint(&child);
                if let Some(cs) = memo.get(&key) {
                    let cs = cs.clone();
                    merge(&mut top.sum, &cs, ch, saturated);
                    continue;
                }
                if memo.len() >= cap {
                    return Some(Err(too_many(cap)));
                }
                let choices = child.choices(setup);
                if choices.is_empty() {
                    let cs = leaf(setup, &child);
                    merge(&mut top.sum, &cs, ch, saturated);
                    memo.insert(key, cs);
                } else {
                    let sum = Summary { total: 0, per: [0; N], short: [None; N] };
                    stack.push(Frame { st: child, key, choices, next: 0, sum, via: Some(ch) });
                }
                continue;
            }
            // Every choice of the top state is done: it is finished.
            let Some(mut f) = stack.pop() else { continue };
            for (k, c) in Check::ALL.iter().enumerate() {
                if f.st.seen.contains(*c) {
                    f.sum.short[k] = Some((0, None));
                }
            }
            memo.insert(f.key, f.sum.clone());
            match (stack.last_mut(), f.via) {
                (Some(parent), Some(ch)) => merge(&mut parent.sum, &f.sum, ch, saturated),
                _ => return Some(report(memo, *saturated, &f.sum)),
            }
        }
        None
    }
}

/// One slice of random sampling; `Some` when it finished.
fn random_slice(setup: &Setup, s: &mut Sampler, steps: &mut u64, limit: u64) -> Option<Result<Report, String>> {
    let report = |s: &Sampler| {
        Ok(Report { mode: "random".into(), schedules: s.followed, saturated: false, states: s.states.len(), checks: results(s.per, s.best.clone()) })
    };
    while *steps < limit {
        if s.current.is_none() {
            if s.followed >= s.runs || *steps >= s.work {
                return Some(report(s));
            }
            s.current = Some((State::initial(setup), Vec::new(), [None; N]));
        }
        let Some((st, sched, prefix_at)) = s.current.as_mut() else { continue };
        if s.states.len() < STATE_CAP {
            s.states.insert(fingerprint(st));
        }
        let choices = st.choices(setup);
        if !choices.is_empty() {
            let ch = choices[s.rng.below(choices.len())];
            *steps += 1;
            if let Err(e) = apply(setup, st, ch) {
                return Some(Err(e));
            }
            sched.push(ch);
            for (k, c) in Check::ALL.iter().enumerate() {
                if prefix_at[k].is_none() && st.seen.contains(*c) {
                    prefix_at[k] = Some(sched.len());
                }
            }
            continue;
        }
        // The schedule is complete: count what it broke.
        let Some((st, sched, prefix_at)) = s.current.take() else { continue };
        let mut seen: Checks = st.seen;
        for v in st.final_checks(setup) {
            seen.insert(v.check);
        }
        for (k, c) in Check::ALL.iter().enumerate() {
            if seen.contains(*c) {
                s.per[k] += 1;
                let len = prefix_at[k].unwrap_or(sched.len());
                if s.best[k].as_ref().is_none_or(|b| len < b.len()) {
                    s.best[k] = Some(sched[..len].to_vec());
                }
            }
        }
        s.followed += 1;
    }
    None
}

/// The finished walk, for following the remembered shortest paths.
struct Walked<'a> {
    setup: &'a Setup,
    memo: &'a Memo,
}

impl Walked<'_> {
    /// Follow the remembered shortest path to a violation of check `k` from the initial state.
    fn counterexample(&self, root: &State, k: usize) -> Option<Vec<Choice>> {
        let mut st = root.clone();
        let mut path = Vec::new();
        loop {
            let (d, ch) = self.memo.get(&fingerprint(&st))?.short[k]?;
            if d == 0 {
                return Some(path);
            }
            let ch = ch?;
            step(self.setup, &mut st, ch).ok()?;
            path.push(ch);
        }
    }
}

fn add(a: u64, b: u64, saturated: &mut bool) -> u64 {
    a.checked_add(b).unwrap_or_else(|| {
        *saturated = true;
        u64::MAX
    })
}

fn results(per: [u64; N], examples: Vec<Option<Vec<Choice>>>) -> Vec<CheckResult> {
    Check::ALL
        .iter()
        .zip(examples)
        .enumerate()
        .map(|(k, (&c, ex))| CheckResult {
            check: c,
            name: c.name().to_string(),
            schedules: per[k],
            counterexample_text: ex.as_deref().map(format_schedule),
            counterexample: ex,
        })
        .collect()
}

/// Enumerate every schedule of `setup`.
pub fn explore(setup: &Setup) -> Result<Report, String> {
    explore_capped(setup, STATE_CAP)
}

/// [`explore`], giving up with an error after `cap` distinct states.
pub fn explore_capped(setup: &Setup, cap: usize) -> Result<Report, String> {
    finish(Exploration::exhaustive(setup, cap))
}

/// Follow `runs` random schedules of `setup`, chosen by a generator seeded with `seed`, within
/// [`EXPLORE_WORK`] model steps (spent first, the report counts the schedules followed by then).
pub fn explore_random(setup: &Setup, seed: u64, runs: u64) -> Result<Report, String> {
    finish(Exploration::random(setup, seed, runs, EXPLORE_WORK))
}

/// Run an exploration to its end in one go (the CLI, the checker, tests).
fn finish(mut ex: Exploration) -> Result<Report, String> {
    loop {
        if let Progress::Done(r) = ex.run(u64::MAX) {
            return r;
        }
    }
}

/// Every final state `setup` can reach (for litmus tests: which outcomes are possible at all).
pub fn final_states(setup: &Setup) -> Result<Vec<State>, String> {
    let mut seen = HashSet::new();
    let mut finals = Vec::new();
    let mut stack = vec![State::initial(setup)];
    while let Some(st) = stack.pop() {
        if !seen.insert(fingerprint(&st)) {
            continue;
        }
        if seen.len() > STATE_CAP {
            return Err(format!("more than {STATE_CAP} distinct states"));
        }
        let choices = st.choices(setup);
        if choices.is_empty() {
            finals.push(st);
            continue;
        }
        for ch in choices {
            let mut child = st.clone();
            apply(setup, &mut child, ch)?;
            stack.push(child);
        }
    }
    Ok(finals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rcu::{MemoryMode, Scenario, Variant};

    fn setup(variant: Variant, memory: MemoryMode, readers: u8, writers: u8, cpus: u8) -> Setup {
        Setup::lguest(&Scenario { variant, memory, readers, writers, cpus, ..Default::default() }).unwrap()
    }

    fn sliced(mut ex: Exploration, budget: u64) -> (Result<Report, String>, u32) {
        let mut calls = 0;
        loop {
            calls += 1;
            if let Progress::Done(r) = ex.run(budget) {
                return (r, calls);
            }
        }
    }

    #[test]
    fn slices_of_any_size_find_what_one_run_finds() {
        for (v, m, r, w, c) in [
            (Variant::NoSynchronizeRcu, MemoryMode::Sc, 1, 1, 2),
            (Variant::PlainAssign, MemoryMode::Weak, 2, 1, 2),
            (Variant::NoLguestLock, MemoryMode::Sc, 0, 2, 2),
            (Variant::Correct, MemoryMode::Weak, 1, 2, 3),
        ] {
            let s = setup(v, m, r, w, c);
            let whole = explore(&s).unwrap();
            for budget in [1, 7, 500] {
                let (got, calls) = sliced(Exploration::exhaustive(&s, STATE_CAP), budget);
                assert_eq!(got.unwrap(), whole, "{v:?} {m:?} in slices of {budget}");
                assert!(budget == 500 || calls > 1);
            }
            let random = explore_random(&s, 7, 50).unwrap();
            let (got, _) = sliced(Exploration::random(&s, 7, 50, EXPLORE_WORK), 3);
            assert_eq!(got.unwrap(), random, "{v:?} {m:?} sampled in slices");
        }
    }

    #[test]
    fn a_state_cap_ends_the_walk_with_a_reason() {
        let s = setup(Variant::Correct, MemoryMode::Weak, 1, 2, 3);
        let err = explore_capped(&s, 10).unwrap_err();
        assert!(err.starts_with("more than 10 distinct states"), "{err}");
        assert!(!err.contains("--"), "the model's words name no command-line option: {err}");
    }

    #[test]
    fn random_sampling_stops_at_its_budget_and_counts_what_it_followed() {
        let s = setup(Variant::Correct, MemoryMode::Sc, 1, 1, 2);
        let mut ex = Exploration::random(&s, 1, u64::MAX, 2_000);
        let Progress::Done(Ok(r)) = ex.run(u64::MAX) else { panic!("the sampling ends") };
        assert!(r.schedules > 10 && r.schedules < 2_000, "{} schedules", r.schedules);
        // It stops before starting a schedule once the work is spent: at most one schedule over.
        assert!(ex.steps >= 2_000 && ex.steps < 2_000 + 200, "{} steps", ex.steps);
    }
}
