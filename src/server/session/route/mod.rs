//! The route role of a session: another server of the cluster at the other
//! end, speaking nats-server 2.15's route protocol.
//!
//! Life cycle: TLS first when `cluster.tls` is set (both sides), then the
//! dialing side sends CONNECT and both send INFO. A route is registered on
//! the peer's INFO (never on its CONNECT: a pooling nats-server opens a
//! second connection for `$SYS`, with the same CONNECT, and refuses it
//! itself with an `-ERR` once it has read our INFO). After that: `RS+`/`RS-`
//! (the peer's interest becomes route subscriptions in the account's index),
//! `RMSG`/`HMSG` (delivered to local subscribers only), PING/PONG, and
//! asynchronous INFO (gossip about other servers, lame duck mode).
//!
//! The accept is in [`accept`], the dialed side's handshake in [`solicit`];
//! both run the one session lifecycle with this role.

pub mod accept;
mod accounts;
pub mod solicit;

pub use accept::{serve_accepted, serve_accepted_stream};
pub use solicit::serve_solicited;

use std::net::SocketAddr;
use std::sync::Arc;

use tracing::{debug, error, info};

use super::core::Core;
use super::lifecycle::{run_session, Session};
use super::retire::Retirement;
use super::role::{Role, Step};
use super::{Phase, Transport};
use crate::secret::Secret;
use crate::server::accounts::ServerAccount;
use crate::server::adoption::Effect;
use crate::server::conn::Subscribed;
use crate::server::deliver::{Message, Publisher};
use crate::server::errors::*;
use crate::server::info::{check_connect, check_info};
use crate::server::outbound::WhenBehind;
use crate::server::permissions::CompiledPermissions;
use crate::server::proto::Cut;
use crate::server::route::bounds;
use crate::server::route::info::{PeerConnect, PeerInfo};
use crate::server::route::link::RouteLink;
use crate::server::route::proto::{self as route_proto, RouteLimits, RouteOp, RouteParseError, RouteParsed, RoutedMsg};
use crate::server::route::urls::{join_host_port, RouteUrl};
use crate::server::route::{self, Registration};
use crate::server::snapshot::Snapshot;
use crate::server::state::ServerState;

/// A route connection's private state.
pub(crate) struct RouteState {
    pub link: Arc<RouteLink>,
    /// The peer's address, for the `ip` of the gossip about it.
    remote: SocketAddr,
    /// This server dialed the route (it sends CONNECT; the peer's
    /// credentials are not checked).
    solicited: bool,
    /// The peer's first INFO was processed (later ones are asynchronous).
    info_seen: bool,
    /// `cluster.permissions` (`subscribe` is the export side).
    perms: Option<Arc<CompiledPermissions>>,
    /// The credentials an accepted route logged in with, to check again
    /// when a reload changes `cluster.authorization` (kept in memory only).
    credentials: Option<(String, Secret)>,
    /// The accounts the peer names, resolved once each.
    accounts: accounts::RouteAccounts,
}

impl RouteState {
    fn new(link: Arc<RouteLink>, snap: &Snapshot, solicited: bool) -> RouteState {
        let remote = link.conn.addr;
        RouteState {
            link,
            remote,
            solicited,
            info_seen: false,
            perms: snap.route_perms.clone(),
            credentials: None,
            accounts: Default::default(),
        }
    }

    /// A reload: new permissions; an accepted route whose credentials the
    /// new `cluster.authorization` no longer accepts is closed, as
    /// nats-server does (a route this server dialed is left alone).
    async fn reload(&mut self, core: &mut Core, old: &Snapshot) -> Result<(), CloseReason> {
        self.perms = core.snap.route_perms.clone();
        let auth_of = |s: &Snapshot| s.opts.cluster.as_ref().and_then(|c| c.authorization.clone());
        let (before, now) = (auth_of(old), auth_of(&core.snap));
        if self.link.state().did_solicit || before == now {
            return Ok(());
        }
        if now.as_ref().is_none_or(|a| a.user.is_none()) {
            return Ok(());
        }
        let (given_user, given_pass) = self.credentials.clone().unwrap_or_default();
        let c = PeerConnect { user: Some(given_user.clone()), pass: Some(given_pass), ..PeerConnect::default() };
        if route_credentials_ok(&core.snap, &c).await {
            return Ok(());
        }
        Err(auth_violation(core, Some(given_user.as_str()).filter(|u| !u.is_empty())))
    }

