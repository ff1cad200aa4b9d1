//! `rnats check FILE...`: validate config files the way the server would load
//! them, for people (rustc-style diagnostics) and for CI (`--format json`).
//! Exit codes: 0 valid, 1 invalid, 2 usage error.

use std::path::Path;

use crate::cli::FlagOverlay;
use crate::conf::diag::{Diagnostic, Severity};

/// `rnats check`'s command line.
#[derive(Debug, clap::Args)]
#[command(
    about = "Validate config files the way the server would load them",
    long_about = "Checks NATS configuration files: syntax, types, ranges, conflicting options, \
unknown keys (warnings; errors with --strict), referenced files, and what nats-server 2.x \
would refuse (portability warnings).\n\nExit codes: 0 valid, 1 invalid, 2 usage error; \
with --diff, 3 when a restart is needed."
)]
pub struct CheckArgs {
    /// How diagnostics are printed: text, one JSON object per line, one
    /// SARIF 2.1.0 log (code scanning), or GitHub Actions annotations.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    pub strict: bool,
    /// Print the fully resolved configuration as JSON.
    #[arg(long)]
    pub dump: bool,
    /// With two files, OLD and NEW: what a reload from OLD to NEW would
    /// change, which changes need a restart, and whose connections it ends
    /// (exit 0 reloadable or unchanged, 1 a file is invalid, 3 restart needed).
    #[arg(long)]
    pub diff: bool,
    /// Print what each SUBJECT is published as under the mapping SRC -> DEST
    /// (no files needed). DEST may be weighted destinations separated by
    /// blanks (`'v1=80 v2=20'`); with weights or random(), the distribution.
    #[arg(long, num_args = 2.., value_names = ["SRC", "DEST", "SUBJECT"], allow_hyphen_values = true)]
    pub map: Option<Vec<String>>,
    /// The configuration files. Several files with the same cluster name
    /// are also checked against each other (accounts, exports, imports).
    #[arg(required_unless_present = "map", value_name = "FILE")]
    pub files: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Sarif,
    Github,
}

/// Runs the command; returns the process exit code.
pub fn run(args: &CheckArgs) -> u8 {
    if let Some(map) = &args.map {
        return super::check_map::run(map);
    }
    if args.diff && args.files.len() != 2 {
        eprintln!("rnats check: --diff takes two files: the running configuration and the new one");
        return 2;
    }
    if args.diff {
        return diff(&args.files[0], &args.files[1], args.format == Format::Json);
    }
    let mut failed = false;
    let mut sarif_results = Vec::new();
    let mut valid = Vec::new();
    for file in &args.files {
        let loaded = crate::conf::load(Path::new(file), &FlagOverlay::default());
        // `check` also gives the advice that `-t` and a start leave out.
        let advised = loaded.advice.iter().filter(|d| d.severity == Severity::Warning).count();
        let bad = loaded.failed(args.strict) || (args.strict && advised > 0);
        failed |= bad;
        let mut shown: Vec<&Diagnostic> = loaded.diags.iter().chain(&loaded.advice).collect();
        shown.sort_by_key(|d| (d.severity, d.span.map(|s| (s.source, s.start))));
        match args.format {
            Format::Json => {
                for d in &shown {
                    println!("{}", d.to_json(&loaded.sources));
                }
            }
            Format::Sarif => sarif_results.extend(shown.iter().map(|d| d.to_sarif(&loaded.sources, file))),
            Format::Github => {
                for d in &shown {
                    println!("{}", d.to_github(&loaded.sources, file));
                }
            }
            Format::Human => {
                for d in &shown {
                    eprintln!("{}", d.render(&loaded.sources));
                }
                let (e, w) = (loaded.count(Severity::Error), loaded.count(Severity::Warning) + advised);
                let verdict = if bad { "invalid" } else { "valid" };
                eprintln!("{file}: {verdict} ({e} error{}, {w} warning{})", plural(e), plural(w));
            }
        }
        if args.dump && !bad {
            match serde_json::to_string_pretty(&loaded.options) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("rnats check: cannot print {file}: {e}"),
            }
        }
        if !loaded.failed(false) {
            valid.push((file.as_str(), loaded.options));
        }
    }
    let peers: Vec<(&str, &crate::options::Options)> = valid.iter().map(|(f, o)| (*f, o)).collect();
    for msg in super::check_cluster::differences(&peers) {
        let d = Diagnostic::warning("cluster-accounts", None, msg);
        failed |= args.strict;
        match args.format {
            Format::Json => println!("{}", d.to_json(&Default::default())),
            Format::Sarif => sarif_results.push(d.to_sarif(&Default::default(), &args.files[0])),
            Format::Github => println!("{}", d.to_github(&Default::default(), &args.files[0])),
            Format::Human => eprintln!("{}", d.render(&Default::default())),
        }
    }
    if args.format == Format::Sarif {
        println!("{}", crate::conf::diag::sarif_log(sarif_results));
    }
    u8::from(failed)
}

