//! The second step: tokens to items, the assembler's own view of each statement.
//!
//! An item is a label, a symbol assignment, a directive or one instruction with its operands in
//! AT&T order (source first, destination last). Numeric local labels (`1:`, referenced as `1f` or
//! `1b`) are renamed here to unique private names, so later steps see only ordinary symbols.
//! Nothing is encoded yet: see `layout.rs` for addresses and `encode.rs` for bytes.

use std::collections::HashMap;

use iced_x86::Register;

use super::expr::{self, Class, Expr};
use super::lex::{split_statements, tokenize, Stmt, Tok};
use super::{mnemonics, AsmError};

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

/// Statements a source may amount to once `.rept` has expanded it, so `.rept 1000000000` is an
/// error and not a hang.
const MAX_STATEMENTS: usize = 200_000;
/// How deeply `.rept` may nest.
const MAX_REPT_NESTING: usize = 16;
/// How deeply `.include` may nest (a file that includes itself stops here).
const MAX_INCLUDE_NESTING: usize = 8;

struct Parser<'a> {
    items: Vec<Item>,
    errors: Vec<AsmError>,
    /// How many times each numeric local label has been defined so far.
    local_defs: HashMap<u32, u32>,
    /// Where each ordinary label was defined, to report duplicates.
    labels: HashMap<String, usize>,
    /// Symbols assigned a plain number so far: what `.rept` and `.if` may use.
    consts: HashMap<String, i64>,
    /// Every symbol defined so far (for `.ifdef`).
    defined: std::collections::HashSet<String>,
    /// Statements handled so far, `.rept` copies included.
    statements: usize,
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

    fn statement(&mut self, stmt: &Stmt) -> Result<(), AsmError> {
        let toks = tokenize(stmt)?;
        let err = |col: usize, msg: String| AsmError::at(stmt.line, Some(col), msg);
        let mut rest: Toks = &toks;
        // Labels: `name:` or `1:`, any number of them before the statement proper.
        loop {
            match rest {
                [(Tok::Ident(name), col), (Tok::Punct(':'), _), ..] => {
                    if let Some(first) = self.labels.get(name) {
                        return Err(err(
                            *col,
                            format!("symbol `{name}` is already defined (line {first})"),
                        ));
                    }
                    self.labels.insert(name.clone(), stmt.line);
                    self.defined.insert(name.clone());
                    self.push(stmt.line, *col, Kind::Label(name.clone()));
                    rest = &rest[2..];
                }
                [(Tok::Num(n), col), (Tok::Punct(':'), _), ..] => {
                    let n = u32::try_from(*n)
                        .map_err(|_| err(*col, "local label number too large".into()))?;
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
            Tok::Ident(s) => s.clone(),
            t => {
                return Err(err(
                    col,
                    format!("expected an instruction or directive, found `{t}`"),
                ))
            }
        };
        if let Some((Tok::Punct('='), _)) = rest.get(1) {
            let e = self.expr(&rest[2..]).map_err(|m| err(col, m))?;
            return self.assign(stmt, col, name, e);
        }
        if name.starts_with('.') {
            return self.directive(stmt, col, &name.to_ascii_lowercase(), &rest[1..]);
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
                Some((t, c)) => {
                    return Err(err(
                        *c,
                        format!("expected an instruction after `{mnemonic}`, found `{t}`"),
                    ))
                }
            }
        }
        if mnemonics::lookup(&mnemonic).is_none() {
            return Err(err(col, format!("unknown instruction `{mnemonic}`")));
        }
        let mut operands = Vec::new();
        if !ops.is_empty() {
            for part in split_commas(ops) {
                let c = part.first().map(|(_, c)| *c).unwrap_or(col);
                operands.push(self.operand(part).map_err(|m| err(c, m))?);
            }
        }
        self.push(
            stmt.line,
            col,
            Kind::Insn(Insn {
                mnemonic,
                prefixes,
                ops: operands,
            }),
        );
        Ok(())
    }

    fn push(&mut self, line: usize, col: usize, kind: Kind) {
        // What an included file produces belongs to the `.include` line of the main source.
        let line = self.within.first().map_or(line, |w| w.1);
        self.items.push(Item { line, col, kind });
    }

    /// Record an error; one inside an included file names the file and its line there.
    fn report(&mut self, e: AsmError) {
        match (self.within.first(), self.within.last()) {
            (Some((_, outer)), Some((file, _))) => {
                let message = format!("in {file}, line {}: {}", e.line, e.message);
                self.errors.push(AsmError {
                    line: *outer,
                    column: None,
                    message,
                });
            }
            _ => self.errors.push(e),
        }
    }

    fn assign(&mut self, stmt: &Stmt, col: usize, name: String, e: Expr) -> Result<(), AsmError> {
        if let Some(first) = self.labels.get(&name) {
            return Err(AsmError::at(
                stmt.line,
                Some(col),
                format!("symbol `{name}` is already defined as a label (line {first})"),
            ));
        }
        let lookup = |s: &str| {
            self.consts
                .get(s)
                .map_or(Class::Unknown, |v| Class::Abs(*v))
        };
        match expr::classify(&e, &lookup, Class::Unknown) {
            Class::Abs(v) => self.consts.insert(name.clone(), v),
            _ => self.consts.remove(&name),
        };
        self.defined.insert(name.clone());
        self.push(stmt.line, col, Kind::Assign(name, e));
        Ok(())
    }

    /// A value that must be known while reading: a `.rept` count or an `.if` condition.
    fn constant(&self, toks: Toks) -> Result<i64, String> {
        let e = self.expr(toks)?;
        let lookup = |s: &str| {
            self.consts
                .get(s)
                .map_or(Class::Unknown, |v| Class::Abs(*v))
        };
        match expr::classify(&e, &lookup, Class::Unknown) {
            Class::Abs(v) => Ok(v),
            _ => Err("needs a constant: numbers, and symbols set to numbers earlier".into()),
        }
    }

    /// Handle a list of statements: conditionals (`.if`/`.ifdef`/`.ifndef`/`.else`/`.endif`) and
    /// repetition (`.rept`/`.endr`) here, everything else by [`Parser::statement`].
    fn run(&mut self, stmts: &[Stmt], depth: usize) {
        // For each open `.if`: is its current branch active, has a branch been taken, its line.
        let mut conds: Vec<(bool, bool, usize)> = Vec::new();
        let mut i = 0;
        while i < stmts.len() {
            let s = &stmts[i];
            i += 1;
            self.statements += 1;
            if self.statements > MAX_STATEMENTS {
                self.report(AsmError::at(
                    s.line,
                    None,
                    format!(
                        "more than {MAX_STATEMENTS} statements (is a `.rept` count too large?)"
                    ),
                ));
                return;
            }
            let toks = match tokenize(s) {
                Ok(t) => t,
                Err(e) => {
                    if conds.iter().all(|c| c.0) {
                        self.report(e);
                    }
                    continue;
                }
            };
            let word = match toks.first() {
                Some((Tok::Ident(w), _)) => w.to_ascii_lowercase(),
                _ => String::new(),
            };
            let args = toks.get(1..).unwrap_or(&[]);
            let active = conds.iter().all(|c| c.0);
            let err = |m: String| AsmError::at(s.line, Some(s.col), m);
            let test = |p: &Parser| -> Result<bool, AsmError> {
                match word.as_str() {
                    ".ifdef" | ".ifndef" => match args {
                        [(Tok::Ident(sym), _)] => Ok(p.defined.contains(sym) == (word == ".ifdef")),
                        _ => Err(err(format!("`{word}` needs one symbol name"))),
                    },
                    ".ifeq" => p
                        .constant(args)
                        .map(|v| v == 0)
                        .map_err(|m| err(format!("{word}: {m}"))),
                    _ => p
                        .constant(args)
                        .map(|v| v != 0)
                        .map_err(|m| err(format!("{word}: {m}"))),
                }
            };
            match word.as_str() {
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
                    // The body runs to the matching `.endr`.
                    let mut nesting = 0;
                    let mut end = None;
                    for (j, t) in stmts.iter().enumerate().skip(i) {
                        let w = t
                            .text
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_ascii_lowercase();
                        if w == ".rept" {
                            nesting += 1;
                        } else if w == ".endr" {
                            if nesting == 0 {
                                end = Some(j);
                                break;
                            }
                            nesting -= 1;
                        }
                    }
                    let Some(end) = end else {
                        self.report(err("`.rept` without `.endr`".into()));
                        return;
                    };
                    let body = &stmts[i..end];
                    i = end + 1;
                    if depth >= MAX_REPT_NESTING {
                        self.report(err(format!(
                            "`.rept` nested more than {MAX_REPT_NESTING} deep"
                        )));
                        continue;
                    }
                    match self.constant(args) {
                        Ok(n) => {
                            for _ in 0..n.max(0) {
                                if self.statements > MAX_STATEMENTS {
                                    break;
                                }
                                self.run(body, depth + 1);
                            }
                        }
                        Err(m) => self.report(err(format!(".rept: {m}"))),
                    }
                }
                ".endr" => self.report(err("`.endr` without `.rept`".into())),
                ".include" => match args {
                    [(Tok::Str(name), _)] => {
                        let name = String::from_utf8_lossy(name).into_owned();
                        if self.within.len() >= MAX_INCLUDE_NESTING {
                            self.report(err(format!(
                                "`.include` nested more than {MAX_INCLUDE_NESTING} deep"
                            )));
                        } else if let Some(text) = (self.include)(&name) {
                            let outer = self.within.first().map_or(s.line, |w| w.1);
                            let (inner, errors) = split_statements(&text);
                            self.within.push((name, outer));
                            for e in errors {
                                self.report(e);
                            }
                            self.run(&inner, depth);
                            self.within.pop();
                        } else {
                            self.report(err(format!("cannot find `{name}` to include")));
                        }
                    }
                    _ => self.report(err("`.include` needs a quoted file name".into())),
                },
                _ => {
                    if let Err(e) = self.statement(s) {
                        self.report(e);
                    }
                }
            }
        }
        if let Some((_, _, line)) = conds.last() {
            self.report(AsmError::at(*line, None, "`.if` without `.endif`"));
        }
    }

    fn operand(&self, toks: Toks) -> Result<Operand, String> {
        // GNU as refuses `=` inside instruction operands (`<`, `>`, `&&`, `||` are fine).
        if let Some((Tok::Op2(op), _)) = toks
            .iter()
            .find(|(t, _)| matches!(t, Tok::Op2(op) if op.contains('=')))
        {
            return Err(format!(
                "`{op}` can't be used in an instruction operand: compute it with `.equ` first"
            ));
        }
        match toks {
            [] => Err("missing operand".into()),
            [(Tok::Punct('$'), _), rest @ ..] => Ok(Operand::Imm(self.expr(rest)?)),
            [(Tok::Punct('*'), _), (Tok::Punct('*'), _), ..] => Err("`*` written twice".into()),
            [(Tok::Punct('*'), _), rest @ ..] => Ok(Operand::Star(Box::new(self.operand(rest)?))),
            [(Tok::Reg(r), _)] => register(r)
                .map(Operand::Reg)
                .ok_or_else(|| format!("bad register `%{r}`")),
            [(Tok::Reg(r), _), (Tok::Punct(':'), _), rest @ ..] => {
                let seg = register(r).filter(|r| r.is_segment_register());
                let seg = seg.ok_or_else(|| format!("`%{r}` is not a segment register"))?;
                if matches!(
                    rest,
                    [(Tok::Punct('$' | '*'), _), ..] | [(Tok::Reg(_), _), ..]
                ) {
                    return Err("a segment override needs a memory operand".into());
                }
                let m = self.memory(rest)?;
                Ok(Operand::Mem(Mem {
                    seg: Some(seg),
                    ..m
                }))
            }
            _ => self.memory(toks).map(Operand::Mem),
        }
    }

    /// `disp(%base,%index,scale)`, `(%base)`, `disp`, `(,%index,scale)`.
    fn memory(&self, toks: Toks) -> Result<Mem, String> {
        let mut mem = Mem {
            seg: None,
            base: None,
            index: None,
            scale: 1,
            disp: None,
        };
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
            if matches!(
                inner.first(),
                Some((Tok::Reg(_), _)) | Some((Tok::Punct(','), _))
            ) {
                disp_toks = &toks[..open];
                let parts = split_commas(inner);
                if parts.len() > 3 {
                    return Err("too many parts in a memory operand".into());
                }
                let reg = |p: Toks| -> Result<Option<Register>, String> {
                    match p {
                        [] => Ok(None),
                        [(Tok::Reg(r), _)] => register(r)
                            .map(Some)
                            .ok_or_else(|| format!("bad register `%{r}`")),
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
                    let s = expr::eval(&self.expr(p)?, &|_| None, 0)
                        .map_err(|_| "scale must be a number".to_string())?;
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

    fn directive(
        &mut self,
        stmt: &Stmt,
        col: usize,
        name: &str,
        args: Toks,
    ) -> Result<(), AsmError> {
        let err = |m: String| AsmError::at(stmt.line, Some(col), m);
        let list = if args.is_empty() {
            Vec::new()
        } else {
            split_commas(args)
        };
        let exprs = |p: &Parser| -> Result<Vec<Expr>, AsmError> {
            list.iter()
                .map(|a| p.expr(a).map_err(|m| err(format!("{name}: {m}"))))
                .collect()
        };
        let arg = |p: &Parser, i: usize| -> Result<Option<Expr>, AsmError> {
            match list.get(i) {
                Some(a) if !a.is_empty() => {
                    p.expr(a).map(Some).map_err(|m| err(format!("{name}: {m}")))
                }
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
            ".globl" | ".global" | ".local" | ".weak" | ".hidden" | ".type" | ".size" | ".file"
            | ".ident" | ".code32" | ".att_syntax" | ".extern" | ".loc" | ".cfi_startproc"
            | ".cfi_endproc" => return Ok(()),
            ".code16" | ".code64" | ".intel_syntax" => {
                return Err(err(format!(
                    "`{name}` is not supported: Guest programs are 32-bit AT&T code (.code32)"
                )))
            }
            ".equ" | ".set" | ".equiv" => {
                let (Some([(Tok::Ident(sym), _)]), Some(value)) = (list.first(), list.get(1))
                else {
                    return Err(err(format!(
                        "{name} needs a symbol name and a value: `{name} NAME, VALUE`"
                    )));
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
                let repeat =
                    arg(self, 0)?.ok_or_else(|| err(".fill needs a repeat count".into()))?;
                Kind::Fill(
                    repeat,
                    arg(self, 1)?.unwrap_or(Expr::Num(1)),
                    arg(self, 2)?.unwrap_or(Expr::Num(0)),
                )
            }
            ".align" | ".balign" | ".p2align" => {
                let align =
                    arg(self, 0)?.ok_or_else(|| err(format!("{name} needs an alignment")))?;
                Kind::Align {
                    align,
                    pow2: name == ".p2align",
                    fill: arg(self, 1)?,
                    max: arg(self, 2)?,
                }
            }
            ".org" => {
                let target = arg(self, 0)?.ok_or_else(|| err(".org needs an offset".into()))?;
                Kind::Org(target, arg(self, 1)?.unwrap_or(Expr::Num(0)))
            }
            _ => return Err(err(format!("unknown directive `{name}`"))),
        };
        self.push(stmt.line, col, kind);
        Ok(())
    }
}

/// Parse every statement; errors are collected so a student sees all of them at once.
/// `include` gives the text of a file named by `.include` (None: there is no such file).
pub fn parse(
    stmts: &[Stmt],
    include: &dyn Fn(&str) -> Option<String>,
) -> (Vec<Item>, Vec<AsmError>) {
    let mut p = Parser {
        items: Vec::new(),
        errors: Vec::new(),
        local_defs: HashMap::new(),
        labels: HashMap::new(),
        consts: HashMap::new(),
        defined: Default::default(),
        statements: 0,
        include,
        within: Vec::new(),
    };
    p.run(stmts, 0);
    (p.items, p.errors)
}
