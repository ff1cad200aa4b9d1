//! The client role of a session: what CONNECT, PUB, SUB, UNSUB, PING and
//! PONG from an application mean, with nats-server's answers. The accept
//! and handshake are in [`accept`], CONNECT and credentials in [`login`],
//! what a reload changes for a client in [`revalidate`].

pub mod accept;
mod login;
mod revalidate;
mod tenancy;

use std::collections::HashMap;
use std::sync::Arc;

use tracing::{debug, error};

use super::core::Core;
use super::role::{Role, Step};
use super::trace::trace_in;
use super::Phase;
use crate::server::adoption::Effect;
use crate::server::auth::Identity;
use crate::server::conn::Subscribed;
use crate::server::deliver::{Message, Publisher};
use crate::server::errors::*;
use crate::server::info::ConnectOpts;
use crate::server::outbound::{MsgLine, Pushed, WhenBehind};
use crate::server::permissions::CompiledPermissions;
use crate::server::proto::{self, Cut, Op, ParseError, Parsed, Publish};
use crate::server::snapshot::Snapshot;
use crate::server::subject::is_valid_literal_subject;
use crate::tls::Negotiated;

/// Publish permission results cached per subject, at most.
const PUB_CACHE_CAPACITY: usize = 256;

/// The queue group nats-server keeps for itself: no client may join it.
const SYSTEM_QUEUE: &[u8] = b"_sys_";

/// A client connection's private state.
pub(crate) struct ClientState {
    /// The CONNECT options. nats-server decodes every CONNECT into the same
    /// options, so a later one changes only the members it names; until the
    /// first, the defaults (verbose, pedantic, echo).
    opts: ConnectOpts,
    /// The options ask for headers and the server supports them.
    headers: bool,
    /// A CONNECT was processed (or, with `no_auth_user`, an op sent before
    /// it was served): any CONNECT from now on is a later one.
    connect_received: bool,
    /// The first PING after `connect_received` was answered: whether an
    /// INFO with `connect_info` follows is decided then, once.
    first_pong_sent: bool,
    /// The control line of the PUB or HPUB whose payload is still arriving
    /// was checked already (see [`ClientState::on_payload_pending`]).
    pub_line_checked: bool,
    /// The nkey challenge sent in INFO, when nkey users exist.
    nonce: Option<String>,
    /// After CONNECT: who the client is and what it may do (no permissions
    /// means everything is allowed).
    identity: Identity,
    /// `"$G/user:name"`, as nats-server tags violation log lines.
    user_tag: String,
    /// Publish permission results by subject (the rules are fixed per user
    /// and snapshot).
    /// Hashed with foldhash, not SipHash: looked up once per published
    /// message; at most `PUB_CACHE_CAPACITY` entries, so a client crafting
    /// colliding subjects only slows its own lookups.
    pub_allowed: HashMap<Box<[u8]>, bool, foldhash::fast::RandomState>,
    /// Whether the client was told of lame duck mode.
    ldm_announced: bool,
    /// What the TLS handshake negotiated (with the client's certificates,
    /// for `verify_and_map`); `None` on a plain connection.
    tls: Option<Negotiated>,
    /// A websocket client's cookies (`user_cookie`, ...): they stand in for
    /// credentials its CONNECT leaves out.
    cookies: Option<Box<crate::websocket::handshake::Cookies>>,
    /// The account it publishes into, with its rules.
    tenancy: tenancy::Tenancy,
}

impl ClientState {
    pub fn new(
        nonce: Option<String>,
        tls: Option<Negotiated>,
        account: Arc<crate::server::accounts::ServerAccount>,
    ) -> ClientState {
        ClientState {
            opts: ConnectOpts::default(),
            headers: false,
            connect_received: false,
            first_pong_sent: false,
            pub_line_checked: false,
            nonce,
            identity: Identity::default(),
            user_tag: String::new(),
            pub_allowed: HashMap::default(),
            ldm_announced: false,
            tls,
            cookies: None,
            tenancy: tenancy::Tenancy::new(account),
        }
    }

