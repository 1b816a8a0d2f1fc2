//! Expressions: `msg + 4`, `(end - start) / 4`, `1 << 9`, `~0xff`, `.`.
//!
//! GNU as gives its binary operators an unusual precedence, and we follow it so a source means the
//! same thing to both assemblers: `* / % << >>` bind tightest, then `| & ^ !`, then `+ -`, then the
//! comparisons (`== != <> < <= > >=`, which give -1 for true and 0 for false), then `&&`, then `||`.
//! So `1 + 2 & 3` is `1 + (2 & 3)`.
//!
//! An expression is evaluated twice over. While the source is first read ([`classify`]) we only ask
//! what GNU as can know at that moment: a plain number, or a distance between two labels with
//! nothing of variable size between them. That decides encodings (`push $4` is `6a 04`, while a
//! `push $label` needs a 4-byte immediate). Once labels have addresses, [`eval`] gives the value.

use super::lex::Tok;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(i64),
    Sym(String),
    /// `.`: the address of the current statement.
    Dot,
    Neg(Box<Expr>),
    Not(Box<Expr>),
    LogNot(Box<Expr>),
    Bin(char, Box<Expr>, Box<Expr>),
}

/// Operators of one precedence level, tightest first. `<` and `>` stand for `<<` and `>>`;
/// `=` `#` are `==` and `!=` (or `<>`), `l` `L` `g` `G` are `<` `<=` `>` `>=`, `A` and `O` are `&&` `||`.
const LEVELS: [&str; 6] = ["*/%<>", "|&^!", "+-", "=#lLgG", "A", "O"];

/// Parse a whole expression from `toks`; `local` names numeric local label references (`1f`).
pub fn parse(toks: &[(Tok, usize)], local: &mut dyn FnMut(u32, bool) -> String) -> Result<Expr, String> {
    if toks.is_empty() {
        return Err("missing expression".into());
    }
    check_depth(toks)?;
    let mut pos = 0;
    let e = parse_level(toks, &mut pos, LEVELS.len() - 1, local)?;
    match toks.get(pos) {
        None => Ok(e),
        Some((t, _)) => Err(format!("junk `{t}` after expression (is an operator or a comma missing before it?)")),
    }
}

/// Parsing and evaluating recurse, so bound how deep an expression may go: no student needs more,
/// and a fuzzer's `((((...` must get an error, not a stack overflow.
const MAX_TOKENS: usize = 1024;
const MAX_NESTING: usize = 64;

fn check_depth(toks: &[(Tok, usize)]) -> Result<(), String> {
    if toks.len() > MAX_TOKENS {
        return Err(format!("expression too long (more than {MAX_TOKENS} tokens)"));
    }
    let (mut parens, mut unary_run) = (0usize, 0usize);
    let mut prev_is_value = false;
    for (t, _) in toks {
        match t {
            Tok::Punct('(') => parens += 1,
            Tok::Punct(')') => parens = parens.saturating_sub(1),
            Tok::Punct('-' | '+' | '~' | '!') if !prev_is_value => unary_run += 1,
            _ => unary_run = 0,
        }
        prev_is_value = matches!(t, Tok::Num(_) | Tok::Ident(_) | Tok::LocalRef(..) | Tok::Punct(')'));
        if parens > MAX_NESTING || unary_run > MAX_NESTING {
            return Err(format!("expression nested too deeply (more than {MAX_NESTING} levels)"));
        }
    }
    Ok(())
}

fn op_of(t: &Tok) -> Option<char> {
    match t {
        Tok::Shl => Some('<'),
        Tok::Shr => Some('>'),
        Tok::Op2(op) => Some(match *op {
            "==" => '=',
            "!=" | "<>" => '#',
            "<" => 'l',
            "<=" => 'L',
            ">" => 'g',
            ">=" => 'G',
            "&&" => 'A',
            _ => 'O',
        }),
        Tok::Punct(c) if "*/%|&^!+-".contains(*c) => Some(*c),
        _ => None,
    }
}

/// The level of a binary operator in [`LEVELS`] (0 binds tightest).
fn level_of(op: char) -> Option<usize> {
    LEVELS.iter().position(|l| l.contains(op))
}

/// Operators of `level` and tighter, left to right (precedence climbing: each operand is parsed
/// once, not once per level, so a long `1+1+...` is one loop).
fn parse_level(toks: &[(Tok, usize)], pos: &mut usize, level: usize, local: &mut dyn FnMut(u32, bool) -> String) -> Result<Expr, String> {
    let mut lhs = parse_unary(toks, pos, local)?;
    while let Some((op, l)) = toks.get(*pos).and_then(|(t, _)| op_of(t)).and_then(|op| Some((op, level_of(op)?))) {
        if l > level {
            break;
        }
        *pos += 1;
        // The right operand holds only operators that bind tighter: `a - b - c` is `(a - b) - c`.
        let rhs = match l.checked_sub(1) {
            Some(tighter) => parse_level(toks, pos, tighter, local)?,
            None => parse_unary(toks, pos, local)?,
        };
        lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
    }
    Ok(lhs)
}

