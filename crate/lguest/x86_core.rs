//! The x86 half of the Host (drivers/lguest/x86/core.c): the switch into the Guest and back
//! (`lguest_arch_run_guest()`, with the Switcher's copying of registers in and out), and what the Host does
//! with the trap that brought it back (`lguest_arch_handle_trap()`): a hypercall is remembered, `in`/`out`
//! are emulated, a `vmcall` is rewritten, a page fault may be the shadow's to fix, and anything else is
//! reflected into the Guest or kills it.

use super::core::kill_guest;
use super::guest::GuestEngine;
use super::hypercalls::{data_put, hcall_name, lguest_data};
use super::interrupts_and_traps::{clockdev_fn, deliver_trap};
use super::lg::{LgCpu, Lguest};
use super::page_tables::{demand_page, guest_pa, guest_pagetable_clear_all};
use super::regs::LguestRegs;
use super::Recording;
use crate::cpu::script::{run_script, ScriptExit};
use crate::cpu::timeline::Timeline;
use crate::cpu::{Cpu, Exit, Fault};
use crate::kernel::Kernel;
use crate::params::{GUEST_SLICE, LGUEST_TRAP_ENTRY, PAGE_SIZE, TRIP_COST};

/// `SYSCALL_VECTOR`: the Guest's system calls (`int $0x80`), which lguest lets reach the Guest's own IDT.
const SYSCALL_VECTOR: u8 = 0x80;

/// How one trip into the Guest ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestExit {
    /// The Guest trapped to the Host: `regs.trapnum` and `regs.errcode` say why.
    Trap,
    /// The Guest is running and has done nothing the Host must see (a scripted Guest with an empty script,
    /// or real code that used up its time slice): the Launcher stays in `read()`.
    StillRunning,
}

/// X:300 `lguest_arch_run_guest()`: run the Guest's code until it traps back.
pub fn lguest_arch_run_guest(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) -> GuestExit {
    let pidx = k.proc_of(cpu.tsk);
    let limit = lg.pfn_limit as u64 * PAGE_SIZE as u64;
    // The call's work budget bounds the trip (see params::CALL_BUDGET); spent, the Guest waits for the next.
    if k.sched.budget.exhausted() {
        return GuestExit::StillRunning;
    }
    let slice = GUEST_SLICE.min(k.sched.budget.left);
    k.sched.budget.spend(TRIP_COST);
    let Kernel { procs, lguest, .. } = k;
    let Some(guest) = procs.get_mut(pidx).map(|p| &mut p.mm.guest) else { return GuestExit::StillRunning };
    let (exit, ran) = match &mut cpu.engine {
        GuestEngine::Scripted => {
            let exit = match run_script(&mut guest.script, &mut cpu.regs.esp, &mut guest.ram, limit) {
                ScriptExit::Hypercall { nr, args } => {
                    let r = &mut cpu.regs;
                    (r.eax, r.ebx, r.ecx, r.edx, r.esi) = (nr, args[0], args[1], args[2], args[3]);
                    (r.trapnum, r.errcode) = (LGUEST_TRAP_ENTRY as u32, 0);
                    // `int $0x1f` is two bytes; the Guest resumes after it.
                    r.eip = r.eip.wrapping_add(2);
                    GuestExit::Trap
                }
                ScriptExit::Trap { num, errcode, cr2 } => {
                    (cpu.regs.trapnum, cpu.regs.errcode) = (num, errcode);
                    if let Some(a) = cr2 {
                        cpu.cr2 = a;
                    }
                    GuestExit::Trap
                }
                ScriptExit::Idle => GuestExit::StillRunning,
            };
            (exit, 0)
        }
        GuestEngine::Cpu(core) => {
            // The Switcher loads cr3 with this cpu's shadow page directory (once the Guest pages at all).
            core.cr3 = lg.paging.then(|| lg.pgdirs[cpu.cpu_pgd].shadow.clone());
            if std::mem::take(&mut cpu.flush_pending) || cpu.seen_flushes != lg.flushes {
                // cr3 or a mapping changed: blocks decoded through the old one may be stale.
                core.flush_code_cache();
                cpu.seen_flushes = lg.flushes;
            }
            regs_to_cpu(&cpu.regs, core);
            let before = core.state.tsc;
            // Recording the Guest's timeline for the page: the same run, in chunks between checkpoints.
            let timeline: Option<&mut Timeline> = match &mut lguest.timeline {
                Some(rec) if rec.lg == lg.alloc && rec.cpu == cpu.id && rec.proc == pidx => Some(&mut *rec.timeline),
                Some(_) => None,
                None if lguest.recording => {
                    let rec = Recording { lg: lg.alloc, cpu: cpu.id, proc: pidx, timeline: Box::new(Timeline::new()) };
                    Some(&mut *lguest.timeline.insert(rec).timeline)
                }
                None => None,
            };
            let exit = match timeline.and_then(|tl| tl.run_trip(core, &mut guest.ram, slice, trip_ended)) {
                Some(exit) => exit,
                None => core.run(&mut guest.ram, slice),
            };
            // Back in the Host: cr3 is its own again (and the shadow tables can change without a copy).
            core.cr3 = None;
            cpu_to_regs(core, &mut cpu.regs);
            (trapped(exit, &mut cpu.regs, &mut cpu.cr2, &mut cpu.last_ud), core.state.tsc - before)
        }
    };
    k.sched.budget.spend(ran);
    // Simulated time moves with the Guest's work: one nanosecond per instruction (a 1 GHz Guest).
    if ran > 0 {
        k.now_ns = k.now_ns.saturating_add(ran);
        let now = k.now_ns;
        if lg.dead.is_none() {
            clockdev_fn(k, cpu, now);
        }
        k.run_timers(now);
    }
    if exit == GuestExit::Trap {
        let text = format!("the Guest traps to the Host: trap {:#x} at eip {:#x}", cpu.regs.trapnum, cpu.regs.eip);
        k.log.push("guest", "lguest_arch_run_guest", "X:300", text, &["cpu0.regs"]);
    }
    exit
}

