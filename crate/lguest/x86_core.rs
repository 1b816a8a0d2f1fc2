//! The x86 half of the Host (drivers/lguest/x86/core.c), and the Switcher's part of each trip
//! (crate::lguest::switcher): how the Guest gets onto the CPU and how it comes back.
//!
//! One trip, in the kernel's order:
//! 1. H:040 `lguest_arch_run_guest()`: `unlazy_fpu()` if the Guest asked to know about the FPU (`cpu->ts`),
//!    SYSENTER off (`MSR_IA32_SYSENTER_CS` = 0, so a `sysenter` in the Guest is #GP(0) rather than a jump
//!    into the Host's ring 0), then `run_guest_once()`, and SYSENTER back on (`__KERNEL_CS`) after it.
//! 2. S:010 `copy_in_guest_info()`: into this host CPU's `struct lguest_pages`: the Host's cr3,
//!    `map_switcher_in_guest()` (H:480: this cpu's registers page mapped where the Switcher keeps the Guest's
//!    registers), the TSS stack for traps from Guest user mode, and, if they `changed` (or another Guest or
//!    CPU ran here last: `lg_last_cpu`, `last_pages`), the IDT (`copy_traps()`) and the GDT.
//! 3. `trapnum = 256`, then the Switcher's way in (`switch_to_guest`): GDT, IDT, TSS, cr3, the Guest's
//!    registers popped off the regs page, `iret`. A bad segment there faults inside the Switcher, and trap
//!    256 (no such vector) comes back: the Guest dies with "unhandled trap 256".
//! 4. The Guest runs. A trap whose IDT gate is one of the Guest's trap gates goes straight into the Guest:
//!    the CPU pushes the frame and jumps, the Host never hears of it (`direct_trap()`, H:250). Anything else
//!    enters a Switcher stub, which leaves the vector and error code in the regs page and switches back.
//! 5. Back in `lguest_arch_run_guest()`, before interrupts come back on: cr2 saved for a page fault, or
//!    `math_state_restore()` for trap 7.
//! 6. H:050 `lguest_arch_handle_trap()`: a hypercall is remembered; `in`/`out`/`cli` are emulated
//!    (`emulate_insn()`, H:130); a `vmcall` is rewritten; a page fault may be the shadow's to fix; Host
//!    interrupts (32 to 255) are `cond_resched()` and back; anything else is reflected into the Guest
//!    (`deliver_trap()`) or kills it.
//!
//! The FPU's contents are not modelled. What the Host does with TS is: the Guest runs under the host CPU's
//! cr0, whose TS is set whenever the Launcher's FPU state is not loaded (`Lguests::host_ts`), so the core
//! raises #NM for the Guest's first FPU instruction (trap 7), `math_state_restore()` loads the state and
//! clears TS, and `lguest_arch_handle_trap()` reflects the trap if the Guest asked (`cpu->ts`), else lets
//! the Guest run the instruction again. With TS clear it reaches the FPU, which the core does not have: #UD.

use super::core::{kill_guest, lgread_or_zeroes, lgwrite};
use super::guest::GuestEngine;
use super::hypercalls::{data_put, hcall_name, lguest_data};
use super::interrupts_and_traps::{clockdev_fn, copy_traps, deliver_trap, has_err, idt_address, why_not_direct};
use super::lg::{LgCpu, Lguest, CHANGED_ALL, CHANGED_GDT, CHANGED_GDT_TLS, CHANGED_IDT, GUEST_PL};
use super::page_tables::{demand_page, guest_pa, guest_pagetable_clear_all};
use super::regs::LguestRegs;
use super::segments::{copy_gdt, copy_gdt_tls};
use super::switcher::{gate_dpl, gate_selector, goes_direct, stub_target, switch_to_guest, LOCAL_TIMER_VECTOR, RESCHEDULE_VECTOR, SWITCHER_TRAPNUM};
use super::Recording;
use crate::cpu::script::{run_script, ScriptExit};
use crate::cpu::timeline::Timeline;
use crate::cpu::{Cpu, Delivery, Exit, Fault};
use crate::kernel::Kernel;
use crate::params::{GUEST_SLICE, LGUEST_TRAP_ENTRY, PAGE_SHIFT, PAGE_SIZE, TRIP_COST};

/// The host CPU everything runs on (`raw_smp_processor_id()`): there is one.
const THIS_CPU: u32 = 0;

/// How one trip into the Guest ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestExit {
    /// The Guest is back in the Host: `regs.trapnum` and `regs.errcode` say why.
    Trap,
    /// The Guest is still running on its CPU (a scripted Guest with an empty script, or real code whose time
    /// slice in the simulation is up): the simulation lets other tasks run, and the Guest goes on from here.
    StillRunning,
}

