//! Who a connecting client is: its CONNECT credentials checked against the
//! configured users, tokens and nkeys, giving an [`Identity`] with the
//! permissions that apply to it.
//!
//! Plain secrets are compared in constant time. bcrypt hashes (`$2a$`, `$2b$`,
//! `$2y$`) cost milliseconds of CPU each, so callers run [`AuthIndex::authenticate`]
//! off the async workers when [`AuthIndex::needs_blocking`] says so.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use base64::Engine;
use subtle::ConstantTimeEq;

use super::info::ConnectOpts;
use super::last_reload::Effect;
use super::permissions::{rules_key, CompiledPermissions};
use crate::options::{Options, Permissions};
use crate::secret::Secret;

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A CONNECT string member, if it has a value: absent, `null` and `""` are
/// all Go's zero string.
pub fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// [`given`] for a secret: its text, to compare, when it is set and not empty.
pub fn given_secret(v: &Option<Secret>) -> Option<&str> {
    v.as_ref().map(Secret::expose).filter(|s| !s.is_empty())
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
    /// Admitted by its TLS client certificate (`verify_and_map`).
    via_cert: bool,
    /// `user` is an nkey.
    nkey_user: bool,
    /// The account the user is in; `None` for `$G`.
    pub account: Option<Arc<str>>,
    /// A user JWT's login (operator mode): names, limits and expiry.
    pub jwt: Option<Arc<crate::server::operator::user::JwtUser>>,
}

/// Never prints the secret.
impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("user", &self.user)
            .field("account", &self.account)
            .field("has_permissions", &self.permissions.is_some())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A user JWT's login (operator mode).
    pub fn jwt_user(
        user: String,
        account: Arc<str>,
        permissions: Option<Arc<CompiledPermissions>>,
        jwt: Arc<crate::server::operator::user::JwtUser>,
    ) -> Identity {
        Identity { user: Some(user), permissions, account: Some(account), jwt: Some(jwt), ..Identity::default() }
    }

    /// nats-server writes the `no_auth_user`'s name and password into the
    /// client's CONNECT options when it admits a client as that user, so a
    /// later CONNECT is merged over them. This does the same to `c`.
    pub fn fill_no_auth_credentials(&self, c: &mut ConnectOpts) {
        if self.via_no_auth_user && !self.nkey_user {
            c.user = self.user.clone();
            c.pass = self.secret.as_deref().map(Secret::from);
        } else if self.via_no_auth_user {
            c.nkey = self.user.clone();
        }
    }
}

/// What a configuration compiled into `auth` would do to a client
/// authenticated as `identity`, as its session's re-check then does it
/// (`session/client/revalidate.rs`); `max_payload_changes` says whether its
/// account's effective `max_payload` would change. The second value is true
/// when the credentials would be checked again, which a prediction does not
/// do (bcrypt, a changed secret): such a client may still be closed.
pub fn predict(auth: &AuthIndex, identity: &Identity, max_payload_changes: bool) -> (Effect, bool) {
    let changed = |now: Option<&Arc<CompiledPermissions>>| match (identity.permissions.as_ref(), now) {
        (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
        (None, None) => false,
        _ => true,
    };
    let effect = match auth.revalidate(identity) {
        Revalidation::Valid(now) if !changed(now) && !max_payload_changes => Effect::Unchanged,
        Revalidation::Anonymous if !changed(None) && !max_payload_changes => Effect::Unchanged,
        Revalidation::Valid(_) | Revalidation::Anonymous => Effect::Rechecked,
        Revalidation::Removed => Effect::Closed,
        Revalidation::Recheck => return (Effect::Rechecked, true),
    };
    (effect, false)
}

/// What a new configuration means for an authenticated client.
pub enum Revalidation<'a> {
    /// Still authenticated as the same identity, with these (possibly new)
    /// permissions. Borrowed: most clients keep theirs, and comparing the
    /// pointers costs nothing where cloning them would touch every one.
    Valid(Option<&'a Arc<CompiledPermissions>>),
    /// Authentication is no longer required: the client goes on without an
    /// identity.
    Anonymous,
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
    /// May connect over the connection type the index is for
    /// (`allowed_connection_types` empty, or naming it).
    type_allowed: bool,
    /// The account the user is in; `None` for `$G`.
    account: Option<Arc<str>>,
}

/// One nkey user.
struct NkeyEntry {
    permissions: Option<Arc<CompiledPermissions>>,
    type_allowed: bool,
    account: Option<Arc<str>>,
}

/// The kinds of client connection an index authenticates, as
/// `allowed_connection_types` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnType {
    /// A NATS client on the client port (`STANDARD`).
    Standard,
    /// A client on the websocket port (`WEBSOCKET`).
    Websocket,
}

