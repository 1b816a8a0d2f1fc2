//! The whole simulated world in one value: the Host kernel, the Launcher processes and their tasks, and the
//! log of events. A system call enters here ([`Machine::syscall`]), runs the Host's code as the calling task
//! (`current`), and either returns at once or leaves the task blocked inside the kernel (a `read()` whose
//! Guest is halted or still running); [`Machine::settle`] moves blocked calls on when something wakes them.
//!
//! `Machine` is `Clone` and cheap to clone (Guest memory is copy-on-write), which is how the UI steps back.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::errno::Errno;
use crate::event::EventLog;
use crate::guest_ram::GuestRam;
use crate::host::{FileKind, Host, OpenFile};
use crate::launcher::{FileId, Mm, Pid, Process, Task, TaskState, Tid};
use crate::params;

/// How many times `wait` lets a blocked call move on before it reports that the call is still blocked: for a
/// Guest that computes without trapping, 128 time slices (12.8 million instructions, about a tenth of a
/// second in the browser), so one `wait` sees a long computation through.
const WAIT_ROUNDS: u32 = 128;

/// A system call a Launcher task can make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "call")]
pub enum Syscall {
    /// `open("/dev/lguest", O_RDWR)`.
    Open,
    /// `pwrite(fd, buf, len, off)`: the offset is the cpu number for `/dev/lguest`.
    Write { fd: i32, buf: u32, len: u32, off: u64 },
    /// `pread(fd, buf, len, off)`.
    Read { fd: i32, buf: u32, len: u32, off: u64 },
    Close { fd: i32 },
    /// `eventfd(0, 0)`.
    Eventfd,
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
    /// For a NOTIFY below the Guest's memory: the string there, which the Launcher prints as early-console
    /// output (`None` when there is no printable text).
    pub console: Option<String>,
    /// One line saying why this value came back.
    pub why: String,
}

impl SysResult {
    pub fn ok(ret: i64, why: impl Into<String>) -> SysResult {
        SysResult { ret, errno: None, notify: None, reason: None, count: None, console: None, why: why.into() }
    }

    pub fn err(errno: Errno, why: impl Into<String>) -> SysResult {
        SysResult { ret: errno.ret(), errno: Some(errno), notify: None, reason: None, count: None, console: None, why: why.into() }
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
        if let Some(t) = &self.console {
            s += &format!(" console={t:?}");
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

/// What a system call did right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum Outcome {
    Done(SysResult),
    /// The task is inside the kernel and will stay there until something wakes it.
    Blocked { why: String },
}

/// A system call a task is blocked in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    /// `read()` of `/dev/lguest` inside `run_guest()`.
    LguestRead { file: FileId, cpu: u32, buf: u32, why: String, halted: bool },
    /// `read()` of an eventfd whose counter is 0.
    EventfdRead { ctx: usize, buf: u32 },
}

/// The world.
#[derive(Clone, Debug)]
pub struct Machine {
    pub host: Host,
    pub procs: Vec<Process>,
    pub tasks: Vec<Task>,
    pub log: EventLog,
    /// System calls tasks are blocked in.
    pub pending: BTreeMap<Tid, Pending>,
    /// Results of blocked calls that have since returned, not yet collected by `wait`.
    pub finished: BTreeMap<Tid, SysResult>,
    /// The task whose code is running (`current`).
    pub current: Tid,
    /// Record the Guest CPU's work (see [`crate::cpu::timeline`]): on for each step of a lesson the page
    /// shows. The timeline follows the first Guest cpu that runs.
    pub recording: bool,
    pub timeline: Option<crate::host::core::Recording>,
}

impl Machine {
    /// A Launcher with `guest_mb` MB of Guest memory mapped, its main task, and stdin/stdout/stderr open,
    /// ready for its first system call (the real Launcher's state just before `tell_kernel()`).
    pub fn new(guest_mb: u32) -> Machine {
        let mut m = Machine {
            host: Host::default(),
            procs: Vec::new(),
            tasks: Vec::new(),
            log: EventLog::default(),
            pending: BTreeMap::new(),
            finished: BTreeMap::new(),
            current: 0,
            recording: false,
            timeline: None,
        };
        let tty = m.host.files.len();
        m.host.files.push(OpenFile { kind: FileKind::Tty, f_count: 3 });
        let pid = m.spawn_process("lguest", guest_mb.clamp(1, params::MAX_GUEST_MB));
        for fd in 0..3 {
            m.procs[pid as usize].fds.insert(fd, tty);
        }
        m.current = m.spawn_task("main", pid);
        m
    }

