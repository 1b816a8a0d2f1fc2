//! Running scenario lines against a [`Kernel`] with the Launcher on it: each line becomes system calls of
//! the named task (or a step of the Launcher's own code, a move of the scripted Guest, time, a signal...),
//! and its result is compared with the line's `=>` part.
//!
//! The runner is the experimenter, not a program of the simulated machine: it issues the Launcher's main
//! thread's system calls line by line, and where a line asks for something no program could do (queue a
//! scripted Guest's next move, type at the terminal, check a value) it reaches into the machine directly.

use crate::cpu::script::ScriptAction;
use crate::kernel::syscall::{Outcome, SysResult, Syscall};
use crate::kernel::task::Tid;
use crate::kernel::Kernel;
use crate::launcher::Launcher;
use crate::lguest::hypercalls::LHCALL_SHUTDOWN;
use crate::lguest::LGUEST_FOPS;
use crate::params::{LAUNCHER_SCRATCH, LAUNCHER_SCRATCH_LEN, PAGE_SIZE, WORD};
use crate::ui::state::Snapshot;

use super::parse::{parse, parse_line, Action, BufPlace, CallOpts, Expect, GuestLine, LauncherLine, Line, ParseError};
use serde::Serialize;

/// Where Guest programs are loaded and start, as a bzImage's 32-bit code is (`code32_start`).
pub const GUEST_START: u32 = 0x0010_0000;

/// A Guest program in the Launcher's Guest memory, with what the page needs to show its source.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadedProgram {
    pub name: String,
    pub source: String,
    pub origin: u32,
    pub entry: u32,
    pub size: u32,
    pub symbols: std::collections::BTreeMap<String, u32>,
    /// (address, source line) of each instruction and datum.
    pub lines: Vec<(u32, usize)>,
}

/// Where the scripted Guest keeps a SHUTDOWN message (an ordinary page of its memory).
const SHUTDOWN_MSG_GPA: u32 = 0x6000;

/// What one line did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub line: usize,
    pub source: String,
    /// The action without its expectation or comment (`write IRQ 1`), and what kind of line it is.
    pub action: String,
    pub call: super::parse::CallKind,
    pub task: String,
    /// The result in the scenario language's words (`12`, `-EINVAL`, `blocked`), if the line has one.
    pub result: Option<String>,
    /// The system call's result in full (errno name, why), if there was one.
    pub sys: Option<SysResult>,
    /// For a `read()` that returned a NOTIFY below the Guest's RAM: the string there, which the Launcher
    /// prints as early-console output (`None` when there is no printable text).
    pub console: Option<String>,
    pub expected: Option<String>,
    /// False when the result differs from the expectation (or the line could not be carried out).
    pub ok: bool,
    /// What went wrong, in words, when `ok` is false; or a note (why a call blocked).
    pub message: Option<String>,
    /// The events this line produced: `[first, end)` positions in the machine's log.
    pub events: (u64, u64),
}

#[derive(Clone, Debug)]
pub struct Runner {
    pub kernel: Kernel,
    /// The Launcher's main task.
    pub main: Tid,
    /// Every line run so far (append-only and shared by chunks, so copies of the runner stay cheap).
    pub steps: crate::append_log::AppendLog<Step>,
    /// The descriptor `write`/`read` use when no `fd=` is given: the last `/dev/lguest` opened.
    pub lguest_fd: Option<i32>,
    /// The Guest program `load` put in memory, if any.
    pub program: Option<LoadedProgram>,
    /// The work budget each line gets (see `params::CALL_BUDGET`, the default).
    pub line_budget: u64,
    /// Where the scripted Guest's `lguest_data` is (the last `guest init`), for its `async_hcall()`.
    pub guest_data: Option<u32>,
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new(crate::params::DEFAULT_GUEST_MB)
    }
}

