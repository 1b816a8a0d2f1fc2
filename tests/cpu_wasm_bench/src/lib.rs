//! Exports for measuring the Guest CPU inside a JavaScript engine, with no wasm-bindgen: the page or
//! script passes a millisecond clock in as the import `env.now_ms`, and reads results back as plain
//! numbers. Used by `bench.sh`; not part of the simulator.

extern "C" {
    fn now_ms() -> f64;
}

fn clock() -> f64 {
    // SAFETY: a plain import from the host page/script that returns a number.
    unsafe { now_ms() }
}

/// `run_bench(scale)`'s four figures (mix/tight loop, cache on/off), in M instructions/s, in order.
#[no_mangle]
pub extern "C" fn bench_figure(scale: u32, which: u32) -> f64 {
    let mut now = || clock() / 1000.0;
    match lguest_sim::cpu::bench::run_bench(scale, &mut now) {
        Ok(r) => r.entries.get(which as usize).map_or(-1.0, |e| e.mips),
        Err(_) => -1.0,
    }
}

/// The mix alone, cache on, for `rounds` x 256 iterations: M instructions/s.
#[no_mangle]
pub extern "C" fn mix_only(rounds: u32) -> f64 {
    use lguest_sim::cpu::{Cpu, Exit};
    use lguest_sim::guest_ram::GuestRam;
    let Ok(code) = lguest_sim::cpu::bench::mix_workload(rounds) else { return -1.0 };
    let mut ram = GuestRam::new(32);
    if ram.write(0x1000, &code).is_err() {
        return -1.0;
    }
    let mut cpu = Cpu::new(32, 0x1000);
    cpu.state.regs[4] = 0x10000;
    let t0 = clock();
    while cpu.run(&mut ram, u64::MAX) == Exit::Budget {}
    let t1 = clock();
    cpu.state.tsc as f64 / ((t1 - t0) / 1000.0) / 1e6
}

/// A hash of the final states and memory of a few runs (the mix with a small budget, and random
/// bytes as code): the same number natively and in wasm shows the core is deterministic across both.
pub fn fingerprint() -> u64 {
    use lguest_sim::cpu::{Cpu, Exit};
    use lguest_sim::guest_ram::GuestRam;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |v: u64| {
        h ^= v;
        h = h.wrapping_mul(0x100_0000_01b3);
    };
    if let Ok(code) = lguest_sim::cpu::bench::mix_workload(20) {
        let mut ram = GuestRam::new(32);
        let _ = ram.write(0x1000, &code);
        let mut cpu = Cpu::new(32, 0x1000);
        cpu.state.regs[4] = 0x10000;
        while cpu.run(&mut ram, 777) == Exit::Budget {}
        cpu.state.regs.iter().for_each(|r| mix(*r as u64));
        mix(cpu.state.eflags as u64);
        mix(cpu.state.tsc);
        for a in (0..32 * 4096).step_by(4) {
            mix(ram.read_u32(a).unwrap_or(0) as u64);
        }
    }
    let mut seed: u64 = 99;
    for _ in 0..500 {
        let mut ram = GuestRam::new(16);
        let mut bytes = [0u8; 64];
        for b in bytes.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = seed as u8;
        }
        let _ = ram.write(0x1000, &bytes);
        let mut cpu = Cpu::new(16, 0x1000);
        cpu.state.regs[4] = 0x8000;
        let e = cpu.run(&mut ram, 500);
        mix(format!("{e:?}").len() as u64);
        cpu.state.regs.iter().for_each(|r| mix(*r as u64));
        mix(cpu.state.eip as u64);
        mix(cpu.state.tsc);
    }
    h
}

#[no_mangle]
pub extern "C" fn fp() -> u64 {
    fingerprint()
}

#[cfg(test)]
mod tests {
    #[test]
    fn native_fingerprint() {
        println!("native fingerprint {:#x}", super::fingerprint());
    }
}
