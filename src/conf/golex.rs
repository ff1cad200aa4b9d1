//! nats-server's own verdict on a config file's syntax, word for word: the
//! error its `conf` package (lexer and parser) returns first, for the first
//! line of `-t` and of a failed start when rnats runs as `nats-server`
//! (launchers and test harnesses read that line, e.g. for `Parse error`).
//!
//! This is a second reading of the file, done only when it is needed: the
//! same state machine as nats-server's lexer, state for state (its line
//! counting and its messages included), and the parser's checks on the
//! items (integers in range, variables found in an enclosing block or the
//! environment, environment values parsed as values, includes read). rnats'
//! own parser (`parse.rs`) remains the one that builds the configuration
//! and reports every problem with its position; this module only says what
//! the reference would say first.
//!
//! The lexer (`lexer`) is nats-server's state machine; the parser (`parser`)
//! walks its items with the reference's checks and phrases its errors.

mod lexer;
mod parser;

use std::path::Path;

use parser::{go_io_error, GoParser, INCLUDE_CYCLE};

/// The reference's error for the file at `path` (as given on the command
/// line), or `None` when its `conf` package reads it.
pub fn first_error(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => return Some(format!("open {}: {}", path.display(), go_io_error(&e))),
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut p = GoParser::new(env, dir, vec![std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())]);
    p.parse(&data, &path.to_string_lossy()).err().filter(|e| e != INCLUDE_CYCLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's error for the text of one file.
    fn first_error_in(text: &str, name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let mut p = GoParser::new(env, std::path::PathBuf::new(), Vec::new());
        p.parse(text.as_bytes(), name).err().filter(|e| e != INCLUDE_CYCLE)
    }

    fn err(text: &str) -> Option<String> {
        first_error_in(text, "t.conf", &|_| None)
    }

    #[test]
    fn lexer_messages_as_the_reference() {
        assert_eq!(err("port: 4222\n"), None);
        assert_eq!(
            err("cluster {\n  name: c1\n  listen: 127.0.0.1:6222 routes: [a]\n}\n").as_deref(),
            Some("Parse error on line 3: 'Expected a map value terminator \",\" or a map terminator \"}\", but got 'r' instead.'")
        );
        assert_eq!(
            err("listen: 127.0.0.1:4222\nname: \"unterminated\n").as_deref(),
            Some("Parse error on line 3: 'Unexpected EOF.'")
        );
        assert_eq!(
            err("a: 1.5s\n").as_deref(),
            Some("Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 's' instead.'")
        );
        assert_eq!(err("a: .5\n").as_deref(), Some("Parse error on line 1: 'Floats must start with a digit'"));
        assert_eq!(err("a: -x\n").as_deref(), Some("Parse error on line 1: 'Expected a digit but got 'x'.'"));
        assert_eq!(
            err("a: 1-2\n").as_deref(),
            Some("Parse error on line 1: 'All ISO8601 dates must be in full Zulu form.'")
        );
        assert_eq!(
            err("a: 2016-05-04\n").as_deref(),
            Some("Parse error on line 2: 'Expected 'T' in ISO8601 datetime, but found '\\n' instead.'")
        );
        // The `2]` is a string to the reference, and the array never ends.
        assert_eq!(
            err("a: [1, 2]\n").as_deref(),
            Some("Parse error on line 2: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'")
        );
        assert_eq!(err("a: [1, 2 ]\n"), None);
        assert_eq!(err("a: \"\\q\"\n").map(|e| e.contains("Invalid escape character 'q'")), Some(true));
        assert_eq!(
            err("a: 99999999999999999999\n").as_deref(),
            Some("integer '99999999999999999999' is out of the range")
        );
        assert_eq!(
            err("a: 2016-13-04T00:00:00Z\n").as_deref(),
            Some("expected Zulu formatted DateTime, but got '2016-13-04T00:00:00Z'")
        );
        assert_eq!(err("foo").as_deref(), Some("config is invalid (t.conf:1:3)"));
    }

    #[test]
    fn variables_as_the_reference() {
        assert_eq!(err("a: 1\nb: $a\n"), None);
        assert_eq!(
            err("b { c: $a }\na: 1\n").as_deref(),
            Some("variable reference for 'a' on line 1 can not be found")
        );
        assert_eq!(
            err("x { a: 1 }\nb: $a\n").as_deref(),
            Some("variable reference for 'a' on line 2 can not be found")
        );
        assert_eq!(err("p: $2a$10$abc\n"), None, "a bcrypt hash");
        let env = |n: &str| match n {
            "T" => Some("[1,2]".to_string()),
            "OK" => Some("[a, b]".to_string()),
            "A" => Some("$B".to_string()),
            "B" => Some("$A".to_string()),
            "S" => Some("4222 x".to_string()),
            _ => None,
        };
        let e = |t: &str| first_error_in(t, "t.conf", &env);
        assert_eq!(e("tags: $OK\n"), None);
        assert_eq!(
            e("tags: $T\n").as_deref(),
            Some("variable reference for 'T' on line 1 could not be parsed: Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'")
        );
        assert_eq!(
            e("p: $S\n").as_deref(),
            Some("variable reference for 'S' on line 1 could not be parsed: Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'x' instead.'")
        );
        let cycle = e("p: $A\n").unwrap();
        assert!(cycle.ends_with("variable reference cycle for 'A'"), "{cycle}");
    }
}