/// Compare a result (and the console text it came with) with an expectation; `Err` says how they differ.
pub fn check(expect: &Expect, got: &Outcome, console: Option<&str>) -> Result<(), String> {
    match (expect, got) {
        (Expect::With(base, extra), _) => {
            check(base, got, console)?;
            let Outcome::Done(r) = got else { return Err("the call blocked".into()) };
            for (k, v) in extra {
                let actual = match k.as_str() {
                    "notify" => r.notify.map(|n| n as u64),
                    "count" => r.count,
                    _ => None,
                };
                match k.as_str() {
                    "reason" => {
                        if r.reason.as_deref() != Some(v.as_str()) {
                            return Err(format!("reason is {:?}, expected {v:?}", r.reason.clone().unwrap_or_default()));
                        }
                    }
                    "console" => {
                        if console != Some(v.as_str()) {
                            return Err(format!("console is {:?}, expected {v:?}", console.unwrap_or_default()));
                        }
                    }
                    _ => {
                        let want = super::parse::num(v)?;
                        if actual != Some(want) {
                            return Err(format!("{k} is {}, expected {v}", actual.map(|a| format!("{a:#x}")).unwrap_or_else(|| "absent".into())));
                        }
                    }
                }
            }
            Ok(())
        }
        (Expect::Blocked, Outcome::Blocked { .. }) => Ok(()),
        (Expect::Ret(n), Outcome::Done(r)) if r.errno.is_none() && r.ret == *n => Ok(()),
        (Expect::Err(e), Outcome::Done(r)) if r.errno == Some(*e) => Ok(()),
        (_, Outcome::Blocked { why }) => Err(format!("the call blocked ({why})")),
        (_, Outcome::Done(r)) => Err(format!("it returned {}", r.render())),
    }
}

fn render(o: &Outcome, console: Option<&str>) -> String {
    match o {
        Outcome::Done(r) => match console {
            Some(t) => format!("{} console={t:?}", r.render()),
            None => r.render(),
        },
        Outcome::Blocked { .. } => "blocked".into(),
    }
}

pub fn render_expect(e: &Expect) -> String {
    match e {
        Expect::Ret(n) => n.to_string(),
        Expect::Err(e) => e.to_string(),
        Expect::Blocked => "blocked".into(),
        Expect::With(b, extra) => {
            let mut s = render_expect(b);
            for (k, v) in extra {
                if k == "reason" || k == "console" {
                    s += &format!(" {k}={v:?}");
                } else {
                    s += &format!(" {k}={v}");
                }
            }
            s
        }
    }
}

impl Runner {
    /// A kernel with the Launcher started on it, its memory mapped, ready for its first line: the real
    /// Launcher's state just before `tell_kernel()`, with `guest_mb` MB of Guest RAM.
    pub fn new(guest_mb: u32) -> Runner {
        Runner::on(Kernel::boot(), guest_mb)
    }

    /// [`Runner::new`] on a kernel already started (e.g. [`Kernel::boot_with`] a paravirtualized Host).
    pub fn on(mut kernel: Kernel, guest_mb: u32) -> Runner {
        let main = kernel.exec("lguest", Box::new(Launcher::new(guest_mb)));
        let mapped = kernel.with_program(main, |l: &mut Launcher, sys| l.map_memory(sys));
        debug_assert!(matches!(mapped, Some(Ok(()))), "a fresh Launcher maps its memory: {mapped:?}");
        Runner { kernel, main, steps: Default::default(), lguest_fd: None, program: None, line_budget: crate::params::CALL_BUDGET, guest_data: None }
    }

    /// `boot`: the machine starts again, on a Host that is (`paravirt`) or is not paravirtualized, lguest
    /// loaded with `args`; the Launcher is started on it afresh with the same memory, and a Guest program
    /// already loaded (a lesson's `guest:`) is loaded again.
    fn reboot(&mut self, paravirt: bool, args: &str) -> Result<(), String> {
        let kernel = Kernel::boot_with_args(paravirt, args)?;
        let mb = self.launcher(self.kernel.proc_of(self.main)).map(|l| l.guest_pages / 256).unwrap_or(crate::params::DEFAULT_GUEST_MB);
        let program = self.program.take();
        let budget = self.line_budget;
        *self = Runner::on(kernel, mb);
        self.line_budget = budget;
        if let Some(p) = program {
            let main = self.main;
            if p.source.is_empty() {
                self.load_named(main, &p.name)?;
            } else {
                self.load_program(main, &p.name, &p.source)?;
            }
        }
        Ok(())
    }

    /// The Launcher's own memory (its devices and its Guest's size), as its process `p` holds it.
    pub fn launcher(&self, p: usize) -> Option<&Launcher> {
        self.kernel.program::<Launcher>(p)
    }

