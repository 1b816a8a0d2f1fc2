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
    fn cut_fn_skips_braces_in_block_comments_and_raw_strings() {
        let src = "fn a() {\n  /* } /* { */ } */\n  let r = r#\"}\"#; let q = r\"{\";\n  let s = \"\\\"}\";\n}\nfn b() { }\n";
        let (_, t) = cut_fn(src, "a").unwrap();
        assert!(t.ends_with("let s = \"\\\"}\";\n}"), "{t}");
        assert_eq!(cut_fn(src, "b").unwrap().1, "fn b() { }");
    }
}
