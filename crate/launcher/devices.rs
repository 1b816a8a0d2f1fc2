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
//! The threads are tasks of the Launcher process made with `clone()`: their system calls go through the same
//! `/dev/lguest` and eventfd code as the main thread's, and when a thread's `read()` of its eventfd returns,
//! the kernel's scheduler resumes the Launcher's program for that thread ([`Launcher::resume_thread`]),
//! which runs the thread's code until it sleeps again. Every step is an event whose task is the thread's
//! name.
//!
//! As in the real Launcher, `clone(CLONE_VM | SIGCHLD)` without `CLONE_FILES` gives each thread its own copy
//! of the descriptor table: the main thread then closes its copy of the eventfd, and the thread's copy goes
//! when the thread is killed (`reset_device()`) or the Launcher exits. (The scenario language's `thread`
//! line makes a thread that shares the table, like `CLONE_FILES`.)

use serde::Serialize;

use super::virtqueue::{get16, next_chain, push_used, put16, vring_size, Chain, GuestMem, Vring, VIRTQUEUE_NUM};
use super::virtqueue::{VRING_AVAIL_F_NO_INTERRUPT, VRING_USED_F_NO_NOTIFY};
use super::{Launcher, Unreachable, STDIO_BUF, STDIO_BUF_LEN};
use crate::errno::Errno;
use crate::kernel::syscall::{Outcome, SysResult, Syscall};
use crate::kernel::task::Tid;
use crate::kernel::user::Sys;
use crate::lguest::lguest_user::{LHREQ_EVENTFD, LHREQ_IRQ};
use crate::params::{DEVICE_PAGES, LAUNCHER_SCRATCH, MAX_LAUNCHER_STDOUT, MAX_SERVICE, PAGE_SIZE};

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
/// The descriptors `STDIN_FILENO`, `STDOUT_FILENO`, `STDERR_FILENO`.
const STDIN_FILENO: i32 = 0;
const STDOUT_FILENO: i32 = 1;
const STDERR_FILENO: i32 = 2;

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

/// Which virtqueue: (device, queue).
type Vq = (usize, usize);

/// The Guest's memory as the Launcher reaches it: its own mapping at `base` (`from_guest_phys()`).
pub struct GuestView<'s, 'k> {
    pub sys: &'s mut Sys<'k>,
    pub base: u32,
}

impl GuestMem for GuestView<'_, '_> {
    fn read(&self, gpa: u32, buf: &mut [u8]) -> Result<(), Unreachable> {
        self.sys.read(self.base.wrapping_add(gpa), buf).map_err(|f| Unreachable { gpa: f.addr.wrapping_sub(self.base) })
    }

    fn write(&mut self, gpa: u32, data: &[u8]) -> Result<(), Unreachable> {
        self.sys.write(self.base.wrapping_add(gpa), data).map_err(|f| Unreachable { gpa: f.addr.wrapping_sub(self.base) })
    }
}

/// The bytes of a console write, shown in an event (control characters escaped, long text cut).
fn shown(bytes: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).escape_debug().collect();
    if bytes.len() > 80 {
        format!("\"{s}\"...")
    } else {
        format!("\"{s}\"")
    }
}

/// [`shown`] of a write of `total` bytes that starts with `first`.
fn shown_start(first: &[u8], total: usize) -> String {
    if total > 80 {
        format!("{}...", shown(&first[..first.len().min(80)]))
    } else {
        shown(first)
    }
}

/// A system call that must return at once and succeed: otherwise `err(1, what)`, whose text is `what`, a
/// colon, and what `strerror(errno)` says.
fn must(sys: &mut Sys<'_>, call: Syscall, what: &str) -> Result<SysResult, String> {
    match sys.syscall(call)? {
        Outcome::Done(r) if r.is_ok() => Ok(r),
        Outcome::Done(r) => Err(err_text(what, &r)),
        Outcome::Blocked { .. } => Err(format!("{what}: blocked")),
    }
}

/// `err(1, what)`'s text for a call that returned `r`: `what: strerror(errno)` (with no errno, as after a
/// short write, glibc says "Success").
fn err_text(what: &str, r: &SysResult) -> String {
    format!("{what}: {}", r.errno.map(|e| e.meaning()).unwrap_or("Success"))
}

impl Launcher {
    fn vq(&self, (d, q): Vq) -> &Virtqueue {
        &self.devices.list[d].vqs[q]
    }

    fn vq_mut(&mut self, (d, q): Vq) -> &mut Virtqueue {
        &mut self.devices.list[d].vqs[q]
    }

