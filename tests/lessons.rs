//! The course: every lesson in `lessons/` replays exactly as it says, the course teaches every request and
//! errno path of `/dev/lguest` and `run_guest()`, and the checker rejects broken lessons with messages that
//! name the file and line.

use std::path::{Path, PathBuf};

use lguest_sim::scenario::check::{check_paths, check_source, run_lesson};
use lguest_sim::scenario::coverage::{Coverage, PATHS};
use lguest_sim::scenario::lesson::parse_lesson;

fn lessons_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons")
}

#[test]
fn every_lesson_replays_as_written() {
    let course = check_paths(&[lessons_dir()]);
    let msgs: Vec<String> = course.errors.iter().map(|e| e.to_string()).collect();
    assert!(course.is_clean(), "the checker found problems:\n{}", msgs.join("\n"));
    assert!(course.runs.len() >= 12, "the course has {} lessons, expected at least 12", course.runs.len());
    // The course we ship is the authors' model: `lguest-sim check` prints its warnings, and it has none.
    let warnings: Vec<String> = course.warnings.iter().map(|e| e.to_string()).collect();
    assert!(warnings.is_empty(), "the checker warns:\n{}", warnings.join("\n"));
}

#[test]
fn lessons_follow_the_journey_and_say_what_they_teach() {
    let course = check_paths(&[lessons_dir()]);
    let ids: Vec<&str> = course.runs.iter().map(|r| r.lesson.id.as_str()).collect();
    let journey = [
        "01-meet-dev-lguest",
        "02-initialize",
        "03-when-initialize-fails",
        "04-read-runs-the-guest",
        "05-hypercalls-and-notify",
        "06-who-may-do-what",
        "07-interrupts",
        "08-time",
        "09-eventfds",
        "10-rcu-copy-update",
        "11-rcu-break-it",
        "12-rcu-ordering",
        "13-faults-and-kill-guest",
        "14-death-and-close",
    ];
    for (i, want) in journey.iter().enumerate() {
        assert_eq!(ids.get(i), Some(want), "lesson {} of the journey", i + 1);
    }
    for r in &course.runs {
        let l = &r.lesson;
        assert!(!l.goals.is_empty() && !l.intro.is_empty(), "{}: goals and an introduction", l.file);
        for s in &l.steps {
            assert!(!s.about.is_empty(), "{}:{}: a step says what it is about", l.file, s.line);
            assert!(!s.prose.is_empty() || !s.explain.is_empty(), "{}:{}: a step has prose", l.file, s.line);
        }
        // Each lesson links the real kernel source.
        assert!(l.intro.contains("https://elixir.bootlin.com/linux/v2.6.39/"), "{}: link the kernel source", l.file);
    }
}

/// The acceptance test of the coverage report: every request/errno path is taught somewhere.
#[test]
fn the_course_covers_every_errno_path() {
    let course = check_paths(&[lessons_dir()]);
    let cov = Coverage::of(&course.runs);
    let missing: Vec<&str> = cov.missing().iter().map(|p| p.id).collect();
    assert!(missing.is_empty(), "paths no lesson takes: {missing:?}\n{}", cov.render());
    assert!(PATHS.len() >= 40);
    for h in ["LHCALL_LGUEST_INIT", "LHCALL_NOTIFY", "LHCALL_HALT", "LHCALL_SET_CLOCKEVENT", "LHCALL_SHUTDOWN", "LHCALL_LOAD_IDT_ENTRY"] {
        assert!(cov.hypercalls.contains_key(h), "no lesson's Guest makes {h}");
    }
    for m in [
        "notify.to-eventfd",
        "eventfd.read",
        "irq.wakes-halted",
        "irq.disabled",
        "irq.delivered",
        "trap.reflected",
        "timer.fires",
        "hcall.before-init",
        "kill_guest.enomem",
        "kill_guest.second",
    ] {
        assert!(cov.paths.contains_key(m), "no lesson shows {m}");
    }
    for v in ["no-synchronize-rcu (sc)", "plain-assign (weak)", "no-lguest-lock (sc)"] {
        assert!(cov.rcu.contains_key(v), "no lesson explores {v}");
    }
}

/// Coverage comes from the model's results, not the lesson's words: a lesson that only *claims* -EBUSY in
/// prose, or reaches -EINVAL by another path, does not count.
#[test]
fn coverage_classifies_what_the_model_did() {
    let src = "# T\ngoals:\n- g\n\n## Step: s\nabout: write\nWe get -EBUSY here (we do not).\n```scenario\nopen => fd 3\nwrite IRQ 1 => -EINVAL\nwrite INITIALIZE => 12\nwrite IRQ 1 cpu=1 => -EINVAL\n```\n";
    let run = check_source(src, "t.lesson", None).unwrap();
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let cov = Coverage::of(&[run]);
    let site = |id: &str| cov.paths.get(id).map(|v| v.iter().map(|s| s.line).collect::<Vec<_>>());
    assert_eq!(site("write.einval-noinit"), Some(vec![10]));
    assert_eq!(site("init.ok"), Some(vec![11]));
    assert_eq!(site("write.einval-cpu"), Some(vec![12]));
    assert_eq!(site("init.ebusy"), None);
}

