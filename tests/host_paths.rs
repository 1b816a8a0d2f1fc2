//! The Host's paths around the Guest's trip, each held to drivers/lguest of 2.6.39 with the scripted Guest:
//! the Switcher's copying (`copy_in_guest_info()`, the `changed` flags, `lg_last_cpu`), its own fault (trap
//! 256), the FPU's TS bit, `kick_process()` on a running Guest, a dead Guest's timer, and what
//! `guest_set_stack()` keeps when it kills.

use lguest_sim::kernel::Kernel;
use lguest_sim::lguest::lg::{Dead, LgCpu, CHANGED_GDT, CHANGED_IDT};
use lguest_sim::scenario::{parse, replay, Runner};

fn cpu0(k: &Kernel, g: usize) -> &LgCpu {
    &k.lguest.get(g).expect("the Guest lives").cpus[0]
}

fn dead(k: &Kernel, g: usize) -> Option<String> {
    match &k.lguest.get(g)?.lg.dead {
        Some(Dead::Reason { text, .. }) => Some(text.clone()),
        Some(Dead::Err { errno }) => Some(errno.to_string()),
        None => None,
    }
}

fn texts<'a>(k: &'a Kernel, func: &str) -> Vec<&'a str> {
    k.log.iter().filter(|e| e.func == func).map(|e| &*e.text).collect()
}

/// Run lines one by one on a fresh Launcher; each must hold.
fn run(src: &str) -> Runner {
    let mut r = Runner::default();
    for l in parse(src).unwrap() {
        let s = r.run_line(&l);
        assert!(s.ok, "line {}: {}: {:?}", l.number, l.source, s.message);
    }
    r
}

#[test]
fn a_gdt_change_is_copied_before_the_next_run_and_a_bad_segment_faults_in_the_switcher() {
    // LOAD_GDT_ENTRY only marks the GDT changed; copy_in_guest_info() copies it on the way in.
    let r = run(
        "open\nwrite INITIALIZE\nguest init 0x5000\nguest notify 0x8000\nread => 4 notify=0x8000\nguest hypercall LOAD_GDT_ENTRY 6 0x0000ffff 0x00cf9200\n",
    );
    let k = &r.kernel;
    assert_eq!(cpu0(k, 0).changed, 0, "the run after LGUEST_INIT copied everything");
    let r = run(
        "open\nwrite INITIALIZE\nguest init 0x5000\nguest hypercall LOAD_GDT_ENTRY 6 0x0000ffff 0x00cf9200\nguest notify 0x8000\nread => 4 notify=0x8000\n",
    );
    let copies = texts(&r.kernel, "copy_in_guest_info");
    assert!(copies[0].contains("the first Guest cpu to run on this CPU: changed = CHANGED_ALL"), "{copies:?}");
    assert!(copies.iter().any(|t| t.contains("CHANGED_GDT: copy_gdt()")), "{copies:?}");
    assert!(copies.iter().any(|t| t.contains("nothing changed since the last run")), "{copies:?}");
    assert_eq!(cpu0(&r.kernel, 0).changed, 0);
    // The Guest's kernel data segment replaced by an empty descriptor: the Switcher's pop of %ds faults
    // before any Guest instruction, trapnum stays 256, and deliver_trap() cannot take 256 (segments.c H:630).
    let r = replay("open\nwrite INITIALIZE\nguest init 0x5000\nguest hypercall LOAD_GDT_ENTRY 13 0 0\nread => -ENOENT\nread len=100 => 37 reason=\"unhandled trap 256 at 0x100004 (0x0)\"\n").unwrap();
    let sw = texts(&r.kernel, "switch_to_guest");
    assert!(sw.iter().any(|t| t.contains("pops %ds = 0x69 and faults")), "{sw:?}");
}

