//! The second step: tokens to items, the assembler's own view of each statement.
//!
//! An item is a label, a symbol assignment, a directive or one instruction with its operands in
//! AT&T order (source first, destination last). Numeric local labels (`1:`, referenced as `1f` or
//! `1b`) are renamed here to unique private names, so later steps see only ordinary symbols.
//! Nothing is encoded yet: see `layout.rs` for addresses and `encode.rs` for bytes.

use std::borrow::Cow;
use std::collections::HashMap;

use iced_x86::Register;

use super::budget::{self, Budget, Errors};
use super::expr::{self, Class, Expr};
use super::lex::{split_statements, tokenize, Stmt, Tok};
use super::{mnemonics, nearest, AsmError};
use crate::params::{ASM_MAX_INCLUDE_NESTING, ASM_MAX_ITEMS, ASM_MAX_REPT_NESTING};

/// Numeric local labels become `<prefix><n>_<k>` (the k-th definition of `n`): a name no source can spell.
pub const LOCAL_PREFIX: &str = ".L\u{1}";

#[derive(Debug, Clone, PartialEq)]
pub struct Mem {
    pub seg: Option<Register>,
    pub base: Option<Register>,
    pub index: Option<Register>,
    pub scale: u32,
    pub disp: Option<Expr>,
}

