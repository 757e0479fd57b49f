//! `cargo fuzz run topic`: topics and patterns never panic validation, matching or translation.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::topic(data));
