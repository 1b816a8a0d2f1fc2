//! The assembler's first step: source text to statements, and a statement to tokens.
//!
//! GNU `as` reads its input line by line after a small preprocessor (its "app" pass) has removed
//! comments: `#` to the end of the line and C-style `/* ... */`, which may span lines. A `;` ends a
//! statement just as a newline does, so one source line can hold several statements. We keep the
//! 1-based source line of every statement so each error, and each emitted byte, can point back at it.

use std::borrow::Cow;

use super::AsmError;

/// One statement: the text between two newlines or semicolons, comments already removed.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// 1-based source line.
    pub line: usize,
    /// 1-based column of the statement's first character.
    pub col: usize,
    pub text: String,
}

/// Split the whole source into statements. Comments and the text of a `/* */` become spaces, so
/// the columns of what follows stay right. An unterminated `/*` is an error at the line it opens.
pub fn split_statements(src: &str) -> (Vec<Stmt>, Vec<AsmError>) {
    // About one statement a line: sized once, not grown (and copied) a dozen times.
    let mut stmts = Vec::with_capacity(src.bytes().filter(|&b| b == b'\n').count() + 1);
    let mut errors = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    // In an all-ASCII source (nearly every one) a character is a byte, so a line can be sliced.
    let ascii = src.is_ascii();
    let (mut line, mut col) = (1usize, 1usize);
    let mut cur = String::new();
    let mut cur_start = (1usize, 1usize);
    let mut i = 0;
    let mut in_string = false;
    // Does `cur` hold anything but blanks? Kept as we go: asking `cur` would re-read the
    // statement at every comment, quadratic on a long line of `x/**/x/**/...`.
    let mut has_text = false;
    let flush = |cur: &mut String, start: (usize, usize), stmts: &mut Vec<Stmt>| {
        push_trimmed(cur, start, stmts);
        cur.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        if cur.is_empty() {
            cur_start = (line, col);
        }
        // A plain line (no string, character, comment, `;` or `\r` in it) is one statement, its
        // text as it stands: taken whole rather than character by character.
        if ascii && col == 1 && !in_string && cur.is_empty() {
            let end = src[i..].find('\n').map_or(src.len(), |n| i + n);
            let text = &src[i..end];
            // (An empty line is left to the newline below: taking it here would not move on.)
            if end > i && !text.bytes().any(|b| matches!(b, b'"' | b'\'' | b'#' | b'/' | b';' | b'\r')) {
                push_trimmed(text, (line, col), &mut stmts);
                col += end - i;
                i = end;
                continue;
            }
        }
        if in_string {
            match c {
                '\\' if i + 1 < chars.len() && chars[i + 1] != '\n' => {
                    cur.push(c);
                    cur.push(chars[i + 1]);
                    i += 2;
                    col += 2;
                    continue;
                }
                '"' => in_string = false,
                '\n' => in_string = false, // the tokenizer reports the unterminated string
                _ => {}
            }
            if c == '\n' {
                flush(&mut cur, cur_start, &mut stmts);
                has_text = false;
                line += 1;
                col = 1;
            } else {
                cur.push(c);
                col += 1;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                has_text = true;
                cur.push(c);
            }
            '\'' => {
                // A character constant: `'a` (or `'\n`). The next character is data, not syntax.
                has_text = true;
                cur.push(c);
                let mut take = 1;
                if i + 1 < chars.len() && chars[i + 1] == '\\' {
                    take = 2;
                }
                for _ in 0..take {
                    if i + 1 < chars.len() && chars[i + 1] != '\n' {
                        i += 1;
                        col += 1;
                        cur.push(chars[i]);
                    }
                }
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if i + 1 < chars.len() && chars[i + 1] == '*' => {
                let open_line = line;
                let open_col = col;
                i += 2;
                col += 2;
                let mut closed = false;
                while i < chars.len() {
                    if chars[i] == '*' && i + 1 < chars.len() && chars[i + 1] == '/' {
                        i += 2;
                        col += 2;
                        closed = true;
                        break;
                    }
                    if chars[i] == '\n' {
                        line += 1;
                        col = 1;
                    } else {
                        col += 1;
                    }
                    i += 1;
                }
                if !closed {
                    errors.push(AsmError::at(open_line, Some(open_col), "unterminated comment: `/*` is never closed by `*/`"));
                }
                // A comment separates tokens; at the start of a statement it is nothing at all.
                if has_text {
                    cur.push(' ');
                } else {
                    cur.clear();
                }
                continue;
            }
            ';' => {
                flush(&mut cur, cur_start, &mut stmts);
                has_text = false;
            }
            '\n' => {
                flush(&mut cur, cur_start, &mut stmts);
                has_text = false;
                line += 1;
                col = 1;
                i += 1;
                continue;
            }
            '\r' => {}
            _ => {
                has_text |= !c.is_whitespace();
                cur.push(c);
            }
        }
        i += 1;
        col += 1;
    }
    flush(&mut cur, cur_start, &mut stmts);
    (stmts, errors)
}

/// Add `text`, which began at `start`, as a statement unless it is blank.
fn push_trimmed(text: &str, start: (usize, usize), stmts: &mut Vec<Stmt>) {
    let t = text.trim();
    if !t.is_empty() {
        let lead = text.len() - text.trim_start().len();
        stmts.push(Stmt { line: start.0, col: start.1 + lead, text: t.to_string() });
    }
}

/// A token of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A symbol, mnemonic or directive name (directives keep their leading `.`).
    Ident(String),
    Num(i64),
    Str(Vec<u8>),
    /// `%eax`: the name without the `%`, lower-cased.
    Reg(String),
    /// `1f` (forward = true) or `1b`: a reference to a numeric local label.
    LocalRef(u32, bool),
    Shl,
    Shr,
    /// A comparison or logical operator: `==` `!=` `<>` `<` `<=` `>` `>=` `&&` `||`.
    Op2(&'static str),
    Punct(char),
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "{s}"),
            Tok::Num(n) => write!(f, "{n}"),
            Tok::Str(_) => write!(f, "a string"),
            Tok::Reg(r) => write!(f, "%{r}"),
            Tok::LocalRef(n, fwd) => write!(f, "{n}{}", if *fwd { 'f' } else { 'b' }),
            Tok::Shl => write!(f, "<<"),
            Tok::Shr => write!(f, ">>"),
            Tok::Op2(s) => write!(f, "{s}"),
            Tok::Punct(c) => write!(f, "{c}"),
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$'
}

