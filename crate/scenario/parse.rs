//! Reading the scenario language: one Launcher action a line, optionally `=> expected result`.
//!
//! The grammar is documented in `lessons/README.md`. Every error names the line and what was expected, so
//! a course author can fix a lesson from the message alone.

use crate::errno::Errno;
use crate::lguest::hypercalls::{self, hcall_by_name};
use crate::lguest::lguest_user::{LHREQ_BREAK, LHREQ_EVENTFD, LHREQ_GETDMA, LHREQ_INITIALIZE, LHREQ_IRQ};

/// Where the system call's argument buffer is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BufPlace {
    /// The start of the Launcher's scratch buffer (everything after the words is mapped, and zero).
    Scratch,
    /// Right at the end of the mapped scratch page: exactly the words given are readable, the next is not.
    Edge,
    /// A raw address (0 for NULL, or any unmapped address).
    At(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOpts {
    /// Descriptor; `None` means the most recently opened `/dev/lguest`.
    pub fd: Option<i32>,
    /// File offset: the cpu number.
    pub cpu: u64,
    pub buf: BufPlace,
    pub len: Option<u32>,
}

impl Default for CallOpts {
    fn default() -> Self {
        CallOpts { fd: None, cpu: 0, buf: BufPlace::Scratch, len: None }
    }
}

/// One thing a scenario line does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Open,
    /// `write`: the words (request first) the Launcher puts in its buffer. `defaults` lists the words the
    /// line left out, which the runner fills as the real Launcher would (INITIALIZE's base, pfnlimit, start).
    Write {
        words: Vec<u32>,
        opts: CallOpts,
        defaults: Vec<usize>,
    },
    /// `load NAME`: put a Guest program in the Launcher's Guest memory (assembled if it is source).
    Load {
        name: String,
    },
    Read {
        opts: CallOpts,
    },
    Close {
        fd: Option<i32>,
    },
    Eventfd,
    EventfdRead {
        fd: i32,
    },
    EventfdWrite {
        fd: i32,
        value: u64,
    },
    Thread {
        name: String,
    },
    Process {
        name: String,
    },
    Signal {
        task: Option<String>,
    },
    Wait {
        task: Option<String>,
    },
    Exit,
    Advance {
        ns: u64,
    },
    InjectKmallocFailure {
        nth: u32,
    },
    /// The scripted Guest's next action.
    Guest(GuestLine),
    /// `expect name = value`: a state check.
    Expect {
        field: String,
        value: String,
    },
    /// `launcher ...`: a step of the Launcher's own code (its devices), not a single system call.
    Launcher(LauncherLine),
    /// `boot [paravirt] [syscall_vector=N]`: the machine starts afresh (the scenario's first line only): on a
    /// Host that is itself a paravirtualized guest, or not, with lguest loaded at boot with `args`, as
    /// `options lguest ...` in modprobe.conf would give them.
    Boot {
        paravirt: bool,
        args: String,
    },
    /// `insmod lguest [PARAM=VALUE ...]`: `init_module()` with those parameters.
    Insmod {
        module: String,
        args: String,
    },
    /// `rmmod lguest`: `delete_module()` with `O_NONBLOCK`, as `rmmod` asks.
    Rmmod {
        module: String,
    },
}

