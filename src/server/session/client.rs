//! The client role of a session: what CONNECT, PUB, SUB, UNSUB, PING and
//! PONG from an application mean, with nats-server's answers.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::error;

use super::trace::trace_in;
use super::{Core, Phase};
use crate::server::auth::{Identity, Revalidation};
use crate::server::conn::Subscription;
use crate::server::deliver::{Message, Publisher};
use crate::server::errors::*;
use crate::server::info::ConnectOpts;
use crate::server::outbound::Pushed;
use crate::server::permissions::CompiledPermissions;
use crate::server::proto::{Op, Publish};
use crate::server::snapshot::Snapshot;
use crate::server::subject::{is_valid_literal_subject, is_valid_subject};

/// Publish permission results cached per subject, at most.
const PUB_CACHE_CAPACITY: usize = 256;

/// A client connection's private state.
pub(crate) struct ClientState {
    verbose: bool,
    pedantic: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
    protocol: i64,
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
    /// Whether the asynchronous INFO that follows the first PONG went out.
    connect_info_sent: bool,
    /// The accepted CONNECT, kept so that a reload that changes this
    /// client's credentials can check them again.
    connect: Option<ConnectOpts>,
}

impl ClientState {
    pub fn new(nonce: Option<String>) -> ClientState {
        let defaults = ConnectOpts::default();
        ClientState {
            verbose: defaults.verbose,
            pedantic: defaults.pedantic,
            echo: defaults.echo,
            headers: false,
            no_responders: false,
            protocol: 0,
            nonce,
            identity: Identity::default(),
            user_tag: String::new(),
            pub_allowed: HashMap::new(),
            connect_info_sent: false,
            connect: None,
        }
    }

    fn perms(&self) -> Option<&Arc<CompiledPermissions>> {
        self.identity.permissions.as_ref()
    }

    fn send_ok(&self, core: &mut Core) {
        if self.verbose {
            core.send(b"+OK\r\n");
        }
    }