/// The JSON the browser renders: camelCase, links resolved.
#[test]
fn lessons_serialize_for_the_browser() {
    let src = std::fs::read_to_string(lessons_dir().join("01-meet-dev-lguest.lesson")).unwrap();
    let lesson = parse_lesson(&src, "01-meet-dev-lguest.lesson").unwrap();
    let v = serde_json::to_value(&lesson).unwrap();
    assert_eq!(v["id"], "01-meet-dev-lguest");
    assert_eq!(v["title"], "Meet /dev/lguest");
    let step = &v["steps"][1];
    assert_eq!(step["number"], 2);
    assert_eq!(step["question"]["answer"], "-EINVAL");
    assert_eq!(step["about"][0]["func"], "read");
    // Named once, by its name; its journey tag comes with it.
    assert_eq!(step["about"][0]["tag"], "L:040");
    assert_eq!(step["about"].as_array().map(Vec::len), Some(1));
    assert!(step["about"][0]["link"].as_str().unwrap().starts_with("https://elixir.bootlin.com/linux/v2.6.39/source/drivers/lguest/lguest_user.c"));
    assert_eq!(step["lines"][0]["source"], "read                                   => -EINVAL");
    assert!(step["explain"].as_str().unwrap().contains("private_data"));
}

const HEAD: &str = "# Broken\ngoals:\n- to be rejected\n\n";

/// Errors of a lesson made of HEAD and `body`, as `file:line: message` strings.
fn problems(body: &str) -> Vec<String> {
    problems_in(body, None)
}

fn problems_in(body: &str, dir: Option<&Path>) -> Vec<String> {
    let src = format!("{HEAD}{body}");
    match check_source(&src, "broken.lesson", dir) {
        Ok(run) => run.errors.iter().map(|e| e.to_string()).collect(),
        Err(es) => es.iter().map(|e| e.to_string()).collect(),
    }
}

fn assert_problem(body: &str, line: usize, want: &str) {
    let ps = problems(body);
    let prefix = format!("broken.lesson:{line}: ");
    assert!(ps.iter().any(|p| p.starts_with(&prefix) && p.contains(want)), "wanted {prefix}...{want}... in {ps:#?}");
}

#[test]
fn broken_syntax_is_named() {
    // Line numbers: HEAD is lines 1-4, the body starts at line 5.
    assert_problem("## Stepp one\n", 5, "write `## Step: title`");
    assert_problem("## Step: a\nabout: read\n```scenario\nopen => fd 3\n", 7, "never closed");
    assert_problem("## Step: a\nabout: read\nquestion: what?\nchoices: a | b\n", 7, "needs an `answer:`");
    assert_problem("## Step: a\nabout: read\nquestion: what?\nchoices: a | b\nanswer: c\n", 8, "not one of the choices");
    assert_problem("## Step: a\nabout: read\n```scenario\nopen\n```\n", 8, "must say what it returns");
    assert_problem("## Step: a\nabout: read\n```scenario\nread => -EWHAT\n```\n", 8, "unknown errno -EWHAT");
    assert_problem("about: read\n## Step: a\nx\n", 5, "belongs to a step");
    let e = parse_lesson("no title\n", "t.lesson").unwrap_err();
    assert!(e[0].to_string().starts_with("t.lesson:1: a lesson starts with its title"), "{e:?}");
}

#[test]
fn unknown_request_is_named() {
    assert_problem("## Step: a\nabout: write\n```scenario\nopen => fd 3\nwrite FOO 1 => 0\n```\n", 9, "unknown request \"FOO\"");
}

#[test]
fn unknown_about_tag_is_named() {
    assert_problem("## Step: a\nabout: read frobnicate\nx\n", 6, "\"frobnicate\" names no function or tag");
    assert_problem("## Step: a\nabout: L:999\nx\n", 6, "\"L:999\" names no function or tag");
}

#[test]
fn wrong_expectation_is_named() {
    assert_problem("## Step: a\nabout: read\n```scenario\nopen => fd 3\nread => 0\n```\n", 9, "expected 0, but it returned -EINVAL");
    assert_problem("## Step: a\nabout: read\n```scenario\nopen => fd 3\nexpect alloc.live = 3\n```\n", 9, "expected alloc.live = 3, but it is 0");
}

