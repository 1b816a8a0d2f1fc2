//! The machine the RCU lessons run on: simulated CPUs, the tasks placed on them, the shared pointer
//! `lg->eventfds`, the arena of array versions, `lguest_lock`, and the grace periods `synchronize_rcu()`
//! starts. Part of the RCU tour ([`super`]): read after `programs.rs`; `machine.rs` wraps it for the UI and
//! `explore.rs` enumerates its schedules.
//!
//! The RCU here is *classic*, non-preemptible RCU, as a 2.6.3x host built without `CONFIG_PREEMPT` had:
//! a read-side critical section cannot sleep, so a CPU that is not inside one, or that context-switches,
//! is in a quiescent state. A grace period begun by `synchronize_rcu()` therefore waits exactly for the
//! CPUs that were inside a read-side section when it began, until each leaves it. A task runs on its CPU
//! until it finishes or sleeps (in `mutex_lock()` or in `synchronize_rcu()`); only then does the CPU switch
//! to another task placed on it.
//!
//! [`Setup`] is what never changes during a run (the programs, the memory mode); [`State`] is everything
//! that does, and is small, comparable and hashable so the explorer can recognise states it has seen.

use std::fmt;

use serde::Serialize;

use super::checks::{Check, Checks, Violation};
use super::memory::{join, CtxId, LoadKind, Loc, Memory, MemoryMode, Val, VersionId, View};
use super::programs::{reader_program, writer_program, Op, Variant};

/// Simulated CPUs a scenario may ask for.
pub const MAX_CPUS: u8 = 4;
/// Tasks a scenario may place (readers + writers, or litmus threads).
pub const MAX_TASKS: usize = 6;
/// Entries the initial map (the one `initialize()` left, plus boot-time attaches) may hold.
pub const MAX_INITIAL_ENTRIES: u8 = 3;
/// The notify address of entry `k`: one page per virtqueue ring, as the Launcher lays them out.
pub fn entry_addr(k: u8) -> u32 {
    0x7000 + 0x1000 * k as u32
}

/// One scheduling decision: run CPU `cpu`; if its next load may return several values (weak memory),
/// `pick` says which, 0 being the newest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Choice {
    pub cpu: u8,
    pub pick: u8,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pick == 0 {
            write!(f, "{}", self.cpu)
        } else {
            write!(f, "{}:{}", self.cpu, self.pick)
        }
    }
}

impl Choice {
    /// Parse `"1"` or `"1:2"` (CPU 1, the third-newest value).
    pub fn parse(s: &str) -> Result<Choice, String> {
        let (c, p) = match s.split_once(':') {
            Some((c, p)) => (c, p),
            None => (s, "0"),
        };
        let cpu = c.trim().parse::<u8>().map_err(|_| format!("bad schedule entry '{s}': expected CPU[:PICK]"))?;
        let pick = p.trim().parse::<u8>().map_err(|_| format!("bad schedule entry '{s}': expected CPU[:PICK]"))?;
        Ok(Choice { cpu, pick })
    }
}

/// Format a schedule the way [`parse_schedule`] reads it: `"0 0 1 1:1 0"`.
pub fn format_schedule(s: &[Choice]) -> String {
    s.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")
}

/// Parse a schedule: CPU choices separated by spaces or commas.
pub fn parse_schedule(s: &str) -> Result<Vec<Choice>, String> {
    s.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()).map(Choice::parse).collect()
}

/// What a task is, for the UI's lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// The Launcher's main thread in `run_guest()`, handing a Guest notify to `send_notify_to_eventfd()`.
    Reader,
    /// A Launcher device thread writing `LHREQ_EVENTFD`: `attach_eventfd()` → `add_eventfd()`.
    Writer,
    /// A thread of a litmus test.
    Litmus,
}

/// A task as the scenario placed it.
#[derive(Clone, Debug)]
pub struct TaskSpec {
    pub name: String,
    pub role: Role,
    pub cpu: u8,
    pub program: Vec<Op>,
    /// Reader: the Guest's `pending_notify`.
    pub notify: u32,
    /// Writer: the address and eventfd it attaches.
    pub addr: u32,
    pub ctx: CtxId,
}

/// What a student chooses for an RCU lesson: CPUs, tasks, the variant and the memory mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub cpus: u8,
    pub readers: u8,
    pub writers: u8,
    pub variant: Variant,
    pub memory: MemoryMode,
    /// The CPU of each task, readers first, then writers; `None` places task `i` on CPU `i % cpus`.
    pub placement: Option<Vec<u8>>,
    /// Entries in the map before any writer runs.
    pub initial_entries: u8,
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario {
            cpus: 2,
            readers: 1,
            writers: 1,
            variant: Variant::Correct,
            memory: MemoryMode::Sc,
            placement: None,
            initial_entries: 1,
        }
    }
}

