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

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tracing::{debug, error, info};

use super::retire::Retirement;
use super::{read_loop, run_writer, Core, Phase, Role, Transport};
use crate::secret::Secret;
use crate::server::account::GLOBAL_ACCOUNT;
use crate::server::conn::{ConnKind, Connection, Subscription, TlsInfo};
use crate::server::deliver::{Message, Publisher};
use crate::server::errors::*;
use crate::server::info::{check_connect, check_info};
use crate::server::outbound::WhenBehind;
use crate::server::permissions::CompiledPermissions;
use crate::server::route::bounds;
use crate::server::route::info::{PeerConnect, PeerInfo, RouteConnect};
use crate::server::route::link::{RouteLink, RouteType};
use crate::server::route::proto::{RouteOp, RouteParseError, RoutedMsg};
use crate::server::route::urls::{join_host_port, RouteUrl};
use crate::server::route::{self, Registration};
use crate::server::snapshot::Snapshot;
use crate::server::state::ServerState;

/// A route connection's private state.
pub(crate) struct RouteState {
    pub link: Arc<RouteLink>,
    /// The peer's address, for the `ip` of the gossip about it.
    remote: SocketAddr,
    /// The peer's first INFO was processed (later ones are asynchronous).
    info_seen: bool,
    /// `cluster.permissions` (`subscribe` is the export side).
    perms: Option<Arc<CompiledPermissions>>,
    /// The credentials an accepted route logged in with, to check again
    /// when a reload changes `cluster.authorization` (kept in memory only).
    credentials: Option<(String, Secret)>,
}

impl RouteState {
    fn new(link: Arc<RouteLink>, remote: SocketAddr, snap: &Snapshot) -> RouteState {
        RouteState { link, remote, info_seen: false, perms: snap.route_perms.clone(), credentials: None }
    }

