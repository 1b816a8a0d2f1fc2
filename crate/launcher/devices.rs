//! The Launcher's devices (Documentation/lguest/lguest.c, 2.6.39): the devices page above Guest RAM, the
//! virtio console with its two virtqueues, and one thread per virtqueue that sleeps on an eventfd.
//!
//! The tour, in the order a Guest meets it:
//! 1. Before the Guest starts, `setup_console()` writes a `struct lguest_device_desc` on the devices page
//!    (the first page above RAM) and `add_virtqueue()` gives each queue ring pages above it, an irq and a
//!    `struct lguest_vqconfig` {num, irq, pfn} the Guest can read.
//! 2. The Guest's driver writes the status byte and NOTIFYs the descriptor's address; `read()` returns that
//!    address to the main thread, and `handle_output()` sends it to `update_device_status()`. At DRIVER_OK,
//!    `start_device()` calls `create_thread()` for each queue: an eventfd, `LHREQ_EVENTFD` tying it to the
//!    ring's address, and a thread (`do_thread()`) that waits in `wait_for_vq_desc()`.
//! 3. From then on the Guest's NOTIFY of a ring never reaches the main thread: the Host's
//!    `send_notify_to_eventfd()` signals the eventfd, the device thread wakes, services the ring
//!    (`console_output()` writes to stdout; `console_input()` reads stdin), fills the used ring and
//!    `trigger_irq()`s with `LHREQ_IRQ`, while `main` stays in `read()` running the Guest.
//!
//! The threads are simulated tasks of the Launcher process: their system calls go through the same
//! `/dev/lguest` and eventfd code as the main thread's, and a thread blocked in `read()` of its eventfd is
//! moved on by [`Machine::settle`] like any other blocked call; [`Machine::run_device_threads`] then runs the
//! thread's own code until it sleeps again. Every step is an event whose task is the thread's name.
//!
//! One simplification, said once: the real `clone(CLONE_VM | SIGCHLD)` gives the thread its own copy of the
//! descriptor table, and the Launcher then closes its copy of the eventfd. Our threads share the process's one
//! table, so the eventfd descriptor stays open (it is the thread's) until the device is reset.

use serde::Serialize;

use super::virtqueue::{get16, next_chain, push_used, put16, vring_size, Chain, Vring, VIRTQUEUE_NUM};
use super::virtqueue::{VRING_AVAIL_F_NO_INTERRUPT, VRING_USED_F_NO_NOTIFY};
use crate::host::lguest_user::{LHREQ_EVENTFD, LHREQ_IRQ};
use crate::launcher::Tid;
use crate::machine::{Machine, Outcome, Syscall};
use crate::params::{DEVICE_PAGES, LAUNCHER_SCRATCH, PAGE_SIZE};

/// `VIRTIO_ID_CONSOLE` (include/linux/virtio_ids.h).
pub const VIRTIO_ID_CONSOLE: u8 = 3;
/// Status bits the Guest's driver sets (include/linux/virtio_config.h).
pub const VIRTIO_CONFIG_S_ACKNOWLEDGE: u8 = 1;
pub const VIRTIO_CONFIG_S_DRIVER: u8 = 2;
pub const VIRTIO_CONFIG_S_DRIVER_OK: u8 = 4;
pub const VIRTIO_CONFIG_S_FAILED: u8 = 0x80;

/// `sizeof(struct lguest_device_desc)` before its config bytes: type, num_vq, feature_len, config_len, status.
pub const DESC_SIZE: u32 = 5;
/// Offset of the status byte in the descriptor.
pub const DESC_STATUS: u32 = 4;
/// `sizeof(struct lguest_vqconfig)`: num (u16), irq (u16), pfn (u32).
pub const VQCONFIG_SIZE: u32 = 8;

/// Device threads' system-call buffers: the top quarter of the Launcher's scratch page, 32 bytes a thread,
/// clear of the main thread's buffers (it reads up to 1023 bytes of a death reason at the bottom).
const THREAD_SCRATCH: u32 = LAUNCHER_SCRATCH + 0xC00;
/// Bytes of the Launcher's stdout the simulation keeps (a Guest could print its whole memory).
const MAX_STDOUT: usize = 1 << 20;
/// Buffers a thread services in one wake-up before the simulation lets others run. A Guest can have at
/// most `num` buffers outstanding, so this is never reached by a ring the checks let through.
const MAX_SERVICE: u32 = 4096;

/// What a virtqueue's thread does with each buffer (`vq->service`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Service {
    ConsoleInput,
    ConsoleOutput,
}

