//! What a reload from one configuration to another would change, and whether
//! each change can be applied to a running server.
//!
//! Every field of [`Options`] is destructured below, so a field added to the
//! model does not compile until it is classified here: no option can be
//! silently treated as reloadable (or silently ignored), which is the trap of
//! nats-server's reflection-based `diffOptions`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use serde::Serialize;

mod accounts;
mod auth;

use auth::{authorization_changes, cut_off, http_auth_changes, perms_summary, UserChanges};

use crate::options::{
    format_duration, Authorization, Cluster, HttpAuth, Options, Permissions, Port, Secret, User, Websocket, REDACTED,
};

/// Whether a change can be applied without a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Applied at run time, as nats-server 2.15 does.
    Reloadable,
    /// Applied at run time by rnats; nats-server refuses it and needs a
    /// restart (for example `max_pending`).
    ReloadableBeyondReference,
    /// Needs a restart: the whole reload is refused.
    Refused,
    /// A setting of a feature rnats does not have (gateway, leafnodes, ...):
    /// accepted, and reported as having no effect.
    Ignored,
}

/// One changed option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The option as the config file names it (`max_payload`,
    /// `authorization users`).
    pub key: String,
    /// Display values; secrets are masked.
    pub old: String,
    pub new: String,
    pub class: Class,
    /// For lists (users): what was added, removed and changed, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Change {
    /// `Reloaded: <key> = <new value>`, or the key and what changed in it.
    pub fn reloaded_line(&self) -> String {
        if self.key == "no_fast_producer_stall" {
            let not = if self.new == "true" { "not " } else { "" };
            return format!("Reloaded: fast producers will {not}be stalled");
        }
        match &self.detail {
            Some(d) => format!("Reloaded: {} ({d})", self.key),
            None => format!("Reloaded: {} = {}", self.key, self.new),
        }
    }

    /// nats-server's refusal line, naming the key as the config does.
    pub fn refusal_line(&self) -> String {
        format!("config reload not supported for {}: old={}, new={}", self.key, self.old, self.new)
    }
}

/// Users whose connections a reload ends, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CutOff {
    /// Removed from the config: their connections are closed.
    pub removed: Vec<String>,
    /// Password, token or nkey changed: their connections must
    /// authenticate again and are refused with 'Authorization Violation'
    /// unless the old credentials still hold.
    pub credentials_changed: Vec<String>,
    /// Authentication is newly required: clients that connected without
    /// credentials are refused (unless `no_auth_user` covers them).
    pub anonymous_clients: bool,
}

impl CutOff {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.credentials_changed.is_empty() && !self.anonymous_clients
    }
}

/// Everything a reload from `old` to `new` would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub changes: Vec<Change>,
    pub cut_off: CutOff,
}

impl Diff {
    /// The changes that stop the reload, if any.
    pub fn refused(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.class == Class::Refused)
    }

    pub fn is_refused(&self) -> bool {
        self.refused().next().is_some()
    }
}

fn show<T: Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(String::new, |v| v.to_string())
}

fn show_port(p: Port) -> String {
    match p {
        Port::Fixed(p) => p.to_string(),
        Port::Random => "-1".into(),
    }
}

fn on_off(enabled: bool) -> String {
    if enabled { "enabled" } else { "disabled" }.to_string()
}

fn masked(v: &Option<Secret>) -> String {
    match v {
        None => String::new(),
        // bcrypt hashes are not secrets, but a hash change is best shown as
        // a change, not as two 60-character strings.
        Some(_) => REDACTED.into(),
    }
}

struct Collector {
    changes: Vec<Change>,
}

impl Collector {
    fn field<T: PartialEq>(&mut self, key: &str, old: &T, new: &T, class: Class, show: impl Fn(&T) -> String) {
        if old != new {
            self.changes.push(Change { key: key.into(), old: show(old), new: show(new), class, detail: None });
        }
    }

