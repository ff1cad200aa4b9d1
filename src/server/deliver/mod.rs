//! Fan-out of one published message: match the subject in the account's
//! index, skip what the subscriber may not receive, push the encoded message
//! to each chosen subscriber's outbound buffer, and remember whom to wake.
//!
//! A [`Fanout`] belongs to one session (a client, or a route) and is reused
//! for every message it publishes: the match cache, the list of connections
//! to wake, the route targets and the counters live here, so delivering a
//! message allocates nothing and writes no shared counter. Woken connections and the
//! counters are settled once per read chunk by [`Fanout::finish_batch`], into
//! the publisher's own connection (the server's totals are sums over
//! connections, made when `/varz` asks); deliveries to subscribers that are
//! behind are noted in [`Fanout::stalls`] for the producer to stall on
//! afterwards (see [`crate::server::stall`]).
//!
//! In a cluster the index also holds the routes' subscriptions (other
//! servers' interest). A message published by a local client goes to each
//! route at most once, as one `RMSG` naming the queue groups that route must
//! deliver to; a queue group picks its member among local and remote members
//! weighted by how many members each stands for, with no local preference
//! (as nats-server does). A message that came from a route goes to local
//! subscribers only (one hop), and to one local member of each queue group
//! it names.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

mod imports;

use super::account::Account;
use super::conn::{ConnKind, Connection, Subscription, Take, Via};
use super::match_cache::MatchCache;
use super::outbound::{MsgLine, Pushed, WhenBehind};
use super::stall::Stalls;
use super::sublist::MatchResult;
use crate::mapping::{Mappings, Selected};
use crate::server::clock::unix_nanos;

/// One message as published: the parser's PUB/HPUB, which every delivery
/// repeats (a route's RMSG and a service import's request are built in the
/// same shape).
pub type Message<'a> = super::proto::Publish<'a>;

/// Counters of one read chunk, added to the publisher's totals once.
#[derive(Debug, Default, Clone, Copy)]
pub struct Batch {
    pub in_msgs: u64,
    pub in_bytes: u64,
    /// SUB and UNSUB ops: activity for `last_activity`, as in nats-server.
    pub subs: u64,
}

/// Who is publishing, for the rules that depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Publisher<'a> {
    pub conn: &'a Arc<Connection>,
    /// `echo:false` in CONNECT: skip the publisher's own subscriptions.
    pub echo: bool,
    /// What to do about a subscriber that is behind: a client stalls (or,
    /// with `no_fast_producer_stall`, skips it).
    pub when_behind: WhenBehind,
}

pub struct Fanout {
    cache: MatchCache<Subscription>,
    /// Connections with output queued during this read chunk.
    to_wake: Vec<Arc<Connection>>,
    pub batch: Batch,
    /// Deliveries of this read chunk that found their subscriber behind.
    pub stalls: Stalls,
    rng: u64,
    /// The routes the current message goes to; entries past `routes_len`
    /// are kept (with their buffers) for the next message.
    routes: Vec<RouteTarget>,
    routes_len: usize,
    /// Where a stream import's mapped subject is written (reused).
    mapped: Vec<u8>,
    /// Service-import and response entries the current message matched,
    /// served once its ordinary deliveries are done.
    pending_imports: Vec<Arc<Subscription>>,
    /// The match cache of publishes the server makes on a client's behalf
    /// (requests into exporters, responses back), so they do not evict
    /// the client's own account from `cache`.
    import_cache: MatchCache<Subscription>,
    /// Buffers of those publishes, reused.
    scratch: imports::Scratch,
    /// The cluster name cluster-scoped mappings pick by, in the publisher's
    /// account and in an exporter a request enters (empty outside a
    /// cluster). Set by the session at login and when it adopts a reload.
    cluster: String,
}

/// One route a message goes to, and the queue groups it must deliver to.
struct RouteTarget {
    /// The route's subscription that matched, in the current match result.
    at: SubAt,
    /// Indices into the match result's queue groups.
    groups: Vec<usize>,
}

/// Where a subscription sits in a match result.
#[derive(Clone, Copy)]
enum SubAt {
    Plain(usize),
    Queue(usize, usize),
}