/// Where a virtqueue's thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ThreadState {
    /// No thread: the device has not started, or was reset.
    NoThread,
    /// Created or woken, with its code still to run.
    Runnable,
    /// Asleep in `read()` of its eventfd, inside `wait_for_vq_desc()`.
    EventfdRead,
    /// `console_input()` holds a Guest buffer and waits in `readv()` of stdin for a key.
    StdinRead,
    /// Killed by `reset_device()`, or exited.
    Dead,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Virtqueue {
    /// The thread's name, e.g. `console-output`.
    pub name: String,
    /// `struct lguest_vqconfig` as the Guest sees it.
    pub num: u16,
    pub irq: u32,
    pub pfn: u32,
    /// `last_avail_idx`: the next available-ring entry the Launcher will take.
    pub last_avail_idx: u16,
    /// Buffers used since the last interrupt (`pending_used`).
    pub pending_used: u32,
    pub service: Service,
    pub thread: Option<Tid>,
    pub state: ThreadState,
    /// The eventfd descriptor the thread reads.
    pub eventfd: Option<i32>,
    /// A buffer `console_input()` took and has not filled yet (it sleeps in `readv()`).
    #[serde(skip)]
    pub held: Option<Chain>,
}

impl Virtqueue {
    pub fn vring(&self) -> Vring {
        Vring::new(self.num, self.pfn.wrapping_mul(PAGE_SIZE))
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub name: String,
    pub device_type: u8,
    /// Guest-physical address of its `struct lguest_device_desc`: the address its status NOTIFY names.
    pub desc: u32,
    pub feature_len: u8,
    pub running: bool,
    pub vqs: Vec<Virtqueue>,
}

/// The real Launcher's `struct device_list devices`, and the limits `main()` sets up around it.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Devices {
    /// Guest-physical address of the devices page; `None` until the Launcher sets its devices up.
    pub descpage: Option<u32>,
    /// `guest_limit`: bytes of Guest memory in use, RAM plus the device pages handed out so far.
    pub guest_limit: u32,
    /// `guest_max`: RAM plus `DEVICE_PAGES` pages, all `get_pages()` may hand out.
    pub guest_max: u32,
    /// `next_irq`: irq 0 is the timer, so devices count from 1.
    pub next_irq: u32,
    pub list: Vec<Device>,
    /// The `/dev/lguest` descriptor the threads write `LHREQ_IRQ` to.
    pub lguest_fd: i32,
    /// The message a fatal `errx()` printed, once the Launcher has died of it.
    pub fatal: Option<String>,
}

/// Which virtqueue: (process, device, queue).
type Vq = (usize, usize, usize);

/// The bytes of a console write, shown in an event (control characters escaped, long text cut).
fn shown(bytes: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).escape_debug().collect();
    if bytes.len() > 80 {
        format!("\"{s}\"...")
    } else {
        format!("\"{s}\"")
    }
}

impl Machine {
    fn vq(&self, (p, d, q): Vq) -> &Virtqueue {
        &self.procs[p].devices.list[d].vqs[q]
    }

    fn vq_mut(&mut self, (p, d, q): Vq) -> &mut Virtqueue {
        &mut self.procs[p].devices.list[d].vqs[q]
    }

    /// The Launcher's `guest_limit`: Guest RAM until devices are set up, then RAM plus the device pages used.
    pub fn guest_limit(&self, p: usize) -> u32 {
        let proc = &self.procs[p];
        match proc.devices.descpage {
            Some(_) => proc.devices.guest_limit,
            None => proc.guest_pages * PAGE_SIZE,
        }
    }

    /// `main()`'s device set-up: `next_irq = 1`, the devices page from `get_pages(1)` (the first page above
    /// RAM), then `setup_console()`, which the real Launcher always does. Call before `LHREQ_INITIALIZE`.
    pub fn setup_devices(&mut self, tid: Tid) -> Result<(), String> {
        let p = self.proc_of(tid);
        if self.procs[p].devices.descpage.is_some() {
            return Err("the Launcher's devices are already set up".into());
        }
        self.current = tid;
        let ram = self.procs[p].guest_pages * PAGE_SIZE;
        let devs = &mut self.procs[p].devices;
        devs.guest_limit = ram;
        devs.guest_max = ram + DEVICE_PAGES * PAGE_SIZE;
        devs.next_irq = 1;
        let page = self.get_pages(p, 1)?;
        self.procs[p].devices.descpage = Some(page);
        self.ev(
            "setup_console",
            format!("devices.descpage = get_pages(1) = {page:#x}: the first page above the Guest's {ram:#x} bytes of RAM; guest_limit is now {:#x}", page + PAGE_SIZE),
            &["devices"],
        );
        self.setup_console(tid)
    }

    /// `get_pages()`: hand out `n` zeroed pages at the top of the Guest's memory, bumping `guest_limit`.
    fn get_pages(&mut self, p: usize, n: u32) -> Result<u32, String> {
        let devs = &mut self.procs[p].devices;
        let addr = devs.guest_limit;
        let end = addr as u64 + n as u64 * PAGE_SIZE as u64;
        if end > devs.guest_max as u64 {
            return Err(format!("Not enough memory for devices ({n} more pages above {addr:#x})"));
        }
        devs.guest_limit = end as u32;
        Ok(addr)
    }

