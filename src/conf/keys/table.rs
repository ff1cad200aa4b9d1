//! The tables themselves: every block of keys nats-server 2.15 knows, and
//! the custom value types. See the parent module for what each field means.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::conf::context::Val;
use crate::conf::tree::{Kind, Value};
use crate::conf::units::parse_go_duration;
use crate::conf::{setters, validate, values};

use Reload::{Partly, Reloadable as Yes, ReloadableInRnats as RnatsOnly, Restart};

const I32_MAX: i64 = i32::MAX as i64;
const WRITE_TIMEOUT: &[&str] = &["default", "close", "retry"];

fn other_of_options(o: &mut Options) -> &mut BTreeMap<String, serde_json::Value> {
    &mut o.other
}
fn other_of_tls(t: &mut Tls) -> &mut BTreeMap<String, serde_json::Value> {
    &mut t.other
}
fn other_of_cluster(c: &mut Cluster) -> &mut BTreeMap<String, serde_json::Value> {
    &mut c.other
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            name: None,
            host: DEFAULT_HOST.into(),
            port: Port::Fixed(6222),
            advertise: None,
            no_advertise: false,
            routes: Vec::new(),
            authorization: None,
            tls: None,
            connect_retries: 0,
            connect_backoff: false,
            pool_size: None,
            compression: None,
            ping_interval: None,
            ping_max: None,
            write_deadline: None,
            permissions: None,
            other: BTreeMap::new(),
        }
    }
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission { max: 1, expires: Duration::ZERO }
    }
}

