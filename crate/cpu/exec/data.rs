//! Data movement that is not arithmetic: mov (including segment registers), movzx/movsx, xchg, and the
//! P6 atomics xadd, cmpxchg, cmpxchg8b (single CPU here, so "atomic" is simply in order).
//! Stores that can fault come before register updates.

use iced_x86::{Instruction, Mnemonic as M, OpKind};

use super::Done;
use crate::cpu::fault::Fault;
use crate::cpu::flags::{self, mask, sext, ZF};
use crate::cpu::Cpu;
use crate::guest_ram::GuestRam;

impl Cpu {
    /// mov in all its forms. Control and debug registers are privileged: #GP(0) at CPL 1 and 3.
    pub(super) fn mov(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        for n in 0..2 {
            if i.op_kind(n) == OpKind::Register {
                let r = i.op_register(n);
                if r.is_cr() || r.is_dr() || r.is_tr() {
                    return Err(if self.state.cpl == 0 { Fault::ud("mov to/from a control register") } else { Fault::gp0() });
                }
            }
        }
        if i.op0_kind() == OpKind::Register {
            if let Some(seg) = Self::seg_index(i.op0_register()) {
                let sel = self.read_op(ram, i, 1, 2)? as u16;
                self.load_segment(seg, sel)?;
                return Ok(None);
            }
        }
        if i.op1_kind() == OpKind::Register && Self::seg_index(i.op1_register()).is_some() {
            let sel = self.reg(i.op1_register());
            // To a 32-bit register the selector is zero-extended; to memory, 16 bits are stored.
            let size = if i.op0_kind() == OpKind::Register { i.op0_register().size() as u32 } else { 2 };
            self.write_op(ram, i, 0, size, sel)?;
            return Ok(None);
        }
        let size = Self::op_size(i, 0);
        let v = self.read_op(ram, i, 1, size)?;
        self.write_op(ram, i, 0, size, v)?;
        Ok(None)
    }

    /// movzx, movsx.
    pub(super) fn movx(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let src = Self::op_size(i, 1);
        let v = self.read_op(ram, i, 1, src)?;
        let v = if i.mnemonic() == M::Movsx { sext(v, src) } else { v };
        self.set_reg(i.op0_register(), v);
        Ok(None)
    }

    /// xchg: the memory side (if any) is stored first.
    pub(super) fn xchg(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let a = self.read_op(ram, i, 0, size)?;
        let b = self.read_op(ram, i, 1, size)?;
        if i.op1_kind() == OpKind::Memory {
            self.write_op(ram, i, 1, size, a)?;
            self.write_op(ram, i, 0, size, b)?;
        } else {
            self.write_op(ram, i, 0, size, b)?;
            self.write_op(ram, i, 1, size, a)?;
        }
        Ok(None)
    }

    /// xadd dst, src: src gets the old dst, dst gets the sum.
    pub(super) fn xadd(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let d = self.read_op(ram, i, 0, size)?;
        let s = self.read_op(ram, i, 1, size)?;
        let (r, f) = flags::add(d, s, 0, size);
        if i.op0_kind() == OpKind::Memory {
            self.write_op(ram, i, 0, size, r)?;
            self.set_reg(i.op1_register(), d);
        } else {
            self.set_reg(i.op1_register(), d);
            self.set_reg(i.op0_register(), r);
        }
        self.set_status(f);
        Ok(None)
    }

    /// cmpxchg dst, src: compare the accumulator with dst; equal: dst = src, else accumulator = dst.
    /// The destination is written either way, as the processor does.
    pub(super) fn cmpxchg(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let d = self.read_op(ram, i, 0, size)?;
        let s = self.read_op(ram, i, 1, size)?;
        let acc = self.state.regs[0] & mask(size);
        let (_, f) = flags::sub(acc, d, 0, size);
        let acc_reg = match size {
            1 => iced_x86::Register::AL,
            2 => iced_x86::Register::AX,
            _ => iced_x86::Register::EAX,
        };
        if acc == d {
            self.write_op(ram, i, 0, size, s)?;
        } else {
            self.write_op(ram, i, 0, size, d)?;
            self.set_reg(acc_reg, d);
        }
        self.set_status(f);
        Ok(None)
    }

    /// cmpxchg8b m64: compare edx:eax with the quadword; equal: store ecx:ebx, else load it.
    pub(super) fn cmpxchg8b(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        if i.op0_kind() != OpKind::Memory {
            return Err(Fault::ud("cmpxchg8b with a register operand"));
        }
        let seg = Self::mem_seg(i);
        let off = self.ea(i);
        let lo = self.read_mem(ram, seg, off, 4)?;
        let hi = self.read_mem(ram, seg, off.wrapping_add(4), 4)?;
        let r = self.state.regs;
        self.probe_write(ram, seg, off, 8)?;
        if lo == r[0] && hi == r[2] {
            self.write_mem(ram, seg, off, 4, r[3])?;
            self.write_mem(ram, seg, off.wrapping_add(4), 4, r[1])?;
            self.state.eflags |= ZF;
        } else {
            self.write_mem(ram, seg, off, 4, lo)?;
            self.write_mem(ram, seg, off.wrapping_add(4), 4, hi)?;
            self.state.regs[0] = lo;
            self.state.regs[2] = hi;
            self.state.eflags &= !ZF;
        }
        Ok(None)
    }
}