/// The Launcher's device code, run as the real one would (crate::launcher::devices).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LauncherLine {
    /// `launcher devices`: `main()`'s devices page and `setup_console()`, before `LHREQ_INITIALIZE`.
    Devices,
    /// `launcher handle-output [ADDR]`: `handle_output()` of ADDR, by default the address the last `read()`
    /// returned.
    HandleOutput { addr: Option<u32> },
    /// `launcher stdin "text"`: type at the Launcher's terminal (the console's input).
    Stdin { text: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestLine {
    Hypercall {
        nr: u32,
        args: [u32; 4],
    },
    /// `guest async NAME|N args...`: the Guest kernel's `async_hcall()`: queued in the ring if its next slot
    /// is free, made at once if the ring is full.
    Async {
        nr: u32,
        args: [u32; 4],
    },
    /// What a Guest's boot code does: prepare `lguest_data` (async ring free, syscall vector 0x80), then
    /// LHCALL_LGUEST_INIT with its address. A bare `guest hypercall LGUEST_INIT` skips the preparation.
    Init {
        lguest_data: u32,
        /// The system-call vector it asks for (`syscall_vec=`; Linux's 0x80 unless told).
        syscall_vec: u32,
    },
    Store {
        gpa: u32,
        text: String,
    },
    Trap {
        num: u32,
        errcode: u32,
    },
    /// SHUTDOWN with a message: the message is stored in Guest memory first, then the call is made.
    Shutdown {
        msg: String,
        restart: bool,
    },
    /// The Guest's own stores of 32-bit words (to fill `lguest_data` fields, say).
    Poke {
        gpa: u32,
        words: Vec<u32>,
    },
    /// The Guest loads its stack pointer (so an interrupt frame has somewhere to go).
    Stack {
        esp: u32,
    },
}

/// What the line says the result must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Ret(i64),
    Err(Errno),
    Blocked,
    /// Also check extra fields: `notify=0x7000`, `reason="..."`, `count=1`.
    With(Box<Expect>, Vec<(String, String)>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the source.
    pub number: usize,
    pub source: String,
    /// The action as written, without its `=> ...` expectation or comment (`as dev: write IRQ 1`).
    pub action_text: String,
    /// `as TASK:` prefix; `None` means `main`.
    pub task: Option<String>,
    pub action: Action,
    pub expect: Option<Expect>,
}

/// A line that does not parse (see [`crate::diagnostic`]).
pub type ParseError = crate::diagnostic::Diagnostic;

/// Split a line into words, keeping "quoted strings" (with \n, \t, \0, \xHH, \" and \\ escapes) as one word.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_word = true;
                cur.push('"');
                loop {
                    match chars.next() {
                        None => return Err("a quoted string is not closed (missing \")".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => cur.push('\n'),
                            Some('t') => cur.push('\t'),
                            Some('0') => cur.push('\0'),
                            // `\x41`: one byte by its hex value. A quoted string is stored as UTF-8, so only
                            // 0x00-0x7f are single bytes; higher values would become two.
                            Some('x') => {
                                let hex: String = chars.by_ref().take(2).collect();
                                match u8::from_str_radix(&hex, 16) {
                                    Ok(b) if b < 0x80 => cur.push(b as char),
                                    Ok(_) => return Err(format!("\\x{hex}: a quoted string holds bytes 0x00 to 0x7f only")),
                                    Err(_) => return Err(format!("\\x{hex}: \\x takes two hex digits, e.g. \\x01")),
                                }
                            }
                            Some(o) => cur.push(o),
                            None => return Err("a quoted string ends in a lone backslash".into()),
                        },
                        Some(o) => cur.push(o),
                    }
                }
                cur.push('"');
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// A number in decimal, `0x` hex, or negative decimal (stored as two's complement, as `unsigned long`).
pub fn num(s: &str) -> Result<u64, String> {
    let t = s.replace('_', "");
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(n) = t.strip_prefix('-') {
        n.parse::<u64>().ok().map(|v| (v as i64).wrapping_neg() as u64)
    } else {
        t.parse::<u64>().ok()
    };
    r.ok_or_else(|| format!("{s:?} is not a number (write 42, 0x2a or -1)"))
}

fn num32(s: &str) -> Result<u32, String> {
    let v = num(s)?;
    if v > u32::MAX as u64 && (v as i64) < i32::MIN as i64 {
        return Err(format!("{s} does not fit in 32 bits (unsigned long on i386)"));
    }
    Ok(v as u32)
}

fn unquote(s: &str) -> Option<String> {
    s.strip_prefix('"').and_then(|r| r.strip_suffix('"')).map(|r| r.to_string())
}

fn key_value(w: &str) -> Option<(&str, &str)> {
    let (k, v) = w.split_once('=')?;
    (!k.is_empty()).then_some((k, v))
}

/// Pull `fd= cpu= buf= len=` options out of `ws`, leaving the rest.
fn take_opts(ws: &mut Vec<String>) -> Result<CallOpts, String> {
    let mut o = CallOpts::default();
    let mut rest = Vec::new();
    for w in ws.drain(..) {
        match key_value(&w) {
            Some(("file", v)) => o.fd = Some(num(v)? as i32),
            Some(("cpu", v)) => o.cpu = num(v)?,
            Some(("len", v)) => o.len = Some(num32(v)?),
            Some(("buf", v)) => {
                o.buf = match v {
                    "edge" => BufPlace::Edge,
                    "null" | "NULL" => BufPlace::At(0),
                    other => BufPlace::At(num32(other)?),
                }
            }
            _ => rest.push(w),
        }
    }
    *ws = rest;
    Ok(o)
}

fn named_args(ws: &[String], names: &[&str], defaults: &[Option<u32>]) -> Result<Vec<u32>, String> {
    let mut vals: Vec<Option<u32>> = defaults.to_vec();
    let mut pos = 0;
    for w in ws {
        if let Some((k, v)) = key_value(w) {
            let i = names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(k))
                .ok_or_else(|| format!("unknown argument {k:?}; this request takes {}", names.join(", ")))?;
            vals[i] = Some(num32(v)?);
        } else {
            if pos >= names.len() {
                return Err(format!("too many arguments; this request takes {}", names.join(", ")));
            }
            vals[pos] = Some(num32(w)?);
            pos += 1;
        }
    }
    vals.iter().zip(names).map(|(v, n)| v.ok_or_else(|| format!("missing argument {n}"))).collect()
}

