//! Arithmetic, logic, shifts and rotates, multiply and divide, bit test and scan, and BCD adjustment
//! (Intel SDM vol. 2, one entry per mnemonic). The flag results are pure functions, tested on their own
//! and against the real processor by `tests/cpu_diff.rs`.
//!
//! Undefined flags (the SDM's "undefined"): AF after logic and shifts is cleared; shifts and rotates
//! by more than one compute OF with the one-bit formula; mul leaves SF, ZF, PF from the low half and AF
//! clear; div, bt and bsf/bsr leave the undefined flags unchanged; the BCD adjustments compute SF, ZF, PF
//! from AL and leave OF clear. The differential test compares only defined flags.

use iced_x86::{Instruction, Mnemonic as M, Register};

use super::Done;
use crate::cpu::fault::Fault;
use crate::cpu::flags::{self, mask, sext, sign, szp, AF, CF, OF, STATUS, ZF};
use crate::cpu::Cpu;
use crate::guest_ram::GuestRam;

/// Result and flags of a shift or rotate of the `size`-byte value `a` by `count` (SDM "SAL/SAR/SHL/SHR",
/// "RCL/RCR/ROL/ROR"). `fl` is EFLAGS before; the return is EFLAGS after.
#[inline(always)]
pub fn shift_op(m: M, a: u32, count: u32, size: u32, fl: u32) -> (u32, u32) {
    let bits = size * 8;
    let msk = mask(size);
    let a = a & msk;
    let c = count & 0x1f;
    if c == 0 {
        return (a, fl);
    }
    let msb = |v: u32| (v >> (bits - 1)) & 1;
    let cf_in = fl & CF;
    let (r, cf, of, rotate) = match m {
        M::Shl | M::Sal => {
            let wide = (a as u64) << c;
            let r = wide as u32 & msk;
            let cf = ((wide >> bits) & 1) as u32;
            (r, cf, msb(r) ^ cf, false)
        }
        M::Shr => {
            let r = ((a as u64) >> c) as u32;
            let cf = ((a as u64 >> (c - 1)) & 1) as u32;
            (r, cf, msb(a), false)
        }
        M::Sar => {
            let sa = sext(a, size) as i32 as i64;
            let r = (sa >> c) as u32 & msk;
            let cf = ((sa >> (c - 1)) & 1) as u32;
            (r, cf, 0, false)
        }
        M::Rol => {
            let t = c % bits;
            let r = if t == 0 { a } else { ((a << t) | (a >> (bits - t))) & msk };
            let cf = r & 1;
            (r, cf, msb(r) ^ cf, true)
        }
        M::Ror => {
            let t = c % bits;
            let r = if t == 0 { a } else { ((a >> t) | (a << (bits - t))) & msk };
            let cf = msb(r);
            (r, cf, msb(r) ^ ((r >> (bits - 2)) & 1), true)
        }
        M::Rcl | M::Rcr => {
            let t = if size == 4 { c } else { c % (bits + 1) };
            let w = bits + 1;
            let wmask = (1u64 << w) - 1;
            let v = ((cf_in as u64) << bits) | a as u64;
            let v = if t == 0 {
                v
            } else if m == M::Rcl {
                ((v << t) | (v >> (w - t))) & wmask
            } else {
                ((v >> t) | (v << (w - t))) & wmask
            };
            let r = (v as u32) & msk;
            let cf = ((v >> bits) & 1) as u32;
            let of = if m == M::Rcl { msb(r) ^ cf } else { msb(a) ^ cf_in };
            (r, cf, of, true)
        }
        _ => (a, cf_in, 0, true),
    };
    let of = if of != 0 { OF } else { 0 };
    let f = if rotate { (fl & !(CF | OF)) | cf | of } else { (fl & !STATUS) | szp(r, size) | cf | of };
    (r, f)
}

