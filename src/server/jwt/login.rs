//! A user's login with a JWT, checked as the reference's
//! `processClientOrLeafAuthentication` does, in its order, so that the same
//! case gives the same debug line. Pure: the server supplies the decoded
//! account (from its resolver), the trusted operators, the nonce and what
//! it knows of the connection.
//!
//! 1. [`check_user_jwt`]: the CONNECT `jwt` (or the default sentinel)
//!    decoded and validated (times included).
//! 2. The server looks up [`UserClaims::account`] (pinned accounts, the
//!    resolver: `Account JWT lookup error: ...`) and checks what the
//!    resolver returned with [`verify_account_jwt`].
//! 3. [`authorize`]: trust, issuer and scope, account expiry, bearer,
//!    connection type, nonce signature, revocation, `src`, `times`.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;

use super::codec::go_quote_list;
use super::restrict::{
    allowed_connection_types, expires_in, validate_src, validate_times_at, verify_nonce_signature, SignatureError,
};
use super::template::{self, AccountInfo, TemplateError};
use super::{
    decode_account, decode_user, AccountClaims, Claim, ConnectionType, JwtError, OperatorClaims, UserClaims,
    UserPermissionLimits, ValidationResults,
};
use crate::server::errors::go_quote;

/// The keys accounts must be issued by: `trusted_keys`, or each operator's
/// key (unless it uses strict signing keys) and signing keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    keys: Vec<String>,
    /// Signing keys of operators with `strict_signing_key_usage`: accounts
    /// they issue may not issue users with their own key.
    strict_signing_keys: HashSet<String>,
}

impl Trust {
    /// The reference's `validateTrustedOperators` + `processTrustedKeys`.
    pub fn from_operators(operators: &[OperatorClaims]) -> Trust {
        let mut trust = Trust::default();
        for op in operators {
            if !op.nats.strict_signing_key_usage {
                trust.keys.push(op.data.subject.clone());
            }
            trust.keys.extend(op.nats.signing_keys.iter().cloned());
            if op.nats.strict_signing_key_usage {
                trust.strict_signing_keys.extend(op.nats.signing_keys.iter().cloned());
            }
        }
        trust
    }

    /// `trusted_keys` given directly.
    pub fn from_keys(keys: Vec<String>) -> Trust {
        Trust { keys, strict_signing_keys: HashSet::new() }
    }

    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// May an account issued by `issuer` be used?
    pub fn is_trusted(&self, issuer: &str) -> bool {
        self.keys.iter().any(|k| k == issuer)
    }

    /// True if an account issued by `account_issuer` must not issue users
    /// with its own key (only with its signing keys).
    pub fn is_strict(&self, account_issuer: &str) -> bool {
        self.strict_signing_keys.contains(account_issuer)
    }
}

/// Why a login was refused. Every refusal is `-ERR 'Authorization
/// Violation'` on the wire; [`Refusal::log_line`] is the reference's line.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// No `jwt` in CONNECT, or one that does not decode as a user JWT.
    JwtRequired,
    /// The default sentinel did not decode.
    JwtInvalid(JwtError),
    /// The JWT wants a trusted proxy and the connection did not come from one.
    ProxyRequired,
    /// Validation failed (expired, not yet valid, bad subjects or CIDRs).
    JwtNoLongerValid(ValidationResults),
    /// The account is not among `resolver_pinned_accounts`.
    AccountNotPinned(String),
    /// The resolver could not supply the account (its error text).
    AccountLookup(String),
    AccountNotTrusted,
    IssuerUnknown,
    /// A scoped signing key's user broke the scope's rules.
    ScopedUserInvalid(&'static str),
    /// The scope's template produced an invalid deny subject (or too many).
    TemplateInvalid(TemplateError),
    AccountExpired,
    BearerNotAllowed,
    /// `allowed_connection_types` named only unknown types.
    UnknownConnectionTypes(String),
    ConnectionTypeNotAllowed,
    Signature(SignatureError),
    Revoked,
    /// The client's address is in none of the `src` networks.
    BadSource(String),
    OutsideConnectTimes,
}