fn parse_write(mut ws: Vec<String>) -> Result<Action, String> {
    let opts = take_opts(&mut ws)?;
    if ws.is_empty() {
        return Err("write needs a request: INITIALIZE, IRQ, EVENTFD, GETDMA, BREAK, or a number".into());
    }
    let req = ws.remove(0);
    let mut defaults = Vec::new();
    let words = match req.to_ascii_uppercase().trim_start_matches("LHREQ_") {
        "INITIALIZE" => {
            // Defaults are what the real Launcher would send for the Guest memory this scenario mapped and
            // the program it loaded; the runner fills in the words left out.
            let names = ["base", "pfnlimit", "start"];
            let given: Vec<bool> = names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    ws.iter().any(|w| key_value(w).map(|(k, _)| k.eq_ignore_ascii_case(n)).unwrap_or(false))
                        || ws.iter().filter(|w| key_value(w).is_none()).count() > i
                })
                .collect();
            let v = named_args(&ws, &names, &[Some(0), Some(0), Some(0)])?;
            defaults = (0..3).filter(|i| !given[*i]).map(|i| i + 1).collect();
            vec![LHREQ_INITIALIZE, v[0], v[1], v[2]]
        }
        "IRQ" => {
            let v = named_args(&ws, &["irq"], &[None])?;
            vec![LHREQ_IRQ, v[0]]
        }
        "EVENTFD" => {
            let v = named_args(&ws, &["addr", "fd"], &[None, None])?;
            vec![LHREQ_EVENTFD, v[0], v[1]]
        }
        "GETDMA" | "BREAK" => {
            let r = if req.to_ascii_uppercase().ends_with("GETDMA") { LHREQ_GETDMA } else { LHREQ_BREAK };
            let mut w = vec![r];
            for x in &ws {
                w.push(num32(x)?);
            }
            w
        }
        _ => {
            let hint = crate::diagnostic::did_you_mean(&req, &["INITIALIZE", "IRQ", "EVENTFD", "GETDMA", "BREAK"]);
            let r = num32(&req).map_err(|_| format!("unknown request {req:?}{hint}: use INITIALIZE, IRQ, EVENTFD, GETDMA, BREAK or a number"))?;
            let mut w = vec![r];
            for x in &ws {
                w.push(num32(x)?);
            }
            w
        }
    };
    Ok(Action::Write { words, opts, defaults })
}

