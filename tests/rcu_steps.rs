//! The RCU model step by step: what each step of the writer and the reader changes, how a grace period
//! accounts for CPUs, how tasks sleep and switch, and that bad input is an error, never a panic.

use lguest_sim::rcu::model::{entry_addr, parse_schedule, Choice, Life, Qs, Scenario};
use lguest_sim::rcu::{MemoryMode, Run, Variant};

fn machine(cpus: u8, readers: u8, writers: u8, place: Option<Vec<u8>>) -> Run {
    Run::new(&Scenario { cpus, readers, writers, placement: place, ..Scenario::default() }).expect("valid scenario")
}

fn run(m: &mut Run, cpus: &[u8]) {
    for &c in cpus {
        m.step(c).unwrap_or_else(|e| panic!("step {c}: {e}"));
    }
}

#[test]
fn each_writer_step_does_what_add_eventfd_does() {
    let mut m = machine(1, 0, 1, None);
    let ev = m.step(0).unwrap();
    assert_eq!(ev.function, "attach_eventfd");
    assert_eq!(m.snapshot().lock_holder.as_deref(), Some("W0"));

    m.step(0).unwrap(); // kmalloc
    let s = m.snapshot();
    assert_eq!(s.versions.len(), 2);
    assert_eq!(s.versions[1].life, Life::Building);
    assert_eq!(s.versions[1].capacity, 2);
    assert_eq!(s.versions[1].num, "(uninitialised)");

    m.step(0).unwrap(); // memcpy
    let s = m.snapshot();
    assert_eq!(s.versions[1].num, "1");
    assert_eq!(s.versions[1].entries[0].addr, "0x7000");
    assert_eq!(s.versions[1].entries[0].event, "ctx0");
    assert_eq!(s.versions[1].entries[1].addr, "(uninitialised)");

    m.step(0).unwrap(); // append
    let s = m.snapshot();
    assert_eq!(s.versions[1].entries[1].addr, format!("{:#x}", entry_addr(1)));
    assert_eq!(s.versions[1].entries[1].event, "ctx1");
    assert_eq!(m.state().ctx_refs[1], 1, "eventfd_ctx_fdget() takes a reference");

    m.step(0).unwrap(); // num++
    assert_eq!(m.snapshot().versions[1].num, "2");
    assert_eq!(m.snapshot().eventfds, "v0", "not published yet");

    let ev = m.step(0).unwrap(); // rcu_assign_pointer
    assert!(ev.step.starts_with("rcu_assign_pointer"));
    let s = m.snapshot();
    assert_eq!(s.eventfds, "v1");
    assert_eq!(s.versions[0].life, Life::Retired);
    assert_eq!(s.versions[1].life, Life::Published);

    let ev = m.step(0).unwrap(); // synchronize_rcu begins
    assert!(ev.text.contains("already over"), "{}", ev.text);
    assert!(m.snapshot().grace_periods[0].done);
    m.step(0).unwrap(); // returns
    m.step(0).unwrap(); // kfree(old)
    assert_eq!(m.snapshot().versions[0].life, Life::Freed);
    m.step(0).unwrap(); // mutex_unlock
    assert_eq!(m.snapshot().lock_holder, None);
    assert!(m.is_finished());
    assert!(m.violations().is_empty(), "{:?}", m.violations());
}

#[test]
fn each_reader_step_does_what_send_notify_to_eventfd_does() {
    // No writer: the reader's notify is entry 0's address, which v0 holds.
    let mut m = machine(1, 1, 0, None);
    m.step(0).unwrap();
    assert!(m.snapshot().cpus[0].in_read_side);
    let ev = m.step(0).unwrap();
    assert!(ev.step.contains("rcu_dereference"));
    assert_eq!(m.snapshot().tasks[0].holds, Some(0));
    assert_eq!(m.snapshot().versions[0].held_by, vec!["R0".to_string()]);
    m.step(0).unwrap(); // n = map->num
    let ev = m.step(0).unwrap(); // compare map[0]
    assert!(ev.text.contains("a match"), "{}", ev.text);
    let ev = m.step(0).unwrap();
    assert_eq!(ev.function, "eventfd_signal");
    assert_eq!(m.snapshot().eventfd_signals[0], 1);
    m.step(0).unwrap(); // pending_notify = 0
    assert_eq!(m.snapshot().tasks[0].pending_notify, 0);
    m.step(0).unwrap(); // rcu_read_unlock
    assert!(!m.snapshot().cpus[0].in_read_side);
    assert!(m.is_finished());
    assert!(m.violations().is_empty());
}

