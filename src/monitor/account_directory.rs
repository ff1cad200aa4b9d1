//! The live side of the account endpoints (`/accountz`, `/accstatz`, and the
//! `acc` filter of `/connz` and `/subsz`): which accounts the server has and
//! their counts. Config facts (exports, imports, mappings) come from the
//! options in the snapshot instead ([`super::account_rows`]).
//!
//! [`AccountDirectory`] is what the server's account registry gives
//! monitoring (a trait, so the endpoints' JSON is tested without a server).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use super::sublist_stats::{sublist_stats, sublist_stats_for, SublistStats};
use crate::server::account::Account;
use crate::server::conn::Subscription;
use crate::server::state::ServerState;

/// Messages and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MsgBytes {
    pub msgs: u64,
    pub bytes: u64,
}

/// One account's live figures.
#[derive(Clone)]
pub struct AccountFigures {
    pub account: Arc<Account<Subscription>>,
    /// Client connections of the account now.
    pub client_connections: usize,
    pub leafnode_connections: usize,
    /// When the account was made or last changed (`update_time`).
    pub updated: SystemTime,
    /// Delivered to the account's connections.
    pub sent: MsgBytes,
    /// Published by the account's connections.
    pub received: MsgBytes,
    pub slow_consumers: u64,
}

impl AccountFigures {
    pub fn name(&self) -> &str {
        &self.account.name
    }
}

/// The server's accounts as monitoring sees them.
pub trait AccountDirectory {
    /// The system account's name, when the server runs one.
    fn system_account(&self) -> Option<String>;
    /// Every account the server has now, in any order.
    fn accounts(&self) -> Vec<AccountFigures>;
    /// Index and cache figures of one account, or of all (`None`).
    fn sublist_stats(&self, account: Option<&str>) -> SublistStats;
}

/// One account by name.
pub fn find(directory: &dyn AccountDirectory, name: &str) -> Option<AccountFigures> {
    directory.accounts().into_iter().find(|a| a.name() == name)
}

/// The server's accounts, from its registry. Traffic is what the
/// account's live connections counted; the closed ones' totals stay with
/// the server's (`/varz`).
impl AccountDirectory for ServerState {
    fn system_account(&self) -> Option<String> {
        None
    }

    fn accounts(&self) -> Vec<AccountFigures> {
        let live = self.connections();
        let global = self.global();
        self.accounts()
            .all()
            .into_iter()
            .map(|account| {
                let (mut sent, mut received) = (MsgBytes::default(), MsgBytes::default());
                for conn in live.iter().filter(|c| Arc::ptr_eq(&c.account(), &account)) {
                    let t = conn.traffic();
                    sent.msgs += t.out_msgs;
                    sent.bytes += t.out_bytes;
                    received.msgs += t.in_msgs;
                    received.bytes += t.in_bytes;
                }
                let is_global = Arc::ptr_eq(&account, global);
                AccountFigures {
                    client_connections: account.num_clients() as usize,
                    leafnode_connections: 0,
                    updated: self.started_at(),
                    sent,
                    received,
                    slow_consumers: if is_global { self.stats().slow_consumers.load(Ordering::Relaxed) } else { 0 },
                    account,
                }
            })
            .collect()
    }

    fn sublist_stats(&self, account: Option<&str>) -> SublistStats {
        match account {
            None => sublist_stats(self),
            Some(name) => match self.accounts().get(name) {
                Some(a) => sublist_stats_for(self, Some(&a)),
                None => SublistStats::default(),
            },
        }
    }
}
