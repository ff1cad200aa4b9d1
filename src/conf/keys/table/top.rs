//! The top level of a config file, and the `proxies` block.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::conf::context::Val;

pub(super) fn other_of_options(o: &mut Options) -> &mut BTreeMap<String, serde_json::Value> {
    &mut o.other
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
                if let Some(Err(why)) = o.remote_syslog.as_deref().map(SyslogTarget::parse_remote) {
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
                .feature(Feature::SystemAccount)
                .set(|_, _, v, o| v.set_bool(&mut o.no_system_account)),
            key("system_account", Ty::Str, Restart)
                .alias(&["system"])
                .feature(Feature::SystemAccount)
                .set(|_, _, v, o| o.system_account = v.into_str()),
            key("no_auth_user", Ty::Str, RnatsOnly).set(|_, _, v, o| o.no_auth_user = v.into_str()),
            key("default_sentinel", Ty::Str, Yes).feature(Feature::AuthCallout),
            key("authorization", Ty::Block(&AUTHORIZATION), Yes).set(|b, _, v, o| {
                if let Val::Map(m) = v {
                    o.authorization = Authorization::default();
                    b.block(&AUTHORIZATION, m, &mut o.authorization);
                }
            }),
            key("accounts", Ty::Custom(&ACCOUNTS_TY), Yes)
                .feature(Feature::Accounts)
                .set(|b, e, _, o| crate::conf::accounts::set_accounts(b, e, o)),
            key("mappings", Ty::MapOf(&Ty::Custom(&MAPPING_TY)), Yes)
                .alias(&["maps"])
                .feature(Feature::SubjectMappings)
                .set(|b, _, v, o| {
                    if let Val::Map(m) = v {
                        o.mappings = crate::conf::accounts::mappings(b, m);
                    }
                }),
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
                .feature(Feature::Jwt)
                .set(|b, e, _, o| crate::conf::operator::set_operators(b, e, o)),
            key("resolver", Ty::Custom(&RESOLVER_TY), Partly("its contents reload; not its type"))
                .alias(&["account_resolver", "accounts_resolver"])
                .feature(Feature::Jwt)
                .set(|_, e, _, o| crate::conf::operator::set_resolver(e, o)),
            key("resolver_tls", Ty::Block(&TLS), Yes).feature(Feature::ResolverTls),
            key("resolver_preload", Ty::Custom(&PRELOAD_TY), Yes)
                .feature(Feature::Jwt)
                .set(|b, e, _, o| crate::conf::operator::set_preload(b, e, o)),
            key("resolver_pinned_accounts", Ty::Strings, Restart)
                .feature(Feature::Jwt)
                .set(|_, _, v, o| o.operator.resolver_pinned_accounts = v.into_strs()),
            key("trusted", Ty::Custom(&TRUSTED_TY), Restart)
                .alias(&["trusted_keys"])
                .feature(Feature::Jwt)
                .set(|_, e, _, o| crate::conf::operator::set_trusted(e, o)),
            key("server_tags", Ty::Strings, Yes).feature(Feature::ServerMetadata),
            key("server_metadata", Ty::MapOf(&Ty::Str), Yes).feature(Feature::ServerMetadata),
            key("feature_flags", Ty::MapOf(&Ty::Bool), Restart).feature(Feature::FeatureFlags),
            key("proxies", Ty::Block(&PROXIES), Yes).feature(Feature::Proxies),
        ],
    )
};

/// `http: host:port` / `https: host:port`: the host part ("" when only a
/// port is given, which then means the client interface, as in nats-server).
pub(super) fn listen_host(v: &Val) -> Option<String> {
    match v {
        Val::Listen(Some(h), _) if !h.is_empty() => Some(h.clone()),
        _ => None,
    }
}

pub(super) static PROXIES: Block<()> = block("proxies", &[key("trusted", Ty::Blocks(&PROXY_TRUSTED), Yes)]);

pub(super) static PROXY_TRUSTED: Block<()> = block("trusted", &[key("key", Ty::Str, Yes).alias(&["public_key"])]);