    async fn on_op(&mut self, core: &mut Core, op: RouteOp<'_>) -> Result<(), CloseReason> {
        if core.trace {
            super::trace::trace_route_in(&core.conn.log_prefix, &op);
        }
        if core.auth_required && core.phase != Phase::Authenticated && !matches!(op, RouteOp::Connect(_)) {
            return Err(auth_violation(core, None));
        }
        match op {
            RouteOp::Connect(json) => self.on_connect(core, json).await,
            RouteOp::Info(json) => self.on_info(core, json),
            RouteOp::Ping => {
                core.send(b"PONG\r\n");
                Ok(())
            }
            RouteOp::Pong => {
                core.on_pong();
                Ok(())
            }
            RouteOp::Ok => Ok(()),
            RouteOp::Err(text) => {
                let text = String::from_utf8_lossy(text);
                // A pooling nats-server refuses the `$SYS` connection it
                // opened next to the one it keeps: expected, not an error.
                if text.contains("Not possible to have a dedicated route") {
                    debug!("{} - Route Error {text}", core.conn.log_prefix);
                } else {
                    error!("{} - Route Error {text}", core.conn.log_prefix);
                }
                Err(CloseReason::ParseError)
            }
            RouteOp::Sub { args, leaf } => self.on_sub(core, args, leaf),
            RouteOp::Unsub { args, leaf } => self.on_unsub(core, args, leaf),
            RouteOp::Msg(m) => {
                self.on_msg(core, m);
                Ok(())
            }
        }
    }

    /// The peer's CONNECT (on a route it dialed): credentials, then what it
    /// is (a client or a gateway on the route port is refused), then the
    /// cluster name.
    async fn on_connect(&mut self, core: &mut Core, json: &[u8]) -> Result<(), CloseReason> {
        let prefix = core.conn.log_prefix.clone();
        if let Err(e) = check_connect(json) {
            error!("{prefix} - processRouteConnect: {e}");
            return Err(CloseReason::ProtocolViolation);
        }
        let c: PeerConnect = match serde_json::from_slice::<serde_json::Value>(json)
            .ok()
            .map(|v| if v.is_null() { serde_json::json!({}) } else { v })
            .and_then(|v| serde_json::from_value(v).ok())
        {
            Some(c) => c,
            None => {
                error!("{prefix} - invalid route CONNECT");
                return Err(CloseReason::ProtocolViolation);
            }
        };
        if core.auth_required && core.phase != Phase::Authenticated {
            if !route_credentials_ok(&core.snap, &c).await {
                return Err(auth_violation(core, c.user.as_deref()));
            }
            core.phase = Phase::Authenticated;
            self.credentials = Some((c.user.clone().unwrap_or_default(), c.pass.clone().unwrap_or_default()));
        }
        if !c.lang.is_empty() {
            error!("{prefix} - {ERR_CLIENT_ON_ROUTE_PORT}");
            core.send_err(ERR_CLIENT_ON_ROUTE_PORT);
            return Err(CloseReason::WrongPort);
        }
        if !c.gateway.is_empty() {
            let text = format!("Rejecting connection from gateway {:?} on the Route port", c.gateway);
            error!("{prefix} - {text}");
            core.send_err(&text);
            return Err(CloseReason::WrongGateway);
        }
        let Some(cluster) = core.server.cluster().cloned() else { return Err(CloseReason::ServerShutdown) };
        let ours = cluster.name();
        if c.cluster != ours {
            if cluster.is_dynamic() && (!c.cluster_dynamic || ours < c.cluster) {
                cluster.set_name(&c.cluster, c.cluster_dynamic);
                route::remove_all_routes_except(&core.server, &c.name);
            } else {
                let text = format!("Rejecting connection, cluster name {:?} does not match {:?}", c.cluster, ours);
                error!("{prefix} - {text}");
                core.send_err(&text);
                error!("{prefix} - cluster name from remote server conflicts");
                return Err(CloseReason::ClusterNameConflict);
            }
        }
        // Once registered, the route is known by its INFO's server id: a
        // later CONNECT does not rename it.
        if !self.info_seen {
            self.link.state().remote_id = c.name;
        }
        core.conn.set_headers(c.headers && !core.snap.opts.no_header_support);
        Ok(())
    }

