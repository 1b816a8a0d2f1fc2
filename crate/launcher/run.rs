//! The Launcher's main line (Documentation/lguest/lguest.c, `main()` and `run_guest()`), as a simulated
//! process: load the Guest, set up the devices page and the console, `tell_kernel()` with LHREQ_INITIALIZE,
//! then `pread()` in a loop. Each NOTIFY that comes back goes to `handle_output()` (crate::launcher::devices): a
//! device's status, a queue's first kick, an early-console string, or a "Bad NOTIFY"; `-ENOENT` means the
//! Guest died, and a second read fetches why; `-ERESTART` means reboot. Kicks of a running device's queues
//! never come back here: they wake its threads through eventfds.
//!
//! The output, the death message and the exit status are what the real Launcher would print and return.

use crate::errno::Errno;
use crate::launcher::elf::load_elf;
use crate::machine::{Machine, Outcome, Syscall};
use crate::params::{DEVICE_PAGES, LAUNCHER_SCRATCH, PAGE_SIZE};

/// How a Launcher run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchResult {
    /// What the Guest printed through the early console.
    pub stdout: Vec<u8>,
    /// What the Launcher printed on stderr (`lguest: CRASH: Power down`).
    pub stderr: String,
    /// The Launcher's exit status.
    pub exit_code: i32,
    /// Reboots that happened (`-ERESTART`).
    pub restarts: u32,
    /// Guest instructions the x86 core retired (and `rep` iterations), over every boot.
    pub instructions: u64,
}

/// How many times a rebooting Guest is restarted before the simulation gives up.
const MAX_RESTARTS: u32 = 4;
/// How many `wait`s with no progress end the run (a Guest that runs forever without output).
const MAX_IDLE_WAITS: u32 = 2000;

/// Boot `image` (an ELF32 i386 executable) in `mem_mb` MB and run it to the end, like `lguest MB vmlinux`.
pub fn launch(image: &[u8], mem_mb: u32) -> LaunchResult {
    launch_with_stdin(image, mem_mb, b"")
}

/// [`launch`] with bytes waiting on the Launcher's stdin (`echo hi | lguest ...`), for the console's input
/// queue. When they run out the input thread waits, as at a terminal nobody types at.
pub fn launch_with_stdin(image: &[u8], mem_mb: u32, stdin: &[u8]) -> LaunchResult {
    let mut restarts = 0;
    let mut instructions = 0;
    loop {
        let (mut m, r) = boot(image, mem_mb);
        m.procs[0].stdin = stdin.iter().copied().collect();
        let mut r = match r {
            Ok(()) => run_guest(&mut m, mem_mb),
            Err(e) => LaunchResult { stdout: Vec::new(), stderr: e, exit_code: 1, restarts: 0, instructions: 0 },
        };
        instructions += guest_instructions(&m);
        r.instructions = instructions;
        if r.exit_code == -1 && restarts < MAX_RESTARTS {
            restarts += 1;
            continue;
        }
        if r.exit_code == -1 {
            r.exit_code = 1;
            r.stderr += &format!("lguest: the Guest rebooted {MAX_RESTARTS} times; the simulation stops here\n");
        }
        r.restarts = restarts;
        return r;
    }
}

/// Units of work the x86 core did for every Guest of this machine (its time-stamp counter).
fn guest_instructions(m: &Machine) -> u64 {
    let cpus = m.host.guests.iter().flatten().flat_map(|lg| lg.cpus.iter());
    cpus.map(|c| match &c.engine {
        crate::host::guest::GuestEngine::Cpu(core) => core.state.tsc,
        crate::host::guest::GuestEngine::Scripted => 0,
    })
    .sum()
}

