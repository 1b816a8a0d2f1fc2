//! Size-generic fast forms: the instruction families `fast.rs` does not specialise (8- and 16-bit ALU work,
//! shifts and rotates of any size and count, multiply and divide, bit tests and scans, moves of every size,
//! extensions, exchanges, loops, indirect jumps and calls, flag instructions, BCD), lowered when a block is
//! decoded into a [`Form`] whose operands are already resolved into [`Opnd`]s (a register number, an
//! immediate, or a memory operand with 32-bit addressing), so running one reads no iced-x86 operand table.
//!
//! Each form computes exactly what the generic handler of its family computes (they share the flag
//! arithmetic in `flags.rs` and `alu.rs`), and keeps the executor's contract: every check and every store
//! that can fault comes before any register or flag is committed. What a form does not cover (16-bit
//! addressing, lock prefixes, segment registers, string instructions, anything privileged) stays generic.

use iced_x86::{Code, ConditionCode, Instruction, Mnemonic as M, OpKind, Register};

use super::alu::{bcd_op, shift_double_op, shift_op};
use super::fast::{mem_any, AluOp, Mem};
use crate::cpu::fault::Fault;
use crate::cpu::flags::{self, mask, sext, szp, CF, DF, OF, STATUS, ZF};
use crate::cpu::segments::SS;
use crate::cpu::{Cpu, EBP, ECX, EDX, ESP};
use crate::guest_ram::GuestRam;

/// An operand: a general register of the form's size (for bytes, x86's numbering: al cl dl bl ah ch dh
/// bh), an immediate already cut to that size, or memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opnd {
    R(u8),
    Imm(u32),
    M(Mem),
}

/// One-operand arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    Inc,
    Dec,
    Neg,
    Not,
}

/// The bit-test family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitOp {
    Bt,
    Bts,
    Btr,
    Btc,
}

/// loop, loope, loopne, jecxz (32-bit ECX only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopKind {
    Loop,
    Loope,
    Loopne,
    Jecxz,
}

/// A lowered instruction of one of the families above. `size` is the operand size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Alu {
        op: AluOp,
        size: u8,
        d: Opnd,
        s: Opnd,
    },
    Unary {
        op: Unary,
        size: u8,
        d: Opnd,
    },
    Mov {
        size: u8,
        d: Opnd,
        s: Opnd,
    },
    /// movzx/movsx into a 16- or 32-bit register.
    Movx {
        dsize: u8,
        d: u8,
        ssize: u8,
        s: Opnd,
        signed: bool,
    },
    /// Shift or rotate by an immediate (`count` Some) or by CL.
    Shift {
        m: M,
        size: u8,
        d: Opnd,
        count: Option<u8>,
    },
    ShiftDouble {
        left: bool,
        size: u8,
        d: Opnd,
        s: u8,
        count: Option<u8>,
    },
    /// One-operand mul / imul: the accumulator times `s`.
    MulAcc {
        signed: bool,
        size: u8,
        s: Opnd,
    },
    /// Two- and three-operand imul: `d = a * b`.
    Imul {
        size: u8,
        d: u8,
        a: Opnd,
        b: Opnd,
    },
    Div {
        signed: bool,
        size: u8,
        s: Opnd,
    },
    Bit {
        op: BitOp,
        size: u8,
        d: Opnd,
        bit: Opnd,
    },
    Scan {
        reverse: bool,
        size: u8,
        d: u8,
        s: Opnd,
    },
    Xchg {
        size: u8,
        a: Opnd,
        b: Opnd,
    },
    Setcc {
        cc: ConditionCode,
        d: Opnd,
    },
    Cmov {
        cc: ConditionCode,
        size: u8,
        d: u8,
        s: Opnd,
    },
    Bswap {
        d: u8,
    },
    /// cbw/cwde (`size` of the result 2 or 4) and cwd/cdq (`wide`).
    Convert {
        size: u8,
        wide: bool,
    },
    /// clc, stc, cmc, cld, std, nop: EFLAGS = (EFLAGS & and | or) ^ xor.
    Flags {
        and: u32,
        or: u32,
        xor: u32,
    },
    Lahf,
    Sahf,
    Bcd {
        m: M,
        imm: u8,
    },
    Loop {
        kind: LoopKind,
        target: u32,
    },
    JmpInd {
        s: Opnd,
    },
    CallInd {
        s: Opnd,
    },
    RetImm {
        extra: u16,
    },
    Leave,
    PushM {
        m: Mem,
    },
    PopM {
        m: Mem,
    },
    PushImm {
        imm: u32,
    },
    Pushfd,
}