    /// A secret: the values are never shown.
    fn secret(&mut self, key: &str, old: &Option<Secret>, new: &Option<Secret>) {
        if old != new {
            let (o, n) = (masked(old), masked(new));
            let detail = Some(match (old, new) {
                (None, Some(_)) => "set".to_string(),
                (Some(_), None) => "removed".to_string(),
                _ => "changed".to_string(),
            });
            let path = key.replacen(' ', ".", 1);
            self.changes.push(Change { key: key.into(), old: o, new: n, class: class_of(&path), detail });
        }
    }
}

/// How a change to the key at `path` applies, from the key table (the one
/// place that says what reloads), given what rnats implements.
fn class_of(path: &str) -> Class {
    use crate::conf::keys::{self, Reload};
    use crate::features::Support;
    if let Some(Support::Ignored(_)) = keys::support(path) {
        return Class::Ignored;
    }
    match keys::reload_class(path) {
        Some(Reload::Reloadable) => Class::Reloadable,
        Some(Reload::ReloadableInRnats) => Class::ReloadableBeyondReference,
        // Blocks that reload in part are diffed key by key by their callers;
        // anything else (or unknown) needs a restart.
        Some(Reload::Restart) | Some(Reload::Partly(_)) | None => Class::Refused,
    }
}

/// A list of names as one value: `[A, B]`.
fn show_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    format!("[{}]", names.collect::<Vec<_>>().join(", "))
}

