//! `struct lguest_regs`: the Guest's registers as the Host saves them on every exit, with the trap number
//! and error code of the exit. A hypercall's arguments are these registers seen as `struct hcall_args`
//! (eax is the call number, then ebx, ecx, edx, esi).

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LguestRegs {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
    pub esi: u32,
    pub edi: u32,
    pub ebp: u32,
    pub gs: u32,
    pub fs: u32,
    pub ds: u32,
    pub es: u32,
    pub trapnum: u32,
    pub errcode: u32,
    pub eip: u32,
    pub cs: u32,
    pub eflags: u32,
    pub esp: u32,
    pub ss: u32,
}

/// `__KERNEL_CS` and `__KERNEL_DS` of a 2.6.3x i386 kernel (GDT entries 12 and 13), with RPL 1.
pub const GUEST_CS: u32 = (12 << 3) | 1;
pub const GUEST_DS: u32 = (13 << 3) | 1;

impl LguestRegs {
    /// `lguest_arch_setup_regs()`: the state a Guest starts in: ring 1 segments, interrupts on (the real IF is
    /// always on; the Guest's own flag is `irq_enabled`), `eip` at the entry point, `esi` 0 (boot_params at 0).
    pub fn setup(start: u32) -> LguestRegs {
        LguestRegs { ds: GUEST_DS, es: GUEST_DS, ss: GUEST_DS, cs: GUEST_CS, eflags: 0x202, eip: start, ..LguestRegs::default() }
    }

    /// The registers as `struct hcall_args` (arg0 .. arg4).
    pub fn hcall_args(&self) -> [u32; 5] {
        [self.eax, self.ebx, self.ecx, self.edx, self.esi]
    }
}
