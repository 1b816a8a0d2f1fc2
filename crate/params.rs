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
/// The most events one machine keeps (the first ones: they are what lessons point at); later ones are
/// counted as dropped. Each is kept to its length, about 250 bytes (tests/slices.rs's memory measurement:
/// a Guest that page-faults for ever fills the log in a few seconds of slices and holds 62 MB in all, its
/// timeline included), so a full log is about 50 MB: the bound on what a Guest that traps for ever holds.
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
/// Free-play lines Undo can take back: each keeps a copy of the machine (shared pages and log chunks, a
/// few KB of its own), so a session of any length holds at most this many.
pub const UNDO_DEPTH: usize = 256;
/// The most bytes of a file the simulator reads (a scenario, a lesson, a Guest program or ELF image, stdin
/// for `lguest-sim run`): far more than the largest Guest (`MAX_GUEST_MB` of RAM is not loaded from a file),
/// and a bound when the file is a device that never ends.
pub const MAX_FILE_BYTES: usize = 64 << 20;

/// Checkpoints of a Guest's run kept for the Guest CPU pane's replay before they are thinned (half go, the
/// spacing doubles). Each holds the registers and shares the unchanged pages, so a run holds at most this
/// many copies of the pages it wrote between two of them; going to any instruction replays at most the
/// spacing from the nearest one.
pub const MAX_CHECKPOINTS: usize = 128;
/// Trips into the Guest a run's timeline records (each a few words); past that the run goes on unrecorded
/// and the pane says so.
pub const MAX_TRIPS: usize = 100_000;
/// Buffers a device thread services in one wake-up before the simulation lets others run. A Guest can have
/// at most a ring's `num` buffers outstanding, so the ring checks stop a hostile ring long before this.
pub const MAX_SERVICE: u32 = 4096;
/// The most shadow mappings the state view lists (a Guest with 32 MB mapped has 8192).
pub const SHADOW_VIEW_CAP: usize = 256;

/// Rows of one section of the state a step's view carries to the page (the rows the step changed first):
/// a Launcher holding a thousand eventfds has 2,000 rows of them, and building the view of 10,000 lines
/// of free play took 80 ms of a page task at the end (tests/e2e/hostile-tasks.test.mjs). The eventfd map's
/// picture draws at most 12 contexts and 6 freed versions likewise (`ui/diagram.rs`).
pub const SECTION_ROWS: usize = 200;
/// Kernel events one step's view carries to the page: the first half and the last half of them when the
/// step made more (a free-play line whose Guest traps for ever makes a few per trip, so one `read` in
/// slices can make hundreds of thousands, and building them all for the page took a second; 2,000 were
/// 730 KB of view, 15-25 ms to build in the page). Lessons' steps make a few dozen.
pub const VIEW_EVENTS: usize = 400;

// --- One budget for the work of one call into the core ---------------------------------------------------

/// What one trip into the Guest costs beside its instructions, in the same units: the Host's work around
/// it (the switch, the trap's handling, its events). A Guest that traps after every instruction then gets
/// about `CALL_BUDGET / TRIP_COST` trips a call, not `CALL_BUDGET`.
pub const TRIP_COST: u64 = 1_000;
/// Work units (Guest instructions, `rep` iterations, plus [`TRIP_COST`] a trip) one call into the core may
/// do: one scenario line, one free-play line, one `wait`, one step of a lesson's line. Every trip and every
/// scheduler round inside the call draws on it, so no product of the loops' caps (`LOOP_CAP` trips of
/// `GUEST_SLICE` instructions, `SETTLE_ROUNDS` rounds, `WAIT_ROUNDS` waits) can multiply it. 128 trips of a
/// full slice is what a Guest that computes without trapping got from one `read` (two settles of 64 rounds
/// of one slice) before the budget existed, so every lesson runs as it did; at the page's speed it is
/// 40-200 ms, and a line that needs more stops at a clean point: its task stays blocked and `wait` goes on
/// with a fresh budget.
pub const CALL_BUDGET: u64 = 128 * (GUEST_SLICE + TRIP_COST);
/// Work units one step of a lesson may do in all, its lines sharing it (the checker and the page's lesson
/// player run steps through `scenario::check::StepBudget`): the page shows a step in one go, so this is
/// what keeps a step short whatever Guest a course author gives it. The course's costliest step spends
/// about 18,000 (lesson 18's first; tests/lessons.rs's `every_course_step_fits_its_budget` prints it), so
/// this is 27 times that. The page's wasm build runs about 60 M units a second here, so 0.5 M are about
/// 8 ms, and 200 ms for a Guest that rewrites its own code every instruction (2.5 M a second). A line
/// that would need more stops there, its task still asleep in its call, and `lguest-sim check` warns.
pub const STEP_BUDGET: u64 = 500_000;
/// The work budget of one slice of the page's free play: a `wait` (or a `read` the Guest keeps busy) runs in
/// slices of this many units, each its own task of the page's one thread, with its progress shown and a Stop
/// button between them ([`crate::ui::free_play::FreePlay::go_on`]). The page's wasm build runs about 60 M
/// units a second on our loaded 2-core machine, so 1.5 M units are about 25 ms: under the 50 ms a browser
/// counts as a long task. A unit's time depends on the Guest, though: one that rewrites its own code every
/// instruction (tests/guests/hostile/selfmod.S) ran about 2.5 M units a second, so 1.5 M took 600 ms. The
/// page therefore starts a line with what the last slice of the same Guest did in 12 ms (a 64th of this for a
/// Guest not measured yet) and sizes each further slice from the time the last took (aimed at 12 ms, never
/// above this): tests/e2e/hostile-tasks.test.mjs prints the longest task.
pub const PAGE_SLICE_BUDGET: u64 = 1_500_000;
/// `lguest-sim run`'s budget for the whole run: a billion units, seconds natively. A Guest that has not
/// stopped by then never will in a teaching tool's time.
pub const RUN_BUDGET: u64 = 1_000_000_000;

