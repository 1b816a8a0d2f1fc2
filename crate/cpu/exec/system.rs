//! Everything the Guest kernel may not do at ring 1, and the few system instructions it may: this is
//! where lguest's "the Guest runs in ring 1 so the Host catches what it must not do" shows.
//!
//! - Privileged (`cli`, `sti`, `hlt`, `lgdt`, `lidt`, `lldt`, `ltr`, `invlpg`, `clts`, `lmsw`, `wbinvd`,
//!   `invd`, `rdmsr`, `wrmsr`, `rdpmc`, `mov` to/from control or debug registers, port I/O): #GP(0) with
//!   EIP unchanged, for the Host's `emulate_insn()` or for reflecting to the Guest. `cli`/`sti` and port
//!   I/O are privileged because IOPL is 0 and the Guest cannot raise it.
//! - `vmcall`: #UD (trap 6) at ring 1, which the Host rewrites to `int $0x1f; nop` in Guest memory (its
//!   `rewrite_hypercall()`; the write goes through [`GuestRam`], so the decoded-block cache sees it).
//! - Allowed: `cpuid` (a plain i686), `rdtsc` (the instruction counter: deterministic), `sgdt`/`sidt`/
//!   `sldt`/`str`/`smsw` (not privileged before UMIP), segment loads (`mov`/`pop`/`lds`...).
//! - Anything else (x87, MMX, SSE, call gates, ...) is #UD naming what was not modelled, except that an x87,
//!   MMX or SSE instruction with CR0.TS set is #NM (vector 7) first, as on the real CPU: the TS check comes
//!   before the FPU is touched, so lguest's lazy FPU switching works for a Guest on this core too.

use iced_x86::{Instruction, Mnemonic as M, OpKind};

use super::Done;
use crate::cpu::fault::Fault;
use crate::cpu::flags::{iopl, IF};
use crate::cpu::segments::{self, Segment, CS, DS, ES, FS, GS, SS};
use crate::cpu::Cpu;
use crate::guest_ram::GuestRam;

/// CPUID leaf 0: highest basic leaf and the vendor, "GenuineIntel" in ebx, edx, ecx.
const CPUID_VENDOR: [u32; 3] = [0x756e_6547, 0x4965_6e69, 0x6c65_746e];
/// CPUID leaf 1 eax: family 6, model 1, stepping 9: a Pentium Pro, the plain i686.
const CPUID_SIGNATURE: u32 = 0x0000_0619;
/// CPUID leaf 1 edx: TSC (bit 4), CX8 (bit 8), CMOV (bit 15): what we model. No FPU bit: x87 is not
/// modelled, so a Guest kernel must use its math emulation (or not use floating point at all).
const CPUID_FEATURES: u32 = (1 << 4) | (1 << 8) | (1 << 15);

/// The instruction set extension an unmodelled instruction belongs to, for its #UD message: the x87 FPU
/// (its mnemonics all start with `f`), MMX or SSE (by the registers it names). Read off the instruction
/// rather than iced-x86's CPUID table, which is 40 KB of the page.
fn extension(i: &Instruction) -> Option<&'static str> {
    let regs = (0..i.op_count()).filter(|&n| i.op_kind(n) == OpKind::Register).map(|n| i.op_register(n));
    let mut ext = None;
    for r in regs {
        if r.is_xmm() || r.is_ymm() {
            return Some("SSE");
        }
        if r.is_mm() {
            ext = Some("MMX");
        }
        if r.is_st() {
            ext = Some("x87 FPU");
        }
    }
    ext.or_else(|| match i.mnemonic() {
        M::Emms => Some("MMX"),
        M::Ldmxcsr | M::Stmxcsr => Some("SSE"),
        // fxsave and fxrstor (0f ae) save and load the x87, MMX and SSE state: TS guards them too.
        _ => name(i).starts_with('f').then_some("x87 FPU"),
    })
}

/// The instruction's name in lower case, for #UD messages.
pub(super) fn name(i: &Instruction) -> String {
    crate::cpu::att::base_name(i.mnemonic())
}

impl Cpu {
    /// Load segment register `seg` with `sel` under the protected-mode rules (SDM "MOV", "POP").
    pub(crate) fn load_segment(&mut self, seg: usize, sel: u16) -> Result<(), Fault> {
        let s = self.check_segment(seg, sel)?;
        self.state.segs[seg] = s;
        Ok(())
    }

    fn check_segment(&self, seg: usize, sel: u16) -> Result<Segment, Fault> {
        match seg {
            SS => segments::load_stack_segment(&self.gdt, sel, self.state.cpl),
            CS => Err(Fault::ud("load of CS by mov or pop")),
            _ => segments::load_data_segment(&self.gdt, sel, self.state.cpl),
        }
    }

    /// A privileged instruction at the current CPL: #GP(0) (at CPL 0, which the Guest never reaches,
    /// it is simply not modelled).
    fn privileged(&self, i: &Instruction) -> Fault {
        if self.state.cpl == 0 {
            Fault::ud(format!("{} at ring 0 (not modelled)", name(i)))
        } else {
            Fault::gp0()
        }
    }