/// Exit code of `--diff` when a change needs a restart.
pub const EXIT_RESTART_NEEDED: u8 = 3;

/// `--diff OLD NEW`: what a reload from OLD to NEW would do.
fn diff(old_file: &str, new_file: &str, json: bool) -> u8 {
    use crate::reload::diff::{self, Class};
    let mut loaded = Vec::new();
    for file in [old_file, new_file] {
        let l = crate::conf::load(Path::new(file), &FlagOverlay::default());
        if l.failed(false) {
            eprintln!("{}", l.render());
            eprintln!("{file}: invalid");
            return 1;
        }
        loaded.push(l.options);
    }
    let d = diff::diff(&loaded[0], &loaded[1]);
    let unimplemented = crate::conf::keys::refusals(&loaded[1]);
    let restart = d.is_refused() || !unimplemented.is_empty();
    let verdict = match (restart, d.changes.is_empty()) {
        (true, _) => "restart_required",
        (false, true) => "unchanged",
        (false, false) => "reloadable",
    };
    if json {
        let out = serde_json::json!({
            "old": old_file,
            "new": new_file,
            "verdict": verdict,
            "changes": d.changes,
            "cut_off": d.cut_off,
            "unsupported": unimplemented,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!("Reload from {old_file} to {new_file}:");
        for c in &d.changes {
            let what = c.detail.clone().unwrap_or_else(|| format!("{} -> {}", show(&c.old), show(&c.new)));
            let label = match c.class {
                Class::Reloadable => "reloads",
                Class::ReloadableBeyondReference => "reloads (nats-server would need a restart)",
                Class::Refused => "RESTART NEEDED",
                Class::Ignored => "ignored (not supported by rnats)",
            };
            println!("  {:<24} {label}: {what}", c.key);
        }
        for m in &unimplemented {
            println!("  RESTART NEEDED: {m}");
        }
        let cut = &d.cut_off;
        if !cut.removed.is_empty() {
            println!("Connections closed: users removed: {}", cut.removed.join(", "));
        }
        if !cut.credentials_changed.is_empty() {
            println!(
                "Connections re-authenticated (refused unless their credentials still hold): {}",
                cut.credentials_changed.join(", ")
            );
        }
        if cut.anonymous_clients {
            println!("Connections refused: clients without credentials (authentication becomes required)");
        }
        println!(
            "{}",
            match verdict {
                "restart_required" => "Verdict: a restart is needed; a reload would be refused and change nothing.",
                "unchanged" => "Verdict: nothing changes.",
                _ => "Verdict: a reload applies every change.",
            }
        );
    }
    if restart {
        EXIT_RESTART_NEEDED
    } else {
        0
    }
}

fn show(v: &str) -> &str {
    if v.is_empty() {
        "(unset)"
    } else {
        v
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