    /// Start recording the Guest's timeline afresh.
    pub fn start_recording(&mut self) {
        self.stop_recording();
        self.recording = true;
    }

    /// Stop recording; the timeline of what ran since [`Machine::start_recording`], if a Guest CPU ran.
    pub fn stop_recording(&mut self) -> Option<crate::host::core::Recording> {
        self.recording = false;
        let mut rec = self.timeline.take()?;
        if let Some(p) = self.procs.get_mut(rec.proc) {
            rec.timeline.finish(&mut p.ram);
        }
        Some(rec)
    }

    fn spawn_process(&mut self, name: &str, guest_mb: u32) -> Pid {
        let pid = self.procs.len() as Pid;
        let guest_pages = guest_mb * (1 << 20) / params::PAGE_SIZE;
        let total = guest_pages + params::DEVICE_PAGES;
        let mut mm = Mm::default();
        mm.map_anon(params::LAUNCHER_SCRATCH, params::LAUNCHER_SCRATCH_LEN, "Launcher data (system call buffers)");
        mm.map_guest(params::LAUNCHER_GUEST_BASE, total * params::PAGE_SIZE);
        self.procs.push(Process {
            pid,
            name: name.to_string(),
            mm,
            ram: GuestRam::new(total),
            guest_base: params::LAUNCHER_GUEST_BASE,
            guest_pages,
            fds: BTreeMap::new(),
            has_code: false,
            script: Default::default(),
            devices: Default::default(),
            stdout: Vec::new(),
            stderr: String::new(),
            stdin: Default::default(),
        });
        pid
    }

    fn spawn_task(&mut self, name: &str, pid: Pid) -> Tid {
        let tid = self.tasks.len() as Tid;
        self.tasks.push(Task { tid, name: name.to_string(), pid, state: TaskState::User, signal_pending: false });
        tid
    }

    /// `clone(CLONE_VM | ...)`: a new thread of the Launcher sharing its memory and files (a device thread).
    pub fn new_thread(&mut self, name: &str) -> Result<Tid, String> {
        if self.task_by_name(name).is_some() {
            return Err(format!("there is already a task called {name:?}"));
        }
        let pid = self.tasks[0].pid;
        let tid = self.spawn_task(name, pid);
        let text = format!("the Launcher starts thread {name:?}: it shares the Launcher's memory and descriptors");
        self.log.push(name, "launcher", "X:600", text, &["tasks"]);
        Ok(tid)
    }

    /// `fork()`: another process with a copy of the Launcher's descriptors but its own address space. The
    /// Guest's memory is mapped at the same place (private copy), so only the task differs.
    pub fn new_process(&mut self, name: &str) -> Result<Tid, String> {
        if self.task_by_name(name).is_some() {
            return Err(format!("there is already a task called {name:?}"));
        }
        let parent = self.tasks[0].pid as usize;
        let mut child = self.procs[parent].clone();
        child.pid = self.procs.len() as Pid;
        child.name = name.to_string();
        child.script.clear();
        for file in child.fds.values() {
            self.host.files[*file].f_count += 1;
            if let FileKind::Eventfd { ctx } = self.host.files[*file].kind {
                let _ = ctx; // the file holds the context; more descriptors do not add references
            }
        }
        let pid = child.pid;
        self.procs.push(child);
        let tid = self.spawn_task(name, pid);
        let text = format!("the Launcher forks process {name:?}: same descriptors, its own task and memory");
        self.log.push(name, "launcher", "X:600", text, &["tasks"]);
        Ok(tid)
    }

    pub fn task_by_name(&self, name: &str) -> Option<Tid> {
        self.tasks.iter().find(|t| t.name == name).map(|t| t.tid)
    }

    pub fn task_name(&self, tid: Tid) -> String {
        self.tasks.get(tid as usize).map(|t| t.name.clone()).unwrap_or_else(|| format!("task{tid}"))
    }

    pub fn proc_of(&self, tid: Tid) -> usize {
        self.tasks.get(tid as usize).map(|t| t.pid as usize).unwrap_or(0)
    }

