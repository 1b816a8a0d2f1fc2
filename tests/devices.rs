//! The Launcher's virtio console: a real Guest (`tests/guests/host/virtio_console.S`, and the course's
//! `lessons/guests/virtio_console.S`) finds the console on the devices page, sets its status, puts a buffer in
//! the output queue and kicks it. The kick reaches the output thread's eventfd through the Host's
//! `send_notify_to_eventfd()`, never the main thread's `read()`; the thread writes the bytes to stdout,
//! returns the buffer in the used ring and sends `LHREQ_IRQ`. Booted through `launch()` and `lguest-sim run`.

use std::path::{Path, PathBuf};
use std::process::Command;

use lguest_sim::event::Event;
use lguest_sim::scenario::launch::{boot, launch, run_guest};

mod guest_build;

fn build(dir: &str, name: &str) -> PathBuf {
    guest_build::build(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), name)
}

const OUT: &str = "Hello through virtio\nThe used ring gave the buffer back\n";

#[test]
fn the_console_guest_prints_through_the_device_thread() {
    let image = std::fs::read(build("tests/guests/host", "virtio_console")).unwrap();
    let r = launch(&image, 32);
    assert_eq!(String::from_utf8_lossy(&r.stdout), OUT);
    assert_eq!(r.stderr, "lguest: CRASH: Power down\n");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn the_cli_runs_the_console_guest() {
    let elf = build("tests/guests/host", "virtio_console");
    let o = Command::new(env!("CARGO_BIN_EXE_lguest-sim")).args(["run", "--mem", "32"]).arg(&elf).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), OUT);
    assert_eq!(String::from_utf8_lossy(&o.stderr), "lguest: CRASH: Power down\n");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn the_course_guest_does_the_same_under_gnu_as() {
    let image = std::fs::read(build("lessons/guests", "virtio_console")).unwrap();
    let r = launch(&image, 32);
    assert_eq!(String::from_utf8_lossy(&r.stdout), "Hello through virtio\nback in the used ring\n");
    assert_eq!(r.stderr, "lguest: CRASH: Power down\n");
    assert_eq!(r.exit_code, 1);
}

fn pos(evs: &[Event], what: &str, f: impl Fn(&Event) -> bool) -> usize {
    evs.iter().position(f).unwrap_or_else(|| panic!("no event: {what}"))
}

#[test]
fn the_kick_wakes_the_thread_while_main_stays_in_read() {
    let image = std::fs::read(build("tests/guests/host", "virtio_console")).unwrap();
    let (mut m, r) = boot(&image, 32);
    r.unwrap();
    let res = run_guest(&mut m);
    assert_eq!(String::from_utf8_lossy(&res.stdout), OUT);
    let evs: &Vec<Event> = &m.log.iter().cloned().collect();
    if std::env::var("SHOW_EVENTS").is_ok() {
        for e in evs.iter() {
            println!("[{}] {:<16} {:<24} {}", e.tag, e.task, e.func, e.text);
        }
    }
    // The devices page: the console at 0x2000000, its output ring at pfn 0x2004 (above the input's 3 pages).
    let setup = pos(evs, "add_virtqueue for console-output", |e| {
        e.func == "add_virtqueue" && e.text.contains("console-output") && e.text.contains("irq 2, pfn 0x2004")
    });
    let init = pos(evs, "INITIALIZE", |e| e.func == "initialize" && e.text.contains("pfnlimit=0x2007"));
    assert!(setup < init, "the devices exist before LHREQ_INITIALIZE");
    // DRIVER_OK comes back to main's read() as the descriptor's address, and starts the device.
    let ok = pos(evs, "DRIVER_OK", |e| e.func == "update_device_status" && e.text.contains("DRIVER_OK, so start_device()"));
    let attach = pos(evs, "LHREQ_EVENTFD for the output ring", |e| e.func == "add_eventfd" && e.text.contains("addr 0x2004000"));
    let clone = pos(evs, "the output thread", |e| e.func == "create_thread" && e.text.contains("console-output"));
    let sleeps = pos(evs, "the thread sleeps", |e| e.task == "console-output" && e.func == "wait_for_vq_desc" && e.text.contains("read(eventfd"));
    assert!(ok < attach && attach < clone && clone < sleeps);
    // The kick: the Host hands it to the eventfd, so main's read() does not return it.
    let kick =
        pos(evs, "the kick to the eventfd", |e| e.func == "send_notify_to_eventfd" && e.text.contains("addr 0x2004000") && e.text.contains("eventfd_signal"));
    assert!(sleeps < kick);
    assert_eq!(evs[kick].task, "main", "the Guest runs inside main's read()");
    assert!(!evs.iter().any(|e| e.func == "run_guest" && e.text.contains("no eventfd for 0x2004000")), "the ring's address never comes back to main's read()");
    let wakes = pos(evs, "the thread wakes", |e| e.task == "console-output" && e.text.contains("read() of the eventfd returns"));
    let writes = pos(evs, "the thread writes stdout", |e| e.task == "console-output" && e.func == "console_output" && e.text.contains("Hello through virtio"));
    let used = pos(evs, "add_used", |e| e.task == "console-output" && e.func == "add_used" && e.text.contains("used->idx = 1"));
    let irq = pos(evs, "LHREQ_IRQ 2 from the thread", |e| e.task == "console-output" && e.func == "set_interrupt" && e.text.contains("set_bit(2,"));
    let delivered = pos(evs, "irq 2 delivered", |e| e.func == "set_guest_interrupt" && e.task == "main");
    assert!(kick < wakes && wakes < writes && writes < used && used < irq && irq < delivered, "{kick} {wakes} {writes} {used} {irq} {delivered}");
    // Between the kick and the interrupt, main never left read(): no read() returned in that window.
    assert!(
        !evs[kick..delivered].iter().any(|e| e.task == "main" && e.func == "run_guest" && e.text.contains("return 4")),
        "main stays in read() while the thread works"
    );
    // The thread goes back to sleep after sending the irq.
    assert!(evs[irq..].iter().any(|e| e.task == "console-output" && e.func == "wait_for_vq_desc" && e.text.contains("read(eventfd")));
    // Both threads exist, as tasks of the Launcher; the input thread never woke (no input buffers).
    assert!(m.task_by_name("console-input").is_some() && m.task_by_name("console-output").is_some());
    assert!(!evs.iter().any(|e| e.task == "console-input" && e.text.contains("read() of the eventfd returns")));
}

