//! A connection's subscriptions: SUB and UNSUB of a client, RS+ and RS- of
//! a route, the shadows of stream imports, and their removal, each keeping
//! the connection's map and the account indexes in step.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::{Connection, Subscription};
use crate::server::account::Account;
use crate::server::permissions::DenyFilter;
use crate::server::subject::is_valid_sub_subject;

impl Connection {
    /// The subscription under `sid`, if any.
    pub fn subscription(&self, sid: &[u8]) -> Option<Arc<Subscription>> {
        self.subs.lock().unwrap_or_else(|e| e.into_inner()).get(sid).map(|s| s.0.clone())
    }

    /// Every subscription, in no particular order.
    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        self.subs.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|s| s.0.clone()).collect()
    }

    /// SUB from a client: a new subscription under `sid`, in the account's
    /// index and in this connection's map. A sid already in use is left as
    /// it is, as nats-server leaves it.
    pub fn subscribe(
        self: &Arc<Self>,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
        deny_filter: Option<Arc<DenyFilter>>,
    ) -> Subscribed {
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        if subs.contains(sid) {
            return Subscribed::AlreadyThere;
        }
        if !is_valid_sub_subject(subject) {
            return Subscribed::InvalidSubject;
        }
        let account = self.account();
        let sub = Arc::new(Subscription::new(self.clone(), account.clone(), subject, queue, sid, deny_filter));
        if account.subscribe(&sub).is_err() {
            return Subscribed::InvalidSubject;
        }
        subs.insert(BySid(sub));
        Subscribed::Added
    }

    /// Adds the shadow subscriptions a stream import needs for `parent`
    /// (each already in its exporter's index).
    pub fn add_shadows(&self, parent: &Subscription, shadows: Vec<Arc<Subscription>>) {
        if shadows.is_empty() {
            return;
        }
        let mut all = self.shadows.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(parent.sid.clone()).or_default().extend(shadows);
    }

    /// The shadows of the subscription `sid` now.
    pub fn shadows_of(&self, sid: &[u8]) -> Vec<Arc<Subscription>> {
        self.shadows.lock().unwrap_or_else(|e| e.into_inner()).get(sid).cloned().unwrap_or_default()
    }

    /// Replaces the shadows of `parent` with `keep` (already in place) plus
    /// `added` (already in their indexes); the others are taken out.
    pub fn replace_shadows(&self, parent: &Subscription, keep: Vec<Arc<Subscription>>, added: Vec<Arc<Subscription>>) {
        let old = {
            let mut all = self.shadows.lock().unwrap_or_else(|e| e.into_inner());
            let mut now = keep;
            now.extend(added);
            if parent.is_removed() {
                // Removed meanwhile: nothing may stay behind.
                let gone = all.remove(&parent.sid).unwrap_or_default();
                now.into_iter().chain(gone).collect()
            } else {
                let old = all.insert(parent.sid.clone(), now.clone()).unwrap_or_default();
                old.into_iter().filter(|o| !now.iter().any(|n| Arc::ptr_eq(n, o))).collect::<Vec<_>>()
            }
        };
        for shadow in old {
            if shadow.mark_removed() {
                shadow.account.unsubscribe(&shadow);
            }
        }
    }

    /// Takes the shadows of the subscription `sid` out of their indexes.
    fn remove_shadows(&self, sid: &[u8]) {
        let removed = self.shadows.lock().unwrap_or_else(|e| e.into_inner()).remove(sid);
        for shadow in removed.into_iter().flatten() {
            if shadow.mark_removed() {
                shadow.account.unsubscribe(&shadow);
            }
        }
    }

    /// `RS+` from a route: interest `key` (`account subject [queue]`) of
    /// the peer, with `weight` members for a queue group. A known plain
    /// subject is left as it is; a queue group whose weight changed is
    /// replaced, so the index's group weights stay exact. A new one is
    /// refused past `limit` entries.
    pub fn subscribe_remote(
        self: &Arc<Self>,
        account: &Arc<Account<Subscription>>,
        key: &[u8],
        subject: &[u8],
        queue: Option<&[u8]>,
        weight: u32,
        limit: usize,
    ) -> Subscribed {
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        match subs.get(key).map(|s| s.0.clone()) {
            Some(old) if queue.is_some() && old.weight != weight => {
                let new =
                    Arc::new(Subscription::remote(self.clone(), old.account.clone(), subject, queue, key, weight));
                if old.account.sublist.replace(subject, queue, &old, new.clone()) {
                    old.mark_removed();
                    subs.replace(BySid(new));
                }
                Subscribed::Added
            }
            Some(_) => Subscribed::AlreadyThere,
            None if subs.len() >= limit => Subscribed::TooMany,
            None => {
                let sub = Arc::new(Subscription::remote(self.clone(), account.clone(), subject, queue, key, weight));
                if account.subscribe(&sub).is_err() {
                    return Subscribed::InvalidSubject;
                }
                subs.insert(BySid(sub));
                Subscribed::Added
            }
        }
    }

    /// `RS-` from a route: the peer lost interest `key`.
    pub fn unsubscribe_remote(&self, key: &[u8]) {
        let removed = self.subs.lock().unwrap_or_else(|e| e.into_inner()).take(key);
        if let Some(BySid(sub)) = removed {
            if sub.mark_removed() {
                sub.account.unsubscribe(&sub);
            }
        }
    }

    pub fn num_subs(&self) -> usize {
        self.subs.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Removes one subscription (UNSUB, auto-unsubscribe reached, or a
    /// permission withdrawn by a reload) from the account's index and from
    /// this connection.
    pub fn remove_subscription(&self, sub: &Arc<Subscription>) {
        if !sub.mark_removed() {
            return;
        }
        sub.account.unsubscribe(sub);
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        if subs.get(&sub.sid[..]).is_some_and(|s| Arc::ptr_eq(&s.0, sub)) {
            subs.remove(&sub.sid[..]);
            drop(subs);
            self.remove_shadows(&sub.sid);
        }
    }

    /// Swaps `sub` for a copy with a different deny filter (the owner's
    /// permissions changed), keeping its sid, limits and counts.
    pub fn refilter_subscription(&self, sub: &Arc<Subscription>, deny_filter: Option<Arc<DenyFilter>>) {
        let new = Arc::new(sub.refiltered(deny_filter));
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        if sub.is_removed() || !sub.account.sublist.replace(&sub.subject, sub.queue.as_deref(), sub, new.clone()) {
            return;
        }
        // Publishers holding a cached match with the old entry skip it now,
        // and see the new one once their cache notices the new generation.
        sub.mark_removed();
        subs.replace(BySid(new.clone()));
        drop(subs);
        // Its stream-import shadows deliver for the new entry from now on.
        let old = self.shadows_of(&sub.sid);
        if !old.is_empty() {
            let added = old
                .iter()
                .filter_map(|o| {
                    let of = o.shadow_of()?;
                    let n = Arc::new(Subscription::shadow(
                        &new,
                        o.account.clone(),
                        &o.subject,
                        of.import.clone(),
                        of.filtered,
                    ));
                    o.account.subscribe(&n).ok().map(|_| n)
                })
                .collect();
            self.replace_shadows(&new, Vec::new(), added);
        }
    }

    /// Drops every subscription (the connection is gone).
    pub fn remove_all_subscriptions(&self) {
        let subs: Vec<Arc<Subscription>> =
            self.subs.lock().unwrap_or_else(|e| e.into_inner()).drain().map(|s| s.0).collect();
        for sub in subs {
            if sub.mark_removed() {
                sub.account.unsubscribe(&sub);
            }
        }
        let shadows: Vec<Box<[u8]>> = self.shadows.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        for sid in shadows {
            self.remove_shadows(&sid);
        }
    }
}

/// A subscription in its connection's map, found by its sid: the map
/// holds one pointer per entry and borrows the subscription's own sid as
/// the key, instead of a second copy of it (16 bytes in the table and an
/// allocation per subscription).
#[derive(Debug)]
pub(super) struct BySid(pub(super) Arc<Subscription>);

impl Borrow<[u8]> for BySid {
    fn borrow(&self) -> &[u8] {
        &self.0.sid
    }
}

/// Hashed and compared as the sid it borrows, as `Borrow` requires.
impl Hash for BySid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.sid[..].hash(state);
    }
}

impl PartialEq for BySid {
    fn eq(&self, other: &BySid) -> bool {
        self.0.sid == other.0.sid
    }
}

impl Eq for BySid {}

/// What a subscribe call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    /// A new (or, for a route's queue group, re-weighted) subscription.
    Added,
    /// The sid (or route interest) was there already; nothing changed.
    AlreadyThere,
    /// The subject is not one a subscription may take.
    InvalidSubject,
    /// A route sent more subscriptions than it may.
    TooMany,
}