    fn on_info(&mut self, core: &mut Core, json: &[u8]) -> Result<(), CloseReason> {
        let prefix = core.conn.log_prefix.clone();
        if let Err(e) = check_info(json) {
            error!("{prefix} - processRouteInfo: {e}");
            return Err(CloseReason::ProtocolViolation);
        }
        let raw = match serde_json::from_slice::<serde_json::Value>(json) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let info: PeerInfo = match serde_json::from_value(serde_json::Value::Object(raw.clone())) {
            Ok(i) => i,
            Err(e) => {
                error!("{prefix} - processRouteInfo: {e}");
                return Err(CloseReason::ProtocolViolation);
            }
        };
        if !info.gateway.is_empty() {
            error!(
                "Received information about gateway {:?} from {}, but gateway is not configured",
                info.gateway,
                self.link.state().remote_id
            );
            return Ok(());
        }
        if !info.route_acc_add_reqid.is_empty() {
            // A pooling peer adding a pinned account: not for a no-pool route.
            return Ok(());
        }
        if self.info_seen {
            self.on_async_info(core, &info);
            return Ok(());
        }
        self.on_first_info(core, info, raw)
    }

    /// The peer's first INFO: checks, then registration.
    fn on_first_info(
        &mut self,
        core: &mut Core,
        info: PeerInfo,
        mut raw: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), CloseReason> {
        let prefix = core.conn.log_prefix.clone();
        let server = core.server.clone();
        let Some(cluster) = server.cluster().cloned() else { return Err(CloseReason::ServerShutdown) };
        if info.server_id == server.id() {
            self.link.state().remote_id = info.server_id.clone();
            return Err(CloseReason::DuplicateRoute);
        }
        let ours = cluster.name();
        if !info.cluster.is_empty() && info.cluster != ours {
            if cluster.is_dynamic() && (!info.cluster_dynamic || ours < info.cluster) {
                cluster.set_name(&info.cluster, info.cluster_dynamic);
                route::remove_all_routes_except(&server, &info.server_id);
            } else {
                return Err(CloseReason::ClusterNameConflict);
            }
        }
        let did_solicit = self.link.state().did_solicit;
        if !did_solicit && info.name == server.name() {
            error!("{prefix} - Remote server has a duplicate name: {:?}", info.name);
            return Err(CloseReason::DuplicateServerName);
        }
        if !info.route_account.is_empty() {
            let text = format!(
                "Not possible to have a dedicated route for account {:?} between those servers",
                info.route_account
            );
            error!("{prefix} - {text}");
            core.send_err(&text);
            self.link.state().no_reconnect = true;
            return Err(CloseReason::ProtocolViolation);
        }
        self.info_seen = true;
        core.conn.set_headers(info.headers && !core.snap.opts.no_header_support);
        {
            let mut st = self.link.state();
            st.remote_id = info.server_id.clone();
            st.remote_name = info.name.clone();
            if st.url.is_none() {
                st.url = Some(RouteUrl::for_host_port(&info.host, info.port));
            }
        }
        if info.ip.is_empty() {
            let ip = format!("nats-route://{}/", join_host_port(&self.remote.ip().to_string(), info.port));
            raw.insert("ip".into(), ip.into());
        }
        match route::register(&server, &self.link, &info, &raw) {
            Registration::Added => {
                debug!("{prefix} - Registering remote route {:?}", info.server_id);
                Ok(())
            }
            Registration::Duplicate => {
                debug!("{prefix} - Detected duplicate remote route {:?}", info.server_id);
                Err(CloseReason::DuplicateRoute)
            }
            Registration::Refused => Err(CloseReason::ServerShutdown),
        }
    }

