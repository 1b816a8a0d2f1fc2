//! EFLAGS: the bits, the condition codes that read them, and the flag arithmetic shared by the ALU.
//!
//! Flags are computed eagerly by pure functions (`fn(...) -> (result, flags)`), and the caller commits
//! them only once the instruction can no longer fault, so a fault leaves EFLAGS as it was. Where the SDM
//! leaves a flag undefined, each function says what it produces; the differential test
//! (`tests/cpu_diff.rs`) compares defined flags only, and reports where the processor it ran on differs.

use iced_x86::ConditionCode;

pub const CF: u32 = 1 << 0;
/// Bit 1 reads as one, always.
pub const FIXED1: u32 = 1 << 1;
pub const PF: u32 = 1 << 2;
pub const AF: u32 = 1 << 4;
pub const ZF: u32 = 1 << 6;
pub const SF: u32 = 1 << 7;
pub const TF: u32 = 1 << 8;
pub const IF: u32 = 1 << 9;
pub const DF: u32 = 1 << 10;
pub const OF: u32 = 1 << 11;
pub const IOPL: u32 = 3 << 12;
pub const NT: u32 = 1 << 14;
pub const RF: u32 = 1 << 16;
pub const VM: u32 = 1 << 17;
pub const AC: u32 = 1 << 18;
pub const ID: u32 = 1 << 21;

/// The six arithmetic status flags.
pub const STATUS: u32 = CF | PF | AF | ZF | SF | OF;

/// Flags any `popf` may change on an i686 (IF and IOPL have their own privilege rules, VM and RF are never
/// set by `popf`).
pub const POPF_BASE: u32 = STATUS | TF | DF | NT | AC | ID;

/// IOPL as a number 0-3.
#[inline]
pub fn iopl(eflags: u32) -> u8 {
    ((eflags >> 12) & 3) as u8
}

/// PF for each byte value (even parity), computed once at compile time.
const PARITY: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if (i as u8).count_ones() % 2 == 0 { PF as u8 } else { 0 };
        i += 1;
    }
    t
};

/// Even parity of the low byte: PF.
#[inline(always)]
pub fn parity(v: u32) -> u32 {
    PARITY[(v & 0xff) as usize] as u32
}

/// Mask and sign bit for an operand of `size` bytes (1, 2 or 4).
#[inline(always)]
pub fn mask(size: u32) -> u32 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

#[inline(always)]
pub fn sign(size: u32) -> u32 {
    match size {
        1 => 0x80,
        2 => 0x8000,
        _ => 0x8000_0000,
    }
}

/// SF, ZF and PF of a `size`-byte result.
#[inline(always)]
pub fn szp(r: u32, size: u32) -> u32 {
    let r = r & mask(size);
    (if r == 0 { ZF } else { 0 }) | (if r & sign(size) != 0 { SF } else { 0 }) | parity(r)
}

/// Sign-extend a `size`-byte value to 32 bits.
#[inline(always)]
pub fn sext(v: u32, size: u32) -> u32 {
    match size {
        1 => v as u8 as i8 as i32 as u32,
        2 => v as u16 as i16 as i32 as u32,
        _ => v,
    }
}

/// Does condition `cc` hold under `f`? (SDM appendix B, "EFLAGS Condition Codes")
#[inline(always)]
pub fn condition(cc: ConditionCode, f: u32) -> bool {
    let cf = f & CF != 0;
    let zf = f & ZF != 0;
    let sf = f & SF != 0;
    let of = f & OF != 0;
    let pf = f & PF != 0;
    match cc {
        ConditionCode::None => true,
        ConditionCode::o => of,
        ConditionCode::no => !of,
        ConditionCode::b => cf,
        ConditionCode::ae => !cf,
        ConditionCode::e => zf,
        ConditionCode::ne => !zf,
        ConditionCode::be => cf || zf,
        ConditionCode::a => !cf && !zf,
        ConditionCode::s => sf,
        ConditionCode::ns => !sf,
        ConditionCode::p => pf,
        ConditionCode::np => !pf,
        ConditionCode::l => sf != of,
        ConditionCode::ge => sf == of,
        ConditionCode::le => zf || sf != of,
        ConditionCode::g => !zf && sf == of,
    }
}

/// `a + b + carry` on `size` bytes: result and all six status flags.
#[inline(always)]
pub fn add(a: u32, b: u32, carry: u32, size: u32) -> (u32, u32) {
    let m = mask(size) as u64;
    let wide = (a as u64 & m) + (b as u64 & m) + carry as u64;
    let r = (wide & m) as u32;
    let mut f = szp(r, size);
    if wide > m {
        f |= CF;
    }
    if (a ^ r) & (b ^ r) & sign(size) != 0 {
        f |= OF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    (r, f)
}

/// `a - b - borrow` on `size` bytes: result and all six status flags (also `cmp` and `neg`).
#[inline(always)]
pub fn sub(a: u32, b: u32, borrow: u32, size: u32) -> (u32, u32) {
    let m = mask(size);
    let (a, b) = (a & m, b & m);
    let r = a.wrapping_sub(b).wrapping_sub(borrow) & m;
    let mut f = szp(r, size);
    if (a as u64) < b as u64 + borrow as u64 {
        f |= CF;
    }
    if (a ^ b) & (a ^ r) & sign(size) != 0 {
        f |= OF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    (r, f)
}

/// Flags after and/or/xor/test: CF = OF = 0, and AF (undefined in the SDM) = 0, as both Intel and AMD
/// parts produce (the differential test sees no difference here).
#[inline(always)]
pub fn logic(r: u32, size: u32) -> u32 {
    szp(r, size)
}