#[test]
fn a_reader_that_finds_no_entry_leaves_the_notify_for_the_launcher() {
    // The reader wants W0's address, but runs before W0 publishes.
    let mut m = machine(2, 1, 1, None);
    run(&mut m, &[0, 0, 0]); // rcu_read_lock, rcu_dereference (v0), n = 1
    let ev = m.step(0).unwrap(); // map[0] is entry 0, not W0's address
    assert!(ev.text.contains("not"), "{}", ev.text);
    let ev = m.step(0).unwrap(); // i == n: the loop ends
    assert!(ev.text.contains("no entry"), "{}", ev.text);
    let s = m.snapshot();
    assert_eq!(s.tasks[0].program[s.tasks[0].pc as usize], "rcu_read_unlock()", "signal and clear are skipped");
    run(&mut m, &[0]);
    assert_eq!(m.snapshot().tasks[0].signalled, None);
    assert_eq!(m.snapshot().tasks[0].pending_notify, entry_addr(1));
}

#[test]
fn a_reader_that_began_before_the_grace_period_holds_it() {
    let mut m = machine(2, 1, 1, None); // R0 on CPU0, W0 on CPU1
    run(&mut m, &[0, 0]); // rcu_read_lock, rcu_dereference: holds v0
    run(&mut m, &[1, 1, 1, 1, 1, 1]); // lock .. rcu_assign_pointer
    let ev = m.step(1).unwrap(); // synchronize_rcu begins
    assert!(ev.text.contains("CPU0"), "{}", ev.text);
    let s = m.snapshot();
    let gp = &s.grace_periods[0];
    assert!(!gp.done);
    assert_eq!(gp.cpus[0].state, Qs::Waiting);
    assert!(gp.cpus[0].why.contains("R0") && gp.cpus[0].why.contains("v0"), "{}", gp.cpus[0].why);
    assert_eq!(gp.cpus[1].state, Qs::NotReading);
    // The writer sleeps: only CPU0 can run, and asking CPU1 is an error, not a panic.
    assert_eq!(m.enabled_cpus(), vec![0]);
    assert!(m.step(1).unwrap_err().contains("nothing to run"));
    assert!(s.tasks[1].blocked.as_deref().unwrap_or("").contains("CPU0"));
    // The reader finishes its section: the grace period ends and the writer may free v0 safely.
    while m.snapshot().cpus[0].in_read_side {
        m.step(0).unwrap();
    }
    let s = m.snapshot();
    assert!(s.grace_periods[0].done);
    assert_eq!(s.grace_periods[0].cpus[0].state, Qs::Unlocked);
    assert_eq!(m.enabled_cpus(), vec![1]);
    run(&mut m, &[1, 1, 1]);
    assert!(m.is_finished());
    assert!(m.violations().is_empty(), "{:?}", m.violations());
}

#[test]
fn a_reader_that_began_after_the_grace_period_does_not_hold_it() {
    let mut m = machine(2, 1, 1, None);
    run(&mut m, &[1, 1, 1, 1, 1, 1, 1]); // W0 up to synchronize_rcu() begin
    let s = m.snapshot();
    assert!(s.grace_periods[0].done, "no CPU was reading");
    run(&mut m, &[0, 0]); // R0 enters and dereferences: it gets the new map
    assert_eq!(m.snapshot().tasks[0].holds, Some(1));
    run(&mut m, &[1, 1]); // synchronize_rcu returns and kfree(v0) while R0 is still inside
    assert_eq!(m.snapshot().versions[0].life, Life::Freed);
    while !m.is_finished() {
        let c = m.enabled_cpus()[0];
        m.step(c).unwrap();
    }
    assert!(m.violations().is_empty(), "{:?}", m.violations());
    assert_eq!(m.snapshot().tasks[0].signalled, Some(1));
}