/// Compares two configurations.
pub fn diff(old: &Options, new: &Options) -> Diff {
    let mut c = Collector { changes: Vec::new() };
    let Options {
        server_name,
        host,
        port,
        client_advertise,
        http_host,
        http_port,
        https_port,
        http_base_path,
        http_auth,
        max_closed_clients,
        pid_file,
        ports_file_dir,
        max_payload,
        max_control_line,
        max_connections,
        max_pending,
        max_subscriptions,
        ping_interval,
        ping_max,
        write_deadline,
        no_header_support,
        no_fast_producer_stall,
        lame_duck_duration,
        lame_duck_grace_period,
        debug,
        trace,
        trace_verbose,
        logtime,
        logtime_utc,
        log_file,
        log_size_limit,
        logfile_max_num,
        syslog,
        remote_syslog,
        max_traced_msg_len,
        authorization,
        no_auth_user,
        accounts,
        mappings,
        system_account,
        no_system_account,
        operator,
        tls,
        allow_non_tls,
        cluster,
        websocket,
        connect_error_reports,
        reconnect_error_reports,
        other,
    } = new;
    let s = |v: &String| v.clone();
    let num = |v: &usize| v.to_string();
    let int = |v: &u64| v.to_string();
    let dur = |v: &std::time::Duration| format_duration(*v);
    let flag = |v: &bool| v.to_string();
    // One line per option: its key as the config names it (and, where the
    // table knows it under another name, that path), the field, how to show it.
    macro_rules! option {
        ($key:literal, $field:ident, $show:expr) => {
            c.field($key, &old.$field, $field, class_of($key), $show)
        };
        ($key:literal @ $path:literal, $field:ident, $show:expr) => {
            c.field($key, &old.$field, $field, class_of($path), $show)
        };
    }
    option!("server_name", server_name, show);
    option!("host", host, s);
    option!("port", port, |p| show_port(*p));
    option!("http_port", http_port, show);
    option!("https_port", https_port, show);
    option!("http_base_path", http_base_path, show);
    option!("http" @ "http", http_host, show);
    option!("max_closed_clients", max_closed_clients, num);
    http_auth_changes(&mut c, &old.http_auth, http_auth);
    option!("no_header_support", no_header_support, flag);
    option!("no_fast_producer_stall", no_fast_producer_stall, flag);
    option!("client_advertise", client_advertise, show);
    option!("pid_file", pid_file, show);
    option!("ports_file_dir", ports_file_dir, show);
    option!("max_payload", max_payload, num);
    option!("max_control_line", max_control_line, num);
    option!("max_connections", max_connections, num);
    option!("ping_interval", ping_interval, dur);
    option!("ping_max", ping_max, |v| v.to_string());
    option!("write_deadline", write_deadline, dur);
    option!("max_pending", max_pending, num);
    option!("max_subscriptions", max_subscriptions, num);
    option!("lame_duck_duration", lame_duck_duration, dur);
    option!("lame_duck_grace_period", lame_duck_grace_period, dur);
    option!("debug", debug, flag);
    option!("trace", trace, flag);
    option!("trace_verbose", trace_verbose, flag);
    option!("logtime", logtime, flag);
    option!("logtime_utc", logtime_utc, flag);
    option!("log_file", log_file, show);
    option!("syslog", syslog, flag);
    option!("remote_syslog", remote_syslog, show);
    option!("logfile_size_limit" @ "log_size_limit", log_size_limit, int);
    option!("logfile_max_num", logfile_max_num, int);
    option!("max_traced_msg_len", max_traced_msg_len, int);
    let users = UserChanges::of(&old.authorization.users, &authorization.users);
    authorization_changes(&mut c, &old.authorization, authorization, &users);
    option!("no_auth_user", no_auth_user, show);
    accounts::account_changes(&mut c, &old.accounts, accounts);
    if &old.mappings != mappings {
        c.changes.push(Change {
            key: "mappings".into(),
            old: show_names(old.mappings.iter().map(|m| m.source.as_str())),
            new: show_names(mappings.iter().map(|m| m.source.as_str())),
            class: class_of("mappings"),
            detail: Some(accounts::mappings_change(&old.mappings, mappings)),
        });
    }
    option!("system_account", system_account, show);
    option!("no_system_account", no_system_account, flag);
    // Operator mode: every part by its key's class (the JWTs shown by count).
    let o = &old.operator;
    let count = |n: usize| format!("{n} entries");
    for (key, same, was, now) in [
        ("operator", o.operators == operator.operators, o.operators.len(), operator.operators.len()),
        ("trusted", o.trusted_keys == operator.trusted_keys, o.trusted_keys.len(), operator.trusted_keys.len()),
        ("resolver", o.resolver == operator.resolver, o.resolver.iter().count(), operator.resolver.iter().count()),
        (
            "resolver_preload",
            o.resolver_preload == operator.resolver_preload,
            o.resolver_preload.len(),
            operator.resolver_preload.len(),
        ),
    ] {
        if !same {
            let (old, new, class) = (count(was), count(now), class_of(key));
            c.changes.push(Change { key: key.into(), old, new, class, detail: None });
        }
    }
    option!("tls", tls, |t| on_off(t.is_some()));
    option!("allow_non_tls", allow_non_tls, flag);
    cluster_changes(&mut c, &old.cluster, cluster);
    websocket_changes(&mut c, &old.websocket, websocket);
    option!("connect_error_reports", connect_error_reports, int);
    option!("reconnect_error_reports", reconnect_error_reports, int);

    other_changes(&mut c, &old.other, other);

    Diff { changes: c.changes, cut_off: cut_off(old, new, &users) }
}

