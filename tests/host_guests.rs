//! Real Guest programs (GNU as, `tests/guests/host/*.S` and the course's `lessons/guests/hello.S`) booted by the simulated Launcher: hello through the
//! early console, timer interrupts, the async ring, a fatal fault, vmcall and in/out, a bad NOTIFY, the Host's
//! own read of a trapping instruction killing the Guest. Each is
//! built at test time with `as --32` and `ld -m elf_i386`, then run both through the library and through
//! the `lguest-sim run` command, whose output and exit status must be the real Launcher's.

use std::path::{Path, PathBuf};
use std::process::Command;

use lguest_sim::scenario::launch::launch;

mod guest_build;

fn build(name: &str) -> PathBuf {
    // The course's own hello.S doubles as the smallest test Guest; the rest live in tests/guests/host.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = if name == "hello" { root.join("lessons/guests") } else { root.join("tests/guests/host") };
    guest_build::build(&dir, name)
}

/// (program, stdout, stderr, exit status)
const CASES: &[(&str, &str, &str, i32)] = &[
    ("hello", "Hello from the Guest!\n", "lguest: CRASH: Power down\n", 1),
    ("timer", "ticks: 3\n", "lguest: CRASH: Power down\n", 1),
    ("async", "queued in the ring\nslot handed back\n", "lguest: CRASH: Power down\n", 1),
    ("divzero", "", "lguest: unhandled trap 0 at 0x100013 (0x0)\n", 1),
    ("vmcall_io", "vmcall and in/out work\n", "lguest: CRASH: Power down\n", 1),
    ("badnotify", "", "lguest: Bad NOTIFY 0x7ff0000\n", 1),
    ("emulate", "cli skipped\ninb: eax = 0x1234ffff\ninw: eax = 0xffffffff\ninl: eax = 0xffffffff\nout went nowhere\n", "lguest: CRASH: Power down\n", 1),
    (
        "traps",
        "int3 went straight to the Guest (frame IF on)\nint $4 was reflected by the Host (frame IF off)\n#GP(0x202) for int $0x40\n#GP(0x402) for int $0x80\nint $0x80 went straight to the Guest\nint $0x80 through an interrupt gate: cond_resched(), no handler ran\n",
        "lguest: CRASH: Power down\n",
        1,
    ),
    ("frame_wrap", "", "lguest: bad write address 0xfffffffc len 4\n", 1),
    ("sysenter", "sysenter: #GP(0), SYSENTER_CS is 0 while the Guest runs\nsysexit: #GP(0)\n", "lguest: CRASH: Power down\n", 1),
    (
        "fpu",
        "fwait ran after the Host's trap 7\nfld1: #UD (the FPU is not modelled)\n#NM reflected to the Guest\nfld1: #UD (the FPU is not modelled)\n",
        "lguest: CRASH: Power down\n",
        1,
    ),
];

#[test]
fn guests_run_as_under_the_real_launcher() {
    for (name, out, err, code) in CASES {
        let elf = build(name);
        let image = std::fs::read(&elf).unwrap();
        let r = launch(&image, 32);
        assert_eq!(String::from_utf8_lossy(&r.stdout), *out, "{name}: stdout");
        assert_eq!(r.stderr, *err, "{name}: stderr");
        assert_eq!(r.exit_code, *code, "{name}: exit status");
    }
}

