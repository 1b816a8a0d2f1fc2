//! Eventfds (fs/eventfd.c): a 64-bit counter a writer adds to and a reader drains, with a reference count.
//!
//! The Launcher makes one per virtqueue (`eventfd(0, 0)`) and hands its number to `LHREQ_EVENTFD`;
//! [`Kernel::eventfd_ctx_fdget`] turns that number into a referenced context, [`Kernel::eventfd_signal`]
//! adds to it when the Guest NOTIFYs the matching address, and [`Kernel::eventfd_ctx_put`] drops the
//! reference at `close()`. A `read()` of a counter at 0 sleeps until it is signalled.

use serde::Serialize;

use super::alloc::AllocKind;
use super::file::{Buf, FileId, FileOps, Resume, Sleep};
use super::syscall::{fail, Fail, Outcome, SysResult};
use super::task::Tid;
use super::Kernel;
use crate::errno::Errno;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventfdCtx {
    /// The 64-bit counter: `eventfd_signal(ctx, 1)` adds one; a `read()` returns it and sets it to 0.
    pub count: u64,
    /// References: one per open file for it, one per `eventfd_ctx_fdget()` not yet put.
    pub refs: u32,
}

/// The file operations of an eventfd (`eventfd_fops`); `private_data` is the context's index.
pub static EVENTFD_FOPS: FileOps =
    FileOps { name: "eventfd", read: eventfd_read, write: eventfd_write, resume: eventfd_resume, release: eventfd_release, owner: None };

fn ctx_of(k: &Kernel, file: FileId) -> usize {
    k.files.get(file).and_then(|f| f.private_data).unwrap_or(0)
}

/// `eventfd_read()`: 8 bytes, or sleep while the counter is 0.
fn eventfd_read(k: &mut Kernel, file: FileId, buf: Buf, off: u64) -> Outcome {
    if buf.len() < 8 {
        return Outcome::Done(SysResult::err(Errno::EINVAL, "an eventfd is read 8 bytes at a time"));
    }
    let tid = k.current;
    let why = "waiting for the eventfd to be signalled".to_string();
    k.sleep(tid, Sleep { file, buf, off, why, shown: Some("in read() of an eventfd"), asleep: false, holds_file: false, running: false });
    match k.progress(tid) {
        Some(r) => Outcome::Done(r),
        None => Outcome::Blocked { why: "the eventfd's counter is 0: the thread sleeps until it is signalled".into() },
    }
}

/// The sleeping read looks at the counter again.
fn eventfd_resume(k: &mut Kernel, tid: Tid, s: &Sleep) -> Resume {
    let ctx = ctx_of(k, s.file);
    let count = k.eventfds.get(ctx).map(|c| c.count).unwrap_or(0);
    if count > 0 {
        if let Some(c) = k.eventfds.get_mut(ctx) {
            c.count = 0;
        }
        if k.copy_to_user(s.buf.addr(), &count.to_le_bytes()) {
            k.ev("launcher", format!("read() of the eventfd returns: the counter was {count}"), &["eventfds"]);
            let mut r = SysResult::ok(8, "the eventfd had been signalled");
            r.count = Some(count);
            Resume::Done(r)
        } else {
            Resume::Done(SysResult::err(Errno::EFAULT, format!("the buffer at {:#x} is not mapped", s.buf.addr())))
        }
    } else if k.tasks.get(tid as usize).is_some_and(|t| t.signal_pending) {
        Resume::Done(SysResult::err(Errno::ERESTARTSYS, "a signal interrupted the sleeping read (user space sees EINTR)"))
    } else {
        Resume::Blocked(s.why.clone())
    }
}

