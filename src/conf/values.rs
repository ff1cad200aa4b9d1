//! Checkers for values with rules of their own (the key table's `Custom` types):
//! `jetstream: enabled` or a map, account resolvers, operator JWTs, subject
//! mappings, ... Each reports what nats-server would refuse, at the value's
//! position, and returns whether the value is usable.

use super::context::Builder;
use super::diag::Diagnostic;
use super::keys::BlockInfo;
use super::setters::valid_nkey;
use super::tree::{Kind, Value};
use crate::gotext::parse_go_duration;

/// `accounts`: the reserved global account's name.
const GLOBAL_ACCOUNT: &str = "$G";

pub fn any(_: &mut Builder, _: &str, _: &Value) -> bool {
    true
}

pub fn number(b: &mut Builder, key: &str, v: &Value) -> bool {
    let ok = matches!(v.kind, Kind::Int(_) | Kind::Float(_));
    if !ok {
        b.type_error_at(key, v, "a number of seconds");
    }
    ok
}

pub fn number_or_duration(b: &mut Builder, key: &str, v: &Value) -> bool {
    match &v.kind {
        Kind::Int(_) | Kind::Float(_) => true,
        Kind::Str(s) => duration(b, v, s),
        _ => {
            b.type_error_at(key, v, "a number of seconds or a duration string");
            false
        }
    }
}

fn duration(b: &mut Builder, v: &Value, s: &str) -> bool {
    match parse_go_duration(s) {
        Ok(_) => true,
        Err(msg) => {
            b.error("duration", v.span, msg);
            false
        }
    }
}

fn one_of(b: &mut Builder, key: &str, v: &Value, allowed: &[&str]) -> bool {
    let Kind::Str(s) = &v.kind else {
        b.type_error_at(key, v, "a string");
        return false;
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(s)) {
        return true;
    }
    let list = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
    b.error("value", v.span, format!("`{key}` must be one of {list}, found `{s}`"));
    false
}

/// A map checked with a block reachable only from here.
fn map_with(b: &mut Builder, key: &str, v: &Value, block: &'static dyn BlockInfo) -> bool {
    match &v.kind {
        Kind::Map(m) => {
            block.check(b, m);
            true
        }
        _ => {
            b.type_error_at(key, v, "a map (`{ ... }`)");
            false
        }
    }
}

pub fn subjects_value(b: &mut Builder, key: &str, v: &Value) -> bool {
    let ok = matches!(v.kind, Kind::Str(_) | Kind::Array(_) | Kind::Map(_));
    if !ok {
        b.type_error_at(key, v, "a subject, an array of subjects or a map `{allow, deny}`");
    }
    ok
}

pub fn allow_responses_value(b: &mut Builder, key: &str, v: &Value) -> bool {
    let ok = matches!(v.kind, Kind::Bool(_) | Kind::Map(_));
    if !ok {
        b.type_error_at(key, v, "a boolean or a map `{max, expires}`");
    }
    ok
}

pub fn handshake_first_value(b: &mut Builder, key: &str, v: &Value) -> bool {
    match &v.kind {
        Kind::Bool(_) => true,
        Kind::Str(s) if s.eq_ignore_ascii_case("auto") || s.eq_ignore_ascii_case("auto_fallback") => true,
        Kind::Str(s) => duration(b, v, s),
        _ => {
            b.type_error_at(key, v, "a boolean, `auto`, `auto_fallback` or a duration");
            false
        }
    }
}

