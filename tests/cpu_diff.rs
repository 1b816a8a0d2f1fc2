//! Differential test: our core against the real processor this test runs on.
//!
//! A generated 32-bit program holds one small stub per instruction form (`add %ebx,%eax; ret`, ...).
//! It reads a table of cases on stdin (stub number, eax, ebx, ecx, edx, eflags), runs each stub with
//! those registers and flags, and writes the registers and flags back out. The test runs that same
//! program twice: natively on this x86-64 machine (32-bit code runs here, and BCD instructions only
//! exist outside 64-bit mode), and inside our core (with `read`/`write`/`exit` answered by the test).
//! Every register must match, and every flag the SDM defines for that instruction and those operands.
//!
//! Flags the SDM leaves undefined are not compared (see `Kind::mask`); what our core produces for them
//! is documented in crate/cpu/exec/alu.rs. The test prints how often the processor it ran on chose
//! differently for them: on the AMD EPYC this was written on, AF after shifts, OF after multi-bit
//! shifts, SF/ZF/PF/AF after mul/div, and the BCD leftovers differ; registers never do. The issue asks
//! for Intel's choice where observable; no Intel part was available, so these stay excluded.

mod cpu_common;

use cpu_common::{build, run_in_core, run_native, scratch};

const CF: u32 = 1;
const PF: u32 = 4;
const AF: u32 = 0x10;
const ZF: u32 = 0x40;
const SF: u32 = 0x80;
const OF: u32 = 0x800;
const S: u32 = CF | PF | AF | ZF | SF | OF;

/// How to pick operands for a form and which flags to compare.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Compare these flags.
    Flags(u32),
    /// A shift (rotate = false) or rotate by CL or an immediate; `size` in bytes.
    Shift { rotate: bool, size: u32, imm: Option<u32>, shl_shr: bool },
    /// shld/shrd by CL or an immediate.
    DoubleShift { size: u32, imm: Option<u32> },
    /// div/idiv of edx:eax (or dx:ax, ax) by ebx/bx/bl: operands chosen so no #DE.
    Div { signed: bool, size: u32 },
}

struct Form {
    asm: String,
    kind: Kind,
}

impl Kind {
    fn mask(&self, inp: &[u32; 5]) -> u32 {
        match *self {
            Kind::Flags(m) => m,
            Kind::Shift { rotate, size, imm, shl_shr } => {
                let c = imm.unwrap_or(inp[2] & 0xff) & 31;
                if c == 0 {
                    return S;
                }
                if rotate {
                    return if c == 1 { S } else { S & !OF };
                }
                let mut m = S & !AF;
                if c != 1 {
                    m &= !OF;
                }
                if shl_shr && c >= size * 8 {
                    m &= !CF;
                }
                m
            }
            Kind::DoubleShift { imm, .. } => {
                let c = imm.unwrap_or(inp[2] & 0xff) & 31;
                match c {
                    0 => S,
                    1 => S & !AF,
                    _ => S & !AF & !OF,
                }
            }
            Kind::Div { .. } => 0,
        }
    }
}

/// xorshift64*: a seeded PRNG, so every run tests the same cases.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
    /// Operand values with the edges over-represented.
    fn operand(&mut self) -> u32 {
        const EDGES: [u32; 16] =
            [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x1_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_fffe, 0x8000_0001];
        match self.next() % 4 {
            0 => EDGES[(self.next() % 16) as usize],
            1 => self.next() % 0x120,
            2 => self.next() | (self.next() & 0xffff_ff00), // dense bits
            _ => self.next(),
        }
    }
}

