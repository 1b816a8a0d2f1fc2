//! Building a Guest program from GNU as source for the tests that boot it: `as --32` and
//! `ld -m elf_i386 -Ttext 0x100000 -e start`, each build in its own temporary folder (tests run in
//! parallel and may build the same Guest). Missing binutils is a loud failure, never a skipped test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Build `dir/name.S` (with `dir` on the `.include` path) into a static ELF32 executable.
pub fn build(dir: &Path, name: &str) -> PathBuf {
    build_with(dir, name, &[])
}

/// [`build`] with symbols set on the command line (`as --defsym NAME=VALUE`), for a Guest whose source
/// holds several cases.
pub fn build_with(dir: &Path, name: &str, defsyms: &[(&str, u32)]) -> PathBuf {
    static BUILDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("lguest-sim-guests-{}-{n}-{name}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let obj = out.join(format!("{name}.o"));
    let elf = out.join(format!("{name}.elf"));
    let st = Command::new("as")
        .args(["--32", "-I"])
        .arg(dir)
        .args(defsyms.iter().flat_map(|(k, v)| ["--defsym".to_string(), format!("{k}={v}")]))
        .arg(dir.join(format!("{name}.S")))
        .arg("-o")
        .arg(&obj)
        .status()
        .expect("GNU as must be installed (binutils) to build the Guest programs");
    assert!(st.success(), "as --32 failed on {name}.S");
    let st = Command::new("ld")
        .args(["-m", "elf_i386", "-Ttext", "0x100000", "-e", "start", "-o"])
        .arg(&elf)
        .arg(&obj)
        .status()
        .expect("ld must be installed (binutils)");
    assert!(st.success(), "ld -m elf_i386 failed on {name}");
    elf
}