fn sub_at(result: &MatchResult<Subscription>, at: SubAt) -> &Arc<Subscription> {
    match at {
        SubAt::Plain(i) => &result.psubs[i],
        SubAt::Queue(g, m) => &result.qsubs[g].members[m],
    }
}

fn is_route(sub: &Subscription) -> bool {
    sub.conn.kind == ConnKind::Route
}

impl Default for Fanout {
    fn default() -> Self {
        Fanout {
            cache: MatchCache::default(),
            to_wake: Vec::new(),
            batch: Batch::default(),
            stalls: Stalls::default(),
            rng: rand::random::<u64>() | 1,
            routes: Vec::new(),
            routes_len: 0,
            mapped: Vec::new(),
            pending_imports: Vec::new(),
            import_cache: MatchCache::default(),
            scratch: imports::Scratch::default(),
            cluster: String::new(),
        }
    }
}

/// A session that ends without finishing its read chunk (a panic unwinding
/// its task) still wakes the subscribers it queued messages for: none of
/// them waits for a wakeup that would never come.
impl Drop for Fanout {
    fn drop(&mut self) {
        for conn in self.to_wake.drain(..) {
            conn.flush();
        }
    }
}

impl Fanout {
    /// Delivers `msg`, published by a local client, to every plain
    /// subscriber and to one member of each queue group of `account`; other
    /// servers with interest get it once each. Returns whether anyone got it.
    pub fn publish(&mut self, account: &Arc<Account<Subscription>>, msg: &Message<'_>, from: Publisher<'_>) -> bool {
        self.publish_in(account, msg, from, 0)
    }

    /// [`Fanout::publish`], `depth` service imports deep.
    fn publish_in(
        &mut self,
        account: &Arc<Account<Subscription>>,
        msg: &Message<'_>,
        from: Publisher<'_>,
        depth: u8,
    ) -> bool {
        let result = match depth {
            0 => self.cache.get(&account.sublist, msg.subject),
            _ => self.import_cache.get(&account.sublist, msg.subject),
        };
        self.routes_len = 0;
        let mut delivered = false;
        for (i, sub) in result.psubs.iter().enumerate() {
            if is_route(sub) {
                self.add_route_target(&result, SubAt::Plain(i), None);
                continue;
            }
            delivered |= self.deliver_to(sub, msg, from);
        }
        for (g, group) in result.qsubs.iter().enumerate() {
            let n = group.members.len();
            // A random start (weighted when a route stands for several
            // members), then the first member able to take it.
            let start = if group.weight == n as u64 {
                (self.next_rand() % n as u64) as usize
            } else {
                let mut pick = self.next_rand() % group.weight.max(1);
                let mut at = 0;
                for (i, m) in group.members.iter().enumerate() {
                    let w = u64::from(m.weight);
                    if pick < w {
                        at = i;
                        break;
                    }
                    pick -= w;
                }
                at
            };
            for i in 0..n {
                let m = (start + i) % n;
                let member = &group.members[m];
                if is_route(member) {
                    if member.is_removed() {
                        continue;
                    }
                    self.add_route_target(&result, SubAt::Queue(g, m), Some(g));
                    break;
                }
                if self.deliver_to(member, msg, from) {
                    delivered = true;
                    break;
                }
            }
        }
        if self.routes_len > 0 {
            delivered |= self.send_to_routes(&result, account, msg, from);
        }
        if !self.pending_imports.is_empty() {
            delivered |= self.serve_imports(account, msg, from, depth, false);
        }
        delivered
    }

