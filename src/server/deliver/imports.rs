//! Service imports on the message path: a request that matched a service
//! import's entry is published again in the exporter's account, with a
//! `_R_` reply and the `Nats-Request-Info` header; a response to a `_R_`
//! subject goes back to the requester's inbox in its own account
//! (nats-server's `processServiceImport` and response handling).
//!
//! Both publish into another account from inside a publish, so the
//! entries are collected while the message is delivered and served after
//! (the route targets of the message must not be overwritten), with one
//! level of nesting per import crossed, up to [`MAX_DEPTH`].

use std::sync::Arc;

use tokio::time::Instant;

use super::{Fanout, Message, Publisher};
use crate::options::ResponseType;
use crate::server::account::Account;
use crate::server::account_config::LatencyConfig;
use crate::server::account_config::ServiceImport;
use crate::server::conn::{Subscription, Via};
use crate::server::service::latency::{should_sample, Ending, Tracking};
use crate::server::service::request_info::{with_client_info, write_request_header, ReceivedClientInfo};
use crate::server::service::response_table::{Tracked, Unanswered};
use crate::server::service::sample_link::SampleLink;

/// Service imports a message may cross in a row (a chain, or a loop
/// between accounts, ends here; nats-server stops loops by the import).
pub(super) const MAX_DEPTH: u8 = 4;

/// Buffers of a request or response published on a client's behalf.
#[derive(Default)]
pub(super) struct Scratch {
    subject: Vec<u8>,
    mapped: Vec<u8>,
    reply: Vec<u8>,
    body: Vec<u8>,
}

type ServerAccount = Account<Subscription>;

impl Fanout {
    /// Serves the service-import and response entries the message matched
    /// in `account`. A routed message (`routed`) is never a request into an
    /// import (the server it entered served it), but may be a response.
    pub(super) fn serve_imports(
        &mut self,
        account: &Arc<ServerAccount>,
        msg: &Message<'_>,
        from: Publisher<'_>,
        depth: u8,
        routed: bool,
    ) -> bool {
        let mut pending = std::mem::take(&mut self.pending_imports);
        let mut delivered = false;
        if depth < MAX_DEPTH {
            for sub in &pending {
                delivered |= match sub.via.as_deref() {
                    Some(Via::ServiceImport { import, exporter, server, samples }) if !routed => {
                        self.request(account, import, exporter, (server, samples), msg, from, depth)
                    }
                    Some(Via::Responses) => self.respond(account, msg, from, depth),
                    _ => false,
                };
            }
        }
        pending.clear();
        self.pending_imports = pending;
        delivered
    }

