//! The Guest core's benchmark (crate/cpu/bench.rs). The quick test checks the workloads run to their
//! end with the cache on and off; the measurement itself is meaningful only in a release build:
//!
//! `CARGO_TARGET_DIR=... cargo test --release --test cpu_bench -- --ignored --nocapture`

use lguest_sim::cpu::bench::run_bench;

fn clock() -> impl FnMut() -> f64 {
    let t0 = std::time::Instant::now();
    move || t0.elapsed().as_secs_f64()
}

#[test]
fn benchmark_workloads_run_to_completion() {
    let mut now = clock();
    let r = run_bench(1, &mut now).expect("benchmark runs");
    assert_eq!(r.entries.len(), 4);
    // The tight loop is exactly 3 instructions per iteration plus the set-up and the hypercall.
    assert_eq!(r.entries[1].instructions, 3_000_000 + 2);
    assert_eq!(r.entries[1].instructions, r.entries[3].instructions);
    assert_eq!(r.entries[0].instructions, r.entries[2].instructions);
    eprintln!("(debug build, not a measurement)\n{r}");
}

#[test]
#[ignore = "a measurement, meaningful only with --release; run it by hand"]
fn benchmark_release_figures() {
    let mut now = clock();
    let r = run_bench(20, &mut now).expect("benchmark runs");
    eprintln!("{r}");
}
