//! The speed benchmarks in headless Chromium: the Guest core (MIPS with the decoded-block cache on and
//! off) and the RCU explorer (schedules per second), printed, never asserted. Run by hand on a release
//! build: `CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_PANIC=unwind wasm-pack test --release --headless
//! --chrome --test web_bench -- --include-ignored --nocapture` (the release profile's LTO and panic=abort do not
//! link into a wasm test binary). Add `CARGO_PROFILE_RELEASE_OPT_LEVEL=z` to measure what the page ships.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// `performance.now()` in seconds (microsecond resolution; `Date.now()` has only milliseconds).
fn now_s() -> f64 {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap_or_default();
    let now = js_sys::Reflect::get(&perf, &"now".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    match now.and_then(|f| f.call0(&perf).ok()).and_then(|v| v.as_f64()) {
        Some(ms) => ms / 1000.0,
        None => js_sys::Date::now() / 1000.0,
    }
}

#[wasm_bindgen_test]
#[ignore = "a measurement; run by hand with --release --include-ignored"]
fn guest_core_speed_in_the_browser() {
    // Scale 4 (about 4 M and 12 M instructions per run): the page must answer the test driver within
    // 20 s, and the runs with the block cache off are slow.
    let r = lguest_sim::cpu::bench::run_bench(4, &mut now_s).expect("the benchmark workloads assemble and run");
    console_log!("Guest core in Chromium (wasm):\n{r}");
}

#[wasm_bindgen_test]
#[ignore = "a measurement; run by hand with --release --include-ignored"]
fn guest_timeline_in_the_browser() {
    let out = lguest_sim::cpu::bench::bench_timeline(10_000_000, &mut now_s).expect("the timeline benchmark runs");
    console_log!("Guest timeline in Chromium (wasm), 10 million units:\n{out}");
}

#[wasm_bindgen_test]
#[ignore = "a measurement; run by hand with --release --include-ignored"]
fn rcu_explorer_speed_in_the_browser() {
    let out = lguest_sim::rcu::bench::bench_explore_with(&mut || js_sys::Date::now());
    console_log!("RCU explorer in Chromium (wasm):\n{out}");
}

#[wasm_bindgen_test]
fn the_benchmarks_run_in_the_browser() {
    // A small run of both, so the benchmark code is known to work in wasm (no figures are claimed).
    let r = lguest_sim::cpu::bench::run_bench(1, &mut now_s).expect("the benchmark workloads run");
    assert_eq!(r.entries.len(), 4);
    assert!(lguest_sim::cpu::bench::bench_timeline(30_000, &mut now_s).expect("the timeline benchmark runs").contains("checkpoints"));
    assert!(lguest_sim::rcu::bench::bench_explore_with(&mut || js_sys::Date::now()).contains("schedules"));
}
