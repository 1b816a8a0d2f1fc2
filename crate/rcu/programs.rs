//! The step lists the simulated tasks run: the writer (`attach_eventfd()` → `add_eventfd()`), the reader
//! (`send_notify_to_eventfd()`), each broken variant of them, and the small operations litmus tests are
//! written in. Part of the RCU tour ([`super`]): read after `mod.rs`, before `model.rs`.
//!
//! One [`Op`] is one step the student sees, at the granularity of the seed's C code. A [`Variant`] removes
//! or moves exactly one piece of the correct code, so the explorer can show what that piece was for.

use serde::Serialize;

use super::memory::{LoadKind, Val};

/// One visible step of a task. The model (`model.rs`) gives each its meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    // ---- the writer: attach_eventfd() and add_eventfd() (L:052, L:055) ----
    /// `mutex_lock(&lguest_lock)`: sleeps while another task holds it.
    MutexLock,
    /// Remember the current map as `old` and allocate a new one with room for one entry more.
    Kmalloc,
    /// Copy the old entries into the new map and give it the old count.
    Memcpy,
    /// Fill the slot after the copied entries: the NOTIFY address and the eventfd context for `fd`.
    AppendEntry,
    /// Count the new entry (`num` goes up by one).
    IncNum,
    /// `rcu_assign_pointer(lg->eventfds, new)` (`barrier`), or a plain `lg->eventfds = new` (broken).
    AssignPointer { barrier: bool },
    /// `synchronize_rcu()` begins a grace period; the task then waits for it.
    SyncBegin,
    /// `synchronize_rcu()` returns: the grace period it began has ended.
    SyncDone,
    /// `kfree(old)`.
    Kfree,
    /// The error path when `eventfd_ctx_fdget()` failed: keep its error code before anything is freed.
    SaveErr,
    /// The error path: `kfree(new)`, then `add_eventfd()` returns `err`.
    KfreeNew,
    /// `mutex_unlock(&lguest_lock)`.
    MutexUnlock,

    // ---- the reader: send_notify_to_eventfd() (L:056) ----
    /// `rcu_read_lock()`: begin a read-side critical section.
    RcuReadLock,
    /// `map = rcu_dereference(lg->eventfds)` (`rcu`), or a plain load of the pointer (broken).
    Dereference { rcu: bool },
    /// `map->num` as the loop bound.
    ReadNum,
    /// One turn of the loop: `i < map->num` and `map->map[i].addr == cpu->pending_notify`. When the loop
    /// ends without a match, the next `skip` steps (the signal and the clear) are skipped.
    Compare { skip: u8 },
    /// `eventfd_signal(map->map[i].event, 1)`.
    Signal,
    /// `cpu->pending_notify = 0`.
    ClearNotify,
    /// `rcu_read_unlock()`: end the read-side critical section (a quiescent state for preemptible RCU;
    /// `preempt_enable()`, which reports nothing, for classic RCU).
    RcuReadUnlock,

    // ---- the timer path: one timer interrupt in which two hrtimers are due (interrupt context) ----
    /// The timer interrupt arrives, and the Guest's clockevent hrtimer is due: `clockdev_fn()` calls
    /// `set_interrupt(cpu, 0)` to raise the Guest's irq 0.
    HrtimerInterrupt,
    /// The scheduling-clock tick, a separate hrtimer due in the same interrupt: `rcu_check_callbacks()`
    /// looks at what it interrupted, and the handler returns (`irq_exit()`).
    RcuCheckCallbacks,

    // ---- litmus operations (for the memory-model tests) ----
    /// `WRITE_ONCE(var, val)`, or `smp_store_release()` / `rcu_assign_pointer()` when `release`.
    Store { var: u8, val: Val, release: bool },
    /// `reg = READ_ONCE(var)` or its acquire / `rcu_dereference()` form.
    Load { var: u8, reg: u8, kind: LoadKind },
    /// `reg = READ_ONCE(*ptr_reg)`: a load through a pointer a previous load returned.
    LoadThrough { ptr_reg: u8, reg: u8 },
}