    /// An INFO after the first: about another server (gossip: dial it), or
    /// the peer entering lame duck mode.
    fn on_async_info(&mut self, core: &mut Core, info: &PeerInfo) {
        let remote_id = self.link.state().remote_id.clone();
        if !remote_id.is_empty() && info.server_id != remote_id {
            route::process_implicit_route(&core.server, info);
            return;
        }
        if info.ldm {
            route::peer_in_lame_duck(&core.server, &self.link);
        }
    }

    /// `RS+ <account> <subject> [<queue> <weight>]` (`LS+` has the origin
    /// cluster first): the peer's interest, as a route subscription keyed by
    /// the text nats-server keys it by, `<account> <subject>[ <queue>]`.
    fn on_sub(&mut self, core: &mut Core, args: &[u8], leaf: bool) -> Result<(), CloseReason> {
        let (toks, n) = split_args(args);
        let skip = usize::from(leaf);
        let (acc, subject, queue, weight) = match n.checked_sub(skip) {
            Some(2) => (toks[skip], toks[skip + 1], None, 1),
            Some(4) => {
                let w = crate::server::proto::parse_size(toks[skip + 3]).map_or(1, |w| w.clamp(1, u32::MAX as usize));
                (toks[skip], toks[skip + 1], Some(toks[skip + 2]), w as u32)
            }
            _ => {
                let kind = if leaf { "L" } else { "R" };
                error!(
                    "{} - processRemoteSub Parse Error: '{kind} {}'",
                    core.conn.log_prefix,
                    String::from_utf8_lossy(args)
                );
                return Err(CloseReason::ProtocolViolation);
            }
        };
        let Some(account) = self.known_account(core, acc, subject) else {
            return Ok(());
        };
        if let Some(p) = &self.perms {
            if !p.subscribe.allows_sub(subject, None) {
                debug!(
                    "{} - Can not export {:?}, ignoring remote subscription request",
                    core.conn.log_prefix,
                    String::from_utf8_lossy(subject)
                );
                return Ok(());
            }
        }
        let key = sub_key(acc, subject, queue);
        match core.conn.subscribe_remote(&account, &key, subject, queue, weight, bounds::MAX_ROUTE_SUBSCRIPTIONS) {
            Subscribed::Added | Subscribed::AlreadyThere => {}
            Subscribed::TooMany => {
                error!(
                    "{} - Route sent more than {} subscriptions; closing it",
                    core.conn.log_prefix,
                    bounds::MAX_ROUTE_SUBSCRIPTIONS
                );
                return Err(CloseReason::MaxSubscriptionsExceeded);
            }
            Subscribed::InvalidSubject => {
                error!("{} - Could not insert subscription: invalid subject", core.conn.log_prefix);
                core.send_err("Invalid Subscription");
            }
        }
        Ok(())
    }

    /// `RS- <account> <subject> [<queue>]`: the peer lost that interest.
    fn on_unsub(&mut self, core: &mut Core, args: &[u8], leaf: bool) -> Result<(), CloseReason> {
        let (toks, n) = split_args(args);
        let (acc, subject, queue) = match n {
            2 => (toks[0], toks[1], None),
            3 => (toks[0], toks[1], Some(toks[2])),
            _ => {
                let what = if leaf { "processRemoteLeafUnsub" } else { "processRemoteUnsub" };
                error!("{} - {what} parse error: '{}'", core.conn.log_prefix, String::from_utf8_lossy(args));
                return Err(CloseReason::ProtocolViolation);
            }
        };
        if self.accounts.resolve(core.server.accounts(), acc).is_none() {
            debug!(
                "{} - Unknown account {:?} for subject {:?}",
                core.conn.log_prefix,
                String::from_utf8_lossy(acc),
                String::from_utf8_lossy(subject)
            );
            return Ok(());
        }
        let key = sub_key(acc, subject, queue);
        core.conn.unsubscribe_remote(&key);
        Ok(())
    }

