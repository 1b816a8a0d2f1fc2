//! The lguest Host: what the kernel module `lg` keeps and does.
//!
//! - [`lguest_user`]: the `/dev/lguest` file: `write()`, `read()`, `close()` (drivers/lguest/lguest_user.c).
//! - [`core`]: `run_guest()`, the loop behind `read()` (drivers/lguest/core.c).
//! - [`hypercalls`]: `do_hypercalls()`, what the Guest may ask (drivers/lguest/hypercalls.c).
//! - [`interrupts`]: `set_interrupt()`, `interrupt_pending()`, delivery and the timer
//!   (drivers/lguest/interrupts_and_traps.c).
//! - [`lg`]: `struct lguest` and `struct lg_cpu` (drivers/lguest/lg.h).
//! - [`alloc`]: the account book of every allocation, so leaks show.
//! - [`eventfd`]: the eventfd contexts the Launcher creates and the Host signals.
//! - [`tags`]: each modelled function with its journey tag and a link to the real source.
//!
//! The functions themselves are methods of [`crate::machine::Machine`], because a system call touches the
//! Host, the calling task and its address space at once, as in the kernel.

pub mod alloc;
pub mod core;
pub mod eventfd;
pub mod guest;
pub mod hypercalls;
pub mod interrupts;
pub mod lg;
pub mod lguest_user;
pub mod regs;
pub mod tags;

use serde::Serialize;

use crate::launcher::Tid;
use alloc::Allocator;
use eventfd::EventfdCtx;
use lg::Lguest;

/// What kind of file an open `struct file` is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum FileKind {
    /// `/dev/lguest`; `private_data` is the Guest once `LHREQ_INITIALIZE` succeeded.
    Lguest { private_data: Option<usize> },
    /// An eventfd; `ctx` indexes the Host's eventfd contexts.
    Eventfd { ctx: usize },
    /// A terminal (the Launcher's stdin, stdout, stderr): a file that is not an eventfd.
    Tty,
}

/// An open file (`struct file`): what a descriptor points at.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenFile {
    pub kind: FileKind,
    /// `f_count`: descriptors (in any process) referring to it.
    pub f_count: u32,
}

/// The Host kernel's state.
#[derive(Clone, Debug, Default)]
pub struct Host {
    pub alloc: Allocator,
    pub files: Vec<OpenFile>,
    pub eventfds: Vec<EventfdCtx>,
    /// Every `struct lguest` ever made, by index; `None` once `close()` freed it.
    pub guests: Vec<Option<Lguest>>,
    /// `lguest_lock`, the big lguest mutex: which task holds it.
    pub lguest_lock: Option<Tid>,
    /// Simulated time, in nanoseconds since boot.
    pub now_ns: u64,
}
