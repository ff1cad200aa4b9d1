//! nats-server's `SublistStats` of `/subsz` and `/accountz`: the figures of
//! an account's subscription index and of the match caches in front of it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::Serialize;

use crate::server::accounts::ServerAccount;
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

/// The figures of `accounts` together: their indexes, and the match caches
/// of their connections (plus those of retired connections when `retired`:
/// the server keeps those for all accounts at once).
pub fn sublist_stats_of(server: &ServerState, accounts: &[Arc<ServerAccount>], retired: bool) -> SublistStats {
    let (mut subscriptions, mut inserts, mut removes, mut index_matches) = (0, 0, 0, 0);
    for account in accounts {
        let index = account.sublist.stats();
        subscriptions += index.subscriptions;
        inserts += index.inserts;
        removes += index.removes;
        index_matches += index.matches;
    }
    let (live, gone) = server.connections_and_retired();
    let (mut entries, mut fanout_sum, mut fanout_max) = (0, 0, 0);
    let mut hits = if retired { gone.cache_hits } else { 0 };
    for conn in &live {
        let account = conn.account();
        if !accounts.iter().any(|a| Arc::ptr_eq(a, &account)) {
            continue;
        }
        let c = &conn.match_cache;
        entries += c.entries.load(Ordering::Relaxed);
        fanout_sum += c.fanout_sum.load(Ordering::Relaxed);
        fanout_max = fanout_max.max(c.fanout_max.load(Ordering::Relaxed));
        hits += c.hits.load(Ordering::Relaxed);
    }
    let matches = index_matches + hits;
    SublistStats {
        num_subscriptions: subscriptions,
        num_cache: entries,
        num_inserts: inserts,
        num_removes: removes,
        num_matches: matches,
        cache_hit_rate: if matches > 0 { hits as f64 / matches as f64 } else { 0.0 },
        max_fanout: fanout_max,
        avg_fanout: if entries > 0 { fanout_sum as f64 / entries as f64 } else { 0.0 },
    }
}
