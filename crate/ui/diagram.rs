//! The pictures beside each step, computed here so the page only paints them: the system (the Launcher's
//! threads, `/dev/lguest`, the Host's `struct lguest` and `lg_cpu`, the eventfd map and contexts, the
//! Switcher, the Guest) with the step's path numbered hop by hop; the eventfd map as boxes and arrows; the
//! Guest's memory map; a page-table entry beside its shadow as bit fields; and which panels the step is
//! about. Every picture is a [`Figure`]: boxes, arrows and labels already placed on a grid of SVG user
//! units, and its text equivalent, one sentence a line, numbered as the arrows are.

use serde::Serialize;

use super::lesson::EventView;
use super::state::{GuestView, Section, Snapshot};
use crate::kernel::Kernel;
use crate::lguest::lg::MapLife;
use crate::scenario::parse::{parse_line, Action, CallKind};
use crate::scenario::{Runner, Step};

/// A picture: what to draw, where, and the same in words.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figure {
    /// `system`, `map`, `memory`, `pte` or `rcu`: the page styles each kind.
    pub kind: &'static str,
    pub title: String,
    pub width: i32,
    pub height: i32,
    pub boxes: Vec<FigBox>,
    pub arrows: Vec<Arrow>,
    pub labels: Vec<Label>,
    /// The text equivalent, in reading order; a line that starts with a number is the arrow of that number.
    pub text: Vec<String>,
    /// How to read the picture (what its marks mean), shown under its title.
    pub legend: String,
}

/// A box: its place, its classes (`on`: on the step's path; `changed`; `absent`: not there yet; `freed`;
/// `band`: a background), a title and a few lines of what it holds.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FigBox {
    pub id: String,
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
    pub cls: String,
    pub title: String,
    pub lines: Vec<String>,
}

/// An arrow along `points`, with its number on the step's path (if it is one) and a short label.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Arrow {
    pub points: Vec<(i32, i32)>,
    pub cls: String,
    /// The hops it stands for (an arrow taken twice carries both numbers).
    pub n: Vec<usize>,
    pub label: String,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    pub x: i32,
    pub y: i32,
    pub text: String,
    pub cls: String,
}

