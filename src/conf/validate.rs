//! Rules across keys: what no single key's type can say. Each function is the
//! `rules` of one block of the key table, run once that block is built, with
//! the block as written (for positions) and as built.

use super::context::Builder;
use super::diag::{Diagnostic, Severity};
use super::setters::{served_tls_block, INSECURE_CIPHERS};
use super::source::Span;
use super::tree::{Entry, Kind, Map};
use crate::options::{Authorization, Cluster, HttpAuth, Options, ServedTlsCheck, Tls, User, Websocket};

/// Top-level rules: limits that must agree, users defined in several places,
/// the user clients without credentials become.
pub fn top(b: &mut Builder, root: &Map, opts: &Options) {
    let at = |names: &[&str]| root.find(names).map(|e| e.key_span);
    if root.entries.is_empty() {
        b.diags.push(Diagnostic::warning("empty", None, "config has no values or is empty"));
    }
    if opts.max_payload > opts.max_pending {
        let span = at(&["max_payload"]).or(at(&["max_pending"]));
        b.diags.push(Diagnostic::error(
            "conflict",
            span,
            format!("max_payload ({}) cannot be higher than max_pending ({})", opts.max_payload, opts.max_pending),
        ));
    }
    if let Some(msg) = opts.lame_duck_error() {
        let span = at(&["lame_duck_grace_period"]).or(at(&["lame_duck_duration"]));
        b.diags.push(Diagnostic::error("conflict", span, msg));
    }
    if opts.max_payload > 8 * 1024 * 1024 {
        b.diags.push(Diagnostic::warning(
            "value",
            at(&["max_payload"]),
            "max_payload over 8MB is not recommended: large messages hurt latency for everyone",
        ));
    }
    super::operator::rules(b, root, opts);
    let account_users = account_users(root);
    if let Some(u) = &opts.no_auth_user {
        let known =
            opts.authorization.users.iter().any(|x| x.user.as_deref() == Some(u) || x.nkey.as_deref() == Some(u))
                || account_users.iter().any(|(name, _)| name == u);
        if !known {
            b.diags.push(Diagnostic::error(
                "conflict",
                at(&["no_auth_user"]),
                format!(
                    "no_auth_user: {} not present as user or nkey in authorization block or account configuration",
                    crate::gotext::go_quote(u.as_bytes())
                ),
            ));
        }
    }
    if let Some((_, span)) = account_users.first() {
        let a = &opts.authorization;
        if a.user.is_some() {
            b.error("conflict", *span, "Can not have a single user/pass and accounts");
        }
        if a.token.is_some() {
            b.error("conflict", *span, "Can not have a token and accounts");
        }
    }
    // A user name (or nkey) is one identity across `authorization` and every account.
    // A map, not a list: configs with tens of thousands of users exist.
    if !account_users.is_empty() {
        let authorization = at(&["authorization"]).unwrap_or_default();
        let mut seen: UserNames<'_> = opts
            .authorization
            .users
            .iter()
            .filter_map(|u| u.user.as_deref().or(u.nkey.as_deref()))
            .map(|n| (n, authorization))
            .collect();
        for (name, span) in &account_users {
            if let Some(&first) = seen.get(name.as_str()) {
                let what = if super::setters::valid_nkey(name, 'U') { "nkey" } else { "user" };
                let msg = format!("Duplicate {what} {} detected", crate::gotext::go_quote(name.as_bytes()));
                b.diags.push(Diagnostic::error("duplicate", Some(*span), msg));
                b.diags.push(Diagnostic::note("duplicate", Some(first), format!("`{name}` is also defined here")));
            } else {
                seen.insert(name, *span);
            }
        }
    }
    super::accounts_rules::top(b, root, opts);
    super::accounts_lint::bcrypt_no_auth_user(b, at(&["no_auth_user"]), opts);
    monitoring(b, root, opts);
    websocket_auth(b, root, opts);
    // JetStream's store directory may be set at the top or in the block, not both.
    if let (Some(top), Some(Kind::Map(js))) =
        (root.find(&["store_dir", "storedir"]), root.find(&["jetstream"]).map(|e| &e.value.kind))
    {
        if js.find(&["store_dir", "store", "storedir"]).is_some() {
            b.error("conflict", top.key_span, "`store_dir` is set both here and in the `jetstream` block");
        }
    }
}

