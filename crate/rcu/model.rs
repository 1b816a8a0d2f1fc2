//! The machine the RCU lessons run on: simulated CPUs, the tasks placed on them, the shared pointer
//! `lg->eventfds`, the arena of array versions, `lguest_lock`, and the grace periods `synchronize_rcu()`
//! starts. Part of the RCU tour ([`super`]): read after `programs.rs`; `machine.rs` wraps it for the UI and
//! `explore.rs` enumerates its schedules.
//!
//! Two flavours of RCU, as a 2.6.39 host could be built ([`Flavour`]):
//! - **preemptible** (`CONFIG_TREE_PREEMPT_RCU`, the default here): the read-side critical section is
//!   tracked. A grace period begun by `synchronize_rcu()` waits exactly for the CPUs that were inside a
//!   read-side section when it began, until each leaves it (`rcu_read_unlock()`), switches tasks or takes a
//!   tick outside any section. This is also the RCU *guarantee* as the kernel memory model states it.
//! - **classic** (`CONFIG_TREE_RCU`, a host without `CONFIG_PREEMPT`): `rcu_read_lock()` is
//!   `preempt_disable()`, which does nothing at all, and `synchronize_rcu()` is `synchronize_sched()`. Nothing
//!   knows where a read-side section is; a grace period waits for *every* CPU to pass a quiescent state,
//!   and the only quiescent states are a context switch, user mode and the idle loop. A tick that finds the
//!   CPU in the kernel is not one, inside a section or not (rcutree.c `rcu_check_callbacks()`).
//!
//! A task runs on its CPU until it finishes (returns to user space) or sleeps (in `mutex_lock()` or in
//! `synchronize_rcu()`, where `schedule()` switches tasks); only then does the CPU switch to another task
//! placed on it. Before a CPU's first task has begun, the scheduler may pick another task placed there to
//! run first (a [`Choice`] with `start`).
//!
//! Under weak memory only the readers' loads offer a choice of values (pick 0 is the newest); a writer's
//! loads in `add_eventfd()` take the newest value. Under `lguest_lock` that is exactly what a writer can
//! see anyway (the mutex orders one writer after the other); without the lock it under-approximates, which
//! is enough for the lost update to show.
//!
//! [`Setup`] is what never changes during a run (the programs, the memory mode); [`State`] is everything
//! that does, and is small, comparable and hashable so the explorer can recognise states it has seen.

use std::fmt;

use serde::Serialize;

use super::checks::{Check, Checks, Violation};
use super::memory::{CtxId, LoadKind, Loc, Memory, MemoryMode, Val, VersionId, View};
use super::programs::{reader_program, timer_program, writer_program, Op, Variant};
use super::{litmus, reader, synchronize_rcu, writer};

/// Simulated CPUs a scenario may ask for.
pub const MAX_CPUS: u8 = 4;
/// Tasks a scenario may place (readers + writers, or litmus threads).
pub const MAX_TASKS: usize = 6;
/// Steps a litmus thread may have (program counters and grace-period numbers are bytes).
pub const MAX_PROGRAM: usize = 32;
/// Entries the initial map (the one `initialize()` left, plus boot-time attaches) may hold.
pub const MAX_INITIAL_ENTRIES: u8 = 3;
/// The notify address of entry `k`: one page per virtqueue ring, as the Launcher lays them out.
pub fn entry_addr(k: u8) -> u32 {
    0x7000 + 0x1000 * k as u32
}

/// Which RCU the host was built with (see the module's opening comment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Flavour {
    /// `CONFIG_TREE_PREEMPT_RCU`: read-side critical sections are tracked; leaving one is a quiescent state.
    #[default]
    Preemptible,
    /// `CONFIG_TREE_RCU` without `CONFIG_PREEMPT`: quiescent states only at a context switch, in user mode
    /// or idle.
    Classic,
}

impl Flavour {
    pub const ALL: [Flavour; 2] = [Flavour::Preemptible, Flavour::Classic];

    pub fn name(self) -> &'static str {
        match self {
            Flavour::Preemptible => "preemptible",
            Flavour::Classic => "classic",
        }
    }

    pub fn parse(s: &str) -> Result<Flavour, String> {
        Flavour::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| format!("unknown RCU flavour '{s}': use preemptible or classic"))
    }
}