impl ConnType {
    pub fn name(self) -> &'static str {
        match self {
            ConnType::Standard => "STANDARD",
            ConnType::Websocket => "WEBSOCKET",
        }
    }
}

/// Whether `allowed_connection_types` lets a user in over `conn_type`: no
/// list means any type.
fn allows_type(types: &[String], conn_type: ConnType) -> bool {
    types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(conn_type.name()))
}

/// The hasher of the credential index: keys come from the config file, and
/// a reload of 10 000 users hashes every name and permission set, where
/// SipHash costs several times more.
type Fold = foldhash::fast::RandomState;

/// A compiled permission set, found in a set by the rules it was compiled
/// from (hashed and compared by their [`rules_key`], never by the compiled
/// form).
struct SharedPermissions(Arc<CompiledPermissions>);

impl Borrow<[u8]> for SharedPermissions {
    fn borrow(&self) -> &[u8] {
        &self.0.key
    }
}

impl Hash for SharedPermissions {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.key[..].hash(state)
    }
}

impl PartialEq for SharedPermissions {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}

impl Eq for SharedPermissions {}

/// The configured credentials, compiled once per configuration.
#[derive(Default)]
pub struct AuthIndex {
    token: Option<Arc<str>>,
    single: Option<(String, Option<Arc<str>>)>,
    users: HashMap<Arc<str>, UserEntry, Fold>,
    /// User names (and nkeys) in config order: `verify_and_map` takes the
    /// first one a client certificate names.
    order: Vec<Arc<str>>,
    nkeys: HashMap<Arc<str>, NkeyEntry, Fold>,
    no_auth_user: Option<String>,
    /// `verify_and_map`: users are meant to prove who they are with a client
    /// certificate, so one without a password cannot log in by name alone.
    tls_map: bool,
    /// Every distinct permission set, compiled once. Users that share a
    /// permission block share the compiled rules, and the next compile
    /// reuses them, so a reload of 10 000 users compiles only what changed
    /// and a client whose rules are unchanged keeps the very same `Arc`.
    compiled: HashSet<SharedPermissions, Fold>,
    /// Operator mode: every client logs in with a user JWT (checked by
    /// `server::operator::login`, not here) and signs the nonce.
    operator_mode: bool,
}

impl AuthIndex {
    pub fn new(opts: &Options) -> AuthIndex {
        AuthIndex::compile(opts, None)
    }

    /// Compiles `opts`, reusing what `previous` compiled: permission sets
    /// (by their rules), user names and passwords (shared, not copied), so
    /// a reload allocates only for what changed, and dropping the previous
    /// index frees little.
    pub fn compile(opts: &Options, previous: Option<&AuthIndex>) -> AuthIndex {
        AuthIndex::compile_for(opts, previous, ConnType::Standard)
    }

