//! Any bytes as client protocol input: the parser must return ops, "need
//! more", or an error, never panic, and always make progress.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnats::server::proto::{parse, Limits, Parsed};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_control_line: 4096, max_payload: 1 << 20, headers: true };
    let mut rest = data;
    while let Ok(Parsed::Op(_, used)) = parse(rest, &limits) {
        assert!(used > 0 && used <= rest.len());
        rest = &rest[used..];
    }
});
