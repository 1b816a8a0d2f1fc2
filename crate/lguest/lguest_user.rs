//! `/dev/lguest`: the Launcher's whole interface to the Host (drivers/lguest/lguest_user.c, journey L:010
//! to L:060). `write()` takes requests, `read()` runs the Guest, `close()` tears everything down. These
//! three are the file's operations ([`super::LGUEST_FOPS`]); the kernel calls nothing else of the driver.
//!
//! Every check happens in the kernel's order, and each error path says why it was taken, because the order
//! is the lesson: a `read()` before INITIALIZE is `-EINVAL` before anyone asks who is reading; a write with
//! an unreadable request word is `-EFAULT` before anyone asks whether a Guest exists.

use super::core::{run_guest, RunOutcome};
use super::guest::GuestEngine;
use super::interrupts_and_traps::set_interrupt;
use super::lg::{Dead, Guest, LgCpu, LgEventfd, LgEventfdMap, Lguest, MapLife, MapVersion};
use super::page_tables::{PgDir, NR_PGDIRS};
use super::regs::LguestRegs;
use super::LGUEST_FOPS;
use crate::errno::Errno;
use crate::kernel::alloc::AllocKind;
use crate::kernel::file::{Buf, FileId, Resume, Sleep};
use crate::kernel::syscall::{fail, Fail, Outcome, SysResult};
use crate::kernel::task::Tid;
use crate::kernel::Kernel;
use crate::params::{LGUEST_IRQS, NR_CPUS, PAGE_SIZE, WORD};

/// `enum lguest_req` (include/linux/lguest_launcher.h): each request's number and name, from one list.
macro_rules! requests {
    ($($name:ident = $n:literal),* $(,)?) => {
        $(pub const $name: u32 = $n;)*
        /// Every request, by number.
        pub const LHREQS: &[(u32, &str)] = &[$(($n, stringify!($name))),*];
    };
}
requests! { LHREQ_INITIALIZE = 0, LHREQ_GETDMA = 1, LHREQ_IRQ = 2, LHREQ_BREAK = 3, LHREQ_EVENTFD = 4 }

/// The request's name, for events and the page.
pub fn req_name(req: u32) -> String {
    LHREQS.iter().find(|(n, _)| *n == req).map(|(_, name)| name.to_string()).unwrap_or_else(|| format!("request {req}"))
}

/// Where `boot_params.e820_map[0].size` (a u64) and `boot_params.hdr.ramdisk_size` sit (x86 boot protocol).
pub const BOOT_E820_0_SIZE: u32 = 0x2d0 + 8;
pub const BOOT_RAMDISK_SIZE: u32 = 0x21c;
/// `_PAGE_PRESENT | _PAGE_RW | _PAGE_USER`.
const PTE_PRESENT_RW_USER: u32 = 7;

/// Size of `struct lguest` as this model counts it (for the account book only).
const SIZEOF_LGUEST: u32 = 1024;
/// Size of an eventfd map holding `n` entries: `num`, then `n` pairs of (addr, ctx pointer).
fn sizeof_map(n: u32) -> u32 {
    WORD + n * 2 * WORD
}

/// `file->private_data`: the Guest of a `/dev/lguest` file, once INITIALIZE made one (and `close()` has not
/// freed it).
pub fn lguest_of(k: &Kernel, file: FileId) -> Option<usize> {
    let g = k.private_data(file, &LGUEST_FOPS)??;
    k.lguest.get(g).map(|_| g)
}

/// Run `f` on Guest `g`, lent out of the driver's table meanwhile.
fn with_guest<R>(k: &mut Kernel, g: usize, f: impl FnOnce(&mut Kernel, &mut Guest) -> R) -> Option<R> {
    let mut guest = k.lguest.take(g)?;
    let r = f(k, &mut guest);
    k.lguest.put(g, guest);
    Some(r)
}

/// The file operation `write()` as the kernel calls it: the request's result as a system call's.
pub(crate) fn write_fop(k: &mut Kernel, file: FileId, buf: u32, len: u32, off: u64) -> SysResult {
    match write(k, file, buf, len, off) {
        Ok((n, why)) => SysResult::ok(n, why),
        Err(f) => f.into(),
    }
}

