//! `/dev/lguest`: the Launcher's whole interface to the Host (drivers/lguest/lguest_user.c, journey L:010
//! to L:060). `write()` takes requests, `read()` runs the Guest, `close()` tears everything down.
//!
//! Every check happens in the kernel's order, and each error path says why it was taken, because the order
//! is the lesson: a `read()` before INITIALIZE is `-EINVAL` before anyone asks who is reading; a write with
//! an unreadable request word is `-EFAULT` before anyone asks whether a Guest exists.

use crate::errno::Errno;
use crate::host::alloc::AllocKind;
use crate::host::eventfd::EventfdCtx;
use crate::host::guest::GuestEngine;
use crate::host::lg::{Dead, LgCpu, LgEventfd, LgEventfdMap, Lguest, MapLife};
use crate::host::regs::LguestRegs;
use crate::host::FileKind;
use crate::launcher::{FileId, TaskState};
use crate::machine::{fail, Fail, Machine, Outcome, Pending, SysResult};
use crate::params::{LGUEST_IRQS, NR_CPUS, PAGE_SIZE, WORD};

/// `enum lguest_req` (include/linux/lguest_launcher.h).
pub const LHREQ_INITIALIZE: u32 = 0;
pub const LHREQ_GETDMA: u32 = 1;
pub const LHREQ_IRQ: u32 = 2;
pub const LHREQ_BREAK: u32 = 3;
pub const LHREQ_EVENTFD: u32 = 4;