/// Everything about a run that never changes.
#[derive(Clone, Debug)]
pub struct Setup {
    pub cpus: u8,
    pub memory: MemoryMode,
    pub variant: Variant,
    pub tasks: Vec<TaskSpec>,
    /// Addresses of the initial map's entries (entry `k` has `ctx{k}`).
    pub initial: Vec<u32>,
    /// Litmus variables and their initial values.
    pub vars: Vec<(u8, Val)>,
}

impl Setup {
    /// The eventfd-map lesson: readers doing `send_notify_to_eventfd()`, writers doing `attach_eventfd()`.
    pub fn lguest(sc: &Scenario) -> Result<Setup, String> {
        if sc.cpus == 0 || sc.cpus > MAX_CPUS {
            return Err(format!("--cpus {}: the simulation has 1 to {MAX_CPUS} CPUs", sc.cpus));
        }
        let ntasks = sc.readers as usize + sc.writers as usize;
        if ntasks == 0 {
            return Err("a scenario needs at least one reader or writer".into());
        }
        if ntasks > MAX_TASKS {
            return Err(format!("{ntasks} tasks: at most {MAX_TASKS} readers and writers together"));
        }
        if sc.initial_entries > MAX_INITIAL_ENTRIES {
            return Err(format!("{} initial entries: at most {MAX_INITIAL_ENTRIES}", sc.initial_entries));
        }
        let placement: Vec<u8> = match &sc.placement {
            Some(p) => {
                if p.len() != ntasks {
                    return Err(format!(
                        "--place lists {} CPUs but there are {ntasks} tasks (readers first, then writers)",
                        p.len()
                    ));
                }
                if let Some(bad) = p.iter().find(|&&c| c >= sc.cpus) {
                    return Err(format!("--place puts a task on CPU {bad}, but CPUs are 0..{}", sc.cpus - 1));
                }
                p.clone()
            }
            None => (0..ntasks).map(|i| (i % sc.cpus as usize) as u8).collect(),
        };
        let init = sc.initial_entries;
        let mut tasks = Vec::new();
        for r in 0..sc.readers {
            let notify = if sc.writers > 0 { entry_addr(init + r % sc.writers) } else { entry_addr(0) };
            tasks.push(TaskSpec {
                name: format!("R{r}"),
                role: Role::Reader,
                cpu: placement[r as usize],
                program: reader_program(sc.variant),
                notify,
                addr: 0,
                ctx: 0,
            });
        }
        for w in 0..sc.writers {
            tasks.push(TaskSpec {
                name: format!("W{w}"),
                role: Role::Writer,
                cpu: placement[(sc.readers + w) as usize],
                program: writer_program(sc.variant),
                notify: 0,
                addr: entry_addr(init + w),
                ctx: init + w,
            });
        }
        Ok(Setup {
            cpus: sc.cpus,
            memory: sc.memory,
            variant: sc.variant,
            tasks,
            initial: (0..init).map(entry_addr).collect(),
            vars: Vec::new(),
        })
    }

    /// A litmus test: `threads` are (CPU, program); `vars` the variables and their initial values.
    pub fn litmus(cpus: u8, memory: MemoryMode, vars: &[(u8, Val)], threads: Vec<(u8, Vec<Op>)>) -> Result<Setup, String> {
        if cpus == 0 || cpus > MAX_CPUS {
            return Err(format!("{cpus} CPUs: the simulation has 1 to {MAX_CPUS}"));
        }
        if threads.is_empty() || threads.len() > MAX_TASKS {
            return Err(format!("{} threads: a litmus test has 1 to {MAX_TASKS}", threads.len()));
        }
        let mut tasks = Vec::new();
        for (i, (cpu, program)) in threads.into_iter().enumerate() {
            if cpu >= cpus {
                return Err(format!("thread P{i} placed on CPU {cpu}, but CPUs are 0..{}", cpus - 1));
            }
            tasks.push(TaskSpec { name: format!("P{i}"), role: Role::Litmus, cpu, program, notify: 0, addr: 0, ctx: 0 });
        }
        Ok(Setup { cpus, memory, variant: Variant::Correct, tasks, initial: Vec::new(), vars: vars.to_vec() })
    }

    pub fn task_name(&self, t: u8) -> &str {
        self.tasks.get(t as usize).map(|s| s.name.as_str()).unwrap_or("?")
    }

    fn op(&self, t: u8, pc: u8) -> Option<Op> {
        self.tasks.get(t as usize).and_then(|s| s.program.get(pc as usize)).copied()
    }
}

/// One simulated CPU.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CpuState {
    /// The tasks placed on this CPU, in the order they were placed.
    pub tasks: Vec<u8>,
    /// Which of them is running (an index into `tasks`).
    pub current: u8,
    /// What this CPU can see of memory (weak mode only; empty under sc).
    pub view: View,
}

