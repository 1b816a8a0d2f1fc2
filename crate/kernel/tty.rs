//! The Launcher's terminal: descriptors 0, 1 and 2 of a new process are three files on it, its input
//! (what is typed, or piped in) and its two output streams. What the Launcher prints (early-console strings,
//! the console device's output, its `errx()` messages) is what the CLI shows and the page's console pane
//! lists. A `read()` of the input with nothing typed sleeps until something is (a terminal nobody types
//! at, not a pipe at its end).

use std::collections::VecDeque;

use super::file::{Buf, FileId, FileOps, Resume, Sleep};
use super::syscall::{Outcome, SysResult};
use super::task::Tid;
use super::Kernel;
use crate::errno::Errno;

/// Which stream of the terminal a file is (its `private_data`).
pub const STDIN: usize = 0;
pub const STDOUT: usize = 1;
pub const STDERR: usize = 2;

/// What the terminal holds.
#[derive(Clone, Debug, Default)]
pub struct Tty {
    /// Typed and not yet read.
    pub input: VecDeque<u8>,
    /// Everything written to stdout and stderr (each kept up to `params::MAX_TTY_OUTPUT` bytes).
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Where the terminal is shown as it is written, if anywhere: `lguest-sim run` connects it to its own
    /// stdout and stderr, so the Guest's console streams as the real Launcher's does. (Stream, bytes.)
    pub echo: Option<fn(usize, &[u8])>,
}

pub static TTY_FOPS: FileOps = FileOps { name: "tty", read: tty_read, write: tty_write, resume: tty_resume, release: |_, _| {}, owner: None };

fn stream(k: &Kernel, file: FileId) -> usize {
    k.files.get(file).and_then(|f| f.private_data).unwrap_or(STDIN)
}

/// Copy what was typed into the buffers, in order, as far as it goes.
fn take_input(k: &mut Kernel, buf: &Buf) -> Result<i64, SysResult> {
    let mut n = 0i64;
    for &(addr, len) in &buf.iov {
        let part: Vec<u8> = {
            let take = (len as usize).min(k.tty.input.len());
            k.tty.input.drain(..take).collect()
        };
        if !k.copy_to_user(addr, &part) {
            return Err(SysResult::err(Errno::EFAULT, format!("the buffer at {addr:#x} is not mapped")));
        }
        n += part.len() as i64;
    }
    Ok(n)
}

fn tty_read(k: &mut Kernel, file: FileId, buf: Buf, off: u64) -> Outcome {
    if stream(k, file) != STDIN {
        return Outcome::Done(SysResult::err(Errno::EBADF, "the terminal's output streams are not open for reading"));
    }
    if k.tty.input.is_empty() && !buf.is_empty() {
        let tid = k.current;
        k.sleep(tid, Sleep { file, buf, off, why: "waiting for terminal input".into(), shown: None, asleep: false, holds_file: false, running: false });
        return Outcome::Blocked { why: "waiting for terminal input".into() };
    }
    Outcome::Done(match take_input(k, &buf) {
        Ok(n) => SysResult::ok(n, "read what was typed at the terminal"),
        Err(e) => e,
    })
}

fn tty_resume(k: &mut Kernel, tid: Tid, s: &Sleep) -> Resume {
    if !k.tty.input.is_empty() {
        return Resume::Done(match take_input(k, &s.buf) {
            Ok(n) => SysResult::ok(n, "read what was typed at the terminal"),
            Err(e) => e,
        });
    }
    if k.tasks.get(tid as usize).is_some_and(|t| t.signal_pending) {
        return Resume::Done(SysResult::err(Errno::ERESTARTSYS, "a signal interrupted the read of the terminal (user space sees EINTR)"));
    }
    Resume::Blocked(s.why.clone())
}

fn tty_write(k: &mut Kernel, file: FileId, buf: u32, len: u32, _off: u64) -> SysResult {
    let which = stream(k, file);
    if which == STDIN {
        return SysResult::err(Errno::EBADF, "the terminal's input is not open for writing");
    }
    // What is past the terminal's keeping is not copied at all (the screen scrolled it away).
    let kept = if which == STDOUT { k.tty.stdout.len() } else { k.tty.stderr.len() };
    let take = (len as usize).min(crate::params::MAX_TTY_OUTPUT.saturating_sub(kept));
    let Some(bytes) = k.copy_from_user(buf, take as u32) else {
        return SysResult::err(Errno::EFAULT, format!("the buffer at {buf:#x} is not mapped for {len} bytes"));
    };
    if let Some(echo) = k.tty.echo {
        echo(which, &bytes);
    }
    let out = if which == STDOUT { &mut k.tty.stdout } else { &mut k.tty.stderr };
    out.extend_from_slice(&bytes);
    SysResult::ok(len as i64, "written to the terminal")
}
