//! Hostile Guest assembly: the worst sources we know of, seeded mutations of the course's own
//! Guests, random token soup, and a corpus of every input that ever broke the assembler.
//!
//! The page's Guest editor runs the assembler on whatever a student types, in the page's one
//! thread, so whatever the source, `assemble` must end within its work budget
//! (`params::ASM_WORK`) with `Ok`, or with errors that each name a line of the source (or line 0,
//! the program as a whole) and say what was wrong. Never a panic (it would kill the page), never a
//! hang. [`check`] states that contract once and every test here holds a source to it.
//!
//! Nothing here times itself: a worst case is held to the budget (it must finish with the budget's
//! own error or under it) and to a count of steps, which a debug build and a browser count alike.
//! `cargo test --release --test asm_hostile -- --ignored --nocapture` prints what each worst case
//! costs in steps and time; `LGSIM_FUZZ_CASES=100000` runs a longer fuzz than CI's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lguest_sim::asm::{assemble_counting, AsmError, Program};
use lguest_sim::params::{ASM_MAX_ERRORS, ASM_MAX_IMAGE, ASM_MAX_ITEMS, ASM_WORK};

const ORIGIN: u32 = 0x100000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// How an assembly ended, and what it cost.
struct Run {
    result: Result<Program, Vec<AsmError>>,
    steps: u64,
    time: Duration,
}

/// Assemble `src` with `files` for `.include`; a panic becomes `Err` with its message.
fn run_with(src: &str, files: &dyn Fn(&str) -> Option<String>) -> Result<Run, String> {
    let t = Instant::now();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assemble_counting(src, ORIGIN, files)));
    let time = t.elapsed();
    match caught {
        Ok((result, steps)) => Ok(Run { result, steps, time }),
        Err(p) => Err(p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "a panic".into())),
    }
}

fn no_files(_: &str) -> Option<String> {
    None
}

/// The contract every source is held to (see the file summary); the broken rule, if any.
fn check(src: &str, run: &Run) -> Result<(), String> {
    let lines = src.matches('\n').count() + 1;
    if run.steps > ASM_WORK {
        return Err(format!("took {} steps, more than the budget", run.steps));
    }
    match &run.result {
        Ok(p) => {
            if p.image.len() > ASM_MAX_IMAGE as usize {
                return Err(format!("an image of {} bytes", p.image.len()));
            }
            if p.lines.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err("the address map is not sorted".into());
            }
            if let Some((a, l)) = p.lines.iter().find(|(_, l)| *l == 0 || *l > lines) {
                return Err(format!("address {a:#x} maps to line {l} of {lines}"));
            }
            Ok(())
        }
        Err(errors) => {
            if errors.is_empty() {
                return Err("Err with no errors".into());
            }
            // The first ones, the limit that stopped the assembly, a note that more were left out.
            if errors.len() > ASM_MAX_ERRORS + 2 {
                return Err(format!("{} errors", errors.len()));
            }
            for e in errors {
                if e.message.trim().is_empty() {
                    return Err(format!("an empty message at line {}", e.line));
                }
                if e.line > lines {
                    return Err(format!("line {} of {lines}: {}", e.line, e.message));
                }
            }
            // Sorted by line, but for a closing "and more errors" note.
            let sorted = errors.iter().filter(|e| !e.message.starts_with("and more errors"));
            let ls: Vec<usize> = sorted.map(|e| e.line).collect();
            if ls.windows(2).any(|w| w[0] > w[1]) {
                return Err(format!("errors out of line order: {ls:?}"));
            }
            Ok(())
        }
    }
}

/// Assemble `src`, hold it to the contract, and give back how it ended.
fn hostile(src: &str) -> Run {
    hostile_with(src, &no_files)
}

fn hostile_with(src: &str, files: &dyn Fn(&str) -> Option<String>) -> Run {
    let run = match run_with(src, files) {
        Ok(r) => r,
        Err(p) => panic!("the assembler panicked ({p}) on {}", preview(src)),
    };
    if let Err(broken) = check(src, &run) {
        panic!("{broken} for {}", preview(src));
    }
    run
}

fn preview(src: &str) -> String {
    let head: String = src.chars().take(300).collect();
    format!("{head:?}{}", if src.len() > 300 { "..." } else { "" })
}

/// The one error message of a run that must have failed.
fn the_error(run: &Run) -> String {
    match &run.result {
        Ok(_) => panic!("expected an error, it assembled"),
        Err(e) => e[0].to_string(),
    }
}

fn program(run: &Run) -> &Program {
    match &run.result {
        Ok(p) => p,
        Err(e) => panic!("expected a program: {:?}", &e[..e.len().min(3)]),
    }
}

// ---------------------------------------------------------------------------------------------
// The worst sources we know of, each once a hang (or a quadratic crawl) of its own.

