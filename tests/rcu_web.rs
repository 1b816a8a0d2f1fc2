//! The RCU explorer in a real browser (headless Chromium via `wasm-pack test --headless --chrome`): every
//! lesson scenario explores exhaustively in well under a second, with the same counts as natively.
#![cfg(target_arch = "wasm32")]

use lguest_sim::rcu::bench::lesson_scenarios;
use lguest_sim::rcu::{bench_explore_with, explore, Setup};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn lesson_scenarios_explore_in_well_under_a_second() {
    for (name, sc) in lesson_scenarios() {
        let setup = Setup::lguest(&sc).expect("lesson scenario");
        let t0 = js_sys::Date::now();
        let r = explore(&setup).expect("explores");
        let ms = js_sys::Date::now() - t0;
        console_log!("{name}: {} schedules, {} states, {ms} ms", r.schedules, r.states);
        assert!(ms < 1000.0, "{name} took {ms} ms");
        if name.starts_with("correct, 2 CPUs") {
            assert_eq!(r.schedules, 1894, "same count as natively");
        }
    }
    console_log!("{}", bench_explore_with(&mut js_sys::Date::now));
}