    /// Record an event as the current task.
    #[track_caller]
    pub fn ev(&mut self, func: &'static str, text: String, changed: &[&str]) {
        let task = self.task_name(self.current);
        self.log.push(&task, func, crate::host::tags::tag(func), text, changed);
    }

    /// User-space store into the calling task's memory (how the Launcher fills a request buffer).
    pub fn poke_user(&mut self, tid: Tid, addr: u32, data: &[u8]) -> Result<(), String> {
        let pidx = self.proc_of(tid);
        let p = &mut self.procs[pidx];
        p.mm.write(&mut p.ram, addr, data).map_err(|f| format!("address {:#x} is not mapped in the Launcher", f.addr))
    }

    /// User-space load from a task's memory.
    pub fn peek_user(&self, tid: Tid, addr: u32, len: u32) -> Result<Vec<u8>, String> {
        let p = &self.procs[self.proc_of(tid)];
        let mut buf = vec![0u8; len as usize];
        p.mm.read(&p.ram, addr, &mut buf).map_err(|f| format!("address {:#x} is not mapped in the Launcher", f.addr))?;
        Ok(buf)
    }

    // --- user-access helpers the Host uses, always in `current`'s address space -------------------

    pub fn get_user(&self, addr: u32) -> Option<u32> {
        let p = &self.procs[self.proc_of(self.current)];
        p.mm.read_u32(&p.ram, addr).ok()
    }

    pub fn copy_from_user(&self, addr: u32, len: u32) -> Option<Vec<u8>> {
        self.peek_user(self.current, addr, len).ok()
    }

    pub fn copy_to_user(&mut self, addr: u32, data: &[u8]) -> bool {
        let cur = self.current;
        self.poke_user(cur, addr, data).is_ok()
    }

    /// The file behind a descriptor of the calling task.
    pub fn fdget(&self, fd: i32) -> Option<FileId> {
        self.procs[self.proc_of(self.current)].fds.get(&fd).copied()
    }

    /// Make a system call as task `tid`. A task already blocked in a call cannot make another.
    pub fn syscall(&mut self, tid: Tid, call: Syscall) -> Result<Outcome, String> {
        let out = self.syscall_unsettled(tid, call)?;
        self.settle();
        Ok(out)
    }

    /// The system call alone, without moving other blocked tasks on afterwards: how a Launcher device thread,
    /// whose code runs inside [`Machine::settle`], makes its calls (it runs until it sleeps, then others run).
    pub fn syscall_unsettled(&mut self, tid: Tid, call: Syscall) -> Result<Outcome, String> {
        let task = self.tasks.get(tid as usize).ok_or_else(|| format!("no task {tid}"))?;
        if task.state == TaskState::Exited {
            return Err(format!("task {:?} has exited", task.name));
        }
        if self.pending.contains_key(&tid) {
            return Err(format!("task {:?} is still blocked in its last system call (use wait)", task.name));
        }
        if let Some(r) = self.finished.get(&tid) {
            return Err(format!("task {:?}'s last system call has returned {}: collect it with wait first", task.name, r.render()));
        }
        self.current = tid;
        let out = match call {
            Syscall::Open => Outcome::Done(self.sys_open()),
            Syscall::Eventfd => Outcome::Done(self.sys_eventfd()),
            Syscall::Close { fd } => Outcome::Done(self.sys_close(fd)),
            Syscall::Write { fd, buf, len, off } => Outcome::Done(self.sys_write(fd, buf, len, off)),
            Syscall::Read { fd, buf, len, off } => self.sys_read(fd, buf, len, off),
        };
        let out = match out {
            Outcome::Done(r) => Outcome::Done(self.return_to_user(tid, r)),
            blocked => blocked,
        };
        Ok(out)
    }

    /// Leaving the kernel: a signal that arrived during the call is delivered now.
    fn return_to_user(&mut self, tid: Tid, r: SysResult) -> SysResult {
        if let Some(t) = self.tasks.get_mut(tid as usize) {
            t.state = TaskState::User;
            if t.signal_pending {
                t.signal_pending = false;
                let name = t.name.clone();
                self.log.push(&name, "launcher", "X:600", format!("{name} returns to user space and runs its signal handler"), &["tasks"]);
            }
        }
        r
    }

