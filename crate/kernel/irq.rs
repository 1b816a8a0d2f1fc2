//! The host's interrupt vectors: which of the IDT's 256 entries the kernel has taken for itself as it
//! booted (`used_vectors`, arch/x86/kernel/traps.c and irqinit.c), and which a device interrupt sits on
//! (`vector_irq`, what `vector_used_by_percpu_irq()` looks at). A module that wants a vector of its own,
//! as lguest does for a Guest's non-Linux system-call vector, must find it free in both and then marks
//! it in `used_vectors` until it unloads.
//!
//! **The host assumed.** The vectors the kernel allocates at boot depend on its configuration and the
//! machine, so this model fixes one and says so: a 2.6.39 i386 kernel built with `CONFIG_SMP` and
//! `NR_CPUS = 8` (as [`crate::params::NR_CPUS`]; the model's `kick_process()` sends a reschedule IPI, which
//! only an SMP kernel has), hence with a local APIC; `CONFIG_IRQ_WORK` (x86 selects perf events, which
//! select it); no machine-check support (`CONFIG_X86_MCE` off, so neither the thermal vector 0xfa nor the
//! threshold vector 0xf9 is taken); on a machine whose interrupts come through the legacy PIC (no
//! IO-APIC), so the sixteen ISA interrupts sit on 0x30-0x3f and no other device vector is handed out.
//!
//! On that host, as it boots:
//! - `trap_init()` marks the 32 exception vectors (0x00-0x1f) and `SYSCALL_VECTOR` (0x80);
//! - `native_init_IRQ()` → `apic_intr_init()` → `smp_intr_init()` takes the reschedule IPI (0xfd), the TLB
//!   shootdown IPIs (one per possible CPU, up to 32, ending at 0xee: 0xe7-0xee for 8), the two
//!   function-call IPIs (0xfc, 0xfb), the irq-move cleanup vector (0x20) and the reboot IPI (0xf8); then
//!   the local APIC timer (0xef), the platform IPI (0xf7), the spurious and error vectors (0xff, 0xfe) and
//!   the irq-work vector (0xf6);
//! - `init_IRQ()` puts the legacy irqs 0-15 on vectors 0x30-0x3f in `vector_irq`.
//!
//! So a module may reserve 0x21-0x2f, 0x40-0x7f, 0x81-0xe6, 0xf0-0xf5, 0xf9 and 0xfa (Plan 9's 0x40, for
//! which lguest grew its parameter, is free).

use super::Kernel;

/// `NR_VECTORS`: the IDT's size.
pub const NR_VECTORS: u32 = 256;

/// The vectors `trap_init()` and `native_init_IRQ()` allocate on the host assumed above, each with what it
/// is for (for the page and the events).
pub const BOOT_VECTORS: &[(u32, u32, &str)] = &[
    (0x00, 0x1f, "the CPU's exceptions (trap_init())"),
    (0x20, 0x20, "IRQ_MOVE_CLEANUP_VECTOR"),
    (0x80, 0x80, "SYSCALL_VECTOR, the host's own system calls (trap_init())"),
    (0xe7, 0xee, "the TLB shootdown IPIs (INVALIDATE_TLB_VECTOR_START..END, one per possible CPU)"),
    (0xef, 0xef, "LOCAL_TIMER_VECTOR"),
    (0xf6, 0xf6, "IRQ_WORK_VECTOR"),
    (0xf7, 0xf7, "X86_PLATFORM_IPI_VECTOR"),
    (0xf8, 0xf8, "REBOOT_VECTOR"),
    (0xfb, 0xfb, "CALL_FUNCTION_SINGLE_VECTOR"),
    (0xfc, 0xfc, "CALL_FUNCTION_VECTOR"),
    (0xfd, 0xfd, "RESCHEDULE_VECTOR"),
    (0xfe, 0xfe, "ERROR_APIC_VECTOR"),
    (0xff, 0xff, "SPURIOUS_APIC_VECTOR"),
];

/// `IRQ0_VECTOR`: where `init_IRQ()` puts the legacy PIC's irq 0 (irqs 0-15 follow it).
pub const IRQ0_VECTOR: u32 = 0x30;

/// `used_vectors`: one bit per IDT vector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsedVectors(pub [u32; (NR_VECTORS / 32) as usize]);

impl UsedVectors {
    /// The bitmap as the host above leaves it once it has booted.
    pub fn at_boot() -> UsedVectors {
        let mut v = UsedVectors::default();
        for &(from, to, _) in BOOT_VECTORS {
            for n in from..=to {
                v.set_bit(n);
            }
        }
        v
    }

    /// `test_bit()`; a vector past the table is not in it.
    pub fn test_bit(&self, n: u32) -> bool {
        self.0.get((n / 32) as usize).is_some_and(|w| w & (1 << (n % 32)) != 0)
    }

    pub fn set_bit(&mut self, n: u32) {
        if let Some(w) = self.0.get_mut((n / 32) as usize) {
            *w |= 1 << (n % 32);
        }
    }

    pub fn clear_bit(&mut self, n: u32) {
        if let Some(w) = self.0.get_mut((n / 32) as usize) {
            *w &= !(1 << (n % 32));
        }
    }
}

/// What vector `n` is used for at boot, if the kernel took it (`used_vectors`) or a device irq sits on it
/// (`vector_irq`).
pub fn boot_use(n: u32) -> Option<String> {
    if let Some((_, _, what)) = BOOT_VECTORS.iter().find(|(from, to, _)| (*from..=*to).contains(&n)) {
        return Some((*what).to_string());
    }
    (IRQ0_VECTOR..IRQ0_VECTOR + 16).contains(&n).then(|| format!("legacy irq {} (vector_irq)", n - IRQ0_VECTOR))
}

impl Kernel {
    /// `vector_used_by_percpu_irq()`: does some CPU's `vector_irq` map vector `n` to an irq? On the host
    /// assumed, only the legacy irqs' 0x30-0x3f.
    pub fn vector_used_by_percpu_irq(&self, n: u32) -> bool {
        (IRQ0_VECTOR..IRQ0_VECTOR + 16).contains(&n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_booted_host_holds_the_exceptions_the_syscall_vector_and_the_apic_vectors() {
        let v = UsedVectors::at_boot();
        let used: Vec<u32> = (0..NR_VECTORS).filter(|n| v.test_bit(*n)).collect();
        let mut want: Vec<u32> = (0..=0x20).collect();
        want.push(0x80);
        want.extend(0xe7..=0xef);
        want.extend([0xf6, 0xf7, 0xf8, 0xfb, 0xfc, 0xfd, 0xfe, 0xff]);
        assert_eq!(used, want);
        assert!(!v.test_bit(0x40) && !v.test_bit(300));
        assert_eq!(boot_use(0x33).as_deref(), Some("legacy irq 3 (vector_irq)"));
        assert_eq!(boot_use(0x40), None);
    }
}