    /// The Guest's memory, through this task's mapping of it.
    pub(crate) fn guest<'s, 'k>(&self, sys: &'s mut Sys<'k>) -> GuestView<'s, 'k> {
        GuestView { sys, base: self.guest_base }
    }

    /// The Launcher's `guest_limit`: Guest RAM until devices are set up, then RAM plus the device pages used.
    pub fn guest_limit(&self) -> u32 {
        match self.devices.descpage {
            Some(_) => self.devices.guest_limit,
            None => self.guest_pages * PAGE_SIZE,
        }
    }

    /// What `main()` does as soon as it has mapped the Guest's memory: `guest_limit = mem`, `guest_max` the
    /// mapping's end, `next_irq = 1`, and the devices page from `get_pages(1)`, the first page above RAM (so
    /// `guest_limit` is one page past RAM before any device exists).
    pub fn take_devices_page(&mut self, sys: &mut Sys<'_>) -> Result<(), String> {
        if self.devices.descpage.is_some() {
            return Ok(());
        }
        let ram = self.guest_pages * PAGE_SIZE;
        let devs = &mut self.devices;
        devs.guest_limit = ram;
        devs.guest_max = ram + DEVICE_PAGES * PAGE_SIZE;
        devs.next_irq = 1;
        let page = self.get_pages(1)?;
        self.devices.descpage = Some(page);
        sys.log(
            "launcher",
            format!(
                "devices.descpage = get_pages(1) = {page:#x}: the first page above the Guest's {ram:#x} bytes of RAM; guest_limit is now {:#x}",
                page + PAGE_SIZE
            ),
            &["devices"],
        );
        Ok(())
    }

    /// `main()`'s devices: `setup_console()`, which the real Launcher always does (after the devices page,
    /// [`Launcher::take_devices_page`]). Call before `LHREQ_INITIALIZE`.
    pub fn setup_devices(&mut self, sys: &mut Sys<'_>) -> Result<(), String> {
        self.take_devices_page(sys)?;
        if !self.devices.list.is_empty() {
            return Err("the Launcher's devices are already set up".into());
        }
        self.setup_console(sys)
    }

    /// `get_pages()`: hand out `n` zeroed pages at the top of the Guest's memory, bumping `guest_limit`.
    fn get_pages(&mut self, n: u32) -> Result<u32, String> {
        let devs = &mut self.devices;
        let addr = devs.guest_limit;
        let end = addr as u64 + n as u64 * PAGE_SIZE as u64;
        if end > devs.guest_max as u64 {
            return Err("Not enough memory for devices".into());
        }
        devs.guest_limit = end as u32;
        Ok(addr)
    }

    /// `setup_console()`: a virtio console (type 3) with an input and an output virtqueue.
    pub fn setup_console(&mut self, sys: &mut Sys<'_>) -> Result<(), String> {
        let d = self.new_device(sys, "console", VIRTIO_ID_CONSOLE)?;
        self.add_virtqueue(sys, d, VIRTQUEUE_NUM, Service::ConsoleInput)?;
        self.add_virtqueue(sys, d, VIRTQUEUE_NUM, Service::ConsoleOutput)?;
        let desc = self.devices.list[d].desc;
        sys.log("setup_console", format!("device {}: console at {desc:#x}, queues input then output", d + 1), &["devices"]);
        Ok(())
    }

    /// `new_device()` + `new_dev_desc()`: a descriptor after the last device's, on the one devices page.
    fn new_device(&mut self, sys: &mut Sys<'_>, name: &str, device_type: u8) -> Result<usize, String> {
        let Some(page) = self.devices.descpage else {
            return Err("the devices page is not set up (the Launcher's main() does that first)".into());
        };
        let outside = || "the devices page is outside the Guest's memory".to_string();
        let at = match self.devices.list.last() {
            Some(last) => {
                let mut b = [0u8; 4];
                self.guest(sys).read(last.desc, &mut b).map_err(|_| outside())?;
                last.desc + DESC_SIZE + b[1] as u32 * VQCONFIG_SIZE + 2 * b[2] as u32 + b[3] as u32
            }
            None => page,
        };
        if at + DESC_SIZE > page + PAGE_SIZE {
            return Err("Too many devices".into());
        }
        self.guest(sys).write(at, &[device_type, 0, 0, 0, 0]).map_err(|_| outside())?;
        self.devices.list.push(Device { name: name.into(), device_type, desc: at, feature_len: 0, running: false, vqs: Vec::new() });
        sys.log(
            "setup_console",
            format!("new_dev_desc(): struct lguest_device_desc at {at:#x}: type {device_type}, no queues, features or config yet"),
            &["devices", "guest.memory"],
        );
        Ok(self.devices.list.len() - 1)
    }