/// `accounts`: a list of names, or a map of name → account. This checks
/// the shape and the names; the `accounts` key's setter builds each
/// account (`conf::accounts`), and the rules across accounts run there.
pub fn accounts(b: &mut Builder, key: &str, v: &Value, _account: &'static dyn BlockInfo) -> bool {
    let reserved =
        |b: &mut Builder, span| b.error("account", span, format!("\"{GLOBAL_ACCOUNT}\" is a Reserved Account"));
    match &v.kind {
        Kind::Array(items) => {
            let mut seen: Vec<&str> = Vec::new();
            for item in items {
                let Kind::Str(name) = &item.kind else {
                    b.type_error_at(key, item, "an array of account names");
                    return false;
                };
                if name == GLOBAL_ACCOUNT {
                    reserved(b, item.span);
                } else if seen.contains(&name.as_str()) {
                    b.error("account", item.span, format!("Duplicate Account Entry: {name}"));
                }
                seen.push(name);
            }
            true
        }
        Kind::Map(m) => {
            for e in m.effective() {
                if e.used {
                    continue; // a variable defined in the block, as nats-server skips it
                }
                if !matches!(e.value.kind, Kind::Map(_)) {
                    let msg = "Expected map entries for accounts";
                    b.diags.push(Diagnostic::error("type", Some(e.value.span), msg).with_help(format!(
                        "account `{}` must be a map (`{} {{ users: [...] }}`), found {}",
                        e.key,
                        e.key,
                        e.value.kind.describe()
                    )));
                } else if e.key == GLOBAL_ACCOUNT {
                    reserved(b, e.key_span);
                }
            }
            true
        }
        _ => {
            b.type_error_at(key, v, "a map of accounts or an array of account names");
            false
        }
    }
}

pub fn account_nkey(b: &mut Builder, key: &str, v: &Value) -> bool {
    let Kind::Str(k) = &v.kind else {
        b.type_error_at(key, v, "a string");
        return false;
    };
    if !valid_nkey(k, 'A') {
        b.error("nkey", v.span, format!("not a valid public nkey for an account: `{k}`"));
        return false;
    }
    true
}

fn enabled_or_map(b: &mut Builder, key: &str, v: &Value, block: &'static dyn BlockInfo) -> bool {
    match &v.kind {
        Kind::Bool(_) => true,
        Kind::Str(_) => one_of(b, key, v, &["enabled", "enable", "disabled", "disable"]),
        Kind::Map(m) => {
            block.check(b, m);
            true
        }
        _ => {
            b.type_error_at(key, v, "a boolean, `enabled`, `disabled` or a map");
            false
        }
    }
}

/// `jetstream` (at the top, or in an account): a switch, or its block.
pub fn enabled_or_block(b: &mut Builder, key: &str, v: &Value, block: &'static dyn BlockInfo) -> bool {
    enabled_or_map(b, key, v, block)
}

pub fn sync_interval(b: &mut Builder, key: &str, v: &Value) -> bool {
    match &v.kind {
        Kind::Str(s) if s.eq_ignore_ascii_case("always") => true,
        Kind::Str(s) => duration(b, v, s),
        _ => {
            b.type_error_at(key, v, "a duration or `always`");
            false
        }
    }
}

pub fn js_cipher(b: &mut Builder, key: &str, v: &Value) -> bool {
    one_of(b, key, v, &["chacha", "chachapoly", "aes"])
}

/// A subject mapping: a destination subject, one `{destination, weight,
/// cluster}` map, or an array of them (nats-server's words when not).
pub fn mapping(b: &mut Builder, _key: &str, v: &Value, dest: &'static dyn BlockInfo) -> bool {
    let entry = |b: &mut Builder, item: &Value| match &item.kind {
        Kind::Map(m) => {
            dest.check(b, m);
            true
        }
        _ => {
            b.error("type", item.span, "Expected an entry for the mapping destination");
            false
        }
    };
    match &v.kind {
        Kind::Str(_) => true,
        Kind::Map(_) => entry(b, v),
        // Every item is checked: no short-circuit, each reports its own problem.
        Kind::Array(items) => items.iter().map(|item| entry(b, item)).filter(|ok| !ok).count() == 0,
        _ => entry(b, v),
    }
}

pub fn weight(b: &mut Builder, _key: &str, v: &Value) -> bool {
    let (n, shown) = match &v.kind {
        Kind::Int(n) => (Some(*n), n.to_string()),
        Kind::Str(s) => (s.trim_end_matches('%').parse::<i64>().ok(), format!("{s:?}")),
        other => (None, other.describe().to_string()),
    };
    match n {
        Some(0..=100) => true,
        _ => {
            b.error("range", v.span, format!("Invalid weight {shown} for mapping destination"));
            false
        }
    }
}

