//! The stack and control transfer: push/pop of every operand kind, pusha/popa, pushf/popf with their
//! privilege rules, enter/leave, jumps, calls and returns (near and far), loop and jecxz, software
//! interrupts, `iret` (same ring, or back out to ring 3 with a stack switch), `bound`, and
//! [`Cpu::deliver`], which the Host uses to push an interrupt frame and enter a Guest handler.
//!
//! Multi-step instructions work on a copy of the registers and put it back if a later step faults, so
//! a fault never leaves them half done.

use iced_x86::{Code, Instruction, Mnemonic as M, OpKind, Register};
use serde::Serialize;

use super::Done;
use crate::cpu::fault::Fault;
use crate::cpu::flags::{self, iopl, sext, IF, IOPL, NT, RF, TF, VM, ZF};
use crate::cpu::segments::{self, Segment, CS, DS, ES, FS, GS, SS};
use crate::cpu::{Cpu, Exit, EBP, ESP};
use crate::guest_ram::GuestRam;

/// What the Host needs to enter a Guest interrupt or trap handler (see [`Cpu::deliver`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub vector: u8,
    /// Pushed after the return address for the exceptions that have one (8, 10-14, 17).
    pub error_code: Option<u32>,
    /// The gate's target.
    pub handler_cs: u16,
    pub handler_eip: u32,
    /// The Guest kernel stack (`SET_STACK`'s ss1:esp1), used when the Guest was in ring 3.
    pub kernel_ss: u16,
    pub kernel_esp: u32,
    /// The EFLAGS value to push (lguest pushes IF as the Guest's virtual `irq_enabled` says); None
    /// pushes the real EFLAGS.
    pub pushed_eflags: Option<u32>,
}

impl Cpu {
    /// Push `v` (`size` 2 or 4 bytes).
    #[inline(always)]
    pub(crate) fn push(&mut self, ram: &mut GuestRam, size: u32, v: u32) -> Result<(), Fault> {
        let esp = self.state.regs[ESP].wrapping_sub(size);
        self.write_mem(ram, SS, esp, size, v)?;
        self.state.regs[ESP] = esp;
        Ok(())
    }

    /// Pop `size` bytes.
    #[inline(always)]
    pub(crate) fn pop(&mut self, ram: &GuestRam, size: u32) -> Result<u32, Fault> {
        let esp = self.state.regs[ESP];
        let v = self.read_mem(ram, SS, esp, size)?;
        self.state.regs[ESP] = esp.wrapping_add(size);
        Ok(v)
    }

    /// Run `f`; if it faults, put the general registers back as they were.
    fn atomically<T>(&mut self, f: impl FnOnce(&mut Cpu) -> Result<T, Fault>) -> Result<T, Fault> {
        let saved = self.state.regs;
        let r = f(self);
        if r.is_err() {
            self.state.regs = saved;
        }
        r
    }

    pub(super) fn push_op(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = i.stack_pointer_increment().unsigned_abs();
        if i.op0_kind() == OpKind::Register {
            let r = i.op0_register();
            let v = self.reg(r);
            if Self::seg_index(r).is_some() && size == 4 {
                // A segment register pushed with a 32-bit operand: ESP moves by 4, 16 bits are written.
                let esp = self.state.regs[ESP].wrapping_sub(4);
                self.write_mem(ram, SS, esp, 2, v)?;
                self.state.regs[ESP] = esp;
                return Ok(None);
            }
            self.push(ram, size, v)?;
        } else {
            let v = self.read_op(ram, i, 0, size)?;
            self.push(ram, size, v)?;
        }
        Ok(None)
    }

    pub(super) fn pop_op(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = i.stack_pointer_increment().unsigned_abs();
        let esp = self.state.regs[ESP];
        let v = self.read_mem(ram, SS, esp, size)?;
        let new_esp = esp.wrapping_add(size);
        match i.op0_kind() {
            OpKind::Register => {
                let r = i.op0_register();
                if let Some(seg) = Self::seg_index(r) {
                    self.load_segment(seg, v as u16)?;
                    self.state.regs[ESP] = new_esp;
                } else {
                    self.state.regs[ESP] = new_esp;
                    self.set_reg(r, v); // pop %esp: the popped value wins
                }
            }
            _ => {
                // The address of a memory destination is computed with ESP already incremented.
                self.state.regs[ESP] = new_esp;
                let off = self.ea(i);
                if let Err(f) = self.write_mem(ram, Self::mem_seg(i), off, size, v) {
                    self.state.regs[ESP] = esp;
                    return Err(f);
                }
            }
        }
        Ok(None)
    }

