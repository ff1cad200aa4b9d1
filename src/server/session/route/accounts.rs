//! The accounts a route names (`RS+ ACC ...`, `RMSG ACC ...`), resolved
//! through the server's registry once per name and kept by the route
//! session, so a routed message takes no shared lock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::server::accounts::{AccountRegistry, ServerAccount};

/// Names a route may make this session remember as unknown; past it,
/// unknown names are looked up again each time (a peer cannot grow memory).
const MAX_UNKNOWN: usize = 1024;

#[derive(Default)]
pub(crate) struct RouteAccounts {
    known: HashMap<Box<[u8]>, Arc<ServerAccount>>,
    unknown: HashSet<Box<[u8]>>,
}

impl RouteAccounts {
    /// The account `name` names, if it exists here.
    pub fn resolve(&mut self, registry: &AccountRegistry, name: &[u8]) -> Option<Arc<ServerAccount>> {
        if let Some(account) = self.known.get(name) {
            return Some(account.clone());
        }
        if self.unknown.contains(name) {
            return None;
        }
        let found = std::str::from_utf8(name).ok().and_then(|n| registry.get(n));
        match &found {
            Some(account) => {
                self.known.insert(name.into(), account.clone());
            }
            None if self.unknown.len() < MAX_UNKNOWN => {
                self.unknown.insert(name.into());
            }
            None => {}
        }
        found
    }

    /// A reload may have added accounts: forget what was unknown.
    pub fn forget_unknown(&mut self) {
        self.unknown.clear();
    }
}
