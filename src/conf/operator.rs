//! Operator mode's keys into [`OperatorOptions`](crate::options::OperatorOptions), as nats-server's
//! `opts.go` reads them, with its error texts at each value's position:
//! operator JWTs decoded (from a file, or inline), `trusted` keys, the
//! resolver, and the preloaded account JWTs decoded.

use std::time::Duration;

use super::context::Builder;
use super::diag::Diagnostic;
use super::tree::{Entry, Kind, Map, Value};
use crate::gotext::parse_go_duration;
use crate::options::{
    DirResolver, Options, Resolver, DEFAULT_CACHE_LIMIT, DEFAULT_FULL_LIMIT, DEFAULT_RESOLVER_INTERVAL,
    DEFAULT_RESOLVER_TIMEOUT,
};
use crate::server::jwt::{creds::parse_decorated_jwt, decode_account, decode_operator, JwtError, OperatorClaims};

/// The items of a string-or-list value.
fn items(v: &Value) -> Vec<&Value> {
    match &v.kind {
        Kind::Array(items) => items.iter().collect(),
        _ => vec![v],
    }
}

/// `readOperatorJWT`: a file holding the JWT (possibly decorated), or,
/// when no such file exists, an inline JWT.
pub fn read_operator_jwt(text: &str) -> Result<(String, OperatorClaims), String> {
    let contents = match std::fs::read_to_string(text) {
        Ok(contents) => contents,
        Err(_) if text.starts_with("eyJ") => text.to_string(),
        Err(e) => return Err(go_open_error(text, &e)),
    };
    let jwt = parse_decorated_jwt(&contents);
    let claims = decode_operator(&jwt).map_err(|e: JwtError| e.to_string())?;
    Ok((jwt, claims))
}

/// Go's `os.ReadFile` error text.
fn go_open_error(path: &str, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    format!("open {path}: {why}")
}

/// `operator`: every JWT decoded; with exactly one operator its
/// `system_account` applies unless set, and its `account_server_url`
/// becomes a URL resolver unless `resolver` is set (see [`finish`]).
pub fn set_operators(b: &mut Builder, e: &Entry, o: &mut Options) {
    o.operator.operators.clear();
    for item in items(&e.value) {
        let Kind::Str(s) = &item.kind else { continue };
        match read_operator_jwt(s) {
            Ok((jwt, _)) => o.operator.operators.push(jwt),
            Err(err) => b.error("jwt", item.span, format!("error parsing operator JWT: {err}")),
        }
    }
    finish(o);
}

/// `trusted`: each must be an operator public key (checked by the key's type).
pub fn set_trusted(e: &Entry, o: &mut Options) {
    o.operator.trusted_keys = items(&e.value)
        .into_iter()
        .filter_map(|v| if let Kind::Str(s) = &v.kind { Some(s.clone()) } else { None })
        .collect();
}

/// `resolver_preload`: account public key -> account JWT; each must decode.
pub fn set_preload(b: &mut Builder, e: &Entry, o: &mut Options) {
    let Kind::Map(m) = &e.value.kind else { return };
    o.operator.resolver_preload.clear();
    for entry in m.effective() {
        let Kind::Str(jwt) = &entry.value.kind else { continue };
        if decode_account(jwt).is_err() {
            // nats-server's words; the checker may have said it already.
            if !b.diags.iter().any(|d| d.span == Some(entry.value.span)) {
                b.error("jwt", entry.value.span, "invalid account JWT");
            }
            continue;
        }
        o.operator.resolver_preload.insert(entry.key.clone(), jwt.clone());
    }
}

/// `resolver`: `MEMORY`/`MEM`, `URL("...")`, or the directory map (its
/// rules checked by the key's type).
pub fn set_resolver(e: &Entry, o: &mut Options) {
    o.operator.resolver = match &e.value.kind {
        Kind::Str(s) => parse_resolver_string(s),
        Kind::Map(m) => dir_resolver(m),
        _ => None,
    };
}

/// `MEM`/`MEMORY` (any case) or `URL(url)`.
pub fn parse_resolver_string(s: &str) -> Option<Resolver> {
    let upper = s.trim().to_ascii_uppercase();
    if upper == "MEM" || upper == "MEMORY" {
        return Some(Resolver::Memory);
    }
    let start = upper.find("URL(")? + 4;
    let inner = s[start..].split(')').next()?.trim().trim_matches('"');
    (!inner.is_empty()).then(|| Resolver::Url(with_slash(inner)))
}