/// H:040 `lguest_arch_run_guest()`: run the Guest until it traps back to the Host.
pub fn lguest_arch_run_guest(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) -> GuestExit {
    // The call's work budget bounds the trip (see params::CALL_BUDGET); spent, the Guest stays where it is
    // (running, if it was) until the next call.
    if k.sched.budget.exhausted() {
        return GuestExit::StillRunning;
    }
    let continuing = std::mem::take(&mut cpu.in_guest);
    if !continuing && cpu.ts != 0 {
        let text = if k.lguest.fpu_loaded {
            "cpu->ts is set: unlazy_fpu(current) saves the Launcher's FPU state and sets TS in cr0, so the Guest's first FPU instruction traps (7)"
        } else {
            "cpu->ts is set: unlazy_fpu(current) has nothing to save (the Launcher's FPU state is not loaded, so TS is already set in cr0): the Guest's first FPU instruction traps (7)"
        };
        k.lguest.fpu_loaded = false;
        k.ev("lguest_arch_run_guest", text.into(), &["host.ts"]);
    }
    if !continuing {
        sysenter_off(k);
    }
    let (exit, hw_cr2) = run_guest_once(k, lg, cpu, continuing);
    if exit == GuestExit::StillRunning {
        // Still in the Guest (the simulation paused it): SYSENTER stays off.
        cpu.in_guest = true;
        return exit;
    }
    sysenter_on(k);
    // Still with interrupts off: what an interrupt handler or a move to another CPU would lose.
    match cpu.regs.trapnum {
        14 => {
            cpu.cr2 = hw_cr2;
            k.ev(
                "lguest_arch_run_guest",
                format!("trap 14: read_cr2() = {hw_cr2:#x} into last_pagefault now, before an interrupt could fault and overwrite cr2"),
                &["cpu0.cr2"],
            );
        }
        7 => math_state_restore(k),
        _ => {}
    }
    exit
}

/// Before the trip into the Guest: `wrmsr(MSR_IA32_SYSENTER_CS, 0, 0)`. `sysenter` always enters ring 0, so
/// a Guest (or a program of its user mode) that tried it would land in the Host's kernel: with a null code
/// segment the CPU refuses it instead, #GP(0), which comes to the Host like any general protection fault.
/// The CPU assumed has SEP (`boot_cpu_has(X86_FEATURE_SEP)`), so the write is made.
fn sysenter_off(k: &mut Kernel) {
    let was = k.msr_sysenter_cs;
    k.msr_sysenter_cs = 0;
    k.ev(
        "lguest_arch_run_guest",
        format!("boot_cpu_has(X86_FEATURE_SEP): wrmsr(MSR_IA32_SYSENTER_CS, 0, 0) (it was {was:#x}): a sysenter in the Guest is #GP(0), not a jump into the Host's ring 0"),
        &["host.msr"],
    );
}

/// Back from the Guest, before anything else: `wrmsr(MSR_IA32_SYSENTER_CS, __KERNEL_CS, 0)`, so the Host's
/// own programs can use `sysenter` again.
fn sysenter_on(k: &mut Kernel) {
    k.msr_sysenter_cs = crate::kernel::KERNEL_CS;
    k.ev(
        "lguest_arch_run_guest",
        format!("wrmsr(MSR_IA32_SYSENTER_CS, __KERNEL_CS, 0): SYSENTER_CS is {:#x} again for the Host", crate::kernel::KERNEL_CS),
        &["host.msr"],
    );
}

/// `math_state_restore()`: after trap 7 the Launcher's FPU state is put back and TS cleared, before interrupts
/// come back on (it may sleep, and the task may then move to another CPU).
fn math_state_restore(k: &mut Kernel) {
    k.lguest.fpu_loaded = true;
    k.ev(
        "math_state_restore",
        "trap 7: math_state_restore() reloads the Launcher's FPU registers and clears TS in cr0 (until unlazy_fpu() saves them again, the Guest's FPU instructions reach the FPU)".into(),
        &["host.ts"],
    );
}

/// S:010 `copy_in_guest_info()`: make this host CPU's `struct lguest_pages` this Guest cpu's. If another Guest
/// (or this one on another CPU) ran here last, everything counts as changed.
pub fn copy_in_guest_info(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) {
    let me = (lg.alloc, cpu.id);
    let mut notes = Vec::new();
    if k.lguest.lg_last_cpu != Some(me) || cpu.last_pages != Some(THIS_CPU) {
        notes.push(match k.lguest.lg_last_cpu {
            None => "the first Guest cpu to run on this CPU: changed = CHANGED_ALL".to_string(),
            Some(_) if k.lguest.lg_last_cpu != Some(me) => "another Guest cpu ran here last (lg_last_cpu): changed = CHANGED_ALL".to_string(),
            Some(_) => "this cpu's last_pages are another CPU's: changed = CHANGED_ALL".to_string(),
        });
        k.lguest.lg_last_cpu = Some(me);
        cpu.last_pages = Some(THIS_CPU);
        cpu.changed = CHANGED_ALL;
    }
    k.lguest.pages.host_cr3 = Some(cpu.mm);
    map_switcher_in_guest(k, lg, cpu);
    let sv = k.lguest.syscall_vector();
    let pages = &mut k.lguest.pages;
    pages.tss_sp1 = cpu.esp1;
    pages.tss_ss1 = cpu.ss1;
    if cpu.changed & CHANGED_IDT != 0 {
        let n = copy_traps(cpu, &mut pages.guest_idt, sv);
        notes.push(format!("CHANGED_IDT: copy_traps() ({n} trap gate(s) go straight to the Guest)"));
    }
    if cpu.changed & CHANGED_GDT != 0 {
        copy_gdt(cpu, &mut pages.guest_gdt);
        notes.push("CHANGED_GDT: copy_gdt()".into());
    } else if cpu.changed & CHANGED_GDT_TLS != 0 {
        copy_gdt_tls(cpu, &mut pages.guest_gdt);
        notes.push("CHANGED_GDT_TLS: copy_gdt_tls()".into());
    }
    cpu.changed = 0;
    let copied = if notes.is_empty() { "nothing changed since the last run, so the IDT and GDT stay".to_string() } else { notes.join("; ") };
    k.ev("copy_in_guest_info", format!("host_cr3 saved; TSS ss1:sp1 = {:#x}:{:#x}; {copied}; changed = 0", cpu.ss1, cpu.esp1), &["switcher", "cpu0.changed"]);
}

