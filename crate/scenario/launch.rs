//! `lguest-sim run`: start the Launcher on a fresh kernel as a shell would (`lguest MB vmlinux`), with
//! what is piped into its terminal, let it run its Guest to the end, and report what it printed and how it
//! exited. The Launcher's own code is [`crate::launcher::run`]; this is only the outside of it: the kernel
//! it runs on, the process it runs in, and its terminal.

use crate::kernel::Kernel;
use crate::launcher::{run, Launcher};
use crate::lguest::guest::GuestEngine;
use crate::params::{MAX_RESTARTS, RUN_BUDGET};

/// How a Launcher run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchResult {
    /// What the Launcher printed on stdout: the Guest's early console and its console device.
    pub stdout: Vec<u8>,
    /// What the Launcher printed on stderr (`lguest: CRASH: Power down`).
    pub stderr: String,
    /// The Launcher's exit status.
    pub exit_code: i32,
    /// Reboots that happened (`-ERESTART`).
    pub restarts: u32,
    /// Guest instructions the x86 core retired (and `rep` iterations), over every boot.
    pub instructions: u64,
    /// The simulation's own word at the end of `stderr`, if it stopped the run (not the Launcher's: it
    /// was never written to the terminal).
    pub note: String,
}

/// Boot `image` (an ELF32 i386 executable) in `mem_mb` MB and run it to the end, like `lguest MB vmlinux`.
pub fn launch(image: &[u8], mem_mb: u32) -> LaunchResult {
    launch_with_stdin(image, mem_mb, b"")
}

/// [`launch`] with bytes waiting at the Launcher's terminal (`echo hi | lguest ...`), for the console's
/// input queue. When they run out the input thread waits, as at a terminal nobody types at.
pub fn launch_with_stdin(image: &[u8], mem_mb: u32, stdin: &[u8]) -> LaunchResult {
    launch_with(image, mem_mb, stdin, RUN_BUDGET, None)
}

/// [`launch_with_stdin`] with a work budget of `budget` units for each boot instead of `RUN_BUDGET`, and,
/// with `echo`, the terminal shown as it is written (stream 1 stdout, 2 stderr).
pub fn launch_with(image: &[u8], mem_mb: u32, stdin: &[u8], budget: u64, echo: Option<fn(usize, &[u8])>) -> LaunchResult {
    let mut restarts = 0;
    let mut instructions = 0;
    loop {
        let (mut k, r) = boot_echoing(image, mem_mb, echo);
        k.tty.input = stdin.iter().copied().collect();
        let mut r = match r {
            Ok(()) => run_guest_within(&mut k, budget),
            Err(e) => LaunchResult { stdout: Vec::new(), stderr: e, exit_code: 1, restarts: 0, instructions: 0, note: String::new() },
        };
        instructions += guest_instructions(&k);
        r.instructions = instructions;
        if r.exit_code == -1 && restarts < MAX_RESTARTS {
            restarts += 1;
            continue;
        }
        if r.exit_code == -1 {
            r.exit_code = 1;
            let note = format!("lguest: the Guest rebooted {MAX_RESTARTS} times; the simulation stops here\n");
            r.stderr += &note;
            r.note += &note;
        }
        r.restarts = restarts;
        return r;
    }
}

/// Units of work the x86 core did for every Guest of this kernel (its time-stamp counter).
fn guest_instructions(k: &Kernel) -> u64 {
    let cores = k.lguest.guests.iter().flatten().flat_map(|g| g.cpus.iter());
    cores
        .map(|c| match &c.engine {
            GuestEngine::Cpu(core) => core.state.tsc,
            GuestEngine::Scripted => 0,
        })
        .sum()
}

/// A fresh kernel with the Launcher started on it and run up to its first `pread()` (the Guest loaded and
/// initialized): the kernel, and `Err` with what the Launcher printed if it gave up.
pub fn boot(image: &[u8], mem_mb: u32) -> (Kernel, Result<(), String>) {
    boot_echoing(image, mem_mb, None)
}

fn boot_echoing(image: &[u8], mem_mb: u32, echo: Option<fn(usize, &[u8])>) -> (Kernel, Result<(), String>) {
    let mut k = Kernel::boot();
    k.tty.echo = echo;
    let tid = k.exec("lguest", Box::new(Launcher::new(mem_mb)));
    // What the Launcher loads is real code: the x86 core runs it (a scenario's scripted Guest does not).
    let pid = k.proc_of(tid);
    if let Some(p) = k.procs.get_mut(pid) {
        p.mm.guest.has_code = true;
    }
    let r = run::boot(&mut k.user(tid), image);
    (k, r)
}

/// The Launcher's `run_guest()` loop on a kernel [`boot`] made, to its end. Exit code -1 asks the caller to
/// restart.
pub fn run_guest(k: &mut Kernel) -> LaunchResult {
    run_guest_within(k, RUN_BUDGET)
}

/// [`run_guest`], the whole run one call into the core with a work budget of `budget` units.
fn run_guest_within(k: &mut Kernel, budget: u64) -> LaunchResult {
    let main = k.task_by_name("main").unwrap_or(0);
    k.sched.budget.give(budget);
    let (exit_code, note) = match run::run_guest(&mut k.user(main)) {
        run::Exit::Status(code) => (code, String::new()),
        run::Exit::Stuck if k.sched.budget.exhausted() => {
            (1, format!("lguest: the Guest ran for the simulation's whole budget ({} units of Guest work) without stopping; stopped\n", k.sched.budget.spent))
        }
        run::Exit::Stuck => (1, "lguest: the Guest is asleep and nothing in the simulation will wake it; stopped\n".to_string()),
    };
    LaunchResult {
        stdout: k.tty.stdout.clone(),
        stderr: String::from_utf8_lossy(&k.tty.stderr).into_owned() + &note,
        exit_code,
        restarts: 0,
        instructions: 0,
        note,
    }
}
