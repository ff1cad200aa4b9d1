//! Account claims: limits, signing keys, user revocations, imports and
//! exports, default permissions, mappings, external authorization, tracing.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::claims::{ClaimsData, GenericFields};
use super::encode::Claim;
use super::exports::validate_exports;
use super::imports::validate_imports;
use super::keys::KeyKind;
use super::types::{has_wildcards, is_false, is_zero, validate_subject, Info, NatsLimits, Permissions, StringList};
use super::{
    ActivationClaims, Export, Import, JwtError, RevocationList, SigningKeys, UserClaims, UserScope, ValidationResults,
    ALL, NO_LIMIT,
};
use crate::server::errors::go_quote;

/// Limits an operator puts on an account (besides the NATS ones).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountLimits {
    #[serde(skip_serializing_if = "is_zero")]
    pub imports: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub exports: i64,
    #[serde(rename = "wildcards", skip_serializing_if = "is_false")]
    pub wildcard_exports: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub disallow_bearer: bool,
    /// Active connections.
    #[serde(skip_serializing_if = "is_zero")]
    pub conn: i64,
    /// Active leaf node connections.
    #[serde(rename = "leaf", skip_serializing_if = "is_zero")]
    pub leaf_node_conn: i64,
}

impl AccountLimits {
    pub const UNLIMITED: AccountLimits = AccountLimits {
        imports: NO_LIMIT,
        exports: NO_LIMIT,
        wildcard_exports: true,
        disallow_bearer: false,
        conn: NO_LIMIT,
        leaf_node_conn: NO_LIMIT,
    };
}

/// JetStream limits (0 storage means JetStream is off for the account).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JetStreamLimits {
    #[serde(rename = "mem_storage", skip_serializing_if = "is_zero")]
    pub memory_storage: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_storage: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub streams: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub consumer: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    #[serde(rename = "mem_max_stream_bytes", skip_serializing_if = "is_zero")]
    pub memory_max_stream_bytes: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_max_stream_bytes: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub max_bytes_required: bool,
}

/// All of an account's `limits` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OperatorLimits {
    #[serde(flatten)]
    pub nats: NatsLimits,
    #[serde(flatten)]
    pub account: AccountLimits,
    #[serde(flatten)]
    pub jetstream: JetStreamLimits,
    #[serde(rename = "tiered_limits", skip_serializing_if = "BTreeMap::is_empty")]
    pub tiered: BTreeMap<String, JetStreamLimits>,
}

impl OperatorLimits {
    /// True if every limit is 0, false or empty.
    pub fn is_empty(&self) -> bool {
        self.nats == NatsLimits::default()
            && self.account == AccountLimits::default()
            && self.jetstream == JetStreamLimits::default()
            && self.tiered.is_empty()
    }

    pub fn is_jetstream_enabled(&self) -> bool {
        let enabled = |l: &JetStreamLimits| l.memory_storage != 0 || l.disk_storage != 0;
        if self.tiered.is_empty() {
            enabled(&self.jetstream)
        } else {
            self.tiered.values().any(enabled)
        }
    }

    fn validate(&self, vr: &mut ValidationResults) {
        if !self.tiered.is_empty() {
            if self.jetstream != JetStreamLimits::default() {
                vr.add_error("JetStream Limits and tiered JetStream Limits are mutually exclusive");
            }
            if self.tiered.contains_key("") {
                vr.add_error("Tiered JetStream Limits can not contain a blank \"\" tier name");
            }
        }
    }
}

/// One destination of a subject mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeightedMapping {
    pub subject: String,
    /// Percent; 0 (unset) means 100.
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub weight: u8,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

impl WeightedMapping {
    pub fn weight(&self) -> u8 {
        if self.weight == 0 {
            100
        } else {
            self.weight
        }
    }
}

/// Subject mappings: source subject to weighted destinations.
pub type Mapping = BTreeMap<String, Vec<WeightedMapping>>;