    /// `setup_console()`: a virtio console (type 3) with an input and an output virtqueue.
    pub fn setup_console(&mut self, tid: Tid) -> Result<(), String> {
        let p = self.proc_of(tid);
        self.current = tid;
        let d = self.new_device(p, "console", VIRTIO_ID_CONSOLE)?;
        self.add_virtqueue(p, d, VIRTQUEUE_NUM, Service::ConsoleInput)?;
        self.add_virtqueue(p, d, VIRTQUEUE_NUM, Service::ConsoleOutput)?;
        let desc = self.procs[p].devices.list[d].desc;
        self.ev("setup_console", format!("device {}: console at {desc:#x}, queues input then output", d + 1), &["devices"]);
        Ok(())
    }

    /// `new_device()` + `new_dev_desc()`: a descriptor after the last device's, on the one devices page.
    fn new_device(&mut self, p: usize, name: &str, device_type: u8) -> Result<usize, String> {
        let Some(page) = self.procs[p].devices.descpage else {
            return Err("the devices page is not set up (the Launcher's main() does that first)".into());
        };
        let at = match self.procs[p].devices.list.last() {
            Some(last) => {
                let ram = &self.procs[p].ram;
                let mut b = [0u8; 4];
                ram.read(last.desc, &mut b).map_err(|_| "the devices page is outside the Guest's memory".to_string())?;
                last.desc + DESC_SIZE + b[1] as u32 * VQCONFIG_SIZE + 2 * b[2] as u32 + b[3] as u32
            }
            None => page,
        };
        if at + DESC_SIZE > page + PAGE_SIZE {
            return Err("Too many devices".into());
        }
        self.procs[p].ram.write(at, &[device_type, 0, 0, 0, 0]).map_err(|_| "the devices page is outside the Guest's memory".to_string())?;
        self.procs[p].devices.list.push(Device { name: name.into(), device_type, desc: at, feature_len: 0, running: false, vqs: Vec::new() });
        self.ev("setup_console", format!("new_dev_desc(): struct lguest_device_desc at {at:#x}: type {device_type}, no queues, features or config yet"), &["devices", "guest.memory"]);
        Ok(self.procs[p].devices.list.len() - 1)
    }

    /// `add_virtqueue()`: ring pages from `get_pages()`, the next irq, and a `struct lguest_vqconfig` appended
    /// to the device's descriptor (num_vq++).
    fn add_virtqueue(&mut self, p: usize, d: usize, num: u16, service: Service) -> Result<(), String> {
        let pages = vring_size(num).div_ceil(PAGE_SIZE);
        let ring = self.get_pages(p, pages)?;
        let devs = &mut self.procs[p].devices;
        let irq = devs.next_irq;
        devs.next_irq += 1;
        let pfn = ring / PAGE_SIZE;
        let dev = &devs.list[d];
        let (desc, n) = (dev.desc, dev.vqs.len() as u32);
        let name = format!("{}-{}", dev.name, if service == Service::ConsoleInput { "input" } else { "output" });
        let at = desc + DESC_SIZE + n * VQCONFIG_SIZE;
        if at + VQCONFIG_SIZE > self.procs[p].devices.descpage.unwrap_or(0) + PAGE_SIZE {
            return Err("Too many devices".into());
        }
        let mut cfg = Vec::new();
        cfg.extend_from_slice(&num.to_le_bytes());
        cfg.extend_from_slice(&(irq as u16).to_le_bytes());
        cfg.extend_from_slice(&pfn.to_le_bytes());
        let ram = &mut self.procs[p].ram;
        ram.write(at, &cfg).and_then(|_| ram.write(desc + 1, &[(n + 1) as u8])).map_err(|_| "the devices page is outside the Guest's memory".to_string())?;
        self.procs[p].devices.list[d].vqs.push(Virtqueue {
            name: name.clone(),
            num,
            irq,
            pfn,
            last_avail_idx: 0,
            pending_used: 0,
            service,
            thread: None,
            state: ThreadState::NoThread,
            eventfd: None,
            held: None,
        });
        let text = format!(
            "add_virtqueue({name}): {pages} pages at {ring:#x} for a ring of {num}; lguest_vqconfig at {at:#x} = {{num {num}, irq {irq}, pfn {pfn:#x}}}; num_vq = {}",
            n + 1
        );
        self.ev("add_virtqueue", text, &["devices", "guest.memory"]);
        Ok(())
    }

