//! nats-server's `SublistStats` of `/subsz` and `/accountz`: the figures of
//! an account's subscription index and of the match caches in front of it.

use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::server::account::Account;
use crate::server::conn::Subscription;
use crate::server::state::ServerState;

/// nats-server's `SublistStats`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SublistStats {
    pub num_subscriptions: u64,
    pub num_cache: u64,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    pub cache_hit_rate: f64,
    pub max_fanout: u64,
    pub avg_fanout: f64,
}

/// The index figures of every account together.
pub fn sublist_stats(server: &ServerState) -> SublistStats {
    sublist_stats_for(server, None)
}

/// [`sublist_stats`] of one account (its index and its clients' caches),
/// or of all of them (`None`).
pub fn sublist_stats_for(server: &ServerState, account: Option<&Account<Subscription>>) -> SublistStats {
    let accounts = server.accounts().all();
    let (mut subscriptions, mut inserts, mut removes, mut index_matches) = (0, 0, 0, 0);
    for a in accounts.iter().filter(|a| account.is_none_or(|one| std::ptr::eq(&***a, one))) {
        let index = a.sublist.stats();
        subscriptions += index.subscriptions;
        inserts += index.inserts;
        removes += index.removes;
        index_matches += index.matches;
    }
    let (live, retired) = server.connections_and_retired();
    let retired_hits = if account.is_none() { retired.cache_hits } else { 0 };
    let (mut entries, mut fanout_sum, mut fanout_max, mut hits) = (0, 0, 0, retired_hits);
    for conn in live.iter().filter(|c| account.is_none_or(|one| std::ptr::eq(&*c.account(), one))) {
        let c = &conn.match_cache;
        entries += c.entries.load(Ordering::Relaxed);
        fanout_sum += c.fanout_sum.load(Ordering::Relaxed);
        fanout_max = fanout_max.max(c.fanout_max.load(Ordering::Relaxed));
        hits += c.hits.load(Ordering::Relaxed);
    }
    let index = IndexTotals { subscriptions, inserts, removes, matches: index_matches };
    let matches = index.matches + hits;
    SublistStats {
        num_subscriptions: index.subscriptions,
        num_cache: entries,
        num_inserts: index.inserts,
        num_removes: index.removes,
        num_matches: matches,
        cache_hit_rate: if matches > 0 { hits as f64 / matches as f64 } else { 0.0 },
        max_fanout: fanout_max,
        avg_fanout: if entries > 0 { fanout_sum as f64 / entries as f64 } else { 0.0 },
    }
}

/// Index figures summed over accounts.
struct IndexTotals {
    subscriptions: u64,
    inserts: u64,
    removes: u64,
    matches: u64,
}
