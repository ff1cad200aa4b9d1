//! An account: a namespace of subjects with its own subscription index.
//!
//! rnats serves one account today, nats-server's global account `$G`. Every
//! connection belongs to an account and inserts its subscriptions into that
//! account's index, so multi-tenancy (an index per account, imports and
//! exports, the account name carried on routes) adds accounts here instead of
//! rewriting the message path.

use super::conn::Subscription;
use super::sublist::Sublist;

/// nats-server's name for the account of clients that name none.
pub const GLOBAL_ACCOUNT: &str = "$G";

pub struct Account {
    pub name: Box<str>,
    pub sublist: Sublist<Subscription>,
}

impl Account {
    pub fn new(name: &str) -> Account {
        Account { name: name.into(), sublist: Sublist::new() }
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("name", &self.name).field("subscriptions", &self.sublist.count()).finish()
    }
}
