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

/// The candidate a mistyped `word` most likely meant (within two edits, or one is the other's start,
/// ignoring case), for "did you mean".
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let near = |c: &str| {
        let c = c.to_ascii_lowercase();
        let prefix = w.len() > 2 && c.len() > 2 && (w.starts_with(&c) || c.starts_with(&w));
        if prefix {
            0
        } else {
            edit_distance(&w, &c)
        }
    };
    candidates.iter().map(|c| (near(c), *c)).filter(|(d, c)| *d <= 2.min(c.len().saturating_sub(1)).max(1)).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

/// `" (did you mean X?)"`, or nothing.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    suggest(word, candidates).map(|c| format!(" (did you mean {c}?)")).unwrap_or_default()
}

/// Levenshtein distance, on at most the first 64 characters of each (longer words are not typos).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_near_misses_only() {
        let verbs = ["open", "write", "read", "wait", "close"];
        assert_eq!(suggest("wirte", &verbs), Some("write"));
        assert_eq!(suggest("READ", &verbs), Some("read"));
        assert_eq!(suggest("frobnicate", &verbs), None);
        assert_eq!(suggest("x", &verbs), None);
        assert_eq!(did_you_mean("--memory", &["--mem", "--budget"]), " (did you mean --mem?)");
        assert_eq!(did_you_mean("--trcae", &["--trace"]), " (did you mean --trace?)");
        assert_eq!(did_you_mean("--mme", &["--mem", "--budget"]), " (did you mean --mem?)");
    }
}