    /// Delivers `msg`, received from the route `from.conn`, to local
    /// subscribers only (one hop): every plain subscriber, and one member of
    /// each queue group named in `queues` (`q1 q2 …`; none named, none
    /// served). When a named group has no local member able to take it, one
    /// on another server is tried, never the server it came from.
    pub fn publish_routed(
        &mut self,
        account: &Arc<Account<Subscription>>,
        msg: &Message<'_>,
        queues: &[u8],
        from: Publisher<'_>,
    ) {
        let result = self.cache.get(&account.sublist, msg.subject);
        self.routes_len = 0;
        for sub in &result.psubs {
            if !is_route(sub) {
                self.deliver_to(sub, msg, from);
            }
        }
        if !queues.is_empty() {
            for (g, group) in result.qsubs.iter().enumerate() {
                if !queues.split(|&b| b == b' ' || b == b'\t').any(|q| q == &*group.name) {
                    continue;
                }
                let n = group.members.len();
                let start = (self.next_rand() % n as u64) as usize;
                let mut fallback = None;
                let mut done = false;
                for i in 0..n {
                    let m = (start + i) % n;
                    let member = &group.members[m];
                    if is_route(member) {
                        if fallback.is_none() && !Arc::ptr_eq(&member.conn, from.conn) && !member.is_removed() {
                            fallback = Some(m);
                        }
                        continue;
                    }
                    if self.deliver_to(member, msg, from) {
                        done = true;
                        break;
                    }
                }
                if let (false, Some(m)) = (done, fallback) {
                    self.add_route_target(&result, SubAt::Queue(g, m), Some(g));
                }
            }
        }
        if self.routes_len > 0 {
            self.send_to_routes(&result, account, msg, from);
        }
        if !self.pending_imports.is_empty() {
            self.serve_imports(account, msg, from, 0, true);
        }
    }

    /// Notes that the route owning the subscription at `at` gets the current
    /// message (for queue group `group`, if any): one target per route.
    fn add_route_target(&mut self, result: &MatchResult<Subscription>, at: SubAt, group: Option<usize>) {
        let sub = sub_at(result, at);
        if sub.is_removed() {
            return;
        }
        for target in &mut self.routes[..self.routes_len] {
            if Arc::ptr_eq(&sub_at(result, target.at).conn, &sub.conn) {
                target.groups.extend(group);
                return;
            }
        }
        if self.routes_len == self.routes.len() {
            self.routes.push(RouteTarget { at, groups: Vec::new() });
        }
        let target = &mut self.routes[self.routes_len];
        target.at = at;
        target.groups.clear();
        target.groups.extend(group);
        self.routes_len += 1;
    }

    /// Encodes the message once for each route target.
    fn send_to_routes(
        &mut self,
        result: &MatchResult<Subscription>,
        account: &Account<Subscription>,
        msg: &Message<'_>,
        from: Publisher<'_>,
    ) -> bool {
        let mut sent = false;
        for t in 0..self.routes_len {
            // `conn` borrows the match result, not `self`, so waking it
            // below needs no reference count change.
            let conn = &sub_at(result, self.routes[t].at).conn;
            let (header_len, payload) = match msg.header_len {
                Some(h) if !conn.headers() => (None, &msg.payload[h..]),
                h => (h, msg.payload),
            };
            let queues = self.routes[t].groups.iter().map(|&g| &*result.qsubs[g].name);
            let pushed = conn.outbound.push_routed(
                account.name.as_bytes(),
                msg.subject,
                msg.reply,
                queues.clone(),
                header_len,
                payload,
                from.when_behind,
            );
            match pushed {
                Pushed::Queued | Pushed::QueuedBehind => {
                    // One relaxed load when tracing is off.
                    if crate::logging::trace_enabled() {
                        let name = account.name.as_bytes();
                        super::session::trace::trace_routed_out(
                            &conn.log_prefix,
                            name,
                            msg.subject,
                            msg.reply,
                            queues,
                            header_len,
                            payload,
                        );
                    }
                    sent = true;
                    self.wake_later(conn);
                    if pushed == Pushed::QueuedBehind {
                        self.stalls.note(conn);
                    }
                }
                Pushed::SlowConsumer => conn.slow_consumer_pending(),
                Pushed::Dropped | Pushed::Closed => {}
            }
        }
        self.routes_len = 0;
        sent
    }