/// One scheduling decision: run CPU `cpu`; if its next load may return several values (weak memory),
/// `pick` says which, 0 being the newest; `irq` means "the timer interrupt arrives on this CPU now" instead;
/// `start` means "before this CPU's first task begins, switch to another task placed here that has not begun
/// either".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Choice {
    pub cpu: u8,
    pub pick: u8,
    pub irq: bool,
    pub start: bool,
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start {
            write!(f, "{}s", self.cpu)
        } else if self.irq {
            write!(f, "{}i", self.cpu)
        } else if self.pick == 0 {
            write!(f, "{}", self.cpu)
        } else {
            write!(f, "{}:{}", self.cpu, self.pick)
        }
    }
}

impl Choice {
    /// Run `cpu`, loading the newest value.
    pub fn cpu(cpu: u8) -> Choice {
        Choice { cpu, ..Choice::default() }
    }

    /// Parse `"1"`, `"1:2"` (CPU 1, the third-newest value), `"1i"` (the timer interrupt arrives on CPU 1) or
    /// `"1s"` (CPU 1 starts another of its tasks first).
    pub fn parse(s: &str) -> Result<Choice, String> {
        if let Some(c) = s.strip_suffix('i') {
            let cpu = c.trim().parse::<u8>().map_err(|_| format!("bad schedule entry '{s}': expected CPU[:PICK], CPUi or CPUs"))?;
            return Ok(Choice { cpu, irq: true, ..Choice::default() });
        }
        if let Some(c) = s.strip_suffix('s') {
            let cpu = c.trim().parse::<u8>().map_err(|_| format!("bad schedule entry '{s}': expected CPU[:PICK], CPUi or CPUs"))?;
            return Ok(Choice { cpu, start: true, ..Choice::default() });
        }
        let (c, p) = match s.split_once(':') {
            Some((c, p)) => (c, p),
            None => (s, "0"),
        };
        let cpu = c.trim().parse::<u8>().map_err(|_| format!("bad schedule entry '{s}': expected CPU[:PICK]"))?;
        let pick = p.trim().parse::<u8>().map_err(|_| format!("bad schedule entry '{s}': expected CPU[:PICK]"))?;
        Ok(Choice { cpu, pick, ..Choice::default() })
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
    /// A timer interrupt on a CPU in which the Guest's clockevent hrtimer and the scheduling-clock tick are
    /// both due: interrupt context, on top of whatever runs there.
    Timer,
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
    /// Writer: the fd is not an eventfd, so `eventfd_ctx_fdget()` fails with `-EBADF`.
    pub bad_fd: bool,
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
    /// Timer interrupts: timer `k` fires once on CPU `k % cpus`, at any moment the scheduler picks.
    pub timers: u8,
    /// Writer W0 attaches an fd that is not an eventfd: `add_eventfd()` takes its error path.
    pub bad_fd: bool,
    /// Which RCU the host runs.
    pub flavour: Flavour,
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
            timers: 0,
            bad_fd: false,
            flavour: Flavour::Preemptible,
        }
    }
}

