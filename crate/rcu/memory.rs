//! Shared memory as the simulated CPUs see it: the pointer `lg->eventfds`, the fields of every array version,
//! and the variables of the litmus tests. Part of the RCU tour ([`super`]), read after `model.rs`.
//!
//! Two memory modes. In `Sc` (sequential consistency) every load sees the newest store: the order the
//! scheduler picked is the order everyone observes. In `Weak` every location keeps its whole history of
//! stores, and each CPU keeps a *view*: for each location, the oldest store it may still read. A plain load
//! may return any store at or after the CPU's view (so a store can reach one CPU before an earlier store
//! does, as on Alpha). Ordering comes only from barriers: a release store (`rcu_assign_pointer()`) carries
//! the storing CPU's view with it, and a load that reads it through `rcu_dereference()` (or an acquire)
//! takes that view on, so every store made before the publication is visible after it. This is the
//! "view" style of operational weak memory (as in models of C11 release/acquire), cut down to what the
//! eventfd map needs.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Index of an array version (`struct lg_eventfd_map`) in the versions arena.
pub type VersionId = u8;
/// Index of an eventfd context (`struct eventfd_ctx`).
pub type CtxId = u8;

/// Sequential consistency or the Alpha-like weak mode described above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MemoryMode {
    Sc,
    Weak,
}

impl MemoryMode {
    pub fn name(self) -> &'static str {
        match self {
            MemoryMode::Sc => "sc",
            MemoryMode::Weak => "weak",
        }
    }

    pub fn parse(s: &str) -> Result<MemoryMode, String> {
        match s {
            "sc" => Ok(MemoryMode::Sc),
            "weak" => Ok(MemoryMode::Weak),
            _ => Err(format!("unknown memory mode '{s}': expected 'sc' or 'weak'")),
        }
    }
}

/// A memory location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Loc {
    /// `lg->eventfds`: the RCU-protected pointer to the current array.
    Eventfds,
    /// `map->num` of a version.
    Num(VersionId),
    /// `map->map[i].addr` of a version.
    Addr(VersionId, u8),
    /// `map->map[i].event` of a version.
    Event(VersionId, u8),
    /// A variable of a litmus test, by index (`x` is 0, `y` is 1, ...).
    Var(u8),
}

/// Names of litmus variables, by index.
pub const VAR_NAMES: [&str; 4] = ["x", "y", "z", "c"];

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Loc::Eventfds => write!(f, "lg->eventfds"),
            Loc::Num(v) => write!(f, "v{v}->num"),
            Loc::Addr(v, i) => write!(f, "v{v}->map[{i}].addr"),
            Loc::Event(v, i) => write!(f, "v{v}->map[{i}].event"),
            Loc::Var(x) => write!(f, "{}", VAR_NAMES.get(x as usize).copied().unwrap_or("?")),
        }
    }
}

/// A value in memory or in a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Val {
    /// What `kmalloc()` hands back before anything is stored: garbage, which no one may read.
    Uninit,
    Int(u32),
    /// A pointer to an array version.
    Version(VersionId),
    /// A pointer to an eventfd context (`map[i].event`).
    Ctx(CtxId),
    /// A pointer to a litmus variable (`&x`).
    Ptr(u8),
    /// `ERR_PTR(-errno)`: what `eventfd_ctx_fdget()` returns for an fd that is not an eventfd.
    ErrPtr(u8),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Val::Uninit => write!(f, "(uninitialised)"),
            Val::Int(n) if n >= 0x100 => write!(f, "{n:#x}"),
            Val::Int(n) => write!(f, "{n}"),
            Val::Version(v) => write!(f, "v{v}"),
            Val::Ctx(c) => write!(f, "ctx{c}"),
            Val::Ptr(x) => write!(f, "&{}", VAR_NAMES.get(x as usize).copied().unwrap_or("?")),
            Val::ErrPtr(e) => match crate::errno::Errno::ALL.iter().find(|x| x.code() == e as i32) {
                Some(errno) => write!(f, "ERR_PTR(-{})", errno.name()),
                None => write!(f, "ERR_PTR(-{e})"),
            },
        }
    }
}

/// For each location, the index of the oldest store a CPU may still read (absent = 0, the initial value).
/// A short vector sorted by location, as a map: a view has a handful of entries, and the explorer clones
/// and hashes views in every state it visits, so one allocation beats a tree's nodes. An entry once made
/// stays (an explicit 0 differs from none, as it would in a map).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct View(Vec<(Loc, u16)>);

impl View {
    pub fn new() -> View {
        View(Vec::new())
    }

    pub fn get(&self, loc: &Loc) -> Option<&u16> {
        self.0.binary_search_by(|(l, _)| l.cmp(loc)).ok().map(|i| &self.0[i].1)
    }

    /// The entry for `loc`, made with `idx` if there is none.
    pub fn entry_or(&mut self, loc: Loc, idx: u16) -> &mut u16 {
        let i = match self.0.binary_search_by(|(l, _)| l.cmp(&loc)) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (loc, idx));
                i
            }
        };
        &mut self.0[i].1
    }

    pub fn insert(&mut self, loc: Loc, idx: u16) {
        *self.entry_or(loc, idx) = idx;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Loc, &u16)> {
        self.0.iter().map(|(l, i)| (l, i))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `into` becomes the later of the two views, location by location.
pub fn join(into: &mut View, other: &View) {
    for (loc, &idx) in other.iter() {
        let e = into.entry_or(*loc, 0);
        if *e < idx {
            *e = idx;
        }
    }
}

/// One store in a location's history.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Msg {
    pub val: Val,
    /// What a reader that acquires this store learns: the storing CPU's view for a release store, nothing
    /// for a plain one.
    pub view: View,
}