    /// A reload: new permissions; an accepted route whose credentials the
    /// new `cluster.authorization` no longer accepts is closed, as
    /// nats-server does (a route this server dialed is left alone).
    pub async fn on_new_snapshot(&mut self, core: &mut Core, old: &Snapshot) -> Result<(), CloseReason> {
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

    pub async fn on_op(&mut self, core: &mut Core, op: RouteOp<'_>) -> Result<(), CloseReason> {
        if core.trace {
            trace_in(&core.conn.log_prefix, &op);
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
        let Some(cluster) = core.server.cluster.clone() else { return Err(CloseReason::ServerShutdown) };
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
        let Some(cluster) = server.cluster.clone() else { return Err(CloseReason::ServerShutdown) };
        if info.server_id == server.id {
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
        if !did_solicit && info.name == server.name {
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
        if !self.known_account(core, acc, subject) {
            return Ok(());
        }
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
        let conn = core.conn.clone();
        let account = &core.server.global;
        let mut subs = conn.subs.lock().unwrap_or_else(|e| e.into_inner());
        match subs.get(&key[..]).cloned() {
            // A new count of members for a queue group: the entry is
            // replaced, so the sublist's group weights stay exact.
            Some(old) if queue.is_some() && old.weight != weight => {
                let new = Arc::new(Subscription::remote(conn.clone(), subject, queue, &key, weight));
                if account.sublist.replace(subject, queue, &old, new.clone()) {
                    old.mark_removed();
                    subs.insert(key.into(), new);
                }
            }
            Some(_) => {}
            None if subs.len() >= bounds::MAX_ROUTE_SUBSCRIPTIONS => {
                drop(subs);
                error!(
                    "{} - Route sent more than {} subscriptions; closing it",
                    core.conn.log_prefix,
                    bounds::MAX_ROUTE_SUBSCRIPTIONS
                );
                return Err(CloseReason::MaxSubscriptionsExceeded);
            }
            None => {
                let sub = Arc::new(Subscription::remote(conn.clone(), subject, queue, &key, weight));
                if account.subscribe(&sub).is_err() {
                    drop(subs);
                    error!("{} - Could not insert subscription: invalid subject", core.conn.log_prefix);
                    core.send_err("Invalid Subscription");
                    return Ok(());
                }
                subs.insert(key.into(), sub);
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
        if acc != GLOBAL_ACCOUNT.as_bytes() {
            debug!(
                "{} - Unknown account {:?} for subject {:?}",
                core.conn.log_prefix,
                String::from_utf8_lossy(acc),
                String::from_utf8_lossy(subject)
            );
            return Ok(());
        }
        let key = sub_key(acc, subject, queue);
        let removed = core.conn.subs.lock().unwrap_or_else(|e| e.into_inner()).remove(&key[..]);
        if let Some(sub) = removed {
            if sub.mark_removed() {
                core.server.global.unsubscribe(&sub);
            }
        }
        Ok(())
    }

    /// `RMSG`/`HMSG`/`LMSG`: delivered to this server's subscribers only.
    fn on_msg(&mut self, core: &mut Core, m: RoutedMsg<'_>) {
        core.fanout.batch.in_msgs += 1;
        core.fanout.batch.in_bytes += m.payload.len() as u64;
        match m.account {
            acc if acc == GLOBAL_ACCOUNT.as_bytes() => {}
            // Any other account (`$SYS` from a Go peer included): dropped,
            // at DBG, as a nats-server without that account does.
            other => {
                debug!(
                    "{} - Unknown account {:?} for routed message on subject: {:?}",
                    core.conn.log_prefix,
                    String::from_utf8_lossy(other),
                    String::from_utf8_lossy(m.subject)
                );
                return;
            }
        }
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
        core.fanout.publish_routed(&core.server.global, &msg, m.queues, from);
    }

    /// Whether `acc` is an account here. rnats serves `$G` only, so interest
    /// in any other (the `$SYS` interest every Go peer sends included) is
    /// dropped and reported as a nats-server without that account reports
    /// it: an error line for each `RS+`.
    fn known_account(&mut self, core: &Core, acc: &[u8], subject: &[u8]) -> bool {
        if acc == GLOBAL_ACCOUNT.as_bytes() {
            return true;
        }
        error!(
            "{} - Unknown account {:?} for remote subject {:?}",
            core.conn.log_prefix,
            String::from_utf8_lossy(acc),
            String::from_utf8_lossy(subject)
        );
        false
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

/// `-V` for what a route sent.
fn trace_in(prefix: &str, op: &RouteOp<'_>) {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let text = match op {
        RouteOp::Connect(json) => format!("CONNECT {}", super::trace::redact_connect(json)),
        RouteOp::Info(json) => format!("INFO {}", s(json)),
        RouteOp::Ping => "PING".into(),
        RouteOp::Pong => "PONG".into(),
        RouteOp::Ok => "+OK".into(),
        RouteOp::Err(t) => format!("-ERR {}", s(t)),
        RouteOp::Sub { args, leaf } => format!("{} {}", if *leaf { "LS+" } else { "RS+" }, s(args)),
        RouteOp::Unsub { args, leaf } => format!("{} {}", if *leaf { "LS-" } else { "RS-" }, s(args)),
        RouteOp::Msg(m) => {
            let verb = match (m.origin.is_some(), m.header_len.is_some()) {
                (true, _) => "LMSG",
                (false, true) => "HMSG",
                (false, false) => "RMSG",
            };
            let mut t = format!("{verb} {} {}", s(m.account), s(m.subject));
            if !m.queues.is_empty() {
                t += if m.reply.is_some() { " +" } else { " |" };
            }
            if let Some(r) = m.reply {
                t += &format!(" {}", s(r));
            }
            if !m.queues.is_empty() {
                t += &format!(" {}", s(m.queues));
            }
            if let Some(h) = m.header_len {
                t += &format!(" {h}");
            }
            t + &format!(" {}", m.payload.len())
        }
    };
    tracing::trace!("{prefix} - <<- [{text}]");
    if let RouteOp::Msg(m) = op {
        if !m.payload.is_empty() {
            tracing::trace!("{prefix} - <<- MSG_PAYLOAD: [{}]", crate::logging::traced_payload(m.payload));
        }
    }
}

/// The close of a route's session for a parse error.
pub(crate) fn on_parse_error(core: &mut Core, e: RouteParseError) -> CloseReason {
    error!("{} - {}", core.conn.log_prefix, e);
    if matches!(e, RouteParseError::UnknownOp { .. }) {
        core.send_err(ERR_UNKNOWN_OP);
    }
    CloseReason::ProtocolViolation
}

/// Serves a route connection another server opened.
pub async fn serve_accepted(server: Arc<ServerState>, stream: TcpStream, addr: SocketAddr) {
    let snap = server.snapshot();
    let Some((link, retirement)) = track(&server, addr) else { return };
    let conn = link.conn.clone();
    let Some(tls) = snap.route_tls.clone() else {
        return run_route(server, link, retirement, snap, stream, false).await;
    };
    // Route TLS: the handshake comes first, before INFO.
    let local = stream.local_addr().ok();
    match crate::tls::accept(stream, &tls.server, &[]).await {
        Ok(accepted) => {
            note_tls(&conn, &accepted.negotiated);
            run_route(server, link, retirement, snap, Box::new(accepted.stream), false).await
        }
        Err(e) => {
            error!("{} - TLS route handshake error: {}", conn.log_prefix, e.go_text(local, Some(addr)));
            give_up(&server, &link, retirement, CloseReason::TlsHandshakeError);
        }
    }
}

/// Serves a route connection another server opened over any stream,
/// without TLS: the route role driven directly (tests, fuzzing).
pub async fn serve_accepted_stream<T: Transport>(server: Arc<ServerState>, stream: T, addr: SocketAddr) {
    let snap = server.snapshot();
    let Some((link, retirement)) = track(&server, addr) else { return };
    run_route(server, link, retirement, snap, stream, false).await
}

/// A new accepted route connection, tracked (with its retirement), unless
/// the server has all the route connections it takes.
fn track(server: &Arc<ServerState>, addr: SocketAddr) -> Option<(Arc<RouteLink>, Retirement)> {
    let cluster = server.cluster.clone()?;
    let conn = new_route_conn(server, addr);
    let link = RouteLink::new(conn.clone(), None, RouteType::Implicit, route::GOSSIP_DEFAULT);
    if !cluster.track(&link) {
        error!(
            "{} - Route connection refused: {} route connections already",
            conn.log_prefix,
            bounds::MAX_ROUTE_CONNECTIONS
        );
        return None;
    }
    Some((link.clone(), Retirement::route(server.clone(), link)))
}

/// Serves a route this server dialed to `url`.
pub async fn serve_solicited(
    server: Arc<ServerState>,
    stream: TcpStream,
    url: RouteUrl,
    route_type: RouteType,
    gossip_mode: u8,
) {
    let Some(cluster) = server.cluster.clone() else { return };
    let snap = server.snapshot();
    let addr = stream.peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let conn = new_route_conn(&server, addr);
    let link = RouteLink::new(conn.clone(), Some(url.clone()), route_type, gossip_mode);
    if !cluster.track(&link) {
        error!(
            "{} - Route to {} not made: {} route connections already",
            conn.log_prefix,
            url.redacted(),
            bounds::MAX_ROUTE_CONNECTIONS
        );
        return;
    }
    let retirement = Retirement::route(server.clone(), link.clone());
    let Some(tls) = snap.route_tls.clone() else {
        return run_route(server, link, retirement, snap, stream, true).await;
    };
    let local = stream.local_addr().ok();
    let name = tls_server_name(&snap, &url);
    match crate::tls::route::connect(stream, &tls, name).await {
        Ok((stream, negotiated)) => {
            note_tls(&conn, &negotiated);
            run_route(server, link, retirement, snap, Box::new(stream), true).await
        }
        Err(e) => {
            error!("{} - TLS route handshake error: {}", conn.log_prefix, e.go_text(local, Some(addr)));
            give_up(&server, &link, retirement, CloseReason::TlsHandshakeError);
        }
    }
}

fn new_route_conn(server: &Arc<ServerState>, addr: SocketAddr) -> Arc<Connection> {
    let cid = server.next_cid();
    Arc::new(Connection::new(cid, ConnKind::Route, addr, server.global.clone(), server.stats.clone()))
}

fn note_tls(conn: &Connection, negotiated: &crate::tls::Negotiated) {
    debug!("{} - TLS handshake complete", conn.log_prefix);
    debug!("{} - {}", conn.log_prefix, negotiated.log_line());
    conn.meta.lock().unwrap_or_else(|e| e.into_inner()).tls = Some(TlsInfo {
        version: negotiated.version.clone(),
        cipher_suite: negotiated.cipher_suite.clone(),
        tls_first: true,
    });
}

/// A route that never got to its protocol (TLS failed): closed, maybe redialed.
fn give_up(server: &Arc<ServerState>, link: &Arc<RouteLink>, retirement: Retirement, reason: CloseReason) {
    link.conn.close_now(reason);
    info!("{} - Router connection closed: {}", link.conn.log_prefix, reason.as_str());
    drop(retirement);
    route::reconnect_if_due(server, link);
}

/// The name a dialed route's certificate must carry: the URL's host, or
/// for an address, the first host name among the configured routes (as
/// nats-server does for routes learned by gossip, which come as addresses).
fn tls_server_name(snap: &Snapshot, url: &RouteUrl) -> ServerName<'static> {
    let host = if url.host.parse::<std::net::IpAddr>().is_ok() {
        snap.opts
            .cluster
            .as_ref()
            .and_then(|c| {
                c.routes
                    .iter()
                    .filter_map(|r| RouteUrl::parse(r).ok())
                    .find(|u| u.host.parse::<std::net::IpAddr>().is_err())
                    .map(|u| u.host)
            })
            .unwrap_or_else(|| url.host.clone())
    } else {
        url.host.clone()
    };
    ServerName::try_from(host).unwrap_or_else(|_| ServerName::try_from("localhost").expect("a valid name"))
}

/// The route's session after TLS: CONNECT (when dialing) and INFO out, the
/// read loop with the route role, then the close: remote interest removed,
/// unregistered, maybe dialed again.
async fn run_route<T: Transport>(
    server: Arc<ServerState>,
    link: Arc<RouteLink>,
    retirement: Retirement,
    snap: Arc<Snapshot>,
    stream: T,
    solicited: bool,
) {
    let conn = link.conn.clone();
    let remote = conn.addr;
    let (rd, wr) = stream.split();
    let writer = server.tracker.spawn(run_writer(server.clone(), conn.clone(), wr));
    server.adoptions.adopted(&conn, snap.generation);
    let mut core = Core::new(server.clone(), conn.clone(), snap.clone());
    let auth = snap.opts.cluster.as_ref().and_then(|c| c.authorization.as_ref());
    core.auth_required = !solicited && auth.is_some_and(|a| a.user.is_some());
    core.auth_timeout = auth.map_or(crate::options::DEFAULT_AUTH_TIMEOUT, |a| a.timeout);
    if solicited {
        debug!("{} - Route connect msg sent", conn.log_prefix);
        let line = route_connect_line(&server, &snap, &link);
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

    let mut role = Role::Route(RouteState::new(link.clone(), remote, &snap));
    let reason = read_loop(&mut core, &mut role, rd, Vec::new()).await;
    core.phase = Phase::Closing(reason);
    conn.close(reason);
    // Remote interest removed, unregistered.
    drop(retirement);
    core.finish_batch();
    let _ = writer.await;
    let reason = conn.close_reason().unwrap_or(reason);
    info!("{} - Router connection closed: {}{}", conn.log_prefix, reason.as_str(), link.remote_suffix());
    route::reconnect_if_due(&server, &link);
}

/// The CONNECT for a route this server dialed, with the URL's credentials.
fn route_connect_line(server: &ServerState, snap: &Snapshot, link: &RouteLink) -> Vec<u8> {
    let url = link.state().url.clone();
    let cluster = server.cluster.as_ref();
    let name = cluster.map(|c| c.name()).unwrap_or_default();
    let connect = RouteConnect {
        echo: true,
        verbose: false,
        pedantic: false,
        user: url.as_ref().and_then(|u| u.user.as_deref()),
        pass: url.as_ref().and_then(|u| u.pass.as_ref()),
        tls_required: snap.route_tls.is_some(),
        headers: !snap.opts.no_header_support,
        name: &server.id,
        cluster: &name,
        cluster_dynamic: cluster.is_some_and(|c| c.is_dynamic()),
    };
    connect.to_line()
}
