//! Value tree → typed [`Options`], with every problem reported at its
//! position: wrong types, out-of-range values, conflicting options, unknown
//! keys (with "did you mean"), missing files.
//!
//! Blocks rnats does not act on yet (gateway, leafnodes, websocket, mqtt,
//! jetstream, accounts, ...) still have their key names checked, and are kept
//! verbatim in `Options::other`, so a config valid for nats-server is valid here.

use std::collections::BTreeMap;
use std::time::Duration;

use super::diag::{suggest, Diagnostic};
use super::source::Span;
use super::tree::{Entry, Kind, Map, Value};
use super::units::parse_go_duration;
use crate::options::*;
use crate::server::subject::is_valid_subject;

/// Collects diagnostics while building.
#[derive(Default)]
pub struct Builder {
    pub diags: Vec<Diagnostic>,
}

/// Top-level keys rnats checks and keeps but does not act on yet.
const UNMODELED_TOP: &[&str] = &[
    "trace_headers",
    "prof_port",
    "prof_block_rate",
    "max_sub_tokens",
    "max_subscription_tokens",
    "max_closed_clients",
    "connect_error_reports",
    "reconnect_error_reports",
    "write_timeout",
    "proxy_protocol",
    "allow_non_tls",
    "no_fast_producer_stall",
    "disable_sublist_cache",
    "no_sublist_cache",
    "no_system_account",
    "no_system",
    "no_sys_acc",
    "system_account",
    "system",
    "accounts",
    "mappings",
    "maps",
    "gateway",
    "leaf",
    "leafnodes",
    "jetstream",
    "store_dir",
    "storedir",
    "ocsp",
    "ocsp_cache",
    "operator",
    "operators",
    "root",
    "roots",
    "root_operator",
    "root_operators",
    "resolver",
    "account_resolver",
    "accounts_resolver",
    "resolver_tls",
    "resolver_preload",
    "resolver_pinned_accounts",
    "trusted",
    "trusted_keys",
    "websocket",
    "ws",
    "mqtt",
    "server_tags",
    "server_metadata",
    "feature_flags",
    "default_js_domain",
    "proxies",
];

const MODELED_TOP: &[&str] = &[
    "listen",
    "port",
    "host",
    "net",
    "client_advertise",
    "server_name",
    "debug",
    "trace",
    "trace_verbose",
    "logtime",
    "logtime_utc",
    "syslog",
    "logfile",
    "log_file",
    "logfile_size_limit",
    "log_size_limit",
    "logfile_max_num",
    "log_max_num",
    "remote_syslog",
    "pidfile",
    "pid_file",
    "ports_file_dir",
    "http",
    "https",
    "http_port",
    "monitor_port",
    "https_port",
    "http_base_path",
    "max_control_line",
    "max_payload",
    "max_pending",
    "max_connections",
    "max_conn",
    "max_subscriptions",
    "max_subs",
    "max_traced_msg_len",
    "ping_interval",
    "ping_max",
    "write_deadline",
    "lame_duck_duration",
    "lame_duck_grace_period",
    "no_header_support",
    "no_auth_user",
    "default_sentinel",
    "authorization",
    "tls",
    "cluster",
];