/// How a load orders what comes after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadKind {
    /// `READ_ONCE()` or a plain C load: nothing later is ordered after it (Alpha, or an aggressive compiler).
    Plain,
    /// `rcu_dereference()`: loads through the pointer see what the publisher stored before publishing it.
    Dereference,
    /// `smp_load_acquire()`: everything later sees what the releasing CPU saw.
    Acquire,
}

/// Every location's history (in `Sc` only the newest store is kept: no one can read an older one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Memory {
    cells: BTreeMap<Loc, Vec<Msg>>,
}

impl Memory {
    /// A fresh location holding `val` (`kmalloc()` gives [`Val::Uninit`]).
    pub fn alloc(&mut self, loc: Loc, val: Val) {
        self.cells.insert(loc, vec![Msg { val, view: View::new() }]);
    }

    /// The newest value stored at `loc`, as the scheduler's global order has it.
    pub fn newest(&self, loc: Loc) -> Option<Val> {
        self.cells.get(&loc).and_then(|h| h.last()).map(|m| m.val)
    }

    /// The values a load of `loc` by a CPU with `view` may return, newest first. Pick 0 is the newest.
    pub fn candidates(&self, mode: MemoryMode, loc: Loc, view: &View) -> Vec<Val> {
        let Some(hist) = self.cells.get(&loc) else { return Vec::new() };
        match mode {
            MemoryMode::Sc => hist.last().map(|m| vec![m.val]).unwrap_or_default(),
            MemoryMode::Weak => {
                let floor = view.get(&loc).copied().unwrap_or(0) as usize;
                hist.iter().skip(floor).rev().map(|m| m.val).collect()
            }
        }
    }

    /// Load `loc` for a CPU whose view is `view`, taking candidate `pick` (0 = newest).
    pub fn load(&self, mode: MemoryMode, loc: Loc, pick: u8, kind: LoadKind, view: &mut View) -> Result<Val, String> {
        let hist = self.cells.get(&loc).ok_or_else(|| format!("load of {loc}, which was never allocated"))?;
        if mode == MemoryMode::Sc {
            if pick != 0 {
                return Err(format!("pick {pick} for {loc}: under sc only the newest value (pick 0) exists"));
            }
            return hist.last().map(|m| m.val).ok_or_else(|| format!("{loc} has no value"));
        }
        let floor = view.get(&loc).copied().unwrap_or(0) as usize;
        let visible = hist.len().saturating_sub(floor);
        if (pick as usize) >= visible {
            return Err(format!("pick {pick} for {loc}: only {visible} value(s) are visible to this CPU"));
        }
        let idx = hist.len() - 1 - pick as usize;
        let msg = &hist[idx];
        if kind != LoadKind::Plain {
            join(view, &msg.view);
        }
        // Coherence: having read this store, the CPU can never again read an older one.
        let e = view.entry_or(loc, 0);
        *e = (*e).max(idx as u16);
        Ok(msg.val)
    }

    /// Store `val` to `loc` from a CPU whose view is `view`. A release store carries the view along.
    pub fn store(&mut self, mode: MemoryMode, loc: Loc, val: Val, release: bool, view: &mut View) {
        let hist = self.cells.entry(loc).or_default();
        match mode {
            MemoryMode::Sc => {
                hist.clear();
                hist.push(Msg { val, view: View::new() });
            }
            MemoryMode::Weak => {
                let idx = hist.len() as u16;
                // A CPU always sees its own newest store.
                view.insert(loc, idx);
                let carried = if release { view.clone() } else { View::new() };
                hist.push(Msg { val, view: carried });
            }
        }
    }

    /// Locations where some CPU could still read an older value than the newest (weak mode), for the UI.
    pub fn history(&self, loc: Loc) -> Vec<Val> {
        self.cells.get(&loc).map(|h| h.iter().map(|m| m.val).collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sc_always_reads_the_newest() {
        let mut m = Memory::default();
        let mut v = View::new();
        m.alloc(Loc::Var(0), Val::Int(0));
        m.store(MemoryMode::Sc, Loc::Var(0), Val::Int(1), false, &mut v);
        assert_eq!(m.candidates(MemoryMode::Sc, Loc::Var(0), &View::new()), vec![Val::Int(1)]);
        assert!(m.load(MemoryMode::Sc, Loc::Var(0), 1, LoadKind::Plain, &mut v).is_err());
    }

    #[test]
    fn weak_plain_store_may_be_missed_but_release_carries_it() {
        let mode = MemoryMode::Weak;
        let mut m = Memory::default();
        m.alloc(Loc::Var(0), Val::Int(0));
        m.alloc(Loc::Var(1), Val::Int(0));
        let mut writer = View::new();
        m.store(mode, Loc::Var(0), Val::Int(1), false, &mut writer);
        m.store(mode, Loc::Var(1), Val::Int(1), true, &mut writer);
        // Reader acquires y == 1: x == 0 is no longer visible.
        let mut reader = View::new();
        assert_eq!(m.load(mode, Loc::Var(1), 0, LoadKind::Acquire, &mut reader), Ok(Val::Int(1)));
        assert_eq!(m.candidates(mode, Loc::Var(0), &reader), vec![Val::Int(1)]);
        // A plain load of y == 1 teaches nothing: x may still read 0.
        let mut plain = View::new();
        assert_eq!(m.load(mode, Loc::Var(1), 0, LoadKind::Plain, &mut plain), Ok(Val::Int(1)));
        assert_eq!(m.candidates(mode, Loc::Var(0), &plain), vec![Val::Int(1), Val::Int(0)]);
        // Coherence: once y == 1 was read, y == 0 cannot be.
        assert_eq!(m.candidates(mode, Loc::Var(1), &plain), vec![Val::Int(1)]);
    }
}
