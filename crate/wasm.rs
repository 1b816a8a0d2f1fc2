//! The one boundary between the core and JavaScript (the only module that names wasm-bindgen).
//!
//! JavaScript gets a `Simulator`: it feeds scenario lines in and gets plain objects out (steps, snapshots,
//! events), built by `serde-wasm-bindgen` from the core's serde structs. Errors come back as values the page
//! can show (`{ ok: false, message }`), never as exceptions from a panic.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::scenario::{parse, Runner};
use crate::snapshot::Snapshot;

fn to_js<T: Serialize>(v: &T) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineError {
    ok: bool,
    line: usize,
    message: String,
}

/// A simulated machine with its history, for the page.
#[wasm_bindgen]
pub struct Simulator {
    runner: Runner,
    /// The machine before each executed line, so `back()` is instant.
    history: Vec<Runner>,
    guest_mb: u32,
}

#[wasm_bindgen]
impl Simulator {
    /// A Launcher with `guest_mb` MB of Guest memory (0 for the default), before its first system call.
    #[wasm_bindgen(constructor)]
    pub fn new(guest_mb: u32) -> Simulator {
        let mb = if guest_mb == 0 { crate::params::DEFAULT_GUEST_MB } else { guest_mb };
        Simulator { runner: Runner::new(mb), history: Vec::new(), guest_mb: mb }
    }

    /// Run one scenario line. Returns the step (`{ ok, result, expected, message, sys, events, ... }`),
    /// `null` for a blank line or comment, or `{ ok: false, line, message }` if the line does not parse.
    pub fn exec(&mut self, line: &str) -> JsValue {
        let number = self.history.len() + 1;
        match crate::scenario::parse_line(number, line) {
            Ok(None) => JsValue::NULL,
            Ok(Some(l)) => {
                self.history.push(self.runner.clone());
                to_js(&self.runner.run_line(&l))
            }
            Err(e) => to_js(&LineError { ok: false, line: e.line, message: e.message }),
        }
    }

    /// Check that a whole scenario parses; `null` if it does, else the first error.
    pub fn check(&self, text: &str) -> JsValue {
        match parse(text) {
            Ok(_) => JsValue::NULL,
            Err(e) => to_js(&LineError { ok: false, line: e.line, message: e.message }),
        }
    }

    /// Undo the last line. Returns false if there is nothing to undo.
    pub fn back(&mut self) -> bool {
        match self.history.pop() {
            Some(r) => {
                self.runner = r;
                true
            }
            None => false,
        }
    }

    /// Start again from a fresh Launcher.
    pub fn reset(&mut self) {
        self.runner = Runner::new(self.guest_mb);
        self.history.clear();
    }

    /// Lines executed so far.
    #[wasm_bindgen(js_name = stepCount)]
    pub fn step_count(&self) -> usize {
        self.runner.steps.len()
    }

    /// Every step so far.
    pub fn steps(&self) -> JsValue {
        to_js(&self.runner.steps)
    }

    /// The machine's state now: tasks, files, struct lguest and lg_cpu, the eventfd map, allocations.
    pub fn snapshot(&self) -> JsValue {
        to_js(&Snapshot::of(&self.runner.machine))
    }

    /// Events with positions in `[from, to)`.
    pub fn events(&self, from: f64, to: f64) -> JsValue {
        let (from, to) = (from.max(0.0) as u64, to.max(0.0) as u64);
        let evs: Vec<_> = self.runner.machine.log.events.iter().filter(|e| e.seq >= from && e.seq < to).collect();
        to_js(&evs)
    }

    /// The modelled kernel functions: name, journey tag, file, summary and a link to the real source.
    pub fn functions() -> JsValue {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct F {
            func: &'static str,
            tag: &'static str,
            file: &'static str,
            summary: &'static str,
            link: Option<String>,
        }
        let v: Vec<F> = crate::host::tags::FUNCS
            .iter()
            .map(|f| F { func: f.func, tag: f.tag, file: f.file, summary: f.summary, link: crate::host::tags::source_link(f.func) })
            .collect();
        to_js(&v)
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

/// The crate version, for the page footer.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