/// Replay a scenario, failing with its line and message.
fn replay_ok(src: &str) -> lguest_sim::scenario::Runner {
    match lguest_sim::scenario::replay(src) {
        Ok(r) => r,
        Err(e) => panic!("line {}: {}", e.line, e.message),
    }
}

/// The scripted Guest's set-up shared by the scenarios below: devices, INITIALIZE, LGUEST_INIT, and one
/// output buffer ("hello" at 0x6000) in descriptor 0, not yet offered.
const PROLOGUE: &str = r#"
launcher devices
open                                   => fd 3
write INITIALIZE                       => 12
guest init 0x5000
guest store 0x6000 "hello"
guest poke 0x2004000 0x6000 0 5 0
"#;

#[test]
fn a_kick_before_driver_ok_starts_the_device_and_is_served_at_once() {
    let r = replay_ok(&format!(
        "{PROLOGUE}
guest poke 0x2005004 0
guest poke 0x2005000 0x10000
guest notify 0x2004000
read                                   => 4 notify=0x2004000
expect devices.console.running = 0
launcher handle-output
expect devices.console.running = 1
expect stdout = \"hello\"
expect vq.console-output.used_idx = 1
expect vq.console-output.state = eventfd-read
expect cpu0.irqs_pending = 0x4
"
    ));
    // The output thread found the buffer on its first look: it never slept before serving it.
    let evs: &Vec<Event> = &r.kernel.log.iter().cloned().collect();
    let first_sleep = evs.iter().position(|e| e.task == "console-output" && e.text.contains("read(eventfd")).unwrap();
    let wrote = evs.iter().position(|e| e.task == "console-output" && e.func == "console_output").unwrap();
    assert!(wrote < first_sleep);
}

#[test]
fn a_notification_on_a_running_device_is_fatal() {
    replay_ok(&format!(
        "{PROLOGUE}
guest store 0x2000004 \"\\x07\"
guest notify 0x2000000
read                                   => 4 notify=0x2000000
launcher handle-output
launcher handle-output 0x2004000
expect stderr = \"lguest: Notification on running console\\n\"
expect task.main = exited
expect task.console-output = exited
"
    ));
}

/// FAILED (0x80) is above what a quoted string holds, so the status goes in with a word poke: status 0x83, then
/// the input queue's num (256) and the low byte of its irq (1), unchanged.
#[test]
fn failed_status_warns_and_resets_and_a_bad_notify_is_fatal() {
    replay_ok(&format!(
        "{PROLOGUE}
guest store 0x2000004 \"\\x07\"
guest notify 0x2000000
read                                   => 4 notify=0x2000000
launcher handle-output
expect devices.console.running = 1
guest poke 0x2000004 0x01010083
guest notify 0x2000000
read                                   => 4 notify=0x2000000
launcher handle-output
expect devices.console.running = 0
expect task.console-output = exited
expect task.console-input = exited
expect vq.console-output.state = none
expect stderr = \"lguest: Device console configuration FAILED\\n\"
guest notify 0x2007000
read                                   => 4 notify=0x2007000
launcher handle-output
expect stderr = \"lguest: Device console configuration FAILED\\nlguest: Bad NOTIFY 0x2007000\\n\"
expect task.main = exited
"
    ));
}