    /// Parse and run one line (the free-play console). Blank lines and comments do nothing.
    pub fn exec(&mut self, number: usize, text: &str) -> Result<Option<Step>, ParseError> {
        Ok(parse_line(number, text)?.map(|l| self.run_line(&l)))
    }

    fn task(&self, line: &Line) -> Result<u32, String> {
        let name = line.task.as_deref().unwrap_or("main");
        self.kernel.task_by_name(name).ok_or_else(|| format!("no task called {name:?} (make one with `thread {name}` or `process {name}`)"))
    }

    /// Run a parsed line and record its step.
    pub fn run_line(&mut self, line: &Line) -> Step {
        // One line is one call into the core: it gets one work budget (params::CALL_BUDGET).
        self.kernel.sched.budget.give(self.line_budget);
        let from = self.kernel.log.len();
        let task_name = line.task.clone().unwrap_or_else(|| "main".into());
        let (outcome, message) = match self.act(line) {
            Ok(o) => (o, None),
            Err(e) => (None, Some(e)),
        };
        // The read's task: the line's, or the one a `wait` collected.
        let reader = match &line.action {
            Action::Wait { task: Some(t) } => t.clone(),
            _ => task_name.clone(),
        };
        let console = match &outcome {
            Some(Outcome::Done(r)) => r.notify.and_then(|n| self.console_text(&reader, n)),
            _ => None,
        };
        let mut step = Step {
            line: line.number,
            source: line.source.clone(),
            action: line.action_text.clone(),
            call: line.action.kind(),
            task: task_name,
            result: outcome.as_ref().map(|o| render(o, console.as_deref())),
            sys: match &outcome {
                Some(Outcome::Done(r)) => Some(r.clone()),
                _ => None,
            },
            console: console.clone(),
            expected: line.expect.as_ref().map(render_expect),
            ok: message.is_none(),
            message: message.clone(),
            events: (from, self.kernel.log.len()),
        };
        if let Some(Outcome::Blocked { why }) = &outcome {
            step.message.get_or_insert_with(|| why.clone());
        }
        if let (Some(exp), true) = (&line.expect, message.is_none()) {
            match &outcome {
                Some(o) => {
                    if let Err(e) = check(exp, o, console.as_deref()) {
                        step.ok = false;
                        step.message = Some(format!("expected {}, but {e}", render_expect(exp)));
                    }
                }
                None => {
                    step.ok = false;
                    step.message = Some(format!("expected {}, but the line gives no result", render_expect(exp)));
                }
            }
        }
        self.steps.push(step.clone());
        step
    }

    fn lguest_fd(&self, opts: &CallOpts) -> Result<i32, String> {
        opts.fd.or(self.lguest_fd).ok_or_else(|| "no /dev/lguest is open: `open` it first, or give fd=".into())
    }

