//! Differential test of the disassembly the page shows (`lguest_sim::cpu::att`) against GNU objdump.
//!
//! Three bodies of code: every Guest program of the course and the assembler's torture file, built with
//! `as --32` (the instructions students write), and a large seeded stream of random instructions built
//! from an opcode, a ModRM, a SIB, displacement and immediate bytes, with a prefix now and then. objdump
//! lists each blob; at every instruction it lists, we decode the same bytes with iced-x86 and format them,
//! and the two texts must be the same (objdump's column padding aside).
//!
//! Compared: every instruction the Guest CPU executes (the i486 integer set and the P6 additions). Not
//! compared: x87, MMX and SSE (the CPU raises #UD for them, and the listing names them in iced's words),
//! bytes objdump calls `(bad)` or `.byte`, and the spellings objdump uses only for encodings a compiler
//! never emits: redundant prefixes (`ds`, `data16`, `addr16`...) and the `%eiz` pseudo index register.
//! Nor `f3 0f bc` / `f3 0f bd`: objdump (which has no P6 mode) lists them as `tzcnt` / `lzcnt`, but the Guest's
//! P6 runs them as `bsf` / `bsr` with an ignored `rep` prefix, and the page lists them as `repz bsf` / `repz
//! bsr` (crate/cpu/decode.rs `as_p6`, tested in crate/cpu/tests/p6.rs); decoded here by iced-x86 alone, they
//! are `tzcnt` and `lzcnt`, which the CPU does not model, so they count as not modelled.
//! The test fails loudly without objdump, and if it compares fewer instructions than it should.

use std::path::Path;
use std::process::Command;

use iced_x86::{Decoder, DecoderOptions, Mnemonic as M};

/// The instructions the Guest CPU models (crate/cpu/exec), by mnemonic.
fn modelled(m: M) -> bool {
    use M::*;
    matches!(
        m,
        Mov | Movzx
            | Movsx
            | Lea
            | Xchg
            | Xadd
            | Cmpxchg
            | Cmpxchg8b
            | Bswap
            | Cbw
            | Cwde
            | Cwd
            | Cdq
            | Lahf
            | Sahf
            | Xlatb
            | Nop
            | Pause
            | Cmova
            | Cmovae
            | Cmovb
            | Cmovbe
            | Cmove
            | Cmovg
            | Cmovge
            | Cmovl
            | Cmovle
            | Cmovne
            | Cmovno
            | Cmovnp
            | Cmovns
            | Cmovo
            | Cmovp
            | Cmovs
            | Seta
            | Setae
            | Setb
            | Setbe
            | Sete
            | Setg
            | Setge
            | Setl
            | Setle
            | Setne
            | Setno
            | Setnp
            | Setns
            | Seto
            | Setp
            | Sets
            | Add
            | Or
            | Adc
            | Sbb
            | And
            | Sub
            | Xor
            | Cmp
            | Test
            | Inc
            | Dec
            | Neg
            | Not
            | Rol
            | Ror
            | Rcl
            | Rcr
            | Shl
            | Sal
            | Shr
            | Sar
            | Shld
            | Shrd
            | Mul
            | Imul
            | Div
            | Idiv
            | Bt
            | Bts
            | Btr
            | Btc
            | Bsf
            | Bsr
            | Daa
            | Das
            | Aaa
            | Aas
            | Aam
            | Aad
            | Clc
            | Stc
            | Cmc
            | Cld
            | Std
            | Push
            | Pop
            | Pusha
            | Pushad
            | Popa
            | Popad
            | Pushf
            | Pushfd
            | Popf
            | Popfd
            | Enter
            | Leave
            | Jmp
            | Call
            | Ret
            | Retf
            | Loop
            | Loope
            | Loopne
            | Jecxz
            | Jcxz
            | Int
            | Int3
            | Into
            | Iret
            | Iretd
            | Bound
            | Movsb
            | Movsw
            | Movsd
            | Stosb
            | Stosw
            | Stosd
            | Lodsb
            | Lodsw
            | Lodsd
            | Cmpsb
            | Cmpsw
            | Cmpsd
            | Scasb
            | Scasw
            | Scasd
            | Ja
            | Jae
            | Jb
            | Jbe
            | Je
            | Jg
            | Jge
            | Jl
            | Jle
            | Jne
            | Jno
            | Jnp
            | Jns
            | Jo
            | Jp
            | Js
            | In
            | Out
            | Insb
            | Insw
            | Insd
            | Outsb
            | Outsw
            | Outsd
            | Cli
            | Sti
            | Hlt
            | Cpuid
            | Rdtsc
            | Lds
            | Les
            | Lfs
            | Lgs
            | Lss
            | Lgdt
            | Lidt
            | Sgdt
            | Sidt
            | Smsw
            | Lmsw
            | Clts
            | Invd
            | Wbinvd
            | Invlpg
            | Vmcall
            | Ud2
            | Wait
    )
}