impl Op {
    /// The kernel function (or statement) this step models, as the UI's source pane labels it.
    pub fn label(self) -> String {
        match self {
            Op::MutexLock => "mutex_lock(&lguest_lock)".into(),
            Op::Kmalloc => "new = kmalloc(old->num + 1 entries)".into(),
            Op::Memcpy => "memcpy(new->map, old->map); new->num = old->num".into(),
            Op::AppendEntry => "new->map[num] = { addr, eventfd_ctx_fdget(fd) }".into(),
            Op::IncNum => "new->num++".into(),
            Op::AssignPointer { barrier: true } => "rcu_assign_pointer(lg->eventfds, new)".into(),
            Op::AssignPointer { barrier: false } => "lg->eventfds = new   (plain store: broken)".into(),
            Op::SyncBegin => "synchronize_rcu(): begin grace period".into(),
            Op::SyncDone => "synchronize_rcu(): grace period over, return".into(),
            Op::Kfree => "kfree(old)".into(),
            Op::SaveErr => "err = PTR_ERR(new->map[new->num].event)".into(),
            Op::KfreeNew => "kfree(new)".into(),
            Op::MutexUnlock => "mutex_unlock(&lguest_lock)".into(),
            Op::RcuReadLock => "rcu_read_lock()".into(),
            Op::Dereference { rcu: true } => "map = rcu_dereference(lg->eventfds)".into(),
            Op::Dereference { rcu: false } => "map = lg->eventfds   (plain load: broken)".into(),
            Op::ReadNum => "n = map->num".into(),
            Op::Compare { .. } => "map->map[i].addr == pending_notify ?".into(),
            Op::Signal => "eventfd_signal(map->map[i].event, 1)".into(),
            Op::ClearNotify => "cpu->pending_notify = 0".into(),
            Op::RcuReadUnlock => "rcu_read_unlock()".into(),
            Op::HrtimerInterrupt => "hrtimer interrupt: clockdev_fn() → set_interrupt(cpu, 0)".into(),
            Op::RcuCheckCallbacks => "rcu_check_callbacks(); irq_exit()".into(),
            Op::Store { var, val, release } => {
                let name = var_name(var);
                if release {
                    format!("smp_store_release(&{name}, {val})")
                } else {
                    format!("WRITE_ONCE({name}, {val})")
                }
            }
            Op::Load { var, reg, kind } => {
                let name = var_name(var);
                match kind {
                    LoadKind::Plain => format!("r{reg} = READ_ONCE({name})"),
                    LoadKind::Dereference => format!("r{reg} = rcu_dereference({name})"),
                    LoadKind::Acquire => format!("r{reg} = smp_load_acquire(&{name})"),
                }
            }
            Op::LoadThrough { ptr_reg, reg } => format!("r{reg} = READ_ONCE(*r{ptr_reg})"),
        }
    }

    /// The kernel function the step belongs to (the UI links it to the kernel source).
    pub fn function(self) -> &'static str {
        match self {
            Op::MutexLock | Op::MutexUnlock => "attach_eventfd",
            Op::Kmalloc | Op::Memcpy | Op::AppendEntry | Op::IncNum | Op::AssignPointer { .. } | Op::Kfree | Op::SaveErr | Op::KfreeNew => "add_eventfd",
            Op::SyncBegin | Op::SyncDone => "synchronize_rcu",
            Op::RcuReadLock => "rcu_read_lock",
            Op::RcuReadUnlock => "rcu_read_unlock",
            Op::Dereference { .. } | Op::ReadNum | Op::Compare { .. } | Op::ClearNotify => "send_notify_to_eventfd",
            Op::Signal => "eventfd_signal",
            Op::HrtimerInterrupt => "clockdev_fn",
            Op::RcuCheckCallbacks => "rcu_check_callbacks",
            Op::Store { .. } | Op::Load { .. } | Op::LoadThrough { .. } => "litmus",
        }
    }

    /// The journey tag of the lguest comment that explains this step.
    pub fn tag(self) -> &'static str {
        match self.function() {
            "attach_eventfd" => "L:052",
            "add_eventfd" | "synchronize_rcu" => "L:055",
            "litmus" | "clockdev_fn" | "rcu_check_callbacks" => "",
            _ => "L:056",
        }
    }
}

/// The name of litmus variable `var`.
pub fn var_name(var: u8) -> &'static str {
    super::memory::VAR_NAMES.get(var as usize).copied().unwrap_or("?")
}

