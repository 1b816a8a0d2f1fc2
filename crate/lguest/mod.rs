//! drivers/lguest: the lguest Host, a driver of the kernel ([`crate::kernel`]) behind the file
//! `/dev/lguest`. The files keep lguest's names:
//!
//! - [`lguest_user`]: the `/dev/lguest` file: `write()`, `read()`, `close()` (lguest_user.c, L:010-L:060),
//!   and [`LGUEST_FOPS`], its file operations.
//! - [`core`]: the module's load, `init()` (H:000), which the kernel runs as the machine starts;
//!   `run_guest()`, the loop behind `read()`; `lguest_address_ok()`, `lgread()`, `lgwrite()`,
//!   `kill_guest()` (core.c, lg.h).
//! - [`x86_core`]: `lguest_arch_run_guest()` and `lguest_arch_handle_trap()`, `copy_in_guest_info()` and the
//!   trip into the Guest and back, `emulate_insn()`, the `vmcall` rewrite (x86/core.c).
//! - [`switcher`]: the Switcher (x86/switcher_32.S) and each host CPU's `struct lguest_pages`: the IDT,
//!   GDT and TSS the CPU uses while a Guest runs.
//! - [`hypercalls`]: `do_hypercalls()`, what the Guest may ask (hypercalls.c).
//! - [`interrupts_and_traps`]: `set_interrupt()`, `interrupt_pending()`, delivery, the timer
//!   (interrupts_and_traps.c).
//! - [`page_tables`]: the shadow page tables, `demand_page()` and the paging hypercalls (page_tables.c).
//! - [`segments`]: the Guest's GDT (segments.c).
//! - [`lg`]: `struct lguest` and `struct lg_cpu` (lg.h); [`regs`]: `struct lguest_regs`.
//! - [`guest`]: what runs behind the switch: the x86 core, or a scripted Guest.
//!
//! The Host's functions take the kernel (its services: `copy_to_user()`, `kmalloc()`, the event log) and
//! the objects the kernel's functions take: `lg` (`struct lguest`) and `cpu` (`struct lg_cpu`). The driver's
//! own globals are [`Lguests`]; while a call works on one Guest, that Guest is lent out of the table.

pub mod core;
pub mod guest;
pub mod hypercalls;
pub mod interrupts_and_traps;
pub mod lg;
pub mod lguest_user;
pub mod page_tables;
pub mod regs;
pub mod segments;
pub mod switcher;
pub mod x86_core;

use crate::cpu::timeline::Timeline;
use crate::kernel::file::FileOps;
use crate::kernel::task::Tid;
use crate::kernel::Kernel;
pub use lg::Guest;

/// `lguest_fops`: what `/dev/lguest` does.
pub static LGUEST_FOPS: FileOps = FileOps {
    name: "lguest",
    read: lguest_user::read,
    write: lguest_user::write_fop,
    resume: lguest_user::resume_read,
    release: lguest_user::close,
    owner: Some("lguest"),
};

/// The driver's module state.
#[derive(Clone, Debug, Default)]
pub struct Lguests {
    /// Every Guest ever made, by index (a file's `private_data`); `None` once `close()` freed it, or while a
    /// call is working on it.
    pub guests: Vec<Option<Guest>>,
    /// `lguest_lock`, the big lguest mutex: which task holds it.
    pub lguest_lock: Option<Tid>,
    /// This host CPU's `struct lguest_pages` (the Switcher's two pages), and the per-CPU `lg_last_cpu`: the
    /// Guest cpu (its `struct lguest`'s allocation and cpu id) that last ran on it.
    pub pages: switcher::LguestPages,
    pub lg_last_cpu: Option<(crate::kernel::alloc::AllocId, u32)>,
    /// Whether the Launcher's FPU state is in the FPU (the kernel's `TS_USEDFPU`): `math_state_restore()` after
    /// a trap 7 loads it, `unlazy_fpu()` saves it. Linux keeps TS set in cr0 whenever the running task's state
    /// is not loaded (see [`Lguests::host_ts`]), and the Guest runs under the host CPU's cr0. It starts false:
    /// the Launcher has not used the FPU since it was switched in. (A switch to another task and back, which
    /// would save it and set TS again, is not modelled: the Launcher keeps its FPU until `unlazy_fpu()`.) The
    /// FPU's registers themselves are not modelled either.
    pub fpu_loaded: bool,
    /// Whether the module's load registered the misc device (`lguest_device_init()`): until then, or if the
    /// load failed, there is no `/dev/lguest` to open.
    pub misc_registered: bool,
    /// The module parameter `syscall_vector` (interrupts_and_traps.c), set at load: `None` is its default,
    /// `SYSCALL_VECTOR` (see [`Lguests::syscall_vector`]).
    pub syscall_vector: Option<u32>,
    /// Record the Guest CPU's work for the page (see [`crate::cpu::timeline`]): on for each step of a
    /// lesson the page shows.
    pub recording: bool,
    pub timeline: Option<Recording>,
}

