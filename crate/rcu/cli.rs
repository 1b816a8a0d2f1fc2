//! `lguest-sim explore`: the interleaving explorer from the command line. Parses the arguments, runs the
//! explorer (or the random sampler, or one schedule), and returns the report as text. Part of the RCU tour
//! ([`super`]); the binary only prints what this returns.

use super::bench::bench_explore;
use super::checks::Check;
use super::explore::{explore, explore_random, Report};
use super::litmus::table;
use super::memory::MemoryMode;
use super::model::{format_schedule, parse_schedule, Choice, Scenario, Setup};
use super::programs::Variant;
use super::run::Run;

/// What `lguest-sim explore --help` prints.
pub const USAGE: &str = "\
usage: lguest-sim explore [OPTIONS]

Run add_eventfd() writers and send_notify_to_eventfd() readers on simulated CPUs and try every
interleaving: count the schedules, count those that break each check, print the shortest one that does.

options:
  --cpus N          simulated CPUs, 1 to 4 (default 2)
  --readers N       readers: the Launcher's main thread sending a notify (default 1)
  --writers N       writers: device threads attaching an eventfd (default 1)
  --variant NAME    the correct code or a broken one (default correct; see --list)
  --memory sc|weak  sequential consistency, or Alpha-like weak memory (default sc)
  --flavour preemptible|classic
                    which RCU the host runs (default preemptible: read-side sections tracked; classic:
                    no CONFIG_PREEMPT, quiescent states only at a context switch, user mode or idle)
  --place A,B,...   the CPU of each task, readers first then writers (default: task i on CPU i mod N)
  --initial N       entries in the map before any writer runs, 0 to 3 (default 1)
  --bad-fd          writer W0 attaches an fd that is not an eventfd: add_eventfd() takes its error path
  --timers N        timer interrupts (the Guest's clockevent), one per CPU from CPU0; each fires once,
                    at any moment, even inside a read-side critical section (default 0)
  --random K        follow K random schedules instead of all of them (as many as fit in a budget of
                    a million model steps, if fewer; the report says so)
  --seed S          the seed for --random (default 1)
  --replay SCHED    run one schedule and print it: \"0 0 1 1:2 0i ...\" (CPU; CPU:PICK to load an older
                    value under weak memory; CPUi for the timer interrupt arriving on that CPU)
  --list            list the variants and what each should produce
  --litmus          run the kernel memory model's litmus shapes and compare with the published verdicts
  --bench           time the lesson scenarios
  --help            this text

examples:
  lguest-sim explore --variant no-synchronize-rcu
  lguest-sim explore --variant no-lguest-lock --writers 2
  lguest-sim explore --variant plain-assign --memory weak
  lguest-sim explore --variant no-synchronize-rcu --replay \"0 0 1 1 1 1 1 1 1 0\"
";

fn number<T: std::str::FromStr>(flag: &str, value: Option<&String>) -> Result<T, String> {
    let v = value.ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
    v.parse::<T>().map_err(|_| format!("{flag} {v}: not a number in range"))
}

/// Parse `args` (everything after `explore`) and return the report to print.
pub fn cli_explore(args: &[String]) -> Result<String, String> {
    let mut sc = Scenario::default();
    let mut random: Option<u64> = None;
    let mut seed: Option<u64> = None;
    let mut replay: Option<Vec<Choice>> = None;
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let value = args.get(i + 1);
        if flag == "--bad-fd" {
            sc.bad_fd = true;
            i += 1;
            continue;
        }
        match flag {
            "--help" | "-h" => return Ok(USAGE.to_string()),
            "--list" => return Ok(list_variants()),
            "--litmus" => return litmus_table(),
            "--bench" => return Ok(bench_explore()),
            "--cpus" => sc.cpus = number(flag, value)?,
            "--readers" => sc.readers = number(flag, value)?,
            "--writers" => sc.writers = number(flag, value)?,
            "--initial" => sc.initial_entries = number(flag, value)?,
            "--timers" => sc.timers = number(flag, value)?,
            "--random" => random = Some(number(flag, value)?),
            "--seed" => seed = Some(number(flag, value)?),
            "--variant" => sc.variant = Variant::parse(value.ok_or("--variant needs a name (see --list)")?)?,
            "--memory" => sc.memory = MemoryMode::parse(value.ok_or("--memory needs sc or weak")?)?,
            "--flavour" => sc.flavour = crate::rcu::Flavour::parse(value.ok_or("--flavour needs preemptible or classic")?)?,
            "--place" => {
                let v = value.ok_or("--place needs a list of CPUs, e.g. 0,1,1")?;
                let cpus: Result<Vec<u8>, String> =
                    v.split(',').map(|c| c.trim().parse::<u8>().map_err(|_| format!("--place {v}: '{c}' is not a CPU number"))).collect();
                sc.placement = Some(cpus?);
            }
            "--replay" => replay = Some(parse_schedule(value.ok_or("--replay needs a schedule, e.g. \"0 0 1\"")?)?),
            other => return Err(format!("unknown option '{other}'\n\n{USAGE}")),
        }
        i += 2;
    }
    if seed.is_some() && random.is_none() {
        return Err("--seed only makes sense with --random K".into());
    }
    if random == Some(0) {
        return Err("--random 0: ask for at least one schedule".into());
    }
    let setup = Setup::lguest(&sc)?;
    let mut out = header(&sc, &setup);
    if let Some(schedule) = replay {
        out.push_str(&trace(&sc, &schedule)?);
        return Ok(out);
    }
    let report = match random {
        Some(k) => explore_random(&setup, seed.unwrap_or(1), k)?,
        None => explore(&setup).map_err(|e| if e.contains("random schedules") { format!("{e} (--random K)") } else { e })?,
    };
    out.push_str(&render(&sc, &report)?);
    if let Some(k) = random.filter(|&k| report.schedules < k) {
        out.push_str(&format!(
            "note: {} of the {k} schedules asked for: the sampling's budget of {} model steps is spent (another --seed samples others)\n",
            report.schedules,
            crate::params::EXPLORE_WORK
        ));
    }
    Ok(out)
}

