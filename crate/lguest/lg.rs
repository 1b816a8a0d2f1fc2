//! The Host's records of a Guest, named and shaped like `drivers/lguest/lg.h`: `struct lguest` for the
//! Guest as a whole and `struct lg_cpu` for each virtual CPU, plus the eventfd map that RCU protects.
//!
//! Fields keep the kernel's names so a student can read this and then lg.h and recognise every line. One
//! difference of shape: the kernel's `struct lguest` holds its `cpus[]` and each `lg_cpu` points back at
//! its `lg`; Rust lends a function `cpu` and `cpu->lg` at once only if neither holds the other, so the driver
//! keeps each Guest as a [`Guest`]: its `struct lguest` and its cpus side by side, and the Host's
//! functions take `(lg, cpu)` where the kernel's take `cpu`.

use serde::Serialize;

use super::guest::GuestEngine;
use super::page_tables::{PgDir, NR_PGDIRS};
use super::regs::LguestRegs;
use crate::errno::Errno;
use crate::kernel::alloc::AllocId;
use crate::kernel::task::{Pid, Tid};

/// One entry of the eventfd map: a NOTIFY value and the eventfd context to signal for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LgEventfd {
    pub addr: u32,
    /// Index of the eventfd context in the Host's table (our stand-in for `struct eventfd_ctx *`).
    pub event: usize,
    /// The book entry of the reference `eventfd_ctx_fdget()` took, which `close()` gives back.
    pub reference: AllocId,
}

/// `struct lg_eventfd_map`: `num` entries. Each version is a separate allocation; `add_eventfd()` never
/// changes one in place once it is published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LgEventfdMap {
    /// The allocation holding this version (its identity: "version #n").
    pub alloc: AllocId,
    pub num: u32,
    pub map: Vec<LgEventfd>,
}

/// One version of the eventfd map in the order they were made, as the walkthrough lists them: not a kernel
/// field (the kernel forgets a version once it is freed), the simulator's record of the RCU story.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MapVersion {
    /// Its allocation ("version #n").
    pub alloc: AllocId,
    /// (addr, eventfd ctx) of each entry.
    pub entries: Vec<(u32, usize)>,
    /// Which function made it.
    pub by: &'static str,
    pub life: MapLife,
}

/// Where a version of the map is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MapLife {
    /// `lg->eventfds` points to it: new readers find it.
    Current,
    /// Replaced by `rcu_assign_pointer()`; readers that found it before may still hold it until the grace
    /// period ends.
    Retired,
    /// `kfree()`d after `synchronize_rcu()`.
    Freed,
}

/// `lg->dead`: NULL while the Guest lives; then either a `kasprintf()`ed reason or an `ERR_PTR()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum Dead {
    Reason { text: String, alloc: AllocId },
    Err { errno: Errno },
}

/// `GUEST_PL`: the privilege ring the Guest kernel runs in (its user mode runs in ring 3).
pub const GUEST_PL: u32 = 1;

/// `cpu->changed` bits (lg.h): the IDT, the whole GDT, or only its three TLS entries changed since the
/// Switcher last copied them; `CHANGED_ALL` is the first two.
pub const CHANGED_IDT: u32 = 1;
pub const CHANGED_GDT: u32 = 2;
pub const CHANGED_GDT_TLS: u32 = 4;
pub const CHANGED_ALL: u32 = 3;