fn validate_mappings(mappings: &Mapping, vr: &mut ValidationResults) {
    for (from, destinations) in mappings {
        validate_subject(from, vr);
        let mut per_cluster: BTreeMap<&str, u32> = BTreeMap::new();
        let mut total = 0u32;
        for d in destinations {
            validate_subject(&d.subject, vr);
            let weight = d.weight();
            if weight > 100 {
                vr.add_error(format!("Mapping {} has a weight {weight} that exceeds 100", go_quote(from)));
            }
            if d.cluster.is_empty() {
                total += u32::from(weight);
            } else {
                let t = per_cluster.entry(&d.cluster).or_default();
                *t += u32::from(weight);
                if *t > 100 {
                    vr.add_error(format!(
                        "Mapping {} in cluster {} exceeds 100% among all of it's weighted to mappings",
                        go_quote(from),
                        go_quote(&d.cluster)
                    ));
                }
            }
        }
        if total > 100 {
            vr.add_error(format!("Mapping {} exceeds 100% among all of it's weighted to mappings", go_quote(from)));
        }
    }
}

/// Auth callout settings (read, not acted on yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalAuthorization {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_users: StringList,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_accounts: StringList,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

impl ExternalAuthorization {
    pub fn is_enabled(&self) -> bool {
        !self.auth_users.is_empty()
    }

    fn validate(&self, vr: &mut ValidationResults) {
        if !self.allowed_accounts.is_empty() && self.auth_users.is_empty() {
            vr.add_error("External authorization cannot have accounts without users specified");
        }
        for u in &self.auth_users {
            if !KeyKind::User.is_valid(u) {
                vr.add_error(format!("AuthUser {} is not a valid user public key", go_quote(u)));
            }
        }
        for a in &self.allowed_accounts {
            if a == ALL {
                if self.allowed_accounts.len() > 1 {
                    vr.add_error(format!("AllowedAccounts can only be a list of accounts or {}", go_quote(ALL)));
                }
            } else if !KeyKind::Account.is_valid(a) {
                vr.add_error(format!("Account {} is not a valid account public key", go_quote(a)));
            }
        }
        if !self.xkey.is_empty() && !is_curve_key(&self.xkey) {
            vr.add_error(format!("XKey {} is not a valid public xkey", go_quote(&self.xkey)));
        }
    }
}

/// A public curve (xkey) key: prefix `X`.
fn is_curve_key(key: &str) -> bool {
    const PREFIX_BYTE_CURVE: u8 = 23 << 3;
    matches!(nkeys::from_public_key(key), Ok((prefix, _)) if prefix == PREFIX_BYTE_CURVE)
}

/// Message tracing: where traced messages' events go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MsgTrace {
    #[serde(rename = "dest", skip_serializing_if = "String::is_empty")]
    pub destination: String,
    /// Percent, 1 to 100 (0: 100).
    #[serde(skip_serializing_if = "is_zero")]
    pub sampling: i64,
}

/// The `nats` object of an account JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<Import>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<Export>,
    pub limits: OperatorLimits,
    #[serde(skip_serializing_if = "SigningKeys::is_empty")]
    pub signing_keys: SigningKeys,
    /// Revoked users, by user key (or `*`).
    #[serde(skip_serializing_if = "RevocationList::is_empty")]
    pub revocations: RevocationList,
    pub default_permissions: Permissions,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mappings: Mapping,
    pub authorization: ExternalAuthorization,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<MsgTrace>,
    /// `system` or `owner`: who pays for cluster traffic.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_traffic: String,
    #[serde(flatten)]
    pub info: Info,
    #[serde(flatten)]
    pub generic: GenericFields,
    /// `null` entries the token's `imports`/`exports` held (Go keeps them as
    /// nil and refuses them in validation).
    #[serde(skip)]
    pub(crate) null_imports: usize,
    #[serde(skip)]
    pub(crate) null_exports: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountClaims {
    #[serde(flatten)]
    pub data: ClaimsData,
    #[serde(default)]
    pub nats: Account,
}

