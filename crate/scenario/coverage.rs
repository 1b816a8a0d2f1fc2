//! What the course teaches, measured on the model: which `/dev/lguest` request and errno paths, which
//! hypercalls, which host functions and which RCU variants the lessons actually exercise. Nothing here
//! reads the lesson text: each replayed line is classified by the result the model gave it (its errno and
//! the model's own `why`) and by the events it produced, so a lesson that *says* `-EBUSY` but reaches it
//! some other way does not count.
//!
//! `lguest-sim check --coverage lessons/` prints the report, missing paths first, so an author sees what is
//! not yet taught.

use std::collections::BTreeMap;

use serde::Serialize;

use super::check::LessonRun;
use super::parse::Action;
use crate::errno::Errno;
use crate::event::Event;
use crate::kernel::syscall::SysResult;
use crate::lguest::hypercalls::hcall_name;
use crate::lguest::lguest_user::{LHREQ_EVENTFD, LHREQ_INITIALIZE, LHREQ_IRQ};

/// One path through `write()`, `read()`/`run_guest()` or `close()`.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathInfo {
    pub id: &'static str,
    /// What the Launcher sees: `-EFAULT`, `12`, `4 notify=...`.
    pub result: &'static str,
    /// Where in the kernel, in words.
    pub what: &'static str,
}

const fn p(id: &'static str, result: &'static str, what: &'static str) -> PathInfo {
    PathInfo { id, result, what }
}

/// Every path of lguest_user.c and run_guest() the course must teach, in the kernel's order, and the VFS's
/// checks in front of them (fs/read_write.c).
pub const PATHS: &[PathInfo] = &[
    p("vfs.einval-offset", "-EINVAL", "sys_pread64()/sys_pwrite64(): a negative offset, before the descriptor is looked up"),
    p("vfs.efault-access_ok", "-EFAULT", "vfs_read()/vfs_write(): access_ok() finds the buffer outside user space"),
    p("vfs.einval-count", "-EINVAL", "rw_verify_area(): a count of 2 GB or more (negative as a ssize_t)"),
    p("write.efault-req", "-EFAULT", "write(): get_user() of the request word faults"),
    p("write.einval-noinit", "-EINVAL", "write(): a request other than INITIALIZE before INITIALIZE"),
    p("write.einval-cpu", "-EINVAL", "write(): cpu (the file offset) >= nr_cpus"),
    p("write.enoent-dead", "-ENOENT", "write(): the Guest is dead"),
    p("write.einval-unknown", "-EINVAL", "write(): an unknown (or retired) request"),
    p("init.ebusy", "-EBUSY", "initialize(): the file already has a Guest"),
    p("init.efault", "-EFAULT", "initialize(): copy_from_user() of base, pfnlimit, start faults"),
    p("init.enomem-unlock", "-ENOMEM", "initialize(): kzalloc(struct lguest) fails: goto unlock"),
    p("init.enomem-free_lg", "-ENOMEM", "initialize(): kmalloc(eventfd map) fails: goto free_lg"),
    p("init.enomem-free_eventfds", "-ENOMEM", "initialize(): lg_cpu_start()'s registers page fails: goto free_eventfds"),
    p("init.enomem-free_regs", "-ENOMEM", "initialize(): init_guest_pagetable() fails: goto free_regs"),
    p("init.efault-boot_params", "-EFAULT", "initialize(): init_guest_pagetable() cannot read boot_params (or write the boot page tables): goto free_regs"),
    p("init.ok", "12", "initialize(): success, sizeof(args)"),
    p("irq.efault", "-EFAULT", "user_send_irq(): get_user() of the irq faults"),
    p("irq.einval", "-EINVAL", "user_send_irq(): irq >= LGUEST_IRQS"),
    p("irq.ok", "0", "user_send_irq(): set_interrupt()"),
    p("eventfd.efault-addr", "-EFAULT", "attach_eventfd(): get_user() of the address faults"),
    p("eventfd.efault-fd", "-EFAULT", "attach_eventfd(): get_user() of the fd faults"),
    p("eventfd.einval-addr0", "-EINVAL", "add_eventfd(): address 0"),
    p("eventfd.enomem", "-ENOMEM", "add_eventfd(): kmalloc() of the new map fails"),
    p("eventfd.ebadf", "-EBADF", "add_eventfd(): eventfd_ctx_fdget() finds no open file"),
    p("eventfd.einval-not-eventfd", "-EINVAL", "add_eventfd(): eventfd_ctx_fdget() of a file that is no eventfd"),
    p("eventfd.ok", "0", "add_eventfd(): copy, append, rcu_assign_pointer, synchronize_rcu, kfree"),
    p("read.einval-noinit", "-EINVAL", "read(): no INITIALIZE yet"),
    p("read.einval-cpu", "-EINVAL", "read(): cpu (the file offset) >= nr_cpus"),
    p("read.eperm", "-EPERM", "read(): current is not cpu->tsk"),
    p("read.dead-errptr", "-ENOMEM/-ERESTART", "read(): lg->dead is an ERR_PTR"),
    p("read.dead-reason", "len reason=...", "read(): lg->dead is a reason: copy it"),
    p("read.efault-reason", "-EFAULT", "read(): copy_to_user() of the reason faults"),
    p("run_guest.notify", "4 notify=...", "run_guest(): a NOTIFY no eventfd took: put_user(), return 4"),
    p("run_guest.efault-put-user", "-EFAULT", "run_guest(): put_user() of the notify faults"),
    p("run_guest.erestartsys", "-ERESTARTSYS", "run_guest(): signal_pending(current)"),
    p("run_guest.enoent", "-ENOENT", "run_guest(): the Guest died"),
    p("run_guest.erestart", "-ERESTART", "run_guest(): the Guest asked to restart"),
    p("run_guest.sleeps-halted", "blocked", "run_guest(): a halted Guest: the Launcher sleeps in read()"),
    p("close.uninitialized", "0", "close(): private_data is NULL, nothing to free"),
    p("close.frees", "0", "close(): free page tables, regs, mm, eventfd references, map, reason, lg"),
];