    fn deliver_to(&mut self, sub: &Arc<Subscription>, msg: &Message<'_>, from: Publisher<'_>) -> bool {
        let shadow = match sub.via.as_deref() {
            None => return self.deliver_on(sub, msg.subject, msg, from),
            Some(Via::Shadow(shadow)) => shadow,
            Some(Via::ServiceImport { .. } | Via::Responses) => {
                // Served after this message's own deliveries: serving
                // publishes again, into another account.
                if !sub.is_removed() {
                    self.pending_imports.push(sub.clone());
                }
                return false;
            }
            Some(Via::Internal { sink, handler, .. }) => {
                // The server's own publishes skip its own handlers, as
                // nats-server's internal client has echo off.
                if !from.echo && Arc::ptr_eq(&sub.conn, from.conn) {
                    return false;
                }
                // Copied into the server task's queue, never waited on.
                if !sub.is_removed() {
                    sink.deliver(*handler, &sub.account, msg);
                }
                return true;
            }
        };
        // A stream import: the importer's subscription gets the message on
        // the subject the import maps it to.
        let mut buf = std::mem::take(&mut self.mapped);
        let subject = if shadow.import.map_into(msg.subject, &mut buf) { &buf[..] } else { msg.subject };
        let wanted = !shadow.filtered || crate::subject::filter_matches(&shadow.parent.subject, subject);
        let delivered = wanted && self.deliver_on(&shadow.parent, subject, msg, from);
        self.mapped = buf;
        delivered
    }

    /// Delivers `msg` on `subject` to the subscription `sub`.
    fn deliver_on(&mut self, sub: &Arc<Subscription>, subject: &[u8], msg: &Message<'_>, from: Publisher<'_>) -> bool {
        let conn = &sub.conn;
        if !from.echo && Arc::ptr_eq(conn, from.conn) {
            return false;
        }
        if sub.deny_filter.as_ref().is_some_and(|deny| deny.blocks(subject)) {
            return false;
        }
        let take = sub.take();
        if take == Take::No {
            return false;
        }
        // Headers go to subscribers that asked for them; others get the
        // payload alone, as a plain MSG with the size of what is left.
        let mut digits = itoa::Buffer::new();
        let (header_size, size, payload) = match msg.header_len {
            Some(h) if !conn.headers() => {
                let body = &msg.payload[h..];
                (None, digits.format(body.len()).as_bytes(), body)
            }
            Some(_) => (Some(msg.header_text), msg.size_text, msg.payload),
            None => (None, msg.size_text, msg.payload),
        };
        let line = MsgLine { subject, sid: &sub.sid, reply: msg.reply, header_size, size };
        let pushed = conn.outbound.push_msg(&line, payload, from.when_behind);
        match pushed {
            Pushed::Queued | Pushed::QueuedBehind => {
                // One relaxed load when tracing is off.
                if crate::logging::trace_enabled() {
                    super::session::trace::trace_msg_out(&conn.log_prefix, &line, payload);
                }
                if let (Some(reply), true) = (msg.reply, conn.replies.enabled()) {
                    conn.replies.grant(reply);
                }
                self.wake_later(conn);
                if pushed == Pushed::QueuedBehind {
                    self.stalls.note(conn);
                }
            }
            Pushed::Dropped => {
                // Skipped, yet counted against an auto-unsubscribe limit,
                // as nats-server counts it before deciding.
                if take == Take::Last {
                    conn.remove_subscription(sub);
                }
                return false;
            }
            Pushed::SlowConsumer => {
                conn.slow_consumer_pending();
                return false;
            }
            Pushed::Closed => return false,
        }
        if take == Take::Last {
            conn.remove_subscription(sub);
        }
        true
    }

    /// Queues `conn` to be woken at the end of this read chunk.
    pub fn wake_later(&mut self, conn: &Arc<Connection>) {
        if conn.mark_flush_queued() {
            self.to_wake.push(conn.clone());
        }
    }

    /// Ends a read chunk: wakes every connection written to during it, once,
    /// and adds the chunk's counters to the publisher's totals. Activity
    /// times (one clock read per chunk) go to the publisher when it published
    /// or subscribed, and to every connection it sent messages to.
    pub fn finish_batch(&mut self, publisher: &Connection) {
        let b = std::mem::take(&mut self.batch);
        let active = b.in_msgs > 0 || b.subs > 0;
        let now = if active || self.to_wake.iter().any(|c| !std::ptr::eq(&**c, publisher)) {
            unix_nanos(SystemTime::now())
        } else {
            0
        };
        if active {
            publisher.touch(now);
        }
        // Counted before anyone is woken: whoever receives a message of this
        // chunk finds it in the publisher's totals.
        if b.in_msgs > 0 {
            publisher.in_msgs.fetch_add(b.in_msgs, Ordering::Relaxed);
            publisher.in_bytes.fetch_add(b.in_bytes, Ordering::Relaxed);
            let (c, stats) = (&self.cache, &publisher.match_cache);
            stats.hits.store(c.hits, Ordering::Relaxed);
            stats.entries.store(c.len() as u64, Ordering::Relaxed);
            stats.fanout_sum.store(c.fanout_sum, Ordering::Relaxed);
            stats.fanout_max.store(c.fanout_max, Ordering::Relaxed);
        }
        for conn in self.to_wake.drain(..) {
            if !std::ptr::eq(&*conn, publisher) {
                conn.touch(now);
            }
            conn.flush();
        }
    }

