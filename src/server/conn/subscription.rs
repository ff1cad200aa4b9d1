//! One subscription: what the account indexes hold, and what the server
//! does with a message for it (a client's or route's own, a stream
//! import's shadow, a service import, the responses of an exporter).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::Connection;
use crate::server::account::{Account, Indexed};
use crate::server::account_config::{ServiceImport, StreamImport};
use crate::server::conn::ConnKind;
use crate::server::permissions::DenyFilter;

/// A subscription, shared by the owning connection (its `subs` map), the
/// account's index, and any match results cached by publishers.
#[derive(Debug)]
pub struct Subscription {
    pub conn: Arc<Connection>,
    pub subject: Box<[u8]>,
    pub queue: Option<Box<[u8]>>,
    pub sid: Box<[u8]>,
    /// Auto-unsubscribe after this many messages; 0 means no limit.
    max: AtomicU64,
    delivered: AtomicU64,
    /// Set when removed, so publishers holding a cached result skip it.
    removed: AtomicBool,
    /// For a wildcard subscription overlapping the owner's subscribe deny
    /// list: messages matching it are not delivered.
    pub deny_filter: Option<Arc<DenyFilter>>,
    /// How many queue members this entry stands for: 1, or for a route's
    /// remote queue subscription the count the other server advertised.
    pub weight: u32,
    /// The index the subscription is in.
    pub account: Arc<Account<Subscription>>,
    /// What the server does with a message for this entry beyond sending
    /// it to `conn`: `None` for every client's and route's own subscription
    /// (one pointer).
    pub via: Option<Box<Via>>,
}

/// Subscriptions the server makes for accounts.
#[derive(Debug)]
pub enum Via {
    /// A stream import's shadow in the exporter's index.
    Shadow(ShadowOf),
    /// A service import's entry in the importer's index: the request is
    /// re-published into the exporter (from clients only).
    ServiceImport {
        import: Arc<ServiceImport>,
        exporter: Arc<Account<Subscription>>,
        /// This server's name, for `share`'s request info.
        server: Arc<str>,
        /// Where latency samples go (the system task).
        samples: crate::server::service::sample_link::SampleLink,
    },
    /// `_R_.<PRE6>.>` in an exporter's index: responses to requests that
    /// came in through its service imports.
    Responses,
    /// Served by a task of the server itself (the system account's
    /// requests): `handler` says which of its handlers; `announce` whether
    /// routes hear about the interest (nats-server keeps some of its
    /// subscriptions, such as `$SYS.REQ.USER.*.INFO`, to itself).
    Internal { sink: Arc<dyn InternalSink>, handler: u16, announce: bool },
}

/// Where messages for a [`Via::Internal`] subscription go. `deliver` runs
/// on the publisher's task, inside its publish: it copies what it needs
/// and must never wait.
pub trait InternalSink: Send + Sync + std::fmt::Debug {
    fn deliver(&self, handler: u16, account: &Arc<Account<Subscription>>, msg: &crate::server::proto::Publish<'_>);
}

/// What a shadow subscription delivers for.
#[derive(Debug)]
pub struct ShadowOf {
    /// The importer's subscription: its sid and auto-unsubscribe count.
    pub parent: Arc<Subscription>,
    pub import: Arc<StreamImport>,
    /// The shadow listens wider than the parent: deliveries are matched
    /// against the parent's subject after mapping.
    pub filtered: bool,
}

impl crate::server::sublist::Weighted for Subscription {
    fn weight(&self) -> u32 {
        self.weight
    }
}

impl Indexed for Subscription {
    fn subject(&self) -> &[u8] {
        &self.subject
    }

    fn queue(&self) -> Option<&[u8]> {
        self.queue.as_deref()
    }

