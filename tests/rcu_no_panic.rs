//! No input reaches a panic: random scenarios (valid or not), random choices (often invalid) and random
//! CLI argument lists all come back as values. Seeded, so any failure replays.

use lguest_sim::rcu::explore::XorShift;
use lguest_sim::rcu::model::{Choice, Scenario};
use lguest_sim::rcu::{cli_explore, MemoryMode, Run, Variant};

#[test]
fn random_choices_on_random_scenarios_never_panic() {
    let mut rng = XorShift::new(2026);
    for _ in 0..400 {
        let sc = Scenario {
            cpus: rng.below(6) as u8,
            readers: rng.below(4) as u8,
            writers: rng.below(4) as u8,
            variant: Variant::ALL[rng.below(Variant::ALL.len())],
            memory: if rng.below(2) == 0 { MemoryMode::Sc } else { MemoryMode::Weak },
            placement: if rng.below(4) == 0 { Some((0..rng.below(8)).map(|_| rng.below(5) as u8).collect()) } else { None },
            initial_entries: rng.below(5) as u8,
            timers: rng.below(6) as u8,
            bad_fd: rng.below(3) == 0,
            flavour: lguest_sim::rcu::Flavour::ALL[rng.below(2)],
        };
        let Ok(mut m) = Run::new(&sc) else { continue };
        for _ in 0..120 {
            let choice = Choice { cpu: rng.below(6) as u8, pick: rng.below(4) as u8, irq: rng.below(5) == 0, start: rng.below(7) == 0 };
            let before = m.state().clone();
            if m.step_choice(choice).is_err() {
                assert_eq!(m.state(), &before, "a refused step changes nothing");
            }
            let _ = m.snapshot();
            if rng.below(10) == 0 {
                m.back();
            }
        }
        let _ = m.violations();
    }
}

#[test]
fn random_cli_arguments_never_panic() {
    let words = [
        "--cpus",
        "--readers",
        "--writers",
        "--variant",
        "--memory",
        "--seed",
        "--random",
        "--place",
        "--initial",
        "--replay",
        "--bad-fd",
        "--timers",
        "0",
        "1",
        "3",
        "9",
        "-1",
        "300",
        "weak",
        "sc",
        "correct",
        "no-lguest-lock",
        "plain-assign",
        "0,1",
        "0 1 1:1",
        "x",
        "",
        "--frob",
    ];
    let mut rng = XorShift::new(7);
    for _ in 0..300 {
        let args: Vec<String> = (0..rng.below(7)).map(|_| words[rng.below(words.len())].to_string()).collect();
        // Keep each run small: big random samples are not what this test is about.
        if args.iter().any(|a| a == "300") && args.iter().any(|a| a == "--random") {
            continue;
        }
        let _ = cli_explore(&args);
    }
}