#[test]
fn an_idt_change_sets_changed_and_another_guest_makes_everything_change() {
    let mut r = Runner::default();
    for l in parse("open\nwrite INITIALIZE\nguest init 0x5000\nguest notify 0x8000\nread => 4 notify=0x8000\n").unwrap() {
        assert!(r.run_line(&l).ok);
    }
    // The scripted Guest's hypercall is made on its next run; catch it between the two halves of the trip.
    let g = r.kernel.lguest.last().unwrap().0;
    {
        let mut guest = r.kernel.lguest.guests[g].take().unwrap();
        let (lg, cpu) = (&mut guest.lg, &mut guest.cpus[0]);
        lguest_sim::lguest::interrupts_and_traps::load_guest_idt_entry(&mut r.kernel, lg, cpu, 33, 0x0061_1000, 0x0010_ae00);
        assert_eq!(cpu.changed & CHANGED_IDT, CHANGED_IDT);
        assert_eq!(cpu.changed & CHANGED_GDT, 0);
        r.kernel.lguest.guests[g] = Some(guest);
    }
    // A second Guest on the same host CPU, then the first again: each time lg_last_cpu says another ran.
    let src = "open => fd 4\nwrite INITIALIZE file=4\nguest init 0x5000\nguest notify 0x8000\nread file=4 => 4 notify=0x8000\nguest notify 0x8000\nread file=3 => 4 notify=0x8000\n";
    for l in parse(src).unwrap() {
        let s = r.run_line(&l);
        assert!(s.ok, "{}: {:?}", l.source, s.message);
    }
    let copies = texts(&r.kernel, "copy_in_guest_info");
    let others = copies.iter().filter(|t| t.contains("another Guest cpu ran here last (lg_last_cpu)")).count();
    assert_eq!(others, 2, "{copies:#?}");
    assert!(copies.last().unwrap().contains("copy_traps() (0 trap gate(s)"), "the first Guest's IDT is copied again: {copies:#?}");
}

#[test]
fn trap_7_is_the_guests_only_when_it_asked_with_lhcall_ts() {
    // TS set: unlazy_fpu() before the run, math_state_restore() after trap 7, and the trap is reflected.
    let r = run("open\nwrite INITIALIZE\nguest init 0x5000\nguest stack 0x9000\nguest hypercall LOAD_IDT_ENTRY 7 0x00611000 0x0010ae00\nguest hypercall TS 1\nguest trap 7\nguest notify 0x8000\nread => 4 notify=0x8000\nexpect cpu0.eip = 0x101002\n");
    let k = &r.kernel;
    assert!(texts(k, "lguest_arch_run_guest").iter().any(|t| t.contains("unlazy_fpu(current)")));
    assert!(texts(k, "math_state_restore").iter().any(|t| t.contains("clears TS")));
    assert!(texts(k, "lguest_arch_handle_trap").iter().any(|t| t.contains("cpu->ts is set: the Guest wants its #NM")));
    // The handler's next run: cpu->ts is still set (the Guest clears it with LHCALL_TS 0), so unlazy_fpu()
    // ran again and TS is set once more.
    assert_eq!(texts(k, "lguest_arch_run_guest").iter().filter(|t| t.contains("unlazy_fpu(current)")).count(), 2);
    assert!(k.lguest.host_ts());
    // TS clear: the trap is the Host's alone; the Guest goes on where it was, its handler never runs.
    let r = run("open\nwrite INITIALIZE\nguest init 0x5000\nguest stack 0x9000\nguest hypercall LOAD_IDT_ENTRY 7 0x00611000 0x0010ae00\nguest trap 7\nguest notify 0x8000\nread => 4 notify=0x8000\nexpect cpu0.eip = 0x100006\n");
    let k = &r.kernel;
    assert!(!texts(k, "lguest_arch_run_guest").iter().any(|t| t.contains("unlazy_fpu")));
    assert!(texts(k, "lguest_arch_handle_trap").iter().any(|t| t.contains("cpu->ts is clear")));
}

