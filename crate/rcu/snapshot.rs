//! What the UI renders of an RCU run: one lane per CPU, each task with its program and where it is, every
//! array version with its life and who holds it, the grace periods and the CPUs they still wait for, and
//! the violations found. Part of the RCU tour ([`super`]); plain serde structs, camelCase for JavaScript.

use serde::Serialize;

use super::checks::Violation;
use super::memory::{Loc, MemoryMode, Val};
use super::model::{Action, Choice, Life, Qs, Role, Setup, State};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RcuSnapshot {
    /// Steps taken so far.
    pub step: usize,
    pub memory: MemoryMode,
    pub variant: String,
    pub cpus: Vec<CpuSnap>,
    pub tasks: Vec<TaskSnap>,
    pub versions: Vec<VersionSnap>,
    /// The newest value of `lg->eventfds` (`v1`).
    pub eventfds: String,
    pub lock_holder: Option<String>,
    pub grace_periods: Vec<GpSnap>,
    pub enabled_cpus: Vec<u8>,
    pub choices: Vec<Choice>,
    pub finished: bool,
    pub violations: Vec<Violation>,
    /// Signals each eventfd context received (`ctx0`, `ctx1`, ...).
    pub eventfd_signals: Vec<u8>,
    /// The Guest's `irqs_pending` bitmap (the timers raise bit 0).
    pub irqs_pending: u32,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuSnap {
    pub id: u8,
    pub running: Option<String>,
    pub tasks: Vec<String>,
    pub in_read_side: bool,
    /// The timer whose interrupt handler is running on top of `running`, if any.
    pub in_irq: Option<String>,
    /// A timer interrupt could arrive here now (the choice `{cpu, irq: true}`).
    pub timer_pending: bool,
    /// What stepping this CPU would do next, in words.
    pub next: String,
    /// How many values its next load could return (0 = nothing to run).
    pub options: u8,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSnap {
    pub name: String,
    pub role: Role,
    pub cpu: u8,
    /// The task's steps, and which one is next.
    pub program: Vec<String>,
    pub pc: u8,
    pub done: bool,
    pub blocked: Option<String>,
    pub in_read_side: bool,
    /// The version this reader holds (from its dereference until it finishes).
    pub holds: Option<u8>,
    pub pending_notify: u32,
    pub signalled: Option<u8>,
    /// Litmus registers.
    pub regs: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSnap {
    pub id: u8,
    pub life: Life,
    pub made_by: Option<String>,
    pub capacity: u8,
    /// The newest values stored (weak mode: some CPUs may still see older ones, listed in `history`).
    pub num: String,
    pub entries: Vec<EntrySnap>,
    pub held_by: Vec<String>,
    /// Weak mode: every field with more than one value in its history, oldest first.
    pub history: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntrySnap {
    pub addr: String,
    pub event: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GpSnap {
    /// The task whose `synchronize_rcu()` began it.
    pub by: String,
    pub done: bool,
    pub cpus: Vec<GpCpuSnap>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GpCpuSnap {
    pub cpu: u8,
    pub state: Qs,
    pub quiescent: bool,
    pub why: String,
}

fn show(v: Option<Val>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// Build the snapshot of `state`.
pub fn snapshot(setup: &Setup, st: &State, step: usize, violations: Vec<Violation>) -> RcuSnapshot {
    let name = |t: u8| setup.task_name(t).to_string();
    let holds = |t: u8| -> Option<u8> {
        if st.is_done(setup, t) {
            None
        } else {
            st.tasks.get(t as usize)?.map
        }
    };
    let cpus = (0..setup.cpus)
        .map(|c| {
            let next = match st.action(setup, c) {
                Action::Run(t) => {
                    let pc = st.tasks[t as usize].pc as usize;
                    let op = setup.tasks[t as usize].program.get(pc).map(|o| o.label()).unwrap_or_default();
                    format!("{}: {op}", name(t))
                }
                Action::Switch(t) => format!("context switch to {}", name(t)),
                Action::Idle => match st.current_task(c).and_then(|t| st.blocked(setup, t).map(|b| (t, b))) {
                    Some((t, why)) => format!("{} is {why}", name(t)),
                    None => "idle".into(),
                },
            };
            CpuSnap {
                id: c,
                running: st.current_task(c).map(name),
                tasks: st.cpus[c as usize].tasks.iter().map(|&t| name(t)).collect(),
                in_read_side: st.in_read_side(c),
                in_irq: st.cpus[c as usize].irq.map(name),
                timer_pending: st.pending_timer(setup, c).is_some(),
                next,
                options: st.options(setup, c),
            }
        })
        .collect();
    let tasks = setup
        .tasks
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let t = &st.tasks[i];
            TaskSnap {
                name: spec.name.clone(),
                role: spec.role,
                cpu: spec.cpu,
                program: spec.program.iter().map(|o| o.label()).collect(),
                pc: t.pc,
                done: st.is_done(setup, i as u8),
                blocked: st.blocked(setup, i as u8),
                in_read_side: t.nesting > 0,
                holds: holds(i as u8),
                pending_notify: t.notify,
                signalled: t.signalled,
                regs: if spec.role == Role::Litmus { t.regs.iter().map(|r| r.to_string()).collect() } else { Vec::new() },
            }
        })
        .collect();
    let versions = st
        .versions
        .iter()
        .enumerate()
        .map(|(v, ver)| {
            let v = v as u8;
            let entries =
                (0..ver.cap).map(|i| EntrySnap { addr: show(st.mem.newest(Loc::Addr(v, i))), event: show(st.mem.newest(Loc::Event(v, i))) }).collect();
            let mut history = Vec::new();
            if setup.memory == MemoryMode::Weak {
                let mut locs = vec![Loc::Num(v)];
                for i in 0..ver.cap {
                    locs.push(Loc::Addr(v, i));
                    locs.push(Loc::Event(v, i));
                }
                for loc in locs {
                    let h = st.mem.history(loc);
                    if h.len() > 1 {
                        let vals: Vec<String> = h.iter().map(|x| x.to_string()).collect();
                        history.push(format!("{loc}: {}", vals.join(" → ")));
                    }
                }
            }
            VersionSnap {
                id: v,
                life: ver.life,
                made_by: ver.by.map(name),
                capacity: ver.cap,
                num: show(st.mem.newest(Loc::Num(v))),
                entries,
                held_by: (0..st.tasks.len() as u8).filter(|&t| holds(t) == Some(v)).map(name).collect(),
                history,
            }
        })
        .collect();
    let grace_periods = st
        .gps
        .iter()
        .map(|g| GpSnap {
            by: name(g.by),
            done: g.done,
            cpus: g
                .cpus
                .iter()
                .enumerate()
                .map(|(c, q)| {
                    let c = c as u8;
                    let classic = setup.flavour == crate::rcu::Flavour::Classic;
                    let why = match q {
                        Qs::Waiting if classic => {
                            let r = st.current_task(c);
                            format!(
                                "{} runs in the kernel: classic RCU waits until this CPU switches tasks, goes to user mode or idles",
                                r.map(name).unwrap_or_default()
                            )
                        }
                        Qs::Waiting => {
                            let r = st.current_task(c);
                            let held = r.and_then(holds).map(|v| format!(", holding v{v}")).unwrap_or_default();
                            format!("{} entered rcu_read_lock() before the grace period began and is still inside{held}", r.map(name).unwrap_or_default())
                        }
                        Qs::NotReading if classic => "idle, or its task asleep or back in user space, when the grace period began".into(),
                        Qs::NotReading => "not in a read-side critical section when the grace period began".into(),
                        Qs::Unlocked if classic => "has passed a quiescent state since (a context switch, user mode or idle)".into(),
                        Qs::Unlocked => "has passed a quiescent state since (rcu_read_unlock(), a context switch, or a tick outside any section)".into(),
                    };
                    GpCpuSnap { cpu: c, state: *q, quiescent: *q != Qs::Waiting, why }
                })
                .collect(),
        })
        .collect();
    let choices = st.choices(setup);
    RcuSnapshot {
        step,
        memory: setup.memory,
        variant: setup.variant.name().to_string(),
        cpus,
        tasks,
        versions,
        eventfds: show(st.mem.newest(Loc::Eventfds)),
        lock_holder: st.lock.map(name),
        grace_periods,
        enabled_cpus: (0..setup.cpus).filter(|&c| st.options(setup, c) > 0 || st.pending_timer(setup, c).is_some()).collect(),
        finished: choices.is_empty(),
        choices,
        violations,
        eventfd_signals: st.ctx_signals.clone(),
        irqs_pending: st.irqs_pending,
    }
}