/// The cluster block, key by key: where routes listen needs a restart (as
/// in nats-server), the rest applies live.
fn cluster_changes(c: &mut Collector, old: &Option<Cluster>, new: &Option<Cluster>) {
    let (o, n) = match (old, new) {
        (None, None) => return,
        (Some(o), Some(n)) => (o, n),
        _ => {
            c.field("cluster", &old.is_some(), &new.is_some(), class_of("cluster"), |b| on_off(*b));
            return;
        }
    };
    let Cluster {
        name,
        host,
        port,
        advertise,
        no_advertise,
        routes,
        authorization,
        tls,
        connect_retries,
        connect_backoff,
        pool_size,
        compression,
        ping_interval,
        ping_max,
        write_deadline,
        permissions,
        other,
    } = n;
    let s = |v: &String| v.clone();
    let flag = |v: &bool| v.to_string();
    c.field("cluster name", &o.name, name, class_of("cluster.name"), show);
    c.field("cluster host", &o.host, host, class_of("cluster.host"), s);
    c.field("cluster port", &o.port, port, class_of("cluster.port"), |p| show_port(*p));
    c.field("cluster advertise", &o.advertise, advertise, class_of("cluster.advertise"), show);
    c.field("cluster no_advertise", &o.no_advertise, no_advertise, class_of("cluster.no_advertise"), flag);
    if &o.routes != routes {
        let redact = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|r| match crate::server::route::urls::RouteUrl::parse(r) {
                    Ok(u) => u.redacted(),
                    Err(_) => crate::server::route::urls::redact_text(r),
                })
                .collect()
        };
        let (old_list, new_list) = (redact(&o.routes), redact(routes));
        let added: Vec<&String> = new_list.iter().filter(|r| !old_list.contains(r)).collect();
        let removed: Vec<&String> = old_list.iter().filter(|r| !new_list.contains(r)).collect();
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("added: {}", added.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
        }
        if !removed.is_empty() {
            parts.push(format!("removed: {}", removed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
        }
        c.changes.push(Change {
            key: "cluster routes".into(),
            old: old_list.join(","),
            new: new_list.join(","),
            class: class_of("cluster.routes"),
            detail: (!parts.is_empty()).then(|| parts.join("; ")),
        });
    }
    if &o.authorization != authorization {
        c.changes.push(Change {
            key: "cluster authorization".into(),
            old: on_off(o.authorization.is_some()),
            new: on_off(authorization.is_some()),
            class: class_of("cluster.authorization"),
            detail: Some("changed; accepted routes are checked again".into()),
        });
    }
    c.field("cluster tls", &o.tls, tls, class_of("cluster.tls"), |t| on_off(t.is_some()));
    c.field("cluster connect_retries", &o.connect_retries, connect_retries, class_of("cluster.connect_retries"), |v| {
        v.to_string()
    });
    c.field("cluster connect_backoff", &o.connect_backoff, connect_backoff, class_of("cluster.connect_backoff"), flag);
    c.field("cluster pool_size", &o.pool_size, pool_size, class_of("cluster.pool_size"), show);
    c.field("cluster compression", &o.compression, compression, class_of("cluster.compression"), show);
    c.field("cluster ping_interval", &o.ping_interval, ping_interval, class_of("cluster.ping_interval"), |d| {
        d.map(format_duration).unwrap_or_default()
    });
    c.field("cluster ping_max", &o.ping_max, ping_max, class_of("cluster.ping_max"), show);
    c.field("cluster write_deadline", &o.write_deadline, write_deadline, class_of("cluster.write_deadline"), |d| {
        d.map(format_duration).unwrap_or_default()
    });
    if &o.permissions != permissions {
        c.changes.push(Change {
            key: "cluster permissions".into(),
            old: perms_summary(&o.permissions),
            new: perms_summary(permissions),
            class: class_of("cluster.permissions"),
            detail: Some("changed; routes are made again".into()),
        });
    }
    let before = c.changes.len();
    other_changes(c, &o.other, other);
    for change in &mut c.changes[before..] {
        change.key = format!("cluster {}", change.key);
    }
}