/// A task's registers and program counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Task {
    pub pc: u8,
    /// `rcu_read_lock()` nesting depth: > 0 means inside a read-side critical section.
    pub nesting: u8,
    /// Writer: `old` and `new` in `add_eventfd()`; `n` the copied `num`.
    pub old: Option<VersionId>,
    pub new: Option<VersionId>,
    /// Reader: `map` in `send_notify_to_eventfd()`, the loop bound `n` and index `i`.
    pub map: Option<VersionId>,
    pub n: u32,
    pub i: u32,
    /// Reader: `cpu->pending_notify`.
    pub notify: u32,
    /// The grace period this task's `synchronize_rcu()` is waiting for.
    pub gp: Option<u8>,
    /// Reader: the eventfd it signalled, if any.
    pub signalled: Option<CtxId>,
    /// Litmus registers r0..r3.
    pub regs: [Val; 4],
}

/// The life of an array version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Life {
    /// `kmalloc()`ed, being filled in; only its writer knows it.
    Building,
    /// `lg->eventfds` points at it: new readers find it.
    Published,
    /// Replaced by a newer version; waiting for a grace period before it may be freed.
    Retired,
    /// `kfree()`d: touching it is a use-after-free.
    Freed,
}

/// One `struct lg_eventfd_map` the writers made.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    /// Entries allocated (`old->num + 1`).
    pub cap: u8,
    pub life: Life,
    /// The writer that made it (`None` for the initial map).
    pub by: Option<u8>,
}

/// Where one CPU stands in a grace period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Qs {
    /// Inside a read-side section that began before the grace period: the grace period waits for it.
    Waiting,
    /// Not inside a read-side section when the grace period began: quiescent from the start.
    NotReading,
    /// Left its read-side section (`rcu_read_unlock()`) since the grace period began.
    Unlocked,
}

/// One grace period, begun by one `synchronize_rcu()` call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GracePeriod {
    /// The task whose `synchronize_rcu()` began it.
    pub by: u8,
    /// Per CPU: quiescent yet, and why.
    pub cpus: Vec<Qs>,
    pub done: bool,
    /// Weak mode: what the quiescent CPUs had seen, handed to the updater when `synchronize_rcu()` returns.
    pub collected: View,
}

/// Everything that changes during a run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub cpus: Vec<CpuState>,
    pub tasks: Vec<Task>,
    pub mem: Memory,
    pub versions: Vec<Version>,
    /// References taken on each eventfd context (`eventfd_ctx_fdget()`), and signals it received.
    pub ctx_refs: Vec<u8>,
    pub ctx_signals: Vec<u8>,
    /// `lguest_lock`: the holder, and (weak mode) what it saw when it unlocked.
    pub lock: Option<u8>,
    pub lock_view: View,
    pub gps: Vec<GracePeriod>,
    /// Weak mode: every updater's view when its grace period began. A read-side section that begins later
    /// sees at least this (the other half of the grace-period guarantee).
    pub gp_view: View,
    /// The checks that have fired so far in this run.
    pub seen: Checks,
}

/// What one step did, for the UI's log, the CLI and the tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub cpu: u8,
    /// The task that ran (`R0`, `W1`, `P0`).
    pub task: String,
    /// The kernel function the step belongs to.
    pub function: String,
    /// The journey tag of the lguest comment that explains it.
    pub tag: String,
    /// The statement executed (or "context switch").
    pub step: String,
    /// What happened, in a sentence.
    pub text: String,
    pub violations: Vec<Violation>,
}

/// What a CPU would do if stepped now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the next step of its current task.
    Run(u8),
    /// Its current task is asleep or finished: switch to this other task placed on it.
    Switch(u8),
    /// Nothing to do.
    Idle,
}

impl State {
    /// The machine before anything runs: the initial map `v0` published, every task at its first step.
    pub fn initial(setup: &Setup) -> State {
        let mut mem = Memory::default();
        let n0 = setup.initial.len() as u8;
        mem.alloc(Loc::Num(0), Val::Int(n0 as u32));
        for (k, &addr) in setup.initial.iter().enumerate() {
            mem.alloc(Loc::Addr(0, k as u8), Val::Int(addr));
            mem.alloc(Loc::Event(0, k as u8), Val::Ctx(k as u8));
        }
        mem.alloc(Loc::Eventfds, Val::Version(0));
        for &(var, val) in &setup.vars {
            mem.alloc(Loc::Var(var), val);
        }
        let nctx = setup.tasks.iter().map(|t| t.ctx as usize + 1).max().unwrap_or(0).max(n0 as usize);
        let mut ctx_refs = vec![0u8; nctx];
        for r in ctx_refs.iter_mut().take(n0 as usize) {
            *r = 1;
        }
        let cpus = (0..setup.cpus)
            .map(|c| CpuState {
                tasks: setup.tasks.iter().enumerate().filter(|(_, t)| t.cpu == c).map(|(i, _)| i as u8).collect(),
                current: 0,
                view: View::new(),
            })
            .collect();
        let tasks = setup
            .tasks
            .iter()
            .map(|t| Task {
                pc: 0,
                nesting: 0,
                old: None,
                new: None,
                map: None,
                n: 0,
                i: 0,
                notify: t.notify,
                gp: None,
                signalled: None,
                regs: [Val::Int(0); 4],
            })
            .collect();
        State {
            cpus,
            tasks,
            mem,
            versions: vec![Version { cap: n0, life: Life::Published, by: None }],
            ctx_signals: vec![0; nctx],
            ctx_refs,
            lock: None,
            lock_view: View::new(),
            gps: Vec::new(),
            gp_view: View::new(),
            seen: Checks::default(),
        }
    }

