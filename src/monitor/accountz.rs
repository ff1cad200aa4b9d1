//! `/accountz` and `/accstatz` for rnats's one account, nats-server's global
//! account `$G` (rnats has no system account, so `system_account` is left
//! out and `$SYS` is not listed).

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde::Serialize;

use super::gojson;
use super::gotime::rfc3339_nano;
use super::query::Query;
use super::reply::Reply;
use super::subsz::{sublist_stats, SublistStats};
use crate::server::state::ServerState;

#[derive(Serialize)]
struct Accountz {
    server_id: String,
    now: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    accounts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<AccountInfo>,
}

/// nats-server's `AccountInfo`, for an account without JWT, imports or
/// exports.
#[derive(Serialize)]
struct AccountInfo {
    account_name: String,
    update_time: String,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: usize,
    client_connections: usize,
    subscriptions: u64,
    name_tag: String,
    sublist_stats: SublistStats,
}

/// `/accountz` (already counted).
pub fn accountz(server: &ServerState, q: &Query) -> Reply {
    let name = server.global().name.to_string();
    let acc = q.get("acc");
    let mut reply = Accountz {
        server_id: server.id().to_string(),
        now: rfc3339_nano(SystemTime::now()),
        accounts: Vec::new(),
        account_detail: None,
    };
    if acc.is_empty() {
        reply.accounts.push(name);
    } else if acc == name {
        reply.account_detail = Some(AccountInfo {
            account_name: name.clone(),
            update_time: rfc3339_nano(server.started_at()),
            expired: false,
            complete: true,
            jetstream_enabled: false,
            leafnode_connections: 0,
            client_connections: server.num_clients(),
            subscriptions: server.global().sublist.count(),
            name_tag: name,
            sublist_stats: sublist_stats(server),
        });
    } else {
        return Reply::bad_request(format!("Account {acc} does not exist"));
    }
    Reply::json(gojson::to_vec_indent(&reply))
}

#[derive(Serialize)]
struct AccountStatz {
    server_id: String,
    now: String,
    account_statz: Vec<AccountStat>,
}

#[derive(Serialize)]
struct AccountStat {
    acc: String,
    name: String,
    conns: usize,
    leafnodes: usize,
    total_conns: usize,
    num_subscriptions: u64,
    sent: DataStats,
    received: DataStats,
    slow_consumers: u64,
}

#[derive(Serialize, Default)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize, Default)]
struct DataStats {
    msgs: u64,
    bytes: u64,
    gateways: MsgBytes,
    routes: MsgBytes,
    leafs: MsgBytes,
}

/// `/accstatz` (already counted): the account's connections and traffic;
/// without `unused=1` only while it has connections.
pub fn accstatz(server: &ServerState, q: &Query) -> Reply {
    let unused = match q.bool("unused") {
        Ok(v) => v,
        Err(e) => return Reply::bad_request(e),
    };
    let conns = server.num_clients();
    let mut list = Vec::new();
    if unused || conns > 0 {
        let t = server.client_totals().traffic;
        let name = server.global().name.to_string();
        list.push(AccountStat {
            acc: name.clone(),
            name,
            conns,
            leafnodes: 0,
            total_conns: conns,
            num_subscriptions: server.global().sublist.count(),
            sent: DataStats { msgs: t.out_msgs, bytes: t.out_bytes, ..DataStats::default() },
            received: DataStats { msgs: t.in_msgs, bytes: t.in_bytes, ..DataStats::default() },
            slow_consumers: server.stats().slow_consumers.load(Ordering::Relaxed),
        });
    }
    Reply::json(gojson::to_vec_indent(&AccountStatz {
        server_id: server.id().to_string(),
        now: rfc3339_nano(SystemTime::now()),
        account_statz: list,
    }))
}
