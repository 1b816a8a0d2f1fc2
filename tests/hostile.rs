//! Hostile input, one reproducer a bug: each input here once made the simulator hang, grow without bound or
//! answer unlike the kernel. They run through the CLI, as a user would meet them.

mod guest_build;

use std::path::Path;
use std::process::Command;

fn lguest_sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lguest-sim")).args(args).output().expect("run lguest-sim")
}

/// A Guest that dies with a NOTIFY pending: the Launcher reads the reason's first four bytes as an address
/// and exits with "Bad NOTIFY", instead of taking an address from nowhere and looping for ever.
#[test]
fn a_guest_dying_with_a_notify_pending_ends_the_launcher() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/hostile");
    let elf = guest_build::build(&dir, "dead_notify");
    let o = lguest_sim(&["run", elf.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "printed before the Launcher sees the death\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "lguest: Bad NOTIFY 0x20646142\n");
    assert_eq!(o.status.code(), Some(1));
}

/// A device that never ends, where a file was expected: refused at once, naming it.
#[test]
fn a_device_for_a_file_is_refused_not_read_for_ever() {
    let o = lguest_sim(&["run", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/dev/zero: it holds more than 64 MB"), "{}", String::from_utf8_lossy(&o.stderr));
    let scn = std::env::temp_dir().join(format!("lguest-sim-zero-{}.scn", std::process::id()));
    std::fs::write(&scn, "load /dev/zero\n").unwrap();
    let o = lguest_sim(&["replay", scn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(":1: /dev/zero: it holds more than"), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = std::env::temp_dir().join(format!("lguest-sim-zero-lesson-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lesson = "# Zero\nguest: /dev/zero\n\ngoals:\n- none\n\n## Step: open\n\n```scenario\nopen => fd 3\n```\n";
    std::fs::write(dir.join("01-zero.lesson"), lesson).unwrap();
    let o = lguest_sim(&["check", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("\"/dev/zero\" cannot be read: it holds more than 64 MB"), "{out}");
}