/// L:010 `write()`: the first word is the request; the file offset is the cpu.
pub fn write(k: &mut Kernel, file: FileId, buf: u32, _len: u32, off: u64) -> Result<(i64, &'static str), Fail> {
    let lg = lguest_of(k, file);
    // The offset is truncated to unsigned int, as `cpu_id = *off` does.
    let cpu_id = off as u32;
    let Some(req) = k.get_user(buf) else {
        k.ev("write", format!("get_user() of the request word at {buf:#x} faults"), &[]);
        return fail(Errno::EFAULT, format!("the request word at {buf:#x} is not mapped in the Launcher"));
    };
    let input = buf.wrapping_add(WORD);
    k.ev("write", format!("write() reads the request word: {} ({req})", req_name(req)), &[]);
    if req == LHREQ_INITIALIZE {
        return initialize(k, file, input).map(|n| (n, "initialize() built the Guest and returned sizeof(args): three 4-byte words"));
    }
    let Some(g) = lg else {
        return fail(Errno::EINVAL, format!("{} before LHREQ_INITIALIZE: this file has no Guest yet", req_name(req)));
    };
    let r = with_guest(k, g, |k, guest| {
        let nr = guest.nr_cpus();
        if cpu_id >= nr {
            return fail(Errno::EINVAL, format!("cpu {cpu_id} (the file offset) is not below nr_cpus = {nr}"));
        }
        if guest.lg.dead.is_some() {
            return fail(Errno::ENOENT, "the Guest is dead: only read() (to learn why) and close() remain");
        }
        let Guest { lg, cpus } = guest;
        match req {
            LHREQ_IRQ => user_send_irq(k, &mut cpus[cpu_id as usize], input).map(|n| (n, "user_send_irq() set the irq's bit in irqs_pending and returned 0")),
            LHREQ_EVENTFD => attach_eventfd(k, lg, input).map(|n| (n, "add_eventfd() published a new map with this entry and returned 0")),
            _ => fail(Errno::EINVAL, format!("{} is not a request this kernel knows (GETDMA and BREAK are retired)", req_name(req))),
        }
    });
    r.unwrap_or_else(|| fail(Errno::EINVAL, "the Guest went away"))
}

/// L:020 `initialize()`: LHREQ_INITIALIZE's three words are base, pfnlimit and start. (`pfnlimit` is what the
/// Launcher's `tell_kernel()` computes: `guest_limit / PAGE_SIZE`, RAM plus the device pages it has handed
/// out so far.)
fn initialize(k: &mut Kernel, file: FileId, input: u32) -> Result<i64, Fail> {
    mutex_lock(k);
    let r = initialize_locked(k, file, input);
    mutex_unlock(k);
    r
}

