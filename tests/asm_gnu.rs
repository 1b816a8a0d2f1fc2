//! The differential test: our assembler against GNU `as --32` and `ld`, byte for byte.
//!
//! For every Guest in `lessons/guests/*.S` and every source in `tests/asm/*.S`, we assemble with
//! `lguest_sim::asm::assemble` and with the real binutils (in a fresh temporary directory, linked
//! with a script that places the sections where ours are), decode both `.text` images with
//! iced-x86 and compare them instruction by instruction, then require the whole images to be
//! identical. Without `as` or `ld` the test fails: a differential test that silently passes
//! proves nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use iced_x86::{Decoder, DecoderOptions};
use lguest_sim::asm::{assemble, assemble_with_includes, Program};

const ORIGIN: u32 = 0x100000;

fn scratch_dir(tag: &str) -> PathBuf {
    // Tests run in parallel and two sources may share a name: every build gets its own folder.
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("lguest-sim-asm-{}-{n}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

fn run(dir: &Path, cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{cmd}` ({e}): the differential test needs GNU binutils (as, ld)"));
    assert!(out.status.success(), "`{cmd} {}` failed:\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// Assemble and link with GNU binutils, placing sections in our order; the flat binary.
fn gnu_image(tag: &str, source: &str, ours: &Program, include_dir: Option<&Path>) -> Vec<u8> {
    let dir = scratch_dir(tag);
    std::fs::write(dir.join("t.s"), source).unwrap();
    let mut script = format!("SECTIONS {{\n  . = {:#x};\n", ORIGIN);
    for s in &ours.sections {
        script += &format!("  {0} : {{ *({0}) }}\n", s.name);
    }
    script += "  /DISCARD/ : { *(.note*) *(.comment) }\n}\n";
    std::fs::write(dir.join("link.ld"), script).unwrap();
    let mut args = vec!["--32".to_string(), "-o".into(), "t.o".into(), "t.s".into()];
    if let Some(inc) = include_dir {
        args.push("-I".into());
        args.push(inc.display().to_string());
    }
    run(&dir, "as", &args.iter().map(String::as_str).collect::<Vec<_>>());
    run(&dir, "ld", &["-m", "elf_i386", "-T", "link.ld", "-e", &ORIGIN.to_string(), "--oformat", "binary", "-o", "t.bin", "t.o"]);
    let bin = std::fs::read(dir.join("t.bin")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bin
}

fn disasm(bytes: &[u8], ip: u32) -> Vec<(u32, iced_x86::Code, String, usize)> {
    let mut d = Decoder::with_ip(32, bytes, ip as u64, DecoderOptions::NONE);
    let mut out = Vec::new();
    while d.can_decode() {
        let i = d.decode();
        let text = lguest_sim::cpu::att::format(&i);
        out.push((i.ip() as u32, i.code(), text, i.len()));
    }
    out
}

/// Compare one source; returns how many instructions were compared.
fn compare(tag: &str, source: &str) -> usize {
    compare_in(tag, source, None)
}

/// [`compare`], with `.include` files looked up in `include_dir` by both assemblers.
fn compare_in(tag: &str, source: &str, include_dir: Option<&Path>) -> usize {
    let include = |name: &str| include_dir.and_then(|d| std::fs::read_to_string(d.join(name)).ok());
    let ours = assemble_with_includes(source, ORIGIN, &include)
        .unwrap_or_else(|errs| panic!("{tag}: our assembler rejected it:\n{}", errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")));
    let gnu = gnu_image(tag, source, &ours, include_dir);
    let text = &ours.sections[0];
    let n = text.size as usize;
    let (a, b) = (&ours.image[..n.min(ours.image.len())], &gnu[..n.min(gnu.len())]);
    let (da, db) = (disasm(a, ORIGIN), disasm(b, ORIGIN));
    for (x, y) in da.iter().zip(&db) {
        assert_eq!(
            (x.0, x.1, &x.2),
            (y.0, y.1, &y.2),
            "{tag}: first different instruction at {:#x} (source line {:?}): ours `{}`, GNU as `{}`",
            x.0,
            ours.line_of(x.0),
            x.2,
            y.2
        );
    }
    assert_eq!(da.len(), db.len(), "{tag}: instruction counts differ");
    if let Some(at) = ours.image.iter().zip(&gnu).position(|(x, y)| x != y) {
        panic!(
            "{tag}: bytes differ at {:#x} (source line {:?}): ours {:02x?}, GNU {:02x?}",
            ORIGIN as usize + at,
            ours.line_of(ORIGIN + at as u32),
            &ours.image[at..(at + 8).min(ours.image.len())],
            &gnu[at..(at + 8).min(gnu.len())]
        );
    }
    assert_eq!(ours.image.len(), gnu.len(), "{tag}: image sizes differ");
    da.len()
}

fn sources(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("read {}: {e}", root.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "S"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn guests_match_gnu_as() {
    let guests = sources("lessons/guests");
    assert!(guests.len() >= 4, "expected at least 4 Guest programs, found {}", guests.len());
    let mut total = 0;
    for (name, src) in &guests {
        let n = compare(name, src);
        eprintln!("{name}: {n} instructions identical to GNU as");
        total += n;
    }
    eprintln!("guests: {total} instructions compared");
}

/// The Guests other tests boot (`tests/guests/host`), written for GNU as by other hands, with
/// the `.include` they share.
#[test]
fn host_test_guests_match_gnu_as() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/host");
    let mut total = 0;
    for (name, src) in &sources("tests/guests/host") {
        // A source built with `as --defsym CASE=n` (badinsn.S) is compared case by case, the symbol set in
        // the text both assemblers read.
        let cases: Vec<(String, String)> = if src.contains(".if CASE") {
            (1..=4).map(|c| (format!("{name} with CASE={c}"), format!(".set CASE, {c}\n{src}"))).collect()
        } else {
            vec![(name.clone(), src.clone())]
        };
        for (tag, text) in &cases {
            let n = compare_in(tag, text, Some(&dir));
            eprintln!("{tag}: {n} instructions identical to GNU as");
            total += n;
        }
    }
    assert!(total > 50, "only {total} instructions in tests/guests/host");
}

#[test]
fn torture_matches_gnu_as() {
    let mut total = 0;
    for (name, src) in &sources("tests/asm") {
        let n = compare(name, src);
        eprintln!("{name}: {n} instructions identical to GNU as");
        total += n;
    }
    assert!(total > 300, "the torture sources should exercise hundreds of instructions, got {total}");
}

// ---------------------------------------------------------------------------------------------
// Random instructions: every one our assembler accepts must be accepted by GNU as and give the
// same bytes. A seeded generator keeps the run the same every time.

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

const MNEMONICS: &[&str] = &[
    "mov",
    "movb",
    "movw",
    "movl",
    "add",
    "orw",
    "adcb",
    "sbbl",
    "and",
    "subw",
    "xorb",
    "cmpl",
    "cmp",
    "test",
    "testb",
    "testl",
    "xchg",
    "xchgw",
    "inc",
    "decb",
    "notw",
    "negl",
    "mul",
    "divb",
    "idivw",
    "imul",
    "imulw",
    "imull",
    "rol",
    "rorb",
    "rclw",
    "rcrl",
    "shl",
    "shrb",
    "salw",
    "sarl",
    "shld",
    "shrdw",
    "shrd",
    "push",
    "pushw",
    "pushl",
    "pop",
    "popw",
    "popl",
    "lea",
    "leaw",
    "movzx",
    "movsx",
    "movzbl",
    "movzbw",
    "movzwl",
    "movsbl",
    "movsbw",
    "movswl",
    "jmp",
    "call",
    "je",
    "jnz",
    "jg",
    "sete",
    "setg",
    "cmovl",
    "cmovgw",
    "cmovnel",
    "bswap",
    "xadd",
    "xaddw",
    "cmpxchgb",
    "cmpxchg",
    "bt",
    "btsw",
    "btrl",
    "btc",
    "bsf",
    "bsrw",
    "int",
    "ret",
    "retw",
    "enter",
    "lgdt",
    "sidt",
    "in",
    "inb",
    "out",
    "outl",
    "aam",
    "aad",
    "movsb",
    "stosw",
    "lodsl",
    "scasb",
    "insb",
    "outsl",
    "rep movsb",
    "lock incl",
    "lock xchg",
    "repne scasb",
    "lock addl",
    "lock orb",
    "lock btsl",
    "lock cmpxchg",
    "movs",
    "lods",
    "stos",
    "scas",
    "cmps",
    "ins",
    "outs",
    "movsw",
    "lodsb",
    "stosl",
    "cmpsw",
    "insl",
    "outsb",
    "outb",
    "inl",
    "inw",
    "leave",
    "iret",
    "cbtw",
    "cwtl",
    "setnz",
    "cmovs",
    "shrdl",
    "shldw",
    "bswapl",
    "lidt",
    "sgdt",
    "bsr",
    "btw",
    "calll",
    "jmpl",
    "pushfw",
    "movl",
    "movw",
    "testw",
    "xchgl",
    "incw",
    "notb",
    "sall",
    "rcrb",
    "imulb",
    "mulw",
    "retl",
    "enterl",
];

const OPERANDS: &[&str] = &[
    "%eax",
    "%ebx",
    "%ecx",
    "%edx",
    "%esp",
    "%ebp",
    "%esi",
    "%edi",
    "%ax",
    "%bx",
    "%si",
    "%sp",
    "%al",
    "%bl",
    "%ah",
    "%dh",
    "%cl",
    "%dx",
    "%es",
    "%ds",
    "%ss",
    "%fs",
    "%gs",
    "$0",
    "$1",
    "$2",
    "$3",
    "$-1",
    "$127",
    "$-128",
    "$128",
    "$255",
    "$0x1234",
    "$0x7fffffff",
    "$0xffffffff",
    "$lbl",
    "$(fwd - lbl)",
    "$N",
    "$(N * 3)",
    "$'A",
    "(%eax)",
    "(%ebp)",
    "(%esp)",
    "4(%ebp)",
    "-8(%esp)",
    "0x100(%esi)",
    "-0x100(%edi)",
    "(%eax,%ebx)",
    "(%eax,%ebx,4)",
    "8(%ebp,%ecx,2)",
    "(,%ecx,2)",
    "0x10(,%edx,8)",
    "lbl",
    "lbl(,%eax,4)",
    "lbl+4(%ebx)",
    "%es:(%edi)",
    "%fs:4(%eax)",
    "%ds:(%ebx)",
    "%ss:(%ebp)",
    "%ds:(%ebp)",
    "%cs:lbl",
    "%gs:0x14",
    "(%esi)",
    "(%dx)",
    "*%eax",
    "*(%ebx)",
    "*lbl",
    "*4(%eax,%ebx,2)",
    "1b",
    "1f",
    "lbl",
    "fwd",
    "N",
    "N(%eax)",
    "0x1000",
    "%cr0",
    "%cr2",
    "%cr3",
    "%cr4",
    "%es:(%esi)",
    "%fs:(%esi)",
    "(%edi)",
    "$0x80",
    "$-129",
    "$65535",
    "$65536",
    "$-32768",
    "%bp",
    "%di",
    "%ch",
    "%bh",
    "-1(%eax,%eax,8)",
];

#[test]
fn random_instructions_match_gnu_as() {
    let mut rng = Rng(0x1dea_5eed_0bad_cafe);
    let mut lines = Vec::new();
    for _ in 0..30000 {
        let mut line = MNEMONICS[rng.below(MNEMONICS.len())].to_string();
        for k in 0..rng.below(4) {
            line += if k == 0 { " " } else { ", " };
            line += OPERANDS[rng.below(OPERANDS.len())];
        }
        let probe = format!(".equ N, 12\n1: lbl: nop\n{line}\n1: fwd: hlt\n");
        if assemble(&probe, ORIGIN).is_ok() && !lines.contains(&line) {
            lines.push(line);
        }
    }
    // In one file the distances grow (`$(fwd - lbl)` no longer fits a byte): drop what we now refuse.
    let header = 2;
    let src = loop {
        let src = format!(".equ N, 12\n1: lbl: nop\n{}\n1: fwd: hlt\n", lines.join("\n"));
        match assemble(&src, ORIGIN) {
            Ok(_) => break src,
            Err(errs) => {
                let drop: Vec<usize> = errs.iter().filter_map(|e| e.line.checked_sub(header + 1)).collect();
                assert!(!drop.is_empty(), "errors outside the generated lines: {errs:?}");
                lines = lines.into_iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, l)| l).collect();
            }
        }
    };
    // What GNU as refuses (or accepts only with a warning) that we accept is a difference too.
    let dir = scratch_dir("random");
    std::fs::write(dir.join("t.s"), &src).unwrap();
    let out = Command::new("as").args(["--32", "-o", "t.o", "t.s"]).current_dir(&dir).output().expect("the differential test needs GNU as");
    let complaints = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    let mut bad: Vec<String> = Vec::new();
    for l in complaints.lines() {
        let mut parts = l.splitn(3, ':');
        if let (Some(_), Some(n), Some(msg)) = (parts.next(), parts.next(), parts.next()) {
            if let Ok(n) = n.parse::<usize>() {
                bad.push(format!("`{}`:{msg}", src.lines().nth(n - 1).unwrap_or("?")));
            }
        }
    }
    assert!(bad.is_empty(), "{} of {} instructions we accept are refused or warned about by GNU as:\n{}", bad.len(), lines.len(), bad.join("\n"));
    let n = compare("random", &src);
    eprintln!("random: {} distinct instructions, {n} decoded, identical to GNU as", lines.len());
    assert!(lines.len() > 800, "only {} random instructions were accepted", lines.len());
}

/// Jump relaxation and alignment: random programs of jumps across gaps of random size, with
/// alignment in between, so that jumps sit just inside and just outside the short range and one
/// jump growing pushes others out of range. Our fixed point must be GNU as's.
#[test]
fn random_layouts_match_gnu_as() {
    const JUMPS: &[&str] = &["jmp", "je", "jne", "jl", "jae", "js", "jmp", "jmp"];
    let (mut total, mut short, mut near, mut push8, mut push32) = (0, 0, 0, 0, 0);
    for seed in 1..=12u64 {
        let mut rng = Rng(0x7e1a_c0de_0000_0000 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut src = String::from("\t.text\nstart:\n");
        let labels = 200;
        for i in 0..labels {
            src += &format!("L{i}:\n");
            for _ in 0..rng.below(4) {
                match rng.below(12) {
                    0..=4 => {
                        // Targets cluster near here, so many jumps sit at the edge of the short range.
                        let t = (i as i64 + rng.below(13) as i64 - 6).clamp(0, labels as i64 - 1);
                        src += &format!("\t{} L{t}\n", JUMPS[rng.below(JUMPS.len())]);
                    }
                    5 => src += &format!("\t.space {}, 0x90\n", 30 + rng.below(150)),
                    6 => src += &format!("\t.fill {}, 1, 0x90\n", rng.below(40)),
                    7 => src += &format!("\t.balign {}\n", 1 << rng.below(6)),
                    8 => src += &format!("\t.p2align {},,{}\n", rng.below(6), rng.below(12)),
                    9 => src += &format!("\tmovl $(L{} - start), %eax\n", rng.below(labels)),
                    10 => src += &format!("\t.org . + {}, 0x90\n", rng.below(50)),
                    // Known while reading (6a) only if nothing of variable size lies between.
                    _ => src += &format!("\tpush $((L{i} - L{}) & 0x3f)\n", i.saturating_sub(rng.below(3))),
                }
            }
        }
        src += "\tjmp start\n";
        total += compare(&format!("layouts-{seed}"), &src);
        // The test only means something if every form occurs.
        let ours = assemble(&src, ORIGIN).unwrap();
        for (_, code, _, _) in disasm(&ours.image, ORIGIN) {
            let name = format!("{code:?}");
            if name.starts_with('J') && name.contains("_rel8") {
                short += 1;
            } else if name.starts_with('J') && name.contains("_rel32") {
                near += 1;
            }
            push8 += (code == iced_x86::Code::Pushd_imm8) as usize;
            push32 += (code == iced_x86::Code::Pushd_imm32) as usize;
        }
    }
    eprintln!(
        "layouts: {total} instructions identical to GNU as ({short} short jumps, {near} near; \
         {push8} pushes of a distance known while reading, {push32} not)"
    );
    assert!(short > 100 && near > 100, "{short} short and {near} near jumps");
    assert!(push8 > 30 && push32 > 30, "{push8} known and {push32} unknown distances");
}
