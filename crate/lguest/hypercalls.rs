//! H:100 `do_hypercalls()` and H:120 `do_hcall()` (drivers/lguest/hypercalls.c): what the Guest may ask of
//! the Host, with the 2.6.3x numbers (arch/x86/include/asm/lguest_hcall.h).
//!
//! Before `LHCALL_LGUEST_INIT` nothing else is allowed; after it, the async ring in `lguest_data` is worked
//! through first, and the synchronous call waits if one of the ring's calls was a NOTIFY the Launcher must
//! see first.

use super::core::{guest_user, kill_guest, lgread, lguest_address_ok};
use super::interrupts_and_traps::{guest_set_clockevent, guest_set_stack, load_guest_idt_entry};
use super::lg::{Dead, LgCpu, Lguest};
use super::page_tables::{guest_new_pagetable, guest_pagetable_clear_all, guest_pagetable_flush_user, guest_set_pgd, guest_set_pte};
use super::segments::{guest_load_tls, load_guest_gdt_entry};
use crate::errno::Errno;
use crate::kernel::Kernel;
use crate::params::LHCALL_RING_SIZE;

/// The hypercalls, each with its number, from one list: the constants and [`HCALLS`] are made from it.
macro_rules! hypercalls {
    ($($name:ident = $n:literal),* $(,)?) => {
        $(pub const $name: u32 = $n;)*
        /// Every hypercall of 2.6.3x (i386), by number.
        pub const HCALLS: &[(u32, &str)] = &[$(($n, stringify!($name))),*];
    };
}
hypercalls! {
    LHCALL_FLUSH_ASYNC = 0,
    LHCALL_LGUEST_INIT = 1,
    LHCALL_SHUTDOWN = 2,
    LHCALL_NEW_PGTABLE = 4,
    LHCALL_FLUSH_TLB = 5,
    LHCALL_LOAD_IDT_ENTRY = 6,
    LHCALL_SET_STACK = 7,
    LHCALL_TS = 8,
    LHCALL_SET_CLOCKEVENT = 9,
    LHCALL_HALT = 10,
    LHCALL_SET_PMD = 13,
    LHCALL_SET_PTE = 14,
    LHCALL_SET_PGD = 15,
    LHCALL_LOAD_TLS = 16,
    LHCALL_NOTIFY = 17,
    LHCALL_LOAD_GDT_ENTRY = 18,
    LHCALL_SEND_INTERRUPTS = 19,
}

pub const LGUEST_SHUTDOWN_POWEROFF: u32 = 1;
pub const LGUEST_SHUTDOWN_RESTART: u32 = 2;

/// The system-call vector a Guest must ask for (`SYSCALL_VECTOR`, the module's default `syscall_vector`).
pub const SYSCALL_VECTOR: u32 = 0x80;
/// `RESERVE_MEM` (4 MB without PAE), in bytes: the top of the Guest's address space the Switcher takes.
pub const RESERVE_MEM: u32 = 4 << 20;
/// The page-directory slot of the Switcher (0xFFC00000 >> 22).
pub const SWITCHER_PGD_INDEX: u32 = 1023;

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

/// The hypercall's name, or "unknown hypercall".
pub fn hcall_name(nr: u32) -> &'static str {
    HCALLS.iter().find(|(n, _)| *n == nr).map(|(_, name)| *name).unwrap_or("unknown hypercall")
}

/// A hypercall by name, accepting `NOTIFY` or `LHCALL_NOTIFY` (any case).
pub fn hcall_by_name(name: &str) -> Option<u32> {
    let up = name.to_ascii_uppercase();
    let full = if up.starts_with("LHCALL_") { up } else { format!("LHCALL_{up}") };
    HCALLS.iter().find(|(_, n)| *n == full).map(|(nr, _)| *nr)
}

/// `get_user()` / `put_user()` on a field of `lguest_data` (no kill: the callers decide).
pub fn data_get(k: &mut Kernel, lg: &Lguest, off: u32) -> Option<u32> {
    let base = lg.lguest_data?;
    k.get_user(guest_user(lg, base.wrapping_add(off)))
}

