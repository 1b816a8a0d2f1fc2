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

#[test]
#[ignore = "for profiling the cached mix alone (perf record ... --ignored mix_cached_only); release only"]
fn mix_cached_only() {
    use lguest_sim::cpu::{Cpu, Exit};
    use lguest_sim::guest_ram::GuestRam;
    let rounds = std::env::var("MIX_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    // TIGHT=1 profiles the tight loop instead (MIX_ROUNDS x 1000 iterations).
    let code =
        if std::env::var_os("TIGHT").is_some() { lguest_sim::cpu::bench::loop_workload(rounds * 1000) } else { lguest_sim::cpu::bench::mix_workload(rounds) }
            .expect("assemble");
    let mut ram = GuestRam::new(32);
    ram.write(0x1000, &code).expect("fits");
    let mut cpu = Cpu::new(32, 0x1000);
    cpu.state.regs[4] = 0x10000;
    while cpu.run(&mut ram, u64::MAX) == Exit::Budget {}
    eprintln!("{} instructions", cpu.state.tsc);
}