impl Mem {
    /// A bare address such as `msg` or `0x1000`: no base, no index.
    pub fn is_absolute(&self) -> bool {
        self.base.is_none() && self.index.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Reg(Register),
    /// `$expr`
    Imm(Expr),
    Mem(Mem),
    /// `*operand`: the target of an indirect `jmp` or `call`.
    Star(Box<Operand>),
}

impl Operand {
    /// The one expression an operand may hold (an immediate or a displacement).
    pub fn expr(&self) -> Option<&Expr> {
        match self {
            Operand::Imm(e) => Some(e),
            Operand::Mem(m) => m.disp.as_ref(),
            Operand::Star(o) => o.expr(),
            Operand::Reg(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Insn {
    /// Lower-case mnemonic as written, suffix included (`movl`).
    pub mnemonic: String,
    /// Prefix bytes written on the same statement (`rep`, `lock`).
    pub prefixes: Vec<u8>,
    pub ops: Vec<Operand>,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Label(String),
    /// `sym = expr`, `.equ sym, expr`, `.set sym, expr`
    Assign(String, Expr),
    /// `.text`, `.data`, `.section name`
    Section(String, bool),
    /// `.byte`/`.word`/`.long`/`.quad`: each value stored in `width` bytes.
    Data(u8, Vec<Expr>),
    /// `.ascii`, `.asciz`
    Bytes(Vec<u8>),
    /// `.space count, fill`
    Space(Expr, Expr),
    /// `.fill repeat, size, value`
    Fill(Expr, Expr, Expr),
    /// `.balign`/`.align` (bytes) and `.p2align` (a power of two); fill and a maximum to skip.
    Align {
        align: Expr,
        pow2: bool,
        fill: Option<Expr>,
        max: Option<Expr>,
    },
    /// `.org offset, fill`
    Org(Expr, Expr),
    Insn(Insn),
    /// A prefix on a statement of its own (`rep; movsb`): GNU as emits the byte by itself.
    Prefix(u8),
}

#[derive(Debug, Clone)]
pub struct Item {
    pub line: usize,
    pub col: usize,
    pub kind: Kind,
}

/// `s` in lower case, copied only if it has capitals.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Prefix mnemonics and their bytes.
pub fn prefix_byte(m: &str) -> Option<u8> {
    Some(match m {
        "rep" | "repe" | "repz" => 0xf3,
        "repne" | "repnz" => 0xf2,
        "lock" => 0xf0,
        _ => return None,
    })
}

/// Register names as written after `%`.
pub fn register(name: &str) -> Option<Register> {
    use Register::*;
    Some(match name {
        "eax" => EAX,
        "ecx" => ECX,
        "edx" => EDX,
        "ebx" => EBX,
        "esp" => ESP,
        "ebp" => EBP,
        "esi" => ESI,
        "edi" => EDI,
        "ax" => AX,
        "cx" => CX,
        "dx" => DX,
        "bx" => BX,
        "sp" => SP,
        "bp" => BP,
        "si" => SI,
        "di" => DI,
        "al" => AL,
        "cl" => CL,
        "dl" => DL,
        "bl" => BL,
        "ah" => AH,
        "ch" => CH,
        "dh" => DH,
        "bh" => BH,
        "es" => ES,
        "cs" => CS,
        "ss" => SS,
        "ds" => DS,
        "fs" => FS,
        "gs" => GS,
        "cr0" => CR0,
        "cr2" => CR2,
        "cr3" => CR3,
        "cr4" => CR4,
        _ => return Option::None,
    })
}

type Toks<'a> = &'a [(Tok, usize)];

/// Split at commas outside parentheses (empty arguments stay, for `.p2align 4,,7`).
fn split_commas(toks: Toks) -> Vec<Toks> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, (t, _)) in toks.iter().enumerate() {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&toks[start..]);
    out
}

/// Every directive the assembler knows, for suggestions (the ones [`Parser::run`] handles first,
/// then [`Parser::directive`]'s).
const DIRECTIVES: &[&str] = &[
    ".if",
    ".ifne",
    ".ifeq",
    ".ifdef",
    ".ifndef",
    ".elseif",
    ".else",
    ".endif",
    ".rept",
    ".endr",
    ".include",
    ".text",
    ".data",
    ".bss",
    ".section",
    ".globl",
    ".global",
    ".local",
    ".weak",
    ".hidden",
    ".type",
    ".size",
    ".file",
    ".ident",
    ".code32",
    ".att_syntax",
    ".extern",
    ".loc",
    ".cfi_startproc",
    ".cfi_endproc",
    ".equ",
    ".set",
    ".equiv",
    ".byte",
    ".word",
    ".short",
    ".hword",
    ".value",
    ".long",
    ".int",
    ".quad",
    ".ascii",
    ".asciz",
    ".string",
    ".space",
    ".skip",
    ".fill",
    ".align",
    ".balign",
    ".p2align",
    ".org",
];

struct Parser<'a> {
    items: Vec<Item>,
    errors: &'a mut Errors,
    /// Pays for every statement handled and every `.rept` copy (see `budget.rs`).
    budget: &'a mut Budget,
    /// A limit was hit: stop reading, at once and everywhere.
    stopped: bool,
    /// The `.rept`s being expanded, outermost first: the line of each, and the file it is in (its
    /// place in `within`: a `.rept` run again for every copy of an outer one copies no name).
    repeating: Vec<(usize, Option<usize>)>,
    /// How many times each numeric local label has been defined so far.
    local_defs: HashMap<u32, u32>,
    /// Symbols assigned a plain number so far: what `.rept` and `.if` may use.
    consts: HashMap<String, i64>,
    /// Every symbol defined so far (for `.ifdef`), with the line of each label (None for a symbol
    /// assigned with `=`, `.equ` or `.set`), to report a label defined twice. One map, so that a
    /// label costs one copy of its name here.
    defined: HashMap<String, Option<usize>>,
    /// The suggestion already worked out for each unknown name (a `.rept` repeats the same one).
    guesses: HashMap<String, Option<String>>,
    /// Finds the text of an `.include`d file by name.
    include: &'a dyn Fn(&str) -> Option<String>,
    /// The files being included, innermost last, each with the line of the main source that
    /// included it (where its items and errors are reported).
    within: Vec<(String, usize)>,
}

/// The private name a reference to local label `n` means at this point of the source.
fn local_name(defs: &HashMap<u32, u32>, n: u32, forward: bool) -> String {
    let k = defs.get(&n).copied().unwrap_or(0);
    if forward {
        format!("{LOCAL_PREFIX}{n}_{}", k + 1)
    } else if k == 0 {
        format!("{LOCAL_PREFIX}{n}_b") // never defined: reported as `nb`
    } else {
        format!("{LOCAL_PREFIX}{n}_{k}")
    }
}

impl Parser<'_> {
    fn expr(&self, toks: Toks) -> Result<Expr, String> {
        expr::parse(toks, &mut |n, fwd| local_name(&self.local_defs, n, fwd))
    }