    pub(super) fn pusha(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = if i.mnemonic() == M::Pusha { 2 } else { 4 };
        let esp = self.state.regs[ESP];
        self.probe_write(ram, SS, esp.wrapping_sub(8 * size), 8 * size)?;
        let regs = self.state.regs;
        self.atomically(|c| {
            for (k, v) in regs.iter().enumerate() {
                let v = if k == ESP { esp } else { *v };
                c.push(ram, size, v)?;
            }
            Ok(())
        })?;
        Ok(None)
    }

    pub(super) fn popa(&mut self, _ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = if i.mnemonic() == M::Popa { 2 } else { 4 };
        let esp = self.state.regs[ESP];
        let mut vals = [0u32; 8];
        for (k, v) in vals.iter_mut().enumerate() {
            *v = self.read_mem(_ram, SS, esp.wrapping_add(size * (7 - k as u32)), size)?;
        }
        for (k, v) in vals.iter().enumerate() {
            if k == ESP {
                continue;
            }
            if size == 2 {
                let x = &mut self.state.regs[k];
                *x = (*x & 0xffff_0000) | (v & 0xffff);
            } else {
                self.state.regs[k] = *v;
            }
        }
        self.state.regs[ESP] = esp.wrapping_add(8 * size);
        Ok(None)
    }

    pub(super) fn pushf(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = if i.mnemonic() == M::Pushf { 2 } else { 4 };
        let v = self.state.eflags & !(VM | RF);
        self.push(ram, size, v)?;
        Ok(None)
    }

    /// The EFLAGS bits `popf` or `iret` may change at the current CPL (SDM "POPF"): IF only if
    /// CPL <= IOPL, IOPL only at CPL 0, never VM.
    fn changeable_flags(&self) -> u32 {
        let mut m = flags::POPF_BASE;
        if self.state.cpl <= iopl(self.state.eflags) {
            m |= IF;
        }
        if self.state.cpl == 0 {
            m |= IOPL;
        }
        m
    }

    pub(super) fn popf(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = if i.mnemonic() == M::Popf { 2 } else { 4 };
        let v = self.pop(ram, size)?;
        let mut m = self.changeable_flags();
        if size == 2 {
            m &= 0xffff;
        }
        self.state.eflags = ((self.state.eflags & !m) | (v & m) | flags::FIXED1) & !RF;
        Ok(None)
    }

    pub(super) fn enter(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = if i.code() == Code::Enterw_imm16_imm8 { 2 } else { 4 };
        let alloc = i.immediate16() as u32;
        let level = (i.immediate8_2nd() & 31) as u32;
        self.atomically(|c| {
            let ebp = c.state.regs[EBP];
            c.push(ram, size, ebp)?;
            let frame = c.state.regs[ESP];
            if level > 0 {
                // Copy the enclosing frames' pointers, then push this frame's.
                let mut walk = ebp;
                for _ in 1..level {
                    walk = walk.wrapping_sub(size);
                    let v = c.read_mem(ram, SS, walk, size)?;
                    c.push(ram, size, v)?;
                }
                c.push(ram, size, frame)?;
            }
            let new_esp = c.state.regs[ESP].wrapping_sub(alloc);
            // The allocated space must be writable stack too.
            if alloc > 0 {
                c.probe_write(ram, SS, new_esp, 1)?;
            }
            if size == 2 {
                c.set_reg(Register::BP, frame);
            } else {
                c.state.regs[EBP] = frame;
            }
            c.state.regs[ESP] = new_esp;
            Ok(())
        })?;
        Ok(None)
    }

    pub(super) fn leave(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = if i.code() == Code::Leavew { 2 } else { 4 };
        let ebp = self.state.regs[EBP];
        let v = self.read_mem(ram, SS, ebp, size)?;
        self.state.regs[ESP] = ebp.wrapping_add(size);
        if size == 2 {
            self.set_reg(Register::BP, v);
        } else {
            self.state.regs[EBP] = v;
        }
        Ok(None)
    }

    /// Read a far pointer (offset then selector) from memory operand 0.
    fn far_pointer(&mut self, ram: &GuestRam, i: &Instruction) -> Result<(u16, u32), Fault> {
        let size = if i.memory_size() == iced_x86::MemorySize::SegPtr16 { 2 } else { 4 };
        let seg = Self::mem_seg(i);
        let off = self.ea(i);
        let eip = self.read_mem(ram, seg, off, size)?;
        let sel = self.read_mem(ram, seg, off.wrapping_add(size), 2)? as u16;
        Ok((sel, eip))
    }

