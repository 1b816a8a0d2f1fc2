//! H:100 `do_hypercalls()` and H:120 `do_hcall()` (drivers/lguest/hypercalls.c): what the Guest may ask of
//! the Host, with the 2.6.3x numbers (arch/x86/include/asm/lguest_hcall.h).
//!
//! Before `LHCALL_LGUEST_INIT` nothing else is allowed; after it, the async ring in `lguest_data` is worked
//! through first, and the synchronous call waits if one of the ring's calls was a NOTIFY the Launcher must
//! see first.

use crate::host::lg::Dead;
use crate::errno::Errno;
use crate::machine::Machine;
use crate::params::{LHCALL_RING_SIZE, PAGE_SIZE};

pub const LHCALL_FLUSH_ASYNC: u32 = 0;
pub const LHCALL_LGUEST_INIT: u32 = 1;
pub const LHCALL_SHUTDOWN: u32 = 2;
pub const LHCALL_NEW_PGTABLE: u32 = 4;
pub const LHCALL_FLUSH_TLB: u32 = 5;
pub const LHCALL_LOAD_IDT_ENTRY: u32 = 6;
pub const LHCALL_SET_STACK: u32 = 7;
pub const LHCALL_TS: u32 = 8;
pub const LHCALL_SET_CLOCKEVENT: u32 = 9;
pub const LHCALL_HALT: u32 = 10;
pub const LHCALL_SET_PMD: u32 = 13;
pub const LHCALL_SET_PTE: u32 = 14;
pub const LHCALL_SET_PGD: u32 = 15;
pub const LHCALL_LOAD_TLS: u32 = 16;
pub const LHCALL_NOTIFY: u32 = 17;
pub const LHCALL_LOAD_GDT_ENTRY: u32 = 18;
pub const LHCALL_SEND_INTERRUPTS: u32 = 19;

pub const LGUEST_SHUTDOWN_POWEROFF: u32 = 1;
pub const LGUEST_SHUTDOWN_RESTART: u32 = 2;

/// The system-call vector a Guest must ask for (`SYSCALL_VECTOR`, the module's default `syscall_vector`).
pub const SYSCALL_VECTOR: u32 = 0x80;
/// `RESERVE_MEM` (4 MB without PAE), in bytes: the top of the Guest's address space the Switcher takes.
pub const RESERVE_MEM: u32 = 4 << 20;
/// The page-directory slot of the Switcher (0xFFC00000 >> 22).
pub const SWITCHER_PGD_INDEX: u32 = 1023;
/// `GDT_ENTRY_TLS_MIN`: the first of the three thread-local-storage descriptors.
pub const GDT_ENTRY_TLS_MIN: usize = 6;

/// Offsets inside `struct lguest_data` (2.6.3x, i386).
pub mod lguest_data {
    pub const IRQ_ENABLED: u32 = 0;
    pub const BLOCKED_INTERRUPTS: u32 = 4;
    pub const CR2: u32 = 8;
    pub const TIME: u32 = 12;
    pub const IRQ_PENDING: u32 = 20;
    pub const HCALL_STATUS: u32 = 24;
    pub const HCALLS: u32 = HCALL_STATUS + 64;
    pub const RESERVE_MEM: u32 = HCALLS + 64 * 20;
    pub const TSC_KHZ: u32 = RESERVE_MEM + 4;
    pub const PGDIR: u32 = TSC_KHZ + 4;
    pub const NOIRQ_START: u32 = PGDIR + 4;
    pub const NOIRQ_END: u32 = NOIRQ_START + 4;
    pub const KERNEL_ADDRESS: u32 = NOIRQ_END + 4;
    pub const SYSCALL_VEC: u32 = KERNEL_ADDRESS + 4;
    /// `sizeof(struct lguest_data)`.
    pub const SIZE: u32 = SYSCALL_VEC + 4;
}