    pub async fn on_op(&mut self, core: &mut Core, op: Op<'_>) -> Result<(), CloseReason> {
        if core.trace {
            trace_in(&core.conn.log_prefix, &op);
        }
        if core.auth_required && core.phase != Phase::Authenticated && !matches!(op, Op::Connect(_)) {
            return Err(self.auth_violation(core, None));
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
                if core.phase == Phase::Authenticated && self.protocol >= 1 && !self.connect_info_sent {
                    // The reference follows the first PONG with an INFO that
                    // confirms the CONNECT was processed.
                    self.connect_info_sent = true;
                    let mut info =
                        core.server.client_info(&core.snap, core.conn.cid, core.conn.addr, self.nonce.as_deref());
                    info.connect_info = true;
                    info.remote_account = core.conn.account.name.to_string();
                    core.send(&info.to_line());
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

    fn auth_violation(&self, core: &mut Core, user: Option<&str>) -> CloseReason {
        match user {
            Some(u) => error!("{} - authentication error - User {:?}", core.conn.log_prefix, u),
            None => error!("{} - authentication error", core.conn.log_prefix),
        }
        core.send_err(ERR_AUTH_VIOLATION);
        CloseReason::AuthenticationViolation
    }

    async fn on_connect(&mut self, core: &mut Core, json: &[u8]) -> Result<(), CloseReason> {
        let c: ConnectOpts = match serde_json::from_slice(json) {
            Ok(c) => c,
            Err(e) => {
                // Not `e` itself: serde_json quotes the offending value, which
                // may be a password or token sent with the wrong type.
                error!("{} - invalid CONNECT JSON at line {}, column {}", core.conn.log_prefix, e.line(), e.column());
                return Err(CloseReason::ProtocolViolation);
            }
        };
        if !(0..=1).contains(&c.protocol) {
            error!("{} - {}", core.conn.log_prefix, ERR_INVALID_PROTOCOL);
            core.send_err(ERR_INVALID_PROTOCOL);
            return Err(CloseReason::BadClientProtocolVersion);
        }
        if c.no_responders && !c.headers {
            error!("{} - {}", core.conn.log_prefix, ERR_NO_RESPONDERS_NEEDS_HEADERS);
            core.send_err(ERR_NO_RESPONDERS_NEEDS_HEADERS);
            return Err(CloseReason::NoRespondersRequiresHeaders);
        }
        // What monitoring shows, recorded before authentication as
        // nats-server does, so a refused client is listed (in the closed
        // connections) with the name and user it tried.
        core.conn.record_connect(c.name.as_deref(), c.lang.as_deref(), c.version.as_deref(), raw_auth_user(&c));
        let identity = if core.auth_required {
            authenticate(core, &c, self.nonce.as_deref()).await
        } else {
            Some(Identity::default())
        };
        let Some(identity) = identity else {
            return Err(self.auth_violation(core, c.user.as_deref()));
        };
        if let Some(user) = &identity.user {
            self.user_tag = format!("\"{}/user:{user}\"", core.conn.account.name);
        }
        core.conn.replies.configure(identity.permissions.as_ref().and_then(|p| p.responses.as_ref()));
        self.identity = identity;
        self.pub_allowed.clear();
        self.connect = Some(c.clone());
        self.verbose = c.verbose;
        self.pedantic = c.pedantic;
        self.echo = c.echo;
        self.protocol = c.protocol;
        self.headers = c.headers && !core.snap.opts.no_header_support;
        self.no_responders = c.no_responders && self.headers;
        core.conn.set_headers(self.headers);
        if let Some(user) = &self.identity.user {
            // `no_auth_user`: the client sent no credentials of its own.
            let mut meta = core.conn.meta.lock().unwrap_or_else(|e| e.into_inner());
            if meta.user.is_empty() {
                meta.user = user.clone();
            }
        }
        core.phase = Phase::Authenticated;
        self.send_ok(core);
        Ok(())
    }

    fn on_pub(&mut self, core: &mut Core, p: Publish<'_>) -> Result<(), CloseReason> {
        if p.header_len.is_some() && !self.headers {
            error!("{} - message headers not supported", core.conn.log_prefix);
            return Err(CloseReason::ProtocolViolation);
        }
        core.fanout.batch.in_msgs += 1;
        core.fanout.batch.in_bytes += p.payload.len() as u64;
        if self.pedantic && !is_valid_literal_subject(p.subject) {
            // The reference reports it and still delivers the message.
            core.send_err(ERR_INVALID_PUB_SUBJECT);
        }
        if !self.can_publish(core, p.subject) {
            let subject = String::from_utf8_lossy(p.subject);
            error!("{} - {} - Publish Violation - Subject {:?}", core.conn.log_prefix, self.user_tag, subject);
            core.send_err(&format!("Permissions Violation for Publish to {subject:?}"));
            return Ok(());
        }
        self.send_ok(core);
        let msg = Message { subject: p.subject, reply: p.reply, header_len: p.header_len, payload: p.payload };
        let from = Publisher { conn: &core.conn, echo: self.echo, max_pending: core.snap.opts.max_pending };
        let delivered = core.fanout.publish(&core.conn.account, &msg, from);
        if !delivered && self.no_responders {
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
        let pushed = core.conn.outbound.push_msg(reply, &sub.sid, None, Some(hdr.len()), &hdr, usize::MAX);
        if pushed == Pushed::Queued {
            let conn = core.conn.clone();
            core.fanout.wake_later(&conn);
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

    fn on_sub(&mut self, core: &mut Core, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let mut deny_filter = None;
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
        if !is_valid_subject(subject) {
            core.send_err(ERR_INVALID_SUBJECT);
            return;
        }
        let conn = core.conn.clone();
        // A sid already in use is ignored, as the reference does.
        let mut subs = conn.subs.lock().unwrap_or_else(|e| e.into_inner());
        if !subs.contains_key(sid) {
            let sub = Arc::new(Subscription::new(conn.clone(), subject, queue, sid, deny_filter));
            if conn.account.sublist.insert(subject, queue, sub.clone()).is_err() {
                drop(subs);
                core.send_err(ERR_INVALID_SUBJECT);
                return;
            }
            subs.insert(sid.into(), sub);
        }
        drop(subs);
        self.send_ok(core);
    }

    fn sub_violation(&self, core: &mut Core, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let s = String::from_utf8_lossy(subject);
        let sid_text = String::from_utf8_lossy(sid);
        let prefix = &core.conn.log_prefix;
        match queue {
            Some(q) => {
                let q = String::from_utf8_lossy(q);
                error!(
                    "{prefix} - {} - Subscription Violation - Subject {s:?}, Queue: {q:?}, SID {sid_text}",
                    self.user_tag
                );
                core.send_err(&format!("Permissions Violation for Subscription to {s:?} using queue {q:?}"));
            }
            None => {
                error!("{prefix} - {} - Subscription Violation - Subject {s:?}, SID {sid_text}", self.user_tag);
                core.send_err(&format!("Permissions Violation for Subscription to {s:?}"));
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
        core.auth_required = core.snap.auth.required();
        if core.phase != Phase::Authenticated {
            return Ok(());
        }
        let identity = match core.snap.auth.revalidate(&self.identity) {
            Revalidation::Valid(identity) => identity,
            Revalidation::Removed => return Err(self.user_removed(core)),
            Revalidation::Recheck => {
                let checked = match self.connect.clone() {
                    Some(c) => authenticate(core, &c, self.nonce.as_deref()).await,
                    None => None,
                };
                match checked {
                    Some(identity) => identity,
                    None => {
                        let user = self.identity.user.clone();
                        if user.as_deref().is_some_and(|u| !core.snap.auth.has_user(u)) {
                            return Err(self.user_removed(core));
                        }
                        return Err(self.auth_violation(core, user.as_deref()));
                    }
                }
            }
        };
        let perms_changed = match (&self.identity.permissions, &identity.permissions) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (None, None) => false,
            _ => true,
        };
        self.identity = identity;
        if perms_changed {
            core.conn.replies.configure(self.perms().and_then(|p| p.responses.as_ref()));
            self.recheck_subscriptions(core);
        }
        if self.protocol >= 1 && old.opts.max_payload != core.snap.opts.max_payload {
            // Clients size their publishes by the INFO they were given.
            let info = core.server.client_info(&core.snap, core.conn.cid, core.conn.addr, self.nonce.as_deref());
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
                let subject = String::from_utf8_lossy(&sub.subject);
                let sid = String::from_utf8_lossy(&sub.sid);
                let user = format!("User {:?}", self.identity.user.as_deref().unwrap_or_default());
                match queue.map(String::from_utf8_lossy) {
                    Some(q) => {
                        core.send_err(&format!(
                            "Permissions Violation for Subscription to {subject:?} using queue {q:?} (sid {sid:?})"
                        ));
                        tracing::info!(
                            "Removed sub {subject:?} using queue {q:?} (sid {sid:?}) for {user} - not authorized"
                        );
                    }
                    None => {
                        core.send_err(&format!("Permissions Violation for Subscription to {subject:?} (sid {sid:?})"));
                        tracing::info!("Removed sub {subject:?} (sid {sid:?}) for {user} - not authorized");
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
}

/// The user `/connz?auth=1` shows, from the CONNECT as sent (nats-server's
/// `getRawAuthUser`): the nkey, the user name, or `[REDACTED]` for a token.
fn raw_auth_user(c: &ConnectOpts) -> Option<&str> {
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|v| !v.is_empty())
    }
    set(&c.nkey).or(set(&c.user)).or(set(&c.auth_token).map(|_| crate::options::REDACTED))
}

/// Checks the CONNECT credentials against the session's snapshot. bcrypt
/// checks run on the blocking pool, at most (cores - 1) at once, so a storm
/// of logins leaves CPU for message traffic.
async fn authenticate(core: &Core, c: &ConnectOpts, nonce: Option<&str>) -> Option<Identity> {
    let snap = core.snap.clone();
    if !snap.auth.needs_blocking(c) {
        return snap.auth.authenticate(c, nonce);
    }
    let slots = core.server.bcrypt_slots.clone();
    let (creds, nonce) = (c.clone(), nonce.map(str::to_string));
    let _slot = slots.acquire_owned().await.ok()?;
    tokio::task::spawn_blocking(move || snap.auth.authenticate(&creds, nonce.as_deref())).await.ok().flatten()
}
