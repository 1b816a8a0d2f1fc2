//! The scheduler: tasks asleep in the kernel, what wakes them, and the user programs it resumes.
//!
//! A task asleep in a read is a [`Sleep`] in [`Sched::pending`]. Each time the scheduler runs
//! ([`Kernel::settle`]) it offers every sleeping read to its file's `resume` (a Guest that was running goes
//! on running, an eventfd that was signalled returns its count) and then resumes every thread of a user
//! program whose call has returned, until nothing moves. A read that returned to a task driven from outside
//! (a scenario's `main`, the Launcher's main loop) waits in [`Sched::finished`] until `wait` collects it.
//!
//! Time is simulated: it moves with the Guest's work (one nanosecond an instruction) and when a task waits
//! for a timer, it jumps to the timer's expiry (nothing else could wake the task before).

use std::collections::BTreeMap;

use super::file::{FileId, Resume, Sleep};
use super::syscall::SysResult;
use super::task::{TaskState, Tid};
use super::user::Sys;
use super::Kernel;
use crate::params::{SETTLE_ROUNDS, WAIT_ROUNDS};

/// The work left for the call into the core being made now (see [`crate::params::CALL_BUDGET`]): who starts
/// a call (the scenario runner for a line, `lguest-sim run` for a run) gives it; the Guest's trips draw on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub left: u64,
    /// Spent since it was given.
    pub spent: u64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget { left: crate::params::CALL_BUDGET, spent: 0 }
    }
}

impl Budget {
    /// A fresh budget of `units`.
    pub fn give(&mut self, units: u64) {
        *self = Budget { left: units, spent: 0 };
    }

    pub fn spend(&mut self, units: u64) {
        let n = units.min(self.left);
        self.left -= n;
        self.spent = self.spent.saturating_add(units);
    }

    pub fn exhausted(&self) -> bool {
        self.left == 0
    }
}

/// The scheduler's state.
#[derive(Clone, Debug, Default)]
pub struct Sched {
    /// Tasks asleep in a system call (or running inside one: see [`Sleep::running`]).
    pub pending: BTreeMap<Tid, Sleep>,
    /// Tasks a reschedule IPI has been sent to (`kick_process()`) that they have not yet taken.
    pub ipis: std::collections::BTreeSet<Tid>,
    /// Results of sleeping calls that have since returned, not yet collected by `wait`.
    pub finished: BTreeMap<Tid, SysResult>,
    /// The work left for this call into the core.
    pub budget: Budget,
}

impl Kernel {
    /// The calling task goes to sleep in a read (a file's `read` calls this before it returns `Blocked`,
    /// or before it tries the read once with [`Kernel::progress`]).
    pub fn sleep(&mut self, tid: Tid, s: Sleep) {
        self.sched.pending.insert(tid, s);
        if let Some(t) = self.tasks.get_mut(tid as usize) {
            t.state = TaskState::InRead;
        }
    }

    /// Try to move a sleeping call on; `Some` when it returned (then the task is back in user space).
    pub fn progress(&mut self, tid: Tid) -> Option<SysResult> {
        let s = self.sched.pending.get(&tid)?.clone();
        self.current = tid;
        let signal = self.tasks.get(tid as usize).is_some_and(|t| t.signal_pending);
        // A task asleep in schedule() stays asleep until something wakes it.
        if s.asleep && !signal {
            return None;
        }
        let resume = self.files.get(s.file)?.ops.resume;
        match resume(self, tid, &s) {
            Resume::Done(r) => {
                self.drop_pending(tid);
                Some(self.return_to_user(tid, r))
            }
            Resume::Blocked(why) => {
                self.note_sleep(tid, why, false, false);
                None
            }
            Resume::Asleep(why) => {
                self.note_sleep(tid, why, true, false);
                None
            }
            Resume::Running(why) => {
                self.note_sleep(tid, why, false, true);
                None
            }
        }
    }

    fn note_sleep(&mut self, tid: Tid, why: String, asleep: bool, running: bool) {
        if let Some(s) = self.sched.pending.get_mut(&tid) {
            s.why = why;
            s.asleep = asleep;
            s.running = running;
        }
    }

    /// `kick_process()`: if task `tid` is running on another CPU (inside a call, not asleep: a Launcher whose
    /// Guest is executing), send that CPU a reschedule IPI, which takes it out of whatever it runs. True if
    /// an IPI was sent; a task that is not running, or is the caller, is left alone.
    pub fn kick_process(&mut self, tid: Tid) -> bool {
        if tid == self.current || !self.sched.pending.get(&tid).is_some_and(|s| s.running) {
            return false;
        }
        self.sched.ipis.insert(tid);
        true
    }

    /// The CPU running task `tid` takes the reschedule IPI sent to it, if one was.
    pub fn take_ipi(&mut self, tid: Tid) -> bool {
        self.sched.ipis.remove(&tid)
    }