pub fn data_put(k: &mut Kernel, lg: &Lguest, off: u32, v: u32) -> bool {
    let Some(base) = lg.lguest_data else { return false };
    k.copy_to_user(guest_user(lg, base.wrapping_add(off)), &v.to_le_bytes())
}

/// H:100 `do_hypercalls()`.
pub fn do_hypercalls(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) {
    if lg.lguest_data.is_none() {
        lguest_init_hcall(k, lg, cpu);
        cpu.hcall = None;
        return;
    }
    do_async_hcalls(k, lg, cpu);
    if cpu.pending_notify == 0 {
        if let Some(args) = cpu.hcall {
            do_hcall(k, lg, cpu, args);
        }
        cpu.hcall = None;
    } else {
        k.ev("do_hypercalls", "a NOTIFY from the ring is pending: the synchronous hypercall waits for the next trip".into(), &[]);
    }
}

/// X:101 the first hypercall (`initialize()` in hypercalls.c): it must be LGUEST_INIT.
fn lguest_init_hcall(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) {
    let Some(args) = cpu.hcall else { return };
    if args[0] != LHCALL_LGUEST_INIT {
        k.ev("lguest_init_hcall", format!("hypercall {} ({}) before LGUEST_INIT", args[0], hcall_name(args[0])), &[]);
        kill_guest(k, lg, format!("hypercall {} before INIT", args[0] as i32));
        return;
    }
    let gpa = args[1];
    // lguest_arch_init_hypercalls(): the address must lie inside the Guest, then tsc_khz is written and the
    // system-call vector checked. Its failure is reported with lg->lguest_data, which %p prints as "(null)",
    // padded to a pointer's width (8 on i386), while it is still unset.
    if !lguest_address_ok(lg, gpa, lguest_data::SIZE) {
        k.ev("lguest_init_hcall", format!("lguest_data at {gpa:#x} would not fit below pfn_limit: lguest_arch_init_hypercalls() returns -EFAULT"), &[]);
        kill_guest(k, lg, format!("bad guest page {:>8}", "(null)"));
    } else {
        lg.lguest_data = Some(gpa);
        k.ev("lguest_init_hcall", format!("LGUEST_INIT: lguest_data is at Guest-physical {gpa:#x}"), &["lg.lguest_data"]);
        if !data_put(k, lg, lguest_data::TSC_KHZ, 0) {
            let ua = guest_user(lg, gpa);
            kill_guest(k, lg, format!("bad guest page {ua:08x}"));
        } else {
            // check_syscall_vector(): the vector the Guest asks for must be one the Host lets go straight to
            // it, Linux's or the one the module reserved.
            let sv = k.lguest.syscall_vector();
            match data_get(k, lg, lguest_data::SYSCALL_VEC) {
                Some(v) if super::interrupts_and_traps::could_be_syscall(v, sv) => {
                    k.ev(
                        "lguest_init_hcall",
                        format!("check_syscall_vector(): syscall_vec {v:#x} is SYSCALL_VECTOR or the module's syscall_vector ({sv:#x})"),
                        &[],
                    );
                }
                v => {
                    let shown = v.map(|v| format!("{v:#x}")).unwrap_or_else(|| "unreadable".into());
                    k.ev(
                        "lguest_init_hcall",
                        format!("check_syscall_vector(): syscall_vec is {shown}: only {SYSCALL_VECTOR:#x} or the module's syscall_vector ({sv:#x}) will do"),
                        &[],
                    );
                    kill_guest(k, lg, "bad syscall vector".into());
                }
            }
        }
    }
    let ua = guest_user(lg, gpa);
    match (data_get(k, lg, lguest_data::NOIRQ_START), data_get(k, lg, lguest_data::NOIRQ_END)) {
        (Some(s), Some(e)) => {
            lg.noirq_start = s;
            lg.noirq_end = e;
            k.ev("lguest_init_hcall", format!("noirq range [{s:#x}, {e:#x}); tsc_khz = 0 (no stable TSC)"), &["lg.noirq"]);
        }
        _ => kill_guest(k, lg, format!("bad guest page {ua:08x}")),
    }
    if lg.lguest_data.is_none() {
        return;
    }
    write_timestamp(k, lg);
    page_table_guest_data_init(k, lg);
    // The Host's writes above may have been the first to these Guest pages, which can make the kernel copy
    // them (copy-on-write) behind shadow entries that still name the old page: drop them all.
    guest_pagetable_clear_all(k, lg, cpu);
}

