//! The system account's payloads that are not monitoring documents: the
//! server statistics (`STATSZ`, `$SYS.REQ.SERVER.PING`) and the account
//! connections event (`…CONNS`), in nats-server's field order.

use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use super::info::write_server_info;
use super::SystemTask;
use crate::server::clock::rfc3339_nano;

#[derive(Serialize, Default)]
struct MsgBytes {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct RouteStat {
    rid: u64,
    name: String,
    sent: MsgBytes,
    received: MsgBytes,
    pending: u64,
}

/// nats-server's `ServerStats`.
#[derive(Serialize)]
struct Statsz {
    start: String,
    mem: u64,
    cores: u64,
    cpu: f64,
    connections: u64,
    total_connections: u64,
    active_accounts: usize,
    subscriptions: u64,
    sent: MsgBytes,
    sent_to_clients: MsgBytes,
    received: MsgBytes,
    received_from_clients: MsgBytes,
    slow_consumers: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<RouteStat>,
    active_servers: usize,
    gomaxprocs: u64,
}

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

pub use crate::server::service::sample_link::event_id;

impl SystemTask {
    /// `{"server":…,"statsz":…}`, from the `/varz` and `/routez` figures.
    pub(super) fn statsz(&mut self) -> Vec<u8> {
        let doc =
            |name: &str| self.data.document(name, &[]).ok().and_then(|(_, d)| serde_json::from_slice::<Value>(&d).ok());
        let varz = doc("varz").unwrap_or_default();
        let routez = doc("routez").unwrap_or_default();
        let routes: Vec<RouteStat> = routez
            .get("routes")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|r| RouteStat {
                        rid: u(r, "rid"),
                        name: r.get("remote_name").and_then(Value::as_str).unwrap_or_default().to_string(),
                        sent: MsgBytes { msgs: u(r, "out_msgs"), bytes: u(r, "out_bytes") },
                        received: MsgBytes { msgs: u(r, "in_msgs"), bytes: u(r, "in_bytes") },
                        pending: u(r, "pending_size"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let active_accounts = self.server.accounts().all().iter().filter(|a| a.num_clients() > 0).count();
        let statsz = Statsz {
            start: varz.get("start").and_then(Value::as_str).unwrap_or_default().to_string(),
            mem: u(&varz, "mem"),
            cores: u(&varz, "cores"),
            cpu: varz.get("cpu").and_then(Value::as_f64).unwrap_or(0.0),
            connections: u(&varz, "connections"),
            total_connections: u(&varz, "total_connections"),
            active_accounts,
            subscriptions: u(&varz, "subscriptions"),
            sent: MsgBytes { msgs: u(&varz, "out_msgs"), bytes: u(&varz, "out_bytes") },
            sent_to_clients: MsgBytes { msgs: u(&varz, "out_msgs"), bytes: u(&varz, "out_bytes") },
            received: MsgBytes { msgs: u(&varz, "in_msgs"), bytes: u(&varz, "in_bytes") },
            received_from_clients: MsgBytes { msgs: u(&varz, "in_msgs"), bytes: u(&varz, "in_bytes") },
            slow_consumers: u(&varz, "slow_consumers"),
            active_servers: 1 + self.remotes.len(),
            routes,
            gomaxprocs: u(&varz, "gomaxprocs"),
        };
        let mut out = b"{\"server\":".to_vec();
        write_server_info(&self.server, self.seq + 1, &mut out);
        out.extend_from_slice(b",\"statsz\":");
        out.extend_from_slice(&serde_json::to_vec(&statsz).unwrap_or_default());
        out.push(b'}');
        out
    }

    /// The `account_connections` event of `account`, `None` when the
    /// server has no such account.
    pub(super) fn account_connections(&mut self, account: &str) -> Option<Vec<u8>> {
        let stat = self.data.account_stat(account)?;
        let mut out = b"{\"type\":\"io.nats.server.advisory.v1.account_connections\",\"id\":\"".to_vec();
        out.extend_from_slice(event_id().as_bytes());
        out.extend_from_slice(b"\",\"timestamp\":\"");
        out.extend_from_slice(rfc3339_nano(SystemTime::now()).as_bytes());
        out.extend_from_slice(b"\",\"server\":");
        write_server_info(&self.server, self.seq + 1, &mut out);
        // The account's figures, without their opening brace.
        out.push(b',');
        out.extend_from_slice(stat.get(1..).unwrap_or_default());
        Some(out)
    }
}