/// The Switcher's way back: why the core stopped, as the trap number and error code in the saved registers.
fn trapped(exit: Exit, regs: &mut LguestRegs, cr2: &mut u32, last_ud: &mut Option<String>) -> GuestExit {
    match exit {
        Exit::Budget => GuestExit::StillRunning,
        Exit::Hypercall => {
            (regs.trapnum, regs.errcode) = (LGUEST_TRAP_ENTRY as u32, 0);
            GuestExit::Trap
        }
        Exit::Interrupt { vector } => {
            // On real hardware `int n` goes through the Switcher's IDT, whose gates only let ring 1 reach the
            // debug/breakpoint/overflow traps and the system-call vector; any other `int n` is a #GP with the
            // vector in the error code (reading of the gates).
            if matches!(vector, 1 | 3 | 4 | SYSCALL_VECTOR) {
                (regs.trapnum, regs.errcode) = (vector as u32, 0);
            } else {
                (regs.trapnum, regs.errcode) = (13, ((vector as u32) << 3) | 2);
            }
            GuestExit::Trap
        }
        Exit::Fault { fault } => {
            regs.trapnum = fault.vector() as u32;
            regs.errcode = fault.error_code().unwrap_or(0);
            if let Fault::PageFault { cr2: a, .. } = fault {
                *cr2 = a;
            }
            if let Fault::InvalidOpcode { what } = fault {
                *last_ud = Some(what);
            }
            GuestExit::Trap
        }
    }
}