impl AccountClaims {
    /// An account with unlimited NATS and account limits and JetStream off,
    /// as Go's `NewAccountClaims`.
    pub fn new(subject: &str) -> AccountClaims {
        let mut a = AccountClaims::default();
        a.data.subject = subject.to_string();
        a.nats.limits.nats = NatsLimits::UNLIMITED;
        a.nats.limits.account = AccountLimits::UNLIMITED;
        a
    }

    /// Go's `AccountClaims.DidSign` for a user JWT: issued by the account
    /// itself, or by one of its signing keys on its behalf.
    pub fn did_sign_user(&self, user: &UserClaims) -> bool {
        user.data.issuer == self.data.subject
            || (user.nats.issuer_account == self.data.subject && self.nats.signing_keys.contains(&user.data.issuer))
    }

    /// Go's `AccountClaims.DidSign` for an activation.
    pub fn did_sign_activation(&self, activation: &ActivationClaims) -> bool {
        activation.data.issuer == self.data.subject
            || (activation.nats.issuer_account == self.data.subject
                && self.nats.signing_keys.contains(&activation.data.issuer))
    }

    /// Which keys may issue this account's users, as the server builds its
    /// table in `updateAccountClaims`: the signing keys, plus the account's
    /// own key unless the account was issued by a signing key of an operator
    /// with `strict_signing_key_usage` (`strict`). `Some(None)`: a plain key;
    /// `Some(Some(scope))`: a scoped key; `None`: not an issuer of this account.
    pub fn issuer_scope(&self, key: &str, strict: bool) -> Option<Option<&UserScope>> {
        if let Some(found) = self.nats.signing_keys.get(key) {
            return Some(found);
        }
        (!strict && key == self.data.subject).then_some(None)
    }

    /// The server's `checkUserRevoked`: is this user key, issued at
    /// `issued_at`, revoked (by its own entry or `*`)?
    pub fn is_user_revoked(&self, user_key: &str, issued_at: i64) -> bool {
        self.nats.revocations.is_revoked(user_key, issued_at)
    }

    /// Expired as the server counts it (`exp` at or before now).
    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.data.expires != 0 && self.data.expires <= now.as_second()
    }

    pub fn tags(&self) -> &[String] {
        &self.nats.generic.tags
    }
}

impl Account {
    fn validate(&self, account_key: &str, vr: &mut ValidationResults) {
        validate_imports(&self.imports, self.null_imports, account_key, vr);
        validate_exports(&self.exports, self.null_exports, vr);
        self.limits.validate(vr);
        self.default_permissions.validate(vr);
        validate_mappings(&self.mappings, vr);
        self.authorization.validate(vr);
        if let Some(trace) = &self.trace {
            let mut dest = ValidationResults::new();
            validate_subject(&trace.destination, &mut dest);
            if let Some(first) = dest.issues.first() {
                vr.add_error(format!("the account Trace.Destination {}", first.description));
            }
            if has_wildcards(&trace.destination) {
                vr.add_error(format!(
                    "the account Trace.Destination subject {} is not a valid publish subject",
                    go_quote(&trace.destination)
                ));
            }
            if !(0..=100).contains(&trace.sampling) {
                vr.add_error(format!(
                    "the account Trace.Sampling value '{}' is not valid, should be in the range [1..100]",
                    trace.sampling
                ));
            }
        }
        let imports = (self.imports.len() + self.null_imports) as i64;
        let exports = (self.exports.len() + self.null_exports) as i64;
        let limits = &self.limits.account;
        // Go checks the import limit twice (the second without the
        // empty-limits exception); both texts are kept as it prints them.
        if !self.limits.is_empty() && limits.imports >= 0 && imports > limits.imports {
            vr.add_error("the account contains more imports than allowed by the operator");
        }
        if limits.imports != NO_LIMIT && imports > limits.imports {
            vr.add_error("the account contains more imports than allowed by the operator");
        }
        if limits.exports != NO_LIMIT {
            if exports > limits.exports {
                vr.add_error("the account contains more exports than allowed by the operator");
            }
            if !limits.wildcard_exports {
                for e in &self.exports {
                    if has_wildcards(&e.subject) {
                        vr.add_error("the account contains wildcard exports that are not allowed by the operator");
                    }
                }
            }
        }
        self.signing_keys.validate(vr);
        self.info.validate(vr);
        if !matches!(self.cluster_traffic.as_str(), "" | "system" | "owner") {
            vr.add_error(format!("unknown cluster traffic option: {}", go_quote(&self.cluster_traffic)));
        }
    }
}

