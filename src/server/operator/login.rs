//! A client's login with a user JWT (operator mode): the pure checks of
//! `jwt::login` around the server's account lookup, run on the blocking
//! pool (Ed25519 verification, and a directory or URL resolver's I/O), with
//! the reference's log lines. The result is an ordinary [`Identity`]: the
//! user's (or scope's, or account's default) permissions compiled as a
//! config user's are, in the account the JWT names.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, error};

use super::user::JwtUser;
use super::{compile, OperatorMode};
use crate::server::auth::Identity;
use crate::server::jwt::login::{authenticated_line, authorize, check_user_jwt, Connection, Refusal};
use crate::server::jwt::{self, ConnectionType};
use crate::server::permissions::CompiledPermissions;
use crate::server::state::ServerState;

/// What the session knows of the CONNECT and the connection.
pub struct Attempt {
    pub jwt: Option<String>,
    pub sig: Option<String>,
    pub nonce: Option<String>,
    pub ip: Option<IpAddr>,
    pub websocket: bool,
    /// The client's log prefix (`ip:port - cid:N`).
    pub log_prefix: String,
}

/// Logs in with the CONNECT's user JWT; `None` is 'Authorization
/// Violation' (the reason is logged here, as the reference does).
pub async fn authenticate(server: Arc<ServerState>, attempt: Attempt) -> Option<Identity> {
    let op = server.operator()?.clone();
    let slots = server.bcrypt_slots();
    // Shares the bcrypt bound: a storm of JWT logins leaves CPU for traffic.
    let _slot = slots.acquire_owned().await.ok()?;
    tokio::task::spawn_blocking(move || login(&server, &op, &attempt)).await.ok().flatten()
}

fn login(server: &ServerState, op: &OperatorMode, a: &Attempt) -> Option<Identity> {
    let refused = |r: Refusal| {
        if r.is_error_level() {
            error!("{} - {}", a.log_prefix, r.log_line());
        } else {
            debug!("{} - {}", a.log_prefix, r.log_line());
        }
        None
    };
    let now = jwt::now();
    let user = match check_user_jwt(a.jwt.as_deref(), None, false, now) {
        Ok(user) => user,
        Err(r) => return refused(r),
    };
    let account_key = user.account().to_string();
    if !op.is_pinned(&account_key) {
        return refused(Refusal::AccountNotPinned(account_key));
    }
    let (account_jwt, account) = match op.lookup(&account_key, now) {
        Ok(found) => found,
        Err(e) => return refused(Refusal::AccountLookup(e)),
    };
    let kind = if a.websocket { ConnectionType::Websocket } else { ConnectionType::Standard };
    let conn = Connection {
        kind,
        nonce: a.nonce.as_deref().unwrap_or_default().as_bytes(),
        signature: a.sig.as_deref(),
        ip: a.ip,
        now,
    };
    let grant = match authorize(&user, &account, op.trust(), &conn) {
        Ok(grant) => grant,
        Err(r) => return refused(r),
    };
    for note in &grant.notes {
        debug!("{} - {note}", a.log_prefix);
    }
    op.ensure_installed(server.accounts(), &account_jwt, &account, now);
    debug!("{} - {}", a.log_prefix, authenticated_line("Client", &user, &account));
    let own = grant.permission_limits.permissions.is_specified();
    let default_permissions = (!own).then(|| account.nats.default_permissions.clone());
    let rules = match &default_permissions {
        None => compile::permissions(&grant.permission_limits.permissions),
        Some(defaults) => compile::permissions(defaults),
    };
    let (max_subscriptions, max_payload) = compile::user_limits(&grant.permission_limits.limits.nats);
    let expires_at = grant.expires_in.map(|d: Duration| tokio::time::Instant::now() + d);
    let jwt_user = JwtUser {
        user_key: grant.user_key.clone(),
        user_name: user.data.name.clone(),
        account_key: grant.account_key.clone(),
        account_name: account.data.name.clone(),
        signing_key: grant.signing_key.clone(),
        issued_at: user.data.issued_at,
        expires_at,
        max_subscriptions,
        max_payload,
        default_permissions,
    };
    Some(Identity::jwt_user(
        grant.user_key,
        grant.account_key.as_str().into(),
        rules.map(|p| Arc::new(CompiledPermissions::new(&p))),
        Arc::new(jwt_user),
    ))
}
