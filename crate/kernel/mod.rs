//! The simulated host kernel: the Linux that the lguest driver is part of, cut down to what the course
//! needs, with the kernel's concepts and names.
//!
//! The tour:
//! - [`task`]: tasks and processes (`task_struct`), `current`, `signal_pending()`.
//! - [`mm`]: address spaces; `get_user()`, `copy_from_user()`, `copy_to_user()` are methods here.
//! - [`file`]: open files and their operations tables (`struct file_operations`); `fdget()`, `fput()`.
//! - [`syscall`]: the system calls user programs make, and their results.
//! - [`sched`]: the scheduler: tasks asleep in the kernel, `wake_up_process()`, signals, time passing,
//!   and resuming user programs.
//! - [`user`]: the one door user space has: [`user::Sys`], and [`user::UserProgram`], what a program the
//!   scheduler resumes is.
//! - [`eventfd`], [`tty`]: two kinds of file (eventfds, the Launcher's terminal).
//! - [`drivers`]: the drivers built in, the lguest driver ([`crate::lguest`]) among them: its file
//!   operations behind `/dev/lguest`, its timers.
//! - [`alloc`]: the account book of every allocation and reference, so leaks show.
//!
//! `Kernel` is `Clone` and cheap to clone (Guest memory is copy-on-write), which is how the page steps back.

pub mod alloc;
pub mod drivers;
pub mod eventfd;
pub mod file;
pub mod irq;
pub mod mm;
pub mod module;
pub mod sched;
pub mod syscall;
pub mod task;
pub mod tty;
pub mod user;

use crate::event::EventLog;
use alloc::Allocator;
use eventfd::EventfdCtx;
use file::File;
use sched::Sched;
use task::{Pid, Process, Task, TaskState, Tid};
use tty::Tty;
use user::UserProgram;

/// `__KERNEL_CS` of an i386 kernel (GDT entry 12, ring 0): what `enable_sep_cpu()` puts in
/// `MSR_IA32_SYSENTER_CS`.
pub const KERNEL_CS: u32 = 12 << 3;

/// The kernel's state.
#[derive(Clone, Debug, Default)]
pub struct Kernel {
    pub tasks: Vec<Task>,
    pub procs: Vec<Process>,
    pub files: Vec<File>,
    pub eventfds: Vec<EventfdCtx>,
    pub alloc: Allocator,
    pub tty: Tty,
    /// Every step of the simulation, in order (see [`crate::event`]).
    pub log: EventLog,
    pub sched: Sched,
    /// Simulated time, in nanoseconds since boot.
    pub now_ns: u64,
    /// The task whose code is running (`current`).
    pub current: Tid,
    /// The lguest driver's own state (its module's globals: every Guest, `lguest_lock`).
    pub lguest: drivers::LguestModule,
    /// `paravirt_enabled()`: whether this Host is itself a paravirtualized guest (under Xen, VMI or lguest).
    /// False for the bare machine simulated; set before [`Kernel::boot_with`] to see lguest refuse to load.
    pub paravirt: bool,
    /// The modules loaded, by name (`lsmod`; see [`module`]).
    pub modules: Vec<&'static str>,
    /// `used_vectors`: the IDT vectors the kernel holds (see [`irq`] for which, on the host modelled).
    pub used_vectors: irq::UsedVectors,
    /// The host CPU's `MSR_IA32_SYSENTER_CS`: the code segment `sysenter` enters. `enable_sep_cpu()` sets it
    /// to `__KERNEL_CS` as the kernel boots (the CPU assumed has SEP, as every Intel part from the Pentium II
    /// on: the Guest core's CPUID does not advertise it, as lguest's Guests are not told); lguest zeroes it
    /// around each trip into the Guest. 0, the value after reset, in a kernel that has not booted.
    pub msr_sysenter_cs: u32,
}

impl Kernel {
    /// A kernel with no process yet, and no driver loaded (see [`Kernel::boot`]).
    pub fn new() -> Kernel {
        Kernel::default()
    }

    /// The machine starts: a kernel with its drivers' modules loaded ([`drivers::MODULES`]), in order.
    pub fn boot() -> Kernel {
        Kernel::boot_with(false)
    }

    /// [`Kernel::boot`] on a Host that is (`paravirt`) or is not itself a paravirtualized guest. What each
    /// module's init returned.
    pub fn boot_with(paravirt: bool) -> Kernel {
        Kernel::boot_with_args(paravirt, "").unwrap_or_default()
    }