#[test]
fn an_fpu_instruction_under_ts_is_trap_7_reflected_only_when_the_guest_asked() {
    // tests/guests/host/fpu.S: what the Host did, in order, for each of its FPU instructions.
    let image = std::fs::read(build("fpu")).unwrap();
    let (mut m, r) = lguest_sim::scenario::launch::boot(&image, 32);
    r.unwrap();
    let res = lguest_sim::scenario::launch::run_guest(&mut m);
    assert!(String::from_utf8_lossy(&res.stdout).ends_with("fld1: #UD (the FPU is not modelled)\n"));
    // The story, event by event (only the FPU's part of it).
    let fpu = |f: &str, t: &str| {
        f == "math_state_restore"
            || (f == "lguest_arch_handle_trap" && (t.contains("trap 7") || t.contains("reached the FPU") || t.starts_with("trap 6 reflected")))
            || (f == "lguest_arch_run_guest" && (t.contains("TS") || t.contains("cpu->ts")))
            || (f == "do_hcall" && t.contains("cpu->ts"))
    };
    let story: Vec<String> = m.log.iter().filter(|e| fpu(e.func, &e.text)).map(|e| format!("{}: {}", e.func, e.text)).collect();
    let expect = [
        // 1. cpu->ts clear, but TS set: the Launcher's FPU state is not loaded.
        "lguest_arch_run_guest: the host CPU's cr0 has TS set",
        "lguest_arch_run_guest: trap 0x7 at eip 0x",
        "math_state_restore: trap 7: math_state_restore() reloads the Launcher's FPU registers and clears TS",
        "lguest_arch_handle_trap: trap 7 and cpu->ts is clear: the Guest did not ask to know",
        "lguest_arch_run_guest: the host CPU's cr0 has TS clear",
        // 2. fld1 with TS clear: #UD, since the FPU is not modelled, reflected to the Guest's handler.
        "lguest_arch_handle_trap: the instruction at 0x",
        "lguest_arch_handle_trap: trap 6 reflected",
        // 3. LHCALL_TS 8: unlazy_fpu() saves the state and sets TS; fld1 is trap 7, reflected.
        "do_hcall: LHCALL_TS: cpu->ts = 8",
        "lguest_arch_run_guest: cpu->ts is set: unlazy_fpu(current) saves the Launcher's FPU state and sets TS",
        "lguest_arch_run_guest: the host CPU's cr0 has TS set",
        "lguest_arch_run_guest: trap 0x7 at eip 0x",
        "math_state_restore: trap 7",
        "lguest_arch_handle_trap: trap 7 and cpu->ts is set: the Guest wants its #NM, so it is reflected",
        "lguest_arch_handle_trap: trap 7 reflected",
        // Its handler runs (cpu->ts still set: unlazy_fpu() again, now with nothing to save) and clears TS.
        "lguest_arch_run_guest: cpu->ts is set: unlazy_fpu(current) saves",
        "lguest_arch_run_guest: cpu->ts is set: unlazy_fpu(current) has nothing to save",
        "do_hcall: LHCALL_TS: cpu->ts = 0",
        // The fld1 again: trap 7, the Host's alone this time, then #UD.
        "lguest_arch_run_guest: trap 0x7 at eip 0x",
        "math_state_restore: trap 7",
        "lguest_arch_handle_trap: trap 7 and cpu->ts is clear",
        "lguest_arch_run_guest: the host CPU's cr0 has TS clear",
        "lguest_arch_handle_trap: the instruction at 0x",
        "lguest_arch_handle_trap: trap 6 reflected",
    ];
    assert_eq!(story.len(), expect.len(), "{story:#?}");
    for (k, want) in expect.iter().enumerate() {
        assert!(story.get(k).is_some_and(|t| t.starts_with(want)), "event {k}: want `{want}...`, the story is:\n{}", story.join("\n"));
    }
    let count = |s: &str| story.iter().filter(|t| t.contains(s)).count();
    // fwait, the reflected fld1 and the fld1 after the handler's LHCALL_TS 0: three trap 7s, one reflected.
    assert_eq!(count("math_state_restore: "), 3, "{story:#?}");
    assert_eq!(count("the Guest wants its #NM"), 1);
    assert_eq!(count("runs again with TS clear"), 2);
    assert_eq!(count("reached the FPU with TS clear: fld1 (x87 FPU not modelled)"), 2);
}