    /// One statement other than the conditionals and repetitions [`Parser::run`] handles, given
    /// its tokens.
    fn statement(&mut self, stmt: &Stmt, toks: &[(Tok, usize)]) -> Result<(), AsmError> {
        let err = |col: usize, msg: String| AsmError::at(stmt.line, Some(col), msg);
        let mut rest: Toks = toks;
        // Labels: `name:` or `1:`, any number of them before the statement proper.
        loop {
            match rest {
                [(Tok::Ident(name), col), (Tok::Punct(':'), _), ..] => {
                    if let Some(Some(first)) = self.defined.get(name) {
                        return Err(err(*col, format!("symbol `{name}` is already defined (line {first})")));
                    }
                    if !self.pay(stmt.line, budget::LABEL_STEPS + name.len()) {
                        return Ok(());
                    }
                    self.defined.insert(name.clone(), Some(stmt.line));
                    self.push(stmt.line, *col, Kind::Label(name.clone()));
                    rest = &rest[2..];
                }
                [(Tok::Num(n), col), (Tok::Punct(':'), _), ..] => {
                    let n = u32::try_from(*n).map_err(|_| err(*col, "local label number too large".into()))?;
                    *self.local_defs.entry(n).or_insert(0) += 1;
                    let name = local_name(&self.local_defs, n, false);
                    self.push(stmt.line, *col, Kind::Label(name));
                    rest = &rest[2..];
                }
                _ => break,
            }
        }
        let Some((first, col)) = rest.first() else {
            return Ok(());
        };
        let col = *col;
        let name = match first {
            Tok::Ident(s) => s.as_str(),
            t => {
                return Err(err(
                    col,
                    format!(
                        "expected an instruction, a directive or a label, found `{t}` \
                         (a label ends with `:`, a directive starts with `.`)"
                    ),
                ))
            }
        };
        if let Some((Tok::Punct('='), _)) = rest.get(1) {
            let e = self.expr(&rest[2..]).map_err(|m| err(col, m))?;
            return self.assign(stmt, col, name.to_string(), e);
        }
        if name.starts_with('.') {
            return self.directive(stmt, col, &lower(name), &rest[1..]);
        }
        let mut mnemonic = name.to_ascii_lowercase();
        let mut prefixes = Vec::new();
        let mut ops: Toks = &rest[1..];
        while let Some(p) = prefix_byte(&mnemonic) {
            match ops.first() {
                None => {
                    // A prefix alone: emitted as its own byte, exactly as GNU as does.
                    for b in prefixes.iter().copied().chain([p]) {
                        self.push(stmt.line, col, Kind::Prefix(b));
                    }
                    return Ok(());
                }
                Some((Tok::Ident(next), _)) => {
                    prefixes.push(p);
                    mnemonic = next.to_ascii_lowercase();
                    ops = &ops[1..];
                }
                Some((t, c)) => return Err(err(*c, format!("expected an instruction after `{mnemonic}`, found `{t}`"))),
            }
        }
        if mnemonics::lookup(&mnemonic).is_none() {
            let hint = self.guess(&mnemonic, || {
                let mut near = nearest::Nearest::new(&mnemonic);
                mnemonics::each_spelling(near.lengths(), &mut |name| near.offer(name));
                nearest::did_you_mean(&near.names())
            });
            let hint = hint.unwrap_or_else(|| {
                "the Guest assembler knows the integer instructions of a 32-bit x86 \
                 (no floating point, SIMD or 64-bit ones)"
                    .into()
            });
            return Err(err(col, format!("unknown instruction `{mnemonic}`: {hint}")));
        }
        let mut operands = Vec::new();
        if !ops.is_empty() {
            for part in split_commas(ops) {
                let c = part.first().map(|(_, c)| *c).unwrap_or(col);
                operands.push(self.operand(part).map_err(|m| err(c, m))?);
            }
        }
        self.push(stmt.line, col, Kind::Insn(Insn { mnemonic, prefixes, ops: operands }));
        Ok(())
    }

    /// The suggestion for an unknown `name`, worked out by `work` once per name, and not at all
    /// once the error list is full (nobody would read it).
    fn guess(&mut self, name: &str, work: impl FnOnce() -> Option<String>) -> Option<String> {
        if let Some(g) = self.guesses.get(name) {
            return g.clone();
        }
        if self.errors.is_full() {
            return None;
        }
        let g = work();
        self.guesses.insert(name.to_string(), g.clone());
        g
    }