#[test]
fn an_empty_rept_with_a_huge_count_stops_at_the_budget() {
    // Once a hang: the statement cap counted statements, and an empty body has none.
    for src in
        [".rept 4000000000\n.endr\n", ".rept 4000000000\n# nothing but a comment\n/* and another */\n.endr\n", "nop\n.rept 0x7fffffffffffffff\n\n.endr\n"]
    {
        let run = hostile(src);
        let e = the_error(&run);
        assert!(e.contains("steps of work"), "{e}");
        assert!(e.contains("make the count of the `.rept` at line"), "names the `.rept`: {e}");
    }
    // A budget that runs out after a hundred mistakes still says so.
    let run = hostile(&format!("{}.rept 4000000000\n.endr\n", "bad\n".repeat(200)));
    let Err(e) = &run.result else { panic!("assembled") };
    assert!(e.iter().any(|e| e.message.contains("steps of work")), "{:?}", e.last());
}

#[test]
fn nested_repts_whose_product_is_huge_stop_at_the_budget() {
    // 10^16 copies of nothing, and of one instruction.
    let empty = format!("{}{}", ".rept 10\n".repeat(16), ".endr\n".repeat(16));
    let e = the_error(&hostile(&empty));
    assert!(e.contains("assembling the program takes more than"), "{e}");
    assert!(e.contains("`.rept` at line 1 smaller"), "the outermost: {e}");
    let full = format!("{}nop\n{}", ".rept 10\n".repeat(16), ".endr\n".repeat(16));
    let e = the_error(&hostile(&full));
    assert!(e.contains(&format!("more than {ASM_MAX_ITEMS} statements")), "{e}");
    assert!(e.contains("`.rept` at line 1 smaller"), "{e}");
    let two = hostile(".rept 100000\n.rept 100000\n.endr\n.endr\n");
    assert!(the_error(&two).contains("steps of work"));
}

#[test]
fn a_rept_inside_a_rept_is_matched_once() {
    // Once quadratic: every copy of the outer body searched the inner one's body for its `.endr`,
    // and a `.rept 0` paid nothing for that search.
    let src = format!(".rept 20000\n.rept 0\n{}.endr\n.endr\nnop\n", "nop\n".repeat(20000));
    let run = hostile(&src);
    assert_eq!(program(&run).image, [0x90]);
    // The source once, the `.rept 0` and its `.endr` per copy: linear, nowhere near 20000^2.
    assert!(run.steps < 3 * src.len() as u64 + 40 * 20000, "{} steps", run.steps);
}

#[test]
fn deep_if_nesting_is_linear() {
    // Once quadratic (100 000 levels took over 10 s): every statement asked every open `.if`. 25 000 levels
    // fit in the budget.
    const DEPTH: usize = 25_000;
    for (open, body) in [(".if 1\n", vec![0x90]), (".if 0\n", vec![])] {
        let src = format!("{}nop\n{}", open.repeat(DEPTH), ".endif\n".repeat(DEPTH));
        let run = hostile(&src);
        assert_eq!(program(&run).image, body);
        assert!(run.steps < 8 * src.len() as u64, "{} steps", run.steps);
    }
    let src = format!("{}nop\n{}", ".if 0\n.else\n".repeat(DEPTH / 2), ".endif\n".repeat(DEPTH / 2));
    assert_eq!(program(&hostile(&src)).image, [0x90]);
    // Never closed: one error, at the innermost `.if`.
    let open = format!("nop\n{}", ".if 1\n".repeat(DEPTH));
    let e = the_error(&hostile(&open));
    assert!(e.starts_with(&format!("line {}: `.if` without `.endif`", DEPTH + 1)), "{e}");
}

/// `n` statements that switch between `.text` and `.data` on every line.
fn alternating(n: usize) -> String {
    (0..n).map(|i| [".text\n", "nop\n", ".data\n", ".byte 1\n"][i % 4]).collect()
}

#[test]
fn a_source_at_the_item_limit_that_alternates_sections() {
    // Once quadratic: the address map was sorted by insertion, and this order is its worst case.
    let src = alternating(ASM_MAX_ITEMS);
    let run = hostile(&src);
    let p = program(&run);
    let half = ASM_MAX_ITEMS / 4;
    assert_eq!(p.image.len(), 2 * half);
    assert_eq!(p.lines.len(), 2 * half);
    assert_eq!(p.lines[0], (ORIGIN, 2));
    assert_eq!(p.lines[half], (ORIGIN + half as u32, 4)); // .data's first byte
    assert_eq!(p.line_of(ORIGIN + half as u32 - 1), Some(ASM_MAX_ITEMS - 2));
    println!("{} alternating statements: {} of {ASM_WORK} steps", ASM_MAX_ITEMS, run.steps);
    // One statement more is over the limit, and says so at that line.
    let e = the_error(&hostile(&(src + "nop\n")));
    assert_eq!(
        e,
        format!(
            "line {}: the program expands to more than {ASM_MAX_ITEMS} statements and labels \
             (each `.rept` copy counts), the most one Guest program may have: make the program \
             shorter",
            ASM_MAX_ITEMS + 1
        )
    );
}

