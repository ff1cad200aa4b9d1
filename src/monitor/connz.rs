//! `/connz`: the client connections, open and recently closed, with
//! nats-server's parameters (`sort`, `offset`, `limit`, `subs`, `auth`,
//! `cid`, `state`, `user`, `acc`, `mqtt_client`), defaults, paging and
//! error texts.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::account_directory::{find, AccountDirectory};
use super::gotime::{rfc3339_from_nanos, rfc3339_nano, rtt, unix_nanos, uptime};
use super::query::{Query, Subs};
use crate::server::account::GLOBAL_ACCOUNT;
use crate::server::closed::ClosedConn;
use crate::server::conn::{ConnKind, Connection, Subscription};
use crate::server::facts::{subscriptions_of, ConnFacts, SubFacts};
use crate::server::state::ServerState;

/// nats-server's `DefaultConnListSize`.
pub const DEFAULT_LIMIT: i64 = 1024;

/// The reply.
#[derive(Debug, Serialize)]
pub struct Connz {
    pub server_id: String,
    pub now: String,
    pub num_connections: usize,
    pub total: usize,
    pub offset: i64,
    pub limit: i64,
    /// `null` only in nats-server's reply to an unknown `acc`.
    pub connections: Option<Vec<ConnInfo>>,
}

/// One connection, as nats-server's `ConnInfo` (field order and omissions
/// are its JSON).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnInfo {
    pub cid: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub kind: &'static str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    pub conn_type: &'static str,
    pub ip: String,
    pub port: u16,
    pub start: String,
    pub last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub reason: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub stalls: u64,
    pub subscriptions: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_cipher_suite: String,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_first: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub authorized_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list_detail: Vec<SubDetail>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name_tag: String,
    /// Raw values the sort orders compare.
    #[serde(skip)]
    pub keys: SortKeys,
}

/// The raw values behind the formatted times, for sorting.
#[derive(Debug, Clone, Copy, Default)]
pub struct SortKeys {
    pub start: u64,
    pub last: u64,
    pub stop: Option<u64>,
    pub rtt: u64,
}

/// One subscription (`subscriptions_list_detail`, `/subsz`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_tag: String,
    pub subject: String,
    #[serde(rename = "qgroup", skip_serializing_if = "String::is_empty")]
    pub queue: String,
    pub sid: String,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

impl SubDetail {
    /// As `/connz` lists it (no account fields); `/subsz` adds them.
    pub fn of(sub: &Subscription) -> SubDetail {
        SubDetail::from_facts(SubFacts::of(sub))
    }

    pub fn from_facts(f: SubFacts) -> SubDetail {
        SubDetail {
            account: String::new(),
            account_tag: String::new(),
            subject: f.subject,
            queue: f.queue,
            sid: f.sid,
            msgs: f.msgs,
            max: f.max,
            cid: f.cid,
        }
    }

    pub fn with_account(mut self, account: &str) -> SubDetail {
        self.account = account.to_string();
        self.account_tag = account.to_string();
        self
    }
}

fn kind_name(kind: ConnKind) -> &'static str {
    match kind {
        ConnKind::Client => "Client",
        ConnKind::Route => "Router",
    }
}

