//! The writer, one function per step: a Launcher device thread writes `LHREQ_EVENTFD`, `attach_eventfd()`
//! (L:052) takes `lguest_lock`, and `add_eventfd()` (L:055) copies the array, appends, publishes with
//! `rcu_assign_pointer()`, waits in `synchronize_rcu()` (see `synchronize_rcu.rs`) and frees the old array.
//! Part of the RCU tour ([`super`]): `model.rs` dispatches each [`super::programs::Op`] here. (The Host's
//! own `add_eventfd()`, on the simulated kernel's one CPU, is `crate/lguest/lguest_user.rs`.)

use super::checks::Check;
use super::memory::{join, LoadKind, Loc, Val, VersionId};
use super::model::{Cx, Life, Version};

/// `EBADF`: what `eventfd_ctx_fdget()` fails with for an fd that is not an eventfd.
const EBADF: u8 = crate::errno::Errno::EBADF as i32 as u8;

/// L:052 `mutex_lock(&lguest_lock)`: one writer at a time (the model only lets the task take this step
/// when the lock is free; until then it sleeps). Acquiring the lock also acquires what the last holder saw.
pub(super) fn mutex_lock(cx: &mut Cx) -> Result<String, String> {
    cx.st.lock = Some(cx.t);
    let lv = cx.st.lock_view.clone();
    join(cx.view(), &lv);
    Ok(format!("{} takes lguest_lock: no other writer can enter add_eventfd() now", cx.who))
}

/// L:052 `mutex_unlock(&lguest_lock)`, releasing what this CPU saw to the next holder.
pub(super) fn mutex_unlock(cx: &mut Cx) -> Result<String, String> {
    cx.st.lock = None;
    let cv = cx.view().clone();
    join(&mut cx.st.lock_view, &cv);
    Ok(format!("{} releases lguest_lock", cx.who))
}

/// L:055 `old = lg->eventfds` and `new = kmalloc(...)` with room for `old->num + 1` entries. The new
/// version is a distinct object, *building*: its fields hold garbage until the writer stores to them.
pub(super) fn kmalloc(cx: &mut Cx) -> Result<String, String> {
    let old = match cx.load(Loc::Eventfds, 0, LoadKind::Plain)? {
        Val::Version(o) => o,
        other => return Err(format!("lg->eventfds holds {other}, not a map")),
    };
    cx.touch(old, "num");
    let n = match cx.load(Loc::Num(old), 0, LoadKind::Plain)? {
        Val::Int(n) => n.min(u8::MAX as u32 - 1) as u8,
        _ => 0,
    };
    let new = cx.st.versions.len() as VersionId;
    cx.st.versions.push(Version { cap: n + 1, life: Life::Building, by: Some(cx.t) });
    cx.st.mem.alloc(Loc::Num(new), Val::Uninit);
    for i in 0..=n {
        cx.st.mem.alloc(Loc::Addr(new, i), Val::Uninit);
        cx.st.mem.alloc(Loc::Event(new, i), Val::Uninit);
    }
    let task = cx.task();
    task.old = Some(old);
    task.new = Some(new);
    task.n = n as u32;
    Ok(format!("{}: old = v{old} (num {n}); kmalloc() gives v{new} with room for {} entries, uninitialised", cx.who, n + 1))
}

/// L:055 `memcpy(new->map, old->map, ...)` and `new->num = old->num`: the copy in read-copy-update.
pub(super) fn memcpy(cx: &mut Cx) -> Result<String, String> {
    let (old, new, n) = cx.writer_regs()?;
    cx.touch(old, "the entries");
    for i in 0..n as u8 {
        let a = cx.load(Loc::Addr(old, i), 0, LoadKind::Plain)?;
        let e = cx.load(Loc::Event(old, i), 0, LoadKind::Plain)?;
        cx.store(Loc::Addr(new, i), a, false);
        cx.store(Loc::Event(new, i), e, false);
    }
    cx.store(Loc::Num(new), Val::Int(n), false);
    Ok(format!("{} copies v{old}'s {n} entry(s) into v{new} and sets v{new}->num = {n}", cx.who))
}

/// L:055 the new entry: `addr`, and `eventfd_ctx_fdget(fd)`, which takes a reference on the eventfd (or,
/// for an fd that is not an eventfd, fails with `ERR_PTR(-EBADF)`).
pub(super) fn eventfd_ctx_fdget(cx: &mut Cx) -> Result<String, String> {
    let (_, new, n) = cx.writer_regs()?;
    let i = n as u8;
    let (addr, ctx) = (cx.spec.addr, cx.spec.ctx);
    cx.store(Loc::Addr(new, i), Val::Int(addr), false);
    if cx.spec.bad_fd {
        cx.store(Loc::Event(new, i), Val::ErrPtr(EBADF), false);
        return Ok(format!("{}: eventfd_ctx_fdget() fails (the fd is not an eventfd): v{new}->map[{i}].event = ERR_PTR(-EBADF)", cx.who));
    }
    if let Some(r) = cx.st.ctx_refs.get_mut(ctx as usize) {
        *r = r.saturating_add(1);
    }
    cx.store(Loc::Event(new, i), Val::Ctx(ctx), false);
    Ok(format!("{} fills v{new}->map[{i}] = {{ {addr:#x}, ctx{ctx} }} (eventfd_ctx_fdget() takes a reference)", cx.who))
}