    fn push(&mut self, line: usize, col: usize, kind: Kind) {
        if self.stopped {
            return;
        }
        if self.items.len() >= ASM_MAX_ITEMS {
            let fix = self.fix("make the program shorter");
            self.report_limit(budget::too_many_items(line, &fix));
            self.stopped = true;
            return;
        }
        // What an included file produces belongs to the `.include` line of the main source.
        let line = self.within.first().map_or(line, |w| w.1);
        self.items.push(Item { line, col, kind });
    }

    /// Pay `steps` of work for something at `line`; false (with the error reported) once the budget
    /// is gone, and the reading stops.
    fn pay(&mut self, line: usize, steps: usize) -> bool {
        if self.stopped {
            return false;
        }
        if !self.budget.spend(steps) {
            let fix = self.fix("the source is too long: make it shorter");
            self.report_limit(budget::out_of_work(line, &fix));
            self.stopped = true;
        }
        !self.stopped
    }

    /// What to change when a limit is hit: the outermost `.rept` being expanded multiplies all the
    /// rest, so it is the one to name; `otherwise` when no `.rept` is running.
    fn fix(&self, otherwise: &str) -> String {
        match self.repeating.first() {
            Some((line, None)) => format!("make the count of the `.rept` at line {line} smaller"),
            Some((line, Some(f))) => {
                let file = self.within.get(*f).map_or("", |w| w.0.as_str());
                format!("make the count of the `.rept` at line {line} of {file} smaller")
            }
            None => otherwise.to_string(),
        }
    }

    /// Record the error of a limit that stopped the reading (kept even when the list is full).
    fn report_limit(&mut self, e: AsmError) {
        let e = self.in_file(e);
        self.errors.push_limit(e);
    }

    /// Record an error; one inside an included file names the file and its line there.
    fn report(&mut self, e: AsmError) {
        // Naming the file copies its name, which may be long, and a `.rept` in the file may repeat
        // the mistake for every copy: paid like the rest.
        let name = self.within.last().map_or(0, |w| w.0.len());
        if name > 0 && !self.pay(e.line, name) {
            return;
        }
        let e = self.in_file(e);
        self.errors.push(e);
    }

    /// An error as the main source shows it: one inside an included file is put at the
    /// `.include` line, and names the file and its line there.
    fn in_file(&self, e: AsmError) -> AsmError {
        match (self.within.first(), self.within.last()) {
            (Some((_, outer)), Some((file, _))) => AsmError { line: *outer, column: None, message: format!("in {file}, line {}: {}", e.line, e.message) },
            _ => e,
        }
    }

    fn assign(&mut self, stmt: &Stmt, col: usize, name: String, e: Expr) -> Result<(), AsmError> {
        if let Some(Some(first)) = self.defined.get(&name) {
            return Err(AsmError::at(stmt.line, Some(col), format!("symbol `{name}` is already defined as a label (line {first})")));
        }
        let lookup = |s: &str| self.consts.get(s).map_or(Class::Unknown, |v| Class::Abs(*v));
        match expr::classify(&e, &lookup, Class::Unknown) {
            Class::Abs(v) => self.consts.insert(name.clone(), v),
            _ => self.consts.remove(&name),
        };
        if !self.defined.contains_key(&name) {
            self.defined.insert(name.clone(), None);
        }
        self.push(stmt.line, col, Kind::Assign(name, e));
        Ok(())
    }

    /// A value that must be known while reading: a `.rept` count or an `.if` condition.
    fn constant(&self, toks: Toks) -> Result<i64, String> {
        let e = self.expr(toks)?;
        let lookup = |s: &str| self.consts.get(s).map_or(Class::Unknown, |v| Class::Abs(*v));
        match expr::classify(&e, &lookup, Class::Unknown) {
            Class::Abs(v) => Ok(v),
            _ => Err("needs a constant: numbers, and symbols set to numbers earlier".into()),
        }
    }

