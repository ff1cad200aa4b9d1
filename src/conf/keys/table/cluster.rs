//! Servers linked to each other: `cluster` (routes) and `gateway`.

use std::collections::BTreeMap;

use super::*;
use crate::conf::context::Val;
use crate::conf::tree::Kind;

pub(super) fn other_of_cluster(c: &mut Cluster) -> &mut BTreeMap<String, serde_json::Value> {
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

pub(super) static GATEWAY: Block<()> = block(
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

pub(super) static GATEWAY_REMOTE: Block<()> = block(
    "gateways",
    &[
        key("name", Ty::Str, Restart),
        key("tls", Ty::Block(&TLS), Yes),
        key("url", Ty::Custom(&URL_TY), Restart),
        key("urls", Ty::StrArray, Restart),
    ],
);
