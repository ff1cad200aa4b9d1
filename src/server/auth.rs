//! Who a connecting client is: its CONNECT credentials checked against the
//! configured users, tokens and nkeys, giving an [`Identity`] with the
//! permissions that apply to it.
//!
//! Plain secrets are compared in constant time. bcrypt hashes (`$2a$`, `$2b$`,
//! `$2y$`) cost milliseconds of CPU each, so callers run [`AuthIndex::authenticate`]
//! off the async workers when [`AuthIndex::needs_blocking`] says so.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use subtle::ConstantTimeEq;

use super::info::ConnectOpts;
use super::permissions::CompiledPermissions;
use crate::options::{Options, Permissions};

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

pub fn is_bcrypt(s: &str) -> bool {
    s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$")
}

/// A configured secret against a given one: bcrypt or constant-time equality.
pub fn password_matches(configured: &str, given: &str) -> bool {
    if is_bcrypt(configured) {
        bcrypt::verify(given, configured).unwrap_or(false)
    } else {
        ct_eq(given, configured)
    }
}

/// An authenticated client.
#[derive(Clone, Default)]
pub struct Identity {
    /// The user name (or nkey), for logs and monitoring; `None` without auth.
    pub user: Option<String>,
    pub permissions: Option<Arc<CompiledPermissions>>,
    /// The configured secret the client proved (password or hash, token,
    /// nkey). A reload that leaves it unchanged leaves the client
    /// authenticated without checking it again (no bcrypt per client).
    secret: Option<Arc<str>>,
    /// Admitted as `no_auth_user`, without credentials.
    via_no_auth_user: bool,
}

/// What a new configuration means for an authenticated client.
pub enum Revalidation {
    /// Still authenticated, with these (possibly new) permissions.
    Valid(Identity),
    /// The user is gone from the configuration: close without an error,
    /// as nats-server does for a user removed by a reload.
    Removed,
    /// The credentials must be checked again (they changed, or
    /// authentication became required).
    Recheck,
}

struct UserEntry {
    password: Option<Arc<str>>,
    permissions: Option<Arc<CompiledPermissions>>,
    /// May connect over a standard client connection (`allowed_connection_types`
    /// empty, or naming STANDARD), the only kind rnats accepts so far.
    standard_allowed: bool,
}

/// Whether `allowed_connection_types` lets a user in over a plain client
/// connection: no list means any type.
fn standard_allowed(types: &[String]) -> bool {
    types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case("STANDARD"))
}

/// The configured credentials, compiled once per configuration.
#[derive(Default)]
pub struct AuthIndex {
    token: Option<Arc<str>>,
    single: Option<(String, Option<Arc<str>>)>,
    users: HashMap<String, UserEntry>,
    nkeys: HashMap<String, (Option<Arc<CompiledPermissions>>, bool)>,
    no_auth_user: Option<String>,
    /// Every distinct permission set, compiled once. Users that share a
    /// permission block share the compiled rules, and the next compile
    /// reuses them, so a reload of 10 000 users compiles only what changed
    /// and a client whose rules are unchanged keeps the very same `Arc`.
    compiled: HashMap<Permissions, Arc<CompiledPermissions>>,
}

impl AuthIndex {
    pub fn new(opts: &Options) -> AuthIndex {
        AuthIndex::compile(opts, None)
    }