/// What happens inside the Host that no errno shows: the mechanisms the course should also make visible.
pub const MECHANISMS: &[PathInfo] = &[
    p("hcall.before-init", "kill", "do_hypercalls(): a hypercall before LGUEST_INIT kills the Guest"),
    p("notify.to-eventfd", "", "send_notify_to_eventfd(): an eventfd took the NOTIFY"),
    p("eventfd.read", "8 count=...", "a device thread's eventfd read() returns the counter"),
    p("irq.wakes-halted", "", "try_deliver_interrupt(): an interrupt wakes the halted Guest"),
    p("irq.delivered", "", "try_deliver_interrupt(): the Guest's IDT handler gets the interrupt"),
    p("irq.no-handler", "", "try_deliver_interrupt(): no IDT entry: the interrupt stays pending"),
    p("irq.disabled", "", "try_deliver_interrupt(): the Guest has interrupts off: irq_pending"),
    p("timer.fires", "", "clockdev_fn(): the hrtimer fires and raises irq 0"),
    p("kill_guest", "", "kill_guest(): lg->dead gets its reason"),
    p("kill_guest.enomem", "", "kill_guest(): kasprintf() fails, lg->dead = ERR_PTR(-ENOMEM)"),
    p("kill_guest.second", "", "kill_guest(): only the first reason counts"),
    p("trap.reflected", "", "deliver_trap(): a fault goes to the Guest's own handler"),
    p("trap.direct", "", "direct_trap(): a trap gate copy_traps() copied: the CPU delivers the trap into the Guest"),
    p("trap.direct-fault", "", "direct_trap(): pushing the frame faults, and that fault goes to the Host"),
    p("trap.int-gp", "", "an int n through a gate of lower privilege: #GP(n << 3 | 2)"),
    p("set_trap.bad-type", "kill", "set_trap(): a gate that is neither an interrupt nor a trap gate"),
    p("emulate.cli", "", "emulate_insn(): a cli at ring 1 is skipped"),
    p("emulate.io", "", "emulate_insn(): in or out at ring 1 is emulated"),
    p("switcher.copy-all", "", "copy_in_guest_info(): another Guest cpu ran here last: changed = CHANGED_ALL"),
    p("switcher.fault", "kill", "switch_to_guest: a segment register the Switcher cannot load: trap 256"),
    p("host.interrupt", "", "lguest_arch_handle_trap(): a Host interrupt (32 to 255): cond_resched()"),
    p("kick_process", "", "set_interrupt(): the task runs the Guest: kick_process() sends a reschedule IPI"),
    p("fpu.unlazy", "", "lguest_arch_run_guest(): cpu->ts is set: unlazy_fpu()"),
    p("fpu.restore", "", "lguest_arch_run_guest(): trap 7: math_state_restore()"),
    p("fpu.ts-clear", "", "lguest_arch_handle_trap(): trap 7 with cpu->ts clear: nothing for the Guest"),
    p("demand_page", "", "demand_page(): a page fault the shadow page tables fix"),
];