impl Refusal {
    /// The reference's log line (after the client prefix).
    pub fn log_line(&self) -> String {
        match self {
            Refusal::JwtRequired => "Authentication requires a user JWT".into(),
            Refusal::JwtInvalid(e) => format!("User JWT not valid: {e}"),
            Refusal::ProxyRequired => "proxy connection required".into(),
            Refusal::JwtNoLongerValid(vr) => format!("User JWT no longer valid: {vr}"),
            Refusal::AccountNotPinned(a) => format!("Account {a} not listed as operator pinned account"),
            Refusal::AccountLookup(e) => format!("Account JWT lookup error: {e}"),
            Refusal::AccountNotTrusted => "Account JWT not signed by trusted operator".into(),
            Refusal::IssuerUnknown => "User JWT issuer is not known".into(),
            Refusal::ScopedUserInvalid(e) => format!("User JWT is not valid: {e}"),
            Refusal::TemplateInvalid(_) => "User JWT generated invalid permissions".into(),
            Refusal::AccountExpired => "Account JWT has expired".into(),
            Refusal::BearerNotAllowed => "Account does not allow bearer tokens".into(),
            Refusal::UnknownConnectionTypes(e) => e.clone(),
            Refusal::ConnectionTypeNotAllowed => "Connection type not allowed".into(),
            Refusal::Signature(e) => e.to_string(),
            Refusal::Revoked => "User authentication revoked".into(),
            Refusal::BadSource(ip) => format!("Bad src Ip {ip}"),
            Refusal::OutsideConnectTimes => "Outside connect times".into(),
        }
    }

    /// The reference logs these at error level; the rest at debug level.
    pub fn is_error_level(&self) -> bool {
        matches!(self, Refusal::BadSource(_) | Refusal::OutsideConnectTimes)
    }
}

/// Step 1: the user JWT from CONNECT (or the configured default sentinel
/// when CONNECT has none that decodes), decoded and validated at `now`.
pub fn check_user_jwt(
    jwt: Option<&str>,
    default_sentinel: Option<&str>,
    trusted_proxy: bool,
    now: Timestamp,
) -> Result<UserClaims, Refusal> {
    let user = match jwt.map(decode_user) {
        Some(Ok(user)) => user,
        _ => match default_sentinel.filter(|s| !s.is_empty()) {
            Some(sentinel) => decode_user(sentinel).map_err(Refusal::JwtInvalid)?,
            None => return Err(Refusal::JwtRequired),
        },
    };
    if user.nats.permission_limits.proxy_required && !trusted_proxy {
        return Err(Refusal::ProxyRequired);
    }
    let vr = user.validate(now);
    if vr.is_blocking(true) {
        return Err(Refusal::JwtNoLongerValid(vr));
    }
    Ok(user)
}

/// Why an account JWT from the resolver cannot be used (the text follows
/// `Account JWT lookup error: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountJwtError {
    #[error(transparent)]
    Decode(#[from] JwtError),
    /// Not issued by a trusted key, not valid now, or not the account asked for.
    #[error("account validation failed")]
    Validation,
}

/// Step 2, after the resolver returned `jwt` for `account_key`: the
/// reference's `verifyAccountClaims` and the subject check of
/// `fetchAccountClaims`.
pub fn verify_account_jwt(
    jwt: &str,
    account_key: &str,
    trust: &Trust,
    now: Timestamp,
) -> Result<AccountClaims, AccountJwtError> {
    let account = decode_account(jwt)?;
    if !trust.is_trusted(&account.data.issuer) || account.validate(now).is_blocking(true) {
        return Err(AccountJwtError::Validation);
    }
    if account.data.subject != account_key {
        return Err(AccountJwtError::Validation);
    }
    Ok(account)
}

/// What step 3 needs besides the user.
#[derive(Debug, Clone, Copy)]
pub struct Connection<'a> {
    pub kind: ConnectionType,
    /// The nonce sent in INFO.
    pub nonce: &'a [u8],
    /// CONNECT's `sig`.
    pub signature: Option<&'a str>,
    /// The client's address (`None` when unknown, which fails a `src` list).
    pub ip: Option<IpAddr>,
    pub now: Timestamp,
}

