//! Any string in any result field must give well-formed JSON/SARIF/Code Quality, JUnit XML
//! that parses, markdown without raw HTML, and annotations that cannot forge a command.
#![no_main]

#[path = "../harness.rs"]
mod harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| harness::reports(data));