fn header(sc: &Scenario, setup: &Setup) -> String {
    let plural = |n: u8, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let timers = if sc.timers > 0 { format!(", {}", plural(sc.timers, "timer")) } else { String::new() };
    let placed: Vec<String> = setup.tasks.iter().map(|t| format!("{} on CPU{}", t.name, t.cpu)).collect();
    format!(
        "explore: {}, {}, {}{timers}; variant {}; memory {}; {} RCU\nplacement: {}\n",
        plural(sc.cpus, "CPU"),
        plural(sc.readers, "reader"),
        plural(sc.writers, "writer"),
        sc.variant.name(),
        sc.memory.name(),
        sc.flavour.name(),
        placed.join(", ")
    )
}

fn render(sc: &Scenario, r: &Report) -> Result<String, String> {
    let mut out = String::new();
    let sat = if r.saturated { " (at least: the count overflowed)" } else { "" };
    match r.mode.as_str() {
        "random" => out.push_str(&format!("random: {} schedules followed ({} distinct states seen)\n", r.schedules, r.states)),
        _ => out.push_str(&format!("exhaustive: {} schedules{sat} ({} distinct states)\n", r.schedules, r.states)),
    }
    out.push_str("violations (schedules):\n");
    for c in &r.checks {
        out.push_str(&format!("  {:<20}{}\n", c.name, c.schedules));
    }
    if r.is_clean() {
        out.push_str("verdict: clean: no schedule breaks any check\n");
        return Ok(out);
    }
    let broken: Vec<&str> = r.checks.iter().filter(|c| c.schedules > 0).map(|c| c.name.as_str()).collect();
    out.push_str(&format!("verdict: broken: {}\n", broken.join(", ")));
    for c in r.checks.iter().filter(|c| c.schedules > 0) {
        if let Some(text) = &c.counterexample_text {
            let n = c.counterexample.as_ref().map_or(0, |v| v.len());
            let which = if r.mode == "random" { "shortest counterexample found" } else { "shortest counterexample" };
            out.push_str(&format!("{which} for {} ({n} steps): {text}\n", c.name));
        }
    }
    if let Some(first) = Check::ALL.iter().find_map(|&c| r.counterexample(c).map(|s| (c, s))) {
        out.push_str(&format!("\n{} step by step:\n", first.0.name()));
        out.push_str(&trace(sc, first.1)?);
        out.push_str(&format!("replay: lguest-sim explore{} --replay \"{}\"\n", flags(sc), format_schedule(first.1)));
    }
    Ok(out)
}

/// The flags that rebuild `sc`, for the replay line.
fn flags(sc: &Scenario) -> String {
    let d = Scenario::default();
    let mut f = String::new();
    if sc.cpus != d.cpus {
        f.push_str(&format!(" --cpus {}", sc.cpus));
    }
    if sc.readers != d.readers {
        f.push_str(&format!(" --readers {}", sc.readers));
    }
    if sc.writers != d.writers {
        f.push_str(&format!(" --writers {}", sc.writers));
    }
    if sc.variant != d.variant {
        f.push_str(&format!(" --variant {}", sc.variant.name()));
    }
    if sc.memory != d.memory {
        f.push_str(&format!(" --memory {}", sc.memory.name()));
    }
    if sc.flavour != d.flavour {
        f.push_str(&format!(" --flavour {}", sc.flavour.name()));
    }
    if let Some(p) = &sc.placement {
        let p: Vec<String> = p.iter().map(|c| c.to_string()).collect();
        f.push_str(&format!(" --place {}", p.join(",")));
    }
    if sc.initial_entries != d.initial_entries {
        f.push_str(&format!(" --initial {}", sc.initial_entries));
    }
    if sc.timers != d.timers {
        f.push_str(&format!(" --timers {}", sc.timers));
    }
    if sc.bad_fd {
        f.push_str(" --bad-fd");
    }
    f
}

