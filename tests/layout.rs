//! The layout's rules, held: which folder of `crate/` may name which. Each rule says what the course
//! teaches about the boundary (README, "Layout"):
//!
//! - `cpu/` is hardware: it names nothing above it.
//! - `launcher/` is a user program: it reaches the kernel only through the door (`kernel::user::Sys`, the
//!   system calls and their results), and shares with the driver only the request numbers of
//!   `<linux/lguest_launcher.h>`. It defines no kernel type and implements nothing on the kernel.
//! - `kernel/` names the lguest driver only where drivers are registered (`kernel/drivers.rs`).
//! - `lguest/` is a driver: it uses the kernel's services and the CPU, never user space or the page.
//! - Only `wasm.rs` names the browser's crates.
//!
//! The check reads the code (not the comments) of every file for `crate::` paths and `impl` lines.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Each `crate::...` path in the code of `file` (comment lines and the unit tests at its end left out),
/// with its line number.
fn crate_paths(file: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let code = code.split(" //").next().unwrap_or(code);
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let path: String = rest[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            out.push((n + 1, path.trim_end_matches(':').to_string()));
            rest = &rest[i + 7..];
        }
    }
    out
}

fn crate_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crate").join(sub)
}

/// Every path in `dir` that none of `allowed` (path prefixes) admits, as `file:line path`.
fn outside(dir: &str, allowed: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    for f in rust_files(&crate_dir(dir)) {
        for (n, path) in crate_paths(&f) {
            if !allowed.iter().any(|a| path == *a || path.starts_with(&format!("{a}::"))) {
                bad.push(format!("{}:{n} {path}", f.display()));
            }
        }
    }
    bad
}

#[test]
fn the_cpu_names_nothing_above_it() {
    let bad = outside("cpu", &["crate::cpu", "crate::guest_ram", "crate::params", "crate::small_sort"]);
    assert!(bad.is_empty(), "crate/cpu reaches above the CPU:\n{}", bad.join("\n"));
}

#[test]
fn the_launcher_goes_through_the_door() {
    let door = [
        "crate::launcher",
        "crate::kernel::user::Sys",
        "crate::kernel::user::UserProgram",
        "crate::kernel::syscall::Syscall",
        "crate::kernel::syscall::SysResult",
        "crate::kernel::syscall::Outcome",
        "crate::kernel::mm::MapKind",
        "crate::kernel::task::Tid",
        // <linux/lguest_launcher.h>: the request numbers both sides of /dev/lguest use.
        "crate::lguest::lguest_user::LHREQ_EVENTFD",
        "crate::lguest::lguest_user::LHREQ_IRQ",
        "crate::params",
        "crate::errno",
        "crate::guest_ram::GuestRam",
    ];
    let mut bad = outside("launcher", &door);
    // `use crate::kernel::syscall::{Outcome, SysResult, Syscall}` names its items after the brace.
    bad.retain(|b| !b.ends_with("crate::kernel::syscall") && !b.ends_with("crate::kernel::user") && !b.ends_with("crate::lguest::lguest_user"));
    assert!(bad.is_empty(), "crate/launcher reaches past the door:\n{}", bad.join("\n"));
    for f in rust_files(&crate_dir("launcher")) {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let l = line.trim_start();
            assert!(!l.starts_with("impl Kernel") && !l.contains("for Kernel"), "{}:{}: the launcher implements on the kernel", f.display(), n + 1);
            for kernel_type in ["struct Task ", "struct Process ", "struct Mm ", "struct File ", "enum TaskState", "struct Kernel"] {
                assert!(!l.contains(kernel_type), "{}:{}: a kernel type defined in user space", f.display(), n + 1);
            }
        }
    }
    // The braces above, read item by item: only the door's items.
    for f in rust_files(&crate_dir("launcher")) {
        let text = std::fs::read_to_string(&f).unwrap();
        for line in text.lines().filter(|l| l.starts_with("use crate::kernel::") || l.starts_with("use crate::lguest::")) {
            if let Some((head, items)) = line.split_once("::{") {
                for item in items.trim_end_matches("};").split(',').map(str::trim) {
                    let full = format!("{}::{item}", head.trim_start_matches("use "));
                    assert!(door.contains(&full.as_str()), "{}: {full} is not part of the door", f.display());
                }
            }
        }
    }
}

#[test]
fn the_kernel_names_its_driver_only_where_it_registers_it() {
    for f in rust_files(&crate_dir("kernel")) {
        if f.ends_with("drivers.rs") {
            continue;
        }
        for (n, path) in crate_paths(&f) {
            assert!(!path.starts_with("crate::lguest"), "{}:{n} names the driver: {path}", f.display());
            assert!(
                !path.starts_with("crate::launcher") && !path.starts_with("crate::ui") && !path.starts_with("crate::scenario"),
                "{}:{n} {path}",
                f.display()
            );
        }
    }
}

#[test]
fn the_driver_knows_no_user_program_and_no_page() {
    let bad: Vec<String> =
        outside("lguest", &["crate::lguest", "crate::kernel", "crate::cpu", "crate::params", "crate::errno", "crate::guest_ram", "crate::tags"]);
    assert!(bad.is_empty(), "crate/lguest reaches out of the kernel:\n{}", bad.join("\n"));
}

#[test]
fn only_the_boundary_names_the_browser() {
    for f in rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crate")) {
        if f.ends_with("wasm.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim_start().starts_with("//")) {
            for name in ["wasm_bindgen", "js_sys", "web_sys", "serde_wasm_bindgen"] {
                assert!(!line.contains(name), "{}:{}: names {name}", f.display(), n + 1);
            }
        }
    }
}