pub fn hcall_name(nr: u32) -> &'static str {
    match nr {
        LHCALL_FLUSH_ASYNC => "LHCALL_FLUSH_ASYNC",
        LHCALL_LGUEST_INIT => "LHCALL_LGUEST_INIT",
        LHCALL_SHUTDOWN => "LHCALL_SHUTDOWN",
        LHCALL_NEW_PGTABLE => "LHCALL_NEW_PGTABLE",
        LHCALL_FLUSH_TLB => "LHCALL_FLUSH_TLB",
        LHCALL_LOAD_IDT_ENTRY => "LHCALL_LOAD_IDT_ENTRY",
        LHCALL_SET_STACK => "LHCALL_SET_STACK",
        LHCALL_TS => "LHCALL_TS",
        LHCALL_SET_CLOCKEVENT => "LHCALL_SET_CLOCKEVENT",
        LHCALL_HALT => "LHCALL_HALT",
        LHCALL_SET_PMD => "LHCALL_SET_PMD",
        LHCALL_SET_PTE => "LHCALL_SET_PTE",
        LHCALL_SET_PGD => "LHCALL_SET_PGD",
        LHCALL_LOAD_TLS => "LHCALL_LOAD_TLS",
        LHCALL_NOTIFY => "LHCALL_NOTIFY",
        LHCALL_LOAD_GDT_ENTRY => "LHCALL_LOAD_GDT_ENTRY",
        LHCALL_SEND_INTERRUPTS => "LHCALL_SEND_INTERRUPTS",
        _ => "unknown hypercall",
    }
}

/// `hcall_name` the other way, accepting `NOTIFY` or `LHCALL_NOTIFY`.
pub fn hcall_by_name(name: &str) -> Option<u32> {
    let up = name.to_ascii_uppercase();
    let full = if up.starts_with("LHCALL_") { up } else { format!("LHCALL_{up}") };
    (0..32).find(|n| hcall_name(*n) == full)
}

impl Machine {
    /// `lguest_address_ok()`: is [addr, addr+len) inside the Guest's memory (below `pfn_limit`)?
    pub(crate) fn lguest_address_ok(&mut self, g: usize, addr: u32, len: u32) -> bool {
        let limit = self.lg_mut(g).pfn_limit as u64 * PAGE_SIZE as u64;
        (addr as u64) < limit && addr as u64 + len as u64 <= limit
    }

    /// The Launcher address of Guest-physical `gpa` (`mem_base + gpa`).
    fn guest_user(&mut self, g: usize, gpa: u32) -> u32 {
        self.lg_mut(g).mem_base.wrapping_add(gpa)
    }

    /// `__lgread()`: read Guest memory, killing the Guest if the range is outside it.
    pub(crate) fn lgread(&mut self, g: usize, gpa: u32, len: u32) -> Option<Vec<u8>> {
        let ua = self.guest_user(g, gpa);
        if !self.lguest_address_ok(g, gpa, len) {
            self.kill_guest(g, format!("bad read address {gpa:#x} len {len}"));
            return None;
        }
        match self.copy_from_user(ua, len) {
            Some(b) => Some(b),
            None => {
                self.kill_guest(g, format!("bad read address {gpa:#x} len {len}"));
                None
            }
        }
    }

    /// `lgwrite()`: write Guest memory, killing the Guest if the range is outside it.
    pub(crate) fn lgwrite(&mut self, g: usize, gpa: u32, data: &[u8]) -> bool {
        let ua = self.guest_user(g, gpa);
        if !self.lguest_address_ok(g, gpa, data.len() as u32) || !self.copy_to_user(ua, data) {
            self.kill_guest(g, format!("bad write address {gpa:#x} len {}", data.len()));
            return false;
        }
        true
    }

    /// `get_user()` / `put_user()` on a field of `lguest_data` (no kill: the callers decide).
    pub(crate) fn data_get(&mut self, g: usize, off: u32) -> Option<u32> {
        let base = self.lg_mut(g).lguest_data?;
        let ua = self.guest_user(g, base.wrapping_add(off));
        self.get_user(ua)
    }