pub static TOP: Block<Options> = Block {
    other: Some(other_of_options),
    rules: Some(validate::top),
    ..block(
        "",
        &[
            key("listen", Ty::Listen, Restart).doc("`host:port` or a port for client connections").set(|_, _, v, o| {
                if let Val::Listen(host, port) = v {
                    if let Some(h) = host.filter(|h| !h.is_empty()) {
                        o.host = h;
                    }
                    o.port = port;
                }
            }),
            key("port", Ty::Port, Restart).doc("port for client connections").set(|_, _, v, o| {
                if let Val::Port(p) = v {
                    o.port = p
                }
            }),
            key("host", Ty::Str, Restart).alias(&["net"]).doc("interface to listen on").set(|_, _, v, o| {
                if let Val::Str(s) = v {
                    o.host = s
                }
            }),
            key("client_advertise", Ty::Str, Yes).set(|_, _, v, o| o.client_advertise = v.into_str()),
            key("server_name", Ty::Str, Restart).set(|b, e, v, o| {
                if let Some(name) = v.into_str() {
                    if name.contains(' ') {
                        b.error("value", e.value.span, "server name cannot contain spaces");
                    } else {
                        o.server_name = Some(name);
                    }
                }
            }),
            key("debug", Ty::Bool, Yes).set(|_, _, v, o| v.set_bool(&mut o.debug)),
            key("trace", Ty::Bool, Yes).set(|_, _, v, o| v.set_bool(&mut o.trace)),
            // As in nats-server, these switch tracing on too.
            key("trace_verbose", Ty::Bool, Yes).set(|_, _, v, o| {
                if let Val::Bool(on) = v {
                    o.trace = on;
                    o.trace_verbose = on;
                }
            }),
            key("trace_headers", Ty::Bool, Yes).set(|_, e, v, o| {
                v.set_bool(&mut o.trace);
                o.other.insert(e.key.clone(), e.value.to_json());
            }),
            key("logtime", Ty::Bool, Yes).set(|_, _, v, o| v.set_bool(&mut o.logtime)),
            key("logtime_utc", Ty::Bool, Yes).set(|_, _, v, o| v.set_bool(&mut o.logtime_utc)),
            key("log_file", Ty::Str, Yes).alias(&["logfile"]).set(|_, _, v, o| o.log_file = v.into_str()),
            key("log_size_limit", Ty::Size { max: i64::MAX }, RnatsOnly)
                .alias(&["logfile_size_limit"])
                .feature(Feature::LogRotation)
                .set(|_, _, v, o| {
                    if let Val::Int(n) = v {
                        o.log_size_limit = n as u64
                    }
                }),
            key("logfile_max_num", Ty::Int { min: i64::MIN, max: i64::MAX }, RnatsOnly)
                .alias(&["log_max_num"])
                .feature(Feature::LogRotation)
                // As in nats-server, zero or less means "keep every file".
                .set(|_, _, v, o| {
                    if let Val::Int(n) = v {
                        o.logfile_max_num = n.max(0) as u64
                    }
                }),
            key("syslog", Ty::Bool, Yes).feature(Feature::Syslog).set(|_, _, v, o| v.set_bool(&mut o.syslog)),
            key("remote_syslog", Ty::Str, Yes).feature(Feature::Syslog).set(|b, e, v, o| {
                o.remote_syslog = v.into_str();
                if let Some(Err(why)) = o.remote_syslog.as_deref().map(crate::logging::check_remote_syslog) {
                    b.error("value", e.value.span, why);
                }
            }),
            key("pid_file", Ty::Str, Yes).alias(&["pidfile"]).set(|_, _, v, o| o.pid_file = v.into_str()),
            key("ports_file_dir", Ty::Str, Yes).set(|_, _, v, o| o.ports_file_dir = v.into_str()),
            key("http", Ty::Listen, Restart).feature(Feature::Monitoring).set(|_, _, v, o| {
                o.http_host = listen_host(&v);
                o.http_port = v.listen_port();
            }),
            key("https", Ty::Listen, Restart).feature(Feature::Monitoring).set(|_, _, v, o| {
                o.http_host = listen_host(&v);
                o.https_port = v.listen_port();
            }),
            key("http_auth", Ty::Block(&HTTP_AUTH), RnatsOnly)
                .feature(Feature::Monitoring)
                .doc("rnats only: credentials for the monitoring port (`user` and `password`, or `token`)")
                .set(|b, _, v, o| {
                    if let Val::Map(m) = v {
                        let mut a = HttpAuth::default();
                        b.block(&HTTP_AUTH, m, &mut a);
                        o.http_auth = Some(a);
                    }
                }),
            key("http_port", Ty::Int { min: -1, max: 65535 }, Restart)
                .alias(&["monitor_port"])
                .feature(Feature::Monitoring)
                .set(|_, _, v, o| o.http_port = v.int()),
            key("https_port", Ty::Int { min: -1, max: 65535 }, Restart)
                .feature(Feature::Monitoring)
                .set(|_, _, v, o| o.https_port = v.int()),
            key("http_base_path", Ty::Str, Restart)
                .feature(Feature::Monitoring)
                .set(|_, _, v, o| o.http_base_path = v.into_str()),
            key("prof_port", Ty::Int { min: -1, max: 65535 }, Restart).feature(Feature::Profiling),
            key("prof_block_rate", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).feature(Feature::Profiling),
            key("max_control_line", Ty::Size { max: I32_MAX }, Yes)
                .set(|_, _, v, o| v.set_usize(&mut o.max_control_line)),
            key("max_payload", Ty::Size { max: I32_MAX }, Yes).set(|_, _, v, o| v.set_usize(&mut o.max_payload)),
            key("max_pending", Ty::Size { max: i64::MAX }, RnatsOnly).set(|_, _, v, o| v.set_usize(&mut o.max_pending)),
            key("max_connections", Ty::Size { max: i64::MAX }, Yes)
                .alias(&["max_conn"])
                .set(|_, _, v, o| v.set_usize(&mut o.max_connections)),
            key("max_subscriptions", Ty::Size { max: i64::MAX }, RnatsOnly)
                .alias(&["max_subs"])
                .set(|_, _, v, o| v.set_usize(&mut o.max_subscriptions)),
            key("max_sub_tokens", Ty::Int { min: 1, max: 255 }, Restart)
                .alias(&["max_subscription_tokens"])
                .feature(Feature::SubTokenLimit),
            key("max_traced_msg_len", Ty::Size { max: i64::MAX }, Yes).feature(Feature::TraceTruncation).set(
                |_, _, v, o| {
                    if let Val::Int(n) = v {
                        o.max_traced_msg_len = n as u64
                    }
                },
            ),
            key("max_closed_clients", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart)
                .feature(Feature::ClosedClients)
                .doc("closed connections kept for /connz; 0 means the default (10000), below 0 none")
                .set(|_, _, v, o| {
                    if let Val::Int(n) = v {
                        o.max_closed_clients = match n {
                            0 => DEFAULT_MAX_CLOSED_CLIENTS,
                            n if n < 0 => 0,
                            n => n as usize,
                        };
                    }
                }),
            key("connect_error_reports", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes)
                .feature(Feature::ErrorReports)
                .set(|_, _, v, o| o.connect_error_reports = v.int().map_or(0, |n| n.max(0) as u64)),
            key("reconnect_error_reports", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes)
                .feature(Feature::ErrorReports)
                .set(|_, _, v, o| o.reconnect_error_reports = v.int().map_or(0, |n| n.max(0) as u64)),
            key("ping_interval", Ty::Duration, Yes).set(|_, _, v, o| v.set_dur(&mut o.ping_interval)),
            key("ping_max", Ty::Int { min: 0, max: u32::MAX as i64 }, Yes).set(|_, _, v, o| {
                if let Val::Int(n) = v {
                    o.ping_max = n as u32
                }
            }),
            key("write_deadline", Ty::Duration, Yes).set(|_, _, v, o| v.set_dur(&mut o.write_deadline)),
            key("write_timeout", Ty::OneOf(WRITE_TIMEOUT), Restart).feature(Feature::WriteTimeoutPolicy),
            // Read when lame duck mode starts, so a reload can change them.
            key("lame_duck_duration", Ty::DurationStr, RnatsOnly).feature(Feature::LameDuck).set(|b, e, v, o| {
                if let Val::Dur(d) = v {
                    if d < Duration::from_secs(30) {
                        b.error("range", e.value.span, "`lame_duck_duration` must be at least 30s");
                    } else {
                        o.lame_duck_duration = d;
                    }
                }
            }),
            key("lame_duck_grace_period", Ty::DurationStr, RnatsOnly)
                .feature(Feature::LameDuck)
                .set(|_, _, v, o| v.set_dur(&mut o.lame_duck_grace_period)),
            key("proxy_protocol", Ty::Bool, Restart).feature(Feature::ProxyProtocol),
            key("allow_non_tls", Ty::Bool, Restart)
                .feature(Feature::Tls)
                .set(|_, _, v, o| v.set_bool(&mut o.allow_non_tls)),
            key("no_header_support", Ty::Bool, Restart).set(|_, _, v, o| v.set_bool(&mut o.no_header_support)),
            key("no_fast_producer_stall", Ty::Bool, Yes)
                .doc("skip a subscriber that is behind instead of slowing its producer down")
                .set(|_, _, v, o| v.set_bool(&mut o.no_fast_producer_stall)),
            key("disable_sublist_cache", Ty::Bool, Restart).alias(&["no_sublist_cache"]).feature(Feature::SublistCache),
            key("no_system_account", Ty::Bool, Restart)
                .alias(&["no_system", "no_sys_acc"])
                .feature(Feature::SystemAccount),
            key("system_account", Ty::Str, Restart).alias(&["system"]).feature(Feature::SystemAccount),
            key("no_auth_user", Ty::Str, RnatsOnly).set(|_, _, v, o| o.no_auth_user = v.into_str()),
            key("default_sentinel", Ty::Str, Yes).feature(Feature::AuthCallout),
            key("authorization", Ty::Block(&AUTHORIZATION), Yes).set(|b, _, v, o| {
                if let Val::Map(m) = v {
                    o.authorization = Authorization::default();
                    b.block(&AUTHORIZATION, m, &mut o.authorization);
                }
            }),
            key("accounts", Ty::Custom(&ACCOUNTS_TY), Yes).feature(Feature::Accounts),
            key("mappings", Ty::MapOf(&Ty::Custom(&MAPPING_TY)), Yes)
                .alias(&["maps"])
                .feature(Feature::SubjectMappings),
            key("tls", Ty::Block(&TLS), Yes).feature(Feature::Tls).set(|b, _, v, o| {
                if let Val::Map(m) = v {
                    let mut t = Tls { timeout: DEFAULT_TLS_TIMEOUT, ..Tls::default() };
                    b.block(&TLS, m, &mut t);
                    o.tls = Some(t);
                }
            }),
            key("ocsp", Ty::Custom(&OCSP_TY), Yes).feature(Feature::Ocsp),
            key("ocsp_cache", Ty::Custom(&OCSP_CACHE_TY), Yes).feature(Feature::Ocsp),
            key("cluster", Ty::Block(&CLUSTER), Partly("listen, host and port need a restart"))
                .feature(Feature::Cluster)
                .set(|b, _, v, o| {
                    if let Val::Map(m) = v {
                        let mut c = Cluster::default();
                        b.block(&CLUSTER, m, &mut c);
                        o.cluster = Some(c);
                    }
                }),
            key("gateway", Ty::Block(&GATEWAY), Partly("only its tls block reloads")).feature(Feature::Gateway),
            key("leafnodes", Ty::Block(&LEAFNODES), Partly("remotes and tls reload; the listener needs a restart"))
                .alias(&["leaf"])
                .feature(Feature::Leafnodes),
            key("websocket", Ty::Block(&WEBSOCKET), Partly("only its tls block reloads"))
                .alias(&["ws"])
                .feature(Feature::Websocket)
                .set(|b, _, v, o| {
                    if let Val::Map(m) = v {
                        let mut w = Websocket::default();
                        b.block(&WEBSOCKET, m, &mut w);
                        // nats-server's baseline: a listener without a host listens everywhere.
                        if w.enabled() && w.host.is_empty() {
                            w.host = DEFAULT_HOST.into();
                        }
                        o.websocket = Some(w);
                    }
                }),
            key("mqtt", Ty::Block(&MQTT), Partly("see its keys")).feature(Feature::Mqtt),
            key("jetstream", Ty::Custom(&JETSTREAM_TY), Partly("on/off and larger limits reload"))
                .feature(Feature::JetStream),
            key("store_dir", Ty::Str, Restart).alias(&["storedir"]).feature(Feature::JetStream),
            key("default_js_domain", Ty::MapOf(&Ty::Str), Restart).feature(Feature::JetStream),
            key("operator", Ty::Custom(&OPERATOR_TY), Restart)
                .alias(&["operators", "root", "roots", "root_operator", "root_operators"])
                .feature(Feature::Jwt),
            key("resolver", Ty::Custom(&RESOLVER_TY), Partly("its contents reload; not its type"))
                .alias(&["account_resolver", "accounts_resolver"])
                .feature(Feature::Jwt),
            key("resolver_tls", Ty::Block(&TLS), Yes).feature(Feature::Jwt),
            key("resolver_preload", Ty::Custom(&PRELOAD_TY), Restart).feature(Feature::Jwt),
            key("resolver_pinned_accounts", Ty::Strings, Restart).feature(Feature::Jwt),
            key("trusted", Ty::Custom(&TRUSTED_TY), Restart).alias(&["trusted_keys"]).feature(Feature::Jwt),
            key("server_tags", Ty::Strings, Yes).feature(Feature::ServerMetadata),
            key("server_metadata", Ty::MapOf(&Ty::Str), Yes).feature(Feature::ServerMetadata),
            key("feature_flags", Ty::MapOf(&Ty::Bool), Restart).feature(Feature::FeatureFlags),
            key("proxies", Ty::Block(&PROXIES), Yes).feature(Feature::Proxies),
        ],
    )
};

