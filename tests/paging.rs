//! Shadow page tables end to end: a real Guest (`tests/guests/host/paging.S`, built with GNU as and ld)
//! builds its own page directory, turns paging on with LHCALL_NEW_PGTABLE, writes through an alias, has
//! its accessed and dirty bits set by `demand_page()`, flushes, re-points a mapping with SET_PTE and takes
//! a page fault the Host reflects to its IDT. Plus the Host's paging paths one at a time, on a Guest
//! whose page tables a test writes directly into its memory.

use std::path::{Path, PathBuf};
use std::process::Command;

use lguest_sim::launcher::run::{boot, launch, run_guest};

fn build(name: &str) -> PathBuf {
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/host");
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("lguest-sim-paging-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let obj = out.join(format!("{name}.o"));
    let elf = out.join(format!("{name}.elf"));
    let st = Command::new("as").args(["--32", "-I"]).arg(&src_dir).arg(src_dir.join(format!("{name}.S"))).arg("-o").arg(&obj).status().expect("GNU as (binutils)");
    assert!(st.success(), "as --32 failed on {name}.S");
    let st = Command::new("ld").args(["-m", "elf_i386", "-Ttext", "0x100000", "-e", "start", "-o"]).arg(&elf).arg(&obj).status().expect("ld (binutils)");
    assert!(st.success(), "ld failed on {name}");
    elf
}

#[test]
fn the_paging_guest_runs_on_shadow_page_tables() {
    let image = std::fs::read(build("paging")).unwrap();
    let r = launch(&image, 32);
    assert_eq!(String::from_utf8_lossy(&r.stdout), "paging on\nalias ok\nset_pte ok\npage fault at 0x80000000\n");
    assert_eq!(r.stderr, "lguest: CRASH: Power down\n");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn demand_page_and_the_hypercalls_leave_their_marks() {
    let image = std::fs::read(build("paging")).unwrap();
    let (mut m, r) = boot(&image, 32);
    r.unwrap();
    let res = run_guest(&mut m, 32);
    assert_eq!(res.exit_code, 1);
    let count = |f: &str| m.log.events.iter().filter(|e| e.func == f).count();
    // Every first touch of a page came through demand_page(); the flush made them come again.
    assert!(count("demand_page") > 8, "demand_page events: {}", count("demand_page"));
    for f in ["guest_new_pagetable", "new_pgdir", "guest_pagetable_flush_user", "guest_set_pte", "do_set_pte"] {
        assert!(count(f) > 0, "no {f} event");
    }
    // SET_PTE found the alias's pte page (it had faulted back in) and installed the new entry at once.
    let installed = m.log.events.iter().any(|e| e.func == "do_set_pte" && e.text.contains("shadow pte for 0x40000000 = ") && !e.text.contains("= 0x00000000"));
    assert!(installed, "SET_PTE of an accessed pte installs it at once");
    // The fault at 0x80000000 was the Guest's: reflected, not fixed.
    assert!(m.log.events.iter().any(|e| e.func == "demand_page" && e.text.contains("0x80000000") && e.text.contains("not present")));
}

#[test]
fn a_guest_that_never_switches_runs_on_the_shadow_of_the_boot_tables() {
    // timer.S never loads a page directory: every page it touches is faulted in from setup_pagetables()'s
    // identity mapping, and it behaves exactly as it did without paging.
    let image = std::fs::read(build("timer")).unwrap();
    let (mut m, r) = boot(&image, 32);
    r.unwrap();
    let res = run_guest(&mut m, 32);
    assert_eq!(res.stdout, b"ticks: 3\n");
    let faults: Vec<_> = m.log.events.iter().filter(|e| e.func == "demand_page").collect();
    assert!(faults.len() >= 3, "code, data and stack pages fault in: {}", faults.len());
    assert!(faults.iter().all(|e| !e.text.contains("the fault is the Guest's")), "no fault was refused");
    assert!(!m.log.events.iter().any(|e| e.func == "new_pgdir"), "it stays on pgdirs[0]");
}