    /// `add_virtqueue()`: ring pages from `get_pages()`, the next irq, and a `struct lguest_vqconfig` appended
    /// to the device's descriptor (num_vq++).
    fn add_virtqueue(&mut self, sys: &mut Sys<'_>, d: usize, num: u16, service: Service) -> Result<(), String> {
        let pages = vring_size(num).div_ceil(PAGE_SIZE);
        let ring = self.get_pages(pages)?;
        let devs = &mut self.devices;
        let irq = devs.next_irq;
        devs.next_irq += 1;
        let pfn = ring / PAGE_SIZE;
        let dev = &devs.list[d];
        let (desc, n) = (dev.desc, dev.vqs.len() as u32);
        let name = format!("{}-{}", dev.name, if service == Service::ConsoleInput { "input" } else { "output" });
        let at = desc + DESC_SIZE + n * VQCONFIG_SIZE;
        if at + VQCONFIG_SIZE > devs.descpage.unwrap_or(0) + PAGE_SIZE {
            return Err("Too many devices".into());
        }
        let mut cfg = Vec::new();
        cfg.extend_from_slice(&num.to_le_bytes());
        cfg.extend_from_slice(&(irq as u16).to_le_bytes());
        cfg.extend_from_slice(&pfn.to_le_bytes());
        let mut g = self.guest(sys);
        g.write(at, &cfg).and_then(|_| g.write(desc + 1, &[(n + 1) as u8])).map_err(|_| "the devices page is outside the Guest's memory".to_string())?;
        self.devices.list[d].vqs.push(Virtqueue {
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
        sys.log("add_virtqueue", text, &["devices", "guest.memory"]);
        Ok(())
    }

    /// `handle_output()`: what the main thread does with an address `read()` returned. `Err` is a fatal
    /// `errx()` message; the caller ends the Launcher with it (see [`Launcher::errx`]).
    pub fn handle_output(&mut self, sys: &mut Sys<'_>, addr: u32, lguest_fd: i32) -> Result<(), String> {
        for d in 0..self.devices.list.len() {
            let dev = &self.devices.list[d];
            if addr == dev.desc {
                let name = dev.name.clone();
                sys.log("handle_output", format!("{addr:#x} is the {name} device's descriptor: its status changed"), &[]);
                return self.update_device_status(sys, d, lguest_fd);
            }
            if let Some(q) = dev.vqs.iter().position(|vq| addr as u64 == vq.pfn as u64 * PAGE_SIZE as u64) {
                let (name, running, vq) = (dev.name.clone(), dev.running, dev.vqs[q].name.clone());
                if running {
                    // A running device's rings notify its threads' eventfds; reaching read() means none took it.
                    return Err(format!("Notification on running {name}"));
                }
                sys.log("handle_output", format!("{addr:#x} is the ring of {vq}: a queue kicked before DRIVER_OK starts the device"), &[]);
                return self.start_device(sys, d, lguest_fd);
            }
        }
        let limit = self.guest_limit();
        if addr >= limit {
            return Err(format!("Bad NOTIFY {addr:#x}"));
        }
        // The early console: the NUL-terminated string there, up to the end of the Guest's memory.
        let (len, first) = self.guest_strnlen(sys, addr, limit - addr);
        sys.log("handle_output", format!("early console: write(STDOUT_FILENO, {addr:#x}) = {len}: {}", shown_start(&first, len)), &["stdout"]);
        let n = len.min(MAX_LAUNCHER_STDOUT) as u32;
        let _ = sys.syscall(Syscall::Write { fd: STDOUT_FILENO, buf: self.guest_base.wrapping_add(addr), len: n, off: 0 });
        Ok(())
    }

    /// `strnlen()` of the string at Guest-physical `gpa` (at most `max` bytes), and its first 81 bytes.
    fn guest_strnlen(&self, sys: &mut Sys<'_>, gpa: u32, max: u32) -> (usize, Vec<u8>) {
        let mut chunk = vec![0u8; PAGE_SIZE as usize];
        let (mut len, mut first) = (0usize, Vec::new());
        while len < max as usize {
            let n = chunk.len().min(max as usize - len);
            if self.guest(sys).read(gpa.wrapping_add(len as u32), &mut chunk[..n]).is_err() {
                break;
            }
            let end = chunk[..n].iter().position(|b| *b == 0);
            let part = &chunk[..end.unwrap_or(n)];
            first.extend_from_slice(&part[..part.len().min(81usize.saturating_sub(first.len()))]);
            len += part.len();
            if end.is_some() {
                break;
            }
        }
        (len, first)
    }

    /// `errx()`: print the message and exit. From a device thread the thread exits first, and the SIGCHLD
    /// handler (`kill_launcher()`) then takes the whole Launcher down; either way every task of the process
    /// ends and its descriptors close, `/dev/lguest` with them.
    pub fn errx(&mut self, sys: &mut Sys<'_>, msg: &str) {
        self.print_stderr(sys, &format!("lguest: {msg}\n"));
        self.devices.fatal = Some(msg.to_string());
        let why = match self.thread_name(sys.tid()) {
            Some(who) => format!("; {who} exits and kill_launcher() ends the others"),
            None => String::new(),
        };
        sys.log("launcher", format!("errx(1, \"{msg}\"){why}"), &["stderr", "tasks"]);
        let _ = sys.syscall(Syscall::ExitGroup);
    }

    /// `warnx()`'s and `errx()`'s output: the text goes through the Launcher's print buffer to stderr.
    fn print_stderr(&self, sys: &mut Sys<'_>, text: &str) {
        for part in text.as_bytes().chunks(STDIO_BUF_LEN as usize) {
            if sys.write(STDIO_BUF, part).is_ok() {
                let _ = sys.syscall(Syscall::Write { fd: STDERR_FILENO, buf: STDIO_BUF, len: part.len() as u32, off: 0 });
            }
        }
    }

    /// The name of device thread `tid`, if it is one.
    fn thread_name(&self, tid: Tid) -> Option<String> {
        self.devices.list.iter().flat_map(|d| d.vqs.iter()).find(|vq| vq.thread == Some(tid)).map(|vq| vq.name.clone())
    }

    /// `update_device_status()`: the Guest wrote the status byte and NOTIFYed the descriptor.
    fn update_device_status(&mut self, sys: &mut Sys<'_>, d: usize, lguest_fd: i32) -> Result<(), String> {
        let dev = &self.devices.list[d];
        let (name, running, desc) = (dev.name.clone(), dev.running, dev.desc);
        let mut b = [0u8; 1];
        self.guest(sys).read(desc + DESC_STATUS, &mut b).map_err(|_| "the devices page is outside the Guest's memory".to_string())?;
        let status = b[0];
        if status == 0 {
            sys.log("update_device_status", format!("{name} status 0: the Guest resets the device"), &[]);
            self.reset_device(sys, d);
        } else if status & VIRTIO_CONFIG_S_FAILED != 0 {
            self.print_stderr(sys, &format!("lguest: Device {name} configuration FAILED\n"));
            sys.log("update_device_status", format!("{name} status {status:#x} has FAILED: warnx(), and reset it if it runs"), &["stderr"]);
            if running {
                self.reset_device(sys, d);
            }
        } else if status & VIRTIO_CONFIG_S_DRIVER_OK != 0 {
            if running {
                sys.log("update_device_status", format!("{name} status {status:#x}: DRIVER_OK, and it already runs"), &[]);
            } else {
                sys.log("update_device_status", format!("{name} status {status:#x}: DRIVER_OK, so start_device()"), &[]);
                return self.start_device(sys, d, lguest_fd);
            }
        } else {
            sys.log("update_device_status", format!("{name} status {status:#x}: the driver is still getting ready; nothing to do"), &[]);
        }
        Ok(())
    }

    /// `reset_device()`: kill the threads, zero the rings, forget what was taken. The Host's eventfd map keeps
    /// its entries (there is no request to remove one), which a restarted device then shares.
    fn reset_device(&mut self, sys: &mut Sys<'_>, d: usize) {
        let name = self.devices.list[d].name.clone();
        for q in 0..self.devices.list[d].vqs.len() {
            let vq = self.vq((d, q)).clone();
            if let Some(t) = vq.thread {
                // The thread's descriptor table, with its eventfd, goes as it exits (the Host's reference on
                // the eventfd stays in its map).
                let _ = sys.syscall(Syscall::Tkill { tid: t });
                sys.log("launcher", format!("reset_device: kill({}, SIGTERM); waitpid(): its descriptors close with it", vq.name), &["tasks"]);
            }
            let vr = vq.vring();
            let _ = self.guest(sys).write(vr.desc, &vec![0u8; vring_size(vq.num) as usize]);
            let v = self.vq_mut((d, q));
            v.thread = None;
            v.eventfd = None;
            v.state = ThreadState::NoThread;
            v.last_avail_idx = 0;
            v.pending_used = 0;
            v.held = None;
        }
        self.devices.list[d].running = false;
        sys.log("launcher", format!("reset_device({name}): rings zeroed, last_avail_idx = 0, not running"), &["devices", "guest.memory"]);
    }

    /// `start_device()`: a thread for each virtqueue, then the device is running.
    fn start_device(&mut self, sys: &mut Sys<'_>, d: usize, lguest_fd: i32) -> Result<(), String> {
        self.devices.lguest_fd = lguest_fd;
        let name = self.devices.list[d].name.clone();
        sys.log("start_device", format!("Device {name} OK: offered no features, accepted none; a thread for each queue"), &[]);
        for q in 0..self.devices.list[d].vqs.len() {
            self.create_thread(sys, (d, q))?;
        }
        self.devices.list[d].running = true;
        sys.log("start_device", format!("{name} is running"), &["devices"]);
        Ok(())
    }

    /// `create_thread()`: an eventfd, `LHREQ_EVENTFD` for the ring's address, and the thread itself, which
    /// runs at once until it sleeps.
    fn create_thread(&mut self, sys: &mut Sys<'_>, vq: Vq) -> Result<(), String> {
        let efd = must(sys, Syscall::Eventfd, "Creating eventfd")?.ret as i32;
        let v = self.vq(vq).clone();
        let addr = v.pfn.wrapping_mul(PAGE_SIZE);
        let words: Vec<u8> = [LHREQ_EVENTFD, addr, efd as u32].iter().flat_map(|w| w.to_le_bytes()).collect();
        sys.write(LAUNCHER_SCRATCH, &words).map_err(|f| format!("address {:#x} is not mapped in the Launcher", f.addr))?;
        let lguest_fd = self.devices.lguest_fd;
        match must(sys, Syscall::Write { fd: lguest_fd, buf: LAUNCHER_SCRATCH, len: 12, off: 0 }, "Attaching eventfd") {
            Ok(r) if r.ret == 0 => {}
            Ok(r) => {
                sys.log("create_thread", format!("write(LHREQ_EVENTFD) returned {}, not 0", r.render()), &[]);
                return Err(err_text("Attaching eventfd", &r));
            }
            Err(e) => return Err(e),
        }
        // Names of killed threads stay in the task list, so a restarted device's threads get a suffix.
        let (mut name, mut n) = (v.name.clone(), 1);
        let t = loop {
            match sys.syscall(Syscall::Clone { name: name.clone() })? {
                Outcome::Done(r) if r.is_ok() => break r.ret as Tid,
                Outcome::Done(r) if r.errno == Some(Errno::EEXIST) && n < MAX_SERVICE => {
                    n += 1;
                    name = format!("{}.{n}", v.name);
                }
                Outcome::Done(r) => return Err(err_text("Creating clone", &r)),
                Outcome::Blocked { .. } => return Err("Creating clone: clone() blocked".into()),
            }
        };
        sys.log(
            "create_thread",
            format!("clone(do_thread, CLONE_VM | SIGCHLD) = {name}: it shares the Launcher's memory, has its own copy of the descriptors, and will sleep on eventfd {efd}, which LHREQ_EVENTFD tied to {addr:#x}"),
            &["tasks"],
        );
        // lguest.c drops the parent's descriptor once the thread holds its own: the thread's copy of the table keeps the eventfd.
        let _ = sys.syscall(Syscall::Close { fd: efd });
        sys.log("create_thread", format!("close({efd}): the main thread's copy goes; the thread's stays"), &["files"]);
        let slot = self.vq_mut(vq);
        slot.name = name;
        slot.thread = Some(t);
        slot.eventfd = Some(efd);
        slot.state = ThreadState::Runnable;
        if let Some(mut ts) = sys.thread(t) {
            self.do_thread(&mut ts, vq);
        }
        Ok(())
    }

    /// `do_thread()`: service the queue for ever; here, until the thread sleeps. `sys` is the thread's.
    fn do_thread(&mut self, sys: &mut Sys<'_>, vq: Vq) {
        self.vq_mut(vq).state = ThreadState::Runnable;
        for _ in 0..MAX_SERVICE {
            let r = match self.vq(vq).service {
                Service::ConsoleOutput => self.console_output(sys, vq),
                Service::ConsoleInput => self.console_input(sys, vq),
            };
            match r {
                Ok(true) => continue,
                Ok(false) => return,
                Err(msg) => {
                    self.vq_mut(vq).state = ThreadState::Dead;
                    self.errx(sys, &msg);
                    return;
                }
            }
        }
    }

    /// `wait_for_vq_desc()`: the next chain the Guest made available, or `None` once the thread has gone to
    /// sleep in `read()` of its eventfd (having first sent any interrupt it owes and cleared NO_NOTIFY).
    fn wait_for_vq_desc(&mut self, sys: &mut Sys<'_>, vq: Vq) -> Result<Option<Chain>, String> {
        for _ in 0..MAX_SERVICE {
            let v = self.vq(vq).clone();
            let vr = v.vring();
            let limit = self.guest_limit();
            let mut last = v.last_avail_idx;
            let next = next_chain(&self.guest(sys), &vr, &mut last, limit);
            let next = next.map_err(|e| {
                if !e.why.is_empty() {
                    sys.log("wait_for_vq_desc", format!("{}: {}", v.name, e.why), &[]);
                }
                e.text
            })?;
            if let Some(chain) = next {
                self.vq_mut(vq).last_avail_idx = last;
                let text = format!(
                    "avail->ring[{}] = head {}: {} out and {} in buffer(s); last_avail_idx = {last}",
                    v.last_avail_idx,
                    chain.head,
                    chain.out.len(),
                    chain.inb.len()
                );
                sys.log("wait_for_vq_desc", text, &["devices"]);
                return Ok(Some(chain));
            }
            // Nothing to do: tell the Guest about what we used, then ask to be kicked, then sleep.
            self.trigger_irq(sys, vq)?;
            let flags = get16(&self.guest(sys), vr.used_flags())?;
            put16(&mut self.guest(sys), vr.used_flags(), flags & !VRING_USED_F_NO_NOTIFY)?;
            // The Guest may have added one while we were doing that: look again before sleeping.
            if get16(&self.guest(sys), vr.avail_idx())? != last {
                put16(&mut self.guest(sys), vr.used_flags(), flags | VRING_USED_F_NO_NOTIFY)?;
                continue;
            }
            let efd = v.eventfd.unwrap_or(-1);
            sys.log(
                "wait_for_vq_desc",
                format!("avail->idx is still {last}: clear VRING_USED_F_NO_NOTIFY (kick me) and read(eventfd {efd})"),
                &["guest.memory"],
            );
            let buf = THREAD_SCRATCH + 32 * (vq.1 as u32 % 32);
            match sys.syscall(Syscall::Read { fd: efd, buf, len: 8, off: 0 })? {
                Outcome::Blocked { .. } => {
                    self.vq_mut(vq).state = ThreadState::EventfdRead;
                    return Ok(None);
                }
                Outcome::Done(r) if r.ret == 8 => self.woken(sys, vq, r.count.unwrap_or(0))?,
                Outcome::Done(r) => {
                    sys.log("wait_for_vq_desc", format!("read() of the eventfd returned {}, not 8", r.render()), &[]);
                    return Err("Event read failed?".into());
                }
            }
        }
        Err("the ring never settles (the simulation's budget ran out)".into())
    }

    /// Back from `read()` of the eventfd: no more kicks needed while the thread works.
    fn woken(&mut self, sys: &mut Sys<'_>, vq: Vq, count: u64) -> Result<(), String> {
        let vr = self.vq(vq).vring();
        let flags = get16(&self.guest(sys), vr.used_flags())?;
        put16(&mut self.guest(sys), vr.used_flags(), flags | VRING_USED_F_NO_NOTIFY)?;
        sys.log("wait_for_vq_desc", format!("woken: the eventfd counted {count} kick(s); set VRING_USED_F_NO_NOTIFY while working"), &["guest.memory"]);
        Ok(())
    }

    /// `add_used()`: hand a buffer back in the used ring.
    fn add_used(&mut self, sys: &mut Sys<'_>, vq: Vq, head: u16, len: u32) -> Result<(), String> {
        let vr = self.vq(vq).vring();
        let idx = push_used(&mut self.guest(sys), &vr, head, len)?;
        self.vq_mut(vq).pending_used += 1;
        sys.log("add_used", format!("used->ring[{}] = {{id {head}, len {len}}}; used->idx = {idx}", idx.wrapping_sub(1) % vr.num.max(1)), &["guest.memory"]);
        Ok(())
    }

    /// `trigger_irq()`: if buffers were used, and the Guest did not say NO_INTERRUPT, `LHREQ_IRQ`.
    fn trigger_irq(&mut self, sys: &mut Sys<'_>, vq: Vq) -> Result<(), String> {
        let v = self.vq(vq).clone();
        if v.pending_used == 0 {
            return Ok(());
        }
        self.vq_mut(vq).pending_used = 0;
        let flags = get16(&self.guest(sys), v.vring().avail_flags())?;
        if flags & VRING_AVAIL_F_NO_INTERRUPT != 0 {
            sys.log("trigger_irq", format!("the Guest set VRING_AVAIL_F_NO_INTERRUPT: no irq {} for {} used buffer(s)", v.irq, v.pending_used), &[]);
            return Ok(());
        }
        let buf = THREAD_SCRATCH + 32 * (vq.1 as u32 % 32) + 8;
        let words: Vec<u8> = [LHREQ_IRQ, v.irq].iter().flat_map(|w| w.to_le_bytes()).collect();
        sys.write(buf, &words).map_err(|f| format!("address {:#x} is not mapped in the Launcher", f.addr))?;
        sys.log("trigger_irq", format!("{} used buffer(s): write(lguest_fd, {{LHREQ_IRQ, {}}})", v.pending_used, v.irq), &[]);
        let fd = self.devices.lguest_fd;
        match sys.syscall(Syscall::Write { fd, buf, len: 8, off: 0 })? {
            Outcome::Done(r) if r.errno.is_none() && r.ret == 0 => Ok(()),
            Outcome::Done(r) => {
                sys.log("trigger_irq", format!("write(LHREQ_IRQ) returned {}, not 0", r.render()), &[]);
                Err(err_text(&format!("Triggering irq {}", v.irq), &r))
            }
            Outcome::Blocked { .. } => Err(format!("Triggering irq {}: write() blocked", v.irq)),
        }
    }

    /// `console_output()`: one buffer from the Guest to the Launcher's stdout. `Ok(false)` once asleep.
    fn console_output(&mut self, sys: &mut Sys<'_>, vq: Vq) -> Result<bool, String> {
        let Some(chain) = self.wait_for_vq_desc(sys, vq)? else { return Ok(false) };
        if !chain.inb.is_empty() {
            return Err("Input buffers in console output queue?".into());
        }
        // What writev() will write (the Launcher keeps at most MAX_LAUNCHER_STDOUT bytes of one write).
        let mut iov = Vec::new();
        let mut total = 0usize;
        let mut first = Vec::new();
        for b in &chain.out {
            let take = (b.len as usize).min(MAX_LAUNCHER_STDOUT - total);
            if first.len() <= 80 {
                let mut part = vec![0u8; take.min(81 - first.len())];
                self.guest(sys).read(b.addr, &mut part).map_err(|_| format!("Invalid address {:#x}", b.addr))?;
                first.extend_from_slice(&part);
            }
            iov.push((self.guest_base.wrapping_add(b.addr), take as u32));
            total += take;
        }
        sys.log("console_output", format!("writev(STDOUT_FILENO) = {total}: {}", shown_start(&first, total)), &["stdout"]);
        let _ = sys.syscall(Syscall::Writev { fd: STDOUT_FILENO, iov });
        self.add_used(sys, vq, chain.head, 0)?;
        Ok(true)
    }

    /// `console_input()`: stdin into one of the Guest's input buffers, then an interrupt. With no input yet
    /// the thread keeps the buffer and sleeps in `readv()`, as on a terminal nobody types at.
    fn console_input(&mut self, sys: &mut Sys<'_>, vq: Vq) -> Result<bool, String> {
        let chain = match self.vq_mut(vq).held.take() {
            Some(c) => c,
            None => match self.wait_for_vq_desc(sys, vq)? {
                Some(c) => c,
                None => return Ok(false),
            },
        };
        if !chain.out.is_empty() {
            return Err("Output buffers in console in queue?".into());
        }
        let iov: Vec<(u32, u32)> = chain.inb.iter().map(|b| (self.guest_base.wrapping_add(b.addr), b.len)).collect();
        match sys.syscall(Syscall::Readv { fd: STDIN_FILENO, iov })? {
            Outcome::Blocked { .. } => {
                sys.log("console_input", format!("readv(STDIN_FILENO) into buffer {}: no input yet, the thread sleeps", chain.head), &[]);
                let v = self.vq_mut(vq);
                v.held = Some(chain);
                v.state = ThreadState::StdinRead;
                Ok(false)
            }
            Outcome::Done(r) => self.console_input_read(sys, vq, chain, r),
        }
    }

    /// The rest of `console_input()` once `readv()` returned `r` into `chain`'s buffers.
    fn console_input_read(&mut self, sys: &mut Sys<'_>, vq: Vq, chain: Chain, r: SysResult) -> Result<bool, String> {
        if !r.is_ok() || r.ret <= 0 {
            // The real thread warns and naps for ever (a dying thread would take the Launcher with it).
            self.print_stderr(sys, "lguest: Failed to get console input, ignoring console.\n");
            sys.log("console_input", format!("readv(STDIN_FILENO) returned {}: warnx(), and the thread naps for ever", r.render()), &["stderr"]);
            self.vq_mut(vq).state = ThreadState::Dead;
            return Ok(false);
        }
        let len = r.ret as u32;
        let mut got = Vec::new();
        for b in &chain.inb {
            let n = (len as usize - got.len()).min(b.len as usize);
            let mut part = vec![0u8; n];
            self.guest(sys).read(b.addr, &mut part).map_err(|_| format!("Invalid address {:#x}", b.addr))?;
            got.extend_from_slice(&part);
        }
        sys.log("console_input", format!("readv(STDIN_FILENO) = {len}: {} into buffer {}", shown(&got), chain.head), &["guest.memory"]);
        self.add_used(sys, vq, chain.head, len)?;
        self.trigger_irq(sys, vq)?;
        Ok(true)
    }

    /// Resume device thread `sys.tid()`: a thread whose eventfd `read()` returned continues in
    /// `wait_for_vq_desc()`, one whose `readv()` of stdin returned continues in `console_input()`. False if
    /// it is no thread of ours or has nothing to do.
    pub fn resume_thread(&mut self, sys: &mut Sys<'_>) -> bool {
        let tid = sys.tid();
        let Some(vq) = self.devices.list.iter().enumerate().find_map(|(d, dev)| dev.vqs.iter().position(|v| v.thread == Some(tid)).map(|q| (d, q))) else {
            return false;
        };
        match self.vq(vq).state {
            ThreadState::EventfdRead => {
                let r = match sys.take_result() {
                    Some(r) => r,
                    // A scenario's `wait console-output` collected the read's result: the thread still goes on
                    // from where read() returned.
                    None if !sys.in_call() => SysResult::ok(8, "the eventfd read returned (collected by wait)"),
                    None => return false,
                };
                if r.errno.is_some() || r.ret != 8 {
                    self.vq_mut(vq).state = ThreadState::Dead;
                    sys.log("wait_for_vq_desc", format!("read() of the eventfd returned {}, not 8", r.render()), &[]);
                    self.errx(sys, "Event read failed?");
                    return true;
                }
                if let Err(msg) = self.woken(sys, vq, r.count.unwrap_or(0)) {
                    self.errx(sys, &msg);
                    return true;
                }
                self.do_thread(sys, vq);
                true
            }
            ThreadState::StdinRead => {
                let r = match sys.take_result() {
                    Some(r) => r,
                    None if !sys.in_call() => SysResult::err(Errno::EINTR, "the readv() result was collected by wait"),
                    None => return false,
                };
                let Some(chain) = self.vq_mut(vq).held.take() else { return false };
                self.vq_mut(vq).state = ThreadState::Runnable;
                match self.console_input_read(sys, vq, chain, r) {
                    Ok(true) => self.do_thread(sys, vq),
                    Ok(false) => {}
                    Err(msg) => {
                        self.vq_mut(vq).state = ThreadState::Dead;
                        self.errx(sys, &msg);
                    }
                }
                true
            }
            ThreadState::Runnable => {
                self.do_thread(sys, vq);
                true
            }
            ThreadState::NoThread | ThreadState::Dead => false,
        }
    }

    /// The devices' state as `name = value` pairs, for `expect` lines: `devices.console.status`,
    /// `devices.console.running`, `vq.console-output.irq`, `.pfn`, `.state`, `.last_avail_idx`,
    /// `.used_idx`, `.avail_idx`, `.used_flags`, and `guest_limit`. `ram` is the Guest's memory.
    pub fn device_fields(&self, ram: &impl GuestMem) -> Vec<(String, String)> {
        let mut f = vec![("guest_limit".to_string(), format!("{:#x}", self.guest_limit()))];
        if let Some(page) = self.devices.descpage {
            f.push(("devices.descpage".into(), format!("{page:#x}")));
        }
        for dev in &self.devices.list {
            let mut b = [0u8; 5];
            let _ = ram.read(dev.desc, &mut b);
            f.push((format!("devices.{}.desc", dev.name), format!("{:#x}", dev.desc)));
            f.push((format!("devices.{}.status", dev.name), b[4].to_string()));
            f.push((format!("devices.{}.num_vq", dev.name), b[1].to_string()));
            f.push((format!("devices.{}.running", dev.name), (dev.running as u8).to_string()));
            for vq in &dev.vqs {
                let k = |s: &str| format!("vq.{}.{s}", vq.name.split('.').next().unwrap_or(&vq.name));
                let vr = vq.vring();
                let rd = |a: u32| get16(ram, a).map(|v| v.to_string()).unwrap_or_else(|_| "?".into());
                f.push((k("irq"), vq.irq.to_string()));
                f.push((k("pfn"), format!("{:#x}", vq.pfn)));
                f.push((k("thread"), if vq.thread.is_some() { vq.name.clone() } else { "none".into() }));
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