/// `page_table_guest_data_init()`: learn the Guest's kernel_address, tell it how much address space the
/// Switcher reserves and where the boot page directory is.
fn page_table_guest_data_init(k: &mut Kernel, lg: &mut Lguest) {
    let gpgdir = lg.pgdirs[0].gpgdir;
    let got = data_get(k, lg, lguest_data::KERNEL_ADDRESS);
    let ok = got.is_some() && data_put(k, lg, lguest_data::RESERVE_MEM, RESERVE_MEM) && data_put(k, lg, lguest_data::PGDIR, gpgdir);
    let ka = got.unwrap_or(0);
    lg.kernel_address = ka;
    if !ok {
        let ua = guest_user(lg, lg.lguest_data.unwrap_or(0));
        kill_guest(k, lg, format!("bad guest page {ua:08x}"));
    }
    k.ev("lguest_init_hcall", format!("kernel_address = {ka:#x}; reserve_mem = 4 MB; pgdir = {gpgdir:#x}"), &["lg.kernel_address"]);
    if ka >> 22 >= SWITCHER_PGD_INDEX {
        kill_guest(k, lg, format!("bad kernel address {ka:#x}"));
    }
}

/// `write_timestamp()`: the wall clock (`ktime_get_real_ts()`: seconds and nanoseconds since 1970) into
/// `lguest_data.time`. The simulated host's clock starts at [`crate::params::WALL_CLOCK_AT_BOOT`].
pub fn write_timestamp(k: &mut Kernel, lg: &mut Lguest) {
    let ns = k.now_ns;
    let sec = crate::params::WALL_CLOCK_AT_BOOT.wrapping_add((ns / 1_000_000_000) as u32);
    let ok = data_put(k, lg, lguest_data::TIME, sec) && data_put(k, lg, lguest_data::TIME + 4, (ns % 1_000_000_000) as u32);
    if !ok {
        kill_guest(k, lg, "Writing timestamp".into());
    }
}

/// H:124 `do_async_hcalls()`: the ring, from `next_hcall` on, until a free (0xFF) slot.
fn do_async_hcalls(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu) {
    let Some(base) = lg.lguest_data else { return };
    let Some(st) = k.copy_from_user(guest_user(lg, base + lguest_data::HCALL_STATUS), LHCALL_RING_SIZE) else { return };
    for _ in 0..LHCALL_RING_SIZE {
        let n = cpu.next_hcall;
        if st[n as usize] == 0xFF {
            break;
        }
        cpu.next_hcall = if n + 1 == LHCALL_RING_SIZE { 0 } else { n + 1 };
        let Some(raw) = k.copy_from_user(guest_user(lg, base + lguest_data::HCALLS + n * 20), 20) else {
            kill_guest(k, lg, "Fetching async hypercalls".into());
            break;
        };
        let w = |i: usize| u32::from_le_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]]);
        let args = [w(0), w(1), w(2), w(3), w(4)];
        k.ev("do_async_hcalls", format!("ring slot {n}: {}", hcall_name(args[0])), &[]);
        do_hcall(k, lg, cpu, args);
        if !k.copy_to_user(guest_user(lg, base + lguest_data::HCALL_STATUS + n), &[0xFF]) {
            kill_guest(k, lg, "Writing result for async hypercall".into());
            break;
        }
        if cpu.pending_notify != 0 {
            break;
        }
    }
}