impl Form {
    /// Does it write memory (so the executor must look for code it overwrote)?
    #[inline(always)]
    pub fn stores(&self) -> bool {
        let m = |o: &Opnd| matches!(o, Opnd::M(_));
        match self {
            Form::Alu { op, d, .. } => m(d) && !matches!(op, AluOp::Cmp | AluOp::Test),
            Form::Unary { d, .. } | Form::Mov { d, .. } | Form::Shift { d, .. } | Form::ShiftDouble { d, .. } | Form::Setcc { d, .. } => m(d),
            Form::Bit { op, d, .. } => m(d) && *op != BitOp::Bt,
            Form::Xchg { a, b, .. } => m(a) || m(b),
            Form::CallInd { .. } | Form::PushM { .. } | Form::PopM { .. } | Form::PushImm { .. } | Form::Pushfd => true,
            _ => false,
        }
    }
}

fn reg_number(r: Register, size: u32) -> Option<u8> {
    let n = r as u32;
    let first = match size {
        4 => Register::EAX,
        2 => Register::AX,
        _ => Register::AL,
    } as u32;
    // al..bh are contiguous in iced's order and in x86's numbering (al cl dl bl ah ch dh bh).
    (r.size() as u32 == size && n >= first && n < first + 8).then(|| (n - first) as u8)
}

/// Operand `n` of `i` as an [`Opnd`] of `size` bytes (None where a form cannot take it).
fn opnd(i: &Instruction, n: u32, size: u32) -> Option<Opnd> {
    Some(match i.op_kind(n) {
        OpKind::Register => Opnd::R(reg_number(i.op_register(n), size)?),
        OpKind::Memory => {
            if i.memory_size().size() as u32 != size {
                return None;
            }
            Opnd::M(mem_any(i, n)?)
        }
        OpKind::Immediate8 => Opnd::Imm(i.immediate8() as u32 & mask(size)),
        OpKind::Immediate16 => Opnd::Imm(i.immediate16() as u32 & mask(size)),
        OpKind::Immediate32 => Opnd::Imm(i.immediate32() & mask(size)),
        OpKind::Immediate8to16 => Opnd::Imm(i.immediate8to16() as u16 as u32 & mask(size)),
        OpKind::Immediate8to32 => Opnd::Imm(i.immediate8to32() as u32 & mask(size)),
        _ => return None,
    })
}

/// The operand size of `i` as its first operand shows it (1, 2 or 4), if it is a register or memory.
fn size0(i: &Instruction) -> Option<u32> {
    let s = match i.op0_kind() {
        OpKind::Register => i.op0_register().size() as u32,
        OpKind::Memory => i.memory_size().size() as u32,
        _ => return None,
    };
    matches!(s, 1 | 2 | 4).then_some(s)
}

fn gpr(i: &Instruction, n: u32, size: u32) -> Option<u8> {
    (i.op_kind(n) == OpKind::Register).then(|| reg_number(i.op_register(n), size)).flatten()
}

