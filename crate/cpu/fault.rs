//! What the Guest CPU raises when an instruction cannot complete: the x86 exceptions lguest's Host sees
//! in `lguest_arch_handle_trap()` (drivers/lguest/x86/core.c), as plain values.
//!
//! A fault always leaves the Guest exactly as it was before the faulting instruction (EIP still points
//! at it), so the Host can emulate it, reflect it through the Guest's IDT with `deliver()`, or kill the
//! Guest with the kernel's "unhandled trap" message. Nothing in the CPU panics on Guest input: every
//! impossible situation becomes one of these.

use serde::Serialize;

/// An x86 exception raised by a Guest instruction (Intel SDM vol. 3, chapter 6, "Interrupt and
/// Exception Handling").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum Fault {
    /// #DE, vector 0: division by zero or a quotient too large (div, idiv, aam 0).
    DivideError,
    /// #BR, vector 5: `bound` found the index outside its bounds.
    BoundRange,
    /// #UD, vector 6: an undefined opcode, or one this simulator does not model. `what` names it
    /// (e.g. "vmcall", "fld (x87 not modelled)") so the UI can say what stopped the Guest.
    InvalidOpcode { what: String },
    /// #NM, vector 7, no error code: an x87, MMX or SSE instruction while CR0.TS is set, or `fwait` while
    /// CR0.MP and TS both are. With TS clear the instruction reaches the FPU, which is not modelled: #UD.
    DeviceNotAvailable,
    /// #NP, vector 11: a segment selector naming a descriptor marked not present.
    NotPresent { error_code: u32 },
    /// #SS, vector 12: a stack access beyond the stack segment's limit, or a bad SS load.
    StackFault { error_code: u32 },
    /// #GP, vector 13: a privileged instruction at CPL 1, a segment-limit violation (the Switcher's
    /// addresses above 0xFFC00000 lie beyond every Guest segment), a bad selector.
    GeneralProtection { error_code: u32 },
    /// #PF, vector 14: no memory behind a linear address; `cr2` is that address. With paging off this
    /// means "guest-physical address at or beyond `pfn_limit`".
    PageFault { cr2: u32, error_code: u32 },
}

/// #PF error-code bits (SDM 4.7): the page was present, the access was a write, it came from CPL 3.
pub const PF_PRESENT: u32 = 1;
pub const PF_WRITE: u32 = 2;
pub const PF_USER: u32 = 4;

impl Fault {
    /// The exception vector, as `trapnum` in the Host's `struct lguest_regs`.
    pub fn vector(&self) -> u8 {
        match self {
            Fault::DivideError => 0,
            Fault::BoundRange => 5,
            Fault::InvalidOpcode { .. } => 6,
            Fault::DeviceNotAvailable => 7,
            Fault::NotPresent { .. } => 11,
            Fault::StackFault { .. } => 12,
            Fault::GeneralProtection { .. } => 13,
            Fault::PageFault { .. } => 14,
        }
    }

    /// The error code the processor would push, if this exception has one (`errcode` in `lguest_regs`).
    pub fn error_code(&self) -> Option<u32> {
        match self {
            Fault::NotPresent { error_code }
            | Fault::StackFault { error_code }
            | Fault::GeneralProtection { error_code }
            | Fault::PageFault { error_code, .. } => Some(*error_code),
            _ => None,
        }
    }

    /// #GP(0), the answer to most privileged instructions at CPL 1.
    pub fn gp0() -> Fault {
        Fault::GeneralProtection { error_code: 0 }
    }

    /// #UD naming what was not executed.
    pub fn ud(what: impl Into<String>) -> Fault {
        Fault::InvalidOpcode { what: what.into() }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::DivideError => write!(f, "#DE divide error"),
            Fault::BoundRange => write!(f, "#BR bound range exceeded"),
            Fault::InvalidOpcode { what } => write!(f, "#UD invalid opcode ({what})"),
            Fault::DeviceNotAvailable => write!(f, "#NM device not available"),
            Fault::NotPresent { error_code } => write!(f, "#NP({error_code:#x}) segment not present"),
            Fault::StackFault { error_code } => write!(f, "#SS({error_code:#x}) stack fault"),
            Fault::GeneralProtection { error_code } => write!(f, "#GP({error_code:#x}) general protection"),
            Fault::PageFault { cr2, error_code } => write!(f, "#PF({error_code:#x}) page fault at {cr2:#x}"),
        }
    }
}