/// X:301 `lguest_arch_handle_trap()`: a hypercall is remembered; other traps are handled here or reflected
/// to the Guest, and a trap nobody can take kills it.
pub fn lguest_arch_handle_trap(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) {
    let regs = cpu.regs;
    match regs.trapnum {
        n if n == LGUEST_TRAP_ENTRY as u32 => {
            cpu.hcall = Some(regs.hcall_args());
            k.ev("lguest_arch_handle_trap", format!("trap 0x1f is a hypercall: cpu->hcall = regs (call {})", regs.eax), &["cpu0.hcall"]);
            return;
        }
        13 | 6 => {
            if regs.trapnum == 13 && regs.errcode == 0 && emulate_insn(k, lg, cpu) {
                return;
            }
            // Under KVM vmcall is a #GP, normally a #UD: either way it may be the Guest's hypercall.
            if rewrite_hypercall(k, lg, cpu) {
                return;
            }
        }
        14 => {
            // demand_page(): the Guest's own tables may allow the access, and the shadow simply did not
            // have the entry yet. (While the Guest does not page, a #PF means "past pfn_limit", which no
            // page table can fix.)
            if lg.paging && demand_page(k, lg, cpu, cpu.cr2, regs.errcode) {
                return;
            }
            if lg.dead.is_some() {
                return;
            }
            if lg.lguest_data.is_some() && !data_put(k, lg, lguest_data::CR2, cpu.cr2) {
                kill_guest(k, lg, "Writing cr2".into());
            }
        }
        7 if cpu.ts == 0 => {
            k.ev("lguest_arch_handle_trap", "trap 7 with TS clear: nothing to do".into(), &[]);
            return;
        }
        n if n == SYSCALL_VECTOR as u32 => {}
        n @ 32..=255 => {
            k.ev("lguest_arch_handle_trap", format!("trap {n} was a Host interrupt: cond_resched() and go round again"), &[]);
            return;
        }
        _ => {}
    }
    let n = regs.trapnum;
    if deliver_trap(k, lg, cpu, n) {
        k.ev("lguest_arch_handle_trap", format!("trap {n} reflected through the Guest's IDT"), &["cpu0.regs"]);
        return;
    }
    let third = if n == 14 { cpu.cr2 } else { regs.errcode };
    let reason = format!("unhandled trap {} at {:#x} ({:#x})", n, regs.eip, third);
    if let Some(what) = cpu.last_ud.take().filter(|_| n == 6) {
        k.ev("lguest_arch_handle_trap", format!("the instruction at {:#x} was #UD: {what}", regs.eip), &[]);
    }
    kill_guest(k, lg, reason);
}

/// `emulate_insn()`: the Guest kernel's `in` and `out` (which trap at ring 1) are emulated: `in` reads all
/// ones, `out` goes nowhere, and the Guest continues after the instruction.
fn emulate_insn(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) -> bool {
    if cpu.regs.cs & 3 != 1 {
        return false;
    }
    // eip is a Guest virtual address: guest_pa() walks the Guest's tables once it pages.
    let Some(pa) = guest_pa(k, lg, cpu, cpu.regs.eip) else { return false };
    let Some(b) = super::core::lgread(k, lg, pa, 1) else { return false };
    let (mut insn, mut len, mut shift) = (b[0], 0u32, 0u32);
    if insn == 0x66 {
        shift = 16;
        len = 1;
        let Some(b2) = super::core::lgread(k, lg, pa.wrapping_add(1), 1) else { return false };
        insn = b2[0];
    }
    let is_in = match insn & 0xFE {
        0xE4 => {
            len += 2;
            true
        }
        0xEC => {
            len += 1;
            true
        }
        0xE6 => {
            len += 2;
            false
        }
        0xEE => {
            len += 1;
            false
        }
        _ => return false,
    };
    if is_in {
        if insn & 1 != 0 {
            cpu.regs.eax = if shift != 0 { (cpu.regs.eax & 0xFFFF_0000) | 0xFFFF } else { 0xFFFF_FFFF };
        } else {
            cpu.regs.eax |= 0xFF;
        }
    }
    cpu.regs.eip = cpu.regs.eip.wrapping_add(len);
    let what = if is_in { "in: the value read is all ones" } else { "out: the value goes nowhere" };
    k.ev("lguest_arch_handle_trap", format!("#GP(0) from an I/O instruction: emulate_insn() skips it ({what})"), &["cpu0.regs"]);
    true
}

