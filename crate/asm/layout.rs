//! The fourth step: addresses, jump relaxation and the final bytes.
//!
//! First we read the items once in order, as GNU as does ([`prepare`]): that fixes what can be known
//! while reading (which immediates are plain numbers), the size of every instruction except the
//! jumps to labels, and each section's alignment. Then [`relax_like_gas`] decides which of those
//! jumps must be near (`e9`/`0f 8x`) rather than short (`eb`/`7x`), following GNU as's
//! `relax_segment` step by step, because with `.align` in play the order of updates changes the
//! answer. Last, [`walk`] lays everything out until the addresses settle, and the bytes are emitted.
//!
//! Sections are placed one after another from the origin: `.text` first, then the others in the
//! order they first appear, each starting at its alignment, exactly as `ld` lays them out.

use std::collections::{BTreeMap, HashMap};

use super::budget::{self, Budget, Errors};
use super::encode::{self, Val};
use super::expr::{self, Class, Expr};
use super::mnemonics;
use super::parse::{Item, Kind};
use super::{AsmError, Program, Section, MAX_IMAGE, MAX_PASSES};

/// What the first reading learned about one item.
#[derive(Debug, Clone, Default)]
struct Prep {
    sec: usize,
    /// Size when it does not depend on addresses (everything but jumps, .space, .align, .org).
    size: Option<u32>,
    /// Per operand: was its value known while reading, and what it was.
    known: Vec<Option<i64>>,
    /// `Some(cc)` for a jump GNU as would relax (cc None for `jmp`).
    relax: Option<Option<usize>>,
    /// `.align`: alignment in bytes, fill byte, maximum padding.
    align: Option<(u32, Option<u8>, Option<u32>)>,
    /// `.org` given as an address (a label expression) rather than a section offset.
    org_is_address: bool,
    /// The item failed to encode; it was reported and takes no space.
    dead: bool,
}

struct SecInfo {
    name: String,
    code: bool,
    align: u32,
}

/// Every name the program defines (labels and assigned symbols), numbered once in order of first
/// definition. The layout goes over all the items several times, and a pass that entered each
/// label in a map of names would hash and copy every name again: with the numbers, a pass keeps
/// the values in a `Vec` and hashes only the names expressions look up.
struct Names<'a> {
    ids: HashMap<&'a str, usize>,
    /// By number.
    names: Vec<&'a str>,
    /// For each item, the number of the name it defines (`usize::MAX` if none).
    defines: Vec<usize>,
}

impl<'a> Names<'a> {
    fn of(items: &'a [Item]) -> Self {
        // Sized once (a map grown name by name rehashes every name a dozen times).
        let defining = items.iter().filter(|i| matches!(i.kind, Kind::Label(_) | Kind::Assign(..))).count();
        let mut n = Names { ids: HashMap::with_capacity(defining), names: Vec::with_capacity(defining), defines: Vec::with_capacity(items.len()) };
        for item in items {
            let id = match &item.kind {
                Kind::Label(name) | Kind::Assign(name, _) => *n.ids.entry(name.as_str()).or_insert_with(|| {
                    n.names.push(name.as_str());
                    n.names.len() - 1
                }),
                _ => usize::MAX,
            };
            n.defines.push(id);
        }
        n
    }

    fn id(&self, name: &str) -> Option<usize> {
        self.ids.get(name).copied()
    }

    fn len(&self) -> usize {
        self.names.len()
    }
}

/// The symbols an expression names, in order.
fn syms_of<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
    match e {
        Expr::Sym(s) => out.push(s),
        Expr::Neg(a) | Expr::Not(a) | Expr::LogNot(a) => syms_of(a, out),
        Expr::Bin(_, a, b) => {
            syms_of(a, out);
            syms_of(b, out);
        }
        _ => {}
    }
}

