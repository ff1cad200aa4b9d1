//! What a reload changes for a client: its credentials are checked again,
//! its permissions replaced, subscriptions they no longer allow dropped,
//! and a new `max_payload` announced.

use std::sync::Arc;

use super::ClientState;
use crate::server::adoption::Effect;
use crate::server::auth::Revalidation;
use crate::server::errors::*;
use crate::server::permissions::CompiledPermissions;
use crate::server::session::core::Core;
use crate::server::session::Phase;
use crate::server::snapshot::Snapshot;

impl ClientState {
    /// A new configuration is in place: check this client's credentials and
    /// permissions against it, as nats-server's reload does. A removed user
    /// is closed without an error; credentials that no longer hold get
    /// 'Authorization Violation'; subscriptions no longer allowed are
    /// removed with a permissions error, and the connection stays.
    /// Returns what it did, as [`crate::server::auth::predict`] predicts it
    /// for a dry run.
    pub(super) async fn revalidate(&mut self, core: &mut Core, old: &Arc<Snapshot>) -> Result<Effect, CloseReason> {
        self.pub_allowed.clear();
        core.auth_required = core.auth().required();
        if core.phase != Phase::Authenticated {
            return Ok(Effect::Unchanged);
        }
        self.recheck_jwt_user(core)?;
        let jwt_defaults = self.jwt_default_permissions(core);
        if self.identity.jwt.is_some() {
            // The account's `exp` may have come, gone or moved.
            core.expiry = self.jwt_expiry(core);
        }
        let same = |a: Option<&Arc<CompiledPermissions>>, b: Option<&Arc<CompiledPermissions>>| match (a, b) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        let mut rechecked = false;
        let previous = match core.auth().revalidate(&self.identity) {
            // A JWT user's credentials are not in the config: a reload
            // leaves them; claim updates re-check them (above), and change
            // the permissions that came from the account's defaults.
            _ if self.identity.jwt.is_some() => jwt_defaults,
            Revalidation::Valid(permissions) => {
                if same(self.identity.permissions.as_ref(), permissions) {
                    None
                } else {
                    let now = permissions.cloned();
                    Some(std::mem::replace(&mut self.identity.permissions, now))
                }
            }
            Revalidation::Anonymous => Some(std::mem::take(&mut self.identity).permissions),
            Revalidation::Removed => return Err(self.user_removed(core)),
            Revalidation::Recheck => match self.authenticate(core, &self.opts).await {
                Some(identity) => {
                    rechecked = true;
                    identity.fill_no_auth_credentials(&mut self.opts);
                    Some(std::mem::replace(&mut self.identity, identity).permissions)
                }
                None => {
                    let user = self.identity.user.clone();
                    if user.as_deref().is_some_and(|u| !core.auth().has_user(u)) {
                        return Err(self.user_removed(core));
                    }
                    return Err(self.auth_violation(core));
                }
            },
        };
        // `previous` is still held here, so its address cannot be reused.
        let perms_changed = previous.is_some_and(|p| !same(p.as_ref(), self.identity.permissions.as_ref()));
        if perms_changed {
            core.conn.replies.configure(self.perms().and_then(|p| p.responses.as_ref()));
            self.recheck_subscriptions(core);
        }
        let max_payload_changed = self.readopt_account(core, old.opts.max_payload);
        // A claim update (the same snapshot) changes limits silently, as
        // nats-server does; a reload announces them.
        let reloaded = !Arc::ptr_eq(old, &core.snap);
        if self.opts.protocol >= 1 && max_payload_changed && reloaded {
            // Clients size their publishes by the INFO they were given.
            let mut info = core.server.client_info(&core.snap, &core.conn, self.nonce.as_deref());
            info.max_payload = core.limits.max_payload;
            core.send(&info.to_line());
        }
        self.publish_identity(core);
        Ok(if rechecked || perms_changed || max_payload_changed { Effect::Rechecked } else { Effect::Unchanged })
    }