    /// Handle a list of statements: conditionals (`.if`/`.ifdef`/`.ifndef`/`.else`/`.endif`) and
    /// repetition (`.rept`/`.endr`) here, everything else by [`Parser::statement`]. `ends[i]`, for a
    /// `.rept` at `i`, is how far ahead its `.endr` is ([`block_ends`], worked out once per file so a
    /// `.rept` inside another one is not searched again for every copy).
    fn run(&mut self, stmts: &[Stmt], ends: &[Option<usize>], depth: usize) {
        // For each open `.if`: is its current branch active, has a branch been taken, its line. A
        // branch can only be active inside an active one, so the innermost says whether we are in
        // an active branch (one look, not a walk over every open level).
        let mut conds: Vec<(bool, bool, usize)> = Vec::new();
        let mut i = 0;
        while i < stmts.len() {
            let s = &stmts[i];
            let at = i;
            i += 1;
            // Handling a statement is linear in its characters and tokens: pay for them.
            if !self.pay(s.line, budget::STATEMENT_STEPS + s.text.len()) {
                return;
            }
            let active = conds.last().is_none_or(|c| c.0);
            let toks = match tokenize(s) {
                Ok(t) => t,
                Err(e) => {
                    if active {
                        self.report(e);
                    }
                    continue;
                }
            };
            let (operators, names) = toks.iter().fold((0, 0), |(o, n), (t, _)| match t {
                Tok::Ident(_) => (o, n + 1),
                t if is_operator(t) => (o + 1, n),
                _ => (o, n),
            });
            let steps = budget::TOKEN_STEPS * toks.len() + budget::OPERATOR_STEPS * operators + budget::NAME_STEPS * names;
            if !self.pay(s.line, steps) {
                return;
            }
            // Lower-cased only when it has capitals: most statements don't, and this is per statement.
            let word: Cow<str> = match toks.first() {
                Some((Tok::Ident(w), _)) => lower(w),
                _ => Cow::Borrowed(""),
            };
            let args = toks.get(1..).unwrap_or(&[]);
            let err = |m: String| AsmError::at(s.line, Some(s.col), m);
            let test = |p: &Parser| -> Result<bool, AsmError> {
                match &*word {
                    ".ifdef" | ".ifndef" => match args {
                        [(Tok::Ident(sym), _)] => Ok(p.defined.contains_key(sym) == (word == ".ifdef")),
                        _ => Err(err(format!("`{word}` needs one symbol name"))),
                    },
                    ".ifeq" => p.constant(args).map(|v| v == 0).map_err(|m| err(format!("{word}: {m}"))),
                    _ => p.constant(args).map(|v| v != 0).map_err(|m| err(format!("{word}: {m}"))),
                }
            };
            match &*word {
                ".if" | ".ifne" | ".ifeq" | ".ifdef" | ".ifndef" => {
                    let taken = if active {
                        test(self).unwrap_or_else(|e| {
                            self.report(e);
                            false
                        })
                    } else {
                        false
                    };
                    // Inside an inactive branch nothing is taken, and no `.else` may wake it.
                    conds.push((taken, taken || !active, s.line));
                }
                ".elseif" | ".else" => match conds.last().copied() {
                    None => self.report(err(format!("`{word}` without `.if`"))),
                    Some((_, done, line)) => {
                        let take = !done
                            && (word == ".else"
                                || test(self).unwrap_or_else(|e| {
                                    self.report(e);
                                    false
                                }));
                        if let Some(c) = conds.last_mut() {
                            *c = (take, done || take, line);
                        }
                    }
                },
                ".endif" => {
                    if conds.pop().is_none() {
                        self.report(err("`.endif` without `.if`".into()));
                    }
                }
                _ if !active => {}
                ".rept" => {
                    let Some(len) = ends.get(at).copied().flatten() else {
                        self.report(err("`.rept` without `.endr`".into()));
                        return;
                    };
                    // The body runs to the matching `.endr`.
                    let body = stmts.get(i..at + len).unwrap_or(&[]);
                    let body_ends = ends.get(i..at + len).unwrap_or(&[]);
                    i = at + len + 1;
                    if depth >= ASM_MAX_REPT_NESTING {
                        self.report(err(format!(
                            "`.rept` nested more than {ASM_MAX_REPT_NESTING} deep: unroll the \
                             innermost ones, or multiply their counts into one"
                        )));
                        continue;
                    }
                    match self.constant(args) {
                        Ok(n) => {
                            let file = self.within.len().checked_sub(1);
                            self.repeating.push((s.line, file));
                            // Each copy costs steps even when the body is empty (or all
                            // comments): `.rept 4000000000` with nothing in it still ends.
                            for _ in 0..n.max(0) {
                                if !self.pay(s.line, budget::REPT_COPY_STEPS) {
                                    break;
                                }
                                self.run(body, body_ends, depth + 1);
                                if self.stopped {
                                    break;
                                }
                            }
                            self.repeating.pop();
                        }
                        Err(m) => self.report(err(format!(".rept: {m}"))),
                    }
                }
                ".endr" => self.report(err("`.endr` without `.rept`".into())),
                ".include" => match args {
                    [(Tok::Str(name), _)] => {
                        let name = String::from_utf8_lossy(name).into_owned();
                        if self.within.len() >= ASM_MAX_INCLUDE_NESTING {
                            self.report(err(format!(
                                "`.include` nested more than {ASM_MAX_INCLUDE_NESTING} deep \
                                 (does a file include itself?)"
                            )));
                        } else if let Some(text) = (self.include)(&name) {
                            // Reading the file is linear in its length, each time it is included.
                            if !self.pay(s.line, text.len()) {
                                return;
                            }
                            let outer = self.within.first().map_or(s.line, |w| w.1);
                            let (inner, errors) = split_statements(&text);
                            let inner_ends = block_ends(&inner);
                            self.within.push((name, outer));
                            for e in errors {
                                self.report(e);
                            }
                            self.run(&inner, &inner_ends, depth);
                            self.within.pop();
                        } else {
                            self.report(err(format!("cannot find `{name}` to include")));
                        }
                    }
                    _ => self.report(err("`.include` needs a quoted file name".into())),
                },
                _ => {
                    if let Err(e) = self.statement(s, &toks) {
                        self.report(e);
                    }
                }
            }
            if self.stopped {
                return;
            }
        }
        if let Some((_, _, line)) = conds.last() {
            self.report(AsmError::at(*line, None, "`.if` without `.endif`"));
        }
    }

