//! An account: a namespace of subjects with its own subscription index.
//!
//! rnats serves one account today, nats-server's global account `$G`. Every
//! connection belongs to an account and inserts its subscriptions into that
//! account's index, so multi-tenancy (an index per account, imports and
//! exports, the account name carried on routes) adds accounts here instead of
//! rewriting the message path.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::conn::Subscription;
use super::sublist::Sublist;

/// nats-server's name for the account of clients that name none.
pub const GLOBAL_ACCOUNT: &str = "$G";

pub struct Account {
    pub name: Box<str>,
    pub sublist: Sublist<Subscription>,
    /// When the last `Producer was stalled` warning about this account was
    /// logged (nats-server rate-limits it per account). A std mutex, taken
    /// only when a producer was stalled for 5 ms or more.
    stall_warned: Mutex<Option<Instant>>,
}

impl Account {
    pub fn new(name: &str) -> Account {
        Account { name: name.into(), sublist: Sublist::new(), stall_warned: Mutex::new(None) }
    }

    /// Whether a stall warning may be logged now (none in the last `every`);
    /// if so, the next one must wait `every` again.
    pub fn stall_warning_due(&self, every: Duration) -> bool {
        let mut last = self.stall_warned.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < every) {
            return false;
        }
        *last = Some(now);
        true
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("name", &self.name).field("subscriptions", &self.sublist.count()).finish()
    }
}