    /// A JWT user against its account's current claims (nats-server's
    /// `updateAccountClaimsWithRefresh`): revoked users and users of a
    /// signing key the account dropped are closed.
    fn recheck_jwt_user(&self, core: &mut Core) -> Result<(), CloseReason> {
        let Some(j) = &self.identity.jwt else { return Ok(()) };
        let Some(claims) = core.server.operator().and_then(|op| op.account_claims(&j.account_key)) else {
            return Ok(());
        };
        if claims.is_user_revoked(&j.user_key, j.issued_at) {
            tracing::debug!("{} - {} - {}", core.conn.log_prefix, self.user_tag, ERR_AUTH_REVOKED);
            core.send_err(ERR_AUTH_REVOKED);
            return Err(CloseReason::Revocation);
        }
        if j.signing_key.as_deref().is_some_and(|k| !claims.nats.signing_keys.contains(k)) {
            return Err(self.auth_violation(core));
        }
        Ok(())
    }

    /// A JWT user with the account's default permissions takes the
    /// account's new ones; returns the permissions replaced, if they were.
    fn jwt_default_permissions(&mut self, core: &Core) -> Option<Option<Arc<CompiledPermissions>>> {
        let j = self.identity.jwt.as_ref()?;
        let defaults = j.default_permissions.as_ref()?;
        let claims = core.server.operator().and_then(|op| op.account_claims(&j.account_key))?;
        if &claims.nats.default_permissions == defaults {
            return None;
        }
        let mut updated = (**j).clone();
        updated.default_permissions = Some(claims.nats.default_permissions.clone());
        self.identity.jwt = Some(Arc::new(updated));
        let rules = crate::server::operator::compile::permissions(&claims.nats.default_permissions);
        let now = rules.map(|p| Arc::new(CompiledPermissions::new(&p)));
        Some(std::mem::replace(&mut self.identity.permissions, now))
    }

    fn user_removed(&self, core: &mut Core) -> CloseReason {
        let user = self.identity.user.as_deref().unwrap_or_default();
        tracing::info!("{} - User {user:?} was removed from the configuration, closing", core.conn.log_prefix);
        CloseReason::ClientClosed
    }

    /// Drops the subscriptions the client's new permissions no longer allow,
    /// and refreshes the deny filters of the wildcard ones that stay.
    fn recheck_subscriptions(&mut self, core: &mut Core) {
        let subs = core.conn.subscriptions();
        let perms = self.perms().cloned();
        for sub in subs {
            let queue = sub.queue.as_deref();
            let Some(perms) = &perms else {
                if sub.deny_filter.is_some() {
                    core.conn.refilter_subscription(&sub, None);
                }
                continue;
            };
            if !perms.subscribe.allows_sub(&sub.subject, queue) {
                core.conn.remove_subscription(&sub);
                let (subject, sid) = (go_quote(&sub.subject), go_quote(&sub.sid));
                let user = self.auth_user_text();
                match queue.map(go_quote) {
                    Some(q) => {
                        core.send_err(&format!(
                            "Permissions Violation for Subscription to {subject} using queue {q} (sid {sid})"
                        ));
                        tracing::info!("Removed sub {subject} using queue {q} (sid {sid}) for {user} - not authorized");
                    }
                    None => {
                        core.send_err(&format!("Permissions Violation for Subscription to {subject} (sid {sid})"));
                        tracing::info!("Removed sub {subject} (sid {sid}) for {user} - not authorized");
                    }
                }
                continue;
            }
            let filter = perms.subscribe.overlapping_denies(&sub.subject);
            let same = match (&sub.deny_filter, &filter) {
                (Some(a), Some(b)) => a.filters == b.filters,
                (None, None) => true,
                _ => false,
            };
            if !same {
                core.conn.refilter_subscription(&sub, filter);
            }
        }
    }
}