fn parse_unary(toks: &[(Tok, usize)], pos: &mut usize, local: &mut dyn FnMut(u32, bool) -> String) -> Result<Expr, String> {
    let Some((tok, _)) = toks.get(*pos) else {
        return Err("expression ends too early".into());
    };
    *pos += 1;
    match tok {
        Tok::Num(n) => Ok(Expr::Num(*n)),
        Tok::Ident(s) if s == "." => Ok(Expr::Dot),
        Tok::Ident(s) => Ok(Expr::Sym(s.clone())),
        Tok::LocalRef(n, fwd) => Ok(Expr::Sym(local(*n, *fwd))),
        Tok::Punct('-') => Ok(Expr::Neg(Box::new(parse_unary(toks, pos, local)?))),
        Tok::Punct('+') => parse_unary(toks, pos, local),
        Tok::Punct('~') => Ok(Expr::Not(Box::new(parse_unary(toks, pos, local)?))),
        Tok::Punct('!') => Ok(Expr::LogNot(Box::new(parse_unary(toks, pos, local)?))),
        Tok::Punct('(') => {
            let e = parse_level(toks, pos, LEVELS.len() - 1, local)?;
            match toks.get(*pos) {
                Some((Tok::Punct(')'), _)) => {
                    *pos += 1;
                    Ok(e)
                }
                _ => Err("missing `)` in expression".into()),
            }
        }
        Tok::Reg(r) => Err(format!("register `%{r}` where a number was expected")),
        t => Err(format!("unexpected `{t}` in expression")),
    }
}

fn apply(op: char, a: i64, b: i64) -> Result<i64, String> {
    Ok(match op {
        '+' => a.wrapping_add(b),
        '-' => a.wrapping_sub(b),
        '*' => a.wrapping_mul(b),
        '/' | '%' if b == 0 => return Err("division by zero in expression".into()),
        '/' => a.wrapping_div(b),
        '%' => a.wrapping_rem(b),
        '<' => u32::try_from(b).ok().and_then(|b| a.checked_shl(b)).unwrap_or(0),
        '>' => u32::try_from(b).ok().and_then(|b| a.checked_shr(b)).unwrap_or(0),
        '&' => a & b,
        '|' => a | b,
        '^' => a ^ b,
        '!' => a | !b, // GNU as: "or not"
        '=' => -((a == b) as i64),
        '#' => -((a != b) as i64),
        'l' => -((a < b) as i64),
        'L' => -((a <= b) as i64),
        'g' => -((a > b) as i64),
        'G' => -((a >= b) as i64),
        'A' => (a != 0 && b != 0) as i64,
        'O' => (a != 0 || b != 0) as i64,
        _ => return Err(format!("unknown operator `{op}`")),
    })
}

/// The value of an expression once every symbol has an address. `lookup` answers for symbols;
/// an unknown one is an error naming it.
pub fn eval(e: &Expr, lookup: &dyn Fn(&str) -> Option<i64>, dot: i64) -> Result<i64, String> {
    match e {
        Expr::Num(n) => Ok(*n),
        Expr::Dot => Ok(dot),
        Expr::Sym(s) => lookup(s).ok_or_else(|| format!("undefined symbol `{}`", display_name(s))),
        Expr::Neg(a) => Ok(eval(a, lookup, dot)?.wrapping_neg()),
        Expr::Not(a) => Ok(!eval(a, lookup, dot)?),
        Expr::LogNot(a) => Ok((eval(a, lookup, dot)? == 0) as i64),
        Expr::Bin(op, a, b) => apply(*op, eval(a, lookup, dot)?, eval(b, lookup, dot)?),
    }
}

/// What evaluating `e` once costs, in the budget's steps: one per node, plus the length of each
/// name it looks up (hashing a name is linear in it).
pub fn weight(e: &Expr) -> usize {
    match e {
        Expr::Num(_) | Expr::Dot => 1,
        Expr::Sym(s) => 1 + s.len(),
        Expr::Neg(a) | Expr::Not(a) | Expr::LogNot(a) => 1 + weight(a),
        Expr::Bin(_, a, b) => 1 + weight(a) + weight(b),
    }
}

/// Numeric local labels are stored under a private name; errors show what the student wrote.
pub fn display_name(s: &str) -> String {
    match s.strip_prefix(super::parse::LOCAL_PREFIX) {
        Some(rest) => {
            let n = rest.split('_').next().unwrap_or(rest);
            if rest.ends_with("_b") {
                format!("{n}b")
            } else {
                format!("{n}f")
            }
        }
        None => s.to_string(),
    }
}