#[test]
fn an_answer_the_model_contradicts_is_named() {
    let body = "## Step: a\nabout: read\nquestion: what?\nchoices: -EPERM | -EINVAL\nanswer: -EPERM\n```scenario\nopen => fd 3\nread => -EINVAL\n```\n";
    assert_problem(body, 7, "the answer \"-EPERM\" is not what any line of this step returns");
}

#[test]
fn missing_guest_file_is_named() {
    let dir = lessons_dir();
    let src = "# G\ngoals:\n- g\nguest: guests/no-such-guest.S\n\n## Step: a\nabout: read\nx\n";
    let run = check_source(src, "g.lesson", Some(&dir)).unwrap();
    let ps: Vec<String> = run.errors.iter().map(|e| e.to_string()).collect();
    assert!(ps.iter().any(|p| p.starts_with("g.lesson:4: ") && p.contains("\"guests/no-such-guest.S\" does not exist")), "{ps:#?}");
}

#[test]
fn unreachable_lines_are_named() {
    // A Guest action after the Guest died never runs.
    let dead = "## Step: a\nabout: read\n```scenario\nopen => fd 3\nwrite INITIALIZE => 12\nguest init 0x5000\nguest shutdown \"bye\"\nread => -ENOENT\n```\n## Step: b\nabout: read\n```scenario\nguest notify 0x8000\n```\n";
    assert_problem(dead, 17, "unreachable: the scripted Guest never runs this action");
    // A call by a task still blocked in its last one cannot be made.
    let blocked = "## Step: a\nabout: read\n```scenario\nopen => fd 3\nwrite INITIALIZE => 12\nguest init 0x5000\nread => blocked\nread => -EINVAL\n```\n";
    assert_problem(blocked, 12, "unreachable: this line cannot run here");
    // Every Guest action that does run is fine.
    let fine =
        "## Step: a\nabout: read\n```scenario\nopen => fd 3\nwrite INITIALIZE => 12\nguest init 0x5000\nguest notify 0x8000\nread => 4 notify=0x8000\n```\n";
    assert!(problems(fine).is_empty(), "{:?}", problems(fine));
}

#[test]
fn rcu_lines_are_checked_against_the_explorer() {
    assert_problem("## Step: a\nabout: add_eventfd\n```rcu\nexplore variant=no-synchronize-rcu => clean\n```\n", 8, "found use-after-free");
    assert_problem("## Step: a\nabout: add_eventfd\n```rcu\nexplore variant=nope => clean\n```\n", 8, "unknown variant 'nope'");
    assert!(problems("## Step: a\nabout: add_eventfd\n```rcu\nexplore => clean\n```\n").is_empty());
}

#[test]
fn each_lesson_starts_from_a_fresh_machine() {
    let src = "# F\ngoals:\n- g\n\n## Step: a\nabout: open\nabout: launcher\n```scenario\nopen => fd 3\n```\n";
    let l = parse_lesson(src, "f.lesson");
    // `open` is not a host function: the about line is rejected, the rest parses.
    assert!(l.is_err());
    let src = src.replace("about: open\n", "");
    let l = parse_lesson(&src, "f.lesson").unwrap();
    let a = run_lesson(&l, None);
    let b = run_lesson(&l, None);
    assert!(a.errors.is_empty() && b.errors.is_empty());
    assert_eq!(a.steps[0].results[0].result.as_deref(), Some("3"));
    assert_eq!(b.steps[0].results[0].result.as_deref(), Some("3"));
}

