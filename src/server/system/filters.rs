//! The body of a system request: the endpoint's options plus the filters
//! every request takes (`server_name`, `cluster`, `host`, `tags`, `domain`,
//! `exact_match`; nats-server's `EventFilterOptions`). A server the filters
//! do not select stays silent; a body that is not JSON is answered with
//! Go's `encoding/json` error text.

use serde_json::{Map, Value};

use crate::server::state::ServerState;

/// The options of a request body (empty for an empty body).
pub type Options = Map<String, Value>;

/// Reads a request body; the error is what Go's decoder would say.
pub fn parse(body: &[u8]) -> Result<Options, String> {
    let text = body.trim_ascii();
    if text.is_empty() {
        return Ok(Options::new());
    }
    if let Some(e) = go_syntax_error(text) {
        return Err(e);
    }
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Options::new()),
        Ok(other) => Err(format!("json: cannot unmarshal {} into Go value", json_kind(&other))),
        Err(e) if e.is_eof() => Err("unexpected end of JSON input".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        _ => "object",
    }
}

/// Go's text for the two mistakes people make: a body that does not start
/// a JSON value, and a misspelt literal (`not json` → `'o' in literal null`).
fn go_syntax_error(text: &[u8]) -> Option<String> {
    let first = text[0];
    let literal: &[u8] = match first {
        b'n' => b"null",
        b't' => b"true",
        b'f' => b"false",
        b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' => return None,
        c => return Some(format!("invalid character {} looking for beginning of value", go_char(c))),
    };
    for (i, &want) in literal.iter().enumerate().skip(1) {
        match text.get(i) {
            None => return Some("unexpected end of JSON input".into()),
            Some(&c) if c != want => {
                let name = String::from_utf8_lossy(literal);
                return Some(format!(
                    "invalid character {} in literal {name} (expecting {})",
                    go_char(c),
                    go_char(want)
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// A byte as Go's `quoteChar` shows it.
fn go_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".into(),
        b'"' => r#"'"'"#.into(),
        c if c.is_ascii_graphic() || c == b' ' => format!("'{}'", c as char),
        c => format!("'\\x{c:02x}'"),
    }
}

/// A string option, "" when absent.
pub fn string<'a>(opts: &'a Options, key: &str) -> &'a str {
    opts.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A boolean option, false when absent.
pub fn flag(opts: &Options, key: &str) -> bool {
    opts.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Whether `server` is one the request's filters select.
pub fn selects(opts: &Options, server: &ServerState) -> bool {
    let exact = flag(opts, "exact_match");
    let fits = |have: &str, want: &str| want.is_empty() || if exact { have == want } else { have.contains(want) };
    let cluster = server.cluster().map(|c| c.name()).unwrap_or_default();
    let host = server.snapshot().opts.host.clone();
    let tags_wanted = opts.get("tags").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
    fits(server.name(), string(opts, "server_name"))
        && fits(&host, string(opts, "host"))
        && fits(&cluster, string(opts, "cluster"))
        // rnats has neither server tags nor a JetStream domain yet.
        && !tags_wanted
        && string(opts, "domain").is_empty()
}

/// The options as a monitoring query: the keys the HTTP endpoint reads,
/// renamed where the JSON name differs (`subscriptions` → `subs`,
/// `account` → `acc`).
pub fn as_query(opts: &Options) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, value) in opts {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        match key.as_str() {
            "subscriptions" if value.as_bool() == Some(true) => out.push(("subs".into(), "1".into())),
            "subscriptions_detail" if value.as_bool() == Some(true) => out.push(("subs".into(), "detail".into())),
            "account" => out.push(("acc".into(), text)),
            "accounts" => {}
            _ => out.push((key.clone(), text)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_that_are_not_json_get_gos_words() {
        assert_eq!(parse(b"not json").unwrap_err(), "invalid character 'o' in literal null (expecting 'u')");
        assert_eq!(parse(b"xyz").unwrap_err(), "invalid character 'x' looking for beginning of value");
        assert_eq!(parse(b"{\"a\":").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(parse(b"tru").unwrap_err(), "unexpected end of JSON input");
        assert!(parse(b"").unwrap().is_empty());
        assert!(parse(b"  null ").unwrap().is_empty());
        assert_eq!(string(&parse(br#"{"server_name":"S1"}"#).unwrap(), "server_name"), "S1");
    }

    #[test]
    fn options_become_the_endpoints_query() {
        let opts = parse(br#"{"subscriptions":true,"acc":"A","limit":3,"account":"B"}"#).unwrap();
        let q = as_query(&opts);
        assert!(q.contains(&("subs".into(), "1".into())));
        assert!(q.contains(&("acc".into(), "A".into())));
        assert!(q.contains(&("limit".into(), "3".into())));
        assert!(q.contains(&("acc".into(), "B".into())));
    }
}
