//! The reader, one function per step: `send_notify_to_eventfd()` (L:056), which `run_guest()` calls on the
//! Launcher's main thread when the Guest's NOTIFY left an address in `pending_notify`. Under
//! `rcu_read_lock()` it follows `rcu_dereference(lg->eventfds)` and searches the array it finds.
//! Part of the RCU tour ([`super`]): `model.rs` dispatches each [`super::programs::Op`] here. (The Host's
//! own `send_notify_to_eventfd()` is `crate/lguest/lguest_user.rs`.)

use super::memory::{join, LoadKind, Loc, Val};
use super::model::{Cx, Flavour};
use super::synchronize_rcu::note_quiescent;

/// L:056 `rcu_read_lock()`: the CPU is now in a read-side critical section. For preemptible RCU the section
/// is tracked: a grace period that begins from here on must wait for it. For classic RCU it is
/// `preempt_disable()`, nothing at all without CONFIG_PREEMPT: what keeps the reader safe is that it cannot
/// pass a quiescent state (switch tasks, go to user mode) before it is done. In weak memory, a section that
/// begins after a grace period began sees everything its updater stored before calling `synchronize_rcu()`.
pub(super) fn rcu_read_lock(cx: &mut Cx) -> Result<String, String> {
    cx.task().nesting += 1;
    if cx.weak() {
        let gv = cx.st.gp_view.clone();
        join(cx.view(), &gv);
    }
    if cx.setup.flavour == Flavour::Classic {
        return Ok(format!(
            "{} calls rcu_read_lock(): preempt_disable(), which without CONFIG_PREEMPT does nothing; CPU{} is in the kernel, not quiescent, as it was",
            cx.who, cx.cpu
        ));
    }
    Ok(format!("{} enters a read-side critical section: CPU{} is not quiescent until rcu_read_unlock()", cx.who, cx.cpu))
}

/// L:056 `map = rcu_dereference(lg->eventfds)`: the reader now holds that version. `rcu_dereference()`
/// orders the loads through `map` after this one; the broken variant uses a plain load.
pub(super) fn rcu_dereference(cx: &mut Cx, rcu: bool) -> Result<String, String> {
    let kind = if rcu { LoadKind::Dereference } else { LoadKind::Plain };
    let val = cx.load(Loc::Eventfds, cx.pick, kind)?;
    let Val::Version(m) = val else { return Err(format!("lg->eventfds holds {val}, not a map")) };
    cx.task().map = Some(m);
    let how = if rcu { "rcu_dereference()" } else { "a plain load" };
    let stale = if cx.pick > 0 { " (an older value: the newer store has not reached this CPU)" } else { "" };
    Ok(format!("{} loads lg->eventfds with {how}: it now holds v{m}{stale}", cx.who))
}

/// L:056 `map->num`, the bound of the search.
pub(super) fn read_num(cx: &mut Cx) -> Result<String, String> {
    let m = cx.map()?;
    cx.touch(m, "num");
    let cap = cx.st.versions.get(m as usize).map_or(0, |x| x.cap as u32);
    let n = match cx.load(Loc::Num(m), cx.pick, LoadKind::Plain)? {
        Val::Int(n) => n.min(cap),
        _ => 0,
    };
    let task = cx.task();
    task.n = n;
    task.i = 0;
    Ok(format!("{} reads v{m}->num = {n}", cx.who))
}

/// L:056 one turn of the search: `i < map->num`, and `map->map[i].addr == cpu->pending_notify`. On a
/// match the next step signals; on a miss the same step runs again for the next entry; past the end the
/// signal and the clear are skipped and `run_guest()` will hand the notify to the Launcher.
pub(super) fn compare(cx: &mut Cx, skip: u8) -> Result<String, String> {
    let m = cx.map()?;
    let (i, n, notify) = {
        let task = cx.task();
        (task.i, task.n, task.notify)
    };
    let who = cx.who;
    if i >= n {
        cx.next = cx.pc.saturating_add(1).saturating_add(skip);
        return Ok(format!("{who}: no entry of v{m} matches {notify:#x}; run_guest() will return it to the Launcher"));
    }
    cx.touch(m, "an entry");
    let a = cx.load(Loc::Addr(m, i as u8), cx.pick, LoadKind::Plain)?;
    if a == Val::Int(notify) {
        return Ok(format!("{who}: v{m}->map[{i}].addr is {a}: a match"));
    }
    cx.task().i += 1;
    cx.next = cx.pc;
    Ok(format!("{who}: v{m}->map[{i}].addr is {a}, not {notify:#x}"))
}

/// L:056 `eventfd_signal(map->map[i].event, 1)`: the device thread blocked reading that eventfd wakes.
pub(super) fn eventfd_signal(cx: &mut Cx) -> Result<String, String> {
    let m = cx.map()?;
    let i = cx.task().i as u8;
    cx.touch(m, "an entry");
    let who = cx.who;
    match cx.load(Loc::Event(m, i), cx.pick, LoadKind::Plain)? {
        Val::Ctx(c) => {
            if let Some(s) = cx.st.ctx_signals.get_mut(c as usize) {
                *s = s.saturating_add(1);
            }
            cx.task().signalled = Some(c);
            Ok(format!("{who} signals ctx{c}: the device thread waiting on that eventfd wakes"))
        }
        other => Ok(format!("{who} would signal {other}: not an eventfd")),
    }
}

/// L:056 `cpu->pending_notify = 0`: handled here, so `run_guest()` need not return to the Launcher.
pub(super) fn clear_pending_notify(cx: &mut Cx) -> Result<String, String> {
    cx.task().notify = 0;
    Ok(format!("{} clears pending_notify: the notify went to an eventfd, not to the Launcher's read()", cx.who))
}

/// L:056 `rcu_read_unlock()`: for preemptible RCU, leaving the outermost section is a quiescent state, so any
/// grace period waiting for this CPU stops waiting for it. For classic RCU it is `preempt_enable()`, and
/// reports nothing: the CPU is still in the kernel.
pub(super) fn rcu_read_unlock(cx: &mut Cx) -> Result<String, String> {
    let task = cx.task();
    task.nesting = task.nesting.saturating_sub(1);
    let outermost = task.nesting == 0;
    if cx.setup.flavour == Flavour::Classic {
        return Ok(format!("{} calls rcu_read_unlock(): preempt_enable(), nothing to report; CPU{} is still in the kernel", cx.who, cx.cpu));
    }
    let mut s = format!("{} leaves its read-side critical section: CPU{} is quiescent", cx.who, cx.cpu);
    if outermost {
        for note in note_quiescent(cx.setup, cx.st, cx.cpu) {
            s.push_str("; ");
            s.push_str(&note);
        }
    }
    Ok(s)
}