    fn is_local(&self) -> bool {
        // A service import's entry is not interest the routes hear about
        // (nats-server announces the exporter's responders instead).
        self.conn.kind == ConnKind::Client
            && !matches!(self.via.as_deref(), Some(Via::ServiceImport { .. } | Via::Internal { announce: false, .. }))
    }
}

/// Whether a message may go to a subscription, given its auto-unsubscribe limit.
#[derive(Debug, PartialEq, Eq)]
pub enum Take {
    /// Deliver it.
    Yes,
    /// Deliver it; it is the last one, remove the subscription afterwards.
    Last,
    /// Do not deliver: the subscription is gone or used up.
    No,
}

impl Subscription {
    pub fn new(
        conn: Arc<Connection>,
        account: Arc<Account<Subscription>>,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
        deny_filter: Option<Arc<DenyFilter>>,
    ) -> Subscription {
        Subscription {
            conn,
            account,
            via: None,
            subject: subject.into(),
            queue: queue.map(Into::into),
            sid: sid.into(),
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            removed: AtomicBool::new(false),
            deny_filter,
            weight: 1,
        }
    }

    /// A route's subscription on behalf of another server's interest,
    /// keyed by its `RS+` text; `weight` is a queue group's member count.
    pub fn remote(
        conn: Arc<Connection>,
        account: Arc<Account<Subscription>>,
        subject: &[u8],
        queue: Option<&[u8]>,
        key: &[u8],
        weight: u32,
    ) -> Subscription {
        Subscription { weight: weight.max(1), ..Subscription::new(conn, account, subject, queue, key, None) }
    }

    /// A stream import's shadow of `parent` in the exporter's index, on
    /// `subject` there.
    pub fn shadow(
        parent: &Arc<Subscription>,
        exporter: Arc<Account<Subscription>>,
        subject: &[u8],
        import: Arc<StreamImport>,
        filtered: bool,
    ) -> Subscription {
        Subscription {
            via: Some(Box::new(Via::Shadow(ShadowOf { parent: parent.clone(), import, filtered }))),
            ..Subscription::new(parent.conn.clone(), exporter, subject, parent.queue.as_deref(), &parent.sid, None)
        }
    }

    /// A subscription the server holds for an account (service imports,
    /// responses), owned by the server's internal connection `conn`.
    pub fn internal(
        conn: Arc<Connection>,
        account: Arc<Account<Subscription>>,
        subject: &[u8],
        via: Via,
    ) -> Subscription {
        Subscription { via: Some(Box::new(via)), ..Subscription::new(conn, account, subject, None, b"", None) }
    }

    /// The same subscription in queue group `queue` (an internal one that
    /// only one server of a cluster should answer).
    pub fn in_queue(self, queue: Option<&[u8]>) -> Subscription {
        Subscription { queue: queue.map(Into::into), ..self }
    }

    /// A copy with another deny filter, keeping its sid, limits and counts.
    pub fn refiltered(&self, deny_filter: Option<Arc<DenyFilter>>) -> Subscription {
        Subscription {
            conn: self.conn.clone(),
            account: self.account.clone(),
            via: None,
            subject: self.subject.clone(),
            queue: self.queue.clone(),
            sid: self.sid.clone(),
            max: AtomicU64::new(self.max()),
            delivered: AtomicU64::new(self.delivered()),
            removed: AtomicBool::new(false),
            deny_filter,
            weight: self.weight,
        }
    }

    /// The stream import this entry shadows for, if it is a shadow.
    pub fn shadow_of(&self) -> Option<&ShadowOf> {
        match self.via.as_deref() {
            Some(Via::Shadow(s)) => Some(s),
            _ => None,
        }
    }

    /// Marks it removed (publishers holding a cached match skip it).
    pub fn mark_removed(&self) -> bool {
        !self.removed.swap(true, Ordering::AcqRel)
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    pub fn set_max(&self, max: u64) {
        self.max.store(max, Ordering::Relaxed);
    }

    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    /// Counts one delivery against the auto-unsubscribe limit.
    pub fn take(&self) -> Take {
        if self.is_removed() {
            return Take::No;
        }
        let max = self.max.load(Ordering::Relaxed);
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        match max {
            0 => Take::Yes,
            m if n < m => Take::Yes,
            m if n == m => Take::Last,
            _ => Take::No,
        }
    }
}
