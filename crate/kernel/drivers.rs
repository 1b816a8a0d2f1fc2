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

/// A module's `module_exit()` function.
pub type ModuleExit = fn(&mut Kernel);

/// A module's parameters as `parse_args()` sets them: `Ok(Ok(()))` set, `Ok(Err(-ENOENT))` no such
/// parameter, `Ok(Err(-EINVAL))` a value its type cannot take; `Err` a value the simulation will not take
/// (and says why).
pub type ModuleParam = fn(&mut Kernel, &str, Option<&str>) -> Result<Result<(), crate::errno::Errno>, String>;

/// A loadable module: its name, `module_init()`, `module_exit()`, and its parameters (`module_param()`).
pub struct Module {
    pub name: &'static str,
    pub init: ModuleInit,
    pub exit: ModuleExit,
    /// The names of its parameters.
    pub params: &'static [&'static str],
    /// Set one parameter.
    pub param: ModuleParam,
    /// Put every parameter back to its default (a fresh copy of the module is loaded each time).
    pub reset: fn(&mut Kernel),
}

/// The modules loaded as the machine starts, in order.
pub const MODULES: &[Module] = &[Module {
    name: "lguest",
    init: crate::lguest::core::init,
    exit: crate::lguest::core::fini,
    params: &["syscall_vector"],
    param: crate::lguest::core::set_param,
    reset: crate::lguest::core::reset_params,
}];

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