    pub(crate) fn data_put(&mut self, g: usize, off: u32, v: u32) -> bool {
        let Some(base) = self.lg_mut(g).lguest_data else { return false };
        let ua = self.guest_user(g, base.wrapping_add(off));
        self.copy_to_user(ua, &v.to_le_bytes())
    }

    /// H:100 `do_hypercalls()`.
    pub(crate) fn do_hypercalls(&mut self, g: usize, c: u32) {
        let ci = c as usize;
        if self.lg_mut(g).lguest_data.is_none() {
            self.lguest_init_hcall(g, c);
            self.lg_mut(g).cpus[ci].hcall = None;
            return;
        }
        self.do_async_hcalls(g, c);
        if self.lg_mut(g).cpus[ci].pending_notify == 0 {
            if let Some(args) = self.lg_mut(g).cpus[ci].hcall {
                self.do_hcall(g, c, args);
            }
            self.lg_mut(g).cpus[ci].hcall = None;
        } else {
            self.ev("do_hypercalls", "a NOTIFY from the ring is pending: the synchronous hypercall waits for the next trip".into(), &[]);
        }
    }

    /// X:101 the first hypercall (`initialize()` in hypercalls.c): it must be LGUEST_INIT.
    fn lguest_init_hcall(&mut self, g: usize, c: u32) {
        let Some(args) = self.lg_mut(g).cpus[c as usize].hcall else { return };
        if args[0] != LHCALL_LGUEST_INIT {
            self.ev("lguest_init_hcall", format!("hypercall {} ({}) before LGUEST_INIT", args[0], hcall_name(args[0])), &[]);
            self.kill_guest(g, format!("hypercall {} before INIT", args[0] as i32));
            return;
        }
        let gpa = args[1];
        // lguest_arch_init_hypercalls(): the address must lie inside the Guest, then tsc_khz is written
        // and the system-call vector checked. Its failure is reported with lg->lguest_data, which %p
        // prints as "(null)" while it is still unset.
        if !self.lguest_address_ok(g, gpa, lguest_data::SIZE) {
            self.ev("lguest_init_hcall", format!("lguest_data at {gpa:#x} would not fit below pfn_limit"), &[]);
            self.kill_guest(g, "bad guest page (null)".to_string());
        } else {
            self.lg_mut(g).lguest_data = Some(gpa);
            self.ev("lguest_init_hcall", format!("LGUEST_INIT: lguest_data is at Guest-physical {gpa:#x}"), &["lg.lguest_data"]);
            if !self.data_put(g, lguest_data::TSC_KHZ, 0) {
                let ua = self.guest_user(g, gpa);
                self.kill_guest(g, format!("bad guest page {ua:08x}"));
            } else if self.data_get(g, lguest_data::SYSCALL_VEC) != Some(SYSCALL_VECTOR) {
                let v = self.data_get(g, lguest_data::SYSCALL_VEC);
                self.ev("lguest_init_hcall", format!("syscall_vec is {v:?}: only 0x80 (or the module's syscall_vector) will do"), &[]);
                self.kill_guest(g, "bad syscall vector".into());
            }
        }
        let ua = self.guest_user(g, gpa);
        match (self.data_get(g, lguest_data::NOIRQ_START), self.data_get(g, lguest_data::NOIRQ_END)) {
            (Some(s), Some(e)) => {
                let lg = self.lg_mut(g);
                lg.noirq_start = s;
                lg.noirq_end = e;
                self.ev("lguest_init_hcall", format!("noirq range [{s:#x}, {e:#x}); tsc_khz = 0 (no stable TSC)"), &["lg.noirq"]);
            }
            _ => self.kill_guest(g, format!("bad guest page {ua:08x}")),
        }
        if self.lg_mut(g).lguest_data.is_none() {
            return;
        }
        self.write_timestamp(g);
        self.page_table_guest_data_init(g);
        // The Host's writes above may have been the first to these Guest pages, which can make the kernel
        // copy them (copy-on-write) behind shadow entries that still name the old page: drop them all.
        self.guest_pagetable_clear_all(g, c);
    }