/// Roughly how many characters of the page's 12-unit text fit in `w` units.
pub fn fit(text: &str, w: i32) -> String {
    let max = ((w - 10) as f32 / 6.6) as usize;
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

impl Figure {
    fn add_box(&mut self, id: &str, (x, y, w, h): (i32, i32, i32, i32), cls: &str, title: &str, lines: Vec<String>) {
        let lines = lines.iter().map(|l| fit(l, w)).collect();
        self.boxes.push(FigBox { id: id.to_string(), x, y, w, h, cls: cls.to_string(), title: fit(title, w), lines });
    }

    fn find(&self, id: &str) -> Option<&FigBox> {
        self.boxes.iter().find(|b| b.id == id)
    }

    fn mark(&mut self, id: &str, cls: &str) {
        if let Some(b) = self.boxes.iter_mut().find(|b| b.id == id) {
            if !b.cls.split(' ').any(|c| c == cls) {
                b.cls = format!("{} {cls}", b.cls).trim().to_string();
            }
        }
    }

    /// An arrow from box `from` to box `to`, between the sides that face each other (straight down or across
    /// where the boxes overlap, else centre to centre, clipped at their borders); `side` shifts it sideways
    /// (so a call and its return do not lie on one line).
    fn connect(&mut self, from: &str, to: &str, cls: &str, n: Vec<usize>, label: String, side: i32) {
        let (Some(a), Some(b)) = (self.find(from), self.find(to)) else { return };
        let overlap = |a0: i32, a1: i32, b0: i32, b1: i32| (a0.max(b0), a1.min(b1));
        let (x0, x1) = overlap(a.x, a.x + a.w, b.x, b.x + b.w);
        let (y0, y1) = overlap(a.y, a.y + a.h, b.y, b.y + b.h);
        let down = b.y > a.y;
        let right = b.x > a.x;
        let points = if x1 - x0 > 24 {
            // One above the other: straight down (or up) in the middle of what they share.
            let x = (x0 + x1) / 2 + if down { side } else { -side };
            let (ya, yb) = if down { (a.y + a.h, b.y) } else { (a.y, b.y + b.h) };
            vec![(x, ya), (x, yb)]
        } else if y1 - y0 > 16 {
            let y = (y0 + y1) / 2 + if right { -side } else { side };
            let (xa, xb) = if right { (a.x + a.w, b.x) } else { (a.x, b.x + b.w) };
            vec![(xa, y), (xb, y)]
        } else {
            let (ac, bc) = (center(a), center(b));
            let (dx, dy) = ((bc.0 - ac.0) as f32, (bc.1 - ac.1) as f32);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let (ox, oy) = ((-dy / len * side as f32) as i32, (dx / len * side as f32) as i32);
            vec![edge(a, bc, (ox, oy)), edge(b, ac, (ox, oy))]
        };
        self.arrows.push(Arrow { points, cls: cls.to_string(), n, label });
    }
}

fn center(b: &FigBox) -> (i32, i32) {
    (b.x + b.w / 2, b.y + b.h / 2)
}

/// Where the line from box `b`'s centre toward `toward` (both moved by `shift`) leaves the box.
fn edge(b: &FigBox, toward: (i32, i32), shift: (i32, i32)) -> (i32, i32) {
    let c = center(b);
    let (dx, dy) = ((toward.0 - c.0) as f32, (toward.1 - c.1) as f32);
    let tx = if dx.abs() < 0.01 { f32::MAX } else { (b.w as f32 / 2.0) / dx.abs() };
    let ty = if dy.abs() < 0.01 { f32::MAX } else { (b.h as f32 / 2.0) / dy.abs() };
    let t = tx.min(ty).min(1.0);
    (c.0 + shift.0 + (dx * t) as i32, c.1 + shift.1 + (dy * t) as i32)
}

// ---- the system -----------------------------------------------------------------------------------------

/// Which part of the system a kernel function works on (the boxes of the system picture).
fn place_of(func: &str) -> Place {
    match func {
        "read" | "write" | "close" => Place::Dev,
        "initialize"
        | "kill_guest"
        | "lguest_init_hcall"
        | "init_guest_pagetable"
        | "demand_page"
        | "check_gpgd"
        | "check_gpte"
        | "do_set_pte"
        | "guest_set_pte"
        | "guest_set_pgd"
        | "new_pgdir"
        | "guest_new_pagetable"
        | "guest_pagetable_flush_user"
        | "guest_pagetable_clear_all" => Place::Lg,
        "lg_cpu_start"
        | "run_guest"
        | "do_hypercalls"
        | "do_hcall"
        | "do_async_hcalls"
        | "user_send_irq"
        | "set_interrupt"
        | "interrupt_pending"
        | "try_deliver_interrupt"
        | "set_guest_interrupt"
        | "clockdev_fn"
        | "lguest_arch_handle_trap"
        | "emulate_insn"
        | "math_state_restore"
        | "set_trap"
        | "load_guest_idt_entry"
        | "load_guest_gdt_entry"
        | "guest_set_stack"
        | "guest_load_tls" => Place::Cpu,
        // The VFS's checks on the way to the driver's read() and write().
        "access_ok" | "rw_verify_area" => Place::Dev,
        // The way in: the Switcher's copying and its switch (the trip is drawn when the Guest traps back).
        "copy_in_guest_info" | "map_switcher_in_guest" | "switch_to_guest" => Place::SwitcherIn,
        "attach_eventfd" | "add_eventfd" | "send_notify_to_eventfd" | "synchronize_rcu" => Place::Map,
        "lguest_arch_run_guest" | "deliver_to_host" => Place::Switcher,
        "eventfd_ctx_fdget" | "eventfd_signal" => Place::Eventfd,
        // The Launcher's own code (Documentation/lguest/lguest.c) runs in the task that calls it.
        _ => Place::Task,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    Task,
    Dev,
    Lg,
    Cpu,
    Map,
    Switcher,
    SwitcherIn,
    Eventfd,
}

/// One hop of the step's path: from box to box, what kind of move it is, a short label and the sentence.
#[derive(Clone, Debug)]
struct Hop {
    from: String,
    to: String,
    kind: &'static str,
    label: String,
    text: String,
}

/// The words for box `id` in a sentence.
fn name_of(id: &str) -> String {
    match id {
        "dev" => "/dev/lguest".into(),
        "lg" => "struct lguest".into(),
        "cpu" => "lg_cpu 0".into(),
        "map" => "the eventfd map".into(),
        "switcher" => "the Switcher".into(),
        "guest" => "the Guest".into(),
        _ => match id.split_once(':') {
            Some(("task", t)) => format!("thread {t}"),
            Some(("efd", c)) => format!("eventfd ctx {c}"),
            _ => id.to_string(),
        },
    }
}

/// The number after `word ` in `text` (`ctx 0`, `trap 0x1f`), as written.
fn after<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let i =
        text.find(&format!("{word} ")).map(|i| i + word.len()).or_else(|| word.ends_with('#').then(|| text.find(word).map(|i| i + word.len())).flatten())?;
    let rest = text[i..].trim_start();
    let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The eventfd context a task's descriptor `fd` refers to.
fn ctx_of_fd(k: &Kernel, task: &str, fd: i32) -> Option<usize> {
    let t = k.tasks.iter().find(|t| t.name == task)?;
    let file = *k.procs.get(t.pid as usize)?.fds.get(&fd)?;
    let f = k.files.get(file)?;
    (f.ops.name == "eventfd").then_some(f.private_data.unwrap_or(0))
}

/// The box of the file task `task` sleeps on in `k`, if it sleeps.
/// Each task of `k` that sleeps in a call, and what on: `dev` (/dev/lguest), `efd:N` (an eventfd) or
/// `task:NAME` (anything else).
pub fn asleep(k: &Kernel) -> Vec<(String, String)> {
    k.tasks.iter().filter_map(|t| Some((t.name.clone(), sleeps_on(k, &t.name)?))).collect()
}

fn sleeps_on(k: &Kernel, task: &str) -> Option<String> {
    let t = k.tasks.iter().find(|t| t.name == task)?;
    let s = k.sched.pending.get(&t.tid)?;
    let f = k.files.get(s.file)?;
    Some(match f.ops.name {
        "lguest" => "dev".into(),
        "eventfd" => format!("efd:{}", f.private_data.unwrap_or(0)),
        _ => format!("task:{task}"),
    })
}

/// The step's path, hop by hop: each line's call into the kernel, the functions its events ran in (a new box
/// each time the place changes), the Guest's trips through the Switcher, eventfds signalled and the threads
/// they woke, and the result back to the caller.
fn hops(asleep_before: &[(String, String)], now: &Kernel, results: &[Step], events: &[EventView]) -> (Vec<Hop>, Vec<String>) {
    let mut out: Vec<Hop> = Vec::new();
    let mut notes = Vec::new();
    // The file each task sleeps on, as the step goes (a thread woken returns from there).
    // An interrupt the Host delivered, for the next trip into the Guest to say so.
    let mut delivered: Option<String> = None;
    let mut asleep: Vec<(String, String)> = now.tasks.iter().filter_map(|t| asleep_before.iter().find(|(n, _)| *n == t.name).cloned()).collect();
    for s in results {
        let caller = format!("task:{}", s.task);
        let parsed = parse_line(s.line, &s.source).ok().flatten();
        let who = parsed.as_ref().and_then(|l| l.task.clone()).unwrap_or_else(|| s.task.clone());
        let caller = if who != s.task { format!("task:{who}") } else { caller };
        let target = match (s.call, parsed.as_ref().map(|l| &l.action)) {
            (CallKind::Open | CallKind::Read | CallKind::Write | CallKind::Close, _) => Some("dev".to_string()),
            (CallKind::EventfdRead | CallKind::EventfdWrite, Some(Action::EventfdRead { fd } | Action::EventfdWrite { fd, .. })) => {
                ctx_of_fd(now, &who, *fd).map(|c| format!("efd:{c}"))
            }
            (CallKind::Eventfd, _) => now.eventfds.len().checked_sub(1).map(|c| format!("efd:{c}")),
            _ => None,
        };
        let mut cur = target.clone();
        if let Some(t) = &target {
            out.push(Hop { from: caller.clone(), to: t.clone(), kind: "call", label: s.action.clone(), text: String::new() });
        }
        for e in events.iter().filter(|e| e.seq >= s.events.0 && e.seq < s.events.1) {
            let place = place_of(&e.func);
            if e.func == "try_deliver_interrupt" {
                delivered = after(&e.text, "deliver irq").map(|n| format!("irq {n}")).or(delivered);
            }
            // The Switcher's way back (the Guest's trap or a Host interrupt) is logged by the Guest's side; what
            // the Host does after it, in lguest_arch_run_guest(), is the cpu's.
            let place = if place == Place::Switcher && e.task != "guest" { Place::Cpu } else { place };
            let node = match place {
                Place::SwitcherIn => continue,
                Place::Task if e.func == "launcher" && e.task == who => continue,
                Place::Task if e.task == "guest" => continue,
                Place::Task => {
                    let node = format!("task:{}", e.task);
                    // A thread that slept on a file wakes: from that file, not from where the caller was.
                    if let Some(i) = asleep.iter().position(|(t, _)| *t == e.task) {
                        let (_, file) = asleep.remove(i);
                        out.push(Hop { from: file, to: node.clone(), kind: "wake", label: format!("wakes {}", e.task), text: e.text.clone() });
                        continue;
                    }
                    node
                }
                Place::Dev => "dev".into(),
                Place::Lg => "lg".into(),
                Place::Cpu => "cpu".into(),
                Place::Map => "map".into(),
                Place::Eventfd => match after(&e.text, "ctx") {
                    Some(c) => format!("efd:{c}"),
                    None => continue,
                },
                Place::Switcher => {
                    // One trip into the Guest: through the Switcher, the Guest runs, and traps back.
                    let mut from = cur.clone().unwrap_or_else(|| "cpu".into());
                    if from != "switcher" && from != "cpu" {
                        // read() runs the Guest through run_guest(), which logs nothing on the way in.
                        out.push(Hop { from, to: "cpu".into(), kind: "call", label: "run_guest()".into(), text: "read() runs the Guest: run_guest()".into() });
                        from = "cpu".into();
                    }
                    if from != "switcher" {
                        out.push(Hop {
                            from,
                            to: "switcher".into(),
                            kind: "call",
                            label: "lguest_arch_run_guest()".into(),
                            text: "the Host switches to the Guest".into(),
                        });
                    }
                    let (label, text) = match delivered.take() {
                        Some(irq) => (format!("runs the Guest, {irq} delivered"), format!("the Guest starts in its handler for {irq}")),
                        None => ("runs the Guest".into(), String::new()),
                    };
                    out.push(Hop { from: "switcher".into(), to: "guest".into(), kind: "enter", label, text });
                    let trap = match e.func.as_str() {
                        "deliver_to_host" => after(&e.text, "vector").map(|v| format!("interrupt {v}")).unwrap_or_else(|| "interrupt".into()),
                        _ => after(&e.text, "trap").map(|t| format!("trap {t}")).unwrap_or_else(|| "trap".into()),
                    };
                    out.push(Hop { from: "guest".into(), to: "switcher".into(), kind: "trap", label: trap, text: e.text.clone() });
                    cur = Some("switcher".into());
                    continue;
                }
            };
            let Some(from) = cur.clone() else {
                cur = Some(node);
                continue;
            };
            if from == node {
                continue;
            }
            let kind = if from.starts_with("efd:") && node.starts_with("task:") {
                "wake"
            } else if node.starts_with("efd:") && e.func == "eventfd_signal" {
                "signal"
            } else {
                "call"
            };
            let label = match kind {
                "wake" => format!("wakes {}", &node[5..]),
                _ if node.starts_with("task:") => "returns".into(),
                // read() reaches lguest_arch_run_guest() (its FPU and SYSENTER steps) through run_guest().
                _ if node == "cpu" && e.func == "lguest_arch_run_guest" => "run_guest()".into(),
                _ => format!("{}()", e.func),
            };
            out.push(Hop { from, to: node.clone(), kind, label, text: e.text.clone() });
            cur = Some(node);
        }
        match (s.call, s.result.as_deref()) {
            (_, Some("blocked")) => {
                if let Some(t) = &target {
                    asleep.push((who.clone(), t.clone()));
                }
                notes.push(format!("{who} is asleep in {}{}", s.action, s.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()))
            }
            (CallKind::Wait, Some(r)) => {
                let waited = match parsed.as_ref().map(|l| &l.action) {
                    Some(Action::Wait { task: Some(t) }) => t.clone(),
                    _ => who.clone(),
                };
                let from = asleep_before.iter().find(|(n, _)| *n == waited).map(|(_, on)| on.clone()).unwrap_or_else(|| "dev".into());
                out.push(Hop {
                    from,
                    to: format!("task:{waited}"),
                    kind: "return",
                    label: r.to_string(),
                    text: format!("the call {waited} was asleep in returns"),
                });
            }
            (_, Some(r)) if target.is_some() => {
                let from = target.clone().unwrap_or_default();
                let why = s.sys.as_ref().map(|x| x.why.clone()).unwrap_or_default();
                out.push(Hop { from, to: caller.clone(), kind: "return", label: r.to_string(), text: why });
            }
            _ => {}
        }
    }
    (out, notes)
}

/// The most arrows' worth of hops the text lists one by one (the rest are counted).
const HOPS_LISTED: usize = 40;

/// The system at this step, with its path drawn: `prev` and `now` are the machine before and after the step.
pub fn system(asleep_before: Option<&[(String, String)]>, now: &Runner, results: &[Step], events: &[EventView], snap: &Snapshot, changed: &[String]) -> Figure {
    let k = &now.kernel;
    let mut f = Figure {
        kind: "system",
        title: "The system: who called what in this step".into(),
        legend: "Numbers give the order things happened. A solid arrow is a call, a dashed one a return or a thread woken, a red one a trap into the Host or an eventfd signalled. A thick border: on this step's path; a coloured box: its state changed; a dotted box: not made yet.".into(),
        width: 720,
        height: 478,
        ..Default::default()
    };
    for (id, y, h, title) in
        [("band:user", 4, 96, "user space"), ("band:host", 108, 198, "Host kernel"), ("band:switcher", 314, 56, ""), ("band:guest", 378, 96, "the Guest")]
    {
        f.add_box(id, (4, y, 712, h), "band", "", Vec::new());
        if !title.is_empty() {
            f.labels.push(Label { x: 708, y: y + 14, text: title.into(), cls: "band-title end".into() });
        }
    }
    // User space: each process and its threads.
    let mut x = 12;
    let mut procs: Vec<&str> = Vec::new();
    for t in &snap.tasks {
        if !procs.contains(&t.process.as_str()) {
            procs.push(&t.process);
        }
    }
    for p in procs {
        let threads: Vec<_> = snap.tasks.iter().filter(|t| t.process == p).collect();
        let w = 12 + threads.len() as i32 * 138;
        let title = if p == "lguest" { "the Launcher: lguest".to_string() } else { format!("process {p}") };
        f.add_box(&format!("proc:{p}"), (x, 10, w, 86), "group", &title, Vec::new());
        for (i, t) in threads.iter().enumerate() {
            let state = match (&t.blocked, &t.finished, t.state) {
                (_, Some(r), _) => format!("returned {r} (not collected)"),
                (Some(b), ..) => format!("asleep: {b}"),
                (_, _, crate::kernel::task::TaskState::Exited) => "exited".into(),
                _ => "in user space".into(),
            };
            let cls = if changed.iter().any(|c| *c == format!("task.{}", t.name)) { "task changed" } else { "task" };
            f.add_box(&format!("task:{}", t.name), (x + 8 + i as i32 * 138, 34, 130, 52), cls, &format!("thread {}", t.name), vec![state]);
        }
        x += w + 10;
    }
    // The files the Launcher holds: /dev/lguest, then its eventfds.
    let dev = snap.files.iter().find(|f| matches!(f.kind, super::state::FileKind::Lguest { .. }));
    let g = snap.guests.last();
    match dev {
        Some(d) => {
            let pd = if g.is_some() { "private_data = lg" } else { "private_data = NULL" };
            f.add_box("dev", (12, 150, 170, 52), "file", "/dev/lguest", vec![format!("fd {}", fds(&d.fds)), pd.into()]);
        }
        None => f.add_box("dev", (12, 150, 170, 52), "file absent", "/dev/lguest", vec!["not open".into()]),
    }
    for (i, e) in snap.eventfds.iter().take(4).enumerate() {
        let fd = snap.files.iter().find(|f| f.kind == super::state::FileKind::Eventfd { ctx: e.ctx }).map(|f| fds(&f.fds)).unwrap_or_else(|| "closed".into());
        let ch = changed.iter().any(|c| c.starts_with(&format!("eventfd{}.", e.ctx)));
        f.add_box(
            &format!("efd:{}", e.ctx),
            (200 + i as i32 * 128, 150, 118, 52),
            if ch { "efd changed" } else { "efd" },
            &format!("eventfd ctx {}", e.ctx),
            vec![format!("count {}", e.count), format!("fd {fd}")],
        );
    }
    if snap.eventfds.len() > 4 {
        f.labels.push(Label { x: 708, y: 198, text: format!("+{} more eventfds", snap.eventfds.len() - 4), cls: "end".into() });
    }
    // The Host's records of the Guest.
    let ch = |pfx: &[&str]| changed.iter().any(|c| pfx.iter().any(|p| c.starts_with(p)));
    match g {
        Some(g) => {
            let dead = match &g.dead {
                None => "dead = NULL (alive)".to_string(),
                Some(crate::lguest::lg::Dead::Reason { text, .. }) => format!("dead: {text}"),
                Some(crate::lguest::lg::Dead::Err { errno }) => format!("dead = ERR_PTR({errno})"),
            };
            let lg_changed = changed.iter().any(|c| c.starts_with("lg.") && !c.starts_with("lg.eventfds"));
            f.add_box(
                "lg",
                (12, 236, 164, 56),
                if lg_changed { "host changed" } else { "host" },
                "struct lguest",
                vec![format!("pfn_limit {:#x}", g.pfn_limit), dead],
            );
            let c = g.cpus.first();
            let cpu_lines = match c {
                Some(c) => vec![
                    format!("irqs_pending {:#x}", c.irqs_pending),
                    format!("pending_notify {:#x}{}", c.pending_notify, if c.halted { ", halted" } else { "" }),
                ],
                None => vec!["no cpu".into()],
            };
            f.add_box("cpu", (212, 236, 164, 56), if ch(&["cpu0."]) { "host changed" } else { "host" }, "lg_cpu 0", cpu_lines);
            let n = g.eventfds.num;
            f.add_box(
                "map",
                (412, 236, 170, 56),
                if ch(&["lg.eventfds"]) { "host changed" } else { "host" },
                "lg->eventfds",
                vec![format!("→ map #{}", g.eventfds.alloc), format!("{n} {}", if n == 1 { "entry" } else { "entries" })],
            );
        }
        None => {
            for (id, x, title) in [("lg", 12, "struct lguest"), ("cpu", 212, "lg_cpu 0"), ("map", 412, "lg->eventfds")] {
                f.add_box(id, (x, 236, 164, 56), "host absent", title, vec!["none yet: made by".into(), "LHREQ_INITIALIZE".into()]);
            }
        }
    }
    f.add_box(
        "switcher",
        (12, 330, 704 - 12, 30),
        "switcher",
        &format!("the Switcher: the code that swaps Host and Guest (mapped at {:#x} in both)", crate::cpu::segments::SWITCHER_ADDR),
        Vec::new(),
    );
    match (g, g.and_then(|g| g.cpus.first())) {
        (Some(g), Some(c)) => {
            let state = if g.dead.is_some() {
                "dead"
            } else if c.halted {
                "halted"
            } else {
                "ring 1"
            };
            let gch = changed.iter().any(|c| c == "cpu0.eip");
            f.add_box(
                "guest",
                (12, 402, 230, 64),
                if gch { "guest changed" } else { "guest" },
                "the Guest's CPU",
                vec![format!("eip {:#x}, {state}", c.regs.eip), "traps to the Host to ask".into()],
            );
            f.add_box(
                "gmem",
                (260, 402, 250, 64),
                "guest",
                "the Guest's memory",
                vec![format!("0 – {:#x} (pfn_limit {:#x})", (g.pfn_limit as u64) << 12, g.pfn_limit), format!("the Launcher's, at {:#x}", g.mem_base)],
            );
        }
        _ => {
            f.add_box("guest", (12, 402, 230, 64), "guest absent", "the Guest", vec!["none yet".into()]);
        }
    }

    let (path, notes) = hops(asleep_before.unwrap_or(&[]), k, results, events);
    // Draw each (from, to, kind) once, with every number it stands for.
    let mut drawn: Vec<(String, String, &str, Vec<usize>, String)> = Vec::new();
    for (i, h) in path.iter().enumerate() {
        if f.find(&h.from).is_none() || f.find(&h.to).is_none() {
            continue;
        }
        f.mark(&h.from, "on");
        f.mark(&h.to, "on");
        match drawn.iter_mut().find(|d| d.0 == h.from && d.1 == h.to && d.2 == h.kind) {
            Some(d) => d.3.push(i + 1),
            None => drawn.push((h.from.clone(), h.to.clone(), h.kind, vec![i + 1], h.label.clone())),
        }
    }
    for (from, to, kind, n, label) in drawn {
        let back = drawn_back(&path, &from, &to);
        // An arrow taken more than once is labelled by its first time, with how many more.
        let label = if n.len() > 1 { format!("{label} (+{})", n.len() - 1) } else { label };
        f.connect(&from, &to, &format!("hop {kind}"), n, label, if back { 12 } else { 0 });
    }
    f.text = path
        .iter()
        .take(HOPS_LISTED)
        .enumerate()
        .map(|(i, h)| {
            format!(
                "{}. {} → {}: {}{}",
                i + 1,
                name_of(&h.from),
                name_of(&h.to),
                h.label,
                if h.text.is_empty() { String::new() } else { format!(" — {}", h.text) }
            )
        })
        .collect();
    if path.len() > HOPS_LISTED {
        f.text.push(format!("… and {} more hops like these.", path.len() - HOPS_LISTED));
    }
    if path.is_empty() {
        f.text.push(if results.is_empty() { "Nothing has run yet.".into() } else { "This step makes no system call: nothing moves between the boxes.".into() });
    }
    f.text.extend(notes);
    if !snap.eventfds.is_empty() {
        f.text.push("eventfd ctx n: the kernel's eventfd context (the counter an eventfd file holds), numbered in the order they were made.".into());
    }
    f
}

/// Whether the path also goes from `to` back to `from` (then the two arrows are drawn apart).
fn drawn_back(path: &[Hop], from: &str, to: &str) -> bool {
    path.iter().any(|h| h.from == to && h.to == from)
}

/// `lguest:3` as `3` (the Launcher's), else as written.
fn fds(fds: &[String]) -> String {
    let v: Vec<String> = fds.iter().map(|d| d.strip_prefix("lguest:").map(str::to_string).unwrap_or_else(|| d.clone())).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

// ---- the eventfd map ------------------------------------------------------------------------------------

/// Freed versions of the map the picture draws, the newest: the older ones are said in words.
const MAP_FREED_DRAWN: usize = 6;
/// Eventfd contexts the picture draws (a Launcher may hold a thousand).
const MAP_CTXS_DRAWN: usize = 12;

/// The eventfd map as boxes and arrows: `lg->eventfds` pointing at the current version, each version with
/// its entries (and an arrow from each entry to the eventfd context it holds), the versions a grace period
/// retires, the freed ones greyed, and the reader of this step (cpu 0 in `send_notify_to_eventfd()`) with
/// an arrow to the version it read. `before` is the Guest a step earlier, if there was one.
pub fn map(g: &GuestView, before: Option<&GuestView>, start: bool, events: &[EventView], snap: &Snapshot) -> Figure {
    let mut f = Figure {
        kind: "map",
        title: "The eventfd map: lg->eventfds and every version of it".into(),
        legend: "Newest first. A blue arrow is a pointer; a green dashed one, a reader holding a map; a dotted, grey box, a freed map.".into(),
        width: 720,
        ..Default::default()
    };
    let was = |alloc| before.and_then(|b| b.map_versions.iter().find(|x| x.alloc == alloc)).map(|x| x.life);
    // A reader this step: the version `rcu_dereference()` gave `send_notify_to_eventfd()`.
    let read: Vec<u32> = events
        .iter()
        .filter(|e| e.func == "send_notify_to_eventfd" && e.text.starts_with("rcu_dereference"))
        .filter_map(|e| after(&e.text, "map #").and_then(|n| n.parse().ok()))
        .collect();
    // Every version still current or retired, and the newest freed ones: a Launcher that replaces the map
    // for ever would otherwise have the page draw hundreds of boxes at each step.
    let mut freed_shown = 0;
    let shown: Vec<&crate::lguest::lg::MapVersion> = g
        .map_versions
        .iter()
        .rev()
        .filter(|x| {
            let keep = x.life != MapLife::Freed || freed_shown < MAP_FREED_DRAWN;
            freed_shown += usize::from(x.life == MapLife::Freed);
            keep
        })
        .collect();
    let freed_left = g.map_versions.len() - shown.len();
    // The contexts the maps still in use point at first, then the others, as many as fit.
    let live: Vec<usize> = shown.iter().filter(|x| x.life != MapLife::Freed).flat_map(|x| x.entries.iter().map(|(_, c)| *c)).collect();
    let mut ctxs: Vec<_> = snap.eventfds.iter().filter(|e| live.contains(&e.ctx)).collect();
    ctxs.extend(snap.eventfds.iter().filter(|e| !live.contains(&e.ctx)));
    ctxs.truncate(MAP_CTXS_DRAWN);
    let ctxs_left = snap.eventfds.len() - ctxs.len();
    let n = shown.len() as i32;
    let row = 58;
    f.height = (n.max(1) * row + 30).max(ctxs.len() as i32 * 60 + 30).max(if read.is_empty() { 80 } else { 160 });
    f.add_box("ptr", (12, 30, 120, 40), "ptr", "lg->eventfds", vec!["(struct lguest)".into()]);
    if !read.is_empty() {
        f.add_box("reader", (12, 100, 120, 52), "reader on", "reader: cpu 0", vec!["send_notify_to_".into(), "eventfd() read".into()]);
    }
    f.text.push(format!(
        "lg->eventfds points at map #{}. A map's number is its allocation in the account book (#{0} is the {0}th kmalloc() of this run).",
        g.eventfds.alloc
    ));
    // Newest first: the current version at the top, next to the pointer.
    for (i, x) in shown.iter().enumerate() {
        let y = 20 + i as i32 * row;
        let life = match x.life {
            MapLife::Current => "current",
            MapLife::Retired => "retired",
            MapLife::Freed => "freed",
        };
        // `start`: the first position, where nothing counts as new.
        let news = match was(x.alloc) {
            _ if start => "",
            None => " new",
            Some(l) if l != x.life => " changed",
            _ => "",
        };
        let entries = if x.entries.is_empty() {
            "no entries".to_string()
        } else {
            x.entries.iter().map(|(a, c)| format!("{a:#x}→ctx{c}")).collect::<Vec<_>>().join("  ")
        };
        let id = format!("v:{}", x.alloc);
        f.add_box(
            &id,
            (190, y, 300, 48),
            &format!("version {life}{news}"),
            &format!("map #{} — {life}", x.alloc),
            vec![entries, format!("made by {}()", x.by)],
        );
        let said = match x.life {
            MapLife::Current => "current: new readers find it",
            MapLife::Retired => "retired: replaced, but a reader that found it may still hold it until the grace period ends",
            MapLife::Freed => "freed by kfree() after the grace period",
        };
        f.text.push(format!(
            "map #{} ({} {}, made by {}()): {said}{}.",
            x.alloc,
            x.entries.len(),
            if x.entries.len() == 1 { "entry" } else { "entries" },
            x.by,
            match news {
                " new" => "; new in this step",
                " changed" => "; its life changed in this step",
                _ => "",
            }
        ));
    }
    if freed_left > 0 {
        f.text.push(format!("{freed_left} older freed maps are not drawn (the {MAP_FREED_DRAWN} newest freed ones are)."));
    }
    if ctxs_left > 0 {
        f.text.push(format!(
            "{ctxs_left} more eventfd contexts are not drawn ({MAP_CTXS_DRAWN} are: those the maps in use hold first); the eventfds section lists them."
        ));
    }
    for (i, e) in ctxs.iter().enumerate() {
        f.add_box(
            &format!("ctx:{}", e.ctx),
            (560, 20 + i as i32 * 60, 148, 48),
            "efd",
            &format!("eventfd ctx {}", e.ctx),
            vec![format!("count {}, refs {}", e.count, e.refs)],
        );
    }
    f.connect("ptr", &format!("v:{}", g.eventfds.alloc), "ptr", Vec::new(), String::new(), 0);
    for x in shown.iter().filter(|x| x.life != MapLife::Freed) {
        let mut seen = Vec::new();
        for (_, c) in &x.entries {
            if !seen.contains(c) {
                seen.push(*c);
                f.connect(&format!("v:{}", x.alloc), &format!("ctx:{c}"), "entry", Vec::new(), String::new(), 0);
            }
        }
    }
    for r in &read {
        f.connect("reader", &format!("v:{r}"), "reader", Vec::new(), "holds".into(), 0);
        f.text.push(format!("In this step cpu 0, in send_notify_to_eventfd(), read map #{r} under rcu_read_lock()."));
    }
    f
}

// ---- memory and page tables -----------------------------------------------------------------------------

/// The Guest's address space: its RAM from 0 to the device pages, the device pages up to `pfn_limit`, nothing
/// above that, and the Switcher's 4 MB at the top, which no Guest may touch. Drawn as a column of regions,
/// not to scale (33 MB of 4 GB would be a hairline).
pub fn memory(g: &GuestView, snap: &Snapshot, eip: Option<u32>) -> Figure {
    let mut f = Figure { kind: "memory", title: "The Guest's memory map (not to scale)".into(), width: 720, height: 276, ..Default::default() };
    let limit = (g.pfn_limit as u64) << 12;
    let dev = snap.launcher.devices.iter().find(|(k, _)| k == "devices.descpage").and_then(|(_, v)| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok());
    let ram_top = dev.unwrap_or(limit);
    let mut marks: Vec<(u64, String)> = Vec::new();
    if let Some(e) = eip {
        marks.push((e as u64, format!("eip {e:#x}")));
    }
    if let Some(d) = g.lguest_data {
        marks.push((d as u64, format!("lguest_data {d:#x}")));
    }
    let regions: Vec<(String, String, &str)> = [
        Some((format!("{:#010x} – {:#010x}", 0x0u64, ram_top), format!("RAM: {} MB the Launcher mapped for the Guest", ram_top >> 20), "ram")),
        dev.filter(|&d| d < limit)
            .map(|d| (format!("{:#010x} – {:#010x}", d, limit), format!("device pages ({} KB): descriptors and rings", (limit - d) >> 10), "devpages")),
        Some((format!("{limit:#010x} = pfn_limit {:#x} × 4096", g.pfn_limit), "the limit: the Host refuses any Guest address from here up".into(), "limit")),
        Some((format!("{:#010x} – {:#010x}", limit, crate::cpu::segments::SWITCHER_ADDR), "nothing: not the Guest's".into(), "gap")),
        Some((
            format!("{:#010x} – 0xffffffff", crate::cpu::segments::SWITCHER_ADDR),
            "the Switcher (4 MB): off limits, a touch kills the Guest".into(),
            "switcher",
        )),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut y = 256;
    for (i, (range, what, cls)) in regions.iter().enumerate() {
        let h = if *cls == "limit" {
            14
        } else if *cls == "ram" {
            70
        } else {
            40
        };
        y -= h + 4;
        f.add_box(&format!("mem:{i}"), (200, y, 300, h), &format!("mem {cls}"), if *cls == "limit" { "" } else { what }, Vec::new());
        f.labels.push(Label { x: 192, y: y + h / 2 + 4, text: range.clone(), cls: "end mono".into() });
        if *cls == "limit" {
            f.labels.push(Label { x: 510, y: y + h / 2 + 4, text: "← pfn_limit".into(), cls: "mono".into() });
        }
        f.text.push(format!("{range}: {what}"));
        if *cls == "ram" {
            for (j, (a, m)) in marks.iter().filter(|(a, _)| *a < ram_top).enumerate() {
                f.labels.push(Label { x: 510, y: y + 16 + j as i32 * 16, text: format!("← {m}"), cls: "mono".into() });
                f.text.push(format!("In RAM at {a:#x}: {m}."));
            }
        }
    }
    f
}

/// The x86 page-table entry's flags the course teaches, high to low after the frame.
const PTE_BITS: [(u32, &str, &str); 6] = {
    use crate::cpu::paging::*;
    [
        (_PAGE_GLOBAL, "G", "global: kept across address spaces"),
        (_PAGE_DIRTY, "D", "dirty: written"),
        (_PAGE_ACCESSED, "A", "accessed: used"),
        (_PAGE_USER, "U", "user code may use it"),
        (_PAGE_RW, "RW", "writable"),
        (_PAGE_PRESENT, "P", "present"),
    ]
};

/// Each virtual address the shadow maps: the Guest's pte beside the Host's shadow pte, as bit fields
/// (the frame, then G D A U RW P), a bit the two differ in marked.
pub fn ptes(g: &GuestView) -> Option<Figure> {
    let pg = &g.paging;
    if !pg.active {
        return None;
    }
    let shown: Vec<_> = pg.mappings.iter().take(6).collect();
    let mut f = Figure { kind: "pte", title: "Page-table entries: the Guest's beside the Host's shadow, bit by bit".into(), width: 720, ..Default::default() };
    f.height = 36 + shown.len().max(1) as i32 * 70;
    let x0 = 150;
    f.labels.push(Label { x: x0 + 70, y: 14, text: "frame (bits 31–12)".into(), cls: "mid".into() });
    for (i, (_, n, _)) in PTE_BITS.iter().enumerate() {
        f.labels.push(Label { x: x0 + 160 + i as i32 * 50 + 22, y: 14, text: n.to_string(), cls: "mid mono".into() });
    }
    if shown.is_empty() {
        f.text.push("The shadow maps nothing yet: the Guest's first touch of each page faults, and demand_page() fills it in.".into());
    }
    for (r, m) in shown.iter().enumerate() {
        let y = 24 + r as i32 * 70;
        for (k, (who, e)) in [("Guest's pte", m.gpte), ("shadow pte", m.spte)].into_iter().enumerate() {
            let y = y + k as i32 * 30;
            f.labels.push(Label { x: x0 - 8, y: y + 17, text: format!("{:#x} {who}", m.vaddr), cls: "end mono".into() });
            let frame_differs = (m.gpte ^ m.spte) >> 12 != 0;
            f.add_box(
                &format!("pte:{r}:{k}:frame"),
                (x0, y, 150, 26),
                if frame_differs { "bit on differs" } else { "bit on" },
                &format!("{:#07x}", e >> 12),
                Vec::new(),
            );
            let mut on = Vec::new();
            for (i, (bit, n, _)) in PTE_BITS.iter().enumerate() {
                let set = e & bit != 0;
                let differs = (m.gpte ^ m.spte) & bit != 0;
                let cls = format!("bit {}{}", if set { "on" } else { "off" }, if differs { " differs" } else { "" });
                f.add_box(&format!("pte:{r}:{k}:{n}"), (x0 + 160 + i as i32 * 50, y, 44, 26), &cls, if set { n } else { "·" }, Vec::new());
                if set {
                    on.push(*n);
                }
            }
            f.text.push(format!("{:#x}, {who} {e:#x}: frame {:#x}, {}.", m.vaddr, e >> 12, if on.is_empty() { "no flags".into() } else { on.join(" ") }));
        }
        let diff: Vec<&str> = PTE_BITS.iter().filter(|(b, ..)| (m.gpte ^ m.spte) & b != 0).map(|(_, n, _)| *n).collect();
        if !diff.is_empty() {
            f.text.push(format!("They differ in {}: the Host sets the shadow's bits only as the Guest's own allow.", diff.join(", ")));
        }
    }
    if pg.mappings.len() > shown.len() {
        f.text.push(format!("… and {} more mappings in the table below.", pg.mappings.len() - shown.len()));
    }
    f.text.push(PTE_BITS.iter().map(|(_, n, what)| format!("{n} = {what}")).collect::<Vec<_>>().join("; ") + "; a dot is a clear bit.");
    Some(f)
}

// ---- what the step is about -----------------------------------------------------------------------------

/// A panel of the state beside the story, and whether it opens for this step (and why).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    pub id: String,
    pub title: String,
    pub open: bool,
    pub why: String,
}

/// The panels a kernel function's step is about.
fn panels_of(func: &str) -> &'static [&'static str] {
    match func {
        "initialize" | "lg_cpu_start" => &["lguest", "lg-cpu", "memory", "book"],
        "init_guest_pagetable" => &["lguest", "book"],
        "read" | "run_guest" | "lguest_arch_run_guest" | "lguest_arch_handle_trap" => &["guest-cpu", "lg-cpu"],
        "write" | "launcher" => &["tasks"],
        "close" => &["book", "lguest"],
        "attach_eventfd" | "add_eventfd" | "synchronize_rcu" | "send_notify_to_eventfd" => &["map", "eventfd-map"],
        "eventfd_ctx_fdget" | "eventfd_signal" => &["eventfds", "map"],
        "user_send_irq" | "set_interrupt" | "interrupt_pending" | "try_deliver_interrupt" | "set_guest_interrupt" | "clockdev_fn" => &["lg-cpu", "ldata"],
        "do_hypercalls" | "do_hcall" | "do_async_hcalls" => &["lg-cpu", "ldata"],
        "lguest_init_hcall" => &["ldata", "memory"],
        "kill_guest" => &["lguest"],
        "demand_page"
        | "check_gpgd"
        | "check_gpte"
        | "do_set_pte"
        | "guest_set_pte"
        | "guest_set_pgd"
        | "new_pgdir"
        | "guest_new_pagetable"
        | "guest_pagetable_flush_user"
        | "guest_pagetable_clear_all" => &["paging", "page-tables"],
        _ => &["launcher", "tasks"],
    }
}

/// The panels the page shows under the system, in order, each open when the step changed it (`also`: the
/// panels without rows that changed); the rest start closed, one click away. [`reopen`] adds the lesson's
/// `about:`.
pub fn panels(sections: &[super::lesson::SectionView], also: &[&'static str]) -> Vec<Panel> {
    let mut ids: Vec<(String, String)> = [
        ("guest-cpu", "the Guest CPU"),
        ("console", "the Guest console"),
        ("map", "the eventfd map, drawn"),
        ("paging", "page tables: the Guest's beside the shadow"),
        ("memory", "the Guest's memory map"),
        ("ldata", "struct lguest_data (in Guest memory)"),
        ("book", "the account book (what the kernel allocated)"),
    ]
    .map(|(i, t)| (i.to_string(), t.to_string()))
    .to_vec();
    ids.extend(sections.iter().map(|s| (section_id(s.id).to_string(), s.title.clone())));
    ids.push(("events".into(), "every kernel event of this step".into()));
    ids.into_iter()
        .map(|(id, title)| {
            // The clock and the book's count move on nearly every step: they alone open nothing.
            let changed = also.contains(&id.as_str())
                || sections.iter().any(|s| section_id(s.id) == id && s.rows.iter().any(|r| r.changed && r.key != "now" && r.key != "alloc.live"));
            Panel { open: changed, why: if changed { "changed in this step".into() } else { String::new() }, id, title }
        })
        .collect()
}

/// Open the panels the step's `about:` functions are about, saying so.
pub fn reopen(panels: &mut [Panel], about: &[String]) {
    for p in panels {
        if let Some(f) = about.iter().find(|f| panels_of(f).contains(&p.id.as_str())) {
            p.why = if p.open { format!("this step is about {f}() and changed it") } else { format!("this step is about {f}()") };
            p.open = true;
        }
    }
}

/// A section's panel id, as its serde name spells it.
fn section_id(s: Section) -> &'static str {
    match s {
        Section::Lguest => "lguest",
        Section::LgCpu => "lg-cpu",
        Section::EventfdMap => "eventfd-map",
        Section::PageTables => "page-tables",
        Section::Tasks => "tasks",
        Section::Eventfds => "eventfds",
        Section::Launcher => "launcher",
        Section::Kernel => "kernel",
    }
}

#[cfg(test)]
mod tests {
    use super::super::lesson::LessonPlayer;
    use super::*;

    fn at(id: &str, n: usize) -> super::super::lesson::StepView {
        let mut p = LessonPlayer::open(id).unwrap();
        p.go_to(n);
        p.view()
    }

    fn hop_text(v: &super::super::lesson::StepView) -> String {
        v.system.text.join("\n")
    }

    #[test]
    fn lesson_1s_read_goes_to_dev_lguest_and_comes_back_einval() {
        let v = at("01-meet-dev-lguest", 2);
        let t = hop_text(&v);
        assert!(t.starts_with("1. thread main → /dev/lguest: read"), "{t}");
        assert!(t.contains("2. /dev/lguest → thread main: -EINVAL"), "{t}");
        let on: Vec<&str> = v.system.boxes.iter().filter(|b| b.cls.split(' ').any(|c| c == "on")).map(|b| b.id.as_str()).collect();
        assert_eq!(on, ["task:main", "dev"]);
        assert!(v.system.boxes.iter().any(|b| b.id == "lg" && b.cls.contains("absent")), "no struct lguest before INITIALIZE");
        let calls: Vec<&Arrow> = v.system.arrows.iter().filter(|a| a.cls.starts_with("hop")).collect();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].n, [1]);
        assert_ne!(calls[0].points, calls[1].points, "the call and its return are drawn apart");
    }

    #[test]
    fn a_read_that_runs_the_guest_goes_through_the_switcher_and_traps_back() {
        let v = at("04-read-runs-the-guest", 4);
        let t = hop_text(&v);
        for want in [
            "thread main → /dev/lguest: read",
            "/dev/lguest → lg_cpu 0: run_guest()",
            "the Switcher → the Guest: runs the Guest",
            "the Guest → the Switcher: trap 0x1f",
            "/dev/lguest → thread main: 4 notify=0x8000",
        ] {
            assert!(t.contains(want), "{want} in\n{t}");
        }
        assert!(v.system.boxes.iter().any(|b| b.id == "guest" && b.cls.contains("on")));
    }

    #[test]
    fn an_interrupt_delivered_is_named_on_the_way_into_the_guest() {
        let v = at("07-interrupts", 7);
        assert!(hop_text(&v).contains("the Switcher → the Guest: runs the Guest, irq 1 delivered"), "{}", hop_text(&v));
    }

    #[test]
    fn a_notify_the_eventfd_takes_signals_its_context_and_wakes_the_thread() {
        let v = at("09-eventfds", 3);
        assert!(hop_text(&v).contains("the eventfd map → eventfd ctx 0: eventfd_signal()"), "{}", hop_text(&v));
        let v = at("09-eventfds", 5);
        let t = hop_text(&v);
        assert!(t.contains("eventfd ctx 0 → thread dev: wakes dev"), "{t}");
        assert!(t.contains("eventfd ctx 0 → thread dev: 8 count=1"), "{t}");
        // The map: #6 current, the reader of the step holds it, #2 freed.
        let m = v.map.as_ref().unwrap();
        assert!(m.boxes.iter().any(|b| b.id == "v:6" && b.cls.contains("current")));
        assert!(m.boxes.iter().any(|b| b.id == "v:2" && b.cls.contains("freed")));
        assert!(m.text.iter().any(|l| l.contains("read map #6")), "{:?}", m.text);
    }

    #[test]
    fn the_map_points_at_the_version_each_step_made() {
        let mut p = LessonPlayer::open("10-rcu-copy-update").unwrap();
        for (n, want) in [(1, 2), (2, 6), (3, 8)] {
            p.go_to(n);
            let m = p.view().map.unwrap();
            let ptr = m.arrows.iter().find(|a| a.cls == "ptr").unwrap();
            let target = m.boxes.iter().find(|b| b.id == format!("v:{want}")).unwrap();
            let end = ptr.points[1];
            assert!(
                end.0 >= target.x - 1 && end.0 <= target.x + target.w + 1 && end.1 >= target.y - 1 && end.1 <= target.y + target.h + 1,
                "step {n}: {ptr:?} ends at #{want}"
            );
        }
    }

    #[test]
    fn panels_open_for_what_the_step_is_about_and_changed() {
        let v = at("10-rcu-copy-update", 2);
        let open: Vec<&str> = v.panels.iter().filter(|p| p.open).map(|p| p.id.as_str()).collect();
        assert!(open.contains(&"map") && open.contains(&"eventfd-map"), "{open:?}");
        assert!(!open.contains(&"paging") && !open.contains(&"kernel"), "{open:?}");
        let v = at("19-shadow-page-tables", 3);
        assert!(v.panels.iter().any(|p| p.id == "paging" && p.open));
        let f = v.ptes.as_ref().unwrap();
        assert!(f.boxes.iter().any(|b| b.id.ends_with(":P") && b.cls.contains("on")));
    }

    #[test]
    fn the_memory_map_names_ram_the_limit_and_the_switcher() {
        let v = at("17-a-console-device", 3);
        let t = v.memory.as_ref().unwrap().text.join("\n");
        assert!(t.contains("RAM: 32 MB") && t.contains("device pages") && t.contains("pfn_limit 0x2007") && t.contains("0xffc00000"), "{t}");
    }

    #[test]
    fn every_step_of_the_course_draws_inside_its_figure() {
        for info in super::super::lesson::lessons() {
            let mut p = LessonPlayer::open(&info.id).unwrap();
            for n in 0..=p.total() {
                p.go_to(n);
                let v = p.view();
                for f in [Some(&v.system), v.map.as_ref(), v.memory.as_ref(), v.ptes.as_ref()].into_iter().flatten() {
                    for b in &f.boxes {
                        assert!(b.x >= 0 && b.y >= 0 && b.x + b.w <= f.width && b.y + b.h <= f.height, "{} step {n}: {} {b:?}", info.id, f.kind);
                    }
                    for a in &f.arrows {
                        assert!(a.points.iter().all(|&(x, y)| x >= 0 && y >= 0 && x <= f.width && y <= f.height), "{} step {n}: {a:?}", info.id);
                    }
                    assert!(!f.text.is_empty(), "{} step {n}: {} has words", info.id, f.kind);
                }
            }
        }
    }
}
