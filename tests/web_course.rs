//! The course in a real browser: every scenario file and every embedded lesson replays through the wasm
//! build in headless Chromium with the same outcomes as natively (each line's expected result holds there
//! too), and the Guest programs run on the x86 core compiled to wasm.
//!
//! The list of scenario files is written out here (wasm has no file system); a native test checks it
//! matches `tests/scenarios/`, so a new scenario cannot be forgotten.

/// Every `tests/scenarios/*.scn`.
pub const SCENARIOS: &[(&str, &str)] = &[
    ("01_file_before_initialize.scn", include_str!("scenarios/01_file_before_initialize.scn")),
    ("02_initialize.scn", include_str!("scenarios/02_initialize.scn")),
    ("03_initialize_enomem.scn", include_str!("scenarios/03_initialize_enomem.scn")),
    ("04_write_requests.scn", include_str!("scenarios/04_write_requests.scn")),
    ("05_read_and_notify.scn", include_str!("scenarios/05_read_and_notify.scn")),
    ("06_eventfd_notify.scn", include_str!("scenarios/06_eventfd_notify.scn")),
    ("07_interrupts_and_halt.scn", include_str!("scenarios/07_interrupts_and_halt.scn")),
    ("08_death.scn", include_str!("scenarios/08_death.scn")),
    ("09_restart.scn", include_str!("scenarios/09_restart.scn")),
    ("10_close_frees_everything.scn", include_str!("scenarios/10_close_frees_everything.scn")),
    ("11_interrupt_delivery.scn", include_str!("scenarios/11_interrupt_delivery.scn")),
    ("12_async_ring.scn", include_str!("scenarios/12_async_ring.scn")),
    ("13_guest_program.scn", include_str!("scenarios/13_guest_program.scn")),
    ("14_boot_page_tables.scn", include_str!("scenarios/14_boot_page_tables.scn")),
    ("14_console_device.scn", include_str!("scenarios/14_console_device.scn")),
    ("15_lguest_init_checks.scn", include_str!("scenarios/15_lguest_init_checks.scn")),
    ("16_two_guests.scn", include_str!("scenarios/16_two_guests.scn")),
    ("17_close_during_read.scn", include_str!("scenarios/17_close_during_read.scn")),
    ("18_paging.scn", include_str!("scenarios/18_paging.scn")),
    ("19_vfs_checks.scn", include_str!("scenarios/19_vfs_checks.scn")),
    ("20_direct_traps.scn", include_str!("scenarios/20_direct_traps.scn")),
    ("21_module_load.scn", include_str!("scenarios/21_module_load.scn")),
    ("22_interrupt_frame_pushes.scn", include_str!("scenarios/22_interrupt_frame_pushes.scn")),
];

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_list_matches_the_directory() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut on_disk: Vec<String> =
        std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".scn")).collect();
    on_disk.sort();
    let listed: Vec<String> = SCENARIOS.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(listed, on_disk, "add new scenario files to tests/web_course.rs");
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::SCENARIOS;
    use lguest_sim::scenario::{check, library, replay};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn every_scenario_replays_in_the_browser() {
        assert!(SCENARIOS.len() >= 13);
        for (name, src) in SCENARIOS {
            if let Err(e) = replay(src) {
                panic!("{name}:{}: {}", e.line, e.message);
            }
        }
    }

    #[wasm_bindgen_test]
    fn every_lesson_checks_clean_in_the_browser() {
        assert!(library::LESSONS.len() >= 12);
        for (name, src) in library::LESSONS {
            let run = check::check_source(src, name, None).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(run.errors.is_empty(), "{name}: {:?}", run.errors);
        }
    }

    #[wasm_bindgen_test]
    fn guest_programs_run_on_the_wasm_core() {
        let r = replay("load guests/hello.S\nopen\nwrite INITIALIZE => 12\nread => 4 console=\"Hello from the Guest!\\n\"\nread => -ENOENT\nread len=100 => 18 reason=\"CRASH: Power down\"\n").unwrap();
        assert!(r.kernel.log.iter().any(|e| e.func == "lguest_init_hcall"));
        let r = replay("load guests/timer.S\nopen\nwrite INITIALIZE => 12\n").unwrap();
        assert!(r.program.is_some());
    }
}
