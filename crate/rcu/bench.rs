//! How fast the explorer is on the lesson scenarios: schedules counted per second and distinct states
//! visited per second. Part of the RCU tour ([`super`]); a measuring tool, not a lesson.
//!
//! The core never reads a clock (runs must replay exactly), so the clock comes in as a function: natively
//! [`bench_explore`] uses `std::time::Instant`; the browser passes `performance.now()` to
//! [`bench_explore_with`].

use super::explore::explore;
use super::memory::MemoryMode;
use super::model::{Scenario, Setup};
use super::programs::Variant;

/// The scenarios the lessons explore, with a name for each.
pub fn lesson_scenarios() -> Vec<(&'static str, Scenario)> {
    let base = Scenario::default();
    vec![
        ("correct, 2 CPUs, 1 reader, 1 writer, sc", base.clone()),
        ("no-synchronize-rcu, sc", Scenario { variant: Variant::NoSynchronizeRcu, ..base.clone() }),
        ("plain-assign, weak", Scenario { variant: Variant::PlainAssign, memory: MemoryMode::Weak, ..base.clone() }),
        ("correct, 1 reader, 2 writers, sc", Scenario { writers: 2, ..base.clone() }),
        ("no-lguest-lock, 2 writers, sc", Scenario { variant: Variant::NoLguestLock, writers: 2, ..base.clone() }),
        ("correct, 2 readers, 2 writers, weak", Scenario { readers: 2, writers: 2, memory: MemoryMode::Weak, ..base }),
    ]
}

/// Explore each lesson scenario, timing it with `now` (milliseconds), and report the rates.
pub fn bench_explore_with(now: &mut dyn FnMut() -> f64) -> String {
    let mut out = String::from("scenario: schedules, distinct states, time per exhaustive run, schedules/s\n");
    for (name, sc) in lesson_scenarios() {
        let setup = match Setup::lguest(&sc) {
            Ok(s) => s,
            Err(e) => {
                out.push_str(&format!("  {name}: {e}\n"));
                continue;
            }
        };
        // Repeat small runs so the clock's resolution does not dominate.
        let mut runs = 0u32;
        let mut last = None;
        let start = now();
        while runs < 200 && (runs == 0 || now() - start < 200.0) {
            last = Some(explore(&setup));
            runs += 1;
        }
        let ms = (now() - start) / runs as f64;
        match last {
            Some(Ok(r)) => {
                let rate = if ms > 0.0 { r.schedules as f64 / (ms / 1000.0) } else { f64::INFINITY };
                out.push_str(&format!("  {name}: {} schedules, {} states, {ms:.3} ms, {rate:.0} schedules/s\n", r.schedules, r.states));
            }
            Some(Err(e)) => out.push_str(&format!("  {name}: {e}\n")),
            None => {}
        }
    }
    out
}

/// [`bench_explore_with`] on the native clock. (In the browser `Instant` does not exist; use the `_with` form.)
#[cfg(not(target_arch = "wasm32"))]
pub fn bench_explore() -> String {
    let t0 = std::time::Instant::now();
    bench_explore_with(&mut || t0.elapsed().as_secs_f64() * 1000.0)
}

/// In the browser there is no native clock: say so rather than panic.
#[cfg(target_arch = "wasm32")]
pub fn bench_explore() -> String {
    "bench_explore needs a clock here: call bench_explore_with(performance.now)".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_reports_every_lesson_scenario() {
        // A clock that jumps 100 ms per reading: each scenario runs twice.
        let mut fake = 0.0;
        let out = bench_explore_with(&mut || {
            fake += 100.0;
            fake
        });
        assert_eq!(out.lines().count(), 1 + lesson_scenarios().len(), "{out}");
        assert!(out.contains("schedules/s"));
        assert!(!out.contains("too large"), "{out}");
    }
}