/// The `ConnInfo` of a connection's facts at `now` (Unix nanoseconds),
/// without the optional parts (subscriptions, user) that the query adds.
pub fn fill(f: &ConnFacts, now: u64) -> ConnInfo {
    let (start, last, meta) = (f.start, f.last, &f.meta);
    let tls = meta.tls.clone().unwrap_or_default();
    ConnInfo {
        cid: f.cid,
        kind: kind_name(f.kind),
        conn_type: if f.websocket { "websocket" } else { "nats" },
        ip: f.addr.ip().to_string(),
        port: f.addr.port(),
        start: rfc3339_from_nanos(start),
        last_activity: rfc3339_from_nanos(last),
        stop: None,
        reason: "",
        rtt: rtt(meta.rtt),
        uptime: uptime(Duration::from_nanos(now.saturating_sub(start))),
        idle: uptime(Duration::from_nanos(now.saturating_sub(last))),
        pending_bytes: f.pending_bytes,
        in_msgs: f.traffic.in_msgs,
        out_msgs: f.traffic.out_msgs,
        in_bytes: f.traffic.in_bytes,
        out_bytes: f.traffic.out_bytes,
        stalls: f.stalls,
        subscriptions: f.subscriptions,
        name: meta.name.clone(),
        lang: meta.lang.clone(),
        version: meta.version.clone(),
        tls_version: tls.version,
        tls_cipher_suite: tls.cipher_suite,
        tls_first: tls.tls_first,
        keys: SortKeys { start, last, stop: None, rtt: meta.rtt.map_or(0, |d| d.as_nanos() as u64) },
        ..ConnInfo::default()
    }
}

/// The `ConnInfo` of a closed connection: `stop` and `reason` set, uptime
/// and idle frozen at the close.
pub fn fill_closed(cc: &ClosedConn) -> ConnInfo {
    let mut info = fill(&cc.facts, cc.stop);
    info.stop = Some(rfc3339_from_nanos(cc.stop));
    info.keys.stop = Some(cc.stop);
    info.reason = cc.reason.as_str();
    info
}

/// Which connections a query asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    Open,
    Closed,
    Any,
}

