//! The system calls user programs make, and what they return. [`Kernel::syscall`] is the entry: it runs
//! the call as the calling task (`current`), and either returns at once or leaves the task asleep in the
//! kernel (a `read()` whose Guest is halted or still running); the scheduler ([`super::sched`]) moves
//! sleeping calls on when something wakes them. Files are reached only through their operations table.

use serde::Serialize;

use super::file::Buf;
use super::mm::MapKind;
use super::task::{TaskState, Tid};
use super::Kernel;
use crate::errno::Errno;

/// A system call a task can make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "call")]
pub enum Syscall {
    /// `open("/dev/lguest", O_RDWR)`.
    Open,
    /// `pwrite(fd, buf, len, off)`: the offset is the cpu number for `/dev/lguest`.
    Write {
        fd: i32,
        buf: u32,
        len: u32,
        off: u64,
    },
    /// `pread(fd, buf, len, off)`.
    Read {
        fd: i32,
        buf: u32,
        len: u32,
        off: u64,
    },
    /// `readv(fd, iov, n)`: into several buffers, (address, length) each.
    Readv {
        fd: i32,
        iov: Vec<(u32, u32)>,
    },
    /// `writev(fd, iov, n)`: from several buffers.
    Writev {
        fd: i32,
        iov: Vec<(u32, u32)>,
    },
    Close {
        fd: i32,
    },
    /// `eventfd(0, 0)`.
    Eventfd,
    /// `mmap()` of `len` bytes at `addr` (`MAP_FIXED`).
    Mmap {
        addr: u32,
        len: u32,
        kind: MapKind,
    },
    /// `clone(fn, stack, CLONE_VM | SIGCHLD, arg)`: a thread of the caller's process that runs the caller's
    /// program. It shares the memory (`CLONE_VM`) but not the descriptor table: without `CLONE_FILES` it
    /// gets a copy. Task names are unique here (scenarios name tasks), so a name in use is `-EEXIST`.
    Clone {
        name: String,
    },
    /// `kill(thread, SIGTERM)` then `waitpid()`: a thread of the caller's process leaves whatever call it
    /// was in and is gone.
    Tkill {
        tid: Tid,
    },
    /// `exit_group()`: every task of the process ends and its descriptors close.
    ExitGroup,
}

/// A finished system call: the value it returned and what a student should know about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SysResult {
    /// The kernel function's return value: a count, a descriptor, 0, or a negative errno.
    pub ret: i64,
    pub errno: Option<Errno>,
    /// For a `read()` that returned the Guest's NOTIFY: the address the buffer received.
    pub notify: Option<u32>,
    /// For a `read()` of a dead Guest: the bytes of the reason it copied (without a trailing NUL).
    pub reason: Option<String>,
    /// For an eventfd `read()`: the counter it drained.
    pub count: Option<u64>,
    /// One line saying why this value came back.
    pub why: String,
}

impl SysResult {
    pub fn ok(ret: i64, why: impl Into<String>) -> SysResult {
        SysResult { ret, errno: None, notify: None, reason: None, count: None, why: why.into() }
    }

    pub fn err(errno: Errno, why: impl Into<String>) -> SysResult {
        SysResult { ret: errno.ret(), errno: Some(errno), notify: None, reason: None, count: None, why: why.into() }
    }

    /// Did it succeed?
    pub fn is_ok(&self) -> bool {
        self.errno.is_none()
    }

    /// The canonical text the scenario language compares against: `12`, `-EINVAL`, `4 notify=0x7000`.
    pub fn render(&self) -> String {
        let mut s = match self.errno {
            Some(e) => e.to_string(),
            None => self.ret.to_string(),
        };
        if let Some(n) = self.notify {
            s += &format!(" notify={n:#x}");
        }
        if let Some(r) = &self.reason {
            s += &format!(" reason={r:?}");
        }
        if let Some(c) = self.count {
            s += &format!(" count={c}");
        }
        s
    }
}

/// A kernel path that failed: the errno and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fail {
    pub errno: Errno,
    pub why: String,
}

pub fn fail<T>(errno: Errno, why: impl Into<String>) -> Result<T, Fail> {
    Err(Fail { errno, why: why.into() })
}

