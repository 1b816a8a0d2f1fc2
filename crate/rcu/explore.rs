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

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde::Serialize;

use super::checks::{Check, Checks};
use super::model::{apply, format_schedule, step, Choice, Setup, State};

/// Distinct states the exhaustive explorer may visit before it gives up: a bound on time and memory (the
/// largest scenario the CLI accepts without timers, 4 CPUs with 3 readers and 3 writers, needs about
/// 73,000). The browser may pass a smaller cap to [`explore_capped`].
pub const STATE_CAP: usize = 100_000;

/// A state's fingerprint: two 64-bit hashes (SipHash with fixed keys, so runs repeat exactly).
pub fn fingerprint(st: &State) -> u128 {
    let mut a = DefaultHasher::new();
    st.hash(&mut a);
    let mut b = DefaultHasher::new();
    0x2545_f491_4f6c_dd1d_u64.hash(&mut b);
    st.hash(&mut b);
    ((a.finish() as u128) << 64) | b.finish() as u128
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

struct Explorer<'a> {
    setup: &'a Setup,
    memo: HashMap<u128, Summary>,
    saturated: bool,
    cap: usize,
}

impl Explorer<'_> {
    fn visit(&mut self, st: &State) -> Result<Summary, String> {
        let key = fingerprint(st);
        if let Some(s) = self.memo.get(&key) {
            return Ok(s.clone());
        }
        if self.memo.len() >= self.cap {
            return Err(format!(
                "more than {} distinct states: this scenario is too large to explore exhaustively; \
                 try fewer tasks or --random K",
                self.cap
            ));
        }
        let choices = st.choices(self.setup);
        let mut sum = Summary { total: 0, per: [0; N], short: [None; N] };
        if choices.is_empty() {
            let mut seen = st.seen;
            for v in st.final_checks(self.setup) {
                seen.insert(v.check);
            }
            sum.total = 1;
            for (k, c) in Check::ALL.iter().enumerate() {
                if seen.contains(*c) {
                    sum.per[k] = 1;
                    sum.short[k] = Some((0, None));
                }
            }
        } else {
            for &ch in &choices {
                let mut child = st.clone();
                apply(self.setup, &mut child, ch)?;
                let cs = self.visit(&child)?;
                sum.total = add(sum.total, cs.total, &mut self.saturated);
                for k in 0..N {
                    sum.per[k] = add(sum.per[k], cs.per[k], &mut self.saturated);
                    if let Some((d, _)) = cs.short[k] {
                        let cand = (d.saturating_add(1), Some(ch));
                        if sum.short[k].is_none_or(|(best, _)| cand.0 < best) {
                            sum.short[k] = Some(cand);
                        }
                    }
                }
            }
            for (k, c) in Check::ALL.iter().enumerate() {
                if st.seen.contains(*c) {
                    sum.short[k] = Some((0, None));
                }
            }
        }
        self.memo.insert(key, sum.clone());
        Ok(sum)
    }

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
    let root = State::initial(setup);
    let mut ex = Explorer { setup, memo: HashMap::new(), saturated: false, cap };
    let sum = ex.visit(&root)?;
    let examples = (0..N).map(|k| if sum.per[k] > 0 { ex.counterexample(&root, k) } else { None }).collect();
    Ok(Report { mode: "exhaustive".into(), schedules: sum.total, saturated: ex.saturated, states: ex.memo.len(), checks: results(sum.per, examples) })
}

/// Follow `runs` random schedules of `setup`, chosen by a generator seeded with `seed`.
pub fn explore_random(setup: &Setup, seed: u64, runs: u64) -> Result<Report, String> {
    let mut rng = XorShift::new(seed);
    let mut per = [0u64; N];
    let mut best: Vec<Option<Vec<Choice>>> = vec![None; N];
    let mut states = HashSet::new();
    for _ in 0..runs {
        let mut st = State::initial(setup);
        let mut sched = Vec::new();
        let mut prefix_at: [Option<usize>; N] = [None; N];
        loop {
            if states.len() < STATE_CAP {
                states.insert(fingerprint(&st));
            }
            let choices = st.choices(setup);
            if choices.is_empty() {
                break;
            }
            let ch = choices[rng.below(choices.len())];
            apply(setup, &mut st, ch)?;
            sched.push(ch);
            for (k, c) in Check::ALL.iter().enumerate() {
                if prefix_at[k].is_none() && st.seen.contains(*c) {
                    prefix_at[k] = Some(sched.len());
                }
            }
        }
        let mut seen: Checks = st.seen;
        for v in st.final_checks(setup) {
            seen.insert(v.check);
        }
        for (k, c) in Check::ALL.iter().enumerate() {
            if seen.contains(*c) {
                per[k] += 1;
                let len = prefix_at[k].unwrap_or(sched.len());
                if best[k].as_ref().is_none_or(|b| len < b.len()) {
                    best[k] = Some(sched[..len].to_vec());
                }
            }
        }
    }
    Ok(Report { mode: "random".into(), schedules: runs, saturated: false, states: states.len(), checks: results(per, best) })
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
