//! The one boundary between the core and JavaScript (the only module that names wasm-bindgen).
//!
//! JavaScript gets a `Simulator`: it feeds scenario lines in and gets plain objects out (steps, snapshots,
//! events), built by `serde-wasm-bindgen` from the core's serde structs. Errors come back as values the page
//! can show (`{ ok: false, message }`), never as exceptions from a panic.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::diagnostic::Diagnostic;
use crate::ui::free_play::FreePlay;
use crate::ui::lesson::LessonPlayer;
use crate::ui::stepper::Stepper;

fn to_js<T: Serialize>(v: &T) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL)
}

/// A problem as the page gets it: `{ ok: false, file, line, column, message }`.
#[derive(Serialize)]
struct Failed {
    ok: bool,
    #[serde(flatten)]
    problem: Diagnostic,
}

fn failed(problem: Diagnostic) -> JsValue {
    to_js(&Failed { ok: false, problem })
}

fn error(line: usize, message: String) -> JsValue {
    failed(Diagnostic::line(line, message))
}

/// A simulated machine with its history, for the page's free play (see [`FreePlay`]).
#[wasm_bindgen]
pub struct Simulator {
    play: FreePlay,
}

// The Guest CPU stepper's calls, shared by `Walkthrough` (the current step) and `Simulator` (the last line).
fn guest_at(g: Option<&mut Stepper>, pos: f64) -> JsValue {
    g.map(|g| to_js(&g.at(pos.max(0.0) as u64))).unwrap_or(JsValue::NULL)
}

fn guest_find(g: Option<&mut Stepper>, from: f64, stops: &[u32]) -> JsValue {
    match g.map(|g| g.find(from.max(0.0) as u64, stops)) {
        Some(Ok(Some(p))) => JsValue::from_f64(p as f64),
        Some(Err(message)) => error(0, message),
        _ => JsValue::NULL,
    }
}

fn guest_memory(g: Option<&mut Stepper>, pos: f64, addr: u32, rows: u32) -> JsValue {
    match g.map(|g| g.memory(pos.max(0.0) as u64, addr, rows)) {
        Some(Ok(rows)) => to_js(&rows),
        Some(Err(message)) => error(0, message),
        None => JsValue::NULL,
    }
}

fn guest_symbol(g: Option<&Stepper>, name: &str) -> JsValue {
    g.and_then(|g| g.symbol(name.trim())).map(|a| JsValue::from_f64(a as f64)).unwrap_or(JsValue::NULL)
}

#[wasm_bindgen]
impl Simulator {
    /// A Launcher with `guest_mb` MB of Guest memory (0 for the default), before its first system call.
    #[wasm_bindgen(constructor)]
    pub fn new(guest_mb: u32) -> Simulator {
        let mb = if guest_mb == 0 { crate::params::DEFAULT_GUEST_MB } else { guest_mb };
        Simulator { play: FreePlay::new(mb) }
    }

    /// Run one scenario line. Returns the step (`{ ok, result, expected, message, sys, events, ... }`),
    /// `null` for a blank line or comment, or `{ ok: false, line, message }` if the line does not parse.
    pub fn exec(&mut self, line: &str) -> JsValue {
        match self.play.exec(line) {
            Ok(Some(step)) => to_js(&step),
            Ok(None) => JsValue::NULL,
            Err(e) => failed(e),
        }
    }

    /// [`Simulator::exec`] with a work budget of `units` for this line (`Simulator.sliceBudget()` for the
    /// page's slice): a `read` or `wait` that spends it with the Guest still running can go on (`goOn`).
    #[wasm_bindgen(js_name = execWithBudget)]
    pub fn exec_with_budget(&mut self, line: &str, units: f64) -> JsValue {
        match self.play.exec_with_budget(line, units.max(1.0) as u64) {
            Ok(Some(step)) => to_js(&step),
            Ok(None) => JsValue::NULL,
            Err(e) => failed(e),
        }
    }

    /// Go on with the last line for one more slice of `units`: its step, or `null` if it cannot go on.
    #[wasm_bindgen(js_name = goOn)]
    pub fn go_on(&mut self, units: f64) -> JsValue {
        self.play.go_on(units.max(1.0) as u64).map(|s| to_js(&s)).unwrap_or(JsValue::NULL)
    }

    /// Where the last line that runs in slices is: `{ source, task, slices, units, more, text }`, or `null`.
    #[wasm_bindgen(js_name = goingOn)]
    pub fn going_on(&self) -> JsValue {
        to_js(&self.play.going_on())
    }

