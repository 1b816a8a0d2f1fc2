//! Fast paths: the commonest instruction forms, lowered once when a block is decoded into a compact
//! [`Uop`] with their registers, immediates and branch targets already resolved, so the block cache
//! can execute them without re-reading iced's operand descriptions. Everything else is `Uop::Generic`
//! and goes through [`Cpu::execute`]. A fast path computes exactly what the generic path computes
//! (the unit, differential and Guest-program tests run with the cache, so both paths are checked).

use iced_x86::{ConditionCode, Instruction, Mnemonic as M, OpKind, Register};

use crate::cpu::fault::Fault;
use crate::cpu::flags::{self, STATUS};
use crate::cpu::segments::{CS, SS};
use crate::cpu::{Cpu, ESP};
use crate::guest_ram::GuestRam;

/// Two-operand ALU operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Or,
    Adc,
    Sbb,
    And,
    Sub,
    Xor,
    Cmp,
    Test,
}

/// A 32-bit memory operand: `seg:[base + index << shift + disp]` (register numbers, 8 = none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mem {
    pub(super) base: u8,
    pub(super) index: u8,
    pub(super) shift: u8,
    pub(super) seg: u8,
    pub(super) disp: u32,
}

/// A lowered instruction. Registers are 32-bit general registers by number (eax = 0 ... edi = 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uop {
    Generic,
    MovRR {
        d: u8,
        s: u8,
    },
    MovRI {
        d: u8,
        imm: u32,
    },
    Load {
        d: u8,
        m: Mem,
    },
    Store {
        s: u8,
        m: Mem,
    },
    StoreI {
        imm: u32,
        m: Mem,
    },
    Lea {
        d: u8,
        m: Mem,
    },
    AluRR {
        op: AluOp,
        d: u8,
        s: u8,
    },
    AluRI {
        op: AluOp,
        d: u8,
        imm: u32,
    },
    AluRM {
        op: AluOp,
        d: u8,
        m: Mem,
    },
    Inc {
        d: u8,
    },
    Dec {
        d: u8,
    },
    Jcc {
        cc: ConditionCode,
        target: u32,
    },
    Jmp {
        target: u32,
    },
    Call {
        target: u32,
    },
    Ret,
    Push {
        s: u8,
    },
    PushI {
        imm: u32,
    },
    Pop {
        d: u8,
    },
    /// `op [mem], reg` and `op [mem], imm` (read-modify-write; cmp/test only read).
    AluMR {
        op: AluOp,
        m: Mem,
        s: u8,
    },
    AluMI {
        op: AluOp,
        m: Mem,
        imm: u32,
    },
    /// shl, shr, sar, rol, ror of a 32-bit register by an immediate.
    ShiftRI {
        m: M,
        d: u8,
        count: u8,
    },
    ImulRR {
        d: u8,
        s: u8,
    },
    ImulRRI {
        d: u8,
        s: u8,
        imm: u32,
    },
    Setcc {
        cc: ConditionCode,
        r: Register,
    },
    CmovRR {
        cc: ConditionCode,
        d: u8,
        s: u8,
    },
    /// movzx/movsx into a 32-bit register from a byte or word register.
    MovxR {
        d: u8,
        s: Register,
        size: u8,
        signed: bool,
    },
    /// movzx/movsx into a 32-bit register from memory.
    MovxM {
        d: u8,
        m: Mem,
        size: u8,
        signed: bool,
    },
    /// Byte moves between a byte register (al ... bh) and memory, and a byte immediate to memory.
    Load8 {
        r: Register,
        m: Mem,
    },
    Store8 {
        r: Register,
        m: Mem,
    },
    StoreI8 {
        imm: u8,
        m: Mem,
    },
    /// Everything else `forms.rs` covers.
    Form(super::forms::Form),
}

impl Uop {
    /// Does this micro-op store to memory (so the caller must look for self-modified code)?
    #[inline(always)]
    pub fn stores(&self) -> bool {
        matches!(
            self,
            Uop::Store { .. }
                | Uop::StoreI { .. }
                | Uop::Store8 { .. }
                | Uop::StoreI8 { .. }
                | Uop::Call { .. }
                | Uop::Push { .. }
                | Uop::PushI { .. }
                | Uop::AluMR { .. }
                | Uop::AluMI { .. }
        ) || matches!(self, Uop::Form(f) if f.stores())
    }
}

const NONE: u8 = 8;

