//! Each kernel function the simulator models, with the journey tag lessons cite, the kernel file it lives
//! in, and a link to it in the real source (Linux 2.6.39 on elixir.bootlin.com).
//!
//! Tags of the form `L:nnn`, `H:nnn` and `S:nnn` are the kernel's own literate-journey tags
//! (drivers/lguest/README), each the tag of the comment that introduces the function, so a student finds the
//! same place with `make Launcher`, `make Host` or `make Switcher`. Functions the kernel leaves untagged, and
//! kernel functions outside drivers/lguest, get ours, `X:nnn`, numbered in the order the course meets them.

use serde::Serialize;

#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FuncInfo {
    pub func: &'static str,
    pub tag: &'static str,
    pub file: &'static str,
    /// One line on what it does, in our words.
    pub summary: &'static str,
}

/// The table. Order is the order of the journey.
pub const FUNCS: &[FuncInfo] = &[
    FuncInfo {
        func: "init",
        tag: "H:000",
        file: "drivers/lguest/core.c",
        summary: "Loading the module: refuse a paravirtualized Host, then set up each piece in order.",
    },
    FuncInfo {
        func: "map_switcher",
        tag: "H:010",
        file: "drivers/lguest/core.c",
        summary: "The Switcher's pages, mapped high at 0xFFC00000 in the Host (and later every Guest).",
    },
    FuncInfo {
        func: "init_pagetables",
        tag: "H:510",
        file: "drivers/lguest/page_tables.c",
        summary: "Each CPU's Switcher pte page, which every shadow page directory will share.",
    },
    FuncInfo {
        func: "init_interrupts",
        tag: "X:001",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "Reserve the module's syscall_vector, if it is not the standard 0x80.",
    },
    FuncInfo {
        func: "lguest_device_init",
        tag: "X:002",
        file: "drivers/lguest/lguest_user.c",
        summary: "misc_register(): the /dev/lguest the Launcher opens.",
    },
    FuncInfo {
        func: "lguest_arch_host_init",
        tag: "H:020",
        file: "drivers/lguest/x86/core.c",
        summary: "Each CPU's lguest_pages filled in, the Switcher's stubs relocated, and PGE turned off.",
    },
    FuncInfo {
        func: "init_module",
        tag: "X:003",
        file: "kernel/module.c",
        summary: "What insmod asks: refuse a module already loaded, parse its parameters, run its init().",
    },
    FuncInfo {
        func: "parse_args",
        tag: "X:004",
        file: "kernel/params.c",
        summary: "Set a module's parameters from NAME=VALUE words: an unknown name is -ENOENT, a bad value -EINVAL.",
    },
    FuncInfo {
        func: "delete_module",
        tag: "X:005",
        file: "kernel/module.c",
        summary: "What rmmod asks: a module still in use stays (-EWOULDBLOCK); otherwise its exit function runs and it is freed.",
    },
    FuncInfo {
        func: "lguest_device_remove",
        tag: "X:006",
        file: "drivers/lguest/lguest_user.c",
        summary: "misc_deregister(): unloading takes /dev/lguest away first.",
    },
    FuncInfo {
        func: "free_interrupts",
        tag: "X:007",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "Give back the syscall_vector init_interrupts() reserved.",
    },
    FuncInfo { func: "free_pagetables", tag: "X:008", file: "drivers/lguest/page_tables.c", summary: "Free each CPU's Switcher pte page." },
    FuncInfo { func: "unmap_switcher", tag: "X:009", file: "drivers/lguest/core.c", summary: "Unmap the Switcher and free its pages." },
    FuncInfo {
        func: "lguest_arch_host_fini",
        tag: "X:010",
        file: "drivers/lguest/x86/core.c",
        summary: "Turn PGE back on, on every CPU, if the machine had it before the load.",
    },
    FuncInfo { func: "write", tag: "L:010", file: "drivers/lguest/lguest_user.c", summary: "Every Launcher request arrives here: the first word says which." },
    FuncInfo {
        func: "initialize",
        tag: "L:020",
        file: "drivers/lguest/lguest_user.c",
        summary: "LHREQ_INITIALIZE: build struct lguest for this file, or unwind on failure.",
    },
    FuncInfo {
        func: "lg_cpu_start",
        tag: "L:025",
        file: "drivers/lguest/lguest_user.c",
        summary: "Set up virtual cpu 0: its registers page, its owner task, its clock.",
    },
    FuncInfo {
        func: "init_guest_pagetable",
        tag: "H:500",
        file: "drivers/lguest/page_tables.c",
        summary: "Read boot_params, build the boot page tables, allocate the first shadow page directory.",
    },
    FuncInfo {
        func: "setup_pagetables",
        tag: "H:505",
        file: "drivers/lguest/page_tables.c",
        summary: "The boot page tables: all of RAM mapped at 0 and at PAGE_OFFSET, just below the initrd.",
    },
    FuncInfo { func: "read", tag: "L:040", file: "drivers/lguest/lguest_user.c", summary: "Run the Guest, or tell the Launcher why it died." },
    FuncInfo { func: "user_send_irq", tag: "L:050", file: "drivers/lguest/lguest_user.c", summary: "LHREQ_IRQ: mark an interrupt pending for the Guest." },
    FuncInfo {
        func: "attach_eventfd",
        tag: "L:052",
        file: "drivers/lguest/lguest_user.c",
        summary: "LHREQ_EVENTFD: fetch the address and fd, then add_eventfd under lguest_lock.",
    },
    FuncInfo {
        func: "add_eventfd",
        tag: "L:055",
        file: "drivers/lguest/lguest_user.c",
        summary: "RCU writer: copy the map, append, publish, wait for readers, free the old one.",
    },
    FuncInfo {
        func: "send_notify_to_eventfd",
        tag: "L:056",
        file: "drivers/lguest/lguest_user.c",
        summary: "RCU reader: find the eventfd for a NOTIFY and signal it.",
    },
    FuncInfo {
        func: "close",
        tag: "L:060",
        file: "drivers/lguest/lguest_user.c",
        summary: "Undo everything initialize() did (and free the Guest's leftovers).",
    },
    FuncInfo {
        func: "run_guest",
        tag: "H:030",
        file: "drivers/lguest/core.c",
        summary: "The loop behind read(): hypercalls, notifies, signals, interrupts, run, trap.",
    },
    FuncInfo {
        func: "lguest_address_ok",
        tag: "H:032",
        file: "drivers/lguest/core.c",
        summary: "Is a Guest-physical range below pfn_limit (its end's page included) and not wrapping?",
    },
    FuncInfo {
        func: "do_hypercalls",
        tag: "H:100",
        file: "drivers/lguest/hypercalls.c",
        summary: "Handle the async ring, then the Guest's pending hypercall.",
    },
    FuncInfo { func: "do_hcall", tag: "H:120", file: "drivers/lguest/hypercalls.c", summary: "One hypercall: a switch on its number." },
    FuncInfo {
        func: "do_async_hcalls",
        tag: "H:124",
        file: "drivers/lguest/hypercalls.c",
        summary: "Run the hypercalls the Guest queued in lguest_data's ring, in order.",
    },
    FuncInfo {
        func: "lguest_init_hcall",
        tag: "X:101",
        file: "drivers/lguest/hypercalls.c",
        summary: "The first hypercall must be LGUEST_INIT: learn where lguest_data is (initialize() in hypercalls.c).",
    },
    FuncInfo { func: "kill_guest", tag: "L:035", file: "drivers/lguest/lg.h", summary: "Record why the Guest must die (only the first reason counts)." },
    FuncInfo {
        func: "set_interrupt",
        tag: "X:200",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "Set an irqs_pending bit; wake the Launcher task, or kick it out of the Guest.",
    },
    FuncInfo {
        func: "interrupt_pending",
        tag: "H:205",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "First pending interrupt the Guest has not blocked.",
    },
    FuncInfo {
        func: "try_deliver_interrupt",
        tag: "X:202",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "Wake a halted Guest and push the interrupt through its IDT if it can take it.",
    },
    FuncInfo {
        func: "set_guest_interrupt",
        tag: "H:210",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "Push the interrupt frame on the Guest's stack and jump to its handler.",
    },
    FuncInfo {
        func: "deliver_trap",
        tag: "H:220",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "Reflect a trap that came back to the Host into the Guest's own handler.",
    },
    FuncInfo {
        func: "load_guest_idt_entry",
        tag: "H:230",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "LHCALL_LOAD_IDT_ENTRY: ignore the Host's vectors, mark the IDT changed, set_trap().",
    },
    FuncInfo {
        func: "set_trap",
        tag: "H:235",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "Check a Guest IDT entry (present, interrupt or trap gate) and keep a safe copy of it.",
    },
    FuncInfo {
        func: "copy_traps",
        tag: "H:240",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "Build the IDT the CPU uses: Guest trap gates that may go direct, the Switcher's gates for the rest.",
    },
    FuncInfo {
        func: "direct_trap",
        tag: "H:250",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "May this trap go straight to the Guest? Not 6, 7, 13, 14, 0x1f, nor the Host's interrupts.",
    },
    FuncInfo {
        func: "pin_stack_pages",
        tag: "H:260",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "Keep the Guest kernel's stack mapped, so a direct trap never faults pushing its frame.",
    },
    FuncInfo {
        func: "guest_set_stack",
        tag: "X:261",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "LHCALL_SET_STACK: check and store the Guest kernel's stack, then pin it.",
    },
    FuncInfo {
        func: "guest_set_clockevent",
        tag: "H:200",
        file: "drivers/lguest/interrupts_and_traps.c",
        summary: "LHCALL_SET_CLOCKEVENT: arm the Guest's hrtimer (or, with 0, cancel it).",
    },
    FuncInfo { func: "clockdev_fn", tag: "X:210", file: "drivers/lguest/interrupts_and_traps.c", summary: "The Guest's hrtimer expired: raise irq 0." },
    FuncInfo {
        func: "lguest_arch_run_guest",
        tag: "H:040",
        file: "drivers/lguest/x86/core.c",
        summary: "Switch to the Guest and run until it traps back; save cr2, restore the FPU.",
    },
    FuncInfo {
        func: "copy_in_guest_info",
        tag: "S:010",
        file: "drivers/lguest/x86/core.c",
        summary: "Make this CPU's Switcher pages this Guest's: cr3, regs page, TSS, and the IDT/GDT if changed.",
    },
    FuncInfo {
        func: "map_switcher_in_guest",
        tag: "H:480",
        file: "drivers/lguest/page_tables.c",
        summary: "Map the Switcher and this cpu's registers page into the Guest's shadow page tables.",
    },
    FuncInfo {
        func: "switch_to_guest",
        tag: "S:100",
        file: "drivers/lguest/x86/switcher_32.S",
        summary: "The way in: load the Guest's GDT, IDT, TSS and cr3, pop its registers, iret.",
    },
    FuncInfo {
        func: "return_to_host",
        tag: "S:100",
        file: "drivers/lguest/x86/switcher_32.S",
        summary: "The way out for a trap: save the Guest's registers, trapnum and errcode, back to the Host.",
    },
    FuncInfo {
        func: "deliver_to_host",
        tag: "S:100",
        file: "drivers/lguest/x86/switcher_32.S",
        summary: "The way out for a Host interrupt: back to the Host, then into the Host's own handler.",
    },
    FuncInfo {
        func: "math_state_restore",
        tag: "X:302",
        file: "arch/x86/kernel/traps.c",
        summary: "After trap 7: put the Host's FPU state back and clear TS, before interrupts come back on.",
    },
    FuncInfo {
        func: "lguest_arch_handle_trap",
        tag: "H:050",
        file: "drivers/lguest/x86/core.c",
        summary: "Why did the Guest stop? A hypercall, a fault to handle or reflect, a Host interrupt, or death.",
    },
    FuncInfo {
        func: "emulate_insn",
        tag: "H:130",
        file: "drivers/lguest/x86/core.c",
        summary: "Skip a cli, emulate in and out (in reads all ones) for a #GP at ring 1.",
    },
    FuncInfo {
        func: "rewrite_hypercall",
        tag: "X:131",
        file: "drivers/lguest/x86/core.c",
        summary: "A vmcall at ring 1 (is_hypercall() read its three bytes): write int $0x1f; nop over it.",
    },
    FuncInfo {
        func: "load_guest_gdt_entry",
        tag: "H:620",
        file: "drivers/lguest/segments.c",
        summary: "LHCALL_LOAD_GDT_ENTRY: store, fix up, mark the GDT changed.",
    },
    FuncInfo { func: "guest_load_tls", tag: "X:625", file: "drivers/lguest/segments.c", summary: "LHCALL_LOAD_TLS: the three TLS entries from Guest memory." },
    FuncInfo {
        func: "fixup_gdt_table",
        tag: "H:630",
        file: "drivers/lguest/segments.c",
        summary: "Make a Guest GDT entry privilege 1 and accessed; a bad one faults only when the Switcher loads it.",
    },
    FuncInfo {
        func: "copy_gdt_tls",
        tag: "H:650",
        file: "drivers/lguest/segments.c",
        summary: "Copy only the three TLS entries into the Switcher's GDT (what changes on a Guest context switch).",
    },
    FuncInfo {
        func: "copy_gdt",
        tag: "H:640",
        file: "drivers/lguest/segments.c",
        summary: "Copy the Guest's GDT entries (not the Host's four) into the Switcher's GDT.",
    },
    FuncInfo {
        func: "demand_page",
        tag: "H:330",
        file: "drivers/lguest/page_tables.c",
        summary: "A Guest page fault: copy the Guest's pte into the shadow if it allows the access, else reflect the fault.",
    },
    FuncInfo {
        func: "check_gpgd",
        tag: "X:701",
        file: "drivers/lguest/page_tables.c",
        summary: "A Guest pgd may carry only _PAGE_TABLE flags and point below pfn_limit.",
    },
    FuncInfo {
        func: "check_gpte",
        tag: "X:702",
        file: "drivers/lguest/page_tables.c",
        summary: "A Guest pte may not be a large page or point past pfn_limit.",
    },
    FuncInfo { func: "do_set_pte", tag: "H:420", file: "drivers/lguest/page_tables.c", summary: "Update one shadow pte after the Guest changed its own." },
    FuncInfo {
        func: "guest_set_pte",
        tag: "H:410",
        file: "drivers/lguest/page_tables.c",
        summary: "LHCALL_SET_PTE: kernel addresses in every cached pgdir, user ones in the matching one.",
    },
    FuncInfo { func: "guest_set_pgd", tag: "H:400", file: "drivers/lguest/page_tables.c", summary: "LHCALL_SET_PGD: throw away the matching shadow pgd slot." },
    FuncInfo {
        func: "new_pgdir",
        tag: "H:435",
        file: "drivers/lguest/page_tables.c",
        summary: "Take a shadow pgdir slot for a Guest page directory (round robin here, random in the kernel).",
    },
    FuncInfo {
        func: "guest_new_pagetable",
        tag: "H:430",
        file: "drivers/lguest/page_tables.c",
        summary: "LHCALL_NEW_PGTABLE: switch the cpu to the shadow of the Guest's new page directory.",
    },
    FuncInfo {
        func: "guest_pagetable_flush_user",
        tag: "H:440",
        file: "drivers/lguest/page_tables.c",
        summary: "LHCALL_FLUSH_TLB(0): drop the user part of the current shadow pgdir.",
    },
    FuncInfo {
        func: "guest_pagetable_clear_all",
        tag: "X:703",
        file: "drivers/lguest/page_tables.c",
        summary: "LHCALL_FLUSH_TLB(1): drop every shadow mapping, then re-pin the stack.",
    },
    FuncInfo {
        func: "guest_pa",
        tag: "X:704",
        file: "drivers/lguest/page_tables.c",
        summary: "Walk the Guest's own page tables to a Guest-physical address (Bad address kills).",
    },
    FuncInfo {
        func: "eventfd_ctx_fdget",
        tag: "X:400",
        file: "fs/eventfd.c",
        summary: "Turn a descriptor into a referenced eventfd context (-EBADF, -EINVAL).",
    },
    FuncInfo { func: "eventfd_signal", tag: "X:401", file: "fs/eventfd.c", summary: "Add to an eventfd's counter and wake its reader." },
    FuncInfo {
        func: "synchronize_rcu",
        tag: "X:500",
        file: "kernel/rcutree_plugin.h",
        summary: "Wait until every CPU has passed a quiescent state (synchronize_sched() in rcupdate.h without PREEMPT_RCU).",
    },
    FuncInfo {
        func: "access_ok",
        tag: "X:520",
        file: "arch/x86/include/asm/uaccess.h",
        summary: "A user buffer must lie below TASK_SIZE, or the system call is -EFAULT before the driver runs.",
    },
    FuncInfo {
        func: "rw_verify_area",
        tag: "X:521",
        file: "fs/read_write.c",
        summary: "A count of 2 GB or more, or a negative position, is -EINVAL before the driver runs.",
    },
    FuncInfo {
        func: "kick_process",
        tag: "X:510",
        file: "kernel/sched.c",
        summary: "Send a reschedule IPI to the CPU running a task, knocking it out of whatever it runs.",
    },
    FuncInfo { func: "launcher", tag: "X:600", file: "Documentation/lguest/lguest.c", summary: "The Launcher's own steps: open, eventfd, signals, threads." },
    FuncInfo {
        func: "tell_kernel",
        tag: "L:185",
        file: "Documentation/lguest/lguest.c",
        summary: "LHREQ_INITIALIZE with guest_base, guest_limit / getpagesize() and the entry point.",
    },
    FuncInfo {
        func: "setup_console",
        tag: "X:610",
        file: "Documentation/lguest/lguest.c",
        summary: "Write the console's descriptor on the devices page, above Guest RAM.",
    },
    FuncInfo {
        func: "add_virtqueue",
        tag: "X:611",
        file: "Documentation/lguest/lguest.c",
        summary: "Give a queue its ring pages, its irq and its lguest_vqconfig.",
    },
    FuncInfo {
        func: "check_pointer",
        tag: "L:200",
        file: "Documentation/lguest/lguest.c",
        summary: "A buffer the Guest names must lie below guest_limit, or the Launcher errx()s.",
    },
    FuncInfo {
        func: "handle_output",
        tag: "L:215",
        file: "Documentation/lguest/lguest.c",
        summary: "What main does with a NOTIFY read() returned: a status, a first kick, early console, or Bad NOTIFY.",
    },
    FuncInfo {
        func: "update_device_status",
        tag: "X:621",
        file: "Documentation/lguest/lguest.c",
        summary: "The Guest changed a device's status byte: reset, FAILED, or DRIVER_OK starts it.",
    },
    FuncInfo { func: "start_device", tag: "X:622", file: "Documentation/lguest/lguest.c", summary: "Start a device: a thread for each of its queues." },
    FuncInfo {
        func: "create_thread",
        tag: "L:216",
        file: "Documentation/lguest/lguest.c",
        summary: "An eventfd, LHREQ_EVENTFD for the ring's address, a CLONE_VM thread that sleeps on it; close our copy.",
    },
    FuncInfo {
        func: "wait_for_vq_desc",
        tag: "X:630",
        file: "Documentation/lguest/lguest.c",
        summary: "The device thread's loop: take the next buffer chain, or send owed irqs and sleep on the eventfd.",
    },
    FuncInfo { func: "add_used", tag: "X:631", file: "Documentation/lguest/lguest.c", summary: "Hand a buffer back to the Guest in the used ring." },
    FuncInfo {
        func: "trigger_irq",
        tag: "X:632",
        file: "Documentation/lguest/lguest.c",
        summary: "Tell the Guest buffers were used: LHREQ_IRQ, unless it asked for no interrupts.",
    },
    FuncInfo {
        func: "console_output",
        tag: "X:633",
        file: "Documentation/lguest/lguest.c",
        summary: "The output queue's service: the Guest's bytes to the Launcher's stdout.",
    },
    FuncInfo {
        func: "console_input",
        tag: "X:634",
        file: "Documentation/lguest/lguest.c",
        summary: "The input queue's service: the Launcher's stdin into the Guest's buffers.",
    },
];

