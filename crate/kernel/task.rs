//! Tasks and processes (`task_struct`, and the part of it a process's threads share): who is running, what
//! it may touch, and whether it is in user space or asleep in the kernel.
//!
//! A process is an address space ([`Mm`]), a table of descriptors, and the user program whose code its
//! threads run (see [`super::user`]). A task is one thread of it. The lguest driver asks two things of the
//! current task: is it the one that initialized this Guest (`cpu->tsk`, else `-EPERM`), and has a signal
//! arrived for it (`signal_pending(current)`, so `read()` returns `-ERESTARTSYS`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::file::FileId;
use super::mm::Mm;
use super::user::UserProgram;

pub type Pid = u32;
pub type Tid = u32;

/// What `current` is while the kernel runs on behalf of no task: a timer interrupt's handler, or a signal
/// sent from outside the simulation. Its events are named "timer".
pub const IRQ_CONTEXT: Tid = Tid::MAX;

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TaskState {
    /// In user space, ready for its next system call.
    User,
    /// Asleep inside a system call (a `read()` of `/dev/lguest`, of an eventfd, of the terminal).
    InRead,
    /// Exited (it was killed, or its process died).
    Exited,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub tid: Tid,
    pub name: String,
    pub pid: Pid,
    pub state: TaskState,
    /// A signal has been sent and not yet delivered (`signal_pending(current)`).
    pub signal_pending: bool,
    /// The task runs its process's program (a thread the program made with `clone()`): the scheduler
    /// resumes it when its system call returns. Other tasks are driven from outside the simulation (a
    /// scenario's lines, the Launcher's main loop), which collect their results with `wait`.
    pub by_program: bool,
    /// `current->files` when it is the task's own: a thread made by `clone()` without `CLONE_FILES` gets a
    /// copy of its parent's descriptor table (more references on the same files), which it then changes
    /// alone. `None`: the task uses its process's table (the main thread, and `CLONE_FILES` threads).
    pub files: Option<BTreeMap<i32, FileId>>,
}

/// A process: its address space, its descriptors, and the program its threads run.
#[derive(Debug)]
pub struct Process {
    pub pid: Pid,
    pub name: String,
    pub mm: Mm,
    /// File descriptors: fd number to the open file.
    pub fds: BTreeMap<i32, FileId>,
    /// The user program (the Launcher's code and the memory its threads share), if the process runs one the
    /// scheduler can resume. It is lent out while it runs, so `None` also means "running right now".
    pub program: Option<Box<dyn UserProgram>>,
}

impl Clone for Process {
    fn clone(&self) -> Process {
        Process { pid: self.pid, name: self.name.clone(), mm: self.mm.clone(), fds: self.fds.clone(), program: self.program.as_ref().map(|p| p.clone_box()) }
    }
}

/// The lowest free descriptor number of a table, as `open()` and `eventfd()` choose it.
pub fn lowest_free_fd(fds: &BTreeMap<i32, FileId>) -> Option<i32> {
    (0..crate::params::MAX_FDS as i32).find(|fd| !fds.contains_key(fd))
}
