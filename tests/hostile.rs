//! Hostile input, one reproducer a bug: each input here once made the simulator hang, grow without bound or
//! answer unlike the kernel. They run through the CLI, as a user would meet them.

mod guest_build;

use std::path::Path;
use std::process::Command;

fn lguest_sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lguest-sim")).args(args).output().expect("run lguest-sim")
}

/// A Guest that dies with a NOTIFY pending: the Launcher reads the reason's first four bytes as an address
/// and exits with "Bad NOTIFY", instead of taking an address from nowhere and looping for ever.
#[test]
fn a_guest_dying_with_a_notify_pending_ends_the_launcher() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/hostile");
    let elf = guest_build::build(&dir, "dead_notify");
    let o = lguest_sim(&["run", elf.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "printed before the Launcher sees the death\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "lguest: Bad NOTIFY 0x20646142\n");
    assert_eq!(o.status.code(), Some(1));
}

/// A device that never ends, where a file was expected: refused at once, naming it.
#[test]
fn a_device_for_a_file_is_refused_not_read_for_ever() {
    let o = lguest_sim(&["run", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/dev/zero: it holds more than 64 MB"), "{}", String::from_utf8_lossy(&o.stderr));
    let scn = std::env::temp_dir().join(format!("lguest-sim-zero-{}.scn", std::process::id()));
    std::fs::write(&scn, "load /dev/zero\n").unwrap();
    let o = lguest_sim(&["replay", scn.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(":1: /dev/zero: it holds more than"), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = std::env::temp_dir().join(format!("lguest-sim-zero-lesson-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lesson = "# Zero\nguest: /dev/zero\n\ngoals:\n- none\n\n## Step: open\n\n```scenario\nopen => fd 3\n```\n";
    std::fs::write(dir.join("01-zero.lesson"), lesson).unwrap();
    let o = lguest_sim(&["check", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(out.contains("\"/dev/zero\" cannot be read: it holds more than 64 MB"), "{out}");
}

/// A seeded xorshift, so a failure names its case and replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Cases a run of the fuzzers below tries: a few in CI, as many as `LGSIM_FUZZ_CASES` says by hand.
fn cases(default: usize) -> usize {
    std::env::var("LGSIM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Lines a course author might get wrong, for the mutations to insert.
const HOSTILE_LESSON_LINES: &[&str] = &[
    "## Step: an extra step",
    "## Step:",
    "## ",
    "```scenario",
    "```",
    "```rcu",
    "explore correct sc readers=255 writers=255 cpus=255",
    "explore no-synchronize-rcu weak readers=1 writers=1 cpus=2 initial=99",
    "question: what now?",
    "choices: a | b |",
    "answer:",
    "answer: 4 notify=0x8000",
    "about: no_such_function",
    "about: L:055, L:055, add_eventfd",
    "guest: guests/nothing.S",
    "guest: ../../../../etc/passwd",
    "goals:",
    "- ",
    "read => 4 reason=\"unclosed",
    "as nobody: read",
    "wait nobody",
    "expect = ",
    "load /dev/zero",
    "advance 18446744073709551615",
    "inject kmalloc-fail 4294967295",
];

/// The course's lessons, mutated (lines deleted, repeated, swapped, hostile lines put in, characters
/// flipped): the checker always ends with a report whose every problem names a line of the text (or 0),
/// and never panics.
#[test]
fn mutated_lessons_are_checked_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    let lessons: Vec<(String, String)> = lguest_sim::scenario::library::LESSONS.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    let mut rng = Rng(0x5eed_1e55_0000_0001);
    let n = cases(40);
    for case in 0..n {
        let (name, text) = &lessons[rng.below(lessons.len())];
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(lines.len() + 1);
            match rng.below(5) {
                0 if at < lines.len() => {
                    lines.remove(at);
                }
                1 if at < lines.len() => {
                    let l = lines[at].clone();
                    lines.insert(at, l);
                }
                2 if lines.len() > 1 => {
                    let b = rng.below(lines.len());
                    let a = at.min(lines.len() - 1);
                    lines.swap(a, b);
                }
                3 if at < lines.len() && !lines[at].is_empty() => {
                    let mut chars: Vec<char> = lines[at].chars().collect();
                    let i = rng.below(chars.len());
                    chars[i] = ['=', '>', '"', '`', ':', '#', '0', 'x', '\u{0}'][rng.below(9)];
                    lines[at] = chars.into_iter().collect();
                }
                _ => lines.insert(at, HOSTILE_LESSON_LINES[rng.below(HOSTILE_LESSON_LINES.len())].to_string()),
            }
        }
        let src = lines.join("\n");
        let count = src.lines().count();
        let t0 = std::time::Instant::now();
        let report = lguest_sim::scenario::check::check_source(&src, name, Some(&dir));
        let errors = match report {
            Ok(run) => run.errors,
            Err(errors) => errors,
        };
        for e in &errors {
            assert!(e.line <= count + 1, "case {case} ({name}): an error at line {} of {count}: {}", e.line, e.message);
            assert!(!e.message.trim().is_empty(), "case {case} ({name}): an empty message at line {}", e.line);
        }
        // Not a timed assertion: a note for the fuzz log when a case is slow.
        if t0.elapsed().as_secs() > 5 {
            eprintln!("case {case} ({name}) took {:?}", t0.elapsed());
        }
    }
    eprintln!("{n} mutated lessons checked");
}

/// The worst Guests: each line that runs them ends within the line's work budget, blocked with the reason
/// in words, and `wait` goes on from where it stopped. (A small budget keeps the debug build quick; the
/// bound holds at any size.)
#[test]
fn the_worst_guests_run_within_each_lines_budget_and_go_on() {
    use lguest_sim::params::TRIP_COST;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/hostile");
    const BUDGET: u64 = 300_000;
    for name in ["near_slice", "irq_storm", "pf_storm", "selfmod"] {
        let elf = guest_build::build(&dir, name);
        let mut r = lguest_sim::scenario::Runner { line_budget: BUDGET, ..Default::default() };
        for l in [format!("load {}", elf.display()), "open => fd 3".into(), "write INITIALIZE => 12".into()] {
            let step = r.exec(1, &l).unwrap().unwrap();
            assert!(step.ok, "{name}: {l}: {:?}", step.message);
        }
        let mut work = Vec::new();
        for l in ["read => blocked", "wait => blocked", "wait => blocked"] {
            let step = r.exec(1, l).unwrap().unwrap();
            assert!(step.ok, "{name}: {l}: {:?}", step.message);
            let spent = r.kernel.sched.budget.spent;
            assert!(spent <= BUDGET + 2 * TRIP_COST, "{name}: {l} spent {spent} units of a {BUDGET} budget");
            // A `wait` would go on for WAIT_ROUNDS rounds: the budget is what stops it.
            if l.starts_with("wait") {
                assert!(step.message.as_deref().unwrap_or("").contains("work budget"), "{name}: {l}: {:?}", step.message);
            }
            let tsc = match &r.kernel.lguest.get(0).unwrap().cpus[0].engine {
                lguest_sim::lguest::guest::GuestEngine::Cpu(core) => core.state.tsc,
                lguest_sim::lguest::guest::GuestEngine::Scripted => 0,
            };
            work.push(tsc);
        }
        assert!(work.windows(2).all(|w| w[1] > w[0]), "{name}: each wait goes on with the Guest's work: {work:?}");
    }
}

/// The same Guests under `lguest-sim run`: the run ends with the budget's message and status 1.
#[test]
fn a_guest_that_never_stops_ends_the_run_at_its_budget() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/hostile");
    for name in ["near_slice", "irq_storm", "pf_storm", "selfmod"] {
        let elf = guest_build::build(&dir, name);
        let o = lguest_sim(&["run", "--budget", "400000", elf.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("the Guest ran for the simulation's whole budget"), "{name}: {err}");
    }
}

/// Ten thousand free-play lines: each one runs, and Undo (bounded) never holds more than its depth.
#[test]
fn ten_thousand_free_play_lines() {
    let mut f = lguest_sim::ui::free_play::FreePlay::new(1);
    let lines = [
        "open",
        "write INITIALIZE",
        "eventfd",
        "write EVENTFD addr=0x7000 fd=4",
        "guest init 0x5000",
        "guest notify 0x7000",
        "read",
        "write IRQ 3",
        "bogus line",
        "close 4",
        "signal",
        "wait",
    ];
    let mut rng = Rng(7);
    let mut ran = 0;
    for _ in 0..cases(10_000) {
        if let Ok(Some(_)) = f.exec(lines[rng.below(lines.len())]) {
            ran += 1;
        }
        if rng.below(50) == 0 {
            f.back();
        }
    }
    assert!(ran > 5_000, "{ran} lines ran");
    let mut undone = 0;
    while f.back() {
        undone += 1;
    }
    assert!(undone <= lguest_sim::params::UNDO_DEPTH, "{undone}");
}

/// `lguest-sim run` streams the console as the Guest writes it: a Guest that prints and then runs for ever
/// has its line on the terminal while it still runs (the test reads it, then stops the run).
#[test]
fn run_streams_the_console_as_the_guest_writes_it() {
    use std::io::{BufRead, BufReader};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/hostile");
    let elf = guest_build::build(&dir, "print_then_spin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lguest-sim"))
        .args(["run", elf.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(first, "hello while running\n");
    assert!(still_running, "the line came before the run ended");
}

/// A mistake a course author or student makes is answered with how to go on: the nearest right word, the
/// right spelling of an errno, what the empty thing is.
#[test]
fn every_mistake_says_how_to_go_on() {
    let cases = [
        ("read => EINVAL", "write -EINVAL"),
        ("read => einval", "write -EINVAL"),
        ("wirte IRQ 1", "(did you mean write?)"),
        ("guest notfy 0x8000", "(did you mean notify?)"),
        ("write INITIALISE", "(did you mean INITIALIZE?)"),
        ("read => 4 notfy=0x8000", "(did you mean notify?)"),
        ("advance 10 ms", "found also \"ms\""),
        ("launcher devises", "(did you mean devices?)"),
        ("open now", "open takes nothing"),
    ];
    for (line, want) in cases {
        let e = lguest_sim::scenario::parse_line(7, line).unwrap_err();
        assert_eq!(e.line, 7);
        assert!(e.message.contains(want), "{line}: {}", e.message);
    }
    let tmp = std::env::temp_dir().join(format!("lguest-sim-mistakes-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("empty.S"), "# nothing here\n").unwrap();
    std::fs::write(tmp.join("empty.scn"), "# only a comment\n\n").unwrap();
    std::fs::write(tmp.join("load.scn"), format!("load {}\n", tmp.join("empty.S").display())).unwrap();
    let err = |args: &[&str]| String::from_utf8_lossy(&lguest_sim(args).stderr).into_owned();
    assert!(err(&["replay", tmp.join("load.scn").to_str().unwrap()]).contains("empty.S is empty: a Guest program needs instructions"));
    assert!(err(&["replay", tmp.join("empty.scn").to_str().unwrap()]).contains("nothing to replay"));
    assert!(err(&["run", "--memory", "3", "x"]).contains("unknown option --memory (did you mean --mem?)"));
    assert!(err(&["chek", "lessons"]).contains("unknown command \"chek\" (did you mean check?)"));
    assert!(err(&["check", "--coverge", "lessons"]).contains("(did you mean --coverage?)"));
}