/// `lguest-sim check` itself: clean on the course, exit 1 with file:line on a broken lesson.
#[test]
fn the_check_command() {
    let bin = env!("CARGO_BIN_EXE_lguest-sim");
    let out = std::process::Command::new(bin).arg("check").arg("--coverage").arg(lessons_dir()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("40 of 40 taught"), "{stdout}");

    let dir = std::env::temp_dir().join(format!("lguest-sim-lessons-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("01-bad.lesson"), format!("{HEAD}## Step: a\nabout: read\n```scenario\nopen => fd 3\nread => 4\n```\n")).unwrap();
    let out = std::process::Command::new(bin).arg("check").arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("01-bad.lesson:9: expected 4, but it returned -EINVAL"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Quoted strings take `\xHH` for the bytes a text store can hold, so lessons can put raw values in
/// `lguest_data`.
#[test]
fn hex_escapes_in_quoted_strings() {
    use lguest_sim::scenario::replay;
    let r = replay("open\nwrite INITIALIZE => 12\nguest init 0x5000\nguest store 0x5004 \"\\x01\"\nguest notify 0x8000\nread => 4 notify=0x8000\n").unwrap();
    let ram = &r.kernel.procs[0].mm.guest.ram;
    let mut b = [0u8; 2];
    ram.read(0x5004, &mut b).unwrap();
    assert_eq!(b, [1, 0]);
    let e = replay("guest store 0x1000 \"\\x80\"\n").unwrap_err();
    assert!(e.message.contains("0x00 to 0x7f"), "{}", e.message);
    let e = replay("guest store 0x1000 \"\\xzz\"\n").unwrap_err();
    assert!(e.message.contains("two hex digits"), "{}", e.message);
}

/// The complete example in lessons/README.md is itself a lesson that checks clean.
#[test]
fn the_readme_example_checks_clean() {
    let readme = std::fs::read_to_string(lessons_dir().join("README.md")).unwrap();
    let start = readme.find("````text\n").expect("the example opens with ````text") + "````text\n".len();
    let len = readme[start..].find("\n````").expect("the example closes with ````");
    let run = check_source(&readme[start..start + len], "README-example.lesson", None).unwrap();
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(run.lesson.steps.len(), 2);
    assert_eq!(run.lesson.steps[1].question.as_ref().unwrap().answer, "-EINVAL");
}

/// A lesson's `guest:` program is assembled and run on the x86 core; one that does not assemble is
/// reported at the `guest:` line.
#[test]
fn guest_programs_run_and_bad_ones_are_named() {
    let course = check_paths(&[lessons_dir().join("16-a-real-guest.lesson")]);
    assert!(course.is_clean(), "{:?}", course.errors);
    let dir = std::env::temp_dir().join(format!("lguest-sim-guest-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("guests")).unwrap();
    std::fs::write(dir.join("guests/bad.S"), "start:\n\tfrobnicate %eax\n").unwrap();
    let src = "# G\ngoals:\n- g\nguest: guests/bad.S\n\n## Step: a\nabout: read\nx\n";
    let run = check_source(src, "g.lesson", Some(&dir)).unwrap();
    let ps: Vec<String> = run.errors.iter().map(|e| e.to_string()).collect();
    assert!(ps.iter().any(|p| p.starts_with("g.lesson:4: the Guest program \"guests/bad.S\" does not assemble: guests/bad.S:2: ")), "{ps:#?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The course the library embeds for the browser replays clean on its own, Guest programs included.
#[test]
fn the_embedded_course_replays_clean() {
    use lguest_sim::scenario::library::LESSONS;
    assert!(LESSONS.len() >= 15);
    for (name, text) in LESSONS {
        let run = check_source(text, name, None).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(run.errors.is_empty(), "{name}: {:?}", run.errors);
    }
}

#[test]
fn every_course_step_fits_its_budget() {
    // A step is one call into the core: its lines share params::STEP_BUDGET. No course step comes near it
    // (the figure printed is the costliest), so each runs as it did when lines had budgets of their own.
    let course = check_paths(&[lessons_dir()]);
    assert!(course.warnings.iter().all(|w| !w.to_string().contains("STEP_BUDGET")));
    let mut costliest = (0u64, String::new());
    for run in &course.runs {
        for s in &run.steps {
            if s.units > costliest.0 {
                costliest = (s.units, format!("{} step {}", run.lesson.file, s.number));
            }
        }
    }
    println!("the costliest step: {} units ({}), of {}", costliest.0, costliest.1, lguest_sim::params::STEP_BUDGET);
    assert!(costliest.0 > 0 && costliest.0 < lguest_sim::params::STEP_BUDGET / 2, "{costliest:?}");
}

#[test]
fn a_step_whose_guest_never_stops_ends_at_its_budget_with_a_warning() {
    let dir = std::env::temp_dir().join(format!("lgsim-step-budget-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("spin.S"), "start:\n1: jmp 1b\n").unwrap();
    let lesson = "# Spinning\n\nguest: spin.S\n\ngoals:\n- that a Guest which never stops runs only as long as a step may\n\n## Step: it never stops\nabout: read\n\n```scenario\nopen => fd 3\nwrite INITIALIZE start=0x100000 => 12\nread => blocked\nwait => blocked\n```\n\nIt spins.\n";
    let path = dir.join("spin.md");
    std::fs::write(&path, lesson).unwrap();
    let course = check_paths(&[path]);
    let warned: Vec<String> = course.warnings.iter().map(|w| w.to_string()).collect();
    assert!(course.is_clean(), "{:?}", course.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>());
    let units: Vec<u64> = course.runs[0].steps.iter().map(|s| s.units).collect();
    assert_eq!(warned.len(), 1, "{warned:?} {units:?} {:?}", course.runs[0].steps[0].results.iter().map(|r| (&r.result, &r.message)).collect::<Vec<_>>());
    assert!(warned[0].contains(":15: warning: this line used up the work one step may do"), "{}", warned[0]);
    let step = &course.runs[0].steps[0];
    assert_eq!(step.units, lguest_sim::params::STEP_BUDGET);
    std::fs::remove_dir_all(&dir).ok();
}
