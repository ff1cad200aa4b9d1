//! Any bytes as a config file: the loader must return diagnostics, never
//! panic, and never hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let loaded = rnats::conf::load_str("fuzz.conf", &text);
    // Rendering touches every span: positions must stay inside the sources.
    let _ = loaded.render();
});
