//! The one door between user space and the kernel. A user program (the Launcher) holds a [`Sys`] for the
//! task it runs as, and through it may do two things only: make system calls, and touch its own memory. It
//! cannot see the kernel's structures, so "a bad pointer is `-EFAULT`" and "another task's read is
//! `-EPERM`" are facts the program meets, as a real one would.
//!
//! A program the scheduler resumes is a [`UserProgram`]: its state is the memory its threads share, and
//! [`UserProgram::resume`] runs one of its threads from where it stopped (its last system call returned)
//! until it sleeps again. The kernel keeps it with its process and never looks inside.

use std::any::Any;

use super::mm::UserFault;
use super::syscall::{Outcome, SysResult, Syscall};
use super::task::{TaskState, Tid};
use super::Kernel;

/// A program whose threads the scheduler resumes.
pub trait UserProgram: Any + std::fmt::Debug {
    /// Run thread `sys.tid()` from where it last stopped, until it sleeps in a system call again or has
    /// nothing to do. False if it did nothing.
    fn resume(&mut self, sys: &mut Sys<'_>) -> bool;
    /// A copy (for `fork()`, and for the page's checkpoints).
    fn clone_box(&self) -> Box<dyn UserProgram>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// What a running task of a user program may do.
pub struct Sys<'k> {
    k: &'k mut Kernel,
    tid: Tid,
    /// Running inside the scheduler (a resumed thread) or inside a call of its program's code that must not
    /// let others run meanwhile: its calls leave the other sleeping tasks alone.
    nested: bool,
}

impl Kernel {
    /// The door for task `tid`, driven from outside the scheduler (the Launcher's main loop).
    pub fn user(&mut self, tid: Tid) -> Sys<'_> {
        Sys { k: self, tid, nested: false }
    }

    /// Run `f` on the program of `tid`'s process (if it is a `T`), as task `tid`: how the Launcher's main
    /// thread reaches the state it shares with its threads. The program is lent out meanwhile, so its
    /// threads do not run inside `f`.
    pub fn with_program<T: UserProgram, R>(&mut self, tid: Tid, f: impl FnOnce(&mut T, &mut Sys<'_>) -> R) -> Option<R> {
        let pid = self.proc_of(tid);
        let mut program = self.procs.get_mut(pid)?.program.take()?;
        let r = program.as_any_mut().downcast_mut::<T>().map(|p| f(p, &mut Sys { k: self, tid, nested: true }));
        if let Some(p) = self.procs.get_mut(pid) {
            p.program = Some(program);
        }
        r
    }
}

impl<'k> Sys<'k> {
    pub(crate) fn nested(k: &'k mut Kernel, tid: Tid) -> Sys<'k> {
        Sys { k, tid, nested: true }
    }

    /// The task this is.
    pub fn tid(&self) -> Tid {
        self.tid
    }

    /// Make a system call.
    pub fn syscall(&mut self, call: Syscall) -> Result<Outcome, String> {
        if self.nested {
            self.k.syscall_unsettled(self.tid, call)
        } else {
            self.k.syscall(self.tid, call)
        }
    }

    /// Sleep until this task's call returns (others run meanwhile); `None` if it does not return within the
    /// scheduler's bound.
    pub fn wait(&mut self) -> Option<SysResult> {
        self.k.wait(self.tid)
    }

    /// The result of this task's call that has returned since it slept, if it has.
    pub fn take_result(&mut self) -> Option<SysResult> {
        self.k.take_finished(self.tid)
    }

    /// Is this task asleep in a call?
    pub fn in_call(&self) -> bool {
        self.k.sched.pending.contains_key(&self.tid)
    }

    /// Has this task exited (been killed, or its process died)?
    pub fn exited(&self) -> bool {
        self.k.tasks.get(self.tid as usize).is_none_or(|t| t.state == TaskState::Exited)
    }

    /// Load from this task's own memory.
    pub fn read(&self, addr: u32, buf: &mut [u8]) -> Result<(), UserFault> {
        let p = self.k.proc_of(self.tid);
        self.k.procs.get(p).ok_or(UserFault { addr })?.mm.read(addr, buf)
    }

    /// Store into this task's own memory.
    pub fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), UserFault> {
        let p = self.k.proc_of(self.tid);
        self.k.procs.get_mut(p).ok_or(UserFault { addr })?.mm.write(addr, data)
    }

    /// Say what the program is doing, as an event of this task in function `func` (the code pane marks the
    /// caller's line).
    #[track_caller]
    pub fn log(&mut self, func: &'static str, text: String, changed: &'static [&'static str]) {
        let task = self.k.task_name(self.tid);
        self.k.log.push(&task, func, crate::tags::tag(func), text, changed);
    }

    /// Run `f` on this task's program (if it is a `T`): the memory its threads share. The program is lent
    /// out meanwhile, so its other threads do not run inside `f`.
    pub fn program<T: UserProgram, R>(&mut self, f: impl FnOnce(&mut T, &mut Sys<'_>) -> R) -> Option<R> {
        self.k.with_program(self.tid, f)
    }

    /// The door for another thread `tid` of the same process (to run a thread just made with `clone()` at
    /// once, as it would start running).
    pub fn thread(&mut self, tid: Tid) -> Option<Sys<'_>> {
        let same = self.k.proc_of(tid) == self.k.proc_of(self.tid) && (tid as usize) < self.k.tasks.len();
        same.then_some(Sys { k: &mut *self.k, tid, nested: true })
    }
}
