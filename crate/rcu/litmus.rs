//! Litmus tests: the shapes the Linux kernel memory model (tools/memory-model, Documentation/litmus-tests)
//! publishes with a verdict, written in this model's steps, so a student can check that the simulator
//! agrees with herd7 on the same shapes. Part of the RCU tour ([`super`]); read after `explore.rs`.
//!
//! A verdict is about one outcome (the `exists` clause): `Never` if no schedule reaches it, `Sometimes` if
//! some do, `Always` if every one does. Our weak mode is Alpha-like as a 2.6.3x kernel saw it: only
//! `rcu_dereference()` (which then contained `smp_read_barrier_depends()`) orders loads through a pointer,
//! so a plain load through a pointer is `Sometimes` here; since Linux 4.15 `READ_ONCE()` carries that
//! barrier too and herd7 answers `Never` for that one shape. The table says so where it matters.

use serde::Serialize;

use super::explore::final_states;
use super::memory::{LoadKind, Loc, MemoryMode, Val};
use super::model::{Cx, Setup, State};
use super::programs::Op;

/// How often an outcome happens over all schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Never,
    Sometimes,
    Always,
}

/// One litmus shape with the verdicts it must get.
#[derive(Clone, Debug)]
pub struct Litmus {
    /// The name the kernel's litmus file (or the shape) has.
    pub name: &'static str,
    /// What it shows, in a sentence.
    pub about: &'static str,
    /// The outcome asked about, as the litmus file writes it.
    pub exists: &'static str,
    /// The published verdict (weak memory), and ours under sc.
    pub weak: Verdict,
    pub sc: Verdict,
    threads: Vec<Vec<Op>>,
    vars: Vec<(u8, Val)>,
    outcome: fn(&State) -> bool,
}

const X: u8 = 0;
const Y: u8 = 1;
const Z: u8 = 2;

fn reg(st: &State, thread: usize, r: usize) -> Val {
    st.tasks.get(thread).and_then(|t| t.regs.get(r)).copied().unwrap_or(Val::Uninit)
}

fn store(var: u8, val: u32) -> Op {
    Op::Store { var, val: Val::Int(val), release: false }
}

fn load(var: u8, reg: u8, kind: LoadKind) -> Op {
    Op::Load { var, reg, kind }
}

const SYNC: [Op; 2] = [Op::SyncBegin, Op::SyncDone];

/// Message passing: P0 writes data then a flag; P1 reads the flag then the data. `release` and `acquire`
/// choose `smp_store_release()` / `smp_load_acquire()` over `WRITE_ONCE()` / `READ_ONCE()`.
fn mp(name: &'static str, release: bool, acquire: bool, weak: Verdict) -> Litmus {
    let kind = if acquire { LoadKind::Acquire } else { LoadKind::Plain };
    Litmus {
        name,
        about: "message passing: can the reader see the flag but not the data?",
        exists: "1:r0=1 /\\ 1:r1=0",
        weak,
        sc: Verdict::Never,
        threads: vec![vec![store(X, 1), Op::Store { var: Y, val: Val::Int(1), release }], vec![load(Y, 0, kind), load(X, 1, LoadKind::Plain)]],
        vars: vec![(X, Val::Int(0)), (Y, Val::Int(0))],
        outcome: |st| reg(st, 1, 0) == Val::Int(1) && reg(st, 1, 1) == Val::Int(0),
    }
}

/// Publication through a pointer: P0 initialises `x` then points `y` at it; P1 follows `y` and reads.
fn mp_pointer(name: &'static str, assign: bool, deref: bool, weak: Verdict, about: &'static str) -> Litmus {
    let kind = if deref { LoadKind::Dereference } else { LoadKind::Plain };
    Litmus {
        name,
        about,
        exists: "1:r0=x /\\ 1:r1=0",
        weak,
        sc: Verdict::Never,
        threads: vec![
            vec![store(X, 1), Op::Store { var: Y, val: Val::Ptr(X), release: assign }],
            vec![Op::RcuReadLock, load(Y, 0, kind), Op::LoadThrough { ptr_reg: 0, reg: 1 }, Op::RcuReadUnlock],
        ],
        vars: vec![(X, Val::Int(0)), (Y, Val::Ptr(Z)), (Z, Val::Int(0))],
        outcome: |st| reg(st, 1, 0) == Val::Ptr(X) && reg(st, 1, 1) == Val::Int(0),
    }
}

