//! The client role of a session: what CONNECT, PUB, SUB, UNSUB, PING and
//! PONG from an application mean, with nats-server's answers.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::error;

use super::trace::trace_in;
use super::{Core, Phase};
use crate::secret::Secret;
use crate::server::auth::{given, given_secret, Identity, Revalidation};
use crate::server::conn::Subscription;
use crate::server::deliver::{Message, Publisher};
use crate::server::errors::*;
use crate::server::info::ConnectOpts;
use crate::server::outbound::{MsgLine, Pushed, WhenBehind};
use crate::server::permissions::CompiledPermissions;
use crate::server::proto::{Op, Publish};
use crate::server::snapshot::Snapshot;
use crate::server::subject::{is_valid_literal_subject, is_valid_sub_subject};
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
    pub_allowed: HashMap<Box<[u8]>, bool>,
    /// Whether the client was told of lame duck mode.
    ldm_announced: bool,
    /// What the TLS handshake negotiated (with the client's certificates,
    /// for `verify_and_map`); `None` on a plain connection.
    tls: Option<Negotiated>,
    /// A websocket client's cookies (`user_cookie`, ...): they stand in for
    /// credentials its CONNECT leaves out.
    cookies: Option<Box<crate::websocket::handshake::Cookies>>,
}

impl ClientState {
    pub fn new(nonce: Option<String>, tls: Option<Negotiated>) -> ClientState {
        ClientState {
            opts: ConnectOpts::default(),
            headers: false,
            connect_received: false,
            first_pong_sent: false,
            pub_line_checked: false,
            nonce,
            identity: Identity::default(),
            user_tag: String::new(),
            pub_allowed: HashMap::new(),
            ldm_announced: false,
            tls,
            cookies: None,
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

    /// The first byte of an op while the client must still authenticate:
    /// nats-server refuses anything but a CONNECT right there, before the
    /// rest of the op is read, unless `no_auth_user` can serve it.
    pub async fn on_op_start(&mut self, core: &mut Core, first: u8) -> Result<(), CloseReason> {
        if first.eq_ignore_ascii_case(&b'c') {
            return Ok(());
        }
        if core.auth().no_auth_user_serves_ops() {
            // Authenticated as if it had sent `CONNECT {}` (so a CONNECT
            // after this is a later one, which drops subscriptions).
            self.connect_received = true;
            if let Some(identity) = authenticate(core, &self.opts, self.nonce.as_deref()).await {
                self.admit(core, identity);
                return Ok(());
            }
        }
        Err(self.auth_violation(core))
    }

    pub async fn on_op(&mut self, core: &mut Core, op: Op<'_>) -> Result<(), CloseReason> {
        if core.trace {
            trace_in(&core.conn.log_prefix, &op);
        }
        #[cfg(test)]
        if matches!(&op, Op::Pub(p) if p.subject == INJECTED_PANIC_SUBJECT) {
            panic!("injected by a test");
        }
        match op {
            Op::Connect(json) => self.on_connect(core, json).await,
            Op::Pub(p) => self.on_pub(core, p),
            Op::Sub { subject, queue, sid } => {
                core.fanout.batch.subs += 1;
                self.on_sub(core, subject, queue, sid);
                Ok(())
            }
            Op::Unsub { sid, max } => {
                core.fanout.batch.subs += 1;
                self.on_unsub(core, sid, max);
                Ok(())
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
                        info.remote_account = core.conn.account.name.to_string();
                        core.send(&info.to_line());
                    }
                }
                Ok(())
            }
            Op::Pong => {
                core.on_pong();
                Ok(())
            }
            Op::Info | Op::Ok => Ok(()),
            Op::Err(text) => {
                error!("{} - Client Error {}", core.conn.log_prefix, String::from_utf8_lossy(text));
                Err(CloseReason::ClientClosed)
            }
        }
    }

