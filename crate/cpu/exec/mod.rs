//! Execute: one decoded instruction at a time, dispatched on its mnemonic to a small function per
//! instruction family (the files beside this one). Operand access is shared here: registers by iced's
//! `Register`, immediates, and memory operands with every 32- and 16-bit addressing mode.
//!
//! Contract with [`super::Cpu::retire`]: EIP already points past the instruction when a handler runs
//! (so `call` pushes it and jumps simply overwrite it). A handler either completes, or returns a
//! [`Fault`] having changed nothing the Guest can see (the caller restores EIP); a handler therefore
//! does every check and every store that can fault before it commits registers and flags.

pub mod alu;
mod control;
mod data;
pub(crate) mod fast;
mod forms;
mod string;
mod system;

pub use control::Delivery;

use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

use super::fault::Fault;
use super::flags;
use super::segments::{DS, ES};
use super::{Cpu, Exit};
use crate::guest_ram::GuestRam;

pub(crate) type Done = Result<Option<Exit>, Fault>;

const R_AL: u32 = Register::AL as u32;
const R_BL: u32 = Register::BL as u32;
const R_AH: u32 = Register::AH as u32;
const R_BH: u32 = Register::BH as u32;
const R_AX: u32 = Register::AX as u32;
const R_DI: u32 = Register::DI as u32;
const R_EAX: u32 = Register::EAX as u32;
const R_EDI: u32 = Register::EDI as u32;
const R_ES: u32 = Register::ES as u32;
const R_GS: u32 = Register::GS as u32;

impl Cpu {
    /// Read a general or segment register (8, 16 or 32 bits, zero-extended).
    // Comparisons, not `RangeInclusive::contains`: the page's size-optimised build does not inline that
    // call, and the byte-register forms of the fast path come here.
    #[allow(clippy::manual_range_contains)]
    #[inline(always)]
    pub(crate) fn reg(&self, r: Register) -> u32 {
        let n = r as u32;
        let regs = &self.state.regs;
        if n >= R_EAX && n <= R_EDI {
            regs[((n - R_EAX) & 7) as usize]
        } else if n >= R_AX && n <= R_DI {
            regs[((n - R_AX) & 7) as usize] & 0xffff
        } else if n >= R_AL && n <= R_BL {
            regs[((n - R_AL) & 3) as usize] & 0xff
        } else if n >= R_AH && n <= R_BH {
            (regs[((n - R_AH) & 3) as usize] >> 8) & 0xff
        } else if n >= R_ES && n <= R_GS {
            self.state.segs[((n - R_ES) as usize).min(5)].selector as u32
        } else {
            0
        }
    }

    /// Write a general register, keeping the bits outside it.
    #[allow(clippy::manual_range_contains)]
    #[inline(always)]
    pub(crate) fn set_reg(&mut self, r: Register, v: u32) {
        let n = r as u32;
        let regs = &mut self.state.regs;
        if n >= R_EAX && n <= R_EDI {
            regs[((n - R_EAX) & 7) as usize] = v;
        } else if n >= R_AX && n <= R_DI {
            let x = &mut regs[((n - R_AX) & 7) as usize];
            *x = (*x & 0xffff_0000) | (v & 0xffff);
        } else if n >= R_AL && n <= R_BL {
            let x = &mut regs[((n - R_AL) & 3) as usize];
            *x = (*x & 0xffff_ff00) | (v & 0xff);
        } else if n >= R_AH && n <= R_BH {
            let x = &mut regs[((n - R_AH) & 3) as usize];
            *x = (*x & 0xffff_00ff) | ((v & 0xff) << 8);
        }
    }

    /// Is `r` a segment register? Its index in `state.segs` if so.
    // Two comparisons, not `RangeInclusive::contains`: the page's size-optimised build does not inline
    // that call, and this runs for every memory operand.
    #[allow(clippy::manual_range_contains)]
    #[inline(always)]
    pub(crate) fn seg_index(r: Register) -> Option<usize> {
        let n = r as u32;
        if n >= R_ES && n <= R_GS {
            Some((n - R_ES) as usize)
        } else {
            None
        }
    }

