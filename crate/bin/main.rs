//! The `lguest-sim` command: the same core as the browser, natively.
//!
//! - `lguest-sim replay [--trace] SCENARIO...`: replay scenarios, failing on the first result that differs.
//! - `lguest-sim run [--mem MB] [--budget UNITS] GUEST`: boot an ELF32 Guest like the real Launcher (`lguest MB vmlinux`).
//! - `lguest-sim check [--coverage] [--trace] PATH...`: replay every lesson under PATH against its expectations.
//! - `lguest-sim --version`.

use std::process::ExitCode;

use lguest_sim::diagnostic::did_you_mean;
use lguest_sim::scenario::{parse, Runner};

const USAGE: &str = "usage:
  lguest-sim run [--mem MB] [--budget UNITS] GUEST
                                            boot an ELF32 i386 Guest as the Launcher would; its console on
                                            stdout, the death message on stderr, the Launcher's exit status;
                                            stops after UNITS of Guest work (default a billion)
  lguest-sim replay [--trace] SCENARIO...   replay scenario files; exit 1 on the first differing result
  lguest-sim explore [OPTIONS]              explore RCU interleavings of the eventfd map (--help for options)
  lguest-sim check [--coverage] [--trace] PATH...  check lessons (files or directories); exit 1 on any problem
  lguest-sim bench [SCALE]                  print the Guest core's speed (MIPS, block cache on and off) and the
                                            RCU explorer's; build with --release for meaningful figures
  lguest-sim --version";