impl From<Fail> for SysResult {
    fn from(f: Fail) -> SysResult {
        SysResult::err(f.errno, f.why)
    }
}

/// What a system call did right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum Outcome {
    Done(SysResult),
    /// The task is inside the kernel and will stay there until something wakes it.
    Blocked {
        why: String,
    },
}

impl Kernel {
    /// Make a system call as task `tid`, then let the scheduler move other sleeping calls on. A task already
    /// asleep in a call cannot make another. `Err` is a call the simulation cannot make at all (no such
    /// task, it has exited, or it is still in its last call), in words.
    pub fn syscall(&mut self, tid: Tid, call: Syscall) -> Result<Outcome, String> {
        let out = self.syscall_unsettled(tid, call)?;
        self.settle();
        Ok(out)
    }

    /// The system call alone, without moving other sleeping tasks on afterwards: how a program the
    /// scheduler resumed makes its calls (it runs until it sleeps, then others run).
    pub fn syscall_unsettled(&mut self, tid: Tid, call: Syscall) -> Result<Outcome, String> {
        let task = self.tasks.get(tid as usize).ok_or_else(|| format!("no task {tid}"))?;
        if task.state == TaskState::Exited {
            return Err(format!("task {:?} has exited", task.name));
        }
        if self.sched.pending.contains_key(&tid) {
            return Err(format!("task {:?} is still blocked in its last system call (use wait)", task.name));
        }
        if let Some(r) = self.sched.finished.get(&tid) {
            return Err(format!("task {:?}'s last system call has returned {}: collect it with wait first", task.name, r.render()));
        }
        self.current = tid;
        let out = match call {
            Syscall::Open => Outcome::Done(self.sys_open()),
            Syscall::Eventfd => Outcome::Done(self.sys_eventfd()),
            Syscall::Close { fd } => Outcome::Done(self.sys_close(fd)),
            Syscall::Write { fd, buf, len, off } => Outcome::Done(self.sys_write(fd, buf, len, off)),
            Syscall::Writev { fd, iov } => Outcome::Done(self.sys_writev(fd, &iov)),
            Syscall::Read { fd, buf, len, off } => self.sys_read(fd, Buf::one(buf, len), off),
            Syscall::Readv { fd, iov } => self.sys_read(fd, Buf { iov }, 0),
            Syscall::Mmap { addr, len, kind } => Outcome::Done(self.sys_mmap(addr, len, kind)),
            Syscall::Clone { name } => Outcome::Done(match self.new_thread(&name, true, false) {
                Ok(t) => SysResult::ok(t as i64, "a new thread of the caller's process"),
                Err(why) => SysResult::err(Errno::EEXIST, why),
            }),
            Syscall::Tkill { tid: t } => Outcome::Done(self.sys_tkill(t)),
            Syscall::ExitGroup => {
                self.exit_process(tid);
                Outcome::Done(SysResult::ok(0, "the process is gone"))
            }
        };
        Ok(match out {
            Outcome::Done(r) => Outcome::Done(self.return_to_user(tid, r)),
            blocked => blocked,
        })
    }

    /// Leaving the kernel: a signal that arrived during the call is delivered now.
    pub(crate) fn return_to_user(&mut self, tid: Tid, r: SysResult) -> SysResult {
        if let Some(t) = self.tasks.get_mut(tid as usize) {
            if t.state != TaskState::Exited {
                t.state = TaskState::User;
            }
            if t.signal_pending {
                t.signal_pending = false;
                let name = t.name.clone();
                self.log.push(&name, "launcher", "X:600", format!("{name} returns to user space and runs its signal handler"), &["tasks"]);
            }
        }
        r
    }