fn initialize_locked(k: &mut Kernel, file: FileId, input: u32) -> Result<i64, Fail> {
    if lguest_of(k, file).is_some() {
        k.ev("initialize", "file->private_data is already set: goto unlock".into(), &[]);
        return fail(Errno::EBUSY, "this file already has a Guest; close it and open /dev/lguest again");
    }
    let Some(words) = k.copy_from_user(input, 3 * WORD) else {
        k.ev("initialize", format!("copy_from_user() of base, pfnlimit, start at {input:#x} faults: goto unlock"), &[]);
        return fail(Errno::EFAULT, format!("the three arguments at {input:#x} are not all mapped in the Launcher"));
    };
    let w = |i: usize| u32::from_le_bytes([words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]]);
    let (base, pfnlimit, start) = (w(0), w(1), w(2));
    k.ev("initialize", format!("arguments: base={base:#x} pfnlimit={pfnlimit:#x} start={start:#x}"), &[]);

    let lg_alloc = match k.alloc.alloc(AllocKind::Slab, "struct lguest".into(), "initialize", SIZEOF_LGUEST) {
        Ok(id) => id,
        Err(_) => {
            k.ev("initialize", "kzalloc(struct lguest) fails: goto unlock".into(), &[]);
            return fail(Errno::ENOMEM, "kzalloc() of struct lguest failed (injected)");
        }
    };
    k.ev("initialize", format!("kzalloc() struct lguest (#{lg_alloc})"), &["alloc"]);
    let map_alloc = match k.alloc.alloc(AllocKind::Slab, "eventfd map (0 entries)".into(), "initialize", sizeof_map(0)) {
        Ok(id) => id,
        Err(_) => {
            k.ev("initialize", "kmalloc(eventfd map) fails: goto free_lg".into(), &[]);
            k.kfree(lg_alloc, "initialize");
            return fail(Errno::ENOMEM, "kmalloc() of the empty eventfd map failed (injected); struct lguest freed");
        }
    };
    k.ev("initialize", format!("kmalloc() the empty eventfd map (#{map_alloc}), num = 0"), &["alloc"]);

    let cpu = match lg_cpu_start(k, 0, start, pfnlimit) {
        Ok(cpu) => cpu,
        Err(f) => {
            k.ev("initialize", "lg_cpu_start() failed: goto free_eventfds".into(), &[]);
            k.kfree(map_alloc, "initialize");
            k.kfree(lg_alloc, "initialize");
            return Err(f);
        }
    };
    let (pgdir_page, gpgdir) = match init_guest_pagetable(k, base) {
        Ok(p) => p,
        Err(f) => {
            // The kernel's free_regs label frees the registers page but never drops the reference
            // lg_cpu_start() took on the Launcher's mm: that reference leaks, and the book shows it.
            k.ev("initialize", "init_guest_pagetable() failed: goto free_regs (the mm reference is not dropped)".into(), &[]);
            k.free_page(cpu.regs_page, "initialize");
            k.kfree(map_alloc, "initialize");
            k.kfree(lg_alloc, "initialize");
            return Err(f);
        }
    };
    let mut pgdirs: [PgDir; NR_PGDIRS] = Default::default();
    pgdirs[0].gpgdir = gpgdir;
    pgdirs[0].page = Some(pgdir_page);
    let lg = Lguest {
        alloc: lg_alloc,
        pfn_limit: pfnlimit,
        mem_base: base,
        lguest_data: None,
        noirq_start: 0,
        noirq_end: 0,
        kernel_address: 0,
        pgdirs,
        // The Guest runs on the shadow of the boot tables from its first instruction.
        paging: true,
        next_pgdir: 1,
        flushes: 0,
        stack_pages: 0,
        eventfds: LgEventfdMap { alloc: map_alloc, num: 0, map: Vec::new() },
        dead: None,
        map_versions: vec![MapVersion { alloc: map_alloc, entries: Vec::new(), by: "initialize", life: MapLife::Current }],
    };
    let g = k.lguest.guests.len();
    k.lguest.guests.push(Some(Guest { lg, cpus: vec![cpu] }));
    if let Some(f) = k.files.get_mut(file) {
        f.private_data = Some(g);
    }
    k.ev("initialize", "file->private_data = lg: this file now is the Guest; return sizeof(args) = 12".into(), &["lg", "files"]);
    Ok(3 * WORD as i64)
}

