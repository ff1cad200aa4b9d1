//! The sampled requests an importing account waits on, by the reply
//! subject its requester gave (nats-server's reverse response map,
//! accounts.go `addReverseRespMapEntry`, `checkForReverseEntries`): when
//! the last subscription of the account that could take the answer goes
//! (UNSUB, or the requester's connection closed) before the answer came,
//! the exchange ends with a 408 latency sample (`sendReplyInterestLostTrackLatency`).
//!
//! Only sampled requests are watched; an account that has none pays one
//! atomic load per unsubscribe.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::reply_token::SlotRef;
use crate::subject::{has_wildcard, is_subset_match};

/// Entries kept before stale ones (answered, timed out) are dropped.
const PRUNE_AT: usize = 64;

/// One sampled request: its reply subject in the importer, and its entry
/// in the exporter's response table.
#[derive(Debug)]
pub struct Watched<T> {
    pub reply: Box<[u8]>,
    pub exporter: Arc<T>,
    pub slot: SlotRef,
}

/// The watched requests of one importing account.
#[derive(Debug)]
pub struct ReplyWatch<T> {
    /// How many entries there are, so that an unsubscribe in an account
    /// with none skips the lock (written under it, read without).
    len: AtomicUsize,
    /// The entries; taken for sampled requests and for unsubscribes in an
    /// account that has some.
    entries: Mutex<Vec<Watched<T>>>,
    /// The size after the last prune, for the next one to wait for.
    prune_at: AtomicUsize,
}

impl<T> Default for ReplyWatch<T> {
    fn default() -> Self {
        ReplyWatch { len: AtomicUsize::new(0), entries: Mutex::new(Vec::new()), prune_at: AtomicUsize::new(PRUNE_AT) }
    }
}

impl<T> ReplyWatch<T> {
    /// Watches `entry`; past a size, first drops the entries `is_live`
    /// says are over.
    pub fn add(&self, entry: Watched<T>, is_live: impl Fn(&Watched<T>) -> bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.prune_at.load(Ordering::Relaxed) {
            entries.retain(|e| is_live(e));
            self.prune_at.store((entries.len() * 2).max(PRUNE_AT), Ordering::Relaxed);
        }
        entries.push(entry);
        self.len.store(entries.len(), Ordering::Release);
    }

    /// Takes out the entries whose reply `subject` (a subscription that
    /// went) could take, and that `still_heard` says nobody else takes.
    pub fn lost(&self, subject: &[u8], still_heard: impl Fn(&[u8]) -> bool) -> Vec<Watched<T>> {
        if self.len.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let wildcard = has_wildcard(subject);
        let covers = |reply: &[u8]| if wildcard { is_subset_match(reply, subject) } else { reply == subject };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut lost = Vec::new();
        let mut i = 0;
        while i < entries.len() {
            if covers(&entries[i].reply) && !still_heard(&entries[i].reply) {
                lost.push(entries.swap_remove(i));
            } else {
                i += 1;
            }
        }
        self.len.store(entries.len(), Ordering::Release);
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reply: &str, index: u32) -> Watched<()> {
        Watched { reply: reply.as_bytes().into(), exporter: Arc::new(()), slot: SlotRef { index, generation: 0 } }
    }

    #[test]
    fn a_reply_is_lost_when_the_last_subscription_that_takes_it_goes() {
        let watch = ReplyWatch::default();
        watch.add(entry("_INBOX.a.1", 1), |_| true);
        watch.add(entry("_INBOX.a.2", 2), |_| true);
        watch.add(entry("_INBOX.b", 3), |_| true);
        // Someone else still listens: kept.
        assert!(watch.lost(b"_INBOX.b", |_| true).is_empty());
        // A literal subscription covers its own subject only.
        assert!(watch.lost(b"_INBOX.a", |_| false).is_empty());
        // A wildcard one covers what it matched.
        let lost: Vec<u32> = watch.lost(b"_INBOX.a.*", |_| false).iter().map(|w| w.slot.index).collect();
        assert_eq!(lost.len(), 2);
        assert!(lost.contains(&1) && lost.contains(&2));
        assert_eq!(watch.lost(b"_INBOX.b", |_| false).len(), 1);
        assert_eq!(watch.len.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn entries_that_ended_otherwise_are_pruned_as_new_ones_come() {
        let watch = ReplyWatch::default();
        for i in 0..PRUNE_AT as u32 {
            watch.add(entry("_INBOX.x", i), |_| false);
        }
        assert_eq!(watch.len.load(Ordering::Relaxed), PRUNE_AT);
        watch.add(entry("_INBOX.x", 999), |_| false);
        assert_eq!(watch.len.load(Ordering::Relaxed), 1);
    }
}