/// `http: host:port` / `https: host:port`: the host part ("" when only a
/// port is given, which then means the client interface, as in nats-server).
fn listen_host(v: &Val) -> Option<String> {
    match v {
        Val::Listen(Some(h), _) if !h.is_empty() => Some(h.clone()),
        _ => None,
    }
}

/// `http_auth { ... }` (rnats only).
pub static HTTP_AUTH: Block<HttpAuth> = Block {
    rules: Some(validate::http_auth),
    ..block(
        "http_auth",
        &[
            key("user", Ty::Str, RnatsOnly).alias(&["username"]).set(|_, _, v, a| a.user = v.into_str()),
            key("password", Ty::Str, RnatsOnly)
                .alias(&["pass"])
                .set(|_, _, v, a| a.password = v.into_str().map(Secret::from)),
            key("token", Ty::Str, RnatsOnly).set(|_, _, v, a| a.token = v.into_str().map(Secret::from)),
        ],
    )
};

pub static AUTHORIZATION: Block<Authorization> = Block {
    rules: Some(validate::authorization),
    ..block(
        "authorization",
        &[
            key("user", Ty::Str, Yes).alias(&["username"]).set(|_, _, v, a| a.user = v.into_str()),
            key("password", Ty::Str, Yes)
                .alias(&["pass"])
                .set(|_, _, v, a| a.password = v.into_str().map(Secret::from)),
            key("token", Ty::Str, Yes).set(|_, _, v, a| a.token = v.into_str().map(Secret::from)),
            key("timeout", Ty::Seconds, Yes).doc("seconds a client has to send CONNECT").set(|b, e, v, a| {
                if let Val::Dur(d) = v {
                    if d > Duration::from_secs(60) {
                        b.warning(
                            "value",
                            e.value.span,
                            format!(
                                "an authorization timeout of {} is high; keep it under 60 seconds",
                                format_duration(d)
                            ),
                            "an unquoted `1m` is one million seconds: write \"1m\"",
                        );
                    }
                    a.timeout = d;
                }
            }),
            key("users", Ty::Blocks(&USER), Yes).set(|b, _, v, a| {
                if let Val::Items(items) = v {
                    a.users = b.blocks(&USER, items);
                }
            }),
            key("default_permissions", Ty::Block(&PERMISSIONS), Yes).alias(&["default_permission", "permissions"]).set(
                |b, _, v, a| {
                    if let Val::Map(m) = v {
                        let mut p = Permissions::default();
                        b.block(&PERMISSIONS, m, &mut p);
                        a.default_permissions = Some(p);
                    }
                },
            ),
            key("auth_callout", Ty::Block(&AUTH_CALLOUT), Yes).alias(&["auth_hook"]).feature(Feature::AuthCallout),
            key("proxy_required", Ty::Bool, Yes).feature(Feature::Proxies),
        ],
    )
};

pub static USER: Block<User> = Block {
    rules: Some(validate::user),
    ..block(
        "users",
        &[
            key("user", Ty::Str, Yes).alias(&["username"]).set(|_, _, v, u| u.user = v.into_str()),
            key("password", Ty::Str, Yes)
                .alias(&["pass"])
                .set(|_, _, v, u| u.password = v.into_str().map(Secret::from)),
            key("nkey", Ty::Str, Yes).set(|b, e, v, u| {
                if let Some(k) = v.into_str() {
                    if setters::valid_nkey(&k, 'U') {
                        u.nkey = Some(k);
                    } else {
                        b.error("nkey", e.value.span, format!("not a valid public nkey for a user: `{k}`"));
                    }
                }
            }),
            key("permissions", Ty::Block(&PERMISSIONS), Yes).alias(&["permission", "authorization"]).set(
                |b, _, v, u| {
                    if let Val::Map(m) = v {
                        let mut p = Permissions::default();
                        b.block(&PERMISSIONS, m, &mut p);
                        u.permissions = Some(p);
                    }
                },
            ),
            key("allowed_connection_types", Ty::Strings, Yes)
                .alias(&["connection_types", "clients"])
                .set(|_, _, v, u| u.allowed_connection_types = v.into_strs()),
            key("proxy_required", Ty::Bool, Yes).feature(Feature::Proxies),
        ],
    )
};