    /// Stop the line that goes on in slices where it is; its progress, in words, or `null` if none goes on.
    pub fn stop(&mut self) -> JsValue {
        to_js(&self.play.stop())
    }

    /// The work budget of one of the page's slices (`params::PAGE_SLICE_BUDGET`).
    #[wasm_bindgen(js_name = sliceBudget)]
    pub fn slice_budget() -> f64 {
        crate::params::PAGE_SLICE_BUDGET as f64
    }

    /// Check that a whole scenario parses; `null` if it does, else the first error.
    pub fn check(&self, text: &str) -> JsValue {
        FreePlay::check(text).err().map(failed).unwrap_or(JsValue::NULL)
    }

    /// Undo the last line. Returns false if there is nothing to undo.
    pub fn back(&mut self) -> bool {
        self.play.back()
    }

    /// Start again from a fresh Launcher.
    pub fn reset(&mut self) {
        self.play.reset()
    }

    /// Lines executed so far.
    #[wasm_bindgen(js_name = stepCount)]
    pub fn step_count(&self) -> usize {
        self.play.step_count()
    }

    /// Every step so far.
    pub fn steps(&self) -> JsValue {
        to_js(&self.play.steps())
    }

    /// The machine's state now: tasks, files, struct lguest and lg_cpu, the eventfd map, allocations.
    pub fn snapshot(&self) -> JsValue {
        to_js(&self.play.snapshot())
    }

    /// Events with positions in `[from, to)`.
    pub fn events(&self, from: f64, to: f64) -> JsValue {
        let (from, to) = (from.max(0.0) as u64, to.max(0.0) as u64);
        let evs: Vec<_> = self.play.runner().kernel.log.iter().filter(|e| e.seq >= from && e.seq < to).collect();
        to_js(&evs)
    }

    /// The modelled kernel functions: name, journey tag, file, summary and a link to the real source.
    pub fn functions() -> JsValue {
        to_js(&crate::tags::functions())
    }

    /// Assemble a Guest program (GNU as source) into the main task's Guest memory, so the next INITIALIZE
    /// runs it. `null` if it loaded, else `{ ok: false, line: 0, message }` (each error names its line).
    #[wasm_bindgen(js_name = loadProgram)]
    pub fn load_program(&mut self, name: &str, source: &str) -> JsValue {
        self.play.load_program(name, source).err().map(|m| error(0, m)).unwrap_or(JsValue::NULL)
    }

    /// The Guest CPU (registers, flags, disassembly around EIP, source line, lguest_data), or `null`.
    pub fn cpu(&self) -> JsValue {
        to_js(&self.play.cpu())
    }

    /// The walkthrough's view of the machine after the last line (compared with the machine before it):
    /// its result, events, fields and what changed, console output so far, the Guest CPU.
    pub fn view(&self) -> JsValue {
        to_js(&self.play.view())
    }

    /// The Guest CPU after `pos` units of the last line's Guest work (see `Walkthrough.guestAt`).
    #[wasm_bindgen(js_name = guestAt)]
    pub fn guest_at(&mut self, pos: f64) -> JsValue {
        guest_at(self.play.guest(), pos)
    }

    /// The next position after `from` where the last line's Guest reaches one of `stops`, or `null`.
    #[wasm_bindgen(js_name = guestFind)]
    pub fn guest_find(&mut self, from: f64, stops: Vec<u32>) -> JsValue {
        guest_find(self.play.guest(), from, &stops)
    }

    /// Guest memory as the Guest sees it at `pos`: `rows` rows of 16 bytes from linear `addr`.
    #[wasm_bindgen(js_name = guestMemory)]
    pub fn guest_memory(&mut self, pos: f64, addr: u32, rows: u32) -> JsValue {
        guest_memory(self.play.guest(), pos, addr, rows)
    }

    /// The address of a label of the loaded program, or `null`.
    #[wasm_bindgen(js_name = guestSymbol)]
    pub fn guest_symbol(&mut self, name: &str) -> JsValue {
        guest_symbol(self.play.guest().map(|g| &*g), name)
    }

    /// A Guest program of the course by name (`guests/hello.S`), as source text, or `null`.
    #[wasm_bindgen(js_name = guestSource)]
    pub fn guest_source(name: &str) -> JsValue {
        crate::scenario::library::source(name).map(JsValue::from_str).unwrap_or(JsValue::NULL)
    }