/// Blocks whose inner keys are checked against a list.
const GATEWAY_KEYS: &[&str] = &[
    "name",
    "listen",
    "port",
    "host",
    "net",
    "authorization",
    "tls",
    "advertise",
    "connect_retries",
    "connect_backoff",
    "gateways",
    "reject_unknown",
    "reject_unknown_cluster",
    "write_deadline",
    "write_timeout",
];
const LEAF_KEYS: &[&str] = &[
    "listen",
    "port",
    "host",
    "net",
    "authorization",
    "remotes",
    "reconnect",
    "reconnect_delay",
    "reconnect_interval",
    "dial_timeout",
    "tls",
    "leafnode_advertise",
    "advertise",
    "no_advertise",
    "min_version",
    "minimum_version",
    "compression",
    "isolate_leafnode_interest",
    "isolate",
    "write_deadline",
    "write_timeout",
];
const WEBSOCKET_KEYS: &[&str] = &[
    "listen",
    "port",
    "host",
    "net",
    "advertise",
    "no_tls",
    "tls",
    "same_origin",
    "allowed_origins",
    "allowed_origin",
    "allow_origins",
    "allow_origin",
    "origins",
    "origin",
    "handshake_timeout",
    "compress",
    "compression",
    "authorization",
    "authentication",
    "jwt_cookie",
    "user_cookie",
    "pass_cookie",
    "token_cookie",
    "no_auth_user",
    "headers",
    "ping_interval",
];
const MQTT_KEYS: &[&str] = &[
    "listen",
    "port",
    "host",
    "net",
    "tls",
    "authorization",
    "authentication",
    "no_auth_user",
    "ack_wait",
    "ackwait",
    "js_api_timeout",
    "api_timeout",
    "max_ack_pending",
    "max_pending",
    "max_inflight",
    "js_domain",
    "stream_replicas",
    "consumer_replicas",
    "consumer_memory_storage",
    "consumer_inactive_threshold",
    "consumer_auto_cleanup",
    "reject_qos2_publish",
    "downgrade_qos2_subscribe",
];
const JETSTREAM_KEYS: &[&str] = &[
    "enabled",
    "enable",
    "disabled",
    "disable",
    "strict",
    "store",
    "store_dir",
    "storedir",
    "sync",
    "sync_interval",
    "max_memory_store",
    "max_mem_store",
    "max_mem",
    "max_file_store",
    "max_file",
    "domain",
    "key",
    "ek",
    "encryption_key",
    "prev_key",
    "prev_ek",
    "prev_encryption_key",
    "cipher",
    "extension_hint",
    "limits",
    "tpm",
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_size",
    "max_buffered_msgs",
    "request_queue_limit",
    "info_queue_limit",
    "meta_compact",
    "meta_compact_size",
    "meta_compact_sync",
    "max_concurrent_io",
];
const ACCOUNT_KEYS: &[&str] = &[
    "nkey",
    "users",
    "imports",
    "exports",
    "jetstream",
    "default_permissions",
    "mappings",
    "maps",
    "limits",
    "msg_trace",
    "trace_dest",
];
const AUTH_KEYS: &[&str] = &[
    "user",
    "username",
    "pass",
    "password",
    "token",
    "timeout",
    "users",
    "default_permission",
    "default_permissions",
    "permissions",
    "auth_callout",
    "auth_hook",
    "proxy_required",
];
const USER_KEYS: &[&str] = &[
    "nkey",
    "user",
    "username",
    "pass",
    "password",
    "permission",
    "permissions",
    "authorization",
    "allowed_connection_types",
    "connection_types",
    "clients",
    "proxy_required",
    "account",
];
const PERMISSION_KEYS: &[&str] =
    &["pub", "publish", "import", "sub", "subscribe", "export", "publish_allow_responses", "allow_responses"];
const TLS_KEYS: &[&str] = &[
    "cert_file",
    "key_file",
    "ca_file",
    "insecure",
    "verify",
    "verify_and_map",
    "verify_cert_and_check_known_urls",
    "allow_insecure_cipher_suites",
    "cipher_suites",
    "curve_preferences",
    "timeout",
    "connection_rate_limit",
    "pinned_certs",
    "cert_store",
    "cert_match_by",
    "cert_match",
    "ca_certs_match",
    "cert_match_skip_invalid",
    "handshake_first",
    "first",
    "immediate",
    "ocsp_peer",
    "certs",
    "certificates",
    "min_version",
];
const CLUSTER_KEYS: &[&str] = &[
    "name",
    "listen",
    "port",
    "host",
    "net",
    "authorization",
    "routes",
    "tls",
    "cluster_advertise",
    "advertise",
    "no_advertise",
    "connect_retries",
    "connect_backoff",
    "permissions",
    "pool_size",
    "accounts",
    "compression",
    "ping_interval",
    "ping_max",
    "write_deadline",
    "write_timeout",
];

/// Go's `tls.CipherSuites()` names.
const SECURE_CIPHERS: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
];
/// Go's `tls.InsecureCipherSuites()` names (need `allow_insecure_cipher_suites`).
const INSECURE_CIPHERS: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];
const CURVES: &[&str] = &["CurveP256", "CurveP384", "CurveP521", "X25519", "X25519MLKEM768"];

fn lower(e: &Entry) -> String {
    e.key.to_ascii_lowercase()
}