fn gpr32(r: Register) -> Option<u8> {
    let n = r as u32;
    let (lo, hi) = (Register::EAX as u32, Register::EDI as u32);
    if (lo..=hi).contains(&n) {
        Some((n - lo) as u8)
    } else {
        None
    }
}

fn op_gpr32(i: &Instruction, n: u32) -> Option<u8> {
    if i.op_kind(n) == OpKind::Register {
        gpr32(i.op_register(n))
    } else {
        None
    }
}

fn imm32(i: &Instruction, n: u32) -> Option<u32> {
    match i.op_kind(n) {
        OpKind::Immediate32 => Some(i.immediate32()),
        OpKind::Immediate8to32 => Some(i.immediate8to32() as u32),
        _ => None,
    }
}

/// A memory operand with 32-bit addressing and a dword size.
fn mem32(i: &Instruction, n: u32) -> Option<Mem> {
    if i.memory_size().size() != 4 {
        return None;
    }
    mem_any(i, n)
}

/// A memory operand with 32-bit addressing, any size.
pub(super) fn mem_any(i: &Instruction, n: u32) -> Option<Mem> {
    if i.op_kind(n) != OpKind::Memory {
        return None;
    }
    let base = match i.memory_base() {
        Register::None => NONE,
        r => gpr32(r)?,
    };
    let index = match i.memory_index() {
        Register::None => NONE,
        r => gpr32(r)?,
    };
    let seg = Cpu::seg_index(i.memory_segment())? as u8;
    let shift = i.memory_index_scale().trailing_zeros() as u8;
    Some(Mem { base, index, shift, seg, disp: i.memory_displacement32() })
}

fn alu_op(m: M) -> Option<AluOp> {
    Some(match m {
        M::Add => AluOp::Add,
        M::Or => AluOp::Or,
        M::Adc => AluOp::Adc,
        M::Sbb => AluOp::Sbb,
        M::And => AluOp::And,
        M::Sub => AluOp::Sub,
        M::Xor => AluOp::Xor,
        M::Cmp => AluOp::Cmp,
        M::Test => AluOp::Test,
        _ => return None,
    })
}

/// Lower `i` to a micro-op, or `Generic`.
pub fn lower(i: &Instruction) -> Uop {
    if i.has_lock_prefix() || i.has_rep_prefix() || i.has_repne_prefix() {
        return Uop::Generic;
    }
    lower_inner(i).or_else(|| super::forms::lower(i).map(Uop::Form)).unwrap_or(Uop::Generic)
}