    /// Compiles `opts`, reusing the compiled permissions of `previous`.
    pub fn compile(opts: &Options, previous: Option<&AuthIndex>) -> AuthIndex {
        let a = &opts.authorization;
        let mut compiled: HashMap<Permissions, Arc<CompiledPermissions>> = HashMap::new();
        let mut compile_one = |p: &Permissions| -> Arc<CompiledPermissions> {
            if let Some(c) = compiled.get(p) {
                return c.clone();
            }
            let c = previous
                .and_then(|prev| prev.compiled.get(p).cloned())
                .unwrap_or_else(|| Arc::new(CompiledPermissions::new(p)));
            compiled.insert(p.clone(), c.clone());
            c
        };
        let default = a.default_permissions.as_ref().map(&mut compile_one);
        let mut perms = |p: &Option<Permissions>| match p {
            Some(p) => Some(compile_one(p)),
            None => default.clone(),
        };
        let mut index = AuthIndex {
            token: a.token.as_deref().map(Arc::from),
            single: a.user.clone().map(|u| (u, a.password.as_deref().map(Arc::from))),
            no_auth_user: opts.no_auth_user.clone(),
            ..AuthIndex::default()
        };
        for u in &a.users {
            match (&u.nkey, &u.user) {
                (Some(nkey), _) => {
                    let entry = (perms(&u.permissions), standard_allowed(&u.allowed_connection_types));
                    index.nkeys.insert(nkey.clone(), entry);
                }
                (None, Some(name)) => {
                    let entry = UserEntry {
                        password: u.password.as_deref().map(Arc::from),
                        permissions: perms(&u.permissions),
                        standard_allowed: standard_allowed(&u.allowed_connection_types),
                    };
                    index.users.insert(name.clone(), entry);
                }
                (None, None) => {}
            }
        }
        index.compiled = compiled;
        index
    }

    /// Whether a client authenticated as `identity` under an earlier
    /// configuration still is under this one.
    pub fn revalidate(&self, identity: &Identity) -> Revalidation {
        if !self.required() {
            return Revalidation::Valid(Identity::default());
        }
        let Some(user) = identity.user.as_deref() else {
            // A token client, or one that connected without credentials
            // while none were required.
            return match (&identity.secret, &self.token) {
                (Some(had), Some(now)) if had == now => Revalidation::Valid(identity.clone()),
                _ => Revalidation::Recheck,
            };
        };
        if let Some((perms, allowed)) = self.nkeys.get(user) {
            return match allowed {
                true => Revalidation::Valid(Identity { permissions: perms.clone(), ..identity.clone() }),
                false => Revalidation::Removed,
            };
        }
        if let Some(entry) = self.users.get(user) {
            if !entry.standard_allowed {
                return Revalidation::Removed;
            }
            let same_secret = match (&identity.secret, &entry.password) {
                (Some(had), Some(now)) => had == now,
                (None, None) => true,
                _ => false,
            };
            let same_entry =
                if identity.via_no_auth_user { self.no_auth_user.as_deref() == Some(user) } else { same_secret };
            return match same_entry {
                true => Revalidation::Valid(Identity { permissions: entry.permissions.clone(), ..identity.clone() }),
                false => Revalidation::Recheck,
            };
        }
        if let Some((single, pass)) = &self.single {
            if single == user && identity.secret.as_ref() == pass.as_ref() {
                return Revalidation::Valid(Identity { permissions: None, ..identity.clone() });
            }
            return Revalidation::Recheck;
        }
        Revalidation::Removed
    }

