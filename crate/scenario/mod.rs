//! The scenario language: one Launcher action a line, optionally with the result it must produce.
//! Lessons, the page's free-play console, `lguest-sim replay` and the tests all speak it.
//!
//! ```text
//! open                                   => fd 3
//! write INITIALIZE start=0x100000        => 12
//! eventfd                                => fd 4
//! write EVENTFD addr=0x7000 fd=4         => 0
//! write IRQ 40                           => -EINVAL
//! guest init 0x5000
//! guest notify 0x8000
//! read                                   => 4 notify=0x8000
//! ```
//! The full grammar is in `lessons/README.md`, with the lesson format built on it ([`lesson`]), the
//! course checker ([`check`]) and what the course covers ([`coverage`]).

pub mod check;
pub mod coverage;
pub mod launch;
pub mod lesson;
pub mod library;
pub mod parse;
pub mod run;

pub use lesson::{parse_lesson, Lesson, LessonError};
pub use parse::{parse, parse_line, Action, Expect, Line, ParseError};
pub use run::{replay, ReplayError, Runner, Step};
