//! The system account's events (nats-server's `events.go`): a client
//! connected or disconnected (`$SYS.ACCOUNT.<acc>.CONNECT|DISCONNECT`),
//! its account's connections changed (`…SERVER.CONNS`, twice: the new
//! subject and the old one), a login failed (`CLIENT.AUTH.ERR`), and the
//! server's statistics on a schedule (`STATSZ`), lame duck mode and
//! shutdown.
//!
//! Sessions send a small [`SystemEvent`] (the connection, no JSON) and go
//! on; the system task writes the payload.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::info::write_server_info;
pub use super::link::SystemEvent;
use super::payloads::event_id;
use super::SystemTask;
use crate::server::clock::rfc3339_nano;
use crate::server::conn::Connection;
use crate::server::errors::CloseReason;
use crate::server::service::request_info::ClientInfo;

/// The STATSZ timer: nats-server's first 250 ms after start, doubling to
/// the 10 s it then keeps.
pub const STATSZ_FIRST: Duration = Duration::from_millis(250);
pub const STATSZ_EVERY: Duration = Duration::from_secs(10);

/// The next STATSZ interval after `now`.
pub fn next_statsz_interval(now: Duration) -> Duration {
    (now * 2).min(STATSZ_EVERY)
}

impl SystemTask {
    pub(super) fn on_event(&mut self, event: SystemEvent) {
        match event {
            SystemEvent::Connect(conn) => {
                let account = conn.account();
                self.account_conns_changed(&account.name);
                let payload = self.client_event("client_connect", &conn, None);
                self.publish_system(format!("$SYS.ACCOUNT.{}.CONNECT", account.name).as_bytes(), None, &payload);
            }
            SystemEvent::Disconnect(conn, reason) => {
                // The account's new count first, then the advisory (observed).
                let account = conn.account();
                self.account_conns_changed(&account.name);
                let payload = self.client_event("client_disconnect", &conn, Some(reason));
                self.publish_system(format!("$SYS.ACCOUNT.{}.DISCONNECT", account.name).as_bytes(), None, &payload);
            }
            SystemEvent::LameDuck => self.server_state_event("LAMEDUCK"),
            SystemEvent::Reloaded { reply, answer } => self.reload_answered(reply, answer),
            SystemEvent::AuthError(conn) => {
                let payload = self.client_event("client_disconnect", &conn, Some(CloseReason::AuthenticationViolation));
                let subject = format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", self.server.id());
                self.publish_system(subject.as_bytes(), None, &payload);
            }
        }
    }

    /// `$SYS.SERVER.ACCOUNT.<acc>.CONNS` and `$SYS.ACCOUNT.<acc>.SERVER.CONNS`,
    /// one payload (one id) on both, as nats-server sends them; again
    /// every 30 s while the account has connections (the heartbeat).
    pub(super) fn account_conns_changed(&mut self, account: &str) {
        // Neither the system account's clients nor the global account's
        // are counted this way (nats-server's `accConnsUpdate`).
        if self.account.name.as_ref() == account || account == crate::options::GLOBAL_ACCOUNT {
            return;
        }
        let Some(payload) = self.account_connections(account) else {
            self.heartbeats.forget(account);
            return;
        };
        let conns = self.server.accounts().get(account).map_or(0, |a| a.num_clients());
        self.heartbeats.sent(account, conns, tokio::time::Instant::now());
        self.publish_system(format!("$SYS.SERVER.ACCOUNT.{account}.CONNS").as_bytes(), None, &payload);
        self.publish_system(format!("$SYS.ACCOUNT.{account}.SERVER.CONNS").as_bytes(), None, &payload);
    }

    /// A `client_connect` or `client_disconnect` advisory about `conn`.
    fn client_event(&self, kind: &str, conn: &Connection, reason: Option<CloseReason>) -> Vec<u8> {
        let account = conn.account();
        let meta = conn.meta.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let start = rfc3339_nano(conn.start);
        let stop = reason.map(|_| rfc3339_nano(SystemTime::now())).unwrap_or_default();
        let host = conn.addr.ip().to_string();
        let rtt = match reason {
            Some(_) => meta.rtt.map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64),
            None => 0,
        };
        let info = ClientInfo {
            start: &start,
            host: &host,
            id: conn.cid,
            acc: &account.name,
            user: &meta.user,
            name: &meta.name,
            lang: &meta.lang,
            ver: &meta.version,
            rtt_nanos: rtt,
            stop: &stop,
            name_tag: &account.name,
            kind: "Client",
            client_type: if conn.websocket { "websocket" } else { "nats" },
            ..ClientInfo::default()
        };
        let mut out = format!(
            "{{\"type\":\"io.nats.server.advisory.v1.{kind}\",\"id\":\"{}\",\"timestamp\":\"{}\",\"server\":",
            event_id(),
            rfc3339_nano(SystemTime::now())
        )
        .into_bytes();
        write_server_info(&self.server, self.seq + 1, &mut out);
        out.extend_from_slice(b",\"client\":");
        info.write_json(&mut out);
        if let Some(reason) = reason {
            // `sent` is what the client sent: the server's in-counters.
            let t = conn.traffic();
            out.extend_from_slice(
                format!(
                    ",\"sent\":{{\"msgs\":{},\"bytes\":{}}},\"received\":{{\"msgs\":{},\"bytes\":{}}},\"reason\":\"{}\"",
                    t.in_msgs,
                    t.in_bytes,
                    t.out_msgs,
                    t.out_bytes,
                    reason.as_str()
                )
                .as_bytes(),
            );
        }
        out.push(b'}');
        out
    }

    /// Publishes `$SYS.SERVER.<id>.STATSZ`, when anyone listens (a server
    /// in a cluster always does: its peers count it).
    pub(super) fn statsz_tick(&mut self) {
        let subject = format!("$SYS.SERVER.{}.STATSZ", self.server.id());
        // Standalone, this server's own `$SYS.SERVER.*.STATSZ` (the remote
        // server table's) is no listener (nats-server's `remoteStatsSub`).
        let heard = self.server.cluster().is_some() || {
            let found = self.account.sublist.match_subject(subject.as_bytes());
            !found.qsubs.is_empty() || found.psubs.iter().any(|s| !Arc::ptr_eq(&s.conn, &self.conn))
        };
        if heard {
            let payload = self.statsz();
            self.publish_system(subject.as_bytes(), None, &payload);
        }
    }

    /// `$SYS.SERVER.<id>.LAMEDUCK` or `.SHUTDOWN`: the bare `ServerInfo`.
    pub(super) fn server_state_event(&mut self, what: &str) {
        let mut payload = Vec::with_capacity(300);
        write_server_info(&self.server, self.seq + 1, &mut payload);
        let subject = format!("$SYS.SERVER.{}.{what}", self.server.id());
        self.publish_system(subject.as_bytes(), None, &payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statsz_intervals_double_from_a_quarter_second_to_ten() {
        let mut at = STATSZ_FIRST;
        let mut seen = vec![at];
        for _ in 0..8 {
            at = next_statsz_interval(at);
            seen.push(at);
        }
        let ms: Vec<u128> = seen.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
    }
}
