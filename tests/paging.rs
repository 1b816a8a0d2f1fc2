//! Shadow page tables end to end: a real Guest (`tests/guests/host/paging.S`, built with GNU as and ld)
//! builds its own page directory, turns paging on with LHCALL_NEW_PGTABLE, writes through an alias, has
//! its accessed and dirty bits set by `demand_page()`, flushes, re-points a mapping with SET_PTE and takes
//! a page fault the Host reflects to its IDT. Plus the Host's paging paths one at a time, on a Guest
//! whose page tables a test writes directly into its memory.

use std::path::{Path, PathBuf};
use std::process::Command;

use lguest_sim::scenario::launch::{boot, launch, run_guest};

mod cpu_common;

fn build(name: &str) -> PathBuf {
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/host");
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("lguest-sim-paging-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let obj = out.join(format!("{name}.o"));
    let elf = out.join(format!("{name}.elf"));
    let st =
        Command::new("as").args(["--32", "-I"]).arg(&src_dir).arg(src_dir.join(format!("{name}.S"))).arg("-o").arg(&obj).status().expect("GNU as (binutils)");
    assert!(st.success(), "as --32 failed on {name}.S");
    let st = Command::new("ld").args(["-m", "elf_i386", "-Ttext", "0x100000", "-e", "start", "-o"]).arg(&elf).arg(&obj).status().expect("ld (binutils)");
    assert!(st.success(), "ld failed on {name}");
    elf
}

#[test]
fn the_paging_guest_runs_on_shadow_page_tables() {
    let image = std::fs::read(build("paging")).unwrap();
    let r = launch(&image, 32);
    assert_eq!(String::from_utf8_lossy(&r.stdout), "boot tables\npaging on\nalias ok\nset_pte ok\npage fault at 0x80000000\n");
    assert_eq!(r.stderr, "lguest: CRASH: Power down\n");
    assert_eq!(r.exit_code, 1);
}

#[test]
fn demand_page_and_the_hypercalls_leave_their_marks() {
    let image = std::fs::read(build("paging")).unwrap();
    let (mut m, r) = boot(&image, 32);
    r.unwrap();
    let res = run_guest(&mut m);
    assert_eq!(res.exit_code, 1);
    let count = |f: &str| m.log.iter().filter(|e| e.func == f).count();
    // Every first touch of a page came through demand_page(); the flush made them come again.
    assert!(count("demand_page") > 8, "demand_page events: {}", count("demand_page"));
    for f in ["guest_new_pagetable", "new_pgdir", "guest_pagetable_flush_user", "guest_set_pte", "do_set_pte"] {
        assert!(count(f) > 0, "no {f} event");
    }
    // SET_PTE found the alias's pte page (it had faulted back in) and installed the new entry at once.
    let installed = m.log.iter().any(|e| e.func == "do_set_pte" && e.text.contains("shadow pte for 0x40000000 = ") && !e.text.contains("= 0x00000000"));
    assert!(installed, "SET_PTE of an accessed pte installs it at once");
    // `in` and `vmcall` ran at 0xc01xxxxx: the Host read and rewrote them at their Guest-physical place.
    let high = |what: &str| m.log.iter().any(|e| e.text.contains(what) && e.text.contains("0xc01"));
    assert!(high("rewritten to int $0x1f"), "the vmcall at its 0xc0000000 alias was rewritten");
    assert!(m.log.iter().any(|e| e.text.contains("emulate_insn")), "the in was emulated");
    // The fault at 0x80000000 was the Guest's: reflected, not fixed.
    assert!(m.log.iter().any(|e| e.func == "demand_page" && e.text.contains("0x80000000") && e.text.contains("not present")));
}

#[test]
fn a_guest_that_never_loads_a_page_directory_runs_on_the_boot_tables() {
    // timer.S never uses NEW_PGTABLE, but as in 2.6.39 it runs on the shadow of the boot page tables from
    // its first instruction: its first fetch faults into demand_page(), which finds 0x100000 mapped by the
    // boot tables (identity) and fills the shadow; no other page directory is ever made.
    let image = std::fs::read(build("timer")).unwrap();
    let (mut m, r) = boot(&image, 32);
    r.unwrap();
    let res = run_guest(&mut m);
    assert_eq!(res.stdout, b"ticks: 3\n");
    let evs: Vec<_> = m.log.iter().collect();
    assert!(evs.iter().any(|e| e.func == "demand_page" && e.text.starts_with("0x100000: Guest pte at")), "the first fetch is demand-paged");
    assert!(!evs.iter().any(|e| e.func == "new_pgdir"));
}

/// Run a Guest program of the CPU's test suite (tests/guests/cpu) on a shadow page directory that starts
/// empty, with this test as the Host: every #PF maps the page at the same address, read-only for a read and
/// writable for a write (the first write to a page read before faults once more, as under lguest). Every
/// `wipe_every` faults all mappings go, as after LHCALL_FLUSH_TLB; with `slice`, also every `slice`
/// instructions. Returns (output, instructions, faults).
fn run_demand_paged(elf: &[u8], mem_pages: u32, wipe_every: u32, slice: Option<u64>) -> (Vec<u8>, u64, u32) {
    use lguest_sim::cpu::paging::*;
    use lguest_sim::cpu::{Cpu, Exit, Fault};
    use std::rc::Rc;
    let mut ram = lguest_sim::guest_ram::GuestRam::new(mem_pages);
    let entry = cpu_common::load_elf(&mut ram, elf);
    let mut cpu = Cpu::new(mem_pages, entry);
    cpu.state.regs[4] = mem_pages * 4096 - 16;
    let mut shadow = PageDirectory::default();
    cpu.cr3 = Some(shadow.clone());
    let (mut out, mut faults) = (Vec::new(), 0u32);
    loop {
        assert!(cpu.state.tsc < 100_000_000, "ran past its budget");
        match cpu.run(&mut ram, slice.unwrap_or(1_000_000)) {
            Exit::Budget if slice.is_some() => {
                shadow = PageDirectory::default();
                cpu.cr3 = Some(shadow.clone());
                cpu.flush_code_cache();
            }
            Exit::Budget => {}
            Exit::Hypercall if cpu.state.regs[0] == 17 => out.extend_from_slice(&ram.read_cstr(cpu.state.regs[3], 4096).unwrap()),
            Exit::Hypercall if cpu.state.regs[0] == 2 => break,
            Exit::Fault { fault: Fault::PageFault { cr2, error_code } } => {
                faults += 1;
                assert!(faults < 1_000_000, "faulting without end at {cr2:#x}");
                cpu.cr3 = None;
                if faults % wipe_every == 0 {
                    shadow = PageDirectory::default();
                    cpu.flush_code_cache();
                }
                let pgd = Rc::make_mut(&mut shadow.pgd);
                let pt = pgd[pgd_index(cr2)].get_or_insert_with(|| PtePage::new(_PAGE_TABLE));
                let rw = if error_code & 2 != 0 { _PAGE_RW | _PAGE_DIRTY } else { 0 };
                Rc::make_mut(&mut pt.ptes)[pte_index(cr2)] = (cr2 & !0xfff) | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED | rw;
                cpu.cr3 = Some(shadow.clone());
            }
            e => panic!("stopped at eip {:#x}: {e:?}", cpu.state.eip),
        }
    }
    (out, cpu.state.tsc, faults)
}

#[test]
fn every_instruction_restarts_cleanly_after_a_page_fault() {
    // The same programs with and without paging must print the same and retire the same number of
    // instructions: a fault in the middle of an instruction may leave nothing behind.
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/cpu");
    let dir = cpu_common::scratch("paging_cpu_guests");
    for f in std::fs::read_dir(&src_dir).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
    }
    let cwd = std::env::current_dir().unwrap();
    for name in ["primes", "strings", "math", "selfmod"] {
        std::env::set_current_dir(&dir).unwrap();
        let exe = cpu_common::build(&dir, &format!("{name}-guest"), &dir.join(format!("{name}.S")), &["GUEST=1"]);
        std::env::set_current_dir(&cwd).unwrap();
        let elf = std::fs::read(&exe).unwrap();
        let plain = cpu_common::run_in_core(&elf, 0x200, &[], 50_000_000, true);
        // Never fewer than 7 faults between wipes: one instruction may need 6 pages (code, source and
        // destination, each straddling two), and with fewer it could never finish.
        for (wipe, slice) in [(u32::MAX, None), (7, None), (u32::MAX, Some(997))] {
            let (out, n, faults) = run_demand_paged(&elf, 0x200, wipe, slice);
            assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&plain.stdout), "{name} (wipe every {wipe}): output");
            assert_eq!(n, plain.instructions, "{name} (wipe every {wipe}): instructions retired");
            assert!(faults > 2, "{name}: only {faults} faults");
        }
    }
}