fn parse_guest(ws: &[String]) -> Result<GuestLine, String> {
    let Some(what) = ws.first() else {
        return Err("guest needs an action: init, notify, halt, shutdown, hypercall, async, store, poke, stack, trap, clock".into());
    };
    if what == "hypercall" || what == "async" {
        let name = ws.get(1).ok_or_else(|| format!("guest {what} needs a number or a name such as NOTIFY"))?;
        let nr = match hcall_by_name(name) {
            Some(n) => n,
            None => num32(name).map_err(|_| format!("{name:?} is neither a hypercall name nor a number"))?,
        };
        let rest: Vec<u32> = ws[2..].iter().map(|w| num32(w)).collect::<Result<_, _>>()?;
        if rest.len() > 4 {
            return Err("a hypercall takes at most four arguments (ebx, ecx, edx, esi)".into());
        }
        let mut args = [0u32; 4];
        args[..rest.len()].copy_from_slice(&rest);
        if what == "async" {
            return Ok(GuestLine::Async { nr, args });
        }
        return Ok(GuestLine::Hypercall { nr, args });
    }
    if what == "init" {
        let mut syscall_vec = hypercalls::SYSCALL_VECTOR;
        let mut at = None;
        for w in &ws[1..] {
            match key_value(w) {
                Some(("syscall_vec", v)) => syscall_vec = num32(v)?,
                Some((k, _)) => {
                    let hint = crate::diagnostic::did_you_mean(k, &["syscall_vec"]);
                    return Err(format!("guest init takes an address and syscall_vec=N; found {k:?}{hint}"));
                }
                None if at.is_none() => at = Some(num32(w)?),
                None => return Err(format!("guest init takes one address; found also {w:?}")),
            }
        }
        let lguest_data = at.ok_or("guest init needs the Guest-physical address of lguest_data")?;
        return Ok(GuestLine::Init { lguest_data, syscall_vec });
    }
    let args: Vec<u32> = ws[1..].iter().filter(|w| !w.starts_with('"') && *w != "restart").map(|w| num32(w)).collect::<Result<_, _>>()?;
    let arg = |i: usize, name: &str| args.get(i).copied().ok_or_else(|| format!("guest {what} needs {name}"));
    let call = |nr: u32, a: &[u32]| {
        let mut args = [0u32; 4];
        for (i, v) in a.iter().take(4).enumerate() {
            args[i] = *v;
        }
        GuestLine::Hypercall { nr, args }
    };
    Ok(match what.as_str() {
        "notify" => call(hypercalls::LHCALL_NOTIFY, &[arg(0, "the address to notify")?]),
        "halt" => call(hypercalls::LHCALL_HALT, &[]),
        "clock" => call(hypercalls::LHCALL_SET_CLOCKEVENT, &[arg(0, "a delay in ns")?]),
        "shutdown" => {
            let msg = ws.iter().find_map(|w| unquote(w)).unwrap_or_else(|| "Power down".into());
            GuestLine::Shutdown { msg, restart: ws.iter().any(|w| w == "restart") }
        }
        "store" => {
            let text = ws.iter().find_map(|w| unquote(w)).ok_or("guest store needs a \"quoted string\"")?;
            GuestLine::Store { gpa: arg(0, "a Guest-physical address")?, text }
        }
        "poke" => {
            let gpa = arg(0, "a Guest-physical address")?;
            if args.len() < 2 {
                return Err("guest poke needs an address and at least one 32-bit word".into());
            }
            GuestLine::Poke { gpa, words: args[1..].to_vec() }
        }
        "stack" => GuestLine::Stack { esp: arg(0, "a stack pointer")? },
        "trap" => GuestLine::Trap { num: arg(0, "a trap number")?, errcode: args.get(1).copied().unwrap_or(0) },
        other => {
            let hint = crate::diagnostic::did_you_mean(
                other,
                &["init", "notify", "halt", "shutdown", "hypercall", "async", "store", "poke", "stack", "trap", "clock"],
            );
            return Err(format!("unknown guest action {other:?}{hint}: use init, notify, halt, shutdown, hypercall, async, store, poke, stack, trap or clock"));
        }
    })
}