/// What GNU as knows about a value while it is still reading the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Class {
    /// A plain number.
    Abs(i64),
    /// A place: `off` bytes into fixed-size run (`frag`) number `frag` of section `sec`.
    Rel { sec: usize, frag: u32, off: i64 },
    /// Anything else: a forward reference, a sum across a variable-size gap, an undefined name.
    Unknown,
}

/// Classify an expression the way GNU as can at parse time (see the module summary).
pub fn classify(e: &Expr, lookup: &dyn Fn(&str) -> Class, dot: Class) -> Class {
    use Class::*;
    match e {
        Expr::Num(n) => Abs(*n),
        Expr::Dot => dot,
        Expr::Sym(s) => lookup(s),
        Expr::Neg(a) | Expr::Not(a) | Expr::LogNot(a) => match classify(a, lookup, dot) {
            Abs(v) => match e {
                Expr::Neg(_) => Abs(v.wrapping_neg()),
                Expr::Not(_) => Abs(!v),
                _ => Abs((v == 0) as i64),
            },
            _ => Unknown,
        },
        Expr::Bin(op, a, b) => {
            let (a, b) = (classify(a, lookup, dot), classify(b, lookup, dot));
            match (op, a, b) {
                (_, Abs(x), Abs(y)) => apply(*op, x, y).map(Abs).unwrap_or(Unknown),
                ('+', Rel { sec, frag, off }, Abs(y)) | ('+', Abs(y), Rel { sec, frag, off }) => Rel { sec, frag, off: off.wrapping_add(y) },
                ('-', Rel { sec, frag, off }, Abs(y)) => Rel { sec, frag, off: off.wrapping_sub(y) },
                ('-', Rel { sec: s1, frag: f1, off: o1 }, Rel { sec: s2, frag: f2, off: o2 }) if s1 == s2 && f1 == f2 => Abs(o1.wrapping_sub(o2)),
                _ => Unknown,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::lex::{tokenize, Stmt};

    fn ev(src: &str) -> i64 {
        let toks = tokenize(&Stmt { line: 1, col: 1, text: src.into() }).unwrap();
        let e = parse(&toks, &mut |n, _| format!("L{n}")).unwrap();
        eval(&e, &|s| (s == "x").then_some(10), 0).unwrap()
    }

    #[test]
    fn gnu_precedence() {
        assert_eq!(ev("1 + 2 & 3"), 3); // 1 + (2 & 3)
        assert_eq!(ev("2 * 3 + 4"), 10);
        assert_eq!(ev("1 << 4 | 1"), 17);
        assert_eq!(ev("(x - 4) / 2"), 3);
        assert_eq!(ev("~0 & 0xff"), 255);
        assert_eq!(ev("-x + 'a"), 87);
        // Comparisons give -1 or 0 and bind looser than `+`; `&&` looser still, `||` loosest.
        assert_eq!(ev("5 > 3 + 1"), -1);
        assert_eq!(ev("1 + 2 == 3"), -1);
        assert_eq!(ev("x <> 10"), 0);
        assert_eq!(ev("1 || 0 && 0"), 1);
        assert_eq!(ev("(x >= 10) & 7"), 7);
        // Left to right within a level, and across levels as tight as they bind.
        assert_eq!(ev("10 - 3 - 2"), 5);
        assert_eq!(ev("100 / 10 / 5"), 2);
        assert_eq!(ev("1 - 2 + 3"), 2);
        assert_eq!(ev("2 * 3 % 4 << 1"), 4);
        assert_eq!(ev("1 + 6 / 2 * 3 - 4 & 5 | 1"), 5); // 1 + ((6 / 2) * 3) - ((4 & 5) | 1), as `as --32` has it
        assert_eq!(ev("1 < 2 == -1 && 0 || 1 + 1"), 1);
    }

    #[test]
    fn label_difference_in_one_run_is_known() {
        let a = Class::Rel { sec: 0, frag: 1, off: 4 };
        let b = Class::Rel { sec: 0, frag: 1, off: 10 };
        let c = Class::Rel { sec: 0, frag: 2, off: 0 };
        let e = Expr::Bin('-', Box::new(Expr::Sym("b".into())), Box::new(Expr::Sym("a".into())));
        let look = |s: &str| match s {
            "a" => a,
            "b" => b,
            _ => c,
        };
        assert_eq!(classify(&e, &look, Class::Unknown), Class::Abs(6));
        let e2 = Expr::Bin('-', Box::new(Expr::Sym("c".into())), Box::new(Expr::Sym("a".into())));
        assert_eq!(classify(&e2, &look, Class::Unknown), Class::Unknown);
    }
}