impl Claim for AccountClaims {
    fn data(&self) -> &ClaimsData {
        &self.data
    }

    fn data_mut(&mut self) -> &mut ClaimsData {
        &mut self.data
    }

    fn expected_prefixes(&self) -> Option<&'static [KeyKind]> {
        Some(&[KeyKind::Account, KeyKind::Operator])
    }

    /// Go's `AccountClaims.Validate`; activation tokens of imports are
    /// decoded and verified as part of it.
    fn validate(&self, now: Timestamp) -> ValidationResults {
        let mut vr = ValidationResults::new();
        self.data.validate(&mut vr, now);
        self.nats.validate(&self.data.subject, &mut vr);
        if KeyKind::Account.is_valid(&self.data.issuer) && !self.nats.limits.is_empty() {
            vr.add_warning("self-signed account JWTs shouldn't contain operator limits");
        }
        vr
    }

    fn prepare_encode(&mut self) -> Result<(), JwtError> {
        if !KeyKind::Account.is_valid(&self.data.subject) {
            return Err(JwtError::Encode("expected subject to be account public key".into()));
        }
        self.nats.exports.sort_by(|a, b| a.subject.cmp(&b.subject));
        self.nats.imports.sort_by(|a, b| a.subject.cmp(&b.subject));
        self.nats.generic.claim_type = "account".into();
        Ok(())
    }

    fn set_version(&mut self, version: i64) {
        self.nats.generic.version = version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::jwt::{ExportType, UserClaims};
    use nkeys::KeyPair;

    fn now() -> Timestamp {
        Timestamp::from_second(1_000).unwrap()
    }

    #[test]
    fn new_accounts_are_unlimited_and_serialise_like_go() {
        let a = AccountClaims::new("AX");
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            r#"{"sub":"AX","nats":{"limits":{"subs":-1,"data":-1,"payload":-1,"imports":-1,"exports":-1,"wildcards":true,"conn":-1,"leaf":-1},"default_permissions":{"pub":{},"sub":{}},"authorization":{}}}"#
        );
        assert_eq!(serde_json::from_str::<AccountClaims>(&text).unwrap(), a);
        assert!(!a.nats.limits.is_jetstream_enabled());
    }

    #[test]
    fn zero_limits_forbid_imports_and_exports() {
        // An account JWT without limits allows no import or export (Go's
        // zero values), and says so twice for imports.
        let mut a = AccountClaims::default();
        a.data.subject = KeyPair::new_account().public_key();
        a.nats.imports.push(Import {
            subject: "s".into(),
            account: "AO".into(),
            import_type: ExportType::Stream,
            ..Default::default()
        });
        a.nats.exports.push(Export { subject: "e.*".into(), export_type: ExportType::Stream, ..Default::default() });
        assert_eq!(
            a.validate(now()).errors(),
            [
                "the account contains more imports than allowed by the operator",
                "the account contains more exports than allowed by the operator",
                "the account contains wildcard exports that are not allowed by the operator"
            ]
        );
        a.nats.limits.account = AccountLimits::UNLIMITED;
        assert!(a.validate(now()).is_empty());
        a.nats.limits.account.imports = 0;
        assert_eq!(
            a.validate(now()).errors(),
            [
                "the account contains more imports than allowed by the operator",
                "the account contains more imports than allowed by the operator"
            ]
        );
    }

    #[test]
    fn limits_mappings_trace_and_traffic_rules() {
        let mut a = AccountClaims::new(&KeyPair::new_account().public_key());
        a.nats.limits.jetstream.memory_storage = 1;
        a.nats.limits.tiered.insert(String::new(), JetStreamLimits { disk_storage: 5, ..Default::default() });
        a.nats.mappings.insert(
            "m".into(),
            vec![
                WeightedMapping { subject: "a".into(), weight: 60, cluster: String::new() },
                WeightedMapping { subject: "b".into(), weight: 50, cluster: String::new() },
                WeightedMapping { subject: "c".into(), weight: 0, cluster: "C1".into() },
                WeightedMapping { subject: "d".into(), weight: 1, cluster: "C1".into() },
            ],
        );
        a.nats.trace = Some(MsgTrace { destination: "t.>".into(), sampling: 101 });
        a.nats.cluster_traffic = "everyone".into();
        a.nats.authorization.allowed_accounts = vec!["*".into()];
        assert_eq!(
            a.validate(now()).errors(),
            [
                "JetStream Limits and tiered JetStream Limits are mutually exclusive",
                "Tiered JetStream Limits can not contain a blank \"\" tier name",
                "Mapping \"m\" in cluster \"C1\" exceeds 100% among all of it's weighted to mappings",
                "Mapping \"m\" exceeds 100% among all of it's weighted to mappings",
                "External authorization cannot have accounts without users specified",
                "the account Trace.Destination subject \"t.>\" is not a valid publish subject",
                "the account Trace.Sampling value '101' is not valid, should be in the range [1..100]",
                "unknown cluster traffic option: \"everyone\""
            ]
        );
        assert!(a.nats.limits.is_jetstream_enabled());
    }

    #[test]
    fn self_signed_accounts_with_limits_get_a_warning() {
        let kp = KeyPair::new_account();
        let mut a = AccountClaims::new(&kp.public_key());
        a.data.issuer = kp.public_key();
        let vr = a.validate(now());
        assert_eq!(vr.warnings(), ["self-signed account JWTs shouldn't contain operator limits"]);
        assert!(!vr.is_blocking(true));
    }

    #[test]
    fn issuers_of_users() {
        let acc = KeyPair::new_account().public_key();
        let signer = KeyPair::new_account().public_key();
        let scoped = KeyPair::new_account().public_key();
        let mut a = AccountClaims::new(&acc);
        a.nats.signing_keys.add(&signer);
        a.nats.signing_keys.add_scope(UserScope::new(&scoped));
        assert_eq!(a.issuer_scope(&acc, false), Some(None));
        assert_eq!(a.issuer_scope(&acc, true), None);
        assert_eq!(a.issuer_scope(&signer, true), Some(None));
        assert_eq!(a.issuer_scope(&scoped, false).unwrap().unwrap().key, scoped);
        assert_eq!(a.issuer_scope("AOTHER", false), None);

        let mut u = UserClaims::new("UX");
        u.data.issuer = acc.clone();
        assert!(a.did_sign_user(&u));
        u.data.issuer = signer.clone();
        assert!(!a.did_sign_user(&u));
        u.nats.issuer_account = acc.clone();
        assert!(a.did_sign_user(&u));
        u.data.issuer = "AOTHER".into();
        assert!(!a.did_sign_user(&u));
    }

    #[test]
    fn revocation_and_expiry() {
        let mut a = AccountClaims::new("AX");
        a.nats.revocations.revoke("UA", 500);
        assert!(a.is_user_revoked("UA", 500));
        assert!(!a.is_user_revoked("UA", 501));
        assert!(!a.is_user_revoked("UB", 1));
        a.nats.revocations.revoke(ALL, 10);
        assert!(a.is_user_revoked("UB", 1));
        assert!(!a.is_expired_at(now()));
        a.data.expires = 1_000;
        assert!(a.is_expired_at(now()));
        a.data.expires = 1_001;
        assert!(!a.is_expired_at(now()));
    }
}