/// `is_hypercall()` + `rewrite_hypercall()`: a `vmcall` at ring 1 becomes `int $0x1f; nop` in the Guest's
/// code, and the Guest runs it again.
fn rewrite_hypercall(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) -> bool {
    let regs = cpu.regs;
    if regs.cs & 3 != 1 {
        return false;
    }
    let pidx = k.proc_of(cpu.tsk);
    let GuestEngine::Cpu(core) = &mut cpu.engine else { return false };
    let Some(proc) = k.procs.get_mut(pidx) else { return false };
    // The instruction's address goes through the Guest's page tables as the core saw them.
    core.cr3 = lg.paging.then(|| lg.pgdirs[cpu.cpu_pgd].shadow.clone());
    let rewritten = core.rewrite_vmcall(&mut proc.mm.guest.ram, regs.eip);
    core.cr3 = None;
    if !rewritten {
        return false;
    }
    cpu.last_ud = None;
    k.ev("lguest_arch_handle_trap", format!("vmcall at {:#x} rewritten to int $0x1f; nop (cd 1f 90)", regs.eip), &["guest.code"]);
    // That write may have made the kernel copy a read-only page of the Guest's code: the shadow tables could
    // name the old copy, so they all go (rare enough not to matter).
    guest_pagetable_clear_all(k, lg, cpu);
    true
}

/// How a run of the Guest ended, in words, for its timeline.
fn trip_ended(exit: &Exit, core: &Cpu) -> String {
    let eax = core.state.regs[crate::cpu::EAX];
    match exit {
        Exit::Hypercall => format!("hypercall {eax} ({})", hcall_name(eax)),
        Exit::Fault { fault } => format!("trap {}: {fault}", fault.vector()),
        Exit::Interrupt { vector } => format!("int ${vector:#x}"),
        Exit::Budget => "its time slice ran out (the Host takes the CPU back)".to_string(),
    }
}

/// Copy the Host's saved registers into the core before it runs (the Switcher's restore half). Segment
/// registers are reloaded only when the Host changed the selector (interrupt delivery sets cs and ss).
pub fn regs_to_cpu(r: &LguestRegs, c: &mut Cpu) {
    use crate::cpu::segments::{self, CS, SS};
    use crate::cpu::{EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP};
    let st = &mut c.state;
    st.regs[EAX] = r.eax;
    st.regs[EBX] = r.ebx;
    st.regs[ECX] = r.ecx;
    st.regs[EDX] = r.edx;
    st.regs[ESI] = r.esi;
    st.regs[EDI] = r.edi;
    st.regs[EBP] = r.ebp;
    st.regs[ESP] = r.esp;
    st.eip = r.eip;
    st.eflags = r.eflags;
    if st.segs[CS].selector as u32 != r.cs & 0xffff {
        if let Ok(seg) = segments::load_code_segment(&c.gdt, r.cs as u16) {
            c.state.segs[CS] = seg;
            c.state.cpl = (r.cs & 3) as u8;
        }
    }
    if c.state.segs[SS].selector as u32 != r.ss & 0xffff {
        if let Ok(seg) = segments::load_stack_segment(&c.gdt, r.ss as u16, c.state.cpl) {
            c.state.segs[SS] = seg;
        }
    }
}

/// Copy the core's registers back into the Host's saved registers after it stopped.
pub fn cpu_to_regs(c: &Cpu, r: &mut LguestRegs) {
    use crate::cpu::segments::{CS, DS, ES, FS, GS, SS};
    use crate::cpu::{EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP};
    let st = &c.state;
    r.eax = st.regs[EAX];
    r.ebx = st.regs[EBX];
    r.ecx = st.regs[ECX];
    r.edx = st.regs[EDX];
    r.esi = st.regs[ESI];
    r.edi = st.regs[EDI];
    r.ebp = st.regs[EBP];
    r.esp = st.regs[ESP];
    r.eip = st.eip;
    r.eflags = st.eflags;
    r.cs = st.segs[CS].selector as u32;
    r.ss = st.segs[SS].selector as u32;
    r.ds = st.segs[DS].selector as u32;
    r.es = st.segs[ES].selector as u32;
    r.fs = st.segs[FS].selector as u32;
    r.gs = st.segs[GS].selector as u32;
}