    fn sys_open(&mut self) -> SysResult {
        let pidx = self.proc_of(self.current);
        let Some(fd) = self.procs[pidx].lowest_free_fd() else {
            return SysResult::err(Errno::EMFILE, "the Launcher has no free descriptor");
        };
        let file = self.host.files.len();
        self.host.files.push(OpenFile { kind: FileKind::Lguest { private_data: None }, f_count: 1 });
        self.procs[pidx].fds.insert(fd, file);
        self.ev("launcher", format!("open(\"/dev/lguest\", O_RDWR) = {fd}: a new file with no Guest yet (private_data is NULL)"), &["files"]);
        SysResult::ok(fd as i64, "the misc device opened; nothing is allocated until LHREQ_INITIALIZE")
    }

    fn sys_eventfd(&mut self) -> SysResult {
        let pidx = self.proc_of(self.current);
        let Some(fd) = self.procs[pidx].lowest_free_fd() else {
            return SysResult::err(Errno::EMFILE, "the Launcher has no free descriptor");
        };
        let ctx = self.host.eventfds.len();
        self.host.eventfds.push(crate::host::eventfd::EventfdCtx { count: 0, refs: 1 });
        let file = self.host.files.len();
        self.host.files.push(OpenFile { kind: FileKind::Eventfd { ctx }, f_count: 1 });
        self.procs[pidx].fds.insert(fd, file);
        self.ev("launcher", format!("eventfd(0, 0) = {fd}: a counter at 0 the Launcher can hand to LHREQ_EVENTFD"), &["files", "eventfds"]);
        SysResult::ok(fd as i64, "a new eventfd")
    }

    fn sys_close(&mut self, fd: i32) -> SysResult {
        let pidx = self.proc_of(self.current);
        let Some(file) = self.procs[pidx].fds.remove(&fd) else {
            return SysResult::err(Errno::EBADF, format!("descriptor {fd} is not open"));
        };
        self.ev("launcher", format!("close({fd})"), &["files"]);
        self.fput(file);
        SysResult::ok(0, format!("descriptor {fd} closed"))
    }

    /// Drop a reference on an open file; the last one releases it (`close()` of `/dev/lguest` is the
    /// file's release method, so it runs only when no descriptor refers to the file any more).
    pub fn fput(&mut self, file: FileId) {
        let f = &mut self.host.files[file];
        f.f_count = f.f_count.saturating_sub(1);
        if f.f_count > 0 {
            return;
        }
        match f.kind.clone() {
            FileKind::Lguest { private_data } => self.lguest_close(file, private_data),
            FileKind::Eventfd { ctx } => self.eventfd_ctx_put(ctx),
            FileKind::Tty => {}
        }
    }

    fn sys_write(&mut self, fd: i32, buf: u32, len: u32, off: u64) -> SysResult {
        let Some(file) = self.fdget(fd) else {
            return SysResult::err(Errno::EBADF, format!("descriptor {fd} is not open"));
        };
        match self.host.files[file].kind {
            FileKind::Lguest { .. } => match self.lguest_write(file, buf, len, off) {
                Ok((n, why)) => SysResult::ok(n, why),
                Err(f) => SysResult::err(f.errno, f.why),
            },
            FileKind::Eventfd { ctx } => {
                // eventfd_write(): an 8-byte value added to the counter.
                if len < 8 {
                    return SysResult::err(Errno::EINVAL, "an eventfd takes writes of 8 bytes");
                }
                let Some(b) = self.copy_from_user(buf, 8) else {
                    return SysResult::err(Errno::EFAULT, format!("the buffer at {buf:#x} is not mapped"));
                };
                let v = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
                if v == u64::MAX {
                    return SysResult::err(Errno::EINVAL, "0xffffffffffffffff cannot be added to an eventfd");
                }
                self.host.eventfds[ctx].count = self.host.eventfds[ctx].count.saturating_add(v);
                SysResult::ok(8, "added to the eventfd's counter")
            }
            FileKind::Tty => SysResult::ok(len as i64, "written to the terminal"),
        }
    }

