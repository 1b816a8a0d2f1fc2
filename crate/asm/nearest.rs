//! "Did you mean ...?": the known names nearest to a misspelt one, for the errors a student meets
//! most (an unknown instruction or directive).
//!
//! Nearness is the edit distance with swaps (`mvo` is one step from `mov`): the fewest single
//! characters inserted, deleted, replaced or two neighbours swapped. A short name may be one step
//! off, a longer one two; farther than that a guess helps less than the plain error.

/// Names longer than this are nobody's misspelling of a mnemonic or directive: no guess (and the
/// work stays small whatever the input).
const LONGEST: usize = 24;

/// The edit distance between `a` and `b` with adjacent swaps (optimal string alignment), or None
/// when it is more than `max`.
fn distance(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    // Three rows of the classic table: the one two back is needed for swaps.
    let n = b.len();
    let mut two_back = vec![0usize; n + 1];
    let mut prev: Vec<usize> = (0..=n).collect();
    let mut cur = vec![0usize; n + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut two_back, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    Some(prev[n]).filter(|d| *d <= max)
}

/// The nearest names offered so far to one word: up to three, all at the same, smallest distance,
/// in the order they were offered.
pub struct Nearest {
    word: String,
    max: usize,
    best_d: usize,
    best: Vec<String>,
}

impl Nearest {
    pub fn new(word: &str) -> Self {
        let word = word.to_ascii_lowercase();
        let max = if word.len() <= 3 { 1 } else { 2 };
        Nearest {
            max,
            best_d: max + 1,
            best: Vec::new(),
            // An empty or very long word gets no guesses: no length is near it.
            word: if word.len() > LONGEST { String::new() } else { word },
        }
    }

    /// The lengths a name must have to be near enough (so a caller can skip building the others).
    pub fn lengths(&self) -> std::ops::RangeInclusive<usize> {
        if self.word.is_empty() {
            return 0..=0; // no name is empty, so none is near
        }
        self.word.len().saturating_sub(self.max)..=self.word.len() + self.max
    }

    pub fn offer(&mut self, name: &str) {
        if name == self.word || !self.lengths().contains(&name.len()) {
            return;
        }
        let Some(d) = distance(self.word.as_bytes(), name.as_bytes(), self.max) else {
            return;
        };
        if d < self.best_d {
            self.best_d = d;
            self.best.clear();
        }
        if d == self.best_d && self.best.len() < 3 && !self.best.iter().any(|b| b == name) {
            self.best.push(name.to_string());
        }
    }

    pub fn names(&self) -> Vec<&str> {
        self.best.iter().map(String::as_str).collect()
    }
}

/// Up to three of `names` nearest to `word` (see [`Nearest`]); empty when none is near enough.
pub fn nearest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut n = Nearest::new(word);
    let all: Vec<&str> = names.into_iter().collect();
    for name in &all {
        n.offer(name);
    }
    all.into_iter().filter(|a| n.best.iter().any(|b| b == a)).fold(Vec::new(), |mut v, a| {
        if !v.contains(&a) {
            v.push(a);
        }
        v
    })
}

/// `did you mean `a`, `b` or `c`?`, or None when there is nothing to suggest.
pub fn did_you_mean(near: &[&str]) -> Option<String> {
    let quoted: Vec<String> = near.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => None,
        [one] => Some(format!("did you mean {one}?")),
        [init @ .., last] => Some(format!("did you mean {} or {last}?", init.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_swaps_as_one() {
        assert_eq!(distance(b"mvo", b"mov", 2), Some(1));
        assert_eq!(distance(b"mov", b"mov", 2), Some(0));
        assert_eq!(distance(b"movx", b"movzx", 2), Some(1));
        assert_eq!(distance(b"pushl", b"push", 2), Some(1));
        assert_eq!(distance(b"pushl", b"popl", 3), Some(3));
        assert_eq!(distance(b"pushl", b"popl", 2), None);
        assert_eq!(distance(b"xyzzy", b"mov", 2), None);
        assert_eq!(distance(b"", b"ab", 2), Some(2));
    }

    #[test]
    fn the_nearest_names_in_the_order_given() {
        let names = ["mov", "movs", "movzx", "movsx", "add", "addl"];
        assert_eq!(nearest("movx", names), ["mov", "movs", "movzx"]);
        assert_eq!(nearest("ADDL", names), ["add"]); // the exact name itself is not a guess
        assert_eq!(nearest("mvo", names), ["mov"]);
        assert!(nearest("frobnicate", names).is_empty());
        assert!(nearest(&"m".repeat(1000), names).is_empty());
        assert_eq!(did_you_mean(&["a"]).as_deref(), Some("did you mean `a`?"));
        assert_eq!(did_you_mean(&["a", "b", "c"]).as_deref(), Some("did you mean `a`, `b` or `c`?"));
        assert_eq!(did_you_mean(&[]), None);
    }
}