/// Decode one escape after a backslash in a string or character constant; returns the byte and
/// how many characters were used.
fn escape(chars: &[char]) -> (u8, usize) {
    match chars.first() {
        Some('n') => (b'\n', 1),
        Some('t') => (b'\t', 1),
        Some('r') => (b'\r', 1),
        Some('b') => (8, 1),
        Some('f') => (12, 1),
        Some('0'..='7') => {
            let mut v = 0u32;
            let mut n = 0;
            while n < 3 && n < chars.len() && ('0'..='7').contains(&chars[n]) {
                v = v * 8 + chars[n].to_digit(8).unwrap_or(0);
                n += 1;
            }
            (v as u8, n)
        }
        Some('x') => {
            let mut v = 0u32;
            let mut n = 1;
            while n < chars.len() && chars[n].is_ascii_hexdigit() {
                v = (v << 4) | chars[n].to_digit(16).unwrap_or(0);
                n += 1;
            }
            (v as u8, n)
        }
        Some(c) => (*c as u32 as u8, 1),
        None => (b'\\', 0),
    }
}

/// Tokenize one statement. Columns in the result are 1-based source columns.
pub fn tokenize(stmt: &Stmt) -> Result<Vec<(Tok, usize)>, AsmError> {
    let chars: Vec<char> = stmt.text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |i: usize, msg: String| AsmError::at(stmt.line, Some(stmt.col + i), msg);
    // The text of `chars[a..b]`: borrowed from the statement when it is all ASCII (nearly always),
    // where a character is a byte, instead of gathered character by character.
    let ascii = stmt.text.is_ascii();
    let text = |a: usize, b: usize| -> Cow<str> {
        match stmt.text.get(a..b) {
            Some(t) if ascii => Cow::Borrowed(t),
            _ => Cow::Owned(chars[a..b].iter().collect()),
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' {
            let mut bytes = Vec::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(err(start, "unterminated string: missing closing `\"`".into())),
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let (b, n) = escape(&chars[i + 1..]);
                        bytes.push(b);
                        i += 1 + n;
                    }
                    Some(ch) => {
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        i += 1;
                    }
                }
            }
            out.push((Tok::Str(bytes), stmt.col + start));
            continue;
        }
        if c == '\'' {
            let v = match chars.get(i + 1) {
                None => return Err(err(start, "character constant `'` with no character".into())),
                Some('\\') => {
                    let (b, n) = escape(&chars[i + 2..]);
                    i += 2 + n;
                    b as i64
                }
                Some(ch) => {
                    i += 2;
                    *ch as i64
                }
            };
            if chars.get(i) == Some(&'\'') {
                i += 1; // GNU as also accepts a closing quote: 'a'
            }
            out.push((Tok::Num(v), stmt.col + start));
            continue;
        }
        if c == '%' && chars.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
            i += 1;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let name = text(start + 1, i).to_ascii_lowercase();
            out.push((Tok::Reg(name), stmt.col + start));
            continue;
        }
        if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word = text(start, i);
            let tok = parse_number(&word).ok_or_else(|| {
                err(
                    start,
                    format!(
                        "bad number `{word}`: numbers are decimal `42`, hex `0x2a`, octal `052` \
                     or binary `0b101`, and `1f`/`1b` name local labels"
                    ),
                )
            })?;
            out.push((tok, stmt.col + start));
            continue;
        }
        if is_ident_start(c) {
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            out.push((Tok::Ident(text(start, i).into_owned()), stmt.col + start));
            continue;
        }
        let two = match (c, chars.get(i + 1)) {
            ('=', Some('=')) => Some("=="),
            ('!', Some('=')) => Some("!="),
            ('<', Some('>')) => Some("<>"),
            ('<', Some('=')) => Some("<="),
            ('>', Some('=')) => Some(">="),
            ('&', Some('&')) => Some("&&"),
            ('|', Some('|')) => Some("||"),
            _ => None,
        };
        if let Some(op) = two {
            out.push((Tok::Op2(op), stmt.col + start));
            i += 2;
            continue;
        }
        if c == '<' && chars.get(i + 1) == Some(&'<') {
            out.push((Tok::Shl, stmt.col + start));
            i += 2;
            continue;
        }
        if c == '>' && chars.get(i + 1) == Some(&'>') {
            out.push((Tok::Shr, stmt.col + start));
            i += 2;
            continue;
        }
        if c == '<' || c == '>' {
            out.push((Tok::Op2(if c == '<' { "<" } else { ">" }), stmt.col + start));
            i += 1;
            continue;
        }
        if "$%(),:+-*/&|^~!=@".contains(c) {
            out.push((Tok::Punct(c), stmt.col + start));
            i += 1;
            continue;
        }
        return Err(err(start, format!("unexpected character `{c}`")));
    }
    Ok(out)
}