    /// The task running on `cpu`, if any.
    pub fn current_task(&self, cpu: u8) -> Option<u8> {
        let c = self.cpus.get(cpu as usize)?;
        c.tasks.get(c.current as usize).copied()
    }

    /// Whether the task running on `cpu` is inside a read-side critical section.
    pub fn in_read_side(&self, cpu: u8) -> bool {
        self.current_task(cpu).and_then(|t| self.tasks.get(t as usize)).is_some_and(|t| t.nesting > 0)
    }

    pub fn is_done(&self, setup: &Setup, t: u8) -> bool {
        match (self.tasks.get(t as usize), setup.tasks.get(t as usize)) {
            (Some(task), Some(spec)) => task.pc as usize >= spec.program.len(),
            _ => true,
        }
    }

    /// Why task `t` cannot run its next step now, or `None` if it can (or is finished).
    pub fn blocked(&self, setup: &Setup, t: u8) -> Option<String> {
        let task = self.tasks.get(t as usize)?;
        match setup.op(t, task.pc)? {
            Op::MutexLock => self.lock.map(|h| format!("sleeping in mutex_lock(): {} holds lguest_lock", setup.task_name(h))),
            Op::SyncDone => {
                let g = self.gps.get(task.gp? as usize)?;
                if g.done {
                    None
                } else {
                    let waiting: Vec<String> = g
                        .cpus
                        .iter()
                        .enumerate()
                        .filter(|(_, q)| **q == Qs::Waiting)
                        .map(|(c, _)| format!("CPU{c}"))
                        .collect();
                    Some(format!("sleeping in synchronize_rcu(): the grace period waits for {}", waiting.join(", ")))
                }
            }
            _ => None,
        }
    }

    fn runnable(&self, setup: &Setup, t: u8) -> bool {
        !self.is_done(setup, t) && self.blocked(setup, t).is_none()
    }

    /// What stepping `cpu` would do.
    pub fn action(&self, setup: &Setup, cpu: u8) -> Action {
        let Some(c) = self.cpus.get(cpu as usize) else { return Action::Idle };
        if let Some(t) = self.current_task(cpu) {
            if self.runnable(setup, t) {
                return Action::Run(t);
            }
        }
        // The current task sleeps or has finished: the scheduler picks the next runnable task placed here.
        let n = c.tasks.len();
        for k in 1..=n {
            let t = c.tasks[(c.current as usize + k) % n];
            if self.runnable(setup, t) {
                return Action::Switch(t);
            }
        }
        Action::Idle
    }

    /// The location the next step of task `t` loads with a choice of values, if any.
    fn choice_loc(&self, setup: &Setup, t: u8) -> Option<Loc> {
        let task = self.tasks.get(t as usize)?;
        match setup.op(t, task.pc)? {
            Op::Dereference { .. } => Some(Loc::Eventfds),
            Op::ReadNum => task.map.map(Loc::Num),
            Op::Compare { .. } if task.i < task.n => task.map.map(|v| Loc::Addr(v, task.i as u8)),
            Op::Signal => task.map.map(|v| Loc::Event(v, task.i as u8)),
            Op::Load { var, .. } => Some(Loc::Var(var)),
            Op::LoadThrough { ptr_reg, .. } => match task.regs.get(ptr_reg as usize) {
                Some(Val::Ptr(x)) => Some(Loc::Var(*x)),
                _ => None,
            },
            _ => None,
        }
    }

    /// How many values stepping `cpu` could load (1 unless weak memory offers older ones).
    pub fn options(&self, setup: &Setup, cpu: u8) -> u8 {
        match self.action(setup, cpu) {
            Action::Run(t) => {
                let Some(loc) = self.choice_loc(setup, t) else { return 1 };
                let view = &self.cpus[cpu as usize].view;
                self.mem.candidates(setup.memory, loc, view).len().clamp(1, u8::MAX as usize) as u8
            }
            Action::Switch(_) => 1,
            Action::Idle => 0,
        }
    }