/// The read-through: see the module summary.
fn prepare(items: &[Item], names: &Names, errors: &mut Errors) -> (Vec<Prep>, Vec<SecInfo>, Vec<Option<usize>>) {
    let mut secs = vec![SecInfo { name: ".text".into(), code: true, align: 1 }];
    // Section names to their index: a source may name thousands of sections.
    let mut sec_index: HashMap<String, usize> = HashMap::from([(".text".to_string(), 0)]);
    let mut preps = Vec::with_capacity(items.len());
    // By name number: what each name is known to be so far, and the section of each label.
    let mut class: Vec<Class> = vec![Class::Unknown; names.len()];
    let mut label_sec: Vec<Option<usize>> = vec![None; names.len()];
    // Per section: the current fixed-size run ("frag" in GNU as) and the offset in it.
    let mut frag: Vec<(u32, i64)> = vec![(0, 0)];
    let mut next_frag = 1u32;
    let mut cur = 0usize;
    for (item, &def) in items.iter().zip(&names.defines) {
        let mut p = Prep { sec: cur, ..Prep::default() };
        let (f, off) = frag[cur];
        let dot = Class::Rel { sec: cur, frag: f, off };
        let classify = |e: &Expr, class: &[Class]| expr::classify(e, &|s| names.id(s).map_or(Class::Unknown, |i| class[i]), dot);
        let mut new_frag = false;
        match &item.kind {
            Kind::Label(_) => {
                class[def] = dot;
                label_sec[def] = Some(cur);
                p.size = Some(0);
            }
            Kind::Assign(_, e) => {
                class[def] = classify(e, &class);
                p.size = Some(0);
            }
            Kind::Section(name, code) => {
                cur = match sec_index.get(name) {
                    Some(i) => *i,
                    None => {
                        sec_index.insert(name.clone(), secs.len());
                        secs.push(SecInfo { name: name.clone(), code: *code, align: 1 });
                        frag.push((next_frag, 0));
                        next_frag += 1;
                        secs.len() - 1
                    }
                };
                p.sec = cur;
                p.size = Some(0);
            }
            Kind::Data(w, values) => p.size = Some(*w as u32 * values.len() as u32),
            Kind::Bytes(b) => p.size = Some(b.len() as u32),
            Kind::Prefix(_) => p.size = Some(1),
            // A size known while reading keeps the run fixed (GNU as still knows `b - a` across
            // `.space 100`); a size that depends on later labels does not.
            Kind::Space(count, _) => match classify(count, &class) {
                Class::Abs(n) => p.size = Some(n.clamp(0, MAX_IMAGE as i64 + 1) as u32),
                _ => new_frag = true,
            },
            Kind::Fill(repeat, size, _) => match (classify(repeat, &class), classify(size, &class)) {
                (Class::Abs(r), Class::Abs(s)) => p.size = Some((r.clamp(0, MAX_IMAGE as i64 + 1) * s.clamp(0, 8)).min(MAX_IMAGE as i64 + 1) as u32),
                _ => new_frag = true,
            },
            Kind::Org(target, _) => {
                p.org_is_address = !matches!(classify(target, &class), Class::Abs(_));
                new_frag = true;
            }
            Kind::Align { align, pow2, fill, max } => {
                let abs = |e: &Option<Expr>| match e.as_ref().map(|e| classify(e, &class)) {
                    None => Ok(None),
                    Some(Class::Abs(v)) => Ok(Some(v)),
                    Some(_) => Err(()),
                };
                match (abs(&Some(align.clone())), abs(fill), abs(max)) {
                    (Ok(Some(a)), Ok(fill), Ok(max)) => {
                        let bytes = if *pow2 { 1i64.checked_shl(a as u32).filter(|_| (0..31).contains(&a)) } else { Some(a) };
                        match bytes.filter(|b| *b >= 0 && *b <= 1 << 30) {
                            Some(b) if b == 0 || (b as u64).is_power_of_two() => {
                                let b = b.max(1) as u32;
                                secs[cur].align = secs[cur].align.max(b);
                                p.align = Some((
                                    b,
                                    fill.map(|f| f as u8),
                                    // A maximum of 0 means no maximum, as in GNU as.
                                    max.filter(|m| *m > 0).map(|m| m.clamp(0, u32::MAX as i64) as u32),
                                ));
                            }
                            _ => errors.push(AsmError::at(item.line, Some(item.col), format!("alignment {a} is not a power of 2"))),
                        }
                    }
                    _ => errors.push(AsmError::at(item.line, Some(item.col), "alignment must be a constant number")),
                }
                match p.align {
                    None => p.dead = true,
                    // Aligning to 1 is nothing at all, and GNU as does not even start a new run.
                    Some((1, _, _)) => p.size = Some(0),
                    Some(_) => new_frag = true,
                }
            }
            Kind::Insn(insn) => {
                let mut vals = Vec::new();
                for op in &insn.ops {
                    let k = op.expr().and_then(|e| match classify(e, &class) {
                        Class::Abs(v) => Some(v),
                        _ => None,
                    });
                    p.known.push(k);
                    vals.push(Val { v: k.unwrap_or(0), known: k.is_some() });
                }
                if let Some(cc) = mnemonics::relaxable(insn) {
                    let target_known = p.known.first().copied().flatten().is_some();
                    if !target_known {
                        p.relax = Some(cc);
                        new_frag = true;
                    }
                }
                if p.relax.is_none() {
                    // Size the instruction now; a target we don't know yet stands in as our own address.
                    for (v, k) in vals.iter_mut().zip(&p.known) {
                        if k.is_none() {
                            v.v = 0;
                        }
                    }
                    match encode::encode(insn, &vals, 0, true) {
                        Ok(b) => p.size = Some(b.len() as u32),
                        Err(m) => {
                            errors.push(AsmError::at(item.line, Some(item.col), m));
                            p.dead = true;
                        }
                    }
                }
            }
        }
        if p.dead {
            p.size = Some(0);
        }
        if new_frag {
            frag[cur] = (next_frag, 0);
            next_frag += 1;
        } else if let Some(s) = p.size {
            frag[cur].1 += s as i64;
        }
        preps.push(p);
    }
    (preps, secs, label_sec)
}