fn with_slash(url: &str) -> String {
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

fn dir_resolver(m: &Map) -> Option<Resolver> {
    let get = |k: &str| m.effective().into_iter().rev().find(|e| e.key.eq_ignore_ascii_case(k)).map(|e| &e.value);
    let text = |k: &str| match get(k).map(|v| &v.kind) {
        Some(Kind::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let flag = |k: &str| matches!(get(k).map(|v| &v.kind), Some(Kind::Bool(true)));
    let duration = |k: &str, default: Duration| match get(k).map(|v| &v.kind) {
        Some(Kind::Str(s)) => parse_go_duration(s).unwrap_or(default),
        _ => default,
    };
    let ty = text("type")?.to_ascii_uppercase();
    if ty == "MEM" || ty == "MEMORY" {
        return Some(Resolver::Memory);
    }
    let full = ty == "FULL";
    let limit = match get("limit").map(|v| &v.kind) {
        Some(Kind::Int(n)) => *n,
        _ if full => DEFAULT_FULL_LIMIT,
        _ => DEFAULT_CACHE_LIMIT,
    };
    Some(Resolver::Dir(DirResolver {
        full,
        dir: text("dir")?,
        allow_delete: flag("allow_delete"),
        hard_delete: flag("hard_delete"),
        limit,
        ttl: duration("ttl", Duration::ZERO),
        interval: duration("interval", DEFAULT_RESOLVER_INTERVAL),
        timeout: duration("timeout", DEFAULT_RESOLVER_TIMEOUT),
    }))
}

/// What one operator implies (its `system_account`, a URL resolver for its
/// `account_server_url`), applied right after the `operator` key as
/// nats-server does, so a later `system_account` or `resolver` wins.
fn finish(o: &mut Options) {
    let [only] = o.operator.operators.as_slice() else { return };
    let Ok(claims) = decode_operator(only) else { return };
    if o.system_account.is_none() && !claims.nats.system_account.is_empty() {
        o.system_account = Some(claims.nats.system_account.clone());
    }
    if o.operator.resolver.is_none() && !claims.nats.account_server_url.is_empty() {
        o.operator.resolver = Some(Resolver::Url(with_slash(&format!(
            "{}/accounts",
            claims.nats.account_server_url.trim_end_matches('/')
        ))));
    }
}

/// nats-server's `validateTrustedOperators`: what operators rule out.
pub fn rules(b: &mut Builder, root: &Map, opts: &Options) {
    describe(b, root, opts);
    let op = &opts.operator;
    if op.operators.is_empty() {
        return;
    }
    let at = |names: &[&str]| root.find(names).map(|e| e.key_span);
    let operator_span = at(&["operator", "operators", "root", "roots", "root_operator", "root_operators"]);
    let mut refuse = |span, msg: &str| b.diags.push(Diagnostic::error("conflict", span, msg));
    if op.resolver.is_none() {
        refuse(operator_span, "operators require an account resolver to be configured");
    }
    if !opts.accounts.is_empty() {
        refuse(at(&["accounts"]), "operators do not allow Accounts to be configured directly");
    }
    if !opts.authorization.users.is_empty() {
        refuse(at(&["authorization"]), "operators do not allow users to be configured directly");
    }
    if !op.trusted_keys.is_empty() {
        refuse(at(&["trusted", "trusted_keys"]), "conflicting options for 'TrustedKeys' and 'TrustedOperators'");
    }
}

/// `rnats check` on operator mode: each operator JWT and each preloaded
/// account JWT decoded and shown (names, keys, limits, expiry; JWTs carry
/// no secrets), and what would make a preloaded account unusable at login
/// (untrusted issuer, expired, a key that is not its subject) warned about
/// at its value: nats-server starts with such accounts too.
pub fn describe(b: &mut Builder, root: &Map, opts: &Options) {
    use crate::server::jwt::login::{verify_account_jwt, Trust};
    let op = &opts.operator;
    let operators: Vec<OperatorClaims> = op.operators.iter().filter_map(|j| decode_operator(j).ok()).collect();
    if let Some(e) = root.find(&["operator", "operators", "root", "roots", "root_operator", "root_operators"]) {
        for (item, claims) in items(&e.value).into_iter().zip(&operators) {
            b.diags.push(Diagnostic::note("jwt", Some(item.span), describe_operator(claims)));
        }
    }
    let trust = if op.trusted_keys.is_empty() {
        Trust::from_operators(&operators)
    } else {
        Trust::from_keys(op.trusted_keys.clone())
    };
    let Some(Kind::Map(m)) = root.find(&["resolver_preload"]).map(|e| &e.value.kind) else { return };
    let now = crate::server::jwt::now();
    for entry in m.effective() {
        let Kind::Str(jwt) = &entry.value.kind else { continue };
        let Ok(claims) = decode_account(jwt) else { continue };
        b.diags.push(Diagnostic::note("jwt", Some(entry.value.span), describe_account(&claims)));
        if verify_account_jwt(jwt, &entry.key, &trust, now).is_err() {
            let why = if claims.data.subject != entry.key {
                format!("is for account {}, not {}", claims.data.subject, entry.key)
            } else if !trust.is_trusted(&claims.data.issuer) {
                format!("is issued by {}, which no trusted operator is or signs with", claims.data.issuer)
            } else {
                "is expired or not yet valid".to_string()
            };
            b.warning(
                "jwt",
                entry.value.span,
                format!("preloaded account JWT {why}: its users cannot log in"),
                "issue the account JWT again with `nsc` for this operator",
            );
        }
    }
}

fn expiry(exp: i64) -> String {
    match jiff::Timestamp::from_second(exp) {
        Ok(t) if exp > 0 => format!("expires {t}"),
        _ => "never expires".into(),
    }
}

fn describe_operator(o: &OperatorClaims) -> String {
    let n = &o.nats;
    format!(
        "operator {:?} ({}), signing keys [{}], system account {}, {}",
        o.data.name,
        o.data.subject,
        n.signing_keys.join(", "),
        if n.system_account.is_empty() { "none" } else { &n.system_account },
        expiry(o.data.expires)
    )
}

fn describe_account(a: &crate::server::jwt::AccountClaims) -> String {
    let l = &a.nats.limits;
    format!(
        "account {:?} ({}) issued by {}, limits conn {} subs {} payload {} data {}, {} signing keys, \
         {} exports, {} imports, {}",
        a.data.name,
        a.data.subject,
        a.data.issuer,
        l.account.conn,
        l.nats.subs,
        l.nats.payload,
        l.nats.data,
        a.nats.signing_keys.keys().count(),
        a.nats.exports.len(),
        a.nats.imports.len(),
        expiry(a.data.expires)
    )
}