    /// The cookies of a websocket client's upgrade request.
    pub fn set_cookies(&mut self, cookies: crate::websocket::handshake::Cookies) {
        let any = cookies.jwt.is_some() || cookies.user.is_some() || cookies.pass.is_some() || cookies.token.is_some();
        self.cookies = any.then(|| Box::new(cookies));
    }

    fn perms(&self) -> Option<&Arc<CompiledPermissions>> {
        self.identity.permissions.as_ref()
    }

    fn send_ok(&self, core: &mut Core) {
        if self.opts.verbose {
            core.send(b"+OK\r\n");
        }
    }

    /// Serves one op; a CONNECT is handed back for [`Role::next_op`] to
    /// await (boxed), so that no other op's state is kept in the session's
    /// future.
    fn on_op<'a>(&mut self, core: &mut Core, op: Op<'a>) -> Result<Option<&'a [u8]>, CloseReason> {
        if core.trace {
            trace_in(&core.conn.log_prefix, &op);
        }
        #[cfg(test)]
        if matches!(&op, Op::Pub(p) if p.subject == INJECTED_PANIC_SUBJECT) {
            panic!("injected by a test");
        }
        match op {
            Op::Connect(json) => return Ok(Some(json)),
            Op::Pub(p) => self.on_pub(core, p)?,
            Op::Sub { subject, queue, sid } => {
                core.fanout.batch.subs += 1;
                self.on_sub(core, subject, queue, sid);
            }
            Op::Unsub { sid, max } => {
                core.fanout.batch.subs += 1;
                self.on_unsub(core, sid, max);
            }
            Op::Ping => {
                core.send(b"PONG\r\n");
                if self.connect_received && !self.first_pong_sent {
                    // The reference follows the first PONG after a CONNECT
                    // with an INFO confirming it, to clients that speak
                    // protocol 1 by then; it decides this once.
                    self.first_pong_sent = true;
                    if self.opts.protocol >= 1 {
                        // Before the INFO is built: a cluster change racing
                        // with it then sends one more INFO rather than none.
                        core.conn.info_updates.store(true, std::sync::atomic::Ordering::Release);
                        let mut info = core.server.client_info(&core.snap, &core.conn, self.nonce.as_deref());
                        info.connect_info = true;
                        info.remote_account = self.tenancy.account.name.to_string();
                        info.acc_is_sys =
                            core.server.accounts().system().is_some_and(|s| Arc::ptr_eq(&s, &self.tenancy.account));
                        info.max_payload = core.limits.max_payload;
                        core.send(&info.to_line());
                    }
                }
            }
            Op::Pong => core.on_pong(),
            Op::Info | Op::Ok => {}
            Op::Err(text) => {
                error!("{} - Client Error {}", core.conn.log_prefix, String::from_utf8_lossy(text));
                return Err(CloseReason::ClientClosed);
            }
        }
        Ok(None)
    }

    /// The control line of a PUB or HPUB to `subject` is in, its payload
    /// not yet. nats-server checks the line as it arrives, and once more
    /// when a read ends with the payload incomplete (it parses the saved
    /// arguments again), so a pedantic client hears of a bad subject twice.
    fn on_payload_pending(&mut self, core: &mut Core, subject: &[u8]) {
        if std::mem::replace(&mut self.pub_line_checked, true) {
            return;
        }
        self.check_pub_line(core, subject);
        self.check_pub_line(core, subject);
    }

    /// The parser failed; for a bad payload, the control line's checks come
    /// first, as they did in the reference when the line arrived.
    fn on_pub_parse_error(&mut self, core: &mut Core, pub_subject: Option<&[u8]>) {
        if let Some(subject) = pub_subject {
            if !std::mem::take(&mut self.pub_line_checked) {
                self.check_pub_line(core, subject);
            }
        }
    }

    /// What nats-server checks on a PUB or HPUB control line once its
    /// arguments parse: the subject, for pedantic clients. It reports and
    /// still delivers. (An HMSG from a client, the only publish with an
    /// empty subject, never goes through this check.)
    fn check_pub_line(&self, core: &mut Core, subject: &[u8]) {
        if self.opts.pedantic && !subject.is_empty() && !is_valid_literal_subject(subject) {
            core.send_err(ERR_INVALID_PUB_SUBJECT);
        }
    }

    fn on_pub(&mut self, core: &mut Core, p: Publish<'_>) -> Result<(), CloseReason> {
        core.fanout.batch.in_msgs += 1;
        core.fanout.batch.in_bytes += p.payload.len() as u64;
        if !std::mem::take(&mut self.pub_line_checked) {
            self.check_pub_line(core, p.subject);
        }
        // Mapped first: permissions apply to the subject the message goes
        // to, as nats-server checks them.
        let mut scratch = self.take_scratch();
        let delivered = self.publish_mapped(core, &p, &mut scratch);
        self.return_scratch(scratch);
        delivered
    }

    fn publish_mapped(&mut self, core: &mut Core, p: &Publish<'_>, scratch: &mut Vec<u8>) -> Result<(), CloseReason> {
        let subject = match self.map_subject(core, p.subject, scratch) {
            Some(false) => p.subject,
            Some(true) => &scratch[..],
            None => {
                self.send_ok(core);
                return Ok(());
            }
        };
        if !self.can_publish(core, subject) {
            let subject = go_quote(subject);
            error!("{} - {} - Publish Violation - Subject {subject}", core.conn.log_prefix, self.user_tag);
            core.send_err(&format!("Permissions Violation for Publish to {subject}"));
            return Ok(());
        }
        self.send_ok(core);
        let msg = Message {
            subject,
            reply: p.reply,
            header_len: p.header_len,
            payload: p.payload,
            size_text: p.size_text,
            header_text: p.header_text,
        };
        let when_behind = if core.snap.opts.no_fast_producer_stall { WhenBehind::Drop } else { WhenBehind::Stall };
        let from = Publisher { conn: &core.conn, echo: self.opts.echo, when_behind };
        let delivered = core.fanout.publish(&self.tenancy.account, &msg, from);
        if !delivered && self.opts.no_responders {
            if let Some(reply) = p.reply {
                self.send_no_responders(core, subject, reply);
            }
        }
        Ok(())
    }

    /// The 503 status a requester gets when nobody is subscribed: sent to the
    /// requester's own subscription on the reply subject, as the reference does.
    fn send_no_responders(&self, core: &mut Core, subject: &[u8], reply: &[u8]) {
        let result = self.tenancy.account.sublist.match_subject(reply);
        let Some(sub) = result.psubs.iter().find(|s| Arc::ptr_eq(&s.conn, &core.conn)) else {
            return;
        };
        let mut hdr = Vec::with_capacity(32 + subject.len());
        hdr.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
        hdr.extend_from_slice(subject);
        hdr.extend_from_slice(b"\r\n\r\n");
        let mut digits = itoa::Buffer::new();
        let size = digits.format(hdr.len()).as_bytes();
        let line = MsgLine { subject: reply, sid: &sub.sid, reply: None, header_size: Some(size), size };
        match core.conn.outbound.push_msg(&line, &hdr, WhenBehind::Queue) {
            Pushed::Queued | Pushed::QueuedBehind => {
                let conn = core.conn.clone();
                core.fanout.wake_later(&conn);
            }
            Pushed::SlowConsumer => core.conn.slow_consumer_pending(),
            Pushed::Dropped | Pushed::Closed => {}
        }
    }

    /// The publish permission check, cached per subject; replies granted by
    /// `allow_responses` are checked (and counted) every time.
    fn can_publish(&mut self, core: &Core, subject: &[u8]) -> bool {
        // Borrowed, not cloned: an `Arc` clone is two shared-counter
        // writes per message.
        let Some(perms) = &self.identity.permissions else { return true };
        let allowed = match self.pub_allowed.get(subject) {
            Some(&a) => a,
            None => {
                let a = perms.publish.allows(subject);
                if self.pub_allowed.len() >= PUB_CACHE_CAPACITY {
                    self.pub_allowed.clear();
                }
                self.pub_allowed.insert(subject.into(), a);
                a
            }
        };
        if allowed {
            return true;
        }
        match &perms.responses {
            Some(rule) => core.conn.replies.use_grant(subject, rule),
            None => false,
        }
    }

    /// SUB, in nats-server's order: permissions, the subscription limit,
    /// then a sid already in use is ignored (before its subject is looked
    /// at), then the subject check the index makes on insert.
    fn on_sub(&mut self, core: &mut Core, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let mut deny_filter = None;
        if queue == Some(SYSTEM_QUEUE) {
            self.sub_violation(core, subject, queue, sid);
            return;
        }
        if let Some(perms) = self.perms().cloned() {
            if !perms.subscribe.allows_sub(subject, queue) {
                self.sub_violation(core, subject, queue, sid);
                return;
            }
            deny_filter = perms.subscribe.overlapping_denies(subject);
        }
        let max_subs = self.max_subscriptions(core);
        if max_subs > 0 && core.conn.num_subs() >= max_subs {
            match self.identity.user.as_deref() {
                Some(_) => error!("{} - {} - {}", core.conn.log_prefix, self.user_tag, ERR_MAX_SUBSCRIPTIONS),
                None => error!("{} - {}", core.conn.log_prefix, ERR_MAX_SUBSCRIPTIONS),
            }
            core.send_err(ERR_MAX_SUBSCRIPTIONS);
            return;
        }
        match core.conn.subscribe(subject, queue, sid, deny_filter) {
            Subscribed::InvalidSubject => {
                core.send_err(ERR_INVALID_SUBJECT);
                return;
            }
            // Looked up again only for shadows: another lock, hash and
            // reference count per SUB otherwise.
            Subscribed::Added if self.imports_streams() => {
                if let Some(sub) = core.conn.subscription(sid) {
                    self.add_import_shadows(core, &sub);
                }
            }
            Subscribed::Added => {}
            Subscribed::AlreadyThere | Subscribed::TooMany => {}
        }
        self.send_ok(core);
    }

    fn sub_violation(&self, core: &mut Core, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let s = go_quote(subject);
        let sid_text = String::from_utf8_lossy(sid);
        let prefix = &core.conn.log_prefix;
        match queue {
            Some(q) => {
                let q = go_quote(q);
                error!(
                    "{prefix} - {} - Subscription Violation - Subject {s}, Queue: {q}, SID {sid_text}",
                    self.user_tag
                );
                core.send_err(&format!("Permissions Violation for Subscription to {s} using queue {q}"));
            }
            None => {
                error!("{prefix} - {} - Subscription Violation - Subject {s}, SID {sid_text}", self.user_tag);
                core.send_err(&format!("Permissions Violation for Subscription to {s}"));
            }
        }
    }

    fn on_unsub(&mut self, core: &mut Core, sid: &[u8], max: Option<u64>) {
        let sub = core.conn.subscription(sid);
        if let Some(sub) = sub {
            match max {
                Some(m) if m > sub.delivered() => sub.set_max(m),
                _ => core.conn.remove_subscription(&sub),
            }
        }
        self.send_ok(core);
    }

    /// The server entered lame duck mode: clients that take asynchronous
    /// INFO (protocol 1) get one with `"ldm":true`, once, and prepare to
    /// reconnect elsewhere.
    fn announce_lame_duck(&mut self, core: &mut Core) {
        if self.ldm_announced || self.opts.protocol < 1 || core.phase != Phase::Authenticated {
            return;
        }
        self.ldm_announced = true;
        let mut info = core.server.client_info(&core.snap, &core.conn, self.nonce.as_deref());
        info.ldm = true;
        // Only the other servers: this one is about to go.
        if let Some(cluster) = core.server.cluster() {
            info.connect_urls =
                if core.conn.websocket { cluster.remote_ws_connect_urls() } else { cluster.remote_connect_urls() };
        }
        core.send(&info.to_line());
    }

    /// Parses the op at the start of `buf` and serves it, unless it is a
    /// CONNECT: that one's JSON and length come back for an await.
    fn serve_op<'a>(
        &mut self,
        core: &mut Core,
        buf: &'a [u8],
        cut: Option<Cut<'a>>,
    ) -> Result<Step, (&'a [u8], usize)> {
        Ok(match proto::parse_split(buf, &core.limits, cut) {
            Ok(Parsed::Op(op, used)) => match self.on_op(core, op) {
                Ok(None) => Step::Served(used),
                Ok(Some(json)) => return Err((json, used)),
                Err(reason) => Step::Close(reason),
            },
            Ok(Parsed::Incomplete { need }) => Step::Need(need),
            Ok(Parsed::AwaitingPayload { subject, need }) => {
                self.on_payload_pending(core, subject);
                Step::Need(need)
            }
            Err(e) => {
                if let ParseError::UnknownOp { pub_subject, .. } = &e {
                    self.on_pub_parse_error(core, pub_subject.as_deref());
                }
                Step::Close(parse_error(core, e))
            }
        })
    }
}

