//! An account: a namespace of subjects with its own subscription index.
//!
//! rnats serves one account today, nats-server's global account `$G`. Every
//! connection belongs to an account and inserts its subscriptions into that
//! account's index, so multi-tenancy (an index per account, imports and
//! exports, the account name carried on routes) adds accounts here instead of
//! rewriting the message path.
//!
//! In a cluster the account also keeps its *local interest*: how many
//! subscriptions of this server's clients there are per subject (and per
//! queue group), which is what the other servers are told with `RS+`/`RS-`.
//! Routes learn a plain subject on its first subscription and lose it with
//! the last; a queue group's count (its weight) is sent on every change.
//!
//! The account sits below the connection (a connection holds its account),
//! so it names no connection type: it indexes any [`Indexed`] subscription
//! and tells any [`InterestPeer`] about interest; `conn.rs` implements both.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::Instant;

use super::account_config::AccountConfig;
use super::permissions::CompiledPermissions;
use super::service::response_table::{ResponseTable, DEFAULT_MAX_OUTSTANDING};
use super::stats::Traffic;
use super::sublist::{InvalidSubject, Sublist, Weighted};

/// nats-server's name for the account of clients that name none.
pub use crate::options::GLOBAL_ACCOUNT;

/// What the account reads of a subscription it indexes.
pub trait Indexed: Weighted {
    fn subject(&self) -> &[u8];
    fn queue(&self) -> Option<&[u8]>;
    /// Made by a client of this server: only those are local interest that
    /// routes hear about (a route's own subscriptions are not).
    fn is_local(&self) -> bool;
}

/// A peer told about this server's interest changes: a route.
pub trait InterestPeer: Send + Sync {
    /// Queues `RS+`/`RS-` lines (`buf`, whole lines) to the peer.
    fn send_interest(&self, buf: &[u8]);
}

/// `S` is the subscription type (the server's is `conn::Subscription`).
pub struct Account<S> {
    pub name: Box<str>,
    pub sublist: Sublist<S>,
    /// Local interest, kept only once the server is part of a cluster (so a
    /// standalone server pays nothing per subscription).
    interest: OnceLock<Mutex<Interest>>,
    /// When the last `Producer was stalled` warning about this account was
    /// logged (nats-server rate-limits it per account). A std mutex, taken
    /// only when a producer was stalled for 5 ms or more.
    stall_warned: Mutex<Option<Instant>>,
    /// What the config says about the account now. Swapped by a reload;
    /// sessions load it at admission and when they adopt a snapshot, never
    /// per message.
    config: ArcSwap<AccountConfig>,
    /// Client connections admitted to the account on this server, for its
    /// `max_connections`. Changed on admission and retirement only.
    clients: AtomicU64,
    /// Requests that came in through service imports and wait for their
    /// response (`_R_.<PRE6>.<RND6>`); made when the account first exports
    /// a service someone imports. The requester's account comes back with
    /// the response.
    responses: OnceLock<ResponseTable<Arc<Account<S>>>>,
    /// The entries the server keeps in this index for the account (service
    /// imports, the responses' `_R_` interest), so a reload can change
    /// them. Taken on start and reload only.
    internal: Mutex<Vec<Arc<S>>>,
    /// Traffic of the account's connections that have closed, for
    /// `/accstatz` (live connections are summed when asked, so nothing is
    /// written per message). Changed only when a connection retires, under
    /// the server's client-registry lock, and read under it too, so that a
    /// sum over live and closed counts each connection once.
    closed_traffic: Mutex<Traffic>,
    /// The account's clients closed as slow consumers (nats-server's
    /// per-account `slow_consumers`); written only at such a close.
    slow_consumers: AtomicU64,
}

/// Local interest and the routes that hear about it.
#[derive(Default)]
struct Interest {
    /// `subject` or `subject queue` → how many local subscriptions.
    counts: HashMap<Box<[u8]>, u32>,
    /// Registered routes, each told about every change.
    routes: Vec<Arc<dyn InterestPeer>>,
    /// `cluster.permissions` (`publish` is the import side): only subjects
    /// it allows are announced.
    import: Option<Arc<CompiledPermissions>>,
}