/// `shld`/`shrd`: shift `a` left/right by `count`, filling from `b` (SDM "SHLD", "SHRD"). Counts past
/// the operand size (16-bit only) give an undefined result; this computes the 32-bit pattern.
pub fn shift_double_op(left: bool, a: u32, b: u32, count: u32, size: u32, fl: u32) -> (u32, u32) {
    let bits = size * 8;
    let msk = mask(size);
    let (a, b) = (a & msk, b & msk);
    let c = count & 0x1f;
    if c == 0 {
        return (a, fl);
    }
    let (r, cf) = if left {
        let v = ((a as u128) << bits) | b as u128;
        let s = v << c;
        (((s >> bits) as u32) & msk, ((s >> (2 * bits)) & 1) as u32)
    } else {
        let v = ((b as u128) << bits) | a as u128;
        (((v >> c) as u32) & msk, ((v >> (c - 1)) & 1) as u32)
    };
    let of = if (r ^ a) & sign(size) != 0 { OF } else { 0 };
    (r, (fl & !STATUS) | szp(r, size) | cf | of)
}

/// The decimal and ASCII adjustments on AX with the flags (SDM "DAA", "DAS", "AAA", "AAS", "AAM", "AAD").
/// Returns the new AX and EFLAGS, or #DE for `aam 0`.
pub fn bcd_op(m: M, ax: u32, imm: u32, fl: u32) -> Result<(u32, u32), Fault> {
    let al = ax & 0xff;
    let ah = (ax >> 8) & 0xff;
    let cf = fl & CF != 0;
    let af = fl & AF != 0;
    let keep = fl & !STATUS;
    let szp8 = |v: u32| szp(v & 0xff, 1);
    Ok(match m {
        M::Daa => {
            // The carry out of the low-digit step never survives: the high-digit test decides CF.
            let mut nal = al;
            let mut naf = false;
            if al & 0xf > 9 || af {
                nal = (nal + 6) & 0xff;
                naf = true;
            }
            let ncf = al > 0x99 || cf;
            if ncf {
                nal = (nal + 0x60) & 0xff;
            }
            let f = keep | szp8(nal) | if ncf { CF } else { 0 } | if naf { AF } else { 0 };
            ((ax & 0xff00) | nal, f)
        }
        M::Das => {
            let mut nal = al;
            let mut ncf = false;
            let mut naf = false;
            if al & 0xf > 9 || af {
                nal = nal.wrapping_sub(6) & 0xff;
                ncf = cf || al < 6;
                naf = true;
            }
            if al > 0x99 || cf {
                nal = nal.wrapping_sub(0x60) & 0xff;
                ncf = true;
            }
            let f = keep | szp8(nal) | if ncf { CF } else { 0 } | if naf { AF } else { 0 };
            ((ax & 0xff00) | nal, f)
        }
        M::Aaa | M::Aas => {
            let adjust = al & 0xf > 9 || af;
            let nax = if !adjust {
                ax & 0xff0f
            } else if m == M::Aaa {
                (ax.wrapping_add(0x106)) & 0xff0f
            } else {
                let t = (ax & 0xffff).wrapping_sub(6) & 0xffff;
                (t.wrapping_sub(0x100)) & 0xff0f
            };
            let f = keep | szp8(nax) | if adjust { CF | AF } else { 0 };
            (nax, f)
        }
        M::Aam => {
            if imm == 0 {
                return Err(Fault::DivideError);
            }
            let nal = al % imm;
            (((al / imm) << 8) | nal, keep | szp8(nal))
        }
        M::Aad => {
            let nal = (al + ah * imm) & 0xff;
            (nal, keep | szp8(nal))
        }
        _ => (ax, fl),
    })
}