/// `eventfd_write()`: an 8-byte value added to the counter.
fn eventfd_write(k: &mut Kernel, file: FileId, buf: u32, len: u32, _off: u64) -> SysResult {
    if len < 8 {
        return SysResult::err(Errno::EINVAL, "an eventfd takes writes of 8 bytes");
    }
    let Some(b) = k.copy_from_user(buf, 8) else {
        return SysResult::err(Errno::EFAULT, format!("the buffer at {buf:#x} is not mapped"));
    };
    let v = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    if v == u64::MAX {
        return SysResult::err(Errno::EINVAL, "0xffffffffffffffff cannot be added to an eventfd");
    }
    let ctx = ctx_of(k, file);
    if let Some(c) = k.eventfds.get_mut(ctx) {
        c.count = c.count.saturating_add(v);
    }
    SysResult::ok(8, "added to the eventfd's counter")
}

/// The file's last reference went: so does its reference on the context.
fn eventfd_release(k: &mut Kernel, file: FileId) {
    let ctx = ctx_of(k, file);
    k.eventfd_ctx_put(ctx);
}

impl Kernel {
    /// `eventfd(0, 0)`: a counter at 0 behind a new descriptor.
    pub(crate) fn sys_eventfd(&mut self) -> SysResult {
        let me = self.current;
        let Some(fd) = self.fd_table(me).and_then(super::task::lowest_free_fd) else {
            return SysResult::err(Errno::EMFILE, "the Launcher has no free descriptor");
        };
        let ctx = self.eventfds.len();
        self.eventfds.push(EventfdCtx { count: 0, refs: 1 });
        let file = self.alloc_file(&EVENTFD_FOPS, Some(ctx));
        if let Some(t) = self.fd_table_mut(me) {
            t.insert(fd, file);
        }
        self.ev("launcher", format!("eventfd(0, 0) = {fd}: a counter at 0 the Launcher can hand to LHREQ_EVENTFD"), &["files", "eventfds"]);
        SysResult::ok(fd as i64, "a new eventfd")
    }

    /// X:400 `eventfd_ctx_fdget()`: the context behind descriptor `fd` of the calling task, with a reference
    /// taken (and its entry in the account book); `-EBADF` if the descriptor is not open, `-EINVAL` if it is
    /// no eventfd.
    pub fn eventfd_ctx_fdget(&mut self, fd: i32) -> Result<(usize, u32), Fail> {
        let Some(file) = self.fdget(fd) else {
            self.ev("eventfd_ctx_fdget", format!("fget({fd}) finds no open file: -EBADF"), &[]);
            return fail(Errno::EBADF, format!("descriptor {fd} is not open in the calling task"));
        };
        let Some(Some(ctx)) = self.private_data(file, &EVENTFD_FOPS) else {
            self.ev("eventfd_ctx_fdget", format!("descriptor {fd} is not an eventfd: -EINVAL"), &[]);
            return fail(Errno::EINVAL, format!("descriptor {fd} is open but is not an eventfd"));
        };
        if let Some(c) = self.eventfds.get_mut(ctx) {
            c.refs += 1;
        }
        let reference = self.alloc.take_ref(AllocKind::EventfdRef, format!("reference on eventfd ctx {ctx}"), "add_eventfd");
        self.ev("eventfd_ctx_fdget", format!("descriptor {fd} is eventfd ctx {ctx}: take a reference"), &["eventfds", "alloc"]);
        Ok((ctx, reference))
    }

    /// X:401 `eventfd_signal()`: add one and wake a reader sleeping on it.
    pub fn eventfd_signal(&mut self, ctx: usize) {
        if let Some(c) = self.eventfds.get_mut(ctx) {
            c.count = c.count.saturating_add(1);
            let n = c.count;
            self.ev("eventfd_signal", format!("eventfd ctx {ctx}: counter += 1 (now {n}); a thread reading it wakes"), &["eventfds"]);
        }
    }

    /// `eventfd_ctx_put()`: drop a reference on a context.
    pub fn eventfd_ctx_put(&mut self, ctx: usize) {
        if let Some(c) = self.eventfds.get_mut(ctx) {
            c.refs = c.refs.saturating_sub(1);
        }
    }
}