pub static PERMISSIONS: Block<Permissions> = Block {
    unknown: Unknown::Error,
    ..block(
        "permissions",
        &[
            key("publish", Ty::Custom(&SUBJECTS_TY), Yes)
                .alias(&["pub", "import"])
                .set(|b, e, v, p| p.publish = setters::subject_permission(b, e, v, false, &SUBJECT_PERMISSION)),
            key("subscribe", Ty::Custom(&SUBJECTS_TY), Yes)
                .alias(&["sub", "export"])
                .set(|b, e, v, p| p.subscribe = setters::subject_permission(b, e, v, true, &SUBJECT_PERMISSION)),
            key("allow_responses", Ty::Custom(&ALLOW_RESPONSES_TY), Yes).alias(&["publish_allow_responses"]).set(
                |b, e, _, p| {
                    p.allow_responses = match &e.value.kind {
                        Kind::Bool(true) => Some(ResponsePermission::default()),
                        Kind::Map(m) => {
                            let mut rp = ResponsePermission::default();
                            b.block(&ALLOW_RESPONSES, m, &mut rp);
                            Some(rp)
                        }
                        _ => None,
                    }
                },
            ),
        ],
    )
};

pub static SUBJECT_PERMISSION: Block<SubjectPermission> = Block {
    unknown: Unknown::Error,
    ..block(
        "subject permissions",
        &[
            key("allow", Ty::Strings, Yes).set(|_, _, v, s| s.allow = v.into_strs()),
            key("deny", Ty::Strings, Yes).set(|_, _, v, s| s.deny = v.into_strs()),
        ],
    )
};

pub static ALLOW_RESPONSES: Block<ResponsePermission> = Block {
    unknown: Unknown::Error,
    ..block(
        "allow_responses",
        &[
            key("max", Ty::Int { min: 0, max: i64::MAX }, Yes)
                .alias(&["max_msgs", "max_messages", "max_responses"])
                .set(|_, _, v, r| {
                    if let Val::Int(n) = v {
                        r.max = n
                    }
                }),
            key("expires", Ty::Duration, Yes).alias(&["expiration", "ttl"]).set(|_, _, v, r| v.set_dur(&mut r.expires)),
        ],
    )
};

static AUTH_CALLOUT: Block<()> = Block {
    unknown: Unknown::Error,
    ..block(
        "auth_callout",
        &[
            key("issuer", Ty::Str, Yes),
            key("account", Ty::Str, Yes).alias(&["acc"]),
            key("auth_users", Ty::Strings, Yes).alias(&["users"]),
            key("xkey", Ty::Str, Yes).alias(&["key"]),
            key("allowed_accounts", Ty::Strings, Yes),
        ],
    )
};