pub fn compression(b: &mut Builder, key: &str, v: &Value) -> bool {
    match &v.kind {
        Kind::Bool(_) | Kind::Str(_) => true,
        Kind::Map(m) => {
            for e in m.effective() {
                let k = e.key.to_ascii_lowercase();
                if !matches!(k.as_str(), "mode" | "rtt_thresholds" | "thresholds" | "rtts" | "rtt") {
                    b.error("unknown-key", e.key_span, format!("unknown field `{}` in `{key}`", e.key));
                }
            }
            true
        }
        _ => {
            b.type_error_at(key, v, "a mode (boolean or string) or a map");
            false
        }
    }
}

pub fn ocsp(b: &mut Builder, key: &str, v: &Value, block: &'static dyn BlockInfo) -> bool {
    match &v.kind {
        Kind::Bool(_) => true,
        Kind::Map(_) => map_with(b, key, v, block),
        _ => {
            b.type_error_at(key, v, "a boolean or a map `{mode, url, urls}`");
            false
        }
    }
}

pub fn ocsp_mode(b: &mut Builder, key: &str, v: &Value) -> bool {
    one_of(b, key, v, &["always", "must", "never", "auto"])
}

pub fn ocsp_cache(b: &mut Builder, key: &str, v: &Value) -> bool {
    let ok = matches!(v.kind, Kind::Bool(_) | Kind::Map(_));
    if !ok {
        b.type_error_at(key, v, "a boolean or a map");
    }
    ok
}

/// A compact JWT: three base64url parts whose header decodes to JSON.
fn looks_like_jwt(text: &str) -> bool {
    use base64::Engine as _;
    let parts: Vec<&str> = text.trim().split('.').collect();
    parts.len() == 3
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0].trim_end_matches('='))
            .ok()
            .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
            .is_some_and(|h| h.get("alg").is_some())
}

/// The JWT inside a file as `nsc` writes it (possibly between
/// `-----BEGIN ... JWT-----` lines).
fn jwt_in(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| l.starts_with("eyJ") && looks_like_jwt(l))
}

/// `operator`: a JWT file (relative to the working directory) or an inline
/// JWT, or an array of them.
pub fn operator(b: &mut Builder, key: &str, v: &Value) -> bool {
    let items: Vec<&Value> = match &v.kind {
        Kind::Str(_) => vec![v],
        Kind::Array(items) => items.iter().collect(),
        _ => {
            b.type_error_at(key, v, "a JWT file name, an inline JWT, or an array of them");
            return false;
        }
    };
    let mut ok = true;
    for item in items {
        let Kind::Str(s) = &item.kind else {
            b.type_error_at(key, item, "a string");
            ok = false;
            continue;
        };
        if s.starts_with("eyJ") {
            if let Err(e) = crate::server::jwt::decode_operator(s) {
                b.error("jwt", item.span, format!("error parsing operator JWT: {e}"));
                ok = false;
            }
            continue;
        }
        match std::fs::read_to_string(s) {
            Ok(text) if jwt_in(&text).is_some() => {}
            Ok(_) => {
                b.error("jwt", item.span, format!("error parsing operator JWT: `{s}` holds no JWT"));
                ok = false;
            }
            Err(err) => {
                let why = match err.kind() {
                    std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                    _ => err.to_string(),
                };
                b.error("file", item.span, format!("error parsing operator JWT: open {s}: {why}"));
                ok = false;
            }
        }
    }
    ok
}