/// L:025 `lg_cpu_start()`: cpu 0's registers page, registers, owner task and address space.
fn lg_cpu_start(k: &mut Kernel, id: u32, start: u32, pfn_limit: u32) -> Result<LgCpu, Fail> {
    if id >= NR_CPUS {
        return fail(Errno::EINVAL, format!("cpu {id} is beyond NR_CPUS"));
    }
    k.ev("lg_cpu_start", format!("cpu {id}: nr_cpus++, init_clockdev() prepares its hrtimer"), &["lg.nr_cpus"]);
    let regs_page = match k.alloc.alloc(AllocKind::Page, "cpu 0 registers page".into(), "lg_cpu_start", PAGE_SIZE) {
        Ok(p) => p,
        Err(_) => {
            k.ev("lg_cpu_start", "get_zeroed_page() for the registers fails: return -ENOMEM".into(), &[]);
            return fail(Errno::ENOMEM, "get_zeroed_page() for cpu 0's registers failed (injected)");
        }
    };
    let tsk = k.current;
    let pid = k.proc_of(tsk);
    let mm_ref = k.alloc.take_ref(AllocKind::MmRef, format!("reference on {}'s mm", k.task_name(tsk)), "lg_cpu_start");
    k.ev(
        "lg_cpu_start",
        format!("registers page (#{regs_page}); eip = {start:#x}, ring 1 segments; tsk = {}; get_task_mm() (#{mm_ref})", k.task_name(tsk)),
        &["alloc", "cpu0"],
    );
    let has_code = k.procs.get(pid).is_some_and(|p| p.mm.guest.has_code);
    Ok(LgCpu {
        id,
        tsk,
        mm: pid as u32,
        mm_ref,
        regs_page,
        regs: LguestRegs::setup(start),
        hcall: None,
        next_hcall: 0,
        pending_notify: 0,
        halted: false,
        irqs_pending: 0,
        ts: 0,
        changed: 0,
        last_pages: None,
        in_guest: false,
        retry_trap: None,
        hrt_expires: None,
        ss1: 0,
        esp1: 0,
        idt: vec![(0, 0); 256],
        gdt: super::segments::setup_guest_gdt(),
        engine: if has_code { GuestEngine::Cpu(Box::new(crate::cpu::Cpu::new(pfn_limit, start))) } else { GuestEngine::Scripted },
        cr2: 0,
        cpu_pgd: 0,
        flush_pending: false,
        seen_flushes: 0,
        last_ud: None,
    })
}

/// H:500 `init_guest_pagetable()` (page_tables.c): read the Guest's memory size and initrd size from the
/// `boot_params` the Launcher put at Guest-physical 0, build the boot page tables in Guest memory
/// (`setup_pagetables()`), then allocate the first shadow page directory. Returns the shadow page's book
/// entry and the Guest-physical address of the boot page directory.
fn init_guest_pagetable(k: &mut Kernel, mem_base: u32) -> Result<(u32, u32), Fail> {
    let mem = k.copy_from_user(mem_base.wrapping_add(BOOT_E820_0_SIZE), 8);
    let initrd = k.get_user(mem_base.wrapping_add(BOOT_RAMDISK_SIZE));
    let (Some(mem), Some(initrd_size)) = (mem, initrd) else {
        k.ev("init_guest_pagetable", format!("copy_from_user() of boot_params at mem_base {mem_base:#x} faults: -EFAULT"), &[]);
        return fail(Errno::EFAULT, format!("boot_params at base {mem_base:#x} (Guest-physical 0) is not mapped in the Launcher"));
    };
    // `mem` is a u64 in the e820 map, passed on as an unsigned long: the low 32 bits.
    let mem = u32::from_le_bytes([mem[0], mem[1], mem[2], mem[3]]);
    k.ev("init_guest_pagetable", format!("boot_params: e820_map[0].size = {mem:#x}, ramdisk_size = {initrd_size:#x}"), &[]);
    let gpgdir = setup_pagetables(k, mem_base, mem, initrd_size)?;
    match k.alloc.alloc(AllocKind::Page, "shadow page directory".into(), "init_guest_pagetable", PAGE_SIZE) {
        Ok(p) => {
            k.ev("init_guest_pagetable", format!("get_zeroed_page() for pgdirs[0] (#{p}); pgdirs[0].gpgdir = {gpgdir:#x}"), &["alloc"]);
            Ok((p, gpgdir))
        }
        Err(_) => {
            k.ev("init_guest_pagetable", "get_zeroed_page() for pgdirs[0] fails: return -ENOMEM".into(), &[]);
            fail(Errno::ENOMEM, "get_zeroed_page() for the shadow page directory failed (injected)")
        }
    }
}