/// After a reset the Host's eventfd map still holds the old threads' entries (no request removes one), and
/// `send_notify_to_eventfd()` signals the first match: the restarted output thread sleeps through the kick.
/// This is our reading of the 2.6.39 code (lguest-facts §5), shown here as the model behaves.
#[test]
fn a_restarted_device_shares_the_ring_address_with_a_stale_eventfd() {
    let r = replay_ok(&format!(
        "{PROLOGUE}
guest store 0x2000004 \"\\x07\"
guest notify 0x2000000
read                                   => 4 notify=0x2000000
launcher handle-output
guest store 0x2000004 \"\\x00\"
guest notify 0x2000000
read                                   => 4 notify=0x2000000
launcher handle-output
expect devices.console.running = 0
expect task.console-output = exited
guest store 0x2000004 \"\\x07\"
guest notify 0x2000000
read                                   => 4 notify=0x2000000
launcher handle-output
expect vq.console-output.thread = console-output.2
expect lg.eventfds.num = 4
expect lg.eventfds.map1 = 0x2004000->ctx1
expect lg.eventfds.map3 = 0x2004000->ctx3
guest poke 0x2004000 0x6000 0 5 0
guest poke 0x2005004 0
guest poke 0x2005000 0x10000
guest notify 0x2004000
guest halt
read                                   => blocked
expect eventfd1.count = 1
expect eventfd3.count = 0
expect stdout = \"\"
expect vq.console-output.state = eventfd-read
"
    ));
    assert!(r.kernel.task_by_name("console-output.2").is_some());
}

#[test]
fn the_echo_guest_reads_stdin_through_the_input_queue() {
    let image = std::fs::read(build("tests/guests/host", "virtio_echo")).unwrap();
    let r = lguest_sim::scenario::launch::launch_with_stdin(&image, 32, b"ping\n");
    assert_eq!(String::from_utf8_lossy(&r.stdout), "got: ping\n");
    assert_eq!(r.stderr, "lguest: CRASH: Power down\n");
    assert_eq!(r.exit_code, 1);
    // With nothing typed, the input thread waits in readv() and the Guest sleeps: the simulation stops it.
    let r = launch(&image, 32);
    assert_eq!(r.stdout, b"");
    assert!(r.stderr.contains("asleep and nothing in the simulation will wake it"), "{}", r.stderr);
}

#[test]
fn a_forked_launcher_does_not_run_the_parents_threads() {
    let r = replay_ok(&format!(
        "{PROLOGUE}
guest store 0x2000004 \"\\x07\"
guest notify 0x2000000
read                                   => 4 notify=0x2000000
launcher handle-output
process child
guest poke 0x2005004 0
guest poke 0x2005000 0x10000
guest notify 0x2004000
guest halt
read                                   => blocked
expect stdout = \"hello\"
expect vq.console-output.used_idx = 1
"
    ));
    // The child's copy of the Launcher printed nothing: the one thread that woke is the parent's.
    let child = r.kernel.procs.iter().position(|p| p.name == "child").unwrap();
    let by_child = |e: &&Event| r.kernel.task_by_name(&e.task).map(|t| r.kernel.proc_of(t)) == Some(child);
    assert_eq!(r.kernel.log.iter().filter(by_child).filter(|e| e.func.starts_with("console_")).count(), 0);
    assert_eq!(r.kernel.log.iter().filter(|e| e.func == "console_output").count(), 1);
}

#[test]
fn the_course_echo_guest_does_the_same_under_gnu_as() {
    let image = std::fs::read(build("lessons/guests", "virtio_echo")).unwrap();
    let r = lguest_sim::scenario::launch::launch_with_stdin(&image, 32, b"hi\n");
    assert_eq!(String::from_utf8_lossy(&r.stdout), "got: hi\n");
    assert_eq!(r.stderr, "lguest: CRASH: Power down\n");
}

