//! `rnats check FILE...`: validate config files the way the server would load
//! them, for people (rustc-style diagnostics) and for CI (`--format json`).
//! Exit codes: 0 valid, 1 invalid, 2 usage error.

use std::path::Path;

use crate::cli::FlagOverlay;
use crate::conf::diag::Severity;

pub const CHECK_USAGE: &str = "\
Usage: rnats check [--format human|json|sarif|github] [--strict] [--dump] FILE...
       rnats check --diff [--format human|json] OLD.conf NEW.conf

Checks NATS configuration files: syntax, types, ranges, conflicting options,
unknown keys (warnings; errors with --strict), referenced files, and what
nats-server 2.x would refuse (portability warnings).

    --format human        diagnostics as text (default)
    --format json         one JSON object per diagnostic and line
    --format sarif        one SARIF 2.1.0 log (code-scanning services)
    --format github       GitHub Actions workflow commands (annotations)
    --strict              treat warnings as errors
    --dump                print the fully resolved configuration as JSON
    --diff OLD NEW        what a reload from OLD to NEW would change, which changes
                          need a restart, and whose connections it would end.
                          Exit 0: reloadable (or unchanged), 1: a file is invalid,
                          3: a restart is needed
";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Format {
    #[default]
    Human,
    Json,
    Sarif,
    Github,
}

impl Format {
    fn parse(v: Option<&str>) -> Result<Format, String> {
        match v {
            Some("human") => Ok(Format::Human),
            Some("json") => Ok(Format::Json),
            Some("sarif") => Ok(Format::Sarif),
            Some("github") => Ok(Format::Github),
            other => Err(format!("--format takes `human`, `json`, `sarif` or `github`, not {other:?}")),
        }
    }
}

#[derive(Debug, Default)]
struct Args {
    format: Format,
    strict: bool,
    dump: bool,
    diff: bool,
    files: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--strict" | "-strict" => a.strict = true,
            "--dump" | "-dump" => a.dump = true,
            "--diff" | "-diff" => a.diff = true,
            "--format" | "-format" => a.format = Format::parse(it.next().map(String::as_str))?,
            s if s.starts_with("--format=") => a.format = Format::parse(s.strip_prefix("--format="))?,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option `{s}`")),
            file => a.files.push(file.to_string()),
        }
    }
    if a.files.is_empty() {
        return Err("no configuration file given".into());
    }
    if a.diff && a.files.len() != 2 {
        return Err("--diff takes two files: the running configuration and the new one".into());
    }
    Ok(a)
}

/// Runs the command; returns the process exit code.
pub fn run(args: &[String]) -> u8 {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("rnats check: {msg}\n");
            }
            eprint!("{CHECK_USAGE}");
            return if msg.is_empty() { 0 } else { 2 };
        }
    };
    if args.diff {
        return diff(&args.files[0], &args.files[1], args.format == Format::Json);
    }
    let mut failed = false;
    let mut sarif_results = Vec::new();
    for file in &args.files {
        let loaded = crate::conf::load(Path::new(file), &FlagOverlay::default());
        let bad = loaded.failed(args.strict);
        failed |= bad;
        match args.format {
            Format::Json => {
                for d in &loaded.diags {
                    println!("{}", d.to_json(&loaded.sources));
                }
            }
            Format::Sarif => sarif_results.extend(loaded.diags.iter().map(|d| d.to_sarif(&loaded.sources, file))),
            Format::Github => {
                for d in &loaded.diags {
                    println!("{}", d.to_github(&loaded.sources, file));
                }
            }
            Format::Human => {
                for d in &loaded.diags {
                    eprintln!("{}", d.render(&loaded.sources));
                }
                let (e, w) = (loaded.count(Severity::Error), loaded.count(Severity::Warning));
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