/// H:505 `setup_pagetables()`: page tables that map all `mem` bytes both at 0 (identity) and at
/// PAGE_OFFSET (0xC0000000), written just below the initrd at the top of Guest memory. Returns the
/// Guest-physical page directory, or -EFAULT if the Launcher's memory there is not mapped.
fn setup_pagetables(k: &mut Kernel, mem_base: u32, mem: u32, initrd_size: u32) -> Result<u32, Fail> {
    let mapped_pages = mem / PAGE_SIZE;
    let linear_pages = mapped_pages.div_ceil(1024);
    let pgdir = mem.wrapping_add(mem_base).wrapping_sub(initrd_size).wrapping_sub(PAGE_SIZE);
    let linear = pgdir.wrapping_sub(linear_pages.wrapping_mul(PAGE_SIZE));
    let efault = |k: &mut Kernel, at: u32| {
        k.ev("init_guest_pagetable", format!("setup_pagetables(): copy_to_user() at {at:#x} faults: -EFAULT"), &[]);
        fail(Errno::EFAULT, format!("the boot page tables at {at:#x} are not mapped in the Launcher"))
    };
    let mut ptes = Vec::with_capacity(mapped_pages as usize * 4);
    for i in 0..mapped_pages {
        ptes.extend_from_slice(&((i << 12) | PTE_PRESENT_RW_USER).to_le_bytes());
    }
    if !ptes.is_empty() && !k.copy_to_user(linear, &ptes) {
        return efault(k, linear);
    }
    let phys_linear = linear.wrapping_sub(mem_base);
    let mut i = 0;
    while i < mapped_pages {
        let pgd = phys_linear.wrapping_add(i * 4) | PTE_PRESENT_RW_USER;
        let at = pgdir.wrapping_add((i / 1024) * 4);
        let at_high = pgdir.wrapping_add((768 + i / 1024) * 4);
        if !k.copy_to_user(at, &pgd.to_le_bytes()) || !k.copy_to_user(at_high, &pgd.to_le_bytes()) {
            return efault(k, at);
        }
        i += 1024;
    }
    let gpgdir = pgdir.wrapping_sub(mem_base);
    k.ev(
        "init_guest_pagetable",
        format!("setup_pagetables(): {mapped_pages} pages mapped at 0 and 0xc0000000; page directory at Guest-physical {gpgdir:#x}"),
        &["guest.memory"],
    );
    Ok(gpgdir)
}

/// `lguest_device_init()` (module load): `misc_register(&lguest_dev)`, the misc device "lguest" with a
/// dynamically chosen minor and [`LGUEST_FOPS`]; registering it is what makes the `/dev/lguest` node.
pub fn lguest_device_init(k: &mut Kernel) {
    k.lguest.misc_registered = true;
    super::core::module_ev(
        k,
        "lguest_device_init",
        "misc_register(&lguest_dev): \"lguest\", a dynamic minor, lguest_fops; the /dev/lguest node appears".into(),
    );
}

/// `lguest_device_remove()` (module unload): `misc_deregister(&lguest_dev)`; the `/dev/lguest` node goes
/// with it, so an `open()` now finds no such file.
pub fn lguest_device_remove(k: &mut Kernel) {
    k.lguest.misc_registered = false;
    super::core::module_ev(k, "lguest_device_remove", "misc_deregister(&lguest_dev): the misc device \"lguest\" is gone, and its /dev/lguest node".into());
}

/// L:050 `user_send_irq()`.
fn user_send_irq(k: &mut Kernel, cpu: &mut LgCpu, input: u32) -> Result<i64, Fail> {
    let Some(irq) = k.get_user(input) else {
        k.ev("user_send_irq", format!("get_user() of the irq number at {input:#x} faults"), &[]);
        return fail(Errno::EFAULT, format!("the irq number at {input:#x} is not mapped in the Launcher"));
    };
    if irq >= LGUEST_IRQS {
        k.ev("user_send_irq", format!("irq {irq} >= LGUEST_IRQS ({LGUEST_IRQS})"), &[]);
        return fail(Errno::EINVAL, format!("irq {irq} is not below LGUEST_IRQS = {LGUEST_IRQS}"));
    }
    set_interrupt(k, cpu, irq);
    Ok(0)
}