    /// `RMSG`/`HMSG`/`LMSG`: delivered to this server's subscribers only.
    fn on_msg(&mut self, core: &mut Core, m: RoutedMsg<'_>) {
        core.fanout.batch.in_msgs += 1;
        core.fanout.batch.in_bytes += m.payload.len() as u64;
        // An account unknown here (`$SYS` from a Go peer included):
        // dropped, at DBG, as a nats-server without that account does.
        let Some(account) = self.accounts.resolve(core.server.accounts(), m.account) else {
            debug!(
                "{} - Unknown account {:?} for routed message on subject: {:?}",
                core.conn.log_prefix,
                String::from_utf8_lossy(m.account),
                String::from_utf8_lossy(m.subject)
            );
            return;
        };
        let msg = Message {
            subject: m.subject,
            reply: m.reply,
            header_len: m.header_len,
            payload: m.payload,
            size_text: m.size_text,
            header_text: m.header_text,
        };
        // A route is not stalled for a slow local subscriber: that would hold
        // up every other server's traffic on this route.
        let from = Publisher { conn: &core.conn, echo: true, when_behind: WhenBehind::Queue };
        core.fanout.publish_routed(&account, &msg, m.queues, from);
    }

    /// The account `acc` names here. Interest in any other (the `$SYS`
    /// interest every Go peer sends, while rnats has no system account) is
    /// dropped and reported as a nats-server without that account reports
    /// it: an error line for each `RS+`.
    fn known_account(&mut self, core: &Core, acc: &[u8], subject: &[u8]) -> Option<Arc<ServerAccount>> {
        if let Some(account) = self.accounts.resolve(core.server.accounts(), acc) {
            return Some(account);
        }
        error!(
            "{} - Unknown account {:?} for remote subject {:?}",
            core.conn.log_prefix,
            String::from_utf8_lossy(acc),
            String::from_utf8_lossy(subject)
        );
        None
    }
}

/// Up to 6 blank-separated arguments, and how many there were.
fn split_args(args: &[u8]) -> ([&[u8]; 6], usize) {
    let mut out: [&[u8]; 6] = [&[]; 6];
    let mut n = 0;
    for tok in args.split(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).filter(|t| !t.is_empty()) {
        if n < out.len() {
            out[n] = tok;
        }
        n += 1;
    }
    (out, n)
}

/// `<account> <subject>[ <queue>]`, single-spaced.
fn sub_key(acc: &[u8], subject: &[u8], queue: Option<&[u8]>) -> Vec<u8> {
    let mut key = Vec::with_capacity(acc.len() + subject.len() + queue.map_or(0, |q| q.len() + 1) + 1);
    key.extend_from_slice(acc);
    key.push(b' ');
    key.extend_from_slice(subject);
    if let Some(q) = queue {
        key.push(b' ');
        key.extend_from_slice(q);
    }
    key
}

fn auth_violation(core: &mut Core, user: Option<&str>) -> CloseReason {
    match user {
        Some(u) => error!("{} - authentication error - User {:?}", core.conn.log_prefix, u),
        None => error!("{} - authentication error", core.conn.log_prefix),
    }
    core.send_err(ERR_AUTH_VIOLATION);
    CloseReason::AuthenticationViolation
}

