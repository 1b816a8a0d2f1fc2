//! The `lguest-sim` command: the same core as the browser, natively.
//!
//! - `lguest-sim replay [--trace] SCENARIO...`: replay scenarios, failing on the first result that differs.
//! - `lguest-sim check [--coverage] PATH...`: replay every lesson under PATH against its expectations.
//! - `lguest-sim --version`.

use std::process::ExitCode;

use lguest_sim::scenario::{parse, Runner};

const USAGE: &str = "usage:
  lguest-sim replay [--trace] SCENARIO...   replay scenario files; exit 1 on the first differing result
  lguest-sim check [--coverage] PATH...    check lessons (files or directories); exit 1 on any problem
  lguest-sim --version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("lguest-sim {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("replay") => replay(&args[1..]),
        Some("check") => check(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn replay(args: &[String]) -> ExitCode {
    let trace = args.iter().any(|a| a == "--trace");
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    for file in files {
        let src = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                return ExitCode::from(2);
            }
        };
        let lines = match parse(&src) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{file}:{}: {}", e.line, e.message);
                return ExitCode::FAILURE;
            }
        };
        let mut r = Runner::default();
        for l in &lines {
            let step = r.run_line(l);
            if trace {
                for e in r.machine.log.events.iter().filter(|e| e.seq >= step.events.0 && e.seq < step.events.1) {
                    println!("    [{}] {:<8} {:<24} {}", e.tag, e.task, e.func, e.text);
                }
            }
            let shown = step.result.clone().unwrap_or_default();
            println!("{file}:{:<4} {:<60} {}", l.number, l.source, if shown.is_empty() { String::new() } else { format!("-> {shown}") });
            if !step.ok {
                eprintln!("{file}:{}: {}", l.number, step.message.unwrap_or_default());
                return ExitCode::FAILURE;
            }
        }
        println!("{file}: {} lines, all as expected", lines.len());
    }
    ExitCode::SUCCESS
}

fn check(args: &[String]) -> ExitCode {
    use lguest_sim::scenario::{check::check_paths, coverage::Coverage};
    let coverage = args.iter().any(|a| a == "--coverage");
    if let Some(bad) = args.iter().find(|a| a.starts_with("--") && *a != "--coverage") {
        eprintln!("unknown option {bad}\n{USAGE}");
        return ExitCode::from(2);
    }
    let paths: Vec<std::path::PathBuf> = args.iter().filter(|a| !a.starts_with("--")).map(Into::into).collect();
    if paths.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let course = check_paths(&paths);
    for run in &course.runs {
        let lines: usize = run.lesson.steps.iter().map(|s| s.lines.len() + s.rcu.len()).sum();
        let verdict = if run.errors.is_empty() { "ok".to_string() } else { format!("{} problem(s)", run.errors.len()) };
        println!("{}: {} steps, {lines} lines: {verdict}", run.lesson.file, run.lesson.steps.len());
    }
    for e in &course.errors {
        eprintln!("{e}");
    }
    if coverage {
        print!("\n{}", Coverage::of(&course.runs).render());
    }
    if course.is_clean() {
        println!("{} lesson(s) checked: every step as the lessons say", course.files);
        ExitCode::SUCCESS
    } else {
        eprintln!("{} problem(s) in {} lesson(s)", course.errors.len(), course.files);
        ExitCode::FAILURE
    }
}