fn parse_launcher(ws: &[String]) -> Result<LauncherLine, String> {
    match ws.first().map(String::as_str) {
        Some(_) if ws.len() > 2 || (ws.len() > 1 && ws[0] == "devices") => Err(format!(
            "launcher {} takes {}; found also {:?}",
            ws[0],
            if ws[0] == "devices" { "nothing" } else { "one argument" },
            ws[if ws[0] == "devices" { 1 } else { 2 }..].join(" ")
        )),
        Some("devices") => Ok(LauncherLine::Devices),
        Some("handle-output") => Ok(LauncherLine::HandleOutput { addr: ws.get(1).map(|w| num32(w)).transpose()? }),
        Some("stdin") => {
            let text = ws.get(1).and_then(|w| unquote(w)).ok_or("launcher stdin needs a \"quoted string\"")?;
            Ok(LauncherLine::Stdin { text })
        }
        other => {
            let hint = other.map(|o| crate::diagnostic::did_you_mean(o, &["devices", "handle-output", "stdin"])).unwrap_or_default();
            Err(format!("launcher takes `devices`, `handle-output [ADDR]` or `stdin \"TEXT\"`{hint}"))
        }
    }
}

/// The module a line of `insmod`/`rmmod` names: `lguest` (or its file, `lguest.ko`).
fn module_name(verb: &str, rest: &[String]) -> Result<String, String> {
    let Some(name) = rest.first() else {
        return Err(format!("{verb} needs a module: `{verb} lguest`"));
    };
    match crate::kernel::module::find(name) {
        Some(m) => Ok(m.name.to_string()),
        None => {
            let names: Vec<&str> = crate::kernel::drivers::MODULES.iter().map(|m| m.name).collect();
            let hint = crate::diagnostic::did_you_mean(name, &names);
            Err(format!("{verb}: there is no module {name:?}{hint}; this kernel's only module is {}", names.join(", ")))
        }
    }
}

fn parse_insmod(rest: &[String]) -> Result<Action, String> {
    let module = module_name("insmod", rest)?;
    for w in &rest[1..] {
        if w.starts_with('=') || w.contains(char::is_whitespace) {
            return Err(format!("insmod: {w:?} is not a parameter; write NAME=VALUE, e.g. `insmod lguest syscall_vector=0x40`"));
        }
    }
    Ok(Action::Insmod { module, args: rest[1..].join(" ") })
}

/// `boot` options: `paravirt`, and lguest's parameters (`syscall_vector=N`, also spelt
/// `lguest.syscall_vector=N` as on a kernel command line).
fn parse_boot(rest: &[String]) -> Result<Action, String> {
    let mut paravirt = false;
    let mut args = Vec::new();
    let params = crate::kernel::module::find("lguest").map(|m| m.params).unwrap_or(&[]);
    for w in rest {
        if w == "paravirt" {
            paravirt = true;
            continue;
        }
        let (k, v) = match key_value(w) {
            // parse_args() reads a dash in a name as an underscore (parameq()).
            Some((k, v)) => (k.strip_prefix("lguest.").unwrap_or(k), v),
            None => {
                let hint = crate::diagnostic::did_you_mean(w, &["paravirt"]);
                return Err(format!("unknown boot option {w:?}{hint}: use paravirt, or a parameter of lguest as NAME=VALUE ({})", params.join(", ")));
            }
        };
        let k = k.replace('-', "_");
        let k = k.as_str();
        if !params.contains(&k) {
            let hint = crate::diagnostic::did_you_mean(k, params);
            return Err(format!("boot: lguest has no parameter {k:?}{hint}; it has {}", params.join(", ")));
        }
        if v.is_empty() {
            return Err(format!("boot: {k}= needs a value, e.g. {k}=0x40"));
        }
        args.push(format!("{k}={v}"));
    }
    Ok(Action::Boot { paravirt, args: args.join(" ") })
}