    fn sys_read(&mut self, fd: i32, buf: u32, len: u32, off: u64) -> Outcome {
        let Some(file) = self.fdget(fd) else {
            return Outcome::Done(SysResult::err(Errno::EBADF, format!("descriptor {fd} is not open")));
        };
        match self.host.files[file].kind {
            FileKind::Lguest { .. } => self.lguest_read(file, buf, len, off),
            FileKind::Eventfd { ctx } => {
                if len < 8 {
                    return Outcome::Done(SysResult::err(Errno::EINVAL, "an eventfd is read 8 bytes at a time"));
                }
                let tid = self.current;
                self.pending.insert(tid, Pending::EventfdRead { ctx, buf });
                self.tasks[tid as usize].state = TaskState::InRead;
                match self.progress(tid) {
                    Some(r) => Outcome::Done(r),
                    None => Outcome::Blocked { why: "the eventfd's counter is 0: the thread sleeps until it is signalled".into() },
                }
            }
            FileKind::Tty => Outcome::Blocked { why: "waiting for terminal input".into() },
        }
    }

    /// Try to move a blocked call on; `Some` when it returned.
    fn progress(&mut self, tid: Tid) -> Option<SysResult> {
        let p = self.pending.get(&tid)?.clone();
        self.current = tid;
        let signal = self.tasks[tid as usize].signal_pending;
        let done = match p {
            Pending::EventfdRead { ctx, buf } => {
                let count = self.host.eventfds[ctx].count;
                if count > 0 {
                    self.host.eventfds[ctx].count = 0;
                    if self.copy_to_user(buf, &count.to_le_bytes()) {
                        self.ev("launcher", format!("read() of the eventfd returns: the counter was {count}"), &["eventfds"]);
                        let mut r = SysResult::ok(8, "the eventfd had been signalled");
                        r.count = Some(count);
                        Some(r)
                    } else {
                        Some(SysResult::err(Errno::EFAULT, format!("the buffer at {buf:#x} is not mapped")))
                    }
                } else if signal {
                    Some(SysResult::err(Errno::ERESTARTSYS, "a signal interrupted the sleeping read (user space sees EINTR)"))
                } else {
                    None
                }
            }
            // A task asleep in schedule() (its Guest halted) stays asleep until something wakes it.
            Pending::LguestRead { halted: true, .. } if !signal => None,
            Pending::LguestRead { file, cpu, buf, .. } => match self.run_guest_for(file, cpu, buf) {
                crate::host::core::RunOutcome::Return(r) => Some(match r {
                    Ok((n, notify)) => {
                        let mut s = SysResult::ok(n, "the Guest sent a NOTIFY that no eventfd took");
                        s.notify = Some(notify);
                        s.console = self.console_text(tid, notify);
                        s
                    }
                    Err(f) => SysResult::err(f.errno, f.why),
                }),
                crate::host::core::RunOutcome::Blocked(why) => {
                    if let Some(Pending::LguestRead { why: w, halted, .. }) = self.pending.get_mut(&tid) {
                        *w = why;
                        *halted = false;
                    }
                    None
                }
                crate::host::core::RunOutcome::Halted(why) => {
                    if let Some(Pending::LguestRead { why: w, halted, .. }) = self.pending.get_mut(&tid) {
                        *w = why;
                        *halted = true;
                    }
                    None
                }
            },
        };
        if let Some(r) = done {
            self.drop_pending(tid);
            let r = self.return_to_user(tid, r);
            return Some(r);
        }
        None
    }

