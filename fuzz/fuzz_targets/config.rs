//! Config parsing + validation + interpolation must never panic, whatever the bytes.
#![no_main]

#[path = "../harness.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| harness::config(data));
