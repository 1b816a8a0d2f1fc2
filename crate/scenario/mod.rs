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

/// Read a file the user named (a scenario, a lesson, a Guest program or image), at most
/// [`crate::params::MAX_FILE_BYTES`] of it: `Err` says why not, in words (a device such as `/dev/zero`
/// never ends, so it is refused rather than read for ever). In the browser there are no files: every read
/// is an error.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let max = crate::params::MAX_FILE_BYTES;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut out).map_err(|e| e.to_string())?;
    if out.len() > max {
        return Err(format!("it holds more than {} MB, more than any Guest or lesson needs (is it a device such as /dev/zero?)", max >> 20));
    }
    Ok(out)
}

/// [`read_file`] of a text: UTF-8, or `Err` saying it is not.
pub fn read_text(path: &std::path::Path) -> Result<String, String> {
    String::from_utf8(read_file(path)?).map_err(|e| format!("it is not UTF-8 text (byte {} is not)", e.utf8_error().valid_up_to()))
}