/// H:480 `map_switcher_in_guest()`: the shadow page directory's top slot gets this CPU's Switcher pte page,
/// and this cpu's registers page is mapped over the first of this CPU's two Switcher pages, so the Switcher
/// pops the registers straight from it and saves them straight into it. (The x86 core cannot reach the
/// Switcher's 4 MB at all, so the shadow directory the core walks leaves that slot out.)
pub fn map_switcher_in_guest(k: &mut Kernel, _lg: &mut Lguest, cpu: &mut LgCpu) {
    let before = k.lguest.pages.regs_page.replace(cpu.regs_page);
    if before != Some(cpu.regs_page) {
        k.ev("map_switcher_in_guest", format!("the registers page (#{}) is now mapped at the Switcher's regs page for this CPU", cpu.regs_page), &["switcher"]);
    }
}

/// S:010 `run_guest_once()`: copy in, preset `trapnum` to 256, and through the Switcher into the Guest. With
/// `continuing` the Guest was already running (the simulation had paused it) and simply goes on. Returns how
/// the trip ended and the cr2 the CPU had for a page fault.
fn run_guest_once(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, continuing: bool) -> (GuestExit, u32) {
    if continuing && k.take_ipi(cpu.tsk) {
        deliver_to_host(k, cpu, RESCHEDULE_VECTOR, "the reschedule IPI kick_process() sent arrives while the Guest runs");
        return (GuestExit::Trap, 0);
    }
    let mut segs = None;
    if !continuing {
        copy_in_guest_info(k, lg, cpu);
        cpu.regs.trapnum = SWITCHER_TRAPNUM;
        let gdt = k.lguest.pages.gdt_table();
        match switch_to_guest(&gdt, &cpu.regs) {
            Ok(s) => segs = Some((gdt, s)),
            Err(f) => {
                k.ev(
                    "switch_to_guest",
                    format!(
                        "the Switcher pops {} = {:#x} and faults ({}): the fault lands in the Switcher itself, so trapnum is still 256",
                        f.register, f.selector, f.fault
                    ),
                    &["cpu0.regs"],
                );
                return (GuestExit::Trap, 0);
            }
        }
        k.ev(
            "switch_to_guest",
            format!(
                "the Switcher loads the Guest's GDT, IDT, TSS and cr3 (pgdirs[{}]), pops its registers and irets to {:#x}:{:#x}",
                cpu.cpu_pgd, cpu.regs.cs, cpu.regs.eip
            ),
            &[],
        );
    }
    // The Guest runs until a trap, or the next timer interrupt (any hrtimer: the Host CPU's local timer
    // interrupts whatever runs), or the end of the simulation's time slice.
    let now = k.now_ns;
    let deadline = [k.next_timer(), cpu.hrt_expires].into_iter().flatten().min();
    let budget = match deadline {
        Some(t) if t > now => (t - now).min(GUEST_SLICE),
        Some(_) => 1,
        None => GUEST_SLICE,
    }
    .min(k.sched.budget.left);
    // Each trip draws its instructions and TRIP_COST from the call's budget (params::CALL_BUDGET).
    k.sched.budget.spend(TRIP_COST);
    let (exit, hw_cr2, ran) = match &mut cpu.engine {
        GuestEngine::Scripted => run_scripted(k, lg, cpu, budget),
        GuestEngine::Cpu(_) => run_core(k, lg, cpu, segs, budget),
    };
    k.sched.budget.spend(ran);
    // Simulated time moves with the Guest's work: one nanosecond per instruction (a 1 GHz Guest).
    k.now_ns = k.now_ns.saturating_add(ran);
    let now = k.now_ns;
    let due = deadline.is_some_and(|t| t <= now);
    let exit = match exit {
        Some(trap) => {
            return_to_host(k, cpu, trap);
            // Interrupts come back on in run_guest(): a timer that fell due meanwhile runs then.
            fire_timers(k, cpu, now);
            GuestExit::Trap
        }
        None if due => {
            deliver_to_host(k, cpu, LOCAL_TIMER_VECTOR, "a timer interrupt arrives while the Guest runs");
            fire_timers(k, cpu, now);
            GuestExit::Trap
        }
        None => GuestExit::StillRunning,
    };
    (exit, hw_cr2)
}

/// The hrtimers due by `now` fire: this cpu's own (its Guest is lent out of the driver's table, so the
/// kernel's clock cannot see it) and every other.
fn fire_timers(k: &mut Kernel, cpu: &mut LgCpu, now: u64) {
    clockdev_fn(k, cpu, now, true);
    k.run_timers(now);
}

/// A trap as the Switcher's stub leaves it in the regs page.
#[derive(Clone, Copy, Debug)]
struct Trapped {
    num: u32,
    errcode: u32,
}

/// `deliver_to_host`: a Host interrupt (vector 32 to 255) while the Guest ran. The stub saves the Guest's
/// registers with the vector as trapnum, switches back and jumps to the Host's own handler, whose `iret`
/// lands in `run_guest_once()` as if the `lcall` returned.
fn deliver_to_host(k: &mut Kernel, cpu: &mut LgCpu, vector: u32, what: &str) {
    cpu.regs.trapnum = vector;
    cpu.regs.errcode = 0;
    k.log.push(
        "guest",
        "deliver_to_host",
        crate::tags::tag("deliver_to_host"),
        format!("{what}: vector {vector:#x} goes through the Switcher's deliver_to_host: trapnum = {vector}, the Host's handler runs, and the Host is back"),
        &["cpu0.regs"],
    );
}

