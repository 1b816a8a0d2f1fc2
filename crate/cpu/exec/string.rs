//! The string instructions movs, stos, lods, cmps, scas in 8/16/32-bit sizes, with rep / repe / repne,
//! both directions (DF), 32- or 16-bit addressing (ESI/EDI or SI/DI).
//!
//! A `rep` runs one element per iteration and counts each against the run's budget, so a huge `rep
//! movs` cannot freeze the page: when the budget runs out mid-way, EIP stays on the instruction with
//! ECX, ESI and EDI showing the progress, and running again carries on, just as an interrupt would
//! find it on a real processor. A fault mid-way leaves the same restartable state.

use iced_x86::{Instruction, Mnemonic as M, OpKind, Register};

use super::Done;
use crate::cpu::flags::{self, DF, ZF};
use crate::cpu::{Cpu, Exit, ECX, EDI, ESI};
use crate::guest_ram::GuestRam;

impl Cpu {
    pub(super) fn string(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let m = i.mnemonic();
        let size: u32 = match m {
            M::Movsb | M::Stosb | M::Lodsb | M::Cmpsb | M::Scasb => 1,
            M::Movsw | M::Stosw | M::Lodsw | M::Cmpsw | M::Scasw => 2,
            _ => 4,
        };
        // movsd/cmpsd share their mnemonic with SSE2 instructions; only the string forms come here.
        let a16 = (0..i.op_count()).any(|n| matches!(i.op_kind(n), OpKind::MemorySegSI | OpKind::MemoryESDI));
        let a32 = (0..i.op_count()).any(|n| matches!(i.op_kind(n), OpKind::MemorySegESI | OpKind::MemoryESEDI));
        if !a16 && !a32 {
            return Err(crate::cpu::fault::Fault::ud(format!("{} (SSE not modelled)", super::system::name(i))));
        }
        let amask = if a16 { 0xffff } else { 0xffff_ffff };
        let (src_seg, dst_seg) = Self::string_segs(i);
        let rep = i.has_rep_prefix() || i.has_repe_prefix() || i.has_repne_prefix();
        let compares = matches!(m, M::Cmpsb | M::Cmpsw | M::Cmpsd | M::Scasb | M::Scasw | M::Scasd);
        let until_ne = i.has_repe_prefix() || (i.has_rep_prefix() && compares);
        let step = if self.state.eflags & DF != 0 { size.wrapping_neg() } else { size };
        let acc = match size {
            1 => Register::AL,
            2 => Register::AX,
            _ => Register::EAX,
        };
        loop {
            let count = self.state.regs[ECX] & amask;
            if rep && count == 0 {
                break;
            }
            let si = self.state.regs[ESI] & amask;
            let di = self.state.regs[EDI] & amask;
            let (mut adv_si, mut adv_di) = (false, false);
            match m {
                M::Movsb | M::Movsw | M::Movsd => {
                    let v = self.read_mem(ram, src_seg, si, size)?;
                    self.write_mem(ram, dst_seg, di, size, v)?;
                    adv_si = true;
                    adv_di = true;
                }
                M::Stosb | M::Stosw | M::Stosd => {
                    let v = self.reg(acc);
                    self.write_mem(ram, dst_seg, di, size, v)?;
                    adv_di = true;
                }
                M::Lodsb | M::Lodsw | M::Lodsd => {
                    let v = self.read_mem(ram, src_seg, si, size)?;
                    self.set_reg(acc, v);
                    adv_si = true;
                }
                M::Cmpsb | M::Cmpsw | M::Cmpsd => {
                    let a = self.read_mem(ram, src_seg, si, size)?;
                    let b = self.read_mem(ram, dst_seg, di, size)?;
                    let (_, f) = flags::sub(a, b, 0, size);
                    self.set_status(f);
                    adv_si = true;
                    adv_di = true;
                }
                _ => {
                    let a = self.reg(acc);
                    let b = self.read_mem(ram, dst_seg, di, size)?;
                    let (_, f) = flags::sub(a, b, 0, size);
                    self.set_status(f);
                    adv_di = true;
                }
            }
            let keep = !amask;
            if adv_si {
                self.state.regs[ESI] = (self.state.regs[ESI] & keep) | (si.wrapping_add(step) & amask);
            }
            if adv_di {
                self.state.regs[EDI] = (self.state.regs[EDI] & keep) | (di.wrapping_add(step) & amask);
            }
            if !rep {
                break;
            }
            let left = count.wrapping_sub(1) & amask;
            self.state.regs[ECX] = (self.state.regs[ECX] & !amask) | left;
            if compares {
                let zf = self.state.eflags & ZF != 0;
                if zf != until_ne {
                    break;
                }
            }
            if left == 0 {
                break;
            }
            // Another iteration: it costs one unit of budget; out of budget, stop here, restartable.
            self.budget_left = self.budget_left.saturating_sub(1);
            self.state.tsc += 1;
            if self.budget_left == 0 {
                self.state.eip = i.ip32();
                return Ok(Some(Exit::Budget));
            }
        }
        Ok(None)
    }
}
