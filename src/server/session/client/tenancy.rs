//! The client's account: entering it at login (with its `max_connections`),
//! its limits, its subject mappings applied to what the client publishes,
//! and the shadow subscriptions its stream imports need.

use std::sync::Arc;

use tracing::error;

use super::ClientState;
use crate::mapping::Selected;
use crate::options::GLOBAL_ACCOUNT;
use crate::server::account_config::AccountConfig;
use crate::server::accounts::ServerAccount;
use crate::server::conn::Subscription;
use crate::server::errors::*;
use crate::server::session::core::Core;

/// The account a client publishes into, as the session holds it: loaded at
/// login and when a new snapshot is adopted, never per message.
pub(crate) struct Tenancy {
    pub account: Arc<ServerAccount>,
    pub rules: Arc<AccountConfig>,
    /// Where a mapped subject is written (reused: no allocation per message).
    mapped: Vec<u8>,
}

impl Tenancy {
    pub fn new(account: Arc<ServerAccount>) -> Tenancy {
        Tenancy { rules: account.config(), account, mapped: Vec::new() }
    }
}

impl ClientState {
    /// Puts the authenticated client into its user's account, counted
    /// against the account's `max_connections`, and applies the account's
    /// limits. nats-server checks this right after the credentials.
    pub(super) fn enter_account(&mut self, core: &mut Core) -> Result<(), CloseReason> {
        let name = self.identity.account.as_deref().unwrap_or(GLOBAL_ACCOUNT);
        let account = core.server.accounts().get(name);
        let Some(account) = account.filter(|a| !a.config().removed) else {
            return Err(self.auth_violation(core));
        };
        let rules = account.config();
        if !core.conn.enter_account(account.clone(), rules.limits.max_connections) {
            error!("{} - {}", core.conn.log_prefix, ERR_MAX_ACCOUNT_CONNECTIONS);
            core.send_err(ERR_MAX_ACCOUNT_CONNECTIONS);
            return Err(CloseReason::MaxAccountConnectionsExceeded);
        }
        self.tenancy = Tenancy::new(account);
        self.apply_account_rules(core);
        Ok(())
    }

    /// After a reload: the account's new rules, and the subscriptions'
    /// shadows when its stream imports changed. Returns whether the
    /// client's `max_payload` changed.
    pub(super) fn readopt_account(&mut self, core: &mut Core, old_server_max_payload: usize) -> bool {
        let old = self.tenancy.rules.clone();
        let before = AccountConfig::effective(old_server_max_payload, old.limits.max_payload);
        self.apply_account_rules(core);
        if old.stream_imports != self.tenancy.rules.stream_imports {
            for sub in core.conn.subscriptions() {
                core.server.accounts().resync_shadows(&self.tenancy.rules, &sub);
            }
        }
        before != core.limits.max_payload
    }

    /// The account's current rules (a reload may have changed them) and the
    /// limits that follow from them.
    pub(super) fn apply_account_rules(&mut self, core: &mut Core) {
        let t = &mut self.tenancy;
        t.rules = t.account.config();
        core.fanout.set_cluster(core.server.cluster().map(|c| c.name()).unwrap_or_default());
        let max_payload = AccountConfig::effective(core.snap.opts.max_payload, t.rules.limits.max_payload);
        // A JWT user's own limit narrows the account's (`applyAccountLimits`).
        let user = self.identity.jwt.as_ref().and_then(|j| j.max_payload);
        core.limits.max_payload = AccountConfig::effective(max_payload, user);
    }

    /// The subscriptions a connection of this account may hold (0: no limit).
    pub(super) fn max_subscriptions(&self, core: &Core) -> usize {
        let account =
            AccountConfig::effective(core.snap.opts.max_subscriptions, self.tenancy.rules.limits.max_subscriptions);
        AccountConfig::effective(account, self.identity.jwt.as_ref().and_then(|j| j.max_subscriptions))
    }

    /// Applies the account's mappings to a published subject: `Some(false)`
    /// when it stays, `Some(true)` when it maps (the new subject is in
    /// `scratch`, from [`ClientState::take_scratch`]), `None` when the
    /// mapping drops the message.
    pub(super) fn map_subject(&mut self, core: &mut Core, subject: &[u8], scratch: &mut Vec<u8>) -> Option<bool> {
        let Some(mappings) = self.tenancy.rules.mappings.clone() else { return Some(false) };
        match core.fanout.map_subject(&mappings, subject, scratch) {
            Selected::Unchanged => Some(false),
            Selected::Mapped => Some(true),
            Selected::Dropped => None,
        }
    }

    /// The scratch buffer a mapped subject was written to.
    pub(super) fn take_scratch(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.tenancy.mapped)
    }

    pub(super) fn return_scratch(&mut self, scratch: Vec<u8>) {
        self.tenancy.mapped = scratch;
    }

    /// Whether the client's account imports streams (whose subscriptions
    /// then need shadows in the exporters).
    pub(super) fn imports_streams(&self) -> bool {
        !self.tenancy.rules.stream_imports.is_empty()
    }

    /// A new subscription of this client: the stream imports of its
    /// account that it listens to get their shadows in the exporters.
    pub(super) fn add_import_shadows(&self, core: &Core, sub: &Arc<Subscription>) {
        if !self.imports_streams() {
            return;
        }
        let shadows = core.server.accounts().shadows_for(&self.tenancy.rules, sub);
        core.conn.add_shadows(sub, shadows);
    }
}