#[test]
fn reading_the_instruction_behind_a_trap_can_kill_the_guest() {
    // tests/guests/host/badinsn.S, one case a build: the Host's own read of the trapping instruction
    // (guest_pa(), then __lgread() of 3 bytes in is_hypercall() or 1 in emulate_insn()) kills the Guest; the
    // first reason is the one read() gives the Launcher, after -ENOENT. The later kills of the same trap
    // (the kernel goes on with zeroes, then tries deliver_trap()) are ignored, each an event.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/host");
    let cases: &[(u32, &str, &[&str])] = &[
        // A vmcall whose last byte is the last byte of Guest memory: the core runs it (#UD), but the read
        // of its three bytes ends exactly at pfn_limit, which lguest_address_ok() refuses.
        (1, "bad read address 0x2006ffd len 3", &["unhandled trap 6 at 0x2006ffd (0x0)"]),
        // `in` in the last byte: emulate_insn() refuses it first, then is_hypercall() reads 3 bytes there.
        (2, "bad read address 0x2006fff len 1", &["bad read address 0x2006fff len 3", "unhandled trap 13 at 0x2006fff (0x0)"]),
        // The Guest's pte is gone (the shadow's is not): guest_pa() kills, then goes on with the
        // not-present entry's frame (0), so the 3 bytes are read at Guest-physical 0x6, and refused nowhere.
        (3, "Bad address 0x101006", &["unhandled trap 6 at 0x101006 (0x0)"]),
        // The page directory entry is gone: guest_pa() gives -1UL, and a read there wraps.
        (4, "Bad address 0x101006", &["bad read address 0xffffffff len 3", "unhandled trap 6 at 0x101006 (0x0)"]),
    ];
    for (case, reason, ignored) in cases {
        let image = std::fs::read(guest_build::build_with(&dir, "badinsn", &[("CASE", *case)])).unwrap();
        let r = launch(&image, 32);
        assert_eq!(r.stderr, format!("lguest: {reason}\n"), "case {case}");
        assert_eq!((r.stdout.as_slice(), r.exit_code), (&b""[..], 1), "case {case}");
        let (mut m, r) = lguest_sim::scenario::launch::boot(&image, 32);
        r.unwrap();
        lguest_sim::scenario::launch::run_guest(&mut m);
        let kills: Vec<&str> = m.log.iter().filter(|e| e.func == "kill_guest").map(|e| &*e.text).collect();
        let mut want = vec![format!("lg->dead = \"{reason}\"")];
        want.extend(ignored.iter().map(|t| format!("already dead; \"{t}\" is ignored")));
        assert_eq!(kills, want, "case {case}");
        assert!(m.log.iter().any(|e| e.func == "run_guest" && &*e.text == "lg->dead is set: return -ENOENT"), "case {case}");
        assert!(!m.log.iter().any(|e| e.func == "rewrite_hypercall"), "case {case}: nothing was rewritten");
    }
}

#[test]
fn the_cli_prints_and_exits_like_the_launcher() {
    let elf = build("hello");
    let o = Command::new(env!("CARGO_BIN_EXE_lguest-sim")).args(["run", "--mem", "16"]).arg(&elf).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Hello from the Guest!\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "lguest: CRASH: Power down\n");
    assert_eq!(o.status.code(), Some(1));
    // A file that is not an ELF Guest: a clear message, exit 1, no panic.
    let bad = std::env::temp_dir().join(format!("lguest-sim-not-elf-{}", std::process::id()));
    std::fs::write(&bad, b"#!/bin/sh\necho hi\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_lguest-sim")).arg("run").arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an ELF file"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_lguest-sim")).args(["run", "--mem", "0"]).arg(&elf).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_timer_guest_sleeps_between_ticks() {
    // The timer Guest halts three times; each time simulated time jumps to the hrtimer's expiry.
    let image = std::fs::read(build("timer")).unwrap();
    let (mut m, r) = lguest_sim::scenario::launch::boot(&image, 32);
    r.unwrap();
    let res = lguest_sim::scenario::launch::run_guest(&mut m);
    assert_eq!(res.stdout, b"ticks: 3\n");
    assert!(m.now_ns >= 3_000_000, "three 1 ms timers: now = {}", m.now_ns);
    let fired = m.log.iter().filter(|e| e.func == "clockdev_fn").count();
    let delivered = m.log.iter().filter(|e| e.func == "set_guest_interrupt").count();
    assert_eq!((fired, delivered), (3, 3));
}