/// Lower `i` to a form, if one covers it. The caller has already refused lock and rep prefixes.
pub fn lower(i: &Instruction) -> Option<Form> {
    let m = i.mnemonic();
    let alu = |op| -> Option<Form> {
        let size = size0(i)?;
        Some(Form::Alu { op, size: size as u8, d: opnd(i, 0, size)?, s: opnd(i, 1, size)? })
    };
    Some(match m {
        M::Add => alu(AluOp::Add)?,
        M::Or => alu(AluOp::Or)?,
        M::Adc => alu(AluOp::Adc)?,
        M::Sbb => alu(AluOp::Sbb)?,
        M::And => alu(AluOp::And)?,
        M::Sub => alu(AluOp::Sub)?,
        M::Xor => alu(AluOp::Xor)?,
        M::Cmp => alu(AluOp::Cmp)?,
        M::Test => alu(AluOp::Test)?,
        M::Inc | M::Dec | M::Neg | M::Not => {
            let size = size0(i)?;
            let op = match m {
                M::Inc => Unary::Inc,
                M::Dec => Unary::Dec,
                M::Neg => Unary::Neg,
                _ => Unary::Not,
            };
            Form::Unary { op, size: size as u8, d: opnd(i, 0, size)? }
        }
        M::Mov => {
            let size = size0(i)?;
            Form::Mov { size: size as u8, d: opnd(i, 0, size)?, s: opnd(i, 1, size)? }
        }
        M::Movzx | M::Movsx => {
            let dsize = size0(i)?;
            let ssize = match i.op1_kind() {
                OpKind::Register => i.op1_register().size() as u32,
                _ => i.memory_size().size() as u32,
            };
            Form::Movx { dsize: dsize as u8, d: gpr(i, 0, dsize)?, ssize: ssize as u8, s: opnd(i, 1, ssize)?, signed: m == M::Movsx }
        }
        M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar => {
            let size = size0(i)?;
            let count = match i.op1_kind() {
                OpKind::Immediate8 => Some(i.immediate8()),
                OpKind::Register if i.op1_register() == Register::CL => None,
                _ => return None,
            };
            Form::Shift { m: if m == M::Sal { M::Shl } else { m }, size: size as u8, d: opnd(i, 0, size)?, count }
        }
        M::Shld | M::Shrd => {
            let size = size0(i)?;
            let count = match i.op2_kind() {
                OpKind::Immediate8 => Some(i.immediate8()),
                OpKind::Register if i.op2_register() == Register::CL => None,
                _ => return None,
            };
            Form::ShiftDouble { left: m == M::Shld, size: size as u8, d: opnd(i, 0, size)?, s: gpr(i, 1, size)?, count }
        }
        M::Mul | M::Imul if i.op_count() == 1 => {
            let size = size0(i)?;
            Form::MulAcc { signed: m == M::Imul, size: size as u8, s: opnd(i, 0, size)? }
        }
        M::Imul => {
            let size = size0(i)?;
            let (a, b) = if i.op_count() == 2 { (opnd(i, 0, size)?, opnd(i, 1, size)?) } else { (opnd(i, 1, size)?, opnd(i, 2, size)?) };
            Form::Imul { size: size as u8, d: gpr(i, 0, size)?, a, b }
        }
        M::Div | M::Idiv => {
            let size = size0(i)?;
            Form::Div { signed: m == M::Idiv, size: size as u8, s: opnd(i, 0, size)? }
        }
        M::Bt | M::Bts | M::Btr | M::Btc => {
            let size = size0(i)?;
            if size == 1 {
                return None;
            }
            let op = match m {
                M::Bt => BitOp::Bt,
                M::Bts => BitOp::Bts,
                M::Btr => BitOp::Btr,
                _ => BitOp::Btc,
            };
            Form::Bit { op, size: size as u8, d: opnd(i, 0, size)?, bit: opnd(i, 1, size)? }
        }
        M::Bsf | M::Bsr => {
            let size = size0(i)?;
            Form::Scan { reverse: m == M::Bsr, size: size as u8, d: gpr(i, 0, size)?, s: opnd(i, 1, size)? }
        }
        M::Xchg => {
            let size = size0(i)?;
            Form::Xchg { size: size as u8, a: opnd(i, 0, size)?, b: opnd(i, 1, size)? }
        }
        M::Seta
        | M::Setae
        | M::Setb
        | M::Setbe
        | M::Sete
        | M::Setg
        | M::Setge
        | M::Setl
        | M::Setle
        | M::Setne
        | M::Setno
        | M::Setnp
        | M::Setns
        | M::Seto
        | M::Setp
        | M::Sets => Form::Setcc { cc: i.condition_code(), d: opnd(i, 0, 1)? },
        M::Cmova
        | M::Cmovae
        | M::Cmovb
        | M::Cmovbe
        | M::Cmove
        | M::Cmovg
        | M::Cmovge
        | M::Cmovl
        | M::Cmovle
        | M::Cmovne
        | M::Cmovno
        | M::Cmovnp
        | M::Cmovns
        | M::Cmovo
        | M::Cmovp
        | M::Cmovs => {
            let size = size0(i)?;
            Form::Cmov { cc: i.condition_code(), size: size as u8, d: gpr(i, 0, size)?, s: opnd(i, 1, size)? }
        }
        M::Bswap => Form::Bswap { d: gpr(i, 0, 4)? },
        M::Cbw => Form::Convert { size: 2, wide: false },
        M::Cwde => Form::Convert { size: 4, wide: false },
        M::Cwd => Form::Convert { size: 2, wide: true },
        M::Cdq => Form::Convert { size: 4, wide: true },
        M::Clc => Form::Flags { and: !CF, or: 0, xor: 0 },
        M::Stc => Form::Flags { and: !0, or: CF, xor: 0 },
        M::Cmc => Form::Flags { and: !0, or: 0, xor: CF },
        M::Cld => Form::Flags { and: !DF, or: 0, xor: 0 },
        M::Std => Form::Flags { and: !0, or: DF, xor: 0 },
        M::Nop => Form::Flags { and: !0, or: 0, xor: 0 },
        M::Lahf => Form::Lahf,
        M::Sahf => Form::Sahf,
        M::Daa | M::Das | M::Aaa | M::Aas => Form::Bcd { m, imm: 0 },
        M::Aam | M::Aad => Form::Bcd { m, imm: i.immediate8() },
        M::Loop | M::Loope | M::Loopne | M::Jecxz => {
            let kind = match i.code() {
                Code::Loop_rel8_32_ECX => LoopKind::Loop,
                Code::Loope_rel8_32_ECX => LoopKind::Loope,
                Code::Loopne_rel8_32_ECX => LoopKind::Loopne,
                Code::Jecxz_rel8_32 => LoopKind::Jecxz,
                _ => return None,
            };
            Form::Loop { kind, target: i.near_branch32() }
        }
        M::Jmp if i.code() == Code::Jmp_rm32 => Form::JmpInd { s: opnd(i, 0, 4)? },
        M::Call if i.code() == Code::Call_rm32 => Form::CallInd { s: opnd(i, 0, 4)? },
        M::Ret if i.code() == Code::Retnd_imm16 => Form::RetImm { extra: i.immediate16() },
        M::Leave if i.code() == Code::Leaved => Form::Leave,
        M::Push if i.code() == Code::Push_rm32 && i.op0_kind() == OpKind::Memory => Form::PushM { m: mem_any(i, 0)? },
        M::Pop if i.code() == Code::Pop_rm32 && i.op0_kind() == OpKind::Memory => Form::PopM { m: mem_any(i, 0)? },
        M::Push if matches!(i.code(), Code::Pushd_imm8 | Code::Pushd_imm32) => match opnd(i, 0, 4)? {
            Opnd::Imm(imm) => Form::PushImm { imm },
            _ => return None,
        },
        M::Pushfd => Form::Pushfd,
        _ => return None,
    })
}