/// objdump's listing of `bytes` placed at `vma`: (address, instruction bytes, text).
fn objdump(dir: &Path, name: &str, bytes: &[u8], vma: u32) -> Vec<(u32, Vec<u8>, String)> {
    let file = dir.join(format!("{name}.bin"));
    std::fs::write(&file, bytes).expect("write the blob");
    let out = Command::new("objdump")
        .args(["-D", "-b", "binary", "-m", "i386", "-w", "--no-show-raw-insn"])
        .arg(format!("--adjust-vma={vma:#x}"))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run objdump ({e}): this test needs GNU binutils"));
    assert!(out.status.success(), "objdump failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rows: Vec<(u32, String)> = Vec::new();
    for line in text.lines() {
        let Some((addr, rest)) = line.split_once(":\t") else { continue };
        let Ok(addr) = u32::from_str_radix(addr.trim(), 16) else { continue };
        rows.push((addr, rest.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    let mut out = Vec::new();
    for (k, (addr, t)) in rows.iter().enumerate() {
        let end = rows.get(k + 1).map(|r| r.0).unwrap_or(vma + bytes.len() as u32);
        let (a, b) = ((addr - vma) as usize, (end.saturating_sub(vma) as usize).min(bytes.len()));
        if a < b {
            out.push((*addr, bytes[a..b].to_vec(), t.clone()));
        }
    }
    out
}

/// objdump's spellings this test does not hold our formatter to (see the module comment).
fn out_of_scope(t: &str) -> bool {
    t.contains("(bad)")
        || t.starts_with(".byte")
        || t.contains("%eiz")
        || t.split(' ').any(|w| {
            matches!(
                w,
                "ds" | "cs" | "ss" | "es" | "fs" | "gs" | "data16" | "addr16" | "repz" | "repnz" | "rep" | "lock" | "bnd" | "notrack" | "xacquire" | "xrelease"
            )
        }) && !looks_like_a_real_prefix(t)
}

/// `rep movsb`, `repz cmpsb`, `lock add`: prefixes objdump prints because they do something.
fn looks_like_a_real_prefix(t: &str) -> bool {
    let mut w = t.split(' ');
    let first = w.next().unwrap_or("");
    let second = w.next().unwrap_or("");
    let string_op = ["movs", "stos", "lods", "cmps", "scas", "ins", "outs"].iter().any(|s| second.starts_with(s));
    match first {
        "rep" | "repz" | "repnz" => string_op,
        "lock" => {
            !string_op
                && !matches!(
                    second,
                    "rep"
                        | "repz"
                        | "repnz"
                        | "lock"
                        | "ds"
                        | "cs"
                        | "ss"
                        | "es"
                        | "fs"
                        | "gs"
                        | "data16"
                        | "addr16"
                        | "xacquire"
                        | "xrelease"
                        | "bnd"
                        | "notrack"
                )
        }
        _ => false,
    }
}

struct Tally {
    compared: usize,
    /// Listed by objdump in words this test does not compare, and not modelled by the CPU.
    out_of_scope: usize,
    not_modelled: usize,
    mismatches: Vec<String>,
}

fn compare(rows: &[(u32, Vec<u8>, String)], tally: &mut Tally) {
    for (addr, bytes, theirs) in rows {
        if out_of_scope(theirs) {
            tally.out_of_scope += 1;
            continue;
        }
        let mut d = Decoder::with_ip(32, bytes, *addr as u64, DecoderOptions::NONE);
        let ins = d.decode();
        if ins.is_invalid() || ins.len() != bytes.len() || !modelled(ins.mnemonic()) {
            tally.not_modelled += 1;
            continue;
        }
        let ours = lguest_sim::cpu::att::format(&ins);
        tally.compared += 1;
        if &ours != theirs {
            tally.mismatches.push(format!("{addr:#x} {bytes:02x?}: objdump `{theirs}`, ours `{ours}`"));
        }
    }
}

/// A small seeded generator (xorshift), so every run compares the same stream.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Random instructions, each decodable by iced on its own, laid end to end.
fn random_stream(rng: &mut Rng, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut made = 0;
    while made < count {
        let mut b = Vec::new();
        match rng.next() % 8 {
            0 => b.push([0x66, 0x67, 0x2e, 0x26, 0x64, 0x65, 0xf3, 0xf2, 0xf0, 0x3e, 0x36][(rng.next() % 11) as usize]),
            1 => b.push(0x0f),
            _ => {}
        }
        for _ in 0..14 {
            b.push(rng.byte());
        }
        let mut d = Decoder::with_ip(32, &b, 0, DecoderOptions::NONE);
        let ins = d.decode();
        if ins.is_invalid() || !modelled(ins.mnemonic()) {
            continue;
        }
        out.extend_from_slice(&b[..ins.len()]);
        made += 1;
    }
    out
}

#[test]
fn the_listing_spells_every_modelled_instruction_as_objdump_does() {
    let dir = std::env::temp_dir().join(format!("lguest-sim-att-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut tally = Tally { compared: 0, out_of_scope: 0, not_modelled: 0, mismatches: Vec::new() };

    // The course's Guests and the torture file, as GNU as builds them.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources: Vec<_> = std::fs::read_dir(root.join("lessons/guests")).unwrap().flatten().map(|e| e.path()).collect();
    sources.push(root.join("tests/asm/torture.S"));
    sources.retain(|p| p.extension().is_some_and(|x| x == "S"));
    sources.sort();
    let mut from_as = 0;
    for src in &sources {
        let obj = dir.join("g.o");
        let bin = dir.join("g.bin");
        let ok = Command::new("as").arg("--32").arg("-I").arg(src.parent().unwrap()).arg("-o").arg(&obj).arg(src).status();
        assert!(ok.is_ok_and(|s| s.success()), "as --32 {} failed (this test needs GNU binutils)", src.display());
        let ok = Command::new("objcopy").args(["-O", "binary", "-j", ".text"]).arg(&obj).arg(&bin).status();
        assert!(ok.is_ok_and(|s| s.success()), "objcopy failed");
        let code = std::fs::read(&bin).unwrap();
        let before = tally.compared;
        compare(&objdump(&dir, "g", &code, 0x10_0000), &mut tally);
        from_as += tally.compared - before;
    }

    // Random instructions in three placements (so branch targets and addresses vary).
    let mut rng = Rng(0x5eed_1e57_a77a_0001);
    for (k, vma) in [0x10_0000u32, 0x7fff_f000, 0xc000_0000].into_iter().enumerate() {
        let stream = random_stream(&mut rng, 20_000);
        compare(&objdump(&dir, &format!("r{k}"), &stream, vma), &mut tally);
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "compared {} instructions with objdump ({} from the course's sources), {} differ; not compared: {} in words out of scope, {} not modelled",
        tally.compared,
        from_as,
        tally.mismatches.len(),
        tally.out_of_scope,
        tally.not_modelled
    );
    assert!(from_as >= 300, "only {from_as} instructions from the course's sources were compared");
    assert!(tally.compared >= 40_000, "only {} instructions were compared", tally.compared);
    assert!(
        tally.mismatches.is_empty(),
        "{} of {} differ from objdump, e.g.:\n{}",
        tally.mismatches.len(),
        tally.compared,
        tally.mismatches.iter().take(std::env::var("ATT_ALL").map_or(60, |_| usize::MAX)).cloned().collect::<Vec<_>>().join("\n")
    );
}
