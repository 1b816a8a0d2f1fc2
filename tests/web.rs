//! The wasm boundary in a real browser (headless Chromium via `wasm-pack test --headless --chrome`): the
//! same paths as the native scenario tests, driven through the exported `Simulator`, with errors arriving
//! as values and snapshots of the expected shape.
#![cfg(target_arch = "wasm32")]

use js_sys::Reflect;
use lguest_sim::{RcuRun, Simulator, Walkthrough};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn result_of(sim: &mut Simulator, line: &str) -> String {
    let step = sim.exec(line);
    assert_eq!(get(&step, "ok").as_bool(), Some(true), "{line}: {:?}", get(&step, "message").as_string());
    get(&step, "result").as_string().unwrap_or_default()
}

#[wasm_bindgen_test]
fn the_file_answers_as_the_kernel_did() {
    let mut sim = Simulator::new(0);
    assert_eq!(result_of(&mut sim, "open"), "3");
    assert_eq!(result_of(&mut sim, "read"), "-EINVAL");
    assert_eq!(result_of(&mut sim, "write INITIALIZE"), "12");
    assert_eq!(result_of(&mut sim, "write INITIALIZE"), "-EBUSY");
    assert_eq!(result_of(&mut sim, "eventfd"), "4");
    assert_eq!(result_of(&mut sim, "write EVENTFD addr=0x7000 fd=4"), "0");
    assert_eq!(result_of(&mut sim, "write EVENTFD addr=0 fd=4"), "-EINVAL");
    assert_eq!(result_of(&mut sim, "write IRQ 40"), "-EINVAL");
    assert_eq!(result_of(&mut sim, "write IRQ 1"), "0");
    assert_eq!(result_of(&mut sim, "write IRQ 1 buf=null"), "-EFAULT");
    result_of(&mut sim, "thread dev");
    assert_eq!(result_of(&mut sim, "as dev: read"), "-EPERM");
    result_of(&mut sim, "guest init 0x5000");
    result_of(&mut sim, "guest notify 0x8000");
    assert_eq!(result_of(&mut sim, "read"), "4 notify=0x8000");
    result_of(&mut sim, "guest shutdown \"Power down\"");
    assert_eq!(result_of(&mut sim, "read"), "-ENOENT");
    assert_eq!(result_of(&mut sim, "read len=1023"), "18 reason=\"CRASH: Power down\"");
    assert_eq!(result_of(&mut sim, "close"), "0");
    let snap = sim.snapshot();
    assert_eq!(js_sys::Array::from(&get(&snap, "allocations")).length(), 0, "close freed everything");
}

#[wasm_bindgen_test]
fn errors_are_values_with_explanations() {
    let mut sim = Simulator::new(0);
    let bad = sim.exec("write FOO");
    assert_eq!(get(&bad, "ok").as_bool(), Some(false));
    assert!(get(&bad, "message").as_string().unwrap().contains("unknown request"));
    let step = sim.exec("open");
    let step = if get(&step, "ok").as_bool() == Some(true) { sim.exec("write IRQ 1") } else { step };
    let sys = get(&step, "sys");
    assert_eq!(get(&sys, "ret").as_f64(), Some(-22.0));
    assert_eq!(get(&sys, "errno").as_string().as_deref(), Some("EINVAL"));
    assert!(get(&sys, "why").as_string().unwrap().contains("before LHREQ_INITIALIZE"));
    assert_eq!(Simulator::errno_meaning("EINVAL").as_string().as_deref(), Some("invalid argument"));
    assert!(sim.exec("# a comment").is_null());
}

#[wasm_bindgen_test]
fn snapshots_have_the_expected_shape_and_back_undoes() {
    let mut sim = Simulator::new(0);
    result_of(&mut sim, "open");
    result_of(&mut sim, "write INITIALIZE");
    let snap = sim.snapshot();
    let guests = js_sys::Array::from(&get(&snap, "guests"));
    assert_eq!(guests.length(), 1);
    let g = guests.get(0);
    assert_eq!(get(&g, "nrCpus").as_f64(), Some(1.0));
    // guest_limit / PAGE_SIZE: 32 MB of RAM (0x2000 pages) and the devices page main() takes at once
    assert_eq!(get(&g, "pfnLimit").as_f64(), Some(8193.0));
    let cpu = js_sys::Array::from(&get(&g, "cpus")).get(0);
    assert_eq!(get(&cpu, "tsk").as_string().as_deref(), Some("main"));
    assert_eq!(get(&get(&cpu, "regs"), "eip").as_f64(), Some(0x100000 as f64));
    assert_eq!(get(&get(&g, "eventfds"), "num").as_f64(), Some(0.0));
    let evs = js_sys::Array::from(&sim.events(0.0, 1e9));
    assert!(evs.length() > 5);
    assert!(js_sys::Array::from(&Simulator::functions()).length() > 10);
    assert!(sim.back());
    assert_eq!(js_sys::Array::from(&get(&sim.snapshot(), "guests")).length(), 0, "back undid INITIALIZE");
    assert_eq!(sim.step_count(), 1);
}