/// A place in a lesson.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    /// Path id to the lines that took it.
    pub paths: BTreeMap<&'static str, Vec<Site>>,
    /// Hypercall name to the lines whose Guest made it.
    pub hypercalls: BTreeMap<String, Vec<Site>>,
    /// Host function (from the events) to the lines that ran it.
    pub functions: BTreeMap<&'static str, Vec<Site>>,
    /// `rcu` explorer runs: "variant/memory" to their lines.
    pub rcu: BTreeMap<String, Vec<Site>>,
}

/// The errno paths: (id, errno, a phrase of the model's `why` that identifies it), for `write` and `read`.
const WRITE_ERRS: &[(&str, Errno, &str)] = &[
    ("vfs.einval-offset", Errno::EINVAL, "a negative file offset"),
    ("vfs.efault-access_ok", Errno::EFAULT, "is not in user space"),
    ("vfs.einval-count", Errno::EINVAL, "rw_verify_area()"),
    ("init.efault-boot_params", Errno::EFAULT, "boot_params at base"),
    ("init.efault-boot_params", Errno::EFAULT, "the boot page tables at"),
    ("write.efault-req", Errno::EFAULT, "the request word at"),
    ("write.einval-noinit", Errno::EINVAL, "before LHREQ_INITIALIZE: this file has no Guest"),
    ("write.einval-cpu", Errno::EINVAL, "is not below nr_cpus"),
    ("write.enoent-dead", Errno::ENOENT, "the Guest is dead"),
    ("write.einval-unknown", Errno::EINVAL, "is not a request this kernel knows"),
    ("init.ebusy", Errno::EBUSY, "already has a Guest"),
    ("init.efault", Errno::EFAULT, "the three arguments at"),
    ("init.enomem-unlock", Errno::ENOMEM, "kzalloc() of struct lguest failed"),
    ("init.enomem-free_lg", Errno::ENOMEM, "empty eventfd map failed"),
    ("init.enomem-free_eventfds", Errno::ENOMEM, "cpu 0's registers failed"),
    ("init.enomem-free_regs", Errno::ENOMEM, "shadow page directory failed"),
    ("irq.efault", Errno::EFAULT, "the irq number at"),
    ("irq.einval", Errno::EINVAL, "is not below LGUEST_IRQS"),
    ("eventfd.efault-addr", Errno::EFAULT, "the NOTIFY address at"),
    ("eventfd.efault-fd", Errno::EFAULT, "the descriptor word at"),
    ("eventfd.einval-addr0", Errno::EINVAL, "NOTIFY address 0 cannot be attached"),
    ("eventfd.enomem", Errno::ENOMEM, "bigger eventfd map failed"),
    ("eventfd.ebadf", Errno::EBADF, "is not open in the calling task"),
    ("eventfd.einval-not-eventfd", Errno::EINVAL, "is open but is not an eventfd"),
];

const READ_ERRS: &[(&str, Errno, &str)] = &[
    ("vfs.einval-offset", Errno::EINVAL, "a negative file offset"),
    ("vfs.efault-access_ok", Errno::EFAULT, "is not in user space"),
    ("vfs.einval-count", Errno::EINVAL, "rw_verify_area()"),
    ("read.einval-noinit", Errno::EINVAL, "read() before LHREQ_INITIALIZE"),
    ("read.einval-cpu", Errno::EINVAL, "is not below nr_cpus"),
    ("read.eperm", Errno::EPERM, "the task that initialized the Guest"),
    ("run_guest.efault-put-user", Errno::EFAULT, "the notify stays pending"),
    ("read.efault-reason", Errno::EFAULT, "is not mapped for"),
    ("run_guest.erestartsys", Errno::ERESTARTSYS, "a signal is pending for the Launcher"),
    ("run_guest.enoent", Errno::ENOENT, "the Guest died: read() again"),
    ("run_guest.erestart", Errno::ERESTART, "the Guest asked to reboot"),
];