impl Role for ClientState {
    fn opened(&mut self, core: &mut Core) {
        debug!("{} - Client connection created", core.conn.log_prefix);
    }

    fn closed(&mut self, core: &Core, reason: CloseReason) {
        debug!("{} - Client connection closed: {}", core.conn.log_prefix, reason.as_str());
    }

    async fn on_op_start(&mut self, core: &mut Core, first: u8) -> Result<(), CloseReason> {
        Box::pin(self.before_connect(core, first)).await
    }

    async fn next_op(&mut self, core: &mut Core, buf: &[u8], cut: Option<Cut<'_>>) -> Step {
        match self.serve_op(core, buf, cut) {
            Ok(step) => step,
            // Boxed, as every rare await of a session (login, reload):
            // the session's future, which every idle connection holds for
            // its life, is then as small as its per-message path needs.
            Err((json, used)) => match Box::pin(self.on_connect(core, json)).await {
                Ok(()) => Step::Served(used),
                Err(reason) => Step::Close(reason),
            },
        }
    }

    async fn on_new_snapshot(&mut self, core: &mut Core, old: &Arc<Snapshot>) -> Result<Effect, CloseReason> {
        Box::pin(self.revalidate(core, old)).await
    }

    async fn on_wakeup(&mut self, core: &mut Core) -> Result<(), CloseReason> {
        // A claim update replaced the account's rules: re-checked exactly
        // as a reload would (one mechanism for both).
        if core.phase == Phase::Authenticated && !Arc::ptr_eq(&self.tenancy.rules, &self.tenancy.account.config()) {
            let snap = core.snap.clone();
            return Box::pin(self.revalidate(core, &snap)).await.map(drop);
        }
        Ok(())
    }