#[test]
fn a_guest_that_never_stops_trapping_cannot_hold_the_simulation() {
    use lguest_sim::scenario::parse;
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/host/busy.S")).unwrap();
    let mut r = lguest_sim::scenario::Runner::default();
    r.load_program(0, "busy.S", &src).unwrap();
    for l in parse("open => fd 3\nwrite INITIALIZE => 12\nread => blocked\nwait => blocked\nwait => blocked\n").unwrap() {
        let step = r.run_line(&l);
        assert!(step.ok, "line {}: {:?}", l.number, step.message);
        // Each call does a bounded amount of work: at most a few thousand trips round run_guest().
        assert!(step.events.1 - step.events.0 < 2_000_000, "line {} ran {} events", l.number, step.events.1 - step.events.0);
    }
    // The Guest kept going between the calls, and the Launcher can still stop it with a signal.
    let hcalls = r.kernel.log.iter().filter(|e| e.func == "do_hcall").count();
    assert!(hcalls > 1000, "{hcalls}");
    let step = r.exec(6, "signal main").unwrap();
    assert!(step.is_none() || step.unwrap().ok);
    assert!(r.exec(7, "wait => -ERESTARTSYS").unwrap().unwrap().ok);
}

#[test]
fn the_cli_hands_piped_stdin_to_the_console_device() {
    use std::io::Write;
    use std::process::Stdio;
    let elf = build("virtio_echo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lguest-sim"))
        .arg("run")
        .arg(&elf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hi there\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("hi there"), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "lguest: CRASH: Power down\n");
    assert_eq!(o.status.code(), Some(1));
}

/// lguest_arch_run_guest() turns SYSENTER off for every trip into the Guest and back on after it, as events
/// around the Switcher's; the Guest core sees the MSR the Host left.
#[test]
fn sysenter_cs_is_zeroed_around_every_trip_into_the_guest() {
    use lguest_sim::kernel::KERNEL_CS;
    use lguest_sim::scenario::launch::boot;
    let image = std::fs::read(build("sysenter")).unwrap();
    let (mut k, r) = boot(&image, 32);
    r.unwrap();
    assert_eq!(k.msr_sysenter_cs, KERNEL_CS, "enable_sep_cpu() left __KERNEL_CS there at boot");
    let out = lguest_sim::scenario::launch::run_guest(&mut k);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sysenter: #GP(0), SYSENTER_CS is 0 while the Guest runs\nsysexit: #GP(0)\n");
    assert_eq!(k.msr_sysenter_cs, KERNEL_CS, "back from the Guest, the Host has its SYSENTER again");
    // Every switch into the Guest sits between an "off" and an "on", in that order.
    let seq: Vec<&str> = k
        .log
        .iter()
        .filter_map(|e| {
            if e.text.starts_with("boot_cpu_has(X86_FEATURE_SEP): wrmsr(MSR_IA32_SYSENTER_CS, 0, 0)") {
                Some("off")
            } else if e.text.starts_with("wrmsr(MSR_IA32_SYSENTER_CS, __KERNEL_CS, 0)") {
                Some("on")
            } else if e.func == "switch_to_guest" {
                Some("switch")
            } else {
                None
            }
        })
        .collect();
    assert!(seq.len() >= 9, "{seq:?}");
    assert!(seq.chunks(3).all(|c| c == ["off", "switch", "on"]), "{seq:?}");
    let off = k.log.iter().find(|e| e.text.starts_with("boot_cpu_has(X86_FEATURE_SEP)")).unwrap();
    assert_eq!(
        &*off.text,
        "boot_cpu_has(X86_FEATURE_SEP): wrmsr(MSR_IA32_SYSENTER_CS, 0, 0) (it was 0x60): a sysenter in the Guest is #GP(0), not a jump into the Host's ring 0"
    );
}