/// H:120 `do_hcall()`.
fn do_hcall(k: &mut Kernel, lg: &mut Lguest, cpu: &mut LgCpu, a: [u32; 5]) {
    let name = hcall_name(a[0]);
    match a[0] {
        LHCALL_FLUSH_ASYNC | LHCALL_SEND_INTERRUPTS => {
            k.ev("do_hcall", format!("{name}: nothing to do; leaving the Guest was the point"), &[]);
        }
        LHCALL_LGUEST_INIT => kill_guest(k, lg, "already have lguest_data".into()),
        LHCALL_SHUTDOWN => {
            let msg = lgread(k, lg, a[1], crate::params::SHUTDOWN_MSG_LEN);
            let text = msg
                .map(|m| {
                    let end = m.iter().position(|b| *b == 0).unwrap_or(m.len().saturating_sub(1));
                    String::from_utf8_lossy(&m[..end]).into_owned()
                })
                .unwrap_or_default();
            k.ev("do_hcall", format!("{name}: the Guest says \"{}\"", text.escape_debug()), &[]);
            kill_guest(k, lg, format!("CRASH: {text}"));
            if a[2] == LGUEST_SHUTDOWN_RESTART {
                // The reason string stays allocated: overwriting lg->dead loses the only pointer to it.
                lg.dead = Some(Dead::Err { errno: Errno::ERESTART });
                k.ev("do_hcall", "LGUEST_SHUTDOWN_RESTART: lg->dead = ERR_PTR(-ERESTART) (the reason string is lost)".into(), &["lg.dead"]);
            }
        }
        LHCALL_TS => {
            cpu.ts = a[1];
            let what = if a[1] != 0 {
                "the Guest set its TS bit: before each run the Host will unlazy_fpu(), and a trap 7 is reflected to the Guest"
            } else {
                "the Guest cleared its TS bit: a trap 7 is the Host's alone (math_state_restore()), the Guest never sees it"
            };
            k.ev("do_hcall", format!("{name}: cpu->ts = {}: {what}", a[1]), &["cpu0.ts"]);
        }
        LHCALL_HALT => {
            cpu.halted = true;
            k.ev("do_hcall", format!("{name}: cpu->halted = 1"), &["cpu0.halted"]);
        }
        LHCALL_NOTIFY => {
            cpu.pending_notify = a[1];
            k.ev("do_hcall", format!("{name}: cpu->pending_notify = {:#x}", a[1]), &["cpu0.pending_notify"]);
        }
        LHCALL_SET_CLOCKEVENT => guest_set_clockevent(k, cpu, a[1]),
        LHCALL_LOAD_IDT_ENTRY => load_guest_idt_entry(k, lg, cpu, a[1], a[2], a[3]),
        LHCALL_LOAD_GDT_ENTRY => load_guest_gdt_entry(k, lg, cpu, a[1], a[2], a[3]),
        LHCALL_LOAD_TLS => guest_load_tls(k, lg, cpu, a[1]),
        LHCALL_SET_STACK => guest_set_stack(k, lg, cpu, a[1], a[2], a[3]),
        LHCALL_NEW_PGTABLE => {
            k.ev("do_hcall", format!("{name}: the Guest loads cr3 with {:#x}", a[1]), &[]);
            guest_new_pagetable(k, lg, cpu, a[1]);
        }
        LHCALL_FLUSH_TLB => {
            if a[1] != 0 {
                k.ev("do_hcall", format!("{name} {}: a kernel mapping changed: clear everything", a[1]), &[]);
                guest_pagetable_clear_all(k, lg, cpu);
            } else {
                k.ev("do_hcall", format!("{name} 0: user mappings changed"), &[]);
                guest_pagetable_flush_user(k, lg, cpu);
            }
        }
        LHCALL_SET_PTE => {
            k.ev("do_hcall", format!("{name}: pgdir {:#x}, vaddr {:#x}, pte {:#010x}", a[1], a[2], a[3]), &[]);
            guest_set_pte(k, lg, a[1], a[2], a[3]);
        }
        LHCALL_SET_PGD => {
            k.ev("do_hcall", format!("{name}: pgdir {:#x}, slot {}", a[1], a[2]), &[]);
            guest_set_pgd(k, lg, a[1], a[2]);
        }
        n => {
            // SET_PMD exists only in PAE builds; this is a non-PAE host, so it is as unknown as 3, 11, 12.
            kill_guest(k, lg, format!("Bad hypercall {}\n", n as i32));
        }
    }
}
