//! Config parsing + validation + interpolation must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let env = |name: &str| (name == "HOME").then(|| "/root".to_owned());
        if let Err(e) = infracheck::config::load_str("fuzz.yaml", text, None, &env) {
            let msg = e.to_string();
            assert!(msg.lines().all(|l| l.starts_with("fuzz.yaml")), "{msg}");
        }
    }
});
