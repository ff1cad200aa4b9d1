//! Operator mode's claim requests (`$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE`,
//! `$SYS.REQ.CLAIMS.UPDATE|LOOKUP|LIST|DELETE|PACK`): the resolver decides
//! (src/server/operator/claims.rs); this writes its answer as nats-server
//! does and publishes it.
//!
//! Run in order on the system task, as nats-server runs them on its
//! internal receive loop: the work is a JWT decode and a small file, and a
//! later update must not overtake an earlier one.

use std::sync::Arc;

use super::info::write_server_info;
use super::{Incoming, SystemTask};
use crate::server::accounts::ServerAccount;
use crate::server::conn::{ConnKind, Connection};
use crate::server::deliver::{Fanout, Message, Publisher};
use crate::server::operator::claims::{ClaimReply, ClaimRequest};
use crate::server::outbound::WhenBehind;
use crate::server::service::request_info::write_go_string;
use crate::server::state::ServerState;

impl SystemTask {
    pub(super) fn claims(&mut self, request: ClaimRequest, m: &Incoming) {
        let Some(op) = self.server.operator().cloned() else { return };
        // The server's own lookups are for the others to answer (nats-server's
        // internal client has no echo).
        let own = crate::server::operator::cluster_fetch::inbox_prefix(self.server.id());
        if request == ClaimRequest::Lookup && m.reply.as_deref().is_some_and(|r| r.starts_with(own.as_bytes())) {
            return;
        }
        let subject = String::from_utf8_lossy(&m.subject);
        let answer = op.claim_request(&*self.server, request, &subject, &m.body);
        let Some(reply) = m.reply.as_deref() else { return };
        let reply = reply.to_vec();
        match answer {
            ClaimReply::Silent => {}
            ClaimReply::Raw(messages) => {
                for payload in messages {
                    self.publish_system(&reply, None, &payload);
                }
            }
            ClaimReply::Status { account, message, error } => {
                let payload = self.status(&account, &message, error.as_deref());
                self.publish_system(&reply, None, &payload);
            }
            ClaimReply::List(keys) => {
                let mut out = b"{\"data\":".to_vec();
                out.extend_from_slice(&serde_json::to_vec(&keys).unwrap_or_else(|_| b"[]".to_vec()));
                out.extend_from_slice(b",\"server\":");
                write_server_info(&self.server, self.seq + 1, &mut out);
                out.push(b'}');
                self.publish_system(&reply, None, &out);
            }
        }
    }

    /// nats-server's `ServerAPIClaimUpdateResponse`.
    fn status(&self, account: &str, message: &str, error: Option<&str>) -> Vec<u8> {
        let mut out = b"{\"server\":".to_vec();
        write_server_info(&self.server, self.seq + 1, &mut out);
        out.extend_from_slice(if error.is_some() { b",\"error\":{" } else { b",\"data\":{" });
        if !account.is_empty() {
            out.extend_from_slice(b"\"account\":");
            write_go_string(account, &mut out);
            out.push(b',');
        }
        match error {
            Some(e) => {
                out.extend_from_slice(b"\"code\":500,\"description\":");
                write_go_string(&format!("{message} - {e}"), &mut out);
            }
            None => {
                out.extend_from_slice(b"\"code\":200,\"message\":");
                write_go_string(message, &mut out);
            }
        }
        out.extend_from_slice(b"}}");
        out
    }
}

/// A `full` resolver asks the cluster for what it lacks every `interval`
/// (nats-server's sync ticker): `$SYS.REQ.CLAIMS.PACK` with its
/// directory's hash, replies to
/// [`pack_inbox`](crate::server::operator::claims::pack_inbox), which the system task
/// merges. Its own task and client, so the system task never waits for it.
pub(super) fn start_pack_sync(server: &Arc<ServerState>, account: Arc<ServerAccount>) {
    let Some(op) = server.operator().cloned() else { return };
    let Some(interval) = op.sync_interval() else { return };
    let nowhere = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let conn = Arc::new(Connection::new(0, ConnKind::Client, nowhere, account.clone(), server.stats().clone()));
    let inbox = crate::server::operator::claims::pack_inbox(server.id());
    let state = server.clone();
    server.spawn(async move {
        let mut fanout = Fanout::default();
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            tokio::select! {
                _ = state.shutting_down() => return,
                _ = tick.tick() => {}
            }
            let op = op.clone();
            let Ok(hash) = tokio::task::spawn_blocking(move || op.directory_hash()).await else { continue };
            tracing::debug!("DirResolver - Checking store state: {}", crate::server::operator::sync::hex(&hash));
            let mut size = itoa::Buffer::new();
            let msg = Message {
                subject: b"$SYS.REQ.CLAIMS.PACK",
                reply: Some(inbox.as_bytes()),
                header_len: None,
                payload: &hash,
                size_text: size.format(hash.len()).as_bytes(),
                header_text: b"",
            };
            let from = Publisher { conn: &conn, echo: true, when_behind: WhenBehind::Queue };
            fanout.publish(&account, &msg, from);
            fanout.finish_batch(&conn);
            fanout.stalls = Default::default();
        }
    });
}