/// The websocket block: its `tls` reloads (new handshakes use the new
/// certificates); any other change needs a restart, as in nats-server.
fn websocket_changes(c: &mut Collector, old: &Option<Websocket>, new: &Option<Websocket>) {
    let (o, n) = match (old, new) {
        (None, None) => return,
        (Some(o), Some(n)) => (o, n),
        _ => {
            c.field("websocket", &old.is_some(), &new.is_some(), class_of("websocket"), |b| on_off(*b));
            return;
        }
    };
    let Websocket {
        host,
        port,
        advertise,
        no_tls,
        tls,
        same_origin,
        allowed_origins,
        compression,
        handshake_timeout,
        authorization,
        jwt_cookie,
        user_cookie,
        pass_cookie,
        token_cookie,
        no_auth_user,
        headers,
        ping_interval,
    } = n;
    let s = |v: &String| v.clone();
    let flag = |v: &bool| v.to_string();
    let dur = |d: &Option<std::time::Duration>| d.map(format_duration).unwrap_or_default();
    let list = |v: &Vec<String>| v.join(",");
    c.field("websocket host", &o.host, host, class_of("websocket.host"), s);
    c.field("websocket port", &o.port, port, class_of("websocket.port"), |p| show_port(*p));
    c.field("websocket advertise", &o.advertise, advertise, class_of("websocket.advertise"), show);
    c.field("websocket no_tls", &o.no_tls, no_tls, class_of("websocket.no_tls"), flag);
    if &o.tls != tls {
        c.changes.push(Change {
            key: "websocket tls".into(),
            old: on_off(o.tls.is_some()),
            new: on_off(tls.is_some()),
            // Turning TLS on or off changes the scheme clients use: a restart.
            class: if o.tls.is_some() == tls.is_some() { class_of("websocket.tls") } else { Class::Refused },
            detail: tls.is_some().then(|| "new handshakes use the new settings".into()),
        });
    }
    c.field("websocket same_origin", &o.same_origin, same_origin, class_of("websocket.same_origin"), flag);
    c.field(
        "websocket allowed_origins",
        &o.allowed_origins,
        allowed_origins,
        class_of("websocket.allowed_origins"),
        list,
    );
    c.field("websocket compression", &o.compression, compression, class_of("websocket.compression"), flag);
    c.field(
        "websocket handshake_timeout",
        &o.handshake_timeout,
        handshake_timeout,
        class_of("websocket.handshake_timeout"),
        dur,
    );
    if &o.authorization != authorization {
        let shown = |a: &Option<crate::options::WebsocketAuth>| match a {
            Some(a) => format!("user={} password={} token={}", show(&a.user), masked(&a.password), masked(&a.token)),
            None => String::new(),
        };
        c.changes.push(Change {
            key: "websocket authorization".into(),
            old: shown(&o.authorization),
            new: shown(authorization),
            class: class_of("websocket.authorization"),
            detail: None,
        });
    }
    c.field("websocket jwt_cookie", &o.jwt_cookie, jwt_cookie, class_of("websocket.jwt_cookie"), show);
    c.field("websocket user_cookie", &o.user_cookie, user_cookie, class_of("websocket.user_cookie"), show);
    c.field("websocket pass_cookie", &o.pass_cookie, pass_cookie, class_of("websocket.pass_cookie"), show);
    c.field("websocket token_cookie", &o.token_cookie, token_cookie, class_of("websocket.token_cookie"), show);
    c.field("websocket no_auth_user", &o.no_auth_user, no_auth_user, class_of("websocket.no_auth_user"), show);
    c.field("websocket headers", &o.headers, headers, class_of("websocket.headers"), |h| {
        h.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
    });
    c.field("websocket ping_interval", &o.ping_interval, ping_interval, class_of("websocket.ping_interval"), dur);
}