/// The monitoring port: `http_auth` is rnats's own (nats-server would serve
/// the port open), and a port reachable from other machines without it
/// shows every connection's address, name and user to anyone.
fn monitoring(b: &mut Builder, root: &Map, opts: &Options) {
    let auth = root.find(&["http_auth"]);
    if let Some(e) = auth {
        b.warning(
            "portability",
            e.key_span,
            "nats-server 2.x does not know `http_auth`: it refuses the key under `-t` and otherwise serves the \
             monitoring port without authentication",
            "keep configs with `http_auth` for rnats, or restrict the port by network instead",
        );
    }
    let on = |p: Option<i64>| p.is_some_and(|p| p != 0);
    if auth.is_some() || !(on(opts.http_port) || on(opts.https_port)) {
        return;
    }
    let host = opts.http_host.as_deref().unwrap_or(&opts.host);
    if is_loopback(host) {
        return;
    }
    let span = root.find(&["http", "https", "http_port", "monitor_port", "https_port"]).map(|e| e.key_span);
    b.diags.push(
        Diagnostic::warning(
            "security",
            span,
            format!(
                "the monitoring port listens on `{host}` without `http_auth`: anyone who can reach it sees every \
                 connection's address, name and user"
            ),
        )
        .with_help("listen on 127.0.0.1 (`http: 127.0.0.1:8222`) or add `http_auth { user: ..., password: ... }`"),
    );
}

/// Whether `host` is reachable from this machine only.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `http_auth`: a token, or a user with a password.
pub fn http_auth(b: &mut Builder, m: &Map, a: &HttpAuth) {
    if let Err(why) = a.validate() {
        let span = m.find(&["token", "user", "username", "password", "pass"]).map(|e| e.key_span);
        b.diags.push(Diagnostic::error("conflict", span, why));
    }
}

/// Every user (name or nkey) defined in `accounts`, with its position.
fn account_users(root: &Map) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    let Some(Kind::Map(accounts)) = root.find(&["accounts"]).map(|e| &e.value.kind) else {
        return out;
    };
    for acc in accounts.effective() {
        let Kind::Map(am) = &acc.value.kind else { continue };
        let Some(Kind::Array(users)) = am.find(&["users"]).map(|e| &e.value.kind) else { continue };
        for u in users {
            if let Kind::Map(um) = &u.kind {
                if let Some(name) = string(um.find(&["user", "username"])).or(string(um.find(&["nkey"]))) {
                    out.push((name, u.span));
                }
            }
        }
    }
    out
}

