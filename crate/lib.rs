//! lguest-sim: a teaching simulator of the Linux lguest hypervisor host of 2.6.36-2.6.39.
//!
//! The tour, in the order a student meets it, each folder with what it may use:
//! - [`kernel`]: the simulated host kernel: tasks, address spaces, files and their operations, eventfds,
//!   the scheduler, and the one door user space has ([`kernel::user::Sys`]). It names one driver, in
//!   [`kernel::drivers`].
//! - [`lguest`]: drivers/lguest, the Host: `/dev/lguest` (`lguest_user`), `run_guest()`, hypercalls,
//!   interrupts and traps, page tables; a driver behind the kernel's file operations. It uses the kernel's
//!   services and the CPU.
//! - [`launcher`]: the Launcher, an ordinary user program: its main loop, device threads, virtqueues, ELF
//!   loading. It reaches the kernel only through [`kernel::user::Sys`] and its own memory.
//! - [`cpu`]: the Guest's 32-bit x86 core (iced-x86 decodes, we execute), a leaf: it knows nothing above it.
//! - [`rcu`]: Read-Copy-Update made visible across simulated CPUs, and the explorer.
//! - [`asm`]: the GNU as (AT&T) assembler for Guest programs.
//! - [`scenario`]: the one text language of lessons, the CLI, the free-play console and the tests; the
//!   runner that drives a kernel with it, the lesson checker, and `lguest-sim run`'s start-up.
//! - [`ui`]: what the page shows, computed in Rust: lesson player, state, Guest stepper.
//! - `wasm` (wasm32 only): the single boundary to JavaScript.
//! - Leaves everyone may use: [`params`] (every limit), [`errno`], [`event`], [`tags`] (journey tags),
//!   [`guest_ram`] (copy-on-write pages), [`small_sort`], [`fn_cut`].
//!
//! Everything here is deterministic and free of browser dependencies, so every test also runs natively.

pub mod append_log;
pub mod asm;
pub mod cpu;
pub mod diagnostic;
pub mod errno;
pub mod event;
pub mod fn_cut;
pub mod guest_ram;
pub mod kernel;
pub mod launcher;
pub mod lguest;
pub mod params;
pub mod rcu;
pub mod scenario;
pub mod small_sort;
pub mod tags;
pub mod ui;

#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub use wasm::{RcuRun, Simulator, Walkthrough};
