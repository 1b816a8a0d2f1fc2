//! The third step: one instruction, its operands and their values, to bytes.
//!
//! We choose the iced-x86 [`Code`] (the exact opcode form) ourselves and let iced's [`Encoder`]
//! lay out ModRM, SIB, displacement and immediate. Choosing the form is where GNU as has habits we
//! copy, so that our bytes equal its bytes:
//! - register to register uses the "store" form: `mov %eax,%ebx` is `89 c3`, not `8b d8`;
//! - a small known immediate uses the sign-extended byte form (`add $1,%eax` is `83 c0 01`), else
//!   the accumulator has a short form (`add $0x100,%eax` is `05 00 01 00 00`);
//! - a value GNU as cannot know yet (a label) always gets the full 4 bytes;
//! - `shl $1` is `d1 /4`, `int $3` is `cc`, `xchg` with `%eax` is `90+r`, `inc %ecx` is `41`;
//! - a segment override equal to the default segment is dropped, and prefixes come out in GNU's
//!   order (segment, `67`, `66`, `rep`, `lock`).
//!
//! The names live in `mnemonics.rs`, the opcode tables in `opcodes.rs`.

use iced_x86::{Code, Encoder, IcedError, Instruction, MemoryOperand, Register};

use super::mnemonics::{lookup, Fam};
use super::opcodes::*;
use super::parse::{Insn, Mem, Operand};

/// What the assembler knows about one operand's expression.
#[derive(Debug, Clone, Copy, Default)]
pub struct Val {
    pub v: i64,
    /// True when GNU as would know the value while reading the source (see `expr::classify`).
    pub known: bool,
}

/// A register or memory operand, where the instruction takes either (the "r/m" of the manuals).
#[derive(Clone, Copy)]
enum Rm {
    R(Register),
    M(MemoryOperand),
}

fn name(r: Register) -> String {
    format!("%{r:?}").to_ascii_lowercase()
}

fn gpr_size(r: Register) -> Option<u8> {
    if r.is_gpr8() {
        Some(1)
    } else if r.is_gpr16() {
        Some(2)
    } else if r.is_gpr32() {
        Some(4)
    } else {
        None
    }
}

/// Index 0/1/2 of a row for a size of 1/2/4 bytes.
fn col(size: u8) -> usize {
    match size {
        1 => 0,
        2 => 1,
        _ => 2,
    }
}

/// Truncate a value to an immediate of `size` bytes, in the form iced accepts.
fn imm(v: i64, size: u8) -> i32 {
    match size {
        1 => v as u8 as i32,
        2 => v as u16 as i32,
        _ => v as u32 as i32,
    }
}

/// Does the value, truncated to the operand size, fit a sign-extended byte?
fn fits_i8(v: i64, size: u8) -> bool {
    let t = match size {
        1 => v as i8 as i64,
        2 => v as i16 as i64,
        _ => v as i32 as i64,
    };
    (-128..=127).contains(&t)
}

fn seg_byte(seg: Register) -> u8 {
    match seg {
        Register::ES => 0x26,
        Register::CS => 0x2e,
        Register::SS => 0x36,
        Register::FS => 0x64,
        Register::GS => 0x65,
        _ => 0x3e,
    }
}

/// GNU as writes prefixes in this order; iced writes `lock` before `66`.
fn prefix_rank(b: u8) -> Option<u8> {
    match b {
        0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 => Some(1),
        0x67 => Some(2),
        0x66 => Some(3),
        0xf2 | 0xf3 => Some(4),
        0xf0 => Some(6),
        _ => None,
    }
}

fn gnu_prefix_order(bytes: &mut [u8]) {
    let n = bytes.iter().take_while(|b| prefix_rank(**b).is_some()).count();
    crate::small_sort::sort_by_key(&mut bytes[..n], |b| prefix_rank(*b));
}

/// Everything one encoding needs: the instruction, its operand values and its address.
struct Enc<'a> {
    m: &'a str,
    suffix: Option<u8>,
    insn: &'a Insn,
    vals: &'a [Val],
    addr: u32,
    near: bool,
    /// Prefix bytes so far: the statement's own, then any segment override.
    pre: Vec<u8>,
}

/// Encode one instruction at `addr`. `vals[i]` is the value of operand i's expression, if any;
/// `near` picks the long form of a relaxable jump.
pub fn encode(insn: &Insn, vals: &[Val], addr: u32, near: bool) -> Result<Vec<u8>, String> {
    let (fam, suffix) = lookup(&insn.mnemonic).ok_or_else(|| format!("unknown instruction `{}`", insn.mnemonic))?;
    let mut e = Enc { m: &insn.mnemonic, suffix, insn, vals, addr, near, pre: insn.prefixes.clone() };
    e.check_prefixes(fam)?;
    e.family(fam)
}

