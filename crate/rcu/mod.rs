//! Read-Copy-Update made visible: the RCU-protected eventfd map of `add_eventfd()` and
//! `send_notify_to_eventfd()` (L:055, L:056), run step by step on simulated CPUs, broken on purpose, and
//! checked over every interleaving.
//!
//! The tour through this directory:
//! - `programs.rs`: the steps of the writer, the reader and the timer, and each broken [`Variant`].
//! - `memory.rs`: shared memory under sequential consistency or an Alpha-like weak mode.
//! - `model.rs`: CPUs, tasks, versions of the array, `lguest_lock`, grace periods; one [`step`] at a time,
//!   dispatched to one function per kernel step in `writer.rs` (`attach_eventfd()` and `add_eventfd()`),
//!   `reader.rs` (`send_notify_to_eventfd()`) and `synchronize_rcu.rs` (grace periods, the timer tick).
//!   The Host's own `add_eventfd()` and `send_notify_to_eventfd()`, which run on the simulated kernel's
//!   one CPU, are in `crate/lguest/lguest_user.rs`; a test holds the two to the same sequence of steps.
//! - `checks.rs`: use-after-free, uninitialised read, double free, lost update, leak, deadlock.
//! - `run.rs`: the stepping API for the UI (`enabled_cpus()`, `step(cpu)`, replay, step back).
//! - `snapshot.rs`: what the UI renders.
//! - `explore.rs`: every interleaving (or a seeded random sample), counted, with shortest counterexamples.
//! - `litmus.rs`: the Linux kernel memory model's litmus shapes, written in the same steps.
//! - `cli.rs`, `bench.rs`: `lguest-sim explore` and its speed.
//!
//! What the host and the UI call (all plain Rust; values and `Result<_, String>`, never a panic):
//! - Build: [`Scenario`] (CPUs, readers, writers, timers, variant, memory, placement) → [`Run::new`].
//! - Step: [`Run::enabled_cpus`], [`Run::step`] (cpu) → [`RcuEvent`]; [`Run::timer_cpus`],
//!   [`Run::interrupt`]; [`Run::choices`] / [`Run::step_choice`] for weak-memory picks;
//!   [`Run::back`]; [`Run::replay`] (scenario, schedule); [`Run::snapshot`] → [`RcuSnapshot`];
//!   [`Run::violations`].
//! - Explore: [`explore()`] / [`explore::explore_capped`] / [`explore_random`] (setup from
//!   [`Setup::lguest`]) → [`Report`] with each check's count and shortest counterexample, a `Vec<Choice>`
//!   to feed back to [`Run::replay`]. [`model::parse_schedule`] / [`model::format_schedule`] for links.
//! - Litmus: [`litmus::table`]. Text: [`cli_explore`] (the CLI), [`bench_explore`] / [`bench_explore_with`].

pub mod bench;
pub mod checks;
pub mod cli;
pub mod explore;
pub mod litmus;
pub mod memory;
pub mod model;
pub mod programs;
mod reader;
pub mod run;
pub mod snapshot;
mod synchronize_rcu;
mod writer;

pub use bench::{bench_explore, bench_explore_with};
pub use checks::{Check, Violation};
pub use cli::cli_explore;
pub use explore::{explore, explore_random, Report};
pub use memory::MemoryMode;
pub use model::{step, Choice, Flavour, RcuEvent, Scenario, Setup, State};
pub use programs::Variant;
pub use run::Run;
pub use snapshot::RcuSnapshot;