fn forms() -> Vec<Form> {
    let mut v = Vec::new();
    let mut add = |asm: String, kind: Kind| v.push(Form { asm, kind });
    let regs = [(4, "%ebx", "%eax", "l"), (2, "%bx", "%ax", "w"), (1, "%bl", "%al", "b")];
    for op in ["add", "adc", "sub", "sbb", "cmp", "and", "or", "xor", "test"] {
        for (_, src, dst, _) in regs {
            add(format!("{op} {src},{dst}"), Kind::Flags(S));
        }
        add(format!("{op} %bh,%ah"), Kind::Flags(S));
        add(format!("{op} %ch,%dl"), Kind::Flags(S));
        for imm in ["$0x7f", "$-1", "$0x80"] {
            add(format!("{op}l {imm},%eax"), Kind::Flags(S));
            add(format!("{op}w {imm},%dx"), Kind::Flags(S));
            add(format!("{op}b {imm},%cl"), Kind::Flags(S));
        }
    }
    for op in ["inc", "dec", "neg", "not"] {
        for r in ["%eax", "%bx", "%cl", "%dh"] {
            add(format!("{op} {r}"), Kind::Flags(S));
        }
    }
    for (op, rotate, shl_shr) in [
        ("shl", false, true),
        ("shr", false, true),
        ("sar", false, false),
        ("rol", true, false),
        ("ror", true, false),
        ("rcl", true, false),
        ("rcr", true, false),
    ] {
        for (size, _, dst, _) in regs {
            add(format!("{op} %cl,{dst}"), Kind::Shift { rotate, size, imm: None, shl_shr });
            for imm in [1, 3, 8, 9, 17, 31] {
                add(format!("{op} ${imm},{dst}"), Kind::Shift { rotate, size, imm: Some(imm), shl_shr });
            }
        }
        add(format!("{op} %cl,%bh"), Kind::Shift { rotate, size: 1, imm: None, shl_shr });
    }
    for op in ["shld", "shrd"] {
        add(format!("{op} %cl,%ebx,%eax"), Kind::DoubleShift { size: 4, imm: None });
        add(format!("{op} %cl,%bx,%ax"), Kind::DoubleShift { size: 2, imm: None });
        for imm in [1, 4, 15, 16, 31] {
            add(format!("{op} ${imm},%ebx,%eax"), Kind::DoubleShift { size: 4, imm: Some(imm) });
            if imm <= 16 {
                add(format!("{op} ${imm},%bx,%ax"), Kind::DoubleShift { size: 2, imm: Some(imm) });
            }
        }
    }
    for op in ["mul", "imul"] {
        for r in ["%ebx", "%bx", "%bl"] {
            add(format!("{op} {r}"), Kind::Flags(CF | OF));
        }
    }
    add("imul %ebx,%eax".into(), Kind::Flags(CF | OF));
    add("imul %bx,%ax".into(), Kind::Flags(CF | OF));
    add("imul $7,%ebx,%eax".into(), Kind::Flags(CF | OF));
    add("imul $-100000,%ecx,%edx".into(), Kind::Flags(CF | OF));
    add("imul $-3,%bx,%ax".into(), Kind::Flags(CF | OF));
    for (signed, op) in [(false, "div"), (true, "idiv")] {
        add(format!("{op} %ebx"), Kind::Div { signed, size: 4 });
        add(format!("{op} %bx"), Kind::Div { signed, size: 2 });
        add(format!("{op} %bl"), Kind::Div { signed, size: 1 });
    }
    for op in ["bt", "bts", "btr", "btc"] {
        add(format!("{op} %ebx,%eax"), Kind::Flags(CF));
        add(format!("{op} %bx,%ax"), Kind::Flags(CF));
        add(format!("{op}l $13,%eax"), Kind::Flags(CF));
        add(format!("{op}w $13,%ax"), Kind::Flags(CF));
        add(format!("{op}l $45,%edx"), Kind::Flags(CF));
    }
    // Not `rep bsf` / `rep bsr` (f3 0f bc / bd): the Guest's P6 ignores the prefix and runs bsf / bsr, but
    // the processor this test runs on is likely to know BMI1 and ABM and run tzcnt / lzcnt, which give other
    // results (crate/cpu/tests/p6.rs checks them against bsf / bsr instead). Nothing here emits those bytes.
    for op in ["bsf", "bsr"] {
        add(format!("{op} %ebx,%eax"), Kind::Flags(ZF));
        add(format!("{op} %bx,%ax"), Kind::Flags(ZF));
    }
    add("daa".into(), Kind::Flags(S & !OF));
    add("das".into(), Kind::Flags(S & !OF));
    add("aaa".into(), Kind::Flags(CF | AF));
    add("aas".into(), Kind::Flags(CF | AF));
    for imm in [10, 16, 7, 255, 1] {
        add(format!("aam ${imm}"), Kind::Flags(SF | ZF | PF));
        add(format!("aad ${imm}"), Kind::Flags(SF | ZF | PF));
    }
    for cc in ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"] {
        add(format!("cmov{cc} %ebx,%eax"), Kind::Flags(S));
        add(format!("cmov{cc} %bx,%ax"), Kind::Flags(S));
        add(format!("set{cc} %al"), Kind::Flags(S));
    }
    // Memory operands: the stub first stores %ebx to a scratch dword, runs the instruction on it, and
    // loads it back into %ebx, so the memory forms (and the read-modify-write fast paths) are compared.
    let m = |insn: &str| format!("mov %ebx,scratch; {insn}; mov scratch,%ebx");
    for op in ["add", "adc", "sub", "sbb", "cmp", "and", "or", "xor", "test"] {
        add(m(&format!("{op}l scratch,%eax")), Kind::Flags(S));
        add(m(&format!("{op}l %eax,scratch")), Kind::Flags(S));
        add(m(&format!("{op}l $0x12345,scratch")), Kind::Flags(S));
        add(m(&format!("{op}w %ax,scratch")), Kind::Flags(S));
        add(m(&format!("{op}b $0x81,scratch+1")), Kind::Flags(S));
    }
    for op in ["inc", "dec", "neg", "not"] {
        add(m(&format!("{op}l scratch")), Kind::Flags(S));
        add(m(&format!("{op}b scratch+3")), Kind::Flags(S));
    }
    for (op, rotate, shl_shr) in [("shl", false, true), ("sar", false, false), ("rcl", true, false), ("ror", true, false)] {
        add(m(&format!("{op}l %cl,scratch")), Kind::Shift { rotate, size: 4, imm: None, shl_shr });
        add(m(&format!("{op}w $5,scratch")), Kind::Shift { rotate, size: 2, imm: Some(5), shl_shr });
    }
    for asm in [
        "mov scratch+1,%al",
        "mov scratch+2,%dh",
        "mov %bh,scratch+3",
        "mov %cl,scratch",
        "movb $0x5a,scratch+1",
        "movw %ax,scratch+1",
        "mov scratch+1,%cx",
        "movl $0x1234,scratch",
    ] {
        add(m(asm), Kind::Flags(S));
    }
    for asm in [
        "imul scratch,%eax",
        "mull scratch",
        "movzbl scratch+1,%eax",
        "movswl scratch,%eax",
        "xchg %eax,scratch",
        "xadd %eax,scratch",
        "cmpxchg %ecx,scratch",
        "cmovl scratch,%eax",
        "btsl $13,scratch",
        "btcw $21,scratch",
        "bsrl scratch,%eax",
        "seto scratch",
    ] {
        let flags = match asm.split(' ').next().unwrap_or("") {
            "imul" | "mull" => CF | OF,
            "btsl" | "btcw" => CF,
            "bsrl" => ZF,
            _ => S,
        };
        add(m(asm), Kind::Flags(flags));
    }
    for asm in [
        "xadd %ebx,%eax",
        "xadd %bx,%ax",
        "xadd %bl,%al",
        "cmpxchg %ebx,%ecx",
        "cmpxchg %bx,%cx",
        "cmpxchg %bl,%cl",
        "xchg %ebx,%eax",
        "xchg %bh,%al",
        "bswap %eax",
        "movzbl %bh,%eax",
        "movzwl %bx,%eax",
        "movsbl %bl,%eax",
        "movswl %bx,%eax",
        "movsbw %bl,%ax",
        "cbtw",
        "cwtl",
        "cwtd",
        "cltd",
        "lahf",
        "sahf",
        "cmc",
        "clc",
        "stc",
        "lea 0x10(%eax,%ebx,4),%ecx",
        "lea -1(%ebx,%ebx,8),%edx",
        "lea (%eax,%ecx),%bx",
        ".byte 0xd6 # salc",
    ] {
        add(asm.into(), Kind::Flags(S));
    }
    v
}