    /// The code segment a far jump or call may reach: same privilege only (conforming or not). Call
    /// gates and task gates are not modelled: #GP(selector).
    fn far_target(&self, sel: u16, eip: u32) -> Result<Segment, Fault> {
        let cpl = self.state.cpl;
        let seg = segments::lookup(&self.gdt, sel)?;
        if seg.access & segments::ACC_S == 0 || !seg.is_code() {
            return Err(segments::selector_error(sel));
        }
        segments::check_32bit_code(&self.gdt, sel)?;
        let conforming = seg.access & segments::ACC_DC != 0;
        let ok = if conforming { seg.dpl() <= cpl } else { seg.dpl() == cpl && (sel & 3) as u8 <= cpl };
        if !ok {
            return Err(segments::selector_error(sel));
        }
        if !seg.usable() {
            return Err(Fault::NotPresent { error_code: (sel & 0xfffc) as u32 });
        }
        if eip > seg.limit {
            return Err(Fault::gp0());
        }
        Ok(Segment { selector: (sel & 0xfffc) | cpl as u16, ..seg })
    }

    pub(super) fn jmp(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        match i.op0_kind() {
            OpKind::NearBranch16 | OpKind::NearBranch32 => self.jump_near(Self::branch_target(i))?,
            OpKind::FarBranch16 | OpKind::FarBranch32 => {
                let (sel, eip) = (i.far_branch_selector(), i.far_branch32());
                let cs = self.far_target(sel, eip)?;
                self.state.segs[CS] = cs;
                self.state.eip = eip;
            }
            OpKind::Memory if i.code().is_jmp_far_indirect() => {
                let (sel, eip) = self.far_pointer(ram, i)?;
                let cs = self.far_target(sel, eip)?;
                self.state.segs[CS] = cs;
                self.state.eip = eip;
            }
            _ => {
                let size = Self::op_size(i, 0);
                let t = self.read_op(ram, i, 0, size)?;
                self.jump_near(t)?;
            }
        }
        Ok(None)
    }

    pub(super) fn call(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let ret = self.state.eip;
        match i.op0_kind() {
            OpKind::NearBranch16 | OpKind::NearBranch32 => {
                let size = i.stack_pointer_increment().unsigned_abs();
                let t = Self::branch_target(i);
                self.jump_near(t)?;
                self.state.eip = ret;
                self.push(ram, size, ret)?;
                self.state.eip = t;
            }
            OpKind::FarBranch16 | OpKind::FarBranch32 => {
                let (sel, eip) = (i.far_branch_selector(), i.far_branch32());
                self.call_far(ram, i, sel, eip, ret)?;
            }
            OpKind::Memory if i.code().is_call_far_indirect() => {
                let (sel, eip) = self.far_pointer(ram, i)?;
                self.call_far(ram, i, sel, eip, ret)?;
            }
            _ => {
                let size = Self::op_size(i, 0);
                let t = self.read_op(ram, i, 0, size)?; // read before the push moves ESP
                self.jump_near(t)?;
                self.state.eip = ret;
                self.push(ram, size, ret)?;
                self.state.eip = t;
            }
        }
        Ok(None)
    }

    fn call_far(&mut self, ram: &mut GuestRam, i: &Instruction, sel: u16, eip: u32, ret: u32) -> Result<(), Fault> {
        let size = i.stack_pointer_increment().unsigned_abs() / 2;
        let cs = self.far_target(sel, eip)?;
        let old_cs = self.state.segs[CS].selector as u32;
        self.atomically(|c| {
            c.push(ram, size, old_cs)?;
            c.push(ram, size, ret)
        })?;
        self.state.segs[CS] = cs;
        self.state.eip = eip;
        Ok(())
    }

    pub(super) fn ret(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = if matches!(i.code(), Code::Retnw | Code::Retnw_imm16) { 2 } else { 4 };
        let extra = if i.op_count() > 0 { i.immediate16() as u32 } else { 0 };
        let esp = self.state.regs[ESP];
        let t = self.read_mem(ram, SS, esp, size)?;
        self.jump_near(t)?;
        self.state.regs[ESP] = esp.wrapping_add(size).wrapping_add(extra);
        Ok(None)
    }

