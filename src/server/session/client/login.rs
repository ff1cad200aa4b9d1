//! A client's login: CONNECT (its options, credentials and what it may
//! not ask for), who the credentials say the client is, and the refusals,
//! with nats-server's texts.

use tracing::error;

use super::ClientState;
use crate::secret::Secret;
use crate::server::auth::{given, given_secret, Identity};
use crate::server::errors::*;
use crate::server::info::ConnectOpts;
use crate::server::session::core::{Core, Expiry};
use crate::server::session::Phase;
use crate::server::system::link::SystemEvent;

impl ClientState {
    /// The first byte of an op while the client must still authenticate:
    /// nats-server refuses anything but a CONNECT right there, before the
    /// rest of the op is read, unless `no_auth_user` can serve it.
    pub(super) async fn before_connect(&mut self, core: &mut Core, first: u8) -> Result<(), CloseReason> {
        if first.eq_ignore_ascii_case(&b'c') {
            return Ok(());
        }
        if core.auth().no_auth_user_serves_ops() {
            // Authenticated as if it had sent `CONNECT {}` (so a CONNECT
            // after this is a later one, which drops subscriptions).
            self.connect_received = true;
            if let Some(identity) = authenticate(core, &self.opts, self.nonce.as_deref()).await {
                return self.admit(core, identity);
            }
        }
        Err(self.auth_violation(core))
    }

    /// nats-server's name for the client in authentication errors.
    pub(super) fn auth_user_text(&self) -> String {
        match (given(&self.opts.nkey), given(&self.opts.user), given_secret(&self.opts.auth_token)) {
            (Some(nkey), _, _) => format!("Nkey {}", go_quote(nkey.as_bytes())),
            (None, Some(user), _) => format!("User {}", go_quote(user.as_bytes())),
            (None, None, Some(_)) => format!("Token \"{}\"", crate::secret::REDACTED),
            _ => "User \"N/A\"".to_string(),
        }
    }

    pub(super) fn auth_violation(&self, core: &mut Core) -> CloseReason {
        if core.auth().operator_mode() && given(&self.opts.user).is_none() {
            // nats-server names no user when it trusts operators.
            error!("{} - authentication error", core.conn.log_prefix);
        } else {
            error!("{} - authentication error - {}", core.conn.log_prefix, self.auth_user_text());
        }
        core.server.system_event(SystemEvent::AuthError(core.conn.clone()));
        core.send_err(ERR_AUTH_VIOLATION);
        CloseReason::AuthenticationViolation
    }

    /// CONNECT, in nats-server's order: merge the JSON into the options; on
    /// a later CONNECT drop every subscription; check the credentials;
    /// refuse `account`/`new_account`; then the protocol version and
    /// `no_responders` without headers.
    pub(super) async fn on_connect(&mut self, core: &mut Core, json: &[u8]) -> Result<(), CloseReason> {
        if let Err(e) = self.opts.apply_json(json) {
            // The parser accepted the JSON, so this does not happen.
            error!("{} - {e}", core.conn.log_prefix);
            return Err(CloseReason::ProtocolViolation);
        }
        if let Some(c) = &self.cookies {
            // nats-server fills what the CONNECT left empty from the cookies.
            let fill = |field: &mut Option<String>, cookie: &Option<String>| {
                if given(field).is_none() && cookie.is_some() {
                    *field = cookie.clone();
                }
            };
            let fill_secret = |field: &mut Option<Secret>, cookie: &Option<Secret>| {
                if given_secret(field).is_none() && cookie.is_some() {
                    *field = cookie.clone();
                }
            };
            fill(&mut self.opts.user, &c.user);
            fill_secret(&mut self.opts.pass, &c.pass);
            fill_secret(&mut self.opts.auth_token, &c.token);
            fill(&mut self.opts.jwt, &c.jwt);
        }
        let later = std::mem::replace(&mut self.connect_received, true);
        self.headers = self.opts.headers && !core.snap.opts.no_header_support;
        core.limits.headers = self.headers;
        if later {
            core.conn.remove_all_subscriptions();
        }
        // What monitoring shows, recorded before authentication as
        // nats-server does, so a refused client is listed (in the closed
        // connections) with the name and user it tried.
        let o = &self.opts;
        core.conn.record_connect(o.name.as_deref(), o.lang.as_deref(), o.version.as_deref(), raw_auth_user(o));
        let identity =
            if core.auth_required { self.authenticate(core, &self.opts).await } else { Some(Identity::default()) };
        let Some(identity) = identity else {
            return Err(self.auth_violation(core));
        };
        if self.opts.new_account || self.opts.account.as_deref().is_some_and(|a| !a.is_empty()) {
            return Err(self.auth_violation(core));
        }
        self.admit(core, identity)?;
        if !(0..=1).contains(&self.opts.protocol) {
            error!("{} - {}", core.conn.log_prefix, ERR_INVALID_PROTOCOL);
            core.send_err(ERR_INVALID_PROTOCOL);
            return Err(CloseReason::BadClientProtocolVersion);
        }
        if self.opts.no_responders && !self.headers {
            error!("{} - {}", core.conn.log_prefix, ERR_NO_RESPONDERS_NEEDS_HEADERS);
            core.send_err(ERR_NO_RESPONDERS_NEEDS_HEADERS);
            return Err(CloseReason::NoRespondersRequiresHeaders);
        }
        self.send_ok(core);
        Ok(())
    }