    /// The Guest programs of the course, by name.
    pub fn guests() -> JsValue {
        to_js(&crate::scenario::library::GUESTS.iter().map(|(n, _)| *n).collect::<Vec<_>>())
    }

    /// What an errno means, by name (`"EINVAL"`), or `null`.
    #[wasm_bindgen(js_name = errnoMeaning)]
    pub fn errno_meaning(name: &str) -> JsValue {
        match crate::errno::Errno::from_name(name.trim_start_matches('-')) {
            Some(e) => JsValue::from_str(e.meaning()),
            None => JsValue::NULL,
        }
    }
}

/// A lesson of the embedded course being stepped through: one per walkthrough on a page. Every position
/// already visited is kept, so stepping back and jumping are instant.
#[wasm_bindgen]
pub struct Walkthrough {
    player: LessonPlayer,
}

#[wasm_bindgen]
impl Walkthrough {
    /// Open a lesson by id (`04-read-runs-the-guest`) at position 0; `undefined` if the course has none.
    pub fn open(id: &str) -> Option<Walkthrough> {
        LessonPlayer::open(id).ok().map(|player| Walkthrough { player })
    }

    /// Open a lesson given as text (`file` names it in messages: `week3/my.lesson`), its Guest programs in
    /// `guests` (`{ "guests/mine.S": source }`; a name not given comes from the course). Throws the problems
    /// (`[{ file, line, column, message }]`) if it does not parse or its `guest:` program does not load.
    #[wasm_bindgen(js_name = fromText)]
    pub fn from_text(text: &str, file: &str, guests: JsValue) -> Result<Walkthrough, JsValue> {
        LessonPlayer::from_text(text, file, guest_list(guests)).map(|player| Walkthrough { player }).map_err(|e| to_js(&e))
    }

    /// The course: `[{ id, title, goals, steps, guest }]`.
    pub fn lessons() -> JsValue {
        to_js(&crate::ui::lesson::lessons())
    }