    fn on_lame_duck(&mut self, core: &mut Core) {
        self.announce_lame_duck(core);
    }
}

/// The close of a client's session for a parse error, with the `-ERR`
/// nats-server sends first.
fn parse_error(core: &mut Core, e: ParseError) -> CloseReason {
    error!("{} - {}", core.conn.log_prefix, e);
    match e {
        ParseError::UnknownOp { .. } => {
            core.send_err(ERR_UNKNOWN_OP);
            // nats-server closes every parse error as a protocol violation.
            CloseReason::ProtocolViolation
        }
        ParseError::MaxControlLine => {
            core.send_err(ERR_MAX_CONTROL_LINE);
            CloseReason::MaxControlLineExceeded
        }
        ParseError::MaxPayload { .. } => {
            core.send_err(ERR_MAX_PAYLOAD);
            CloseReason::MaxPayloadExceeded
        }
        ParseError::BadArgs { .. } | ParseError::HeadersNotSupported => CloseReason::ProtocolViolation,
    }
}

/// Tests only: a publish to this subject panics in the session, to show
/// that a failed session is retired like any other (`retire.rs`).
#[cfg(test)]
const INJECTED_PANIC_SUBJECT: &[u8] = b"rnats.test.panic";
#[cfg(test)]
pub(crate) const INJECTED_PANIC: &[u8] = b"PUB rnats.test.panic 0\r\n\r\n";