impl Cpu {
    #[inline(always)]
    fn form_ea(&self, m: &Mem) -> u32 {
        let r = &self.state.regs;
        let mut a = m.disp;
        if m.base < 8 {
            a = a.wrapping_add(r[m.base as usize]);
        }
        if m.index < 8 {
            a = a.wrapping_add(r[m.index as usize] << (m.shift & 3));
        }
        a
    }

    #[inline(always)]
    fn get_r(&self, r: u8, size: u32) -> u32 {
        let regs = &self.state.regs;
        match size {
            4 => regs[(r & 7) as usize],
            2 => regs[(r & 7) as usize] & 0xffff,
            _ => (regs[(r & 3) as usize] >> ((r & 4) << 1)) & 0xff,
        }
    }

    #[inline(always)]
    fn put_r(&mut self, r: u8, size: u32, v: u32) {
        match size {
            4 => self.state.regs[(r & 7) as usize] = v,
            2 => {
                let x = &mut self.state.regs[(r & 7) as usize];
                *x = (*x & 0xffff_0000) | (v & 0xffff);
            }
            _ => {
                let sh = ((r & 4) << 1) as u32;
                let x = &mut self.state.regs[(r & 3) as usize];
                *x = (*x & !(0xff << sh)) | ((v & 0xff) << sh);
            }
        }
    }