/// The simulated terminal, shown on this one: stream 1 to stdout, anything else to stderr.
fn echo(stream: usize, bytes: &[u8]) {
    use std::io::Write;
    if stream == 1 {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    } else {
        let _ = std::io::stderr().write_all(bytes);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("lguest-sim {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("replay") => replay(&args[1..]),
        Some("run") => run(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("explore") => match lguest_sim::rcu::cli_explore(&args[1..]) {
            Ok(out) => {
                print!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Some("check") => check(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            let hint = did_you_mean(other, &["run", "replay", "explore", "check", "bench", "--version", "--help"]);
            eprintln!("lguest-sim: unknown command {other:?}{hint}\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// An option this command does not take, named with the one meant if it is a near miss.
fn unknown_option(command: &str, bad: &str, known: &[&str]) -> ExitCode {
    eprintln!("lguest-sim {command}: unknown option {bad}{}\n{USAGE}", did_you_mean(bad, known));
    ExitCode::from(2)
}

fn replay(args: &[String]) -> ExitCode {
    if let Some(bad) = args.iter().find(|a| a.starts_with("--") && *a != "--trace") {
        return unknown_option("replay", bad, &["--trace"]);
    }
    let trace = args.iter().any(|a| a == "--trace");
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    for file in files {
        let src = match lguest_sim::scenario::read_text(std::path::Path::new(file)) {
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
        if lines.is_empty() {
            eprintln!("{file}: nothing to replay: the file has no scenario lines (only blank lines and comments)");
            return ExitCode::FAILURE;
        }
        let mut r = Runner::default();
        for l in &lines {
            let step = r.run_line(l);
            if trace {
                for e in r.kernel.log.iter().filter(|e| e.seq >= step.events.0 && e.seq < step.events.1) {
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

fn run(args: &[String]) -> ExitCode {
    let mut mem = lguest_sim::params::DEFAULT_GUEST_MB;
    let mut guest = None;
    let mut budget = lguest_sim::params::RUN_BUDGET;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--budget" => match it.next().and_then(|v| v.replace('_', "").parse::<u64>().ok()) {
                Some(b) if b > 0 => budget = b,
                _ => {
                    eprintln!(
                        "lguest-sim run: --budget takes a number of work units (Guest instructions, and {} a trip into the Guest), e.g. --budget 5000000",
                        lguest_sim::params::TRIP_COST
                    );
                    return ExitCode::from(2);
                }
            },
            "--mem" => match it.next().and_then(|v| v.parse::<u32>().ok()) {
                Some(m) if (1..=lguest_sim::params::MAX_GUEST_MB).contains(&m) => mem = m,
                _ => {
                    eprintln!("lguest-sim run: --mem takes a size in MB from 1 to {}", lguest_sim::params::MAX_GUEST_MB);
                    return ExitCode::from(2);
                }
            },
            g if guest.is_none() && !g.starts_with("--") => guest = Some(g.to_string()),
            other if other.starts_with("--") => return unknown_option("run", other, &["--mem", "--budget"]),
            other => {
                eprintln!("lguest-sim run: a second Guest {other:?}: run takes one\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(guest) = guest else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let image = match lguest_sim::scenario::read_file(std::path::Path::new(&guest)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("lguest: {guest}: {e}");
            return ExitCode::from(1);
        }
    };
    // The console device reads the Launcher's terminal: when stdin is a pipe or a file, hand it over.
    let mut stdin = Vec::new();
    {
        use std::io::{IsTerminal, Read};
        if !std::io::stdin().is_terminal() {
            let _ = std::io::stdin().take(lguest_sim::params::MAX_FILE_BYTES as u64).read_to_end(&mut stdin);
        }
    }
    // The Launcher's terminal is this one: what it writes is shown as it writes it.
    let r = lguest_sim::scenario::launch::launch_with(&image, mem, &stdin, budget, Some(echo));
    // What the terminal did not show: the simulation's own word on why it stopped, if it stopped the run.
    eprint!("{}", r.note);
    ExitCode::from(r.exit_code.clamp(0, 255) as u8)
}

fn check(args: &[String]) -> ExitCode {
    use lguest_sim::scenario::{check::check_paths, coverage::Coverage};
    let coverage = args.iter().any(|a| a == "--coverage");
    let trace = args.iter().any(|a| a == "--trace");
    if let Some(bad) = args.iter().find(|a| a.starts_with("--") && *a != "--coverage" && *a != "--trace") {
        return unknown_option("check", bad, &["--coverage", "--trace"]);
    }
    let paths: Vec<std::path::PathBuf> = args.iter().filter(|a| !a.starts_with("--")).map(Into::into).collect();
    if paths.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let course = check_paths(&paths);
    for run in &course.runs {
        if trace {
            // Every line with its result and the events it produced, as `replay --trace` shows them.
            let log = &run.runner.kernel.log;
            for (step, sr) in run.lesson.steps.iter().zip(&run.steps) {
                println!("{}:{}: ## Step {}: {}", run.lesson.file, step.line, step.number, step.title);
                for (l, st) in step.lines.iter().zip(&sr.results) {
                    for e in log.since(st.events.0).filter(|e| e.seq < st.events.1) {
                        println!("    [{}] {:<8} {:<24} {}", e.tag, e.task, e.func, e.text);
                    }
                    let shown = st.result.clone().map(|r| format!("-> {r}")).unwrap_or_default();
                    println!("{}:{:<4} {:<60} {shown}", run.lesson.file, l.line, l.source);
                }
                for r in &sr.rcu {
                    println!(
                        "{}:{:<4} explore: {} schedules, found {}",
                        run.lesson.file,
                        r.line,
                        r.schedules,
                        if r.found.is_empty() { "nothing".into() } else { r.found.join(", ") }
                    );
                }
            }
        }
        let lines: usize = run.lesson.steps.iter().map(|s| s.lines.len() + s.rcu.len()).sum();
        let verdict = if run.errors.is_empty() { "ok".to_string() } else { format!("{} problem(s)", run.errors.len()) };
        println!("{}: {} steps, {lines} lines: {verdict}", run.lesson.file, run.lesson.steps.len());
    }
    for e in &course.errors {
        eprintln!("{e}");
    }
    for w in &course.warnings {
        eprintln!("{w}");
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

fn bench(args: &[String]) -> ExitCode {
    let scale = match args.first().map(|a| a.parse::<u32>()) {
        None => 20,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => {
            eprintln!("lguest-sim bench: SCALE is a whole number from 1 to 1000 (default 20)");
            return ExitCode::from(2);
        }
    };
    if cfg!(debug_assertions) {
        println!("(a debug build: these figures are not measurements; use cargo run --release)");
    }
    let t0 = std::time::Instant::now();
    match lguest_sim::cpu::bench::run_bench(scale, &mut || t0.elapsed().as_secs_f64()) {
        Ok(r) => println!("Guest core:\n{r}"),
        Err(e) => {
            eprintln!("lguest-sim bench: {e}");
            return ExitCode::FAILURE;
        }
    }
    match lguest_sim::cpu::bench::bench_timeline(10_000_000, &mut || t0.elapsed().as_secs_f64()) {
        Ok(t) => println!("Guest timeline (10 million units):\n{t}\n"),
        Err(e) => {
            eprintln!("lguest-sim bench: timeline: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("RCU explorer:\n{}", lguest_sim::rcu::bench::bench_explore());
    ExitCode::SUCCESS
}