    /// The client is authenticated as `identity`: it enters its account
    /// (which may be full).
    /// When a JWT user's connection must close: its JWT's expiry (or the
    /// end of its connect window), or its account JWT's `exp` if earlier
    /// (nats-server's `authExpired` and `accountAuthExpired`). Claim
    /// updates call it again: the account's `exp` may have changed.
    pub(super) fn jwt_expiry(&self, core: &Core) -> Option<Expiry> {
        let j = self.identity.jwt.as_ref()?;
        let user = j.expires_at.map(|at| Expiry {
            at,
            line: format!(
                "{} - User Authentication Expired - Account:{}/{} - jwt:{}",
                self.user_tag, j.account_key, j.account_name, j.user_key
            ),
            error: ERR_AUTH_EXPIRED,
        });
        let claims = core.server.operator().and_then(|op| op.account_claims(&j.account_key));
        let account = claims.filter(|c| c.data.expires > 0).map(|c| {
            let left = c.data.expires.saturating_sub(crate::server::jwt::now().as_second()).max(0);
            Expiry {
                at: tokio::time::Instant::now() + std::time::Duration::from_secs(left.unsigned_abs()),
                line: format!("{} - {ERR_ACCOUNT_EXPIRED}", self.user_tag),
                error: ERR_ACCOUNT_EXPIRED,
            }
        });
        match (user, account) {
            (Some(u), Some(a)) => Some(if a.at < u.at { a } else { u }),
            (u, a) => u.or(a),
        }
    }

    pub(super) fn admit(&mut self, core: &mut Core, identity: Identity) -> Result<(), CloseReason> {
        identity.fill_no_auth_credentials(&mut self.opts);
        core.conn.replies.configure(identity.permissions.as_ref().and_then(|p| p.responses.as_ref()));
        self.identity = identity;
        self.enter_account(core)?;
        self.user_tag = match (&self.identity.jwt, &self.identity.user) {
            (Some(j), _) => format!("\"{}/{}/jwt:{}\"", j.account_key, j.account_name, j.user_key),
            (None, Some(user)) => format!("\"{}/user:{user}\"", self.tenancy.account.name),
            (None, None) => String::new(),
        };
        core.expiry = self.jwt_expiry(core);
        self.pub_allowed.clear();
        core.conn.set_headers(self.headers);
        if let Some(user) = &self.identity.user {
            // `no_auth_user`: the client sent no credentials of its own.
            let mut meta = core.conn.meta.lock().unwrap_or_else(|e| e.into_inner());
            if meta.user.is_empty() {
                meta.user = user.clone();
            }
        }
        core.phase = Phase::Authenticated;
        self.publish_identity(core);
        core.server.system_event(SystemEvent::Connect(core.conn.clone()));
        Ok(())
    }

    /// Shows the client's identity to reload dry runs.
    pub(super) fn publish_identity(&self, core: &Core) {
        *core.conn.identity.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.identity.clone());
    }

    /// Who the client is under the session's snapshot: from its TLS client
    /// certificate with `verify_and_map`, else from its CONNECT credentials.
    pub(super) async fn authenticate(&self, core: &Core, c: &ConnectOpts) -> Option<Identity> {
        let tls = match (core.conn.websocket, &core.snap.opts.websocket) {
            (true, Some(w)) => w.tls.as_ref(),
            (false, _) => core.snap.opts.tls.as_ref(),
            (true, None) => None,
        };
        let map_cert = tls.is_some_and(|t| t.verify_and_map);
        if !map_cert {
            return authenticate(core, c, self.nonce.as_deref()).await;
        }
        if let Some(user) = &c.user {
            tracing::warn!(
                "{} - User {user:?} found in connect proto, but user required from cert",
                core.conn.log_prefix
            );
        }
        let certs = self.tls.as_ref().map(|t| t.peer_certs.as_slice()).unwrap_or_default();
        let auth = core.auth();
        let mapped = crate::tls::map_peer_certs(certs, &auth.cert_candidates());
        for line in &mapped.debug {
            tracing::debug!("{} - {line}", core.conn.log_prefix);
        }
        auth.cert_identity(mapped.user?.0)
    }
}

/// The user `/connz?auth=1` shows, from the CONNECT as sent (nats-server's
/// `getRawAuthUser`): the nkey, the user name, or `[REDACTED]` for a token.
fn raw_auth_user(c: &ConnectOpts) -> Option<&str> {
    fn set(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|v| !v.is_empty())
    }
    let token = crate::server::auth::given_secret(&c.auth_token);
    set(&c.nkey).or(set(&c.user)).or(token.map(|_| crate::secret::REDACTED))
}

/// Checks the CONNECT credentials against the session's snapshot. bcrypt
/// checks run on the blocking pool, at most (cores - 1) at once, so a storm
/// of logins leaves CPU for message traffic.
async fn authenticate(core: &Core, c: &ConnectOpts, nonce: Option<&str>) -> Option<Identity> {
    let snap = core.snap.clone();
    let websocket = core.conn.websocket;
    if snap.auth_for(websocket).operator_mode() {
        let attempt = crate::server::operator::login::Attempt {
            jwt: c.jwt.clone(),
            sig: c.sig.clone(),
            nonce: nonce.map(str::to_string),
            ip: Some(core.conn.addr.ip()),
            websocket,
            log_prefix: core.conn.log_prefix.clone(),
        };
        return crate::server::operator::login::authenticate(core.server.clone(), attempt).await;
    }
    if !snap.auth_for(websocket).needs_blocking(c) {
        return snap.auth_for(websocket).authenticate(c, nonce);
    }
    let slots = core.server.bcrypt_slots();
    let (creds, nonce) = (c.clone(), nonce.map(str::to_string));
    let _slot = slots.acquire_owned().await.ok()?;
    tokio::task::spawn_blocking(move || snap.auth_for(websocket).authenticate(&creds, nonce.as_deref()))
        .await
        .ok()
        .flatten()
}