    /// The course's lessons as `[{ id, title }]`, in order, without parsing them (a page's list of lessons).
    #[wasm_bindgen(js_name = lessonTitles)]
    pub fn lesson_titles() -> JsValue {
        #[derive(Serialize)]
        struct Title<'a> {
            id: &'a str,
            title: &'a str,
        }
        to_js(&crate::ui::lesson::lesson_titles().into_iter().map(|(id, title)| Title { id, title }).collect::<Vec<_>>())
    }

    /// The course's lesson ids, in order, without parsing the lessons.
    #[wasm_bindgen(js_name = lessonIds)]
    pub fn lesson_ids() -> Vec<String> {
        crate::ui::lesson::lesson_ids().into_iter().map(String::from).collect()
    }

    /// Our Rust source of a kernel function (`{ func, tag, file, line, text, link, summary }`) or `null`.
    #[wasm_bindgen(js_name = hostSource)]
    pub fn host_source(func: &str) -> JsValue {
        to_js(&crate::ui::lesson::host_source(func))
    }

    /// The lesson as parsed: title, goals, intro and steps (prose, question, lines, explanation).
    pub fn lesson(&self) -> JsValue {
        to_js(&self.player.lesson)
    }

    pub fn total(&self) -> usize {
        self.player.total()
    }

    pub fn position(&self) -> usize {
        self.player.position
    }

    /// Go to position `n` (steps taken, clamped) and return its view.
    #[wasm_bindgen(js_name = goTo)]
    pub fn go_to(&mut self, n: usize) -> JsValue {
        self.player.go_to(n);
        self.view()
    }

    /// Run to the next step where a `read()` returns to the Launcher (or the end) and return its view.
    #[wasm_bindgen(js_name = nextEvent)]
    pub fn next_event(&mut self) -> JsValue {
        self.player.next_event();
        self.view()
    }

    /// Free play from here: a Simulator holding a copy of the machine at the current position.
    #[wasm_bindgen(js_name = freePlay)]
    pub fn free_play(&self) -> Simulator {
        Simulator { play: FreePlay::from(self.player.runner().clone(), crate::params::DEFAULT_GUEST_MB) }
    }

    /// What the page shows at the current position (see `view::StepView`).
    pub fn view(&self) -> JsValue {
        to_js(&self.player.view())
    }

    /// The Guest CPU after `pos` units of the current step's Guest work (instructions and `rep` iterations):
    /// `{ position, total, trip, trips, regs, flags, listing, sourceLine, stack, last, error }`, or `null` if
    /// the step ran no Guest code.
    #[wasm_bindgen(js_name = guestAt)]
    pub fn guest_at(&mut self, pos: f64) -> JsValue {
        guest_at(self.player.guest(), pos)
    }

    /// The next position after `from` in the current step where the Guest is about to execute an instruction
    /// at one of `stops` (Guest addresses), or `null`.
    #[wasm_bindgen(js_name = guestFind)]
    pub fn guest_find(&mut self, from: f64, stops: Vec<u32>) -> JsValue {
        guest_find(self.player.guest(), from, &stops)
    }

    /// The first position in step `step` (1-based) where the Guest reaches one of `stops`, or `null`: what
    /// Play and "run to the next read()" use to stop at a Guest-address breakpoint.
    #[wasm_bindgen(js_name = guestFindInStep)]
    pub fn guest_find_in_step(&mut self, step: usize, stops: Vec<u32>) -> JsValue {
        match self.player.guest_of_step(step).map(|g| g.first_hit(&stops)) {
            Some(Ok(Some(p))) => JsValue::from_f64(p as f64),
            Some(Err(message)) => error(0, message),
            _ => JsValue::NULL,
        }
    }

    /// Guest memory as the Guest sees it at `pos` of the current step: `rows` rows of 16 bytes from `addr`.
    #[wasm_bindgen(js_name = guestMemory)]
    pub fn guest_memory(&mut self, pos: f64, addr: u32, rows: u32) -> JsValue {
        guest_memory(self.player.guest(), pos, addr, rows)
    }

    /// The address of a label of the lesson's Guest program (`top`), or `null`.
    #[wasm_bindgen(js_name = guestSymbol)]
    pub fn guest_symbol(&mut self, name: &str) -> JsValue {
        self.player.program_symbol(name.trim()).map(|a| JsValue::from_f64(a as f64)).unwrap_or(JsValue::NULL)
    }

    /// The view of position `n` without moving there (the page computes the next step's while the student reads).
    #[wasm_bindgen(js_name = viewAt)]
    pub fn view_at(&mut self, n: usize) -> JsValue {
        to_js(&self.player.view_at(n))
    }

    /// Move to position `n` (clamped) without building its view (the page has it already); the position.
    #[wasm_bindgen(js_name = moveTo)]
    pub fn move_to(&mut self, n: usize) -> usize {
        self.player.go_to(n)
    }
}

// ---- lessons given as text (a page's `src`, a script's text, the author's page, `lguest-sim-check`) -------