#[wasm_bindgen_test]
fn a_walkthrough_steps_through_a_lesson_and_back() {
    let lessons = js_sys::Array::from(&Walkthrough::lessons());
    assert!(lessons.length() >= 15);
    let id = get(&lessons.get(0), "id").as_string().unwrap();
    let mut w = Walkthrough::open(&id).expect("the first lesson opens");
    assert!(Walkthrough::open("no-such-lesson").is_none());
    let total = w.total();
    assert!(total > 1);
    let end = w.go_to(total + 5);
    assert_eq!(get(&end, "position").as_f64(), Some(total as f64));
    assert_eq!(get(&end, "allOk").as_bool(), Some(true));
    let first = w.go_to(1);
    let results = js_sys::Array::from(&get(&first, "results"));
    assert!(results.length() > 0);
    assert_eq!(get(&results.get(0), "ok").as_bool(), Some(true));
    assert_eq!(w.position(), 1);
    assert_eq!(js_sys::Array::from(&get(&w.go_to(0), "results")).length(), 0);
    let src = Walkthrough::host_source("add_eventfd");
    assert!(get(&src, "text").as_string().unwrap().contains("fn add_eventfd"));
    assert!(get(&src, "link").as_string().unwrap().starts_with("https://elixir.bootlin.com/"));
}

#[wasm_bindgen_test]
fn a_guest_program_loads_and_its_errors_name_lines() {
    let mut sim = Simulator::new(0);
    let bad = sim.load_program("mine.S", "movl $1, %eax\nfoo %eax\n");
    assert_eq!(get(&bad, "ok").as_bool(), Some(false));
    assert!(get(&bad, "message").as_string().unwrap().contains("mine.S:2"));
    assert!(sim.load_program("mine.S", "movl $1, %eax\nint $0x1f\n").is_null());
    result_of(&mut sim, "open");
    result_of(&mut sim, "write INITIALIZE");
    assert!(!sim.cpu().is_null());
}

#[wasm_bindgen_test]
fn free_play_continues_from_a_step_and_shows_its_view() {
    let mut w = Walkthrough::open("02-initialize").unwrap();
    w.go_to(1);
    let mut sim = w.free_play();
    assert_eq!(result_of(&mut sim, "write INITIALIZE"), "-EBUSY", "the copy holds the lesson's Guest");
    let v = sim.view();
    assert_eq!(js_sys::Array::from(&get(&v, "results")).length(), 1);
    assert!(js_sys::Array::from(&get(&v, "events")).length() > 0);
    assert_eq!(w.position(), 1, "free play does not move the walkthrough");
    assert!(Simulator::guest_source("guests/hello.S").as_string().unwrap().contains("int $0x1f"));
    assert!(js_sys::Array::from(&Simulator::guests()).length() >= 4);
}

#[wasm_bindgen_test]
fn the_rcu_explorer_finds_the_bug_and_its_counterexample_steps() {
    let r = RcuRun::explore("no-synchronize-rcu", "sc", 1, 1, 2, 1);
    let checks = js_sys::Array::from(&get(&r, "checks"));
    let uaf = checks.iter().find(|c| get(c, "name").as_string().as_deref() == Some("use-after-free")).unwrap();
    assert!(get(&uaf, "schedules").as_f64().unwrap() > 0.0);
    let bad = RcuRun::explore("no-such-variant", "sc", 1, 1, 2, 1);
    assert_eq!(get(&bad, "ok").as_bool(), Some(false));
    let mut run = RcuRun::open("no-synchronize-rcu", "sc", 1, 1, 2, 1, &get(&uaf, "counterexample").as_string().unwrap()).unwrap();
    let n = get(&uaf, "length").as_f64().unwrap() as usize;
    for _ in 0..n {
        assert!(run.step().is_null());
    }
    let snap = get(&run.view(), "snapshot");
    assert!(js_sys::Array::from(&get(&snap, "violations")).length() > 0);
    assert!(run.back());
}

#[wasm_bindgen_test]
fn the_guest_cpu_pane_replays_a_step_and_finds_a_label() {
    let mut w = Walkthrough::open("16-a-real-guest").expect("the course has lesson 16");
    let v = w.go_to(2);
    let total = get(&v, "guestUnits").as_f64().expect("step 2 ran Guest code");
    assert!(total >= 3.0);
    let end = w.guest_at(total);
    assert_eq!(get(&end, "position").as_f64(), Some(total));
    assert!(get(&end, "error").is_null(), "{:?}", get(&end, "error").as_string());
    assert_eq!(get(&get(&end, "last"), "text").as_string().as_deref(), Some("int $0x1f"));
    // The first instruction, then the hypercall's address by label, searched from the start.
    let start = w.guest_at(0.0);
    assert!(get(&start, "last").is_null(), "nothing has run at position 0");
    let hello = w.guest_symbol("hello").as_f64().expect("hello.S has a `hello` label") as u32;
    let rows = w.guest_memory(total, hello, 2);
    let first = js_sys::Array::from(&get(&js_sys::Array::from(&rows).get(0), "bytes"));
    assert!(first.length() > 0);
    assert_eq!(w.guest_symbol("no_such_label"), JsValue::NULL);
    let eip0 = get(&start, "eip").as_f64().unwrap() as u32;
    assert_eq!(w.guest_find_in_step(2, vec![eip0]).as_f64(), Some(0.0), "the very first instruction counts");
    assert_eq!(w.guest_find(0.0, vec![eip0]), JsValue::NULL, "and is not reached again");
    // A step of the scripted Guest has no Guest CPU work.
    let mut s = Walkthrough::open("05-hypercalls-and-notify").unwrap();
    let v = s.go_to(2);
    assert!(get(&v, "guestUnits").is_null());
    assert_eq!(s.guest_at(0.0), JsValue::NULL);
}
