//! What the page (and `expect` lines) see of the machine: plain serde structs built from the model, never
//! references into it. JavaScript renders these; Rust decides what they say.

use serde::Serialize;

use crate::kernel::alloc::Allocation;
use crate::kernel::task::TaskState;
use crate::kernel::Kernel;
use crate::launcher::Launcher;
use crate::lguest::lg::{Dead, LgEventfdMap};
use crate::lguest::page_tables::{shadow_view, MappingView};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub now_ns: u64,
    pub tasks: Vec<TaskView>,
    pub files: Vec<FileView>,
    pub guests: Vec<GuestView>,
    pub eventfds: Vec<EventfdView>,
    pub allocations: Vec<Allocation>,
    pub lguest_lock: Option<String>,
    pub events: u64,
    /// The first Launcher's own state: its terminal's stdout and stderr, and its devices as `name = value`
    /// pairs (`devices.console.status`, `vq.console-output.used_idx`, ...; see `Launcher::device_fields`).
    pub launcher: LauncherView,
    /// The modules loaded (`lsmod`): name, use count, parameters.
    pub modules: Vec<ModuleView>,
}

/// A loaded module, as `lsmod` and `/sys/module/NAME/parameters/` show it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleView {
    pub name: String,
    pub refcount: u32,
    pub params: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LauncherView {
    pub stdout: String,
    pub stderr: String,
    pub devices: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub name: String,
    pub process: String,
    pub state: TaskState,
    pub blocked: Option<String>,
    /// A blocked call that has since returned, with its result, not yet collected with `wait`.
    pub finished: Option<String>,
    pub signal_pending: bool,
}

/// What kind of file an open `struct file` is, as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum FileKind {
    /// `/dev/lguest`; `private_data` is the Guest once `LHREQ_INITIALIZE` succeeded.
    Lguest { private_data: Option<usize> },
    /// An eventfd; `ctx` indexes the kernel's eventfd contexts.
    Eventfd { ctx: usize },
    /// The terminal (the Launcher's stdin, stdout, stderr): a file that is not an eventfd.
    Tty,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    /// The descriptors that refer to it, as `process:fd`.
    pub fds: Vec<String>,
    pub kind: FileKind,
    pub f_count: u32,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestView {
    pub index: usize,
    pub nr_cpus: u32,
    pub pfn_limit: u32,
    pub mem_base: u32,
    pub lguest_data: Option<u32>,
    pub noirq_start: u32,
    pub noirq_end: u32,
    pub dead: Option<Dead>,
    pub eventfds: LgEventfdMap,
    /// Every version of the map so far, oldest first, with where each is in its life.
    pub map_versions: Vec<crate::lguest::lg::MapVersion>,
    pub cpus: Vec<CpuView>,
    pub paging: PagingView,
}