    /// `handle_output()`: what the main thread does with an address `read()` returned. `Err` is a fatal
    /// `errx()` message; the caller ends the Launcher with it (see [`Machine::launcher_errx`]).
    pub fn handle_output(&mut self, tid: Tid, addr: u32, lguest_fd: i32) -> Result<(), String> {
        let p = self.proc_of(tid);
        self.current = tid;
        for d in 0..self.procs[p].devices.list.len() {
            let dev = &self.procs[p].devices.list[d];
            if addr == dev.desc {
                let name = dev.name.clone();
                self.ev("handle_output", format!("{addr:#x} is the {name} device's descriptor: its status changed"), &[]);
                return self.update_device_status(tid, p, d, lguest_fd);
            }
            if let Some(q) = dev.vqs.iter().position(|vq| addr as u64 == vq.pfn as u64 * PAGE_SIZE as u64) {
                let (name, running, vq) = (dev.name.clone(), dev.running, dev.vqs[q].name.clone());
                if running {
                    // A running device's rings notify its threads' eventfds; reaching read() means none took it.
                    return Err(format!("Notification on running {name}"));
                }
                self.ev("handle_output", format!("{addr:#x} is the ring of {vq}: a queue kicked before DRIVER_OK starts the device"), &[]);
                return self.start_device(tid, p, d, lguest_fd);
            }
        }
        let limit = self.guest_limit(p);
        if addr >= limit {
            return Err(format!("Bad NOTIFY {addr:#x}"));
        }
        // The early console: the NUL-terminated string there, up to the end of the Guest's memory.
        let s = self.procs[p].ram.read_cstr(addr, limit - addr).unwrap_or_default();
        self.ev("handle_output", format!("early console: write(STDOUT_FILENO, {addr:#x}) = {}: {}", s.len(), shown(&s)), &["stdout"]);
        self.launcher_stdout(p, &s);
        Ok(())
    }