    /// Far return: to the same ring, or out to an outer ring (popping ESP and SS as well).
    pub(super) fn retf(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        let size = if matches!(i.code(), Code::Retfw | Code::Retfw_imm16) { 2 } else { 4 };
        let extra = if i.op_count() > 0 { i.immediate16() as u32 } else { 0 };
        let esp = self.state.regs[ESP];
        let eip = self.read_mem(ram, SS, esp, size)?;
        let sel = self.read_mem(ram, SS, esp.wrapping_add(size), 2)? as u16;
        let rpl = (sel & 3) as u8;
        if rpl < self.state.cpl {
            return Err(segments::selector_error(sel));
        }
        let cs = segments::load_code_segment(&self.gdt, sel)?;
        if eip > cs.limit {
            return Err(Fault::gp0());
        }
        if rpl == self.state.cpl {
            self.state.segs[CS] = cs;
            self.state.eip = eip;
            self.state.regs[ESP] = esp.wrapping_add(2 * size).wrapping_add(extra);
            return Ok(None);
        }
        let at = esp.wrapping_add(2 * size).wrapping_add(extra);
        let new_esp = self.read_mem(ram, SS, at, size)?;
        let new_ss = self.read_mem(ram, SS, at.wrapping_add(size), 2)? as u16;
        let ss = segments::load_stack_segment(&self.gdt, new_ss, rpl)?;
        self.enter_outer_ring(rpl, cs, ss, new_esp.wrapping_add(extra));
        self.state.eip = eip;
        Ok(None)
    }

    /// Switch to the outer ring `rpl` with these CS and SS; data segments the new ring may not use
    /// become null (SDM "RET", "IRET": the check on ES, DS, FS, GS).
    fn enter_outer_ring(&mut self, rpl: u8, cs: Segment, ss: Segment, esp: u32) {
        self.state.cpl = rpl;
        self.state.segs[CS] = cs;
        self.state.segs[SS] = ss;
        self.state.regs[ESP] = esp;
        for s in [ES, DS, FS, GS] {
            let seg = self.state.segs[s];
            let conforming_code = seg.is_code() && seg.access & segments::ACC_DC != 0;
            if seg.usable() && !conforming_code && seg.dpl() < rpl {
                self.state.segs[s] = Segment::NULL;
            }
        }
    }

    /// loop, loope, loopne (decrement the count, then branch) and jcxz/jecxz (branch if zero). The
    /// address size picks CX or ECX.
    pub(super) fn loop_(&mut self, i: &Instruction) -> Done {
        let cx = matches!(
            i.code(),
            Code::Loop_rel8_16_CX
                | Code::Loop_rel8_32_CX
                | Code::Loope_rel8_16_CX
                | Code::Loope_rel8_32_CX
                | Code::Loopne_rel8_16_CX
                | Code::Loopne_rel8_32_CX
                | Code::Jcxz_rel8_16
                | Code::Jcxz_rel8_32
        );
        let count = if cx { self.state.regs[1] & 0xffff } else { self.state.regs[1] };
        let zf = self.state.eflags & ZF != 0;
        let (new_count, taken) = match i.mnemonic() {
            M::Jecxz | M::Jcxz => (count, count == 0),
            m => {
                let n = count.wrapping_sub(1) & if cx { 0xffff } else { 0xffff_ffff };
                let cond = match m {
                    M::Loope => zf,
                    M::Loopne => !zf,
                    _ => true,
                };
                (n, n != 0 && cond)
            }
        };
        if taken {
            self.jump_near(Self::branch_target(i))?;
        }
        if cx {
            self.set_reg(Register::CX, new_count);
        } else {
            self.state.regs[1] = new_count;
        }
        Ok(None)
    }

    /// `int n`: vector 0x1f is lguest's hypercall (allowed from the Guest kernel only: the Host's gate
    /// for it has DPL 1, so ring 3 gets #GP); any other vector goes to the Host to deliver.
    pub(super) fn int_n(&mut self, i: &Instruction) -> Done {
        let v = i.immediate8();
        if v == crate::params::LGUEST_TRAP_ENTRY {
            if self.state.cpl > segments::GUEST_PL {
                return Err(Fault::GeneralProtection { error_code: (v as u32) * 8 + 2 });
            }
            return Ok(Some(Exit::Hypercall));
        }
        Ok(Some(Exit::Interrupt { vector: v }))
    }