    /// Move every sleeping call on as far as it goes without outside help, and let the user programs whose
    /// calls returned run until they sleep again (bounded: each round every call either returns or reports
    /// that it waits).
    pub fn settle(&mut self) {
        let saved = self.current;
        for _ in 0..SETTLE_ROUNDS {
            let mut moved = false;
            let tids: Vec<Tid> = self.sched.pending.keys().copied().collect();
            for tid in tids {
                if let Some(r) = self.progress(tid) {
                    self.sched.finished.insert(tid, r);
                    moved = true;
                }
            }
            if self.run_programs() {
                moved = true;
            }
            if !moved {
                break;
            }
        }
        self.current = saved;
    }

    /// Resume every thread that runs a program (in the order they were made), each until it sleeps again or
    /// has nothing to do. True if any ran.
    fn run_programs(&mut self) -> bool {
        let mut ran = false;
        for tid in 0..self.tasks.len() as Tid {
            let t = &self.tasks[tid as usize];
            if !t.by_program || t.state == TaskState::Exited {
                continue;
            }
            let pid = t.pid as usize;
            // Lent out: the program is running (this is a call from inside it).
            let Some(mut program) = self.procs.get_mut(pid).and_then(|p| p.program.take()) else { continue };
            self.current = tid;
            ran |= program.resume(&mut Sys::nested(self, tid));
            if let Some(p) = self.procs.get_mut(pid) {
                p.program = Some(program);
            }
        }
        ran
    }

    /// Collect the result of `tid`'s call that has returned, if it has.
    pub fn take_finished(&mut self, tid: Tid) -> Option<SysResult> {
        self.sched.finished.remove(&tid)
    }

    /// A sleeping call ends (it returned, or its task died): a reference the call held on its file goes.
    pub(crate) fn drop_pending(&mut self, tid: Tid) {
        self.sched.ipis.remove(&tid);
        if let Some(s) = self.sched.pending.remove(&tid) {
            if s.holds_file {
                self.fput(s.file);
            }
        }
    }

    /// `wake_up_process()`: a task asleep in `schedule()` becomes runnable; the next `settle` offers its
    /// read to the file again (for `/dev/lguest`, `run_guest()` goes round its loop from the top). True if
    /// it was asleep.
    pub fn wake_up_process(&mut self, tid: Tid) -> bool {
        match self.sched.pending.get_mut(&tid) {
            Some(s) if s.asleep => {
                s.asleep = false;
                true
            }
            _ => false,
        }
    }

    /// Is task `tid` asleep in `schedule()` (not merely in a call that is looked at again)?
    pub fn is_asleep(&self, tid: Tid) -> bool {
        self.sched.pending.get(&tid).is_some_and(|s| s.asleep)
    }

    /// Why task `tid`'s call has not returned, in words ("" if it is in no call).
    pub fn blocked_why(&self, tid: Tid) -> String {
        self.sched.pending.get(&tid).map(|s| s.why.clone()).unwrap_or_default()
    }

    /// The earliest armed timer of any driver, if any.
    pub fn next_timer(&self) -> Option<u64> {
        super::drivers::TIMERS.iter().filter_map(|t| (t.next)(self)).min()
    }

    /// Every timer due by `until` fires.
    pub fn run_timers(&mut self, until: u64) {
        for t in super::drivers::TIMERS {
            (t.run)(self, until);
        }
    }

    /// Let simulated time pass: timers may fire and wake a sleeping task.
    pub fn advance(&mut self, ns: u64) {
        let until = self.now_ns.saturating_add(ns);
        self.run_timers(until);
        self.now_ns = until;
        self.settle();
    }

    /// Wait for task `tid`'s sleeping call to return. If it sleeps with a timer armed, time moves to the
    /// timer's expiry (nothing else could wake it). `None` if it stays asleep.
    pub fn wait(&mut self, tid: Tid) -> Option<SysResult> {
        // Bounded, so a Guest that keeps trapping without returning to the Launcher cannot hold the page:
        // at most WAIT_ROUNDS trips, each at most one time slice or one timer expiry.
        for _ in 0..WAIT_ROUNDS {
            if let Some(r) = self.sched.finished.remove(&tid) {
                return Some(r);
            }
            if !self.sched.pending.contains_key(&tid) {
                return None;
            }
            match self.next_timer().filter(|_| self.is_asleep(tid)) {
                Some(t) if t > self.now_ns => {
                    let ns = t - self.now_ns;
                    self.advance(ns);
                }
                Some(_) => self.advance(0),
                None => {
                    // A Guest that is still running may make progress with more time (its work moves the
                    // clock on, even when it logs nothing).
                    let before = (self.log.len(), self.now_ns);
                    self.settle();
                    if let Some(r) = self.sched.finished.remove(&tid) {
                        return Some(r);
                    }
                    if (self.log.len(), self.now_ns) == before {
                        return None;
                    }
                }
            }
        }
        self.sched.finished.remove(&tid)
    }