impl Lguests {
    /// TS in the host CPU's cr0: set whenever the running task's (the Launcher's) FPU state is not loaded, so
    /// the first FPU instruction after a switch traps (7) and `math_state_restore()` loads it then.
    pub fn host_ts(&self) -> bool {
        !self.fpu_loaded
    }

    /// `syscall_vector`: the system-call vector the module was loaded with (0x80 unless told otherwise).
    pub fn syscall_vector(&self) -> u32 {
        self.syscall_vector.unwrap_or(hypercalls::SYSCALL_VECTOR)
    }

    /// Guest `g`, if it lives.
    pub fn get(&self, g: usize) -> Option<&Guest> {
        self.guests.get(g)?.as_ref()
    }

    /// The most recently made Guest that lives.
    pub fn last(&self) -> Option<(usize, &Guest)> {
        self.guests.iter().enumerate().rev().find_map(|(i, g)| g.as_ref().map(|g| (i, g)))
    }

    pub(crate) fn take(&mut self, g: usize) -> Option<Guest> {
        self.guests.get_mut(g)?.take()
    }

    pub(crate) fn put(&mut self, g: usize, guest: Guest) {
        if let Some(slot) = self.guests.get_mut(g) {
            *slot = Some(guest);
        }
    }
}

/// The Guest CPU's timeline being recorded for the page, and which Guest cpu it follows (the first one that
/// ran; others are not recorded: the Guest by its `struct lguest`'s allocation) in which Launcher process's
/// memory.
#[derive(Clone, Debug)]
pub struct Recording {
    pub lg: crate::kernel::alloc::AllocId,
    pub cpu: u32,
    pub proc: usize,
    pub timeline: Box<Timeline>,
}

/// Start recording the Guest's timeline afresh.
pub fn start_recording(k: &mut Kernel) {
    stop_recording(k);
    k.lguest.recording = true;
}

/// Stop recording; what ran since [`start_recording`], if a Guest CPU ran, and which Guest it was (its
/// index, if it still lives).
pub fn stop_recording(k: &mut Kernel) -> Option<(Box<Timeline>, Option<usize>)> {
    k.lguest.recording = false;
    let mut rec = k.lguest.timeline.take()?;
    if let Some(p) = k.procs.get_mut(rec.proc) {
        rec.timeline.finish(&mut p.mm.guest.ram);
    }
    let guest = k.lguest.guests.iter().position(|g| g.as_ref().is_some_and(|g| g.lg.alloc == rec.lg));
    Some((rec.timeline, guest))
}

/// The earliest armed Guest timer, if any (the kernel's clock asks).
pub fn next_timer(k: &Kernel) -> Option<u64> {
    k.lguest.guests.iter().flatten().flat_map(|g| g.cpus.iter().filter_map(|c| c.hrt_expires)).min()
}

/// Every Guest timer due by `until` fires (the kernel's clock calls).
pub fn run_timers(k: &mut Kernel, until: u64) {
    for g in 0..k.lguest.guests.len() {
        let Some(mut guest) = k.lguest.take(g) else { continue };
        interrupts_and_traps::run_timers(k, &mut guest, until);
        k.lguest.put(g, guest);
    }
}