impl Enc<'_> {
    fn val(&self, i: usize) -> Val {
        self.vals.get(i).copied().unwrap_or_default()
    }

    /// An immediate of `size` bytes. Like GNU as, a known value that would lose significant
    /// bits (not all-zero or all-one above the operand) is refused rather than shortened.
    fn sized(&self, v: Val, size: u8) -> Result<i32, String> {
        if size < 4 {
            let high = v.v >> (size as u32 * 8);
            if high != 0 && high != -1 {
                return Err(format!("immediate {:#x} does not fit in {} bits of `{}`", v.v, size * 8, self.m));
            }
        }
        Ok(imm(v.v, size))
    }

    /// A byte argument (vector, count, port, bit number): GNU as takes -128..=255.
    fn byte_arg(&self, v: Val) -> Result<i32, String> {
        if !(-128..=255).contains(&v.v) {
            return Err(format!("{} is out of range for `{}` (a byte: -128..255)", v.v, self.m));
        }
        Ok(imm(v.v, 1))
    }

    /// A 16-bit argument (`ret $n`, `enter $n, ...`): -32768..=65535.
    fn word_arg(&self, v: Val) -> Result<i32, String> {
        if !(-32768..=65535).contains(&v.v) {
            return Err(format!("{} is out of range for `{}` (16 bits)", v.v, self.m));
        }
        Ok(imm(v.v, 2))
    }

    fn bad(&self) -> String {
        format!("invalid operands for `{}`", self.m)
    }

    /// The operand size: from the suffix, from the registers, and they must agree.
    fn size(&self, regs: &[Register]) -> Result<u8, String> {
        let mut size = self.suffix;
        for &r in regs {
            let s = gpr_size(r).ok_or_else(|| format!("`{}` can't be used with `{}`", name(r), self.m))?;
            match size {
                None => size = Some(s),
                Some(x) if x != s => {
                    return Err(match self.suffix {
                        Some(_) => format!("operand size mismatch: `{}` with `{}` (a {}-bit register)", self.m, name(r), s * 8),
                        None => format!("operand size mismatch in `{}`: registers of different sizes", self.m),
                    })
                }
                _ => {}
            }
        }
        size.ok_or_else(|| format!("no size suffix and no register operand: can't size `{}` (write `{}l`, `{}w` or `{}b`)", self.m, self.m, self.m, self.m))
    }

    fn mem(&mut self, m: &Mem, val: Val) -> Result<MemoryOperand, String> {
        for r in [m.base, m.index].into_iter().flatten() {
            if !r.is_gpr32() {
                return Err(format!("`{}` can't be a base or index register in 32-bit code", name(r)));
            }
        }
        if m.index == Some(Register::ESP) {
            return Err("`%esp` can't be an index register".into());
        }
        if let Some(seg) = m.seg {
            let default = if matches!(m.base, Some(Register::ESP | Register::EBP)) { Register::SS } else { Register::DS };
            if seg != default {
                self.pre.push(seg_byte(seg));
            }
        }
        let d = val.v as u32 as i32 as i64;
        let displ_size = match (&m.disp, m.base) {
            (_, None) => 4,
            (None, _) => 0,
            (Some(_), _) if !val.known => 4,
            (Some(_), _) if d == 0 => 0,
            _ => 1,
        };
        // Without a base register the displacement is an address: iced-x86 takes it as an unsigned 32-bit
        // value (0x80000000 and up must not be sign-extended).
        let d = if m.disp.is_none() {
            0
        } else if m.base.is_none() {
            val.v as u32 as i64
        } else {
            d
        };
        Ok(MemoryOperand::new(m.base.unwrap_or(Register::None), m.index.unwrap_or(Register::None), m.scale, d, displ_size, false, Register::None))
    }

    /// Operand `i` as register-or-memory.
    fn rm(&mut self, i: usize) -> Result<Rm, String> {
        match &self.insn.ops[i] {
            Operand::Reg(r) if r.is_gpr() => Ok(Rm::R(*r)),
            Operand::Mem(m) => {
                let v = self.val(i);
                Ok(Rm::M(self.mem(m, v)?))
            }
            _ => Err(self.bad()),
        }
    }

    fn finish(&self, instr: Result<Instruction, IcedError>) -> Result<Vec<u8>, String> {
        let instr = instr.map_err(|e| format!("cannot encode `{}`: {e}", self.m))?;
        let mut enc = Encoder::new(32);
        enc.encode(&instr, self.addr as u64 + self.pre.len() as u64).map_err(|e| format!("cannot encode `{}`: {e}", self.m))?;
        let mut bytes = self.pre.clone();
        bytes.extend(enc.take_buffer());
        gnu_prefix_order(&mut bytes);
        Ok(bytes)
    }

    fn one(&self, code: Code, a: Rm) -> Result<Vec<u8>, String> {
        self.finish(match a {
            Rm::R(r) => Instruction::with1(code, r),
            Rm::M(m) => Instruction::with1(code, m),
        })
    }

    /// `code rm, r` (iced's operand order: destination first).
    fn rm_r(&self, code: Code, a: Rm, r: Register) -> Result<Vec<u8>, String> {
        self.finish(match a {
            Rm::R(x) => Instruction::with2(code, x, r),
            Rm::M(m) => Instruction::with2(code, m, r),
        })
    }

    fn r_rm(&self, code: Code, r: Register, a: Rm) -> Result<Vec<u8>, String> {
        self.finish(match a {
            Rm::R(x) => Instruction::with2(code, r, x),
            Rm::M(m) => Instruction::with2(code, r, m),
        })
    }

    fn rm_imm(&self, code: Code, a: Rm, v: i32) -> Result<Vec<u8>, String> {
        self.finish(match a {
            Rm::R(x) => Instruction::with2(code, x, v),
            Rm::M(m) => Instruction::with2(code, m, v),
        })
    }

    fn branch(&self, code: Code, len: i64) -> Result<Vec<u8>, String> {
        let target = self.val(0).v;
        if len == 2 || len == 3 {
            let d = target - (self.addr as i64 + len);
            if !(-128..=127).contains(&d) {
                return Err(format!("jump target out of range for `{}`: {d} bytes away, and it reaches only -128..127", self.m));
            }
        }
        self.finish(Instruction::with_branch(code, target as u32 as u64))
    }

    fn ops(&self) -> &[Operand] {
        &self.insn.ops
    }

    fn family(&mut self, fam: Fam) -> Result<Vec<u8>, String> {
        use Operand::*;
        let ops = self.insn.ops.clone();
        let n = ops.len();
        match fam {
            Fam::Fixed(bytes) => {
                if n != 0 {
                    return Err(format!("`{}` takes no operands", self.m));
                }
                let mut b = self.pre.clone();
                b.extend_from_slice(bytes);
                gnu_prefix_order(&mut b);
                Ok(b)
            }
            Fam::Alu(op) => {
                let row = &ALU[op];
                match ops.as_slice() {
                    [Imm(_), dst] => {
                        let v = self.val(0);
                        let regs: Vec<Register> = if let Reg(r) = dst { vec![*r] } else { vec![] };
                        let s = self.size(&regs)?;
                        self.sized(v, s)?;
                        let d = self.rm(1)?;
                        let acc = matches!(d, Rm::R(Register::AL | Register::AX | Register::EAX));
                        let code = if s == 1 {
                            if acc {
                                row[6]
                            } else {
                                row[9]
                            }
                        } else if v.known && fits_i8(v.v, s) {
                            return self.rm_imm(row[11 + col(s)], d, v.v as i8 as i32);
                        } else if acc {
                            row[6 + col(s)]
                        } else {
                            row[9 + col(s)]
                        };
                        if acc {
                            let r = if let Rm::R(r) = d { r } else { Register::EAX };
                            return self.finish(Instruction::with2(code, r, self.sized(v, s)?));
                        }
                        self.rm_imm(code, d, self.sized(v, s)?)
                    }
                    [Reg(a), Reg(b)] => {
                        let s = self.size(&[*a, *b])?;
                        self.rm_r(row[col(s)], Rm::R(*b), *a)
                    }
                    [Reg(a), Mem(_)] => {
                        let s = self.size(&[*a])?;
                        let d = self.rm(1)?;
                        self.rm_r(row[col(s)], d, *a)
                    }
                    [Mem(_), Reg(r)] => {
                        let s = self.size(&[*r])?;
                        let src = self.rm(0)?;
                        self.r_rm(row[3 + col(s)], *r, src)
                    }
                    _ => Err(self.bad()),
                }
            }
            Fam::Mov => self.mov(),
            Fam::Test => match ops.as_slice() {
                [Imm(_), dst] => {
                    let v = self.val(0);
                    let regs: Vec<Register> = if let Reg(r) = dst { vec![*r] } else { vec![] };
                    let s = self.size(&regs)?;
                    let d = self.rm(1)?;
                    if let Rm::R(r @ (Register::AL | Register::AX | Register::EAX)) = d {
                        let code = [Code::Test_AL_imm8, Code::Test_AX_imm16, Code::Test_EAX_imm32][col(s)];
                        return self.finish(Instruction::with2(code, r, self.sized(v, s)?));
                    }
                    let code = [Code::Test_rm8_imm8, Code::Test_rm16_imm16, Code::Test_rm32_imm32][col(s)];
                    self.rm_imm(code, d, self.sized(v, s)?)
                }
                [Reg(a), Reg(b)] => {
                    let s = self.size(&[*a, *b])?;
                    self.rm_r([Code::Test_rm8_r8, Code::Test_rm16_r16, Code::Test_rm32_r32][col(s)], Rm::R(*b), *a)
                }
                [Reg(r), Mem(_)] | [Mem(_), Reg(r)] => {
                    let s = self.size(&[*r])?;
                    let mi = if matches!(ops[0], Mem(_)) { 0 } else { 1 };
                    let m = self.rm(mi)?;
                    self.rm_r([Code::Test_rm8_r8, Code::Test_rm16_r16, Code::Test_rm32_r32][col(s)], m, *r)
                }
                _ => Err(self.bad()),
            },
            Fam::Xchg => match ops.as_slice() {
                [Reg(a), Reg(b)] => {
                    let s = self.size(&[*a, *b])?;
                    let acc = [Register::AX, Register::EAX];
                    if s >= 2 && (acc.contains(a) || acc.contains(b)) {
                        let other = if acc.contains(a) { *b } else { *a };
                        let (code, accr) = if s == 2 { (Code::Xchg_r16_AX, Register::AX) } else { (Code::Xchg_r32_EAX, Register::EAX) };
                        return self.finish(Instruction::with2(code, other, accr));
                    }
                    self.rm_r([Code::Xchg_rm8_r8, Code::Xchg_rm16_r16, Code::Xchg_rm32_r32][col(s)], Rm::R(*b), *a)
                }
                [Reg(r), Mem(_)] | [Mem(_), Reg(r)] => {
                    let s = self.size(&[*r])?;
                    let mi = if matches!(ops[0], Mem(_)) { 0 } else { 1 };
                    let m = self.rm(mi)?;
                    self.rm_r([Code::Xchg_rm8_r8, Code::Xchg_rm16_r16, Code::Xchg_rm32_r32][col(s)], m, *r)
                }
                _ => Err(self.bad()),
            },
            Fam::Unary(op) => {
                if n != 1 {
                    return Err(self.bad());
                }
                self.unary(op)
            }
            Fam::Imul => self.imul(),
            Fam::Shift(op) => self.shift(op),
            Fam::ShiftDouble(left) => {
                let [cnt, Reg(src), _] = ops.as_slice() else {
                    return Err(self.bad());
                };
                let s = self.size(&[*src])?;
                if s == 1 {
                    return Err(self.bad());
                }
                let d = self.rm(2)?;
                let by_cl = matches!(cnt, Reg(Register::CL));
                let code = match (left, by_cl, s) {
                    (true, true, 2) => Code::Shld_rm16_r16_CL,
                    (true, true, _) => Code::Shld_rm32_r32_CL,
                    (true, false, 2) => Code::Shld_rm16_r16_imm8,
                    (true, false, _) => Code::Shld_rm32_r32_imm8,
                    (false, true, 2) => Code::Shrd_rm16_r16_CL,
                    (false, true, _) => Code::Shrd_rm32_r32_CL,
                    (false, false, 2) => Code::Shrd_rm16_r16_imm8,
                    (false, false, _) => Code::Shrd_rm32_r32_imm8,
                };
                match (cnt, d) {
                    (Reg(Register::CL), Rm::R(r)) => self.finish(Instruction::with3(code, r, *src, Register::CL)),
                    (Reg(Register::CL), Rm::M(m)) => self.finish(Instruction::with3(code, m, *src, Register::CL)),
                    (Imm(_), Rm::R(r)) => self.finish(Instruction::with3(code, r, *src, self.byte_arg(self.val(0))?)),
                    (Imm(_), Rm::M(m)) => self.finish(Instruction::with3(code, m, *src, self.byte_arg(self.val(0))?)),
                    _ => Err(self.bad()),
                }
            }
            Fam::Push | Fam::Pop => self.push_pop(fam == Fam::Push),
            Fam::Lea => {
                let [Mem(m), Reg(r)] = ops.as_slice() else {
                    return Err(self.bad());
                };
                if m.seg.is_some() {
                    return Err("a segment override on `lea` has no effect".into());
                }
                let s = self.size(&[*r])?;
                let m = self.rm(0)?;
                match s {
                    2 => self.r_rm(Code::Lea_r16_m, *r, m),
                    4 => self.r_rm(Code::Lea_r32_m, *r, m),
                    _ => Err(self.bad()),
                }
            }
            Fam::Movx { signed, from, to } => {
                let [src, Reg(dst)] = ops.as_slice() else {
                    return Err(self.bad());
                };
                let to_size = gpr_size(*dst).ok_or_else(|| self.bad())?;
                let from_size = match src {
                    Reg(r) => gpr_size(*r).ok_or_else(|| self.bad())?,
                    _ if from != 0 => from,
                    _ => 1, // GNU as reads `movzx (%eax),%ecx` as a byte load
                };
                if (from != 0 && from != from_size) || (to != 0 && to != to_size) || from_size >= to_size {
                    return Err(format!("operand size mismatch: `{}` can't extend {}-bit to {}-bit", self.m, from_size * 8, to_size * 8));
                }
                let code = match (signed, from_size, to_size) {
                    (false, 1, 2) => Code::Movzx_r16_rm8,
                    (false, 1, _) => Code::Movzx_r32_rm8,
                    (false, _, _) => Code::Movzx_r32_rm16,
                    (true, 1, 2) => Code::Movsx_r16_rm8,
                    (true, 1, _) => Code::Movsx_r32_rm8,
                    (true, _, _) => Code::Movsx_r32_rm16,
                };
                let s = self.rm(0)?;
                self.r_rm(code, *dst, s)
            }
            Fam::Jmp | Fam::Call => {
                let jmp = fam == Fam::Jmp;
                match ops.as_slice() {
                    [Mem(m)] if m.is_absolute() && m.seg.is_none() && !(jmp && self.suffix.is_some()) => {
                        if !jmp {
                            self.branch(Code::Call_rel32_32, 5)
                        } else if self.near {
                            self.branch(Code::Jmp_rel32_32, 5)
                        } else {
                            self.branch(Code::Jmp_rel8_32, 2)
                        }
                    }
                    // `jmp *%eax`, `call *4(%ebx)` (and, as GNU as allows with a warning, without `*`)
                    [op] => {
                        let inner: &Operand = match op {
                            Star(b) => b,
                            // GNU as only warns; a student is better served by an error.
                            _ => return Err(format!("an indirect `{0}` needs `*`: write `{0} *...`", self.m)),
                        };
                        let target = match inner {
                            Reg(r) if r.is_gpr32() => Rm::R(*r),
                            Mem(m) => {
                                let v = self.val(0);
                                Rm::M(self.mem(m, v)?)
                            }
                            _ => return Err(self.bad()),
                        };
                        self.one(if jmp { Code::Jmp_rm32 } else { Code::Call_rm32 }, target)
                    }
                    _ => Err(self.bad()),
                }
            }
            Fam::Jcc(cc) => match ops.as_slice() {
                [Mem(m)] if m.is_absolute() && m.seg.is_none() => {
                    if self.near {
                        self.branch(JCC_NEAR[cc], 6)
                    } else {
                        self.branch(JCC_SHORT[cc], 2)
                    }
                }
                _ => Err(format!("`{}` needs a label to jump to", self.m)),
            },
            Fam::Loop(k) => match ops.as_slice() {
                [Mem(m)] if m.is_absolute() && m.seg.is_none() => self.branch(LOOP[k], if k == 4 { 3 } else { 2 }),
                _ => Err(format!("`{}` needs a label to jump to", self.m)),
            },
            Fam::Setcc(cc) => {
                if n != 1 {
                    return Err(self.bad());
                }
                if let Reg(r) = &ops[0] {
                    self.size(&[*r]).and_then(|s| if s == 1 { Ok(()) } else { Err(format!("`{}` needs an 8-bit register", self.m)) })?;
                }
                let d = self.rm(0)?;
                self.one(SETCC[cc], d)
            }
            Fam::Cmov(cc) => self.r_from_rm(&CMOV[cc]),
            Fam::BitScan(f) => {
                if f {
                    self.r_from_rm(&[Code::Bsf_r16_rm16, Code::Bsf_r32_rm32])
                } else {
                    self.r_from_rm(&[Code::Bsr_r16_rm16, Code::Bsr_r32_rm32])
                }
            }
            Fam::Bswap => match ops.as_slice() {
                [Reg(r)] if r.is_gpr32() => self.finish(Instruction::with1(Code::Bswap_r32, *r)),
                _ => Err(format!("`{}` needs a 32-bit register", self.m)),
            },
            Fam::Xadd | Fam::Cmpxchg => {
                let [Reg(r), _] = ops.as_slice() else {
                    return Err(self.bad());
                };
                let mut regs = vec![*r];
                if let Reg(d) = &ops[1] {
                    regs.push(*d);
                }
                let s = self.size(&regs)?;
                let d = self.rm(1)?;
                let row = if fam == Fam::Xadd {
                    [Code::Xadd_rm8_r8, Code::Xadd_rm16_r16, Code::Xadd_rm32_r32]
                } else {
                    [Code::Cmpxchg_rm8_r8, Code::Cmpxchg_rm16_r16, Code::Cmpxchg_rm32_r32]
                };
                self.rm_r(row[col(s)], d, *r)
            }
            Fam::Bt(op) => {
                let row = BT[op];
                match ops.as_slice() {
                    [Imm(_), dst] => {
                        let regs: Vec<Register> = if let Reg(r) = dst { vec![*r] } else { vec![] };
                        let s = self.size(&regs)?;
                        if s == 1 {
                            return Err(self.bad());
                        }
                        let d = self.rm(1)?;
                        self.rm_imm(row[if s == 2 { 0 } else { 1 }], d, self.byte_arg(self.val(0))?)
                    }
                    [Reg(a), dst] => {
                        let mut regs = vec![*a];
                        if let Reg(r) = dst {
                            regs.push(*r);
                        }
                        let s = self.size(&regs)?;
                        if s == 1 {
                            return Err(self.bad());
                        }
                        let d = self.rm(1)?;
                        self.rm_r(row[if s == 2 { 2 } else { 3 }], d, *a)
                    }
                    _ => Err(self.bad()),
                }
            }
            Fam::Int => match ops.as_slice() {
                [Imm(_)] => {
                    let v = self.val(0);
                    if v.known && v.v == 3 {
                        return Ok([self.pre.as_slice(), &[0xcc]].concat());
                    }
                    self.finish(Instruction::with1(Code::Int_imm8, self.byte_arg(v)?))
                }
                _ => Err("`int` needs an immediate vector, like `int $0x1f`".to_string()),
            },
            Fam::Ret => {
                let w = self.suffix == Some(2);
                match ops.as_slice() {
                    [] => self.finish(Ok(Instruction::with(if w { Code::Retnw } else { Code::Retnd }))),
                    [Imm(_)] => self.finish(Instruction::with1(if w { Code::Retnw_imm16 } else { Code::Retnd_imm16 }, self.word_arg(self.val(0))?)),
                    _ => Err(self.bad()),
                }
            }
            Fam::Enter => match ops.as_slice() {
                [Imm(_), Imm(_)] => {
                    self.finish(Instruction::with2(Code::Enterd_imm16_imm8, self.word_arg(self.val(0))? as u32, self.byte_arg(self.val(1))? as u32))
                }
                _ => Err(self.bad()),
            },
            Fam::Table(k) => match ops.as_slice() {
                [Mem(_)] => {
                    let m = self.rm(0)?;
                    self.one(TABLE[k], m)
                }
                _ => Err(format!("`{}` needs a memory operand", self.m)),
            },
            Fam::In | Fam::Out => self.in_out(fam == Fam::In),
            Fam::Bcd(op) => match ops.as_slice() {
                [] => Ok(vec![op, 0x0a]),
                [Imm(_)] => Ok(vec![op, self.byte_arg(self.val(0))? as u8]),
                _ => Err(self.bad()),
            },
            Fam::Str(opcode) => self.string(opcode),
        }
    }

    /// cmovcc, bsf, bsr: `op src, %reg` with a 16- or 32-bit register destination.
    fn r_from_rm(&mut self, row: &[Code; 2]) -> Result<Vec<u8>, String> {
        let ops = self.ops().to_vec();
        let [src, Operand::Reg(dst)] = ops.as_slice() else {
            return Err(self.bad());
        };
        let mut regs = vec![*dst];
        if let Operand::Reg(r) = src {
            regs.push(*r);
        }
        let s = self.size(&regs)?;
        if s == 1 {
            return Err(self.bad());
        }
        let a = self.rm(0)?;
        self.r_rm(row[if s == 2 { 0 } else { 1 }], *dst, a)
    }

    fn mov(&mut self) -> Result<Vec<u8>, String> {
        use Operand::*;
        let ops = self.ops().to_vec();
        let acc_moffs = |r: Register, m: &super::parse::Mem| m.is_absolute() && matches!(r, Register::AL | Register::AX | Register::EAX);
        match ops.as_slice() {
            [Imm(_), Reg(r)] => {
                let s = self.size(&[*r])?;
                let code = [Code::Mov_r8_imm8, Code::Mov_r16_imm16, Code::Mov_r32_imm32][col(s)];
                self.finish(Instruction::with2(code, *r, self.sized(self.val(0), s)?))
            }
            [Imm(_), Mem(_)] => {
                let s = self.size(&[])?;
                let d = self.rm(1)?;
                self.rm_imm([Code::Mov_rm8_imm8, Code::Mov_rm16_imm16, Code::Mov_rm32_imm32][col(s)], d, self.sized(self.val(0), s)?)
            }
            // Segment registers: GNU as never adds `66` for a move into one, nor for a store to memory.
            [Reg(s), Reg(r)] if s.is_segment_register() && r.is_gpr() => {
                let size = self.size(&[*r])?;
                match size {
                    2 => self.finish(Instruction::with2(Code::Mov_rm16_Sreg, *r, *s)),
                    4 => self.finish(Instruction::with2(Code::Mov_r32m16_Sreg, *r, *s)),
                    _ => Err(self.bad()),
                }
            }
            [Reg(r), Reg(s)] if s.is_segment_register() && r.is_gpr() => {
                let size = self.size(&[*r])?;
                if size == 1 || *s == Register::CS {
                    return Err(self.bad());
                }
                let full = r.full_register32();
                self.finish(Instruction::with2(Code::Mov_Sreg_r32m16, *s, full))
            }
            [Reg(s), Mem(_)] | [Mem(_), Reg(s)] if s.is_segment_register() && self.suffix.is_some_and(|x| x != 2) => {
                Err(format!("`{}`: a segment register moves to or from memory as a word (`movw`)", self.m))
            }
            [Reg(s), Mem(_)] if s.is_segment_register() => {
                let m = self.rm(1)?;
                self.rm_r(Code::Mov_r32m16_Sreg, m, *s)
            }
            [Mem(_), Reg(s)] if s.is_segment_register() => {
                if *s == Register::CS {
                    return Err(self.bad());
                }
                let m = self.rm(0)?;
                self.r_rm(Code::Mov_Sreg_r32m16, *s, m)
            }
            [Reg(a), Reg(b)] if a.is_cr() || b.is_cr() => {
                let (cr, g, code) = if a.is_cr() { (*a, *b, Code::Mov_r32_cr) } else { (*b, *a, Code::Mov_cr_r32) };
                if !g.is_gpr32() || self.suffix.is_some_and(|x| x != 4) {
                    return Err(self.bad());
                }
                if code == Code::Mov_r32_cr {
                    self.finish(Instruction::with2(code, g, cr))
                } else {
                    self.finish(Instruction::with2(code, cr, g))
                }
            }
            [Reg(a), Reg(b)] => {
                let s = self.size(&[*a, *b])?;
                self.rm_r([Code::Mov_rm8_r8, Code::Mov_rm16_r16, Code::Mov_rm32_r32][col(s)], Rm::R(*b), *a)
            }
            [Reg(r), Mem(m)] => {
                let s = self.size(&[*r])?;
                if acc_moffs(*r, m) {
                    let mo = self.rm(1)?;
                    let code = [Code::Mov_moffs8_AL, Code::Mov_moffs16_AX, Code::Mov_moffs32_EAX][col(s)];
                    return self.rm_r(code, mo, *r);
                }
                let d = self.rm(1)?;
                self.rm_r([Code::Mov_rm8_r8, Code::Mov_rm16_r16, Code::Mov_rm32_r32][col(s)], d, *r)
            }
            [Mem(m), Reg(r)] => {
                let s = self.size(&[*r])?;
                if acc_moffs(*r, m) {
                    let mo = self.rm(0)?;
                    let code = [Code::Mov_AL_moffs8, Code::Mov_AX_moffs16, Code::Mov_EAX_moffs32][col(s)];
                    return self.r_rm(code, *r, mo);
                }
                let src = self.rm(0)?;
                self.r_rm([Code::Mov_r8_rm8, Code::Mov_r16_rm16, Code::Mov_r32_rm32][col(s)], *r, src)
            }
            _ => Err(self.bad()),
        }
    }

    fn unary(&mut self, op: usize) -> Result<Vec<u8>, String> {
        let regs: Vec<Register> = match &self.insn.ops[0] {
            Operand::Reg(r) => vec![*r],
            _ => vec![],
        };
        let s = self.size(&regs)?;
        let d = self.rm(0)?;
        // inc/dec of a 16/32-bit register have one-byte forms (40+r, 48+r) in 32-bit code.
        if let (0 | 1, Rm::R(r), 2 | 4) = (op, d, s) {
            let code = match (op, s) {
                (0, 2) => Code::Inc_r16,
                (0, _) => Code::Inc_r32,
                (_, 2) => Code::Dec_r16,
                _ => Code::Dec_r32,
            };
            return self.finish(Instruction::with1(code, r));
        }
        self.one(UNARY[op][col(s)], d)
    }

    fn imul(&mut self) -> Result<Vec<u8>, String> {
        use Operand::*;
        let ops = self.ops().to_vec();
        let three = |e: &mut Self, v: Val, src: usize, dst: Register| -> Result<Vec<u8>, String> {
            let mut regs = vec![dst];
            if let Reg(r) = &ops[src] {
                regs.push(*r);
            }
            let s = e.size(&regs)?;
            if s == 1 {
                return Err(e.bad());
            }
            let a = e.rm(src)?;
            e.sized(v, s)?;
            let (code, iv) = if v.known && fits_i8(v.v, s) {
                ([Code::Imul_r16_rm16_imm8, Code::Imul_r32_rm32_imm8][col(s) - 1], v.v as i8 as i32)
            } else {
                ([Code::Imul_r16_rm16_imm16, Code::Imul_r32_rm32_imm32][col(s) - 1], e.sized(v, s)?)
            };
            e.finish(match a {
                Rm::R(r) => Instruction::with3(code, dst, r, iv),
                Rm::M(m) => Instruction::with3(code, dst, m, iv),
            })
        };
        match ops.as_slice() {
            [_] => self.unary(7),
            [Imm(_), Reg(r)] => {
                // `imul $3,%eax` is `imul $3,%eax,%eax`
                let v = self.val(0);
                three(self, v, 1, *r)
            }
            [Imm(_), Reg(_) | Mem(_), Reg(dst)] => {
                let v = self.val(0);
                three(self, v, 1, *dst)
            }
            [_, Reg(dst)] => {
                let mut regs = vec![*dst];
                if let Reg(r) = &ops[0] {
                    regs.push(*r);
                }
                let s = self.size(&regs)?;
                if s == 1 {
                    return Err(self.bad());
                }
                let a = self.rm(0)?;
                self.r_rm([Code::Imul_r16_rm16, Code::Imul_r32_rm32][col(s) - 1], *dst, a)
            }
            _ => Err(self.bad()),
        }
    }

    fn shift(&mut self, op: usize) -> Result<Vec<u8>, String> {
        use Operand::*;
        let ops = self.ops().to_vec();
        let row = SHIFT[op];
        let (count, target) = match ops.as_slice() {
            [t] => (None, t),
            [c, t] => (Some(c), t),
            _ => return Err(self.bad()),
        };
        let ti = ops.len() - 1;
        let regs: Vec<Register> = if let Reg(r) = target { vec![*r] } else { vec![] };
        let s = self.size(&regs)?;
        let d = self.rm(ti)?;
        match count {
            None => self.rm_imm(row[col(s)], d, 1),
            Some(Reg(Register::CL)) => self.finish(match d {
                Rm::R(r) => Instruction::with2(row[3 + col(s)], r, Register::CL),
                Rm::M(m) => Instruction::with2(row[3 + col(s)], m, Register::CL),
            }),
            Some(Imm(_)) => {
                let v = self.val(0);
                if v.known && v.v == 1 {
                    // GNU as: a shift by a known 1 uses the short `d1 /r` form.
                    return self.rm_imm(row[col(s)], d, 1);
                }
                self.rm_imm(row[6 + col(s)], d, self.byte_arg(v)?)
            }
            _ => Err(format!("the shift count of `{}` must be `%cl` or an immediate", self.m)),
        }
    }

    fn push_pop(&mut self, push: bool) -> Result<Vec<u8>, String> {
        use Operand::*;
        let ops = self.ops().to_vec();
        let [op] = ops.as_slice() else {
            return Err(self.bad());
        };
        match op {
            Reg(r) if r.is_segment_register() => {
                let w = self.suffix == Some(2);
                let code = match (push, *r, w) {
                    (true, Register::ES, false) => Code::Pushd_ES,
                    (true, Register::CS, false) => Code::Pushd_CS,
                    (true, Register::SS, false) => Code::Pushd_SS,
                    (true, Register::DS, false) => Code::Pushd_DS,
                    (true, Register::FS, false) => Code::Pushd_FS,
                    (true, Register::GS, false) => Code::Pushd_GS,
                    (true, Register::ES, true) => Code::Pushw_ES,
                    (true, Register::CS, true) => Code::Pushw_CS,
                    (true, Register::SS, true) => Code::Pushw_SS,
                    (true, Register::DS, true) => Code::Pushw_DS,
                    (true, Register::FS, true) => Code::Pushw_FS,
                    (true, Register::GS, true) => Code::Pushw_GS,
                    (false, Register::ES, false) => Code::Popd_ES,
                    (false, Register::SS, false) => Code::Popd_SS,
                    (false, Register::DS, false) => Code::Popd_DS,
                    (false, Register::FS, false) => Code::Popd_FS,
                    (false, Register::GS, false) => Code::Popd_GS,
                    (false, Register::ES, true) => Code::Popw_ES,
                    (false, Register::SS, true) => Code::Popw_SS,
                    (false, Register::DS, true) => Code::Popw_DS,
                    (false, Register::FS, true) => Code::Popw_FS,
                    (false, Register::GS, true) => Code::Popw_GS,
                    _ => return Err(format!("`{}` can't be used with `{}`", name(*r), self.m)),
                };
                self.finish(Instruction::with1(code, *r))
            }
            Reg(r) => {
                let s = self.size(&[*r])?;
                let code = match (push, s) {
                    (true, 2) => Code::Push_r16,
                    (true, 4) => Code::Push_r32,
                    (false, 2) => Code::Pop_r16,
                    (false, 4) => Code::Pop_r32,
                    _ => return Err(format!("`{}` can't push or pop an 8-bit register", self.m)),
                };
                self.finish(Instruction::with1(code, *r))
            }
            Imm(_) if push => {
                let v = self.val(0);
                let w = self.suffix == Some(2);
                if self.suffix == Some(1) {
                    return Err(self.bad());
                }
                self.sized(v, if w { 2 } else { 4 })?;
                let (code, iv) = match (w, v.known && fits_i8(v.v, if w { 2 } else { 4 })) {
                    (false, true) => (Code::Pushd_imm8, v.v as i8 as i32),
                    (false, false) => (Code::Pushd_imm32, self.sized(v, 4)?),
                    (true, true) => (Code::Pushw_imm8, v.v as i8 as i32),
                    (true, false) => (Code::Push_imm16, self.sized(v, 2)?),
                };
                self.finish(Instruction::with1(code, iv))
            }
            Mem(_) => {
                let w = self.suffix == Some(2);
                if self.suffix == Some(1) {
                    return Err(self.bad());
                }
                let m = self.rm(0)?;
                let code = match (push, w) {
                    (true, false) => Code::Push_rm32,
                    (true, true) => Code::Push_rm16,
                    (false, false) => Code::Pop_rm32,
                    (false, true) => Code::Pop_rm16,
                };
                self.one(code, m)
            }
            _ => Err(self.bad()),
        }
    }

    fn in_out(&mut self, input: bool) -> Result<Vec<u8>, String> {
        use Operand::*;
        let ops = self.ops().to_vec();
        let is_dx = |o: &Operand| match o {
            Reg(Register::DX) => true,
            Mem(m) => m.base == Some(Register::DX) && m.index.is_none() && m.disp.is_none(),
            _ => false,
        };
        let (port, acc) = match (input, ops.as_slice()) {
            (true, [p, Reg(a)]) => (p, *a),
            (false, [Reg(a), p]) => (p, *a),
            _ => return Err(self.bad()),
        };
        let s = self.size(&[acc])?;
        if !matches!(acc, Register::AL | Register::AX | Register::EAX) {
            return Err(format!("`{}` works only with %al, %ax or %eax", self.m));
        }
        let by_dx = is_dx(port);
        let code = match (input, by_dx, s) {
            (true, true, 1) => Code::In_AL_DX,
            (true, true, 2) => Code::In_AX_DX,
            (true, true, _) => Code::In_EAX_DX,
            (true, false, 1) => Code::In_AL_imm8,
            (true, false, 2) => Code::In_AX_imm8,
            (true, false, _) => Code::In_EAX_imm8,
            (false, true, 1) => Code::Out_DX_AL,
            (false, true, 2) => Code::Out_DX_AX,
            (false, true, _) => Code::Out_DX_EAX,
            (false, false, 1) => Code::Out_imm8_AL,
            (false, false, 2) => Code::Out_imm8_AX,
            (false, false, _) => Code::Out_imm8_EAX,
        };
        let pi = if input { 0 } else { 1 };
        let pv = self.byte_arg(self.val(pi))?;
        self.finish(match (input, by_dx, port) {
            (true, true, _) => Instruction::with2(code, acc, Register::DX),
            (false, true, _) => Instruction::with2(code, Register::DX, acc),
            (true, false, Imm(_)) => Instruction::with2(code, acc, pv),
            (false, false, Imm(_)) => Instruction::with2(code, pv, acc),
            _ => return Err(self.bad()),
        })
    }

    /// movs cmps stos lods scas ins outs. Operands are optional; when written they must be the
    /// ones the instruction really uses, in GNU as's order, and only the `%esi` side may carry a
    /// segment override (the `%edi` side is always `%es`).
    fn string(&mut self, opcode: u8) -> Result<Vec<u8>, String> {
        #[derive(PartialEq, Clone, Copy)]
        enum Slot {
            Si,
            Di,
            Acc,
            Dx,
        }
        use Slot::*;
        let shapes: &[&[Slot]] = match opcode {
            0xa4 => &[&[Si, Di]],
            0xa6 => &[&[Di, Si]],
            0xac => &[&[Si], &[Si, Acc]],
            0xaa => &[&[Di], &[Acc, Di]],
            0xae => &[&[Di], &[Di, Acc]],
            0x6c => &[&[Dx, Di]],
            _ => &[&[Si, Dx]],
        };
        let ops = self.ops().to_vec();
        let mut regs = Vec::new();
        if !ops.is_empty() {
            let shape = shapes.iter().find(|s| s.len() == ops.len()).ok_or_else(|| self.bad())?;
            for (op, slot) in ops.iter().zip(shape.iter()) {
                match (slot, op) {
                    (Acc, Operand::Reg(r @ (Register::AL | Register::AX | Register::EAX))) => regs.push(*r),
                    (Dx, Operand::Reg(Register::DX)) => {}
                    (Dx, Operand::Mem(m)) if m.base == Some(Register::DX) && m.index.is_none() && m.disp.is_none() && m.seg.is_none() => {}
                    (Si | Di, Operand::Mem(m)) => {
                        let want = if *slot == Si { Register::ESI } else { Register::EDI };
                        if m.base != Some(want) || m.index.is_some() || m.disp.is_some() {
                            return Err(format!("`{}` expects `({})` here", self.m, name(want)));
                        }
                        match (slot, m.seg) {
                            (Si, Some(seg)) if seg != Register::DS => self.pre.push(seg_byte(seg)),
                            (Di, Some(seg)) if seg != Register::ES => return Err(format!("`{}` always uses `%es` for `(%edi)`", self.m)),
                            _ => {}
                        }
                    }
                    _ => return Err(self.bad()),
                }
            }
        }
        let s = self.size(&regs)?;
        let mut b = self.pre.clone();
        if s == 2 {
            b.push(0x66);
        }
        b.push(if s == 1 { opcode } else { opcode + 1 });
        gnu_prefix_order(&mut b);
        Ok(b)
    }

    /// `lock` only on a read-modify-write of memory, `rep` only on string instructions (and the
    /// `rep ret`/`rep nop` idioms): GNU as refuses the rest, and so do we.
    fn check_prefixes(&self, fam: Fam) -> Result<(), String> {
        let ops = &self.insn.ops;
        // The destination is the last operand; `xchg` may have its memory operand on either side.
        let dest_is_mem = match fam {
            Fam::Xchg => ops.iter().any(|o| matches!(o, Operand::Mem(_))),
            _ => matches!(ops.last(), Some(Operand::Mem(_))),
        };
        for p in &self.insn.prefixes {
            if *p == 0xf0 {
                let lockable = matches!(fam, Fam::Alu(0..=6) | Fam::Unary(0..=3) | Fam::Bt(1..=3) | Fam::Xadd | Fam::Cmpxchg | Fam::Xchg);
                if !lockable || !dest_is_mem {
                    return Err(format!("`lock` can't be used with `{}` here: it needs an instruction that updates memory", self.m));
                }
            } else if !(matches!(fam, Fam::Str(_) | Fam::Ret) || self.m == "nop") {
                return Err(format!("`rep` can't be used with `{}`", self.m));
            }
        }
        Ok(())
    }
}
