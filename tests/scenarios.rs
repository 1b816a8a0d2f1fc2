//! Scenario tests: every `tests/scenarios/*.scn` file is replayed against the model and must produce
//! exactly the results it states; and broken scenarios must fail with messages naming the line.

use lguest_sim::lguest::lg::Dead;
use lguest_sim::scenario::{parse, replay, Runner};

fn scenario_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/scenarios exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().map(|x| x == "scn").unwrap_or(false))
        .collect();
    v.sort();
    v
}

#[test]
fn every_scenario_replays_as_written() {
    let files = scenario_files();
    assert!(files.len() >= 10, "expected the scenario suite, found {}", files.len());
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        if let Err(e) = replay(&src) {
            panic!("{}:{}: {}", f.display(), e.line, e.message);
        }
    }
}

#[test]
fn a_wrong_expectation_fails_on_its_line() {
    let e = replay("open => fd 3\nread => 0\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("expected 0, but it returned -EINVAL"), "{}", e.message);
    let e = replay("open => fd 3\nwrite INITIALIZE => 12\nexpect lg.pfn_limit = 7\n").unwrap_err();
    assert_eq!(e.line, 3);
    // LHREQ_INITIALIZE's default pfnlimit is the Launcher's guest_limit / PAGE_SIZE: 32 MB of RAM and the
    // devices page main() takes at once; the console's rings come with `launcher devices` (lguest.c
    // tell_kernel() 561-565, main() 1946-1948, get_pages() 328-336).
    assert!(e.message.contains("it is 0x2001"), "{}", e.message);
}

#[test]
fn bad_lines_are_named_errors() {
    let cases = [
        ("frobnicate", "unknown action \"frobnicate\""),
        ("write", "write needs a request"),
        ("write FOO", "unknown request \"FOO\""),
        ("write IRQ", "missing argument irq"),
        ("write EVENTFD addr=0x7000", "missing argument fd"),
        ("write IRQ zz", "\"zz\" is not a number"),
        ("read => 4 frob=1", "unknown result field \"frob\""),
        ("read => -EWHAT", "unknown errno -EWHAT"),
        ("guest store 0x100 \"abc", "quoted string is not closed"),
        ("as dev write IRQ 1", "with a colon"),
        ("inject kmalloc-fail 0", "counts from 1"),
        ("guest halt => 0", "has no result to check"),
        ("expect nothing", "expect needs `name = value`"),
    ];
    for (line, want) in cases {
        let e = parse(&format!("# first\n{line}\n")).unwrap_err();
        assert_eq!(e.line, 2, "{line}");
        assert!(e.message.contains(want), "{line:?}: got {:?}", e.message);
    }
    // A line that parses but cannot run names what is missing.
    let e = replay("read\n").unwrap_err();
    assert!(e.message.contains("no /dev/lguest is open"), "{}", e.message);
    let e = replay("open\nas ghost: read\n").unwrap_err();
    assert!(e.message.contains("no task called \"ghost\""), "{}", e.message);
    // A blocked read that returned in the background must be collected before the task calls again.
    let e = replay("open\nwrite INITIALIZE\nread => blocked\nguest init 0x5000\nguest notify 0x8000\nexpect task.main = returned\nread\n").unwrap_err();
    assert_eq!(e.line, 7);
    assert!(e.message.contains("has returned 4 notify=0x8000: collect it with wait first"), "{}", e.message);
    let e = replay("expect lg.nope = 1\n").unwrap_err();
    assert!(e.message.contains("no state called \"lg.nope\""), "{}", e.message);
}

/// `add_eventfd()` is the real RCU update, step by step, in the kernel's order.
#[test]
fn add_eventfd_runs_the_rcu_update_in_order() {
    let r = replay("open\nwrite INITIALIZE\neventfd\nwrite EVENTFD addr=0x7000 fd=4 => 0\n").unwrap();
    let evs: Vec<String> = r
        .kernel
        .log
        .iter()
        .filter(|e| e.func == "add_eventfd" || e.func == "synchronize_rcu" || e.func == "eventfd_ctx_fdget")
        .map(|e| e.text.to_string())
        .collect();
    let order =
        ["kmalloc() a map for 1 entries", "memcpy() the 0 old entries", "take a reference", "append", "rcu_assign_pointer", "synchronize_rcu()", "kfree("];
    let mut at = 0;
    for want in order {
        let found = evs[at..].iter().position(|t| t.contains(want)).unwrap_or_else(|| panic!("{want:?} not after position {at} in {evs:#?}"));
        at += found + 1;
    }
    // The old (empty) map's allocation is gone, the new one is live and published.
    let lg = &r.kernel.lguest.get(0).unwrap().lg;
    assert_eq!(lg.eventfds.num, 1);
    assert!(r.kernel.alloc.is_live(lg.eventfds.alloc));
}

/// Every version of the eventfd map is on record: published, retired by the next `add_eventfd()`, freed
/// after its grace period; a copy that never got published (its fdget failed) is not a version.
#[test]
fn the_map_versions_are_on_record_with_their_lives() {
    use lguest_sim::lguest::lg::MapLife;
    let r = replay(
        "open\nwrite INITIALIZE\neventfd\nwrite EVENTFD addr=0x7000 fd=4 => 0\nwrite EVENTFD addr=0x8000 fd=9 => -EBADF\nwrite EVENTFD addr=0x8000 fd=4 => 0\n",
    )
    .unwrap();
    let lg = &r.kernel.lguest.get(0).unwrap().lg;
    let v = &lg.map_versions;
    assert_eq!(v.len(), 3, "{v:#?}");
    assert_eq!((v[0].by, v[0].life, v[0].entries.len()), ("initialize", MapLife::Freed, 0));
    assert_eq!((v[1].by, v[1].life, v[1].entries.clone()), ("add_eventfd", MapLife::Freed, vec![(0x7000, 0)]));
    assert_eq!((v[2].life, v[2].entries.clone()), (MapLife::Current, vec![(0x7000, 0), (0x8000, 0)]));
    assert_eq!(v[2].alloc, lg.eventfds.alloc);
    assert!(v[..2].iter().all(|x| !r.kernel.alloc.is_live(x.alloc)), "the retired versions were freed");
}

/// `send_notify_to_eventfd()` signals the first match only, under rcu_read_lock.
#[test]
fn notify_signals_the_first_matching_eventfd() {
    let src = "open\nwrite INITIALIZE\neventfd\neventfd\nwrite EVENTFD addr=0x7000 fd=4\nwrite EVENTFD addr=0x7000 fd=5\nguest init 0x5000\nguest notify 0x7000\nguest notify 0x9000\nread => 4 notify=0x9000\n";
    let r = replay(src).unwrap();
    assert_eq!(r.kernel.eventfds[0].count, 1);
    assert_eq!(r.kernel.eventfds[1].count, 0);
    let texts: Vec<&str> = r.kernel.log.iter().filter(|e| e.func == "send_notify_to_eventfd").map(|e| &*e.text).collect();
    assert!(texts.first().unwrap().starts_with("rcu_read_lock()"));
    assert!(texts.iter().any(|t| t.starts_with("rcu_read_unlock()")));
}

/// Every event names a task and a function with a journey tag from our table.
#[test]
fn events_name_task_function_and_tag() {
    let mut all = 0;
    for f in scenario_files() {
        let r = replay(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for e in r.kernel.log.iter() {
            all += 1;
            assert!(!e.task.is_empty(), "{e:?}");
            let info = lguest_sim::tags::info(e.func).unwrap_or_else(|| panic!("{} has no entry in tags", e.func));
            assert_eq!(info.tag, e.tag);
        }
    }
    assert!(all > 500, "only {all} events");
}

/// After close, the book is empty on every path except the two the kernel itself leaks on.
#[test]
fn close_leaves_nothing_but_the_kernels_own_leaks() {
    let r = replay("open\nwrite INITIALIZE\ninject kmalloc-fail 4\nclose\nopen\ninject kmalloc-fail 4\nwrite INITIALIZE => -ENOMEM\nclose\n").unwrap();
    assert_eq!(r.kernel.alloc.live.len(), 1);
    assert_eq!(r.kernel.alloc.live[0].by, "lg_cpu_start");
    let mut r = Runner::default();
    for l in parse("open\nwrite INITIALIZE\nguest init 0x5000\nguest shutdown \"x\"\nread => -ENOENT\n").unwrap() {
        assert!(r.run_line(&l).ok);
    }
    assert!(matches!(r.kernel.lguest.get(0).unwrap().lg.dead, Some(Dead::Reason { .. })));
}

/// Random scenario lines (from the language's own words and edge numbers) never panic the model: every
/// line either runs or is refused with a message.
#[test]
fn random_scenarios_never_panic() {
    let verbs = [
        "open",
        "read",
        "close",
        "eventfd",
        "write INITIALIZE",
        "write IRQ",
        "write EVENTFD addr=",
        "write GETDMA",
        "write",
        "guest init",
        "guest notify",
        "guest halt",
        "guest shutdown",
        "guest shutdown restart",
        "guest trap",
        "guest clock",
        "guest hypercall",
        "guest store",
        "signal",
        "wait",
        "thread t",
        "process p",
        "as t: read",
        "as p: read",
        "as t: write IRQ",
        "inject kmalloc-fail",
        "advance",
        "eventfd-read",
        "eventfd-write",
        "exit",
        "close 4",
        "expect alloc.live =",
    ];
    let nums = [
        "0",
        "1",
        "3",
        "4",
        "31",
        "32",
        "0x5000",
        "0x7000",
        "0xffffffff",
        "-1",
        "0x100000",
        "\"x\"",
        "buf=null",
        "buf=edge",
        "cpu=1",
        "len=0",
        "len=1023",
        "fd=4",
        "file=3",
    ];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    // 300 scenarios in CI; LGSIM_FUZZ_CASES=N for a longer run (tests/fuzz.sh).
    let cases = std::env::var("LGSIM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    for _ in 0..cases {
        let mut r = Runner::default();
        for n in 0..40 {
            let mut line = verbs[next(verbs.len())].to_string();
            for _ in 0..next(3) {
                line.push(' ');
                line.push_str(nums[next(nums.len())]);
            }
            // Parse errors are fine; what matters is that nothing panics.
            let _ = r.exec(n + 1, &line);
        }
    }
}

/// LOAD_GDT_ENTRY and LOAD_TLS: the Guest's descriptors are stored with lguest's fix-ups (ring 0 becomes
/// ring 1, entries marked accessed), except the Host's own entries (10 and 11, the Switcher's segments).
#[test]
fn gdt_entries_are_fixed_up_as_lguest_does() {
    let src = "open\nwrite INITIALIZE\nguest init 0x5000\n\
               guest hypercall LOAD_GDT_ENTRY 14 0x0000ffff 0x00cf9a00\n\
               guest hypercall LOAD_GDT_ENTRY 10 0x0000ffff 0x00cf9a00\n\
               guest poke 0x7000 0x1000ffff 0x00cf9200 0x2000ffff 0x00cff200 0 0\n\
               guest hypercall LOAD_TLS 0x7000\n\
               guest notify 0x8000\nread => 4 notify=0x8000\n\
               guest hypercall LOAD_GDT_ENTRY 32 0 0\nread => -ENOENT\nread len=100 => 24 reason=\"too many gdt entries 32\"\n";
    let r = match replay(src) {
        Ok(r) => r,
        Err(e) => panic!("line {}: {}", e.line, e.message),
    };
    let gdt = &r.kernel.lguest.get(0).unwrap().cpus[0].gdt;
    assert_eq!(gdt[14], (0x0000_ffff, 0x00cf_9a00 | (1 << 13) | (1 << 8)), "DPL 0 became 1, accessed set");
    assert_eq!(gdt[10], (0x0000_ffff, 0x00cf_9a00), "the Switcher's entry is not touched");
    assert_eq!(gdt[6], (0x1000_ffff, 0x00cf_9200 | (1 << 13) | (1 << 8)));
    assert_eq!(gdt[7], (0x2000_ffff, 0x00cf_f200 | (1 << 8)), "DPL 3 stays 3");
    assert_eq!(gdt[8], (0, 1 << 13 | 1 << 8));
}

/// LOAD_GDT_ENTRY past the table (GDT_ENTRIES is 32) kills the Guest before anything is stored, and the
/// reason prints the entry number as segments.c's `%i` does: a number with the top bit set is negative.
#[test]
fn a_gdt_entry_past_the_table_kills_with_the_number_signed() {
    for (num, reason) in [("33", "33"), ("0xffffffff", "-1"), ("0x80000000", "-2147483648"), ("0x7fffffff", "2147483647")] {
        let len = "too many gdt entries ".len() + reason.len() + 1;
        let src = format!(
            "open\nwrite INITIALIZE\nguest init 0x5000\nguest hypercall LOAD_GDT_ENTRY {num} 0x0000ffff 0x00cf9a00\nread => -ENOENT\n\
             read len=100 => {len} reason=\"too many gdt entries {reason}\"\n"
        );
        let r = match replay(&src) {
            Ok(r) => r,
            Err(e) => panic!("LOAD_GDT_ENTRY {num}: line {}: {}", e.line, e.message),
        };
        let cpu = &r.kernel.lguest.get(0).unwrap().cpus[0];
        assert_eq!(cpu.changed & 2, 0, "LOAD_GDT_ENTRY {num}: nothing was stored, so CHANGED_GDT was not set afresh");
    }
}

/// The machine starts with the lguest module loaded, in core.c init()'s order (H:000); on a Host that is
/// itself paravirtualized the load is refused (-EPERM), nothing is registered, and the Launcher finds no
/// /dev/lguest to open.
#[test]
fn the_module_loads_as_the_machine_starts_and_refuses_a_paravirtualized_host() {
    use lguest_sim::kernel::Kernel;
    let k = Kernel::boot();
    let funcs: Vec<&str> = k.log.iter().map(|e| e.func).collect();
    assert_eq!(funcs, ["init", "map_switcher", "init_pagetables", "init_interrupts", "lguest_device_init", "lguest_arch_host_init", "init"]);
    assert!(k.log.iter().all(|e| e.task == "insmod"));
    assert!(k.log.iter().any(|e| e.text.contains("printk(KERN_INFO \"lguest: mapped switcher at ffc00000\")")));
    assert!(k.log.iter().any(|e| e.func == "lguest_arch_host_init" && e.text.contains("clears CR4.PGE")));
    assert!(k.lguest.misc_registered);

    let k = Kernel::boot_with(true);
    let texts: Vec<String> = k.log.iter().map(|e| format!("{}: {}", e.func, e.text)).collect();
    assert_eq!(
        texts,
        [
            "init: paravirt_enabled(): the Host itself runs paravirtualized, so the kernel log gets \"lguest is afraid of being a guest\" and init() fails with -EPERM",
            "init: lguest: init() returned -EPERM: insmod fails, the module is not loaded",
        ]
    );
    assert!(!k.lguest.misc_registered);
    let mut r = Runner::on(k, 32);
    let step = r.exec(1, "open => -ENOENT").unwrap().unwrap();
    assert!(step.ok, "{:?}", step.message);
}

/// The events of the lines from `from` on, as `func: text`.
fn events_since(r: &Runner, from: u64) -> Vec<String> {
    r.kernel.log.iter().skip(from as usize).map(|e| format!("{}: {}", e.func, e.text)).collect()
}

/// `boot paravirt`: the machine starts again on a Host that is itself a paravirtualized guest; lguest's
/// init() refuses with the kernel's printk and -EPERM, and /dev/lguest is not there. `boot` must be the
/// first line, and its options are checked with a suggestion.
#[test]
fn a_boot_line_starts_a_paravirtualized_host_and_lguest_refuses_to_load() {
    let mut r = Runner::default();
    let step = r.exec(1, "boot paravirt").unwrap().unwrap();
    assert!(step.ok, "{:?}", step.message);
    let texts: Vec<String> = r.kernel.log.iter().filter(|e| e.task == "insmod").map(|e| format!("{}: {}", e.func, e.text)).collect();
    assert_eq!(
        texts,
        [
            "init: paravirt_enabled(): the Host itself runs paravirtualized, so the kernel log gets \"lguest is afraid of being a guest\" and init() fails with -EPERM",
            "init: lguest: init() returned -EPERM: insmod fails, the module is not loaded",
        ]
    );
    for (n, line) in [(2, "open => -ENOENT"), (3, "expect modules = none"), (4, "insmod lguest => -EPERM"), (5, "rmmod lguest => -ENOENT")] {
        let step = r.exec(n, line).unwrap().unwrap();
        assert!(step.ok, "{line}: {:?}", step.message);
    }
    // Not first: refused, naming the line that ran before it.
    let step = r.exec(6, "boot").unwrap().unwrap();
    assert!(!step.ok);
    assert_eq!(
        step.message.as_deref(),
        Some("`boot` starts the machine afresh, so it must be the scenario's first line (line 1 has already run); move it to the top")
    );
    let e = parse("open => fd 3\nboot paravirt\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("must be the scenario's first line (line 1 has already run)"), "{}", e.message);
    // Misspelt options.
    let e = parse("boot paravirtual\n").unwrap_err();
    assert!(e.message.contains("unknown boot option \"paravirtual\" (did you mean paravirt?)"), "{}", e.message);
    let e = parse("boot syscall_vec=0x40\n").unwrap_err();
    assert!(e.message.contains("lguest has no parameter \"syscall_vec\" (did you mean syscall_vector?)"), "{}", e.message);
    // A dash is an underscore to parse_args(), so this one is right.
    assert!(parse("boot syscall-vector=0x40\n").is_ok());
    let e = parse("boot => 0\n").unwrap_err();
    assert!(e.message.contains("boot has no result to check"), "{}", e.message);
    let e = parse("insmod lgest\n").unwrap_err();
    assert!(e.message.contains("there is no module \"lgest\" (did you mean lguest?)"), "{}", e.message);
    let e = parse("rmod lguest\n").unwrap_err();
    assert!(e.message.contains("(did you mean rmmod?)"), "{}", e.message);
    let e = parse("rmmod\n").unwrap_err();
    assert!(e.message.contains("rmmod needs a module: `rmmod lguest`"), "{}", e.message);
    // Past the IDT: the kernel would read past used_vectors; the simulation says so rather than guess.
    let mut r = Runner::default();
    let step = r.exec(1, "boot syscall_vector=300").unwrap().unwrap();
    assert!(!step.ok);
    assert!(step.message.as_deref().unwrap_or("").contains("a vector is 0 to 255"), "{:?}", step.message);
}

/// `boot syscall_vector=N`: lguest loads at boot with the parameter; a vector the Host uses fails the load
/// with "lg: couldn't reserve syscall N" and -EBUSY, undoing map_switcher() and init_pagetables().
#[test]
fn a_used_syscall_vector_fails_the_load_with_ebusy_and_the_labels_undo_it() {
    let mut r = Runner::default();
    let step = r.exec(1, "boot syscall_vector=0xef").unwrap().unwrap();
    assert!(step.ok, "{:?}", step.message);
    let texts: Vec<String> = r.kernel.log.iter().filter(|e| e.task == "insmod").map(|e| e.func.to_string()).collect();
    assert_eq!(texts, ["init", "map_switcher", "init_pagetables", "init_interrupts", "init", "free_pagetables", "unmap_switcher", "init"]);
    let reserve = r.kernel.log.iter().find(|e| e.func == "init_interrupts").unwrap();
    assert_eq!(
        &*reserve.text,
        "syscall_vector 0xef is already used by the Host (LOCAL_TIMER_VECTOR): printk(KERN_ERR \"lg: couldn't reserve syscall 239\"), -EBUSY"
    );
    assert!(r.kernel.log.iter().any(|e| &*e.text == "lguest: init() returned -EBUSY: insmod fails, the module is not loaded"));
    assert!(!r.kernel.used_vectors.test_bit(0x40));
    let step = r.exec(2, "open => -ENOENT").unwrap().unwrap();
    assert!(step.ok, "{:?}", step.message);

    // A free one is reserved, and given back at unload.
    let mut r = Runner::default();
    r.exec(1, "boot lguest.syscall_vector=0x40").unwrap().unwrap();
    assert!(r.kernel.used_vectors.test_bit(0x40));
    assert!(r
        .kernel
        .log
        .iter()
        .any(|e| &*e.text == "syscall_vector 0x40 is free on the Host: set_bit(64, used_vectors) reserves it while the module is loaded"));
    let from = r.kernel.log.len();
    let step = r.exec(2, "rmmod lguest => 0").unwrap().unwrap();
    assert!(step.ok, "{:?}", step.message);
    assert!(!r.kernel.used_vectors.test_bit(0x40));
    // fini(): core.c's order, the device first, PGE last.
    assert_eq!(
        events_since(&r, from),
        [
            "delete_module: module_refcount(lguest) is 0: the module goes (MODULE_STATE_GOING), and its exit function runs",
            "lguest_device_remove: misc_deregister(&lguest_dev): the misc device \"lguest\" is gone, and its /dev/lguest node",
            "free_interrupts: clear_bit(64, used_vectors): vector 0x40 is the Host's to give out again",
            "free_pagetables: free_switcher_pte_pages(): the one CPU's Switcher pte page is freed",
            "unmap_switcher: vunmap(0xffc00000): the Switcher's mapping goes; its 3 pages are freed, and the array that listed them",
            "lguest_arch_host_fini: cpu_had_pge: X86_FEATURE_PGE set again, and adjust_pge(1) on each CPU sets CR4.PGE",
            "delete_module: free_module(): lguest is gone from the module list",
        ]
    );
}

/// While a Guest lives its file holds the module, however many descriptors (dup'd by a fork) point at it;
/// rmmod is refused until the last close, and the refusal says why.
#[test]
fn rmmod_is_refused_while_dev_lguest_is_open_and_the_parameter_typo_gets_a_hint() {
    let mut r = Runner::default();
    for (n, line) in ["open => fd 3", "write INITIALIZE => 12", "process child", "open => fd 4", "expect module.lguest.refcount = 2", "rmmod lguest => -EAGAIN"]
        .iter()
        .enumerate()
    {
        let step = r.exec(n + 1, line).unwrap().unwrap();
        assert!(step.ok, "{line}: {:?}", step.message);
    }
    let ev = r.kernel.log.iter().rev().find(|e| e.func == "delete_module").unwrap();
    assert_eq!(
        &*ev.text,
        "module_refcount(lguest) is 2: each open file of its lguest_fops holds one (.owner = THIS_MODULE); with O_NONBLOCK try_stop_module() gives up: -EWOULDBLOCK"
    );
    for (n, line) in ["close 4 => 0", "rmmod lguest => -EAGAIN", "as child: exit", "close 3 => 0", "rmmod lguest => 0"].iter().enumerate() {
        let step = r.exec(n + 10, line).unwrap().unwrap();
        assert!(step.ok, "{line}: {:?}", step.message);
    }
    let step = r.exec(20, "insmod lguest syscall_vec=64 => -ENOENT").unwrap().unwrap();
    assert!(step.ok, "{:?}", step.message);
    let ev = r.kernel.log.iter().rev().find(|e| e.func == "parse_args").unwrap();
    assert_eq!(&*ev.text, "printk(KERN_ERR \"lguest: Unknown parameter `syscall_vec'\"): -ENOENT (did you mean syscall_vector?)");
    let step = r.exec(21, "insmod lguest syscall_vector => -EINVAL").unwrap().unwrap();
    assert!(step.ok, "{:?}", step.message);
    let ev = r.kernel.log.iter().rev().find(|e| e.func == "parse_args").unwrap();
    assert_eq!(&*ev.text, "printk(KERN_ERR \"lguest: `' invalid for parameter `syscall_vector'\"): -EINVAL");
}

/// The module's syscall_vector goes straight to the Guest (direct_trap()'s could_be_syscall()); without the
/// parameter the same trap gate stays the Host's and the trap comes back as one of its interrupts.
#[test]
fn a_reserved_syscall_vector_goes_direct_and_the_default_does_not() {
    let guest = "open => fd 3\nwrite INITIALIZE => 12\nguest init 0x5000 syscall_vec=0x40\nguest stack 0x9000\nguest hypercall LOAD_IDT_ENTRY 0x40 0x00611000 0x0010ef00\nguest trap 0x40\nguest notify 0x8000\nread => 4 notify=0x8000\n";
    let r = replay(&format!("boot syscall_vector=0x40\n{guest}")).unwrap();
    let direct: Vec<&str> = r.kernel.log.iter().filter(|e| e.func == "direct_trap").map(|e| &*e.text).collect();
    // First the CPU's push faults (the stack is not in the shadow tables yet), then it goes straight in.
    assert_eq!(direct.len(), 2, "{direct:?}");
    assert!(direct[1].starts_with("trap 0x40 goes straight to the Guest"), "{}", direct[1]);
    assert!(r.kernel.log.iter().any(|e| e.text.contains("CHANGED_IDT: copy_traps() (1 trap gate(s) go straight to the Guest)")));
    // The default module: LGUEST_INIT refuses 0x40 outright.
    let r = replay(&guest.replace("read => 4 notify=0x8000", "read => -ENOENT")).unwrap();
    assert!(matches!(&r.kernel.lguest.guests[0].as_ref().unwrap().lg.dead, Some(Dead::Reason { text, .. }) if text == "bad syscall vector"));
    assert!(!r.kernel.log.iter().any(|e| e.func == "direct_trap"));
}

/// `async_hcall()` (boot.c G:037) as the scripted Guest runs it: 64 calls fill the ring without a trip to
/// the Host; the 65th finds its slot still pending and is made synchronously, which has the Host run the
/// whole ring, in order, before it (do_hypercalls(): do_async_hcalls() first). The Guest's next slot is
/// still 0 afterwards, and the ring is free again.
#[test]
fn a_full_async_ring_falls_back_to_a_synchronous_hypercall_that_flushes_it() {
    let mut src = String::from("open => fd 3\nwrite INITIALIZE => 12\nguest init 0x5000\n");
    for i in 1..=65 {
        src += &format!("guest async SET_CLOCKEVENT {}\n", i * 1000);
    }
    src += "guest notify 0x8000\nread => 4 notify=0x8000\n";
    let r = replay(&src).unwrap();
    let k = &r.kernel;
    let hcalls: Vec<String> = k
        .log
        .iter()
        .filter(|e| e.func == "do_async_hcalls" || (e.func == "do_hcall" && e.text.contains("SET_CLOCKEVENT")))
        .map(|e| format!("{}: {}", e.func, e.text))
        .collect();
    // Each slot's event, then its call's; then the synchronous call's own.
    assert_eq!(hcalls.len(), 64 * 2 + 1, "{hcalls:#?}");
    for n in 0..64 {
        assert_eq!(hcalls[2 * n], format!("do_async_hcalls: ring slot {n}: LHCALL_SET_CLOCKEVENT"));
        assert!(hcalls[2 * n + 1].contains(&format!("({} ns from now)", (n + 1) * 1000)), "{}", hcalls[2 * n + 1]);
    }
    assert!(hcalls[128].contains("(65000 ns from now)"), "{}", hcalls[128]);
    // All 64 slots are the Guest's again, and async_hcall() goes on from slot 0.
    let ram = &k.procs[0].mm.guest.ram;
    let mut st = [0u8; 64];
    ram.read(0x5018, &mut st).unwrap();
    assert!(st.iter().all(|b| *b == 0xff));
    assert_eq!(k.procs[0].mm.guest.next_call, 0);
    let mut r = r;
    for (n, line) in ["guest async NOTIFY 0x8100", "guest hypercall FLUSH_ASYNC", "read => 4 notify=0x8100"].iter().enumerate() {
        let step = r.exec(100 + n, line).unwrap().unwrap();
        assert!(step.ok, "{line}: {:?}", step.message);
    }
    assert_eq!(r.kernel.procs[0].mm.guest.next_call, 1);
}

/// local_irq_restore() after async_hcall() is lg_restore_fl: with interrupts back on and irq_pending set by
/// the Host (an interrupt that waited while they were off), the Guest asks for it with SEND_INTERRUPTS, and
/// the Host delivers it then. A queued call with interrupts off asks for nothing.
#[test]
fn restoring_interrupts_after_an_async_call_asks_for_a_pending_one() {
    let src = "open => fd 3\nwrite INITIALIZE => 12\nguest init 0x5000\nguest stack 0x9000\nguest hypercall LOAD_IDT_ENTRY 33 0x00611000 0x0010ae00\nguest notify 0x8000\nread => 4 notify=0x8000\n\
               write IRQ 1 => 0\nguest poke 0x5000 512\nguest async SET_CLOCKEVENT 5000\nguest notify 0x8100\nread => 4 notify=0x8100\n";
    let r = replay(src).unwrap();
    let texts: Vec<String> = r.kernel.log.iter().map(|e| format!("{}: {}", e.func, e.text)).collect();
    let waits =
        texts.iter().position(|t| t.contains("irq 1 waits: the Guest has interrupts off (irq_enabled = 0); irq_pending = 512")).expect("the irq waited");
    let send = texts.iter().position(|t| t.starts_with("do_hcall:") && t.contains("SEND_INTERRUPTS")).expect("lg_restore_fl asked");
    let delivered = texts.iter().position(|t| t.contains("deliver irq 1")).expect("then it was delivered");
    assert!(waits < send && send < delivered, "{texts:#?}");
    // Slot 0 was queued before the Guest asked, and the Host ran it first (do_async_hcalls()).
    let slot = texts.iter().position(|t| t == "do_async_hcalls: ring slot 0: LHCALL_SET_CLOCKEVENT").expect("the ring ran");
    assert!(slot < send, "{texts:#?}");
    assert_eq!(texts[send], "do_hcall: LHCALL_SEND_INTERRUPTS: nothing to do; leaving the Guest was the point");
    // With interrupts off no SEND_INTERRUPTS is made.
    let quiet = src.replace("guest poke 0x5000 512\n", "");
    let r = replay(&quiet).unwrap();
    assert!(!r.kernel.log.iter().any(|e| e.func == "do_hcall" && e.text.contains("SEND_INTERRUPTS")));
}

/// A lesson's `guest:` program is loaded before its first line; a `boot` there starts the machine again and
/// loads the program again, so the lesson runs it on the new Host.
#[test]
fn boot_keeps_the_loaded_guest_program() {
    let mut r = Runner::default();
    let main = r.main;
    r.load_named(main, "guests/hello.S").unwrap();
    let step = r.exec(1, "boot syscall_vector=0x40").unwrap().unwrap();
    assert!(step.ok, "{:?}", step.message);
    assert_eq!(r.program.as_ref().map(|p| p.name.as_str()), Some("guests/hello.S"));
    assert_eq!(r.kernel.lguest.syscall_vector(), 0x40);
    for (n, line) in ["open => fd 3", "write INITIALIZE => 12", "read => 4 console=\"Hello from the Guest!\\n\""].iter().enumerate() {
        let step = r.exec(n + 2, line).unwrap().unwrap();
        assert!(step.ok, "{line}: {:?}", step.message);
    }
}