/// The harness program: read cases from stdin, run each stub, write the results out.
fn program(forms: &[Form]) -> String {
    let mut s = String::from(
        r#"
        .code32
        .set RECORD, 24
        .text
        .globl _start
_start:
        mov $buf, %esi
1:      mov $3, %eax            # read(0, esi, 65536)
        xor %ebx, %ebx
        mov %esi, %ecx
        mov $65536, %edx
        int $0x80
        test %eax, %eax
        jle 2f
        add %eax, %esi
        jmp 1b
2:      mov %esi, end
        mov $buf, %ebp
3:      cmp end, %ebp
        jae 4f
        mov (%ebp), %edi
        pushl 20(%ebp)
        popf
        mov 4(%ebp), %eax
        mov 8(%ebp), %ebx
        mov 12(%ebp), %ecx
        mov 16(%ebp), %edx
        call *stubs(,%edi,4)
        pushf
        mov %eax, 4(%ebp)
        mov %ebx, 8(%ebp)
        mov %ecx, 12(%ebp)
        mov %edx, 16(%ebp)
        popl 20(%ebp)
        add $RECORD, %ebp
        jmp 3b
4:      mov $4, %eax            # write(1, buf, end - buf)
        mov $1, %ebx
        mov $buf, %ecx
        mov end, %edx
        sub %ecx, %edx
        int $0x80
        mov $1, %eax            # exit(0)
        xor %ebx, %ebx
        int $0x80
"#,
    );
    for (k, f) in forms.iter().enumerate() {
        s.push_str(&format!("s{k}:     {}\n        ret\n", f.asm.replace("; ", "\n        ")));
    }
    s.push_str("        .data\n        .align 4\nstubs:\n");
    for k in 0..forms.len() {
        s.push_str(&format!("        .long s{k}\n"));
    }
    s.push_str("scratch: .long 0, 0\n");
    s.push_str("end:    .long 0\n        .bss\n        .align 4096\nbuf:    .space 0x400000\n");
    s
}