impl<S: Indexed> Account<S> {
    pub fn new(name: &str) -> Self {
        Account {
            name: name.into(),
            sublist: Sublist::new(),
            interest: OnceLock::new(),
            stall_warned: Mutex::new(None),
            config: ArcSwap::from_pointee(AccountConfig::default()),
            clients: AtomicU64::new(0),
            responses: OnceLock::new(),
            internal: Mutex::new(Vec::new()),
            closed_traffic: Mutex::new(Traffic::default()),
            slow_consumers: AtomicU64::new(0),
        }
    }

    /// The pending responses of requests into this account, and whether
    /// the table was made by this call.
    pub fn responses(&self) -> (&ResponseTable<Arc<Account<S>>>, bool) {
        let mut made = false;
        let table = self.responses.get_or_init(|| {
            made = true;
            ResponseTable::new(DEFAULT_MAX_OUTSTANDING)
        });
        (table, made)
    }

    /// The pending responses, if the account ever had any.
    pub fn responses_if_any(&self) -> Option<&ResponseTable<Arc<Account<S>>>> {
        self.responses.get()
    }

    /// The server's own entries in this index (see `internal`).
    pub fn internal_subscriptions(&self) -> std::sync::MutexGuard<'_, Vec<Arc<S>>> {
        self.internal.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> Arc<AccountConfig> {
        self.config.load_full()
    }

    pub fn set_config(&self, config: Arc<AccountConfig>) {
        self.config.store(config);
    }