    /// The control line of a PUB or HPUB to `subject` is in, its payload
    /// not yet. nats-server checks the line as it arrives, and once more
    /// when a read ends with the payload incomplete (it parses the saved
    /// arguments again), so a pedantic client hears of a bad subject twice.
    pub fn on_payload_pending(&mut self, core: &mut Core, subject: &[u8]) {
        if std::mem::replace(&mut self.pub_line_checked, true) {
            return;
        }
        self.check_pub_line(core, subject);
        self.check_pub_line(core, subject);
    }

    /// The parser failed; for a bad payload, the control line's checks come
    /// first, as they did in the reference when the line arrived.
    pub fn on_parse_error(&mut self, core: &mut Core, pub_subject: Option<&[u8]>) {
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

    /// nats-server's name for the client in authentication errors.
    fn auth_user_text(&self) -> String {
        match (given(&self.opts.nkey), given(&self.opts.user), given_secret(&self.opts.auth_token)) {
            (Some(nkey), _, _) => format!("Nkey {}", go_quote(nkey.as_bytes())),
            (None, Some(user), _) => format!("User {}", go_quote(user.as_bytes())),
            (None, None, Some(_)) => format!("Token \"{}\"", crate::secret::REDACTED),
            _ => "User \"N/A\"".to_string(),
        }
    }

    fn auth_violation(&self, core: &mut Core) -> CloseReason {
        error!("{} - authentication error - {}", core.conn.log_prefix, self.auth_user_text());
        core.send_err(ERR_AUTH_VIOLATION);
        CloseReason::AuthenticationViolation
    }

    /// CONNECT, in nats-server's order: merge the JSON into the options; on
    /// a later CONNECT drop every subscription; check the credentials;
    /// refuse `account`/`new_account`; then the protocol version and
    /// `no_responders` without headers.
    async fn on_connect(&mut self, core: &mut Core, json: &[u8]) -> Result<(), CloseReason> {
        if let Err(e) = self.opts.apply_json(json) {
            // The parser accepted the JSON, so this does not happen.
            error!("{} - {e}", core.conn.log_prefix);
            return Err(CloseReason::ProtocolViolation);
        }
        if let Some(c) = &self.cookies {
            // nats-server fills what the CONNECT left empty from the cookies.
            let fill = |field: &mut Option<String>, cookie: &Option<String>| {
                if given(field).is_none() && cookie.is_some() {
                    *field = cookie.clone();
                }
            };
            let fill_secret = |field: &mut Option<Secret>, cookie: &Option<Secret>| {
                if given_secret(field).is_none() && cookie.is_some() {
                    *field = cookie.clone();
                }
            };
            fill(&mut self.opts.user, &c.user);
            fill_secret(&mut self.opts.pass, &c.pass);
            fill_secret(&mut self.opts.auth_token, &c.token);
            fill(&mut self.opts.jwt, &c.jwt);
        }
        let later = std::mem::replace(&mut self.connect_received, true);
        self.headers = self.opts.headers && !core.snap.opts.no_header_support;
        core.limits.headers = self.headers;
        if later {
            core.conn.remove_all_subscriptions();
        }
        // What monitoring shows, recorded before authentication as
        // nats-server does, so a refused client is listed (in the closed
        // connections) with the name and user it tried.
        let o = &self.opts;
        core.conn.record_connect(o.name.as_deref(), o.lang.as_deref(), o.version.as_deref(), raw_auth_user(o));
        let identity =
            if core.auth_required { self.authenticate(core, &self.opts).await } else { Some(Identity::default()) };
        let Some(identity) = identity else {
            return Err(self.auth_violation(core));
        };
        if self.opts.new_account || self.opts.account.as_deref().is_some_and(|a| !a.is_empty()) {
            return Err(self.auth_violation(core));
        }
        self.admit(core, identity);
        if !(0..=1).contains(&self.opts.protocol) {
            error!("{} - {}", core.conn.log_prefix, ERR_INVALID_PROTOCOL);
            core.send_err(ERR_INVALID_PROTOCOL);
            return Err(CloseReason::BadClientProtocolVersion);
        }
        if self.opts.no_responders && !self.headers {
            error!("{} - {}", core.conn.log_prefix, ERR_NO_RESPONDERS_NEEDS_HEADERS);
            core.send_err(ERR_NO_RESPONDERS_NEEDS_HEADERS);
            return Err(CloseReason::NoRespondersRequiresHeaders);
        }
        self.send_ok(core);
        Ok(())
    }

    /// The client is authenticated as `identity`.
    fn admit(&mut self, core: &mut Core, identity: Identity) {
        identity.fill_no_auth_credentials(&mut self.opts);
        self.user_tag = match &identity.user {
            Some(user) => format!("\"{}/user:{user}\"", core.conn.account.name),
            None => String::new(),
        };
        core.conn.replies.configure(identity.permissions.as_ref().and_then(|p| p.responses.as_ref()));
        self.identity = identity;
        self.pub_allowed.clear();
        core.conn.set_headers(self.headers);
        if let Some(user) = &self.identity.user {
            // `no_auth_user`: the client sent no credentials of its own.
            let mut meta = core.conn.meta.lock().unwrap_or_else(|e| e.into_inner());
            if meta.user.is_empty() {
                meta.user = user.clone();
            }
        }
        core.phase = Phase::Authenticated;
    }

    fn on_pub(&mut self, core: &mut Core, p: Publish<'_>) -> Result<(), CloseReason> {
        core.fanout.batch.in_msgs += 1;
        core.fanout.batch.in_bytes += p.payload.len() as u64;
        if !std::mem::take(&mut self.pub_line_checked) {
            self.check_pub_line(core, p.subject);
        }
        if !self.can_publish(core, p.subject) {
            let subject = go_quote(p.subject);
            error!("{} - {} - Publish Violation - Subject {subject}", core.conn.log_prefix, self.user_tag);
            core.send_err(&format!("Permissions Violation for Publish to {subject}"));
            return Ok(());
        }
        self.send_ok(core);
        let msg = Message {
            subject: p.subject,
            reply: p.reply,
            header_len: p.header_len,
            payload: p.payload,
            size_text: p.size_text,
            header_text: p.header_text,
        };
        let when_behind = if core.snap.opts.no_fast_producer_stall { WhenBehind::Drop } else { WhenBehind::Stall };
        let from = Publisher { conn: &core.conn, echo: self.opts.echo, when_behind };
        let delivered = core.fanout.publish(&core.conn.account, &msg, from);
        if !delivered && self.opts.no_responders {
            if let Some(reply) = p.reply {
                self.send_no_responders(core, p.subject, reply);
            }
        }
        Ok(())
    }

    /// The 503 status a requester gets when nobody is subscribed: sent to the
    /// requester's own subscription on the reply subject, as the reference does.
    fn send_no_responders(&self, core: &mut Core, subject: &[u8], reply: &[u8]) {
        let result = core.conn.account.sublist.match_subject(reply);
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
        let Some(perms) = self.identity.permissions.clone() else { return true };
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
        let max_subs = core.snap.opts.max_subscriptions;
        if max_subs > 0 && core.conn.num_subs() >= max_subs {
            error!("{} - {}", core.conn.log_prefix, ERR_MAX_SUBSCRIPTIONS);
            core.send_err(ERR_MAX_SUBSCRIPTIONS);
            return;
        }
        let conn = core.conn.clone();
        let mut subs = conn.subs.lock().unwrap_or_else(|e| e.into_inner());
        if !subs.contains_key(sid) {
            let inserted = is_valid_sub_subject(subject) && {
                let sub = Arc::new(Subscription::new(conn.clone(), subject, queue, sid, deny_filter));
                let ok = conn.account.subscribe(&sub).is_ok();
                if ok {
                    subs.insert(sid.into(), sub);
                }
                ok
            };
            if !inserted {
                drop(subs);
                core.send_err(ERR_INVALID_SUBJECT);
                return;
            }
        }
        drop(subs);
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
        let sub = core.conn.subs.lock().unwrap_or_else(|e| e.into_inner()).get(sid).cloned();
        if let Some(sub) = sub {
            match max {
                Some(m) if m > sub.delivered() => sub.set_max(m),
                _ => core.conn.remove_subscription(&sub),
            }
        }
        self.send_ok(core);
    }

    /// A new configuration is in place: check this client's credentials and
    /// permissions against it, as nats-server's reload does. A removed user
    /// is closed without an error; credentials that no longer hold get
    /// 'Authorization Violation'; subscriptions no longer allowed are
    /// removed with a permissions error, and the connection stays.
    pub async fn on_new_snapshot(&mut self, core: &mut Core, old: &Arc<Snapshot>) -> Result<(), CloseReason> {
        self.pub_allowed.clear();
        core.auth_required = core.auth().required();
        if core.phase != Phase::Authenticated {
            return Ok(());
        }
        let same = |a: Option<&Arc<CompiledPermissions>>, b: Option<&Arc<CompiledPermissions>>| match (a, b) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        let previous = match core.auth().revalidate(&self.identity) {
            Revalidation::Valid(permissions) => {
                if same(self.identity.permissions.as_ref(), permissions) {
                    None
                } else {
                    let now = permissions.cloned();
                    Some(std::mem::replace(&mut self.identity.permissions, now))
                }
            }
            Revalidation::Anonymous => Some(std::mem::take(&mut self.identity).permissions),
            Revalidation::Removed => return Err(self.user_removed(core)),
            Revalidation::Recheck => match self.authenticate(core, &self.opts).await {
                Some(identity) => {
                    identity.fill_no_auth_credentials(&mut self.opts);
                    Some(std::mem::replace(&mut self.identity, identity).permissions)
                }
                None => {
                    let user = self.identity.user.clone();
                    if user.as_deref().is_some_and(|u| !core.auth().has_user(u)) {
                        return Err(self.user_removed(core));
                    }
                    return Err(self.auth_violation(core));
                }
            },
        };
        // `previous` is still held here, so its address cannot be reused.
        let perms_changed = previous.is_some_and(|p| !same(p.as_ref(), self.identity.permissions.as_ref()));
        if perms_changed {
            core.conn.replies.configure(self.perms().and_then(|p| p.responses.as_ref()));
            self.recheck_subscriptions(core);
        }
        if self.opts.protocol >= 1 && old.opts.max_payload != core.snap.opts.max_payload {
            // Clients size their publishes by the INFO they were given.
            let info = core.server.client_info(&core.snap, &core.conn, self.nonce.as_deref());
            core.send(&info.to_line());
        }
        Ok(())
    }

    fn user_removed(&self, core: &mut Core) -> CloseReason {
        let user = self.identity.user.as_deref().unwrap_or_default();
        tracing::info!("{} - User {user:?} was removed from the configuration, closing", core.conn.log_prefix);
        CloseReason::ClientClosed
    }

    /// Drops the subscriptions the client's new permissions no longer allow,
    /// and refreshes the deny filters of the wildcard ones that stay.
    fn recheck_subscriptions(&mut self, core: &mut Core) {
        let subs: Vec<Arc<Subscription>> =
            core.conn.subs.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        let perms = self.perms().cloned();
        for sub in subs {
            let queue = sub.queue.as_deref();
            let Some(perms) = &perms else {
                if sub.deny_filter.is_some() {
                    core.conn.refilter_subscription(&sub, None);
                }
                continue;
            };
            if !perms.subscribe.allows_sub(&sub.subject, queue) {
                core.conn.remove_subscription(&sub);
                let (subject, sid) = (go_quote(&sub.subject), go_quote(&sub.sid));
                let user = self.auth_user_text();
                match queue.map(go_quote) {
                    Some(q) => {
                        core.send_err(&format!(
                            "Permissions Violation for Subscription to {subject} using queue {q} (sid {sid})"
                        ));
                        tracing::info!("Removed sub {subject} using queue {q} (sid {sid}) for {user} - not authorized");
                    }
                    None => {
                        core.send_err(&format!("Permissions Violation for Subscription to {subject} (sid {sid})"));
                        tracing::info!("Removed sub {subject} (sid {sid}) for {user} - not authorized");
                    }
                }
                continue;
            }
            let filter = perms.subscribe.overlapping_denies(&sub.subject);
            let same = match (&sub.deny_filter, &filter) {
                (Some(a), Some(b)) => a.filters == b.filters,
                (None, None) => true,
                _ => false,
            };
            if !same {
                core.conn.refilter_subscription(&sub, filter);
            }
        }
    }

    /// Who the client is under the session's snapshot: from its TLS client
    /// certificate with `verify_and_map`, else from its CONNECT credentials.
    async fn authenticate(&self, core: &Core, c: &ConnectOpts) -> Option<Identity> {
        let tls = match (core.conn.websocket, &core.snap.opts.websocket) {
            (true, Some(w)) => w.tls.as_ref(),
            (false, _) => core.snap.opts.tls.as_ref(),
            (true, None) => None,
        };
        let map_cert = tls.is_some_and(|t| t.verify_and_map);
        if !map_cert {
            return authenticate(core, c, self.nonce.as_deref()).await;
        }
        if let Some(user) = &c.user {
            tracing::warn!(
                "{} - User {user:?} found in connect proto, but user required from cert",
                core.conn.log_prefix
            );
        }
        let certs = self.tls.as_ref().map(|t| t.peer_certs.as_slice()).unwrap_or_default();
        let auth = core.auth();
        let mapped = crate::tls::map_peer_certs(certs, &auth.cert_candidates());
        for line in &mapped.debug {
            tracing::debug!("{} - {line}", core.conn.log_prefix);
        }
        auth.cert_identity(mapped.user?.0)
    }

    /// The server entered lame duck mode: clients that take asynchronous
    /// INFO (protocol 1) get one with `"ldm":true`, once, and prepare to
    /// reconnect elsewhere.
    pub fn on_lame_duck(&mut self, core: &mut Core) {
        if self.ldm_announced || self.opts.protocol < 1 || core.phase != Phase::Authenticated {
            return;
        }
        self.ldm_announced = true;
        let mut info = core.server.client_info(&core.snap, &core.conn, self.nonce.as_deref());
        info.ldm = true;
        // Only the other servers: this one is about to go.
        if let Some(cluster) = &core.server.cluster {
            info.connect_urls =
                if core.conn.websocket { cluster.remote_ws_connect_urls() } else { cluster.remote_connect_urls() };
        }
        core.send(&info.to_line());
    }
}

/// The user `/connz?auth=1` shows, from the CONNECT as sent (nats-server's
/// `getRawAuthUser`): the nkey, the user name, or `[REDACTED]` for a token.
fn raw_auth_user(c: &ConnectOpts) -> Option<&str> {
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|v| !v.is_empty())
    }
    let token = crate::server::auth::given_secret(&c.auth_token);
    set(&c.nkey).or(set(&c.user)).or(token.map(|_| crate::secret::REDACTED))
}

/// Checks the CONNECT credentials against the session's snapshot. bcrypt
/// checks run on the blocking pool, at most (cores - 1) at once, so a storm
/// of logins leaves CPU for message traffic.
async fn authenticate(core: &Core, c: &ConnectOpts, nonce: Option<&str>) -> Option<Identity> {
    let snap = core.snap.clone();
    let websocket = core.conn.websocket;
    if !snap.auth_for(websocket).needs_blocking(c) {
        return snap.auth_for(websocket).authenticate(c, nonce);
    }
    let slots = core.server.bcrypt_slots.clone();
    let (creds, nonce) = (c.clone(), nonce.map(str::to_string));
    let _slot = slots.acquire_owned().await.ok()?;
    tokio::task::spawn_blocking(move || snap.auth_for(websocket).authenticate(&creds, nonce.as_deref()))
        .await
        .ok()
        .flatten()
}

/// Tests only: a publish to this subject panics in the session, to show
/// that a failed session is retired like any other (`retire.rs`).
#[cfg(test)]
const INJECTED_PANIC_SUBJECT: &[u8] = b"rnats.test.panic";
#[cfg(test)]
pub(crate) const INJECTED_PANIC: &[u8] = b"PUB rnats.test.panic 0\r\n\r\n";