/// Registers for one case of `kind`, satisfying its constraints.
fn operands(rng: &mut Rng, kind: Kind) -> [u32; 5] {
    let flags = (rng.next() & S) | 0x202;
    let mut r = [rng.operand(), rng.operand(), rng.operand(), rng.operand(), flags];
    match kind {
        Kind::Shift { .. } | Kind::DoubleShift { .. } => {
            // Counts: mostly 0-33, sometimes anything.
            if rng.next() % 4 != 0 {
                r[2] = (r[2] & !0xff) | (rng.next() % 34);
            }
            if let Kind::DoubleShift { size: 2, imm: None } = kind {
                r[2] = (r[2] & !0xff) | (rng.next() % 17); // 16-bit counts above 16 are undefined
            }
        }
        Kind::Div { signed, size } => {
            for _ in 0..1000 {
                if div_ok(&r, signed, size) {
                    return r;
                }
                r = [rng.operand(), rng.operand(), rng.operand(), rng.operand(), flags];
                if rng.next() % 2 == 0 {
                    // Make the high half small so more cases fit.
                    r[3] = rng.next() % 0x40;
                    r[0] &= 0xffff_00ff | (rng.next() % 0x20) << 8;
                }
            }
            r = [100, 7, 0, 0, flags];
        }
        Kind::Flags(_) => {}
    }
    r
}

/// Would this div/idiv complete without #DE?
fn div_ok(r: &[u32; 5], signed: bool, size: u32) -> bool {
    let (eax, ebx, edx) = (r[0], r[1], r[3]);
    let (n, d): (i128, i128) = match (size, signed) {
        (4, false) => (((edx as u64) << 32 | eax as u64) as i128, ebx as i128),
        (2, false) => (((edx & 0xffff) << 16 | (eax & 0xffff)) as i128, (ebx & 0xffff) as i128),
        (1, false) => ((eax & 0xffff) as i128, (ebx & 0xff) as i128),
        (4, true) => (((edx as u64) << 32 | eax as u64) as i64 as i128, ebx as i32 as i128),
        (2, true) => ((((edx & 0xffff) << 16) | (eax & 0xffff)) as i32 as i128, ebx as u16 as i16 as i128),
        _ => ((eax as u16 as i16) as i128, ebx as u8 as i8 as i128),
    };
    if d == 0 {
        return false;
    }
    let q = n / d;
    let bits = size * 8;
    if signed {
        q >= -(1i128 << (bits - 1)) && q < (1i128 << (bits - 1))
    } else {
        q < (1i128 << bits)
    }
}

