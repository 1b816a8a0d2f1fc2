//! Grace periods: `synchronize_rcu()` (called from `add_eventfd()`, L:055) begins one and sleeps until every
//! CPU has passed a quiescent state since; `note_quiescent()` is where CPUs report one; and the timer path
//! shows that an interrupt is not a quiescent state in itself. The timer path is one local timer interrupt
//! in which two hrtimers are due: the Guest's clockevent (`clockdev_fn()`, raising its irq 0) and the
//! scheduling-clock tick (`tick_sched_timer()` → `update_process_times()` → `rcu_check_callbacks()`). In
//! 2.6.39 these are separate hrtimers, and `hrtimer_interrupt()` runs both in one interrupt only when both
//! have expired; the model takes that case, since the tick is what RCU needs and the clockevent is what
//! the course follows. Part of the RCU tour ([`super`]): read after `reader.rs`.
//!
//! The two flavours ([`super::model::Flavour`]) differ in what counts. Preemptible RCU (TREE_PREEMPT_RCU,
//! `synchronize_rcu()` in kernel/rcutree_plugin.h) waits exactly for the CPUs that were inside a read-side
//! section when the grace period began, until each leaves it, switches tasks, or takes a tick outside any
//! section. Classic RCU (TREE_RCU without CONFIG_PREEMPT, where `synchronize_rcu()` is
//! `synchronize_sched()`, include/linux/rcupdate.h) cannot see read-side sections at all: it waits for every
//! CPU, and only a context switch, user mode or the idle loop is quiescent.

use super::memory::{join, MemoryMode, View};
use super::model::{Cx, Flavour, GracePeriod, Qs, Setup, State};

/// L:055 `synchronize_rcu()` begins a grace period: it notes which CPUs are inside a read-side section
/// (those it must wait for) and which are already quiescent. In weak memory it also publishes what the
/// updater has stored so far to every read-side section that begins from now on, and collects what the
/// quiescent CPUs have seen for the updater (the full barriers a grace period implies).
pub(super) fn begin(cx: &mut Cx) -> Result<String, String> {
    let classic = cx.setup.flavour == Flavour::Classic;
    let st = &mut *cx.st;
    let cpus: Vec<Qs> = (0..cx.setup.cpus)
        .map(|c| {
            let waits = if classic { !st.classic_quiescent(cx.setup, c) } else { st.in_read_side(c) };
            if waits {
                Qs::Waiting
            } else {
                Qs::NotReading
            }
        })
        .collect();
    let mut collected = View::new();
    if cx.setup.memory == MemoryMode::Weak {
        for (c, q) in cpus.iter().enumerate() {
            if *q == Qs::NotReading {
                join(&mut collected, &st.cpus[c].view);
            }
        }
        let wv = st.cpus[cx.cpu as usize].view.clone();
        join(&mut st.gp_view, &wv);
    }
    let waiting: Vec<String> = cpus
        .iter()
        .enumerate()
        .filter(|(_, q)| **q == Qs::Waiting)
        .map(|(c, _)| {
            let task = st.current_task(c as u8).map(|r| cx.setup.task_name(r)).unwrap_or("?");
            if classic {
                format!("CPU{c} ({task} runs in the kernel)")
            } else {
                format!("CPU{c} ({task} is inside rcu_read_lock())")
            }
        })
        .collect();
    let done = waiting.is_empty();
    st.gps.push(GracePeriod { by: cx.t, cpus, done, collected });
    st.tasks[cx.t as usize].gp = Some((st.gps.len() - 1) as u8);
    let who = cx.who;
    Ok(if done {
        format!("{who} begins a grace period: no CPU needs to pass a quiescent state, so it is already over")
    } else {
        format!("{who} begins a grace period; it must wait for {}", waiting.join(" and "))
    })
}

/// L:055 `synchronize_rcu()` returns (the model only lets the task take this step once its grace period
/// is over; until then it sleeps). The updater now sees what every waited-for section did.
pub(super) fn done(cx: &mut Cx) -> Result<String, String> {
    let who = cx.who;
    let g = cx.task().gp.take().ok_or_else(|| format!("{who} is not in synchronize_rcu()"))?;
    if cx.weak() {
        let coll = cx.st.gps.get(g as usize).map(|g| g.collected.clone()).unwrap_or_default();
        join(cx.view(), &coll);
    }
    Ok(format!("{who}'s synchronize_rcu() returns: every CPU has passed a quiescent state since it began"))
}