    /// `page_table_guest_data_init()`: learn the Guest's kernel_address, tell it how much address space the
    /// Switcher reserves and where the boot page directory is.
    fn page_table_guest_data_init(&mut self, g: usize) {
        let gpgdir = self.lg_mut(g).pgdirs[0].gpgdir;
        let got = self.data_get(g, lguest_data::KERNEL_ADDRESS);
        let ok = got.is_some() && self.data_put(g, lguest_data::RESERVE_MEM, RESERVE_MEM) && self.data_put(g, lguest_data::PGDIR, gpgdir);
        let ka = got.unwrap_or(0);
        self.lg_mut(g).kernel_address = ka;
        if !ok {
            let base = self.lg_mut(g).lguest_data.unwrap_or(0);
            let ua = self.guest_user(g, base);
            self.kill_guest(g, format!("bad guest page {ua:08x}"));
        }
        self.ev("lguest_init_hcall", format!("kernel_address = {ka:#x}; reserve_mem = 4 MB; pgdir = {gpgdir:#x}"), &["lg.kernel_address"]);
        if ka >> 22 >= SWITCHER_PGD_INDEX {
            self.kill_guest(g, format!("bad kernel address {ka:#x}"));
        }
    }

    /// `fixup_gdt_table()` (segments.c): the Guest may not hand out ring 0, so a descriptor privilege level
    /// of 0 becomes 1, and every entry is marked accessed; the Host's own entries (the Switcher's code and
    /// data, the TSS, the double-fault TSS) are left alone. Then the x86 core reloads its segment caches.
    fn fixup_gdt_table(&mut self, g: usize, c: u32, start: u32, end: u32) {
        let ci = c as usize;
        for i in start..end.min(32) {
            if matches!(i, 10 | 11 | 16 | 31) {
                continue;
            }
            let (lo, mut hi) = self.lg_mut(g).cpus[ci].gdt[i as usize];
            if hi & (3 << 13) == 0 {
                hi |= 1 << 13;
            }
            hi |= 1 << 8;
            self.lg_mut(g).cpus[ci].gdt[i as usize] = (lo, hi);
        }
        let gdt = self.lg_mut(g).cpus[ci].gdt.clone();
        let cpu = &mut self.lg_mut(g).cpus[ci];
        if let crate::host::guest::GuestEngine::Cpu(core) = &mut cpu.engine {
            for i in start..end.min(32) {
                if matches!(i, 10 | 11 | 16 | 31) || i as usize >= core.gdt.len() {
                    continue;
                }
                let (lo, hi) = gdt[i as usize];
                core.gdt[i as usize] = ((hi as u64) << 32) | lo as u64;
            }
            if let Err(f) = core.reload_segments() {
                let what = f.to_string();
                self.ev("do_hcall", format!("a segment register no longer loads after the GDT change: {what}"), &[]);
            }
        }
    }

    /// `write_timestamp()`: the simulated wall clock into `lguest_data.time`.
    pub(crate) fn write_timestamp(&mut self, g: usize) {
        let ns = self.host.now_ns;
        let ok = self.data_put(g, lguest_data::TIME, (ns / 1_000_000_000) as u32)
            && self.data_put(g, lguest_data::TIME + 4, (ns % 1_000_000_000) as u32);
        if !ok {
            self.kill_guest(g, "Writing timestamp".into());
        }
    }

