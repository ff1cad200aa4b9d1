//! `rnats fmt`: rewrite config files in the canonical layout
//! ([`crate::conf::fmt`]). In place by default; `--check` changes nothing,
//! prints a diff and exits 1 when a file would change (for CI); `-` reads
//! standard input and writes standard output. A file that does not parse is
//! left untouched and gets its diagnostic. Exit codes: 0 ok, 1 a file would
//! change (with `--check`) or could not be formatted, 2 usage error.

use std::io::{Read, Write};
use std::path::Path;

use crate::conf::source::Sources;

pub const FMT_USAGE: &str = "\
Usage: rnats fmt [--check] FILE...
       rnats fmt -            read standard input, write standard output

Rewrites NATS configuration files in one canonical layout: two-space
indentation, `key: value` and `key { ... }`, quotes only where needed, one
blank line between blocks. Comments stay where they were; variables,
includes and numbers stay as written; the meaning does not change.

    --check    change nothing; print a diff and exit 1 if a file would change
";

/// Runs the command; returns the process exit code.
pub fn run(args: &[String]) -> u8 {
    let mut check = false;
    let mut files = Vec::new();
    for a in args {
        match a.as_str() {
            "--check" | "-check" => check = true,
            "-h" | "--help" => {
                print!("{FMT_USAGE}");
                return 0;
            }
            "-" => files.push(a.clone()),
            s if s.starts_with('-') => {
                eprintln!("rnats fmt: unknown option `{s}`\n\n{FMT_USAGE}");
                return 2;
            }
            _ => files.push(a.clone()),
        }
    }
    if files.is_empty() {
        eprintln!("rnats fmt: no file given\n\n{FMT_USAGE}");
        return 2;
    }
    let mut status = 0;
    for file in &files {
        status = status.max(if file == "-" { stdin(check) } else { one_file(file, check) });
    }
    status
}

/// Formats `text`, or prints why it cannot be (the usual diagnostic).
fn formatted(name: &str, text: &str) -> Option<String> {
    let mut sources = Sources::default();
    let id = sources.add(name.to_string(), Path::new(name), text.to_string());
    match crate::conf::fmt::format(text, id) {
        Ok(out) => Some(out),
        Err(d) => {
            eprintln!("{}", d.render(&sources));
            eprintln!("rnats fmt: {name} was not changed");
            None
        }
    }
}

fn stdin(check: bool) -> u8 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("rnats fmt: cannot read standard input: {e}");
        return 1;
    }
    let Some(out) = formatted("<stdin>", &text) else { return 1 };
    if check {
        if out == text {
            return 0;
        }
        print!("{}", diff("<stdin>", &text, &out));
        return 1;
    }
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()).is_err() {
        return 1;
    }
    0
}

fn one_file(file: &str, check: bool) -> u8 {
    let text = match std::fs::read(file) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                eprintln!("rnats fmt: {file} is not UTF-8; it was not changed");
                return 1;
            }
        },
        Err(e) => {
            eprintln!("rnats fmt: cannot read {file}: {e}");
            return 1;
        }
    };
    let Some(out) = formatted(file, &text) else { return 1 };
    if out == text {
        return 0;
    }
    if check {
        print!("{}", diff(file, &text, &out));
        return 1;
    }
    // Write beside it and rename over it, so a crash never leaves half a file.
    let path = Path::new(file);
    let tmp = path.with_file_name(format!(
        ".{}.rnats-fmt.tmp",
        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
    ));
    let result = std::fs::write(&tmp, &out)
        .and_then(|()| match std::fs::metadata(path) {
            Ok(meta) => std::fs::set_permissions(&tmp, meta.permissions()),
            Err(e) => Err(e),
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        eprintln!("rnats fmt: cannot write {file}: {e}");
        return 1;
    }
    0
}

/// A unified diff (three lines of context) from `old` to `new`; empty when
/// they are the same.
pub fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, &format!("{name} (formatted)"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff() {
        let d = diff("a.conf", "a: 1\nb=2\nc: 3\n", "a: 1\nb: 2\nc: 3\n");
        assert_eq!(d, "--- a.conf\n+++ a.conf (formatted)\n@@ -1,3 +1,3 @@\n a: 1\n-b=2\n+b: 2\n c: 3\n");
        assert_eq!(diff("x", "same\n", "same\n"), "");
    }

    /// A long file with one line changed: one small hunk, not the whole file.
    #[test]
    fn long_file_one_hunk() {
        let old: String = (0..5000).map(|i| format!("k{i}: {i}\n")).collect();
        let new = old.replace("k2500: 2500\n", "k2500: changed\n");
        let d = diff("big.conf", &old, &new);
        assert_eq!(d.lines().filter(|l| l.starts_with("@@")).count(), 1, "{d}");
        assert!(d.contains("\n-k2500: 2500\n+k2500: changed\n"), "{d}");
        assert_eq!(d.lines().count(), 2 + 1 + 3 + 2 + 3, "{d}");
    }
}
