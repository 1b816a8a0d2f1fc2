//! What one assembly may cost: the assembler's part of "never freeze, never grow, never panic".
//!
//! The page's Guest editor assembles the student's source in the page's one thread, so whatever the
//! source says (`.rept 4000000000`, a hundred thousand nested `.if`s, a megabyte on one line), an
//! assembly must end soon and stay small. Every step the assembler takes is paid from one [`Budget`]
//! of [`ASM_WORK`] steps (`params.rs` says what a step is and what the budget costs); the items a
//! program expands to are capped by [`ASM_MAX_ITEMS`], its image by `ASM_MAX_IMAGE`, and the errors
//! it reports by [`ASM_MAX_ERRORS`] through [`Errors`]. When a limit is hit, the assembly stops where
//! it is and says which limit, at which line, and what to change.

use std::collections::HashSet;

use super::AsmError;
use crate::params::{ASM_MAX_ERRORS, ASM_MAX_ITEMS, ASM_WORK};

/// What a statement costs to handle beyond its characters (1 step each) and tokens: splitting,
/// dispatching, looking the mnemonic up, building its item. Measured, like the costs below, so
/// that every step is about the same time (3-24 ns natively in the release build; see `params.rs`).
pub const STATEMENT_STEPS: usize = 16;
/// What each token of a statement costs: it may become a node of an expression, an allocation.
pub const TOKEN_STEPS: usize = 6;
/// What each operator token costs beyond [`TOKEN_STEPS`]: it becomes a node of an expression tree,
/// two boxes allocated and later freed, and every layout pass walks it (`.long 1+1+...+1` on
/// 20,000 lines cost 16 ns a step at 4 a token, three times any other source).
pub const OPERATOR_STEPS: usize = 16;
/// What each name token (a symbol, mnemonic or directive) costs beyond [`TOKEN_STEPS`]: its own string,
/// copied again into an expression, looked up in every layout pass.
pub const NAME_STEPS: usize = 8;
/// What beginning one `.rept` copy costs, its body aside: a `.rept 4000000000` of nothing ran at 13 ns
/// a copy in the page's wasm build (3 natively), four times a step's usual price.
pub const REPT_COPY_STEPS: usize = 4;
/// What encoding one instruction costs (iced-x86's encoder), once while reading and once emitting.
pub const ENCODE_STEPS: usize = 8;
/// What defining a label costs while reading: three hash-map entries, each with its own copy of
/// the name (the layout pays again for every pass, see `layout::weight`).
pub const LABEL_STEPS: usize = 16;

/// The steps one assembly has left. Spending is the one place the work limit is enforced.
#[derive(Debug)]
pub struct Budget {
    left: u64,
}

impl Budget {
    pub fn new() -> Self {
        Budget { left: ASM_WORK }
    }

    /// Pay `steps`. False when they are more than what is left: the budget is then empty, and the
    /// caller stops at a clean point and reports [`out_of_work`].
    pub fn spend(&mut self, steps: usize) -> bool {
        let steps = steps as u64;
        if steps > self.left {
            self.left = 0;
            false
        } else {
            self.left -= steps;
            true
        }
    }

    /// Steps spent so far (for the benchmarks and tests that show how close a program comes).
    pub fn spent(&self) -> u64 {
        ASM_WORK - self.left
    }
}

/// The error for a program whose assembly would take more than [`ASM_WORK`] steps; `fix` says what
/// to change ("make the count of the `.rept` at line 3 smaller").
pub fn out_of_work(line: usize, fix: &str) -> AsmError {
    AsmError::at(
        line,
        None,
        format!(
            "assembling the program takes more than {ASM_WORK} steps of work, the most one assembly \
             may do (each `.rept` copy and `.include` is read again, and each layout pass goes over \
             the whole program): {fix}"
        ),
    )
}

/// The error for a program that expands to more than [`ASM_MAX_ITEMS`] items.
pub fn too_many_items(line: usize, fix: &str) -> AsmError {
    AsmError::at(
        line,
        None,
        format!(
            "the program expands to more than {ASM_MAX_ITEMS} statements and labels (each `.rept` copy \
             counts), the most one Guest program may have: {fix}"
        ),
    )
}

/// The errors of one assembly: each different one once (a mistake inside `.rept` is not repeated
/// for every copy), at most [`ASM_MAX_ERRORS`] of them, given back sorted by line.
#[derive(Debug, Default)]
pub struct Errors {
    list: Vec<AsmError>,
    seen: HashSet<(usize, String)>,
    /// Errors were found after the list was full (not counted: telling the different ones from
    /// repeats would mean keeping them all).
    left_out: bool,
}

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, e: AsmError) {
        if self.seen.contains(&(e.line, e.message.clone())) {
            return;
        }
        if self.list.len() >= ASM_MAX_ERRORS {
            self.left_out = true;
            return;
        }
        self.seen.insert((e.line, e.message.clone()));
        self.list.push(e);
    }

    /// A limit was hit and the assembly stopped: kept even when the list is full, so the student
    /// always learns why.
    pub fn push_limit(&mut self, e: AsmError) {
        self.seen.insert((e.line, e.message.clone()));
        self.list.push(e);
    }

    /// No more different errors will be kept: work spent on a message now is wasted.
    pub fn is_full(&self) -> bool {
        self.list.len() >= ASM_MAX_ERRORS
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The errors in line order (stable: two on one line stay in the order they were found), and a
    /// last one saying how many more there were, if any.
    pub fn into_sorted(self) -> Vec<AsmError> {
        let mut list = self.list;
        // At most ASM_MAX_ERRORS items, so insertion sort is cheap (and std's sort costs page size).
        crate::small_sort::sort_by_key(&mut list, |e| e.line);
        if self.left_out {
            list.push(AsmError::at(
                0,
                None,
                format!(
                    "and more errors after these (only the first {ASM_MAX_ERRORS} are shown): \
                     fix these and assemble again"
                ),
            ));
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_runs_out_once_and_stays_out() {
        let mut b = Budget::new();
        assert!(b.spend(10));
        assert_eq!(b.spent(), 10);
        assert!(!b.spend(ASM_WORK as usize));
        assert!(!b.spend(1));
        assert_eq!(b.spent(), ASM_WORK);
    }

    #[test]
    fn errors_are_kept_once_capped_and_sorted() {
        let mut e = Errors::new();
        for line in (1..=3).rev() {
            e.push(AsmError::at(line, None, "x"));
            e.push(AsmError::at(line, Some(4), "x")); // the same mistake again
        }
        let got: Vec<usize> = e.into_sorted().iter().map(|e| e.line).collect();
        assert_eq!(got, [1, 2, 3]);
        let mut e = Errors::new();
        for line in 0..ASM_MAX_ERRORS + 7 {
            e.push(AsmError::at(line + 1, None, "bad"));
        }
        let got = e.into_sorted();
        assert_eq!(got.len(), ASM_MAX_ERRORS + 1);
        assert!(got[ASM_MAX_ERRORS].message.starts_with("and more errors"), "{got:?}");
    }
}
