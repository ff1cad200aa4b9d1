//! Endpoints of features rnats does not have (gateways, leaf nodes,
//! JetStream, Raft, internal queues), answered exactly as nats-server
//! answers them with the feature off, so tools that poll every endpoint
//! find what they expect: empty lists, `"disabled": true`, the same 400s.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::gojson;
use super::gotime::rfc3339_nano;
use super::query::Query;
use super::reply::Reply;
use crate::server::state::ServerState;

#[derive(Serialize)]
struct Gatewayz {
    server_id: String,
    now: String,
    outbound_gateways: BTreeMap<String, ()>,
    inbound_gateways: BTreeMap<String, ()>,
}

/// `/gatewayz` (already counted): parameters checked, no gateways.
pub fn gatewayz(server: &ServerState, q: &Query) -> Reply {
    if let Err(e) = q.subs().and_then(|_| q.bool("accs")) {
        return Reply::bad_request(e);
    }
    Reply::json(gojson::to_vec_indent(&Gatewayz {
        server_id: server.id().to_string(),
        now: rfc3339_nano(SystemTime::now()),
        outbound_gateways: BTreeMap::new(),
        inbound_gateways: BTreeMap::new(),
    }))
}

#[derive(Serialize)]
struct Leafz {
    server_id: String,
    now: String,
    leafnodes: usize,
    leafs: Vec<()>,
}

/// `/leafz` (already counted): no leaf nodes.
pub fn leafz(server: &ServerState, q: &Query) -> Reply {
    if let Err(e) = q.bool("subs") {
        return Reply::bad_request(e);
    }
    Reply::json(gojson::to_vec_indent(&Leafz {
        server_id: server.id().to_string(),
        now: rfc3339_nano(SystemTime::now()),
        leafnodes: 0,
        leafs: Vec::new(),
    }))
}

#[derive(Serialize)]
struct ApiStats {
    level: u32,
    total: u64,
    errors: u64,
}

#[derive(Serialize)]
struct JsConfig {
    max_memory: i64,
    max_storage: i64,
}

/// nats-server's `JSInfo` with JetStream disabled (its statistics come
/// first: Go embeds them before the server id).
#[derive(Serialize)]
struct Jsz {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: ApiStats,
    server_id: String,
    now: String,
    disabled: bool,
    config: JsConfig,
    streams: u64,
    consumers: u64,
    messages: u64,
    bytes: u64,
    total: u64,
}

/// `/jsz` (already counted): JetStream disabled.
pub fn jsz(server: &ServerState, q: &Query) -> Reply {
    let checks = ["accounts", "streams", "consumers", "direct-consumers", "config"];
    for key in checks {
        if let Err(e) = q.bool(key) {
            return Reply::bad_request(e);
        }
    }
    for key in ["offset", "limit"] {
        if let Err(e) = q.int(key) {
            return Reply::bad_request(e);
        }
    }
    for key in ["leader-only", "raft", "stream-leader-only"] {
        if let Err(e) = q.bool(key) {
            return Reply::bad_request(e);
        }
    }
    Reply::json(gojson::to_vec_indent(&Jsz {
        memory: 0,
        storage: 0,
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: 0,
        ha_assets: 0,
        api: ApiStats { level: 0, total: 0, errors: 0 },
        server_id: server.id().to_string(),
        now: rfc3339_nano(SystemTime::now()),
        disabled: true,
        config: JsConfig { max_memory: 0, max_storage: 0 },
        streams: 0,
        consumers: 0,
        messages: 0,
        bytes: 0,
        total: 0,
    }))
}

/// `/ipqueuesz`: no internal queues to show (not counted, as in nats-server).
pub fn ipqueuesz(q: &Query) -> Reply {
    match q.bool("all") {
        Ok(_) => Reply::json(b"{}".to_vec()),
        Err(e) => Reply::bad_request(e),
    }
}

/// `/raftz`: no Raft groups (not counted).
pub fn raftz() -> Reply {
    Reply::not_found_text("No Raft nodes registered")
}