    /// A random number in 0..2^31 (mapping weights and `random()`).
    pub fn random_u31(&mut self) -> u32 {
        (self.next_rand() >> 33) as u32
    }

    fn next_rand(&mut self) -> u64 {
        xorshift(&mut self.rng)
    }

    /// Takes the cluster name of cluster-scoped mappings (see `cluster`).
    pub fn set_cluster(&mut self, name: String) {
        self.cluster = name;
    }

    /// Picks where `mappings` send `subject` on this server (its cluster,
    /// this session's random draws), writing a mapped subject into `out`.
    pub fn map_subject(&mut self, mappings: &Mappings, subject: &[u8], out: &mut Vec<u8>) -> Selected {
        let Fanout { cluster, rng, .. } = self;
        mappings.select(subject, cluster, out, &mut || (xorshift(rng) >> 33) as u32)
    }
}

/// xorshift64: queue member choice and mapping weights need speed, not
/// cryptography.
fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

#[cfg(test)]
mod tests {
    //! The message path from a publish to the subscribers' outbound buffers,
    //! without sockets: what an integration test sees only as a missing or
    //! extra message somewhere.

    use super::*;
    use crate::options::{Permissions, SubjectPermission};
    use crate::server::conn::Subscribed;
    use crate::server::errors::CloseReason;
    use crate::server::permissions::CompiledPermissions;
    use crate::server::stats::ServerStats;

    fn account() -> Arc<Account<Subscription>> {
        Arc::new(Account::new(crate::server::account::GLOBAL_ACCOUNT))
    }

    fn conn(cid: u64, kind: ConnKind, account: &Arc<Account<Subscription>>) -> Arc<Connection> {
        let addr = ([127, 0, 0, 1], 4000 + cid as u16).into();
        Arc::new(Connection::new(cid, kind, addr, account.clone(), Arc::new(ServerStats::default())))
    }