/// The shadow page tables beside the Guest's own, for the page: which Guest page directories the four
/// cached shadows stand for, and what the active one maps (capped at `SHADOW_VIEW_CAP` entries).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PagingView {
    /// Does the CPU walk the shadow tables yet (after the Guest's first NEW_PGTABLE)?
    pub active: bool,
    pub kernel_address: u32,
    pub pgdirs: Vec<PgdirView>,
    /// The active shadow directory's mappings: virtual address, the Guest's pte, the shadow pte.
    pub mappings: Vec<MappingView>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PgdirView {
    pub slot: usize,
    /// The Guest page directory this slot shadows; `None` for a slot never allocated.
    pub gpgdir: Option<u32>,
    /// How many shadow pte pages hang off it.
    pub pte_pages: usize,
    /// Is it the one cpu 0 runs on?
    pub current: bool,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuView {
    pub id: u32,
    pub tsk: String,
    pub pending_notify: u32,
    pub halted: bool,
    pub irqs_pending: u32,
    pub hcall: Option<[u32; 5]>,
    pub ts: u32,
    pub hrt_expires: Option<u64>,
    pub regs: crate::lguest::regs::LguestRegs,
    /// `cpu_pgd`: which cached shadow directory it runs on.
    pub cpu_pgd: usize,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventfdView {
    pub ctx: usize,
    pub count: u64,
    pub refs: u32,
}

impl Snapshot {
    pub fn of(k: &Kernel) -> Snapshot {
        let tasks = k
            .tasks
            .iter()
            .map(|t| TaskView {
                name: t.name.clone(),
                process: k.procs.get(t.pid as usize).map(|p| p.name.clone()).unwrap_or_default(),
                state: t.state,
                blocked: k.sched.pending.get(&t.tid).map(|s| s.shown.map(str::to_string).unwrap_or_else(|| s.why.clone())),
                finished: k.sched.finished.get(&t.tid).map(|r| r.render()),
                signal_pending: t.signal_pending,
            })
            .collect();
        // The descriptors that name each file, found in one pass (a Launcher may hold a thousand of each).
        let mut fds_of: Vec<Vec<String>> = vec![Vec::new(); k.files.len()];
        for p in &k.procs {
            for (fd, id) in &p.fds {
                if let Some(v) = fds_of.get_mut(*id) {
                    v.push(format!("{}:{fd}", p.name));
                }
            }
        }
        let files = k
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.f_count > 0)
            .map(|(i, f)| FileView {
                fds: std::mem::take(&mut fds_of[i]),
                kind: match f.ops.name {
                    "lguest" => FileKind::Lguest { private_data: f.private_data },
                    "eventfd" => FileKind::Eventfd { ctx: f.private_data.unwrap_or(0) },
                    _ => FileKind::Tty,
                },
                f_count: f.f_count,
            })
            .collect();
        let guests = k
            .lguest
            .guests
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.as_ref().map(|g| (i, g)))
            .map(|(index, guest)| {
                let lg = &guest.lg;
                GuestView {
                    index,
                    nr_cpus: guest.nr_cpus(),
                    pfn_limit: lg.pfn_limit,
                    mem_base: lg.mem_base,
                    lguest_data: lg.lguest_data,
                    noirq_start: lg.noirq_start,
                    noirq_end: lg.noirq_end,
                    dead: lg.dead.clone(),
                    eventfds: lg.eventfds.clone(),
                    map_versions: lg.map_versions.clone(),
                    cpus: guest
                        .cpus
                        .iter()
                        .map(|c| CpuView {
                            id: c.id,
                            tsk: k.task_name(c.tsk),
                            pending_notify: c.pending_notify,
                            halted: c.halted,
                            irqs_pending: c.irqs_pending,
                            hcall: c.hcall,
                            ts: c.ts,
                            hrt_expires: c.hrt_expires,
                            regs: c.regs,
                            cpu_pgd: c.cpu_pgd,
                        })
                        .collect(),
                    paging: PagingView {
                        active: lg.paging,
                        kernel_address: lg.kernel_address,
                        pgdirs: lg
                            .pgdirs
                            .iter()
                            .enumerate()
                            .map(|(slot, d)| PgdirView {
                                slot,
                                gpgdir: d.page.map(|_| d.gpgdir),
                                pte_pages: d.shadow.pgd.iter().filter(|p| p.is_some()).count(),
                                current: guest.cpus.first().map(|c| c.cpu_pgd == slot).unwrap_or(false),
                            })
                            .collect(),
                        mappings: shadow_view(k, guest),
                    },
                }
            })
            .collect();
        let launcher = match (k.program::<Launcher>(0), k.procs.first()) {
            (Some(l), Some(p)) => LauncherView {
                stdout: String::from_utf8_lossy(&k.tty.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&k.tty.stderr).into_owned(),
                devices: if l.devices.descpage.is_some() { l.device_fields(&p.mm.guest.ram) } else { Vec::new() },
            },
            _ => LauncherView::default(),
        };
        Snapshot {
            now_ns: k.now_ns,
            tasks,
            files,
            guests,
            eventfds: k.eventfds.iter().enumerate().map(|(ctx, e)| EventfdView { ctx, count: e.count, refs: e.refs }).collect(),
            allocations: k.alloc.live.clone(),
            lguest_lock: k.lguest.lguest_lock.map(|t| k.task_name(t)),
            events: k.log.len(),
            launcher,
            modules: k
                .modules
                .iter()
                .map(|m| ModuleView {
                    name: m.to_string(),
                    refcount: k.module_refcount(m),
                    params: if *m == "lguest" { vec![("syscall_vector".into(), format!("{:#x}", k.lguest.syscall_vector()))] } else { Vec::new() },
                })
                .collect(),
        }
    }

    /// The state as `name = value` pairs, for `expect` lines and the CLI. Fields of the Guest are those of the
    /// most recent live Guest (`lg.`), its cpu 0 (`cpu0.`); `alloc.live` counts what is held.
    pub fn fields(&self) -> Vec<(String, String)> {
        self.rows().into_iter().map(|(_, k, v)| (k, v)).collect()
    }

    /// The same pairs in titled sections, in the order the page shows them (the structure a field belongs to
    /// is decided here, where the field is made).
    pub fn sections(&self) -> Vec<(Section, Vec<(String, String)>)> {
        let rows = self.rows();
        Section::ALL
            .iter()
            .map(|sec| (*sec, rows.iter().filter(|(s, ..)| s == sec).map(|(_, k, v)| (k.clone(), v.clone())).collect::<Vec<_>>()))
            .filter(|(_, rows)| !rows.is_empty())
            .collect()
    }

    /// Every field with the section it belongs to, in the order `fields()` lists them.
    fn rows(&self) -> Vec<(Section, String, String)> {
        use Section::*;
        let mut f = vec![
            (Kernel, "now".to_string(), self.now_ns.to_string()),
            (Kernel, "alloc.live".to_string(), self.allocations.len().to_string()),
            (Kernel, "lguest_lock".to_string(), self.lguest_lock.clone().unwrap_or_else(|| "free".into())),
            (Kernel, "guests".to_string(), self.guests.len().to_string()),
        ];
        let loaded: Vec<&str> = self.modules.iter().map(|m| m.name.as_str()).collect();
        f.push((Kernel, "modules".to_string(), if loaded.is_empty() { "none".to_string() } else { loaded.join(",") }));
        for m in &self.modules {
            f.push((Kernel, format!("module.{}.refcount", m.name), m.refcount.to_string()));
            f.extend(m.params.iter().map(|(p, v)| (Kernel, format!("module.{}.{p}", m.name), v.clone())));
        }
        for t in &self.tasks {
            let st = match (&t.blocked, t.state) {
                _ if t.finished.is_some() => "returned",
                (Some(_), _) => "blocked",
                (None, TaskState::Exited) => "exited",
                (None, _) => "user",
            };
            f.push((Tasks, format!("task.{}", t.name), st.to_string()));
        }
        for e in &self.eventfds {
            f.push((Eventfds, format!("eventfd{}.count", e.ctx), e.count.to_string()));
            f.push((Eventfds, format!("eventfd{}.refs", e.ctx), e.refs.to_string()));
        }
        if !self.launcher.stdout.is_empty() {
            f.push((Launcher, "stdout".into(), format!("{:?}", self.launcher.stdout)));
        }
        if !self.launcher.stderr.is_empty() {
            f.push((Launcher, "stderr".into(), format!("{:?}", self.launcher.stderr)));
        }
        f.extend(self.launcher.devices.iter().map(|(k, v)| (Launcher, k.clone(), v.clone())));
        if let Some(g) = self.guests.last() {
            f.push((Lguest, "lg.nr_cpus".into(), g.nr_cpus.to_string()));
            f.push((Lguest, "lg.pfn_limit".into(), format!("{:#x}", g.pfn_limit)));
            f.push((Lguest, "lg.mem_base".into(), format!("{:#x}", g.mem_base)));
            f.push((Lguest, "lg.lguest_data".into(), g.lguest_data.map(|a| format!("{a:#x}")).unwrap_or_else(|| "NULL".into())));
            let dead = match &g.dead {
                None => "NULL".to_string(),
                Some(Dead::Reason { text, .. }) => format!("{text:?}"),
                Some(Dead::Err { errno }) => format!("ERR_PTR({errno})"),
            };
            f.push((Lguest, "lg.dead".into(), dead));
            f.push((EventfdMap, "lg.eventfds.num".into(), g.eventfds.num.to_string()));
            f.push((EventfdMap, "lg.eventfds.version".into(), format!("#{}", g.eventfds.alloc)));
            for (i, e) in g.eventfds.map.iter().enumerate() {
                f.push((EventfdMap, format!("lg.eventfds.map{i}"), format!("{:#x}->ctx{}", e.addr, e.event)));
            }
            for c in &g.cpus {
                let p = format!("cpu{}", c.id);
                f.push((LgCpu, format!("{p}.tsk"), c.tsk.clone()));
                f.push((LgCpu, format!("{p}.pending_notify"), format!("{:#x}", c.pending_notify)));
                f.push((LgCpu, format!("{p}.halted"), (c.halted as u8).to_string()));
                f.push((LgCpu, format!("{p}.irqs_pending"), format!("{:#x}", c.irqs_pending)));
                f.push((LgCpu, format!("{p}.ts"), c.ts.to_string()));
                f.push((LgCpu, format!("{p}.eip"), format!("{:#x}", c.regs.eip)));
                f.push((LgCpu, format!("{p}.esp"), format!("{:#x}", c.regs.esp)));
                f.push((LgCpu, format!("{p}.cs"), format!("{:#x}", c.regs.cs)));
                f.push((LgCpu, format!("{p}.hrt"), c.hrt_expires.map(|t| t.to_string()).unwrap_or_else(|| "off".into())));
                f.push((LgCpu, format!("{p}.cpu_pgd"), c.cpu_pgd.to_string()));
            }
            // The shadow page tables: `lg.paging`, each slot's Guest page directory, and per mapping of the
            // active one `shadow.0xVADDR` (the shadow pte) and `gpte.0xVADDR` (the Guest's).
            f.push((Lguest, "lg.paging".into(), (g.paging.active as u8).to_string()));
            for d in &g.paging.pgdirs {
                f.push((Lguest, format!("lg.pgdirs{}", d.slot), d.gpgdir.map(|a| format!("{a:#x}")).unwrap_or_else(|| "NULL".into())));
                f.push((Lguest, format!("lg.pgdirs{}.pte_pages", d.slot), d.pte_pages.to_string()));
            }
            for e in &g.paging.mappings {
                f.push((PageTables, format!("shadow.{:#x}", e.vaddr), format!("{:#x}", e.spte)));
                f.push((PageTables, format!("gpte.{:#x}", e.vaddr), format!("{:#x}", e.gpte)));
            }
        }
        f
    }
}

