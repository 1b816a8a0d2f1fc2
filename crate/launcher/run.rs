//! The Launcher's main line (Documentation/lguest/lguest.c, `main()` and `run_guest()`): map the Guest's
//! memory, load the Guest, set up the devices page and the console, `tell_kernel()` with LHREQ_INITIALIZE,
//! then `pread()` in a loop. Each NOTIFY that comes back goes to `handle_output()`
//! (crate::launcher::devices): a device's status, a queue's first kick, an early-console string, or a "Bad
//! NOTIFY"; `-ENOENT` means the Guest died, and a second read fetches why; `-ERESTART` means reboot. Kicks
//! of a running device's queues never come back here: they wake its threads through eventfds.
//!
//! All of it through the one door, [`Sys`]: what it prints goes to its terminal, and its exit status is
//! what the real Launcher would return.

use super::elf::load_elf;
use super::{Launcher, STDIO_BUF, STDIO_BUF_LEN};
use crate::errno::Errno;
use crate::kernel::syscall::{Outcome, SysResult, Syscall};
use crate::kernel::user::Sys;
use crate::params::{LAUNCHER_SCRATCH, MAX_IDLE_WAITS, PAGE_SIZE};

/// The descriptor `boot()` opens `/dev/lguest` on: 0, 1 and 2 are taken, so it is 3.
pub const LGUEST_FD: i32 = 3;

/// `errx()`'s text (and `warnx()`'s): to stderr through the Launcher's print buffer.
fn eprint(sys: &mut Sys<'_>, text: &str) {
    for part in text.as_bytes().chunks(STDIO_BUF_LEN as usize) {
        if sys.write(STDIO_BUF, part).is_ok() {
            let _ = sys.syscall(Syscall::Write { fd: 2, buf: STDIO_BUF, len: part.len() as u32, off: 0 });
        }
    }
}

/// Everything `main()` does before its loop: map memory, load `image` (an ELF32 i386 executable), set up
/// the devices and `tell_kernel()`. `Err` is what it printed before giving up (it has then exited 1).
pub fn boot(sys: &mut Sys<'_>, image: &[u8]) -> Result<(), String> {
    let step = |sys: &mut Sys<'_>| -> Result<(), String> {
        let entry = sys
            .program(|l: &mut Launcher, s| -> Result<u32, String> {
                l.map_memory(s)?;
                let limit = l.guest_pages * PAGE_SIZE;
                let loaded = load_elf(image, &mut l.guest(s), limit)?;
                l.write_boot_params(s);
                // main() sets up the devices page and the console before it tells the kernel about the Guest.
                l.setup_devices(s)?;
                Ok(loaded.entry)
            })
            .ok_or("the Launcher's program is not running")??;
        tell_kernel(sys, entry)
    };
    step(sys).map_err(|e| {
        let text = format!("lguest: {e}\n");
        eprint(sys, &text);
        text
    })
}

/// L:185 `tell_kernel()`: open `/dev/lguest` and LHREQ_INITIALIZE with the memory base, the limit in pages
/// (`guest_limit / getpagesize()`: RAM and the device pages handed out) and the entry point.
fn tell_kernel(sys: &mut Sys<'_>, entry: u32) -> Result<(), String> {
    let fd = match sys.syscall(Syscall::Open) {
        Ok(Outcome::Done(r)) if r.is_ok() => r.ret as i32,
        _ => return Err("Failed to open /dev/lguest".into()),
    };
    let (base, pages) = sys.program(|l: &mut Launcher, _| (l.guest_base, l.pfn_limit())).unwrap_or_default();
    let words: Vec<u8> = [0u32, base, pages, entry].iter().flat_map(|w| w.to_le_bytes()).collect();
    if sys.write(LAUNCHER_SCRATCH, &words).is_err() {
        return Err("no memory for the request".into());
    }
    match sys.syscall(Syscall::Write { fd, buf: LAUNCHER_SCRATCH, len: 16, off: 0 }) {
        Ok(Outcome::Done(r)) if r.is_ok() => Ok(()),
        Ok(Outcome::Done(r)) => Err(format!("Writing to /dev/lguest: {}", r.errno.map(|e| e.meaning()).unwrap_or(""))),
        _ => Err("Writing to /dev/lguest failed".into()),
    }
}