#[test]
fn a_rept_of_mistakes_reports_each_once() {
    // Once quadratic: 200 000 copies of two errors were insertion-sorted by line, then deduplicated
    // (30 000 copies fit in today's budget).
    let run = hostile(".rept 15000\nmovx %eax\n.byte 1 +\n.endr\n");
    let Err(e) = &run.result else { panic!("assembled") };
    let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 3]);
}

#[test]
fn a_million_different_mistakes_are_capped() {
    let src: String = (0..20_000).map(|i| format!("bad{i}\n")).collect();
    let run = hostile(&src);
    let Err(e) = &run.result else { panic!("assembled") };
    assert_eq!(e.len(), ASM_MAX_ERRORS + 1);
    assert_eq!(e[0].line, 1);
    let last = e[ASM_MAX_ERRORS].to_string();
    assert!(last.starts_with("and more errors after these") && last.contains("fix these"), "{last}");
}

#[test]
fn huge_sizes_are_errors_at_their_line_not_allocations() {
    for (src, line) in [
        (".space 0xffffffff\n", 1),
        ("nop\n.skip 0x7fffffffffffffff, 1\n", 2),
        ("nop\nnop\nx: .fill 0x7fffffff, 8, 0xff\n", 3),
        (".org 0x7fffffff\n", 1),
        ("nop\n.p2align 30\nnop\n", 2),
        ("nop\n.balign 0x40000000\nnop\n", 2),
        (".rept 5000\nnop\n.p2align 12\n.endr\n", 2), // the nop that lands past the limit
        (".rept 5000\n.space 4096\n.endr\n", 2),
    ] {
        let e = the_error(&hostile(src));
        assert!(e.starts_with(&format!("line {line}: the program grows to more than {ASM_MAX_IMAGE}")), "{src:?}: {e}");
    }
    // Up to the limit is fine, and fast (one allocation, no per-byte loop).
    let p = hostile(&format!(".fill {}, 4, 0x01020304\n", ASM_MAX_IMAGE / 4));
    assert_eq!(program(&p).image.len(), ASM_MAX_IMAGE as usize);
    assert_eq!(program(&p).image[..5], [4, 3, 2, 1, 4]);
    // Negative sizes take no room, as in GNU as.
    assert!(hostile(".space -5\n.fill -1, -1, -1\nnop\n").result.is_ok());
}

#[test]
fn a_program_past_the_top_of_the_address_space_is_an_error() {
    let (r, _) = assemble_counting("nop\n.space 0x20\n", 0xffff_fff0, &no_files);
    let e = r.unwrap_err();
    assert!(e[0].message.contains("top of the 32-bit address space"), "{e:?}");
    let (r, _) = assemble_counting("nop\n.space 14\nhlt\n", 0xffff_fff0, &no_files);
    assert_eq!(r.unwrap().image.len(), 16, "ending exactly at 4 GiB is fine");
}

#[test]
fn include_loops_and_repeated_includes_end() {
    let files = |name: &str| match name {
        "self.inc" => Some(".include \"self.inc\"\nnop\n".to_string()),
        "twice.inc" => Some(".include \"twice.inc\"\n.include \"twice.inc\"\nnop\n".to_string()),
        "wide.inc" => Some(".include \"wide.inc\"\n".repeat(10)),
        "big.inc" => Some(format!("{}\n", "# a long comment ".repeat(60_000))),
        _ => None,
    };
    let e = the_error(&hostile_with(".include \"self.inc\"\n", &files));
    assert!(e.contains("nested more than 8 deep"), "{e}");
    // 2^8 copies: fine, and one error for the depth.
    assert!(hostile_with("nop\n.include \"twice.inc\"\n", &files).result.is_err());
    // 10^8 copies of nothing: the budget.
    let e = the_error(&hostile_with(".include \"wide.inc\"\n", &files));
    assert!(e.contains("steps of work") || e.contains("nested more than"), "{e}");
    // A megabyte of comments included again and again: paid per inclusion (was free).
    let e = the_error(&hostile_with(".rept 1000\n.include \"big.inc\"\n.endr\n", &files));
    assert!(e.starts_with("line 2: assembling the program takes more than"), "{e}");
    assert!(e.contains("`.rept` at line 1"), "{e}");
}

