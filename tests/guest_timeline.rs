//! The Guest CPU's timeline as the page uses it: every lesson step that runs Guest code can be shown one
//! instruction at a time, backwards and forwards, and its last instruction is exactly where the Guest
//! core stopped; a run of ten million instructions replays to any position; breakpoints on Guest
//! addresses stop where the Guest really goes.

use lguest_sim::lguest::guest::GuestEngine;
use lguest_sim::scenario::Runner;
use lguest_sim::ui::lesson::{lessons, LessonPlayer};
use lguest_sim::ui::stepper::Stepper;

/// The Guest core's state in `runner`'s last Guest with a CPU, as it stopped.
fn core_state(runner: &Runner) -> Option<lguest_sim::cpu::CpuState> {
    let (_, g) = runner.kernel.lguest.last()?;
    match &g.cpus.first()?.engine {
        GuestEngine::Cpu(core) => Some(core.state.clone()),
        GuestEngine::Scripted => None,
    }
}

#[test]
fn every_lesson_step_with_guest_code_replays_to_where_the_core_stopped() {
    let mut steps_with_code = 0;
    let mut units = 0;
    for info in lessons() {
        let mut p = LessonPlayer::open(&info.id).unwrap();
        for n in 1..=info.steps {
            p.go_to(n);
            let Some(total) = p.view().guest_units else { continue };
            let end = core_state(p.runner());
            let guests = p.runner().kernel.lguest.guests.iter().flatten().count();
            let g = p.guest().unwrap();
            let last = g.at(total);
            assert!(last.error.is_none(), "{} step {n}: {:?}", info.id, last.error);
            assert_eq!(last.position, total);
            if let Some(st) = end {
                // The replay's registers at the end are the core's (the Host may have changed the saved ones since).
                let regs: Vec<u32> = last.regs.iter().map(|(_, v)| *v).collect();
                let mut want = [st.regs[0], st.regs[3], st.regs[1], st.regs[2], st.regs[6], st.regs[7], st.regs[5], st.regs[4]].to_vec();
                // The timeline follows the first Guest of the step; with two, compare only when it is the same one.
                if g.guest.map(|i| i + 1) == Some(guests) {
                    assert_eq!(regs, want, "{} step {n}: registers at the end", info.id);
                    assert_eq!(last.eip, st.eip, "{} step {n}: eip at the end", info.id);
                }
                want.clear();
            }
            // Every position is reachable, and stepping forward matches jumping.
            let mut seen = Vec::new();
            for pos in 0..=total.min(400) {
                let v = g.at(pos);
                assert!(v.error.is_none(), "{} step {n} at {pos}: {:?}", info.id, v.error);
                assert!(!v.listing.is_empty() || v.program.is_none(), "{} step {n} at {pos}: no listing", info.id);
                seen.push((v.eip, v.regs.clone()));
            }
            for (pos, (eip, regs)) in seen.iter().enumerate().rev().step_by(37) {
                let v = g.at(pos as u64);
                assert_eq!((&v.eip, &v.regs), (eip, regs), "{} step {n}: back to {pos}", info.id);
            }
            steps_with_code += 1;
            units += total;
        }
    }
    assert!(steps_with_code >= 8, "only {steps_with_code} lesson steps ran Guest code");
    println!("{steps_with_code} lesson steps ran {units} units of Guest work, each replayed");
}

/// A Guest that counts down `n` passes of a three-instruction loop (a store, a decrement, a branch), then
/// says so through the early console and powers off: lessons/guests/hello.S with the loop in front.
pub fn spin_source(n: u32) -> String {
    let hello = include_str!("../lessons/guests/hello.S");
    let body = format!("\tmov ${n}, %ecx\ntop:\tmov %ecx, counter\n\tdec %ecx\n\tjnz top\n\n\t# NOTIFY with the address");
    hello.replacen("\t# NOTIFY with the address", &body, 1).replacen("\t.data\n", "\t.data\ncounter: .long 0\n", 1)
}

/// Run `source` to its NOTIFY under a recording Launcher; the stepper of that read.
fn run_recorded(source: &str) -> (Stepper, Runner) {
    let mut r = Runner::default();
    r.load_program(0, "spin.S", source).expect("spin.S assembles");
    for (k, line) in ["open", "write INITIALIZE"].iter().enumerate() {
        r.exec(k + 1, line).unwrap();
    }
    lguest_sim::lguest::start_recording(&mut r.kernel);
    let mut got = r.exec(3, "read").unwrap().unwrap();
    let mut k = 4;
    while got.result.as_deref() == Some("blocked") && k < 40 {
        got = r.exec(k, "wait").unwrap().unwrap();
        k += 1;
    }
    assert_eq!(got.sys.as_ref().map(|s| s.ret), Some(4), "the read returns the NOTIFY: {got:?}");
    let (tl, guest) = lguest_sim::lguest::stop_recording(&mut r.kernel).expect("the Guest ran");
    (Stepper::new(tl, r.program.clone(), guest), r)
}