/// The deferred-free shape: the reader follows `y`; the updater repoints `y`, waits, and "frees" `x` by
/// writing 0 into it. `sync` and `lock` remove the grace period or the reader's critical section.
fn sync_free(name: &'static str, sync: bool, lock: bool, weak: Verdict) -> Litmus {
    let mut reader = vec![load(Y, 0, LoadKind::Dereference), Op::LoadThrough { ptr_reg: 0, reg: 1 }];
    if lock {
        reader.insert(0, Op::RcuReadLock);
        reader.push(Op::RcuReadUnlock);
    }
    let mut updater = vec![Op::Store { var: Y, val: Val::Ptr(Z), release: true }];
    if sync {
        updater.extend(SYNC);
    }
    updater.push(store(X, 0));
    Litmus {
        name,
        about: "deferred free: can a reader that found the old object see it destroyed?",
        exists: "0:r0=x /\\ 0:r1=0",
        weak,
        sc: weak,
        threads: vec![reader, updater],
        vars: vec![(X, Val::Int(1)), (Y, Val::Ptr(X)), (Z, Val::Int(1))],
        outcome: |st| reg(st, 0, 0) == Val::Ptr(X) && reg(st, 0, 1) == Val::Int(0),
    }
}

/// Every shape, with the verdicts our model must reproduce.
pub fn catalogue() -> Vec<Litmus> {
    vec![
        mp("MP+poonceonces", false, false, Verdict::Sometimes),
        mp("MP+pooncerelease+poacquireonce", true, true, Verdict::Never),
        mp_pointer(
            "MP+onceassign+derefonce",
            true,
            true,
            Verdict::Never,
            "rcu_assign_pointer() + rcu_dereference(): the reader never sees pre-initialisation garbage",
        ),
        mp_pointer(
            "MP+onceassign+derefonce, plain assignment",
            false,
            true,
            Verdict::Sometimes,
            "without rcu_assign_pointer() the pointer may arrive before the data it points to",
        ),
        mp_pointer(
            "MP+onceassign+derefonce, plain dereference (Alpha, pre-4.15)",
            true,
            false,
            Verdict::Sometimes,
            "without rcu_dereference() an Alpha reader may follow the new pointer to stale data",
        ),
        sync_free("RCU+sync+free", true, true, Verdict::Never),
        sync_free("RCU+sync+free without synchronize_rcu()", false, true, Verdict::Sometimes),
        sync_free("RCU+sync+free without rcu_read_lock()", true, false, Verdict::Sometimes),
        Litmus {
            name: "RCU+sync+read",
            about: "after a grace period the updater sees every store of read-side sections that began before it",
            exists: "1:r0=1 /\\ 1:r1=0",
            weak: Verdict::Never,
            sc: Verdict::Never,
            threads: vec![
                vec![Op::RcuReadLock, store(X, 1), store(Y, 1), Op::RcuReadUnlock],
                vec![load(X, 0, LoadKind::Plain), SYNC[0], SYNC[1], load(Y, 1, LoadKind::Plain)],
            ],
            vars: vec![(X, Val::Int(0)), (Y, Val::Int(0))],
            outcome: |st| reg(st, 1, 0) == Val::Int(1) && reg(st, 1, 1) == Val::Int(0),
        },
        Litmus {
            name: "MP through a grace period",
            about: "a read-side section that sees a store made after synchronize_rcu() sees every store made before",
            exists: "1:r0=1 /\\ 1:r1=0",
            weak: Verdict::Never,
            sc: Verdict::Never,
            threads: vec![
                vec![store(X, 1), SYNC[0], SYNC[1], store(Y, 1)],
                vec![Op::RcuReadLock, load(Y, 0, LoadKind::Plain), load(X, 1, LoadKind::Plain), Op::RcuReadUnlock],
            ],
            vars: vec![(X, Val::Int(0)), (Y, Val::Int(0))],
            outcome: |st| reg(st, 1, 0) == Val::Int(1) && reg(st, 1, 1) == Val::Int(0),
        },
    ]
}

