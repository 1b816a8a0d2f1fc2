//! The checks the explorer runs on every schedule: what "broken" means for the eventfd map. Part of the RCU
//! tour ([`super`]), read after `model.rs`.
//!
//! Some checks fire during a step (a task touching a freed version, reading memory no one initialised,
//! freeing twice); the others look at the end of a schedule (an entry some writer added is missing from the
//! final map; a version or an eventfd reference nothing will ever free; tasks stuck forever).

use serde::Serialize;

/// One kind of violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Check {
    /// A task loaded from an array version after `kfree()` freed it.
    UseAfterFree,
    /// A load returned what `kmalloc()` left there: the pointer or `num` arrived before the entry's stores.
    UninitialisedRead,
    /// `kfree()` of a version already freed.
    DoubleFree,
    /// A writer's entry is missing from the final map: two writers copied the same old version.
    LostUpdate,
    /// A version never freed, or an `eventfd_ctx_fdget()` reference `close()` will never put.
    Leak,
    /// Tasks that can never run again (nothing enabled, not all finished).
    Deadlock,
}

impl Check {
    pub const ALL: [Check; 6] = [Check::UseAfterFree, Check::UninitialisedRead, Check::DoubleFree, Check::LostUpdate, Check::Leak, Check::Deadlock];

    pub fn name(self) -> &'static str {
        match self {
            Check::UseAfterFree => "use-after-free",
            Check::UninitialisedRead => "uninitialised-read",
            Check::DoubleFree => "double-free",
            Check::LostUpdate => "lost-update",
            Check::Leak => "leak",
            Check::Deadlock => "deadlock",
        }
    }

    /// The bit of this check in a [`Checks`] set.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of checks, as a bitmask (so a model state stays small and hashable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Checks(pub u8);

impl Checks {
    pub fn insert(&mut self, c: Check) {
        self.0 |= c.bit();
    }
    pub fn contains(self, c: Check) -> bool {
        self.0 & c.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Check> {
        Check::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

/// One violation, with the sentence that explains it to the student.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    pub check: Check,
    pub text: String,
}