#[test]
fn ten_million_instructions_replay_to_any_position() {
    let n = 3_400_000;
    let (mut g, runner) = run_recorded(&spin_source(n));
    let total = g.total();
    assert!(total >= 10_000_000, "{total} units");
    assert!(g.timeline.checkpoints() <= lguest_sim::cpu::timeline::MAX_CHECKPOINTS);
    let top = g.symbol("top").unwrap();
    let end = core_state(&runner).unwrap();
    // The end is where the core stopped; positions anywhere have the loop counter they must.
    let v = g.at(total);
    assert_eq!(v.eip, end.eip);
    for pos in [total - 1, 12_345, 7_777_777, 5, total / 3, 9_999_999] {
        let v = g.at(pos);
        assert!(v.error.is_none(), "{pos}: {:?}", v.error);
        // Four instructions before the loop (LGUEST_INIT's three, then the mov), then three a pass.
        if pos >= 4 && pos < 4 + 3 * n as u64 {
            let pass = (pos - 4) / 3;
            let ecx = v.regs.iter().find(|(r, _)| r == "ecx").unwrap().1 as u64;
            let within = (pos - 4) % 3;
            assert_eq!(ecx, n as u64 - pass - if within == 2 { 1 } else { 0 }, "ecx at {pos}");
        }
    }
    // A breakpoint on the loop's top from anywhere finds the next pass.
    let hit = g.find(7_000_000, &[top]).unwrap().unwrap();
    assert!(hit > 7_000_000 && hit <= 7_000_003 && (hit - 4) % 3 == 0, "{hit}");
    assert_eq!(g.at(hit).eip, top);
    // The last pass is found, and after it the Guest never comes back there.
    let last = 4 + 3 * (n as u64 - 1);
    assert_eq!(g.find(last - 2, &[top]).unwrap(), Some(last));
    assert_eq!(g.find(last, &[top]).unwrap(), None);
}

/// Random code as a Guest (after a proper LGUEST_INIT): whatever it does (faults, traps, writes all over its
/// memory, runs for a while), every position of the read's timeline replays without a divergence, and the
/// end is where the core stopped.
#[test]
fn random_guest_code_replays_exactly() {
    let hello = include_str!("../lessons/guests/hello.S");
    let mut seed: u64 = 0x0123_4567_89ab_cdef;
    let mut checked = 0;
    for round in 0..120 {
        let mut bytes = Vec::new();
        for _ in 0..48 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push(seed as u8);
        }
        let body = format!(".byte {}\n\t# NOTIFY with the address", bytes.iter().map(|b| format!("{b:#x}")).collect::<Vec<_>>().join(", "));
        let src = hello.replacen("\t# NOTIFY with the address", &body, 1);
        let mut r = Runner::default();
        r.load_program(0, "random.S", &src).expect("assembles");
        r.exec(1, "open").unwrap();
        r.exec(2, "write INITIALIZE").unwrap();
        lguest_sim::lguest::start_recording(&mut r.kernel);
        r.exec(3, "read").unwrap();
        let Some((tl, guest)) = lguest_sim::lguest::stop_recording(&mut r.kernel) else { continue };
        let mut g = Stepper::new(tl, r.program.clone(), guest);
        let total = g.total();
        // Backwards (each position from a checkpoint), over at most 400 positions of the run.
        let stride = (total / 400).max(1) as usize;
        for pos in (0..=total).rev().step_by(stride) {
            let v = g.at(pos);
            assert!(v.error.is_none(), "round {round}, position {pos} of {total}: {:?}", v.error);
        }
        let end = core_state(&r).unwrap();
        let v = g.at(total);
        assert_eq!(
            v.eip,
            end.eip,
            "round {round}: the end is where the core stopped; {:?} {:?}",
            g.timeline.trips(),
            r.steps.last().map(|s| (&s.result, &s.sys))
        );
        checked += total;
    }
    assert!(checked > 1000, "only {checked} units of random code were replayed");
}

/// The Guest CPU pane at each of four instructions says which flags that instruction left undefined: shl by
/// 3 (OF and AF), shl by 1 (AF only: OF is defined), mul (SF ZF AF PF) and the P6's `rep bsf` (CF OF SF AF
/// PF), each with the sentence the page shows; the mov before them leaves none.
#[test]
fn the_pane_says_which_flags_the_last_instruction_left_undefined() {
    let hello = include_str!("../lessons/guests/hello.S");
    let body = "\tmov $5, %eax\nflags:\tshl $3, %eax\n\tshl $1, %eax\n\tmul %eax\n\t.byte 0xf3, 0x0f, 0xbc, 0xc8\n\n\t# NOTIFY with the address";
    let (mut g, _) = run_recorded(&hello.replacen("\t# NOTIFY with the address", body, 1));
    let at = g.symbol("flags").unwrap();
    let start = g.first_hit(&[at]).unwrap().unwrap();
    let named = |v: &lguest_sim::ui::stepper::GuestAt| v.undefined_flags.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(" ");
    assert_eq!(named(&g.at(start)), "", "after mov $5,%eax");
    let v = g.at(start + 1);
    assert_eq!(v.last.as_ref().unwrap().text, "shl $0x3,%eax");
    assert_eq!(named(&v), "AF OF");
    assert_eq!(v.undefined_flags[1].1, "OF undefined after shl by 3: vendors differ");
    assert_eq!(named(&g.at(start + 2)), "AF", "shl by 1 defines OF");
    assert_eq!(named(&g.at(start + 3)), "PF AF ZF SF", "mul");
    let v = g.at(start + 4);
    assert_eq!(v.last.as_ref().unwrap().text, "repz bsf %eax,%ecx");
    assert_eq!(named(&v), "CF PF AF SF OF");
}