    fn operand(&self, toks: Toks) -> Result<Operand, String> {
        // GNU as refuses `=` inside instruction operands (`<`, `>`, `&&`, `||` are fine).
        if let Some((Tok::Op2(op), _)) = toks.iter().find(|(t, _)| matches!(t, Tok::Op2(op) if op.contains('='))) {
            return Err(format!("`{op}` can't be used in an instruction operand: compute it with `.equ` first"));
        }
        match toks {
            [] => Err("missing operand".into()),
            [(Tok::Punct('$'), _), rest @ ..] => Ok(Operand::Imm(self.expr(rest)?)),
            [(Tok::Punct('*'), _), (Tok::Punct('*'), _), ..] => Err("`*` written twice".into()),
            [(Tok::Punct('*'), _), rest @ ..] => Ok(Operand::Star(Box::new(self.operand(rest)?))),
            [(Tok::Reg(r), _)] => register(r).map(Operand::Reg).ok_or_else(|| format!("bad register `%{r}`")),
            [(Tok::Reg(r), _), (Tok::Punct(':'), _), rest @ ..] => {
                let seg = register(r).filter(|r| r.is_segment_register());
                let seg = seg.ok_or_else(|| format!("`%{r}` is not a segment register"))?;
                if matches!(rest, [(Tok::Punct('$' | '*'), _), ..] | [(Tok::Reg(_), _), ..]) {
                    return Err("a segment override needs a memory operand".into());
                }
                let m = self.memory(rest)?;
                Ok(Operand::Mem(Mem { seg: Some(seg), ..m }))
            }
            _ => self.memory(toks).map(Operand::Mem),
        }
    }