fn lower_inner(i: &Instruction) -> Option<Uop> {
    if i.has_lock_prefix() || i.has_rep_prefix() || i.has_repne_prefix() {
        return None;
    }
    let m = i.mnemonic();
    Some(match m {
        M::Mov if i.op0_kind() == OpKind::Register && i.op0_register().is_gpr8() && i.op1_kind() == OpKind::Memory => {
            Uop::Load8 { r: i.op0_register(), m: mem_any(i, 1)? }
        }
        M::Mov if i.op0_kind() == OpKind::Memory && i.memory_size().size() == 1 => {
            let m = mem_any(i, 0)?;
            match i.op1_kind() {
                OpKind::Register if i.op1_register().is_gpr8() => Uop::Store8 { r: i.op1_register(), m },
                OpKind::Immediate8 => Uop::StoreI8 { imm: i.immediate8(), m },
                _ => return None,
            }
        }
        M::Mov => {
            if let Some(d) = op_gpr32(i, 0) {
                if let Some(s) = op_gpr32(i, 1) {
                    Uop::MovRR { d, s }
                } else if let Some(imm) = imm32(i, 1) {
                    Uop::MovRI { d, imm }
                } else {
                    Uop::Load { d, m: mem32(i, 1)? }
                }
            } else {
                let m = mem32(i, 0)?;
                if let Some(s) = op_gpr32(i, 1) {
                    Uop::Store { s, m }
                } else {
                    Uop::StoreI { imm: imm32(i, 1)?, m }
                }
            }
        }
        M::Lea => {
            let d = op_gpr32(i, 0)?;
            let mut mm = mem32(i, 1).or_else(|| {
                // lea's memory size is "unknown": accept any 32-bit addressing.
                let base = match i.memory_base() {
                    Register::None => NONE,
                    r => gpr32(r)?,
                };
                let index = match i.memory_index() {
                    Register::None => NONE,
                    r => gpr32(r)?,
                };
                Some(Mem { base, index, shift: i.memory_index_scale().trailing_zeros() as u8, seg: 3, disp: i.memory_displacement32() })
            })?;
            mm.seg = 3;
            Uop::Lea { d, m: mm }
        }
        M::Inc => Uop::Inc { d: op_gpr32(i, 0)? },
        M::Dec => Uop::Dec { d: op_gpr32(i, 0)? },
        M::Jmp if i.op0_kind() == OpKind::NearBranch32 => Uop::Jmp { target: i.near_branch32() },
        M::Call if i.op0_kind() == OpKind::NearBranch32 => Uop::Call { target: i.near_branch32() },
        M::Ret if i.op_count() == 0 && i.stack_pointer_increment() == 4 => Uop::Ret,
        M::Push => {
            if let Some(s) = op_gpr32(i, 0) {
                Uop::Push { s }
            } else if i.stack_pointer_increment() == -4 {
                Uop::PushI { imm: imm32(i, 0)? }
            } else {
                return None;
            }
        }
        M::Pop => {
            let d = op_gpr32(i, 0)?;
            if d as usize == ESP {
                return None;
            }
            Uop::Pop { d }
        }
        M::Shl | M::Sal | M::Shr | M::Sar | M::Rol | M::Ror if i.op1_kind() == OpKind::Immediate8 => {
            Uop::ShiftRI { m: if m == M::Sal { M::Shl } else { m }, d: op_gpr32(i, 0)?, count: i.immediate8() }
        }
        M::Imul if i.op_count() == 2 => Uop::ImulRR { d: op_gpr32(i, 0)?, s: op_gpr32(i, 1)? },
        M::Imul if i.op_count() == 3 => Uop::ImulRRI { d: op_gpr32(i, 0)?, s: op_gpr32(i, 1)?, imm: imm32(i, 2)? },
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
        | M::Sets
            if i.op0_kind() == OpKind::Register =>
        {
            Uop::Setcc { cc: i.condition_code(), r: i.op0_register() }
        }
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
        | M::Cmovs => Uop::CmovRR { cc: i.condition_code(), d: op_gpr32(i, 0)?, s: op_gpr32(i, 1)? },
        M::Movzx | M::Movsx => {
            let d = op_gpr32(i, 0)?;
            let signed = m == M::Movsx;
            if i.op1_kind() == OpKind::Register {
                let s = i.op1_register();
                Uop::MovxR { d, s, size: s.size() as u8, signed }
            } else {
                Uop::MovxM { d, m: mem_any(i, 1)?, size: i.memory_size().size() as u8, signed }
            }
        }
        _ if i.is_jcc_short_or_near() && i.op0_kind() == OpKind::NearBranch32 => Uop::Jcc { cc: i.condition_code(), target: i.near_branch32() },
        _ => {
            let op = alu_op(m)?;
            if let Some(d) = op_gpr32(i, 0) {
                if let Some(s) = op_gpr32(i, 1) {
                    Uop::AluRR { op, d, s }
                } else if let Some(imm) = imm32(i, 1) {
                    Uop::AluRI { op, d, imm }
                } else {
                    Uop::AluRM { op, d, m: mem32(i, 1)? }
                }
            } else {
                let mm = mem32(i, 0)?;
                if let Some(s) = op_gpr32(i, 1) {
                    Uop::AluMR { op, m: mm, s }
                } else {
                    Uop::AluMI { op, m: mm, imm: imm32(i, 1)? }
                }
            }
        }
    })
}

impl Cpu {
    #[inline(always)]
    fn mem_ea(&self, m: &Mem) -> u32 {
        let r = &self.state.regs;
        let mut a = m.disp;
        if m.base != NONE {
            a = a.wrapping_add(r[(m.base & 7) as usize]);
        }
        if m.index != NONE {
            a = a.wrapping_add(r[(m.index & 7) as usize] << (m.shift & 3));
        }
        a
    }

    #[inline(always)]
    fn alu32(&mut self, op: AluOp, a: u32, b: u32) -> Option<u32> {
        let (r, f) = match op {
            AluOp::Add => flags::add(a, b, 0, 4),
            AluOp::Adc => flags::add(a, b, self.cf(), 4),
            AluOp::Sub | AluOp::Cmp => flags::sub(a, b, 0, 4),
            AluOp::Sbb => flags::sub(a, b, self.cf(), 4),
            AluOp::And | AluOp::Test => (a & b, flags::logic(a & b, 4)),
            AluOp::Or => (a | b, flags::logic(a | b, 4)),
            AluOp::Xor => (a ^ b, flags::logic(a ^ b, 4)),
        };
        self.state.eflags = (self.state.eflags & !STATUS) | f;
        if matches!(op, AluOp::Cmp | AluOp::Test) {
            None
        } else {
            Some(r)
        }
    }

