//! Free play in slices (issue 16): a line runs with the work budget the page gives it, and a `read` or `wait`
//! that spends it with the Guest still running stops at a clean point, says so in words, and goes on
//! (`FreePlay::go_on`) a slice at a time. The worst Guests are loaded as the page loads them: their source,
//! with its `.include`s written in, through the Guest editor's `load_program`.

use lguest_sim::params::{CALL_BUDGET, PAGE_SLICE_BUDGET, TRIP_COST};
use lguest_sim::ui::free_play::FreePlay;
use std::path::Path;

/// A hostile Guest's source (tests/guests/hostile/NAME.S) as the page's Guest editor would be given it: its
/// `.include`s written in and its macros expanded (the page's assembler has neither files nor macros;
/// tests/e2e/hostile-tasks.test.mjs does the same in JavaScript).
fn hostile(name: &str) -> String {
    expand_macros(&include(&format!("{name}.S")))
}

/// The text of tests/guests/hostile/`file` with each `.include "f"` line replaced by f's text.
fn include(file: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/hostile");
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    text.lines()
        .map(|l| match l.trim().strip_prefix(".include \"").and_then(|r| r.strip_suffix('"')) {
            Some(f) => include(f),
            None => format!("{l}\n"),
        })
        .collect()
}

/// GNU as's `.macro NAME a, b` ... `.endm`, expanded where used (`\a` is the argument).
fn expand_macros(text: &str) -> String {
    let mut macros: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let t = l.trim();
        if let Some(head) = t.strip_prefix(".macro ") {
            let mut words = head.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty());
            let name = words.next().unwrap().to_string();
            let params = words.map(String::from).collect();
            let body = lines.by_ref().take_while(|b| b.trim() != ".endm").map(String::from).collect();
            macros.push((name, params, body));
            continue;
        }
        let word = t.split_whitespace().next().unwrap_or("");
        match macros.iter().find(|(n, _, _)| n == word) {
            Some((_, params, body)) => {
                let args: Vec<&str> = t[word.len()..].split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
                for b in body {
                    let mut b = b.clone();
                    for (p, a) in params.iter().zip(&args) {
                        b = b.replace(&format!("\\{p}"), a);
                    }
                    out += &b;
                    out.push('\n');
                }
            }
            None => {
                out += l;
                out.push('\n');
            }
        }
    }
    out
}

/// Free play with `source` loaded, opened and INITIALIZEd (what the editor's load button does).
fn loaded(name: &str, source: &str) -> FreePlay {
    let mut f = FreePlay::new(32);
    f.load_program(name, source).unwrap_or_else(|e| panic!("{name} does not assemble: {e}"));
    for l in ["open", "write INITIALIZE"] {
        assert!(f.exec(l).unwrap().unwrap().ok, "{name}: {l}");
    }
    f
}

const WORST: [&str; 4] = ["near_slice", "irq_storm", "pf_storm", "selfmod"];