/// The paths one replayed line took, from its result.
pub fn classify_result(action: &Action, r: &SysResult) -> Vec<&'static str> {
    let mut out = Vec::new();
    let (call, words) = match action {
        Action::Write { words, .. } => ("write", Some(words)),
        Action::Read { .. } | Action::Wait { .. } => ("read", None),
        _ => ("", None),
    };
    if let Some(e) = r.errno {
        let table = if call == "write" {
            WRITE_ERRS
        } else if call == "read" {
            READ_ERRS
        } else {
            &[]
        };
        if let Some((id, _, _)) = table.iter().find(|(_, en, why)| *en == e && r.why.contains(why)) {
            out.push(*id);
        } else if call == "read" && r.why.contains("holds an error code, not a reason") {
            out.push("read.dead-errptr");
        }
        return out;
    }
    if call == "read" {
        if r.reason.is_some() {
            out.push("read.dead-reason");
        }
        if r.notify.is_some() {
            out.push("run_guest.notify");
        }
    }
    if call == "write" {
        // The request word says which request succeeded; its return value confirms it reached lguest's
        // write() (an eventfd's write returns 8).
        match (words.and_then(|w| w.first()).copied(), r.ret) {
            (Some(LHREQ_INITIALIZE), 12) => out.push("init.ok"),
            (Some(LHREQ_IRQ), 0) => out.push("irq.ok"),
            (Some(LHREQ_EVENTFD), 0) => out.push("eventfd.ok"),
            _ => {}
        }
    }
    if r.count.is_some() {
        out.push("eventfd.read");
    }
    out
}