/// An accepted login.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The user's public key (the JWT's subject).
    pub user_key: String,
    pub account_key: String,
    /// The signing key that issued the user, when not the account itself.
    pub signing_key: Option<String>,
    /// What applies to the connection: the user's own, or the scope's
    /// template expanded. When `permissions` is not
    /// [specified](super::Permissions::is_specified), the account's default
    /// permissions apply.
    pub permission_limits: UserPermissionLimits,
    /// Empty: any type.
    pub connection_types: BTreeSet<ConnectionType>,
    /// When the connection must be closed (`exp`, or the connect window's end).
    pub expires_in: Option<Duration>,
    /// Debug lines the reference logs on the way (unknown connection types).
    pub notes: Vec<String>,
}

/// Step 3: the checks after the account lookup, in the reference's order.
pub fn authorize(
    user: &UserClaims,
    account: &AccountClaims,
    trust: &Trust,
    conn: &Connection<'_>,
) -> Result<Grant, Refusal> {
    if !trust.is_trusted(&account.data.issuer) {
        return Err(Refusal::AccountNotTrusted);
    }
    let strict = trust.is_strict(&account.data.issuer);
    let Some(scope) = account.issuer_scope(&user.data.issuer, strict) else {
        return Err(Refusal::IssuerUnknown);
    };
    let permission_limits = match scope {
        None => user.nats.permission_limits.clone(),
        Some(scope) => {
            scope.validate_scoped_signer(user).map_err(Refusal::ScopedUserInvalid)?;
            let info = AccountInfo { name: &account.data.name, tags: account.tags() };
            template::apply(&scope.template, user, info).map_err(Refusal::TemplateInvalid)?
        }
    };
    if account.is_expired_at(conn.now) {
        return Err(Refusal::AccountExpired);
    }
    if permission_limits.bearer_token && account.nats.limits.account.disallow_bearer {
        return Err(Refusal::BearerNotAllowed);
    }
    let mut notes = Vec::new();
    let (connection_types, unknown) = allowed_connection_types(&permission_limits.allowed_connection_types);
    if let Some(unknown) = unknown {
        if connection_types.is_empty() {
            return Err(Refusal::UnknownConnectionTypes(unknown));
        }
        notes.push(unknown);
    }
    if !connection_types.is_empty() && !connection_types.contains(&conn.kind) {
        return Err(Refusal::ConnectionTypeNotAllowed);
    }
    if !permission_limits.bearer_token {
        verify_nonce_signature(&user.data.subject, conn.nonce, conn.signature).map_err(Refusal::Signature)?;
    }
    if account.is_user_revoked(&user.data.subject, user.data.issued_at) {
        return Err(Refusal::Revoked);
    }
    let mut effective = user.clone();
    effective.nats.permission_limits = permission_limits;
    if !validate_src(&effective, conn.ip) {
        return Err(Refusal::BadSource(conn.ip.map(|ip| ip.to_string()).unwrap_or_default()));
    }
    let (allowed, valid_for) = validate_times_at(&effective, conn.now);
    if !allowed {
        return Err(Refusal::OutsideConnectTimes);
    }
    let signing_key = (!user.nats.issuer_account.is_empty()).then(|| user.data.issuer.clone());
    Ok(Grant {
        user_key: user.data.subject.clone(),
        account_key: account.data.subject.clone(),
        signing_key,
        permission_limits: effective.nats.permission_limits,
        connection_types,
        expires_in: expires_in(&user.data, valid_for, conn.now),
        notes,
    })
}

