//! Every variant of the eventfd map through the explorer: the correct code comes out clean under both
//! memory modes, and each broken variant produces exactly its violation, with a counterexample that
//! replays to it.

use lguest_sim::rcu::explore::{explore, explore_random};
use lguest_sim::rcu::model::Scenario;
use lguest_sim::rcu::{Check, MemoryMode, Run, Setup, Variant};

fn scenario(variant: Variant, memory: MemoryMode) -> Scenario {
    let writers = if variant == Variant::NoLguestLock { 2 } else { 1 };
    let bad_fd = variant == Variant::ErrorPath2009;
    Scenario { variant, memory, writers, bad_fd, ..Scenario::default() }
}

fn expected(variant: Variant, memory: MemoryMode) -> Vec<Check> {
    match (variant, memory) {
        (Variant::Correct, _) => vec![],
        (Variant::NoSynchronizeRcu | Variant::KfreeBeforeSync | Variant::ReaderNoLock, _) => vec![Check::UseAfterFree],
        (Variant::PlainAssign | Variant::PlainDereference, MemoryMode::Sc) => vec![],
        (Variant::PlainAssign | Variant::PlainDereference, MemoryMode::Weak) => vec![Check::UninitialisedRead],
        // Two writers copy the same array: one entry is lost, its version and eventfd reference leak, the
        // old array is freed twice, and the slower writer may copy from an array already freed.
        (Variant::NoLguestLock, _) => vec![Check::UseAfterFree, Check::DoubleFree, Check::LostUpdate, Check::Leak],
        (Variant::ErrorPath2009, _) => vec![Check::UseAfterFree],
    }
}

#[test]
fn every_variant_gets_its_verdict_and_a_replayable_counterexample() {
    for memory in [MemoryMode::Sc, MemoryMode::Weak] {
        for variant in Variant::ALL {
            let sc = scenario(variant, memory);
            let report = explore(&Setup::lguest(&sc).unwrap()).unwrap();
            assert!(report.schedules > 0 && !report.saturated);
            let want = expected(variant, memory);
            for check in Check::ALL {
                let n = report.violations(check);
                let what = format!("{} under {}: {} ({n} schedules)", variant.name(), memory.name(), check.name());
                if !want.contains(&check) {
                    assert_eq!(n, 0, "{what}");
                    continue;
                }
                if variant == Variant::ErrorPath2009 {
                    assert_eq!(n, report.schedules, "{what}: no race needed, every schedule");
                } else {
                    assert!(n > 0 && n < report.schedules, "{what}: some schedules, not all");
                }
                let ce = report.counterexample(check).unwrap_or_else(|| panic!("{what}: no counterexample"));
                let m = Run::replay(&sc, ce).unwrap_or_else(|e| panic!("{what}: {e}"));
                let found = m.violations();
                let at_end = found.iter().any(|v| v.check == check);
                assert!(at_end, "{what}: replaying {ce:?} gives {found:?}");
            }
        }
    }
}

#[test]
fn counterexamples_are_shortest() {
    // No synchronize_rcu(): the reader takes v0 (2 steps), the writer publishes and frees (7 steps), the
    // reader touches v0 (1 step). Nothing shorter can free v0 under a reader.
    let report = explore(&Setup::lguest(&scenario(Variant::NoSynchronizeRcu, MemoryMode::Sc)).unwrap()).unwrap();
    let ce = report.counterexample(Check::UseAfterFree).unwrap();
    assert_eq!(ce.len(), 10, "{ce:?}");
}

#[test]
fn without_a_second_writer_the_missing_lock_is_harmless() {
    let sc = Scenario { variant: Variant::NoLguestLock, ..Scenario::default() };
    assert!(explore(&Setup::lguest(&sc).unwrap()).unwrap().is_clean());
}

#[test]
fn larger_correct_scenarios_stay_clean() {
    for (cpus, readers, writers, memory) in [(2, 2, 2, MemoryMode::Sc), (3, 1, 2, MemoryMode::Sc), (3, 2, 1, MemoryMode::Weak), (1, 1, 2, MemoryMode::Sc)] {
        let sc = Scenario { cpus, readers, writers, memory, ..Scenario::default() };
        let r = explore(&Setup::lguest(&sc).unwrap()).unwrap();
        assert!(r.is_clean(), "{sc:?}: {:?}", r.checks);
    }
}

#[test]
fn random_schedules_are_seeded_and_find_the_bug() {
    let setup = Setup::lguest(&scenario(Variant::NoSynchronizeRcu, MemoryMode::Sc)).unwrap();
    let a = explore_random(&setup, 42, 300).unwrap();
    let b = explore_random(&setup, 42, 300).unwrap();
    assert_eq!(a, b, "same seed, same runs");
    assert!(a.violations(Check::UseAfterFree) > 0);
    assert_eq!(a.violations(Check::UninitialisedRead), 0);
    let clean = explore_random(&Setup::lguest(&Scenario::default()).unwrap(), 7, 300).unwrap();
    assert!(clean.is_clean());
}

#[test]
fn timer_interrupts_anywhere_change_no_verdict() {
    for (variant, bad) in [(Variant::Correct, None), (Variant::NoSynchronizeRcu, Some(Check::UseAfterFree))] {
        let plain = explore(&Setup::lguest(&Scenario { variant, ..Scenario::default() }).unwrap()).unwrap();
        let sc = Scenario { variant, timers: 2, ..Scenario::default() };
        let with = explore(&Setup::lguest(&sc).unwrap()).unwrap();
        assert!(with.schedules > plain.schedules, "the interrupts add interleavings");
        match bad {
            None => assert!(with.is_clean(), "{:?}", with.checks),
            Some(c) => {
                assert!(with.violations(c) > 0);
                let ce = with.counterexample(c).unwrap();
                assert!(Run::replay(&sc, ce).unwrap().violations().iter().any(|v| v.check == c));
            }
        }
    }
}