/// `resolver`: `MEMORY`, `URL(url)`, or `{type: full|cache|mem, dir, ...}`
/// with the reference's rules on which settings go with which type.
pub fn resolver(b: &mut Builder, key: &str, v: &Value, block: &'static dyn BlockInfo) -> bool {
    match &v.kind {
        Kind::Str(s) => {
            let lower = s.to_ascii_lowercase();
            let url_ok = lower
                .find("url(")
                .and_then(|i| s[i + 4..].split(')').next())
                .map(|u| u.trim().trim_matches('"'))
                .is_some_and(|u| !u.is_empty());
            if lower.contains("mem") || url_ok {
                return true;
            }
            b.error(
                "value",
                v.span,
                "error parsing account resolver, should be MEM or  URL(\"url\") or a map containing dir and type state=[FULL|CACHE])",

            );
            false
        }
        Kind::Map(m) => {
            block.check(b, m);
            let get = |k: &str| m.effective().into_iter().rev().find(|e| e.key == k);
            let ty = get("type").and_then(|e| match &e.value.kind {
                Kind::Str(s) => Some(s.to_ascii_uppercase()),
                _ => None,
            });
            let refuse = |b: &mut Builder, msg: String| b.error("value", v.span, msg);
            match ty.as_deref() {
                Some("MEM" | "MEMORY") => {}
                Some(t @ ("FULL" | "CACHE")) => {
                    match get("dir").map(|e| &e.value.kind) {
                        Some(Kind::Str(d)) if !d.is_empty() => {
                            if std::fs::metadata(d).is_ok_and(|m| !m.is_dir()) {
                                refuse(b, "dir needs to point to an accessible directory".into());
                            }
                        }
                        _ => refuse(b, "dir has no value and needs to point to a directory".into()),
                    }
                    // nats-server's `FetchTimeout` (the text's typo is its own).
                    if let Some(Kind::Str(t)) = get("timeout").map(|e| &e.value.kind) {
                        if crate::gotext::parse_go_duration(t).is_ok_and(|d| d.is_zero()) {
                            refuse(b, "Fetch timeout 0s is too smal".into());
                        }
                    }
                    let set = |k: &str| get(k).is_some();
                    let allow_delete = matches!(get("allow_delete").map(|e| &e.value.kind), Some(Kind::Bool(true)));
                    if t == "CACHE" {
                        for k in ["interval", "allow_delete", "hard_delete"] {
                            if set(k) {
                                let k = if k == "interval" { "sync" } else { k };
                                refuse(b, format!("CACHE does not accept {k}"));
                            }
                        }
                    } else {
                        if set("ttl") {
                            refuse(b, "FULL does not accept ttl".into());
                        }
                        if set("hard_delete") && !allow_delete {
                            refuse(b, "hard_delete has no effect without delete".into());
                        }
                    }
                }
                _ => refuse(
                    b,
                    "error parsing account resolver, should be MEM or  URL(\"url\") or a map containing dir and type state=[FULL|CACHE])"
                        .into(),
                ),
            }
            true
        }
        _ => {
            b.type_error_at(key, v, "`MEMORY`, `URL(url)` or a map");
            false
        }
    }
}

pub fn resolver_preload(b: &mut Builder, key: &str, v: &Value) -> bool {
    let Kind::Map(m) = &v.kind else {
        b.type_error_at(key, v, "a map of account public key to account JWT");
        return false;
    };
    let mut ok = true;
    for e in m.effective() {
        match &e.value.kind {
            Kind::Str(jwt) if looks_like_jwt(jwt) => {}
            Kind::Str(_) => {
                b.error("jwt", e.value.span, "invalid account JWT");
                ok = false;
            }
            _ => {
                b.type_error(e, "a string JWT");
                ok = false;
            }
        }
    }
    ok
}

pub fn trusted(b: &mut Builder, key: &str, v: &Value) -> bool {
    let items: Vec<&Value> = match &v.kind {
        Kind::Str(_) => vec![v],
        Kind::Array(items) => items.iter().collect(),
        _ => {
            b.type_error_at(key, v, "an operator public nkey or an array of them");
            return false;
        }
    };
    let mut ok = true;
    for item in items {
        match &item.kind {
            Kind::Str(k) if valid_nkey(k, 'O') => {}
            Kind::Str(k) => {
                b.error("nkey", item.span, format!("trust key {k:?} required to be a valid public operator nkey"));
                ok = false;
            }
            _ => {
                b.type_error_at(key, item, "a string");
                ok = false;
            }
        }
    }
    ok
}

pub fn url(b: &mut Builder, key: &str, v: &Value) -> bool {
    let ok = matches!(v.kind, Kind::Str(_));
    if !ok {
        b.type_error_at(key, v, "a URL string");
    }
    ok
}

pub fn response_type(b: &mut Builder, key: &str, v: &Value) -> bool {
    one_of(b, key, v, &["single", "singleton", "stream", "chunk", "chunked"])
}
