//! `http_auth`: optional credentials for the monitoring port (nats-server has
//! none). A user and password come as HTTP Basic, a token as
//! `Authorization: Bearer <token>`. Plain secrets are compared in constant
//! time; bcrypt hashes are checked on the blocking pool within the server's
//! bcrypt budget, and a header that passed is remembered (by its SHA-256, for
//! the current configuration only) so a dashboard polling every second costs
//! one bcrypt check, not one per request. No secret is ever logged.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::options::HttpAuth;
use crate::server::auth::{is_bcrypt, password_matches};
use crate::server::state::ServerState;

/// Headers remembered as good, at most (the cache starts over past it).
const MAX_REMEMBERED: usize = 64;

/// `WWW-Authenticate` for each kind of credential.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"rnats monitoring\", charset=\"UTF-8\"";
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"rnats monitoring\"";

/// Authorization headers that passed, per configuration generation. A std
/// mutex: taken once per request, never across an `.await`.
#[derive(Debug, Default)]
pub struct AuthCache {
    passed: Mutex<(u64, HashSet<[u8; 32]>)>,
}

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused: answer 401 with this challenge.
    Refused(&'static str),
}

impl AuthCache {
    /// Checks the request's `Authorization` header against `http_auth` of
    /// the current configuration.
    pub async fn check(&self, server: &Arc<ServerState>, header: Option<&[u8]>) -> Verdict {
        let snap = server.snapshot();
        let Some(auth) = snap.opts.http_auth.clone() else { return Verdict::Allowed };
        let challenge = if auth.token.is_some() { BEARER_CHALLENGE } else { BASIC_CHALLENGE };
        let Some(header) = header else { return Verdict::Refused(challenge) };
        let digest: [u8; 32] = Sha256::digest(header).into();
        {
            let passed = self.passed.lock().unwrap_or_else(|e| e.into_inner());
            if passed.0 == snap.generation && passed.1.contains(&digest) {
                return Verdict::Allowed;
            }
        }
        let Some(given) = Credentials::parse(header) else { return Verdict::Refused(challenge) };
        let ok = if needs_bcrypt(&auth) {
            let slots = server.bcrypt_slots();
            let Ok(_slot) = slots.acquire_owned().await else { return Verdict::Refused(challenge) };
            tokio::task::spawn_blocking(move || given.matches(&auth)).await.unwrap_or(false)
        } else {
            given.matches(&auth)
        };
        if !ok {
            return Verdict::Refused(challenge);
        }
        let mut passed = self.passed.lock().unwrap_or_else(|e| e.into_inner());
        if passed.0 != snap.generation || passed.1.len() >= MAX_REMEMBERED {
            *passed = (snap.generation, HashSet::new());
        }
        passed.1.insert(digest);
        Verdict::Allowed
    }
}

fn needs_bcrypt(auth: &HttpAuth) -> bool {
    let bcrypt = |s: &Option<crate::secret::Secret>| s.as_ref().is_some_and(|s| is_bcrypt(s.expose()));
    bcrypt(&auth.password) || bcrypt(&auth.token)
}

/// The credentials of one `Authorization` header.
#[derive(Debug)]
enum Credentials {
    Basic { user: String, password: String },
    Bearer(String),
}

impl Credentials {
    fn parse(header: &[u8]) -> Option<Credentials> {
        let text = std::str::from_utf8(header).ok()?.trim();
        let (scheme, value) = text.split_once(' ')?;
        let value = value.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD.decode(value).ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (user, password) = decoded.split_once(':')?;
            Some(Credentials::Basic { user: user.to_string(), password: password.to_string() })
        } else if scheme.eq_ignore_ascii_case("bearer") {
            Some(Credentials::Bearer(value.to_string()))
        } else {
            None
        }
    }

    /// Both parts are always compared, so timing says nothing about which
    /// one was wrong.
    fn matches(&self, auth: &HttpAuth) -> bool {
        match (self, auth) {
            (Credentials::Basic { user, password }, HttpAuth { user: Some(u), password: Some(p), token: None }) => {
                let user_ok: bool = Sha256::digest(user).ct_eq(&Sha256::digest(u)).into();
                let pass_ok = password_matches(p.expose(), password);
                user_ok & pass_ok
            }
            (Credentials::Bearer(token), HttpAuth { token: Some(t), .. }) => password_matches(t.expose(), token),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> Vec<u8> {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))).into_bytes()
    }

    #[test]
    fn basic_and_bearer() {
        let up = HttpAuth { user: Some("ops".into()), password: Some("s3cret".into()), token: None };
        let ok = |h: &[u8], a: &HttpAuth| Credentials::parse(h).is_some_and(|c| c.matches(a));
        assert!(ok(&basic("ops", "s3cret"), &up));
        assert!(!ok(&basic("ops", "s3cret!"), &up));
        assert!(!ok(&basic("op", "s3cret"), &up));
        assert!(!ok(b"Bearer s3cret", &up));
        assert!(!ok(b"Basic !!!", &up));
        let tok = HttpAuth { token: Some("t0k".into()), ..HttpAuth::default() };
        assert!(ok(b"Bearer t0k", &tok));
        assert!(ok(b"bearer  t0k ", &tok));
        assert!(!ok(b"Bearer t0", &tok));
        assert!(!ok(&basic("x", "t0k"), &tok));
        let hashed = HttpAuth { token: Some(bcrypt::hash("t0k", 4).unwrap().into()), ..HttpAuth::default() };
        assert!(needs_bcrypt(&hashed));
        assert!(ok(b"Bearer t0k", &hashed));
    }
}