/// One layout: addresses of every item, the value of every symbol, the size of every section.
struct Walk {
    addrs: Vec<u32>,
    sizes: Vec<u32>,
    /// By name number ([`Names`]); None for a name this walk did not define.
    syms: Vec<Option<i64>>,
    sec_sizes: Vec<u32>,
}

#[allow(clippy::too_many_arguments)] // one place that needs all of the layout's state; splitting it hides the loop
fn walk(
    items: &[Item],
    names: &Names,
    preps: &[Prep],
    near: &[bool],
    prev: &[Option<i64>],
    bases: &[u32],
    nsec: usize,
    mut errors: Option<&mut Errors>,
) -> Walk {
    let mut offs = vec![0u32; nsec];
    let mut syms: Vec<Option<i64>> = vec![None; names.len()];
    let mut addrs = Vec::with_capacity(items.len());
    let mut sizes = Vec::with_capacity(items.len());
    for ((item, p), &def) in items.iter().zip(preps).zip(&names.defines) {
        let off = offs[p.sec];
        let addr = bases[p.sec].wrapping_add(off);
        let lookup = |s: &str| names.id(s).and_then(|i| syms[i].or(prev[i]));
        let mut eval = |e: &Expr| -> Option<i64> {
            match expr::eval(e, &lookup, addr as i64) {
                Ok(v) => Some(v),
                Err(m) => {
                    if let Some(errs) = errors.as_deref_mut() {
                        errs.push(AsmError::at(item.line, Some(item.col), m));
                    }
                    None
                }
            }
        };
        let size: u32 = match (&item.kind, p.size) {
            (Kind::Label(_), _) => {
                syms[def] = Some(addr as i64);
                0
            }
            (Kind::Assign(_, e), _) => {
                if let Some(v) = eval(e) {
                    syms[def] = Some(v);
                }
                0
            }
            (_, Some(s)) => s,
            (Kind::Insn(_), None) => mnemonics::branch_size(p.relax.flatten(), near.get(addrs.len()).copied().unwrap_or(true)),
            (Kind::Space(count, _), None) => eval(count).unwrap_or(0).clamp(0, MAX_IMAGE as i64 + 1) as u32,
            (Kind::Fill(repeat, size, _), None) => {
                let r = eval(repeat).unwrap_or(0).clamp(0, MAX_IMAGE as i64 + 1);
                let s = eval(size).unwrap_or(1).clamp(0, 8);
                (r * s).min(MAX_IMAGE as i64 + 1) as u32
            }
            (Kind::Align { .. }, None) => align_pad(p.align, off),
            (Kind::Org(target, _), None) => {
                let t = eval(target).unwrap_or(off as i64);
                let t = if p.org_is_address { t - bases[p.sec] as i64 } else { t };
                if t < off as i64 {
                    if let Some(errs) = errors.as_deref_mut() {
                        errs.push(AsmError::at(item.line, Some(item.col), format!("attempt to move .org backwards (from offset {off} to {t})")));
                    }
                    0
                } else {
                    (t - off as i64).min(MAX_IMAGE as i64 + 1) as u32
                }
            }
            _ => 0,
        };
        offs[p.sec] = off.saturating_add(size).min(MAX_IMAGE + 1);
        addrs.push(addr);
        sizes.push(size);
    }
    Walk { addrs, sizes, syms, sec_sizes: offs }
}

