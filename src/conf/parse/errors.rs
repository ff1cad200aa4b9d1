//! Syntax errors as the user reads them: pest's expectations turned into
//! words, the bracket left open, and the nesting depth checked before a parse.

use crate::conf::diag::Diagnostic;
use crate::conf::grammar::Rule;
use crate::conf::source::Span;
use crate::conf::syntax::{Nesting, TooDeep};

/// The brackets of `text` (with their offsets) that are outside strings,
/// comments (`#` and `//`) and `( ... )` block strings: a quick structural
/// scan used before and after parsing.
pub(super) fn brackets(text: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let b = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            let at = i;
            i += 1;
            match b[at] {
                q @ (b'"' | b'\'') => {
                    while i < b.len() && b[i] != q {
                        i += if b[i] == b'\\' && q == b'"' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'/' if b.get(i) != Some(&b'/') => {}
                b'#' | b'/' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                // A block string starts where a value does (after a separator
                // or a space, never inside a word such as `URL(`) and ends at a
                // `)` alone at the start of a line.
                b'(' if at == 0 || matches!(b[at - 1], b' ' | b'\t' | b':' | b'=' | b'\n' | b'\r' | b'[' | b',') => {
                    match text[i..].find("\n)") {
                        Some(end) => i += end + 2,
                        None => i = b.len(),
                    }
                }
                c @ (b'[' | b'{' | b']' | b'}') => return Some((at, c)),
                _ => {}
            }
        }
        None
    })
}

/// The first bracket nested deeper than [`MAX_DEPTH`](crate::conf::syntax::MAX_DEPTH), by the quick
/// bracket scan (which skips strings as it sees them, so it can be misled;
/// [`Syntax::check_depth`](crate::conf::syntax::Syntax::check_depth) is the rule that always holds).
pub(super) fn bracket_depth(text: &str) -> Option<TooDeep> {
    let mut nesting = Nesting::default();
    for (at, c) in brackets(text) {
        if c == b'[' || c == b'{' {
            if let Err(d) = nesting.enter(at) {
                return Some(d);
            }
        } else {
            nesting.leave();
        }
    }
    None
}

fn rule_name(rule: &Rule) -> &'static str {
    match rule {
        Rule::file | Rule::entry | Rule::pair | Rule::key | Rule::bare_key | Rule::quoted_key => "a key",
        Rule::value => "a value",
        Rule::map => "a map",
        Rule::array => "an array",
        Rule::include | Rule::include_path | Rule::path_bare => "an include path",
        Rule::EOI => "end of file",
        Rule::key_sep => "a value",
        Rule::map_close => "`}`",
        Rule::array_close => "`]`",
        _ => "a value",
    }
}

pub(super) fn syntax_error(e: &pest::error::Error<Rule>, id: usize, text: &str) -> Diagnostic {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let next = text[pos..].chars().next();
    if let Some(q @ ('"' | '\'')) = next {
        if !text[pos + 1..].contains(q) {
            return Diagnostic::error(
                "syntax",
                Some(Span { source: id, start: pos, end: pos + 1 }),
                "this string is not closed",
            )
            .with_help(format!("add the closing {q}"));
        }
    }
    let found = match next {
        None => "end of file".to_string(),
        Some('\n') | Some('\r') => "a new line".to_string(),
        Some(c) if c.is_control() => format!("`{}`", c.escape_default()),
        Some(c) => format!("`{c}`"),
    };
    let mut expected: Vec<&str> = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter(|r| **r != Rule::comment).map(rule_name).collect()
        }
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    expected.sort();
    expected.dedup();
    if text[..pos].trim_end_matches([' ', '\t']).ends_with('(') {
        let open = text[..pos].rfind('(').unwrap_or(pos);
        return Diagnostic::error(
            "syntax",
            Some(Span { source: id, start: open, end: open + 1 }),
            "block string is not closed",
        )
        .with_help("a `(` block ends with a `)` alone at the start of a line");
    }
    let context = enclosing_context(&text[..pos]);
    let message = match (expected.as_slice(), context) {
        ([], _) => format!("unexpected {found}"),
        (["a value"], _) if found == "a new line" => "expected a value after the key, found a new line".to_string(),
        (_, Some(close)) if found != "end of file" => {
            format!("unexpected {found}; expected `,`, a new line or `{close}` to end the previous value")
        }
        (_, Some(close)) => format!("unexpected end of file; `{close}` is missing"),
        (["end of file"], None) => {
            format!("unexpected {found}; a value must be followed by a new line, `;` or `,`")
        }
        (list, None) => format!("unexpected {found}; expected {}", list.join(" or ")),
    };
    let mut d =
        Diagnostic::error("syntax", Some(Span { source: id, start: pos, end: (pos + 1).min(text.len()) }), message);
    if found == "end of file" && (text.matches('"').count() % 2 == 1) {
        d = d.with_help("a double-quoted string is not closed");
    } else if context.is_some() && found != "end of file" {
        d = d.with_help("inside `{}` and `[]`, separate entries with `,` or a new line");
    }
    d
}

/// The closing bracket of the innermost map or array open at the end of `text`.
pub(super) fn enclosing_context(text: &str) -> Option<char> {
    let mut stack = Vec::new();
    for (_, c) in brackets(text) {
        match c {
            b'[' => stack.push(']'),
            b'{' => stack.push('}'),
            _ => {
                stack.pop();
            }
        }
    }
    // Top-level braces are not a context the reference enforces.
    if stack.len() == 1 && stack[0] == '}' && text.trim_start().starts_with('{') {
        return None;
    }
    stack.last().copied()
}