/// One row of the litmus table the UI and `explore --litmus` show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LitmusRow {
    pub name: String,
    pub about: String,
    pub exists: String,
    pub expected_sc: Verdict,
    pub expected_weak: Verdict,
    pub ours_sc: Verdict,
    pub ours_weak: Verdict,
    /// Ours equals the expected verdict in both modes.
    pub agrees: bool,
}

/// Run every shape in both memory modes.
pub fn table() -> Result<Vec<LitmusRow>, String> {
    catalogue()
        .iter()
        .map(|l| {
            let (ours_sc, ours_weak) = (l.run(MemoryMode::Sc)?, l.run(MemoryMode::Weak)?);
            Ok(LitmusRow {
                name: l.name.to_string(),
                about: l.about.to_string(),
                exists: l.exists.to_string(),
                expected_sc: l.sc,
                expected_weak: l.weak,
                ours_sc,
                ours_weak,
                agrees: ours_sc == l.sc && ours_weak == l.weak,
            })
        })
        .collect()
}

impl Litmus {
    /// The setup: thread `i` on CPU `i`.
    pub fn setup(&self, memory: MemoryMode) -> Result<Setup, String> {
        let threads = self.threads.iter().enumerate().map(|(i, p)| (i as u8, p.clone())).collect();
        Setup::litmus(self.threads.len() as u8, memory, &self.vars, threads)
    }

    /// The verdict our model gives, over every schedule.
    pub fn run(&self, memory: MemoryMode) -> Result<Verdict, String> {
        let finals = final_states(&self.setup(memory)?)?;
        let hits = finals.iter().filter(|s| (self.outcome)(s)).count();
        Ok(if hits == 0 {
            Verdict::Never
        } else if hits == finals.len() {
            Verdict::Always
        } else {
            Verdict::Sometimes
        })
    }

    /// The verdict it must get.
    pub fn expected(&self, memory: MemoryMode) -> Verdict {
        match memory {
            MemoryMode::Sc => self.sc,
            MemoryMode::Weak => self.weak,
        }
    }
}

/// `WRITE_ONCE(var, val)`, or with `release` `smp_store_release()` / `rcu_assign_pointer()`.
pub(super) fn write_once(cx: &mut Cx, var: u8, val: Val, release: bool) -> Result<String, String> {
    cx.store(Loc::Var(var), val, release);
    Ok(format!("{} stores {val} to {}", cx.who, Loc::Var(var)))
}

/// `reg = READ_ONCE(var)`, or its acquire / `rcu_dereference()` form.
pub(super) fn read_once(cx: &mut Cx, var: u8, reg: u8, kind: LoadKind) -> Result<String, String> {
    let val = cx.load(Loc::Var(var), cx.pick, kind)?;
    if let Some(r) = cx.task().regs.get_mut(reg as usize) {
        *r = val;
    }
    Ok(format!("{} loads {} = {val}", cx.who, Loc::Var(var)))
}

/// `reg = READ_ONCE(*ptr_reg)`: through a pointer an earlier load returned.
pub(super) fn read_through(cx: &mut Cx, ptr_reg: u8, reg: u8) -> Result<String, String> {
    let p = cx.task().regs.get(ptr_reg as usize).copied().unwrap_or(Val::Uninit);
    let Val::Ptr(x) = p else { return Err(format!("{}: r{ptr_reg} holds {p}, not a pointer", cx.who)) };
    let val = cx.load(Loc::Var(x), cx.pick, LoadKind::Plain)?;
    if let Some(r) = cx.task().regs.get_mut(reg as usize) {
        *r = val;
    }
    Ok(format!("{} loads *r{ptr_reg} = {} = {val}", cx.who, Loc::Var(x)))
}