fn place_sections(origin: u32, secs: &[SecInfo], sizes: &[u32]) -> Vec<u32> {
    let mut bases = Vec::with_capacity(secs.len());
    let mut at = origin as u64;
    for (i, s) in secs.iter().enumerate() {
        if i > 0 {
            let a = s.align as u64;
            at = at.div_ceil(a) * a;
        }
        bases.push(at.min(u32::MAX as u64) as u32);
        at += sizes.get(i).copied().unwrap_or(0) as u64;
    }
    bases
}

/// Like GNU as, a value fits `width` bytes when the bits above are all zero or all one
/// (`.byte 255` and `.byte -1` are fine, `.byte 256` is not).
fn fits_width(v: i64, width: u8) -> bool {
    let high = v >> (width as u32 * 8);
    high == 0 || high == -1
}

/// GNU as pads code with these no-ops (for `-32`, as binutils 2.40 emits them): the longest 7-byte
/// `lea 0(%esi,%eiz,1),%esi` first, the remainder last; more than 20 bytes are jumped over.
fn nops(n: usize) -> Vec<u8> {
    const P: [&[u8]; 8] = [
        &[],
        &[0x90],
        &[0x66, 0x90],
        &[0x8d, 0x76, 0x00],
        &[0x8d, 0x74, 0x26, 0x00],
        &[0x8d, 0x74, 0x26, 0x00, 0x90],
        &[0x8d, 0xb6, 0, 0, 0, 0],
        &[0x8d, 0xb4, 0x26, 0, 0, 0, 0],
    ];
    let mut out = Vec::with_capacity(n);
    let mut rest = n;
    if n > 20 && n - 2 <= 127 {
        out.extend([0xeb, (n - 2) as u8]);
        rest = n - 2;
    }
    while rest > 7 {
        out.extend_from_slice(P[7]);
        rest -= 7;
    }
    out.extend_from_slice(P[rest]);
    out
}

/// The padding `.align` adds at section offset `off` (none if more than the maximum).
fn align_pad(align: Option<(u32, Option<u8>, Option<u32>)>, off: u32) -> u32 {
    match align {
        Some((a, _, max)) => {
            let pad = (a - off % a) % a;
            if max.is_some_and(|m| pad > m) {
                0
            } else {
                pad
            }
        }
        None => 0,
    }
}