pub fn info(func: &str) -> Option<&'static FuncInfo> {
    FUNCS.iter().find(|f| f.func == func)
}

/// The tag of a function, or "" if it is not in the table.
pub fn tag(func: &str) -> &'static str {
    info(func).map(|f| f.tag).unwrap_or("")
}

/// A link to the function in the real 2.6.39 source (elixir.bootlin.com). `synchronize_rcu()` lives in a
/// file that depends on the RCU flavour configured, so it links to elixir's identifier search instead.
pub fn source_link(func: &str) -> Option<String> {
    let f = info(func)?;
    match f.func {
        "launcher" => Some("https://elixir.bootlin.com/linux/v2.6.39/source/Documentation/lguest/lguest.c".into()),
        "synchronize_rcu" => Some("https://elixir.bootlin.com/linux/v2.6.39/A/ident/synchronize_rcu".into()),
        // The Switcher's labels are assembly: link the file.
        "switch_to_guest" | "return_to_host" | "deliver_to_host" => {
            Some(format!("https://elixir.bootlin.com/linux/v2.6.39/source/{}#:~:text={}", f.file, f.func))
        }
        // Our name for the LGUEST_INIT handler; hypercalls.c calls it initialize().
        "lguest_init_hcall" => Some(format!("https://elixir.bootlin.com/linux/v2.6.39/source/{}#:~:text=initialize", f.file)),
        name => Some(format!("https://elixir.bootlin.com/linux/v2.6.39/source/{}#:~:text={name}", f.file)),
    }
}

/// A modelled function as the page lists it: its journey tag, file, summary and the link to the real source.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionView {
    pub func: &'static str,
    pub tag: &'static str,
    pub file: &'static str,
    pub summary: &'static str,
    pub link: Option<String>,
    /// Whether a breakpoint can stop at it: every function a step's events name, but not `launcher`, our name
    /// for all the Launcher's own steps at once (a breakpoint there would stop nearly everywhere).
    pub breakpoint: bool,
}

/// Every modelled function, in the order of the journey.
pub fn functions() -> Vec<FunctionView> {
    FUNCS
        .iter()
        .map(|f| FunctionView { func: f.func, tag: f.tag, file: f.file, summary: f.summary, link: source_link(f.func), breakpoint: f.func != "launcher" })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breakpoint_can_stop_at_every_function_but_the_launchers_own_steps() {
        let fs = functions();
        assert_eq!(fs.len(), FUNCS.len());
        let no: Vec<&str> = fs.iter().filter(|f| !f.breakpoint).map(|f| f.func).collect();
        assert_eq!(no, ["launcher"]);
        for name in ["add_eventfd", "run_guest", "initialize", "start_device"] {
            assert!(fs.iter().any(|f| f.func == name && f.breakpoint), "{name}");
        }
    }
}
