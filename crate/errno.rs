//! The error numbers the simulated kernel can return, as values: `-EINVAL` is `Errno::EINVAL`, shown exactly
//! as the kernel returns it (a negative number from the system call), with a one-line explanation for the
//! page.
//!
//! Numbers are Linux's (asm-generic/errno-base.h, errno.h, and the kernel-internal `ERESTARTSYS`). One list
//! below gives each errno its number and meaning; the enum, [`Errno::ALL`], the names and the meanings are
//! all made from it.

use serde::Serialize;

macro_rules! errnos {
    ($($(#[$doc:meta])* $name:ident = $n:literal, $meaning:literal;)*) => {
        /// A Linux error number. The discriminant is the positive errno; system calls return its negation.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
        #[repr(i32)]
        pub enum Errno {
            $($(#[$doc])* $name = $n,)*
        }

        impl Errno {
            /// Every errno the model knows, for parsing and coverage reports.
            pub const ALL: &'static [Errno] = &[$(Errno::$name),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Errno::$name => stringify!($name),)*
                }
            }

            /// What the number means in general (the call site explains why it was returned this time).
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Errno::$name => $meaning,)*
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, "operation not permitted";
    ENOENT = 2, "no such file or directory (for /dev/lguest: the Guest is dead)";
    EINTR = 4, "interrupted system call";
    EBADF = 9, "bad file descriptor";
    /// `EAGAIN`, which Linux also names `EWOULDBLOCK`: `delete_module()` of a module still in use.
    EAGAIN = 11, "resource temporarily unavailable (EWOULDBLOCK: here, the module is still in use)";
    ENOMEM = 12, "out of memory";
    EFAULT = 14, "bad address";
    EBUSY = 16, "device or resource busy";
    EEXIST = 17, "file exists (here: a task of that name exists)";
    EINVAL = 22, "invalid argument";
    EMFILE = 24, "too many open files";
    /// `ERESTART`: the Guest asked to reboot (`LGUEST_SHUTDOWN_RESTART`); the Launcher re-executes itself.
    ERESTART = 85, "interrupted system call should be restarted (for /dev/lguest: the Guest rebooted)";
    /// `ERESTARTSYS`: kernel-internal; a signal interrupted `run_guest()`. User space sees `EINTR` (or a restart).
    ERESTARTSYS = 512, "kernel-internal: a signal is pending, restart the call or fail with EINTR";
}

impl Errno {
    /// The positive error number.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The value the kernel function returns: `-EINVAL` is -22.
    pub fn ret(self) -> i64 {
        -(self as i64)
    }

    pub fn from_name(name: &str) -> Option<Errno> {
        // Linux defines EWOULDBLOCK as EAGAIN: one number, two names.
        if name.eq_ignore_ascii_case("EWOULDBLOCK") {
            return Some(Errno::EAGAIN);
        }
        Errno::ALL.iter().copied().find(|e| e.name().eq_ignore_ascii_case(name))
    }

    pub fn from_code(code: i32) -> Option<Errno> {
        Errno::ALL.iter().copied().find(|e| e.code() == code)
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "-{}", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_linuxs() {
        assert_eq!(Errno::EINVAL.ret(), -22);
        assert_eq!(Errno::EFAULT.code(), 14);
        assert_eq!(Errno::ERESTARTSYS.code(), 512);
        assert_eq!(Errno::from_name("ebusy"), Some(Errno::EBUSY));
        assert_eq!(Errno::from_code(85), Some(Errno::ERESTART));
        assert_eq!(Errno::ENOENT.to_string(), "-ENOENT");
        assert_eq!(Errno::EEXIST.code(), 17);
        assert!(Errno::ALL.iter().all(|e| Errno::from_code(e.code()) == Some(*e) && Errno::from_name(e.name()) == Some(*e)));
    }
}