/// Decide which jumps are near, exactly as GNU as's `relax_segment` does.
///
/// The order of updates matters when `.align` can absorb growth, so we follow GNU as step by
/// step: a first estimate with every jump short (and every `.org` empty), then passes in source
/// order. In a pass, each item moves by the growth so far in its section ("stretch"); a jump
/// looks at where a label behind it is now, and where a label ahead of it was on the previous
/// pass, moved by the same stretch unless an alignment lies between (a "region" boundary), which
/// might absorb it. Passes repeat until nothing grows, each paid from `budget` (false when it ran
/// out; `pass` is what one pass costs).
fn relax_like_gas(items: &[Item], names: &Names, preps: &[Prep], nsec: usize, near: &mut [bool], budget: &mut Budget, pass: usize) -> bool {
    let n = items.len();
    if !budget.spend(pass) {
        return false;
    }
    let mut off = vec![0u32; n];
    let mut size = vec![0u32; n];
    let mut region = vec![0u32; n];
    // By name number: the item of each label.
    let mut label_at: Vec<Option<usize>> = vec![None; names.len()];
    let jump_size = |p: &Prep, near: bool| mnemonics::branch_size(p.relax.flatten(), near);
    // The first estimate.
    let mut cur = vec![0u32; nsec];
    let mut regions = vec![0u32; nsec];
    for (i, (item, p)) in items.iter().zip(preps).enumerate() {
        off[i] = cur[p.sec];
        region[i] = regions[p.sec];
        size[i] = match (&item.kind, p.size) {
            (Kind::Label(_), _) => {
                label_at[names.defines[i]] = Some(i);
                0
            }
            (_, Some(s)) => s,
            (Kind::Insn(_), None) => jump_size(p, near[i]),
            (Kind::Align { .. }, None) => {
                regions[p.sec] += 1;
                align_pad(p.align, off[i])
            }
            (Kind::Org(..), None) => {
                regions[p.sec] += 1;
                0
            }
            _ => 0,
        };
        cur[p.sec] = cur[p.sec].saturating_add(size[i]).min(MAX_IMAGE + 1);
    }
    // Symbol values as of the last pass, all sections counted from 0 (only distances matter here).
    let mut syms: Vec<Option<i64>> = vec![None; names.len()];
    for (i, item) in items.iter().enumerate() {
        if let Kind::Label(_) = &item.kind {
            syms[names.defines[i]] = Some(off[i] as i64);
        }
    }
    // The names a jump's target expression holds (one buffer for all of them).
    let mut in_target: Vec<&str> = Vec::new();
    // By name number: has this pass gone past its definition yet?
    let mut visited = vec![false; names.len()];
    for _ in 0..MAX_PASSES {
        if !budget.spend(pass) {
            return false;
        }
        let mut stretch = vec![0i64; nsec];
        let mut stretched = false;
        visited.fill(false);
        for (i, (item, p)) in items.iter().zip(preps).enumerate() {
            let new = (off[i] as i64 + stretch[p.sec]).clamp(0, MAX_IMAGE as i64 + 1) as u32;
            off[i] = new;
            let def = names.defines[i];
            let lookup = |s: &str| names.id(s).and_then(|i| syms[i]);
            let growth: i64 = match &item.kind {
                Kind::Label(_) => {
                    syms[def] = Some(new as i64);
                    visited[def] = true;
                    0
                }
                Kind::Assign(_, e) => {
                    if let Ok(v) = expr::eval(e, &lookup, new as i64) {
                        syms[def] = Some(v);
                    }
                    visited[def] = true;
                    0
                }
                Kind::Insn(insn) if p.relax.is_some() && !near[i] => {
                    let Some(e) = insn.ops.first().and_then(|o| o.expr()) else {
                        continue;
                    };
                    let Ok(mut target) = expr::eval(e, &lookup, new as i64) else {
                        continue;
                    };
                    in_target.clear();
                    syms_of(e, &mut in_target);
                    // A name never defined counts as ahead, as one not reached yet.
                    let ahead = in_target.iter().find(|n| !names.id(n).is_some_and(|j| visited[j]));
                    let address = new as i64 + 1; // GNU as measures from the displacement byte
                    let st = stretch[p.sec];
                    let mut skip = false;
                    if let (Some(name), true) = (ahead, st != 0) {
                        let same_region = names.id(name).and_then(|j| label_at[j]).is_some_and(|j| region[j] == region[i]);
                        if st < 0 || same_region {
                            target += st;
                        } else if target < address {
                            skip = true;
                        }
                    }
                    let aim = target - address;
                    if !skip && !(-127..=128).contains(&aim) {
                        near[i] = true;
                        jump_size(p, true) as i64 - jump_size(p, false) as i64
                    } else {
                        0
                    }
                }
                Kind::Align { .. } if p.size.is_none() => align_pad(p.align, new) as i64 - size[i] as i64,
                Kind::Org(target, _) => {
                    let t = expr::eval(target, &lookup, new as i64).unwrap_or(new as i64);
                    (t - new as i64).max(0) - size[i] as i64
                }
                Kind::Space(count, _) if p.size.is_none() => {
                    expr::eval(count, &lookup, new as i64).unwrap_or(0).clamp(0, MAX_IMAGE as i64 + 1) - size[i] as i64
                }
                _ => 0,
            };
            if growth != 0 {
                size[i] = (size[i] as i64 + growth).clamp(0, MAX_IMAGE as i64 + 1) as u32;
                stretch[p.sec] += growth;
                stretched = true;
            }
        }
        if !stretched {
            break;
        }
    }
    true
}