    /// `open()` of `/dev/lguest`, the one device file of this kernel ([`super::drivers::MISC_DEVICES`]).
    fn sys_open(&mut self) -> SysResult {
        let me = self.current;
        let Some(fd) = self.fd_table(me).and_then(super::task::lowest_free_fd) else {
            return SysResult::err(Errno::EMFILE, "the Launcher has no free descriptor");
        };
        let (path, fops) = super::drivers::MISC_DEVICES[0];
        // The node of a dynamic misc minor is made by misc_register(): if the module never registered it,
        // there is no such file.
        if !self.lguest.misc_registered {
            self.ev("launcher", format!("open(\"{path}\", O_RDWR): no such file: the lguest module is not loaded, so no misc device made the node"), &[]);
            return SysResult::err(Errno::ENOENT, "there is no /dev/lguest: the lguest module did not load");
        }
        let file = self.alloc_file(fops, None);
        if let Some(t) = self.fd_table_mut(me) {
            t.insert(fd, file);
        }
        self.ev("launcher", format!("open(\"{path}\", O_RDWR) = {fd}: a new file with no Guest yet (private_data is NULL)"), &["files"]);
        SysResult::ok(fd as i64, "the misc device opened; nothing is allocated until LHREQ_INITIALIZE")
    }

    fn sys_close(&mut self, fd: i32) -> SysResult {
        let me = self.current;
        let Some(file) = self.fd_table_mut(me).and_then(|t| t.remove(&fd)) else {
            return SysResult::err(Errno::EBADF, format!("descriptor {fd} is not open"));
        };
        self.ev("launcher", format!("close({fd})"), &["files"]);
        self.fput(file);
        SysResult::ok(0, format!("descriptor {fd} closed"))
    }

    /// `pwrite64()`: a negative offset is -EINVAL before the descriptor is even looked up; then `vfs_write()`.
    fn sys_write(&mut self, fd: i32, buf: u32, len: u32, off: u64) -> SysResult {
        if (off as i64) < 0 {
            self.ev("rw_verify_area", format!("pwrite64() at offset {}: a negative position is -EINVAL before any file is looked at", off as i64), &[]);
            return SysResult::err(Errno::EINVAL, "a negative file offset (sys_pwrite64 refuses it first)");
        }
        let Some(file) = self.fdget(fd) else {
            return SysResult::err(Errno::EBADF, format!("descriptor {fd} is not open"));
        };
        self.vfs_write(file, buf, len, off)
    }

    /// `vfs_write()` (fs/read_write.c): the buffer must be user memory (`access_ok()`, -EFAULT), then the
    /// count and position must make sense (`rw_verify_area()`, -EINVAL), and only then does the file's own
    /// `write` run, with the count cut to `MAX_RW_COUNT`.
    fn vfs_write(&mut self, file: super::file::FileId, buf: u32, len: u32, off: u64) -> SysResult {
        if let Err(f) = self.access_ok(buf, len) {
            return f.into();
        }
        let len = match self.rw_verify_area(off, len) {
            Ok(n) => n,
            Err(f) => return f.into(),
        };
        let write = self.files[file].ops.write;
        write(self, file, buf, len, off)
    }

    /// `writev()`: `rw_copy_check_uvector()` checks every buffer first (a length that is negative as a
    /// `ssize_t` is -EINVAL, a buffer outside user space -EFAULT), then each is written in turn, as far as they go.
    fn sys_writev(&mut self, fd: i32, iov: &[(u32, u32)]) -> SysResult {
        let Some(file) = self.fdget(fd) else {
            return SysResult::err(Errno::EBADF, format!("descriptor {fd} is not open"));
        };
        for &(buf, len) in iov {
            if (len as i32) < 0 {
                return SysResult::err(Errno::EINVAL, format!("an iovec of {len:#x} bytes: negative as a ssize_t"));
            }
            if let Err(f) = self.access_ok(buf, len) {
                return f.into();
            }
        }
        let mut n = 0i64;
        for &(buf, len) in iov {
            let r = self.vfs_write(file, buf, len, 0);
            if !r.is_ok() {
                return if n > 0 { SysResult::ok(n, "written up to the buffer that failed") } else { r };
            }
            n += r.ret;
        }
        SysResult::ok(n, "every buffer written")
    }