#[test]
fn a_held_mutex_blocks_the_second_writer() {
    // R0 on CPU0, W0 on CPU1, W1 on CPU2.
    let mut m = machine(3, 1, 2, None);
    run(&mut m, &[0]); // R0 inside rcu_read_lock()
    run(&mut m, &[1, 1, 1, 1, 1, 1, 1]); // W0 to synchronize_rcu(): waits for CPU0
                                         // W1 wants lguest_lock, which W0 holds while it sleeps.
    assert_eq!(m.enabled_cpus(), vec![0]);
    assert!(m.snapshot().tasks[2].blocked.as_deref().unwrap_or("").contains("W0 holds lguest_lock"));
    while !m.is_finished() {
        let c = m.enabled_cpus()[0];
        m.step(c).unwrap();
    }
    assert!(m.violations().is_empty(), "{:?}", m.violations());
    assert_eq!(m.snapshot().eventfds, "v2");
}

#[test]
fn a_writer_asleep_in_synchronize_rcu_lets_its_cpu_switch() {
    // Without lguest_lock, W1 (sharing CPU1 with W0) can run while W0 sleeps in synchronize_rcu().
    let sc = Scenario { variant: Variant::NoLguestLock, writers: 2, placement: Some(vec![0, 1, 1]), ..Scenario::default() };
    let mut m = Run::new(&sc).unwrap();
    run(&mut m, &[0]); // R0 inside rcu_read_lock()
    run(&mut m, &[1, 1, 1, 1, 1, 1]); // W0 to synchronize_rcu(): waits for CPU0
    assert!(m.snapshot().cpus[1].next.contains("context switch to W1"));
    let ev = m.step(1).unwrap();
    assert_eq!(ev.step, "context switch");
    assert_eq!(ev.task, "W1");
    assert!(ev.text.contains("quiescent"));
    assert_eq!(m.snapshot().cpus[1].running.as_deref(), Some("W1"));
    assert!(m.snapshot().tasks[1].blocked.as_deref().unwrap_or("").contains("synchronize_rcu"));
}

#[test]
fn step_back_and_replay_reproduce_the_same_state() {
    let mut m = machine(2, 1, 1, None);
    run(&mut m, &[0, 1, 1, 0]);
    let before = m.state().clone();
    m.step(1).unwrap();
    assert!(m.back());
    assert_eq!(m.state(), &before);
    assert_eq!(m.schedule().len(), 4);
    let replayed = Run::replay(&Scenario::default(), &parse_schedule("0 1 1 0").unwrap()).unwrap();
    assert_eq!(replayed.state(), &before);
    let mut fresh = machine(1, 1, 0, None);
    assert!(!fresh.back());
}

#[test]
fn bad_input_is_an_error_value() {
    let mut m = machine(2, 1, 1, None);
    assert!(m.step(7).unwrap_err().contains("CPU 7 does not exist"));
    assert!(m.step_choice(Choice { cpu: 0, pick: 3, ..Choice::default() }).unwrap_err().contains("pick 3"));
    for (cpus, r, w, place) in [(0, 1, 1, None), (5, 1, 1, None), (2, 0, 0, None), (2, 4, 4, None), (2, 1, 1, Some(vec![0]))] {
        let sc = Scenario { cpus, readers: r, writers: w, placement: place, ..Scenario::default() };
        assert!(Run::new(&sc).is_err(), "{sc:?}");
    }
    let sc = Scenario { placement: Some(vec![0, 9]), ..Scenario::default() };
    assert!(Run::new(&sc).unwrap_err().contains("CPU 9"));
    assert!(parse_schedule("0 x").is_err());
    assert!(parse_schedule("0 1:y").is_err());
    let err = Run::replay(&Scenario::default(), &parse_schedule("0 0 0 0 0 0 0 0 0").unwrap()).unwrap_err();
    assert!(err.contains("entry 7") && err.contains("nothing to run"), "{err}");
}