/// The structures the state's fields belong to, in the order the page shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    Lguest,
    LgCpu,
    EventfdMap,
    PageTables,
    Tasks,
    Eventfds,
    Launcher,
    Kernel,
}

impl Section {
    pub const ALL: [Section; 8] =
        [Section::Lguest, Section::LgCpu, Section::EventfdMap, Section::PageTables, Section::Tasks, Section::Eventfds, Section::Launcher, Section::Kernel];

    /// Its title on the page.
    pub fn title(self) -> &'static str {
        match self {
            Section::Lguest => "struct lguest",
            Section::LgCpu => "struct lg_cpu",
            Section::EventfdMap => "eventfd map (RCU-protected)",
            Section::PageTables => "shadow page tables (shadow pte beside the Guest's pte, by virtual address)",
            Section::Tasks => "tasks",
            Section::Eventfds => "eventfds",
            Section::Launcher => "the Launcher (its terminal and devices)",
            Section::Kernel => "kernel",
        }
    }
}

/// One allocation of the account book, and what this step did to it: `new`, `freed` (gone since the step
/// before: shown greyed, once) or nothing.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BookRow {
    pub id: String,
    pub what: String,
    pub by: String,
    pub bytes: u32,
    pub change: &'static str,
}

/// The account book now, against `before` (the step before; `None` at the start: nothing is new).
pub fn book_rows(now: &Snapshot, before: Option<&Snapshot>) -> Vec<BookRow> {
    let row = |a: &Allocation, change| BookRow { id: format!("#{}", a.id), what: a.what.clone(), by: a.by.to_string(), bytes: a.bytes, change };
    let had = |id| before.is_some_and(|b| b.allocations.iter().any(|a| a.id == id));
    let mut rows: Vec<BookRow> = now.allocations.iter().map(|a| row(a, if before.is_some() && !had(a.id) { "new" } else { "" })).collect();
    if let Some(b) = before {
        rows.extend(b.allocations.iter().filter(|a| !now.allocations.iter().any(|n| n.id == a.id)).map(|a| row(a, "freed")));
    }
    rows
}

/// The shadow page tables beside the Guest's own, in words: which cached directory the cpu runs on, and per
/// virtual address the Guest's pte and the shadow pte (frame and flags, or "not present").
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PagingTable {
    pub slot: Option<usize>,
    pub rows: Vec<[String; 3]>,
}

/// A pte as the page writes it: `0x20000 P RW U A D`, or "not present".
pub fn pte_words(e: u32) -> String {
    if e & 1 == 0 {
        return "not present".into();
    }
    format!("{:#x} {}", e & !0xfff, crate::lguest::page_tables::flag_names(e))
}

/// The paging table of Guest `g`, once the CPU walks the shadow tables.
pub fn paging_table(g: &GuestView) -> Option<PagingTable> {
    let pg = &g.paging;
    pg.active.then(|| PagingTable {
        slot: pg.pgdirs.iter().find(|d| d.current).map(|d| d.slot),
        rows: pg.mappings.iter().map(|m| [format!("{:#x}", m.vaddr), pte_words(m.gpte), pte_words(m.spte)]).collect(),
    })
}