// ---------------------------------------------------------------------------------------------------------------
// The Guest assembler (crate/asm). The page's Guest editor assembles a student's source in the page's one thread,
// so one assembly is one call into the core that must end soon and stay small whatever the source says
// (`asm/budget.rs` is where these are enforced).

/// Work one assembly may do, in steps. Every part of an assembly is paid for in steps
/// (`asm/budget.rs` has the prices): reading the source and each `.include`d text (1 a character), each
/// statement handled (16), each token (6, and 16 more for an operator, 8 more for a name), every `.rept`
/// copy again, each `.rept` copy begun (4), each label defined (16 plus its length), and in the layout each
/// pass over the items (an item's weight: 1 plus its names and expression nodes, 6 more for an instruction,
/// 8 more for a label) plus 8 for each instruction encoded (twice). Every step is bounded work, and the
/// prices were set from measurements so that a step costs about the same whatever the source does: 2.5-7 ns
/// natively in the release build on our 2-core machine (best of 5 runs; the most for jumps that relax
/// over many passes; `cargo test --release --test asm_hostile -- --ignored --nocapture` prints each worst
/// source's figure). So 2.5 M steps take at most about 17 ms natively, and the page's wasm build runs the
/// assembler at about half native speed: under the 50 ms of a long task (`node tests/bench/hostile.mjs`
/// prints the longest task of each worst source in headless Chromium). A real Guest needs far less: the
/// course's costliest (`tests/guests/cpu/strings.S`) takes about 183 000 steps, and a source at
/// `ASM_MAX_ITEMS` that switches between `.text` and `.data` on every line about 1.7 M.
pub const ASM_WORK: u64 = 2_500_000;
/// Items (labels, instructions, data and other directives) a program may expand to, `.rept` copies included:
/// bounds the assembler's memory (an item is about 100 bytes, plus its names and operands: 3-6 MB at worst)
/// and, with `ASM_WORK`, its time. 150 times the course's largest Guest; `.space`/`.fill` make big data
/// without items.
pub const ASM_MAX_ITEMS: usize = 20_000;
/// Largest image the assembler builds: `.space 0x7fffffff` is an error, not an allocation.
pub const ASM_MAX_IMAGE: u32 = 16 << 20;
/// Layout passes before giving up (jump relaxation settles in a handful; each pass is paid from `ASM_WORK`).
pub const ASM_MAX_PASSES: usize = 64;
/// How deeply `.rept` may nest, and `.include`: the assembler recurses into both, so they bound its stack.
pub const ASM_MAX_REPT_NESTING: usize = 16;
pub const ASM_MAX_INCLUDE_NESTING: usize = 8;
/// Parsing and evaluating an expression recurse: these bound the stack (a fuzzer's `((((...` is an error).
pub const ASM_MAX_EXPR_TOKENS: usize = 1024;
pub const ASM_MAX_EXPR_NESTING: usize = 64;
/// Errors one assembly reports (different ones; a mistake inside `.rept` is reported once): a student reads the
/// first few, and a source of a million bad lines must not build a million messages.
pub const ASM_MAX_ERRORS: usize = 100;

// ---------------------------------------------------------------------------------------------------------------
// The RCU explorer (crate/rcu/explore.rs). Its unit of work is a model step: one choice applied to a state.

/// Distinct states the exhaustive explorer may visit before it gives up: a bound on time and memory (about
/// 150 bytes a state, so 15 MB). The largest setup the CLI accepts without timers, 4 CPUs with 3 readers and
/// 3 writers, needs about 73,000; at its cap a walk takes about 2 s natively.
pub const EXPLORE_STATES: usize = 100_000;
/// Model steps one random sampling may take in all (`lguest-sim explore --random K`): `K` schedules, or as
/// many as fit, whichever is fewer. A step costs 2-7 us natively at the largest setups (the fingerprint of
/// every state seen included; measured with 4 CPUs, 2 readers, 2 writers and weak memory, about 32 steps a
/// schedule), so this is at most about 7 s, where `--random 4294967295` asked for 42 hours; the report says
/// how many schedules it followed.
pub const EXPLORE_WORK: u64 = 1_000_000;
/// Model steps one call of the page's explorer makes before it hands the page back (it goes on at the next
/// call, with its progress shown, and can be stopped). A step costs 5-6 us natively at the largest setups
/// and 14-30 us in the page's wasm build (opt-level z, on a loaded machine), so a slice is 7-15 ms; the page
/// makes as many calls as fit in 16 ms before it lets the browser paint.
pub const EXPLORE_SLICE: u64 = 500;
/// Model steps one `explore` line of a lesson may take: a lesson's step runs its lines at once, so each must
/// be short (the course's largest takes about 3,300: about 20 ms natively, 45-100 ms in the page's wasm
/// build); the checker refuses a longer one.
pub const EXPLORE_LESSON: u64 = 4_000;