/// The request's name, for events and the page.
pub fn req_name(req: u32) -> String {
    match req {
        LHREQ_INITIALIZE => "LHREQ_INITIALIZE".into(),
        LHREQ_GETDMA => "LHREQ_GETDMA".into(),
        LHREQ_IRQ => "LHREQ_IRQ".into(),
        LHREQ_BREAK => "LHREQ_BREAK".into(),
        LHREQ_EVENTFD => "LHREQ_EVENTFD".into(),
        n => format!("request {n}"),
    }
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

impl Machine {
    pub(crate) fn lguest_of(&self, file: FileId) -> Option<usize> {
        match self.host.files.get(file)?.kind {
            // A Guest that close() already freed is no Guest: callers must never reach a dangling one.
            FileKind::Lguest { private_data: Some(g) } if self.lg(g).is_some() => Some(g),
            _ => None,
        }
    }

    pub fn lg(&self, g: usize) -> Option<&Lguest> {
        self.host.guests.get(g).and_then(|x| x.as_ref())
    }

    pub(crate) fn lg_mut(&mut self, g: usize) -> &mut Lguest {
        // Callers only pass indices they got from a live file's private_data.
        self.host.guests[g].as_mut().expect("a live Guest")
    }

    /// L:010 `write()`: the first word is the request; the file offset is the cpu.
    pub(crate) fn lguest_write(&mut self, file: FileId, buf: u32, _len: u32, off: u64) -> Result<(i64, &'static str), Fail> {
        let lg = self.lguest_of(file);
        // The offset is truncated to unsigned int, as `cpu_id = *off` does.
        let cpu_id = off as u32;
        let Some(req) = self.get_user(buf) else {
            self.ev("write", format!("get_user() of the request word at {buf:#x} faults"), &[]);
            return fail(Errno::EFAULT, format!("the request word at {buf:#x} is not mapped in the Launcher"));
        };
        let input = buf.wrapping_add(WORD);
        self.ev("write", format!("write() reads the request word: {} ({req})", req_name(req)), &[]);
        if req != LHREQ_INITIALIZE {
            let Some(g) = lg else {
                return fail(Errno::EINVAL, format!("{} before LHREQ_INITIALIZE: this file has no Guest yet", req_name(req)));
            };
            let nr = self.lg(g).map(|l| l.nr_cpus()).unwrap_or(0);
            if cpu_id >= nr {
                return fail(Errno::EINVAL, format!("cpu {cpu_id} (the file offset) is not below nr_cpus = {nr}"));
            }
            if self.lg(g).map(|l| l.dead.is_some()).unwrap_or(false) {
                return fail(Errno::ENOENT, "the Guest is dead: only read() (to learn why) and close() remain");
            }
            return match req {
                LHREQ_IRQ => self.user_send_irq(g, cpu_id, input).map(|n| (n, "user_send_irq() set the irq's bit in irqs_pending and returned 0")),
                LHREQ_EVENTFD => self.attach_eventfd(g, input).map(|n| (n, "add_eventfd() published a new map with this entry and returned 0")),
                _ => fail(Errno::EINVAL, format!("{} is not a request this kernel knows (GETDMA and BREAK are retired)", req_name(req))),
            };
        }
        self.initialize(file, input).map(|n| (n, "initialize() built the Guest and returned sizeof(args): three 4-byte words"))
    }

    /// L:020 `initialize()`: LHREQ_INITIALIZE's three words are base, pfnlimit and start.
    fn initialize(&mut self, file: FileId, input: u32) -> Result<i64, Fail> {
        self.mutex_lock();
        let r = self.initialize_locked(file, input);
        self.mutex_unlock();
        r
    }

    fn initialize_locked(&mut self, file: FileId, input: u32) -> Result<i64, Fail> {
        if self.lguest_of(file).is_some() {
            self.ev("initialize", "file->private_data is already set: goto unlock".into(), &[]);
            return fail(Errno::EBUSY, "this file already has a Guest; close it and open /dev/lguest again");
        }
        let Some(words) = self.copy_from_user(input, 3 * WORD) else {
            self.ev("initialize", format!("copy_from_user() of base, pfnlimit, start at {input:#x} faults: goto unlock"), &[]);
            return fail(Errno::EFAULT, format!("the three arguments at {input:#x} are not all mapped in the Launcher"));
        };
        let w = |i: usize| u32::from_le_bytes([words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]]);
        let (base, pfnlimit, start) = (w(0), w(1), w(2));
        self.ev("initialize", format!("arguments: base={base:#x} pfnlimit={pfnlimit:#x} start={start:#x}"), &[]);

        let lg_alloc = match self.host.alloc.alloc(AllocKind::Slab, "struct lguest".into(), "initialize", SIZEOF_LGUEST) {
            Ok(id) => id,
            Err(_) => {
                self.ev("initialize", "kzalloc(struct lguest) fails: goto unlock".into(), &[]);
                return fail(Errno::ENOMEM, "kzalloc() of struct lguest failed (injected)");
            }
        };
        self.ev("initialize", format!("kzalloc() struct lguest (#{lg_alloc})"), &["alloc"]);
        let map_alloc = match self.host.alloc.alloc(AllocKind::Slab, "eventfd map (0 entries)".into(), "initialize", sizeof_map(0)) {
            Ok(id) => id,
            Err(_) => {
                self.ev("initialize", "kmalloc(eventfd map) fails: goto free_lg".into(), &[]);
                self.kfree(lg_alloc, "initialize");
                return fail(Errno::ENOMEM, "kmalloc() of the empty eventfd map failed (injected); struct lguest freed");
            }
        };
        self.ev("initialize", format!("kmalloc() the empty eventfd map (#{map_alloc}), num = 0"), &["alloc"]);

        let cpu = match self.lg_cpu_start(0, start, pfnlimit) {
            Ok(cpu) => cpu,
            Err(f) => {
                self.ev("initialize", "lg_cpu_start() failed: goto free_eventfds".into(), &[]);
                self.kfree(map_alloc, "initialize");
                self.kfree(lg_alloc, "initialize");
                return Err(f);
            }
        };
        let (pgdir_page, gpgdir) = match self.init_guest_pagetable(base) {
            Ok(p) => p,
            Err(f) => {
                // The kernel's free_regs label frees the registers page but never drops the reference
                // lg_cpu_start() took on the Launcher's mm: that reference leaks, and the book shows it.
                self.ev("initialize", "init_guest_pagetable() failed: goto free_regs (the mm reference is not dropped)".into(), &[]);
                self.free_page(cpu.regs_page, "initialize");
                self.kfree(map_alloc, "initialize");
                self.kfree(lg_alloc, "initialize");
                return Err(f);
            }
        };
        let lg = Lguest {
            alloc: lg_alloc,
            cpus: vec![cpu],
            pfn_limit: pfnlimit,
            mem_base: base,
            lguest_data: None,
            noirq_start: 0,
            noirq_end: 0,
            kernel_address: 0,
            pgdirs: {
                let mut d: [crate::host::page_tables::PgDir; crate::host::page_tables::NR_PGDIRS] = Default::default();
                d[0].gpgdir = gpgdir;
                d[0].page = Some(pgdir_page);
                d
            },
            // The shadow path starts with the Guest's first NEW_PGTABLE (see host::page_tables for why
            // not, as in lguest, from the first instruction).
            paging: false,
            next_pgdir: 1,
            stack_pages: 0,
            eventfds: LgEventfdMap { alloc: map_alloc, num: 0, map: Vec::new() },
            dead: None,
            map_versions: vec![crate::host::lg::MapVersion { alloc: map_alloc, entries: Vec::new(), by: "initialize", life: MapLife::Current }],
        };
        let g = self.host.guests.len();
        self.host.guests.push(Some(lg));
        self.host.files[file].kind = FileKind::Lguest { private_data: Some(g) };
        self.ev("initialize", "file->private_data = lg: this file now is the Guest; return sizeof(args) = 12".into(), &["lg", "files"]);
        Ok(3 * WORD as i64)
    }

    /// L:025 `lg_cpu_start()`: cpu 0's registers page, registers, owner task and address space.
    fn lg_cpu_start(&mut self, id: u32, start: u32, pfn_limit: u32) -> Result<LgCpu, Fail> {
        if id >= NR_CPUS {
            return fail(Errno::EINVAL, format!("cpu {id} is beyond NR_CPUS"));
        }
        self.ev("lg_cpu_start", format!("cpu {id}: nr_cpus++, init_clockdev() prepares its hrtimer"), &["lg.nr_cpus"]);
        let regs_page = match self.host.alloc.alloc(AllocKind::Page, "cpu 0 registers page".into(), "lg_cpu_start", PAGE_SIZE) {
            Ok(p) => p,
            Err(_) => {
                self.ev("lg_cpu_start", "get_zeroed_page() for the registers fails: return -ENOMEM".into(), &[]);
                return fail(Errno::ENOMEM, "get_zeroed_page() for cpu 0's registers failed (injected)");
            }
        };
        let tsk = self.current;
        let pid = self.tasks[tsk as usize].pid;
        let mm_ref = self
            .host
            .alloc
            .alloc(AllocKind::MmRef, format!("reference on {}'s mm", self.task_name(tsk)), "lg_cpu_start", 0)
            .unwrap_or(0);
        self.ev(
            "lg_cpu_start",
            format!("registers page (#{regs_page}); eip = {start:#x}, ring 1 segments; tsk = {}; get_task_mm() (#{mm_ref})", self.task_name(tsk)),
            &["alloc", "cpu0"],
        );
        Ok(LgCpu {
            id,
            tsk,
            mm: pid,
            mm_ref,
            regs_page,
            regs: LguestRegs::setup(start),
            hcall: None,
            next_hcall: 0,
            pending_notify: 0,
            halted: false,
            irqs_pending: 0,
            ts: 0,
            hrt_expires: None,
            ss1: 0,
            esp1: 0,
            idt: vec![(0, 0); 256],
            gdt: vec![(0, 0); 32],
            engine: if self.procs[pid as usize].has_code {
                GuestEngine::Cpu(Box::new(crate::cpu::Cpu::new(pfn_limit, start)))
            } else {
                GuestEngine::Scripted
            },
            cr2: 0,
            cpu_pgd: 0,
            flush_pending: false,
            last_ud: None,
        })
    }

    /// `init_guest_pagetable()` (page_tables.c, H:500): read the Guest's memory size and initrd size from
    /// the `boot_params` the Launcher put at Guest-physical 0, build the boot page tables in Guest memory
    /// (`setup_pagetables()`), then allocate the first shadow page directory. Returns the shadow page's
    /// book entry and the Guest-physical address of the boot page directory.
    fn init_guest_pagetable(&mut self, mem_base: u32) -> Result<(u32, u32), Fail> {
        let mem = self.copy_from_user(mem_base.wrapping_add(BOOT_E820_0_SIZE), 8);
        let initrd = self.get_user(mem_base.wrapping_add(BOOT_RAMDISK_SIZE));
        let (Some(mem), Some(initrd_size)) = (mem, initrd) else {
            self.ev("init_guest_pagetable", format!("copy_from_user() of boot_params at mem_base {mem_base:#x} faults: -EFAULT"), &[]);
            return fail(Errno::EFAULT, format!("boot_params at base {mem_base:#x} (Guest-physical 0) is not mapped in the Launcher"));
        };
        // `mem` is a u64 in the e820 map, passed on as an unsigned long: the low 32 bits.
        let mem = u32::from_le_bytes([mem[0], mem[1], mem[2], mem[3]]);
        self.ev("init_guest_pagetable", format!("boot_params: e820_map[0].size = {mem:#x}, ramdisk_size = {initrd_size:#x}"), &[]);
        let gpgdir = self.setup_pagetables(mem_base, mem, initrd_size)?;
        match self.host.alloc.alloc(AllocKind::Page, "shadow page directory".into(), "init_guest_pagetable", PAGE_SIZE) {
            Ok(p) => {
                self.ev("init_guest_pagetable", format!("get_zeroed_page() for pgdirs[0] (#{p}); pgdirs[0].gpgdir = {gpgdir:#x}"), &["alloc"]);
                Ok((p, gpgdir))
            }
            Err(_) => {
                self.ev("init_guest_pagetable", "get_zeroed_page() for pgdirs[0] fails: return -ENOMEM".into(), &[]);
                fail(Errno::ENOMEM, "get_zeroed_page() for the shadow page directory failed (injected)")
            }
        }
    }

    /// `setup_pagetables()` (H:505): page tables that map all `mem` bytes both at 0 (identity) and at
    /// PAGE_OFFSET (0xC0000000), written just below the initrd at the top of Guest memory. Returns the
    /// Guest-physical page directory, or -EFAULT if the Launcher's memory there is not mapped.
    fn setup_pagetables(&mut self, mem_base: u32, mem: u32, initrd_size: u32) -> Result<u32, Fail> {
        let mapped_pages = mem / PAGE_SIZE;
        let linear_pages = mapped_pages.div_ceil(1024);
        let pgdir = mem.wrapping_add(mem_base).wrapping_sub(initrd_size).wrapping_sub(PAGE_SIZE);
        let linear = pgdir.wrapping_sub(linear_pages.wrapping_mul(PAGE_SIZE));
        let efault = |m: &mut Machine, at: u32| {
            m.ev("init_guest_pagetable", format!("setup_pagetables(): copy_to_user() at {at:#x} faults: -EFAULT"), &[]);
            fail(Errno::EFAULT, format!("the boot page tables at {at:#x} are not mapped in the Launcher"))
        };
        let mut ptes = Vec::with_capacity(mapped_pages as usize * 4);
        for i in 0..mapped_pages {
            ptes.extend_from_slice(&((i << 12) | PTE_PRESENT_RW_USER).to_le_bytes());
        }
        if !ptes.is_empty() && !self.copy_to_user(linear, &ptes) {
            return efault(self, linear);
        }
        let phys_linear = linear.wrapping_sub(mem_base);
        let mut i = 0;
        while i < mapped_pages {
            let pgd = phys_linear.wrapping_add(i * 4) | PTE_PRESENT_RW_USER;
            let at = pgdir.wrapping_add((i / 1024) * 4);
            let at_high = pgdir.wrapping_add((768 + i / 1024) * 4);
            if !self.copy_to_user(at, &pgd.to_le_bytes()) || !self.copy_to_user(at_high, &pgd.to_le_bytes()) {
                return efault(self, at);
            }
            i += 1024;
        }
        let gpgdir = pgdir.wrapping_sub(mem_base);
        self.ev(
            "init_guest_pagetable",
            format!("setup_pagetables(): {mapped_pages} pages mapped at 0 and 0xc0000000; page directory at Guest-physical {gpgdir:#x}"),
            &["guest.memory"],
        );
        Ok(gpgdir)
    }

    /// L:050 `user_send_irq()`.
    fn user_send_irq(&mut self, g: usize, cpu: u32, input: u32) -> Result<i64, Fail> {
        let Some(irq) = self.get_user(input) else {
            self.ev("user_send_irq", format!("get_user() of the irq number at {input:#x} faults"), &[]);
            return fail(Errno::EFAULT, format!("the irq number at {input:#x} is not mapped in the Launcher"));
        };
        if irq >= LGUEST_IRQS {
            self.ev("user_send_irq", format!("irq {irq} >= LGUEST_IRQS ({LGUEST_IRQS})"), &[]);
            return fail(Errno::EINVAL, format!("irq {irq} is not below LGUEST_IRQS = {LGUEST_IRQS}"));
        }
        self.set_interrupt(g, cpu, irq);
        Ok(0)
    }

    /// L:052 `attach_eventfd()`.
    fn attach_eventfd(&mut self, g: usize, input: u32) -> Result<i64, Fail> {
        let Some(addr) = self.get_user(input) else {
            self.ev("attach_eventfd", format!("get_user() of the address at {input:#x} faults"), &[]);
            return fail(Errno::EFAULT, format!("the NOTIFY address at {input:#x} is not mapped in the Launcher"));
        };
        let Some(fd) = self.get_user(input.wrapping_add(WORD)) else {
            self.ev("attach_eventfd", format!("get_user() of the fd at {:#x} faults", input.wrapping_add(WORD)), &[]);
            return fail(Errno::EFAULT, format!("the descriptor word at {:#x} is not mapped in the Launcher", input.wrapping_add(WORD)));
        };
        self.mutex_lock();
        let r = self.add_eventfd(g, addr, fd as i32);
        self.mutex_unlock();
        r.map(|_| 0)
    }

    /// L:055 `add_eventfd()`: the RCU writer. Copy, append, publish, wait for a grace period, free.
    fn add_eventfd(&mut self, g: usize, addr: u32, fd: i32) -> Result<(), Fail> {
        if addr == 0 {
            self.ev("add_eventfd", "addr is 0, which means \"no notify\": return -EINVAL".into(), &[]);
            return fail(Errno::EINVAL, "NOTIFY address 0 cannot be attached: pending_notify = 0 means nothing is pending");
        }
        let old = self.lg_mut(g).eventfds.clone();
        let n = old.num + 1;
        let new_alloc = match self.host.alloc.alloc(AllocKind::Slab, format!("eventfd map ({n} entries)"), "add_eventfd", sizeof_map(n)) {
            Ok(a) => a,
            Err(_) => {
                self.ev("add_eventfd", "kmalloc() of the new map fails: return -ENOMEM".into(), &[]);
                return fail(Errno::ENOMEM, "kmalloc() of the bigger eventfd map failed (injected); the old map is untouched");
            }
        };
        self.ev("add_eventfd", format!("kmalloc() a map for {n} entries (#{new_alloc})"), &["alloc"]);
        let mut new = LgEventfdMap { alloc: new_alloc, num: old.num, map: old.map.clone() };
        self.ev("add_eventfd", format!("memcpy() the {} old entries; new->num = {}", old.num, old.num), &[]);
        let (event, reference) = match self.eventfd_ctx_fdget(fd) {
            Ok(got) => got,
            Err(f) => {
                self.ev("add_eventfd", format!("eventfd_ctx_fdget({fd}) fails: kfree() the new map, return {}", f.errno), &[]);
                self.kfree(new_alloc, "add_eventfd");
                return Err(f);
            }
        };
        new.map.push(LgEventfd { addr, event, reference });
        new.num += 1;
        self.ev("add_eventfd", format!("append {{addr {addr:#x}, eventfd ctx {event}}}; num++ -> {}", new.num), &[]);
        let old_alloc = old.alloc;
        let lg = self.lg_mut(g);
        lg.map_version(new_alloc, Some(&new), "add_eventfd", MapLife::Current);
        lg.map_version(old_alloc, None, "add_eventfd", MapLife::Retired);
        lg.eventfds = new;
        self.ev("add_eventfd", format!("rcu_assign_pointer(lg->eventfds, #{new_alloc}): readers from now on see the new map"), &["lg.eventfds"]);
        self.synchronize_rcu();
        self.kfree(old_alloc, "add_eventfd");
        self.lg_mut(g).map_version(old_alloc, None, "add_eventfd", MapLife::Freed);
        Ok(())
    }

    /// `synchronize_rcu()`. Here every system call runs to completion on one CPU, so no reader can be
    /// inside a read-side section when a writer waits: the grace period ends at once. The RCU model
    /// ([`crate::rcu`]) runs the same writer against readers on other CPUs.
    fn synchronize_rcu(&mut self) {
        self.ev("synchronize_rcu", "synchronize_rcu(): no CPU is inside rcu_read_lock(), so the grace period ends at once".into(), &[]);
    }

    /// L:056 `send_notify_to_eventfd()`: the RCU reader. True if an eventfd took the notify.
    pub(crate) fn send_notify_to_eventfd(&mut self, g: usize, cpu: u32) -> bool {
        self.ev("send_notify_to_eventfd", "rcu_read_lock(): this CPU is now in a read-side critical section".into(), &[]);
        let map = self.lg_mut(g).eventfds.clone();
        self.ev("send_notify_to_eventfd", format!("rcu_dereference(lg->eventfds) = map #{} with {} entries", map.alloc, map.num), &[]);
        let pending = self.lg_mut(g).cpus[cpu as usize].pending_notify;
        for (i, e) in map.map.iter().enumerate() {
            if e.addr == pending {
                self.eventfd_signal(e.event);
                self.lg_mut(g).cpus[cpu as usize].pending_notify = 0;
                self.ev(
                    "send_notify_to_eventfd",
                    format!("entry {i} has addr {pending:#x}: eventfd_signal(ctx {}, 1); pending_notify = 0", e.event),
                    &["eventfds", "cpu0.pending_notify"],
                );
                break;
            }
        }
        self.ev("send_notify_to_eventfd", "rcu_read_unlock()".into(), &[]);
        self.lg_mut(g).cpus[cpu as usize].pending_notify == 0
    }

    /// L:040 `read()`.
    pub(crate) fn lguest_read(&mut self, file: FileId, buf: u32, len: u32, off: u64) -> Outcome {
        let cpu_id = off as u32;
        let Some(g) = self.lguest_of(file) else {
            self.ev("read", "file->private_data is NULL: no LHREQ_INITIALIZE yet".into(), &[]);
            return Outcome::Done(SysResult::err(Errno::EINVAL, "read() before LHREQ_INITIALIZE: there is no Guest to run"));
        };
        let nr = self.lg(g).map(|l| l.nr_cpus()).unwrap_or(0);
        if cpu_id >= nr {
            return Outcome::Done(SysResult::err(Errno::EINVAL, format!("cpu {cpu_id} (the file offset) is not below nr_cpus = {nr}")));
        }
        let tsk = self.lg_mut(g).cpus[cpu_id as usize].tsk;
        if self.current != tsk {
            let who = self.task_name(self.current);
            let owner = self.task_name(tsk);
            self.ev("read", format!("current ({who}) is not cpu->tsk ({owner})"), &[]);
            return Outcome::Done(SysResult::err(Errno::EPERM, format!("only {owner}, the task that initialized the Guest, may run it")));
        }
        if let Some(dead) = self.lg_mut(g).dead.clone() {
            return Outcome::Done(match dead {
                Dead::Err { errno } => {
                    self.ev("read", format!("lg->dead is an error pointer: return {errno}"), &[]);
                    SysResult::err(errno, "the Guest is gone and lg->dead holds an error code, not a reason")
                }
                Dead::Reason { text, .. } => {
                    let full = text.len() as u32 + 1;
                    let n = len.min(full);
                    let mut bytes = text.clone().into_bytes();
                    bytes.push(0);
                    bytes.truncate(n as usize);
                    if !self.copy_to_user(buf, &bytes) {
                        self.ev("read", format!("copy_to_user() of the reason to {buf:#x} faults"), &[]);
                        SysResult::err(Errno::EFAULT, format!("the buffer at {buf:#x} is not mapped for {n} bytes"))
                    } else {
                        self.ev("read", format!("the Guest is dead: copy {n} bytes of its reason and return {n}"), &[]);
                        let shown = String::from_utf8_lossy(bytes.strip_suffix(&[0]).unwrap_or(&bytes)).into_owned();
                        let mut r = SysResult::ok(n as i64, "the Guest is dead; this is why (at most the buffer's size, NUL included)");
                        r.reason = Some(shown);
                        r
                    }
                }
            });
        }
        if self.lg_mut(g).cpus[cpu_id as usize].pending_notify != 0 {
            self.lg_mut(g).cpus[cpu_id as usize].pending_notify = 0;
            self.ev("read", "the Launcher has seen the last NOTIFY: pending_notify = 0".into(), &["cpu0.pending_notify"]);
        }
        let tid = self.current;
        // The system call holds its own reference on the file (fget) until it returns: a close() by
        // another thread meanwhile cannot release the Guest under a running read().
        self.host.files[file].f_count += 1;
        self.pending.insert(tid, Pending::LguestRead { file, cpu: cpu_id, buf, why: String::new(), halted: false });
        self.tasks[tid as usize].state = TaskState::InRead;
        match self.progress_now(tid) {
            Some(r) => Outcome::Done(r),
            None => Outcome::Blocked { why: self.blocked_why(tid) },
        }
    }

    pub(crate) fn blocked_why(&self, tid: u32) -> String {
        match self.pending.get(&tid) {
            Some(Pending::LguestRead { why, .. }) => why.clone(),
            Some(Pending::EventfdRead { .. }) => "waiting for the eventfd to be signalled".into(),
            None => String::new(),
        }
    }

    /// Run a freshly blocked call once; used by `read()` so a Guest that returns at once returns at once.
    fn progress_now(&mut self, tid: u32) -> Option<SysResult> {
        self.settle();
        self.finished.remove(&tid)
    }

    /// L:060 `close()`: the release of the last reference to a `/dev/lguest` file.
    pub(crate) fn lguest_close(&mut self, _file: FileId, private_data: Option<usize>) {
        let Some(g) = private_data else {
            self.ev("close", "private_data is NULL: the Guest was never initialized, nothing to free".into(), &[]);
            return;
        };
        self.mutex_lock();
        if self.lg(g).is_none() {
            self.mutex_unlock();
            return;
        }
        // Tasks still blocked running this Guest cannot be: their descriptor kept the file open.
        self.free_guest_pagetable(g);
        self.ev("close", "free_guest_pagetable(): the shadow page tables go".into(), &["alloc"]);
        let Some(lg) = self.host.guests.get_mut(g).and_then(|x| x.take()) else {
            self.mutex_unlock();
            return;
        };
        for cpu in &lg.cpus {
            self.ev("close", format!("cpu {}: hrtimer_cancel(), free the registers page, mmput()", cpu.id), &["alloc"]);
            self.free_page(cpu.regs_page, "close");
            self.release_ref(cpu.mm_ref, "close");
        }
        for e in &lg.eventfds.map {
            self.ev("close", format!("eventfd_ctx_put(ctx {}) for addr {:#x}", e.event, e.addr), &["eventfds"]);
            self.eventfd_ctx_put(e.event);
            let _ = self.host.alloc.free(e.reference);
        }
        self.kfree(lg.eventfds.alloc, "close");
        match &lg.dead {
            Some(Dead::Reason { alloc, .. }) => self.kfree(*alloc, "close"),
            Some(Dead::Err { .. }) | None => {}
        }
        self.kfree(lg.alloc, "close");
        self.ev("close", "struct lguest is freed".into(), &["lg"]);
        self.mutex_unlock();
    }

    // --- the small kernel helpers ----------------------------------------------------------------

    pub(crate) fn mutex_lock(&mut self) {
        self.host.lguest_lock = Some(self.current);
        self.ev("launcher", "mutex_lock(&lguest_lock)".into(), &["lguest_lock"]);
    }

    pub(crate) fn mutex_unlock(&mut self) {
        self.host.lguest_lock = None;
        self.ev("launcher", "mutex_unlock(&lguest_lock)".into(), &["lguest_lock"]);
    }

    /// (The event's source line is the caller's, so the code pane marks the `kfree()` in the function that
    /// frees.)
    #[track_caller]
    pub(crate) fn kfree(&mut self, id: u32, by: &'static str) {
        if let Err(e) = self.host.alloc.free(id) {
            self.ev(by, format!("model error: {e}"), &[]);
        } else {
            self.ev(by, format!("kfree(#{id})"), &["alloc"]);
        }
    }

    #[track_caller]
    pub(crate) fn free_page(&mut self, id: u32, by: &'static str) {
        if self.host.alloc.free(id).is_ok() {
            self.ev(by, format!("free_page(#{id})"), &["alloc"]);
        }
    }

    #[track_caller]
    fn release_ref(&mut self, id: u32, by: &'static str) {
        if self.host.alloc.free(id).is_ok() {
            self.ev(by, format!("mmput(#{id})"), &["alloc"]);
        }
    }

    /// X:400 `eventfd_ctx_fdget()`: `-EBADF` if the descriptor is not open, `-EINVAL` if it is no eventfd.
    fn eventfd_ctx_fdget(&mut self, fd: i32) -> Result<(usize, u32), Fail> {
        let Some(file) = self.fdget(fd) else {
            self.ev("eventfd_ctx_fdget", format!("fget({fd}) finds no open file: -EBADF"), &[]);
            return fail(Errno::EBADF, format!("descriptor {fd} is not open in the calling task"));
        };
        let FileKind::Eventfd { ctx } = self.host.files[file].kind else {
            self.ev("eventfd_ctx_fdget", format!("descriptor {fd} is not an eventfd: -EINVAL"), &[]);
            return fail(Errno::EINVAL, format!("descriptor {fd} is open but is not an eventfd"));
        };
        self.host.eventfds[ctx].refs += 1;
        // Taking a reference cannot fail (only allocations can be made to fail).
        let reference = self.host.alloc.alloc(AllocKind::EventfdRef, format!("reference on eventfd ctx {ctx}"), "add_eventfd", 0).unwrap_or(0);
        self.ev("eventfd_ctx_fdget", format!("descriptor {fd} is eventfd ctx {ctx}: take a reference"), &["eventfds", "alloc"]);
        Ok((ctx, reference))
    }

    /// X:401 `eventfd_signal()`: add one and wake a reader sleeping on it.
    fn eventfd_signal(&mut self, ctx: usize) {
        if let Some(c) = self.host.eventfds.get_mut(ctx) {
            c.count = c.count.saturating_add(1);
            let n = c.count;
            self.ev("eventfd_signal", format!("eventfd ctx {ctx}: counter += 1 (now {n}); a thread reading it wakes"), &["eventfds"]);
        }
    }

    pub(crate) fn eventfd_ctx_put(&mut self, ctx: usize) {
        if let Some(c) = self.host.eventfds.get_mut(ctx) {
            c.refs = c.refs.saturating_sub(1);
        }
    }

    /// X:110 `kill_guest()`: only the first reason counts; if `kasprintf()` fails, `dead` becomes
    /// `ERR_PTR(-ENOMEM)`.
    pub(crate) fn kill_guest(&mut self, g: usize, reason: String) {
        if self.lg_mut(g).dead.is_some() {
            self.ev("kill_guest", format!("already dead; \"{}\" is ignored", reason.escape_debug()), &[]);
            return;
        }
        let text: String = reason.chars().take(crate::params::MAX_REASON).collect();
        let dead = match self.host.alloc.alloc(AllocKind::Slab, format!("kill reason \"{}\"", text.escape_debug()), "kill_guest", text.len() as u32 + 1) {
            Ok(alloc) => Dead::Reason { text: text.clone(), alloc },
            Err(_) => Dead::Err { errno: Errno::ENOMEM },
        };
        let shown = match &dead {
            Dead::Reason { .. } => format!("lg->dead = \"{}\"", text.escape_debug()),
            Dead::Err { .. } => "kasprintf() fails: lg->dead = ERR_PTR(-ENOMEM)".into(),
        };
        self.lg_mut(g).dead = Some(dead);
        self.ev("kill_guest", shown, &["lg.dead", "alloc"]);
    }

    /// Eventfd context `ctx`, for views.
    pub fn eventfd_ctx(&self, ctx: usize) -> Option<&EventfdCtx> {
        self.host.eventfds.get(ctx)
    }
}