/// `tls { ... }`, wherever it appears (client port, routes, gateways, leaf
/// nodes, ...); built into [`Tls`].
pub static TLS: Block<Tls> = Block {
    unknown: Unknown::Error,
    other: Some(other_of_tls),
    rules: Some(validate::tls),
    ..block(
        "tls",
        &[
            key("cert_file", Ty::Str, Yes).set(|b, e, v, t| t.cert_file = setters::pem_file(b, e, v, "CERTIFICATE")),
            key("key_file", Ty::Str, Yes).set(|b, e, v, t| t.key_file = setters::pem_file(b, e, v, "PRIVATE KEY")),
            key("ca_file", Ty::Str, Yes).set(|b, e, v, t| t.ca_file = setters::pem_file(b, e, v, "CERTIFICATE")),
            key("verify", Ty::Bool, Yes).set(|_, _, v, t| v.set_bool(&mut t.verify)),
            key("verify_and_map", Ty::Bool, Yes).set(|_, _, v, t| v.set_bool(&mut t.verify_and_map)),
            key("insecure", Ty::Bool, Yes).set(|_, _, v, t| v.set_bool(&mut t.insecure)),
            key("timeout", Ty::Seconds, Yes).set(|_, _, v, t| v.set_dur(&mut t.timeout)),
            key("allow_insecure_cipher_suites", Ty::Bool, Yes)
                .set(|_, _, v, t| v.set_bool(&mut t.allow_insecure_cipher_suites)),
            key("cipher_suites", Ty::Strings, Yes).set(|b, e, v, t| t.cipher_suites = setters::cipher_suites(b, e, v)),
            key("curve_preferences", Ty::Strings, Yes).set(|b, e, v, t| t.curve_preferences = setters::curves(b, e, v)),
            key("pinned_certs", Ty::Strings, Yes).set(|_, _, v, t| t.pinned_certs = v.into_strs()),
            key("handshake_first", Ty::Custom(&HANDSHAKE_FIRST_TY), Yes)
                .alias(&["first", "immediate"])
                .set(setters::handshake_first),
            key("min_version", Ty::OneOf(&["1.2", "1.3"]), Yes).set(|_, _, v, t| t.min_version = v.into_str()),
            key("verify_cert_and_check_known_urls", Ty::Bool, Yes),
            key("connection_rate_limit", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
            key("cert_store", Ty::Str, Yes),
            key("cert_match_by", Ty::Str, Yes),
            key("cert_match", Ty::Str, Yes),
            key("ca_certs_match", Ty::Strings, Yes),
            key("cert_match_skip_invalid", Ty::Bool, Yes),
            key("ocsp_peer", Ty::Custom(&ANY_TY), Yes).feature(Feature::Ocsp),
            key("certs", Ty::Blocks(&TLS_CERT_PAIR), Yes).alias(&["certificates"]).set(|_, _, v, t| {
                if let Val::Items(items) = v {
                    t.certs = items.iter().filter_map(cert_pair).collect();
                }
            }),
        ],
    )
};

/// One `certs` entry: `{ cert_file, key_file }` (checked by the block rules).
fn cert_pair(v: &Value) -> Option<TlsCertPair> {
    let Kind::Map(m) = &v.kind else { return None };
    let get = |k: &str| match m.find(&[k]).map(|e| &e.value.kind) {
        Some(Kind::Str(s)) => Some(s.clone()),
        _ => None,
    };
    Some(TlsCertPair { cert_file: get("cert_file")?, key_file: get("key_file")? })
}

static TLS_CERT_PAIR: Block<()> = Block {
    unknown: Unknown::Error,
    ..block("certs", &[key("cert_file", Ty::Str, Yes), key("key_file", Ty::Str, Yes)])
};

pub static CLUSTER: Block<Cluster> = Block {
    other: Some(other_of_cluster),
    rules: Some(validate::cluster),
    ..block(
        "cluster",
        &[
            key("name", Ty::Str, Yes).set(|b, e, v, c| {
                if let Some(n) = v.into_str() {
                    if n.contains(' ') {
                        b.error("value", e.value.span, "cluster name cannot contain spaces");
                    }
                    c.name = Some(n);
                }
            }),
            key("listen", Ty::Listen, Restart).set(|_, _, v, c| {
                if let Val::Listen(host, port) = v {
                    if let Some(h) = host.filter(|h| !h.is_empty()) {
                        c.host = h;
                    }
                    c.port = port;
                }
            }),
            key("port", Ty::Port, Restart).set(|_, _, v, c| {
                if let Val::Port(p) = v {
                    c.port = p
                }
            }),
            key("host", Ty::Str, Restart).alias(&["net"]).set(|_, _, v, c| {
                if let Val::Str(s) = v {
                    c.host = s
                }
            }),
            key("authorization", Ty::Block(&AUTHORIZATION), Yes).set(|b, _, v, c| {
                if let Val::Map(m) = v {
                    let mut a = Authorization::default();
                    b.block(&AUTHORIZATION, m, &mut a);
                    c.authorization = Some(a);
                }
            }),
            key("routes", Ty::StrArray, Yes).set(|_, _, v, c| c.routes = v.into_strs()),
            key("tls", Ty::Block(&TLS), Yes).set(|b, _, v, c| {
                if let Val::Map(m) = v {
                    let mut t = Tls { timeout: DEFAULT_TLS_TIMEOUT, ..Tls::default() };
                    b.block(&TLS, m, &mut t);
                    c.tls = Some(t);
                }
            }),
            key("advertise", Ty::Str, Yes).alias(&["cluster_advertise"]).set(|_, _, v, c| c.advertise = v.into_str()),
            key("no_advertise", Ty::Bool, Yes).set(|_, _, v, c| v.set_bool(&mut c.no_advertise)),
            key("connect_retries", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes)
                .set(|_, _, v, c| c.connect_retries = v.int().unwrap_or(0)),
            key("connect_backoff", Ty::Bool, Yes).set(|_, _, v, c| v.set_bool(&mut c.connect_backoff)),
            key("permissions", Ty::Block(&PERMISSIONS), Yes).set(|b, _, v, c| {
                if let Val::Map(m) = v {
                    let mut p = Permissions::default();
                    b.block(&PERMISSIONS, m, &mut p);
                    c.permissions = Some(p);
                }
            }),
            key("pool_size", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).set(|_, _, v, c| c.pool_size = v.int()),
            key("accounts", Ty::Strings, Yes),
            key("compression", Ty::Custom(&COMPRESSION_TY), Yes).set(|_, e, _, c| {
                let mode = |k: &Kind| match k {
                    Kind::Bool(true) => Some("accept".to_string()),
                    Kind::Bool(false) => Some("off".to_string()),
                    Kind::Str(s) => Some(s.to_ascii_lowercase()),
                    _ => None,
                };
                c.compression = match &e.value.kind {
                    Kind::Map(m) => m.find(&["mode"]).and_then(|e| mode(&e.value.kind)).or(Some("accept".into())),
                    k => mode(k),
                };
            }),
            key("ping_interval", Ty::Duration, Yes).set(|_, _, v, c| {
                if let Val::Dur(d) = v {
                    c.ping_interval = Some(d);
                }
            }),
            key("ping_max", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes)
                .set(|_, _, v, c| c.ping_max = v.int().and_then(|n| u32::try_from(n).ok())),
            key("write_deadline", Ty::Duration, Restart).set(|_, _, v, c| {
                if let Val::Dur(d) = v {
                    // Zero means "the top-level value", as in nats-server.
                    c.write_deadline = Some(d).filter(|d| !d.is_zero());
                }
            }),
            key("write_timeout", Ty::OneOf(WRITE_TIMEOUT), Restart).feature(Feature::WriteTimeoutPolicy),
        ],
    )
};

static SIMPLE_AUTH: Block<()> = block(
    "authorization",
    &[
        key("user", Ty::Str, Restart).alias(&["username"]),
        key("password", Ty::Str, Restart).alias(&["pass"]),
        key("token", Ty::Str, Restart),
        key("timeout", Ty::Custom(&NUMBER_TY), Restart),
        key("users", Ty::Blocks(&USER), Restart),
        key("default_permissions", Ty::Block(&PERMISSIONS), Restart).alias(&["default_permission", "permissions"]),
        key("auth_callout", Ty::Block(&AUTH_CALLOUT), Restart).alias(&["auth_hook"]),
        key("proxy_required", Ty::Bool, Restart),
    ],
);

static GATEWAY: Block<()> = block(
    "gateway",
    &[
        key("name", Ty::Str, Restart),
        key("listen", Ty::Listen, Restart),
        key("port", Ty::Port, Restart),
        key("host", Ty::Str, Restart).alias(&["net"]),
        key("authorization", Ty::Block(&AUTHORIZATION), Restart),
        key("tls", Ty::Block(&TLS), Yes),
        key("advertise", Ty::Str, Restart),
        key("connect_retries", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("connect_backoff", Ty::Bool, Restart),
        key("gateways", Ty::Blocks(&GATEWAY_REMOTE), Restart),
        key("reject_unknown", Ty::Bool, Restart).alias(&["reject_unknown_cluster"]),
        key("write_deadline", Ty::Duration, Restart),
        key("write_timeout", Ty::OneOf(WRITE_TIMEOUT), Restart),
    ],
);

static GATEWAY_REMOTE: Block<()> = block(
    "gateways",
    &[
        key("name", Ty::Str, Restart),
        key("tls", Ty::Block(&TLS), Yes),
        key("url", Ty::Custom(&URL_TY), Restart),
        key("urls", Ty::StrArray, Restart),
    ],
);

static LEAFNODES: Block<()> = block(
    "leafnodes",
    &[
        key("listen", Ty::Listen, Restart),
        key("port", Ty::Port, Restart),
        key("host", Ty::Str, Restart).alias(&["net"]),
        key("authorization", Ty::Block(&LEAF_AUTH), Restart),
        key("remotes", Ty::Blocks(&LEAF_REMOTE), Yes),
        key("reconnect", Ty::Duration, Restart).alias(&["reconnect_delay", "reconnect_interval"]),
        key("dial_timeout", Ty::Duration, Restart),
        key("tls", Ty::Block(&TLS), Yes),
        key("advertise", Ty::Str, Restart).alias(&["leafnode_advertise"]),
        key("no_advertise", Ty::Bool, Restart),
        key("min_version", Ty::Str, Restart).alias(&["minimum_version"]),
        key("compression", Ty::Custom(&COMPRESSION_TY), Restart),
        key("isolate_leafnode_interest", Ty::Bool, Restart).alias(&["isolate"]),
        key("write_deadline", Ty::Duration, Restart),
        key("write_timeout", Ty::OneOf(WRITE_TIMEOUT), Restart),
    ],
);

static LEAF_AUTH: Block<()> = block(
    "authorization",
    &[
        key("user", Ty::Str, Restart).alias(&["username"]),
        key("password", Ty::Str, Restart).alias(&["pass"]),
        key("nkey", Ty::Str, Restart),
        key("timeout", Ty::Custom(&NUMBER_TY), Restart),
        key("users", Ty::Blocks(&LEAF_USER), Restart),
        key("account", Ty::Str, Restart),
        key("proxy_required", Ty::Bool, Restart),
    ],
);

static LEAF_USER: Block<()> = block(
    "users",
    &[
        key("user", Ty::Str, Restart).alias(&["username"]),
        key("password", Ty::Str, Restart).alias(&["pass"]),
        key("account", Ty::Str, Restart),
        key("proxy_required", Ty::Bool, Restart),
    ],
);

static LEAF_REMOTE: Block<()> = block(
    "remotes",
    &[
        key("url", Ty::Strings, Yes).alias(&["urls"]),
        key("no_randomize", Ty::Bool, Yes).alias(&["dont_randomize"]),
        key("account", Ty::Str, Yes).alias(&["local"]),
        key("credentials", Ty::Str, Yes).alias(&["creds"]),
        key("nkey", Ty::Str, Yes).alias(&["seed"]),
        key("tls", Ty::Block(&TLS), Yes),
        key("hub", Ty::Bool, Yes),
        key("deny_imports", Ty::Strings, Yes).alias(&["deny_import"]),
        key("deny_exports", Ty::Strings, Yes).alias(&["deny_export"]),
        key("ws_compression", Ty::Bool, Yes).alias(&["ws_compress", "websocket_compress", "websocket_compression"]),
        key("ws_no_masking", Ty::Bool, Yes).alias(&["websocket_no_masking"]),
        key("js_cluster_migrate", Ty::Custom(&ANY_TY), Yes).alias(&["jetstream_cluster_migrate"]),
        key("isolate_leafnode_interest", Ty::Bool, Yes).alias(&["isolate"]),
        key("request_isolation", Ty::Bool, Yes),
        key("compression", Ty::Custom(&COMPRESSION_TY), Yes),
        key("first_info_timeout", Ty::Duration, Yes),
        key("dial_timeout", Ty::Duration, Yes),
        key("disabled", Ty::Bool, Yes),
        key("proxy", Ty::Block(&LEAF_PROXY), Yes),
        key("ignore_discovered_servers", Ty::Bool, Yes),
    ],
);

static LEAF_PROXY: Block<()> = block(
    "proxy",
    &[
        key("url", Ty::Str, Yes),
        key("username", Ty::Str, Yes),
        key("password", Ty::Str, Yes),
        key("timeout", Ty::Duration, Yes),
    ],
);

pub static WEBSOCKET: Block<Websocket> = Block {
    rules: Some(validate::websocket),
    ..block(
        "websocket",
        &[
            key("listen", Ty::Listen, Restart).set(|_, _, v, w| {
                if let Val::Listen(host, port) = v {
                    if let Some(h) = host.filter(|h| !h.is_empty()) {
                        w.host = h;
                    }
                    w.port = port;
                }
            }),
            key("port", Ty::Port, Restart).set(|_, _, v, w| {
                if let Val::Port(p) = v {
                    w.port = p
                }
            }),
            key("host", Ty::Str, Restart).alias(&["net"]).set(|_, _, v, w| {
                if let Val::Str(s) = v {
                    w.host = s
                }
            }),
            key("advertise", Ty::Str, Restart).set(|_, _, v, w| w.advertise = v.into_str()),
            key("no_tls", Ty::Bool, Restart).set(|_, _, v, w| v.set_bool(&mut w.no_tls)),
            key("tls", Ty::Block(&TLS), Yes).set(|b, _, v, w| {
                if let Val::Map(m) = v {
                    let mut t = Tls { timeout: DEFAULT_TLS_TIMEOUT, ..Tls::default() };
                    b.block(&TLS, m, &mut t);
                    w.tls = Some(t);
                }
            }),
            key("same_origin", Ty::Bool, Restart).set(|_, _, v, w| v.set_bool(&mut w.same_origin)),
            key("allowed_origins", Ty::Strings, Restart)
                .alias(&["allowed_origin", "allow_origins", "allow_origin", "origins", "origin"])
                .set(|_, _, v, w| w.allowed_origins = v.into_strs()),
            key("handshake_timeout", Ty::Custom(&NUMBER_OR_DURATION_TY), Restart).set(|b, e, _, w| {
                // nats-server: an integer is seconds, a string a duration;
                // anything else is refused.
                match &e.value.kind {
                    Kind::Int(i) => w.handshake_timeout = Some(Duration::from_secs((*i).max(0) as u64)),
                    Kind::Str(s) => w.handshake_timeout = parse_go_duration(s).ok(),
                    _ => b.error(
                        "type",
                        e.value.span,
                        "error parsing handshake timeout: unsupported type float64 (write an integer of seconds or a duration such as \"2s\")",
                    ),
                }
            }),
            key("compression", Ty::Bool, Restart).alias(&["compress"]).set(|_, _, v, w| v.set_bool(&mut w.compression)),
            key("authorization", Ty::Block(&WS_AUTH), Restart).alias(&["authentication"]).set(|b, _, v, w| {
                if let Val::Map(m) = v {
                    let mut a = WebsocketAuth::default();
                    b.block(&WS_AUTH, m, &mut a);
                    w.authorization = Some(a);
                }
            }),
            key("jwt_cookie", Ty::Str, Restart).set(|_, _, v, w| w.jwt_cookie = v.into_str()),
            key("user_cookie", Ty::Str, Restart).set(|_, _, v, w| w.user_cookie = v.into_str()),
            key("pass_cookie", Ty::Str, Restart).set(|_, _, v, w| w.pass_cookie = v.into_str()),
            key("token_cookie", Ty::Str, Restart).set(|_, _, v, w| w.token_cookie = v.into_str()),
            key("no_auth_user", Ty::Str, Restart).set(|_, _, v, w| w.no_auth_user = v.into_str()),
            key("headers", Ty::MapOf(&Ty::Str), Restart).set(|_, _, v, w| {
                if let Val::Map(m) = v {
                    for e in m.effective() {
                        if let Kind::Str(s) = &e.value.kind {
                            w.headers.insert(e.key.clone(), s.clone());
                        }
                    }
                }
            }),
            key("ping_interval", Ty::Duration, Restart).set(|_, _, v, w| {
                if let Val::Dur(d) = v {
                    w.ping_interval = Some(d);
                }
            }),
        ],
    )
};

/// `websocket.authorization`: nats-server's `parseSimpleAuth` knows these four.
static WS_AUTH: Block<WebsocketAuth> = block(
    "authorization",
    &[
        key("user", Ty::Str, Restart).alias(&["username"]).set(|_, _, v, a| a.user = v.into_str()),
        key("password", Ty::Str, Restart)
            .alias(&["pass"])
            .set(|_, _, v, a| a.password = v.into_str().map(Secret::from)),
        key("token", Ty::Str, Restart).set(|_, _, v, a| a.token = v.into_str().map(Secret::from)),
        key("timeout", Ty::Custom(&NUMBER_TY), Restart).set(|_, e, _, a| {
            a.timeout = match e.value.kind {
                Kind::Int(i) if i > 0 => Some(Duration::from_secs(i as u64)),
                Kind::Float(f) if f > 0.0 && f < 1e12 => Some(Duration::from_secs_f64(f)),
                _ => None,
            }
        }),
    ],
);

static MQTT: Block<()> = block(
    "mqtt",
    &[
        key("listen", Ty::Listen, Restart),
        key("port", Ty::Port, Restart),
        key("host", Ty::Str, Restart).alias(&["net"]),
        key("tls", Ty::Block(&TLS), Yes),
        key("authorization", Ty::Block(&SIMPLE_AUTH), Restart).alias(&["authentication"]),
        key("no_auth_user", Ty::Str, Restart),
        key("ack_wait", Ty::Duration, Yes).alias(&["ackwait"]),
        key("js_api_timeout", Ty::Duration, Restart).alias(&["api_timeout"]),
        key("max_ack_pending", Ty::Int { min: 0, max: u16::MAX as i64 }, Yes).alias(&["max_pending", "max_inflight"]),
        key("js_domain", Ty::Str, Restart),
        key("stream_replicas", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
        key("consumer_replicas", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
        key("consumer_memory_storage", Ty::Bool, Yes),
        key("consumer_inactive_threshold", Ty::Duration, Yes).alias(&["consumer_auto_cleanup"]),
        key("reject_qos2_publish", Ty::Bool, Restart),
        key("downgrade_qos2_subscribe", Ty::Bool, Restart),
    ],
);

pub static JETSTREAM: Block<()> = block(
    "jetstream",
    &[
        key("enabled", Ty::Bool, Yes).alias(&["enable"]),
        key("disabled", Ty::Bool, Yes).alias(&["disable"]),
        key("strict", Ty::Bool, Restart),
        key("store_dir", Ty::Str, Restart).alias(&["store", "storedir"]),
        key("sync_interval", Ty::Custom(&SYNC_TY), Restart).alias(&["sync"]),
        key("max_memory_store", Ty::StorageSize, Partly("increases only")).alias(&["max_mem_store", "max_mem"]),
        key("max_file_store", Ty::StorageSize, Partly("increases only")).alias(&["max_file"]),
        key("domain", Ty::Str, Restart),
        key("encryption_key", Ty::Str, Restart).alias(&["key", "ek"]),
        key("prev_encryption_key", Ty::Str, Restart).alias(&["prev_key", "prev_ek"]),
        key("cipher", Ty::Custom(&CIPHER_TY), Restart),
        key("extension_hint", Ty::Str, Restart),
        key("limits", Ty::Block(&JS_LIMITS), Restart),
        key("tpm", Ty::Block(&JS_TPM), Restart),
        key("unique_tag", Ty::Str, Restart),
        key("max_outstanding_catchup", Ty::StorageSize, Restart),
        key("max_buffered_size", Ty::StorageSize, Restart),
        key("max_buffered_msgs", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("request_queue_limit", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("info_queue_limit", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("meta_compact", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
        key("meta_compact_size", Ty::StorageSize, Yes),
        key("meta_compact_sync", Ty::Bool, Yes),
        key("max_concurrent_io", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
    ],
);

static JS_LIMITS: Block<()> = block(
    "limits",
    &[
        key("max_ack_pending", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("max_ha_assets", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("max_request_batch", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("duplicate_window", Ty::Duration, Restart),
        key("batch", Ty::Block(&JS_BATCH), Restart),
    ],
);

static JS_BATCH: Block<()> = block(
    "batch",
    &[
        key("max_inflight_per_stream", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("max_inflight_total", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("max_msgs", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("timeout", Ty::Duration, Restart),
    ],
);

static JS_TPM: Block<()> = block(
    "tpm",
    &[
        key("keys_file", Ty::Str, Restart),
        key("encryption_password", Ty::Str, Restart),
        key("srk_password", Ty::Str, Restart),
        key("pcr", Ty::Int { min: i64::MIN, max: i64::MAX }, Restart),
        key("cipher", Ty::Custom(&CIPHER_TY), Restart),
    ],
);

/// One account of `accounts { NAME { ... } }`.
pub static ACCOUNT: Block<()> = block(
    "account",
    &[
        key("nkey", Ty::Custom(&ACCOUNT_NKEY_TY), Yes),
        key("users", Ty::Blocks(&USER), Yes),
        key("imports", Ty::Blocks(&IMPORT), Yes),
        key("exports", Ty::Blocks(&EXPORT), Yes),
        key("jetstream", Ty::Custom(&ACCOUNT_JETSTREAM_TY), Yes),
        key("default_permissions", Ty::Block(&PERMISSIONS), Yes),
        key("mappings", Ty::MapOf(&Ty::Custom(&MAPPING_TY)), Yes).alias(&["maps"]),
        key("limits", Ty::Block(&ACCOUNT_LIMITS), Yes),
        key("msg_trace", Ty::Custom(&ANY_TY), Yes).alias(&["trace_dest"]),
    ],
);

static ACCOUNT_LIMITS: Block<()> = Block {
    unknown: Unknown::Error,
    ..block(
        "limits",
        &[
            key("max_connections", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["max_conn"]),
            key("max_subscriptions", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["max_subs"]),
            key("max_payload", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["max_pay"]),
            key("max_leafnodes", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["max_leafs"]),
        ],
    )
};

pub static ACCOUNT_JETSTREAM: Block<()> = block(
    "jetstream",
    &[
        key("enabled", Ty::Bool, Yes).alias(&["enable"]),
        key("disabled", Ty::Bool, Yes).alias(&["disable"]),
        key("max_memory", Ty::StorageSize, Yes).alias(&["max_mem", "mem", "memory"]),
        key("max_store", Ty::StorageSize, Yes).alias(&["max_file", "max_disk", "store", "disk"]),
        key("max_streams", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["streams"]),
        key("max_consumers", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["consumers"]),
        key("max_bytes_required", Ty::Bool, Yes).alias(&["max_stream_bytes", "max_bytes"]),
        key("mem_max_stream_bytes", Ty::StorageSize, Yes).alias(&["memory_max_stream_bytes"]),
        key("disk_max_stream_bytes", Ty::StorageSize, Yes).alias(&["store_max_stream_bytes"]),
        key("max_ack_pending", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
        key("cluster_traffic", Ty::Str, Yes),
    ],
);

pub static EXPORT: Block<()> = block(
    "exports",
    &[
        key("stream", Ty::Str, Yes),
        key("service", Ty::Str, Yes),
        key("response_type", Ty::Custom(&RESPONSE_TYPE_TY), Yes).alias(&["response"]),
        key("threshold", Ty::Custom(&NUMBER_OR_DURATION_TY), Yes).alias(&[
            "response_threshold",
            "response_max_time",
            "response_time",
        ]),
        key("accounts", Ty::StrArray, Yes),
        key("latency", Ty::Custom(&ANY_TY), Yes),
        key("account_token_position", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
        key("allow_trace", Ty::Bool, Yes),
    ],
);

pub static IMPORT: Block<()> = block(
    "imports",
    &[
        key("stream", Ty::Block(&IMPORT_SOURCE), Yes),
        key("service", Ty::Block(&IMPORT_SOURCE), Yes),
        key("prefix", Ty::Str, Yes),
        key("to", Ty::Str, Yes),
        key("share", Ty::Bool, Yes),
        key("allow_trace", Ty::Bool, Yes),
    ],
);

static IMPORT_SOURCE: Block<()> = block("source", &[key("account", Ty::Str, Yes), key("subject", Ty::Str, Yes)]);

static MAPPING_DEST: Block<()> = block(
    "mapping destination",
    &[
        key("destination", Ty::Str, Yes).alias(&["dest"]),
        key("weight", Ty::Custom(&WEIGHT_TY), Yes),
        key("cluster", Ty::Str, Yes),
    ],
);

static PROXIES: Block<()> = block("proxies", &[key("trusted", Ty::Blocks(&PROXY_TRUSTED), Yes)]);

static PROXY_TRUSTED: Block<()> = block("trusted", &[key("key", Ty::Str, Yes).alias(&["public_key"])]);

static OCSP: Block<()> = Block {
    unknown: Unknown::Error,
    case_sensitive: true,
    ..block(
        "ocsp",
        &[key("mode", Ty::Custom(&OCSP_MODE_TY), Yes), key("url", Ty::Str, Yes), key("urls", Ty::StrArray, Yes)],
    )
};

static RESOLVER: Block<()> = Block {
    unknown: Unknown::Note,
    case_sensitive: true,
    ..block(
        "resolver",
        &[
            key("type", Ty::Str, Restart),
            key("dir", Ty::Str, Restart),
            key("allow_delete", Ty::Bool, Yes),
            key("hard_delete", Ty::Bool, Yes),
            key("limit", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
            key("ttl", Ty::DurationStr, Yes),
            key("interval", Ty::DurationStr, Yes),
            key("timeout", Ty::DurationStr, Yes),
        ],
    )
};

// ------------------------------------------------------------------ custom value types

macro_rules! custom {
    ($name:ident, $describe:expr, $schema:expr, $check:expr) => {
        custom!($name, $describe, $schema, $check, Inner::None);
    };
    ($name:ident, $describe:expr, $schema:expr, $check:expr, $inner:expr) => {
        pub static $name: Custom = Custom { describe: $describe, inner: $inner, schema: $schema, check: $check };
    };
}

custom!(ANY_TY, "any value", "{}", values::any);
custom!(NUMBER_TY, "number of seconds", r#"{"type": "number"}"#, values::number);
custom!(
    NUMBER_OR_DURATION_TY,
    "number of seconds or duration",
    r#"{"type": ["number", "string"]}"#,
    values::number_or_duration
);
custom!(
    SUBJECTS_TY,
    "subject, array of subjects, or {allow, deny}",
    r#"{"type": ["string", "array", "object"]}"#,
    values::subjects_value,
    Inner::Block(&SUBJECT_PERMISSION)
);
custom!(
    ALLOW_RESPONSES_TY,
    "boolean or {max, expires}",
    r#"{"type": ["boolean", "object"]}"#,
    values::allow_responses_value,
    Inner::Block(&ALLOW_RESPONSES)
);
custom!(
    HANDSHAKE_FIRST_TY,
    "boolean, `auto`, `auto_fallback` or a duration",
    r#"{"type": ["boolean", "string"]}"#,
    values::handshake_first_value
);
custom!(
    ACCOUNTS_TY,
    "map of accounts, or array of names",
    r#"{"type": ["object", "array"]}"#,
    |b, k, v| values::accounts(b, k, v, &ACCOUNT),
    Inner::Named(&ACCOUNT)
);
custom!(ACCOUNT_NKEY_TY, "account public nkey", r#"{"type": "string"}"#, values::account_nkey);
custom!(
    ACCOUNT_JETSTREAM_TY,
    "boolean, `enabled`/`disabled` or a map",
    r#"{"type": ["boolean", "string", "object"]}"#,
    |b, k, v| values::enabled_or_block(b, k, v, &ACCOUNT_JETSTREAM),
    Inner::Block(&ACCOUNT_JETSTREAM)
);
custom!(
    JETSTREAM_TY,
    "boolean, `enabled`/`disabled` or a map",
    r#"{"type": ["boolean", "string", "object"]}"#,
    |b, k, v| values::enabled_or_block(b, k, v, &JETSTREAM),
    Inner::Block(&JETSTREAM)
);
custom!(SYNC_TY, "duration or `always`", r#"{"type": "string"}"#, values::sync_interval);
custom!(CIPHER_TY, "`chacha`, `chachapoly` or `aes`", r#"{"type": "string"}"#, values::js_cipher);
custom!(
    MAPPING_TY,
    "subject, or destinations",
    r#"{"type": ["string", "object", "array"]}"#,
    |b, k, v| values::mapping(b, k, v, &MAPPING_DEST),
    Inner::Block(&MAPPING_DEST)
);
custom!(WEIGHT_TY, "percentage (`50%` or 50)", r#"{"type": ["string", "integer"]}"#, values::weight);
custom!(
    COMPRESSION_TY,
    "mode (boolean or string) or {mode, rtt_thresholds}",
    r#"{"type": ["boolean", "string", "object"]}"#,
    values::compression
);
custom!(
    OCSP_TY,
    "boolean or {mode, url, urls}",
    r#"{"type": ["boolean", "object"]}"#,
    |b, k, v| values::ocsp(b, k, v, &OCSP),
    Inner::Block(&OCSP)
);
custom!(OCSP_MODE_TY, "`always`, `must`, `never` or `auto`", r#"{"type": "string"}"#, values::ocsp_mode);
custom!(OCSP_CACHE_TY, "boolean or map", r#"{"type": ["boolean", "object"]}"#, values::ocsp_cache);
custom!(
    OPERATOR_TY,
    "JWT file or inline JWT, or an array of them",
    r#"{"type": ["string", "array"]}"#,
    values::operator
);
custom!(
    RESOLVER_TY,
    "`MEMORY`, `URL(url)` or {type, dir, ...}",
    r#"{"type": ["string", "object"]}"#,
    |b, k, v| values::resolver(b, k, v, &RESOLVER),
    Inner::Block(&RESOLVER)
);
custom!(
    PRELOAD_TY,
    "map of account public key to account JWT",
    r#"{"type": "object", "additionalProperties": {"type": "string"}}"#,
    values::resolver_preload
);
custom!(TRUSTED_TY, "operator public nkeys", r#"{"type": ["string", "array"]}"#, values::trusted);
custom!(URL_TY, "URL", r#"{"type": "string"}"#, values::url);
custom!(RESPONSE_TYPE_TY, "`singleton`, `stream` or `chunked`", r#"{"type": "string"}"#, values::response_type);
