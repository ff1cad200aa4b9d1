//! Where rnats reads a value that nats-server 2.x refuses (or reads
//! differently): an unquoted `1.5s`, a partial date, a word starting with `.`
//! or `-`, an unquoted `$2b$` hash, an integer right before `]`. rnats keeps
//! the obvious meaning, and reports a portability warning with the reference's
//! own message, so `-t` (warnings are fatal) fails exactly where nats-server's
//! `-t` fails and a mixed fleet never gets a config only rnats reads.
//! `rnats fmt` uses the same test to decide which words need quotes.

/// Where a value stands: the reference ends values differently in each place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    Top,
    Map,
    Array,
}

/// The reference lexer's message when a value is followed by `c`.
fn bad_end(ctx: Ctx, c: char) -> String {
    let c = if c == '\n' { "\\n".to_string() } else { c.to_string() };
    match ctx {
        Ctx::Top => {
            format!("Expected a top-level value to end with a new line, comment or EOF, but got '{c}' instead.")
        }
        Ctx::Map => format!("Expected a map value terminator \",\" or a map terminator \"}}\", but got '{c}' instead."),
        Ctx::Array => {
            format!("Expected an array value terminator \",\" or an array terminator \"]\", but got '{c}' instead.")
        }
    }
}

/// The message nats-server's lexer gives for an unquoted word that rnats reads
/// as a string, or `None` when the reference reads the word the same way.
pub fn unquoted_word(text: &str, ctx: Ctx) -> Option<String> {
    // Most words (names, hosts, passwords) start with a letter and hold no
    // quote: nothing below applies to them.
    if !text.starts_with(['.', '-', '$', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) && !text.contains('\'') {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let first = *chars.first()?;
    if first == '.' {
        return Some("Floats must start with a digit, not '.'.".into());
    }
    if first == '-' {
        if !chars.get(1).is_some_and(char::is_ascii_digit) {
            let c = chars.get(1).copied().unwrap_or(' ');
            return Some(format!("Expected a digit but got '{c}'."));
        }
        // A negative number ends where its digits do, with no check of what follows.
        let rest = chars[1..].iter().position(|c| !c.is_ascii_digit()).map(|i| chars[1 + i]);
        return rest.map(|c| bad_end(ctx, c));
    }
    if let Some(i) = chars.iter().position(|&c| c == '\'') {
        // A quote ends an unquoted word; whatever follows it is an error.
        return Some(bad_end(ctx, chars.get(i + 1).copied().unwrap_or('\n')));
    }
    if let Some(name) = text.strip_prefix('$') {
        if name.starts_with("2b$") || name.starts_with("2y$") {
            return Some(format!("variable reference for '{name}' can not be found"));
        }
        return None;
    }
    if !first.is_ascii_digit() {
        return None;
    }
    let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    match chars.get(digits) {
        Some('.') => match chars.get(digits + 1) {
            Some(c) if c.is_ascii_digit() => {
                let frac_end = digits + 1 + chars[digits + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                match chars.get(frac_end) {
                    // IP-like: [0-9.:-] only, then the word must end.
                    Some('.') => chars[frac_end..]
                        .iter()
                        .find(|c| !(c.is_ascii_digit() || matches!(c, '.' | ':' | '-')))
                        .map(|&c| bad_end(ctx, c)),
                    // A float ends at its last digit, with no check of what follows.
                    Some(&c) => Some(bad_end(ctx, c)),
                    None => None,
                }
            }
            other => {
                let c = other.copied().unwrap_or('\n');
                Some(format!("Floats must have a digit after the '.', but got '{c}' instead."))
            }
        },
        Some('-') if digits == 4 => Some(partial_date(&chars)),
        Some('-') => Some("All ISO8601 dates must be in full Zulu form.".into()),
        _ => None,
    }
}

/// What the reference says about a date that is not `YYYY-MM-DDTHH:MM:SSZ`.
fn partial_date(chars: &[char]) -> String {
    const SHAPE: &str = "DDDD-DD-DDTDD:DD:DDZ";
    for (i, want) in SHAPE.chars().enumerate() {
        let got = chars.get(i).copied();
        let ok = match (want, got) {
            ('D', Some(c)) => c.is_ascii_digit(),
            (w, Some(c)) => w == c,
            (_, None) => false,
        };
        if !ok {
            let found = got.map_or(String::new(), |c| c.to_string());
            return if want == 'D' {
                format!("Expected digit in ISO8601 datetime, but found '{found}' instead.")
            } else {
                format!("Expected '{want}' in ISO8601 datetime, but found '{found}' instead.")
            };
        }
    }
    "All ISO8601 dates must be in full Zulu form.".into()
}

/// Whether `rnats fmt` must quote an unquoted word so that nats-server reads
/// it as rnats does.
pub fn needs_quotes(word: &str) -> bool {
    unquoted_word(word, Ctx::Map).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_the_reference_refuses() {
        let top = |w: &str| unquoted_word(w, Ctx::Top);
        assert_eq!(
            top("1.5s").as_deref(),
            Some("Expected a top-level value to end with a new line, comment or EOF, but got 's' instead.")
        );
        assert!(unquoted_word("1.5s", Ctx::Map).unwrap().starts_with("Expected a map value terminator"));
        assert_eq!(top("1.x").as_deref(), Some("Floats must have a digit after the '.', but got 'x' instead."));
        assert_eq!(top("2016-05-04").as_deref(), Some("Expected 'T' in ISO8601 datetime, but found '' instead."));
        assert_eq!(top("2016-5-04").as_deref(), Some("Expected digit in ISO8601 datetime, but found '-' instead."));
        assert_eq!(top("1-2").as_deref(), Some("All ISO8601 dates must be in full Zulu form."));
        assert_eq!(top(".5").as_deref(), Some("Floats must start with a digit, not '.'."));
        assert_eq!(top("-abc").as_deref(), Some("Expected a digit but got 'a'."));
        assert!(top("-5x").is_some());
        assert!(top("ab'cd").is_some());
        assert!(top("$2b$10$abc").unwrap().contains("can not be found"));
        assert!(top("1.2.3.4x").is_some());
        for fine in ["abc", "12abc", "0x10", "1_000", "+5", "1k5", "1e5", "$2a$10$x", "$var", "nats://h:4222", "a#b"] {
            assert_eq!(top(fine), None, "{fine}");
        }
    }
}