#[test]
fn weak_memory_offers_stale_values_only_where_nothing_orders_them() {
    let sc = Scenario { variant: Variant::PlainAssign, memory: MemoryMode::Weak, ..Scenario::default() };
    let mut m = Run::new(&sc).unwrap();
    run(&mut m, &[0, 1, 1, 1, 1, 1, 1]); // R0 inside; W0 published v1 with a plain store
                                         // The dereference may see v1 or still v0.
    assert_eq!(m.snapshot().cpus[0].options, 2);
    m.step(0).unwrap(); // newest: v1
                        // v1->num: 2, 1 (memcpy) or kmalloc's garbage: nothing ordered the stores before the pointer.
    assert_eq!(m.snapshot().cpus[0].options, 3);
    let ev = m.step_choice(Choice { cpu: 0, pick: 2, ..Choice::default() }).unwrap();
    assert_eq!(ev.violations.len(), 1, "{ev:?}");

    let sc = Scenario { memory: MemoryMode::Weak, ..Scenario::default() };
    let mut m = Run::new(&sc).unwrap();
    run(&mut m, &[0, 1, 1, 1, 1, 1, 1, 0]); // same, but rcu_assign_pointer(): the release carries the entries
    assert_eq!(m.snapshot().cpus[0].options, 1, "rcu_dereference() of v1 sees all of v1's stores");
}

#[test]
fn the_snapshot_serialises_in_camel_case() {
    let mut m = machine(2, 1, 1, None);
    run(&mut m, &[0, 1]);
    let json = serde_json::to_string(&m.snapshot()).unwrap();
    for key in ["\"gracePeriods\"", "\"enabledCpus\"", "\"inReadSide\"", "\"lockHolder\"", "\"heldBy\"", "\"eventfdSignals\""] {
        assert!(json.contains(key), "{key} missing in {json}");
    }
}

#[test]
fn a_timer_interrupt_inside_a_read_side_section_is_not_a_quiescent_state() {
    let sc = Scenario { timers: 1, ..Scenario::default() }; // T0 fires on CPU0, where R0 runs
    let mut m = Run::new(&sc).unwrap();
    assert_eq!(m.timer_cpus(), vec![0]);
    run(&mut m, &[0]); // R0: rcu_read_lock()
    let ev = m.interrupt(0).unwrap();
    assert_eq!(ev.task, "T0");
    assert!(ev.text.contains("inside its read-side section"), "{}", ev.text);
    let s = m.snapshot();
    assert_eq!(s.cpus[0].in_irq.as_deref(), Some("T0"));
    assert!(s.cpus[0].in_read_side, "the interrupted reader is still inside");
    assert_eq!(s.irqs_pending, 1);
    assert!(m.timer_cpus().is_empty(), "it fires once");
    // W0 begins a grace period while the handler runs on top of R0: CPU0 is waited for.
    run(&mut m, &[1, 1, 1, 1, 1, 1, 1]);
    assert_eq!(m.snapshot().grace_periods[0].cpus[0].state, Qs::Waiting);
    // The handler finishes before R0 goes on; the tick notes no quiescent state.
    assert!(m.snapshot().cpus[0].next.starts_with("T0"));
    let ev = m.step(0).unwrap();
    assert!(ev.text.contains("no quiescent state"), "{}", ev.text);
    assert_eq!(m.snapshot().cpus[0].in_irq, None);
    assert!(!m.snapshot().grace_periods[0].done);
    assert_eq!(m.enabled_cpus(), vec![0]);
    while !m.is_finished() {
        let c = m.enabled_cpus()[0];
        m.step(c).unwrap();
    }
    assert!(m.violations().is_empty(), "{:?}", m.violations());
}

