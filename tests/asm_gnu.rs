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

use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter};
use lguest_sim::asm::{assemble, Program};

const ORIGIN: u32 = 0x100000;

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lguest-sim-asm-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

fn run(dir: &Path, cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{cmd}` ({e}): the differential test needs GNU binutils (as, ld)")
        });
    assert!(
        out.status.success(),
        "`{cmd} {}` failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Assemble and link with GNU binutils, placing sections in our order; the flat binary.
fn gnu_image(tag: &str, source: &str, ours: &Program) -> Vec<u8> {
    let dir = scratch_dir(tag);
    std::fs::write(dir.join("t.s"), source).unwrap();
    let mut script = format!("SECTIONS {{\n  . = {:#x};\n", ORIGIN);
    for s in &ours.sections {
        script += &format!("  {0} : {{ *({0}) }}\n", s.name);
    }
    script += "  /DISCARD/ : { *(.note*) *(.comment) }\n}\n";
    std::fs::write(dir.join("link.ld"), script).unwrap();
    run(&dir, "as", &["--32", "-o", "t.o", "t.s"]);
    run(
        &dir,
        "ld",
        &[
            "-m",
            "elf_i386",
            "-T",
            "link.ld",
            "-e",
            &ORIGIN.to_string(),
            "--oformat",
            "binary",
            "-o",
            "t.bin",
            "t.o",
        ],
    );
    let bin = std::fs::read(dir.join("t.bin")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bin
}

fn disasm(bytes: &[u8], ip: u32) -> Vec<(u32, iced_x86::Code, String, usize)> {
    let mut d = Decoder::with_ip(32, bytes, ip as u64, DecoderOptions::NONE);
    let mut f = GasFormatter::new();
    let mut out = Vec::new();
    while d.can_decode() {
        let i = d.decode();
        let mut text = String::new();
        f.format(&i, &mut text);
        out.push((i.ip() as u32, i.code(), text, i.len()));
    }
    out
}

/// Compare one source; returns how many instructions were compared.
fn compare(tag: &str, source: &str) -> usize {
    let ours = assemble(source, ORIGIN).unwrap_or_else(|errs| {
        panic!(
            "{tag}: our assembler rejected it:\n{}",
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let gnu = gnu_image(tag, source, &ours);
    let text = &ours.sections[0];
    let n = text.size as usize;
    let (a, b) = (
        &ours.image[..n.min(ours.image.len())],
        &gnu[..n.min(gnu.len())],
    );
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
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn guests_match_gnu_as() {
    let guests = sources("lessons/guests");
    assert!(
        guests.len() >= 4,
        "expected at least 4 Guest programs, found {}",
        guests.len()
    );
    let mut total = 0;
    for (name, src) in &guests {
        let n = compare(name, src);
        eprintln!("{name}: {n} instructions identical to GNU as");
        total += n;
    }
    eprintln!("guests: {total} instructions compared");
}

#[test]
fn torture_matches_gnu_as() {
    let mut total = 0;
    for (name, src) in &sources("tests/asm") {
        let n = compare(name, src);
        eprintln!("{name}: {n} instructions identical to GNU as");
        total += n;
    }
    assert!(
        total > 300,
        "the torture sources should exercise hundreds of instructions, got {total}"
    );
}
