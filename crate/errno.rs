//! The error numbers `/dev/lguest` can return, as values: `-EINVAL` is `Errno::EINVAL`, shown exactly as the
//! kernel returns it (a negative number from the system call), with a one-line explanation for the page.
//!
//! Numbers are Linux's (asm-generic/errno-base.h, errno.h, and the kernel-internal `ERESTARTSYS`).

use serde::Serialize;

/// A Linux error number. The discriminant is the positive errno; system calls return its negation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[repr(i32)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    EBADF = 9,
    ENOMEM = 12,
    EFAULT = 14,
    EBUSY = 16,
    EINVAL = 22,
    EMFILE = 24,
    /// `ERESTART`: the Guest asked to reboot (`LGUEST_SHUTDOWN_RESTART`); the Launcher re-executes itself.
    ERESTART = 85,
    /// `ERESTARTSYS`: kernel-internal; a signal interrupted `run_guest()`. User space sees `EINTR` (or a restart).
    ERESTARTSYS = 512,
}

impl Errno {
    /// Every errno the model knows, for parsing and coverage reports.
    pub const ALL: [Errno; 11] = [
        Errno::EPERM,
        Errno::ENOENT,
        Errno::EINTR,
        Errno::EBADF,
        Errno::ENOMEM,
        Errno::EFAULT,
        Errno::EBUSY,
        Errno::EINVAL,
        Errno::EMFILE,
        Errno::ERESTART,
        Errno::ERESTARTSYS,
    ];

    /// The positive error number.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The value the kernel function returns: `-EINVAL` is -22.
    pub fn ret(self) -> i64 {
        -(self as i64)
    }

    pub fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::EINTR => "EINTR",
            Errno::EBADF => "EBADF",
            Errno::ENOMEM => "ENOMEM",
            Errno::EFAULT => "EFAULT",
            Errno::EBUSY => "EBUSY",
            Errno::EINVAL => "EINVAL",
            Errno::EMFILE => "EMFILE",
            Errno::ERESTART => "ERESTART",
            Errno::ERESTARTSYS => "ERESTARTSYS",
        }
    }

    /// What the number means in general (the call site explains why it was returned this time).
    pub fn meaning(self) -> &'static str {
        match self {
            Errno::EPERM => "operation not permitted",
            Errno::ENOENT => "no such file or directory (for /dev/lguest: the Guest is dead)",
            Errno::EINTR => "interrupted system call",
            Errno::EBADF => "bad file descriptor",
            Errno::ENOMEM => "out of memory",
            Errno::EFAULT => "bad address",
            Errno::EBUSY => "device or resource busy",
            Errno::EINVAL => "invalid argument",
            Errno::EMFILE => "too many open files",
            Errno::ERESTART => "interrupted system call should be restarted (for /dev/lguest: the Guest rebooted)",
            Errno::ERESTARTSYS => "kernel-internal: a signal is pending, restart the call or fail with EINTR",
        }
    }

    pub fn from_name(name: &str) -> Option<Errno> {
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
    }
}
