//! The other client listeners: `websocket` and `mqtt`.

use std::time::Duration;

use super::*;
use crate::conf::context::Val;
use crate::conf::tree::Kind;
use crate::gotext::parse_go_duration;

pub(super) static SIMPLE_AUTH: Block<()> = block(
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
pub(super) static WS_AUTH: Block<WebsocketAuth> = block(
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

pub(super) static MQTT: Block<()> = block(
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