/// `cpu` is in a quiescent state (it left its outermost read-side section, switched tasks, or took a tick
/// outside any section): every grace period still waiting for it stops waiting. Returns a note for each
/// grace period that ended because of it.
pub(super) fn note_quiescent(setup: &Setup, st: &mut State, cpu: u8) -> Vec<String> {
    let mut ended = Vec::new();
    let view = st.cpus[cpu as usize].view.clone();
    for g in st.gps.iter_mut().filter(|g| !g.done) {
        if g.cpus.get(cpu as usize) == Some(&Qs::Waiting) {
            g.cpus[cpu as usize] = Qs::Unlocked;
            if setup.memory == MemoryMode::Weak {
                join(&mut g.collected, &view);
            }
            if !g.cpus.contains(&Qs::Waiting) {
                g.done = true;
                ended.push(format!("the grace period of {}'s synchronize_rcu() is over", setup.task_name(g.by)));
            }
        }
    }
    ended
}

/// The hrtimer of the Guest's clockevent fires: `clockdev_fn()` calls `set_interrupt(cpu, 0)`, raising the
/// Guest's timer irq. It runs in interrupt context (the timer interrupt's `hrtimer_interrupt()`) on top of
/// whatever this CPU was running, which stays exactly where it was, inside a read-side section or not.
pub(super) fn clockdev_fn(cx: &mut Cx) -> Result<String, String> {
    cx.st.irqs_pending |= 1;
    let (st, cpu) = (&*cx.st, cx.cpu);
    let under = match st.current_task(cpu) {
        Some(r) if st.in_read_side(cpu) => {
            format!(" It interrupts {} inside its read-side section, which goes on", cx.setup.task_name(r))
        }
        Some(r) if !st.is_done(cx.setup, r) => format!(" It interrupts {}", cx.setup.task_name(r)),
        _ => format!(" CPU{cpu} was idle"),
    };
    Ok(format!("{}: the Guest's clockevent fires on CPU{cpu}; clockdev_fn() sets irq 0 in irqs_pending.{under}", cx.who))
}

/// The scheduling-clock tick, a second hrtimer due in the same interrupt (`tick_sched_timer()` →
/// `update_process_times()`): `rcu_check_callbacks()` looks at what was interrupted. For
/// preemptible RCU a tick inside a read-side section notes nothing and one outside is quiescent; for classic
/// RCU only a tick that interrupted user mode or the idle loop is, and one in the kernel never (inside a
/// section or not: classic RCU cannot tell). Then the handler returns.
pub(super) fn rcu_check_callbacks(cx: &mut Cx) -> Result<String, String> {
    let cpu = cx.cpu;
    cx.st.cpus[cpu as usize].irq = None;
    let who = cx.who;
    if cx.setup.flavour == Flavour::Classic {
        if !cx.st.classic_quiescent(cx.setup, cpu) {
            let r = cx.st.current_task(cpu).map(|r| cx.setup.task_name(r)).unwrap_or("?");
            return Ok(format!("{who}: the tick finds CPU{cpu} running {r} in the kernel: for classic RCU that is no quiescent state, whatever {r} is doing"));
        }
        let mut s = format!("{who}: the tick finds CPU{cpu} idle or in user mode: a quiescent state");
        for note in note_quiescent(cx.setup, cx.st, cpu) {
            s.push_str("; ");
            s.push_str(&note);
        }
        return Ok(s);
    }
    if cx.st.in_read_side(cpu) {
        let r = cx.st.current_task(cpu).map(|r| cx.setup.task_name(r)).unwrap_or("?");
        return Ok(format!("{who}: the tick finds CPU{cpu} inside {r}'s read-side section: no quiescent state; an interrupt never ends one"));
    }
    let mut s = format!("{who}: the tick finds CPU{cpu} outside any read-side section: a quiescent state");
    for note in note_quiescent(cx.setup, cx.st, cpu) {
        s.push_str("; ");
        s.push_str(&note);
    }
    Ok(s)
}