/// What laying out `item` once costs, in steps: one, plus the names it defines and the expressions
/// it holds (a pass enters each name and evaluates each expression).
fn weight(item: &Item) -> usize {
    let exprs = |es: &[&Expr]| es.iter().map(|e| expr::weight(e)).sum::<usize>();
    1 + match &item.kind {
        // Entered in the symbols, compared with the last pass's, copied for `.set`.
        Kind::Label(name) => 8 + name.len(),
        Kind::Assign(name, e) => name.len() + expr::weight(e),
        Kind::Section(name, _) => name.len(),
        Kind::Data(_, values) => values.iter().map(expr::weight).sum(),
        Kind::Space(a, b) | Kind::Org(a, b) => exprs(&[a, b]),
        Kind::Fill(a, b, c) => exprs(&[a, b, c]),
        Kind::Align { align, fill, max, .. } => expr::weight(align) + fill.iter().chain(max).map(expr::weight).sum::<usize>(),
        // Its operands looked at, and (for a jump) its target's names looked up.
        Kind::Insn(insn) => 6 + insn.ops.iter().filter_map(|o| o.expr()).map(expr::weight).sum::<usize>(),
        Kind::Bytes(_) | Kind::Prefix(_) => 0,
    }
}

/// What to do when the layout runs out of work: the passes are what it pays for.
const LAYOUT_FIX: &str = "laying out needs too many passes over too many items; make the program \
                          shorter, or give the jumps and `.org`/`.space` sizes that depend on later \
                          labels fewer ways to move each other";

