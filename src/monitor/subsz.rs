//! `/subsz` (and its alias `/subscriptionsz`): the subscription index's
//! figures, and with `subs=1` the subscriptions themselves, optionally only
//! those a publish to `test=SUBJECT` would reach, paged by `offset`/`limit`.
//!
//! nats-server keeps one match cache per account; rnats keeps one per
//! publishing connection (so publishers never share a lock). The cache
//! figures are therefore sums over publishers: `num_cache` counts cached
//! subjects in all of them, `num_matches` counts every lookup (answered by a
//! cache or by the index), `cache_hit_rate` is the share answered by a
//! cache, and the fan-out figures are over all cached results.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::connz::{SubDetail, DEFAULT_LIMIT};
use super::gotime::rfc3339_nano;
use super::query::Query;
use crate::server::conn::Subscription;
use crate::server::facts::sid_order;
use crate::server::state::ServerState;
use crate::server::subject::{filter_matches, is_valid_literal_subject};

/// The reply.
#[derive(Debug, Serialize)]
pub struct Subsz {
    pub server_id: String,
    pub now: String,
    #[serde(flatten)]
    pub stats: SublistStats,
    pub total: usize,
    pub offset: i64,
    pub limit: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscriptions_list: Vec<SubDetail>,
}

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

/// The query, decoded.
#[derive(Debug, Clone, Default)]
pub struct SubszOptions {
    pub subs: bool,
    pub offset: i64,
    pub limit: i64,
    pub test: String,
    pub account: String,
}

impl SubszOptions {
    pub fn from_query(q: &Query) -> Result<SubszOptions, String> {
        Ok(SubszOptions {
            subs: q.bool("subs")?,
            offset: q.int("offset")?,
            limit: q.int("limit")?,
            test: q.get("test").to_string(),
            account: q.get("acc").to_string(),
        })
    }
}

/// The index figures of the global account.
pub fn sublist_stats(server: &ServerState) -> SublistStats {
    let index = server.global().sublist.stats();
    let (live, retired) = server.connections_and_retired();
    let (mut entries, mut fanout_sum, mut fanout_max, mut hits) = (0, 0, 0, retired.cache_hits);
    for conn in &live {
        let c = &conn.match_cache;
        entries += c.entries.load(Ordering::Relaxed);
        fanout_sum += c.fanout_sum.load(Ordering::Relaxed);
        fanout_max = fanout_max.max(c.fanout_max.load(Ordering::Relaxed));
        hits += c.hits.load(Ordering::Relaxed);
    }
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

/// Builds the reply; `Err` is a 400 text.
pub fn subsz(server: &ServerState, o: &SubszOptions) -> Result<Subsz, String> {
    let offset = o.offset.max(0);
    let limit = if o.limit <= 0 { DEFAULT_LIMIT } else { o.limit };
    if !o.test.is_empty() && !is_valid_literal_subject(o.test.as_bytes()) {
        return Err(format!("invalid test subject, must be valid publish subject: {}", o.test));
    }
    let account = server.global().name.as_ref();
    // An account rnats does not have contributes nothing.
    let known = o.account.is_empty() || o.account == account;
    let mut reply = Subsz {
        server_id: server.id().to_string(),
        now: rfc3339_nano(SystemTime::now()),
        stats: if known { sublist_stats(server) } else { SublistStats::default() },
        total: 0,
        offset,
        limit,
        subscriptions_list: Vec::new(),
    };
    if !o.subs {
        return Ok(reply);
    }
    let mut subs: Vec<Arc<Subscription>> = Vec::new();
    if known {
        server.global().sublist.for_each(|subject, _, sub| {
            if o.test.is_empty() || filter_matches(subject, o.test.as_bytes()) {
                subs.push(sub.clone());
            }
        });
    }
    // The index's order is a hash order; connection then sid reads better.
    subs.sort_by(|a, b| a.conn.cid.cmp(&b.conn.cid).then_with(|| sid_order(&a.sid, &b.sid)));
    let n = subs.len() as i64;
    let from = offset.min(n);
    let to = from + limit.min(n - from);
    reply.total = subs.len();
    reply.subscriptions_list =
        subs[from as usize..to as usize].iter().map(|s| SubDetail::of(s).with_account(account)).collect();
    Ok(reply)
}