/// The correct code, or one piece of it removed or moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Variant {
    /// The seed's code as it is.
    Correct,
    /// `add_eventfd()` frees the old array straight after publishing the new one.
    NoSynchronizeRcu,
    /// `kfree(old)` moved before `synchronize_rcu()`.
    KfreeBeforeSync,
    /// `send_notify_to_eventfd()` without `rcu_read_lock()` / `rcu_read_unlock()`.
    ReaderNoLock,
    /// `lg->eventfds = new` instead of `rcu_assign_pointer()` (visible under `--memory weak`).
    PlainAssign,
    /// `map = lg->eventfds` instead of `rcu_dereference()` (visible under `--memory weak`).
    PlainDereference,
    /// `attach_eventfd()` without `lguest_lock`, so two writers can copy the same old array.
    NoLguestLock,
    /// The 2009 error path: `kfree(new)` first, then the error read out of `new` (fixed before 2.6.36).
    ErrorPath2009,
}

impl Variant {
    pub const ALL: [Variant; 8] = [
        Variant::Correct,
        Variant::NoSynchronizeRcu,
        Variant::KfreeBeforeSync,
        Variant::ReaderNoLock,
        Variant::PlainAssign,
        Variant::PlainDereference,
        Variant::NoLguestLock,
        Variant::ErrorPath2009,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Correct => "correct",
            Variant::NoSynchronizeRcu => "no-synchronize-rcu",
            Variant::KfreeBeforeSync => "kfree-before-sync",
            Variant::ReaderNoLock => "reader-no-rcu-read-lock",
            Variant::PlainAssign => "plain-assign",
            Variant::PlainDereference => "plain-dereference",
            Variant::NoLguestLock => "no-lguest-lock",
            Variant::ErrorPath2009 => "error-path-2009",
        }
    }

    pub fn parse(s: &str) -> Result<Variant, String> {
        Variant::ALL.iter().copied().find(|v| v.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
            format!("unknown variant '{s}': expected one of {}", names.join(", "))
        })
    }

    /// One line for `--list` and the UI's variant menu.
    pub fn describe(self) -> &'static str {
        match self {
            Variant::Correct => "the seed's add_eventfd()/send_notify_to_eventfd(): the explorer finds nothing",
            Variant::NoSynchronizeRcu => "kfree(old) right after rcu_assign_pointer(): a reader uses freed memory",
            Variant::KfreeBeforeSync => "kfree(old) before synchronize_rcu(): the wait protects nothing",
            Variant::ReaderNoLock => "reader without rcu_read_lock(): the grace period does not wait for it",
            Variant::PlainAssign => "plain 'lg->eventfds = new': under weak memory the pointer can arrive before the entries",
            Variant::PlainDereference => "plain load instead of rcu_dereference(): under weak memory the reader may see stale contents",
            Variant::NoLguestLock => "no lguest_lock around add_eventfd(): two writers copy one array; an entry is lost and leaked",
            Variant::ErrorPath2009 => "2009's add_eventfd() error path: kfree(new), then PTR_ERR(new->map[num].event): no race needed",
        }
    }

    /// What the explorer should find for this variant (the checks it must trip), for tests and `--list`.
    pub fn expected(self) -> &'static str {
        match self {
            Variant::Correct => "clean in sc and weak",
            Variant::NoSynchronizeRcu | Variant::KfreeBeforeSync | Variant::ReaderNoLock => "use-after-free",
            Variant::PlainAssign | Variant::PlainDereference => "uninitialised-read under weak; clean under sc",
            Variant::NoLguestLock => "lost-update, leak and double-free (needs two writers)",
            Variant::ErrorPath2009 => "use-after-free in every schedule (needs writer W0's bad fd); the correct code with a bad fd is clean",
        }
    }
}