/// L:052 `attach_eventfd()`.
fn attach_eventfd(k: &mut Kernel, lg: &mut Lguest, input: u32) -> Result<i64, Fail> {
    let Some(addr) = k.get_user(input) else {
        k.ev("attach_eventfd", format!("get_user() of the address at {input:#x} faults"), &[]);
        return fail(Errno::EFAULT, format!("the NOTIFY address at {input:#x} is not mapped in the Launcher"));
    };
    let Some(fd) = k.get_user(input.wrapping_add(WORD)) else {
        k.ev("attach_eventfd", format!("get_user() of the fd at {:#x} faults", input.wrapping_add(WORD)), &[]);
        return fail(Errno::EFAULT, format!("the descriptor word at {:#x} is not mapped in the Launcher", input.wrapping_add(WORD)));
    };
    mutex_lock(k);
    let r = add_eventfd(k, lg, addr, fd as i32);
    mutex_unlock(k);
    r.map(|_| 0)
}

/// L:055 `add_eventfd()`: the RCU writer. Copy, append, publish, wait for a grace period, free.
fn add_eventfd(k: &mut Kernel, lg: &mut Lguest, addr: u32, fd: i32) -> Result<(), Fail> {
    if addr == 0 {
        k.ev("add_eventfd", "addr is 0, which means \"no notify\": return -EINVAL".into(), &[]);
        return fail(Errno::EINVAL, "NOTIFY address 0 cannot be attached: pending_notify = 0 means nothing is pending");
    }
    let n = lg.eventfds.num + 1;
    let new_alloc = match k.alloc.alloc(AllocKind::Slab, format!("eventfd map ({n} entries)"), "add_eventfd", sizeof_map(n)) {
        Ok(a) => a,
        Err(_) => {
            k.ev("add_eventfd", "kmalloc() of the new map fails: return -ENOMEM".into(), &[]);
            return fail(Errno::ENOMEM, "kmalloc() of the bigger eventfd map failed (injected); the old map is untouched");
        }
    };
    k.ev("add_eventfd", format!("kmalloc() a map for {n} entries (#{new_alloc})"), &["alloc"]);
    let mut new = LgEventfdMap { alloc: new_alloc, num: lg.eventfds.num, map: lg.eventfds.map.clone() };
    k.ev("add_eventfd", format!("memcpy() the {} old entries; new->num = {}", new.num, new.num), &[]);
    let (event, reference) = match k.eventfd_ctx_fdget(fd) {
        Ok(got) => got,
        Err(f) => {
            k.ev("add_eventfd", format!("eventfd_ctx_fdget({fd}) fails: kfree() the new map, return {}", f.errno), &[]);
            k.kfree(new_alloc, "add_eventfd");
            return Err(f);
        }
    };
    new.map.push(LgEventfd { addr, event, reference });
    new.num += 1;
    k.ev("add_eventfd", format!("append {{addr {addr:#x}, eventfd ctx {event}}}; num++ -> {}", new.num), &[]);
    let old = lg.eventfds.alloc;
    lg.map_version(new_alloc, Some(&new), "add_eventfd", MapLife::Current);
    lg.map_version(old, None, "add_eventfd", MapLife::Retired);
    lg.eventfds = new;
    k.ev("add_eventfd", format!("rcu_assign_pointer(lg->eventfds, #{new_alloc}): readers from now on see the new map"), &["lg.eventfds"]);
    synchronize_rcu(k);
    k.kfree(old, "add_eventfd");
    lg.map_version(old, None, "add_eventfd", MapLife::Freed);
    Ok(())
}

/// `synchronize_rcu()`. Here every system call runs to completion on one CPU, so no reader can be inside a
/// read-side section when a writer waits: the grace period ends at once. The RCU model ([`crate::rcu`])
/// runs the same writer against readers on other CPUs.
fn synchronize_rcu(k: &mut Kernel) {
    k.ev("synchronize_rcu", "synchronize_rcu(): no CPU is inside rcu_read_lock(), so the grace period ends at once".into(), &[]);
}