/// `return_to_host`: the stub of vector `t.num` saved the Guest's registers, the vector and the error code in
/// the regs page and switched back to the Host's cr3, GDT, IDT and stack.
fn return_to_host(k: &mut Kernel, cpu: &mut LgCpu, t: Trapped) {
    cpu.regs.trapnum = t.num;
    cpu.regs.errcode = t.errcode;
    let why = if t.num == LGUEST_TRAP_ENTRY as u32 { "the hypercall trap".to_string() } else { why_not_direct(cpu, t.num, k.lguest.syscall_vector()) };
    let target = stub_target(t.num);
    let text =
        format!("trap {:#x} at eip {:#x} comes back through the Switcher's {target} (trapnum {}, errcode {:#x}): {why}", t.num, cpu.regs.eip, t.num, t.errcode);
    k.log.push("guest", "lguest_arch_run_guest", crate::tags::tag("lguest_arch_run_guest"), text, &["cpu0.regs"]);
}

/// What the Switcher's way in loaded: the GDT, and the segment registers with the ring they are for.
type Entered = ([u64; crate::cpu::segments::GDT_ENTRIES], ([crate::cpu::Segment; 6], u8));

/// The Guest on the x86 core, from the Switcher's `iret` (`segs`: the segment registers it loaded; `None`
/// when the Guest was already running) until a trap for the Host (`Some`) or the end of `budget` (`None`).
/// Traps whose gate goes straight into the Guest are delivered here, as the CPU does.
fn run_core(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, segs: Option<Entered>, budget: u64) -> (Option<Trapped>, u32, u64) {
    let pidx = k.proc_of(cpu.tsk);
    let Kernel { procs, lguest, log, .. } = k;
    let Some(ram) = procs.get_mut(pidx).map(|p| &mut p.mm.guest.ram) else { return (None, 0, 0) };
    let LgCpu { engine, regs, flush_pending, seen_flushes, last_ud, cpu_pgd, id, .. } = cpu;
    let GuestEngine::Cpu(core) = engine else { return (None, 0, 0) };
    // The Switcher's cr3: this cpu's shadow page directory, from the Guest's first instruction.
    core.cr3 = Some(lg.pgdirs[*cpu_pgd].shadow.clone());
    core.guest_tables = Some(lg.pgdirs[*cpu_pgd].gpgdir);
    if std::mem::take(flush_pending) || *seen_flushes != lg.flushes {
        // cr3 or a mapping changed: blocks decoded through the old one may be stale.
        core.flush_code_cache();
        *seen_flushes = lg.flushes;
    }
    // The Guest runs on the host CPU, with its MSRs as the Host left them.
    core.state.sysenter_cs = k.msr_sysenter_cs;
    if let Some((gdt, (s, cpl))) = segs {
        core.gdt = gdt;
        core.state.segs = s;
        core.state.cpl = cpl;
        regs_to_cpu(regs, core);
    }
    // The Guest runs under the host CPU's cr0: MP as Linux sets it on a CPU with an FPU, and TS as the lazy
    // FPU leaves it (set unless the Launcher's FPU state is loaded). An FPU instruction with TS set is #NM.
    let ts = if lguest.host_ts() { crate::cpu::CR0_TS } else { 0 };
    if core.state.cr0 & crate::cpu::CR0_TS != ts || core.state.cr0 & crate::cpu::CR0_MP == 0 {
        let text = if ts != 0 {
            "the host CPU's cr0 has TS set (the Launcher's FPU state is not loaded): the Guest's next FPU instruction (x87, MMX, SSE, or fwait) is #NM, trap 7 to the Host"
        } else {
            "the host CPU's cr0 has TS clear (math_state_restore() loaded the Launcher's FPU state): the Guest's FPU instructions reach the FPU"
        };
        log.push("guest", "lguest_arch_run_guest", crate::tags::tag("lguest_arch_run_guest"), text.into(), &[]);
    }
    core.state.cr0 = (core.state.cr0 & !crate::cpu::CR0_TS) | crate::cpu::CR0_MP | ts;
    let before = core.state.tsc;
    let pages = &lguest.pages;
    let mut trapped = None;
    // A software interrupt the gate refuses faults *at* the `int`: the core stopped after it, so the saved
    // eip goes back by the instruction's length (the core's own state is the Host's to overwrite).
    let mut rewind = 0u32;
    // A direct delivery changed the core after its trip was recorded: a run that ends there records one
    // more, empty, trip so the recording ends where the core is.
    let mut delivered = false;
    loop {
        let left = budget.saturating_sub(core.state.tsc - before);
        if left == 0 && !delivered {
            break;
        }
        // Recording the Guest's timeline for the page: the same run, in chunks between checkpoints.
        let timeline: Option<&mut Timeline> = match &mut lguest.timeline {
            Some(rec) if rec.lg == lg.alloc && rec.cpu == *id && rec.proc == pidx => Some(&mut *rec.timeline),
            Some(_) => None,
            None if lguest.recording => {
                let rec = Recording { lg: lg.alloc, cpu: *id, proc: pidx, timeline: Box::new(Timeline::new()) };
                Some(&mut *lguest.timeline.insert(rec).timeline)
            }
            None => None,
        };
        let exit = match timeline.and_then(|tl| tl.run_trip(core, ram, left, trip_ended)) {
            Some(exit) => exit,
            None if left == 0 => Exit::Budget,
            None => core.run(ram, left),
        };
        let (num, errcode, soft) = match &exit {
            Exit::Budget => break,
            Exit::Hypercall => {
                trapped = Some(Trapped { num: LGUEST_TRAP_ENTRY as u32, errcode: 0 });
                break;
            }
            Exit::Interrupt { vector } => (*vector as u32, 0, soft_int_len(core, ram, *vector)),
            Exit::Fault { fault } => {
                if let Fault::InvalidOpcode { what } = fault {
                    *last_ud = Some(what.clone());
                }
                (fault.vector() as u32, fault.error_code().unwrap_or(0), None)
            }
        };
        let (lo, hi) = pages.guest_idt[num as usize & 0xff];
        // `int n` (and int3, into) may only use a gate whose privilege is at least the caller's ring: the
        // CPU checks before it pushes anything, and the #GP names the vector.
        if let Some(len) = soft {
            if gate_dpl(lo, hi) < core.state.cpl as u32 {
                rewind = len;
                let err = (num << 3) | 2;
                let text = format!(
                    "int {num:#x} from ring {}: the IDT gate for it has privilege {}, so the CPU raises #GP({err:#x}) instead",
                    core.state.cpl,
                    gate_dpl(lo, hi)
                );
                log.push("guest", "copy_traps", crate::tags::tag("copy_traps"), text, &[]);
                trapped = Some(Trapped { num: 13, errcode: err });
                break;
            }
        }
        if !goes_direct(lo, hi) {
            trapped = Some(Trapped { num, errcode });
            break;
        }
        // The gate is the Guest's own trap gate: the CPU enters the Guest's handler itself.
        let from = (core.state.cpl, core.state.eip, core.state.regs[crate::cpu::ESP]);
        let d = Delivery {
            vector: num as u8,
            // Only exceptions push an error code; `int n` never does, whatever n is.
            error_code: (soft.is_none() && has_err(num)).then_some(errcode),
            handler_cs: gate_selector(lo, hi) as u16,
            handler_eip: idt_address(lo, hi),
            kernel_ss: pages.tss_ss1 as u16,
            kernel_esp: pages.tss_sp1,
            pushed_eflags: None,
        };
        let eflags = core.state.eflags;
        match core.deliver(ram, &d) {
            Ok(()) => {
                let esp = core.state.regs[crate::cpu::ESP];
                // The sentence is made only if the log keeps it (a Guest taking millions of traps fills it).
                // Written piece by piece into one buffer with room for the whole sentence: a kept trap costs
                // one allocation for its text, not one per piece and more as the text grows.
                let text = || {
                    use std::fmt::Write;
                    let mut t = String::with_capacity(400);
                    let _ = write!(
                        t,
                        "trap {num:#x} at eip {:#x} goes straight to the Guest: IDT entry {num} is the Guest's trap gate (copy_traps() copied it), so the CPU pushes eflags {eflags:#x} (IF as the hardware has it: always on), cs, eip",
                        from.1
                    );
                    if let Some(e) = d.error_code {
                        let _ = write!(t, ", error code {e:#x}");
                    }
                    if from.0 == 3 {
                        let _ = write!(t, " switching to the TSS stack {:#x}:{:#x}", pages.tss_ss1, pages.tss_sp1);
                    } else {
                        t.push_str(" on the same stack");
                    }
                    let _ = write!(t, ", esp {esp:#x}, and jumps to {:#x}:{:#x}; the Host never sees it", d.handler_cs, d.handler_eip);
                    t
                };
                log.push_with("guest", "direct_trap", crate::tags::tag("direct_trap"), text, &["cpu0.regs", "guest.memory"]);
                delivered = true;
            }
            Err(f) => {
                // Pushing the frame faulted (a stack the shadow page tables do not map yet, say): that fault
                // goes to the Host instead, with eip still at the instruction that trapped.
                rewind = soft.unwrap_or(0);
                let text = format!("trap {num:#x} would go straight to the Guest, but pushing its frame faults ({f}): that fault goes to the Host");
                log.push("guest", "direct_trap", crate::tags::tag("direct_trap"), text, &[]);
                if let Fault::PageFault { cr2, .. } = f {
                    core.state.cr2 = cr2;
                }
                trapped = Some(Trapped { num: f.vector() as u32, errcode: f.error_code().unwrap_or(0) });
                break;
            }
        }
    }
    let ran = core.state.tsc - before;
    cpu_to_regs(core, regs);
    regs.eip = regs.eip.wrapping_sub(rewind);
    let cr2 = core.state.cr2;
    if trapped.is_some() {
        // Back in the Host: cr3 is its own again (and the shadow tables can change without a copy).
        core.cr3 = None;
    }
    (trapped, cr2, ran)
}

