//! Every limit of the simulation in one place (the habit of xv6's `param.h`).
//!
//! Kernel constants carry the kernel's names and values for the 2.6.36-2.6.39 i386 host; the rest are
//! the simulator's own caps, each with the reason it exists.

/// Bytes in a page, on the host and in the Guest (i386, no huge pages for lguest).
pub const PAGE_SIZE: u32 = 4096;
/// `PAGE_SHIFT`: log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

/// `LGUEST_IRQS`: the interrupts a Guest can be sent. `NR_IRQS < 32 ? NR_IRQS : 32`, so 32 on any real config.
pub const LGUEST_IRQS: u32 = 32;
/// `NR_CPUS` of the simulated host kernel: the size of `struct lguest`'s `cpus[]` array. Only cpu 0 is ever
/// started by `initialize()`, so `nr_cpus` is 1 whatever this is.
pub const NR_CPUS: u32 = 8;
/// `LHCALL_RING_SIZE`: slots in the async hypercall ring inside `struct lguest_data`.
pub const LHCALL_RING_SIZE: u32 = 64;
/// `LGUEST_TRAP_ENTRY`: the software interrupt a Guest uses for a hypercall (`int $0x1f`).
pub const LGUEST_TRAP_ENTRY: u8 = 0x1f;
/// `sizeof(unsigned long)` for the i386 host we model: the unit of every `/dev/lguest` argument.
pub const WORD: u32 = 4;

/// Where the simulated Launcher's scratch buffer for system-call arguments lives in its address space.
pub const LAUNCHER_SCRATCH: u32 = 0x0804_c000;
/// Size of that buffer: one page, followed by an unmapped page so a scenario can place an argument on the edge.
pub const LAUNCHER_SCRATCH_LEN: u32 = PAGE_SIZE;
/// Where the simulated Launcher maps the Guest's memory (the `mmap` of `/dev/zero` in the real one).
pub const LAUNCHER_GUEST_BASE: u32 = 0x4000_0000;
/// Default Guest memory for scenarios that do not say: 32 MB, the real Launcher's smallest useful Guest.
pub const DEFAULT_GUEST_MB: u32 = 32;
/// The largest Guest memory a scenario may ask for (the Launcher's address space is 3 GB; we stay modest
/// so a browser tab never allocates more than it can snapshot).
pub const MAX_GUEST_MB: u32 = 512;
/// `DEVICE_PAGES` of the real Launcher: the pages above Guest RAM that hold device descriptors and rings.
pub const DEVICE_PAGES: u32 = 256;

/// `TASK_SIZE` of the i386 host (the 3 GB/1 GB split, `PAGE_OFFSET` 0xC0000000): `access_ok()` refuses a
/// user buffer that reaches at or above it, before any driver sees it.
pub const TASK_SIZE: u32 = 0xC000_0000;
/// `MAX_RW_COUNT` (fs/read_write.c, 2.6.37 on: `INT_MAX & PAGE_CACHE_MASK`): the most one read or write moves.
pub const MAX_RW_COUNT: u32 = 0x7FFF_F000;

/// The simulated host's wall clock at boot (simulated time 0), in seconds since 1970: 2011-05-19 00:00 UTC,
/// the day 2.6.39 was released. `write_timestamp()` puts wall-clock time in `lguest_data.time`.
pub const WALL_CLOCK_AT_BOOT: u32 = 1_305_763_200;

/// Instructions a Guest may run inside one uninterrupted `lguest_arch_run_guest()` before the simulation
/// hands control back (the model of a host timer tick preempting the Guest): keeps every call bounded.
pub const GUEST_SLICE: u64 = 100_000;
/// The most events one scenario run keeps for stepping back and forth; older detail is summarised.
pub const EVENT_CAP: usize = 200_000;
/// The longest kill reason `kasprintf` text we keep (the kernel's messages are all far shorter).
pub const MAX_REASON: usize = 256;
/// Bytes of a SHUTDOWN message the host reads from the Guest (`char msg[128]` in `do_hcall`).
pub const SHUTDOWN_MSG_LEN: u32 = 128;
/// The largest number of file descriptors the simulated Launcher may hold.
pub const MAX_FDS: usize = 1024;

// --- Caps that bound the simulation's work (each keeps one call into the core short) -------------------

/// Rounds of [`crate::kernel::Kernel::settle`]: each offers every sleeping call to its file once and resumes
/// every program thread whose call returned; 64 rounds is far more than any lesson's chain of wake-ups.
pub const SETTLE_ROUNDS: u32 = 64;
/// How many times `wait` lets a sleeping call move on before it reports that the call is still blocked: for
/// a Guest that computes without trapping, 128 rounds of [`SETTLE_ROUNDS`] settles.
pub const WAIT_ROUNDS: u32 = 128;
/// Trips around `run_guest()`'s loop one wake-up may take before the simulation lets others run (a Guest
/// that traps without end would otherwise hold the page).
pub const LOOP_CAP: u32 = 1_000;
/// How many `wait`s with no progress end `lguest-sim run` (a Guest that runs forever without output).
pub const MAX_IDLE_WAITS: u32 = 2000;
/// How many times a rebooting Guest is restarted before `lguest-sim run` gives up.
pub const MAX_RESTARTS: u32 = 4;
/// Bytes of one write the Launcher makes to its stdout (a Guest could print its whole memory).
pub const MAX_LAUNCHER_STDOUT: usize = 1 << 20;
/// Bytes of the terminal's stdout and of its stderr the simulation keeps.
pub const MAX_TTY_OUTPUT: usize = 1 << 20;