/// Set up a Launcher with the Guest loaded and initialized: everything up to the first `pread()`.
pub fn boot(image: &[u8], mem_mb: u32) -> (Machine, Result<(), String>) {
    let mut m = Machine::new(mem_mb);
    let p = &mut m.procs[0];
    let limit = p.guest_pages * PAGE_SIZE;
    let loaded = match load_elf(image, &mut p.ram, limit) {
        Ok(l) => l,
        Err(e) => return (m, Err(format!("lguest: {e}\n"))),
    };
    p.has_code = true;
    p.write_boot_params();
    // main() sets up the devices page and the console before it tells the kernel about the Guest.
    if let Err(e) = m.setup_devices(0) {
        return (m, Err(format!("lguest: {e}\n")));
    }
    // tell_kernel(): open /dev/lguest and LHREQ_INITIALIZE with the memory base, limit in pages, entry.
    let fd = match m.syscall(0, Syscall::Open) {
        Ok(Outcome::Done(r)) if r.errno.is_none() => r.ret as i32,
        _ => return (m, Err("lguest: Failed to open /dev/lguest\n".into())),
    };
    let base = m.procs[0].guest_base;
    let pages = m.procs[0].guest_pages + DEVICE_PAGES;
    let words: Vec<u8> = [0u32, base, pages, loaded.entry].iter().flat_map(|w| w.to_le_bytes()).collect();
    if m.poke_user(0, LAUNCHER_SCRATCH, &words).is_err() {
        return (m, Err("lguest: no memory for the request\n".into()));
    }
    match m.syscall(0, Syscall::Write { fd, buf: LAUNCHER_SCRATCH, len: 16, off: 0 }) {
        Ok(Outcome::Done(r)) if r.errno.is_none() => (m, Ok(())),
        Ok(Outcome::Done(r)) => (m, Err(format!("lguest: Writing to /dev/lguest: {}\n", r.errno.map(|e| e.meaning()).unwrap_or("")))),
        _ => (m, Err("lguest: Writing to /dev/lguest failed\n".into())),
    }
}

/// The Launcher's `run_guest()` loop. Exit code -1 asks the caller to restart.
pub fn run_guest(m: &mut Machine, _mem_mb: u32) -> LaunchResult {
    let mut idle = 0;
    let end = |m: &Machine, stderr: String, exit_code: i32| LaunchResult {
        stdout: m.procs[0].stdout.clone(),
        stderr: m.procs[0].stderr.clone() + &stderr,
        exit_code,
        restarts: 0,
        instructions: 0,
    };
    loop {
        let r = match m.syscall(0, Syscall::Read { fd: LGUEST_FD, buf: LAUNCHER_SCRATCH, len: 4, off: 0 }) {
            Ok(Outcome::Done(r)) => r,
            // The Launcher sleeps in read() while the Guest runs or is halted (and its device threads work).
            Ok(Outcome::Blocked { .. }) => loop {
                if m.procs[0].devices.fatal.is_some() {
                    // A device thread died with errx(): kill_launcher() took the main thread with it.
                    return end(m, String::new(), 1);
                }
                if let Some(r) = m.wait(0) {
                    break r;
                }
                idle += 1;
                if idle > MAX_IDLE_WAITS {
                    let stderr = "lguest: the Guest ran for the simulation's whole budget without stopping; stopped\n".to_string();
                    return end(m, stderr, 1);
                }
            },
            Err(_) if m.procs[0].devices.fatal.is_some() => return end(m, String::new(), 1),
            Err(e) => return end(m, format!("lguest: {e}\n"), 1),
        };
        if let Err(e) = handle(m, r) {
            return end(m, e.stderr, e.exit_code);
        }
    }
}

/// The descriptor `boot()` opens `/dev/lguest` on: 0, 1 and 2 are taken, so it is 3.
const LGUEST_FD: i32 = 3;

/// How the loop ends.
struct End {
    stderr: String,
    exit_code: i32,
}

/// What the Launcher does with one `pread()` result.
fn handle(m: &mut Machine, r: crate::machine::SysResult) -> Result<(), End> {
    if r.errno.is_none() && r.ret == 4 {
        let addr = r.notify.unwrap_or(0);
        // A device's status, a queue's first kick, or an early-console string; errx() on anything else.
        return m.handle_output(0, addr, LGUEST_FD).map_err(|msg| End { stderr: format!("lguest: {msg}\n"), exit_code: 1 });
    }
    match r.errno {
        Some(Errno::ENOENT) => {
            let reason = match m.syscall(0, Syscall::Read { fd: 3, buf: LAUNCHER_SCRATCH, len: 1023, off: 0 }) {
                Ok(Outcome::Done(r2)) => r2.reason.unwrap_or_default(),
                _ => String::new(),
            };
            Err(End { stderr: format!("lguest: {reason}\n"), exit_code: 1 })
        }
        Some(Errno::ERESTART) => Err(End { stderr: String::new(), exit_code: -1 }),
        Some(e) => Err(End { stderr: format!("lguest: Running guest failed: {}\n", e.meaning()), exit_code: 1 }),
        None => Err(End { stderr: format!("lguest: Running guest failed: read returned {}\n", r.ret), exit_code: 1 }),
    }
}