#[test]
fn a_bad_fd_takes_the_error_path_cleanly_in_the_fixed_code() {
    let sc = Scenario { bad_fd: true, ..Scenario::default() };
    let r = explore(&Setup::lguest(&sc).unwrap()).unwrap();
    assert!(r.is_clean(), "{:?}", r.checks);
    let mut m = Run::new(&sc).unwrap();
    while let Some(c) = m.enabled_cpus().last().copied() {
        m.step(c).unwrap();
    }
    let s = m.snapshot();
    assert_eq!(s.eventfds, "v0", "nothing was published");
    assert_eq!(s.versions[1].life, lguest_sim::rcu::model::Life::Freed);
    assert!(m.events().iter().any(|e| e.text.contains("-EBADF")));
    assert!(m.violations().is_empty(), "{:?}", m.violations());
    // The same with the 2009 order: the writer alone, on one CPU, reads freed memory.
    let old = Scenario { cpus: 1, readers: 0, bad_fd: true, variant: Variant::ErrorPath2009, ..Scenario::default() };
    let r = explore(&Setup::lguest(&old).unwrap()).unwrap();
    assert_eq!((r.schedules, r.violations(Check::UseAfterFree)), (1, 1));
}

#[test]
fn lesson_scenarios_keep_their_exact_counts() {
    // (schedules, distinct states) of each lesson scenario: a change here is a change of behaviour. The last
    // three share a CPU between two tasks (R0 and W1 on CPU0), and since the scheduler may start either
    // first (a `start` choice) they have more schedules than before; every verdict is the same.
    let want = [(1894, 115), (3110, 92), (2321, 229), (13176, 368), (1_049_217, 1616), (1_206_401_466, 3161)];
    for ((name, sc), want) in lguest_sim::rcu::bench::lesson_scenarios().into_iter().zip(want) {
        let r = explore(&Setup::lguest(&sc).unwrap()).unwrap();
        assert_eq!((r.schedules, r.states), want, "{name}");
    }
    let timers = Scenario { timers: 2, variant: Variant::KfreeBeforeSync, ..Scenario::default() };
    let r = explore(&Setup::lguest(&timers).unwrap()).unwrap();
    assert_eq!((r.schedules, r.violations(Check::UseAfterFree)), (4_017_153, 494_562));
}

/// The two flavours (model.rs): a reader without `rcu_read_lock()` is a use-after-free on preemptible RCU,
/// whose grace period cannot see it, and safe on classic RCU, where the reader's CPU cannot pass a quiescent
/// state (a context switch, user mode, idle) before it is done. Every other verdict is the same on both:
/// the correct code is clean, and the writer's own mistakes break it either way.
#[test]
fn the_two_flavours_differ_exactly_on_the_unlocked_reader() {
    use lguest_sim::rcu::Flavour;
    for variant in Variant::ALL {
        let on = |flavour| {
            let sc = Scenario { variant, flavour, ..Scenario::default() };
            explore(&Setup::lguest(&sc).unwrap()).unwrap()
        };
        let (pre, classic) = (on(Flavour::Preemptible), on(Flavour::Classic));
        if variant == Variant::ReaderNoLock {
            assert!(pre.violations(Check::UseAfterFree) > 0, "preemptible: the grace period does not wait for a reader it cannot see");
            assert!(classic.is_clean(), "classic: the reader's CPU is not quiescent until it is done: {:?}", classic.checks);
        } else {
            assert_eq!(pre.is_clean(), classic.is_clean(), "{}: the same verdict on both flavours", variant.name());
        }
    }
    // Classic RCU: a tick that finds the reader in the kernel is no quiescent state, even outside any section.
    let sc = Scenario { variant: Variant::ReaderNoLock, flavour: Flavour::Classic, timers: 2, ..Scenario::default() };
    assert!(explore(&Setup::lguest(&sc).unwrap()).unwrap().is_clean());
    let sc = Scenario { variant: Variant::ReaderNoLock, timers: 2, ..Scenario::default() };
    assert!(explore(&Setup::lguest(&sc).unwrap()).unwrap().violations(Check::UseAfterFree) > 0);
}

/// The scheduler may run a writer before a reader placed on the same CPU: without that choice a CPU always
/// began with its first-placed task.
#[test]
fn a_writer_may_run_before_a_reader_on_the_same_cpu() {
    use lguest_sim::rcu::model::parse_schedule;
    let sc = Scenario { cpus: 1, placement: Some(vec![0, 0]), ..Scenario::default() };
    let mut m = Run::new(&sc).unwrap();
    let ev = m.step_choice(parse_schedule("0s").unwrap()[0]).unwrap();
    assert_eq!(ev.task, "W0");
    assert!(ev.text.contains("runs W0 before R0"), "{}", ev.text);
    // It is a context switch only before the CPU's task has begun: once R0 ran, no more.
    let mut m = Run::new(&sc).unwrap();
    m.step(0).unwrap();
    assert!(m.choices().iter().all(|c| !c.start));
    assert!(explore(&Setup::lguest(&sc).unwrap()).unwrap().is_clean());
}
