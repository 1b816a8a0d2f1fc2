//! Guest programs written in GNU as (tests/guests/cpu/*.S): each is built twice from one source, as a
//! Linux program (printing with `write`) run natively, and as an lguest Guest (printing with the
//! NOTIFY hypercall) run in our core. Both must print the same thing, and what they print is checked
//! against the known answers.

mod cpu_common;

use std::path::PathBuf;

use cpu_common::{build, run_in_core, run_native, scratch};

fn guest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/guests/cpu")
}

/// Build `name`.S both ways; return (native output, our output, instructions our core ran).
fn both_ways(name: &str) -> (String, String, u64) {
    let dir = scratch(&format!("cpu_guest_{name}"));
    // `.include "lib.S"` is resolved relative to the working directory of `as`, so copy the sources.
    for f in std::fs::read_dir(guest_dir()).expect("tests/guests/cpu") {
        let f = f.expect("dir entry").path();
        std::fs::copy(&f, dir.join(f.file_name().expect("file name"))).expect("copy source");
    }
    let src = dir.join(format!("{name}.S"));
    let native_exe = build_in(&dir, &format!("{name}-native"), &src, &[]);
    let guest_exe = build_in(&dir, &format!("{name}-guest"), &src, &["GUEST=1"]);
    let native = run_native(&native_exe, &[]);
    let elf = std::fs::read(&guest_exe).expect("read guest ELF");
    let ours = run_in_core(&elf, 0x200, &[], 50_000_000, true);
    // The slow path (no block cache, no fast paths) must print the same.
    let slow = run_in_core(&elf, 0x200, &[], 50_000_000, false);
    assert_eq!(slow.stdout, ours.stdout, "{name}: the cached and uncached runs disagree");
    assert_eq!(slow.instructions, ours.instructions, "{name}: the cached and uncached runs counted differently");
    (String::from_utf8_lossy(&native).into_owned(), String::from_utf8_lossy(&ours.stdout).into_owned(), ours.instructions)
}

fn build_in(dir: &std::path::Path, name: &str, src: &std::path::Path, defsyms: &[&str]) -> PathBuf {
    let cwd = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(dir).expect("chdir");
    let exe = build(dir, name, src, defsyms);
    std::env::set_current_dir(cwd).expect("chdir back");
    exe
}

#[test]
fn guest_programs_print_what_the_native_builds_print() {
    let expected: [(&str, &[&str]); 4] = [
        ("primes", &["primes below 20000: 2262", "largest: 19997", "sum of the first 100: 24133", "2 3 5 7 11 13 "]),
        ("strings", &["length: 43", "****The quick", "god yzal eht", "equal: 1", "first difference at: 16", "-=-=-=", "THE QUICK BROWN FOX"]),
        (
            "math",
            &[
                "fib(89) = 0x18b3c1d91e77decd",
                "carry 040250000",
                "bsf, bsr of 0x00f00800: 11 23",
                "cmov/xadd/cmpxchg: 118",
                "12! = 479001600",
                "gcd(1071, 462) = 21",
                "-1000003 / 7 = -142857 4",
                "sum(1..10) = 55",
                "6+3 + 6-3 + 6*3 + 6/3 = 32",
            ],
        ),
        ("selfmod", &["sum of patched immediates: 286", "copied routine: 1077", "patched next instruction: 1"]),
    ];
    for (name, lines) in expected {
        let (native, ours, n) = both_ways(name);
        eprintln!("{name}: {n} instructions in our core");
        assert_eq!(ours, native, "{name}: our core and the real processor disagree");
        for l in lines {
            assert!(ours.contains(l), "{name}: expected {l:?} in:\n{ours}");
        }
    }
}