    /// [`AuthIndex::compile`] for clients of `conn_type`: websocket clients
    /// are checked against the `websocket` block's own user, token and
    /// `no_auth_user` when it has any (nats-server's `authOverride`), and
    /// against its TLS block for `verify_and_map`.
    // The set's keys hash and compare by their rules key alone, which never
    // changes; the interior mutability clippy sees is the compiled
    // sublists' locks.
    #[allow(clippy::mutable_key_type)]
    pub fn compile_for(opts: &Options, previous: Option<&AuthIndex>, conn_type: ConnType) -> AuthIndex {
        let a = &opts.authorization;
        let ws = opts.websocket.as_ref().filter(|_| conn_type == ConnType::Websocket);
        let ws_override = ws.filter(|w| w.auth_override());
        let ws_auth = ws_override.and_then(|w| w.authorization.as_ref());
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let n = a.users.len();
        let mut compiled: HashSet<SharedPermissions, Fold> = HashSet::with_capacity_and_hasher(n, Fold::default());
        let mut key = Vec::new();
        let mut compile_one = |p: &Permissions| -> Arc<CompiledPermissions> {
            key.clear();
            rules_key(p, &mut key);
            if let Some(c) = compiled.get(&key[..]) {
                return c.0.clone();
            }
            let c = match previous.and_then(|prev| prev.compiled.get(&key[..])) {
                Some(c) => c.0.clone(),
                None => Arc::new(CompiledPermissions::new(p)),
            };
            compiled.insert(SharedPermissions(c.clone()));
            c
        };
        // Users of `authorization` (in `$G`, with its default permissions)
        // and of each account (with the account's).
        let mut groups = vec![(None, a.default_permissions.as_ref().map(&mut compile_one), &a.users)];
        for acc in &opts.accounts {
            let default = acc.default_permissions.as_ref().map(&mut compile_one);
            groups.push((Some(Arc::<str>::from(acc.name.as_str())), default, &acc.users));
        }
        let n = groups.iter().map(|g| g.2.len()).sum();
        // Names and secrets are shared with the previous index where their
        // text is the same.
        let share = |text: &str, prev: Option<&Arc<str>>| -> Arc<str> {
            prev.filter(|p| ***p == *text).map_or_else(|| Arc::from(text), Arc::clone)
        };
        let prev_nkey = |nkey: &str| previous.and_then(|prev| prev.nkeys.get_key_value(nkey)).map(|(k, _)| k);
        let (token, single, no_auth_user) = match ws_override {
            Some(w) => (
                ws_auth.and_then(|a| a.token.clone().filter(|t| !t.is_empty())),
                ws_auth.and_then(|a| nonempty(&a.user).map(|u| (u, a.password.clone()))),
                nonempty(&w.no_auth_user),
            ),
            None => (a.token.clone(), a.user.clone().map(|u| (u, a.password.clone())), opts.no_auth_user.clone()),
        };
        let tls = match ws {
            Some(w) => w.tls.as_ref(),
            None => opts.tls.as_ref(),
        };
        let mut index = AuthIndex {
            token: token.as_ref().map(|t| Arc::from(t.expose())),
            single: single.map(|(u, p)| (u, p.as_ref().map(|p| Arc::from(p.expose())))),
            no_auth_user,
            tls_map: tls.is_some_and(|t| t.verify_and_map),
            operator_mode: opts.operator.is_on(),
            users: HashMap::with_capacity_and_hasher(n, Fold::default()),
            order: Vec::with_capacity(n),
            ..AuthIndex::default()
        };
        for (account, default, users) in groups {
            for u in users {
                let permissions = match &u.permissions {
                    Some(p) => Some(compile_one(p)),
                    None => default.clone(),
                };
                match (&u.nkey, &u.user) {
                    (Some(nkey), user) => {
                        let key = share(nkey, prev_nkey(nkey));
                        // `verify_and_map` goes by the user name when there is one.
                        index.order.push(user.as_deref().map_or_else(|| key.clone(), Arc::from));
                        let entry = NkeyEntry {
                            permissions,
                            type_allowed: allows_type(&u.allowed_connection_types, conn_type),
                            account: account.clone(),
                        };
                        index.nkeys.insert(key, entry);
                    }
                    (None, Some(name)) => {
                        let prev = previous.and_then(|prev| prev.users.get_key_value(name.as_str()));
                        let key = share(name, prev.map(|(k, _)| k));
                        index.order.push(key.clone());
                        let prev_password = prev.and_then(|(_, e)| e.password.as_ref());
                        let entry = UserEntry {
                            password: u.password.as_ref().map(|p| share(p.expose(), prev_password)),
                            permissions,
                            type_allowed: allows_type(&u.allowed_connection_types, conn_type),
                            account: account.clone(),
                        };
                        index.users.insert(key, entry);
                    }
                    (None, None) => {}
                }
            }
        }
        index.compiled = compiled;
        index
    }