    /// The early-console string at Guest-physical `addr`, as the Launcher would print it.
    fn console_text(&self, tid: Tid, addr: u32) -> Option<String> {
        let p = &self.procs[self.proc_of(tid)];
        if addr as u64 >= p.guest_pages as u64 * params::PAGE_SIZE as u64 {
            return None;
        }
        let bytes = p.ram.read_cstr(addr, 256).ok()?;
        let printable = !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        printable.then(|| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Move every blocked call on as far as it goes without outside help (bounded: each call either
    /// returns or reports that it waits).
    pub fn settle(&mut self) {
        let saved = self.current;
        for _ in 0..64 {
            let mut moved = false;
            let tids: Vec<Tid> = self.pending.keys().copied().collect();
            for tid in tids {
                if let Some(r) = self.progress(tid) {
                    self.finished.insert(tid, r);
                    moved = true;
                }
            }
            // The Launcher's device threads whose eventfd read returned run their code until they sleep again.
            if self.run_device_threads() {
                moved = true;
            }
            if !moved {
                break;
            }
        }
        self.current = saved;
    }

    /// A blocked call ends (it returned, or its task died): the file reference the call held goes.
    fn drop_pending(&mut self, tid: Tid) {
        if let Some(Pending::LguestRead { file, .. }) = self.pending.remove(&tid) {
            self.fput(file);
        }
    }

    /// `wake_up_process()`: a task asleep in `read()` because its Guest halted becomes runnable; the next
    /// `settle` runs its `run_guest()` loop from the top. True if it was asleep.
    pub fn wake_up_process(&mut self, tid: Tid) -> bool {
        match self.pending.get_mut(&tid) {
            Some(Pending::LguestRead { halted, .. }) if *halted => {
                *halted = false;
                true
            }
            _ => false,
        }
    }

    /// Let simulated time pass: the Guest's timer may fire and wake a halted Guest.
    pub fn advance(&mut self, ns: u64) {
        let until = self.host.now_ns.saturating_add(ns);
        self.run_timers(until);
        self.host.now_ns = until;
        self.settle();
    }

    /// Wait for task `tid`'s blocked call to return. If it sleeps with the Guest's timer armed, time moves to
    /// the timer's expiry (nothing else could wake it). `None` if it stays blocked.
    pub fn wait(&mut self, tid: Tid) -> Option<SysResult> {
        // Bounded, so a Guest that keeps trapping without returning to the Launcher cannot hold the page:
        // at most WAIT_ROUNDS trips, each at most one time slice or one timer expiry.
        for _ in 0..WAIT_ROUNDS {
            if let Some(r) = self.finished.remove(&tid) {
                return Some(r);
            }
            if !self.pending.contains_key(&tid) {
                return None;
            }
            let halted = matches!(self.pending.get(&tid), Some(Pending::LguestRead { halted: true, .. }));
            match self.next_timer().filter(|_| halted) {
                Some(t) if t > self.host.now_ns => {
                    let ns = t - self.host.now_ns;
                    self.advance(ns);
                }
                Some(_) => self.advance(0),
                None => {
                    // A Guest that is still running may make progress with more time (its work moves the
                    // clock on, even when it logs nothing).
                    let before = (self.log.len(), self.host.now_ns);
                    self.settle();
                    if let Some(r) = self.finished.remove(&tid) {
                        return Some(r);
                    }
                    if (self.log.len(), self.host.now_ns) == before {
                        return None;
                    }
                }
            }
        }
        self.finished.remove(&tid)
    }

    /// `kill(task, sig)`: mark a signal pending; a task blocked in the kernel is woken to notice it.
    pub fn signal(&mut self, tid: Tid) {
        let name = self.task_name(tid);
        let blocked = self.pending.contains_key(&tid);
        if let Some(t) = self.tasks.get_mut(tid as usize) {
            if blocked {
                t.signal_pending = true;
            }
        }
        self.wake_up_process(tid);
        let text = if blocked {
            format!("a signal arrives for {name}, asleep in the kernel: signal_pending() is now true and the task is woken")
        } else {
            format!("a signal arrives for {name} in user space: its handler runs at once")
        };
        self.log.push(&name, "launcher", "X:600", text, &["tasks"]);
        self.settle();
    }

    /// `kill(thread, SIGTERM)` then `waitpid()`: one task leaves whatever call it was blocked in and exits;
    /// its process and the process's descriptors stay.
    pub fn exit_task(&mut self, tid: Tid) {
        self.drop_pending(tid);
        self.finished.remove(&tid);
        if let Some(t) = self.tasks.get_mut(tid as usize) {
            t.state = TaskState::Exited;
        }
    }

    /// Exit a whole process: every descriptor is closed, which releases files whose last reference it held.
    pub fn exit_process(&mut self, tid: Tid) {
        let pidx = self.proc_of(tid);
        let fds: Vec<(i32, FileId)> = self.procs[pidx].fds.iter().map(|(a, b)| (*a, *b)).collect();
        let pid = self.procs[pidx].pid;
        let name = self.task_name(tid);
        self.log.push(&name, "launcher", "X:600", format!("process {} exits: the kernel closes its descriptors", self.procs[pidx].name), &["tasks", "files"]);
        let dying: Vec<Tid> = self.tasks.iter().filter(|t| t.pid == pid).map(|t| t.tid).collect();
        for t in dying {
            self.tasks[t as usize].state = TaskState::Exited;
            self.drop_pending(t);
        }
        self.procs[pidx].fds.clear();
        self.current = tid;
        for (_, file) in fds {
            self.fput(file);
        }
    }
}
