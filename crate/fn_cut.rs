//! Cutting one function out of a Rust source file: its doc comments and attributes, then its body by
//! matching braces (skipping strings, char literals and comments). Used at build time by crate/build.rs
//! (which includes this file) to give the page's code pane the text of each host function the course
//! names, and nothing else of the files they live in. Plain `std`, no crate paths, for that reason.

/// The Rust function that models kernel function `func`: the same name (the file operations of
/// `/dev/lguest` are `read`, `write` and `close` in crate/lguest/lguest_user.rs, as in lguest_user.c).
pub fn rust_name(func: &str) -> &str {
    func
}

/// Find `fn name` (followed by `(` or `<`) in `text` and return (first line, text) of the function with
/// the doc comments and attributes above it, its body cut out by matching braces (skipping strings, char
/// literals and comments).
pub fn cut_fn(text: &str, name: &str) -> Option<(usize, String)> {
    let needle = format!("fn {name}");
    let mut at = 0;
    let start = loop {
        let i = text[at..].find(&needle)? + at;
        let after = text[i + needle.len()..].chars().next();
        let before_ok = i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric();
        if before_ok && matches!(after, Some('(') | Some('<')) {
            break i;
        }
        at = i + needle.len();
    };
    // Back to the start of the line, then over doc comments and attributes above it.
    let mut line_start = text[..start].rfind('\n').map(|p| p + 1).unwrap_or(0);
    loop {
        if line_start == 0 {
            break;
        }
        let prev_start = text[..line_start - 1].rfind('\n').map(|p| p + 1).unwrap_or(0);
        let prev = text[prev_start..line_start - 1].trim_start();
        if prev.starts_with("///") || prev.starts_with("#[") || prev.starts_with("// ") {
            line_start = prev_start;
        } else {
            break;
        }
    }
    let end = match_body(text, start)?;
    let first_line = text[..line_start].matches('\n').count() + 1;
    Some((first_line, text[line_start..end].to_string()))
}