    /// Whether `user` names a configured user or nkey.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
            || self.nkeys.contains_key(user)
            || self.single.as_ref().is_some_and(|(u, _)| u == user)
    }

    pub fn required(&self) -> bool {
        self.token.is_some() || self.single.is_some() || !self.users.is_empty() || !self.nkeys.is_empty()
    }

    /// nkey users sign a server nonce, which INFO then has to carry.
    pub fn needs_nonce(&self) -> bool {
        !self.nkeys.is_empty()
    }

    /// Whether checking `c` means a bcrypt verification.
    pub fn needs_blocking(&self, c: &ConnectOpts) -> bool {
        if let Some(t) = &self.token {
            return is_bcrypt(t);
        }
        if let Some((_, Some(p))) = &self.single {
            return is_bcrypt(p);
        }
        c.user.as_deref().and_then(|u| self.users.get(u)).and_then(|e| e.password.as_deref()).is_some_and(is_bcrypt)
    }

    /// Checks `c` (and, for nkeys, its signature of `nonce`).
    pub fn authenticate(&self, c: &ConnectOpts, nonce: Option<&str>) -> Option<Identity> {
        if !self.required() {
            return Some(Identity::default());
        }
        if let Some(nkey) = c.nkey.as_deref() {
            let (perms, allowed) = self.nkeys.get(nkey)?;
            if !allowed {
                return None;
            }
            let (sig, nonce) = (c.sig.as_deref()?, nonce?);
            return verify_nkey(nkey, nonce, sig).then(|| Identity {
                user: Some(nkey.to_string()),
                permissions: perms.clone(),
                ..Identity::default()
            });
        }
        let no_credentials = c.user.is_none() && c.pass.is_none() && c.auth_token.is_none();
        if no_credentials {
            let name = self.no_auth_user.as_deref()?;
            let entry = self.users.get(name).filter(|e| e.standard_allowed)?;
            return Some(Identity {
                user: Some(name.to_string()),
                permissions: entry.permissions.clone(),
                secret: entry.password.clone(),
                via_no_auth_user: true,
            });
        }
        if !self.users.is_empty() {
            let name = c.user.as_deref()?;
            let entry = self.users.get(name).filter(|e| e.standard_allowed)?;
            let given = c.pass.as_deref().unwrap_or("");
            let ok = match &entry.password {
                Some(p) => password_matches(p, given),
                None => false,
            };
            return ok.then(|| Identity {
                user: Some(name.to_string()),
                permissions: entry.permissions.clone(),
                secret: entry.password.clone(),
                via_no_auth_user: false,
            });
        }
        if let Some(token) = &self.token {
            let given = c.auth_token.as_deref()?;
            return password_matches(token, given)
                .then(|| Identity { secret: Some(token.clone()), ..Identity::default() });
        }
        if let Some((user, pass)) = &self.single {
            let user_ok = c.user.as_deref().is_some_and(|u| ct_eq(u, user));
            let pass_ok = match pass {
                Some(p) => c.pass.as_deref().is_some_and(|given| password_matches(p, given)),
                None => true,
            };
            return (user_ok & pass_ok).then(|| Identity {
                user: Some(user.clone()),
                secret: pass.clone(),
                ..Identity::default()
            });
        }
        None
    }
}