/// The mechanisms and functions visible in a line's events.
fn classify_events(events: &[Event]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for e in events {
        let t = &*e.text;
        let id = match e.func {
            "close" if t.starts_with("private_data is NULL") => "close.uninitialized",
            "close" if t == "struct lguest is freed" => "close.frees",
            "lguest_init_hcall" if t.contains("before LGUEST_INIT") => "hcall.before-init",
            "send_notify_to_eventfd" if t.contains("eventfd_signal") => "notify.to-eventfd",
            "try_deliver_interrupt" if t.contains("wakes the halted Guest") => "irq.wakes-halted",
            "try_deliver_interrupt" if t.contains("is present: clear the bit and deliver") => "irq.delivered",
            "try_deliver_interrupt" if t.contains("is not present") => "irq.no-handler",
            "try_deliver_interrupt" if t.contains("interrupts off") => "irq.disabled",
            "clockdev_fn" => "timer.fires",
            "kill_guest" if t.contains("ERR_PTR(-ENOMEM)") => "kill_guest.enomem",
            "kill_guest" if t.starts_with("already dead") => "kill_guest.second",
            "kill_guest" => "kill_guest",
            "lguest_arch_handle_trap" if t.contains("reflected through the Guest's IDT") => "trap.reflected",
            "direct_trap" if t.contains("goes straight to the Guest") => "trap.direct",
            "direct_trap" if t.contains("would go straight to the Guest") => "trap.direct-fault",
            "copy_traps" if t.contains("raises #GP") => "trap.int-gp",
            "set_trap" if t.contains("only interrupt gates") => "set_trap.bad-type",
            "emulate_insn" if t.contains("from cli") => "emulate.cli",
            "emulate_insn" => "emulate.io",
            "copy_in_guest_info" if t.contains("CHANGED_ALL") => "switcher.copy-all",
            "switch_to_guest" if t.contains("faults") => "switcher.fault",
            "lguest_arch_handle_trap" if t.contains("cond_resched()") => "host.interrupt",
            "set_interrupt" if t.contains("a reschedule IPI") => "kick_process",
            "lguest_arch_run_guest" if t.contains("unlazy_fpu") => "fpu.unlazy",
            "math_state_restore" => "fpu.restore",
            "lguest_arch_handle_trap" if t.contains("cpu->ts is clear") => "fpu.ts-clear",
            "demand_page" if t.contains("Guest pte at") => "demand_page",
            _ => continue,
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The hypercall numbers the Guest made, from the trap handler's events (`... (call N)`).
fn hypercalls_in(events: &[Event]) -> Vec<u32> {
    events.iter().filter(|e| e.func == "lguest_arch_handle_trap").filter_map(|e| e.text.split("(call ").nth(1)?.trim_end_matches(')').parse().ok()).collect()
}

impl Coverage {
    /// Add a replayed lesson.
    pub fn add(&mut self, run: &LessonRun) {
        let file = run.lesson.file.clone();
        let log = &run.runner.kernel.log;
        for (s, sr) in run.lesson.steps.iter().zip(&run.steps) {
            for (l, st) in s.lines.iter().zip(&sr.results) {
                let site = Site { file: file.clone(), line: l.line };
                let (from, to) = st.events;
                let events: Vec<Event> = log.since(from).filter(|e| e.seq < to).cloned().collect();
                let mut ids = match &st.sys {
                    Some(r) => classify_result(&l.parsed.action, r),
                    None => Vec::new(),
                };
                if st.result.as_deref() == Some("blocked") && events.iter().any(|e| e.func == "run_guest" && e.text.starts_with("halted")) {
                    ids.push("run_guest.sleeps-halted");
                }
                ids.extend(classify_events(&events));
                for id in ids {
                    let v = self.paths.entry(id).or_default();
                    if !v.contains(&site) {
                        v.push(site.clone());
                    }
                }
                for nr in hypercalls_in(&events) {
                    let name = match hcall_name(nr) {
                        "unknown hypercall" => format!("unknown hypercall {nr}"),
                        n => n.to_string(),
                    };
                    push(self.hypercalls.entry(name).or_default(), &site);
                }
                for e in &events {
                    push(self.functions.entry(e.func).or_default(), &site);
                }
            }
            for r in &s.rcu {
                let site = Site { file: file.clone(), line: r.line };
                let key = if r.flavour == crate::rcu::Flavour::Preemptible.name() {
                    format!("{} ({})", r.variant, r.memory)
                } else {
                    format!("{} ({}, {})", r.variant, r.memory, r.flavour)
                };
                push(self.rcu.entry(key).or_default(), &site);
            }
        }
    }

    pub fn of(runs: &[LessonRun]) -> Coverage {
        let mut c = Coverage::default();
        for r in runs {
            c.add(r);
        }
        c
    }

    /// Required paths no lesson takes.
    pub fn missing(&self) -> Vec<&'static PathInfo> {
        PATHS.iter().filter(|p| !self.paths.contains_key(p.id)).collect()
    }

    /// The report `lguest-sim check --coverage` prints.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let first = |v: &Vec<Site>| {
            let mut v = v.clone();
            v.sort();
            let more = if v.len() > 1 { format!(" (+{} more)", v.len() - 1) } else { String::new() };
            format!("{}{more}", v[0])
        };
        let section = |s: &mut String, title: &str, table: &[PathInfo]| {
            let n = table.iter().filter(|p| self.paths.contains_key(p.id)).count();
            s.push_str(&format!("{title}: {n} of {} taught\n", table.len()));
            for p in table {
                match self.paths.get(p.id) {
                    Some(v) => s.push_str(&format!("  ok      {:<28} {:<18} {}  [{}]\n", p.id, p.result, p.what, first(v))),
                    None => s.push_str(&format!("  MISSING {:<28} {:<18} {}\n", p.id, p.result, p.what)),
                }
            }
        };
        section(&mut s, "/dev/lguest paths (write, read/run_guest, close)", PATHS);
        section(&mut s, "Host mechanisms", MECHANISMS);
        let known: Vec<&str> = (0..32).map(hcall_name).filter(|n| *n != "unknown hypercall").collect();
        let n = known.iter().filter(|h| self.hypercalls.contains_key(**h)).count();
        s.push_str(&format!("hypercalls made by the lessons' Guests: {n} of {}\n", known.len()));
        for h in &known {
            match self.hypercalls.get(*h) {
                Some(v) => s.push_str(&format!("  ok      {:<28} [{}]\n", h, first(v))),
                None => s.push_str(&format!("  MISSING {h}\n")),
            }
        }
        for (name, v) in self.hypercalls.iter().filter(|(k, _)| !known.contains(&k.as_str())) {
            s.push_str(&format!("  ok      {:<28} [{}]\n", name, first(v)));
        }
        let modelled = crate::tags::FUNCS;
        let n = modelled.iter().filter(|f| self.functions.contains_key(f.func)).count();
        s.push_str(&format!("host functions seen in events: {n} of {}\n", modelled.len()));
        for f in modelled {
            match self.functions.get(f.func) {
                Some(v) => s.push_str(&format!("  ok      {:<24} {}  [{}]\n", f.func, f.tag, first(v))),
                None => s.push_str(&format!("  MISSING {:<24} {}\n", f.func, f.tag)),
            }
        }
        s.push_str(&format!("RCU explorer runs: {}\n", self.rcu.len()));
        for (k, v) in &self.rcu {
            s.push_str(&format!("  {:<40} [{}]\n", k, first(v)));
        }
        s
    }
}

fn push(v: &mut Vec<Site>, site: &Site) {
    if !v.contains(site) {
        v.push(site.clone());
    }
}