#[test]
fn a_long_file_name_is_not_copied_for_every_copy_of_a_rept() {
    // Once a crawl (seconds, gigabytes copied): every copy of a `.rept` inside an included file
    // copied the file's name, for the `.rept` and for the error it repeated.
    let long = "f".repeat(100_000);
    let files = |name: &str| match name.len() {
        100_000 if name.starts_with("f") => Some(".rept 1000000\n.rept 1\n.endr\n.endr\n".to_string()),
        100_000 => Some(".rept 1000000\nmovx %eax\n.endr\n".to_string()),
        _ => None,
    };
    let e = the_error(&hostile_with(&format!("nop\n.include \"{long}\"\n"), &files));
    assert!(e.starts_with(&format!("line 2: in {long}, line 2: assembling the program takes more than {ASM_WORK} steps")), "{}", e.replace(&long, "F"));
    assert!(e.ends_with(&format!("make the count of the `.rept` at line 1 of {long} smaller")), "{}", &e[e.len() - 200..]);
    let bad = "g".repeat(100_000);
    let run = hostile_with(&format!("nop\n.include \"{bad}\"\n"), &files);
    let Err(errors) = &run.result else { panic!("expected errors") };
    // The mistake once, then the budget spent on naming the file (paid like any work).
    assert_eq!(errors.len(), 2, "{:?}", errors.iter().map(|e| &e.message[e.message.len() - 80..]).collect::<Vec<_>>());
    assert!(errors[0].message.ends_with("unknown instruction `movx`: did you mean `mov`, `movzx` or `movsx`?"));
    assert!(errors[1].message.ends_with(&format!("make the count of the `.rept` at line 1 of {bad} smaller")));
}

#[test]
fn long_lines_labels_and_sources() {
    // A megabyte string on one line is fine: it is read once.
    let big = format!(".ascii \"{}\"\n", "a".repeat(1 << 20));
    assert_eq!(program(&hostile(&big)).image.len(), 1 << 20);
    // ...but not a thousand times over.
    let e = the_error(&hostile(&format!(".rept 1000\n{big}.endr\n")));
    assert!(e.starts_with("line 2: assembling the program takes more than"), "{e}");
    // A label of 100 000 characters is a label.
    let long = format!("{}: jmp {0}\n", "l".repeat(100_000));
    assert_eq!(program(&hostile(&long)).image, [0xeb, 0xfe]);
    // A source longer than the whole budget is refused before any of it is read.
    let huge = "\n".repeat(ASM_WORK as usize + 1);
    let run = hostile(&huge);
    let e = the_error(&run);
    assert!(e.contains("characters long; make it shorter"), "{e}");
    assert_eq!(run.steps, ASM_WORK);
    // Once quadratic: the lexer re-read the statement at every comment.
    let comments = format!(".byte 1{}\n", ", 1/**/".repeat(50_000));
    assert_eq!(program(&hostile(&comments)).image.len(), 50_001);
    // Many labels on one line.
    let n = ASM_MAX_ITEMS / 2;
    let labels: String = (0..n).map(|i| format!("x{i}:")).collect::<String>() + "nop\n";
    assert_eq!(program(&hostile(&labels)).symbols.len(), n);
}

#[test]
fn many_sections_are_found_by_name() {
    // Once quadratic: each `.section` searched the list of sections.
    let n = ASM_MAX_ITEMS / 2;
    let src: String = (0..n).map(|i| format!(".section .s{i}\n.byte 1\n")).collect();
    let p = hostile(&src);
    assert_eq!(program(&p).sections.len(), n + 1); // .text, empty, first
    assert_eq!(program(&p).image.len(), n);
}

/// `k` jumps each of which goes near only once every jump inside it has: a relaxation that takes
/// one pass per jump (GNU as's `relax_segment` does the same).
fn relaxation_chain(k: usize) -> String {
    // Jump i is at 2i and aims 128 - 3(k-1-i) bytes past its end while every jump is short, so it
    // is out of reach exactly when the k-1-i jumps after it have grown by 3 bytes each.
    let mut src: String = (0..k).map(|i| format!("jmp t{i}\n")).collect();
    // Label t_i is at 130 - 3(k-1) + 5i, so the first is this far past the last jump.
    let first = 130 - 3 * (k as i64 - 1) - 2 * k as i64;
    src += &format!(".space {first}\n");
    for i in 0..k {
        src += &format!("t{i}: .space {}\n", if i + 1 < k { 5 } else { 0 });
    }
    src
}

#[test]
fn a_relaxation_that_takes_a_pass_per_jump_settles() {
    let run = hostile(&relaxation_chain(25));
    let p = program(&run);
    assert!((0..25).all(|i| p.image[5 * i] == 0xe9), "every jump is near: {:02x?}", &p.image[..20]);
    // Padded to the item limit, the passes cost more than the budget has: a clean error or a
    // program, never a hang.
    let padded = relaxation_chain(25) + &"nop\n".repeat(ASM_MAX_ITEMS - 100);
    let run = hostile(&padded);
    println!("relaxation chain + nops: {} steps", run.steps);
}