/// How many bytes the software interrupt just executed was, if the interrupt was one (`int n` is two bytes,
/// `int3` and `into` one): the CPU checks a gate's privilege only for those, not for the single-step trap.
/// (The core reports `int n` and the single-step trap alike; its bytes tell them apart.)
fn soft_int_len(core: &Cpu, ram: &crate::guest_ram::GuestRam, vector: u8) -> Option<u32> {
    let cs = core.state.segs[crate::cpu::segments::CS].base;
    let at = |back: u32| core.peek(ram, cs.wrapping_add(core.state.eip.wrapping_sub(back)));
    if at(2) == Some(0xcd) && at(1) == Some(vector) {
        return Some(2);
    }
    match (vector, at(1)) {
        (3, Some(0xcc)) | (4, Some(0xce)) => Some(1),
        _ => None,
    }
}

/// The scripted Guest, for the same trip: its next moves come from the scenario. A trap it takes goes through
/// the same IDT as real code's would: straight into the Guest for one of its trap gates (the frame pushed
/// through the shadow page tables, as the CPU would), else to the Host.
fn run_scripted(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, _budget: u64) -> (Option<Trapped>, u32, u64) {
    let pidx = k.proc_of(cpu.tsk);
    let limit = lg.pfn_limit as u64 * PAGE_SIZE as u64;
    for _ in 0..crate::params::LOOP_CAP {
        let Kernel { procs, lguest, .. } = &mut *k;
        let Some(guest) = procs.get_mut(pidx).map(|p| &mut p.mm.guest) else { return (None, 0, 0) };
        let next = match cpu.retry_trap.take() {
            Some((num, errcode)) => ScriptExit::Trap { num, errcode, cr2: None },
            None => run_script(&mut guest.script, &mut cpu.regs.esp, &mut guest.next_call, &mut guest.ram, limit),
        };
        match next {
            ScriptExit::Hypercall { nr, args } => {
                let r = &mut cpu.regs;
                (r.eax, r.ebx, r.ecx, r.edx, r.esi) = (nr, args[0], args[1], args[2], args[3]);
                // `int $0x1f` is two bytes; the Guest resumes after it.
                r.eip = r.eip.wrapping_add(2);
                return (Some(Trapped { num: LGUEST_TRAP_ENTRY as u32, errcode: 0 }), 0, 0);
            }
            ScriptExit::Trap { num, errcode, cr2: Some(a) } => return (Some(Trapped { num, errcode }), a, 0),
            ScriptExit::Trap { num, errcode, cr2: None } => {
                let (lo, hi) = lguest.pages.guest_idt[num as usize & 0xff];
                if num >= 256 || !goes_direct(lo, hi) {
                    return (Some(Trapped { num, errcode }), 0, 0);
                }
                let (ss1, sp1) = (lguest.pages.tss_ss1, lguest.pages.tss_sp1);
                match push_frame(&lg.pgdirs[cpu.cpu_pgd].shadow, &mut guest.ram, lg.pfn_limit, &mut cpu.regs, num, errcode, (lo, hi), (ss1, sp1)) {
                    Ok(at) => {
                        let text = format!(
                            "trap {num:#x} goes straight to the Guest: IDT entry {num} is the Guest's trap gate, so the CPU pushes eflags {:#x} (IF always on), cs, eip at {at:#x} and jumps to {:#x}:{:#x}; the Host never sees it",
                            cpu.regs.eflags,
                            cpu.regs.cs,
                            cpu.regs.eip
                        );
                        k.log.push("guest", "direct_trap", crate::tags::tag("direct_trap"), text, &["cpu0.regs", "guest.memory"]);
                    }
                    Err(addr) => {
                        // The CPU faulted pushing the frame: the trapping instruction will run again once the
                        // Host has mapped the stack.
                        cpu.retry_trap = Some((num, errcode));
                        let text = format!(
                            "trap {num:#x} would go straight to the Guest, but pushing its frame at {addr:#x} page-faults (the shadow page tables do not map the stack yet): that fault goes to the Host"
                        );
                        k.log.push("guest", "direct_trap", crate::tags::tag("direct_trap"), text, &[]);
                        return (Some(Trapped { num: 14, errcode: 2 }), addr, 0);
                    }
                }
            }
            ScriptExit::Idle => return (None, 0, 0),
        }
    }
    (None, 0, 0)
}