/// Numbers as GNU as writes them: `0x1f`, `0b101`, `017` (octal), `42`; and `1f`/`1b` label references.
fn parse_number(word: &str) -> Option<Tok> {
    // Copied only when it has capitals (`0x1F`): most numbers have none.
    let lower: Cow<str> = if word.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(word.to_ascii_lowercase()) } else { Cow::Borrowed(word) };
    let parse = |digits: &str, radix: u32| -> Option<Tok> {
        if digits.is_empty() {
            return None;
        }
        u64::from_str_radix(digits, radix).ok().map(|v| Tok::Num(v as i64))
    };
    if let Some(hex) = lower.strip_prefix("0x") {
        return parse(hex, 16);
    }
    if let Some(bin) = lower.strip_prefix("0b") {
        if !bin.is_empty() {
            return parse(bin, 2);
        }
    }
    if let Some(digits) = lower.strip_suffix('f').or_else(|| lower.strip_suffix('b')) {
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            let n = digits.parse::<u32>().ok()?;
            return Some(Tok::LocalRef(n, lower.ends_with('f')));
        }
    }
    if lower.len() > 1 && lower.starts_with('0') {
        return parse(&lower[1..], 8);
    }
    parse(&lower, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_semicolons_split_statements() {
        let (s, e) = split_statements("nop; hlt # done\n/* a\n b */ cli\n.ascii \"a;#b\"");
        assert!(e.is_empty());
        let texts: Vec<_> = s.iter().map(|s| (s.line, s.text.as_str())).collect();
        assert_eq!(texts, vec![(1, "nop"), (1, "hlt"), (3, "cli"), (4, ".ascii \"a;#b\"")]);
    }

    #[test]
    fn plain_lines_and_split_ones_keep_their_columns() {
        for src in ["  nop\n\tmov %eax, %ebx ; hlt\n   .byte 1  \n", "  nop\r\n\tmov %eax, %ebx ; hlt\r\n   .byte 1  \r\n# é\n"] {
            let (s, e) = split_statements(src);
            assert!(e.is_empty());
            let got: Vec<_> = s.iter().map(|s| (s.line, s.col, s.text.as_str())).collect();
            assert_eq!(got, [(1, 3, "nop"), (2, 2, "mov %eax, %ebx"), (2, 19, "hlt"), (3, 4, ".byte 1")], "{src:?}");
        }
        // Blank lines, at the start, between and at the end.
        let (s, _) = split_statements("\n\n  nop\n\n\nhlt\n\n");
        assert_eq!(s.iter().map(|s| (s.line, s.col, s.text.as_str())).collect::<Vec<_>>(), [(3, 3, "nop"), (6, 1, "hlt")]);
    }

    #[test]
    fn unterminated_comment_names_its_line() {
        let (_, e) = split_statements("nop\n  /* never closed\nhlt\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 2);
    }

    #[test]
    fn numbers_and_local_refs() {
        assert_eq!(parse_number("0x1F"), Some(Tok::Num(31)));
        assert_eq!(parse_number("0b101"), Some(Tok::Num(5)));
        assert_eq!(parse_number("017"), Some(Tok::Num(15)));
        assert_eq!(parse_number("1f"), Some(Tok::LocalRef(1, true)));
        assert_eq!(parse_number("0b"), Some(Tok::LocalRef(0, false)));
        assert_eq!(parse_number("12q"), None);
    }
}