impl Builder {
    fn error(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, Some(span), msg));
    }

    fn type_error(&mut self, e: &Entry, want: &str) {
        let found = e.value.kind.describe();
        let mut d = Diagnostic::error("type", Some(e.value.span), format!("`{}` must be {want}, found {found}", e.key));
        if let Kind::Str(s) = &e.value.kind {
            if want.contains("integer") && s.parse::<f64>().is_ok() {
                d = d.with_help("remove the quotes");
            } else if want.contains("boolean")
                && matches!(s.to_ascii_lowercase().as_str(), "true" | "false" | "yes" | "no" | "on" | "off")
            {
                d = d.with_help("remove the quotes: a quoted `true` is a string");
            }
        }
        self.diags.push(d);
    }

    /// An unknown key: a warning (an error under `--strict` or `-t`), unless the
    /// key was used as a variable.
    fn unknown(&mut self, e: &Entry, block: &str, known: &[&str]) {
        if e.used {
            return;
        }
        let where_ = if block.is_empty() { String::new() } else { format!(" in `{block}`") };
        let mut d = Diagnostic::warning("unknown-key", Some(e.key_span), format!("unknown field `{}`{where_}", e.key));
        // Suggestions cost an edit distance per known key: skip them once the
        // report will be truncated anyway.
        let hint = self.diags.len() < super::MAX_DIAGNOSTICS;
        if let Some(s) = hint.then(|| suggest(&e.key, known.iter().copied())).flatten() {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.diags.push(d);
    }

    fn check_keys(&mut self, map: &Map, block: &str, known: &[&str]) {
        for e in map.effective() {
            if !known.contains(&lower(e).as_str()) {
                self.unknown(e, block, known);
            }
        }
    }

    fn int(&mut self, e: &Entry) -> Option<i64> {
        match e.value.kind {
            Kind::Int(i) => Some(i),
            _ => {
                self.type_error(e, "an integer");
                None
            }
        }
    }

    fn int_in(&mut self, e: &Entry, min: i64, max: i64) -> Option<i64> {
        let v = self.int(e)?;
        if v < min || v > max {
            self.error("range", e.value.span, format!("`{}` must be between {min} and {max}, found {v}", e.key));
            return None;
        }
        Some(v)
    }

    fn bool(&mut self, e: &Entry) -> Option<bool> {
        match e.value.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.type_error(e, "a boolean (true/false, yes/no, on/off)");
                None
            }
        }
    }

    fn string(&mut self, e: &Entry) -> Option<String> {
        match &e.value.kind {
            Kind::Str(s) => Some(s.clone()),
            _ => {
                self.type_error(e, "a string");
                None
            }
        }
    }

    /// A string or an array of strings.
    fn strings(&mut self, e: &Entry) -> Option<Vec<String>> {
        match &e.value.kind {
            Kind::Str(s) => Some(vec![s.clone()]),
            Kind::Array(items) => {
                let mut out = Vec::new();
                for v in items {
                    match &v.kind {
                        Kind::Str(s) => out.push(s.clone()),
                        other => {
                            self.error(
                                "type",
                                v.span,
                                format!("`{}` must hold strings, found {}", e.key, other.describe()),
                            );
                            return None;
                        }
                    }
                }
                Some(out)
            }
            _ => {
                self.type_error(e, "a string or an array of strings");
                None
            }
        }
    }

    /// A duration: a Go duration string, or (with a warning, as nats-server
    /// gives) a number of seconds.
    fn duration(&mut self, e: &Entry) -> Option<Duration> {
        match &e.value.kind {
            Kind::Str(s) => match parse_go_duration(s) {
                Ok(d) => Some(d),
                Err(msg) => {
                    self.error("duration", e.value.span, msg);
                    None
                }
            },
            Kind::Int(i) if *i >= 0 => {
                self.diags.push(
                    Diagnostic::warning(
                        "duration",
                        Some(e.value.span),
                        format!("`{}` should be a duration; the number is taken as seconds", e.key),
                    )
                    .with_help(format!("write `\"{i}s\"`")),
                );
                Some(Duration::from_secs(*i as u64))
            }
            _ => {
                self.type_error(e, "a duration such as \"2s\" or \"1m30s\"");
                None
            }
        }
    }

    /// Seconds as a number (int or float) or a duration string, as the
    /// `timeout` options take them.
    fn seconds(&mut self, e: &Entry) -> Option<Duration> {
        match &e.value.kind {
            Kind::Int(i) if *i >= 0 => Some(Duration::from_secs(*i as u64)),
            Kind::Float(f) if *f >= 0.0 && f.is_finite() => Some(Duration::from_secs_f64(*f)),
            Kind::Str(s) => match parse_go_duration(s) {
                Ok(d) => Some(d),
                Err(msg) => {
                    self.error("duration", e.value.span, msg);
                    None
                }
            },
            _ => {
                self.type_error(e, "a number of seconds or a duration string");
                None
            }
        }
    }

    fn map<'v>(&mut self, e: &'v Entry) -> Option<&'v Map> {
        match &e.value.kind {
            Kind::Map(m) => Some(m),
            _ => {
                self.type_error(e, "a map (`{ ... }`)");
                None
            }
        }
    }

    fn port(&mut self, e: &Entry) -> Option<Port> {
        match &e.value.kind {
            Kind::Int(-1) => Some(Port::Random),
            Kind::Str(s) if s.eq_ignore_ascii_case("random") => Some(Port::Random),
            _ => self.int_in(e, -1, 65535).map(|p| if p < 0 { Port::Random } else { Port::Fixed(p as u16) }),
        }
    }

    /// `listen`: a port, or `host:port`.
    fn listen(&mut self, e: &Entry) -> Option<(Option<String>, Port)> {
        match &e.value.kind {
            Kind::Int(_) => self.port(e).map(|p| (None, p)),
            Kind::Str(s) => {
                let Some((host, port)) = s.rsplit_once(':') else {
                    self.error(
                        "listen",
                        e.value.span,
                        format!("`{}` must be `host:port` or a port, found `{s}`", e.key),
                    );
                    return None;
                };
                let host = host.trim_start_matches('[').trim_end_matches(']');
                match port.parse::<i64>() {
                    Ok(-1) => Some((Some(host.to_string()), Port::Random)),
                    Ok(p) if (0..=65535).contains(&p) => Some((Some(host.to_string()), Port::Fixed(p as u16))),
                    _ => {
                        self.error("listen", e.value.span, format!("invalid port `{port}` in `{}`", e.key));
                        None
                    }
                }
            }
            _ => {
                self.type_error(e, "`host:port` or a port number");
                None
            }
        }
    }

    fn size_limit(&mut self, e: &Entry, max: i64) -> Option<usize> {
        let v = self.int(e)?;
        if v < 0 {
            self.error("range", e.value.span, format!("`{}` cannot be negative", e.key));
            return None;
        }
        if v > max {
            self.error("range", e.value.span, format!("`{}` value is too big: {v} (at most {max})", e.key));
            return None;
        }
        Some(v as usize)
    }

    /// Builds options from a parsed file on top of `opts` (the defaults).
    pub fn top_level(&mut self, root: &Map, opts: &mut Options) {
        let mut known: Vec<&str> = MODELED_TOP.to_vec();
        known.extend_from_slice(UNMODELED_TOP);
        for e in root.effective() {
            let k = lower(e);
            match k.as_str() {
                "listen" => {
                    if let Some((host, port)) = self.listen(e) {
                        if let Some(h) = host.filter(|h| !h.is_empty()) {
                            opts.host = h;
                        }
                        opts.port = port;
                    }
                }
                "port" => {
                    if let Some(p) = self.port(e) {
                        opts.port = p;
                    }
                }
                "host" | "net" => set(&mut opts.host, self.string(e)),
                "client_advertise" => opts.client_advertise = self.string(e),
                "server_name" => {
                    if let Some(name) = self.string(e) {
                        if name.contains(' ') {
                            self.error("value", e.value.span, "server name cannot contain spaces");
                        } else {
                            opts.server_name = Some(name);
                        }
                    }
                }
                "debug" => set(&mut opts.debug, self.bool(e)),
                "trace" => set(&mut opts.trace, self.bool(e)),
                "trace_verbose" => {
                    // nats-server: trace_verbose sets trace to the same value.
                    let on = self.bool(e);
                    set(&mut opts.trace, on);
                    set(&mut opts.trace_verbose, on);
                }
                "logtime" => set(&mut opts.logtime, self.bool(e)),
                "logtime_utc" => set(&mut opts.logtime_utc, self.bool(e)),
                "syslog" => set(&mut opts.syslog, self.bool(e)),
                "logfile" | "log_file" => opts.log_file = self.string(e),
                "logfile_size_limit" | "log_size_limit" => {
                    set(&mut opts.log_size_limit, self.size_limit(e, i64::MAX).map(|v| v as u64))
                }
                "logfile_max_num" | "log_max_num" => {
                    set(&mut opts.logfile_max_num, self.size_limit(e, i64::MAX).map(|v| v as u64))
                }
                "remote_syslog" => {
                    opts.remote_syslog = self.string(e);
                    if let Some(Err(why)) = opts.remote_syslog.as_deref().map(crate::logging::check_remote_syslog) {
                        self.error("value", e.value.span, why);
                    }
                }
                "pidfile" | "pid_file" => opts.pid_file = self.string(e),
                "ports_file_dir" => opts.ports_file_dir = self.string(e),
                "http" | "https" => {
                    if let Some((_, port)) = self.listen(e) {
                        let p = match port {
                            Port::Fixed(p) => p as i64,
                            Port::Random => -1,
                        };
                        if k == "http" {
                            opts.http_port = Some(p);
                        } else {
                            opts.https_port = Some(p);
                        }
                    }
                }
                "http_port" | "monitor_port" => opts.http_port = self.int_in(e, -1, 65535),
                "https_port" => opts.https_port = self.int_in(e, -1, 65535),
                "http_base_path" => opts.http_base_path = self.string(e),
                "max_control_line" => set(&mut opts.max_control_line, self.size_limit(e, i32::MAX as i64)),
                "max_payload" => set(&mut opts.max_payload, self.size_limit(e, i32::MAX as i64)),
                "max_pending" => set(&mut opts.max_pending, self.size_limit(e, i64::MAX)),
                "max_connections" | "max_conn" => set(&mut opts.max_connections, self.size_limit(e, i64::MAX)),
                "max_subscriptions" | "max_subs" => set(&mut opts.max_subscriptions, self.size_limit(e, i64::MAX)),
                "max_traced_msg_len" => {
                    set(&mut opts.max_traced_msg_len, self.size_limit(e, i64::MAX).map(|v| v as u64))
                }
                "ping_interval" => set(&mut opts.ping_interval, self.duration(e)),
                "ping_max" => set(&mut opts.ping_max, self.int_in(e, 0, u32::MAX as i64).map(|v| v as u32)),
                "write_deadline" => set(&mut opts.write_deadline, self.duration(e)),
                "lame_duck_duration" => {
                    if let Some(d) = self.duration(e) {
                        if d < Duration::from_secs(30) {
                            self.error("range", e.value.span, "`lame_duck_duration` must be at least 30s");
                        } else {
                            opts.lame_duck_duration = d;
                        }
                    }
                }
                "lame_duck_grace_period" => set(&mut opts.lame_duck_grace_period, self.duration(e)),
                "no_header_support" => set(&mut opts.no_header_support, self.bool(e)),
                "no_auth_user" | "default_sentinel" => opts.no_auth_user = self.string(e),
                "authorization" => {
                    if let Some(m) = self.map(e) {
                        opts.authorization = self.authorization(m, true);
                    }
                }
                "tls" => {
                    if let Some(m) = self.map(e) {
                        opts.tls = self.tls(m, "tls");
                    }
                }
                "cluster" => {
                    if let Some(m) = self.map(e) {
                        opts.cluster = self.cluster(m);
                    }
                }
                k if UNMODELED_TOP.contains(&k) => {
                    self.unmodeled(e);
                    opts.other.insert(e.key.clone(), e.value.to_json());
                }
                _ => self.unknown(e, "", &known),
            }
        }
        if root.entries.is_empty() {
            self.diags.push(Diagnostic::warning("empty", None, "config has no values or is empty"));
        }
        self.cross_checks(root, opts);
    }

    /// Blocks rnats keeps but does not act on: check the keys, and say that
    /// they are not in effect.
    fn unmodeled(&mut self, e: &Entry) {
        let k = lower(e);
        let keys: Option<(&str, &[&str])> = match k.as_str() {
            "gateway" => Some(("gateway", GATEWAY_KEYS)),
            "leaf" | "leafnodes" => Some(("leafnodes", LEAF_KEYS)),
            "websocket" | "ws" => Some(("websocket", WEBSOCKET_KEYS)),
            "mqtt" => Some(("mqtt", MQTT_KEYS)),
            "jetstream" => Some(("jetstream", JETSTREAM_KEYS)),
            _ => None,
        };
        if let (Some((block, known)), Kind::Map(m)) = (keys, &e.value.kind) {
            self.check_keys(m, block, known);
            for inner in m.effective() {
                let ik = lower(inner);
                if ik == "tls" {
                    if let Kind::Map(tm) = &inner.value.kind {
                        self.tls(tm, &format!("{block}.tls"));
                    }
                }
                if ik == "authorization" || ik == "authentication" {
                    if let Kind::Map(am) = &inner.value.kind {
                        self.check_keys(
                            am,
                            &format!("{block}.authorization"),
                            &[AUTH_KEYS, &["account", "nkey"]].concat(),
                        );
                    }
                }
            }
        }
        if k == "accounts" {
            if let Kind::Map(accounts) = &e.value.kind {
                for acc in accounts.effective() {
                    if let Kind::Map(am) = &acc.value.kind {
                        self.check_keys(am, &format!("accounts.{}", acc.key), ACCOUNT_KEYS);
                        for inner in am.effective() {
                            if lower(inner) == "users" {
                                self.users(inner);
                            }
                            if lower(inner) == "nkey" {
                                if let Some(key) = self.string(inner) {
                                    if !valid_nkey(&key, 'A') {
                                        self.error(
                                            "nkey",
                                            inner.value.span,
                                            format!("not a valid public nkey for an account: `{key}`"),
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let supported_soon = matches!(k.as_str(), "accounts" | "system_account" | "system");
        let what = if supported_soon { "not supported by rnats yet" } else { "not supported by rnats" };
        self.diags.push(Diagnostic::note(
            "unsupported",
            Some(e.key_span),
            format!("`{}` is {what}; it is checked and ignored", e.key),
        ));
    }

    fn authorization(&mut self, m: &Map, top: bool) -> Authorization {
        let mut a = Authorization::default();
        let mut user_span = None;
        let mut token_span = None;
        let mut users_span = None;
        for e in m.effective() {
            match lower(e).as_str() {
                "user" | "username" => {
                    a.user = self.string(e);
                    user_span = Some(e.key_span);
                }
                "pass" | "password" => a.password = self.string(e),
                "token" => {
                    a.token = self.string(e);
                    token_span = Some(e.key_span);
                }
                "timeout" => set(&mut a.timeout, self.seconds(e)),
                "users" => {
                    a.users = self.users(e);
                    users_span = Some(e.key_span);
                }
                "default_permission" | "default_permissions" | "permissions" => {
                    if let Some(pm) = self.map(e) {
                        a.default_permissions = Some(self.permissions(pm));
                    }
                }
                "auth_callout" | "auth_hook" | "proxy_required" => {
                    self.diags.push(Diagnostic::note(
                        "unsupported",
                        Some(e.key_span),
                        format!("`{}` is not supported by rnats yet", e.key),
                    ));
                }
                _ => self.unknown(e, "authorization", AUTH_KEYS),
            }
        }
        if let (Some(t), Some(_)) = (token_span, user_span) {
            self.error("conflict", t, "`token` cannot be used together with `user`/`password`");
        }
        if let (Some(u), Some(_)) = (users_span, user_span) {
            self.error("conflict", u, "`users` cannot be used together with a single `user`");
        }
        if let (Some(u), Some(_)) = (users_span, token_span) {
            self.error("conflict", u, "`users` cannot be used together with `token`");
        }
        if a.password.is_some() && a.user.is_none() {
            // A key that is also used as a `$variable` (`PASS: ...` then `$PASS`) is
            // one, whatever it happens to be called.
            if let Some(e) =
                m.effective().into_iter().find(|e| matches!(lower(e).as_str(), "pass" | "password") && !e.used)
            {
                self.error("conflict", e.key_span, "`password` is set without a `user`");
            }
        }
        if !top && !a.users.is_empty() {
            if let Some(u) = users_span {
                self.error("conflict", u, "cluster authorization does not support multiple users");
            }
        }
        a
    }

    fn users(&mut self, e: &Entry) -> Vec<User> {
        let Kind::Array(items) = &e.value.kind else {
            self.type_error(e, "an array of users");
            return Vec::new();
        };
        let mut users = Vec::new();
        let mut seen: Vec<(String, Span)> = Vec::new();
        for item in items {
            let Kind::Map(um) = &item.kind else {
                self.error("type", item.span, format!("each user must be a map, found {}", item.kind.describe()));
                continue;
            };
            let mut u = User::default();
            for ue in um.effective() {
                match lower(ue).as_str() {
                    "user" | "username" => u.user = self.string(ue),
                    "pass" | "password" => u.password = self.string(ue),
                    "nkey" => {
                        if let Some(key) = self.string(ue) {
                            if valid_nkey(&key, 'U') {
                                u.nkey = Some(key);
                            } else {
                                self.error(
                                    "nkey",
                                    ue.value.span,
                                    format!("not a valid public nkey for a user: `{key}`"),
                                );
                            }
                        }
                    }
                    "permission" | "permissions" | "authorization" => {
                        if let Some(pm) = self.map(ue) {
                            u.permissions = Some(self.permissions(pm));
                        }
                    }
                    "allowed_connection_types" | "connection_types" | "clients" => {
                        set(&mut u.allowed_connection_types, self.strings(ue))
                    }
                    "account" | "proxy_required" => {}
                    _ => self.unknown(ue, "users", USER_KEYS),
                }
            }
            if u.user.is_none() && u.nkey.is_none() {
                self.error("user", item.span, "a user needs `user` or `nkey`");
            }
            let id = u.user.clone().or(u.nkey.clone()).unwrap_or_default();
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == id) {
                let first = *first;
                self.diags.push(Diagnostic::error("duplicate", Some(item.span), format!("duplicate user `{id}`")));
                self.diags.push(Diagnostic::note("duplicate", Some(first), format!("`{id}` is first defined here")));
            } else {
                seen.push((id, item.span));
            }
            users.push(u);
        }
        users
    }

    fn permissions(&mut self, m: &Map) -> Permissions {
        let mut p = Permissions::default();
        for e in m.effective() {
            match lower(e).as_str() {
                "pub" | "publish" | "import" => p.publish = self.subject_permission(e, false),
                "sub" | "subscribe" | "export" => p.subscribe = self.subject_permission(e, true),
                "publish_allow_responses" | "allow_responses" => p.allow_responses = self.allow_responses(e),
                _ => self.unknown(e, "permissions", PERMISSION_KEYS),
            }
        }
        p
    }

    fn subject_permission(&mut self, e: &Entry, queue_allowed: bool) -> Option<SubjectPermission> {
        let mut sp = SubjectPermission::default();
        match &e.value.kind {
            Kind::Map(m) => {
                for inner in m.effective() {
                    match lower(inner).as_str() {
                        "allow" => sp.allow = self.subjects(inner, queue_allowed)?,
                        "deny" => sp.deny = self.subjects(inner, queue_allowed)?,
                        _ => {
                            let d = Diagnostic::error(
                                "unknown-key",
                                Some(inner.key_span),
                                format!(
                                    "unknown field `{}` in subject permissions: only `allow` and `deny` are permitted",
                                    inner.key
                                ),
                            );
                            self.diags.push(d);
                        }
                    }
                }
            }
            _ => sp.allow = self.subjects(e, queue_allowed)?,
        }
        Some(sp)
    }

    /// Subjects of a permission list; `"subject queue"` for subscribe entries.
    fn subjects(&mut self, e: &Entry, queue_allowed: bool) -> Option<Vec<String>> {
        let list = self.strings(e)?;
        for s in &list {
            let mut parts = s.split(' ').filter(|p| !p.is_empty());
            let subject = parts.next().unwrap_or("");
            let queue = parts.next();
            let extra = parts.next();
            let ok = is_valid_subject(subject.as_bytes()) && extra.is_none() && (queue.is_none() || queue_allowed);
            if !ok {
                let mut d =
                    Diagnostic::error("subject", Some(e.value.span), format!("invalid subject `{s}` in `{}`", e.key));
                if queue.is_some() && !queue_allowed {
                    d = d.with_help("only subscribe permissions take a queue group (`\"subject queue\"`)");
                }
                self.diags.push(d);
                return None;
            }
        }
        Some(list)
    }

    fn allow_responses(&mut self, e: &Entry) -> Option<ResponsePermission> {
        match &e.value.kind {
            Kind::Bool(false) => None,
            Kind::Bool(true) => Some(ResponsePermission { max: 1, expires: Duration::ZERO }),
            Kind::Map(m) => {
                let mut rp = ResponsePermission { max: 1, expires: Duration::ZERO };
                for inner in m.effective() {
                    match lower(inner).as_str() {
                        "max" | "max_msgs" | "max_messages" | "max_responses" => {
                            set(&mut rp.max, self.int_in(inner, 0, i64::MAX))
                        }
                        "expires" | "expiration" | "ttl" => set(&mut rp.expires, self.duration(inner)),
                        _ => self.unknown(inner, "allow_responses", &["max", "expires", "ttl"]),
                    }
                }
                Some(rp)
            }
            _ => {
                self.type_error(e, "a boolean or a map `{max, expires}`");
                None
            }
        }
    }

    fn tls(&mut self, m: &Map, block: &str) -> Option<Tls> {
        let mut t = Tls { timeout: DEFAULT_TLS_TIMEOUT, ..Tls::default() };
        let mut ciphers_at = None;
        for e in m.effective() {
            match lower(e).as_str() {
                "cert_file" => t.cert_file = self.pem_file(e, "CERTIFICATE"),
                "key_file" => t.key_file = self.pem_file(e, "PRIVATE KEY"),
                "ca_file" => t.ca_file = self.pem_file(e, "CERTIFICATE"),
                "verify" => set(&mut t.verify, self.bool(e)),
                "verify_and_map" => set(&mut t.verify_and_map, self.bool(e)),
                "insecure" => set(&mut t.insecure, self.bool(e)),
                "timeout" => set(&mut t.timeout, self.seconds(e)),
                "allow_insecure_cipher_suites" => set(&mut t.allow_insecure_cipher_suites, self.bool(e)),
                "cipher_suites" => {
                    let list = self.strings(e).unwrap_or_default();
                    if list.is_empty() {
                        self.error("tls", e.key_span, format!("`{block}.cipher_suites` cannot be empty"));
                    }
                    for c in &list {
                        if !SECURE_CIPHERS.contains(&c.as_str()) && !INSECURE_CIPHERS.contains(&c.as_str()) {
                            let mut d =
                                Diagnostic::error("tls", Some(e.value.span), format!("unrecognized cipher `{c}`"));
                            if let Some(s) = suggest(c, SECURE_CIPHERS.iter().copied()) {
                                d = d.with_help(format!("did you mean `{s}`?"));
                            }
                            self.diags.push(d);
                        }
                    }
                    ciphers_at = Some(e.key_span);
                    t.cipher_suites = list;
                }
                "curve_preferences" => {
                    let list = self.strings(e).unwrap_or_default();
                    if list.is_empty() {
                        self.error("tls", e.key_span, format!("`{block}.curve_preferences` cannot be empty"));
                    }
                    for c in &list {
                        if !CURVES.contains(&c.as_str()) {
                            let d = Diagnostic::error(
                                "tls",
                                Some(e.value.span),
                                format!("unrecognized curve preference `{c}`"),
                            )
                            .with_help(format!("known curves: {}", CURVES.join(", ")));
                            self.diags.push(d);
                        }
                    }
                    t.curve_preferences = list;
                }
                "pinned_certs" => set(&mut t.pinned_certs, self.strings(e)),
                "handshake_first" | "first" | "immediate" => match &e.value.kind {
                    Kind::Bool(b) => t.handshake_first = *b,
                    Kind::Str(_) => {
                        t.handshake_first = true;
                        t.other.insert(e.key.clone(), e.value.to_json());
                    }
                    _ => self.type_error(e, "a boolean, `auto` or a duration"),
                },
                "min_version" => match self.string(e) {
                    Some(v) if v == "1.2" || v == "1.3" => t.min_version = Some(v),
                    Some(v) => self.error(
                        "tls",
                        e.value.span,
                        format!("unsupported TLS version `{v}` (use \"1.2\" or \"1.3\")"),
                    ),
                    None => {}
                },
                k if TLS_KEYS.contains(&k) => {
                    t.other.insert(e.key.clone(), e.value.to_json());
                }
                _ => self.unknown(e, block, TLS_KEYS),
            }
        }
        if !t.allow_insecure_cipher_suites {
            let insecure: Vec<&str> =
                t.cipher_suites.iter().map(String::as_str).filter(|c| INSECURE_CIPHERS.contains(c)).collect();
            if let (false, Some(at)) = (insecure.is_empty(), ciphers_at) {
                self.diags.push(
                    Diagnostic::error(
                        "tls",
                        Some(at),
                        format!("insecure cipher suites configured: {}", insecure.join(", ")),
                    )
                    .with_help("remove them, or set `allow_insecure_cipher_suites: true`"),
                );
            }
        }
        if t.cert_file.is_some() != t.key_file.is_some() && !m.effective().iter().any(|e| lower(e) == "certs") {
            self.diags.push(Diagnostic::error(
                "tls",
                m.entries.first().map(|e| e.key_span),
                format!("`{block}` needs both `cert_file` and `key_file`"),
            ));
        }
        Some(t)
    }

    /// A PEM file that must exist (relative to the working directory, as in
    /// nats-server) and contain a block of the given kind.
    fn pem_file(&mut self, e: &Entry, kind: &str) -> Option<String> {
        let path = self.string(e)?;
        match std::fs::read_to_string(&path) {
            Ok(text) if text.contains("-----BEGIN") && text.contains(kind) => Some(path),
            Ok(_) => {
                self.error("file", e.value.span, format!("`{path}` holds no PEM {kind}"));
                Some(path)
            }
            Err(err) => {
                self.diags.push(
                    Diagnostic::error("file", Some(e.value.span), format!("cannot read `{path}`: {err}")).with_help(
                        "file paths in values are relative to the working directory, not to the config file",
                    ),
                );
                Some(path)
            }
        }
    }

    fn cluster(&mut self, m: &Map) -> Option<Cluster> {
        let mut c = Cluster {
            name: None,
            host: DEFAULT_HOST.into(),
            port: Port::Fixed(6222),
            advertise: None,
            no_advertise: false,
            routes: Vec::new(),
            authorization: None,
            tls: None,
            other: BTreeMap::new(),
        };
        for e in m.effective() {
            match lower(e).as_str() {
                "name" => {
                    if let Some(n) = self.string(e) {
                        if n.contains(' ') {
                            self.error("value", e.value.span, "cluster name cannot contain spaces");
                        }
                        c.name = Some(n);
                    }
                }
                "listen" => {
                    if let Some((host, port)) = self.listen(e) {
                        if let Some(h) = host.filter(|h| !h.is_empty()) {
                            c.host = h;
                        }
                        c.port = port;
                    }
                }
                "port" => set(&mut c.port, self.port(e)),
                "host" | "net" => set(&mut c.host, self.string(e)),
                "cluster_advertise" | "advertise" => c.advertise = self.string(e),
                "no_advertise" => set(&mut c.no_advertise, self.bool(e)),
                "routes" => set(&mut c.routes, self.strings(e)),
                "authorization" => {
                    if let Some(am) = self.map(e) {
                        c.authorization = Some(self.authorization(am, false));
                    }
                }
                "tls" => {
                    if let Some(tm) = self.map(e) {
                        c.tls = self.tls(tm, "cluster.tls");
                    }
                }
                "connect_retries" | "pool_size" | "ping_max" => {
                    if self.int(e).is_some() {
                        c.other.insert(e.key.clone(), e.value.to_json());
                    }
                }
                "ping_interval" | "write_deadline" | "connect_backoff" => {
                    c.other.insert(e.key.clone(), e.value.to_json());
                }
                k if CLUSTER_KEYS.contains(&k) => {
                    c.other.insert(e.key.clone(), e.value.to_json());
                }
                _ => self.unknown(e, "cluster", CLUSTER_KEYS),
            }
        }
        Some(c)
    }

    fn cross_checks(&mut self, root: &Map, opts: &Options) {
        let at = |key: &str| root.effective().into_iter().find(|e| e.key.eq_ignore_ascii_case(key)).map(|e| e.key_span);
        if opts.max_payload > opts.max_pending {
            let span = at("max_payload").or(at("max_pending"));
            self.diags.push(Diagnostic::error(
                "conflict",
                span,
                format!("max_payload ({}) cannot be higher than max_pending ({})", opts.max_payload, opts.max_pending),
            ));
        }
        if opts.max_payload > 8 * 1024 * 1024 {
            self.diags.push(Diagnostic::warning(
                "value",
                at("max_payload"),
                "max_payload over 8MB is not recommended: large messages hurt latency for everyone",
            ));
        }
        if let Some(u) = &opts.no_auth_user {
            let known =
                opts.authorization.users.iter().any(|x| x.user.as_deref() == Some(u) || x.nkey.as_deref() == Some(u));
            if !known && !opts.other.contains_key("accounts") {
                self.diags.push(Diagnostic::error(
                    "conflict",
                    at("no_auth_user").or(at("default_sentinel")),
                    format!("no_auth_user `{u}` is not one of the configured users"),
                ));
            }
        }
    }
}

fn set<T>(dst: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *dst = v;
    }
}

/// A public nkey of the given role (`U` user, `A` account) that decodes.
pub fn valid_nkey(key: &str, role: char) -> bool {
    key.starts_with(role) && nkeys::KeyPair::from_public_key(key).is_ok()
}

/// Converts one value (for tests and for `Options::other`).
pub fn value_to_json(v: &Value) -> serde_json::Value {
    v.to_json()
}
