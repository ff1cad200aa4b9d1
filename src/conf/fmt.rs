//! `rnats fmt`: one canonical layout for config files.
//!
//! The syntax tree is the parser's (the grammar's rules as matched; comments
//! are tokens there); the spacing between tokens is read from the source text
//! around them. Layout: two-space indentation, `key: value` (and `key { ... }`
//! for maps), one entry per line, quotes only where needed, at most one blank
//! line in a row, and a blank line around every `{ ... }` block. Comments stay
//! before or after the same key or value; variables, includes, numbers and
//! environment references stay as written, so the meaning is unchanged.

use super::diag::Diagnostic;
use super::grammar::Rule;
use super::portability;
use super::syntax::{Children, Node as Syn};

const INDENT: &str = "  ";
/// Arrays and maps in arrays are written on one line up to this width.
const INLINE_WIDTH: usize = 80;

/// One element of a file, map or array, with the comments around it.
#[derive(Debug)]
struct Member {
    kind: MemberKind,
    /// The source had an empty line before it.
    blank_before: bool,
    /// A comment on the same line, after it.
    trailing: Option<String>,
}

#[derive(Debug)]
enum MemberKind {
    Comment(String),
    Entry { key: String, value: Node },
    Include(String),
    Value(Node),
}

#[derive(Debug)]
enum Node {
    /// Written as is; `number` marks an unsigned number (which must not touch a `]`).
    Scalar {
        text: String,
        number: bool,
    },
    /// A map or an array: its members, and a comment on its opening line.
    Map {
        open_comment: Option<String>,
        members: Vec<Member>,
    },
    Array {
        open_comment: Option<String>,
        members: Vec<Member>,
    },
}

/// Formats config text. A file that does not parse gives its syntax error
/// (and is to be left untouched).
pub fn format(text: &str, source_id: usize) -> Result<String, Diagnostic> {
    let syntax = super::parse::syntax_tree(text, source_id)?;
    let file = syntax.roots(text).next().map(|p| p.children());
    let members = file.map(|children| members(text, children, 0).1).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    write_members(&members, 0, &mut out);
    Ok(out)
}

/// Line breaks in the text between two tokens (`\r\n`, `\n` or a lone `\r`).
fn newlines(gap: &str) -> usize {
    let b = gap.as_bytes();
    (0..b.len()).filter(|&i| b[i] == b'\n' || (b[i] == b'\r' && b.get(i + 1) != Some(&b'\n'))).count()
}

/// The members of a file, map or array from its children, with the comment
/// on the opening line (if any). `start` is where the opening bracket ends.
fn members<'i>(text: &'i str, children: Children<'i>, start: usize) -> (Option<String>, Vec<Member>) {
    let mut open_comment = None;
    let mut out: Vec<Member> = Vec::new();
    let mut prev_end = start;
    for child in children {
        let gap = newlines(&text[prev_end..child.start()]);
        match child.rule() {
            Rule::map_close | Rule::array_close | Rule::EOI => break,
            Rule::comment => {
                let c = child.as_str().trim_end().to_string();
                let at_start = prev_end == start;
                match (gap, out.last_mut()) {
                    (0, Some(last)) if last.trailing.is_none() && !matches!(last.kind, MemberKind::Comment(_)) => {
                        last.trailing = Some(c)
                    }
                    (0, None) if at_start && start > 0 && open_comment.is_none() => open_comment = Some(c),
                    _ => out.push(Member {
                        kind: MemberKind::Comment(c),
                        blank_before: gap >= 2 && !out.is_empty(),
                        trailing: None,
                    }),
                }
            }
            Rule::entry => {
                if let Some(kind) = entry(text, child) {
                    out.push(Member { kind, blank_before: gap >= 2 && !out.is_empty(), trailing: None });
                }
            }
            Rule::value => {
                if let Some(node) = value(text, child) {
                    out.push(Member {
                        kind: MemberKind::Value(node),
                        blank_before: gap >= 2 && !out.is_empty(),
                        trailing: None,
                    });
                }
            }
            _ => {}
        }
        prev_end = child.end();
    }
    (open_comment, out)
}