    /// The early-console string at Guest-physical `addr`, as the Launcher of `task` would print it.
    fn console_text(&self, task: &str, addr: u32) -> Option<String> {
        let p = self.kernel.proc_of(self.kernel.task_by_name(task)?);
        let ram_bytes = self.launcher(p)?.guest_pages as u64 * PAGE_SIZE as u64;
        if addr as u64 >= ram_bytes {
            return None;
        }
        let bytes = self.kernel.procs.get(p)?.mm.guest.ram.read_cstr(addr, 256).ok()?;
        let printable = !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        printable.then(|| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A store into task `tid`'s memory, as its own code would make it (how the Launcher fills a buffer).
    fn poke(&mut self, tid: Tid, addr: u32, data: &[u8]) -> Result<(), String> {
        self.kernel.user(tid).write(addr, data).map_err(|f| format!("address {:#x} is not mapped in the Launcher", f.addr))
    }

    /// Put `bytes` where `place` says and return the buffer's address.
    fn place(&mut self, tid: Tid, place: &BufPlace, bytes: &[u8], room: u32) -> Result<u32, String> {
        match place {
            BufPlace::At(a) => Ok(*a),
            BufPlace::Scratch => {
                self.poke(tid, LAUNCHER_SCRATCH, &vec![0u8; LAUNCHER_SCRATCH_LEN as usize])?;
                self.poke(tid, LAUNCHER_SCRATCH, bytes)?;
                Ok(LAUNCHER_SCRATCH)
            }
            BufPlace::Edge => {
                let room = room.min(LAUNCHER_SCRATCH_LEN);
                let at = LAUNCHER_SCRATCH + LAUNCHER_SCRATCH_LEN - room;
                self.poke(tid, at, &bytes[..bytes.len().min(room as usize)])?;
                Ok(at)
            }
        }
    }

    /// Run one of the Launcher's own steps as task `tid`.
    fn launcher_do<R>(&mut self, tid: Tid, f: impl FnOnce(&mut Launcher, &mut crate::kernel::user::Sys<'_>) -> R) -> Result<R, String> {
        self.kernel.with_program(tid, f).ok_or_else(|| "this task's process runs no Launcher".to_string())
    }

    fn act(&mut self, line: &Line) -> Result<Option<Outcome>, String> {
        Ok(Some(match &line.action {
            Action::Open => {
                let tid = self.task(line)?;
                let o = self.kernel.syscall(tid, Syscall::Open)?;
                if let Outcome::Done(r) = &o {
                    if r.errno.is_none() {
                        self.lguest_fd = Some(r.ret as i32);
                    }
                }
                o
            }
            Action::Load { name } => {
                let tid = self.task(line)?;
                self.load_named(tid, name)?;
                return Ok(None);
            }
            Action::Eventfd => {
                let tid = self.task(line)?;
                self.kernel.syscall(tid, Syscall::Eventfd)?
            }
            Action::Close { fd } => {
                let tid = self.task(line)?;
                let fd = match fd {
                    Some(f) => *f,
                    None => self.lguest_fd.ok_or("close needs a descriptor (no /dev/lguest is open)")?,
                };
                if Some(fd) == self.lguest_fd {
                    self.lguest_fd = None;
                }
                self.kernel.syscall(tid, Syscall::Close { fd })?
            }
            Action::Write { words, opts, defaults } => {
                let tid = self.task(line)?;
                let fd = self.lguest_fd(opts)?;
                let mut words = words.clone();
                let (base, pages) = self.launcher(self.kernel.proc_of(tid)).map(|l| (l.guest_base, l.pfn_limit())).unwrap_or_default();
                for i in defaults {
                    // What the real Launcher sends: where it mapped Guest memory, guest_limit / PAGE_SIZE (RAM
                    // and the device pages handed out so far), and the loaded program's entry point.
                    let value = match i {
                        1 => base,
                        2 => pages,
                        _ => self.program.as_ref().map(|g| g.entry).unwrap_or(GUEST_START),
                    };
                    if let Some(w) = words.get_mut(*i) {
                        *w = value;
                    }
                }
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                let buf = self.place(tid, &opts.buf, &bytes, bytes.len() as u32)?;
                let len = opts.len.unwrap_or(bytes.len() as u32);
                self.kernel.syscall(tid, Syscall::Write { fd, buf, len, off: opts.cpu })?
            }
            Action::Read { opts } => {
                let tid = self.task(line)?;
                let fd = self.lguest_fd(opts)?;
                let len = opts.len.unwrap_or(WORD);
                let buf = self.place(tid, &opts.buf, &[], len)?;
                self.kernel.syscall(tid, Syscall::Read { fd, buf, len, off: opts.cpu })?
            }
            Action::EventfdRead { fd } => {
                let tid = self.task(line)?;
                self.kernel.syscall(tid, Syscall::Read { fd: *fd, buf: LAUNCHER_SCRATCH, len: 8, off: 0 })?
            }
            Action::EventfdWrite { fd, value } => {
                let tid = self.task(line)?;
                self.poke(tid, LAUNCHER_SCRATCH, &value.to_le_bytes())?;
                self.kernel.syscall(tid, Syscall::Write { fd: *fd, buf: LAUNCHER_SCRATCH, len: 8, off: 0 })?
            }
            Action::Thread { name } => {
                // A thread of the Launcher that this scenario drives, line by line (not one of its devices').
                self.kernel.current = self.main;
                // CLONE_FILES: a scenario's threads share the descriptor table (the Launcher's device threads do not).
                self.kernel.new_thread(name, false, true)?;
                return Ok(None);
            }
            Action::Process { name } => {
                self.kernel.current = self.main;
                self.kernel.fork(name)?;
                return Ok(None);
            }
            Action::Signal { task } => {
                let name = task.clone().unwrap_or_else(|| "main".into());
                let tid = self.kernel.task_by_name(&name).ok_or_else(|| format!("no task called {name:?}"))?;
                self.kernel.signal(tid);
                return Ok(None);
            }
            Action::Wait { task } => {
                let name = task.clone().or_else(|| line.task.clone()).unwrap_or_else(|| "main".into());
                let k = &mut self.kernel;
                let tid = k.task_by_name(&name).ok_or_else(|| format!("no task called {name:?}"))?;
                if !k.sched.pending.contains_key(&tid) && !k.sched.finished.contains_key(&tid) {
                    return Err(format!("{name} is not blocked in a system call: there is nothing to wait for"));
                }
                match k.wait(tid) {
                    Some(r) => Outcome::Done(r),
                    None => Outcome::Blocked { why: k.blocked_why(tid) },
                }
            }
            Action::Exit => {
                let tid = self.task(line)?;
                self.kernel.exit_process(tid);
                self.lguest_fd = None;
                return Ok(None);
            }
            Action::Advance { ns } => {
                self.kernel.advance(*ns);
                return Ok(None);
            }
            Action::Boot { paravirt, args } => {
                if let Some(first) = self.steps.iter().next() {
                    return Err(super::parse::boot_not_first(first.line));
                }
                self.reboot(*paravirt, args)?;
                return Ok(None);
            }
            Action::Insmod { module, args } => Outcome::Done(self.kernel.init_module("insmod", module, args)?),
            Action::Rmmod { module } => Outcome::Done(self.kernel.delete_module("rmmod", module)?),
            Action::InjectKmallocFailure { nth } => {
                self.kernel.alloc.inject_failure(*nth);
                let text = format!("fault injection: allocation number {nth} from now will fail");
                self.kernel.log.push("main", "launcher", "X:600", text, &["alloc"]);
                return Ok(None);
            }
            Action::Guest(g) => {
                let tid = self.task(line)?;
                let pidx = self.kernel.proc_of(tid);
                let guest_bytes = self.launcher(pidx).map(|l| (l.guest_pages + crate::params::DEVICE_PAGES) as u64 * PAGE_SIZE as u64).unwrap_or(0);
                let script = &mut self.kernel.procs[pidx].mm.guest.script;
                match g {
                    GuestLine::Init { lguest_data: at, syscall_vec } => {
                        // A Guest booting: its lguest_data is where it says, and async_hcall()'s next slot is 0.
                        self.guest_data = Some(*at);
                        self.kernel.procs[pidx].mm.guest.next_call = 0;
                        let script = &mut self.kernel.procs[pidx].mm.guest.script;
                        // Before LGUEST_INIT a real Guest marks every slot of its async hypercall ring free
                        // (0xFF) and asks for its system-call vector (Linux's 0x80), which LGUEST_INIT checks.
                        use crate::lguest::hypercalls::{lguest_data, LHCALL_LGUEST_INIT};
                        let mut writes = Vec::new();
                        if (*at as u64) + (lguest_data::HCALL_STATUS + crate::params::LHCALL_RING_SIZE) as u64 <= guest_bytes {
                            writes.push((at + lguest_data::HCALL_STATUS, vec![0xFF; crate::params::LHCALL_RING_SIZE as usize]));
                        }
                        if (*at as u64) + lguest_data::SIZE as u64 <= guest_bytes {
                            writes.push((at + lguest_data::SYSCALL_VEC, syscall_vec.to_le_bytes().to_vec()));
                        }
                        if !writes.is_empty() {
                            script.push_back(ScriptAction::Stores { writes });
                        }
                        script.push_back(ScriptAction::Hypercall { nr: LHCALL_LGUEST_INIT, args: [*at, 0, 0, 0] })
                    }
                    GuestLine::Hypercall { nr, args } => script.push_back(ScriptAction::Hypercall { nr: *nr, args: *args }),
                    GuestLine::Async { nr, args } => {
                        use crate::lguest::hypercalls::{lguest_data, LHCALL_SEND_INTERRUPTS};
                        let Some(at) = self.guest_data else {
                            return Err("guest async needs the Guest's lguest_data: `guest init GPA` first".into());
                        };
                        let ring = crate::cpu::script::AsyncRing {
                            irq_enabled: at.wrapping_add(lguest_data::IRQ_ENABLED),
                            irq_pending: at.wrapping_add(lguest_data::IRQ_PENDING),
                            status: at.wrapping_add(lguest_data::HCALL_STATUS),
                            hcalls: at.wrapping_add(lguest_data::HCALLS),
                            size: crate::params::LHCALL_RING_SIZE,
                            send_interrupts: LHCALL_SEND_INTERRUPTS,
                        };
                        script.push_back(ScriptAction::AsyncHcall { ring, nr: *nr, args: *args })
                    }
                    GuestLine::Store { gpa, text } => {
                        let mut bytes = text.clone().into_bytes();
                        bytes.push(0);
                        script.push_back(ScriptAction::Store { gpa: *gpa, bytes });
                    }
                    GuestLine::Poke { gpa, words } => {
                        let bytes = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                        script.push_back(ScriptAction::Store { gpa: *gpa, bytes });
                    }
                    GuestLine::Stack { esp } => script.push_back(ScriptAction::SetStack { esp: *esp }),
                    GuestLine::Trap { num, errcode } => script.push_back(ScriptAction::Trap { num: *num, errcode: *errcode }),
                    GuestLine::Shutdown { msg, restart } => {
                        let mut bytes = msg.clone().into_bytes();
                        bytes.push(0);
                        script.push_back(ScriptAction::Store { gpa: SHUTDOWN_MSG_GPA, bytes });
                        let reason = if *restart { 2 } else { 1 };
                        script.push_back(ScriptAction::Hypercall { nr: LHCALL_SHUTDOWN, args: [SHUTDOWN_MSG_GPA, reason, 0, 0] });
                    }
                }
                // A Guest that was "running with nothing to do" now has something: let it run.
                self.kernel.settle();
                return Ok(None);
            }
            Action::Launcher(l) => {
                let tid = self.task(line)?;
                match l {
                    LauncherLine::Devices => self.launcher_do(tid, |l, sys| l.setup_devices(sys))??,
                    LauncherLine::HandleOutput { addr } => {
                        let addr = match addr {
                            Some(a) => *a,
                            None => self
                                .steps
                                .iter()
                                .rev()
                                .find_map(|s| s.sys.as_ref().and_then(|r| r.notify))
                                .ok_or("launcher handle-output needs an address: no read() has returned one yet")?,
                        };
                        let fd = self.lguest_fd.ok_or("launcher handle-output: no /dev/lguest is open")?;
                        let died = self.launcher_do(tid, |l, sys| match l.handle_output(sys, addr, fd) {
                            Ok(()) => false,
                            Err(msg) => {
                                l.errx(sys, &msg);
                                true
                            }
                        })?;
                        if died {
                            self.lguest_fd = None;
                        }
                        // The threads it started sleep; anything already kicked wakes them now.
                        self.kernel.settle();
                    }
                    LauncherLine::Stdin { text } => {
                        // Typing at the terminal: the bytes wait there, and a thread asleep reading it wakes.
                        self.kernel.tty.input.extend(text.as_bytes().iter().copied());
                        let shown: String = String::from_utf8_lossy(&text.as_bytes()[..text.len().min(80)]).escape_debug().collect();
                        let shown = if text.len() > 80 { format!("\"{shown}\"...") } else { format!("\"{shown}\"") };
                        let note = format!("{} byte(s) typed at the Launcher's terminal: {shown}", text.len());
                        self.kernel.log.push("terminal", "launcher", crate::tags::tag("launcher"), note, &["stdin"]);
                        self.kernel.settle();
                    }
                }
                return Ok(None);
            }
            Action::Expect { field, value } if is_launcher_field(field) => {
                // The Launcher's own state: `stdout`, `stderr`, `guest_limit`, `devices.console.status`, `vq.console-output.used_idx`...
                let tid = self.task(line)?;
                let actual = match field.as_str() {
                    "stdout" => format!("{:?}", String::from_utf8_lossy(&self.kernel.tty.stdout)),
                    "stderr" => format!("{:?}", String::from_utf8_lossy(&self.kernel.tty.stderr)),
                    _ => {
                        let fields = self.device_fields(self.kernel.proc_of(tid));
                        match fields.iter().find(|(k, _)| k == field) {
                            Some((_, v)) => v.clone(),
                            None => {
                                let known: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
                                return Err(format!("no Launcher state called {field:?}; known: stdout, stderr, {}", known.join(", ")));
                            }
                        }
                    }
                };
                let want = if matches!(field.as_str(), "stdout" | "stderr") { format!("{:?}", value.trim_matches('"')) } else { value.clone() };
                if !same_value(&actual, &want) {
                    return Err(format!("expected {field} = {value}, but it is {actual}"));
                }
                return Ok(None);
            }
            Action::Expect { field, value } if field.starts_with("mem.") => {
                // A 32-bit word of the Guest's memory, e.g. `expect mem.0x5000 = 512`.
                let addr = super::parse::num(&field[4..]).map_err(|e| format!("{field}: {e}"))? as u32;
                let tid = self.task(line)?;
                let pidx = self.kernel.proc_of(tid);
                let actual = self.kernel.procs[pidx].mm.guest.ram.read_u32(addr).map_err(|_| format!("{addr:#x} is outside the Guest's memory"))?;
                if !same_value(&actual.to_string(), value) {
                    return Err(format!("expected {field} = {value}, but it is {actual} ({actual:#x})"));
                }
                return Ok(None);
            }
            Action::Expect { field, value } => {
                let snap = Snapshot::of(&self.kernel);
                let fields = snap.fields();
                let Some((_, actual)) = fields.iter().find(|(k, _)| k == field) else {
                    let known: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
                    return Err(format!("no state called {field:?}; known: {}", known.join(", ")));
                };
                if !same_value(actual, value) {
                    return Err(format!("expected {field} = {value}, but it is {actual}"));
                }
                return Ok(None);
            }
        }))
    }

    /// The devices of the Launcher in process `p`, as `expect` names them (see
    /// [`Launcher::device_fields`]).
    pub fn device_fields(&self, p: usize) -> Vec<(String, String)> {
        match (self.launcher(p), self.kernel.procs.get(p)) {
            (Some(l), Some(proc)) => l.device_fields(&proc.mm.guest.ram),
            _ => Vec::new(),
        }
    }

    /// Find a Guest program by name (the embedded course first, then, natively, the file system) and load it.
    pub fn load_named(&mut self, tid: Tid, name: &str) -> Result<(), String> {
        if let Some(src) = super::library::source(name) {
            return self.load_program(tid, name, src);
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let path = std::path::Path::new(name);
            let candidates = [path.to_path_buf(), std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons").join(path)];
            for p in candidates {
                if p.is_file() || p.exists() {
                    let bytes = super::read_file(&p).map_err(|e| format!("{name}: {e}"))?;
                    if bytes.starts_with(b"\x7fELF") {
                        return self.load_elf(tid, name, &bytes);
                    }
                    let src = String::from_utf8(bytes).map_err(|_| format!("{name}: neither an ELF file nor UTF-8 assembly source"))?;
                    return self.load_program(tid, name, &src);
                }
            }
        }
        Err(format!("no Guest program called {name:?} (the course has: {})", super::library::GUESTS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")))
    }

    /// The Launcher loads an image into its Guest's memory (and boot_params at 0): from now on the Guest's
    /// memory holds real code, which `initialize()` will run on the x86 core.
    fn load_image(&mut self, tid: Tid, load: impl FnOnce(&Launcher, &mut crate::kernel::user::Sys<'_>) -> Result<(), String>) -> Result<(), String> {
        self.launcher_do(tid, |l, sys| {
            load(l, sys)?;
            l.write_boot_params(sys);
            Ok::<(), String>(())
        })??;
        let p = self.kernel.proc_of(tid);
        self.kernel.procs[p].mm.guest.has_code = true;
        Ok(())
    }

    /// Assemble `source` (GNU as syntax) at 0x100000 and put it in task `tid`'s Guest memory, so the next
    /// INITIALIZE runs it on the x86 core.
    pub fn load_program(&mut self, tid: Tid, name: &str, source: &str) -> Result<(), String> {
        let prog = crate::asm::assemble(source, GUEST_START).map_err(|errs| {
            let shown: Vec<String> = errs.iter().take(5).map(|e| crate::asm::located(name, e)).collect();
            shown.join("\n")
        })?;
        self.load_assembled(tid, name, source, prog)
    }

    /// [`Runner::load_program`] for a `source` the caller has already assembled (at `GUEST_START`) into
    /// `prog`: free play assembles first to show every error, and must not assemble twice.
    pub fn load_assembled(&mut self, tid: Tid, name: &str, source: &str, prog: crate::asm::Program) -> Result<(), String> {
        if prog.image.is_empty() {
            return Err(format!("{name} is empty: a Guest program needs instructions, from its `start:` label on (guests/hello.S is a small one)"));
        }
        let limit = self.launcher(self.kernel.proc_of(tid)).map(|l| l.guest_pages * PAGE_SIZE).unwrap_or(0);
        if GUEST_START as u64 + prog.image.len() as u64 > limit as u64 {
            return Err(format!("{name} is {} bytes and does not fit below the Guest's {limit:#x} bytes", prog.image.len()));
        }
        self.load_image(tid, |l, sys| l.to_guest(sys, GUEST_START, &prog.image).map_err(|e| format!("{name}: {e}")))?;
        let size = prog.image.len() as u32;
        let text = format!("the Launcher loads {name} ({size} bytes) at {GUEST_START:#x}; entry {:#x}", prog.entry);
        let task = self.kernel.task_name(tid);
        self.kernel.log.push(&task, "launcher", "X:600", text, &["guest.memory"]);
        self.program = Some(LoadedProgram {
            name: name.to_string(),
            source: source.to_string(),
            origin: GUEST_START,
            entry: prog.entry,
            size,
            symbols: prog.symbols,
            lines: prog.lines,
        });
        Ok(())
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn load_elf(&mut self, tid: Tid, name: &str, bytes: &[u8]) -> Result<(), String> {
        let mut img = None;
        self.load_image(tid, |l, sys| {
            let limit = l.guest_pages * PAGE_SIZE;
            img = Some(crate::launcher::elf::load_elf(bytes, &mut l.guest(sys), limit).map_err(|e| format!("{name}: {e}"))?);
            Ok(())
        })?;
        let Some(img) = img else { return Err(format!("{name}: not loaded")) };
        self.program = Some(LoadedProgram {
            name: name.to_string(),
            source: String::new(),
            origin: img.segments.first().map(|s| s.0).unwrap_or(GUEST_START),
            entry: img.entry,
            size: img.segments.iter().map(|s| s.1).sum(),
            symbols: Default::default(),
            lines: Vec::new(),
        });
        Ok(())
    }

    /// The `/dev/lguest` files open now, for the page's picker.
    pub fn lguest_fds(&self) -> Vec<i32> {
        let Some(p) = self.kernel.procs.first() else { return Vec::new() };
        p.fds.iter().filter(|(_, f)| self.kernel.private_data(**f, &LGUEST_FOPS).is_some()).map(|(fd, _)| *fd).collect()
    }
}

/// `expect` names that belong to the Launcher rather than the Host's snapshot.
fn is_launcher_field(f: &str) -> bool {
    matches!(f, "stdout" | "stderr" | "guest_limit") || f.starts_with("devices.") || f.starts_with("vq.")
}

/// Values compare as numbers when both are numbers (so 0x10 = 16), else as text.
fn same_value(actual: &str, want: &str) -> bool {
    match (super::parse::num(actual), super::parse::num(want)) {
        (Ok(a), Ok(b)) => a == b,
        _ => actual == want || actual.trim_matches('"') == want.trim_matches('"'),
    }
}

/// A scenario line whose result differed, or that could not run (see [`crate::diagnostic`]).
pub type ReplayError = crate::diagnostic::Diagnostic;

/// Replay a whole scenario, stopping at the first line whose result differs from its expectation.
pub fn replay(src: &str) -> Result<Runner, ReplayError> {
    let lines = parse(src)?;
    let mut r = Runner::default();
    for l in &lines {
        let step = r.run_line(l);
        if !step.ok {
            return Err(ReplayError::line(l.number, step.message.unwrap_or_default()));
        }
    }
    Ok(r)
}

/// The `pfnlimit` a default scenario's INITIALIZE sends before `launcher devices`: `guest_limit / PAGE_SIZE`,
/// the Guest's RAM in pages and the devices page `main()` takes at once (each ring page adds one more).
pub fn default_pfn_limit() -> u32 {
    crate::params::DEFAULT_GUEST_MB * (1 << 20) / PAGE_SIZE + 1
}
