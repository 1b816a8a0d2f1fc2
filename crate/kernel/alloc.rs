//! The Host's memory allocator, as an account book: every `kmalloc()`, `kzalloc()`, `get_zeroed_page()`,
//! `kasprintf()` and every reference taken (`get_task_mm()`, `eventfd_ctx_fdget()`) is an entry that must be
//! given back (`kfree()`, `free_page()`, `mmput()`, `eventfd_ctx_put()`). After `close()` the book should be
//! empty; whatever is left is a leak, and the UI can show which line of which function made it.
//!
//! Fault injection: a scenario can make the N-th allocation from now fail, which is how a student sees
//! `initialize()` unwind through its error labels.

use serde::Serialize;

use crate::errno::Errno;

/// Identifies one allocation or reference in the book.
pub type AllocId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AllocKind {
    /// `kmalloc()` / `kzalloc()` / `kasprintf()`: given back with `kfree()`.
    Slab,
    /// `get_zeroed_page()`: given back with `free_page()`.
    Page,
    /// `get_task_mm()`: a reference on the Launcher's address space, dropped with `mmput()`.
    MmRef,
    /// `eventfd_ctx_fdget()`: a reference on an eventfd context, dropped with `eventfd_ctx_put()`.
    EventfdRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    pub id: AllocId,
    pub kind: AllocKind,
    /// What it holds, e.g. "struct lguest" or "eventfd map (2 entries)".
    pub what: String,
    /// The function that made it.
    pub by: &'static str,
    pub bytes: u32,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocator {
    /// What is held now, oldest first.
    pub live: Vec<Allocation>,
    next_id: AllocId,
    /// Allocations still to succeed before the injected failure; `None` when no failure is armed.
    pub fail_after: Option<u32>,
    /// How many allocations have been made in all (for lessons that count them).
    pub total: u32,
}

impl Allocator {
    /// Arm a failure: the `nth` allocation from now (1 = the very next) returns NULL.
    pub fn inject_failure(&mut self, nth: u32) {
        self.fail_after = Some(nth.saturating_sub(1));
    }

    /// Make an allocation of `kind`, or fail with `-ENOMEM` if an injected failure is due. References
    /// (`MmRef`, `EventfdRef`) never fail: taking one cannot run out of memory.
    pub fn alloc(&mut self, kind: AllocKind, what: String, by: &'static str, bytes: u32) -> Result<AllocId, Errno> {
        if matches!(kind, AllocKind::Slab | AllocKind::Page) {
            match self.fail_after {
                Some(0) => {
                    self.fail_after = None;
                    return Err(Errno::ENOMEM);
                }
                Some(n) => self.fail_after = Some(n - 1),
                None => {}
            }
        }
        self.next_id += 1;
        self.total += 1;
        let id = self.next_id;
        self.live.push(Allocation { id, kind, what, by, bytes });
        Ok(id)
    }

    /// Take a reference (`get_task_mm()`, `eventfd_ctx_fdget()`): an entry in the book that cannot fail, since
    /// taking a reference allocates nothing.
    pub fn take_ref(&mut self, kind: AllocKind, what: String, by: &'static str) -> AllocId {
        self.next_id += 1;
        self.total += 1;
        let id = self.next_id;
        self.live.push(Allocation { id, kind, what, by, bytes: 0 });
        id
    }

    /// Give back an allocation. Giving back one that is not held is the model's own bug (a double free), so
    /// it is reported, not ignored.
    pub fn free(&mut self, id: AllocId) -> Result<Allocation, String> {
        match self.live.iter().position(|a| a.id == id) {
            Some(i) => Ok(self.live.remove(i)),
            None => Err(format!("double free of allocation #{id}")),
        }
    }

    pub fn is_live(&self, id: AllocId) -> bool {
        self.live.iter().any(|a| a.id == id)
    }

    pub fn get(&self, id: AllocId) -> Option<&Allocation> {
        self.live.iter().find(|a| a.id == id)
    }

    /// Rename an entry (a map copy is described by its final size once filled).
    pub fn describe(&mut self, id: AllocId, what: String) {
        if let Some(a) = self.live.iter_mut().find(|a| a.id == id) {
            a.what = what;
        }
    }
}

/// Giving back, as the kernel's functions do it: each is an event of the function that frees (its source
/// line is the caller's, so the code pane marks the `kfree()` in the function that frees).
impl super::Kernel {
    /// `kfree()`: a double free is the model's own bug, and says so.
    #[track_caller]
    pub fn kfree(&mut self, id: AllocId, by: &'static str) {
        if let Err(e) = self.alloc.free(id) {
            self.ev(by, format!("model error: {e}"), &[]);
        } else {
            self.ev(by, format!("kfree(#{id})"), &["alloc"]);
        }
    }

    /// `free_page()`.
    #[track_caller]
    pub fn free_page(&mut self, id: AllocId, by: &'static str) {
        if self.alloc.free(id).is_ok() {
            self.ev(by, format!("free_page(#{id})"), &["alloc"]);
        }
    }

    /// `mmput()`: drop a reference on an address space.
    #[track_caller]
    pub fn mmput(&mut self, id: AllocId, by: &'static str) {
        if self.alloc.free(id).is_ok() {
            self.ev(by, format!("mmput(#{id})"), &["alloc"]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_failure_hits_the_nth_allocation_only() {
        let mut a = Allocator::default();
        a.inject_failure(2);
        let first = a.alloc(AllocKind::Slab, "one".into(), "t", 8).unwrap();
        // References are not allocations: they do not consume the countdown.
        a.alloc(AllocKind::MmRef, "mm".into(), "t", 0).unwrap();
        assert_eq!(a.alloc(AllocKind::Page, "two".into(), "t", 4096), Err(Errno::ENOMEM));
        a.alloc(AllocKind::Slab, "three".into(), "t", 8).unwrap();
        assert_eq!(a.live.len(), 3);
        a.free(first).unwrap();
        assert!(a.free(first).is_err());
    }
}