/// Parse the part after `=>`.
pub fn parse_expect(s: &str) -> Result<Expect, String> {
    let ws = words(s)?;
    let Some(first) = ws.first() else { return Err("nothing after =>".into()) };
    let (base, rest) = if first == "blocked" {
        (Expect::Blocked, &ws[1..])
    } else if first == "fd" {
        let n = ws.get(1).ok_or("fd needs a number")?;
        (Expect::Ret(num(n)? as i64), &ws[2..])
    } else if let Some(name) = first.strip_prefix('-').filter(|n| n.chars().all(|c| c.is_ascii_uppercase())) {
        let e = Errno::from_name(name).ok_or_else(|| format!("unknown errno -{name}"))?;
        (Expect::Err(e), &ws[1..])
    } else if let Some(e) = Errno::from_name(first.trim_start_matches('-')) {
        // `=> EINVAL`: a system call returns the negative errno, so the result is written `-EINVAL`.
        return Err(format!("{first:?} is not a result: an errno comes back negative, write -{}", e.name()));
    } else {
        (Expect::Ret(num(first)? as i64), &ws[1..])
    };
    if rest.is_empty() {
        return Ok(base);
    }
    let mut extra = Vec::new();
    for w in rest {
        let (k, v) = key_value(w).ok_or_else(|| format!("expected name=value after the result, found {w:?}"))?;
        if !["notify", "reason", "count", "console"].contains(&k) {
            let hint = crate::diagnostic::did_you_mean(k, &["notify", "reason", "count", "console"]);
            return Err(format!("unknown result field {k:?}{hint}: use notify=, reason=, count= or console="));
        }
        extra.push((k.to_string(), unquote(v).unwrap_or_else(|| v.to_string())));
    }
    Ok(Expect::With(Box::new(base), extra))
}