/// Each worst Guest: a `read` with a small budget stops within it and says why in words; each slice goes on
/// from where the last stopped, within its budget; Stop says how to go on; Undo takes the whole line back.
#[test]
fn a_budgeted_read_stops_says_so_and_goes_on_in_slices() {
    const BUDGET: u64 = 200_000;
    for name in WORST {
        let mut f = loaded(name, &hostile(name));
        let read = f.exec_with_budget("read", BUDGET).unwrap().unwrap();
        assert_eq!(read.result.as_deref(), Some("blocked"), "{name}");
        let why = read.message.as_deref().unwrap_or("");
        assert!(why.contains("work budget") || why.contains("the Guest is running"), "{name}: {why}");
        assert_eq!(f.runner().line_budget, CALL_BUDGET, "{name}: the runner's own budget is left as it was");
        let g = f.going_on().expect("the read can go on");
        assert!(g.more && g.slices == 1 && g.units > 0, "{name}: {g:?}");
        assert!(g.text.starts_with("running the Guest: "), "{name}: {}", g.text);
        let mut units = vec![g.units];
        for _ in 0..3 {
            let step = f.go_on(BUDGET).expect("another slice");
            assert_eq!(step.source, "wait main", "{name}");
            assert_eq!(step.result.as_deref(), Some("blocked"), "{name}");
            let spent = f.runner().kernel.sched.budget.spent;
            assert!(spent <= BUDGET + 2 * TRIP_COST, "{name}: a slice spent {spent} units of a {BUDGET} budget");
            units.push(f.going_on().unwrap().units);
        }
        assert!(units.windows(2).all(|w| w[1] > w[0]), "{name}: each slice goes on with the Guest's work: {units:?}");
        let view = f.view();
        assert!(view.hint.as_deref().unwrap_or("").contains("in 4 slices"), "{name}: {:?}", view.hint);
        // The page shows the line typed, asleep, not the simulator's `wait` of its last slice.
        let shown = &view.results[0];
        assert_eq!((shown.action.as_str(), shown.result.as_deref()), ("read", Some("blocked")), "{name}");
        assert!(shown.message.as_deref().unwrap_or("").ends_with("(it went on in 4 slices of the page's work budget)"), "{name}: {:?}", shown.message);
        // The view carries the first and the last of the line's events, and says how many it left out.
        let made = f.runner().kernel.log.iter().count() as u64 - view.events[0].seq;
        assert!(view.events.len() as u64 + view.events_left_out == made || f.runner().kernel.log.dropped > 0, "{name}");
        assert!(view.events.len() <= lguest_sim::params::VIEW_EVENTS, "{name}: {} events in the view", view.events.len());
        assert!(name != "pf_storm" || view.events_left_out > 0, "a Guest that faults for ever makes more than the view carries");
        if view.events_left_out > 0 {
            assert_eq!(view.events.last().map(|e| e.seq), f.runner().kernel.log.iter().last().map(|e| e.seq), "{name}: the last event is shown");
        }
        // Marked against the machine before the line, all its slices together: main went to sleep in it.
        let main = view.sections.iter().flat_map(|s| &s.rows).find(|r| r.key == "task.main").expect("main's row");
        assert!(main.changed && main.was.is_some(), "{name}: {main:?}");
        let stopped = f.stop().expect("a line going on can be stopped");
        assert!(stopped.text.starts_with("stopped: `read` ran") && stopped.text.contains("Type wait to go on"), "{name}: {}", stopped.text);
        assert!(f.go_on(BUDGET).is_none(), "{name}: a stopped line does not go on by itself");
        assert!(f.stop().is_none(), "{name}: nothing left to stop");
        // Typed again, `wait` goes on from the clean point.
        assert_eq!(f.exec_with_budget("wait", BUDGET).unwrap().unwrap().result.as_deref(), Some("blocked"), "{name}");
        assert!(f.going_on().unwrap().more, "{name}");
        // Undo: the wait (with its slices), then the read with its four.
        let steps = f.step_count();
        assert!(f.back());
        assert_eq!(f.step_count(), 6, "{name}: open, INITIALIZE, read and its three slices ({steps} before)");
        assert!(f.going_on().is_none());
        assert!(f.back());
        assert_eq!(f.step_count(), 2, "{name}: the read and all its slices are undone at once");
    }
}

/// A deterministic Guest that computes for about ten slices, then prints and shuts down: run in small
/// slices, it reaches the same result, console output and machine as in one large call.
#[test]
fn slices_add_up_to_one_large_run() {
    let source = "
        .text
        .globl start
    start:
        mov $1, %eax            # LHCALL_LGUEST_INIT
        mov $lguest_data, %ebx
        int $0x1f
        mov $1000000, %ecx      # two units a turn: two million units
        xor %esi, %esi
    1:  add %ecx, %esi
        loop 1b
        mov %esi, sum
        mov $17, %eax           # LHCALL_NOTIFY
        mov $msg, %ebx
        int $0x1f
        mov $2, %eax            # LHCALL_SHUTDOWN
        mov $bye, %ebx
        int $0x1f
    2:  jmp 2b
        .data
    msg: .asciz \"counted to a million\"
    bye: .asciz \"done\"
    sum: .long 0
    ";
    let source = format!("{source}{}", include("../host/lguest_data.inc"));
    let source = source.as_str();
    let mut whole = loaded("count.S", source);
    // One large call at a time (CALL_BUDGET): a read, then waits until it returns.
    let mut one = whole.exec("read").unwrap().unwrap();
    while one.result.as_deref() == Some("blocked") {
        one = whole.exec("wait").unwrap().unwrap();
    }
    let r = one.result.as_deref().unwrap_or("");
    assert!(r.starts_with("4 notify=") && r.ends_with("console=\"counted to a million\""), "{r}: {:?}", one.message);

    const BUDGET: u64 = 200_000;
    let mut sliced = loaded("count.S", source);
    let mut last = sliced.exec_with_budget("read", BUDGET).unwrap().unwrap();
    while let Some(s) = sliced.go_on(BUDGET) {
        last = s;
    }
    let g = sliced.going_on().unwrap();
    assert!(!g.more && g.slices >= 10, "{g:?}");
    assert!(g.text.starts_with("`read` returned 4 notify="), "{}", g.text);
    assert_eq!(last.result, one.result, "the last slice's wait returns what the one read did");
    assert_eq!(last.console, one.console);
    let json = |f: &FreePlay| serde_json::to_value(f.snapshot()).unwrap();
    assert_eq!(json(&sliced), json(&whole), "the same machine");
    let regs = |f: &FreePlay| serde_json::to_value(f.cpu().map(|c| c.regs)).unwrap();
    assert_eq!(regs(&sliced), regs(&whole), "the same Guest registers");
    // And on to the shutdown, alike.
    let (a, b) = (whole.exec("read").unwrap().unwrap(), sliced.exec_with_budget("read", BUDGET).unwrap().unwrap());
    assert_eq!(a.result, b.result);
    assert_eq!(a.result.as_deref(), Some("-ENOENT"));
}

