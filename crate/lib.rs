//! lguest-sim: a teaching simulator of the Linux lguest hypervisor host of 2.6.36-2.6.39.
//!
//! The tour, in the order a student meets it:
//! - [`host`]: the Host kernel's side: the `/dev/lguest` file (`lguest_user`), `run_guest()`, hypercalls,
//!   interrupts, the RCU-protected eventfd map, `kill_guest()`.
//! - [`launcher`]: the simulated Launcher process that drives `/dev/lguest`: its tasks, address space and files.
//! - [`cpu`]: the Guest's 32-bit x86 core (iced-x86 decodes, we execute).
//! - [`rcu`]: Read-Copy-Update made visible across simulated CPUs.
//! - [`scenario`]: the one text language of lessons, the CLI, the free-play console and the tests.
//! - `wasm` (wasm32 only): the single boundary to JavaScript.
//!
//! Everything here is deterministic and free of browser dependencies, so every test also runs natively.

pub mod asm;
pub mod cpu;
pub mod errno;
pub mod event;
pub mod fn_cut;
pub mod guest_ram;
pub mod host;
pub mod launcher;
pub mod machine;
pub mod params;
pub mod rcu;
pub mod scenario;
pub mod small_sort;
pub mod snapshot;
pub mod stepper;
pub mod view;

#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub use wasm::{RcuRun, Simulator, Walkthrough};