/// `cluster.authorization` against a route's CONNECT: the user compared in
/// constant time, the password too (or bcrypt, off the async workers).
async fn route_credentials_ok(snap: &Arc<Snapshot>, c: &PeerConnect) -> bool {
    let Some(auth) = snap.opts.cluster.as_ref().and_then(|c| c.authorization.clone()) else { return true };
    let Some(user) = auth.user.clone() else { return true };
    let given_user = c.user.clone().unwrap_or_default();
    let user_ok: bool = subtle::ConstantTimeEq::ct_eq(user.as_bytes(), given_user.as_bytes()).into();
    let configured = auth.password.unwrap_or_default();
    let given = c.pass.clone().unwrap_or_default();
    let pass_ok =
        tokio::task::spawn_blocking(move || crate::server::auth::password_matches(configured.expose(), given.expose()))
            .await
            .unwrap_or(false);
    user_ok && pass_ok
}

/// The close of a route's session for a parse error.
fn on_parse_error(core: &mut Core, e: RouteParseError) -> CloseReason {
    error!("{} - {}", core.conn.log_prefix, e);
    if matches!(e, RouteParseError::UnknownOp { .. }) {
        core.send_err(ERR_UNKNOWN_OP);
    }
    CloseReason::ProtocolViolation
}

/// A route past its TLS: the one session lifecycle, with the route role.
pub(super) async fn run_route<T: Transport>(
    server: Arc<ServerState>,
    link: Arc<RouteLink>,
    retirement: Retirement,
    snap: Arc<Snapshot>,
    stream: T,
    solicited: bool,
) {
    let role = RouteState::new(link.clone(), &snap, solicited);
    let session = Session { server, conn: link.conn.clone(), snap, role, retirement };
    run_session(session, stream, Vec::new()).await
}

impl Role for RouteState {
    /// CONNECT (when dialing) and INFO out.
    fn opened(&mut self, core: &mut Core) {
        let (server, snap, conn) = (core.server.clone(), core.snap.clone(), core.conn.clone());
        let auth = snap.opts.cluster.as_ref().and_then(|c| c.authorization.as_ref());
        core.auth_required = !self.solicited && auth.is_some_and(|a| a.user.is_some());
        core.auth_timeout = auth.map_or(crate::options::DEFAULT_AUTH_TIMEOUT, |a| a.timeout);
        if self.solicited {
            debug!("{} - Route connect msg sent", conn.log_prefix);
            let line = solicit::route_connect_line(&server, &snap, &self.link);
            // Not `core.send`: its trace would show the route's password.
            if core.trace {
                let json = line.get(8..line.len().saturating_sub(2)).unwrap_or_default();
                tracing::trace!("{} - ->> [CONNECT {}]", conn.log_prefix, super::trace::redact_connect(json));
            }
            conn.queue_proto(&line);
        }
        let info = route::route_info(&server, &snap, false);
        core.send(&info.to_line());
        info!("{} - Route connection created", conn.log_prefix);
        core.finish_batch();
    }

    /// Remote interest was removed and the route unregistered (retired):
    /// dial it again if it is due.
    fn closed(&mut self, core: &Core, reason: CloseReason) {
        info!("{} - Router connection closed: {}{}", core.conn.log_prefix, reason.as_str(), self.link.remote_suffix());
        route::reconnect_if_due(&core.server, &self.link);
    }

    fn on_read(&mut self) {
        self.link.touch();
    }

    async fn next_op(&mut self, core: &mut Core, buf: &[u8], _cut: Option<Cut<'_>>) -> Step {
        let limits =
            RouteLimits { max_control_line: core.limits.max_control_line, max_payload: core.limits.max_payload };
        match route_proto::parse(buf, &limits) {
            Ok(RouteParsed::Op(op, used)) => match self.on_op(core, op).await {
                Ok(()) => Step::Served(used),
                Err(reason) => Step::Close(reason),
            },
            Ok(RouteParsed::Incomplete { need }) => Step::Need(need),
            Err(e) => Step::Close(on_parse_error(core, e)),
        }
    }

    async fn on_new_snapshot(&mut self, core: &mut Core, old: &Arc<Snapshot>) -> Result<Effect, CloseReason> {
        self.accounts.forget_unknown();
        // Reload reports count clients only.
        self.reload(core, old).await.map(|()| Effect::Unchanged)
    }
}
