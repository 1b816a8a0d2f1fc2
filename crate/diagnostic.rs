//! One kind of problem report for every text the simulator reads: a scenario line that does not parse or
//! does not replay, a lesson that does not check, a Guest program that does not assemble. Each names where
//! (the file, when there is one, the 1-based line, 0 when it belongs to no line, and the column when it is
//! known) and says what was wrong and how to go on.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// The file, or "" for a text that is not a file (a free-play line, a source typed in the page).
    pub file: String,
    pub line: usize,
    pub column: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    /// A problem at `line` of a text that is not a file.
    pub fn line(line: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: String::new(), line, column: None, message: message.into() }
    }

    /// A problem at `line` (and `column`) of a text that is not a file.
    pub fn at(line: usize, column: Option<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: String::new(), line, column, message: message.into() }
    }

    /// A problem at `line` of `file`.
    pub fn in_file(file: impl Into<String>, line: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: file.into(), line, column: None, message: message.into() }
    }
}

impl std::fmt::Display for Diagnostic {
    /// `file:line: message`, or `line N: message` for a text that is not a file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.file.is_empty() {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl std::error::Error for Diagnostic {}