/// A free-play script of 10,000 lines run as the page runs them, each line with the page's slice budget:
/// every line ends within it, and none takes long natively.
#[test]
fn a_script_of_ten_thousand_lines_runs_each_line_bounded() {
    // A scripted Guest (the runner plays it), so ten thousand lines stay quick in the debug build.
    let mut f = FreePlay::new(32);
    let block = [
        "open",
        "write INITIALIZE",
        "guest init 0x5000",
        "eventfd",
        "write EVENTFD addr=0x7000 fd=4",
        "guest notify 0x7000",
        "read",
        "wait",
        "write IRQ 3",
        "signal",
        "wait",
        "close 4",
        "# a comment",
        "bogus line",
    ];
    let mut longest = std::time::Duration::ZERO;
    let mut ran = 0;
    for i in 0..10_000 {
        let t = std::time::Instant::now();
        if let Ok(Some(_)) = f.exec_with_budget(block[i % block.len()], PAGE_SLICE_BUDGET) {
            ran += 1;
            let spent = f.runner().kernel.sched.budget.spent;
            assert!(spent <= PAGE_SLICE_BUDGET + 2 * TRIP_COST, "line {i}: {spent} units");
        }
        longest = longest.max(t.elapsed());
    }
    println!("10,000 lines: {ran} ran, the longest took {longest:?} natively");
    assert!(ran > 7_000, "{ran}");
    let mut undone = 0;
    while f.back() {
        undone += 1;
    }
    assert!(undone <= lguest_sim::params::UNDO_DEPTH);
}

/// Every byte the heap holds, for the measurement below (the whole binary's: run that test alone).
struct Counting;
static HELD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        HELD.fetch_add(l.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        HELD.fetch_sub(l.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(p, l) }
    }
}
#[global_allocator]
static COUNTING: Counting = Counting;

/// What a worst Guest's read going on in slices holds, per event kept and in all, slice after slice, until
/// the event log is full and after: the page's memory for it is bounded by `params::EVENT_CAP` events.
#[test]
#[ignore = "a measurement; run by hand: cargo test --release --test slices -- --ignored --nocapture memory"]
fn memory_of_a_read_in_slices() {
    use std::sync::atomic::Ordering::Relaxed;
    for name in WORST {
        let start = HELD.load(Relaxed);
        let mut f = loaded(name, &hostile(name));
        f.exec_with_budget("read", PAGE_SLICE_BUDGET).unwrap();
        let mut slices = 1;
        while slices < 400 && f.go_on(PAGE_SLICE_BUDGET).is_some() {
            slices += 1;
        }
        let held = HELD.load(Relaxed) - start;
        let events = f.runner().kernel.log.iter().count();
        println!(
            "{name:>10}: {slices} slices, {events} events kept ({} dropped), heap {:.1} MB, {:.0} B an event",
            f.runner().kernel.log.dropped,
            held as f64 / 1048576.0,
            held as f64 / events.max(1) as f64
        );
    }
}

/// What a slice of each worst Guest's read costs in time, and the view after it (what the page builds
/// after the line's last slice), natively: the page's wasm build is a few times slower.
#[test]
#[ignore = "a measurement; run by hand: cargo test --release --test slices -- --ignored --nocapture time_of"]
fn time_of_a_slice_and_its_view() {
    for name in WORST {
        let mut f = loaded(name, &hostile(name));
        f.exec_with_budget("read", PAGE_SLICE_BUDGET / 64).unwrap();
        let (mut slices, mut worst, mut all) = (0, std::time::Duration::ZERO, std::time::Duration::ZERO);
        while slices < 100 {
            let t = std::time::Instant::now();
            if f.go_on(PAGE_SLICE_BUDGET / 8).is_none() {
                break;
            }
            let took = t.elapsed();
            worst = worst.max(took);
            all += took;
            slices += 1;
        }
        let t = std::time::Instant::now();
        let v = f.view();
        let view = t.elapsed();
        println!(
            "{name:>10}: {slices} slices of {} units, mean {:.2?}, worst {worst:.2?}; the view after them {view:.2?} ({} events)",
            PAGE_SLICE_BUDGET / 8,
            all / slices.max(1),
            v.events.len()
        );
    }
}