/// L:056 `send_notify_to_eventfd()`: the RCU reader. True if an eventfd took the notify.
pub(crate) fn send_notify_to_eventfd(k: &mut Kernel, lg: &Lguest, cpu: &mut LgCpu) -> bool {
    k.ev("send_notify_to_eventfd", "rcu_read_lock(): this CPU is now in a read-side critical section".into(), &[]);
    let map = &lg.eventfds;
    k.ev("send_notify_to_eventfd", format!("rcu_dereference(lg->eventfds) = map #{} with {} entries", map.alloc, map.num), &[]);
    for (i, e) in map.map.iter().enumerate() {
        if e.addr == cpu.pending_notify {
            k.eventfd_signal(e.event);
            cpu.pending_notify = 0;
            k.ev(
                "send_notify_to_eventfd",
                format!("entry {i} has addr {:#x}: eventfd_signal(ctx {}, 1); pending_notify = 0", e.addr, e.event),
                &["eventfds", "cpu0.pending_notify"],
            );
            break;
        }
    }
    k.ev("send_notify_to_eventfd", "rcu_read_unlock()".into(), &[]);
    cpu.pending_notify == 0
}

/// L:040 `read()`.
pub fn read(k: &mut Kernel, file: FileId, buf: Buf, off: u64) -> Outcome {
    let (user, len) = (buf.addr(), buf.len());
    let cpu_id = off as u32;
    let Some(g) = lguest_of(k, file) else {
        k.ev("read", "file->private_data is NULL: no LHREQ_INITIALIZE yet".into(), &[]);
        return Outcome::Done(SysResult::err(Errno::EINVAL, "read() before LHREQ_INITIALIZE: there is no Guest to run"));
    };
    let checked = with_guest(k, g, |k, guest| {
        let nr = guest.nr_cpus();
        if cpu_id >= nr {
            return Some(SysResult::err(Errno::EINVAL, format!("cpu {cpu_id} (the file offset) is not below nr_cpus = {nr}")));
        }
        let Guest { lg, cpus } = guest;
        let cpu = &mut cpus[cpu_id as usize];
        if k.current != cpu.tsk {
            let who = k.task_name(k.current);
            let owner = k.task_name(cpu.tsk);
            k.ev("read", format!("current ({who}) is not cpu->tsk ({owner})"), &[]);
            return Some(SysResult::err(Errno::EPERM, format!("only {owner}, the task that initialized the Guest, may run it")));
        }
        if let Some(dead) = &lg.dead {
            return Some(read_dead(k, dead, user, len));
        }
        if cpu.pending_notify != 0 {
            cpu.pending_notify = 0;
            k.ev("read", "the Launcher has seen the last NOTIFY: pending_notify = 0".into(), &["cpu0.pending_notify"]);
        }
        None
    });
    if let Some(Some(r)) = checked {
        return Outcome::Done(r);
    }
    // The system call holds its own reference on the file (fget) until it returns: a close() by another
    // thread meanwhile cannot release the Guest under a running read().
    let tid = k.current;
    k.fget(file);
    k.sleep(tid, Sleep { file, buf, off, why: String::new(), shown: None, asleep: false, holds_file: true, running: false });
    // Run it at once, so a Guest that returns at once returns at once.
    k.settle();
    match k.take_finished(tid) {
        Some(r) => Outcome::Done(r),
        None => Outcome::Blocked { why: k.blocked_why(tid) },
    }
}

/// A dead Guest's `read()`: the reason, or the error `lg->dead` holds.
fn read_dead(k: &mut Kernel, dead: &Dead, buf: u32, len: u32) -> SysResult {
    match dead {
        Dead::Err { errno } => {
            k.ev("read", format!("lg->dead is an error pointer: return {errno}"), &[]);
            SysResult::err(*errno, "the Guest is gone and lg->dead holds an error code, not a reason")
        }
        Dead::Reason { text, .. } => {
            let full = text.len() as u32 + 1;
            let n = len.min(full);
            let mut bytes = text.clone().into_bytes();
            bytes.push(0);
            bytes.truncate(n as usize);
            if !k.copy_to_user(buf, &bytes) {
                k.ev("read", format!("copy_to_user() of the reason to {buf:#x} faults"), &[]);
                SysResult::err(Errno::EFAULT, format!("the buffer at {buf:#x} is not mapped for {n} bytes"))
            } else {
                k.ev("read", format!("the Guest is dead: copy {n} bytes of its reason and return {n}"), &[]);
                let shown = String::from_utf8_lossy(bytes.strip_suffix(&[0]).unwrap_or(&bytes)).into_owned();
                let mut r = SysResult::ok(n as i64, "the Guest is dead; this is why (at most the buffer's size, NUL included)");
                r.reason = Some(shown);
                r
            }
        }
    }
}

