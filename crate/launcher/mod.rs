//! The simulated Launcher: the user-space side of lguest (Documentation/lguest/lguest.c).
//!
//! A Launcher is a process with tasks (its main thread, which runs the Guest through `read()`, and device
//! threads that attach eventfds and send interrupts), an address space in which the Guest's memory is one
//! mapping, and a table of file descriptors. The Host only ever sees the Launcher through these: a bad
//! pointer in a system call is an address that is not mapped here, which is why the Host answers `-EFAULT`.

pub mod devices;
pub mod elf;
pub mod mm;
pub mod run;
pub mod virtqueue;

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

pub use mm::{Mm, Region, UserFault};

use crate::guest_ram::GuestRam;
use crate::host::guest::ScriptAction;

pub type Pid = u32;
pub type Tid = u32;
/// Index of an open `struct file` in the Host's file table.
pub type FileId = usize;

/// What a simulated user-space process holds.
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: Pid,
    pub name: String,
    pub mm: Mm,
    /// The Guest's memory (the `/dev/zero` mapping of the real Launcher), mapped in `mm` at `guest_base`.
    pub ram: GuestRam,
    pub guest_base: u32,
    /// Pages of Guest RAM, not counting the device pages above it (`guest_limit` / page size).
    pub guest_pages: u32,
    /// File descriptors: fd number to the Host's open file.
    pub fds: BTreeMap<i32, FileId>,
    /// True once a Guest program was loaded into `ram`: `initialize()` then runs it on the x86 core.
    pub has_code: bool,
    /// The scripted Guest's next hypercalls, for lessons and tests that do not run real Guest code.
    pub script: VecDeque<ScriptAction>,
    /// The Launcher's devices: the devices page, the console, its virtqueues and their threads.
    pub devices: devices::Devices,
    /// What the Launcher wrote to its stdout: early-console strings and the console device's output.
    pub stdout: Vec<u8>,
    /// What it wrote to stderr before dying (warnings, then the `errx()` message).
    pub stderr: String,
    /// Input waiting at its terminal, for the console's input queue.
    pub stdin: VecDeque<u8>,
}

impl Process {
    /// The lowest free descriptor number, as `open()` and `eventfd()` choose it.
    pub fn lowest_free_fd(&self) -> Option<i32> {
        (0..crate::params::MAX_FDS as i32).find(|fd| !self.fds.contains_key(fd))
    }
}

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TaskState {
    /// In user space, ready for its next system call.
    User,
    /// Inside `read()` on `/dev/lguest`, running or waiting for the Guest.
    InRead,
    /// Exited (its process died).
    Exited,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub tid: Tid,
    pub name: String,
    pub pid: Pid,
    pub state: TaskState,
    /// A signal has been sent and not yet delivered (`signal_pending(current)`).
    pub signal_pending: bool,
}

/// Offsets in `struct boot_params` (the "zero page", x86 boot protocol) that the Launcher fills in.
pub mod boot_params {
    pub const E820_ENTRIES: u32 = 0x1e8;
    pub const E820_MAP: u32 = 0x2d0;
    pub const HDR_VERSION: u32 = 0x206;
    pub const HDR_LOADFLAGS: u32 = 0x211;
    pub const HDR_HARDWARE_SUBARCH: u32 = 0x23c;
    /// `KEEP_SEGMENTS` in `loadflags`: the Guest must not reload its segment registers at boot.
    pub const KEEP_SEGMENTS: u8 = 0x40;
    /// `X86_SUBARCH_LGUEST`: how the Guest kernel knows to boot as an lguest Guest.
    pub const SUBARCH_LGUEST: u32 = 1;
}

impl Process {
    /// What the real Launcher writes at Guest-physical 0 before `tell_kernel()`: a `boot_params` whose one
    /// e820 entry says how much RAM there is (the Host reads it in `init_guest_pagetable()`), boot protocol
    /// version 2.07, the lguest subarchitecture and KEEP_SEGMENTS.
    pub fn write_boot_params(&mut self) {
        use boot_params::*;
        let mem = self.guest_pages as u64 * crate::params::PAGE_SIZE as u64;
        let mut e820 = Vec::with_capacity(20);
        e820.extend_from_slice(&0u64.to_le_bytes());
        e820.extend_from_slice(&mem.to_le_bytes());
        e820.extend_from_slice(&1u32.to_le_bytes()); // E820_RAM
        let _ = self.ram.write(E820_ENTRIES, &[1]);
        let _ = self.ram.write(E820_MAP, &e820);
        let _ = self.ram.write(HDR_VERSION, &0x0207u16.to_le_bytes());
        let _ = self.ram.write(HDR_LOADFLAGS, &[KEEP_SEGMENTS]);
        let _ = self.ram.write_u32(HDR_HARDWARE_SUBARCH, SUBARCH_LGUEST);
    }
}