    /// Whether a client authenticated as `identity` under an earlier
    /// configuration still is under this one.
    pub fn revalidate(&self, identity: &Identity) -> Revalidation<'_> {
        if !self.required() {
            return Revalidation::Anonymous;
        }
        let Some(user) = identity.user.as_deref() else {
            // A token client (which has no permissions of its own), or one
            // that connected without credentials while none were required.
            return match (&identity.secret, &self.token) {
                (Some(had), Some(now)) if had == now => Revalidation::Valid(None),
                _ => Revalidation::Recheck,
            };
        };
        if let Some(entry) = self.nkeys.get(user) {
            // A user moved to another account is closed, as nats-server does.
            return match entry.type_allowed && entry.account == identity.account {
                true => Revalidation::Valid(entry.permissions.as_ref()),
                false => Revalidation::Removed,
            };
        }
        if let Some(entry) = self.users.get(user) {
            if !entry.type_allowed || entry.account != identity.account {
                return Revalidation::Removed;
            }
            if identity.via_cert {
                // The certificate still names this user: no secret to compare.
                return Revalidation::Valid(entry.permissions.as_ref());
            }
            let same_secret = match (&identity.secret, &entry.password) {
                (Some(had), Some(now)) => had == now,
                (None, None) => true,
                _ => false,
            };
            let same_entry =
                if identity.via_no_auth_user { self.no_auth_user.as_deref() == Some(user) } else { same_secret };
            return match same_entry {
                true => Revalidation::Valid(entry.permissions.as_ref()),
                false => Revalidation::Recheck,
            };
        }
        if let Some((single, pass)) = &self.single {
            if single == user && identity.secret.as_ref() == pass.as_ref() {
                return Revalidation::Valid(None);
            }
            return Revalidation::Recheck;
        }
        Revalidation::Removed
    }

    /// The configured users in config order, for `verify_and_map`.
    pub fn cert_candidates(&self) -> Vec<Option<&str>> {
        self.order.iter().map(|n| Some(&**n)).collect()
    }

    /// The identity of the user at `index` of [`AuthIndex::cert_candidates`],
    /// proven by a client certificate rather than a secret.
    pub fn cert_identity(&self, index: usize) -> Option<Identity> {
        let name = self.order.get(index)?;
        let (permissions, nkey_user, account) = match (self.users.get(&**name), self.nkeys.get(&**name)) {
            (Some(e), _) if e.type_allowed => (e.permissions.clone(), false, e.account.clone()),
            (None, Some(e)) if e.type_allowed => (e.permissions.clone(), true, e.account.clone()),
            _ => return None,
        };
        Some(Identity {
            user: Some(name.to_string()),
            permissions,
            secret: None,
            via_no_auth_user: false,
            via_cert: true,
            jwt: None,
            nkey_user,
            account,
        })
    }

    /// Whether `user` names a configured user or nkey.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
            || self.nkeys.contains_key(user)
            || self.single.as_ref().is_some_and(|(u, _)| u == user)
    }

    pub fn required(&self) -> bool {
        self.operator_mode
            || self.token.is_some()
            || self.single.is_some()
            || !self.users.is_empty()
            || !self.nkeys.is_empty()
    }

    /// nkey users sign a server nonce, which INFO then has to carry.
    pub fn needs_nonce(&self) -> bool {
        self.operator_mode || !self.nkeys.is_empty()
    }

    /// Clients log in with user JWTs (operator mode).
    pub fn operator_mode(&self) -> bool {
        self.operator_mode
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

    /// Whether `no_auth_user` names a user an op sent before CONNECT may
    /// run as (nats-server looks among the users, not the nkeys).
    pub fn no_auth_user_serves_ops(&self) -> bool {
        self.no_auth_user.as_deref().and_then(|n| self.users.get(n)).is_some_and(|e| e.type_allowed)
    }

    /// Checks `c` (and, for nkeys, its signature of `nonce`) in nats-server's
    /// order: nkeys, then users, then the token, then the single user. An
    /// empty string counts as no value, as Go's zero string does; a CONNECT
    /// without user, password and token is admitted as `no_auth_user` when
    /// one is set (an nkey, jwt or sig alone does not stop it unless nkey
    /// users exist).
    pub fn authenticate(&self, c: &ConnectOpts, nonce: Option<&str>) -> Option<Identity> {
        if !self.required() {
            return Some(Identity::default());
        }
        let (user, pass, token) = (given(&c.user), given_secret(&c.pass), given_secret(&c.auth_token));
        let no_credentials = user.is_none() && pass.is_none() && token.is_none();
        let no_auth_user = self.no_auth_user.as_deref().filter(|_| no_credentials);
        if !self.nkeys.is_empty() {
            let stand_in = no_auth_user.filter(|n| given(&c.nkey).is_none() && self.nkeys.contains_key(*n));
            if let Some(nkey) = stand_in.or(given(&c.nkey)) {
                let entry = self.nkeys.get(nkey)?;
                if !entry.type_allowed {
                    return None;
                }
                let identity = Identity {
                    user: Some(nkey.to_string()),
                    account: entry.account.clone(),
                    permissions: entry.permissions.clone(),
                    secret: None,
                    via_no_auth_user: stand_in.is_some(),
                    nkey_user: true,
                    via_cert: false,
                    jwt: None,
                };
                if stand_in.is_some() {
                    return Some(identity);
                }
                let (sig, nonce) = (given(&c.sig)?, nonce?);
                return verify_nkey(nkey, nonce, sig).then_some(identity);
            }
        }
        if !self.users.is_empty() {
            if let Some(name) = no_auth_user.filter(|n| self.users.contains_key(*n)) {
                // nats-server then compares the user's password with itself,
                // which fails for a bcrypt hash; rnats admits the user (see
                // README, "Where rnats differs").
                let entry = self.users.get(name).filter(|e| e.type_allowed)?;
                return Some(Identity {
                    user: Some(name.to_string()),
                    account: entry.account.clone(),
                    permissions: entry.permissions.clone(),
                    secret: entry.password.clone(),
                    via_no_auth_user: true,
                    nkey_user: false,
                    via_cert: false,
                    jwt: None,
                });
            }
            if let Some(name) = user {
                let entry = self.users.get(name).filter(|e| e.type_allowed)?;
                if entry.password.is_none() && self.tls_map {
                    // A certificate-only identity.
                    return None;
                }
                let ok = password_matches(entry.password.as_deref().unwrap_or(""), pass.unwrap_or(""));
                return ok.then(|| Identity {
                    user: Some(name.to_string()),
                    account: entry.account.clone(),
                    permissions: entry.permissions.clone(),
                    secret: entry.password.clone(),
                    via_no_auth_user: false,
                    nkey_user: false,
                    via_cert: false,
                    jwt: None,
                });
            }
        }
        if let Some(configured) = &self.token {
            return password_matches(configured, token.unwrap_or(""))
                .then(|| Identity { secret: Some(configured.clone()), ..Identity::default() });
        }
        if let Some((name, password)) = &self.single {
            let user_ok = ct_eq(user.unwrap_or(""), name);
            let pass_ok = password_matches(password.as_deref().unwrap_or(""), pass.unwrap_or(""));
            return (user_ok & pass_ok).then(|| Identity {
                user: Some(name.clone()),
                secret: password.clone(),
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
            User {
                user: Some("b".into()),
                password: Some(bcrypt::hash("pw-b", 4).unwrap().into()),
                ..Default::default()
            },
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
        // Empty strings are no credentials; an nkey, jwt or sig alone does
        // not count without nkey users.
        for none in [r#"{"user":""}"#, r#"{"user":"","pass":null,"auth_token":""}"#, r#"{"nkey":"UX","sig":"x"}"#] {
            assert_eq!(idx.authenticate(&connect(none), None).unwrap().user.as_deref(), Some("guest"), "{none}");
        }
        assert!(idx.authenticate(&connect(r#"{"pass":"x"}"#), None).is_none(), "a password alone");
        // The CONNECT options then carry the user's name and password, as
        // nats-server's do, for a later CONNECT to merge into.
        let mut c = connect("{}");
        idx.authenticate(&c, None).unwrap().fill_no_auth_credentials(&mut c);
        assert_eq!((c.user.as_deref(), c.pass.as_ref().map(|p| p.expose())), (Some("guest"), Some("x")));
        assert!(idx.authenticate(&c, None).is_some());
    }

    #[test]
    fn a_recompile_shares_what_did_not_change() {
        let rules = |subject: &str| Permissions {
            publish: Some(crate::options::SubjectPermission { allow: vec![subject.into()], deny: vec![] }),
            ..Default::default()
        };
        let user = |name: &str, pass: &str, subject: &str| User {
            user: Some(name.into()),
            password: Some(pass.into()),
            permissions: Some(rules(subject)),
            ..Default::default()
        };
        let mut o = Options::default();
        o.authorization.users = vec![user("a", "pa", "a.>"), user("b", "pb", "b.>"), user("c", "pc", "a.>")];
        let old = AuthIndex::new(&o);
        let perms = |idx: &AuthIndex, name: &str| idx.users[name].permissions.clone().unwrap();
        assert!(Arc::ptr_eq(&perms(&old, "a"), &perms(&old, "c")), "equal rules are compiled once");
        let login = |name: &str, pass: &str| {
            old.authenticate(&connect(&format!(r#"{{"user":"{name}","pass":"{pass}"}}"#)), None).unwrap()
        };
        let (a, b, c) = (login("a", "pa"), login("b", "pb"), login("c", "pc"));

        let mut n = o.clone();
        n.authorization.users[1].permissions = Some(rules("b2.>"));
        n.authorization.users[2].password = Some("pc2".into());
        let new = AuthIndex::compile(&n, Some(&old));
        assert!(Arc::ptr_eq(&perms(&new, "a"), &perms(&old, "a")), "unchanged rules keep their Arc");
        assert!(!Arc::ptr_eq(&perms(&new, "b"), &perms(&old, "b")));
        assert!(Arc::ptr_eq(new.users["a"].password.as_ref().unwrap(), old.users["a"].password.as_ref().unwrap()));
        match new.revalidate(&a) {
            Revalidation::Valid(Some(p)) => assert!(Arc::ptr_eq(p, a.permissions.as_ref().unwrap())),
            _ => panic!("a keeps its identity and rules"),
        }
        match new.revalidate(&b) {
            Revalidation::Valid(Some(p)) => assert!(p.publish.allows(b"b2.x") && !p.publish.allows(b"b.x")),
            _ => panic!("b keeps its identity with new rules"),
        }
        assert!(matches!(new.revalidate(&c), Revalidation::Recheck), "c's password changed");

        let mut gone = o.clone();
        gone.authorization.users.remove(1);
        assert!(matches!(AuthIndex::compile(&gone, Some(&new)).revalidate(&b), Revalidation::Removed));
        assert!(matches!(AuthIndex::compile(&Options::default(), Some(&new)).revalidate(&a), Revalidation::Anonymous));
    }

    #[test]
    fn no_auth_user_with_a_bcrypt_password() {
        let mut o = Options::default();
        o.authorization.users = vec![User {
            user: Some("g".into()),
            password: Some(bcrypt::hash("pw", 4).unwrap().into()),
            ..Default::default()
        }];
        o.no_auth_user = Some("g".into());
        let idx = AuthIndex::new(&o);
        assert!(!idx.needs_blocking(&connect("{}")), "no password to check");
        assert_eq!(idx.authenticate(&connect("{}"), None).unwrap().user.as_deref(), Some("g"));
    }
}