    /// iret: to the same ring, or out to ring 3 with SS:ESP from the frame. Task returns (NT set) are not
    /// modelled.
    pub(super) fn iret(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        if self.state.eflags & NT != 0 {
            return Err(Fault::ud("iret with NT set (task return not modelled)"));
        }
        let size = if i.code() == Code::Iretw { 2 } else { 4 };
        let esp = self.state.regs[ESP];
        let eip = self.read_mem(ram, SS, esp, size)?;
        let sel = self.read_mem(ram, SS, esp.wrapping_add(size), 2)? as u16;
        let fl = self.read_mem(ram, SS, esp.wrapping_add(2 * size), size)?;
        let rpl = (sel & 3) as u8;
        if rpl < self.state.cpl {
            return Err(segments::selector_error(sel));
        }
        let cs = segments::load_code_segment(&self.gdt, sel)?;
        if eip > cs.limit {
            return Err(Fault::gp0());
        }
        let mut m = self.changeable_flags() | RF;
        if size == 2 {
            m &= 0xffff;
        }
        let new_flags = ((self.state.eflags & !m) | (fl & m) | flags::FIXED1) & !VM;
        if rpl == self.state.cpl {
            self.state.segs[CS] = cs;
            self.state.regs[ESP] = esp.wrapping_add(3 * size);
        } else {
            let new_esp = self.read_mem(ram, SS, esp.wrapping_add(3 * size), size)?;
            let new_ss = self.read_mem(ram, SS, esp.wrapping_add(4 * size), 2)? as u16;
            let ss = segments::load_stack_segment(&self.gdt, new_ss, rpl)?;
            self.enter_outer_ring(rpl, cs, ss, new_esp);
        }
        self.state.eflags = new_flags;
        self.state.eip = eip;
        Ok(None)
    }

    /// bound r, m: #BR unless lower <= index <= upper (signed).
    pub(super) fn bound(&mut self, ram: &mut GuestRam, i: &Instruction) -> Done {
        if i.op1_kind() != OpKind::Memory {
            return Err(Fault::ud("bound with a register operand"));
        }
        let size = Self::op_size(i, 0);
        let idx = sext(self.reg(i.op0_register()), size) as i32;
        let seg = Self::mem_seg(i);
        let off = self.ea(i);
        let lo = sext(self.read_mem(ram, seg, off, size)?, size) as i32;
        let hi = sext(self.read_mem(ram, seg, off.wrapping_add(size), size)?, size) as i32;
        if idx < lo || idx > hi {
            return Err(Fault::BoundRange);
        }
        Ok(None)
    }

    /// The Host's side of an interrupt or trap: push the frame a processor would push and enter the
    /// Guest's handler, as lguest's `push_guest_interrupt_stack()` and `guest_run_interrupt()` do. From
    /// ring 3 the frame goes on the kernel stack (`kernel_ss:kernel_esp`) with the old SS:ESP first.
    /// TF, NT and RF are cleared; IF is left to the Host (lguest never clears the real IF: it clears the
    /// Guest's virtual `irq_enabled` instead). A fault here (a bad stack) is for the Host to turn into
    /// `kill_guest()`; nothing is changed then.
    pub fn deliver(&mut self, ram: &mut GuestRam, d: &Delivery) -> Result<(), Fault> {
        let saved = self.state.clone();
        let r = self.deliver_inner(ram, d);
        if r.is_err() {
            self.state = saved;
        }
        r
    }

    fn deliver_inner(&mut self, ram: &mut GuestRam, d: &Delivery) -> Result<(), Fault> {
        let new_cpl = (d.handler_cs & 3) as u8;
        if new_cpl > self.state.cpl {
            return Err(segments::selector_error(d.handler_cs));
        }
        let cs = segments::load_code_segment(&self.gdt, d.handler_cs)?;
        if d.handler_eip > cs.limit {
            return Err(Fault::gp0());
        }
        let eflags = d.pushed_eflags.unwrap_or(self.state.eflags);
        let (old_ss, old_esp) = (self.state.segs[SS].selector as u32, self.state.regs[ESP]);
        let old_cs = self.state.segs[CS].selector as u32;
        if new_cpl < self.state.cpl {
            let ss = segments::load_stack_segment(&self.gdt, d.kernel_ss, new_cpl)?;
            self.state.cpl = new_cpl;
            self.state.segs[SS] = ss;
            self.state.regs[ESP] = d.kernel_esp;
            self.push(ram, 4, old_ss)?;
            self.push(ram, 4, old_esp)?;
        }
        self.push(ram, 4, eflags)?;
        self.push(ram, 4, old_cs)?;
        self.push(ram, 4, self.state.eip)?;
        if let Some(e) = d.error_code {
            self.push(ram, 4, e)?;
        }
        self.state.segs[CS] = cs;
        self.state.eip = d.handler_eip;
        self.state.eflags &= !(TF | NT | RF | VM);
        Ok(())
    }
}