/// A random nonce for an nkey challenge (url-safe base64, as nats-server's).
pub fn new_nonce() -> String {
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks an nkey user's signature of the nonce. Clients send it url-safe
/// base64 without padding; standard base64 is accepted too, as nats-server does.
fn verify_nkey(nkey: &str, nonce: &str, sig: &str) -> bool {
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(sig));
    let Ok(sig) = sig else { return false };
    let Ok(key) = nkeys::KeyPair::from_public_key(nkey) else { return false };
    key.verify(nonce.as_bytes(), &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::User;

    fn connect(json: &str) -> ConnectOpts {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn single_user_and_token() {
        let mut o = Options::default();
        o.authorization.user = Some("a".into());
        o.authorization.password = Some("p".into());
        let idx = AuthIndex::new(&o);
        assert!(idx.authenticate(&connect(r#"{"user":"a","pass":"p"}"#), None).is_some());
        assert!(idx.authenticate(&connect(r#"{"user":"a","pass":"x"}"#), None).is_none());
        assert!(idx.authenticate(&connect(r#"{"user":"b","pass":"p"}"#), None).is_none());
        assert!(idx.authenticate(&connect(r#"{}"#), None).is_none());
        let mut o = Options::default();
        o.authorization.token = Some("s3cret".into());
        let idx = AuthIndex::new(&o);
        assert!(idx.authenticate(&connect(r#"{"auth_token":"s3cret"}"#), None).is_some());
        assert!(idx.authenticate(&connect(r#"{"auth_token":"s3cre"}"#), None).is_none());
        assert!(AuthIndex::new(&Options::default()).authenticate(&connect("{}"), None).is_some());
    }

    #[test]
    fn users_bcrypt_and_default_permissions() {
        let mut o = Options::default();
        o.authorization.users = vec![
            User { user: Some("a".into()), password: Some("pw-a".into()), ..Default::default() },
            User { user: Some("b".into()), password: Some(bcrypt::hash("pw-b", 4).unwrap()), ..Default::default() },
        ];
        o.authorization.default_permissions = Some(Permissions::default());
        let idx = AuthIndex::new(&o);
        let a = idx.authenticate(&connect(r#"{"user":"a","pass":"pw-a"}"#), None).unwrap();
        assert_eq!(a.user.as_deref(), Some("a"));
        assert!(a.permissions.is_some(), "default permissions apply");
        assert!(idx.needs_blocking(&connect(r#"{"user":"b","pass":"pw-b"}"#)));
        assert!(!idx.needs_blocking(&connect(r#"{"user":"a","pass":"pw-a"}"#)));
        assert!(idx.authenticate(&connect(r#"{"user":"b","pass":"pw-b"}"#), None).is_some());
        assert!(idx.authenticate(&connect(r#"{"user":"b","pass":"pw-a"}"#), None).is_none());
        assert!(idx.authenticate(&connect(r#"{"user":"a"}"#), None).is_none());
    }

    #[test]
    fn nkey_challenge() {
        let kp = nkeys::KeyPair::new_user();
        let mut o = Options::default();
        o.authorization.users = vec![User { nkey: Some(kp.public_key()), ..Default::default() }];
        let idx = AuthIndex::new(&o);
        assert!(idx.needs_nonce());
        let nonce = new_nonce();
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(kp.sign(nonce.as_bytes()).unwrap());
        let good = connect(&format!(r#"{{"nkey":"{}","sig":"{sig}"}}"#, kp.public_key()));
        assert_eq!(idx.authenticate(&good, Some(&nonce)).unwrap().user, Some(kp.public_key()));
        assert!(idx.authenticate(&good, Some("another-nonce")).is_none(), "signature of another nonce");
        let other = nkeys::KeyPair::new_user();
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(other.sign(nonce.as_bytes()).unwrap());
        let bad = connect(&format!(r#"{{"nkey":"{}","sig":"{forged}"}}"#, kp.public_key()));
        assert!(idx.authenticate(&bad, Some(&nonce)).is_none());
        let unknown = connect(&format!(r#"{{"nkey":"{}","sig":"{sig}"}}"#, other.public_key()));
        assert!(idx.authenticate(&unknown, Some(&nonce)).is_none());
    }

    #[test]
    fn connection_types() {
        let mut o = Options::default();
        o.authorization.users = vec![
            User {
                user: Some("ws".into()),
                password: Some("x".into()),
                allowed_connection_types: vec!["WEBSOCKET".into()],
                ..Default::default()
            },
            User {
                user: Some("std".into()),
                password: Some("x".into()),
                allowed_connection_types: vec!["STANDARD".into(), "LEAFNODE".into()],
                ..Default::default()
            },
        ];
        let idx = AuthIndex::new(&o);
        assert!(
            idx.authenticate(&connect(r#"{"user":"ws","pass":"x"}"#), None).is_none(),
            "websocket-only user on a client port"
        );
        assert!(idx.authenticate(&connect(r#"{"user":"std","pass":"x"}"#), None).is_some());
    }

    #[test]
    fn no_auth_user() {
        let mut o = Options::default();
        o.authorization.users =
            vec![User { user: Some("guest".into()), password: Some("x".into()), ..Default::default() }];
        o.no_auth_user = Some("guest".into());
        let idx = AuthIndex::new(&o);
        assert_eq!(idx.authenticate(&connect("{}"), None).unwrap().user.as_deref(), Some("guest"));
        assert!(idx.authenticate(&connect(r#"{"user":"guest","pass":"y"}"#), None).is_none());
    }
}
