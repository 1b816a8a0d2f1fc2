//! The Launcher: the user-space side of lguest (Documentation/lguest/lguest.c), an ordinary program.
//!
//! Everything here reaches the Host as the real Launcher does: through system calls on `/dev/lguest`, its
//! eventfds and its terminal, and through its own memory, of which the Guest's memory is one mapping. It
//! holds a [`crate::kernel::user::Sys`] and nothing of the kernel's: a bad pointer in a request is an
//! address it did not map, which is why the Host answers `-EFAULT`.
//!
//! - [`run`]: `main()`: map memory, load the Guest, set up devices, `tell_kernel()`, then the `read()` loop.
//! - [`devices`]: the devices page, the console and its virtqueues, and the thread each queue runs.
//! - [`virtqueue`]: reading a ring the Guest wrote, without trusting it.
//! - [`elf`]: loading an ELF32 Guest at its physical addresses.
//!
//! [`Launcher`] is the memory the Launcher's threads share (its devices, its Guest's size); it is the
//! program the kernel's scheduler resumes for each device thread.

pub mod devices;
pub mod elf;
pub mod run;
pub mod virtqueue;

use std::any::Any;

use crate::guest_ram::GuestRam;
use crate::kernel::mm::MapKind;
use crate::kernel::syscall::{Outcome, Syscall};
use crate::kernel::user::{Sys, UserProgram};
use crate::params::{self, DEVICE_PAGES, LAUNCHER_GUEST_BASE, LAUNCHER_SCRATCH, LAUNCHER_SCRATCH_LEN, PAGE_SIZE};

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

/// Guest-physical memory as the Launcher reaches it. In the Launcher it is its own mapping of the Guest's
/// memory (`from_guest_phys()`: see [`devices::GuestView`]); tests use plain Guest RAM.
pub trait GuestMem {
    fn read(&self, gpa: u32, buf: &mut [u8]) -> Result<(), Unreachable>;
    fn write(&mut self, gpa: u32, data: &[u8]) -> Result<(), Unreachable>;
}

/// A Guest-physical range the Launcher's mapping does not cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreachable {
    pub gpa: u32,
}

impl GuestMem for GuestRam {
    fn read(&self, gpa: u32, buf: &mut [u8]) -> Result<(), Unreachable> {
        GuestRam::read(self, gpa, buf).map_err(|e| Unreachable { gpa: e.addr })
    }

    fn write(&mut self, gpa: u32, data: &[u8]) -> Result<(), Unreachable> {
        GuestRam::write(self, gpa, data).map_err(|e| Unreachable { gpa: e.addr })
    }
}

/// Where the Launcher keeps the text it prints with `errx()`/`warnx()` before it `write()`s it: a page of
/// its own beside the system-call buffers.
pub const STDIO_BUF: u32 = LAUNCHER_SCRATCH + 2 * PAGE_SIZE;
pub const STDIO_BUF_LEN: u32 = PAGE_SIZE;

/// The Launcher's own memory: what its threads share.
#[derive(Clone, Debug)]
pub struct Launcher {
    /// Where it mapped the Guest's memory (`guest_base`), and how many pages of RAM it gave it (not counting
    /// the device pages above).
    pub guest_base: u32,
    pub guest_pages: u32,
    /// The devices page, the console, its virtqueues and their threads.
    pub devices: devices::Devices,
}

impl Launcher {
    /// A Launcher that will give its Guest `guest_mb` MB of RAM (clamped to what the simulation allows).
    pub fn new(guest_mb: u32) -> Launcher {
        let guest_pages = guest_mb.clamp(1, params::MAX_GUEST_MB) * (1 << 20) / PAGE_SIZE;
        Launcher { guest_base: LAUNCHER_GUEST_BASE, guest_pages, devices: Default::default() }
    }

    /// The first thing `main()` does: its own data pages (the system-call buffers, and a page for the text it
    /// prints) and `map_zeroed_pages()`: the Guest's RAM plus `DEVICE_PAGES` pages for devices, from
    /// `/dev/zero`. The `boot_params` page at Guest-physical 0, which the real `main()` fills in just before it
    /// tells the kernel, is written here too, so a Launcher is never without it (the Host builds the boot page
    /// tables from it).
    pub fn map_memory(&mut self, sys: &mut Sys<'_>) -> Result<(), String> {
        let total = (self.guest_pages + DEVICE_PAGES) * PAGE_SIZE;
        let maps = [
            (LAUNCHER_SCRATCH, LAUNCHER_SCRATCH_LEN, MapKind::Data { what: "Launcher data (system call buffers)".into() }),
            (STDIO_BUF, STDIO_BUF_LEN, MapKind::Data { what: "Launcher data (text it prints)".into() }),
            (self.guest_base, total, MapKind::GuestMemory),
        ];
        for (addr, len, kind) in maps {
            match sys.syscall(Syscall::Mmap { addr, len, kind })? {
                Outcome::Done(r) if r.is_ok() => {}
                Outcome::Done(r) => return Err(format!("mmap of {len:#x} bytes at {addr:#x}: {}", r.render())),
                Outcome::Blocked { .. } => return Err("mmap blocked".into()),
            }
        }
        self.write_boot_params(sys);
        self.take_devices_page(sys)
    }

    /// What `tell_kernel()` sends as `pfnlimit`: `guest_limit / getpagesize()`, the Guest's RAM and the device
    /// pages handed out so far (the devices page and each ring), not all the pages mapped for devices.
    pub fn pfn_limit(&self) -> u32 {
        self.guest_limit() / PAGE_SIZE
    }

    /// What the real Launcher writes at Guest-physical 0 before `tell_kernel()`: a `boot_params` whose one
    /// e820 entry says how much RAM there is (the Host reads it in `init_guest_pagetable()`), boot protocol
    /// version 2.07, the lguest subarchitecture and KEEP_SEGMENTS.
    pub fn write_boot_params(&self, sys: &mut Sys<'_>) {
        use boot_params::*;
        let mem = self.guest_pages as u64 * PAGE_SIZE as u64;
        let mut e820 = Vec::with_capacity(20);
        e820.extend_from_slice(&0u64.to_le_bytes());
        e820.extend_from_slice(&mem.to_le_bytes());
        e820.extend_from_slice(&1u32.to_le_bytes()); // E820_RAM
        let base = self.guest_base;
        let _ = sys.write(base + E820_ENTRIES, &[1]);
        let _ = sys.write(base + E820_MAP, &e820);
        let _ = sys.write(base + HDR_VERSION, &0x0207u16.to_le_bytes());
        let _ = sys.write(base + HDR_LOADFLAGS, &[KEEP_SEGMENTS]);
        let _ = sys.write(base + HDR_HARDWARE_SUBARCH, &SUBARCH_LGUEST.to_le_bytes());
    }

    /// Copy `bytes` to Guest-physical `gpa` through the Launcher's mapping.
    pub fn to_guest(&self, sys: &mut Sys<'_>, gpa: u32, bytes: &[u8]) -> Result<(), String> {
        sys.write(self.guest_base.wrapping_add(gpa), bytes).map_err(|f| format!("cannot write Guest memory at {:#x}", f.addr.wrapping_sub(self.guest_base)))
    }
}

impl UserProgram for Launcher {
    /// A device thread goes on from where its last system call returned.
    fn resume(&mut self, sys: &mut Sys<'_>) -> bool {
        self.resume_thread(sys)
    }

    fn clone_box(&self) -> Box<dyn UserProgram> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
