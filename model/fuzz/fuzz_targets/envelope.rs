//! `cargo fuzz run envelope`: gateway frames and envelopes never panic the parsers.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::envelope(data));