/// Run one schedule and print each step.
fn trace(sc: &Scenario, schedule: &[Choice]) -> Result<String, String> {
    let mut m = Run::new(sc)?;
    let mut out = String::new();
    for (i, &c) in schedule.iter().enumerate() {
        let ev = m.step_choice(c).map_err(|e| format!("{out}schedule entry {} ('{c}'): {e}", i + 1))?;
        out.push_str(&format!("{:>3}. CPU{} {:<3} {:<45} {}\n", i + 1, ev.cpu, ev.task, ev.step, ev.text));
        for v in &ev.violations {
            out.push_str(&format!("     !! {}: {}\n", v.check.name(), v.text));
        }
    }
    if m.is_finished() {
        for v in m.state().final_checks(m.setup()) {
            out.push_str(&format!("     !! at the end, {}: {}\n", v.check.name(), v.text));
        }
        out.push_str("     (finished: nothing can run any more)\n");
    } else {
        let cpus: Vec<String> = m.choices().iter().map(|c| c.to_string()).collect();
        out.push_str(&format!("     (not finished: the choices now are {})\n", cpus.join(", ")));
    }
    Ok(out)
}

fn list_variants() -> String {
    let mut out = String::from("variants:\n");
    for v in Variant::ALL {
        out.push_str(&format!("  {:<24}{}\n  {:<24}expect: {}\n", v.name(), v.describe(), "", v.expected()));
    }
    out
}

fn litmus_table() -> Result<String, String> {
    let mut out = String::from("litmus shape (exists clause): ours sc / ours weak (expected weak)\n");
    for r in table()? {
        let ok = if r.agrees { "agrees" } else { "DISAGREES" };
        out.push_str(&format!("  {} ({}): {:?} / {:?} ({:?}) {ok}\n", r.name, r.exists, r.ours_sc, r.ours_weak, r.expected_weak));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<String, String> {
        cli_explore(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn default_is_the_clean_lesson() {
        let out = run(&[]).unwrap();
        assert!(out.contains("exhaustive: "), "{out}");
        assert!(out.contains("verdict: clean"), "{out}");
    }

    #[test]
    fn a_broken_variant_prints_its_counterexample_and_how_to_replay_it() {
        let out = run(&["--variant", "no-synchronize-rcu"]).unwrap();
        assert!(out.contains("verdict: broken: use-after-free"), "{out}");
        assert!(out.contains("!! use-after-free"), "{out}");
        let replay = out.lines().find(|l| l.starts_with("replay:")).unwrap();
        let sched = replay.split('"').nth(1).unwrap();
        let again = run(&["--variant", "no-synchronize-rcu", "--replay", sched]).unwrap();
        assert!(again.contains("!! use-after-free"), "{again}");
    }

    #[test]
    fn random_mode_and_weak_memory() {
        let out = run(&["--variant", "plain-assign", "--memory", "weak", "--seed", "3", "--random", "500"]).unwrap();
        assert!(out.contains("random: 500 schedules"), "{out}");
        assert!(out.contains("uninitialised-read"), "{out}");
        let lost = run(&["--variant", "no-lguest-lock", "--writers", "2"]).unwrap();
        assert!(lost.contains("shortest counterexample for lost-update"), "{lost}");
        let sched = lost.lines().find(|l| l.starts_with("shortest counterexample for lost-update")).unwrap();
        let sched = sched.split(": ").nth(1).unwrap();
        let again = run(&["--variant", "no-lguest-lock", "--writers", "2", "--replay", sched]).unwrap();
        assert!(again.contains("!! at the end, lost-update"), "{again}");
        assert!(again.contains("!! at the end, leak"), "{again}");
    }

    #[test]
    fn list_litmus_and_help() {
        assert!(run(&["--list"]).unwrap().contains("kfree-before-sync"));
        assert!(run(&["--help"]).unwrap().starts_with("usage: lguest-sim explore"));
        let l = run(&["--litmus"]).unwrap();
        assert!(l.contains("RCU+sync+free") && !l.contains("DISAGREES"), "{l}");
    }

    #[test]
    fn bad_arguments_are_errors_that_say_what_was_wrong() {
        for (args, says) in [
            (&["--cpus"][..], "--cpus needs a value"),
            (&["--cpus", "9"][..], "1 to 4"),
            (&["--cpus", "-1"][..], "--cpus -1"),
            (&["--variant", "bogus"][..], "unknown variant 'bogus'"),
            (&["--memory", "tso"][..], "unknown memory mode 'tso'"),
            (&["--seed", "4"][..], "--seed only makes sense"),
            (&["--random", "0"][..], "--random 0"),
            (&["--frob"][..], "unknown option '--frob'"),
            (&["--place", "0,x"][..], "'x' is not a CPU number"),
            (&["--replay", "0 9"][..], "CPU 9 does not exist"),
            (&["--readers", "0", "--writers", "0"][..], "at least one"),
        ] {
            let err = run(args).unwrap_err();
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
}