/// How the Launcher's loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status; -1 asks to be restarted (the Guest rebooted).
    Status(i32),
    /// It is still asleep in `read()` and nothing in the simulation will wake it (a Guest that never stops
    /// and never prints, or sleeps with nothing to wake it): the simulation stopped waiting.
    Stuck,
}

/// The Launcher's `run_guest()` loop.
pub fn run_guest(sys: &mut Sys<'_>) -> Exit {
    match run_loop(sys) {
        Ok(()) => Exit::Stuck,
        Err(code) => Exit::Status(code),
    }
}

/// The loop itself; it only ever ends with `Err(status)`, or `Ok` when the simulation stops waiting.
fn run_loop(sys: &mut Sys<'_>) -> Result<(), i32> {
    let mut idle = 0;
    let fatal = |sys: &mut Sys<'_>| sys.program(|l: &mut Launcher, _| l.devices.fatal.is_some()).unwrap_or(true);
    loop {
        let r = match sys.syscall(Syscall::Read { fd: LGUEST_FD, buf: LAUNCHER_SCRATCH, len: 4, off: 0 }) {
            Ok(Outcome::Done(r)) => r,
            // The Launcher sleeps in read() while the Guest runs or is halted (and its device threads work).
            Ok(Outcome::Blocked { .. }) => loop {
                if fatal(sys) {
                    // A device thread died with errx(): kill_launcher() took the main thread with it.
                    return Err(1);
                }
                if let Some(r) = sys.wait() {
                    break r;
                }
                idle += 1;
                if idle > MAX_IDLE_WAITS {
                    return Ok(());
                }
            },
            Err(_) if fatal(sys) => return Err(1),
            Err(e) => {
                eprint(sys, &format!("lguest: {e}\n"));
                return Err(1);
            }
        };
        handle(sys, r)?;
    }
}

/// What the Launcher does with one `pread()` result; `Err` is the exit status it ends with.
fn handle(sys: &mut Sys<'_>, r: SysResult) -> Result<(), i32> {
    if r.errno.is_none() && r.ret == 4 {
        // The four bytes read() put in the buffer: the address the Guest NOTIFYed.
        let mut word = [0u8; 4];
        let addr = sys.read(LAUNCHER_SCRATCH, &mut word).map(|_| u32::from_le_bytes(word)).unwrap_or(0);
        // A device's status, a queue's first kick, or an early-console string; errx() on anything else.
        let done = sys.program(|l: &mut Launcher, s| l.handle_output(s, addr, LGUEST_FD)).unwrap_or(Ok(()));
        return done.map_err(|msg| {
            eprint(sys, &format!("lguest: {msg}\n"));
            1
        });
    }
    let text = match r.errno {
        Some(Errno::ENOENT) => {
            // The second read copies the reason (NUL-terminated, cut at the buffer's size) into the buffer.
            let reason = match sys.syscall(Syscall::Read { fd: LGUEST_FD, buf: LAUNCHER_SCRATCH, len: 1023, off: 0 }) {
                Ok(Outcome::Done(r2)) if r2.is_ok() => {
                    let mut b = vec![0u8; r2.ret.clamp(0, 1023) as usize];
                    let _ = sys.read(LAUNCHER_SCRATCH, &mut b);
                    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
                    String::from_utf8_lossy(&b[..end]).into_owned()
                }
                _ => String::new(),
            };
            format!("lguest: {reason}\n")
        }
        Some(Errno::ERESTART) => return Err(-1),
        Some(e) => format!("lguest: Running guest failed: {}\n", e.meaning()),
        None => format!("lguest: Running guest failed: read returned {}\n", r.ret),
    };
    eprint(sys, &text);
    Err(1)
}
