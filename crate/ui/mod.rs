//! What the page (and the CLI) show, computed in Rust so JavaScript only renders:
//!
//! - [`lesson`]: a lesson being stepped through ([`lesson::LessonPlayer`]) and the view of one position
//!   ([`lesson::StepView`]); our source of the host functions for the code pane.
//! - [`state`]: the state of the machine as plain serde structs ([`state::Snapshot`]) and as `name = value`
//!   pairs for `expect` lines.
//! - [`stepper`]: the Guest CPU pane: one instruction at a time through a step's recorded timeline.
//! - [`free_play`]: free play: a line at a time, with Undo.
//! - [`diagram`]: the pictures beside each step (the system and the step's path, the eventfd map, memory,
//!   page-table entries) and which panels a step is about.
//! - [`rcu`]: the RCU pane: the explorer's report and a steppable run of the model.

pub mod diagram;
pub mod free_play;
pub mod lesson;
pub mod rcu;
pub mod state;
pub mod stepper;