    /// The offset (effective address) of instruction `i`'s memory operand.
    #[inline]
    pub(crate) fn ea(&self, i: &Instruction) -> u32 {
        let base = i.memory_base();
        let index = i.memory_index();
        let mut a = i.memory_displacement32();
        if base != Register::None {
            a = a.wrapping_add(self.reg(base));
        }
        if index != Register::None {
            a = a.wrapping_add(self.reg(index).wrapping_mul(i.memory_index_scale()));
        }
        if base.is_gpr16() || index.is_gpr16() || (base == Register::None && index == Register::None && i.memory_displ_size() == 2) {
            a &= 0xffff;
        }
        a
    }

    /// The segment register (index) of the memory operand, overrides included.
    #[inline(always)]
    pub(crate) fn mem_seg(i: &Instruction) -> usize {
        Self::seg_index(i.memory_segment()).unwrap_or(DS)
    }

    /// Size in bytes of operand `n`.
    #[inline(always)]
    pub(crate) fn op_size(i: &Instruction, n: u32) -> u32 {
        match i.op_kind(n) {
            OpKind::Register => i.op_register(n).size() as u32,
            OpKind::Immediate8 | OpKind::Immediate8_2nd => 1,
            OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
            _ => i.memory_size().size() as u32,
        }
    }

    /// Read operand `n` as a `size`-byte value (immediates sign-extended then truncated to `size`).
    #[inline]
    pub(crate) fn read_op(&mut self, ram: &GuestRam, i: &Instruction, n: u32, size: u32) -> Result<u32, Fault> {
        Ok(match i.op_kind(n) {
            OpKind::Register => self.reg(i.op_register(n)),
            OpKind::Memory => {
                let off = self.ea(i);
                return self.read_mem(ram, Self::mem_seg(i), off, size);
            }
            OpKind::Immediate8 => i.immediate8() as u32,
            OpKind::Immediate8_2nd => i.immediate8_2nd() as u32,
            OpKind::Immediate16 => i.immediate16() as u32,
            OpKind::Immediate32 => i.immediate32(),
            OpKind::Immediate8to16 => i.immediate8to16() as u16 as u32,
            OpKind::Immediate8to32 => i.immediate8to32() as u32,
            _ => return Err(Fault::ud(format!("operand kind {:?} not modelled", i.op_kind(n)))),
        } & flags::mask(size))
    }

    /// Write `v` to operand `n` (a register or memory).
    #[inline]
    pub(crate) fn write_op(&mut self, ram: &mut GuestRam, i: &Instruction, n: u32, size: u32, v: u32) -> Result<(), Fault> {
        match i.op_kind(n) {
            OpKind::Register => {
                self.set_reg(i.op_register(n), v);
                Ok(())
            }
            OpKind::Memory => {
                let off = self.ea(i);
                self.write_mem(ram, Self::mem_seg(i), off, size, v)
            }
            k => Err(Fault::ud(format!("write to operand kind {k:?} not modelled"))),
        }
    }

    /// Replace the six status flags with `f`.
    #[inline(always)]
    pub(crate) fn set_status(&mut self, f: u32) {
        self.state.eflags = (self.state.eflags & !flags::STATUS) | (f & flags::STATUS);
    }

    /// Replace the flags in `which` with those of `f`.
    #[inline(always)]
    pub(crate) fn set_flags(&mut self, which: u32, f: u32) {
        self.state.eflags = (self.state.eflags & !which) | (f & which);
    }

    #[inline(always)]
    pub(crate) fn cf(&self) -> u32 {
        self.state.eflags & flags::CF
    }