/// What the CPU pushes for a trap through a trap gate (ss and esp first when it enters the Guest kernel from
/// Guest user mode, on the TSS stack), written through the shadow page tables the CPU walks. `Err` is the
/// address whose push page-faulted.
#[allow(clippy::too_many_arguments)] // the CPU's inputs for one delivery, each a separate piece of hardware state
fn push_frame(
    shadow: &crate::cpu::paging::PageDirectory,
    ram: &mut crate::guest_ram::GuestRam,
    pfn_limit: u32,
    regs: &mut LguestRegs,
    num: u32,
    errcode: u32,
    (lo, hi): (u32, u32),
    (ss1, sp1): (u32, u32),
) -> Result<u32, u32> {
    let user = regs.cs & 3 == 3;
    let (mut sp, ss) = if user { (sp1, ss1) } else { (regs.esp, regs.ss) };
    let mut words = Vec::new();
    if user {
        words.extend([regs.ss, regs.esp]);
    }
    words.extend([regs.eflags, regs.cs, regs.eip]);
    if has_err(num) {
        words.push(errcode);
    }
    let mut plan = Vec::new();
    for w in words {
        sp = sp.wrapping_sub(4);
        let phys = shadow.walk(sp, true, false).map_err(|_| sp)?;
        if phys >> PAGE_SHIFT >= pfn_limit || (phys & (PAGE_SIZE - 1)) > PAGE_SIZE - 4 {
            return Err(sp);
        }
        plan.push((phys, w));
    }
    for (phys, w) in plan {
        ram.write(phys, &w.to_le_bytes()).map_err(|_| phys)?;
    }
    regs.ss = ss;
    regs.esp = sp;
    regs.cs = gate_selector(lo, hi);
    regs.eip = idt_address(lo, hi);
    Ok(sp)
}