impl Cpu {
    /// add, or, adc, sbb, and, sub, xor, cmp, test.
    pub(super) fn alu2(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let a = self.read_op(ram, i, 0, size)?;
        let b = self.read_op(ram, i, 1, size)?;
        let cf = self.cf();
        let (r, f) = match i.mnemonic() {
            M::Add => flags::add(a, b, 0, size),
            M::Adc => flags::add(a, b, cf, size),
            M::Sub | M::Cmp => flags::sub(a, b, 0, size),
            M::Sbb => flags::sub(a, b, cf, size),
            M::And | M::Test => (a & b, flags::logic(a & b, size)),
            M::Or => (a | b, flags::logic(a | b, size)),
            _ => (a ^ b, flags::logic(a ^ b, size)),
        };
        if !matches!(i.mnemonic(), M::Cmp | M::Test) {
            self.write_op(ram, i, 0, size, r)?;
        }
        self.set_status(f);
        Ok(None)
    }

    /// inc, dec (CF kept), neg, not (no flags).
    pub(super) fn alu1(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let a = self.read_op(ram, i, 0, size)?;
        let (r, which, f) = match i.mnemonic() {
            M::Inc => {
                let (r, f) = flags::add(a, 1, 0, size);
                (r, STATUS & !CF, f)
            }
            M::Dec => {
                let (r, f) = flags::sub(a, 1, 0, size);
                (r, STATUS & !CF, f)
            }
            M::Neg => {
                let (r, f) = flags::sub(0, a, 0, size);
                (r, STATUS, f)
            }
            _ => (!a & mask(size), 0, 0),
        };
        self.write_op(ram, i, 0, size, r)?;
        self.set_flags(which, f);
        Ok(None)
    }

    /// rol, ror, rcl, rcr, shl/sal, shr, sar: by 1, by an immediate, or by CL.
    pub(super) fn shift(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let count = self.read_op(ram, i, 1, 1)?;
        let a = self.read_op(ram, i, 0, size)?;
        if count & 0x1f == 0 {
            return Ok(None);
        }
        let (r, f) = shift_op(i.mnemonic(), a, count, size, self.state.eflags);
        self.write_op(ram, i, 0, size, r)?;
        self.state.eflags = f;
        Ok(None)
    }

    /// shld, shrd.
    pub(super) fn shift_double(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let count = self.read_op(ram, i, 2, 1)?;
        let a = self.read_op(ram, i, 0, size)?;
        let b = self.read_op(ram, i, 1, size)?;
        if count & 0x1f == 0 {
            return Ok(None);
        }
        let (r, f) = shift_double_op(i.mnemonic() == M::Shld, a, b, count, size, self.state.eflags);
        self.write_op(ram, i, 0, size, r)?;
        self.state.eflags = f;
        Ok(None)
    }