    pub(super) fn system(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let cpl = self.state.cpl;
        match i.mnemonic() {
            M::Cli | M::Sti => {
                if cpl > iopl(self.state.eflags) {
                    return Err(Fault::gp0());
                }
                if i.mnemonic() == M::Cli {
                    self.state.eflags &= !IF;
                } else {
                    self.state.eflags |= IF;
                }
                Ok(None)
            }
            M::In | M::Out | M::Insb | M::Insw | M::Insd | M::Outsb | M::Outsw | M::Outsd => {
                if cpl > iopl(self.state.eflags) {
                    return Err(Fault::gp0());
                }
                Err(Fault::ud(format!("{} (port I/O not modelled)", name(i))))
            }
            M::Hlt | M::Lgdt | M::Lidt | M::Lldt | M::Ltr | M::Invlpg | M::Wbinvd | M::Invd | M::Clts | M::Lmsw | M::Rdmsr | M::Wrmsr | M::Rdpmc => {
                Err(self.privileged(i))
            }
            M::Cpuid => {
                let leaf = self.state.regs[0];
                let r = if leaf == 0 {
                    [1, CPUID_VENDOR[0], CPUID_VENDOR[2], CPUID_VENDOR[1]]
                } else {
                    // Leaf 1, and (as Intel parts do for leaves past the highest) every other leaf.
                    [CPUID_SIGNATURE, 0, 0, CPUID_FEATURES]
                };
                self.state.regs[0] = r[0];
                self.state.regs[3] = r[1];
                self.state.regs[1] = r[2];
                self.state.regs[2] = r[3];
                Ok(None)
            }
            M::Rdtsc => {
                let t = self.state.tsc;
                self.state.regs[0] = t as u32;
                self.state.regs[2] = (t >> 32) as u32;
                Ok(None)
            }
            M::Sgdt | M::Sidt => {
                let (limit, base) = if i.mnemonic() == M::Sgdt { self.gdtr } else { self.idtr };
                let seg = Self::mem_seg(i);
                let off = self.ea(i);
                self.probe_write(ram, seg, off, 6)?;
                self.write_mem(ram, seg, off, 2, limit as u32)?;
                self.write_mem(ram, seg, off.wrapping_add(2), 4, base)?;
                Ok(None)
            }
            M::Sldt | M::Str | M::Smsw => {
                let v = match i.mnemonic() {
                    M::Smsw => self.state.cr0,
                    M::Str => 0x80, // the Host's TSS (GDT entry 16)
                    _ => 0,
                };
                let size = if i.op0_kind() == OpKind::Register { i.op0_register().size() as u32 } else { 2 };
                self.write_op(ram, i, 0, size, v)?;
                Ok(None)
            }
            M::Lds | M::Les | M::Lfs | M::Lgs | M::Lss => {
                let size = Self::op_size(i, 0);
                let seg_reg = match i.mnemonic() {
                    M::Lds => DS,
                    M::Les => ES,
                    M::Lfs => FS,
                    M::Lgs => GS,
                    _ => SS,
                };
                let seg = Self::mem_seg(i);
                let off = self.ea(i);
                let v = self.read_mem(ram, seg, off, size)?;
                let sel = self.read_mem(ram, seg, off.wrapping_add(size), 2)? as u16;
                let s = self.check_segment(seg_reg, sel)?;
                self.state.segs[seg_reg] = s;
                self.set_reg(i.op0_register(), v);
                Ok(None)
            }
            // SDM, SYSENTER/SYSEXIT: a null IA32_SYSENTER_CS (or protection off) is #GP(0); sysexit also needs
            // CPL 0. With a segment set, the fast system call itself is not modelled.
            M::Sysenter | M::Sysexit => {
                if self.state.sysenter_cs & 0xfffc == 0 || self.state.cr0 & crate::cpu::CR0_PE == 0 || (i.mnemonic() == M::Sysexit && cpl != 0) {
                    return Err(Fault::gp0());
                }
                Err(Fault::ud(format!("{} with IA32_SYSENTER_CS set (not modelled)", name(i))))
            }
            M::Vmcall => Err(Fault::ud("vmcall")),
            M::Ud0 | M::Ud1 | M::Ud2 => Err(Fault::ud(name(i))),
            M::INVALID => Err(Fault::ud("invalid encoding")),
            _ => {
                let ext = extension(i);
                // CR0.TS: the FPU may hold another task's state, so the kernel must see the first use (#NM,
                // no error code). Only with TS clear does the instruction reach the FPU, which is not modelled.
                if ext.is_some() && self.state.cr0 & crate::cpu::CR0_TS != 0 {
                    return Err(Fault::DeviceNotAvailable);
                }
                Err(Fault::ud(format!("{} ({}not modelled)", name(i), ext.map(|e| format!("{e} ")).unwrap_or_default())))
            }
        }
    }
}
