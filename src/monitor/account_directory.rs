//! The live side of the account endpoints (`/accountz`, `/accstatz`, and the
//! `acc` filter of `/connz` and `/subsz`): which accounts the server has and
//! their counts. Config facts (exports, imports, mappings) come from the
//! options in the snapshot instead ([`super::account_rows`]).
//!
//! [`AccountDirectory`] is what the server's account registry implements;
//! [`ServerState`]'s implementation below knows the one global account `$G`
//! of a server without `accounts`, and is the one to extend when the
//! registry holds more.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use super::sublist_stats::{sublist_stats, SublistStats};
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

/// Today's server: one account, `$G`, for every client; no system account.
impl AccountDirectory for ServerState {
    fn system_account(&self) -> Option<String> {
        None
    }

    fn accounts(&self) -> Vec<AccountFigures> {
        let traffic = self.client_totals().traffic;
        vec![AccountFigures {
            account: Arc::clone(self.global()),
            client_connections: self.num_clients(),
            leafnode_connections: 0,
            updated: self.start,
            sent: MsgBytes { msgs: traffic.out_msgs, bytes: traffic.out_bytes },
            received: MsgBytes { msgs: traffic.in_msgs, bytes: traffic.in_bytes },
            slow_consumers: self.stats.slow_consumers.load(Ordering::Relaxed),
        }]
    }

    fn sublist_stats(&self, account: Option<&str>) -> SublistStats {
        match account {
            Some(name) if name != self.global().name.as_ref() => SublistStats::default(),
            _ => sublist_stats(self),
        }
    }
}