    fn launcher_stdout(&mut self, p: usize, bytes: &[u8]) {
        let out = &mut self.procs[p].stdout;
        let room = MAX_STDOUT.saturating_sub(out.len());
        out.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// `errx()`: print the message and exit. From a device thread the thread exits first, and the SIGCHLD
    /// handler (`kill_launcher()`) then takes the whole Launcher down; either way every task of the process
    /// ends and its descriptors close, `/dev/lguest` with them.
    pub fn launcher_errx(&mut self, tid: Tid, msg: &str) {
        let p = self.proc_of(tid);
        self.current = tid;
        self.procs[p].stderr += &format!("lguest: {msg}\n");
        self.procs[p].devices.fatal = Some(msg.to_string());
        let who = self.task_name(tid);
        let why = if who == "main" { String::new() } else { format!("; {who} exits and kill_launcher() ends the others") };
        self.ev("launcher", format!("errx(1, \"{msg}\"){why}"), &["stderr", "tasks"]);
        self.exit_process(tid);
    }

    /// `update_device_status()`: the Guest wrote the status byte and NOTIFYed the descriptor.
    fn update_device_status(&mut self, tid: Tid, p: usize, d: usize, lguest_fd: i32) -> Result<(), String> {
        let dev = &self.procs[p].devices.list[d];
        let (name, running) = (dev.name.clone(), dev.running);
        let mut b = [0u8; 1];
        self.procs[p].ram.read(dev.desc + DESC_STATUS, &mut b).map_err(|_| "the devices page is outside the Guest's memory".to_string())?;
        let status = b[0];
        if status == 0 {
            self.ev("update_device_status", format!("{name} status 0: the Guest resets the device"), &[]);
            self.reset_device(tid, p, d);
        } else if status & VIRTIO_CONFIG_S_FAILED != 0 {
            self.procs[p].stderr += &format!("lguest: Device {name} configuration FAILED\n");
            self.ev("update_device_status", format!("{name} status {status:#x} has FAILED: warnx(), and reset it if it runs"), &["stderr"]);
            if running {
                self.reset_device(tid, p, d);
            }
        } else if status & VIRTIO_CONFIG_S_DRIVER_OK != 0 {
            if running {
                self.ev("update_device_status", format!("{name} status {status:#x}: DRIVER_OK, and it already runs"), &[]);
            } else {
                self.ev("update_device_status", format!("{name} status {status:#x}: DRIVER_OK, so start_device()"), &[]);
                return self.start_device(tid, p, d, lguest_fd);
            }
        } else {
            self.ev("update_device_status", format!("{name} status {status:#x}: the driver is still getting ready; nothing to do"), &[]);
        }
        Ok(())
    }

    /// `reset_device()`: kill the threads, zero the rings, forget what was taken. The Host's eventfd map keeps
    /// its entries (there is no request to remove one), which a restarted device then shares.
    fn reset_device(&mut self, tid: Tid, p: usize, d: usize) {
        self.current = tid;
        let name = self.procs[p].devices.list[d].name.clone();
        for q in 0..self.procs[p].devices.list[d].vqs.len() {
            let vq = self.vq((p, d, q)).clone();
            if let Some(t) = vq.thread {
                self.exit_task(t);
                // The thread's copy of the eventfd dies with it (the Host's reference stays in its map).
                if let Some(fd) = vq.eventfd {
                    let _ = self.syscall_unsettled(tid, Syscall::Close { fd });
                }
                self.current = tid;
                self.ev("launcher", format!("reset_device: kill({}, SIGTERM); waitpid()", vq.name), &["tasks"]);
            }
            let vr = vq.vring();
            let _ = self.procs[p].ram.write(vr.desc, &vec![0u8; vring_size(vq.num) as usize]);
            let v = self.vq_mut((p, d, q));
            v.thread = None;
            v.eventfd = None;
            v.state = ThreadState::NoThread;
            v.last_avail_idx = 0;
            v.pending_used = 0;
            v.held = None;
        }
        self.procs[p].devices.list[d].running = false;
        self.ev("launcher", format!("reset_device({name}): rings zeroed, last_avail_idx = 0, not running"), &["devices", "guest.memory"]);
    }

    /// `start_device()`: a thread for each virtqueue, then the device is running.
    fn start_device(&mut self, tid: Tid, p: usize, d: usize, lguest_fd: i32) -> Result<(), String> {
        self.procs[p].devices.lguest_fd = lguest_fd;
        let name = self.procs[p].devices.list[d].name.clone();
        self.current = tid;
        self.ev("start_device", format!("Device {name} OK: offered no features, accepted none; a thread for each queue"), &[]);
        for q in 0..self.procs[p].devices.list[d].vqs.len() {
            self.create_thread(tid, (p, d, q))?;
            self.current = tid;
        }
        self.procs[p].devices.list[d].running = true;
        self.ev("start_device", format!("{name} is running"), &["devices"]);
        Ok(())
    }

    /// `create_thread()`: an eventfd, `LHREQ_EVENTFD` for the ring's address, and the thread itself, which
    /// runs at once until it sleeps.
    fn create_thread(&mut self, tid: Tid, vq: Vq) -> Result<(), String> {
        let efd = match self.syscall_unsettled(tid, Syscall::Eventfd)? {
            Outcome::Done(r) if r.errno.is_none() => r.ret as i32,
            Outcome::Done(r) => return Err(format!("Creating eventfd: eventfd() returned {}", r.render())),
            Outcome::Blocked { .. } => return Err("eventfd() blocked".into()),
        };
        let v = self.vq(vq).clone();
        let addr = v.pfn.wrapping_mul(PAGE_SIZE);
        let words: Vec<u8> = [LHREQ_EVENTFD, addr, efd as u32].iter().flat_map(|w| w.to_le_bytes()).collect();
        self.poke_user(tid, LAUNCHER_SCRATCH, &words)?;
        let lguest_fd = self.procs[vq.0].devices.lguest_fd;
        match self.syscall_unsettled(tid, Syscall::Write { fd: lguest_fd, buf: LAUNCHER_SCRATCH, len: 12, off: 0 })? {
            Outcome::Done(r) if r.errno.is_none() && r.ret == 0 => {}
            Outcome::Done(r) => return Err(format!("Attaching eventfd: write() returned {}", r.render())),
            Outcome::Blocked { .. } => return Err("Attaching eventfd: write() blocked".into()),
        }
        // Names of killed threads stay in the task list, so a restarted device's threads get a suffix.
        let mut name = v.name.clone();
        let mut n = 1;
        while self.task_by_name(&name).is_some() {
            n += 1;
            name = format!("{}.{n}", v.name);
        }
        let t = self.new_thread(&name).map_err(|e| format!("Creating clone: {e}"))?;
        self.current = tid;
        self.ev("create_thread", format!("clone(do_thread, CLONE_VM | SIGCHLD) = {name}: it will sleep on eventfd {efd}, which LHREQ_EVENTFD tied to {addr:#x}"), &["tasks"]);
        let slot = self.vq_mut(vq);
        slot.name = name;
        slot.thread = Some(t);
        slot.eventfd = Some(efd);
        slot.state = ThreadState::Runnable;
        self.do_thread(vq);
        Ok(())
    }

    /// `do_thread()`: service the queue for ever; here, until the thread sleeps.
    fn do_thread(&mut self, vq: Vq) {
        let Some(t) = self.vq(vq).thread else { return };
        self.current = t;
        self.vq_mut(vq).state = ThreadState::Runnable;
        for _ in 0..MAX_SERVICE {
            let r = match self.vq(vq).service {
                Service::ConsoleOutput => self.console_output(vq),
                Service::ConsoleInput => self.console_input(vq),
            };
            match r {
                Ok(true) => continue,
                Ok(false) => return,
                Err(msg) => {
                    self.vq_mut(vq).state = ThreadState::Dead;
                    self.launcher_errx(t, &msg);
                    return;
                }
            }
        }
    }

    /// `wait_for_vq_desc()`: the next chain the Guest made available, or `None` once the thread has gone to
    /// sleep in `read()` of its eventfd (having first sent any interrupt it owes and cleared NO_NOTIFY).
    fn wait_for_vq_desc(&mut self, vq: Vq) -> Result<Option<Chain>, String> {
        let p = vq.0;
        let t = self.vq(vq).thread.unwrap_or(self.current);
        for _ in 0..MAX_SERVICE {
            let v = self.vq(vq).clone();
            let vr = v.vring();
            let limit = self.guest_limit(p);
            let mut last = v.last_avail_idx;
            if let Some(chain) = next_chain(&self.procs[p].ram, &vr, &mut last, limit)? {
                self.vq_mut(vq).last_avail_idx = last;
                let text = format!(
                    "avail->ring[{}] = head {}: {} out and {} in buffer(s); last_avail_idx = {last}",
                    v.last_avail_idx,
                    chain.head,
                    chain.out.len(),
                    chain.inb.len()
                );
                self.ev("wait_for_vq_desc", text, &["devices"]);
                return Ok(Some(chain));
            }
            // Nothing to do: tell the Guest about what we used, then ask to be kicked, then sleep.
            self.trigger_irq(vq)?;
            let flags = get16(&self.procs[p].ram, vr.used_flags())?;
            put16(&mut self.procs[p].ram, vr.used_flags(), flags & !VRING_USED_F_NO_NOTIFY)?;
            // The Guest may have added one while we were doing that: look again before sleeping.
            if get16(&self.procs[p].ram, vr.avail_idx())? != last {
                put16(&mut self.procs[p].ram, vr.used_flags(), flags | VRING_USED_F_NO_NOTIFY)?;
                continue;
            }
            let efd = v.eventfd.unwrap_or(-1);
            self.ev(
                "wait_for_vq_desc",
                format!("avail->idx is still {last}: clear VRING_USED_F_NO_NOTIFY (kick me) and read(eventfd {efd})"),
                &["guest.memory"],
            );
            let buf = THREAD_SCRATCH + 32 * (vq.2 as u32 % 32);
            match self.syscall_unsettled(t, Syscall::Read { fd: efd, buf, len: 8, off: 0 })? {
                Outcome::Blocked { .. } => {
                    self.vq_mut(vq).state = ThreadState::EventfdRead;
                    return Ok(None);
                }
                Outcome::Done(r) if r.ret == 8 => self.woken(vq, r.count.unwrap_or(0))?,
                Outcome::Done(r) => return Err(format!("Event read failed? (read() returned {})", r.render())),
            }
        }
        Err("the ring never settles (the simulation's budget ran out)".into())
    }

    /// Back from `read()` of the eventfd: no more kicks needed while the thread works.
    fn woken(&mut self, vq: Vq, count: u64) -> Result<(), String> {
        let vr = self.vq(vq).vring();
        let ram = &mut self.procs[vq.0].ram;
        let flags = get16(ram, vr.used_flags())?;
        put16(ram, vr.used_flags(), flags | VRING_USED_F_NO_NOTIFY)?;
        self.ev("wait_for_vq_desc", format!("woken: the eventfd counted {count} kick(s); set VRING_USED_F_NO_NOTIFY while working"), &["guest.memory"]);
        Ok(())
    }

    /// `add_used()`: hand a buffer back in the used ring.
    fn add_used(&mut self, vq: Vq, head: u16, len: u32) -> Result<(), String> {
        let vr = self.vq(vq).vring();
        let idx = push_used(&mut self.procs[vq.0].ram, &vr, head, len)?;
        self.vq_mut(vq).pending_used += 1;
        self.ev("add_used", format!("used->ring[{}] = {{id {head}, len {len}}}; used->idx = {idx}", idx.wrapping_sub(1) % vr.num.max(1)), &["guest.memory"]);
        Ok(())
    }

    /// `trigger_irq()`: if buffers were used, and the Guest did not say NO_INTERRUPT, `LHREQ_IRQ`.
    fn trigger_irq(&mut self, vq: Vq) -> Result<(), String> {
        let v = self.vq(vq).clone();
        if v.pending_used == 0 {
            return Ok(());
        }
        self.vq_mut(vq).pending_used = 0;
        let flags = get16(&self.procs[vq.0].ram, v.vring().avail_flags())?;
        if flags & VRING_AVAIL_F_NO_INTERRUPT != 0 {
            self.ev("trigger_irq", format!("the Guest set VRING_AVAIL_F_NO_INTERRUPT: no irq {} for {} used buffer(s)", v.irq, v.pending_used), &[]);
            return Ok(());
        }
        let t = v.thread.unwrap_or(self.current);
        let buf = THREAD_SCRATCH + 32 * (vq.2 as u32 % 32) + 8;
        let words: Vec<u8> = [LHREQ_IRQ, v.irq].iter().flat_map(|w| w.to_le_bytes()).collect();
        self.poke_user(t, buf, &words)?;
        self.ev("trigger_irq", format!("{} used buffer(s): write(lguest_fd, {{LHREQ_IRQ, {}}})", v.pending_used, v.irq), &[]);
        let fd = self.procs[vq.0].devices.lguest_fd;
        match self.syscall_unsettled(t, Syscall::Write { fd, buf, len: 8, off: 0 })? {
            Outcome::Done(r) if r.errno.is_none() && r.ret == 0 => Ok(()),
            Outcome::Done(r) => Err(format!("Triggering irq {}: write() returned {}", v.irq, r.render())),
            Outcome::Blocked { .. } => Err(format!("Triggering irq {}: write() blocked", v.irq)),
        }
    }

    /// `console_output()`: one buffer from the Guest to the Launcher's stdout. `Ok(false)` once asleep.
    fn console_output(&mut self, vq: Vq) -> Result<bool, String> {
        let Some(chain) = self.wait_for_vq_desc(vq)? else { return Ok(false) };
        if !chain.inb.is_empty() {
            return Err("Input buffers in console output queue?".into());
        }
        let mut bytes = Vec::new();
        for b in &chain.out {
            let room = MAX_STDOUT.saturating_sub(bytes.len()).min(b.len as usize);
            let mut part = vec![0u8; room];
            self.procs[vq.0].ram.read(b.addr, &mut part).map_err(|_| format!("Invalid address {:#x}", b.addr))?;
            bytes.extend_from_slice(&part);
        }
        self.ev("console_output", format!("writev(STDOUT_FILENO) = {}: {}", bytes.len(), shown(&bytes)), &["stdout"]);
        self.launcher_stdout(vq.0, &bytes);
        self.add_used(vq, chain.head, 0)?;
        Ok(true)
    }

    /// `console_input()`: stdin into one of the Guest's input buffers, then an interrupt. With no input yet
    /// the thread keeps the buffer and sleeps in `readv()`, as on a terminal nobody types at.
    fn console_input(&mut self, vq: Vq) -> Result<bool, String> {
        let chain = match self.vq_mut(vq).held.take() {
            Some(c) => c,
            None => match self.wait_for_vq_desc(vq)? {
                Some(c) => c,
                None => return Ok(false),
            },
        };
        if !chain.out.is_empty() {
            return Err("Output buffers in console in queue?".into());
        }
        if self.procs[vq.0].stdin.is_empty() {
            self.ev("console_input", format!("readv(STDIN_FILENO) into buffer {}: no input yet, the thread sleeps", chain.head), &[]);
            let v = self.vq_mut(vq);
            v.held = Some(chain);
            v.state = ThreadState::StdinRead;
            // Asleep inside readv(): the page shows the task in the kernel, though no system call of ours
            // models the terminal (typing, `launcher_stdin()`, wakes it).
            let t = v.thread;
            if let Some(task) = t.and_then(|t| self.tasks.get_mut(t as usize)) {
                task.state = crate::launcher::TaskState::InRead;
            }
            return Ok(false);
        }
        let mut len = 0u32;
        let mut got = Vec::new();
        for b in &chain.inb {
            let stdin = &mut self.procs[vq.0].stdin;
            let n = (b.len as usize).min(stdin.len());
            let part: Vec<u8> = stdin.drain(..n).collect();
            self.procs[vq.0].ram.write(b.addr, &part).map_err(|_| format!("Invalid address {:#x}", b.addr))?;
            len += n as u32;
            got.extend_from_slice(&part);
        }
        self.ev("console_input", format!("readv(STDIN_FILENO) = {len}: {} into buffer {}", shown(&got), chain.head), &["guest.memory"]);
        self.add_used(vq, chain.head, len)?;
        self.trigger_irq(vq)?;
        Ok(true)
    }

    /// Run every device thread that can run: a thread whose eventfd `read()` has returned (the
    /// [`Machine::settle`] loop moves it on, like any blocked call) continues in `wait_for_vq_desc()`. True
    /// if any thread ran. Called by `settle`, never from inside a thread.
    pub fn run_device_threads(&mut self) -> bool {
        let mut ran = false;
        for p in 0..self.procs.len() {
            for d in 0..self.procs[p].devices.list.len() {
                for q in 0..self.procs[p].devices.list[d].vqs.len() {
                    let vq = (p, d, q);
                    let Some(t) = self.vq(vq).thread else { continue };
                    // A forked copy of the Launcher inherits the table but not the threads (fork copies only
                    // the calling thread): only the process that owns the thread runs it.
                    if self.proc_of(t) != p {
                        continue;
                    }
                    match self.vq(vq).state {
                        ThreadState::EventfdRead => {
                            let exited = self.tasks.get(t as usize).map(|x| x.state == crate::launcher::TaskState::Exited).unwrap_or(true);
                            let r = match self.finished.remove(&t) {
                                Some(r) => r,
                                // A scenario's `wait console-output` collected the read's result: the thread
                                // still goes on from where read() returned.
                                None if !exited && !self.pending.contains_key(&t) => {
                                    crate::machine::SysResult::ok(8, "the eventfd read returned (collected by wait)")
                                }
                                None => continue,
                            };
                            self.current = t;
                            ran = true;
                            if r.errno.is_some() || r.ret != 8 {
                                self.vq_mut(vq).state = ThreadState::Dead;
                                self.launcher_errx(t, &format!("Event read failed? (read() returned {})", r.render()));
                                return true;
                            }
                            if let Err(msg) = self.woken(vq, r.count.unwrap_or(0)) {
                                self.launcher_errx(t, &msg);
                                return true;
                            }
                            self.do_thread(vq);
                        }
                        ThreadState::Runnable => {
                            ran = true;
                            self.do_thread(vq);
                        }
                        _ => {}
                    }
                    if self.procs[p].devices.fatal.is_some() {
                        return true;
                    }
                }
            }
        }
        ran
    }

    /// Type at the Launcher's terminal: the bytes join stdin, and a console-input thread waiting in
    /// `readv()` wakes.
    pub fn launcher_stdin(&mut self, tid: Tid, bytes: &[u8]) {
        let p = self.proc_of(tid);
        self.procs[p].stdin.extend(bytes.iter().copied());
        self.current = tid;
        let text = format!("{} byte(s) typed at the Launcher's terminal: {}", bytes.len(), shown(bytes));
        self.log.push("terminal", "launcher", crate::host::tags::tag("launcher"), text, &["stdin"]);
        for d in 0..self.procs[p].devices.list.len() {
            for q in 0..self.procs[p].devices.list[d].vqs.len() {
                if self.vq((p, d, q)).state == ThreadState::StdinRead {
                    self.vq_mut((p, d, q)).state = ThreadState::Runnable;
                    if let Some(task) = self.vq((p, d, q)).thread.and_then(|t| self.tasks.get_mut(t as usize)) {
                        task.state = crate::launcher::TaskState::User;
                    }
                }
            }
        }
        self.settle();
    }

    /// The devices' state as `name = value` pairs, for `expect` lines: `devices.console.status`,
    /// `devices.console.running`, `vq.console-output.irq`, `.pfn`, `.state`, `.last_avail_idx`,
    /// `.used_idx`, `.avail_idx`, `.used_flags`, and `guest_limit`.
    pub fn device_fields(&self, p: usize) -> Vec<(String, String)> {
        let proc = &self.procs[p];
        let mut f = vec![("guest_limit".to_string(), format!("{:#x}", self.guest_limit(p)))];
        if let Some(page) = proc.devices.descpage {
            f.push(("devices.descpage".into(), format!("{page:#x}")));
        }
        for dev in &proc.devices.list {
            let mut b = [0u8; 5];
            let _ = proc.ram.read(dev.desc, &mut b);
            f.push((format!("devices.{}.desc", dev.name), format!("{:#x}", dev.desc)));
            f.push((format!("devices.{}.status", dev.name), b[4].to_string()));
            f.push((format!("devices.{}.num_vq", dev.name), b[1].to_string()));
            f.push((format!("devices.{}.running", dev.name), (dev.running as u8).to_string()));
            for vq in &dev.vqs {
                let k = |s: &str| format!("vq.{}.{s}", vq.name.split('.').next().unwrap_or(&vq.name));
                let vr = vq.vring();
                let rd = |a: u32| get16(&proc.ram, a).map(|v| v.to_string()).unwrap_or_else(|_| "?".into());
                f.push((k("irq"), vq.irq.to_string()));
                f.push((k("pfn"), format!("{:#x}", vq.pfn)));
                f.push((k("thread"), vq.thread.map(|t| self.task_name(t)).unwrap_or_else(|| "none".into())));
                let state = match vq.state {
                    ThreadState::NoThread => "none",
                    ThreadState::Runnable => "runnable",
                    ThreadState::EventfdRead => "eventfd-read",
                    ThreadState::StdinRead => "stdin-read",
                    ThreadState::Dead => "dead",
                };
                f.push((k("state"), state.into()));
                f.push((k("last_avail_idx"), vq.last_avail_idx.to_string()));
                f.push((k("avail_idx"), rd(vr.avail_idx())));
                f.push((k("used_idx"), rd(vr.used_idx())));
                f.push((k("used_flags"), rd(vr.used_flags())));
            }
        }
        f
    }
}
