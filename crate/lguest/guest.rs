//! What runs behind `lguest_arch_run_guest()`: the Guest's code.
//!
//! Two engines: the x86 core executing real Guest code (see [`crate::cpu`]), and a *scripted* Guest whose
//! next hypercalls a lesson or test chooses ([`crate::cpu::script`]: "NOTIFY 0x7000, then HALT"). The
//! scripted one lets a lesson about the Host's side stay on the Host's side; both leave the CPU the same way,
//! with a trap number in `regs.trapnum`, so everything after the switch back (`lguest_arch_handle_trap()`)
//! is shared.

/// The engine of a virtual CPU.
#[derive(Clone, Debug)]
pub enum GuestEngine {
    /// The next moves come from the Guest memory's script ([`crate::kernel::mm::GuestPages::script`]).
    Scripted,
    /// The x86 core running the Guest's own code from its memory.
    Cpu(Box<crate::cpu::Cpu>),
}