/// H:050 `lguest_arch_handle_trap()`: a hypercall is remembered; other traps are handled here or reflected
/// to the Guest, and a trap nobody can take kills it.
pub fn lguest_arch_handle_trap(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) {
    let regs = cpu.regs;
    match regs.trapnum {
        13 | 6 => {
            if regs.trapnum == 13 && regs.errcode == 0 && emulate_insn(k, lg, cpu) {
                return;
            }
            // Under KVM vmcall is a #GP, normally a #UD: either way it may be the Guest's hypercall.
            if is_hypercall(k, lg, cpu) {
                rewrite_hypercall(k, lg, cpu);
                return;
            }
        }
        14 => {
            // demand_page(): the Guest's own tables may allow the access, and the shadow simply did not
            // have the entry yet.
            if demand_page(k, lg, cpu, cpu.cr2, regs.errcode) {
                return;
            }
            if lg.lguest_data.is_some() && !data_put(k, lg, lguest_data::CR2, cpu.cr2) {
                kill_guest(k, lg, "Writing cr2".into());
            }
        }
        7 => {
            if cpu.ts == 0 {
                k.ev(
                    "lguest_arch_handle_trap",
                    "trap 7 and cpu->ts is clear: the Guest did not ask to know, and the FPU is already restored: the Guest goes on at the same instruction, which runs again with TS clear".into(),
                    &[],
                );
                return;
            }
            k.ev("lguest_arch_handle_trap", "trap 7 and cpu->ts is set: the Guest wants its #NM, so it is reflected".into(), &[]);
        }
        n @ 32..=255 => {
            let what = match n {
                LOCAL_TIMER_VECTOR => "the Host's timer interrupt",
                RESCHEDULE_VECTOR => "the reschedule IPI",
                128 => "the Guest's int $0x80 through an interrupt gate, which the Switcher sends back like a Host interrupt",
                _ => "a Host interrupt",
            };
            k.ev("lguest_arch_handle_trap", format!("trap {n} is {what}; its Host handler has run: cond_resched(), then run the Guest again"), &[]);
            return;
        }
        n if n == LGUEST_TRAP_ENTRY as u32 => {
            cpu.hcall = Some(regs.hcall_args());
            k.ev("lguest_arch_handle_trap", format!("trap 0x1f is a hypercall: cpu->hcall = regs (call {})", regs.eax), &["cpu0.hcall"]);
            return;
        }
        _ => {}
    }
    // Even a Guest killed above (a "bad read address" of is_hypercall(), "Writing cr2") has its trap
    // delivered, as in the kernel: run_guest() sees it dead only afterwards.
    let n = regs.trapnum;
    if n == 6 {
        if let Some(what) = cpu.last_ud.as_deref().filter(|w| fpu_not_modelled(w)) {
            let text = format!(
                "the instruction at {:#x} reached the FPU with TS clear: {what}. A real P6 would run it on the Launcher's FPU registers; this simulator does not model the FPU, so the core raises #UD instead",
                regs.eip
            );
            k.ev("lguest_arch_handle_trap", text, &[]);
        }
    }
    if deliver_trap(k, lg, cpu, n) {
        k.ev("lguest_arch_handle_trap", format!("trap {n} reflected through the Guest's IDT: set_guest_interrupt() built the frame"), &["cpu0.regs"]);
        return;
    }
    let third = if n == 14 { cpu.cr2 } else { regs.errcode };
    let reason = format!("unhandled trap {} at {:#x} ({:#x})", n, regs.eip, third);
    // (An FPU instruction's #UD was explained above.)
    if let Some(what) = cpu.last_ud.take().filter(|w| n == 6 && !fpu_not_modelled(w)) {
        k.ev("lguest_arch_handle_trap", format!("the instruction at {:#x} was #UD: {what}", regs.eip), &[]);
    }
    if n == SWITCHER_TRAPNUM {
        k.ev(
            "lguest_arch_handle_trap",
            "trapnum 256 is no vector: the Switcher faulted on its way into the Guest (a segment register it could not load)".into(),
            &[],
        );
    }
    kill_guest(k, lg, reason);
}

/// H:020 `lguest_arch_host_init()` (module load, last): the Switcher's trap stubs moved (their addresses in
/// `default_idt_entries` get `switcher_offset()`, the distance to the copy at 0xFFC00000); this CPU's
/// `struct lguest_pages` filled with what does not depend on the Guest (the Host's GDT and IDT descriptors,
/// the Guest's, the TSS stack for traps at the end of the registers, the Switcher's GDT and IDT entries);
/// the Switcher's two segments put in the Host's GDT too; `lguest_entry`, the far pointer the Host
/// `lcall`s; and PGE turned off on every CPU. Global pages survive a cr3 load, and the Host's are marked
/// global: the Switcher loads the Guest's cr3 behind the Host's back, and a stale global entry would then
/// translate a Guest address the Host's way.
pub fn lguest_arch_host_init(k: &mut Kernel) {
    super::core::module_ev(
        k,
        "lguest_arch_host_init",
        "default_idt_entries += switcher_offset(); lguest_pages: host and guest GDT/IDT descriptors, TSS sp0 = the end of the registers page, ss0 = LGUEST_DS, no I/O bitmap, default GDT and IDT entries; LGUEST_CS and LGUEST_DS in the Host's GDT; lguest_entry = switch_to_guest at LGUEST_CS; cpu_has_pge: adjust_pge(0) on each CPU clears CR4.PGE, and X86_FEATURE_PGE is cleared".into(),
    );
}