    /// Every choice the scheduler has now, CPU by CPU.
    pub fn choices(&self, setup: &Setup) -> Vec<Choice> {
        let mut out = Vec::new();
        for cpu in 0..setup.cpus {
            for pick in 0..self.options(setup, cpu) {
                out.push(Choice { cpu, pick });
            }
        }
        out
    }

    /// The checks that fire only at the end of a schedule (nothing left to run).
    pub fn final_checks(&self, setup: &Setup) -> Vec<Violation> {
        let mut out = Vec::new();
        let stuck: Vec<&str> =
            (0..self.tasks.len() as u8).filter(|&t| !self.is_done(setup, t)).map(|t| setup.task_name(t)).collect();
        if !stuck.is_empty() {
            out.push(Violation {
                check: Check::Deadlock,
                text: format!("{} can never run again, yet has not finished", stuck.join(", ")),
            });
            return out;
        }
        let writers: Vec<&TaskSpec> = setup.tasks.iter().filter(|t| t.role == Role::Writer).collect();
        if writers.is_empty() {
            return out;
        }
        let Some(Val::Version(cur)) = self.mem.newest(Loc::Eventfds) else { return out };
        let num = match self.mem.newest(Loc::Num(cur)) {
            Some(Val::Int(n)) => n as u8,
            _ => 0,
        };
        let entries: Vec<(Option<Val>, Option<Val>)> =
            (0..num).map(|i| (self.mem.newest(Loc::Addr(cur, i)), self.mem.newest(Loc::Event(cur, i)))).collect();
        for w in &writers {
            if !entries.iter().any(|(a, _)| *a == Some(Val::Int(w.addr))) {
                out.push(Violation {
                    check: Check::LostUpdate,
                    text: format!("{}'s entry for {:#x} is missing from the final map v{cur}", w.name, w.addr),
                });
            }
        }
        for (v, ver) in self.versions.iter().enumerate() {
            if v as u8 != cur && ver.life != Life::Freed {
                out.push(Violation {
                    check: Check::Leak,
                    text: format!("v{v} is neither the current map nor freed: nothing will ever kfree() it"),
                });
            }
        }
        for (c, &refs) in self.ctx_refs.iter().enumerate() {
            if refs > 0 && !entries.iter().any(|(_, e)| *e == Some(Val::Ctx(c as u8))) {
                out.push(Violation {
                    check: Check::Leak,
                    text: format!("ctx{c}'s reference is in no map: close() will never eventfd_ctx_put() it"),
                });
            }
        }
        out
    }
}

/// Record a violation in the state and in the step's event.
fn violate(st: &mut State, out: &mut Vec<Violation>, check: Check, text: String) {
    st.seen.insert(check);
    out.push(Violation { check, text });
}

/// A task is about to load from version `v`: flag it if `v` was freed.
fn touch(st: &mut State, out: &mut Vec<Violation>, who: &str, v: VersionId, what: &str) {
    if st.versions.get(v as usize).is_some_and(|ver| ver.life == Life::Freed) {
        violate(st, out, Check::UseAfterFree, format!("{who} reads {what} of v{v} after kfree(v{v})"));
    }
}