fn other_changes(
    c: &mut Collector,
    old: &BTreeMap<String, serde_json::Value>,
    new: &BTreeMap<String, serde_json::Value>,
) {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for k in keys {
        if old.get(k) != new.get(k) {
            let present =
                |v: Option<&serde_json::Value>| if v.is_some() { "set".to_string() } else { "unset".to_string() };
            c.changes.push(Change {
                key: k.clone(),
                old: present(old.get(k)),
                new: present(new.get(k)),
                class: Class::Ignored,
                detail: Some("not supported by rnats; no effect".into()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn user(name: &str, pass: &str) -> User {
        User { user: Some(name.into()), password: Some(pass.into()), ..User::default() }
    }

    #[test]
    fn no_change_is_empty() {
        let o = Options::default();
        assert_eq!(diff(&o, &o.clone()), Diff::default());
    }

    #[test]
    fn limits_and_logging_reload() {
        let old = Options::default();
        let new = Options { max_payload: 2048, debug: true, ping_interval: Duration::from_secs(30), ..old.clone() };
        let d = diff(&old, &new);
        assert!(!d.is_refused());
        let lines: Vec<String> = d.changes.iter().map(Change::reloaded_line).collect();
        assert_eq!(lines, ["Reloaded: max_payload = 2048", "Reloaded: ping_interval = 30s", "Reloaded: debug = true"]);
    }

    #[test]
    fn a_port_change_is_refused_with_the_config_key() {
        let old = Options::default();
        let new = Options { port: Port::Fixed(4333), ..old.clone() };
        let d = diff(&old, &new);
        let refused: Vec<String> = d.refused().map(Change::refusal_line).collect();
        assert_eq!(refused, ["config reload not supported for port: old=4222, new=4333"]);
    }

    #[test]
    fn users_are_named_and_secrets_masked() {
        let mut old = Options::default();
        old.authorization.users = vec![user("alice", "a1"), user("bob", "b1")];
        let mut new = old.clone();
        new.authorization.users = vec![user("alice", "a2"), user("carol", "c1")];
        let d = diff(&old, &new);
        let lines: Vec<String> = d.changes.iter().map(Change::reloaded_line).collect();
        assert_eq!(lines, ["Reloaded: authorization users (added: carol; removed: bob; changed: alice)"]);
        assert!(!format!("{d:?}").contains("a2"), "no password in the diff");
        assert_eq!(d.cut_off.removed, ["bob"]);
        assert_eq!(d.cut_off.credentials_changed, ["alice"]);
    }

    #[test]
    fn user_lists_are_sorted_and_a_later_entry_of_a_name_wins() {
        let mut old = Options::default();
        old.authorization.users = vec![user("zed", "1"), user("amy", "1"), user("kim", "1"), user("bob", "1")];
        let mut new = old.clone();
        new.authorization.users = vec![
            user("kim", "1"),
            user("zed", "2"),
            user("amy", "x"),
            user("amy", "1"),
            user("eve", "1"),
            user("al", "1"),
        ];
        let d = diff(&old, &new);
        assert_eq!(
            d.changes[0].reloaded_line(),
            "Reloaded: authorization users (added: al, eve; removed: bob; changed: zed)"
        );
        assert_eq!(d.cut_off.removed, ["bob"]);
        assert_eq!(d.cut_off.credentials_changed, ["zed"]);
    }

    #[test]
    fn a_token_change_is_masked() {
        let mut old = Options::default();
        old.authorization.token = Some("s3cr3t".into());
        let mut new = old.clone();
        new.authorization.token = Some("n3w".into());
        let d = diff(&old, &new);
        assert_eq!(d.changes[0].reloaded_line(), "Reloaded: authorization token (changed)");
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains("s3cr3t") && !text.contains("n3w"), "{text}");
    }

    #[test]
    fn adding_auth_cuts_off_anonymous_clients() {
        let old = Options::default();
        let mut new = old.clone();
        new.authorization.users = vec![user("a", "p")];
        assert!(diff(&old, &new).cut_off.anonymous_clients);
    }

    #[test]
    fn beyond_the_reference() {
        let old = Options::default();
        let new = Options { max_pending: 1 << 27, ..old.clone() };
        assert_eq!(diff(&old, &new).changes[0].class, Class::ReloadableBeyondReference);
    }

    #[test]
    fn fast_producer_stall_reloads_with_the_reference_notice() {
        let old = Options::default();
        let new = Options { no_fast_producer_stall: true, ..old.clone() };
        let d = diff(&old, &new);
        assert_eq!(d.changes.len(), 1);
        assert_eq!(d.changes[0].class, Class::Reloadable);
        assert_eq!(d.changes[0].reloaded_line(), "Reloaded: fast producers will not be stalled");
        assert_eq!(diff(&new, &old).changes[0].reloaded_line(), "Reloaded: fast producers will be stalled");
    }
}