#[test]
fn an_interrupt_for_a_running_guest_kicks_it_out_and_run_guest_goes_round() {
    // main's Guest is running (a scripted Guest with nothing to do): the thread's LHREQ_IRQ finds the task
    // running, not asleep, so set_interrupt() kick_process()es it: the reschedule IPI takes the Guest out
    // through deliver_to_host, the Host does cond_resched(), and run_guest() goes round and delivers irq 1.
    let r = run("open\nwrite INITIALIZE\nguest init 0x5000\nguest stack 0x9000\nguest poke 0x5000 512\nguest hypercall LOAD_IDT_ENTRY 33 0x00611000 0x0010ae00\nguest notify 0x8000\nread => 4 notify=0x8000\nread => blocked\nthread dev\nas dev: write IRQ 1 => 0\nguest notify 0x8100\nwait => 4 notify=0x8100\nexpect cpu0.irqs_pending = 0\nexpect cpu0.eip = 0x101002\n");
    let k = &r.kernel;
    assert!(
        texts(k, "set_interrupt").iter().any(|t| t.contains("kick_process(cpu->tsk): it is running the Guest on another CPU")),
        "{:?}",
        texts(k, "set_interrupt")
    );
    let ev: Vec<(&str, &str)> = k.log.iter().map(|e| (e.func, &*e.text)).collect();
    let ipi = ev.iter().position(|(f, t)| *f == "deliver_to_host" && t.contains("reschedule IPI")).expect("the IPI arrives");
    let resched = ev.iter().position(|(f, t)| *f == "lguest_arch_handle_trap" && t.contains("trap 253 is the reschedule IPI")).expect("cond_resched()");
    let delivered = ev.iter().position(|(f, t)| *f == "try_deliver_interrupt" && t.contains("deliver irq 1")).expect("irq 1 delivered");
    assert!(ipi < resched && resched < delivered);
    // An interrupt for a task that is not running the Guest just sets the bit: nothing to kick.
    let r = run("open\nwrite INITIALIZE\nguest init 0x5000\nguest notify 0x8000\nread => 4 notify=0x8000\nwrite IRQ 1 => 0\n");
    assert!(texts(&r.kernel, "set_interrupt").iter().any(|t| t.contains("kick_process(cpu->tsk) does nothing")));
}

#[test]
fn a_signal_kicks_a_running_guest_too() {
    let r =
        run("open\nwrite INITIALIZE\nguest init 0x5000\nguest notify 0x8000\nread => 4 notify=0x8000\nread => blocked\nsignal main\nwait => -ERESTARTSYS\n");
    assert!(texts(&r.kernel, "deliver_to_host").iter().any(|t| t.contains("reschedule IPI")));
}

#[test]
fn a_dead_guests_hrtimer_still_fires_until_close() {
    // The Guest arms its clock, then dies; the hrtimer is only cancelled by close() (lguest_user.c), so it
    // still fires and sets irq 0.
    let r = run("open\nwrite INITIALIZE\nguest init 0x5000\nguest hypercall SET_CLOCKEVENT 1000\nguest hypercall 99\nread => -ENOENT\nadvance 5000\n");
    assert!(dead(&r.kernel, 0).is_some());
    assert_eq!(cpu0(&r.kernel, 0).irqs_pending & 1, 1, "the dead Guest's timer raised irq 0");
    assert!(texts(&r.kernel, "clockdev_fn").iter().any(|t| t.contains("fires")));
}

#[test]
fn guest_set_stack_keeps_what_it_was_given_even_when_it_kills() {
    let r = run("open\nwrite INITIALIZE\nguest init 0x5000\nguest hypercall SET_STACK 0x68 0x3000 1\nread => -ENOENT\n");
    let c = cpu0(&r.kernel, 0);
    assert_eq!((c.ss1, c.esp1), (0x68, 0x3000));
    assert_eq!(r.kernel.lguest.get(0).unwrap().lg.stack_pages, 1);
    assert_eq!(dead(&r.kernel, 0).as_deref(), Some("bad stack segment 104"));
    // Both checks fail: the first reason is the one kept.
    let r = run("open\nwrite INITIALIZE\nguest init 0x5000\nguest hypercall SET_STACK 0x68 0x3000 3\nread => -ENOENT\n");
    assert_eq!(dead(&r.kernel, 0).as_deref(), Some("bad stack segment 104"));
    assert_eq!(r.kernel.lguest.get(0).unwrap().lg.stack_pages, 3);
}
