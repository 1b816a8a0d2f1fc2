//! Loadable modules: `init_module()` (what `insmod` asks) and `delete_module()` (what `rmmod` asks), in
//! kernel/module.c's order of checks and with its errnos, for the modules of [`super::drivers::MODULES`].
//!
//! - Loading: a module already in the list is `-EEXIST`; then the parameters are parsed (`parse_args()`:
//!   an unknown one is `-ENOENT`, a value its type cannot take `-EINVAL`, each with the kernel's printk);
//!   then the module's `init()` runs, and if it fails the module is freed again and its errno is what
//!   `insmod` reports.
//! - Unloading: a module not in the list is `-ENOENT`. A module in use cannot go: every open file whose
//!   operations table names the module as its `owner` holds a reference (`fops_get()` at `open()`,
//!   `fops_put()` after the last `close()`), and `rmmod` asks with `O_NONBLOCK`, so `try_stop_module()`
//!   answers `-EWOULDBLOCK` (which is `-EAGAIN`) rather than waiting for the count to drop. (The `rmmod` of
//!   module-init-tools reads the use count itself first and refuses with "in use" without asking; the
//!   scenario's `rmmod` line makes the system call, to show the kernel's answer.) Otherwise the module's
//!   `exit()` runs and the module is freed.
//!
//! Both run as the `insmod`/`rmmod` program, not as a task of the simulation's processes.

use super::drivers::{Module, MODULES};
use super::syscall::SysResult;
use super::Kernel;
use crate::errno::Errno;

/// A load or unload the simulation will not carry out, and why (not an errno: the kernel would have done
/// something the model does not follow, such as reading past a table).
pub type Refused = String;

/// The module called `name` (`lguest` or `lguest.ko`).
pub fn find(name: &str) -> Option<&'static Module> {
    let name = name.strip_suffix(".ko").unwrap_or(name);
    MODULES.iter().find(|m| m.name == name)
}

impl Kernel {
    /// Is module `name` in the module list (loaded and live)?
    pub fn module_loaded(&self, name: &str) -> bool {
        self.modules.contains(&name)
    }

    /// `module_refcount()`: the open files whose operations belong to module `name` (their `owner`), each
    /// holding one reference until its release.
    pub fn module_refcount(&self, name: &str) -> u32 {
        self.files.iter().filter(|f| f.f_count > 0 && f.ops.owner == Some(name)).count() as u32
    }

    fn module_ev(&mut self, task: &str, func: &'static str, text: String) {
        self.log.push(task, func, crate::tags::tag(func), text, &["modules"]);
    }

    /// `init_module()` of module `name` with the parameter string `args` (`"syscall_vector=0x40"`), as the
    /// program `task` (`insmod`, or the boot scripts). The result is the system call's.
    pub fn init_module(&mut self, task: &str, name: &str, args: &str) -> Result<SysResult, Refused> {
        let Some(m) = find(name) else {
            let names: Vec<&str> = MODULES.iter().map(|m| m.name).collect();
            return Err(format!("there is no module {name:?}: this kernel has {}", names.join(", ")));
        };
        if self.module_loaded(m.name) {
            self.module_ev(task, "init_module", format!("find_module(\"{}\") finds it already loaded: -EEXIST", m.name));
            return Ok(SysResult::err(Errno::EEXIST, format!("{} is already loaded (rmmod it first to load it with other parameters)", m.name)));
        }
        // A fresh copy of the module: its parameters start at their defaults.
        (m.reset)(self);
        if let Err(refused) = self.parse_args(task, m, args)? {
            return Ok(refused);
        }
        let r = (m.init)(self);
        let text = match r {
            Ok(()) => format!("{}: init() returned 0, the module is loaded", m.name),
            Err(e) => format!("{}: init() returned {e}: insmod fails, the module is not loaded", m.name),
        };
        self.log.push(task, "init", crate::tags::tag("init"), text, &["modules"]);
        Ok(match r {
            Ok(()) => {
                self.modules.push(m.name);
                SysResult::ok(0, format!("{} is loaded", m.name))
            }
            Err(e) => SysResult::err(e, format!("{}'s init() failed, so the module was freed again", m.name)),
        })
    }