/// L:055 `new->num++`: the entry now counts.
pub(super) fn inc_num(cx: &mut Cx) -> Result<String, String> {
    let (_, new, n) = cx.writer_regs()?;
    cx.store(Loc::Num(new), Val::Int(n + 1), false);
    Ok(format!("{} sets v{new}->num = {}", cx.who, n + 1))
}

/// L:055 `rcu_assign_pointer(lg->eventfds, new)`: publish. Its barrier (a release store) makes every
/// store to `new` visible before the pointer is; the broken variant stores the pointer plainly. The
/// version it replaces is *retired*: new readers cannot find it, old ones may still hold it.
pub(super) fn rcu_assign_pointer(cx: &mut Cx, barrier: bool) -> Result<String, String> {
    let (_, new, _) = cx.writer_regs()?;
    let prev = cx.st.mem.newest(Loc::Eventfds);
    cx.store(Loc::Eventfds, Val::Version(new), barrier);
    if let Some(Val::Version(p)) = prev {
        if let Some(ver) = cx.st.versions.get_mut(p as usize) {
            if ver.life == Life::Published {
                ver.life = Life::Retired;
            }
        }
    }
    if let Some(ver) = cx.st.versions.get_mut(new as usize) {
        ver.life = Life::Published;
    }
    let retired = prev.map(|p| p.to_string()).unwrap_or_default();
    let who = cx.who;
    Ok(if barrier {
        format!("{who} publishes v{new}; {retired} is retired. The barrier in rcu_assign_pointer() orders v{new}'s stores before the pointer")
    } else if cx.weak() {
        format!("{who} publishes v{new} with a plain store; {retired} is retired. Nothing orders v{new}'s stores before the pointer")
    } else {
        format!("{who} publishes v{new} with a plain store; {retired} is retired (harmless under sc)")
    })
}

/// L:055 `kfree(old)`: the old version becomes unusable; any later load from it is a use-after-free.
pub(super) fn kfree(cx: &mut Cx) -> Result<String, String> {
    let who = cx.who;
    let old = cx.st.tasks[cx.t as usize].old.ok_or_else(|| format!("{who} has no old map"))?;
    match cx.st.versions.get(old as usize).map(|x| x.life) {
        Some(Life::Freed) => {
            cx.violate(Check::DoubleFree, format!("{who} frees v{old}, which was already freed"));
            Ok(format!("{who}: kfree(v{old}) again"))
        }
        Some(_) => {
            let holders: Vec<&str> = (0..cx.st.tasks.len() as u8)
                .filter(|&r| cx.st.tasks[r as usize].map == Some(old) && !cx.st.is_done(cx.setup, r))
                .map(|r| cx.setup.task_name(r))
                .collect();
            cx.st.versions[old as usize].life = Life::Freed;
            Ok(if holders.is_empty() {
                format!("{who} frees v{old}: no reader can still hold it")
            } else {
                format!("{who} frees v{old} while {} still holds it", holders.join(", "))
            })
        }
        None => Err(format!("no version v{old}")),
    }
}

/// L:055 the error path: `err = PTR_ERR(new->map[new->num].event)`, read out of the new array. The fixed
/// code does this before `kfree(new)`; in 2009 it came after (variant `error-path-2009`).
pub(super) fn ptr_err(cx: &mut Cx) -> Result<String, String> {
    let (_, new, n) = cx.writer_regs()?;
    cx.touch(new, "the failed entry");
    let e = cx.load(Loc::Event(new, n as u8), 0, LoadKind::Plain)?;
    Ok(format!("{} reads the error out of v{new}: {e}; add_eventfd() will return -EBADF", cx.who))
}

/// L:055 the error path's `kfree(new)`: never published, so no grace period is needed.
pub(super) fn kfree_new(cx: &mut Cx) -> Result<String, String> {
    let (_, new, _) = cx.writer_regs()?;
    let who = cx.who;
    match cx.st.versions.get(new as usize).map(|v| v.life) {
        Some(Life::Freed) => cx.violate(Check::DoubleFree, format!("{who} frees v{new}, which was already freed")),
        Some(_) => cx.st.versions[new as usize].life = Life::Freed,
        None => return Err(format!("no version v{new}")),
    }
    Ok(format!("{who} frees v{new}, never published: no reader can have seen it"))
}
