//! The Linux kernel memory model's litmus shapes, run on the RCU model: every verdict must match the
//! published one (weak mode) and sequential consistency (sc mode).

use lguest_sim::rcu::litmus::{catalogue, Verdict};
use lguest_sim::rcu::MemoryMode;

fn verdict_of(name: &str, memory: MemoryMode) -> Verdict {
    let l = catalogue().into_iter().find(|l| l.name == name).expect("shape in the catalogue");
    l.run(memory).expect("explores")
}

#[test]
fn every_shape_gets_its_published_verdict() {
    for l in catalogue() {
        for m in [MemoryMode::Sc, MemoryMode::Weak] {
            assert_eq!(l.run(m), Ok(l.expected(m)), "{} under {}", l.name, m.name());
        }
    }
}

#[test]
fn deferred_free_is_never_with_a_grace_period_and_sometimes_without() {
    assert_eq!(verdict_of("RCU+sync+free", MemoryMode::Weak), Verdict::Never);
    assert_eq!(verdict_of("RCU+sync+free", MemoryMode::Sc), Verdict::Never);
    assert_eq!(verdict_of("RCU+sync+free without synchronize_rcu()", MemoryMode::Sc), Verdict::Sometimes);
    assert_eq!(verdict_of("RCU+sync+free without rcu_read_lock()", MemoryMode::Weak), Verdict::Sometimes);
}

#[test]
fn grace_period_orders_like_lkmm() {
    assert_eq!(verdict_of("RCU+sync+read", MemoryMode::Weak), Verdict::Never);
    assert_eq!(verdict_of("MP through a grace period", MemoryMode::Weak), Verdict::Never);
}

#[test]
fn message_passing_needs_release_and_acquire_on_weak_memory() {
    assert_eq!(verdict_of("MP+poonceonces", MemoryMode::Weak), Verdict::Sometimes);
    assert_eq!(verdict_of("MP+poonceonces", MemoryMode::Sc), Verdict::Never);
    assert_eq!(verdict_of("MP+pooncerelease+poacquireonce", MemoryMode::Weak), Verdict::Never);
    assert_eq!(verdict_of("MP+onceassign+derefonce", MemoryMode::Weak), Verdict::Never);
    assert_eq!(verdict_of("MP+onceassign+derefonce, plain assignment", MemoryMode::Weak), Verdict::Sometimes);
    assert_eq!(verdict_of("MP+onceassign+derefonce, plain dereference (Alpha, pre-4.15)", MemoryMode::Weak), Verdict::Sometimes);
}

#[test]
fn synchronize_rcu_inside_a_read_side_section_deadlocks_on_one_cpu() {
    use lguest_sim::rcu::explore::explore;
    use lguest_sim::rcu::programs::Op;
    use lguest_sim::rcu::{Check, Setup};
    // The grace period waits for CPU0 to leave its read-side section; CPU0 waits for the grace period.
    let setup = Setup::litmus(1, MemoryMode::Sc, &[], vec![(0, vec![Op::RcuReadLock, Op::SyncBegin, Op::SyncDone, Op::RcuReadUnlock])]).unwrap();
    let r = explore(&setup).unwrap();
    assert_eq!(r.schedules, 1);
    assert_eq!(r.violations(Check::Deadlock), 1);
    // On its own CPU after the section, it is fine.
    let ok = Setup::litmus(1, MemoryMode::Sc, &[], vec![(0, vec![Op::RcuReadLock, Op::RcuReadUnlock, Op::SyncBegin, Op::SyncDone])]).unwrap();
    assert!(explore(&ok).unwrap().is_clean());
}

#[test]
fn the_table_agrees_everywhere() {
    let rows = lguest_sim::rcu::litmus::table().unwrap();
    assert_eq!(rows.len(), catalogue().len());
    assert!(rows.iter().all(|r| r.agrees), "{rows:?}");
}

#[test]
fn an_overlong_litmus_thread_is_refused() {
    use lguest_sim::rcu::programs::Op;
    let long = vec![Op::RcuReadLock; 300];
    let err = lguest_sim::rcu::Setup::litmus(1, MemoryMode::Sc, &[], vec![(0, long)]).unwrap_err();
    assert!(err.contains("at most"), "{err}");
}