/// `lguest_arch_host_fini()` (module unload, last): the CPU had PGE before the load turned it off, so the
/// feature bit is set again and `adjust_pge(1)` turns CR4.PGE back on on each CPU.
pub fn lguest_arch_host_fini(k: &mut Kernel) {
    super::core::module_ev(k, "lguest_arch_host_fini", "cpu_had_pge: X86_FEATURE_PGE set again, and adjust_pge(1) on each CPU sets CR4.PGE".into());
}

/// Is this #UD's reason (the core's words) an FPU instruction the core does not model?
fn fpu_not_modelled(what: &str) -> bool {
    ["(x87 FPU not modelled)", "(MMX not modelled)", "(SSE not modelled)"].iter().any(|s| what.ends_with(s))
}

/// H:130 `emulate_insn()`: a #GP(0) at ring 1 may be one of the instructions the Guest kernel cannot run
/// there: `cli` (which the cmpxchg8b emulation of early boot uses) is skipped; `in` reads all ones (the
/// kernel's rule: a 16- or 32-bit `in` sets all of eax, an 8-bit one ORs 0xFFFF into it, shifted by 16 with
/// the 0x66 prefix); `out` goes nowhere. The Guest continues after the instruction.
///
/// The kernel's order: eip goes through `guest_pa()` first (which may kill the Guest even when the trap
/// came from its user mode), then the ring is checked, then each instruction byte is one `lgread()` of a
/// byte. A read `lguest_address_ok()` refuses kills the Guest and reads as 0, which is no instruction this
/// knows: the trap goes on to `is_hypercall()`.
fn emulate_insn(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) -> bool {
    // eip is a Guest virtual address: guest_pa() walks the Guest's tables for it.
    let physaddr = guest_pa(k, lg, cpu, cpu.regs.eip);
    if cpu.regs.cs & 3 != GUEST_PL {
        return false;
    }
    let (mut insn, mut len, mut shift) = (lgread_or_zeroes(k, lg, physaddr, 1)[0], 0u32, 0u32);
    if insn == 0xfa {
        cpu.regs.eip = cpu.regs.eip.wrapping_add(1);
        k.ev(
            "emulate_insn",
            format!("#GP(0) from cli at {:#x}: emulate_insn() skips it (the Guest's interrupts stay as they were)", cpu.regs.eip - 1),
            &["cpu0.regs"],
        );
        return true;
    }
    if insn == 0x66 {
        shift = 16;
        len = 1;
        insn = lgread_or_zeroes(k, lg, physaddr.wrapping_add(len), 1)[0];
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
            cpu.regs.eax = 0xFFFF_FFFF;
        } else {
            cpu.regs.eax |= 0xFFFF << shift;
        }
    }
    cpu.regs.eip = cpu.regs.eip.wrapping_add(len);
    let what = if is_in { format!("in: eax = {:#x}", cpu.regs.eax) } else { "out: the value goes nowhere".into() };
    k.ev("emulate_insn", format!("#GP(0) from an I/O instruction: emulate_insn() skips it ({what})"), &["cpu0.regs"]);
    true
}

/// The bytes of `vmcall` (0f 01 c1), which the KVM way of making a hypercall uses.
const VMCALL: [u8; 3] = [0x0f, 0x01, 0xc1];
/// What `rewrite_hypercall()` puts over it: `int $0x1f; nop` (cd 1f 90).
const INT_1F_NOP: [u8; 3] = [0xcd, LGUEST_TRAP_ENTRY, 0x90];

/// H:050 `is_hypercall()`: a trap from the Guest kernel (ring 1) whose instruction is `vmcall`. eip goes
/// through `guest_pa()`, and all three bytes are read at once with `__lgread()`: a range that reaches the
/// end of the Guest's memory (`lguest_address_ok()` refuses even one ending exactly at `pfn_limit`) kills
/// the Guest with "bad read address" and reads as zeroes, so it is not a `vmcall`.
fn is_hypercall(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) -> bool {
    if cpu.regs.cs & 3 != GUEST_PL {
        return false;
    }
    let physaddr = guest_pa(k, lg, cpu, cpu.regs.eip);
    let insn = lgread_or_zeroes(k, lg, physaddr, VMCALL.len() as u32);
    insn == VMCALL
}

/// H:050 `rewrite_hypercall()`: the `vmcall` becomes `int $0x1f; nop` in the Guest's code, written with
/// `__lgwrite()` at the Guest-physical address `guest_pa()` gives for eip (out of range: "bad write
/// address"), and the Guest runs it again. The write may have made the kernel copy a read-only page of the
/// Guest's code, which the shadow tables could still name: they all go, whether the write worked or not
/// (rare enough not to matter).
fn rewrite_hypercall(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) {
    let eip = cpu.regs.eip;
    let physaddr = guest_pa(k, lg, cpu, eip);
    if lgwrite(k, lg, physaddr, &INT_1F_NOP) {
        cpu.last_ud = None;
        k.ev("rewrite_hypercall", format!("vmcall at {eip:#x} (Guest-physical {physaddr:#x}) rewritten to int $0x1f; nop (cd 1f 90)"), &["guest.code"]);
    }
    guest_pagetable_clear_all(k, lg, cpu);
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

/// The Switcher's pops of the general registers, eip and eflags off the regs page (the segment registers
/// come from [`switch_to_guest`]).
pub fn regs_to_cpu(r: &LguestRegs, c: &mut Cpu) {
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
}

/// `SWITCH_TO_HOST`'s pushes: the core's registers back into the regs page.
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