#[test]
fn a_timer_can_fire_on_an_idle_cpu_and_schedules_name_it() {
    let sc = Scenario { cpus: 2, readers: 1, writers: 0, timers: 2, ..Scenario::default() }; // T1 on idle CPU1
    let mut m = Run::new(&sc).unwrap();
    assert!(m.enabled_cpus() == vec![0] && m.timer_cpus() == vec![0, 1]);
    let ev = m.interrupt(1).unwrap();
    assert!(ev.text.contains("idle"), "{}", ev.text);
    let ev = m.step(1).unwrap();
    assert!(ev.text.contains("outside any read-side section"), "{}", ev.text);
    assert!(m.interrupt(1).unwrap_err().contains("no timer interrupt"));
    assert_eq!(parse_schedule("1i 0 0:2").unwrap()[0], Choice { cpu: 1, irq: true, ..Choice::default() });
    assert_eq!(lguest_sim::rcu::model::format_schedule(&parse_schedule("1i 0 0:2").unwrap()), "1i 0 0:2");
    assert!(parse_schedule("xi").is_err());
}

#[test]
fn a_seeded_random_run_replays_from_its_schedule_text() {
    let sc = Scenario { readers: 2, writers: 2, timers: 1, memory: MemoryMode::Weak, ..Scenario::default() };
    let mut a = Run::new(&sc).unwrap();
    let events = a.run_random(11, 1000);
    assert!(a.is_finished());
    assert_eq!(events.len(), a.schedule().len());
    assert_eq!(events.iter().map(|e| e.choice).collect::<Vec<_>>(), a.schedule());
    let mut b = Run::new(&sc).unwrap();
    b.run_random(11, 1000);
    assert_eq!(a.state(), b.state(), "same seed, same run");
    let c = Run::replay(&sc, &parse_schedule(&a.schedule_text()).unwrap()).unwrap();
    assert_eq!(c.state(), a.state());
    let mut short = Run::new(&sc).unwrap();
    assert_eq!(short.run_random(11, 3).len(), 3);
}

/// The RCU model's writer and the Host's `add_eventfd()` are two codings of one function: run alone, they
/// take the same kernel steps in the same order.
#[test]
fn the_models_writer_takes_the_hosts_add_eventfd_steps() {
    // The kernel steps, as a word each side's text names them by.
    const STEPS: [&str; 9] = ["mutex_lock", "kmalloc", "memcpy", "append", "num++", "rcu_assign_pointer", "synchronize_rcu", "kfree", "mutex_unlock"];
    let mut m = machine(1, 0, 1, None);
    let mut model = Vec::new();
    while !m.is_finished() {
        let ev = m.step(0).unwrap();
        model.push(format!("{} {}", ev.step, ev.text));
    }
    let r = lguest_sim::scenario::replay("open\nwrite INITIALIZE\neventfd\nwrite EVENTFD addr=0x7000 fd=4 => 0\n").unwrap();
    let from = r.kernel.log.iter().position(|e| e.func == "attach_eventfd" || e.text.contains("LHREQ_EVENTFD")).unwrap();
    let host: Vec<String> = r.kernel.log.iter().skip(from).map(|e| e.text.to_string()).collect();
    // Where each step is, searching on from the one before (an event may name two steps: the Host's
    // "append ...; num++").
    let order = |texts: &[String]| -> Vec<usize> {
        let mut at = 0;
        STEPS
            .iter()
            .map(|w| {
                let key = if *w == "append" { ["append", "map[num]"] } else { [*w, *w] };
                let i =
                    texts[at..].iter().position(|t| t.contains(key[0]) || t.contains(key[1])).unwrap_or_else(|| panic!("no {w} from step {at} in {texts:#?}"));
                at += i;
                at
            })
            .collect()
    };
    // Both find every step, in this order: the model one step each, the Host never going back.
    let (a, b) = (order(&model), order(&host));
    assert!(a.windows(2).all(|w| w[0] < w[1]) && b.windows(2).all(|w| w[0] <= w[1]), "{a:?} {b:?}");
}