    /// A request from `importer` into the exporter of `import`.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        importer: &Arc<ServerAccount>,
        import: &ServiceImport,
        exporter: &Arc<ServerAccount>,
        (server, samples): (&Arc<str>, &SampleLink),
        msg: &Message<'_>,
        from: Publisher<'_>,
        depth: u8,
    ) -> bool {
        // The one branch latency costs an import without it.
        let tracking = match &import.latency {
            Some(latency) => self.sample(latency, importer, import.share, exporter, (server, samples), msg, from),
            None => None,
        };
        let mut s = std::mem::take(&mut self.scratch);
        let mut subject = import.destination(msg.subject, &mut s.subject);
        // The exporter's own mappings apply to what enters it.
        let rules = exporter.config();
        if let Some(mappings) = &rules.mappings {
            match self.map_subject(mappings, subject, &mut s.mapped) {
                crate::mapping::Selected::Unchanged => {}
                crate::mapping::Selected::Mapped => subject = &s.mapped,
                crate::mapping::Selected::Dropped => {
                    self.scratch = s;
                    return false;
                }
            }
        }
        // The reply becomes a `_R_` subject of the exporter that leads back.
        s.reply.clear();
        let mut slot = None;
        if let Some(reply) = msg.reply.filter(|r| !r.starts_with(b"$JS.ACK")) {
            let (table, _) = exporter.responses();
            let now = Instant::now();
            // nats-server tracks single responses only.
            let tracking = tracking.filter(|_| import.policy.response_type == ResponseType::Single);
            slot = table
                .allocate_tracked(reply, importer.clone(), import.policy, import.share, tracking, now, &mut s.reply)
                .ok();
        } else if let Some(tracking) = tracking.filter(|_| msg.reply.is_none()) {
            tracking.unanswered(Unanswered::NoReply);
        }
        s.body.clear();
        let existing = msg.header_len.map_or(&b""[..], |h| &msg.payload[..h]);
        let header_len = write_info_header(depth, existing, importer, import.share, server, from, &mut s.body);
        s.body.extend_from_slice(&msg.payload[msg.header_len.unwrap_or(0)..]);
        let (mut size, mut hsize) = (itoa::Buffer::new(), itoa::Buffer::new());
        let request = Message {
            subject,
            reply: slot.map(|_| &s.reply[..]),
            header_len: Some(header_len),
            payload: &s.body,
            size_text: size.format(s.body.len()).as_bytes(),
            header_text: hsize.format(header_len).as_bytes(),
        };
        let delivered = self.publish_in(exporter, &request, from, depth + 1);
        // (A sampled request nobody took sends its 503 as its entry goes.)
        if let (false, Some(slot)) = (delivered, slot) {
            // Nobody took it: no response will come (nats-server removes
            // the entry at once too).
            exporter.responses().0.release(slot);
        }
        self.scratch = s;
        delivered
    }

    /// A message to a `_R_` subject of `exporter`: back to the requester.
    fn respond(&mut self, exporter: &Arc<ServerAccount>, msg: &Message<'_>, from: Publisher<'_>, depth: u8) -> bool {
        let Some(table) = exporter.responses_if_any() else { return false };
        let mut s = std::mem::take(&mut self.scratch);
        let mut requester = None;
        table.respond(msg.subject, msg.payload.len(), Instant::now(), |pending| {
            let tracking = pending.tracking.and_then(|t| (t as &dyn std::any::Any).downcast_ref::<Tracking>());
            if let Some(tracking) = tracking {
                tracking.report(Ending::Answered, Some(from.conn));
            }
            s.reply.clear();
            s.reply.extend_from_slice(pending.reply);
            requester = Some(pending.requester.clone());
            true
        });
        let delivered = match requester {
            Some(requester) => {
                let response = Message { subject: &s.reply, ..*msg };
                let delivered = self.publish_in(&requester, &response, from, depth + 1);
                if !delivered {
                    // Nobody took it: the exchange is over (nats-server's
                    // `!didDeliver`), whatever the response type.
                    table.release_subject(msg.subject);
                }
                delivered
            }
            None => false,
        };
        self.scratch = s;
        delivered
    }
}

impl Fanout {
    /// A latency tracking for this request, when the export's sampling
    /// picks it (nats-server's `shouldSample`).
    #[allow(clippy::too_many_arguments)]
    fn sample(
        &mut self,
        latency: &LatencyConfig,
        importer: &ServerAccount,
        share: bool,
        exporter: &Arc<ServerAccount>,
        (server, samples): (&Arc<str>, &SampleLink),
        msg: &Message<'_>,
        from: Publisher<'_>,
    ) -> Option<Box<dyn Tracked>> {
        let roll = self.random_u31() % 100;
        let header = msg.header_len.and_then(|h| msg.payload.get(..h)).unwrap_or_default();
        let trigger = should_sample(latency.sampling, roll, header)?;
        let tracking =
            Tracking::new(latency, samples, &exporter.name, from.conn, &importer.name, share, server, trigger);
        Some(Box::new(tracking))
    }
}

/// Writes the header the exporter's responder gets, and returns its size:
/// the account and round-trip time, or with `share` the requester's
/// details, as nats-server's `ClientInfo`.
fn write_info_header(
    depth: u8,
    existing: &[u8],
    importer: &ServerAccount,
    share: bool,
    server: &str,
    from: Publisher<'_>,
    out: &mut Vec<u8>,
) -> usize {
    // A request that already crossed an import (never one straight from a
    // client, which could forge the header) carries its requester's info:
    // passed on with `svc` naming the account it came through.
    let chained = if depth > 0 { ReceivedClientInfo::from_header(existing) } else { None };
    if let Some(received) = chained {
        let mut info = received.as_info();
        info.svc = &importer.name;
        return write_request_header(existing, &info, out);
    }
    // The requester's own connection's details.
    with_client_info(from.conn, &importer.name, share, server, |info| write_request_header(existing, info, out))
}