    /// The memory half of `op [mem], x`: compute, store (unless cmp/test), then commit the flags.
    #[inline(always)]
    fn alu_mem(&mut self, ram: &mut GuestRam, op: AluOp, m: &Mem, off: u32, a: u32, b: u32) -> Result<(), Fault> {
        let saved = self.state.eflags;
        if let Some(r) = self.alu32(op, a, b) {
            let f = self.state.eflags;
            self.state.eflags = saved;
            self.write_mem(ram, m.seg as usize, off, 4, r)?;
            self.state.eflags = f;
        }
        Ok(())
    }

    #[inline(always)]
    fn imul32(&mut self, d: u8, a: u32, b: u32) {
        let p = a as i32 as i64 * b as i32 as i64;
        let lo = p as u32;
        let overflow = p != lo as i32 as i64;
        self.state.regs[(d & 7) as usize] = lo;
        let f = flags::szp(lo, 4) | if overflow { flags::CF | flags::OF } else { 0 };
        self.state.eflags = (self.state.eflags & !STATUS) | f;
    }

    /// Execute a lowered instruction whose successor is at `next`. EIP is *not* kept up to date
    /// inside a block: a micro-op sets it only when it transfers control, and then returns `true`;
    /// the block executor sets EIP for everything else. On a fault nothing has changed.
    #[inline(always)]
    pub(crate) fn exec_uop(&mut self, ram: &mut GuestRam, u: &Uop, next: u32) -> Result<bool, Fault> {
        match *u {
            Uop::Generic => {}
            Uop::MovRR { d, s } => self.state.regs[(d & 7) as usize] = self.state.regs[(s & 7) as usize],
            Uop::MovRI { d, imm } => self.state.regs[(d & 7) as usize] = imm,
            Uop::Load { d, m } => {
                let off = self.mem_ea(&m);
                self.state.regs[(d & 7) as usize] = self.read_mem(ram, m.seg as usize, off, 4)?;
            }
            Uop::Store { s, m } => {
                let off = self.mem_ea(&m);
                let v = self.state.regs[(s & 7) as usize];
                self.write_mem(ram, m.seg as usize, off, 4, v)?;
            }
            Uop::StoreI { imm, m } => {
                let off = self.mem_ea(&m);
                self.write_mem(ram, m.seg as usize, off, 4, imm)?;
            }
            Uop::Lea { d, m } => self.state.regs[(d & 7) as usize] = self.mem_ea(&m),
            Uop::AluRR { op, d, s } => {
                let (a, b) = (self.state.regs[(d & 7) as usize], self.state.regs[(s & 7) as usize]);
                if let Some(r) = self.alu32(op, a, b) {
                    self.state.regs[(d & 7) as usize] = r;
                }
            }
            Uop::AluRI { op, d, imm } => {
                let a = self.state.regs[(d & 7) as usize];
                if let Some(r) = self.alu32(op, a, imm) {
                    self.state.regs[(d & 7) as usize] = r;
                }
            }
            Uop::AluRM { op, d, m } => {
                let off = self.mem_ea(&m);
                let b = self.read_mem(ram, m.seg as usize, off, 4)?;
                let a = self.state.regs[(d & 7) as usize];
                if let Some(r) = self.alu32(op, a, b) {
                    self.state.regs[(d & 7) as usize] = r;
                }
            }
            Uop::Inc { d } => {
                let (r, f) = flags::add(self.state.regs[(d & 7) as usize], 1, 0, 4);
                self.state.regs[(d & 7) as usize] = r;
                self.set_flags(STATUS & !flags::CF, f);
            }
            Uop::Dec { d } => {
                let (r, f) = flags::sub(self.state.regs[(d & 7) as usize], 1, 0, 4);
                self.state.regs[(d & 7) as usize] = r;
                self.set_flags(STATUS & !flags::CF, f);
            }
            Uop::Jcc { cc, target } => {
                if flags::condition(cc, self.state.eflags) {
                    self.jump_near(target)?;
                    return Ok(true);
                }
            }
            Uop::Jmp { target } => {
                self.jump_near(target)?;
                return Ok(true);
            }
            Uop::Call { target } => {
                if target > self.state.segs[CS].limit {
                    return Err(Fault::gp0());
                }
                self.push(ram, 4, next)?;
                self.state.eip = target;
                return Ok(true);
            }
            Uop::Ret => {
                let esp = self.state.regs[ESP];
                let t = self.read_mem(ram, SS, esp, 4)?;
                self.jump_near(t)?;
                self.state.regs[ESP] = esp.wrapping_add(4);
                return Ok(true);
            }
            Uop::Push { s } => {
                let v = self.state.regs[(s & 7) as usize];
                self.push(ram, 4, v)?;
            }
            Uop::PushI { imm } => self.push(ram, 4, imm)?,
            Uop::Pop { d } => {
                let v = self.pop(ram, 4)?;
                self.state.regs[(d & 7) as usize] = v;
            }
            Uop::AluMR { op, m, s } => {
                let off = self.mem_ea(&m);
                let a = self.read_mem(ram, m.seg as usize, off, 4)?;
                let b = self.state.regs[(s & 7) as usize];
                self.alu_mem(ram, op, &m, off, a, b)?;
            }
            Uop::AluMI { op, m, imm } => {
                let off = self.mem_ea(&m);
                let a = self.read_mem(ram, m.seg as usize, off, 4)?;
                self.alu_mem(ram, op, &m, off, a, imm)?;
            }
            Uop::ShiftRI { m, d, count } => {
                let c = (count & 0x1f) as u32;
                if c != 0 {
                    let a = self.state.regs[(d & 7) as usize];
                    // The 32-bit shifts inline (same results as `shift_op`, which does the rest).
                    let (r, cf, of) = match m {
                        M::Shl => (a << c, (a >> (32 - c)) & 1, ((a << c) >> 31) ^ ((a >> (32 - c)) & 1)),
                        M::Shr => (a >> c, (a >> (c - 1)) & 1, a >> 31),
                        M::Sar => (((a as i32) >> c) as u32, ((a as i32) >> (c - 1)) as u32 & 1, 0),
                        _ => {
                            let (r, f) = super::alu::shift_op(m, a, c, 4, self.state.eflags);
                            self.state.regs[(d & 7) as usize] = r;
                            self.state.eflags = f;
                            return Ok(false);
                        }
                    };
                    self.state.regs[(d & 7) as usize] = r;
                    let f = flags::szp(r, 4) | cf | if of != 0 { flags::OF } else { 0 };
                    self.state.eflags = (self.state.eflags & !STATUS) | f;
                }
            }
            Uop::ImulRR { d, s } => {
                let (a, b) = (self.state.regs[(d & 7) as usize], self.state.regs[(s & 7) as usize]);
                self.imul32(d, a, b);
            }
            Uop::ImulRRI { d, s, imm } => {
                let a = self.state.regs[(s & 7) as usize];
                self.imul32(d, a, imm);
            }
            Uop::Setcc { cc, r } => {
                let v = flags::condition(cc, self.state.eflags) as u32;
                self.set_reg(r, v);
            }
            Uop::CmovRR { cc, d, s } => {
                if flags::condition(cc, self.state.eflags) {
                    self.state.regs[(d & 7) as usize] = self.state.regs[(s & 7) as usize];
                }
            }
            Uop::MovxR { d, s, size, signed } => {
                let v = self.reg(s);
                self.state.regs[(d & 7) as usize] = if signed { flags::sext(v, size as u32) } else { v };
            }
            Uop::Load8 { r, m } => {
                let off = self.mem_ea(&m);
                let v = self.read_mem(ram, m.seg as usize, off, 1)?;
                self.set_reg(r, v);
            }
            Uop::Store8 { r, m } => {
                let off = self.mem_ea(&m);
                let v = self.reg(r);
                self.write_mem(ram, m.seg as usize, off, 1, v)?;
            }
            Uop::StoreI8 { imm, m } => {
                let off = self.mem_ea(&m);
                self.write_mem(ram, m.seg as usize, off, 1, imm as u32)?;
            }
            Uop::Form(ref f) => return self.exec_form(ram, f, next),
            Uop::MovxM { d, m, size, signed } => {
                let off = self.mem_ea(&m);
                let v = self.read_mem(ram, m.seg as usize, off, size as u32)?;
                self.state.regs[(d & 7) as usize] = if signed { flags::sext(v, size as u32) } else { v };
            }
        }
        Ok(false)
    }
}