    /// [`Kernel::boot_with`], lguest loaded with the parameters `lguest_args` (`"syscall_vector=0x40"`, as
    /// `options lguest ...` in modprobe.conf gives them). `Err` if the simulation refuses a parameter.
    pub fn boot_with_args(paravirt: bool, lguest_args: &str) -> Result<Kernel, module::Refused> {
        // trap_init() and native_init_IRQ() have run before any module loads.
        let mut k = Kernel { paravirt, used_vectors: irq::UsedVectors::at_boot(), msr_sysenter_cs: KERNEL_CS, ..Kernel::default() };
        for m in drivers::MODULES {
            let args = if m.name == "lguest" { lguest_args } else { "" };
            k.init_module("insmod", m.name, args)?;
        }
        Ok(k)
    }

    /// Start a program in a new process with one task, `main`, and descriptors 0, 1 and 2 on the terminal
    /// (the shell's `fork()` and `exec()`). Returns the main task.
    pub fn exec(&mut self, name: &str, program: Box<dyn UserProgram>) -> Tid {
        let pid = self.procs.len() as Pid;
        self.procs.push(Process { pid, name: name.to_string(), mm: Default::default(), fds: Default::default(), program: Some(program) });
        for (fd, stream) in [(0, tty::STDIN), (1, tty::STDOUT), (2, tty::STDERR)] {
            let existing = self.files.iter().position(|f| std::ptr::eq(f.ops, &tty::TTY_FOPS) && f.private_data == Some(stream));
            let file = match existing {
                Some(f) => {
                    self.fget(f);
                    f
                }
                None => self.alloc_file(&tty::TTY_FOPS, Some(stream)),
            };
            self.procs[pid as usize].fds.insert(fd, file);
        }
        let tid = self.spawn_task("main", pid, false);
        self.current = tid;
        tid
    }

    pub(crate) fn spawn_task(&mut self, name: &str, pid: Pid, by_program: bool) -> Tid {
        let tid = self.tasks.len() as Tid;
        self.tasks.push(Task { tid, name: name.to_string(), pid, state: TaskState::User, signal_pending: false, by_program, files: None });
        tid
    }

    /// Task `tid`'s descriptor table: its own, or its process's.
    pub fn fd_table(&self, tid: Tid) -> Option<&std::collections::BTreeMap<i32, file::FileId>> {
        let t = self.tasks.get(tid as usize)?;
        match &t.files {
            Some(own) => Some(own),
            None => self.procs.get(t.pid as usize).map(|p| &p.fds),
        }
    }

    /// Task `tid`'s descriptor table, to change it.
    pub fn fd_table_mut(&mut self, tid: Tid) -> Option<&mut std::collections::BTreeMap<i32, file::FileId>> {
        let pid = self.tasks.get(tid as usize)?.pid as usize;
        let Kernel { tasks, procs, .. } = self;
        match tasks.get_mut(tid as usize)?.files.as_mut() {
            Some(own) => Some(own),
            None => procs.get_mut(pid).map(|p| &mut p.fds),
        }
    }

    pub fn task_by_name(&self, name: &str) -> Option<Tid> {
        self.tasks.iter().find(|t| t.name == name).map(|t| t.tid)
    }

    pub fn task_name(&self, tid: Tid) -> String {
        if tid == task::IRQ_CONTEXT {
            return "timer".into();
        }
        self.tasks.get(tid as usize).map(|t| t.name.clone()).unwrap_or_else(|| format!("task{tid}"))
    }

    /// The process (its index) task `tid` belongs to.
    pub fn proc_of(&self, tid: Tid) -> usize {
        self.tasks.get(tid as usize).map(|t| t.pid as usize).unwrap_or(0)
    }

    /// Record an event as the current task, tagged by the function it happened in.
    #[track_caller]
    pub fn ev(&mut self, func: &'static str, text: String, changed: &'static [&'static str]) {
        let task = self.task_name(self.current);
        self.log.push(&task, func, crate::tags::tag(func), text, changed);
    }

    // --- uaccess: the kernel reaching into the current task's address space ---------------------------

    /// `get_user()` of a 32-bit word; `None` is a fault (the caller returns `-EFAULT`).
    pub fn get_user(&self, addr: u32) -> Option<u32> {
        self.procs.get(self.proc_of(self.current))?.mm.read_u32(addr).ok()
    }

    /// `copy_from_user()`; `None` is a fault.
    pub fn copy_from_user(&self, addr: u32, len: u32) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        self.procs.get(self.proc_of(self.current))?.mm.read(addr, &mut buf).ok()?;
        Some(buf)
    }

    /// `copy_to_user()` / `put_user()`; false is a fault (bytes before the bad address were written).
    pub fn copy_to_user(&mut self, addr: u32, data: &[u8]) -> bool {
        let p = self.proc_of(self.current);
        self.procs.get_mut(p).is_some_and(|p| p.mm.write(addr, data).is_ok())
    }

    /// The program of process `pid`, if it is one of type `T` (for views of a program's own state).
    pub fn program<T: UserProgram>(&self, pid: usize) -> Option<&T> {
        self.procs.get(pid)?.program.as_ref()?.as_any().downcast_ref::<T>()
    }
}