    /// `parse_args()`: each `NAME=VALUE` word of `args` sets one of the module's parameters. `Ok(Err(r))` is
    /// the system call's failure `r`, with the kernel's printk.
    fn parse_args(&mut self, task: &str, m: &'static Module, args: &str) -> Result<Result<(), SysResult>, Refused> {
        for arg in args.split_whitespace() {
            let (param, val) = match arg.split_once('=') {
                Some((p, v)) => (p, Some(v)),
                None => (arg, None),
            };
            match (m.param)(self, param, val)? {
                Ok(()) => {}
                Err(Errno::ENOENT) => {
                    let hint = crate::diagnostic::did_you_mean(param, m.params);
                    self.module_ev(task, "parse_args", format!("printk(KERN_ERR \"{}: Unknown parameter `{param}'\"): -ENOENT{hint}", m.name));
                    return Ok(Err(SysResult::err(Errno::ENOENT, format!("{} has no parameter {param:?} (it has {})", m.name, m.params.join(", ")))));
                }
                Err(e) => {
                    let v = val.unwrap_or("");
                    self.module_ev(task, "parse_args", format!("printk(KERN_ERR \"{}: `{v}' invalid for parameter `{param}'\"): {e}", m.name));
                    return Ok(Err(SysResult::err(e, format!("{v:?} is not a value {param} can take"))));
                }
            }
        }
        Ok(Ok(()))
    }

    /// `delete_module()` of module `name` with `O_NONBLOCK`, as `rmmod` asks, as the program `task`.
    pub fn delete_module(&mut self, task: &str, name: &str) -> Result<SysResult, Refused> {
        let Some(m) = find(name) else {
            let names: Vec<&str> = MODULES.iter().map(|m| m.name).collect();
            return Err(format!("there is no module {name:?}: this kernel has {}", names.join(", ")));
        };
        if !self.module_loaded(m.name) {
            self.module_ev(task, "delete_module", format!("find_module(\"{}\") finds nothing: -ENOENT", m.name));
            return Ok(SysResult::err(Errno::ENOENT, format!("{} is not loaded", m.name)));
        }
        let refs = self.module_refcount(m.name);
        if refs != 0 {
            self.module_ev(
                task,
                "delete_module",
                format!(
                    "module_refcount({}) is {refs}: each open file of its lguest_fops holds one (.owner = THIS_MODULE); with O_NONBLOCK try_stop_module() gives up: -EWOULDBLOCK",
                    m.name
                ),
            );
            return Ok(SysResult::err(Errno::EAGAIN, format!("{} is in use: {refs} open file(s) of /dev/lguest (close them first)", m.name)));
        }
        self.module_ev(task, "delete_module", format!("module_refcount({}) is 0: the module goes (MODULE_STATE_GOING), and its exit function runs", m.name));
        (m.exit)(self);
        self.modules.retain(|n| *n != m.name);
        self.module_ev(task, "delete_module", format!("free_module(): {} is gone from the module list", m.name));
        Ok(SysResult::ok(0, format!("{} is unloaded", m.name)))
    }
}

/// `kstrtoul(val, 0, ...)` as a parameter of type `uint` reads it: `0x` hex, a leading `0` octal, decimal
/// otherwise, a trailing newline allowed. `None` if it is not a number (or does not fit 64 bits).
pub fn parse_uint(val: &str) -> Option<u64> {
    let v = val.strip_suffix('\n').unwrap_or(val);
    let v = v.strip_prefix('+').unwrap_or(v);
    let (digits, radix) = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        (h, 16)
    } else if v.len() > 1 && v.starts_with('0') {
        (&v[1..], 8)
    } else {
        (v, 10)
    };
    // from_str_radix() would take a sign inside ("0x+5"); kstrtoul() takes digits only after the prefix.
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_uint;

    #[test]
    fn uint_parameters_read_as_kstrtoul_with_base_0() {
        assert_eq!(parse_uint("64"), Some(64));
        assert_eq!(parse_uint("0x40"), Some(64));
        assert_eq!(parse_uint("0100"), Some(64));
        assert_eq!(parse_uint("0"), Some(0));
        assert_eq!(parse_uint("64\n"), Some(64));
        assert_eq!(parse_uint("sixty"), None);
        assert_eq!(parse_uint("0x"), None);
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("0x+5"), None);
        assert_eq!(parse_uint("09"), None, "a leading 0 is octal");
    }
}