/// The sleeping `read()` goes on: `run_guest()` from the top of its loop, where `schedule()` returned to.
pub fn resume_read(k: &mut Kernel, _tid: Tid, s: &Sleep) -> Resume {
    let Some(g) = lguest_of(k, s.file) else {
        return Resume::Done(SysResult::err(Errno::EINVAL, "the Guest went away"));
    };
    let run = with_guest(k, g, |k, guest| {
        let Guest { lg, cpus } = guest;
        match cpus.get_mut(s.off as u32 as usize) {
            Some(cpu) => run_guest(k, lg, cpu, s.buf.addr()),
            None => RunOutcome::Return(fail(Errno::EINVAL, "the Guest went away")),
        }
    });
    match run {
        Some(RunOutcome::Return(Ok((n, notify)))) => {
            let mut r = SysResult::ok(n, "the Guest sent a NOTIFY that no eventfd took");
            r.notify = Some(notify);
            Resume::Done(r)
        }
        Some(RunOutcome::Return(Err(f))) => Resume::Done(f.into()),
        Some(RunOutcome::Blocked(why)) => Resume::Blocked(why),
        Some(RunOutcome::Running(why)) => Resume::Running(why),
        Some(RunOutcome::Halted(why)) => Resume::Asleep(why),
        None => Resume::Done(SysResult::err(Errno::EINVAL, "the Guest went away")),
    }
}

/// L:060 `close()`: the release of the last reference to a `/dev/lguest` file.
pub fn close(k: &mut Kernel, file: FileId) {
    let Some(Some(g)) = k.private_data(file, &LGUEST_FOPS) else {
        k.ev("close", "private_data is NULL: the Guest was never initialized, nothing to free".into(), &[]);
        return;
    };
    mutex_lock(k);
    // Tasks still running this Guest cannot be: their calls kept the file open.
    let Some(guest) = k.lguest.take(g) else {
        mutex_unlock(k);
        return;
    };
    let Guest { mut lg, cpus } = guest;
    super::page_tables::free_guest_pagetable(k, &mut lg);
    k.ev("close", "free_guest_pagetable(): the shadow page tables go".into(), &["alloc"]);
    for cpu in &cpus {
        k.ev("close", format!("cpu {}: hrtimer_cancel(), free the registers page, mmput()", cpu.id), &["alloc"]);
        k.free_page(cpu.regs_page, "close");
        k.mmput(cpu.mm_ref, "close");
    }
    for e in &lg.eventfds.map {
        k.ev("close", format!("eventfd_ctx_put(ctx {}) for addr {:#x}", e.event, e.addr), &["eventfds"]);
        k.eventfd_ctx_put(e.event);
        let _ = k.alloc.free(e.reference);
    }
    k.kfree(lg.eventfds.alloc, "close");
    match &lg.dead {
        Some(Dead::Reason { alloc, .. }) => k.kfree(*alloc, "close"),
        Some(Dead::Err { .. }) | None => {}
    }
    k.kfree(lg.alloc, "close");
    k.ev("close", "struct lguest is freed".into(), &["lg"]);
    mutex_unlock(k);
}

/// `mutex_lock(&lguest_lock)`.
pub(crate) fn mutex_lock(k: &mut Kernel) {
    k.lguest.lguest_lock = Some(k.current);
    k.ev("launcher", "mutex_lock(&lguest_lock)".into(), &["lguest_lock"]);
}

pub(crate) fn mutex_unlock(k: &mut Kernel) {
    k.lguest.lguest_lock = None;
    k.ev("launcher", "mutex_unlock(&lguest_lock)".into(), &["lguest_lock"]);
}