    /// Read an operand; a memory operand's offset comes back too, for a write to the same place.
    #[inline(always)]
    fn get_o(&mut self, ram: &GuestRam, o: &Opnd, size: u32) -> Result<(u32, u32), Fault> {
        match o {
            Opnd::R(r) => Ok((self.get_r(*r, size), 0)),
            Opnd::Imm(v) => Ok((*v, 0)),
            Opnd::M(m) => {
                let off = self.form_ea(m);
                Ok((self.read_mem(ram, m.seg as usize, off, size)?, off))
            }
        }
    }

    /// Write an operand (memory at the offset `get_o` returned).
    #[inline(always)]
    fn put_o(&mut self, ram: &mut GuestRam, o: &Opnd, off: u32, size: u32, v: u32) -> Result<(), Fault> {
        match o {
            Opnd::R(r) => {
                self.put_r(*r, size, v);
                Ok(())
            }
            Opnd::M(m) => self.write_mem(ram, m.seg as usize, off, size, v),
            Opnd::Imm(_) => Err(Fault::ud("write to an immediate")),
        }
    }

    /// Execute a form whose successor is at `next`; `Ok(true)` when it transferred control (EIP set).
    #[inline(never)]
    pub(crate) fn exec_form(&mut self, ram: &mut GuestRam, f: &Form, next: u32) -> Result<bool, Fault> {
        match *f {
            Form::Alu { op, size, ref d, ref s } => {
                let size = size as u32;
                let (a, off) = self.get_o(ram, d, size)?;
                let (b, _) = self.get_o(ram, s, size)?;
                let cf = self.cf();
                let (r, fl) = match op {
                    AluOp::Add => flags::add(a, b, 0, size),
                    AluOp::Adc => flags::add(a, b, cf, size),
                    AluOp::Sub | AluOp::Cmp => flags::sub(a, b, 0, size),
                    AluOp::Sbb => flags::sub(a, b, cf, size),
                    AluOp::And | AluOp::Test => (a & b, flags::logic(a & b, size)),
                    AluOp::Or => (a | b, flags::logic(a | b, size)),
                    AluOp::Xor => (a ^ b, flags::logic(a ^ b, size)),
                };
                if !matches!(op, AluOp::Cmp | AluOp::Test) {
                    self.put_o(ram, d, off, size, r)?;
                }
                self.set_status(fl);
            }
            Form::Unary { op, size, ref d } => {
                let size = size as u32;
                let (a, off) = self.get_o(ram, d, size)?;
                let (r, which, fl) = match op {
                    Unary::Inc => {
                        let (r, f) = flags::add(a, 1, 0, size);
                        (r, STATUS & !CF, f)
                    }
                    Unary::Dec => {
                        let (r, f) = flags::sub(a, 1, 0, size);
                        (r, STATUS & !CF, f)
                    }
                    Unary::Neg => {
                        let (r, f) = flags::sub(0, a, 0, size);
                        (r, STATUS, f)
                    }
                    Unary::Not => (!a & mask(size), 0, 0),
                };
                self.put_o(ram, d, off, size, r)?;
                self.set_flags(which, fl);
            }
            Form::Mov { size, ref d, ref s } => {
                let size = size as u32;
                let (v, _) = self.get_o(ram, s, size)?;
                match d {
                    Opnd::M(m) => {
                        let off = self.form_ea(m);
                        self.write_mem(ram, m.seg as usize, off, size, v)?;
                    }
                    _ => self.put_o(ram, d, 0, size, v)?,
                }
            }
            Form::Movx { dsize, d, ssize, ref s, signed } => {
                let (v, _) = self.get_o(ram, s, ssize as u32)?;
                let v = if signed { sext(v, ssize as u32) } else { v };
                self.put_r(d, dsize as u32, v);
            }
            Form::Shift { m, size, ref d, count } => {
                let size = size as u32;
                let count = match count {
                    Some(c) => c as u32,
                    None => self.state.regs[ECX] & 0xff,
                };
                let (a, off) = self.get_o(ram, d, size)?;
                if count & 0x1f != 0 {
                    let (r, fl) = shift_op(m, a, count, size, self.state.eflags);
                    self.put_o(ram, d, off, size, r)?;
                    self.state.eflags = fl;
                }
            }
            Form::ShiftDouble { left, size, ref d, s, count } => {
                let size = size as u32;
                let count = match count {
                    Some(c) => c as u32,
                    None => self.state.regs[ECX] & 0xff,
                };
                let (a, off) = self.get_o(ram, d, size)?;
                let b = self.get_r(s, size);
                if count & 0x1f != 0 {
                    let (r, fl) = shift_double_op(left, a, b, count, size, self.state.eflags);
                    self.put_o(ram, d, off, size, r)?;
                    self.state.eflags = fl;
                }
            }
            Form::MulAcc { signed, size, ref s } => {
                let size = size as u32;
                let (src, _) = self.get_o(ram, s, size)?;
                let acc = self.state.regs[0] & mask(size);
                let (lo, hi, overflow) = if signed {
                    let p = sext(acc, size) as i32 as i64 * sext(src, size) as i32 as i64;
                    let lo = p as u32 & mask(size);
                    let hi = (p >> (size * 8)) as u32 & mask(size);
                    (lo, hi, p != sext(lo, size) as i32 as i64)
                } else {
                    let p = acc as u64 * src as u64;
                    let lo = p as u32 & mask(size);
                    let hi = (p >> (size * 8)) as u32 & mask(size);
                    (lo, hi, hi != 0)
                };
                match size {
                    1 => self.put_r(0, 2, (hi << 8) | lo),
                    2 => {
                        self.put_r(0, 2, lo);
                        self.put_r(EDX as u8, 2, hi);
                    }
                    _ => {
                        self.state.regs[0] = lo;
                        self.state.regs[EDX] = hi;
                    }
                }
                self.set_status(szp(lo, size) | if overflow { CF | OF } else { 0 });
            }
            Form::Imul { size, d, ref a, ref b } => {
                let size = size as u32;
                let (x, _) = self.get_o(ram, a, size)?;
                let (y, _) = self.get_o(ram, b, size)?;
                let p = sext(x, size) as i32 as i64 * sext(y, size) as i32 as i64;
                let lo = p as u32 & mask(size);
                let overflow = p != sext(lo, size) as i32 as i64;
                self.put_r(d, size, lo);
                self.set_status(szp(lo, size) | if overflow { CF | OF } else { 0 });
            }
            Form::Div { signed, size, ref s } => {
                let size = size as u32;
                let (dv, _) = self.get_o(ram, s, size)?;
                if dv == 0 {
                    return Err(Fault::DivideError);
                }
                let bits = size * 8;
                let r = &self.state.regs;
                let dividend: u64 = match size {
                    1 => (r[0] & 0xffff) as u64,
                    2 => ((r[EDX] & 0xffff) as u64) << 16 | (r[0] & 0xffff) as u64,
                    _ => (r[EDX] as u64) << 32 | r[0] as u64,
                };
                let (q, rem) = if !signed {
                    let q = dividend / dv as u64;
                    if q > mask(size) as u64 {
                        return Err(Fault::DivideError);
                    }
                    (q as u32, (dividend % dv as u64) as u32)
                } else {
                    let sh = 64 - 2 * bits;
                    let n = ((dividend << sh) as i64) >> sh;
                    let dvs = sext(dv, size) as i32 as i64;
                    let q = n / dvs; // |n| < 2^63 and dvs != 0: no overflow
                    let lim = 1i64 << (bits - 1);
                    if q >= lim || q < -lim {
                        return Err(Fault::DivideError);
                    }
                    (q as u32 & mask(size), (n % dvs) as u32 & mask(size))
                };
                match size {
                    1 => self.put_r(0, 2, (rem << 8) | q),
                    2 => {
                        self.put_r(0, 2, q);
                        self.put_r(EDX as u8, 2, rem);
                    }
                    _ => {
                        self.state.regs[0] = q;
                        self.state.regs[EDX] = rem;
                    }
                }
            }
            Form::Bit { op, size, ref d, ref bit } => {
                let size = size as u32;
                let bits = size * 8;
                let (off, _) = self.get_o(ram, bit, size)?;
                let b = off & (bits - 1);
                let (v, place) = match d {
                    Opnd::M(m) => {
                        let base = self.form_ea(m);
                        // A register bit offset is signed and reaches any word of memory.
                        let at = if matches!(bit, Opnd::R(_)) {
                            let words = (sext(off, size) as i32) >> if size == 4 { 5 } else { 4 };
                            base.wrapping_add((words * size as i32) as u32)
                        } else {
                            base
                        };
                        (self.read_mem(ram, m.seg as usize, at, size)?, at)
                    }
                    _ => (self.get_o(ram, d, size)?.0, 0),
                };
                let nv = match op {
                    BitOp::Bt => None,
                    BitOp::Bts => Some(v | (1 << b)),
                    BitOp::Btr => Some(v & !(1 << b)),
                    BitOp::Btc => Some(v ^ (1 << b)),
                };
                if let Some(nv) = nv {
                    match d {
                        Opnd::M(m) => self.write_mem(ram, m.seg as usize, place, size, nv)?,
                        _ => self.put_o(ram, d, 0, size, nv)?,
                    }
                }
                self.set_flags(CF, (v >> b) & 1);
            }
            Form::Scan { reverse, size, d, ref s } => {
                let (v, _) = self.get_o(ram, s, size as u32)?;
                if v == 0 {
                    self.state.eflags |= ZF;
                } else {
                    let idx = if reverse { 31 - v.leading_zeros() } else { v.trailing_zeros() };
                    self.put_r(d, size as u32, idx);
                    self.state.eflags &= !ZF;
                }
            }
            Form::Xchg { size, ref a, ref b } => {
                let size = size as u32;
                let (x, xo) = self.get_o(ram, a, size)?;
                let (y, yo) = self.get_o(ram, b, size)?;
                // The memory side (if any) is stored first.
                if matches!(b, Opnd::M(_)) {
                    self.put_o(ram, b, yo, size, x)?;
                    self.put_o(ram, a, xo, size, y)?;
                } else {
                    self.put_o(ram, a, xo, size, y)?;
                    self.put_o(ram, b, yo, size, x)?;
                }
            }
            Form::Setcc { cc, ref d } => {
                let v = flags::condition(cc, self.state.eflags) as u32;
                match d {
                    Opnd::M(m) => {
                        let off = self.form_ea(m);
                        self.write_mem(ram, m.seg as usize, off, 1, v)?;
                    }
                    _ => self.put_o(ram, d, 0, 1, v)?,
                }
            }
            Form::Cmov { cc, size, d, ref s } => {
                // The source is read (and may fault) whether or not the condition holds.
                let (v, _) = self.get_o(ram, s, size as u32)?;
                if flags::condition(cc, self.state.eflags) {
                    self.put_r(d, size as u32, v);
                }
            }
            Form::Bswap { d } => {
                let v = self.state.regs[(d & 7) as usize];
                self.state.regs[(d & 7) as usize] = v.swap_bytes();
            }
            Form::Convert { size, wide } => {
                let a = self.state.regs[0];
                match (size, wide) {
                    (2, false) => self.put_r(0, 2, sext(a & 0xff, 1)),
                    (4, false) => self.state.regs[0] = sext(a & 0xffff, 2),
                    (2, true) => self.put_r(EDX as u8, 2, if a & 0x8000 != 0 { 0xffff } else { 0 }),
                    _ => self.state.regs[EDX] = if a & 0x8000_0000 != 0 { 0xffff_ffff } else { 0 },
                }
            }
            Form::Flags { and, or, xor } => self.state.eflags = ((self.state.eflags & and) | or) ^ xor,
            Form::Lahf => {
                let v = (self.state.eflags & 0xd5) | 2;
                self.put_r(4, 1, v);
            }
            Form::Sahf => {
                let ah = self.get_r(4, 1);
                self.set_flags(flags::CF | flags::PF | flags::AF | flags::ZF | flags::SF, ah);
            }
            Form::Bcd { m, imm } => {
                let (ax, fl) = bcd_op(m, self.state.regs[0] & 0xffff, imm as u32, self.state.eflags)?;
                self.put_r(0, 2, ax);
                self.state.eflags = fl;
            }
            Form::Loop { kind, target } => {
                let count = self.state.regs[ECX];
                let zf = self.state.eflags & ZF != 0;
                let (new_count, taken) = match kind {
                    LoopKind::Jecxz => (count, count == 0),
                    _ => {
                        let n = count.wrapping_sub(1);
                        let cond = match kind {
                            LoopKind::Loope => zf,
                            LoopKind::Loopne => !zf,
                            _ => true,
                        };
                        (n, n != 0 && cond)
                    }
                };
                if taken {
                    self.jump_near(target)?;
                }
                self.state.regs[ECX] = new_count;
                return Ok(taken);
            }
            Form::JmpInd { ref s } => {
                let (t, _) = self.get_o(ram, s, 4)?;
                self.jump_near(t)?;
                return Ok(true);
            }
            Form::CallInd { ref s } => {
                let (t, _) = self.get_o(ram, s, 4)?; // read before the push moves ESP
                if t > self.state.segs[crate::cpu::segments::CS].limit {
                    return Err(Fault::gp0());
                }
                self.push(ram, 4, next)?;
                self.state.eip = t;
                return Ok(true);
            }
            Form::RetImm { extra } => {
                let esp = self.state.regs[ESP];
                let t = self.read_mem(ram, SS, esp, 4)?;
                self.jump_near(t)?;
                self.state.regs[ESP] = esp.wrapping_add(4).wrapping_add(extra as u32);
                return Ok(true);
            }
            Form::Leave => {
                let ebp = self.state.regs[EBP];
                let v = self.read_mem(ram, SS, ebp, 4)?;
                self.state.regs[ESP] = ebp.wrapping_add(4);
                self.state.regs[EBP] = v;
            }
            Form::PushM { ref m } => {
                let off = self.form_ea(m);
                let v = self.read_mem(ram, m.seg as usize, off, 4)?;
                self.push(ram, 4, v)?;
            }
            Form::PopM { ref m } => {
                let esp = self.state.regs[ESP];
                let v = self.read_mem(ram, SS, esp, 4)?;
                // The address of a memory destination is computed with ESP already incremented.
                self.state.regs[ESP] = esp.wrapping_add(4);
                let off = self.form_ea(m);
                if let Err(f) = self.write_mem(ram, m.seg as usize, off, 4, v) {
                    self.state.regs[ESP] = esp;
                    return Err(f);
                }
            }
            Form::PushImm { imm } => self.push(ram, 4, imm)?,
            Form::Pushfd => {
                let v = self.state.eflags & !(flags::VM | flags::RF);
                self.push(ram, 4, v)?;
            }
        }
        Ok(false)
    }
}