/// Random bytes in the rings, kicked over and over: the threads either serve what they find or end the
/// Launcher with an `errx()` message; nothing panics and nothing loops for ever.
#[test]
fn random_rings_end_in_service_or_a_clear_errx() {
    let mut x: u32 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let mut fatal = 0;
    for _ in 0..60 {
        let mut r = replay_ok(&format!(
            "{PROLOGUE}
guest store 0x2000004 \"\\x07\"
guest notify 0x2000000
read                                   => 4 notify=0x2000000
launcher handle-output
read                                   => blocked
"
        ));
        for _ in 0..12 {
            // A word somewhere in the two rings (descriptors, available ring, used ring), then a kick.
            let ring = if next() % 2 == 0 { 0x2001000 } else { 0x2004000 };
            // Mostly the words that matter: the first descriptors, avail flags and idx, the first ring slots.
            let at = ring
                + match next() % 4 {
                    0 => (next() % 16) * 4,
                    1 => 0x1000,
                    2 => 0x1004 + (next() % 4) * 4,
                    _ => (next() % 0x2100) / 4 * 4,
                };
            let word = match next() % 4 {
                0 => next() % 8,
                1 => 0x6000,
                2 => next() & 0x0003_0003,
                _ => next(),
            };
            for l in [format!("guest poke {at:#x} {word:#x}"), format!("guest notify {ring:#x}")] {
                let line = lguest_sim::scenario::parse_line(1, &l).unwrap().unwrap();
                r.run_line(&line);
            }
        }
        if r.launcher(0).unwrap().devices.fatal.is_some() {
            fatal += 1;
            let stderr = String::from_utf8_lossy(&r.kernel.tty.stderr);
            assert!(stderr.starts_with("lguest: "), "{stderr}");
        }
    }
    assert!(fatal > 0, "some random ring should have been refused");
}

#[test]
fn waiting_on_a_device_thread_does_not_strand_it() {
    replay_ok(&format!(
        "{PROLOGUE}
guest store 0x2000004 \"\\x07\"
guest notify 0x2000000
read                                   => 4 notify=0x2000000
launcher handle-output
guest poke 0x2005004 0
guest poke 0x2005000 0x10000
guest notify 0x2004000
guest halt
read                                   => blocked
expect stdout = \"hello\"
expect task.console-output = blocked
wait console-output                    => blocked
guest poke 0x2004000 0x6000 0 2 0
guest poke 0x2005004 0
guest poke 0x2005000 0x20000
guest notify 0x2004000
expect stdout = \"hellohe\"
expect vq.console-output.used_idx = 2
"
    ));
}

/// `create_thread()` (lguest.c 1052-1057): `clone(CLONE_VM | SIGCHLD)` without CLONE_FILES gives each
/// device thread its own copy of the descriptor table; the main thread then closes its copy of the eventfd,
/// so only the thread still holds it, and the Host's reference keeps the eventfd alive too.
#[test]
fn device_threads_have_their_own_descriptor_tables() {
    let image = std::fs::read(build("tests/guests/host", "virtio_console")).unwrap();
    let (mut m, r) = boot(&image, 32);
    r.unwrap();
    let res = run_guest(&mut m);
    assert_eq!(String::from_utf8_lossy(&res.stdout), OUT);
    let evs: Vec<_> = m.log.iter().collect();
    let closes: Vec<&str> = evs.iter().filter(|e| e.func == "create_thread" && e.text.starts_with("close(")).map(|e| &*e.text).collect();
    assert_eq!(closes.len(), 2, "one close per queue's thread: {closes:?}");
    assert!(evs.iter().any(|e| e.func == "launcher" && e.text.contains("(CLONE_VM): it shares the Launcher's memory and gets a copy")));
}

#[test]
fn a_thread_made_without_clone_files_keeps_its_own_descriptors() {
    use lguest_sim::kernel::syscall::Syscall;
    let r = lguest_sim::scenario::replay("open => fd 3\n").unwrap();
    let mut k = r.kernel;
    let main = k.task_by_name("main").unwrap();
    k.current = main;
    let t = k.new_thread("copy", false, false).unwrap();
    let shared = k.new_thread("shared", false, true).unwrap();
    // The copy sees fd 3 but closing it there leaves main's.
    assert!(k.fd_table(t).unwrap().contains_key(&3));
    k.syscall(t, Syscall::Close { fd: 3 }).unwrap();
    assert!(k.fd_table(main).unwrap().contains_key(&3));
    assert!(!k.fd_table(t).unwrap().contains_key(&3));
    // A CLONE_FILES thread shares main's table: its eventfd is main's too.
    k.syscall(shared, Syscall::Eventfd).unwrap();
    assert!(k.fd_table(main).unwrap().contains_key(&4));
    assert!(!k.fd_table(t).unwrap().contains_key(&4));
}