fn entry(text: &str, pair: Syn<'_>) -> Option<MemberKind> {
    let inner = pair.children().next()?;
    match inner.rule() {
        Rule::include => {
            let path = inner.children().next()?.as_str().to_string();
            Some(MemberKind::Include(path))
        }
        Rule::pair => {
            let mut parts = inner.children();
            let key = parts.next()?;
            let _sep = parts.next()?;
            let v = parts.next()?;
            Some(MemberKind::Entry { key: key_text(key), value: value(text, v)? })
        }
        _ => None,
    }
}

/// A key, unquoted when it can be read back bare.
fn key_text(key: Syn<'_>) -> String {
    let written = key.as_str().to_string();
    let Some(inner) = key.children().next() else { return written };
    if inner.rule() != Rule::quoted_key {
        return written;
    }
    let content = inner.children().next().map(|t| t.as_str()).unwrap_or("");
    let bare_ok = !content.is_empty()
        && !content.eq_ignore_ascii_case("include")
        && !content.starts_with('#')
        && !content.starts_with("//")
        && content.chars().all(|c| !c.is_whitespace() && !"=:{}[],;\"'".contains(c));
    if bare_ok {
        content.to_string()
    } else {
        written
    }
}

fn value(text: &str, pair: Syn<'_>) -> Option<Node> {
    let pair = if pair.rule() == Rule::value { pair.children().next()? } else { pair };
    let written = pair.as_str();
    Some(match pair.rule() {
        Rule::map => {
            let start = pair.start() + 1;
            let (open_comment, members) = members(text, pair.children(), start);
            Node::Map { open_comment, members }
        }
        Rule::array => {
            let start = pair.start() + 1;
            let (open_comment, members) = members(text, pair.children(), start);
            Node::Array { open_comment, members }
        }
        Rule::dq_string | Rule::sq_string => {
            let content = pair.children().next().map(|t| t.as_str()).unwrap_or("");
            let text = if bare_word(content) { content.to_string() } else { written.to_string() };
            Node::Scalar { text, number: false }
        }
        Rule::raw if portability::needs_quotes(written) => {
            let quoted = if !written.contains('"') {
                format!("\"{written}\"")
            } else if !written.contains('\'') && !written.contains('\\') {
                format!("'{written}'")
            } else {
                written.to_string()
            };
            Node::Scalar { text: quoted, number: false }
        }
        Rule::integer | Rule::sized => Node::Scalar { text: written.to_string(), number: !written.starts_with('-') },
        _ => Node::Scalar { text: written.to_string(), number: false },
    })
}

