//! The drivers built into this kernel, and the only place the kernel names one: what `open()` of a device
//! path finds (a misc device and its file operations, as `misc_register()` with `lguest_dev` records),
//! which timers the kernel's clock must fire, and which modules load as the machine starts. The lguest
//! driver ([`crate::lguest`]) is the only one.

use super::file::FileOps;
use super::Kernel;

/// The lguest driver's module state, kept by the kernel as its globals are.
pub use crate::lguest::Lguests as LguestModule;

/// A module's `module_init()` function: 0, or the errno `insmod` reports.
pub type ModuleInit = fn(&mut Kernel) -> Result<(), crate::errno::Errno>;

/// The modules loaded as the machine starts, in order, each with its init function.
pub const MODULES: &[(&str, ModuleInit)] = &[("lguest", crate::lguest::core::init)];

/// Device files by path.
pub const MISC_DEVICES: &[(&str, &FileOps)] = &[("/dev/lguest", &crate::lguest::LGUEST_FOPS)];

/// A driver's hrtimers, as the kernel's clock sees them.
pub struct Timers {
    /// The earliest armed, in simulated ns.
    pub next: fn(&Kernel) -> Option<u64>,
    /// Fire every one due by the time given.
    pub run: fn(&mut Kernel, u64),
}

pub const TIMERS: &[Timers] = &[Timers { next: crate::lguest::next_timer, run: crate::lguest::run_timers }];
