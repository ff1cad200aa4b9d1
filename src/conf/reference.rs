//! The first line nats-server prints when it cannot use a configuration
//! file, for `-t` and for a failed start under the name `nats-server`:
//! launchers and test harnesses read it (the Python client's launcher looks
//! for `Parse error`). rnats prints it first, then its own positioned
//! diagnostics.
//!
//! - A problem the reference's `conf` package finds (syntax, a variable
//!   that cannot be found or parsed, an include that cannot be read, an
//!   integer out of range): its own line, from a faithful second reading of
//!   the file ([`super::golex`]).
//! - Otherwise the first problem rnats reports, with nats-server's
//!   `file:line:col` (its column is 0-based on the first line and 1-based
//!   after, a quirk of its lexer) and, where it is known, nats-server's
//!   wording: `unknown field "x"`, and Go's `interface conversion: ...`
//!   for a value of the wrong type. Other checks keep rnats' wording.

use std::path::Path;

use super::diag::Severity;
use super::Loaded;

/// The reference's first line for `file`, without the `nats-server: `
/// prefix. `strict`: warnings fail too (`-t`).
pub fn first_line(file: &str, loaded: &Loaded, strict: bool) -> String {
    if let Some(e) = super::golex::first_error(Path::new(file), &|name| std::env::var(name).ok()) {
        return e;
    }
    let failing =
        |d: &&super::diag::Diagnostic| d.severity == Severity::Error || (strict && d.severity == Severity::Warning);
    let mut shown: Vec<_> = loaded.diags.iter().filter(failing).collect();
    // Positioned ones first, in file order.
    shown.sort_by_key(|d| d.span.map_or((usize::MAX, usize::MAX), |s| (s.source, s.start)));
    let Some(d) = shown.first() else { return format!("configuration file {file} is invalid") };
    let text = reference_wording(d.code, &d.message).unwrap_or_else(|| d.message.clone());
    let Some(span) = d.span else { return text };
    // nats-server places a value's problem at its key.
    let at = match d.code {
        "type" => key_before(loaded, &d.message, span).unwrap_or(span.start),
        _ => span.start,
    };
    let (line, col) = loaded.sources.line_col(span.source, at);
    let go_col = if line == 1 { col.saturating_sub(1) } else { col };
    format!("{}:{line}:{go_col}: {text}", loaded.sources.get(span.source).name)
}

/// Where the key named in a type error (`` `port` must be ... ``) starts:
/// its last spelling before the value.
fn key_before(loaded: &Loaded, message: &str, span: super::source::Span) -> Option<usize> {
    let key = message.strip_prefix('`')?.split('`').next()?;
    let text = &loaded.sources.get(span.source).text;
    let before = text.get(..span.start)?.to_ascii_lowercase();
    before.rfind(&key.to_ascii_lowercase())
}

/// nats-server's words for one of rnats' diagnostics, where they are known.
fn reference_wording(code: &str, message: &str) -> Option<String> {
    match code {
        "unknown-key" => {
            let key = message.strip_prefix("unknown field `")?.split('`').next()?;
            if message.ends_with("permissions`") {
                return Some(format!("Unknown field \"{key}\" parsing permissions"));
            }
            if message.ends_with(".limits`") && message.contains("in `accounts.") {
                return Some(format!("Unknown field \"{key}\" parsing account limits"));
            }
            if message.ends_with("mappings`") {
                return Some(format!("Unknown field \"{key}\" for mapping destination"));
            }
            Some(format!("unknown field \"{key}\""))
        }
        "type" => {
            // "`port` must be an integer, found a string"
            let (_, rest) = message.split_once(" must be ")?;
            let (want, found) = rest.rsplit_once(", found ")?;
            Some(format!("interface conversion: interface {{}} is {}, not {}", go_type(found)?, expected(want)?))
        }
        _ => None,
    }
}

/// The Go type nats-server asserts for what rnats expects (`a boolean
/// (true/false, ...)`, `an array of strings`).
fn expected(words: &str) -> Option<&'static str> {
    [
        ("a boolean", "bool"),
        ("an integer", "int64"),
        ("a string", "string"),
        ("an array", "[]interface {}"),
        ("a map", "map[string]interface {}"),
    ]
    .iter()
    .find(|(w, _)| words == *w || words.starts_with(&format!("{w} (")) || words.starts_with(&format!("{w} of ")))
    .map(|(_, t)| *t)
}

/// The Go type nats-server holds for a kind of value (the exact words of
/// [`super::tree::Kind::describe`] and of the key table's expectations).
fn go_type(words: &str) -> Option<&'static str> {
    Some(match words {
        "a string" => "string",
        "an integer" => "int64",
        "a boolean" => "bool",
        "a number with a fraction" => "float64",
        "a date" => "time.Time",
        "an array" => "[]interface {}",
        "a map" => "map[string]interface {}",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording() {
        assert_eq!(
            reference_wording("unknown-key", "unknown field `max_paylod`").as_deref(),
            Some("unknown field \"max_paylod\"")
        );
        assert_eq!(
            reference_wording("type", "`port` must be an integer, found a string").as_deref(),
            Some("interface conversion: interface {} is string, not int64")
        );
        assert_eq!(reference_wording("type", "`x` must be a duration, found a map"), None);
        assert_eq!(
            reference_wording("unknown-key", "unknown field `foo` in `accounts.A.limits`").as_deref(),
            Some("Unknown field \"foo\" parsing account limits")
        );
        assert_eq!(
            reference_wording("unknown-key", "unknown field `foo` in `accounts.A.mappings`").as_deref(),
            Some("Unknown field \"foo\" for mapping destination")
        );
        assert_eq!(reference_wording("value", "anything"), None);
    }
}