/// The end (exclusive) of the brace-delimited body that starts after `from`.
fn match_body(text: &str, from: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = from;
    let mut depth = 0usize;
    let mut opened = false;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            // A block comment, nested as Rust nests them.
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut nest = 0usize;
                while i + 1 < b.len() {
                    if b[i] == b'/' && b[i + 1] == b'*' {
                        nest += 1;
                        i += 2;
                    } else if b[i] == b'*' && b[i + 1] == b'/' {
                        nest -= 1;
                        i += 2;
                        if nest == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            // A raw string: r"...", r#"..."#, with as many #s as it opened with.
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) => {
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                i += 2 + hashes;
                while i < b.len() && !(b[i] == b'"' && b[i + 1..].iter().take(hashes).filter(|c| **c == b'#').count() == hashes) {
                    i += 1;
                }
                i += 1 + hashes;
                continue;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            // A char literal ('x', '\n', '{'), not a lifetime ('a).
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                while i + 1 < b.len() && b[i + 1] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            b'{' => {
                depth += 1;
                opened = true;
            }
            b'}' => {
                depth = depth.checked_sub(1)?;
                if opened && depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The calls that record an event for the page rather than model the kernel: cut out of what the student
/// reads. (`k.kfree()` and friends also record one, but they are the kernel's own calls: they stay.)
const INSTRUMENTATION: &[&str] = &["k.ev(", "self.ev(", "sys.log(", "self.k.ev("];

/// A function's text as the code pane shows it: without its instrumentation statements. Returns the lines
/// kept, the source line number of each (`first` is the number of the text's first line), and for each
/// line an instrumentation statement started on, the kept line (an index into the lines) its event is
/// about: the statement before it in the same block, or the line that opens the block when it comes first
/// (the `if` that decided, the `fn` itself).
pub fn strip_instrumentation(text: &str, first: usize) -> (Vec<String>, Vec<usize>, Vec<(usize, usize)>) {
    let lines: Vec<&str> = text.lines().collect();
    let depth = bracket_depths(&lines);
    let mut cut = vec![false; lines.len()];
    let mut starts = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if INSTRUMENTATION.iter().any(|p| lines[i].trim_start().starts_with(p)) {
            starts.push(i);
            let d = depth[i];
            // The statement runs until the brackets it opened close again.
            let mut j = i;
            while j + 1 < lines.len() && depth[j + 1] > d {
                j += 1;
            }
            // A closing line at the statement's own depth (`);`) belongs to it too.
            if j + 1 < lines.len() && depth[j + 1] == d && lines[j + 1].trim_start().starts_with(')') {
                j += 1;
            }
            cut[i..=j].iter_mut().for_each(|c| *c = true);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    let kept: Vec<usize> = (0..lines.len()).filter(|&i| !cut[i]).collect();
    let index = |line: usize| kept.iter().position(|&k| k == line);
    let moved = starts
        .iter()
        .filter_map(|&s| {
            let d = depth[s];
            let mut j = s;
            let target = loop {
                if j == 0 {
                    break 0;
                }
                j -= 1;
                let t = lines[j].trim();
                if cut[j] || t.is_empty() || t.starts_with("//") || depth[j] > d {
                    continue;
                }
                break j;
            };
            Some((first + s, index(target)?))
        })
        .collect();
    (kept.iter().map(|&i| lines[i].to_string()).collect(), kept.iter().map(|&i| first + i).collect(), moved)
}

/// The depth of `(`, `[` and `{` at the start of each line, outside strings, chars and `//` comments.
fn bracket_depths(lines: &[&str]) -> Vec<i32> {
    let mut d = 0i32;
    let mut out = Vec::with_capacity(lines.len());
    for l in lines {
        out.push(d);
        let b = l.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'/' if b.get(i + 1) == Some(&b'/') => break,
                b'"' => {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
                b'(' | b'[' | b'{' => d += 1,
                b')' | b']' | b'}' => d -= 1,
                _ => {}
            }
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_fn_skips_braces_in_strings_and_chars() {
        let src = "x\n/// Doc.\nfn a() {\n  let s = \"}\"; let c = '{'; // }\n  if x { y }\n}\nfn b() {}\n";
        let (line, t) = cut_fn(src, "a").unwrap();
        assert_eq!(line, 2);
        assert!(t.starts_with("/// Doc.") && t.ends_with("if x { y }\n}"), "{t}");
        assert!(cut_fn(src, "c").is_none());
    }

    #[test]
    fn instrumentation_is_cut_and_its_events_move_to_the_statement_they_report() {
        let src = "fn a(k: &mut K) {\n    k.ev(\"a\", \"start\".into(), &[]);\n    let x = match f() {\n        Ok(v) => v,\n        Err(_) => {\n            k.ev(\"a\", format!(\"{}\", 1), &[]);\n            return 1;\n        }\n    };\n    k.ev(\n        \"a\",\n        \"got x\".into(),\n        &[],\n    );\n    k.kfree(x, \"a\");\n    x\n}";
        let (lines, numbers, moved) = strip_instrumentation(src, 10);
        assert!(lines.iter().all(|l| !l.contains("k.ev(") && !l.contains("got x")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("k.kfree")), "the kernel's own calls stay");
        assert_eq!(numbers.len(), lines.len());
        assert_eq!(numbers[0], 10);
        let at = |line: usize| moved.iter().find(|(l, _)| *l == line).map(|(_, i)| lines[*i].trim());
        assert_eq!(at(11), Some("fn a(k: &mut K) {"), "the first statement's event marks the fn");
        assert_eq!(at(15), Some("Err(_) => {"), "an event first in its arm marks the arm");
        assert_eq!(at(19), Some("let x = match f() {"), "an event after a statement marks that statement");
    }

    #[test]
    fn cut_fn_skips_braces_in_block_comments_and_raw_strings() {
        let src = "fn a() {\n  /* } /* { */ } */\n  let r = r#\"}\"#; let q = r\"{\";\n  let s = \"\\\"}\";\n}\nfn b() { }\n";
        let (_, t) = cut_fn(src, "a").unwrap();
        assert!(t.ends_with("let s = \"\\\"}\";\n}"), "{t}");
        assert_eq!(cut_fn(src, "b").unwrap().1, "fn b() { }");
    }
}