/// The writer's steps: `attach_eventfd()` taking `lguest_lock` around `add_eventfd()`. With `bad_fd` the
/// fd is not an eventfd, so `eventfd_ctx_fdget()` fails and `add_eventfd()` takes its error path.
pub fn writer_program(variant: Variant, bad_fd: bool) -> Vec<Op> {
    let assign = Op::AssignPointer { barrier: variant != Variant::PlainAssign };
    let mut p = Vec::new();
    if variant != Variant::NoLguestLock {
        p.push(Op::MutexLock);
    }
    if bad_fd {
        p.extend([Op::Kmalloc, Op::Memcpy, Op::AppendEntry]);
        if variant == Variant::ErrorPath2009 {
            p.extend([Op::KfreeNew, Op::SaveErr]);
        } else {
            p.extend([Op::SaveErr, Op::KfreeNew]);
        }
        if variant != Variant::NoLguestLock {
            p.push(Op::MutexUnlock);
        }
        return p;
    }
    p.extend([Op::Kmalloc, Op::Memcpy, Op::AppendEntry, Op::IncNum, assign]);
    match variant {
        Variant::NoSynchronizeRcu => p.push(Op::Kfree),
        Variant::KfreeBeforeSync => p.extend([Op::Kfree, Op::SyncBegin, Op::SyncDone]),
        _ => p.extend([Op::SyncBegin, Op::SyncDone, Op::Kfree]),
    }
    if variant != Variant::NoLguestLock {
        p.push(Op::MutexUnlock);
    }
    p
}

/// The timer path's steps: one timer interrupt, in interrupt context, that finds both the Guest's clockevent
/// hrtimer and the scheduling-clock tick due (see `synchronize_rcu.rs`).
pub fn timer_program() -> Vec<Op> {
    vec![Op::HrtimerInterrupt, Op::RcuCheckCallbacks]
}

/// The reader's steps: `send_notify_to_eventfd()` for one pending notify.
pub fn reader_program(variant: Variant) -> Vec<Op> {
    let locked = variant != Variant::ReaderNoLock;
    let mut p = Vec::new();
    if locked {
        p.push(Op::RcuReadLock);
    }
    p.extend([Op::Dereference { rcu: variant != Variant::PlainDereference }, Op::ReadNum, Op::Compare { skip: 2 }, Op::Signal, Op::ClearNotify]);
    if locked {
        p.push(Op::RcuReadUnlock);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer_program_ok(v: Variant) -> Vec<Op> {
        writer_program(v, false)
    }

    #[test]
    fn the_error_path_frees_before_or_after_reading_the_error() {
        let fixed = writer_program(Variant::Correct, true);
        let old = writer_program(Variant::ErrorPath2009, true);
        let pos = |p: &[Op], op: Op| p.iter().position(|&o| o == op);
        assert!(pos(&fixed, Op::SaveErr) < pos(&fixed, Op::KfreeNew));
        assert!(pos(&old, Op::KfreeNew) < pos(&old, Op::SaveErr));
        assert!(!fixed.contains(&Op::SyncBegin), "nothing was published, nothing to wait for");
    }

    #[test]
    fn correct_writer_has_the_seeds_order() {
        let labels: Vec<&str> = writer_program_ok(Variant::Correct).iter().map(|o| o.function()).collect();
        assert_eq!(labels.first(), Some(&"attach_eventfd"));
        let p = writer_program_ok(Variant::Correct);
        let pos = |op: Op| p.iter().position(|&o| o == op);
        assert!(pos(Op::AssignPointer { barrier: true }) < pos(Op::SyncBegin));
        assert!(pos(Op::SyncDone) < pos(Op::Kfree));
        assert!(pos(Op::Kfree) < pos(Op::MutexUnlock));
    }

    #[test]
    fn each_variant_changes_one_piece() {
        assert!(!writer_program_ok(Variant::NoSynchronizeRcu).contains(&Op::SyncBegin));
        let k = writer_program_ok(Variant::KfreeBeforeSync);
        assert!(k.iter().position(|&o| o == Op::Kfree) < k.iter().position(|&o| o == Op::SyncBegin));
        assert!(!reader_program(Variant::ReaderNoLock).contains(&Op::RcuReadLock));
        assert!(writer_program_ok(Variant::PlainAssign).contains(&Op::AssignPointer { barrier: false }));
        assert!(reader_program(Variant::PlainDereference).contains(&Op::Dereference { rcu: false }));
        assert!(!writer_program_ok(Variant::NoLguestLock).contains(&Op::MutexLock));
        for v in Variant::ALL {
            assert_eq!(Variant::parse(v.name()), Ok(v));
        }
        assert!(Variant::parse("nope").unwrap_err().contains("correct"));
    }
}