/// Lay out and encode the parsed items. Each pass over them is paid from `budget`; `errors` may
/// already hold some, and gets the layout's own.
pub fn assemble_items(items: &[Item], origin: u32, budget: &mut Budget, mut errors: Errors) -> Result<Program, Vec<AsmError>> {
    let out_of_work = |mut errors: Errors| {
        errors.push_limit(budget::out_of_work(0, LAYOUT_FIX));
        Err(errors.into_sorted())
    };
    // Every pass below costs the same: all the items, each by its weight; the first reading and
    // the emission also encode every instruction.
    let pass: usize = items.iter().map(weight).sum();
    let encodes = budget::ENCODE_STEPS * items.iter().filter(|i| matches!(i.kind, Kind::Insn(_))).count();
    if !budget.spend(pass + encodes) {
        return out_of_work(errors);
    }
    // Items that failed here are reported and take no space; laying out the rest still finds
    // their undefined symbols, so a student sees every mistake at once.
    let names = Names::of(items);
    let (preps, secs, label_sec) = prepare(items, &names, &mut errors);
    // A jump to a label in another section is never relaxed: GNU as leaves those to the linker.
    let mut near: Vec<bool> = items
        .iter()
        .zip(&preps)
        .map(|(item, p)| match (&item.kind, p.relax) {
            (Kind::Insn(insn), Some(_)) => {
                let mut in_target = Vec::new();
                if let Some(e) = insn.ops.first().and_then(|o| o.expr()) {
                    syms_of(e, &mut in_target);
                }
                in_target.iter().any(|n| names.id(n).and_then(|j| label_sec[j]).is_some_and(|s| s != p.sec))
            }
            _ => false,
        })
        .collect();
    let nsec = secs.len();
    if !relax_like_gas(items, &names, &preps, nsec, &mut near, budget, pass) {
        return out_of_work(errors);
    }
    let mut prev: Vec<Option<i64>> = vec![None; names.len()];
    let mut bases = vec![origin; nsec];
    let mut converged = false;
    // The sizes of the last two walks: where they differ is what keeps the layout from settling.
    let (mut sizes, mut last_sizes) = (Vec::new(), Vec::new());
    for _ in 0..MAX_PASSES {
        if !budget.spend(pass) {
            return out_of_work(errors);
        }
        let w = walk(items, &names, &preps, &near, &prev, &bases, nsec, None);
        let new_bases = place_sections(origin, &secs, &w.sec_sizes);
        let mut changed = w.syms != prev || new_bases != bases;
        // `.set` may give a symbol new values as the source goes on: track them in order.
        let mut cur = w.syms.clone();
        for (i, (item, p)) in items.iter().zip(&preps).enumerate() {
            if let Kind::Assign(_, e) = &item.kind {
                let lookup = |s: &str| names.id(s).and_then(|j| cur[j]);
                if let Ok(v) = expr::eval(e, &lookup, w.addrs[i] as i64) {
                    cur[names.defines[i]] = Some(v);
                }
            }
            if p.relax.is_none() || near[i] {
                continue;
            }
            let Kind::Insn(insn) = &item.kind else {
                continue;
            };
            let Some(e) = insn.ops.first().and_then(|o| o.expr()) else {
                continue;
            };
            let lookup = |s: &str| names.id(s).and_then(|j| cur[j]);
            let Ok(target) = expr::eval(e, &lookup, w.addrs[i] as i64) else {
                continue;
            };
            let d = target - (w.addrs[i] as i64 + 2);
            if !(-128..=127).contains(&d) {
                near[i] = true;
                changed = true;
            }
        }
        prev = w.syms;
        bases = new_bases;
        last_sizes = std::mem::replace(&mut sizes, w.sizes);
        if !changed {
            converged = true;
            break;
        }
    }
    if !converged {
        // Name the first item whose size still changed on the last pass (the line of the first
        // item if only the symbols moved).
        let moving = sizes.iter().zip(&last_sizes).position(|(a, b)| a != b).unwrap_or(0);
        let line = items.get(moving).map_or(0, |item| item.line);
        errors.push(AsmError::at(
            line,
            None,
            format!(
                "layout did not settle after {MAX_PASSES} passes: the size here keeps changing \
                 (do .org or .space depend on later labels?)"
            ),
        ));
        return Err(errors.into_sorted());
    }

    // The final walk reports undefined symbols and bad .org; then every item is emitted.
    if !budget.spend(pass) {
        return out_of_work(errors);
    }
    let w = walk(items, &names, &preps, &near, &prev, &bases, nsec, Some(&mut errors));
    // Where each item ends, counted from the origin (sections follow one another from it).
    let item_end = |i: usize, p: &Prep| {
        let base = bases.get(p.sec).copied().unwrap_or(origin);
        (base as u64 - origin as u64) + w.addrs[i].wrapping_sub(base) as u64 + w.sizes[i] as u64
    };
    let end = bases.iter().zip(&w.sec_sizes).map(|(b, s)| *b as u64 + *s as u64).max().unwrap_or(origin as u64);
    let total = end.saturating_sub(origin as u64);
    if total > MAX_IMAGE as u64 {
        let over = preps.iter().enumerate().position(|(i, p)| item_end(i, p) > MAX_IMAGE as u64);
        let line = over.and_then(|i| items.get(i)).map_or(0, |item| item.line);
        errors.push(AsmError::at(
            line,
            None,
            format!(
                "the program grows to more than {MAX_IMAGE} bytes here, the most the assembler \
                 allows: make its `.space`, `.fill`, `.org` and `.align` sizes smaller, or the \
                 `.rept` counts that repeat them"
            ),
        ));
        return Err(errors.into_sorted());
    }
    if end > 1 << 32 {
        errors.push(AsmError::at(
            0,
            None,
            format!(
                "the program runs past the top of the 32-bit address space ({total} bytes from \
                 {origin:#x}): load it at a lower address"
            ),
        ));
        return Err(errors.into_sorted());
    }
    if !budget.spend(pass + encodes) {
        return out_of_work(errors);
    }
    let mut image = vec![0u8; total as usize];
    // The address map, one list per section: within a section addresses only grow, and the
    // sections lie one after another in order, so joining the lists sorts the map in O(n).
    let mut lines_of: Vec<Vec<(u32, usize)>> = vec![Vec::new(); nsec];
    // Symbols as they stand at each point: `.set` may change one as the source goes on.
    let mut cur = w.syms.clone();
    for (i, (item, p)) in items.iter().zip(&preps).enumerate() {
        let (addr, size) = (w.addrs[i], w.sizes[i]);
        if let Kind::Assign(_, e) = &item.kind {
            let lookup = |s: &str| names.id(s).and_then(|j| cur[j]);
            if let Ok(v) = expr::eval(e, &lookup, addr as i64) {
                cur[names.defines[i]] = Some(v);
            }
            continue;
        }
        let lookup = |s: &str| names.id(s).and_then(|j| cur[j]);
        let err = |m: String| AsmError::at(item.line, Some(item.col), m);
        let eval = |e: &Expr| expr::eval(e, &lookup, addr as i64);
        let bytes: Vec<u8> = match &item.kind {
            Kind::Label(_) | Kind::Assign(..) | Kind::Section(..) => continue,
            Kind::Insn(insn) => {
                if p.dead {
                    continue;
                }
                let mut vals = Vec::new();
                let mut failed = false;
                for (op, k) in insn.ops.iter().zip(&p.known) {
                    let v = match op.expr() {
                        Some(e) => match eval(e) {
                            Ok(v) => v,
                            Err(m) => {
                                errors.push(err(m));
                                failed = true;
                                0
                            }
                        },
                        None => 0,
                    };
                    vals.push(Val { v, known: k.is_some() });
                }
                if failed {
                    continue;
                }
                match encode::encode(insn, &vals, addr, near[i] || p.relax.is_none()) {
                    Ok(b) if b.len() as u32 == size => b,
                    Ok(b) => {
                        errors.push(err(format!("internal error: `{}` changed size ({} to {} bytes)", insn.mnemonic, size, b.len())));
                        continue;
                    }
                    Err(m) => {
                        errors.push(err(m));
                        continue;
                    }
                }
            }
            Kind::Data(width, values) => {
                let mut b = Vec::with_capacity(size as usize);
                for e in values {
                    let v = match eval(e) {
                        Ok(v) => v,
                        Err(m) => {
                            errors.push(err(m));
                            0
                        }
                    };
                    if *width < 4 && !fits_width(v, *width) {
                        errors.push(err(format!("value {v:#x} does not fit in {} bits", *width as u32 * 8)));
                    }
                    b.extend_from_slice(&v.to_le_bytes()[..*width as usize]);
                }
                b
            }
            Kind::Bytes(bytes) => bytes.clone(),
            Kind::Prefix(b) => vec![*b],
            Kind::Space(_, fill) => {
                let f = eval(fill).unwrap_or(0);
                if !fits_width(f, 1) {
                    errors.push(err(format!("fill value {f:#x} does not fit in a byte")));
                }
                vec![f as u8; size as usize]
            }
            Kind::Fill(_, sz, value) => {
                let s = eval(sz).unwrap_or(1).clamp(0, 8) as usize;
                let mut one = (eval(value).unwrap_or(0) as u32 as u64).to_le_bytes().to_vec();
                one.truncate(s);
                match (size as usize).checked_div(s) {
                    Some(n) => one.repeat(n),
                    None => Vec::new(),
                }
            }
            Kind::Align { .. } => match p.align {
                Some((_, fill, _)) if secs[p.sec].code && fill.is_none_or(|f| f == 0x90) => nops(size as usize),
                Some((_, fill, _)) => vec![fill.unwrap_or(0); size as usize],
                None => continue,
            },
            Kind::Org(_, fill) => vec![eval(fill).unwrap_or(0) as u8; size as usize],
        };
        if bytes.is_empty() {
            continue;
        }
        let at = (addr as u64).saturating_sub(origin as u64) as usize;
        if let Some(dst) = image.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(&bytes);
        }
        if !matches!(item.kind, Kind::Align { .. } | Kind::Org(..)) {
            if let Some(list) = lines_of.get_mut(p.sec) {
                list.push((addr, item.line));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors.into_sorted());
    }
    let lines: Vec<(u32, usize)> = lines_of.into_iter().flatten().collect();
    // Inserted one by one: a collect() into a BTreeMap sorts first with std's stable sort, which the size
    // work keeps out of the page (tests/bench/size.mjs --symbols).
    let mut symbols: BTreeMap<String, u32> = BTreeMap::new();
    for (k, v) in names.names.iter().zip(&w.syms) {
        if let Some(v) = v.filter(|_| !k.starts_with(super::parse::LOCAL_PREFIX)) {
            symbols.insert(k.to_string(), v as u32);
        }
    }
    let entry = symbols.get("_start").or_else(|| symbols.get("start")).copied().unwrap_or(origin);
    let sections = secs.iter().enumerate().map(|(i, s)| Section { name: s.name.clone(), start: bases[i], size: w.sec_sizes[i], align: s.align }).collect();
    Ok(Program { image, origin, entry, symbols, lines, sections })
}

#[cfg(test)]
mod tests {
    use super::nops;

    #[test]
    fn nop_padding_matches_gnu_as() {
        // From `as --32` 2.40: `.balign 64` after 64-n bytes.
        assert_eq!(nops(3), [0x8d, 0x76, 0x00]);
        assert_eq!(nops(9), [0x8d, 0xb4, 0x26, 0, 0, 0, 0, 0x66, 0x90]);
        assert_eq!(nops(21)[..2], [0xeb, 0x13]);
        assert_eq!(nops(21).len(), 21);
    }
}