/// Parse one line; `Ok(None)` for blank lines and comments.
pub fn parse_line(number: usize, src: &str) -> Result<Option<Line>, ParseError> {
    let err = |message: String| ParseError::line(number, message);
    let code = strip_comment(src);
    let code = code.trim();
    if code.is_empty() {
        return Ok(None);
    }
    let (action_src, expect) = match code.split_once("=>") {
        Some((a, e)) => (a.trim(), Some(parse_expect(e.trim()).map_err(err)?)),
        None => (code, None),
    };
    let mut ws = words(action_src).map_err(err)?;
    let mut task = None;
    if ws.first().map(|w| w == "as").unwrap_or(false) {
        let name = ws.get(1).ok_or_else(|| err("`as` needs a task name, e.g. `as dev: write IRQ 1`".into()))?;
        let name = name.strip_suffix(':').ok_or_else(|| err("write `as TASK:` with a colon after the task name".into()))?;
        task = Some(name.to_string());
        ws.drain(..2);
    }
    let Some(verb) = ws.first().cloned() else { return Err(err("a task but no action".into())) };
    let rest: Vec<String> = ws[1..].to_vec();
    let one_name = |rest: &[String], what: &str| rest.first().cloned().ok_or_else(|| format!("{verb} needs {what}"));
    let action = match verb.as_str() {
        "open" => no_more(&rest, 0, "open takes nothing").map(|_| Action::Open).map_err(err)?,
        "write" => parse_write(rest).map_err(err)?,
        "read" => {
            let mut r = rest;
            let opts = take_opts(&mut r).map_err(err)?;
            if let Some(w) = r.first() {
                return Err(err(format!("read takes only file=, cpu=, buf=, len=; found {w:?}")));
            }
            Action::Read { opts }
        }
        "close" if rest.len() > 1 => return Err(err(format!("close takes one descriptor; found also {:?}", rest[1..].join(" ")))),
        "close" => Action::Close { fd: rest.first().map(|w| num(w).map(|v| v as i32)).transpose().map_err(err)? },
        "eventfd" => no_more(&rest, 0, "eventfd takes nothing (eventfd-read FD and eventfd-write FD N act on one)").map(|_| Action::Eventfd).map_err(err)?,
        "load" if rest.len() > 1 => return Err(err(format!("load takes one Guest program; found also {:?}", rest[1..].join(" ")))),
        "load" => Action::Load { name: one_name(&rest, "a Guest program, e.g. guests/hello.S").map_err(err)? },
        "eventfd-read" => Action::EventfdRead { fd: num(&one_name(&rest, "a descriptor").map_err(err)?).map_err(err)? as i32 },
        "eventfd-write" => Action::EventfdWrite {
            fd: num(&one_name(&rest, "a descriptor").map_err(err)?).map_err(err)? as i32,
            value: rest.get(1).map(|v| num(v)).transpose().map_err(err)?.unwrap_or(1),
        },
        "thread" if rest.len() > 1 => return Err(err(format!("thread takes one name; found also {:?}", rest[1..].join(" ")))),
        "thread" => Action::Thread { name: one_name(&rest, "a name").map_err(err)? },
        "process" if rest.len() > 1 => return Err(err(format!("process takes one name; found also {:?}", rest[1..].join(" ")))),
        "process" => Action::Process { name: one_name(&rest, "a name").map_err(err)? },
        "signal" if rest.len() > 1 => return Err(err(format!("signal takes at most a task; found also {:?}", rest[1..].join(" ")))),
        "signal" => Action::Signal { task: rest.first().cloned() },
        "wait" if rest.len() > 1 => return Err(err(format!("wait takes at most a task; found also {:?}", rest[1..].join(" ")))),
        "wait" => Action::Wait { task: rest.first().cloned() },
        "exit" => no_more(&rest, 0, "exit takes nothing (as TASK: exit ends another task's process)").map(|_| Action::Exit).map_err(err)?,
        "advance" if rest.len() > 1 => {
            return Err(err(format!("advance takes one time, in nanoseconds (e.g. advance 1000000 for a millisecond); found also {:?}", rest[1..].join(" "))))
        }
        "advance" => Action::Advance { ns: num(&one_name(&rest, "a time in ns").map_err(err)?).map_err(err)? },
        "inject" => {
            if rest.first().map(|w| w.as_str()) != Some("kmalloc-fail") {
                return Err(err("inject takes `kmalloc-fail [N]`: the N-th allocation from now fails".into()));
            }
            let nth = rest.get(1).map(|w| num32(w)).transpose().map_err(err)?.unwrap_or(1);
            if nth == 0 {
                return Err(err("kmalloc-fail counts from 1 (the very next allocation)".into()));
            }
            Action::InjectKmallocFailure { nth }
        }
        "guest" => Action::Guest(parse_guest(&rest).map_err(err)?),
        "launcher" => Action::Launcher(parse_launcher(&rest).map_err(err)?),
        "boot" => parse_boot(&rest).map_err(err)?,
        "insmod" => parse_insmod(&rest).map_err(err)?,
        "rmmod" if rest.len() > 1 => return Err(err(format!("rmmod takes one module; found also {:?}", rest[1..].join(" ")))),
        "rmmod" => Action::Rmmod { module: module_name("rmmod", &rest).map_err(err)? },
        "expect" => {
            let joined = rest.join(" ");
            let (f, v) = joined.split_once('=').ok_or_else(|| err("expect needs `name = value`".into()))?;
            if v.trim().is_empty() || f.trim().is_empty() {
                return Err(err("expect needs `name = value` with both sides (quote a value with a #: \"#6\")".into()));
            }
            Action::Expect { field: f.trim().to_string(), value: v.trim().to_string() }
        }
        other => {
            let hint = crate::diagnostic::did_you_mean(other, &VERBS);
            return Err(err(format!(
                "unknown action {other:?}{hint}: use open, load, write, read, close, eventfd, eventfd-read, eventfd-write, thread, process, signal, wait, exit, advance, inject, guest, launcher, boot, insmod, rmmod or expect"
            )));
        }
    };
    if expect.is_some()
        && matches!(
            action,
            Action::Expect { .. }
                | Action::Guest(_)
                | Action::Launcher(_)
                | Action::Thread { .. }
                | Action::InjectKmallocFailure { .. }
                | Action::Advance { .. }
                | Action::Boot { .. }
        )
    {
        return Err(err(format!("{verb} has no result to check; remove the `=>` part")));
    }
    Ok(Some(Line { number, source: src.trim().to_string(), action_text: action_src.to_string(), task, action, expect }))
}