    /// `pread64()` and `readv()`: a negative offset is -EINVAL first; then, as `vfs_read()` does, every
    /// buffer must be user memory (-EFAULT) and the count and position sane (-EINVAL) before the file's own
    /// `read` runs.
    fn sys_read(&mut self, fd: i32, buf: Buf, off: u64) -> Outcome {
        if (off as i64) < 0 {
            self.ev("rw_verify_area", format!("pread64() at offset {}: a negative position is -EINVAL before any file is looked at", off as i64), &[]);
            return Outcome::Done(SysResult::err(Errno::EINVAL, "a negative file offset (sys_pread64 refuses it first)"));
        }
        let Some(file) = self.fdget(fd) else {
            return Outcome::Done(SysResult::err(Errno::EBADF, format!("descriptor {fd} is not open")));
        };
        for &(addr, len) in &buf.iov {
            if buf.iov.len() > 1 && (len as i32) < 0 {
                return Outcome::Done(SysResult::err(Errno::EINVAL, format!("an iovec of {len:#x} bytes: negative as a ssize_t")));
            }
            if let Err(f) = self.access_ok(addr, len) {
                return Outcome::Done(f.into());
            }
        }
        let buf = match self.rw_verify_area(off, buf.len()) {
            Ok(n) if buf.iov.len() == 1 => Buf::one(buf.addr(), n),
            Ok(_) => buf,
            Err(f) => return Outcome::Done(f.into()),
        };
        let read = self.files[file].ops.read;
        read(self, file, buf, off)
    }

    /// `access_ok()` (i386 uaccess.h): `[addr, addr + size)` must lie below the user address limit (the
    /// 3 GB of user space, `TASK_SIZE`), without wrapping. Only the range is checked, not whether anything
    /// is mapped there: that fault comes later, as -EFAULT from the copy itself.
    pub fn access_ok(&mut self, addr: u32, size: u32) -> Result<(), Fail> {
        if addr as u64 + size as u64 > crate::params::TASK_SIZE as u64 {
            self.ev(
                "access_ok",
                format!("{size:#x} bytes at {addr:#x} reach past user space (TASK_SIZE {:#x}): -EFAULT before the driver runs", crate::params::TASK_SIZE),
                &[],
            );
            return fail(Errno::EFAULT, format!("the buffer at {addr:#x} ({size:#x} bytes) is not in user space: access_ok() fails"));
        }
        Ok(())
    }

    /// `rw_verify_area()` (fs/read_write.c): a count that is negative as a `ssize_t` (2 GB or more on i386), a
    /// negative position, or a position plus count that overflows is -EINVAL; otherwise the count, cut to
    /// `MAX_RW_COUNT`.
    pub fn rw_verify_area(&mut self, off: u64, count: u32) -> Result<u32, Fail> {
        let pos = off as i64;
        if (count as i32) < 0 || pos < 0 || pos.checked_add(count as i64).is_none_or(|e| e < 0) {
            self.ev("rw_verify_area", format!("count {count:#x} at position {pos}: -EINVAL before the driver runs"), &[]);
            return fail(Errno::EINVAL, format!("rw_verify_area(): a count of {count:#x} bytes is negative as a ssize_t, or the position is"));
        }
        Ok(count.min(crate::params::MAX_RW_COUNT))
    }

    fn sys_mmap(&mut self, addr: u32, len: u32, kind: MapKind) -> SysResult {
        let pidx = self.proc_of(self.current);
        let mm = &mut self.procs[pidx].mm;
        let end = addr as u64 + len as u64;
        if len == 0 || end > u32::MAX as u64 + 1 || mm.regions.iter().any(|r| (r.start as u64) < end && (addr as u64) < r.start as u64 + r.len as u64) {
            return SysResult::err(Errno::EINVAL, format!("{len:#x} bytes at {addr:#x} do not fit or overlap a mapping"));
        }
        match kind {
            MapKind::Data { what } => mm.map_anon(addr, len, &what),
            MapKind::GuestMemory => mm.map_guest(addr, len),
        }
        SysResult::ok(addr as i64, "mapped")
    }

    /// A thread of the caller's process ends (it must be one).
    fn sys_tkill(&mut self, t: Tid) -> SysResult {
        let me = self.current;
        if self.tasks.get(t as usize).map(|x| x.pid) != self.tasks.get(me as usize).map(|x| x.pid) {
            return SysResult::err(Errno::EPERM, format!("task {t} is not a thread of the caller's process"));
        }
        self.exit_task(t);
        self.current = me;
        SysResult::ok(0, "the thread is gone")
    }
}
