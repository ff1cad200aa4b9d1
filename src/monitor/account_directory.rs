//! The live side of the account endpoints (`/accountz`, `/accstatz`, and the
//! `acc` filter of `/connz` and `/subsz`): which accounts the server has and
//! their counts. Config facts (exports, imports, mappings) come from the
//! options in the snapshot instead ([`super::account_rows`]).
//!
//! [`AccountDirectory`] is a trait so the endpoints can be tested with any
//! set of accounts; [`ServerState`] implements it over its account registry.

use std::sync::Arc;
use std::time::SystemTime;

use super::sublist_stats::{sublist_stats_of, SublistStats};
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

/// The server's account registry. Traffic is each account's live
/// connections plus those of its connections that closed; slow consumers
/// are counted per account as they happen.
impl AccountDirectory for ServerState {
    fn system_account(&self) -> Option<String> {
        ServerState::system_account(self)
    }

    fn accounts(&self) -> Vec<AccountFigures> {
        let all = self.accounts().all();
        let traffic = self.account_traffic(&all);
        all.into_iter()
            .zip(traffic)
            .map(|(account, traffic)| AccountFigures {
                client_connections: usize::try_from(account.num_clients()).unwrap_or(usize::MAX),
                leafnode_connections: 0,
                updated: self.started_at(),
                sent: MsgBytes { msgs: traffic.out_msgs, bytes: traffic.out_bytes },
                received: MsgBytes { msgs: traffic.in_msgs, bytes: traffic.in_bytes },
                slow_consumers: account.slow_consumers(),
                account,
            })
            .collect()
    }

    fn sublist_stats(&self, account: Option<&str>) -> SublistStats {
        match account {
            None => sublist_stats_of(self, &self.accounts().all(), true),
            Some(name) => match self.accounts().get(name) {
                Some(account) => {
                    let only_global = self.accounts().all().len() == 1;
                    sublist_stats_of(self, &[account], only_global)
                }
                None => SublistStats::default(),
            },
        }
    }
}
