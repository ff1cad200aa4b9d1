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

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use super::account_directory::{AccountDirectory, AccountFigures};
use super::connz::{SubDetail, DEFAULT_LIMIT};
use super::gotime::rfc3339_nano;
use super::query::Query;
use super::sublist_stats::SublistStats;
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

/// Builds the reply; `Err` is a 400 text.
pub fn subsz(server: &ServerState, o: &SubszOptions) -> Result<Subsz, String> {
    subsz_with(server, server, o)
}

/// [`subsz`] over the accounts of `directory`: all of them, or the one
/// `acc` names (an account the server does not have contributes nothing).
pub fn subsz_with(server: &ServerState, directory: &dyn AccountDirectory, o: &SubszOptions) -> Result<Subsz, String> {
    let offset = o.offset.max(0);
    let limit = if o.limit <= 0 { DEFAULT_LIMIT } else { o.limit };
    if !o.test.is_empty() && !is_valid_literal_subject(o.test.as_bytes()) {
        return Err(format!("invalid test subject, must be valid publish subject: {}", o.test));
    }
    let accounts: Vec<AccountFigures> =
        directory.accounts().into_iter().filter(|a| o.account.is_empty() || a.name() == o.account).collect();
    let stats = match (o.account.is_empty(), accounts.is_empty()) {
        (true, _) => directory.sublist_stats(None),
        (false, false) => directory.sublist_stats(Some(&o.account)),
        (false, true) => SublistStats::default(),
    };
    let mut reply = Subsz {
        server_id: server.id().to_string(),
        now: rfc3339_nano(SystemTime::now()),
        stats,
        total: 0,
        offset,
        limit,
        subscriptions_list: Vec::new(),
    };
    if !o.subs {
        return Ok(reply);
    }
    let mut subs: Vec<(Arc<Subscription>, &str)> = Vec::new();
    for figures in &accounts {
        figures.account.sublist.for_each(|subject, _, sub| {
            if o.test.is_empty() || filter_matches(subject, o.test.as_bytes()) {
                subs.push((sub.clone(), figures.name()));
            }
        });
    }
    // The index's order is a hash order; connection then sid reads better.
    subs.sort_by(|(a, _), (b, _)| a.conn.cid.cmp(&b.conn.cid).then_with(|| sid_order(&a.sid, &b.sid)));
    let n = subs.len() as i64;
    let from = offset.min(n);
    let to = from + limit.min(n - from);
    reply.total = subs.len();
    reply.subscriptions_list =
        subs[from as usize..to as usize].iter().map(|(s, account)| SubDetail::of(s).with_account(account)).collect();
    Ok(reply)
}