    /// `disp(%base,%index,scale)`, `(%base)`, `disp`, `(,%index,scale)`.
    fn memory(&self, toks: Toks) -> Result<Mem, String> {
        let mut mem = Mem { seg: None, base: None, index: None, scale: 1, disp: None };
        let mut disp_toks = toks;
        if let Some((Tok::Punct(')'), _)) = toks.last() {
            // Find the `(` that matches the final `)`.
            let mut depth = 0;
            let mut open = None;
            for i in (0..toks.len()).rev() {
                match toks[i].0 {
                    Tok::Punct(')') => depth += 1,
                    Tok::Punct('(') => {
                        depth -= 1;
                        if depth == 0 {
                            open = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let open = open.ok_or("unbalanced parentheses")?;
            let inner = &toks[open + 1..toks.len() - 1];
            if matches!(inner.first(), Some((Tok::Reg(_), _)) | Some((Tok::Punct(','), _))) {
                disp_toks = &toks[..open];
                let parts = split_commas(inner);
                if parts.len() > 3 {
                    return Err("too many parts in a memory operand".into());
                }
                let reg = |p: Toks| -> Result<Option<Register>, String> {
                    match p {
                        [] => Ok(None),
                        [(Tok::Reg(r), _)] => register(r).map(Some).ok_or_else(|| format!("bad register `%{r}`")),
                        _ => Err("expected a register inside `(...)`".into()),
                    }
                };
                mem.base = reg(parts[0])?;
                if let Some(p) = parts.get(1) {
                    mem.index = reg(p)?;
                    if mem.index.is_none() {
                        return Err("missing index register after `,`".into());
                    }
                }
                if let Some(p) = parts.get(2) {
                    let s = expr::eval(&self.expr(p)?, &|_| None, 0).map_err(|_| "scale must be a number".to_string())?;
                    if ![1, 2, 4, 8].contains(&s) {
                        return Err(format!("scale factor of {s} is not 1, 2, 4 or 8"));
                    }
                    mem.scale = s as u32;
                }
            }
        }
        if !disp_toks.is_empty() {
            mem.disp = Some(self.expr(disp_toks)?);
        }
        Ok(mem)
    }

    fn directive(&mut self, stmt: &Stmt, col: usize, name: &str, args: Toks) -> Result<(), AsmError> {
        let err = |m: String| AsmError::at(stmt.line, Some(col), m);
        let list = if args.is_empty() { Vec::new() } else { split_commas(args) };
        let exprs = |p: &Parser| -> Result<Vec<Expr>, AsmError> { list.iter().map(|a| p.expr(a).map_err(|m| err(format!("{name}: {m}")))).collect() };
        let arg = |p: &Parser, i: usize| -> Result<Option<Expr>, AsmError> {
            match list.get(i) {
                Some(a) if !a.is_empty() => p.expr(a).map(Some).map_err(|m| err(format!("{name}: {m}"))),
                _ => Ok(None),
            }
        };
        let kind = match name {
            ".text" | ".data" | ".bss" => Kind::Section(name.to_string(), name == ".text"),
            ".section" => {
                let sec = match list.first().and_then(|a| a.first()) {
                    Some((Tok::Ident(s), _)) => s.clone(),
                    Some((Tok::Str(s), _)) => String::from_utf8_lossy(s).into_owned(),
                    _ => return Err(err(".section needs a name".into())),
                };
                let flags = match list.get(1).and_then(|a| a.first()) {
                    Some((Tok::Str(f), _)) => f.contains(&b'x'),
                    _ => sec == ".text" || sec.starts_with(".text."),
                };
                Kind::Section(sec, flags)
            }
            ".globl" | ".global" | ".local" | ".weak" | ".hidden" | ".type" | ".size" | ".file" | ".ident" | ".code32" | ".att_syntax" | ".extern" | ".loc"
            | ".cfi_startproc" | ".cfi_endproc" => return Ok(()),
            ".code16" | ".code64" | ".intel_syntax" => return Err(err(format!("`{name}` is not supported: Guest programs are 32-bit AT&T code (.code32)"))),
            ".equ" | ".set" | ".equiv" => {
                let (Some([(Tok::Ident(sym), _)]), Some(value)) = (list.first(), list.get(1)) else {
                    return Err(err(format!("{name} needs a symbol name and a value: `{name} NAME, VALUE`")));
                };
                let e = self.expr(value).map_err(|m| err(format!("{name}: {m}")))?;
                return self.assign(stmt, col, sym.clone(), e);
            }
            ".byte" => Kind::Data(1, exprs(self)?),
            ".word" | ".short" | ".hword" | ".value" => Kind::Data(2, exprs(self)?),
            ".long" | ".int" => Kind::Data(4, exprs(self)?),
            ".quad" => Kind::Data(8, exprs(self)?),
            ".ascii" | ".asciz" | ".string" => {
                let mut bytes = Vec::new();
                for a in &list {
                    match a {
                        [(Tok::Str(s), _)] => {
                            bytes.extend_from_slice(s);
                            if name != ".ascii" {
                                bytes.push(0);
                            }
                        }
                        _ => return Err(err(format!("{name} expects quoted strings"))),
                    }
                }
                Kind::Bytes(bytes)
            }
            ".space" | ".skip" => {
                let count = arg(self, 0)?.ok_or_else(|| err(format!("{name} needs a size")))?;
                Kind::Space(count, arg(self, 1)?.unwrap_or(Expr::Num(0)))
            }
            ".fill" => {
                let repeat = arg(self, 0)?.ok_or_else(|| err(".fill needs a repeat count".into()))?;
                Kind::Fill(repeat, arg(self, 1)?.unwrap_or(Expr::Num(1)), arg(self, 2)?.unwrap_or(Expr::Num(0)))
            }
            ".align" | ".balign" | ".p2align" => {
                let align = arg(self, 0)?.ok_or_else(|| err(format!("{name} needs an alignment")))?;
                Kind::Align { align, pow2: name == ".p2align", fill: arg(self, 1)?, max: arg(self, 2)? }
            }
            ".org" => {
                let target = arg(self, 0)?.ok_or_else(|| err(".org needs an offset".into()))?;
                Kind::Org(target, arg(self, 1)?.unwrap_or(Expr::Num(0)))
            }
            ".macro" | ".endm" | ".exitm" | ".purgem" | ".irp" | ".irpc" => {
                return Err(err(format!(
                    "`{name}` is not supported: the Guest assembler has no macros; write the lines \
                     out, or repeat them with `.rept` and `.endr`"
                )))
            }
            _ => {
                let hint = self.guess(name, || nearest::did_you_mean(&nearest::nearest(name, DIRECTIVES.iter().copied())));
                let hint = hint.unwrap_or_else(|| {
                    "not one the Guest assembler knows (it has GNU as's section, data, \
                     alignment, `.equ`/`.set`, `.rept` and `.if` directives)"
                        .into()
                });
                return Err(err(format!("unknown directive `{name}`: {hint}")));
            }
        };
        self.push(stmt.line, col, kind);
        Ok(())
    }
}

/// For each `.rept` in `stmts`, how many statements ahead its matching `.endr` is (None for every
/// other statement, and for a `.rept` that is never closed). One pass with a stack of open ones.
pub fn block_ends(stmts: &[Stmt]) -> Vec<Option<usize>> {
    let mut ends = vec![None; stmts.len()];
    let mut open = Vec::new();
    for (j, s) in stmts.iter().enumerate() {
        let word = s.text.split_whitespace().next().unwrap_or("");
        if word.eq_ignore_ascii_case(".rept") {
            open.push(j);
        } else if word.eq_ignore_ascii_case(".endr") {
            if let Some(o) = open.pop() {
                if let Some(slot) = ends.get_mut(o) {
                    *slot = Some(j - o);
                }
            }
        }
    }
    ends
}

/// Parse every statement; errors go to `errors` so a student sees all of them at once, and the work
/// is paid from `budget`. `include` gives the text of a file named by `.include` (None: there is no
/// such file).
pub fn parse(stmts: &[Stmt], include: &dyn Fn(&str) -> Option<String>, budget: &mut Budget, errors: &mut Errors) -> Vec<Item> {
    let mut p = Parser {
        items: Vec::new(),
        errors,
        budget,
        stopped: false,
        repeating: Vec::new(),
        local_defs: HashMap::new(),
        consts: HashMap::new(),
        defined: HashMap::new(),
        guesses: HashMap::new(),
        include,
        within: Vec::new(),
    };
    let ends = block_ends(stmts);
    p.run(stmts, &ends, 0);
    p.items
}

/// Whether `t` may be an operator of an expression (the step price of [`budget::OPERATOR_STEPS`]).
fn is_operator(t: &Tok) -> bool {
    matches!(t, Tok::Shl | Tok::Shr | Tok::Op2(_) | Tok::Punct('+' | '-' | '*' | '/' | '%' | '|' | '&' | '^' | '!' | '~'))
}
