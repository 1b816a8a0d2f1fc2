//! Open files (`struct file`) and what they do: each file points at a table of file operations, as
//! `lguest_fops` is the table behind `/dev/lguest`. The kernel never knows what a file is beyond its table:
//! `read()`, `write()` and the last `close()` go to the table's functions, and a read that sleeps comes
//! back to the table's `resume` when something may have changed.
//!
//! The tables of this kernel: `/dev/lguest` ([`crate::lguest::LGUEST_FOPS`], registered in
//! [`super::drivers`]), eventfds ([`super::eventfd::EVENTFD_FOPS`]) and the terminal
//! ([`super::tty::TTY_FOPS`]).

use super::syscall::{Outcome, SysResult};
use super::task::Tid;
use super::Kernel;

/// Index of an open `struct file` in the kernel's file table.
pub type FileId = usize;

/// `struct file_operations`: what a file does.
pub struct FileOps {
    /// What kind of file it is, for the page (`lguest`, `eventfd`, `tty`).
    pub name: &'static str,
    /// `read()` at offset `off` into the caller's buffer: a result now, or the caller asleep in the kernel
    /// (the function has then recorded a [`Sleep`] with [`Kernel::sleep`]).
    pub read: fn(&mut Kernel, FileId, Buf, u64) -> Outcome,
    /// `write()`.
    pub write: fn(&mut Kernel, FileId, u32, u32, u64) -> SysResult,
    /// Where a sleeping read goes on when the scheduler looks at it again.
    pub resume: fn(&mut Kernel, Tid, &Sleep) -> Resume,
    /// `release()`: the last reference to the file went.
    pub release: fn(&mut Kernel, FileId),
    /// `owner`: the module whose code these are (`THIS_MODULE`), which each open file keeps loaded; `None`
    /// for the kernel's own.
    pub owner: Option<&'static str>,
}

impl std::fmt::Debug for FileOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileOps({})", self.name)
    }
}

/// The user memory a read fills: one buffer, or several (`readv()`), as (address, length) pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buf {
    pub iov: Vec<(u32, u32)>,
}

impl Buf {
    pub fn one(addr: u32, len: u32) -> Buf {
        Buf { iov: vec![(addr, len)] }
    }

    /// The first buffer's address and the total length.
    pub fn addr(&self) -> u32 {
        self.iov.first().map(|b| b.0).unwrap_or(0)
    }

    pub fn len(&self) -> u32 {
        self.iov.iter().fold(0u32, |n, b| n.saturating_add(b.1))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `struct file`.
#[derive(Clone, Debug)]
pub struct File {
    pub ops: &'static FileOps,
    /// `private_data`: what the file's functions keep (the Guest of a `/dev/lguest` file once
    /// `LHREQ_INITIALIZE` succeeded, an eventfd's context, the terminal's stream).
    pub private_data: Option<usize>,
    /// `f_count`: descriptors (in any process) and system calls in progress referring to it.
    pub f_count: u32,
}

/// A task asleep in a read, and what the read needs to go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sleep {
    pub file: FileId,
    pub buf: Buf,
    pub off: u64,
    /// Why it does not return yet, in words (what `wait` reports).
    pub why: String,
    /// What the task list says of it, if not `why`.
    pub shown: Option<&'static str>,
    /// Asleep in `schedule()` until something wakes it (`wake_up_process()`, a signal): the scheduler does
    /// not look at it before. Otherwise the read is looked at again every time the scheduler runs.
    pub asleep: bool,
    /// The read took its own reference on the file (`fget()`), dropped when it returns.
    pub holds_file: bool,
    /// The task is not asleep at all but running on a CPU, inside the call (a Guest executing): what
    /// `kick_process()` can interrupt.
    pub running: bool,
}

/// What a sleeping read does when resumed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resume {
    /// It returns.
    Done(SysResult),
    /// It goes on sleeping, or running (a Guest that keeps computing); looked at again next time.
    Blocked(String),
    /// It sleeps until woken (a halted Guest).
    Asleep(String),
    /// It is running on its CPU, still inside the call (a Guest executing); looked at again next time, and
    /// `kick_process()` may interrupt it.
    Running(String),
}

impl Kernel {
    /// The file behind descriptor `fd` of the calling task (in its own table or its process's).
    pub fn fdget(&self, fd: i32) -> Option<FileId> {
        self.fd_table(self.current)?.get(&fd).copied()
    }

    /// A new open file with one reference, not yet behind any descriptor.
    pub fn alloc_file(&mut self, ops: &'static FileOps, private_data: Option<usize>) -> FileId {
        self.files.push(File { ops, private_data, f_count: 1 });
        self.files.len() - 1
    }

    /// `fget()`: another reference on an open file.
    pub fn fget(&mut self, file: FileId) {
        if let Some(f) = self.files.get_mut(file) {
            f.f_count += 1;
        }
    }

    /// `fput()`: drop a reference; the last one releases the file (`close()` of `/dev/lguest` is the
    /// file's release method, so it runs only when no descriptor or call refers to the file any more).
    pub fn fput(&mut self, file: FileId) {
        let Some(f) = self.files.get_mut(file) else { return };
        f.f_count = f.f_count.saturating_sub(1);
        if f.f_count == 0 {
            let release = f.ops.release;
            release(self, file);
        }
    }

    /// Is `file` one of `ops`'s files? Its `private_data` if so.
    pub fn private_data(&self, file: FileId, ops: &'static FileOps) -> Option<Option<usize>> {
        let f = self.files.get(file)?;
        std::ptr::eq(f.ops, ops).then_some(f.private_data)
    }
}
