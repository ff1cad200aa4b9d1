//! nats-server's `-t`: check a config file the way the server would load it,
//! warnings fatal, the verdict on stderr. (`rnats check`, the tool for people
//! and CI, is in `tools::check`.)

use std::path::Path;

use crate::cli::FlagOverlay;
use crate::conf::diag::Severity;

/// nats-server's `-t`: warnings are fatal; the verdict goes to stderr.
pub fn test_config(file: &str, overlay: &FlagOverlay) -> u8 {
    let loaded = crate::conf::load(Path::new(file), overlay);
    // A file nats-server's own parser refuses fails here too, even where
    // rnats reads it, so a mixed fleet never gets a config only rnats reads.
    let refused = crate::conf::golex::first_error(Path::new(file), &|name| std::env::var(name).ok());
    if loaded.failed(true) || refused.is_some() {
        // nats-server's own first line, for the tools that read it; then
        // rnats' diagnostics with positions.
        let first = refused.unwrap_or_else(|| crate::conf::reference::first_line(file, &loaded, true));
        eprintln!("nats-server: {first}");
        let shown: Vec<String> =
            loaded.diags.iter().filter(|d| d.severity != Severity::Note).map(|d| d.render(&loaded.sources)).collect();
        if !shown.is_empty() {
            eprintln!("{}", shown.join("\n"));
        }
        eprintln!("rnats: configuration file {file} is invalid");
        1
    } else {
        eprintln!("rnats: configuration file {file} is valid");
        0
    }
}