/// set_guest_interrupt() goes on after a push that fails (each push is its own lgwrite(), and kill_guest()
/// keeps the first reason): the words that fit are written, the registers are set as for a whole frame.
#[test]
fn a_reflected_frame_that_runs_off_guest_memory_is_pushed_word_by_word() {
    use lguest_sim::lguest::lg::Dead;
    use lguest_sim::scenario::Runner;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/host");
    let inc = std::fs::read_to_string(dir.join("lguest_data.inc")).unwrap();
    let src = std::fs::read_to_string(dir.join("frame_wrap.S")).unwrap().replace("\t.include \"lguest_data.inc\"", &inc);
    let mut r = Runner::new(32);
    let main = r.main;
    r.load_program(main, "frame_wrap.S", &src).unwrap();
    for (n, line) in ["open => fd 3", "write INITIALIZE => 12", "read => -ENOENT"].iter().enumerate() {
        let step = r.exec(n + 1, line).unwrap().unwrap();
        assert!(step.ok, "{line}: {:?}", step.message);
    }
    let g = r.kernel.lguest.get(0).unwrap();
    assert!(matches!(&g.lg.dead, Some(Dead::Reason { text, .. }) if text == "bad write address 0xfffffffc len 4"));
    let regs = g.cpus[0].regs;
    let h_gp = r.program.as_ref().unwrap().symbols["h_gp"];
    assert_eq!((regs.esp, regs.cs, regs.eip), (0xffff_fff8, 0x61, h_gp), "esp lowered by all four words; at the handler");
    let ram = &r.kernel.procs[0].mm.guest.ram;
    assert_eq!(ram.read_u32(0).unwrap(), 0x61, "cs was written at 0");
    assert_eq!(ram.read_u32(4).unwrap() & 0x200, 0, "eflags at 4, IF from irq_enabled (off)");
    let kills: Vec<&str> = r.kernel.log.iter().filter(|e| e.func == "kill_guest").map(|e| &*e.text).collect();
    assert_eq!(kills, ["lg->dead = \"bad write address 0xfffffffc len 4\"", "already dead; \"bad write address 0xfffffff8 len 4\" is ignored"]);
    let ev = r.kernel.log.iter().rev().find(|e| e.func == "set_guest_interrupt").unwrap();
    assert_eq!(
        &*ev.text,
        format!("frame pushed at 0xfffffff8, but eip, error code could not be written (the Guest is dead); esp, cs and eip are set all the same, eip at the handler {h_gp:#x}")
    );
}

/// lguest_iret's window (i386_head.S G:045): a timer set to expire between the store that turns the Guest's
/// interrupts back on and the iret. With the no-interrupt range registered before LGUEST_INIT the Host holds
/// the interrupt back (try_deliver_interrupt()'s first check) and delivers it at the Guest's next HALT;
/// without it the Host delivers it inside the window, on top of the frame being unwound.
#[test]
fn an_interrupt_due_inside_lguest_iret_waits_only_if_the_guest_registered_the_window() {
    use lguest_sim::scenario::launch::{boot, run_guest};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/host");
    // DELAY 6: eip at the popl after the store; 7: at the iret. Both inside the window.
    for delay in [6, 7] {
        let image = |noirq| std::fs::read(guest_build::build_with(&dir, "iret_window", &[("NOIRQ", noirq), ("DELAY", delay)])).unwrap();
        let (mut k, r) = boot(&image(1), 32);
        r.unwrap();
        let out = run_guest(&mut k);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "three ticks, none inside lguest_iret\n", "DELAY {delay}");
        assert_eq!(out.stderr, "lguest: CRASH: Power down\n");
        let held: Vec<&str> = k.log.iter().filter(|e| e.func == "try_deliver_interrupt" && e.text.contains("no-interrupt range")).map(|e| &*e.text).collect();
        assert_eq!(held.len(), 2, "the two re-armed ticks were held back: {held:?}");
        assert!(held[0].ends_with("is inside the no-interrupt range: not now"), "{}", held[0]);
        let r = launch(&image(0), 32);
        assert_eq!(String::from_utf8_lossy(&r.stdout), "a tick arrived inside lguest_iret: nested\n", "DELAY {delay}");
    }
}