/// `cpu` is in a quiescent state: every grace period still waiting for it stops waiting. Returns a note
/// for each grace period that ended because of it.
fn note_quiescent(setup: &Setup, st: &mut State, cpu: u8) -> Vec<String> {
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

/// Take one scheduling decision. Every error names what was wrong; none changes the state.
pub fn step(setup: &Setup, st: &mut State, choice: Choice) -> Result<Event, String> {
    let cpu = choice.cpu;
    if cpu >= setup.cpus {
        return Err(format!("CPU {cpu} does not exist: this scenario has CPUs 0..{}", setup.cpus - 1));
    }
    let options = st.options(setup, cpu);
    if options == 0 {
        return Err(format!("CPU {cpu} has nothing to run: every task on it is finished or asleep"));
    }
    if choice.pick >= options {
        return Err(format!("CPU {cpu}: pick {} but only {options} value(s) can be loaded", choice.pick));
    }
    match st.action(setup, cpu) {
        Action::Idle => Err(format!("CPU {cpu} has nothing to run")),
        Action::Switch(t) => {
            let prev = match st.current_task(cpu) {
                Some(p) if st.is_done(setup, p) => format!("{} has finished", setup.task_name(p)),
                Some(p) => format!("{} is asleep", setup.task_name(p)),
                None => "nothing runs".to_string(),
            };
            let c = &mut st.cpus[cpu as usize];
            c.current = c.tasks.iter().position(|&x| x == t).unwrap_or(0) as u8;
            let mut text = format!(
                "{prev}, so CPU{cpu} switches to {}: a context switch is a quiescent state",
                setup.task_name(t)
            );
            for note in note_quiescent(setup, st, cpu) {
                text.push_str("; ");
                text.push_str(&note);
            }
            Ok(Event {
                cpu,
                task: setup.task_name(t).to_string(),
                function: "schedule".into(),
                tag: String::new(),
                step: "context switch".into(),
                text,
                violations: Vec::new(),
            })
        }
        Action::Run(t) => {
            let mut scratch = st.clone();
            let ev = run_op(setup, &mut scratch, cpu, t, choice.pick)?;
            *st = scratch;
            Ok(ev)
        }
    }
}

/// Load for task `t` on `cpu`, recording the uninitialised-read check.
fn load(
    setup: &Setup,
    st: &mut State,
    out: &mut Vec<Violation>,
    cpu: u8,
    loc: Loc,
    pick: u8,
    kind: LoadKind,
) -> Result<Val, String> {
    let who = setup.task_name(st.current_task(cpu).unwrap_or(0)).to_string();
    let val = st.mem.load(setup.memory, loc, pick, kind, &mut st.cpus[cpu as usize].view)?;
    if val == Val::Uninit {
        violate(st, out, Check::UninitialisedRead, format!("{who} reads {loc} before its store is visible: garbage"));
    }
    Ok(val)
}

fn store(setup: &Setup, st: &mut State, cpu: u8, loc: Loc, val: Val, release: bool) {
    st.mem.store(setup.memory, loc, val, release, &mut st.cpus[cpu as usize].view);
}

/// Execute the next step of task `t` on `cpu`.
fn run_op(setup: &Setup, st: &mut State, cpu: u8, t: u8, pick: u8) -> Result<Event, String> {
    let spec = setup.tasks.get(t as usize).ok_or_else(|| format!("no task {t}"))?;
    let pc = st.tasks[t as usize].pc;
    let op = setup.op(t, pc).ok_or_else(|| format!("{} has finished", spec.name))?;
    let who = spec.name.as_str();
    let weak = setup.memory == MemoryMode::Weak;
    let mut v = Vec::new();
    let mut next = pc + 1;
    let text: String = match op {
        Op::MutexLock => {
            st.lock = Some(t);
            let lv = st.lock_view.clone();
            join(&mut st.cpus[cpu as usize].view, &lv);
            format!("{who} takes lguest_lock: no other writer can enter add_eventfd() now")
        }
        Op::MutexUnlock => {
            st.lock = None;
            let cv = st.cpus[cpu as usize].view.clone();
            join(&mut st.lock_view, &cv);
            format!("{who} releases lguest_lock")
        }
        Op::Kmalloc => {
            let old = match load(setup, st, &mut v, cpu, Loc::Eventfds, 0, LoadKind::Plain)? {
                Val::Version(o) => o,
                other => return Err(format!("lg->eventfds holds {other}, not a map")),
            };
            touch(st, &mut v, who, old, "num");
            let n = match load(setup, st, &mut v, cpu, Loc::Num(old), 0, LoadKind::Plain)? {
                Val::Int(n) => n.min(u8::MAX as u32 - 1) as u8,
                _ => 0,
            };
            let new = st.versions.len() as VersionId;
            st.versions.push(Version { cap: n + 1, life: Life::Building, by: Some(t) });
            st.mem.alloc(Loc::Num(new), Val::Uninit);
            for i in 0..=n {
                st.mem.alloc(Loc::Addr(new, i), Val::Uninit);
                st.mem.alloc(Loc::Event(new, i), Val::Uninit);
            }
            let task = &mut st.tasks[t as usize];
            task.old = Some(old);
            task.new = Some(new);
            task.n = n as u32;
            format!("{who}: old = v{old} (num {n}); kmalloc() gives v{new} with room for {} entries, uninitialised", n + 1)
        }
        Op::Memcpy => {
            let (old, new, n) = writer_regs(st, t)?;
            touch(st, &mut v, who, old, "the entries");
            for i in 0..n as u8 {
                let a = load(setup, st, &mut v, cpu, Loc::Addr(old, i), 0, LoadKind::Plain)?;
                let e = load(setup, st, &mut v, cpu, Loc::Event(old, i), 0, LoadKind::Plain)?;
                store(setup, st, cpu, Loc::Addr(new, i), a, false);
                store(setup, st, cpu, Loc::Event(new, i), e, false);
            }
            store(setup, st, cpu, Loc::Num(new), Val::Int(n), false);
            format!("{who} copies v{old}'s {n} entry(s) into v{new} and sets v{new}->num = {n}")
        }
        Op::AppendEntry => {
            let (_, new, n) = writer_regs(st, t)?;
            let i = n as u8;
            store(setup, st, cpu, Loc::Addr(new, i), Val::Int(spec.addr), false);
            if let Some(r) = st.ctx_refs.get_mut(spec.ctx as usize) {
                *r = r.saturating_add(1);
            }
            store(setup, st, cpu, Loc::Event(new, i), Val::Ctx(spec.ctx), false);
            format!(
                "{who} fills v{new}->map[{i}] = {{ {:#x}, ctx{} }} (eventfd_ctx_fdget() takes a reference)",
                spec.addr, spec.ctx
            )
        }
        Op::IncNum => {
            let (_, new, n) = writer_regs(st, t)?;
            store(setup, st, cpu, Loc::Num(new), Val::Int(n + 1), false);
            format!("{who} sets v{new}->num = {}", n + 1)
        }
        Op::AssignPointer { barrier } => {
            let (_, new, _) = writer_regs(st, t)?;
            let prev = st.mem.newest(Loc::Eventfds);
            store(setup, st, cpu, Loc::Eventfds, Val::Version(new), barrier);
            if let Some(Val::Version(p)) = prev {
                if let Some(ver) = st.versions.get_mut(p as usize) {
                    if ver.life == Life::Published {
                        ver.life = Life::Retired;
                    }
                }
            }
            if let Some(ver) = st.versions.get_mut(new as usize) {
                ver.life = Life::Published;
            }
            let retired = prev.map(|p| format!("{p}")).unwrap_or_default();
            if barrier {
                format!("{who} publishes v{new}; {retired} is retired. The barrier in rcu_assign_pointer() orders v{new}'s stores before the pointer")
            } else if weak {
                format!("{who} publishes v{new} with a plain store; {retired} is retired. Nothing orders v{new}'s stores before the pointer")
            } else {
                format!("{who} publishes v{new} with a plain store; {retired} is retired (harmless under sc)")
            }
        }
        Op::SyncBegin => {
            let cpus: Vec<Qs> =
                (0..setup.cpus).map(|c| if st.in_read_side(c) { Qs::Waiting } else { Qs::NotReading }).collect();
            let mut collected = View::new();
            if weak {
                for (c, q) in cpus.iter().enumerate() {
                    if *q == Qs::NotReading {
                        join(&mut collected, &st.cpus[c].view);
                    }
                }
                let wv = st.cpus[cpu as usize].view.clone();
                join(&mut st.gp_view, &wv);
            }
            let waiting: Vec<String> = cpus
                .iter()
                .enumerate()
                .filter(|(_, q)| **q == Qs::Waiting)
                .map(|(c, _)| {
                    let reader = st.current_task(c as u8).map(|r| setup.task_name(r)).unwrap_or("?");
                    format!("CPU{c} ({reader} is inside rcu_read_lock())")
                })
                .collect();
            let done = waiting.is_empty();
            st.gps.push(GracePeriod { by: t, cpus, done, collected });
            st.tasks[t as usize].gp = Some((st.gps.len() - 1) as u8);
            if done {
                format!("{who} begins a grace period: no CPU is inside a read-side section, so it is already over")
            } else {
                format!("{who} begins a grace period; it must wait for {}", waiting.join(" and "))
            }
        }
        Op::SyncDone => {
            let g = st.tasks[t as usize].gp.take().ok_or_else(|| format!("{who} is not in synchronize_rcu()"))?;
            if weak {
                let coll = st.gps.get(g as usize).map(|g| g.collected.clone()).unwrap_or_default();
                join(&mut st.cpus[cpu as usize].view, &coll);
            }
            format!("{who}'s synchronize_rcu() returns: every CPU has passed a quiescent state since it began")
        }
        Op::Kfree => {
            let old = st.tasks[t as usize].old.ok_or_else(|| format!("{who} has no old map"))?;
            match st.versions.get(old as usize).map(|x| x.life) {
                Some(Life::Freed) => {
                    violate(st, &mut v, Check::DoubleFree, format!("{who} frees v{old}, which was already freed"));
                    format!("{who}: kfree(v{old}) again")
                }
                Some(_) => {
                    let holders: Vec<&str> = (0..st.tasks.len() as u8)
                        .filter(|&r| st.tasks[r as usize].map == Some(old) && !st.is_done(setup, r))
                        .map(|r| setup.task_name(r))
                        .collect();
                    st.versions[old as usize].life = Life::Freed;
                    if holders.is_empty() {
                        format!("{who} frees v{old}: no reader can still hold it")
                    } else {
                        format!("{who} frees v{old} while {} still holds it", holders.join(", "))
                    }
                }
                None => return Err(format!("no version v{old}")),
            }
        }
        Op::RcuReadLock => {
            st.tasks[t as usize].nesting += 1;
            if weak {
                let gv = st.gp_view.clone();
                join(&mut st.cpus[cpu as usize].view, &gv);
            }
            format!("{who} enters a read-side critical section: CPU{cpu} is not quiescent until rcu_read_unlock()")
        }
        Op::RcuReadUnlock => {
            let task = &mut st.tasks[t as usize];
            task.nesting = task.nesting.saturating_sub(1);
            let mut s = format!("{who} leaves its read-side critical section: CPU{cpu} is quiescent");
            if task.nesting == 0 {
                for note in note_quiescent(setup, st, cpu) {
                    s.push_str("; ");
                    s.push_str(&note);
                }
            }
            s
        }
        Op::Dereference { rcu } => {
            let kind = if rcu { LoadKind::Dereference } else { LoadKind::Plain };
            let val = load(setup, st, &mut v, cpu, Loc::Eventfds, pick, kind)?;
            let Val::Version(m) = val else { return Err(format!("lg->eventfds holds {val}, not a map")) };
            st.tasks[t as usize].map = Some(m);
            let how = if rcu { "rcu_dereference()" } else { "a plain load" };
            let stale = if pick > 0 { " (an older value: the newer store has not reached this CPU)" } else { "" };
            format!("{who} loads lg->eventfds with {how}: it now holds v{m}{stale}")
        }
        Op::ReadNum => {
            let m = st.tasks[t as usize].map.ok_or_else(|| format!("{who} has no map"))?;
            touch(st, &mut v, who, m, "num");
            let n = match load(setup, st, &mut v, cpu, Loc::Num(m), pick, LoadKind::Plain)? {
                Val::Int(n) => n.min(st.versions.get(m as usize).map_or(0, |x| x.cap as u32)),
                _ => 0,
            };
            let task = &mut st.tasks[t as usize];
            task.n = n;
            task.i = 0;
            format!("{who} reads v{m}->num = {n}")
        }
        Op::Compare { skip } => {
            let m = st.tasks[t as usize].map.ok_or_else(|| format!("{who} has no map"))?;
            let (i, n, notify) = {
                let task = &st.tasks[t as usize];
                (task.i, task.n, task.notify)
            };
            if i >= n {
                next = pc + 1 + skip;
                format!("{who}: no entry of v{m} matches {notify:#x}; run_guest() will return it to the Launcher")
            } else {
                touch(st, &mut v, who, m, "an entry");
                let a = load(setup, st, &mut v, cpu, Loc::Addr(m, i as u8), pick, LoadKind::Plain)?;
                if a == Val::Int(notify) {
                    format!("{who}: v{m}->map[{i}].addr is {a}: a match")
                } else {
                    st.tasks[t as usize].i += 1;
                    next = pc;
                    format!("{who}: v{m}->map[{i}].addr is {a}, not {notify:#x}")
                }
            }
        }
        Op::Signal => {
            let m = st.tasks[t as usize].map.ok_or_else(|| format!("{who} has no map"))?;
            let i = st.tasks[t as usize].i as u8;
            touch(st, &mut v, who, m, "an entry");
            match load(setup, st, &mut v, cpu, Loc::Event(m, i), pick, LoadKind::Plain)? {
                Val::Ctx(c) => {
                    if let Some(s) = st.ctx_signals.get_mut(c as usize) {
                        *s = s.saturating_add(1);
                    }
                    st.tasks[t as usize].signalled = Some(c);
                    format!("{who} signals ctx{c}: the device thread waiting on that eventfd wakes")
                }
                other => format!("{who} would signal {other}: not an eventfd"),
            }
        }
        Op::ClearNotify => {
            st.tasks[t as usize].notify = 0;
            format!("{who} clears pending_notify: the notify went to an eventfd, not to the Launcher's read()")
        }
        Op::Store { var, val, release } => {
            store(setup, st, cpu, Loc::Var(var), val, release);
            format!("{who} stores {val} to {}", Loc::Var(var))
        }
        Op::Load { var, reg, kind } => {
            let val = load(setup, st, &mut v, cpu, Loc::Var(var), pick, kind)?;
            if let Some(r) = st.tasks[t as usize].regs.get_mut(reg as usize) {
                *r = val;
            }
            format!("{who} loads {} = {val}", Loc::Var(var))
        }
        Op::LoadThrough { ptr_reg, reg } => {
            let p = st.tasks[t as usize].regs.get(ptr_reg as usize).copied().unwrap_or(Val::Uninit);
            let Val::Ptr(x) = p else { return Err(format!("{who}: r{ptr_reg} holds {p}, not a pointer")) };
            let val = load(setup, st, &mut v, cpu, Loc::Var(x), pick, LoadKind::Plain)?;
            if let Some(r) = st.tasks[t as usize].regs.get_mut(reg as usize) {
                *r = val;
            }
            format!("{who} loads *r{ptr_reg} = {} = {val}", Loc::Var(x))
        }
    };
    st.tasks[t as usize].pc = next;
    Ok(Event {
        cpu,
        task: who.to_string(),
        function: op.function().to_string(),
        tag: op.tag().to_string(),
        step: op.label(),
        text,
        violations: v,
    })
}

fn writer_regs(st: &State, t: u8) -> Result<(VersionId, VersionId, u32), String> {
    let task = &st.tasks[t as usize];
    match (task.old, task.new) {
        (Some(o), Some(n)) => Ok((o, n, task.n)),
        _ => Err("the writer has not called kmalloc() yet".into()),
    }
}