    /// Execute `i` (see the module comment for the contract).
    pub(crate) fn execute(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        match i.mnemonic() {
            // Data movement.
            M::Mov => self.mov(ram, i),
            M::Movzx | M::Movsx => self.movx(ram, i),
            M::Lea => {
                if i.op1_kind() != OpKind::Memory {
                    return Err(Fault::ud("lea with a register source"));
                }
                let v = self.ea(i);
                self.set_reg(i.op0_register(), v);
                Ok(None)
            }
            M::Xchg => self.xchg(ram, i),
            M::Xadd => self.xadd(ram, i),
            M::Cmpxchg => self.cmpxchg(ram, i),
            M::Cmpxchg8b => self.cmpxchg8b(ram, i),
            M::Bswap => {
                let r = i.op0_register();
                let v = self.reg(r);
                // With a 16-bit operand the result is undefined; this clears the register's low half,
                // as Intel parts do.
                self.set_reg(r, if r.size() == 4 { v.swap_bytes() } else { 0 });
                Ok(None)
            }
            M::Cbw => {
                let v = flags::sext(self.state.regs[0] & 0xff, 1);
                self.set_reg(Register::AX, v);
                Ok(None)
            }
            M::Cwde => {
                self.state.regs[0] = flags::sext(self.state.regs[0] & 0xffff, 2);
                Ok(None)
            }
            M::Cwd => {
                let v = if self.state.regs[0] & 0x8000 != 0 { 0xffff } else { 0 };
                self.set_reg(Register::DX, v);
                Ok(None)
            }
            M::Cdq => {
                self.state.regs[2] = if self.state.regs[0] & 0x8000_0000 != 0 { 0xffff_ffff } else { 0 };
                Ok(None)
            }
            M::Lahf => {
                let v = (self.state.eflags & 0xd5) | 2;
                self.set_reg(Register::AH, v);
                Ok(None)
            }
            M::Sahf => {
                let ah = self.reg(Register::AH);
                self.set_flags(flags::CF | flags::PF | flags::AF | flags::ZF | flags::SF, ah);
                Ok(None)
            }
            M::Xlatb => {
                let off = self.ea(i);
                let v = self.read_mem(ram, Self::mem_seg(i), off, 1)?;
                self.set_reg(Register::AL, v);
                Ok(None)
            }
            M::Salc => {
                let v = if self.cf() != 0 { 0xff } else { 0 };
                self.set_reg(Register::AL, v);
                Ok(None)
            }
            M::Nop | M::Pause => Ok(None),
            // fwait waits for the x87 to finish and raises its pending exceptions: with none modelled it does
            // nothing, unless MP and TS are both set (SDM vol. 3, 2.5 "Control Registers": then it is #NM, so
            // a kernel that switched the FPU lazily sees the task's first fwait too).
            M::Wait => {
                let both = super::CR0_MP | super::CR0_TS;
                if self.state.cr0 & both == both {
                    return Err(Fault::DeviceNotAvailable);
                }
                Ok(None)
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
            | M::Cmovs => {
                let size = Self::op_size(i, 0);
                // The source is read (and may fault) whether or not the condition holds.
                let v = self.read_op(ram, i, 1, size)?;
                if flags::condition(i.condition_code(), self.state.eflags) {
                    self.set_reg(i.op0_register(), v);
                }
                Ok(None)
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
            | M::Sets => {
                let v = flags::condition(i.condition_code(), self.state.eflags) as u32;
                self.write_op(ram, i, 0, 1, v)?;
                Ok(None)
            }

            // Arithmetic and logic (alu.rs).
            M::Add | M::Or | M::Adc | M::Sbb | M::And | M::Sub | M::Xor | M::Cmp | M::Test => self.alu2(ram, i),
            M::Inc | M::Dec | M::Neg | M::Not => self.alu1(ram, i),
            M::Rol | M::Ror | M::Rcl | M::Rcr | M::Shl | M::Sal | M::Shr | M::Sar => self.shift(ram, i),
            M::Shld | M::Shrd => self.shift_double(ram, i),
            M::Mul | M::Imul => self.mul(ram, i),
            M::Div | M::Idiv => self.div(ram, i),
            M::Bt | M::Bts | M::Btr | M::Btc => self.bit_test(ram, i),
            M::Bsf | M::Bsr => self.bit_scan(ram, i),
            M::Daa | M::Das | M::Aaa | M::Aas | M::Aam | M::Aad => self.bcd(i),
            M::Clc => {
                self.state.eflags &= !flags::CF;
                Ok(None)
            }
            M::Stc => {
                self.state.eflags |= flags::CF;
                Ok(None)
            }
            M::Cmc => {
                self.state.eflags ^= flags::CF;
                Ok(None)
            }
            M::Cld => {
                self.state.eflags &= !flags::DF;
                Ok(None)
            }
            M::Std => {
                self.state.eflags |= flags::DF;
                Ok(None)
            }

            // Stack and control transfer (control.rs).
            M::Push => self.push_op(ram, i),
            M::Pop => self.pop_op(ram, i),
            M::Pusha | M::Pushad => self.pusha(ram, i),
            M::Popa | M::Popad => self.popa(ram, i),
            M::Pushf | M::Pushfd => self.pushf(ram, i),
            M::Popf | M::Popfd => self.popf(ram, i),
            M::Enter => self.enter(ram, i),
            M::Leave => self.leave(ram, i),
            M::Jmp => self.jmp(ram, i),
            M::Call => self.call(ram, i),
            M::Ret => self.ret(ram, i),
            M::Retf => self.retf(ram, i),
            M::Loop | M::Loope | M::Loopne | M::Jecxz | M::Jcxz => self.loop_(i),
            M::Int => self.int_n(i),
            M::Int3 => Ok(Some(Exit::Interrupt { vector: 3 })),
            M::Int1 => Ok(Some(Exit::Interrupt { vector: 1 })),
            M::Into => {
                if self.state.eflags & flags::OF != 0 {
                    Ok(Some(Exit::Interrupt { vector: 4 }))
                } else {
                    Ok(None)
                }
            }
            M::Iret | M::Iretd => self.iret(ram, i),
            M::Bound => self.bound(ram, i),

            // Strings (string.rs).
            M::Movsb
            | M::Movsw
            | M::Movsd
            | M::Stosb
            | M::Stosw
            | M::Stosd
            | M::Lodsb
            | M::Lodsw
            | M::Lodsd
            | M::Cmpsb
            | M::Cmpsw
            | M::Cmpsd
            | M::Scasb
            | M::Scasw
            | M::Scasd => self.string(ram, i),

            // System and privileged instructions (system.rs).
            _ if i.is_jcc_short_or_near() => {
                if flags::condition(i.condition_code(), self.state.eflags) {
                    self.jump_near(Self::branch_target(i))?;
                }
                Ok(None)
            }
            _ => self.system(ram, i),
        }
    }

    /// The target of a relative branch (16-bit operand size wraps it to 16 bits).
    #[inline(always)]
    pub(crate) fn branch_target(i: &Instruction) -> u32 {
        match i.op0_kind() {
            OpKind::NearBranch16 => i.near_branch16() as u32,
            _ => i.near_branch32(),
        }
    }

    /// Set EIP to `target`, which must lie within CS (else #GP(0) with nothing changed).
    #[inline(always)]
    pub(crate) fn jump_near(&mut self, target: u32) -> Result<(), Fault> {
        if target > self.state.segs[super::segments::CS].limit {
            return Err(Fault::gp0());
        }
        self.state.eip = target;
        Ok(())
    }

    /// Segment registers a string instruction uses: the (overridable) source, and ES for the destination.
    #[inline(always)]
    pub(crate) fn string_segs(i: &Instruction) -> (usize, usize) {
        let src = Self::seg_index(i.memory_segment()).unwrap_or(DS);
        (src, ES)
    }
}