    /// mul and imul in their one-, two- and three-operand forms.
    pub(super) fn mul(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let signed = i.mnemonic() == M::Imul;
        if i.op_count() == 1 {
            let size = Self::op_size(i, 0);
            let src = self.read_op(ram, i, 0, size)?;
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
                1 => self.set_reg(Register::AX, (hi << 8) | lo),
                2 => {
                    self.set_reg(Register::AX, lo);
                    self.set_reg(Register::DX, hi);
                }
                _ => {
                    self.state.regs[0] = lo;
                    self.state.regs[2] = hi;
                }
            }
            let f = szp(lo, size) | if overflow { CF | OF } else { 0 };
            self.set_status(f);
            return Ok(None);
        }
        let size = Self::op_size(i, 0);
        let (a, b) = if i.op_count() == 2 {
            (self.read_op(ram, i, 0, size)?, self.read_op(ram, i, 1, size)?)
        } else {
            (self.read_op(ram, i, 1, size)?, self.read_op(ram, i, 2, size)?)
        };
        let p = sext(a, size) as i32 as i64 * sext(b, size) as i32 as i64;
        let lo = p as u32 & mask(size);
        let overflow = p != sext(lo, size) as i32 as i64;
        self.set_reg(i.op0_register(), lo);
        self.set_status(szp(lo, size) | if overflow { CF | OF } else { 0 });
        Ok(None)
    }

    /// div, idiv: #DE on a zero divisor or a quotient that does not fit. Flags are left as they were.
    pub(super) fn div(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let d = self.read_op(ram, i, 0, size)?;
        if d == 0 {
            return Err(Fault::DivideError);
        }
        let bits = size * 8;
        let r = &self.state.regs;
        let dividend: u64 = match size {
            1 => (r[0] & 0xffff) as u64,
            2 => ((r[2] & 0xffff) as u64) << 16 | (r[0] & 0xffff) as u64,
            _ => (r[2] as u64) << 32 | r[0] as u64,
        };
        let (q, rem) = if i.mnemonic() == M::Div {
            let q = dividend / d as u64;
            if q > mask(size) as u64 {
                return Err(Fault::DivideError);
            }
            (q as u32, (dividend % d as u64) as u32)
        } else {
            // Sign-extend the 2*size-byte dividend.
            let sh = 64 - 2 * bits;
            let n = ((dividend << sh) as i64) >> sh;
            let dv = sext(d, size) as i32 as i64;
            let q = n / dv; // |n| < 2^63 and dv != 0: no overflow
            let lim = 1i64 << (bits - 1);
            if q >= lim || q < -lim {
                return Err(Fault::DivideError);
            }
            (q as u32 & mask(size), (n % dv) as u32 & mask(size))
        };
        match size {
            1 => self.set_reg(Register::AX, (rem << 8) | q),
            2 => {
                self.set_reg(Register::AX, q);
                self.set_reg(Register::DX, rem);
            }
            _ => {
                self.state.regs[0] = q;
                self.state.regs[2] = rem;
            }
        }
        Ok(None)
    }

    /// bt, bts, btr, btc: CF gets the bit; a register bit offset can reach any memory (signed).
    pub(super) fn bit_test(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let bits = size * 8;
        let src_is_reg = i.op1_kind() == iced_x86::OpKind::Register;
        let off = self.read_op(ram, i, 1, size)?;
        let (bit, mem_off) = if i.op0_kind() == iced_x86::OpKind::Memory {
            let base = self.ea(i);
            if src_is_reg {
                let soff = sext(off, size) as i32;
                let words = soff >> if size == 4 { 5 } else { 4 };
                (off & (bits - 1), Some(base.wrapping_add((words * size as i32) as u32)))
            } else {
                (off & (bits - 1), Some(base))
            }
        } else {
            (off & (bits - 1), None)
        };
        let seg = Self::mem_seg(i);
        let v = match mem_off {
            Some(o) => self.read_mem(ram, seg, o, size)?,
            None => self.reg(i.op0_register()),
        };
        let set = (v >> bit) & 1;
        let nv = match i.mnemonic() {
            M::Bts => Some(v | (1 << bit)),
            M::Btr => Some(v & !(1 << bit)),
            M::Btc => Some(v ^ (1 << bit)),
            _ => None,
        };
        if let Some(nv) = nv {
            match mem_off {
                Some(o) => self.write_mem(ram, seg, o, size, nv)?,
                None => self.set_reg(i.op0_register(), nv),
            }
        }
        self.set_flags(CF, set);
        Ok(None)
    }

    /// bsf, bsr: ZF=1 and the destination unchanged for a zero source.
    pub(super) fn bit_scan(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = Self::op_size(i, 0);
        let v = self.read_op(ram, i, 1, size)?;
        if v == 0 {
            self.state.eflags |= ZF;
            return Ok(None);
        }
        let idx = if i.mnemonic() == M::Bsf { v.trailing_zeros() } else { 31 - v.leading_zeros() };
        self.set_reg(i.op0_register(), idx);
        self.state.eflags &= !ZF;
        Ok(None)
    }

    /// daa, das, aaa, aas, aam, aad.
    pub(super) fn bcd(&mut self, i: &Instruction) -> Done {
        let imm = if matches!(i.mnemonic(), M::Aam | M::Aad) { i.immediate8() as u32 } else { 0 };
        let (ax, f) = bcd_op(i.mnemonic(), self.state.regs[0] & 0xffff, imm, self.state.eflags)?;
        self.set_reg(Register::AX, ax);
        self.state.eflags = f;
        Ok(None)
    }
}