/// Whether a quoted string's content reads back as the same string unquoted,
/// here and in nats-server: a plain word that is not a boolean, a variable or
/// a number, and holds nothing either reader would stop at.
fn bare_word(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else { return false };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-/*>:@".contains(c))
        && !matches!(s.to_ascii_lowercase().as_str(), "true" | "false" | "yes" | "no" | "on" | "off")
        && !portability::needs_quotes(s)
}

impl Node {
    fn has_comments(&self) -> bool {
        match self {
            Node::Scalar { .. } => false,
            Node::Map { open_comment, members } | Node::Array { open_comment, members } => {
                open_comment.is_some()
                    || members.iter().any(|m| {
                        m.trailing.is_some()
                            || match &m.kind {
                                MemberKind::Comment(_) => true,
                                MemberKind::Entry { value, .. } | MemberKind::Value(value) => value.has_comments(),
                                MemberKind::Include(_) => false,
                            }
                    })
            }
        }
    }

    /// The value on one line, if it can be written so: scalars without line
    /// breaks; maps of such scalars; arrays of such values that do not end
    /// with an unsigned number (nats-server would take the `]` into it).
    fn inline(&self) -> Option<String> {
        if self.has_comments() {
            return None;
        }
        match self {
            Node::Scalar { text, .. } => (!text.contains(['\n', '\r'])).then(|| text.clone()),
            Node::Map { members, .. } => {
                if members.is_empty() {
                    return Some("{}".into());
                }
                let mut parts = Vec::new();
                for m in members {
                    let MemberKind::Entry { key, value: v @ Node::Scalar { .. } } = &m.kind else { return None };
                    parts.push(format!("{key}: {}", v.inline()?));
                }
                Some(format!("{{ {} }}", parts.join(", ")))
            }
            Node::Array { members, .. } => {
                if members.is_empty() {
                    return Some("[]".into());
                }
                let mut parts = Vec::new();
                for m in members {
                    let MemberKind::Value(v @ Node::Scalar { .. }) = &m.kind else { return None };
                    parts.push(v.inline()?);
                }
                if let Some(MemberKind::Value(Node::Scalar { number: true, .. })) = members.last().map(|m| &m.kind) {
                    return None;
                }
                Some(format!("[{}]", parts.join(", ")))
            }
        }
    }

    /// A `{ ... }` that takes several lines: a block, set apart by blank lines.
    fn is_block(&self) -> bool {
        matches!(self, Node::Map { members, open_comment } if !members.is_empty() || open_comment.is_some())
    }
}

fn write_members(members: &[Member], depth: usize, out: &mut String) {
    // Blank lines: where the source had one (at most one), and around blocks.
    let mut blank: Vec<bool> = members.iter().map(|m| m.blank_before).collect();
    let is_element = |m: &Member| !matches!(m.kind, MemberKind::Comment(_));
    let is_block = |m: &Member| matches!(&m.kind, MemberKind::Entry { value, .. } if value.is_block());
    let elements: Vec<usize> = (0..members.len()).filter(|&i| is_element(&members[i])).collect();
    for pair in elements.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if (is_block(&members[a]) || is_block(&members[b])) && !blank[a + 1..=b].iter().any(|&x| x) {
            blank[a + 1] = true;
        }
    }
    let pad = INDENT.repeat(depth);
    for (i, m) in members.iter().enumerate() {
        if i > 0 && blank[i] {
            out.push('\n');
        }
        out.push_str(&pad);
        match &m.kind {
            MemberKind::Comment(c) => out.push_str(c),
            MemberKind::Include(path) => {
                out.push_str("include ");
                out.push_str(path);
            }
            MemberKind::Entry { key, value } => {
                out.push_str(key);
                if value.is_block() {
                    out.push(' ');
                    write_multiline(value, depth, out);
                } else {
                    out.push_str(": ");
                    write_value(value, depth, key.len() + 2, out);
                }
            }
            MemberKind::Value(v) => write_value(v, depth, 0, out),
        }
        if let Some(c) = &m.trailing {
            out.push(' ');
            out.push_str(c);
        }
        out.push('\n');
    }
}

/// Writes a value that starts after `lead` characters of the current line.
fn write_value(v: &Node, depth: usize, lead: usize, out: &mut String) {
    let width = INDENT.len() * depth + lead;
    if let Some(one_line) = v.inline() {
        let fits = one_line.len() + width <= INLINE_WIDTH;
        if fits || matches!(v, Node::Scalar { .. }) || (matches!(v, Node::Map { .. }) && !v.is_block()) {
            out.push_str(&one_line);
            return;
        }
    }
    write_multiline(v, depth, out);
}

/// Writes a map or array over several lines, its members one level deeper.
fn write_multiline(v: &Node, depth: usize, out: &mut String) {
    let (open, close, open_comment, members) = match v {
        Node::Scalar { text, .. } => {
            out.push_str(text);
            return;
        }
        Node::Map { open_comment, members } => ('{', '}', open_comment, members),
        Node::Array { open_comment, members } => ('[', ']', open_comment, members),
    };
    out.push(open);
    if let Some(c) = open_comment {
        out.push(' ');
        out.push_str(c);
    }
    out.push('\n');
    write_members(members, depth + 1, out);
    out.push_str(&INDENT.repeat(depth));
    out.push(close);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        let out = format(text, 0).unwrap_or_else(|d| panic!("{text:?}: {}", d.message));
        assert_eq!(format(&out, 0).unwrap(), out, "idempotent for {text:?}");
        out
    }

    /// The formatter reads the parser's tree, depth limit included: deep
    /// nesting is reported as such, not as pest running out of calls.
    #[test]
    fn refuses_deep_nesting_like_the_parser() {
        let deep = "a: ".to_string() + &"[".repeat(100_000);
        let d = format(&deep, 0).unwrap_err();
        assert_eq!((d.code, d.span.map(|s| s.start)), ("too-deep", Some(3 + 64)));
        let limit = fmt(&("a: ".to_string() + &"[".repeat(64) + &"]".repeat(64)));
        assert_eq!(limit.matches('[').count(), 64, "64 levels are formatted");
    }

    #[test]
    fn canonical_layout() {
        assert_eq!(fmt("port=4222;debug:true\nhost \"127.0.0.1\""), "port: 4222\ndebug: true\nhost: \"127.0.0.1\"\n");
        assert_eq!(fmt("{\"port\": 4222, \"server_name\": \"a b\"}"), "port: 4222\nserver_name: \"a b\"\n", "JSON");
        assert_eq!(
            fmt("a: 1\ncluster{\nname:\"x\"\n  routes = [\"nats://a:1\", \"nats://b:2\"]}\nb: 2"),
            "a: 1\n\ncluster {\n  name: x\n  routes: [nats://a:1, nats://b:2]\n}\n\nb: 2\n"
        );
        assert_eq!(fmt("a: []\nb: {}\n"), "a: []\nb: {}\n");
        assert_eq!(fmt("a: [1, 2]\n"), "a: [\n  1\n  2\n]\n", "no number right before `]`");
        assert_eq!(fmt("a: [1k, x]\n"), "a: [1k, x]\n");
        assert_eq!(fmt("\n\n\na: 1\n\n\n\nb: 2\n\n"), "a: 1\n\nb: 2\n", "blank lines collapse");
    }

    #[test]
    fn quotes_only_where_needed() {
        assert_eq!(fmt("a: \"abc\"\nb: 'x.y'\n"), "a: abc\nb: x.y\n");
        for keep in ["\"true\"", "\"123\"", "\"$x\"", "\"a b\"", "\"1.5s\"", "'a\\tb'", "\"\""] {
            assert_eq!(fmt(&format!("a: {keep}\n")), format!("a: {keep}\n"), "{keep}");
        }
        assert_eq!(fmt("a: 1.5s\nb: 2016-05-04\n"), "a: \"1.5s\"\nb: \"2016-05-04\"\n", "what nats-server refuses");
        assert_eq!(fmt("\"a\": 1\n\"a b\": 2\n'include': 3\n"), "a: 1\n\"a b\": 2\n'include': 3\n");
        assert_eq!(fmt("p: $VAR\nq: $2a$10$abc\n"), "p: $VAR\nq: $2a$10$abc\n", "variables as written");
    }

    #[test]
    fn comments_stay_where_they_were() {
        let src = "# head\n\nport: 1 # after port\n// before m\nm { # open\n  a: 1\n  # inside\n} # after m\nl: [ # open l\n  x # after x\n  # own\n  y\n]\n# tail\n";
        assert_eq!(
            fmt(src),
            "# head\n\nport: 1 # after port\n\n// before m\nm { # open\n  a: 1\n  # inside\n} # after m\n\nl: [ # open l\n  x # after x\n  # own\n  y\n]\n# tail\n"
        );
    }

    #[test]
    fn includes_blocks_and_strings_as_written() {
        assert_eq!(fmt("include   './a b.conf'\nx: 1\n"), "include './a b.conf'\nx: 1\n");
        assert_eq!(fmt("a: (\nline one\n  two\n)\n"), "a: (\nline one\n  two\n)\n");
        assert_eq!(fmt("a: \"two\nlines\"\n"), "a: \"two\nlines\"\n");
        assert_eq!(
            fmt("users = [{user: a, password: b}, {user: c, password: \"d e\"}]\n"),
            "users: [\n  { user: a, password: b }\n  { user: c, password: \"d e\" }\n]\n"
        );
    }

    #[test]
    fn syntax_errors_are_refused() {
        assert!(format("a { b: 1", 0).is_err());
        assert!(format("a: [1, 2", 0).is_err());
    }
}