    fn msg(subject: &[u8]) -> Message<'_> {
        Message { subject, reply: None, header_len: None, payload: b"hi", size_text: b"2", header_text: b"" }
    }

    fn publisher(conn: &Arc<Connection>) -> Publisher<'_> {
        Publisher { conn, echo: true, when_behind: WhenBehind::Queue }
    }

    /// Messages queued for `conn` so far.
    fn got(conn: &Connection) -> u64 {
        conn.outbound.counters().0
    }

    #[test]
    fn a_queue_group_gets_each_message_once_and_every_plain_subscriber_gets_all() {
        let acc = account();
        let members: Vec<_> = (1..=3).map(|cid| conn(cid, ConnKind::Client, &acc)).collect();
        for m in &members {
            assert_eq!(m.subscribe(b"jobs.*", Some(b"workers"), b"1", None), Subscribed::Added);
        }
        let watcher = conn(9, ConnKind::Client, &acc);
        watcher.subscribe(b"jobs.>", None, b"1", None);
        let from = conn(10, ConnKind::Client, &acc);
        let mut fanout = Fanout::default();
        for _ in 0..300 {
            assert!(fanout.publish(&acc, &msg(b"jobs.a"), publisher(&from)));
        }
        let per_member: Vec<u64> = members.iter().map(|m| got(m)).collect();
        assert_eq!(per_member.iter().sum::<u64>(), 300, "{per_member:?}");
        // The pick is random: every member gets a share.
        assert!(per_member.iter().all(|&n| n > 0), "{per_member:?}");
        assert_eq!(got(&watcher), 300);
        fanout.finish_batch(&from);
    }

    #[test]
    fn a_closed_queue_member_is_skipped_for_the_next_one() {
        let acc = account();
        let (gone, alive) = (conn(1, ConnKind::Client, &acc), conn(2, ConnKind::Client, &acc));
        gone.subscribe(b"q", Some(b"g"), b"1", None);
        alive.subscribe(b"q", Some(b"g"), b"1", None);
        gone.close_now(CloseReason::ClientClosed);
        let from = conn(3, ConnKind::Client, &acc);
        let mut fanout = Fanout::default();
        for _ in 0..20 {
            assert!(fanout.publish(&acc, &msg(b"q"), publisher(&from)));
        }
        assert_eq!(got(&alive), 20);
    }

    #[test]
    fn a_wildcard_subscription_does_not_get_what_its_permissions_deny() {
        let perms = CompiledPermissions::new(&Permissions {
            subscribe: Some(SubjectPermission { allow: vec![], deny: vec!["a.secret".into()] }),
            ..Permissions::default()
        });
        let deny = perms.subscribe.overlapping_denies(b"a.*");
        assert!(deny.is_some());
        let acc = account();
        let filtered = conn(1, ConnKind::Client, &acc);
        filtered.subscribe(b"a.*", None, b"1", deny);
        let open = conn(2, ConnKind::Client, &acc);
        open.subscribe(b"a.*", None, b"1", None);
        let from = conn(3, ConnKind::Client, &acc);
        let mut fanout = Fanout::default();
        fanout.publish(&acc, &msg(b"a.secret"), publisher(&from));
        fanout.publish(&acc, &msg(b"a.public"), publisher(&from));
        assert_eq!((got(&filtered), got(&open)), (1, 2));
    }

    #[test]
    fn echo_off_skips_the_publishers_own_subscription() {
        let acc = account();
        let me = conn(1, ConnKind::Client, &acc);
        me.subscribe(b"x", None, b"1", None);
        let mut fanout = Fanout::default();
        let quiet = Publisher { conn: &me, echo: false, when_behind: WhenBehind::Queue };
        assert!(!fanout.publish(&acc, &msg(b"x"), quiet));
        assert!(fanout.publish(&acc, &msg(b"x"), publisher(&me)));
        assert_eq!(got(&me), 1);
    }

    #[test]
    fn an_auto_unsubscribe_limit_delivers_that_many_then_removes_the_subscription() {
        let acc = account();
        let sub_conn = conn(1, ConnKind::Client, &acc);
        sub_conn.subscribe(b"x", None, b"7", None);
        sub_conn.subscription(b"7").expect("subscribed").set_max(2);
        let from = conn(2, ConnKind::Client, &acc);
        let mut fanout = Fanout::default();
        let delivered: Vec<bool> = (0..3).map(|_| fanout.publish(&acc, &msg(b"x"), publisher(&from))).collect();
        assert_eq!(delivered, [true, true, false]);
        assert_eq!(got(&sub_conn), 2);
        assert!(sub_conn.subscription(b"7").is_none(), "the connection still lists it");
        assert!(acc.sublist.match_subject(b"x").psubs.is_empty(), "the account still indexes it");
    }

    #[test]
    fn a_route_gets_one_copy_of_a_message_however_many_of_its_interests_match() {
        let acc = account();
        let route = conn(1, ConnKind::Route, &acc);
        route.subscribe_remote(&route.account(), b"$G foo", b"foo", None, 1, 100);
        route.subscribe_remote(&route.account(), b"$G f*", b"f*", None, 1, 100);
        route.subscribe_remote(&route.account(), b"$G foo g", b"foo", Some(b"g"), 2, 100);
        let from = conn(2, ConnKind::Client, &acc);
        let mut fanout = Fanout::default();
        assert!(fanout.publish(&acc, &msg(b"foo"), publisher(&from)));
        assert_eq!(got(&route), 1);
        // Received from that route: delivered to local subscribers only,
        // never back to it.
        let local = conn(3, ConnKind::Client, &acc);
        local.subscribe(b"foo", None, b"1", None);
        let from_route = Publisher { conn: &route, echo: true, when_behind: WhenBehind::Queue };
        fanout.publish_routed(&acc, &msg(b"foo"), b"g", from_route);
        assert_eq!((got(&route), got(&local)), (1, 1));
    }
}