#[test]
fn the_course_guests_are_far_inside_the_budget() {
    let mut worst = (0, String::new());
    for (path, src) in seeds() {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(root);
        let files = move |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        // A source built with `as --defsym CASE=n` (badinsn.S) gets its symbol in the text.
        let src = if src.contains(".if CASE") { format!(".set CASE, 1\n{src}") } else { src };
        let run = hostile_with(&src, &files);
        assert!(run.result.is_ok(), "{}: {:?}", path.display(), run.result.err());
        if run.steps > worst.0 {
            worst = (run.steps, path.display().to_string());
        }
    }
    println!("the course's costliest Guest: {} ({} steps)", worst.1, worst.0);
    assert!(worst.0 < ASM_WORK / 10, "{worst:?}"); // a margin of 10 times over
}

// ---------------------------------------------------------------------------------------------
// Mutations of the course's Guests, and token soup. A small xorshift keeps every run the same.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// The course's Guest sources: the lessons', the tests', the assembler's own.
fn seeds() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("lessons/guests"), root().join("tests/guests"), root().join("tests/asm")];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                // The hostile Guests of tests/hostile.rs are built with GNU as only: they use `.macro`,
                // which this assembler refuses by design.
                if !p.ends_with("hostile") {
                    dirs.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "S") {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    out.push((p, text));
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Directives and statements with extreme numbers, most of them cheap to refuse.
const EXTREME: &[&str] = &[
    ".space 0xffffffff",
    ".skip -1",
    ".fill 0x7fffffff, 8, 0xff",
    ".fill -1, -1, -1",
    ".fill 3, 9, 1",
    ".org 0x7fffffff",
    ".org -1",
    ".org . - 1",
    ".p2align 31",
    ".p2align 64",
    ".balign 0x40000000",
    ".align 3",
    ".byte 0x7fffffffffffffff",
    ".long 1 << 63",
    ".quad -9223372036854775808",
    ".word 99999999999999999999",
    ".equ big, 0xffffffffffffffff",
    ".rept -1",
    ".rept 0",
    ".rept 3",
    ".rept 100000",
    ".if 1",
    ".if 0",
    ".else",
    ".elseif 1",
    ".endif",
    ".endr",
    ".include \"self.S\"",
    ".include \"nowhere.S\"",
    ".section .s1",
    ".section \"x\", \"ax\"",
    "x = x + 1",
    ".set x, .",
    ".equ y, y",
    "jmp . + 0x7fffffff",
    "jmp -0x80000000",
    "mov $0xffffffffffffffff, %eax",
    "movl $1 / 0, %eax",
    "1:",
    "jmp 1b",
    "jmp 1f",
    ".space 10 - (. - 1b)",
    ".long ((((((((((((((((1))))))))))))))))",
    "lbl: lbl:",
    ".macro m",
    "int $0x1f",
    "\u{0}\t\r\u{feff}é",
];

/// Pairs a run of lines can be wrapped in.
const WRAPS: &[(&str, &str)] = &[
    (".rept 2", ".endr"),
    (".rept 0", ".endr"),
    (".rept 17", ".endr"),
    (".if 0", ".endif"),
    (".if 1", ".endif"),
    (".if 0\n.else", ".endif"),
    (".ifdef start", ".endif"),
    (".section .t\n", ".text"),
    ("/*", "*/"),
];

const SOUP: &[&str] = &[
    "mov",
    "movl",
    "add",
    "jmp",
    "je",
    "call",
    "ret",
    "push",
    "pop",
    "lea",
    "int",
    "rep",
    "lock",
    "movsb",
    ".byte",
    ".long",
    ".ascii",
    ".space",
    ".fill",
    ".org",
    ".align",
    ".p2align",
    ".rept",
    ".endr",
    ".if",
    ".else",
    ".endif",
    ".equ",
    ".set",
    ".text",
    ".data",
    ".section",
    ".include",
    "%eax",
    "%ebx",
    "%esp",
    "%al",
    "%es",
    "%cr0",
    "$",
    "(",
    ")",
    ",",
    ":",
    ";",
    "*",
    "+",
    "-",
    "/",
    "%",
    "<<",
    ">>",
    "==",
    "&&",
    "||",
    "!",
    "~",
    "0",
    "1",
    "-1",
    "0x7fffffff",
    "0xffffffff",
    "4000000000",
    "1b",
    "1f",
    "x",
    "start",
    ".",
    "\"",
    "'",
    "#",
    "/*",
    "*/",
    "\n",
    "\\",
];

const CHARS: &[&str] = &["$", "%", "(", ")", ",", ":", ";", "*", "#", "\"", "'", "0", "9", "a", "x", ".", "\n", " ", "\\", "/", "=", "<", "é", "\u{0}"];

/// One to four mutations of `lines`.
fn mutate(rng: &mut Rng, lines: &mut Vec<String>) {
    for _ in 0..1 + rng.below(4) {
        let n = lines.len().max(1);
        let at = rng.below(n).min(lines.len());
        match rng.below(11) {
            0 if !lines.is_empty() => {
                lines.remove(at.min(lines.len() - 1));
            }
            1 if !lines.is_empty() => {
                let l = lines[at.min(lines.len() - 1)].clone();
                lines.insert(at, l);
            }
            2 if lines.len() > 1 => {
                let (a, b) = (at.min(lines.len() - 1), rng.below(lines.len()));
                lines.swap(a, b);
            }
            3 | 4 if !lines.is_empty() => {
                // A character replaced, inserted or deleted.
                let i = at.min(lines.len() - 1);
                let mut cs: Vec<char> = lines[i].chars().collect();
                let k = rng.below(cs.len() + 1);
                let c = rng.pick(CHARS).chars().next().unwrap_or(' ');
                match rng.below(3) {
                    0 if k < cs.len() => cs[k] = c,
                    1 if k < cs.len() => {
                        cs.remove(k);
                    }
                    _ => cs.insert(k, c),
                }
                lines[i] = cs.into_iter().collect();
            }
            5 | 6 => lines.insert(at, rng.pick(EXTREME).to_string()),
            7 => {
                // Wrap a run of lines, sometimes many times over (nesting).
                let end = (at + 1 + rng.below(8)).min(lines.len());
                let (open, close) = WRAPS[rng.below(WRAPS.len())];
                // Nested copies multiply: that is the budget's business, tested on its own above,
                // and at a second or more a case in a debug build it would crowd out the rest.
                let repeats = open.starts_with(".rept") && !open.ends_with(" 0");
                let times = if rng.below(4) == 0 && !repeats { 1 + rng.below(20) } else { 1 };
                for _ in 0..times {
                    lines.insert(end, close.to_string());
                    lines.insert(at, open.to_string());
                }
            }
            8 => {
                let soup: Vec<&str> = (0..1 + rng.below(8)).map(|_| rng.pick(SOUP)).collect();
                lines.insert(at, soup.join(" "));
            }
            9 if !lines.is_empty() => {
                let i = at.min(lines.len() - 1);
                let cut = rng.below(lines[i].len() + 1);
                let cut = (0..=cut).rev().find(|c| lines[i].is_char_boundary(*c)).unwrap_or(0);
                lines[i].truncate(cut);
            }
            _ if lines.len() > 1 && at + 1 < lines.len() => {
                let next = lines.remove(at + 1);
                lines[at] = format!("{}; {next}", lines[at]);
            }
            _ => lines.push(rng.pick(EXTREME).to_string()),
        }
    }
}

/// What a fuzz run found.
#[derive(Default)]
struct Findings {
    cases: usize,
    failures: Vec<(String, String)>,
    /// The five slowest cases: time, steps, name, source.
    slowest: Vec<(Duration, u64, String, String)>,
}

impl Findings {
    fn record(&mut self, name: String, src: &str, files: &dyn Fn(&str) -> Option<String>) {
        self.cases += 1;
        match run_with(src, files) {
            Err(p) => self.failures.push((name, format!("panic: {p}\n{src}"))),
            Ok(run) => {
                if let Err(broken) = check(src, &run) {
                    self.failures.push((name.clone(), format!("{broken}\n{src}")));
                }
                self.slowest.push((run.time, run.steps, name, src.to_string()));
                self.slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
                self.slowest.truncate(5);
            }
        }
    }

    /// Print the figures; save each failing input where a person can move it into the corpus.
    fn report(self, what: &str) {
        println!(
            "{what}: {} cases, {} failures; slowest: {}",
            self.cases,
            self.failures.len(),
            self.slowest.iter().map(|(t, s, n, _)| format!("{n} {t:.0?} {s} steps")).collect::<Vec<_>>().join(", ")
        );
        let dir = std::env::temp_dir().join("lgsim-asm-fuzz");
        if std::env::var_os("LGSIM_FUZZ_SAVE").is_some() {
            let _ = std::fs::create_dir_all(&dir);
            for (_, _, name, src) in &self.slowest {
                let _ = std::fs::write(dir.join(format!("slow-{name}.S")), src);
            }
        }
        if self.failures.is_empty() {
            return;
        }
        let _ = std::fs::create_dir_all(&dir);
        for (name, text) in &self.failures {
            let _ = std::fs::write(dir.join(format!("{name}.S")), text);
        }
        panic!(
            "{} inputs broke the contract (saved in {}; add each to tests/corpus/asm/): {}",
            self.failures.len(),
            dir.display(),
            self.failures.iter().map(|(n, t)| format!("{n}: {}", t.lines().next().unwrap_or(""))).collect::<Vec<_>>().join("; ")
        );
    }
}

/// Fuzz cases for one test: `LGSIM_FUZZ_CASES`, or `default` (what CI runs).
fn cases(default: usize) -> usize {
    std::env::var("LGSIM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn mutated_course_guests_keep_the_contract() {
    let seeds = seeds();
    assert!(seeds.len() >= 15, "only {} seeds", seeds.len());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut found = Findings::default();
    for case in 0..cases(1500) {
        let (path, text) = &seeds[case % seeds.len()];
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        mutate(&mut rng, &mut lines);
        let src = lines.join("\n");
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(root);
        let me = src.clone();
        let files = move |name: &str| match name {
            "self.S" => Some(me.clone()),
            _ => std::fs::read_to_string(dir.join(name)).ok(),
        };
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("guest");
        found.record(format!("mutant{case}-{stem}"), &src, &files);
    }
    found.report("mutations");
}

#[test]
fn token_soup_keeps_the_contract() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut found = Findings::default();
    for case in 0..cases(1500) {
        let mut src = String::new();
        for _ in 0..rng.below(12) {
            for _ in 0..rng.below(10) {
                src += rng.pick(SOUP);
                src += if rng.below(3) == 0 { "" } else { " " };
            }
            src.push('\n');
        }
        found.record(format!("soup{case}"), &src, &no_files);
    }
    found.report("token soup");
}

// ---------------------------------------------------------------------------------------------
// The corpus: every input that ever broke the assembler, one file each, replayed.

/// `# expect: ok`, or `# expect: error <text the first error contains>`, from a corpus file.
fn expectation(src: &str) -> Option<Result<(), String>> {
    src.lines().find_map(|l| {
        let e = l.strip_prefix("# expect: ")?;
        Some(match e.strip_prefix("error ") {
            Some(text) => Err(text.trim().to_string()),
            None => Ok(()),
        })
    })
}

#[test]
fn the_corpus_replays() {
    let dir = root().join("tests/corpus/asm");
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for e in std::fs::read_dir(&dir).expect("tests/corpus/asm").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Ok(text) = std::fs::read_to_string(e.path()) {
            files.insert(name, text);
        }
    }
    let cases: Vec<(&String, &String)> = files.iter().filter(|(n, _)| n.ends_with(".S")).collect();
    assert!(cases.len() >= 5, "the corpus has {} inputs", cases.len());
    let lookup = |name: &str| files.get(name).cloned();
    for (name, src) in cases {
        let want = expectation(src).unwrap_or_else(|| panic!("{name} has no `# expect:` line"));
        let run = match run_with(src, &lookup) {
            Ok(r) => r,
            Err(p) => panic!("{name}: panicked: {p}"),
        };
        if let Err(broken) = check(src, &run) {
            panic!("{name}: {broken}");
        }
        match (&want, &run.result) {
            (Ok(()), Ok(_)) => {}
            (Err(text), Err(e)) => {
                assert!(e[0].to_string().contains(text.as_str()), "{name}: expected an error containing {text:?}, got {:?}", e[0].to_string())
            }
            (Ok(()), Err(e)) => panic!("{name}: expected a program, got {:?}", e[0].to_string()),
            (Err(text), Ok(_)) => panic!("{name}: expected an error containing {text:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Figures, not assertions: what the worst sources cost.

/// `n` statements: labels, and jumps to labels ahead: 40 ahead (in reach of a short jump even
/// past the near ones), or for every tenth jump 1000 ahead (out of reach: relaxed to near).
fn forward_jumps(n: usize) -> String {
    let k = n / 2;
    (0..k).map(|i| format!("l{i}: jmp l{}\n", (i + if i % 10 == 0 { 1000 } else { 40 }).min(k - 1))).collect()
}

#[test]
fn forward_jumps_relax_or_stop_at_the_budget() {
    // Half the item limit relaxes: every tenth jump near, the rest short.
    let run = hostile(&forward_jumps(ASM_MAX_ITEMS / 2));
    let p = program(&run);
    // As `as --32` 2.40 assembles it (5,000 labels and jumps): 11,482 bytes, starting e9 f7 08 00 00 eb 5a.
    assert_eq!(p.image[..7], [0xe9, 0xf7, 0x08, 0, 0, 0xeb, 0x5a]);
    assert_eq!(p.image.len(), 11_482);
    assert_eq!(p.symbols["l11"] - p.symbols["l10"], 5);
    assert_eq!(p.symbols["l12"] - p.symbols["l11"], 2);
    assert_eq!(p.symbols.len(), ASM_MAX_ITEMS / 4);
    println!("forward jumps at half the limit: {} steps, {} bytes", run.steps, p.image.len());
    // At the limit, the layout's passes cost more than the budget has: its error, at once.
    let e = the_error(&hostile(&forward_jumps(ASM_MAX_ITEMS)));
    assert!(e.starts_with("assembling the program takes more than") && e.contains("laying out needs too many passes"), "{e}");
}

#[test]
fn nested_repts_to_the_item_limit() {
    let src = format!(".rept {}\n.rept 1000\nnop\n.endr\n.endr\n", ASM_MAX_ITEMS / 1000);
    let run = hostile(&src);
    assert_eq!(program(&run).image, vec![0x90; ASM_MAX_ITEMS]);
}

/// Wall-clock runs of each source in the measurement: the machine is shared, so the best of a few
/// is the figure that says what the code costs.
const RUNS: usize = 5;

#[test]
#[ignore = "a benchmark: run with --release --ignored --nocapture to see the figures"]
fn worst_sources_cost() {
    let cases: Vec<(&str, String)> = vec![
        ("empty .rept 4e9", ".rept 4000000000\n.endr\n".into()),
        ("nested .rept product 1e16", format!("{}nop\n{}", ".rept 10\n".repeat(16), ".endr\n".repeat(16))),
        ("50k nested .if", format!("{}nop\n{}", ".if 1\n".repeat(50_000), ".endif\n".repeat(50_000))),
        ("alternating sections at the limit", alternating(ASM_MAX_ITEMS)),
        ("nops at the limit", "nop\n".repeat(ASM_MAX_ITEMS)),
        ("labels at the limit", (0..ASM_MAX_ITEMS / 2).map(|i| format!("l{i}: nop\n")).collect()),
        ("long .ascii line repeated", format!(".rept 1000\n.ascii \"{}\"\n.endr\n", "a".repeat(100_000))),
        ("relaxation chain + nops", relaxation_chain(25) + &"nop\n".repeat(ASM_MAX_ITEMS - 100)),
        ("jumps at the limit", (0..ASM_MAX_ITEMS / 2).map(|i| format!("l{i}: jmp l{}\n", (i * 7919) % (ASM_MAX_ITEMS / 2))).collect()),
        ("one long expression per line", format!(".rept 20000\n.long {}\n.endr\n", vec!["1"; 500].join("+"))),
        ("one long sum of symbols per line", format!("a = 1\n.rept 20000\n.long {}\n.endr\n", vec!["a"; 500].join("+"))),
        ("one long bracketed expression per line", format!(".rept 20000\n.long {}\n.endr\n", vec!["(1)"; 200].join("*"))),
        ("long lists of numbers", format!(".rept 20000\n.long {}\n.endr\n", vec!["1"; 500].join(","))),
        ("long unary chains", format!(".rept 20000\n.long {}1\n.endr\n", "-~".repeat(30))),
        ("forward jumps relaxing, half the limit", forward_jumps(ASM_MAX_ITEMS / 2)),
        ("forward jumps relaxing at the limit", forward_jumps(ASM_MAX_ITEMS)),
        ("nested .rept to the limit", ".rept 30\n.rept 1000\nnop\n.endr\n.endr\n".into()),
    ];
    for (name, src) in cases {
        let cpu0 = cpu_time();
        let mut run = run_with(&src, &no_files).expect("no panic");
        for _ in 1..RUNS {
            let again = run_with(&src, &no_files).expect("no panic");
            if again.time < run.time {
                run = again;
            }
        }
        // CPU time, where the system gives it (a loaded machine stretches the wall-clock time).
        let cpu = match (cpu0, cpu_time()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => run.time * RUNS as u32,
        };
        let cpu = cpu / RUNS as u32;
        let ns = run.time.as_nanos() as f64 / run.steps.max(1) as f64;
        let end = match &run.result {
            Ok(p) => format!("ok, {} bytes", p.image.len()),
            Err(e) => format!("error: {}", e[0].message.chars().take(60).collect::<String>()),
        };
        println!("{name:36} {:>9} steps {:>8.1?} wall (best of {RUNS}) {:>8.1?} cpu (mean) {ns:5.1} ns/step  {end}", run.steps, run.time, cpu);
    }
}

/// This thread's CPU time so far, from Linux's /proc (in clock ticks of 10 ms), if there is one.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

#[test]
#[ignore = "a probe: LGSIM_PROBE=file.S"]
fn probe_one_file() {
    let path = std::env::var("LGSIM_PROBE").expect("LGSIM_PROBE");
    let src = std::fs::read_to_string(&path).expect("readable");
    let run = run_with(&src, &no_files).expect("no panic");
    println!("{} steps in {:?}: {:?}", run.steps, run.time, run.result.err().map(|e| e.into_iter().take(3).collect::<Vec<_>>()));
}
