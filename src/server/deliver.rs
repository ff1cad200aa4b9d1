//! Fan-out of one published message: match the subject in the account's
//! index, skip what the subscriber may not receive, push the encoded message
//! to each chosen subscriber's outbound buffer, and remember whom to wake.
//!
//! A [`Fanout`] belongs to one session (a client today, a route later) and is
//! reused for every message it publishes: the match cache, the list of
//! connections to wake and the counters live here, so delivering a message
//! allocates nothing and writes no shared counter. Woken connections and the
//! counters are settled once per read chunk by [`Fanout::finish_batch`], into
//! the publisher's own connection (the server's totals are sums over
//! connections, made when `/varz` asks); deliveries to subscribers that are
//! behind are noted in [`Fanout::stalls`] for the producer to stall on
//! afterwards (see [`crate::server::stall`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use super::account::Account;
use super::conn::{Connection, Subscription, Take};
use super::outbound::{MsgLine, Pushed, WhenBehind};
use super::stall::Stalls;
use super::sublist::MatchCache;
use crate::monitor::gotime::unix_nanos;

/// One message as published.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// For HPUB: the size of the header block at the start of `payload`.
    pub header_len: Option<usize>,
    pub payload: &'a [u8],
    /// The size of `payload` as the publisher wrote it; deliveries repeat it.
    pub size_text: &'a [u8],
    /// The header size as the publisher wrote it (with `header_len`).
    pub header_text: &'a [u8],
}

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
    /// The publisher's current `max_pending` for subscribers' buffers.
    pub max_pending: usize,
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
}

impl Default for Fanout {
    fn default() -> Self {
        Fanout {
            cache: MatchCache::default(),
            to_wake: Vec::new(),
            batch: Batch::default(),
            stalls: Stalls::default(),
            rng: rand::random::<u64>() | 1,
        }
    }
}

impl Fanout {
    /// Delivers `msg` to every plain subscriber and to one member of each
    /// queue group of `account`. Returns whether anyone got it.
    pub fn publish(&mut self, account: &Account, msg: &Message<'_>, from: Publisher<'_>) -> bool {
        let result = self.cache.get(&account.sublist, msg.subject);
        let mut delivered = false;
        for sub in &result.psubs {
            delivered |= self.deliver_to(sub, msg, from);
        }
        for group in &result.qsubs {
            let n = group.members.len();
            // A random start, then the first member able to take it.
            let start = (self.next_rand() % n as u64) as usize;
            for i in 0..n {
                if self.deliver_to(&group.members[(start + i) % n], msg, from) {
                    delivered = true;
                    break;
                }
            }
        }
        delivered
    }

    fn deliver_to(&mut self, sub: &Arc<Subscription>, msg: &Message<'_>, from: Publisher<'_>) -> bool {
        let conn = &sub.conn;
        if !from.echo && Arc::ptr_eq(conn, from.conn) {
            return false;
        }
        if sub.deny_filter.as_ref().is_some_and(|deny| deny.blocks(msg.subject)) {
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
        let line = MsgLine { subject: msg.subject, sid: &sub.sid, reply: msg.reply, header_size, size };
        let pushed = conn.outbound.push_msg(&line, payload, from.max_pending, from.when_behind);
        match pushed {
            Pushed::Queued | Pushed::QueuedBehind => {
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
                conn.slow_consumer_pending(from.max_pending);
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

    fn next_rand(&mut self) -> u64 {
        // xorshift64: queue member choice needs speed, not cryptography.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}