fn string(e: Option<&Entry>) -> Option<String> {
    match e.map(|e| &e.value.kind) {
        Some(Kind::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// `authorization`: one way of authenticating at a time; unique users.
pub fn authorization(b: &mut Builder, m: &Map, a: &Authorization) {
    let span = |names: &[&str]| m.find(names).map(|e| e.key_span);
    let (user, token, users) = (span(&["user", "username"]), span(&["token"]), span(&["users"]));
    if let (Some(t), Some(_)) = (token, user) {
        b.error("conflict", t, "`token` cannot be used together with `user`/`password`");
    }
    if let (Some(u), Some(_)) = (users, user) {
        b.error("conflict", u, "`users` cannot be used together with a single `user`");
    }
    if let (Some(u), Some(_)) = (users, token) {
        b.error("conflict", u, "`users` cannot be used together with `token`");
    }
    if a.password.is_some() && a.user.is_none() {
        // A key also used as a `$variable` (`PASS: ...` then `$PASS`) is one,
        // whatever it happens to be called.
        if let Some(e) = m
            .entries
            .iter()
            .find(|e| (e.key.eq_ignore_ascii_case("pass") || e.key.eq_ignore_ascii_case("password")) && !e.used)
        {
            b.error("conflict", e.key_span, "`password` is set without a `user`");
        }
    }
    let Some(Kind::Array(items)) = m.find(&["users"]).map(|e| &e.value.kind) else { return };
    let mut seen = UserNames::with_capacity_and_hasher(a.users.len(), Default::default());
    for (item, u) in items.iter().filter(|i| matches!(i.kind, Kind::Map(_))).zip(&a.users) {
        let id = u.user.as_deref().or(u.nkey.as_deref()).unwrap_or_default();
        if let Some(&first) = seen.get(id) {
            b.diags.push(Diagnostic::error("duplicate", Some(item.span), format!("duplicate user `{id}`")));
            b.diags.push(Diagnostic::note("duplicate", Some(first), format!("`{id}` is first defined here")));
        } else {
            seen.insert(id, item.span);
        }
    }
}

/// User names (or nkeys) seen so far, and where. foldhash, not SipHash:
/// the names come from the operator's own file.
type UserNames<'a> = std::collections::HashMap<&'a str, Span, foldhash::fast::RandomState>;

/// One entry of `users`: who it is.
pub fn user(b: &mut Builder, m: &Map, u: &User) {
    let first = m.entries.first().map(|e| e.key_span);
    if u.user.is_none() && u.nkey.is_none() && m.find(&["nkey"]).is_none() {
        b.diags.push(Diagnostic::error("user", first, "a user needs `user` or `nkey`"));
    }
    if m.find(&["nkey"]).is_some() {
        if let Some(other) = m.find(&["user", "username", "pass", "password"]) {
            b.error("conflict", other.key_span, "nkey users do not take usernames or passwords");
        }
    }
}

/// `cluster`: routes authenticate as one user.
pub fn cluster(b: &mut Builder, m: &Map, c: &Cluster) {
    if c.authorization.as_ref().is_some_and(|a| !a.users.is_empty()) {
        if let Some(e) = m.find(&["authorization"]) {
            b.error("conflict", e.key_span, "cluster authorization does not support multiple users");
        }
    }
    // nats-server refuses it; routes log in with a user and password only,
    // so accepting it would leave the route port open while the file says
    // it is guarded.
    if c.authorization.as_ref().is_some_and(|a| a.token.is_some()) {
        if let Some(e) = m.find(&["authorization"]) {
            b.error("conflict", e.key_span, "cluster authorization does not support tokens");
        }
    }
}

/// `websocket`: nats-server's `validateWebsocketOptions` for what lies in
/// the block itself (its messages, positioned): TLS unless `no_tls`,
/// origins that parse, headers that do not touch the upgrade itself.
pub fn websocket(b: &mut Builder, m: &Map, w: &Websocket) {
    if !w.enabled() {
        return;
    }
    // A `no_tls` of the wrong type is already reported at its value; the
    // reference stops there too, before it checks for TLS.
    let no_tls_mistyped = m.find(&["no_tls"]).is_some_and(|e| !matches!(e.value.kind, Kind::Bool(_)));
    if w.tls.is_none() && !w.no_tls && !no_tls_mistyped {
        let span = m.find(&["port", "listen"]).map(|e| e.key_span).or(m.entries.first().map(|e| e.key_span));
        b.diags.push(
            Diagnostic::error("websocket", span, "websocket requires TLS configuration")
                .with_help("add a `tls { cert_file: ..., key_file: ... }` block, or `no_tls: true` for plain ws://"),
        );
    }
    if let Some(e) =
        m.find(&["allowed_origins", "allowed_origin", "allow_origins", "allow_origin", "origins", "origin"])
    {
        let items: Vec<(&str, Span)> = match &e.value.kind {
            Kind::Str(s) => vec![(s.as_str(), e.value.span)],
            Kind::Array(items) => items
                .iter()
                .filter_map(|i| match &i.kind {
                    Kind::Str(s) => Some((s.as_str(), i.span)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for (origin, span) in items {
            if let Err(why) = crate::origin::parse_allowed(origin) {
                b.error("websocket", span, why);
            }
        }
    }
    if let Some(Kind::Map(headers)) = m.find(&["headers"]).map(|e| &e.value.kind) {
        for e in headers.effective() {
            let k = e.key.to_ascii_lowercase();
            if matches!(k.as_str(), "host" | "content-length" | "connection" | "upgrade" | "nats-no-masking") {
                b.error("websocket", e.key_span, format!("websocket: invalid header {:?} not allowed", e.key));
            } else if k.starts_with("sec-websocket-") {
                b.error(
                    "websocket",
                    e.key_span,
                    format!("websocket: invalid header {:?}, \"Sec-WebSocket-\" prefix not allowed", e.key),
                );
            }
        }
    }
}

/// The websocket rules that need the rest of the config: the users its
/// `no_auth_user` names, credentials that cannot coexist with users, and
/// the operator a JWT cookie needs (nats-server's messages).
fn websocket_auth(b: &mut Builder, root: &Map, opts: &Options) {
    let Some(w) = opts.websocket.as_ref().filter(|w| w.enabled()) else { return };
    let Some(Kind::Map(m)) = root.find(&["websocket", "ws"]).map(|e| &e.value.kind) else { return };
    let at = |names: &[&str]| m.find(names).map(|e| e.key_span);
    let users = &opts.authorization.users;
    if let Some(u) = w.no_auth_user.as_deref().filter(|u| !u.is_empty()) {
        let msg = if users.is_empty() {
            Some(format!("no_auth_user: \"{u}\" present, but users/nkeys are not defined"))
        } else if !users.iter().any(|x| x.user.as_deref() == Some(u) || x.nkey.as_deref() == Some(u)) {
            Some(format!(
                "no_auth_user: \"{u}\" not present as user or nkey in authorization block or account configuration"
            ))
        } else {
            None
        };
        if let Some(msg) = msg {
            b.diags.push(Diagnostic::error("conflict", at(&["no_auth_user"]), msg));
        }
    }
    if !users.is_empty() {
        if let Some(a) = &w.authorization {
            let auth = m.find(&["authorization", "authentication"]);
            let inner = |names: &[&str]| match auth.map(|e| &e.value.kind) {
                Some(Kind::Map(am)) => am.find(names).map(|e| e.key_span),
                _ => None,
            };
            if a.user.as_deref().is_some_and(|u| !u.is_empty()) {
                b.diags.push(Diagnostic::error(
                    "conflict",
                    inner(&["user", "username"]),
                    "websocket authentication username not compatible with presence of users/nkeys",
                ));
            }
            if a.token.as_ref().is_some_and(|t| !t.is_empty()) {
                b.diags.push(Diagnostic::error(
                    "conflict",
                    inner(&["token"]),
                    "websocket authentication token not compatible with presence of users/nkeys",
                ));
            }
        }
    }
    if let Some(cookie) = w.jwt_cookie.as_deref().filter(|c| !c.is_empty()) {
        let trusted = root.find(&["operator", "operators", "root", "roots", "trusted", "trusted_keys"]).is_some();
        if !trusted {
            b.diags.push(Diagnostic::error(
                "conflict",
                at(&["jwt_cookie"]),
                format!(
                    "trusted operators or trusted keys configuration is required for JWT authentication via cookie {cookie:?}"
                ),
            ));
        }
    }
}

/// `tls`: a block rnats serves with is compiled as the server will compile
/// it (certificates and keys read and matched, ciphers and curves mapped to
/// what rustls provides), and every problem is reported at its key; other
/// blocks (gateways, leaf nodes, ...) get the checks nats-server makes.
pub fn tls(b: &mut Builder, m: &Map, t: &Tls) {
    let block = b.path();
    if served_tls_block(&block) {
        return served_tls(b, m, t);
    }
    if !t.allow_insecure_cipher_suites {
        let insecure: Vec<&str> =
            t.cipher_suites.iter().map(String::as_str).filter(|c| INSECURE_CIPHERS.contains(c)).collect();
        if let (false, Some(e)) = (insecure.is_empty(), m.find(&["cipher_suites"])) {
            b.diags.push(
                Diagnostic::error(
                    "tls",
                    Some(e.key_span),
                    format!("insecure cipher suites configured: {}", insecure.join(", ")),
                )
                .with_help("remove them, or set `allow_insecure_cipher_suites: true`"),
            );
        }
    }
    if t.cert_file.is_some() != t.key_file.is_some() && m.find(&["certs", "certificates"]).is_none() {
        b.diags.push(Diagnostic::error(
            "tls",
            m.entries.first().map(|e| e.key_span),
            format!("`{block}` needs both `cert_file` and `key_file`"),
        ));
    }
}

fn served_tls(b: &mut Builder, m: &Map, t: &Tls) {
    for problem in t.served_problems() {
        let entry = problem.key.and_then(|k| m.find(&[k]));
        // The list item the problem is about, else the key's value, else the block.
        let span = match (entry, problem.index) {
            (Some(e), Some(i)) => match &e.value.kind {
                Kind::Array(items) => items.get(i).map(|v| v.span).or(Some(e.value.span)),
                _ => Some(e.value.span),
            },
            (Some(e), None) => Some(e.value.span),
            (None, _) => m.entries.first().map(|e| e.key_span),
        };
        // A file the key's own check found unreadable is not reported twice.
        if b.diags.iter().any(|d| d.span == span && d.severity == Severity::Error) {
            continue;
        }
        let mut d = if problem.warning {
            Diagnostic::warning("tls", span, problem.message)
        } else {
            Diagnostic::error("tls", span, problem.message)
        };
        if let Some(h) = problem.help {
            d = d.with_help(h);
        }
        b.diags.push(d);
    }
}