/// Everything about a run that never changes.
#[derive(Clone, Debug)]
pub struct Setup {
    pub cpus: u8,
    pub memory: MemoryMode,
    pub flavour: Flavour,
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
            return Err(format!("{} CPUs: the simulation has 1 to {MAX_CPUS}", sc.cpus));
        }
        let ntasks = sc.readers as usize + sc.writers as usize;
        if ntasks == 0 {
            return Err("a scenario needs at least one reader or writer".into());
        }
        if ntasks > MAX_TASKS {
            return Err(format!("{ntasks} tasks: at most {MAX_TASKS} readers and writers together"));
        }
        if sc.bad_fd && sc.writers == 0 {
            return Err("a bad fd is given to writer W0, but there is no writer".into());
        }
        if sc.timers > MAX_CPUS {
            return Err(format!("{} timers: at most one per CPU, {MAX_CPUS} in all", sc.timers));
        }
        if sc.initial_entries > MAX_INITIAL_ENTRIES {
            return Err(format!("{} initial entries: at most {MAX_INITIAL_ENTRIES}", sc.initial_entries));
        }
        let placement: Vec<u8> = match &sc.placement {
            Some(p) => {
                if p.len() != ntasks {
                    return Err(format!("the placement lists {} CPUs but there are {ntasks} tasks (readers first, then writers)", p.len()));
                }
                if let Some(bad) = p.iter().find(|&&c| c >= sc.cpus) {
                    return Err(format!("the placement puts a task on CPU {bad}, but the CPUs are 0 to {}", sc.cpus - 1));
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
                bad_fd: false,
            });
        }
        for w in 0..sc.writers {
            tasks.push(TaskSpec {
                name: format!("W{w}"),
                role: Role::Writer,
                cpu: placement[(sc.readers + w) as usize],
                program: writer_program(sc.variant, sc.bad_fd && w == 0),
                notify: 0,
                addr: entry_addr(init + w),
                ctx: init + w,
                bad_fd: sc.bad_fd && w == 0,
            });
        }
        for k in 0..sc.timers {
            tasks.push(TaskSpec {
                name: format!("T{k}"),
                role: Role::Timer,
                cpu: k % sc.cpus,
                program: timer_program(),
                notify: 0,
                addr: 0,
                ctx: 0,
                bad_fd: false,
            });
        }
        Ok(Setup {
            cpus: sc.cpus,
            memory: sc.memory,
            flavour: sc.flavour,
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
            if program.len() > MAX_PROGRAM {
                return Err(format!("thread P{i} has {} steps: at most {MAX_PROGRAM}", program.len()));
            }
            if cpu >= cpus {
                return Err(format!("thread P{i} placed on CPU {cpu}, but CPUs are 0..{}", cpus - 1));
            }
            tasks.push(TaskSpec { name: format!("P{i}"), role: Role::Litmus, cpu, program, notify: 0, addr: 0, ctx: 0, bad_fd: false });
        }
        // The litmus shapes hold the RCU guarantee as the kernel memory model states it: the preemptible
        // accounting.
        Ok(Setup { cpus, memory, flavour: Flavour::Preemptible, variant: Variant::Correct, tasks, initial: Vec::new(), vars: vars.to_vec() })
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
pub struct RcuCpu {
    /// The tasks placed on this CPU, in the order they were placed.
    pub tasks: Vec<u8>,
    /// Which of them is running (an index into `tasks`).
    pub current: u8,
    /// What this CPU can see of memory (weak mode only; empty under sc).
    pub view: View,
    /// The timer task whose interrupt handler is running on top of the current task, if any.
    pub irq: Option<u8>,
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
    pub cpus: Vec<RcuCpu>,
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
    /// `irqs_pending` of the Guest's `lg_cpu`: bit 0 is the timer.
    pub irqs_pending: u32,
}

/// What one step did, for the UI's log, the CLI and the tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RcuEvent {
    /// The scheduling decision that made this step.
    pub choice: Choice,
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
            .map(|c| RcuCpu {
                tasks: setup.tasks.iter().enumerate().filter(|(_, t)| t.cpu == c && t.role != Role::Timer).map(|(i, _)| i as u8).collect(),
                current: 0,
                view: View::new(),
                irq: None,
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
            irqs_pending: 0,
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
                    let waiting: Vec<String> = g.cpus.iter().enumerate().filter(|(_, q)| **q == Qs::Waiting).map(|(c, _)| format!("CPU{c}")).collect();
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
        // An interrupt handler runs to its end before the task it interrupted continues.
        if let Some(t) = c.irq {
            return Action::Run(t);
        }
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

    /// The timer that could interrupt `cpu` now: one placed there that has not fired, while no handler runs.
    pub fn pending_timer(&self, setup: &Setup, cpu: u8) -> Option<u8> {
        if self.cpus.get(cpu as usize)?.irq.is_some() {
            return None;
        }
        (0..setup.tasks.len() as u8).find(|&t| {
            let spec = &setup.tasks[t as usize];
            spec.role == Role::Timer && spec.cpu == cpu && self.tasks[t as usize].pc == 0
        })
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

    /// The task `cpu` could start instead of its current one: the current task has not begun, no interrupt
    /// handler runs there, and a task placed after it on this CPU has not begun either (the next such one).
    /// Only later ones, so the choice can never come back round to where it was.
    pub fn startable(&self, setup: &Setup, cpu: u8) -> Option<u8> {
        let c = self.cpus.get(cpu as usize)?;
        if c.irq.is_some() || self.tasks.get(self.current_task(cpu)? as usize)?.pc != 0 {
            return None;
        }
        c.tasks.iter().skip(c.current as usize + 1).copied().find(|&t| self.tasks[t as usize].pc == 0 && self.runnable(setup, t))
    }

    /// Is `cpu` quiescent for the classic flavour right now: idle, or its current task finished (back in user
    /// space) or asleep (it called `schedule()`)?
    pub fn classic_quiescent(&self, setup: &Setup, cpu: u8) -> bool {
        if self.cpus.get(cpu as usize).is_some_and(|c| c.irq.is_some()) {
            return false;
        }
        match self.current_task(cpu) {
            None => true,
            Some(t) => self.is_done(setup, t) || self.blocked(setup, t).is_some(),
        }
    }

    /// Every choice the scheduler has now, CPU by CPU.
    pub fn choices(&self, setup: &Setup) -> Vec<Choice> {
        let mut out = Vec::new();
        for cpu in 0..setup.cpus {
            for pick in 0..self.options(setup, cpu) {
                out.push(Choice { cpu, pick, ..Choice::default() });
            }
            if self.pending_timer(setup, cpu).is_some() {
                out.push(Choice { cpu, irq: true, ..Choice::default() });
            }
            if self.startable(setup, cpu).is_some() {
                out.push(Choice { cpu, start: true, ..Choice::default() });
            }
        }
        out
    }

    /// The checks that fire only at the end of a schedule (nothing left to run).
    pub fn final_checks(&self, setup: &Setup) -> Vec<Violation> {
        let mut out = Vec::new();
        let stuck: Vec<&str> = (0..self.tasks.len() as u8).filter(|&t| !self.is_done(setup, t)).map(|t| setup.task_name(t)).collect();
        if !stuck.is_empty() {
            out.push(Violation { check: Check::Deadlock, text: format!("{} can never run again, yet has not finished", stuck.join(", ")) });
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
        let entries: Vec<(Option<Val>, Option<Val>)> = (0..num).map(|i| (self.mem.newest(Loc::Addr(cur, i)), self.mem.newest(Loc::Event(cur, i)))).collect();
        for w in writers.iter().filter(|w| !w.bad_fd) {
            if !entries.iter().any(|(a, _)| *a == Some(Val::Int(w.addr))) {
                out.push(Violation { check: Check::LostUpdate, text: format!("{}'s entry for {:#x} is missing from the final map v{cur}", w.name, w.addr) });
            }
        }
        for (v, ver) in self.versions.iter().enumerate() {
            if v as u8 != cur && ver.life != Life::Freed {
                out.push(Violation { check: Check::Leak, text: format!("v{v} is neither the current map nor freed: nothing will ever kfree() it") });
            }
        }
        for (c, &refs) in self.ctx_refs.iter().enumerate() {
            if refs > 0 && !entries.iter().any(|(_, e)| *e == Some(Val::Ctx(c as u8))) {
                out.push(Violation { check: Check::Leak, text: format!("ctx{c}'s reference is in no map: close() will never eventfd_ctx_put() it") });
            }
        }
        out
    }
}

/// Take one scheduling decision. Every error names what was wrong; none changes the state.
pub fn step(setup: &Setup, st: &mut State, choice: Choice) -> Result<RcuEvent, String> {
    let mut scratch = st.clone();
    let ev = apply(setup, &mut scratch, choice)?;
    *st = scratch;
    Ok(ev)
}

/// [`step`] without the guarantee: on an error `st` may be half-changed. For the explorer, which steps a
/// fresh copy it throws away on error anyway (and so saves one copy per step).
pub fn apply(setup: &Setup, st: &mut State, choice: Choice) -> Result<RcuEvent, String> {
    let mut ev = apply_inner(setup, st, choice)?;
    ev.choice = choice;
    if setup.flavour == Flavour::Classic {
        // A CPU whose task has gone to sleep (it called schedule()), or finished (it returns to user space),
        // with nothing else to run, is idle or in user mode: quiescent.
        for cpu in 0..setup.cpus {
            if st.classic_quiescent(setup, cpu) {
                for note in synchronize_rcu::note_quiescent(setup, st, cpu) {
                    ev.text.push_str("; ");
                    ev.text.push_str(&note);
                }
            }
        }
    }
    Ok(ev)
}

fn apply_inner(setup: &Setup, st: &mut State, choice: Choice) -> Result<RcuEvent, String> {
    let cpu = choice.cpu;
    if cpu >= setup.cpus {
        return Err(format!("CPU {cpu} does not exist: this scenario has CPUs 0..{}", setup.cpus - 1));
    }
    if choice.start {
        let t = st.startable(setup, cpu).ok_or_else(|| format!("CPU {cpu} cannot start another task: its current one has begun, or none other is waiting"))?;
        let prev = st.current_task(cpu).map(|p| setup.task_name(p).to_string()).unwrap_or_default();
        let c = &mut st.cpus[cpu as usize];
        c.current = c.tasks.iter().position(|&x| x == t).unwrap_or(0) as u8;
        let mut text = format!("schedule() on CPU{cpu} runs {} before {prev}: a context switch, a quiescent state", setup.task_name(t));
        for note in synchronize_rcu::note_quiescent(setup, st, cpu) {
            text.push_str("; ");
            text.push_str(&note);
        }
        return Ok(RcuEvent {
            choice,
            cpu,
            task: setup.task_name(t).to_string(),
            function: "schedule".into(),
            tag: String::new(),
            step: "context switch".into(),
            text,
            violations: Vec::new(),
        });
    }
    if choice.irq {
        let t = st.pending_timer(setup, cpu).ok_or_else(|| format!("no timer interrupt can arrive on CPU {cpu} now (none left, or one is running)"))?;
        st.cpus[cpu as usize].irq = Some(t);
        return run_op(setup, st, cpu, t, 0);
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
            let mut text = format!("{prev}, so CPU{cpu} switches to {}: a context switch is a quiescent state", setup.task_name(t));
            for note in synchronize_rcu::note_quiescent(setup, st, cpu) {
                text.push_str("; ");
                text.push_str(&note);
            }
            Ok(RcuEvent {
                choice,
                cpu,
                task: setup.task_name(t).to_string(),
                function: "schedule".into(),
                tag: String::new(),
                step: "context switch".into(),
                text,
                violations: Vec::new(),
            })
        }
        Action::Run(t) => run_op(setup, st, cpu, t, choice.pick),
    }
}

/// What one step works with: the setup, the state, the CPU and task that run it, which visible value its
/// load takes, and what it finds. The step functions (in `add_eventfd.rs`, `send_notify_to_eventfd.rs`,
/// `synchronize_rcu.rs` and `litmus.rs`) receive it and return the sentence that describes what they did.
pub(super) struct Cx<'a> {
    pub setup: &'a Setup,
    pub st: &'a mut State,
    pub cpu: u8,
    pub t: u8,
    pub spec: &'a TaskSpec,
    /// The task's name (`R0`, `W1`).
    pub who: &'a str,
    /// Which visible value the step's load returns (0 = the newest).
    pub pick: u8,
    pub violations: Vec<Violation>,
    /// The program counter of this step, and of the next one (a loop or a skip changes it).
    pub pc: u8,
    pub next: u8,
}

impl Cx<'_> {
    pub fn weak(&self) -> bool {
        self.setup.memory == MemoryMode::Weak
    }

    /// The running task's registers.
    pub fn task(&mut self) -> &mut Task {
        &mut self.st.tasks[self.t as usize]
    }

    /// What this CPU can see of memory.
    pub fn view(&mut self) -> &mut View {
        &mut self.st.cpus[self.cpu as usize].view
    }

    /// Record a violation in the state and in the step's event.
    pub fn violate(&mut self, check: Check, text: String) {
        self.st.seen.insert(check);
        self.violations.push(Violation { check, text });
    }

    /// About to load from version `v`: a use-after-free if it was freed.
    pub fn touch(&mut self, v: VersionId, what: &str) {
        if self.st.versions.get(v as usize).is_some_and(|ver| ver.life == Life::Freed) {
            let who = self.who;
            self.violate(Check::UseAfterFree, format!("{who} reads {what} of v{v} after kfree(v{v})"));
        }
    }

    /// Load `loc` (taking visible value `pick`), flagging garbage as an uninitialised read.
    pub fn load(&mut self, loc: Loc, pick: u8, kind: LoadKind) -> Result<Val, String> {
        let cpu = self.cpu as usize;
        let val = self.st.mem.load(self.setup.memory, loc, pick, kind, &mut self.st.cpus[cpu].view)?;
        if val == Val::Uninit {
            let who = self.who;
            self.violate(Check::UninitialisedRead, format!("{who} reads {loc} before its store is visible: garbage"));
        }
        Ok(val)
    }

    pub fn store(&mut self, loc: Loc, val: Val, release: bool) {
        let cpu = self.cpu as usize;
        self.st.mem.store(self.setup.memory, loc, val, release, &mut self.st.cpus[cpu].view);
    }

    /// The writer's `old`, `new` and the copied `num`.
    pub fn writer_regs(&self) -> Result<(VersionId, VersionId, u32), String> {
        let task = &self.st.tasks[self.t as usize];
        match (task.old, task.new) {
            (Some(o), Some(n)) => Ok((o, n, task.n)),
            _ => Err(format!("{} has not called kmalloc() yet", self.who)),
        }
    }

    /// The reader's `map`.
    pub fn map(&self) -> Result<VersionId, String> {
        self.st.tasks[self.t as usize].map.ok_or_else(|| format!("{} has no map yet", self.who))
    }
}

/// Execute the next step of task `t` on `cpu`: one entry of this table per kind of step.
fn run_op(setup: &Setup, st: &mut State, cpu: u8, t: u8, pick: u8) -> Result<RcuEvent, String> {
    let spec = setup.tasks.get(t as usize).ok_or_else(|| format!("no task {t}"))?;
    let pc = st.tasks.get(t as usize).ok_or_else(|| format!("no task {t}"))?.pc;
    let op = setup.op(t, pc).ok_or_else(|| format!("{} has finished", spec.name))?;
    let mut cx = Cx { setup, st, cpu, t, spec, who: spec.name.as_str(), pick, violations: Vec::new(), pc, next: pc.saturating_add(1) };
    let text = match op {
        Op::MutexLock => writer::mutex_lock(&mut cx),
        Op::Kmalloc => writer::kmalloc(&mut cx),
        Op::Memcpy => writer::memcpy(&mut cx),
        Op::AppendEntry => writer::eventfd_ctx_fdget(&mut cx),
        Op::IncNum => writer::inc_num(&mut cx),
        Op::AssignPointer { barrier } => writer::rcu_assign_pointer(&mut cx, barrier),
        Op::SyncBegin => synchronize_rcu::begin(&mut cx),
        Op::SyncDone => synchronize_rcu::done(&mut cx),
        Op::Kfree => writer::kfree(&mut cx),
        Op::SaveErr => writer::ptr_err(&mut cx),
        Op::KfreeNew => writer::kfree_new(&mut cx),
        Op::MutexUnlock => writer::mutex_unlock(&mut cx),
        Op::RcuReadLock => reader::rcu_read_lock(&mut cx),
        Op::Dereference { rcu } => reader::rcu_dereference(&mut cx, rcu),
        Op::ReadNum => reader::read_num(&mut cx),
        Op::Compare { skip } => reader::compare(&mut cx, skip),
        Op::Signal => reader::eventfd_signal(&mut cx),
        Op::ClearNotify => reader::clear_pending_notify(&mut cx),
        Op::RcuReadUnlock => reader::rcu_read_unlock(&mut cx),
        Op::HrtimerInterrupt => synchronize_rcu::clockdev_fn(&mut cx),
        Op::RcuCheckCallbacks => synchronize_rcu::rcu_check_callbacks(&mut cx),
        Op::Store { var, val, release } => litmus::write_once(&mut cx, var, val, release),
        Op::Load { var, reg, kind } => litmus::read_once(&mut cx, var, reg, kind),
        Op::LoadThrough { ptr_reg, reg } => litmus::read_through(&mut cx, ptr_reg, reg),
    }?;
    let (next, violations) = (cx.next, cx.violations);
    st.tasks[t as usize].pc = next;
    Ok(RcuEvent {
        choice: Choice::cpu(cpu),
        cpu,
        task: spec.name.clone(),
        function: op.function().to_string(),
        tag: op.tag().to_string(),
        step: op.label(),
        text,
        violations,
    })
}