    /// Counts a client in, unless the account already has `max` of them
    /// (`None`: no limit of its own).
    pub fn admit_client(&self, max: Option<u64>) -> bool {
        let max = max.unwrap_or(u64::MAX);
        self.clients.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).is_ok()
    }

    /// A client admitted with [`Account::admit_client`] is gone.
    pub fn release_client(&self) {
        let _ = self.clients.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Client connections of the account on this server.
    pub fn num_clients(&self) -> u64 {
        self.clients.load(Ordering::Acquire)
    }

    /// Adds a closed connection's counters to the account's totals (the
    /// caller holds the client-registry lock, see `closed_traffic`).
    pub fn add_closed_traffic(&self, traffic: Traffic) {
        *self.closed_traffic.lock().unwrap_or_else(|e| e.into_inner()) += traffic;
    }

    /// The totals of the account's closed connections.
    pub fn closed_traffic(&self) -> Traffic {
        *self.closed_traffic.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One of the account's clients was closed as a slow consumer.
    pub fn count_slow_consumer(&self) {
        self.slow_consumers.fetch_add(1, Ordering::Relaxed);
    }

    pub fn slow_consumers(&self) -> u64 {
        self.slow_consumers.load(Ordering::Relaxed)
    }

    /// Whether a stall warning may be logged now (none in the last `every`);
    /// if so, the next one must wait `every` again.
    pub fn stall_warning_due(&self, every: Duration) -> bool {
        let mut last = self.stall_warned.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < every) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Starts keeping local interest for routes (the server has a cluster).
    /// Subscriptions made before are counted now.
    pub fn track_interest(&self) {
        let mut interest = Interest::default();
        self.sublist.for_each(|subject, queue, sub| {
            if sub.is_local() {
                *interest.counts.entry(interest_key(subject, queue)).or_insert(0) += 1;
            }
        });
        let _ = self.interest.set(Mutex::new(interest));
    }

    fn interest(&self) -> Option<std::sync::MutexGuard<'_, Interest>> {
        self.interest.get().map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds a subscription to the index; a client's is also announced to the
    /// routes when it changes this server's interest.
    pub fn subscribe(&self, sub: &Arc<S>) -> Result<(), InvalidSubject> {
        self.sublist.insert(sub.subject(), sub.queue(), sub.clone())?;
        if sub.is_local() {
            if let Some(mut interest) = self.interest() {
                interest.change(&self.name, sub.subject(), sub.queue(), 1);
            }
        }
        Ok(())
    }

    /// Takes a subscription out of the index (and out of the local interest).
    /// Returns whether it was there.
    pub fn unsubscribe(&self, sub: &Arc<S>) -> bool {
        let removed = self.sublist.remove(sub.subject(), sub.queue(), sub);
        if removed && sub.is_local() {
            if let Some(mut interest) = self.interest() {
                interest.change(&self.name, sub.subject(), sub.queue(), -1);
            }
        }
        removed
    }

    /// A route registered: it gets the whole local interest now, and every
    /// change from now on (one lock, so nothing falls in between).
    pub fn add_route(&self, route: Arc<dyn InterestPeer>) {
        let Some(mut interest) = self.interest() else { return };
        let mut buf = Vec::new();
        for (key, &n) in &interest.counts {
            let (subject, queue) = split_key(key);
            if interest.imports(subject) {
                encode_sub(&mut buf, &self.name, subject, queue, n);
            }
        }
        if !buf.is_empty() {
            route.send_interest(&buf);
        }
        interest.routes.push(route);
    }

    pub fn remove_route(&self, route: &dyn InterestPeer) {
        if let Some(mut interest) = self.interest() {
            interest.routes.retain(|r| !std::ptr::addr_eq(Arc::as_ptr(r), route));
        }
    }

    /// Sets `cluster.permissions.import` for what is announced from now on.
    pub fn set_import(&self, import: Option<Arc<CompiledPermissions>>) {
        if let Some(mut interest) = self.interest() {
            interest.import = import;
        }
    }

    /// The local interest as `(subject, queue, count)`, for tests and monitoring.
    pub fn local_interest(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>, u32)> {
        let Some(interest) = self.interest() else { return Vec::new() };
        let mut out: Vec<_> = interest
            .counts
            .iter()
            .map(|(k, &n)| {
                let (s, q) = split_key(k);
                (s.to_vec(), q.map(<[u8]>::to_vec), n)
            })
            .collect();
        out.sort();
        out
    }
}

impl Interest {
    fn imports(&self, subject: &[u8]) -> bool {
        self.import.as_ref().is_none_or(|perms| perms.publish.allows(subject))
    }

    /// Counts one local subscription in (`delta` 1) or out (-1), and tells
    /// the routes when that changes what they must know.
    fn change(&mut self, account: &str, subject: &[u8], queue: Option<&[u8]>, delta: i32) {
        let key = interest_key(subject, queue);
        let n = match self.counts.get_mut(&key) {
            Some(n) => {
                *n = n.saturating_add_signed(delta);
                *n
            }
            None if delta > 0 => {
                self.counts.insert(key.clone(), 1);
                1
            }
            None => return,
        };
        if n == 0 {
            self.counts.remove(&key);
        }
        // Plain interest matters on 0→1 and 1→0; a queue group's weight on
        // every change.
        let announce = queue.is_some() || (delta > 0 && n == 1) || n == 0;
        if !announce || self.routes.is_empty() || !self.imports(subject) {
            return;
        }
        let mut buf = Vec::with_capacity(subject.len() + 32);
        if n == 0 {
            encode_unsub(&mut buf, account, subject, queue);
        } else {
            encode_sub(&mut buf, account, subject, queue, n);
        }
        for route in &self.routes {
            route.send_interest(&buf);
        }
    }
}

fn interest_key(subject: &[u8], queue: Option<&[u8]>) -> Box<[u8]> {
    match queue {
        None => subject.into(),
        Some(q) => [subject, b" ", q].concat().into(),
    }
}

fn split_key(key: &[u8]) -> (&[u8], Option<&[u8]>) {
    match key.iter().position(|&b| b == b' ') {
        Some(i) => (&key[..i], Some(&key[i + 1..])),
        None => (key, None),
    }
}

/// `RS+ <account> <subject>[ <queue> <weight>]\r\n`
pub fn encode_sub(buf: &mut Vec<u8>, account: &str, subject: &[u8], queue: Option<&[u8]>, weight: u32) {
    encode_interest(buf, b"RS+ ", account, subject, queue);
    if queue.is_some() {
        buf.push(b' ');
        buf.extend_from_slice(itoa::Buffer::new().format(weight).as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
}

/// `RS- <account> <subject>[ <queue>]\r\n`
pub fn encode_unsub(buf: &mut Vec<u8>, account: &str, subject: &[u8], queue: Option<&[u8]>) {
    encode_interest(buf, b"RS- ", account, subject, queue);
    buf.extend_from_slice(b"\r\n");
}

/// `<verb><account> <subject>[ <queue>]`, the part RS+ and RS- share.
fn encode_interest(buf: &mut Vec<u8>, verb: &[u8], account: &str, subject: &[u8], queue: Option<&[u8]>) {
    buf.extend_from_slice(verb);
    buf.extend_from_slice(account.as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(subject);
    if let Some(q) = queue {
        buf.push(b' ');
        buf.extend_from_slice(q);
    }
}

impl<S> std::fmt::Debug for Account<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("name", &self.name).field("subscriptions", &self.sublist.count()).finish()
    }
}