/// What kind of thing a line does, by its first word: what the page needs to know of a line without
/// reading its text (did the Launcher's `read()` return? is it a check?).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallKind {
    Open,
    Write,
    Read,
    Close,
    Eventfd,
    EventfdRead,
    EventfdWrite,
    Load,
    Thread,
    Process,
    Signal,
    Wait,
    Exit,
    Advance,
    Inject,
    Guest,
    Launcher,
    Boot,
    Insmod,
    Rmmod,
    Expect,
}

impl Action {
    pub fn kind(&self) -> CallKind {
        match self {
            Action::Open => CallKind::Open,
            Action::Write { .. } => CallKind::Write,
            Action::Load { .. } => CallKind::Load,
            Action::Read { .. } => CallKind::Read,
            Action::Close { .. } => CallKind::Close,
            Action::Eventfd => CallKind::Eventfd,
            Action::EventfdRead { .. } => CallKind::EventfdRead,
            Action::EventfdWrite { .. } => CallKind::EventfdWrite,
            Action::Thread { .. } => CallKind::Thread,
            Action::Process { .. } => CallKind::Process,
            Action::Signal { .. } => CallKind::Signal,
            Action::Wait { .. } => CallKind::Wait,
            Action::Exit => CallKind::Exit,
            Action::Advance { .. } => CallKind::Advance,
            Action::InjectKmallocFailure { .. } => CallKind::Inject,
            Action::Guest(_) => CallKind::Guest,
            Action::Launcher(_) => CallKind::Launcher,
            Action::Boot { .. } => CallKind::Boot,
            Action::Insmod { .. } => CallKind::Insmod,
            Action::Rmmod { .. } => CallKind::Rmmod,
            Action::Expect { .. } => CallKind::Expect,
        }
    }
}

/// The actions a line may start with.
const VERBS: [&str; 21] = [
    "open",
    "load",
    "write",
    "read",
    "close",
    "eventfd",
    "eventfd-read",
    "eventfd-write",
    "thread",
    "process",
    "signal",
    "wait",
    "exit",
    "advance",
    "inject",
    "guest",
    "launcher",
    "boot",
    "insmod",
    "rmmod",
    "expect",
];

/// `Err(usage)` if `rest` holds more than `n` words.
fn no_more(rest: &[String], n: usize, usage: &str) -> Result<(), String> {
    match rest.get(n..) {
        Some(extra) if !extra.is_empty() => Err(format!("{usage}; found also {:?}", extra.join(" "))),
        _ => Ok(()),
    }
}

/// A `#` outside a quoted string starts a comment.
fn strip_comment(s: &str) -> &str {
    let mut in_q = false;
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        match c {
            '"' if prev != '\\' => in_q = !in_q,
            '#' if !in_q => return &s[..i],
            _ => {}
        }
        prev = c;
    }
    s
}

/// Parse a whole scenario.
pub fn parse(src: &str) -> Result<Vec<Line>, ParseError> {
    let mut out: Vec<Line> = Vec::new();
    for (i, l) in src.lines().enumerate() {
        if let Some(line) = parse_line(i + 1, l)? {
            if let (Action::Boot { .. }, Some(first)) = (&line.action, out.first()) {
                return Err(ParseError::line(line.number, boot_not_first(first.number)));
            }
            out.push(line);
        }
    }
    Ok(out)
}

/// Why a `boot` after other lines is refused (`first`: the line that came before it).
pub fn boot_not_first(first: usize) -> String {
    format!("`boot` starts the machine afresh, so it must be the scenario's first line (line {first} has already run); move it to the top")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_knows_its_call_and_action_text() {
        // A `:` inside the expectation is not a task prefix, and the comment is not part of the action.
        let l = parse_line(1, "as t: read   => 4 reason=\"a: b\"  # the reason").unwrap().unwrap();
        assert_eq!(l.action.kind(), CallKind::Read);
        assert_eq!(l.action_text, "as t: read");
        let l = parse_line(2, "expect lg.dead = NULL").unwrap().unwrap();
        assert_eq!((l.action.kind(), l.action_text.as_str()), (CallKind::Expect, "expect lg.dead = NULL"));
    }
}