/// The reference's debug line on success, with the account's name where
/// it prints a Go pointer (`accused 0x...`). `kind` is `Client` or `Leafnode`.
pub fn authenticated_line(kind: &str, user: &UserClaims, account: &AccountClaims) -> String {
    format!(
        "Authenticated JWT: {kind} {} (claim-name: {}, claim-tags: {}) signed with {} by Account {} \
         (claim-name: {}, claim-tags: {}) signed with {} has mappings {} accused {}",
        go_quote(&user.data.subject),
        go_quote(&user.data.name),
        go_quote_list(user.tags()),
        go_quote(&user.data.issuer),
        go_quote(user.account()),
        go_quote(&account.data.name),
        go_quote_list(account.tags()),
        go_quote(&account.data.issuer),
        !account.nats.mappings.is_empty(),
        account.data.name,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::jwt::codec::b64url_encode;
    use crate::server::jwt::{CidrList, TimeRange, UserScope, ALL};
    use nkeys::KeyPair;

    struct World {
        operator: KeyPair,
        account: KeyPair,
        signer: KeyPair,
        scoped: KeyPair,
        account_claims: AccountClaims,
    }

    const NONCE: &[u8] = b"nonce-for-tests";

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn world() -> World {
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        let signer = KeyPair::new_account();
        let scoped = KeyPair::new_account();
        let mut a = AccountClaims::new(&account.public_key());
        a.data.name = "ACC".into();
        a.nats.signing_keys.add(&signer.public_key());
        let mut scope = UserScope::new(&scoped.public_key());
        scope.template.permissions.publish.allow = vec!["scoped.{{name()}}.>".into()];
        a.nats.signing_keys.add_scope(scope);
        a.encode_at(&operator, now().as_second() - 100).unwrap();
        World { operator, account, signer, scoped, account_claims: a }
    }

    impl World {
        fn trust(&self) -> Trust {
            Trust::from_keys(vec![self.operator.public_key()])
        }
    }

    fn login(w: &World, user: &UserClaims, key: &KeyPair, kind: ConnectionType) -> Result<Grant, Refusal> {
        let sig = b64url_encode(&key.sign(NONCE).unwrap());
        let conn = Connection {
            kind,
            nonce: NONCE,
            signature: Some(&sig),
            ip: Some("127.0.0.1".parse().unwrap()),
            now: now(),
        };
        authorize(user, &w.account_claims, &w.trust(), &conn)
    }

    fn user_by(
        issuer: &KeyPair,
        on_behalf_of: Option<&KeyPair>,
        edit: impl FnOnce(&mut UserClaims),
    ) -> (UserClaims, KeyPair) {
        let key = KeyPair::new_user();
        let mut u = UserClaims::new(&key.public_key());
        u.data.name = "alice".into();
        if let Some(acc) = on_behalf_of {
            u.nats.issuer_account = acc.public_key();
        }
        edit(&mut u);
        let token = u.encode_at(issuer, now().as_second() - 10).unwrap();
        (check_user_jwt(Some(&token), None, false, now()).unwrap(), key)
    }

    #[test]
    fn step_one_decodes_and_validates() {
        assert_eq!(check_user_jwt(None, None, false, now()), Err(Refusal::JwtRequired));
        assert_eq!(check_user_jwt(Some("garbage"), None, false, now()), Err(Refusal::JwtRequired));
        assert!(matches!(
            check_user_jwt(Some("garbage"), Some("also.garbage.x"), false, now()),
            Err(Refusal::JwtInvalid(_))
        ));
        let acc = KeyPair::new_account();
        let mut u = UserClaims::new(&KeyPair::new_user().public_key());
        u.data.expires = now().as_second() - 1;
        let expired = u.encode(&acc).unwrap();
        let refusal = check_user_jwt(Some(&expired), None, false, now()).unwrap_err();
        assert_eq!(refusal.log_line(), "User JWT no longer valid: &{Issues:[claim is expired]}");
        // A JWT that does not decode falls back to the sentinel; one that
        // decodes but is expired does not.
        let mut bearer = UserClaims::new(&KeyPair::new_user().public_key());
        bearer.nats.permission_limits.bearer_token = true;
        let sentinel = bearer.encode(&acc).unwrap();
        assert!(check_user_jwt(Some("garbage"), Some(&sentinel), false, now()).is_ok());
        assert!(matches!(
            check_user_jwt(Some(&expired), Some(&sentinel), false, now()),
            Err(Refusal::JwtNoLongerValid(_))
        ));
        let mut proxied = UserClaims::new(&KeyPair::new_user().public_key());
        proxied.nats.permission_limits.proxy_required = true;
        let proxied = proxied.encode(&acc).unwrap();
        assert_eq!(check_user_jwt(Some(&proxied), None, false, now()), Err(Refusal::ProxyRequired));
        assert!(check_user_jwt(Some(&proxied), None, true, now()).is_ok());
    }

    #[test]
    fn accepted_by_the_account_and_its_signing_keys() {
        let w = world();
        let (u, key) = user_by(&w.account, None, |_| {});
        let g = login(&w, &u, &key, ConnectionType::Standard).unwrap();
        assert_eq!(g.account_key, w.account.public_key());
        assert_eq!(g.signing_key, None);
        assert_eq!(g.expires_in, None);
        let (u, key) = user_by(&w.signer, Some(&w.account), |_| {});
        let g = login(&w, &u, &key, ConnectionType::Standard).unwrap();
        assert_eq!(g.signing_key, Some(w.signer.public_key()));
        assert!(authenticated_line("Client", &u, &w.account_claims).starts_with(&format!(
            "Authenticated JWT: Client \"{}\" (claim-name: \"alice\", claim-tags: []) signed with \"{}\" by Account \"{}\" \
             (claim-name: \"ACC\", claim-tags: []) signed with \"{}\" has mappings false accused ACC",
            u.data.subject,
            w.signer.public_key(),
            w.account.public_key(),
            w.operator.public_key()
        )));
    }

    #[test]
    fn refusals_in_the_reference_order() {
        let w = world();
        // Untrusted operator.
        let (u, key) = user_by(&w.account, None, |_| {});
        let other = Trust::from_keys(vec![KeyPair::new_operator().public_key()]);
        let sig = b64url_encode(&key.sign(NONCE).unwrap());
        let conn =
            Connection { kind: ConnectionType::Standard, nonce: NONCE, signature: Some(&sig), ip: None, now: now() };
        assert_eq!(authorize(&u, &w.account_claims, &other, &conn), Err(Refusal::AccountNotTrusted));
        // Unknown issuer.
        let stranger = KeyPair::new_account();
        let (u, key) = user_by(&stranger, Some(&w.account), |_| {});
        assert_eq!(login(&w, &u, &key, ConnectionType::Standard), Err(Refusal::IssuerUnknown));
        // A scoped user with its own permissions.
        let (u, key) = user_by(&w.scoped, Some(&w.account), |_| {});
        assert_eq!(
            login(&w, &u, &key, ConnectionType::Standard).unwrap_err().log_line(),
            "User JWT is not valid: scoped users require no permissions or limits set"
        );
        // Connection types.
        let (u, key) =
            user_by(&w.account, None, |u| u.nats.permission_limits.allowed_connection_types = vec!["WEBSOCKET".into()]);
        assert_eq!(login(&w, &u, &key, ConnectionType::Standard), Err(Refusal::ConnectionTypeNotAllowed));
        assert!(login(&w, &u, &key, ConnectionType::Websocket).is_ok());
        let (u, key) =
            user_by(&w.account, None, |u| u.nats.permission_limits.allowed_connection_types = vec!["QUIC".into()]);
        assert_eq!(
            login(&w, &u, &key, ConnectionType::Standard).unwrap_err().log_line(),
            "invalid connection types [\"QUIC\"]"
        );
        let (u, key) = user_by(&w.account, None, |u| {
            u.nats.permission_limits.allowed_connection_types = vec!["QUIC".into(), "STANDARD".into()]
        });
        assert_eq!(
            login(&w, &u, &key, ConnectionType::Standard).unwrap().notes,
            ["invalid connection types [\"QUIC\"]"]
        );
        // A signature by another key.
        let (u, _) = user_by(&w.account, None, |_| {});
        assert_eq!(
            login(&w, &u, &KeyPair::new_user(), ConnectionType::Standard),
            Err(Refusal::Signature(SignatureError::NotVerified))
        );
        // src and times, at error level.
        let (u, key) = user_by(&w.account, None, |u| {
            u.nats.permission_limits.limits.user.src = CidrList(vec!["10.0.0.0/8".into()])
        });
        let refusal = login(&w, &u, &key, ConnectionType::Standard).unwrap_err();
        assert_eq!((refusal.log_line(), refusal.is_error_level()), ("Bad src Ip 127.0.0.1".into(), true));
        let (u, key) = user_by(&w.account, None, |u| {
            u.nats.permission_limits.limits.user.times =
                vec![TimeRange { start: "00:00:00".into(), end: "00:00:01".into() }];
            u.nats.permission_limits.limits.user.locale = "UTC".into();
        });
        assert_eq!(login(&w, &u, &key, ConnectionType::Standard), Err(Refusal::OutsideConnectTimes));
    }

    #[test]
    fn scoped_users_get_the_template() {
        let w = world();
        let (u, key) = user_by(&w.scoped, Some(&w.account), |u| u.set_scoped(true));
        let g = login(&w, &u, &key, ConnectionType::Standard).unwrap();
        assert_eq!(g.permission_limits.permissions.publish.allow, ["scoped.alice.>"]);
        assert!(g.permission_limits.limits.nats.is_unlimited());
    }

    #[test]
    fn bearer_revocation_expiry() {
        let mut w = world();
        let (u, key) = user_by(&w.account, None, |u| u.nats.permission_limits.bearer_token = true);
        let conn = Connection { kind: ConnectionType::Standard, nonce: NONCE, signature: None, ip: None, now: now() };
        assert!(authorize(&u, &w.account_claims, &w.trust(), &conn).is_ok(), "no signature needed");
        w.account_claims.nats.limits.account.disallow_bearer = true;
        assert_eq!(login(&w, &u, &key, ConnectionType::Standard), Err(Refusal::BearerNotAllowed));
        // Revoked at or after its issue time.
        let (u, key) = user_by(&w.account, None, |_| {});
        w.account_claims.nats.revocations.revoke(&u.data.subject, u.data.issued_at);
        assert_eq!(login(&w, &u, &key, ConnectionType::Standard), Err(Refusal::Revoked));
        let (u, key) = user_by(&w.account, None, |_| {});
        w.account_claims.nats.revocations.revoke(ALL, u.data.issued_at - 1);
        assert!(login(&w, &u, &key, ConnectionType::Standard).is_ok());
        // Expiry: exp in 30 s.
        let (u, key) = user_by(&w.account, None, |u| u.data.expires = now().as_second() + 30);
        assert_eq!(login(&w, &u, &key, ConnectionType::Standard).unwrap().expires_in, Some(Duration::from_secs(30)));
        // An expired account.
        w.account_claims.data.expires = now().as_second();
        assert_eq!(login(&w, &u, &key, ConnectionType::Standard), Err(Refusal::AccountExpired));
    }

    #[test]
    fn account_jwts_from_the_resolver() {
        let w = world();
        let key = w.account.public_key();
        let mut a = AccountClaims::new(&key);
        let good = a.encode(&w.operator).unwrap();
        assert!(verify_account_jwt(&good, &key, &w.trust(), now()).is_ok());
        let other = KeyPair::new_account().public_key();
        assert_eq!(verify_account_jwt(&good, &other, &w.trust(), now()), Err(AccountJwtError::Validation));
        let untrusted = a.encode(&KeyPair::new_operator()).unwrap();
        assert_eq!(
            verify_account_jwt(&untrusted, &key, &w.trust(), now()).unwrap_err().to_string(),
            "account validation failed"
        );
        a.data.expires = now().as_second() - 1;
        let expired = a.encode(&w.operator).unwrap();
        assert_eq!(verify_account_jwt(&expired, &key, &w.trust(), now()), Err(AccountJwtError::Validation));
        assert_eq!(verify_account_jwt("a.b", &key, &w.trust(), now()).unwrap_err().to_string(), "expected 3 chunks");
    }

    #[test]
    fn trust_from_operators() {
        let op = KeyPair::new_operator().public_key();
        let sk = KeyPair::new_operator().public_key();
        let mut o = OperatorClaims::new(&op);
        o.nats.signing_keys = vec![sk.clone()];
        let t = Trust::from_operators(std::slice::from_ref(&o));
        assert!(t.is_trusted(&op) && t.is_trusted(&sk) && !t.is_strict(&sk));
        o.nats.strict_signing_key_usage = true;
        let t = Trust::from_operators(&[o]);
        assert!(!t.is_trusted(&op) && t.is_trusted(&sk) && t.is_strict(&sk));
        assert_eq!(t.keys(), [sk]);
    }
}