    /// `kill(task, sig)`: mark a signal pending; a task asleep in the kernel is woken to notice it, and one
    /// running inside a call on another CPU is kicked (`signal_wake_up()`).
    pub fn signal(&mut self, tid: Tid) {
        let name = self.task_name(tid);
        let blocked = self.sched.pending.contains_key(&tid);
        if let Some(t) = self.tasks.get_mut(tid as usize) {
            if blocked {
                t.signal_pending = true;
            }
        }
        if !self.wake_up_process(tid) {
            // The sender is outside the simulation, never the task itself.
            let saved = std::mem::replace(&mut self.current, super::task::IRQ_CONTEXT);
            self.kick_process(tid);
            self.current = saved;
        }
        let text = if blocked {
            format!("a signal arrives for {name}, asleep in the kernel: signal_pending() is now true and the task is woken")
        } else {
            format!("a signal arrives for {name} in user space: its handler runs at once")
        };
        self.log.push(&name, "launcher", "X:600", text, &["tasks"]);
        self.settle();
    }

    /// `clone(CLONE_VM | ...)`: a new thread of the current task's process, sharing its memory. With
    /// `share_files` (`CLONE_FILES`) it shares the caller's descriptor table too; without, it gets a copy of
    /// it, each descriptor one more reference on the same file, and what either then opens or closes is its
    /// own. With `by_program`, the thread runs the process's program (the scheduler resumes it); otherwise it
    /// is driven from outside, like `main`.
    pub fn new_thread(&mut self, name: &str, by_program: bool, share_files: bool) -> Result<Tid, String> {
        if self.task_by_name(name).is_some() {
            return Err(format!("there is already a task called {name:?}"));
        }
        let me = self.current;
        let pid = self.tasks.get(me as usize).map(|t| t.pid).unwrap_or(0);
        let copy = if share_files { None } else { Some(self.fd_table(me).cloned().unwrap_or_default()) };
        let tid = self.spawn_task(name, pid, by_program);
        let text = match &copy {
            Some(files) => {
                for &f in files.values() {
                    self.fget(f);
                }
                format!("the Launcher starts thread {name:?} (CLONE_VM): it shares the Launcher's memory and gets a copy of its {} descriptors", files.len())
            }
            None => format!("the Launcher starts thread {name:?} (CLONE_VM | CLONE_FILES): it shares the Launcher's memory and descriptor table"),
        };
        if let Some(t) = self.tasks.get_mut(tid as usize) {
            t.files = copy;
        }
        self.log.push(name, "launcher", "X:600", text, &["tasks"]);
        Ok(tid)
    }

    /// `fork()`: another process with a copy of the current process's descriptors (more references on the
    /// same files), its memory (a private copy: the Guest's memory is mapped at the same place) and its
    /// program's state, and one task. A scripted Guest's queued moves stay with the parent.
    pub fn fork(&mut self, name: &str) -> Result<Tid, String> {
        if self.task_by_name(name).is_some() {
            return Err(format!("there is already a task called {name:?}"));
        }
        let parent = self.proc_of(self.current);
        let mut child = self.procs.get(parent).ok_or("no process to fork")?.clone();
        child.fds = self.fd_table(self.current).cloned().unwrap_or_default();
        child.pid = self.procs.len() as u32;
        child.name = name.to_string();
        child.mm.guest.script.clear();
        let files: Vec<FileId> = child.fds.values().copied().collect();
        for file in files {
            self.fget(file);
        }
        let pid = child.pid;
        self.procs.push(child);
        let tid = self.spawn_task(name, pid, false);
        let text = format!("the Launcher forks process {name:?}: same descriptors, its own task and memory");
        self.log.push(name, "launcher", "X:600", text, &["tasks"]);
        Ok(tid)
    }

    /// `kill(thread, SIGTERM)` then `waitpid()`: one task leaves whatever call it was asleep in and exits;
    /// its process and the process's descriptors stay.
    pub fn exit_task(&mut self, tid: Tid) {
        self.drop_pending(tid);
        self.sched.finished.remove(&tid);
        let own = match self.tasks.get_mut(tid as usize) {
            Some(t) => {
                t.state = TaskState::Exited;
                t.files.take()
            }
            None => None,
        };
        // A thread with its own descriptor table closes it as it exits.
        for file in own.unwrap_or_default().into_values() {
            self.fput(file);
        }
    }

    /// Exit a whole process: every descriptor is closed, which releases files whose last reference it held.
    pub fn exit_process(&mut self, tid: Tid) {
        let pidx = self.proc_of(tid);
        let Some(proc) = self.procs.get(pidx) else { return };
        let fds: Vec<FileId> = proc.fds.values().copied().collect();
        let (pid, pname) = (proc.pid, proc.name.clone());
        let name = self.task_name(tid);
        self.log.push(&name, "launcher", "X:600", format!("process {pname} exits: the kernel closes its descriptors"), &["tasks", "files"]);
        let dying: Vec<Tid> = self.tasks.iter().filter(|t| t.pid == pid).map(|t| t.tid).collect();
        let mut fds = fds;
        for t in dying {
            self.tasks[t as usize].state = TaskState::Exited;
            self.drop_pending(t);
            fds.extend(self.tasks[t as usize].files.take().unwrap_or_default().into_values());
        }
        self.procs[pidx].fds.clear();
        self.current = tid;
        for file in fds {
            self.fput(file);
        }
    }
}