    /// H:124 `do_async_hcalls()`: the ring, from `next_hcall` on, until a free (0xFF) slot.
    fn do_async_hcalls(&mut self, g: usize, c: u32) {
        let ci = c as usize;
        let Some(base) = self.lg_mut(g).lguest_data else { return };
        let ua = self.guest_user(g, base + lguest_data::HCALL_STATUS);
        let Some(st) = self.copy_from_user(ua, LHCALL_RING_SIZE) else { return };
        for _ in 0..LHCALL_RING_SIZE {
            let n = self.lg_mut(g).cpus[ci].next_hcall;
            if st[n as usize] == 0xFF {
                break;
            }
            let next = if n + 1 == LHCALL_RING_SIZE { 0 } else { n + 1 };
            self.lg_mut(g).cpus[ci].next_hcall = next;
            let aua = self.guest_user(g, base + lguest_data::HCALLS + n * 20);
            let Some(raw) = self.copy_from_user(aua, 20) else {
                self.kill_guest(g, "Fetching async hypercalls".into());
                break;
            };
            let w = |i: usize| u32::from_le_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]]);
            let args = [w(0), w(1), w(2), w(3), w(4)];
            self.ev("do_async_hcalls", format!("ring slot {n}: {}", hcall_name(args[0])), &[]);
            self.do_hcall(g, c, args);
            let sua = self.guest_user(g, base + lguest_data::HCALL_STATUS + n);
            if !self.copy_to_user(sua, &[0xFF]) {
                self.kill_guest(g, "Writing result for async hypercall".into());
                break;
            }
            if self.lg_mut(g).cpus[ci].pending_notify != 0 {
                break;
            }
        }
    }

    /// H:120 `do_hcall()`.
    fn do_hcall(&mut self, g: usize, c: u32, a: [u32; 5]) {
        let ci = c as usize;
        let name = hcall_name(a[0]);
        match a[0] {
            LHCALL_FLUSH_ASYNC | LHCALL_SEND_INTERRUPTS => {
                self.ev("do_hcall", format!("{name}: nothing to do; leaving the Guest was the point"), &[]);
            }
            LHCALL_LGUEST_INIT => self.kill_guest(g, "already have lguest_data".into()),
            LHCALL_SHUTDOWN => {
                let msg = self.lgread(g, a[1], crate::params::SHUTDOWN_MSG_LEN);
                let text = msg
                    .map(|m| {
                        let end = m.iter().position(|b| *b == 0).unwrap_or(m.len().saturating_sub(1));
                        String::from_utf8_lossy(&m[..end]).into_owned()
                    })
                    .unwrap_or_default();
                self.ev("do_hcall", format!("{name}: the Guest says \"{}\"", text.escape_debug()), &[]);
                self.kill_guest(g, format!("CRASH: {text}"));
                if a[2] == LGUEST_SHUTDOWN_RESTART {
                    // The reason string stays allocated: overwriting lg->dead loses the only pointer to it.
                    self.lg_mut(g).dead = Some(Dead::Err { errno: Errno::ERESTART });
                    self.ev("do_hcall", "LGUEST_SHUTDOWN_RESTART: lg->dead = ERR_PTR(-ERESTART) (the reason string is lost)".into(), &["lg.dead"]);
                }
            }
            LHCALL_TS => {
                self.lg_mut(g).cpus[ci].ts = a[1];
                self.ev("do_hcall", format!("{name}: cpu->ts = {}", a[1]), &["cpu0.ts"]);
            }
            LHCALL_HALT => {
                self.lg_mut(g).cpus[ci].halted = true;
                self.ev("do_hcall", format!("{name}: cpu->halted = 1"), &["cpu0.halted"]);
            }
            LHCALL_NOTIFY => {
                self.lg_mut(g).cpus[ci].pending_notify = a[1];
                self.ev("do_hcall", format!("{name}: cpu->pending_notify = {:#x}", a[1]), &["cpu0.pending_notify"]);
            }
            LHCALL_SET_CLOCKEVENT => self.guest_set_clockevent(g, c, a[1]),
            LHCALL_LOAD_IDT_ENTRY => {
                // Vectors 2 (NMI), 8 (double fault), 15 and LGUEST_TRAP_ENTRY are the Host's to keep.
                let num = a[1];
                if num >= 256 {
                    self.kill_guest(g, format!("Too many idt entries {num}"));
                } else if ![2, 8, 15, 0x1f].contains(&num) {
                    self.lg_mut(g).cpus[ci].idt[num as usize] = (a[2], a[3]);
                    self.ev("do_hcall", format!("{name}: IDT entry {num} = ({:#010x}, {:#010x})", a[2], a[3]), &["cpu0.idt"]);
                } else {
                    self.ev("do_hcall", format!("{name}: IDT entry {num} is the Host's; ignored"), &[]);
                }
            }
            LHCALL_LOAD_GDT_ENTRY => {
                let num = a[1];
                if num as usize >= self.lg_mut(g).cpus[ci].gdt.len() {
                    self.kill_guest(g, format!("too many gdt entries {num}"));
                } else {
                    self.lg_mut(g).cpus[ci].gdt[num as usize] = (a[2], a[3]);
                    self.ev("do_hcall", format!("{name}: GDT entry {num} loaded"), &["cpu0.gdt"]);
                    self.fixup_gdt_table(g, c, num, num + 1);
                }
            }
            LHCALL_LOAD_TLS => {
                // guest_load_tls(): the three TLS descriptors (GDT entries 6 to 8) from Guest memory.
                if let Some(b) = self.lgread(g, a[1], 3 * 8) {
                    for k in 0..3usize {
                        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                        self.lg_mut(g).cpus[ci].gdt[GDT_ENTRY_TLS_MIN + k] = (w(8 * k), w(8 * k + 4));
                    }
                    self.ev("do_hcall", format!("{name}: TLS entries 6-8 loaded from {:#x}", a[1]), &["cpu0.gdt"]);
                    self.fixup_gdt_table(g, c, GDT_ENTRY_TLS_MIN as u32, GDT_ENTRY_TLS_MIN as u32 + 3);
                }
            }
            LHCALL_SET_STACK => {
                let (seg, esp, pages) = (a[1], a[2], a[3]);
                if seg & 3 != 1 {
                    self.kill_guest(g, format!("bad stack segment {}", seg as i32));
                } else if pages > 2 {
                    self.kill_guest(g, format!("bad stack pages {pages}"));
                } else {
                    let cpu = &mut self.lg_mut(g).cpus[ci];
                    cpu.ss1 = seg;
                    cpu.esp1 = esp;
                    self.lg_mut(g).stack_pages = pages;
                    self.ev("do_hcall", format!("{name}: kernel stack {seg:#x}:{esp:#x}, {pages} page(s)"), &["cpu0.stack"]);
                    // guest_set_stack() then pins the stack pages (a no-op until the Guest pages).
                    self.pin_stack_pages(g, c);
                }
            }
            LHCALL_NEW_PGTABLE => {
                self.ev("do_hcall", format!("{name}: the Guest loads cr3 with {:#x}", a[1]), &[]);
                self.guest_new_pagetable(g, c, a[1]);
            }
            LHCALL_FLUSH_TLB => {
                if a[1] != 0 {
                    self.ev("do_hcall", format!("{name} {}: a kernel mapping changed: clear everything", a[1]), &[]);
                    self.guest_pagetable_clear_all(g, c);
                } else {
                    self.ev("do_hcall", format!("{name} 0: user mappings changed"), &[]);
                    self.guest_pagetable_flush_user(g, c);
                }
            }
            LHCALL_SET_PTE => {
                self.ev("do_hcall", format!("{name}: pgdir {:#x}, vaddr {:#x}, pte {:#010x}", a[1], a[2], a[3]), &[]);
                self.guest_set_pte(g, c, a[1], a[2], a[3]);
            }
            LHCALL_SET_PGD => {
                self.ev("do_hcall", format!("{name}: pgdir {:#x}, slot {}", a[1], a[2]), &[]);
                self.guest_set_pgd(g, a[1], a[2]);
            }
            n => {
                // SET_PMD exists only in PAE builds; this is a non-PAE host, so it is as unknown as 3, 11, 12.
                self.kill_guest(g, format!("Bad hypercall {}\n", n as i32));
            }
        }
    }
}
