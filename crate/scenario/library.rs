//! The course as shipped: every lesson and Guest program under `lessons/`, embedded at build time by
//! `crate/build.rs`, so the page needs no fetches and works offline.

include!(concat!(env!("OUT_DIR"), "/library.rs"));

/// The text of a lesson (`01-meet-dev-lguest.lesson`) or a Guest program (`guests/hello.S`).
pub fn source(name: &str) -> Option<&'static str> {
    let name = name.trim_start_matches("./").trim_start_matches("lessons/");
    LESSONS.iter().chain(GUESTS.iter()).find(|(n, _)| *n == name).map(|(_, t)| *t)
}