/// `struct lg_cpu`.
#[derive(Clone, Debug)]
pub struct LgCpu {
    pub id: u32,
    /// The Launcher task that did `LHREQ_INITIALIZE`: only it may `read()` (run) this cpu.
    pub tsk: Tid,
    /// `cpu->mm`: the Launcher's address space, referenced so it outlives the task (our process id).
    pub mm: Pid,
    /// The book entry for the `get_task_mm()` reference.
    pub mm_ref: AllocId,
    /// `regs_page`: the page the registers live at the top of.
    pub regs_page: AllocId,
    pub regs: LguestRegs,
    /// `cpu->hcall`: a hypercall the Guest made that is not yet done (`Some` means "pending").
    pub hcall: Option<[u32; 5]>,
    /// Where the next async hypercall in the ring is.
    pub next_hcall: u32,
    /// The NOTIFY value the Launcher has not yet seen; 0 means none.
    pub pending_notify: u32,
    pub halted: bool,
    /// `DECLARE_BITMAP(irqs_pending, LGUEST_IRQS)`: one bit per interrupt.
    pub irqs_pending: u32,
    /// `cpu->ts`, set by `LHCALL_TS`: the Guest has set its own TS bit and wants to know when it next
    /// touches the FPU (trap 7).
    pub ts: u32,
    /// `cpu->changed`: what of the Guest's IDT and GDT changed since the Switcher last copied them
    /// (`CHANGED_IDT`, `CHANGED_GDT`, `CHANGED_GDT_TLS`; `CHANGED_ALL` when it last ran elsewhere).
    pub changed: u32,
    /// `cpu->last_pages`: which host CPU's `struct lguest_pages` this cpu last ran on (`None`: never ran).
    pub last_pages: Option<u32>,
    /// The Guest is running on its host CPU right now (between the Switcher's way in and its way out): the
    /// simulation paused it to let other tasks run, and it goes on from where it was. Not a kernel field:
    /// the kernel is simply still inside `lguest_arch_run_guest()`.
    pub in_guest: bool,
    /// A scripted Guest's trap whose delivery straight into the Guest faulted: its instruction runs again
    /// (and traps again) the next time the Guest runs, before the rest of its script.
    pub retry_trap: Option<(u32, u32)>,
    /// The hrtimer set by `LHCALL_SET_CLOCKEVENT`: when it expires, in simulated ns; `None` when off.
    pub hrt_expires: Option<u64>,
    /// Guest kernel stack from `LHCALL_SET_STACK`.
    pub ss1: u32,
    pub esp1: u32,
    /// `arch.idt`: the Guest's IDT as `set_trap()` checked and rewrote it from `LHCALL_LOAD_IDT_ENTRY`:
    /// (lo, hi) words per vector (0, 0 for not present).
    pub idt: Vec<(u32, u32)>,
    /// `arch.gdt`: the Guest's GDT entries (`setup_guest_gdt()`, then `LHCALL_LOAD_GDT_ENTRY` and
    /// `LHCALL_LOAD_TLS` with `fixup_gdt_table()`'s changes).
    pub gdt: Vec<(u32, u32)>,
    /// What runs the Guest's code: a script of hypercalls, or the x86 core.
    pub engine: GuestEngine,
    /// `arch.last_pagefault`: the address of the Guest's last page fault (cr2).
    pub cr2: u32,
    /// `cpu_pgd`: which of `lg->pgdirs` this cpu runs on (its cr3).
    pub cpu_pgd: usize,
    /// cr3 changed since the core last ran: drop its decoded blocks.
    pub flush_pending: bool,
    /// How many of `lg.flushes` the core has seen (fewer: a mapping changed under its decoded blocks).
    pub seen_flushes: u64,
    /// What the last #UD was (an instruction the core does not model names itself), for the death message's
    /// explanation.
    pub last_ud: Option<String>,
}

/// `struct lguest`.
#[derive(Clone, Debug)]
pub struct Lguest {
    /// The book entry for the `kzalloc()` of this structure.
    pub alloc: AllocId,
    pub pfn_limit: u32,
    /// `mem_base`: where Guest-physical 0 is in the Launcher's address space.
    pub mem_base: u32,
    /// `lguest_data`: the Guest-physical address of `struct lguest_data`, once `LHCALL_LGUEST_INIT` said.
    pub lguest_data: Option<u32>,
    pub noirq_start: u32,
    pub noirq_end: u32,
    /// `kernel_address`: from here up is the Guest kernel's (read at LGUEST_INIT).
    pub kernel_address: u32,
    /// `pgdirs[4]`: the cached shadow page directories, each with the Guest page directory it shadows.
    /// `pgdirs[0]` starts as the boot tables `setup_pagetables()` built, with the page
    /// `init_guest_pagetable()` allocated for it.
    pub pgdirs: [PgDir; NR_PGDIRS],
    /// Whether the Guest runs on the shadow page tables: in 2.6.39 always, from its first instruction (the
    /// shadow of the boot tables in `pgdirs[0]`). Kept for the page, which shows it.
    pub paging: bool,
    /// The slot `new_pgdir()` takes next (round robin where the kernel uses `random32()`).
    pub next_pgdir: usize,
    /// Shadow mappings removed or replaced so far (not a kernel field): a cpu whose core decoded blocks
    /// through an older mapping drops them before it runs again.
    pub flushes: u64,
    /// `stack_pages`: how many pages of kernel stack SET_STACK asked the Host to keep mapped.
    pub stack_pages: u32,
    /// `lg->eventfds`: the current version of the map (the RCU-protected pointer).
    pub eventfds: LgEventfdMap,
    pub dead: Option<Dead>,
    /// Every version of the eventfd map this Guest has had, oldest first (see [`MapVersion`]).
    pub map_versions: Vec<MapVersion>,
}

impl Lguest {
    /// Note a change in the life of map version `alloc` (and, for a new one, what it holds).
    pub fn map_version(&mut self, alloc: AllocId, map: Option<&LgEventfdMap>, by: &'static str, life: MapLife) {
        match self.map_versions.iter_mut().find(|v| v.alloc == alloc) {
            Some(v) => v.life = life,
            None => self.map_versions.push(MapVersion {
                alloc,
                entries: map.map(|m| m.map.iter().map(|e| (e.addr, e.event)).collect()).unwrap_or_default(),
                by,
                life,
            }),
        }
    }
}

/// One Guest as the driver keeps it: its `struct lguest` and, beside it, its `cpus[]` (`nr_cpus` is their
/// number; `initialize()` only ever starts cpu 0).
#[derive(Clone, Debug)]
pub struct Guest {
    pub lg: Lguest,
    pub cpus: Vec<LgCpu>,
}

impl Guest {
    /// `lg->nr_cpus`.
    pub fn nr_cpus(&self) -> u32 {
        self.cpus.len() as u32
    }
}