/// A sort order of `sort=`, as nats-server names it. `rnats top` asks for
/// these too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl SortBy {
    pub const ALL: [SortBy; 14] = [
        SortBy::Cid,
        SortBy::Start,
        SortBy::Subs,
        SortBy::Pending,
        SortBy::MsgsTo,
        SortBy::MsgsFrom,
        SortBy::BytesTo,
        SortBy::BytesFrom,
        SortBy::Last,
        SortBy::Idle,
        SortBy::Uptime,
        SortBy::Stop,
        SortBy::Reason,
        SortBy::Rtt,
    ];

    /// nats-server's `SortOpt` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SortBy::Cid => "cid",
            SortBy::Start => "start",
            SortBy::Subs => "subs",
            SortBy::Pending => "pending",
            SortBy::MsgsTo => "msgs_to",
            SortBy::MsgsFrom => "msgs_from",
            SortBy::BytesTo => "bytes_to",
            SortBy::BytesFrom => "bytes_from",
            SortBy::Last => "last",
            SortBy::Idle => "idle",
            SortBy::Uptime => "uptime",
            SortBy::Stop => "stop",
            SortBy::Reason => "reason",
            SortBy::Rtt => "rtt",
        }
    }

    /// Whether the order applies only to closed connections (`state=closed`).
    pub fn closed_only(self) -> bool {
        matches!(self, SortBy::Stop | SortBy::Reason)
    }

    /// nats-server's `SortOpt` names; the empty string is the default.
    pub fn parse(s: &str) -> Option<SortBy> {
        if s.is_empty() {
            return Some(SortBy::Cid);
        }
        SortBy::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for SortBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The query, decoded.
#[derive(Debug, Clone, Default)]
pub struct ConnzOptions {
    /// As given (validated by [`connz`], which reports it verbatim).
    pub sort: String,
    pub auth: bool,
    pub subs: Subs,
    pub offset: i64,
    pub limit: i64,
    pub cid: u64,
    pub state: State,
    pub user: String,
    pub account: String,
    pub mqtt_client: String,
}

impl ConnzOptions {
    /// Decodes the query in nats-server's order (auth, subs, offset, limit,
    /// cid, state): the first bad value is the one reported.
    pub fn from_query(q: &Query) -> Result<ConnzOptions, String> {
        let auth = q.bool("auth")?;
        let subs = q.subs()?;
        let offset = q.int("offset")?;
        let limit = q.int("limit")?;
        let cid = q.uint("cid")?;
        let state = match q.get("state").to_ascii_lowercase().as_str() {
            "" | "open" => State::Open,
            "closed" => State::Closed,
            "any" | "all" => State::Any,
            _ => return Err(format!("Error decoding state for {}", q.get("state"))),
        };
        Ok(ConnzOptions {
            sort: q.get("sort").to_string(),
            auth,
            subs,
            offset,
            limit,
            cid,
            state,
            user: q.get("user").to_string(),
            account: q.get("acc").to_string(),
            mqtt_client: q.get("mqtt_client").to_string(),
        })
    }
}

/// Builds the reply; `Err` is a 400 text.
pub fn connz(server: &ServerState, o: &ConnzOptions) -> Result<Connz, String> {
    connz_with(server, server, o)
}

/// [`connz`] with the accounts of `directory`, for the `acc` filter.
pub fn connz_with(server: &ServerState, directory: &dyn AccountDirectory, o: &ConnzOptions) -> Result<Connz, String> {
    let sort = SortBy::parse(&o.sort).ok_or_else(|| format!("invalid sorting option: {}", o.sort))?;
    let offset = o.offset.max(0);
    let mut limit = if o.limit <= 0 { DEFAULT_LIMIT } else { o.limit };
    if sort == SortBy::Stop && o.state != State::Closed {
        return Err("sort by stop only valid on closed connections".into());
    }
    if sort == SortBy::Reason && o.state != State::Closed {
        return Err("sort by reason only valid on closed connections".into());
    }
    if o.cid > 0 {
        limit = 1;
    }
    let now_time = SystemTime::now();
    let now = unix_nanos(now_time);
    let mut reply = Connz {
        server_id: server.id().to_string(),
        now: rfc3339_nano(now_time),
        num_connections: 0,
        total: 0,
        offset,
        limit,
        connections: Some(Vec::new()),
    };
    // nats-server answers an unknown account with an empty shell (no
    // server id, `connections: null`).
    if !o.account.is_empty() && find(directory, &o.account).is_none() {
        reply.server_id = String::new();
        reply.connections = None;
        return Ok(reply);
    }

    let mut open: Vec<Arc<Connection>> = match o.state {
        State::Open | State::Any => server.connections(),
        State::Closed => Vec::new(),
    };
    let mut closed = match o.state {
        State::Closed | State::Any => server.closed().list(),
        State::Open => Vec::new(),
    };
    if !o.account.is_empty() {
        open.retain(|c| c.account().name.as_ref() == o.account);
        // nats-server keeps a closed connection's account only when it is
        // not `$G`, so filtering closed ones by `acc=$G` keeps none.
        closed.retain(|cc| cc.account == o.account && o.account != GLOBAL_ACCOUNT);
    }
    // The total is counted after the account filter and before the user
    // and cid filters, as nats-server does.
    reply.total = open.len() + closed.len();

    let mut rows: Vec<ConnInfo> = Vec::new();
    let mut found_open = false;
    if o.cid > 0 {
        if let Some(conn) = open.iter().find(|c| c.cid == o.cid) {
            rows.push(open_row(conn, now, o));
            found_open = true;
        }
    } else {
        for conn in &open {
            if !o.user.is_empty() && conn.meta.lock().unwrap_or_else(|e| e.into_inner()).user != o.user {
                continue;
            }
            if !o.mqtt_client.is_empty() {
                continue; // no MQTT clients in rnats
            }
            rows.push(open_row(conn, now, o));
        }
    }
    if !found_open {
        for cc in closed.iter().filter(|cc| o.cid == 0 || cc.facts.cid == o.cid) {
            if !o.user.is_empty() && cc.facts.meta.user != o.user {
                continue;
            }
            if !o.mqtt_client.is_empty() {
                continue;
            }
            rows.push(closed_row(cc, o));
        }
    }
    sort_rows(&mut rows, sort);
    let n = rows.len() as i64;
    let from = offset.min(n);
    let to = from + limit.min(n - from);
    let page: Vec<ConnInfo> = rows.drain(from as usize..to as usize).collect();
    reply.num_connections = page.len();
    reply.connections = Some(page);
    Ok(reply)
}

fn open_row(conn: &Connection, now: u64, o: &ConnzOptions) -> ConnInfo {
    let mut info = fill(&ConnFacts::of(conn), now);
    if o.subs != Subs::None {
        let subs = subscriptions_of(conn);
        match o.subs {
            Subs::Detail => info.subscriptions_list_detail = subs.iter().map(|s| SubDetail::of(s)).collect(),
            _ => {
                info.subscriptions_list =
                    subs.iter().map(|s| String::from_utf8_lossy(&s.subject).into_owned()).collect()
            }
        }
    }
    if o.auth {
        info.authorized_user = conn.meta.lock().unwrap_or_else(|e| e.into_inner()).user.clone();
        let account = conn.account().name.to_string();
        if account != GLOBAL_ACCOUNT {
            info.account = account.clone();
        }
        info.name_tag = account;
    }
    info
}

fn closed_row(cc: &ClosedConn, o: &ConnzOptions) -> ConnInfo {
    let mut info = fill_closed(cc);
    match o.subs {
        Subs::Detail => {
            info.subscriptions_list_detail =
                cc.subs.iter().map(|s| SubDetail::from_facts(s.clone()).with_account(&cc.account)).collect()
        }
        Subs::List => info.subscriptions_list = cc.subs.iter().map(|s| s.subject.clone()).collect(),
        Subs::None => {}
    }
    if o.auth {
        info.authorized_user = cc.facts.meta.user.clone();
        if !cc.account.is_empty() && cc.account != GLOBAL_ACCOUNT {
            info.account = cc.account.clone();
            info.name_tag = cc.account.clone();
        }
    }
    info
}

/// nats-server's sort orders: ascending for cid/start, uptime and reason,
/// descending for the rest; ties (which Go leaves in any order) by cid.
pub fn sort_rows(rows: &mut [ConnInfo], sort: SortBy) {
    use std::cmp::Reverse;
    match sort {
        SortBy::Cid | SortBy::Start => rows.sort_by_key(|c| c.cid),
        SortBy::Subs => rows.sort_by_key(|c| (Reverse(c.subscriptions), c.cid)),
        SortBy::Pending => rows.sort_by_key(|c| (Reverse(c.pending_bytes), c.cid)),
        SortBy::MsgsTo => rows.sort_by_key(|c| (Reverse(c.out_msgs), c.cid)),
        SortBy::MsgsFrom => rows.sort_by_key(|c| (Reverse(c.in_msgs), c.cid)),
        SortBy::BytesTo => rows.sort_by_key(|c| (Reverse(c.out_bytes), c.cid)),
        SortBy::BytesFrom => rows.sort_by_key(|c| (Reverse(c.in_bytes), c.cid)),
        // Most recent activity first; idle: longest idle first.
        SortBy::Last => rows.sort_by_key(|c| (Reverse(c.keys.last), c.cid)),
        SortBy::Idle => rows.sort_by_key(|c| (c.keys.last, c.cid)),
        SortBy::Uptime => {
            // Open connections' uptime runs to now: the later the start, the
            // shorter. Closed ones stopped: stop - start.
            let now = unix_nanos(SystemTime::now());
            rows.sort_by_key(|c| (c.keys.stop.unwrap_or(now).saturating_sub(c.keys.start), c.cid));
        }
        SortBy::Stop => rows.sort_by_key(|c| (Reverse(c.keys.stop.unwrap_or(0)), c.cid)),
        SortBy::Reason => rows.sort_by(|a, b| a.reason.cmp(b.reason).then(a.cid.cmp(&b.cid))),
        SortBy::Rtt => rows.sort_by_key(|c| (Reverse(c.keys.rtt), c.cid)),
    }
}