/// `{ name: source }` from the page as (name, source) pairs: entries whose value is not a string, and anything
/// but an object, are no programs. (Read with js-sys rather than serde: a deserializer would cost the page
/// about 10 KB of wasm for one map of strings.)
fn guest_list(guests: JsValue) -> Vec<(String, String)> {
    if !guests.is_object() {
        return Vec::new();
    }
    js_sys::Object::entries(&js_sys::Object::from(guests))
        .iter()
        .filter_map(|e| {
            let pair = js_sys::Array::from(&e);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

/// Check a lesson given as text as `lguest-sim check` checks a file (see `check::check_text`):
/// `{ ok, parses, id, title, steps, lines, problems: [{ file, line, column, message }] }`.
#[wasm_bindgen(js_name = checkLesson)]
pub fn check_lesson(text: &str, file: &str, guests: JsValue) -> JsValue {
    to_js(&crate::scenario::check::check_text(text, file, &guest_list(guests)))
}

/// The Guest programs a lesson's text names (`guest:` and `load` lines), for a page to fetch beside it.
#[wasm_bindgen(js_name = lessonGuests)]
pub fn lesson_guests(text: &str, file: &str) -> JsValue {
    to_js(&crate::scenario::check::guests_named(text, file))
}

/// A steppable run of the RCU model of the eventfd map (one lane per simulated CPU), usually the shortest
/// counterexample the explorer found.
#[wasm_bindgen]
pub struct RcuRun {
    run: crate::ui::rcu::RcuPlayer,
}

#[wasm_bindgen]
impl RcuRun {
    /// Explore every interleaving of `readers` and `writers` on `cpus` CPUs with the code `variant` under
    /// `memory` (`sc` or `weak`), `initial` entries in the map at the start:
    /// `{ schedules, states, checks: [{ name, schedules, counterexample, length }] }`, or `{ ok: false, message }`.
    pub fn explore(variant: &str, memory: &str, readers: u8, writers: u8, cpus: u8, initial: u8) -> JsValue {
        match crate::ui::rcu::rcu_scenario(variant, memory, readers, writers, cpus, initial).and_then(|sc| crate::ui::rcu::rcu_explore(&sc)) {
            Ok(r) => to_js(&r),
            Err(message) => error(0, message),
        }
    }

    /// The code variants the explorer knows (`correct`, `no-synchronize-rcu`, ...).
    pub fn variants() -> JsValue {
        to_js(&crate::rcu::Variant::ALL.iter().map(|v| v.name()).collect::<Vec<_>>())
    }

    /// A run at its start that will follow `schedule` (`"0 0 1 1:1"`); `undefined` if the choices are invalid.
    pub fn open(variant: &str, memory: &str, readers: u8, writers: u8, cpus: u8, initial: u8, schedule: &str) -> Option<RcuRun> {
        let sc = crate::ui::rcu::rcu_scenario(variant, memory, readers, writers, cpus, initial).ok()?;
        crate::ui::rcu::RcuPlayer::new(&sc, schedule).ok().map(|run| RcuRun { run })
    }

    /// Take the schedule's next step; `null` if done, else `{ ok: false, message }`.
    pub fn step(&mut self) -> JsValue {
        self.step_result(None)
    }

    /// Run CPU `cpu` next (leaving the schedule if it said otherwise).
    #[wasm_bindgen(js_name = stepCpu)]
    pub fn step_cpu(&mut self, cpu: u8) -> JsValue {
        self.step_result(Some(cpu))
    }

    pub fn back(&mut self) -> bool {
        self.run.back()
    }

    /// `{ position, length, snapshot: { cpus, tasks, versions, gracePeriods, violations, ... }, last }`.
    pub fn view(&self) -> JsValue {
        to_js(&self.run.view())
    }
}

impl RcuRun {
    fn step_result(&mut self, cpu: Option<u8>) -> JsValue {
        match self.run.step(cpu) {
            Ok(()) => JsValue::NULL,
            Err(message) => error(0, message),
        }
    }
}

/// The explorer for the page, in slices (see [`crate::ui::rcu::RcuExploring`]): `new RcuExplore(...)` with
/// the arguments of `RcuRun.explore`, then `run()` until `done`; drop it (`free()`) to stop.
#[wasm_bindgen]
pub struct RcuExplore {
    ex: crate::ui::rcu::RcuExploring,
}

#[wasm_bindgen]
impl RcuExplore {
    #[wasm_bindgen(constructor)]
    pub fn new(variant: &str, memory: &str, readers: u8, writers: u8, cpus: u8, initial: u8) -> RcuExplore {
        let ex = match crate::ui::rcu::rcu_scenario(variant, memory, readers, writers, cpus, initial) {
            Ok(sc) => crate::ui::rcu::RcuExploring::new(&sc),
            Err(e) => crate::ui::rcu::RcuExploring::failed(e),
        };
        RcuExplore { ex }
    }

    /// One slice (`params::EXPLORE_SLICE` model steps): `{ done, states, schedules, steps, report, error }`,
    /// `report` as `RcuRun.explore` gives it once done, `error` if it cannot finish.
    pub fn run(&mut self) -> JsValue {
        to_js(&self.ex.run(crate::params::EXPLORE_SLICE))
    }
}

/// Boot an ELF32 Guest as `lguest-sim run` does and run it to its end: `{ stdout, stderr, exitCode,
/// instructions }` (stdout and stderr as text). For benchmarks (`tests/bench/run-elf.mjs`): the page never
/// calls it, and one call runs until the Guest stops, however long that takes.
#[wasm_bindgen(js_name = runElf)]
pub fn run_elf(image: &[u8], mem_mb: u32, stdin: &[u8]) -> JsValue {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Ran {
        stdout: String,
        stderr: String,
        exit_code: i32,
        instructions: f64,
    }
    let mb = if mem_mb == 0 { crate::params::DEFAULT_GUEST_MB } else { mem_mb };
    let r = crate::scenario::launch::launch_with_stdin(image, mb, stdin);
    to_js(&Ran { stdout: String::from_utf8_lossy(&r.stdout).into_owned(), stderr: r.stderr, exit_code: r.exit_code, instructions: r.instructions as f64 })
}

/// The crate version, for the page footer.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