#[test]
fn arithmetic_matches_the_real_processor() {
    // Note: the inputs are the records (stub, eax, ebx, ecx, edx, eflags); eax..edx sit at [1..5].
    let forms = forms();
    let dir = scratch("cpu_diff");
    let src = dir.join("diff.s");
    std::fs::write(&src, program(&forms)).unwrap();
    let exe = build(&dir, "diff", &src, &[]);

    let mut rng = Rng(0x005e_ed0f_c0de);
    const PER_FORM: usize = 260;
    let mut input = Vec::new();
    let mut cases = Vec::new();
    for (k, f) in forms.iter().enumerate() {
        for _ in 0..PER_FORM {
            let r = operands(&mut rng, f.kind);
            // Record order: stub, eax, ebx, ecx, edx, eflags. operands() returns eax, ebx, ecx, edx, flags.
            let rec = [k as u32, r[0], r[1], r[2], r[3], r[4]];
            for w in rec {
                input.extend_from_slice(&w.to_le_bytes());
            }
            cases.push((k, r));
        }
    }
    assert!(cases.len() >= 100_000, "only {} cases", cases.len());

    let native = run_native(&exe, &input);
    let elf = std::fs::read(&exe).unwrap();
    let native = &native;
    for cache in [true, false] {
        // With the cache, the common forms take the fast paths (crate/cpu/exec/fast.rs); without it,
        // every instruction goes through the generic executor. Both must match the processor.
        let ours = run_in_core(&elf, 0x600, &input, 200_000_000, cache);
        compare(&forms, &cases, native, &ours.stdout, &input, cache);
    }
}

fn compare(forms: &[Form], cases: &[(usize, [u32; 5])], native: &[u8], ours: &[u8], input: &[u8], cache: bool) {
    assert_eq!(native.len(), input.len(), "native harness output size");
    assert_eq!(ours.len(), input.len(), "our harness output size");

    let word = |b: &[u8], i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
    let mut mismatches = Vec::new();
    // Undefined flags are not compared; this only reports how often this processor's choice differs.
    let mut undefined_differ = std::collections::BTreeMap::new();
    for (n, (k, r)) in cases.iter().enumerate() {
        let base = n * 6;
        let mask = forms[*k].kind.mask(&[r[0], r[1], r[2], r[3], r[4]]);
        let hw: Vec<u32> = (1..6).map(|i| word(native, base + i)).collect();
        let us: Vec<u32> = (1..6).map(|i| word(ours, base + i)).collect();
        let regs_differ = hw[..4] != us[..4];
        if (hw[4] ^ us[4]) & S & !mask != 0 {
            // The mnemonic: for the memory forms, the middle statement's.
            let asm = &forms[*k].asm;
            let insn = asm.split("; ").nth(1).unwrap_or(asm);
            *undefined_differ.entry(insn.split(' ').next().unwrap_or("")).or_insert(0usize) += 1;
        }
        let flags_differ = (hw[4] ^ us[4]) & mask != 0;
        if regs_differ || flags_differ {
            mismatches.push(format!(
                "{:<28} in eax={:08x} ebx={:08x} ecx={:08x} edx={:08x} fl={:03x} | cpu {:08x?} fl={:03x} | ours {:08x?} fl={:03x} (compared {:03x})",
                forms[*k].asm,
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                &hw[..4],
                hw[4] & S,
                &us[..4],
                us[4] & S,
                mask
            ));
        }
    }
    eprintln!("cache {cache}: {} cases over {} instruction forms; {} mismatches", cases.len(), forms.len(), mismatches.len());
    eprintln!("cases where this processor's undefined flags differ from ours (not compared): {undefined_differ:?}");
    assert!(mismatches.is_empty(), "{} mismatches, first ones:\n{}", mismatches.len(), mismatches.iter().take(40).cloned().collect::<Vec<_>>().join("\n"));
}
