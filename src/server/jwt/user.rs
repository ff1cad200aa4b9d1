//! User claims: what a user JWT grants (permissions, limits, bearer,
//! connection types) and which account it belongs to.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::claims::{ClaimsData, GenericFields};
use super::encode::Claim;
use super::keys::KeyKind;
use super::types::{is_false, CidrList, Limits, NatsLimits, Permissions, StringList, UserLimits};
use super::{JwtError, ValidationResults};

/// Permissions and limits; also the `template` of a scoped signing key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserPermissionLimits {
    #[serde(flatten)]
    pub permissions: Permissions,
    #[serde(flatten)]
    pub limits: Limits,
    /// No nonce signature needed at CONNECT.
    #[serde(skip_serializing_if = "is_false")]
    pub bearer_token: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub proxy_required: bool,
    /// `STANDARD`, `WEBSOCKET`, ... (see [`ConnectionType`]); empty allows all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_connection_types: StringList,
}

/// The `nats` object of a user JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    #[serde(flatten)]
    pub permission_limits: UserPermissionLimits,
    /// The account's public key when the JWT was issued by one of its
    /// signing keys.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    #[serde(flatten)]
    pub generic: GenericFields,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    #[serde(flatten)]
    pub data: ClaimsData,
    #[serde(default)]
    pub nats: User,
    /// Set by the decoder when the token spelled out an empty list (`"src":
    /// []`, `"pub":{"allow":[]}`, ...). Go tells an empty list from a missing
    /// one, so such a user does not have "empty permissions" for a scoped
    /// signing key.
    #[serde(skip)]
    pub(crate) explicit_empty_lists: bool,
}

impl UserClaims {
    /// A user with unlimited subs/data/payload, as Go's `NewUserClaims`.
    pub fn new(subject: &str) -> UserClaims {
        let mut u = UserClaims::default();
        u.data.subject = subject.to_string();
        u.nats.permission_limits.limits.nats = NatsLimits::UNLIMITED;
        u
    }

    /// Scoped users carry no permissions or limits (the scope's template
    /// applies); unscoped ones get unlimited NATS limits.
    pub fn set_scoped(&mut self, scoped: bool) {
        if scoped {
            self.nats.permission_limits = UserPermissionLimits::default();
        } else {
            self.nats.permission_limits.limits = Limits { user: UserLimits::default(), nats: NatsLimits::UNLIMITED };
        }
        self.explicit_empty_lists = false;
    }

    /// True if the JWT sets no permission or limit at all (required of a
    /// user issued by a scoped signing key).
    pub fn has_empty_permissions(&self) -> bool {
        self.nats.permission_limits == UserPermissionLimits::default() && !self.explicit_empty_lists
    }

    pub fn is_bearer_token(&self) -> bool {
        self.nats.permission_limits.bearer_token
    }

    /// The account this user belongs to: `issuer_account` when issued by a
    /// signing key, else the issuer.
    pub fn account(&self) -> &str {
        if self.nats.issuer_account.is_empty() {
            &self.data.issuer
        } else {
            &self.nats.issuer_account
        }
    }

    pub fn tags(&self) -> &[String] {
        &self.nats.generic.tags
    }

    pub fn permissions(&self) -> &Permissions {
        &self.nats.permission_limits.permissions
    }

    pub fn limits(&self) -> &Limits {
        &self.nats.permission_limits.limits
    }

    pub fn src(&self) -> &CidrList {
        &self.nats.permission_limits.limits.user.src
    }
}

impl Claim for UserClaims {
    fn data(&self) -> &ClaimsData {
        &self.data
    }

    fn data_mut(&mut self) -> &mut ClaimsData {
        &mut self.data
    }

    fn expected_prefixes(&self) -> Option<&'static [KeyKind]> {
        Some(&[KeyKind::Account])
    }

    fn validate(&self, now: Timestamp) -> ValidationResults {
        let mut vr = ValidationResults::new();
        self.data.validate(&mut vr, now);
        let upl = &self.nats.permission_limits;
        upl.permissions.validate(&mut vr);
        upl.limits.validate(&mut vr);
        if !self.nats.issuer_account.is_empty() && !KeyKind::Account.is_valid(&self.nats.issuer_account) {
            vr.add_error("account_id is not an account public key");
        }
        vr
    }

    fn prepare_encode(&mut self) -> Result<(), JwtError> {
        if !KeyKind::User.is_valid(&self.data.subject) {
            return Err(JwtError::Encode("expected subject to be user public key".into()));
        }
        self.nats.generic.claim_type = "user".into();
        Ok(())
    }

    fn set_version(&mut self, version: i64) {
        self.nats.generic.version = version;
    }
}

/// The kinds of connection `allowed_connection_types` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectionType {
    Standard,
    Websocket,
    Leafnode,
    LeafnodeWs,
    Mqtt,
    MqttWs,
    InProcess,
}

impl ConnectionType {
    pub const ALL: [ConnectionType; 7] = [
        ConnectionType::Standard,
        ConnectionType::Websocket,
        ConnectionType::Leafnode,
        ConnectionType::LeafnodeWs,
        ConnectionType::Mqtt,
        ConnectionType::MqttWs,
        ConnectionType::InProcess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionType::Standard => "STANDARD",
            ConnectionType::Websocket => "WEBSOCKET",
            ConnectionType::Leafnode => "LEAFNODE",
            ConnectionType::LeafnodeWs => "LEAFNODE_WS",
            ConnectionType::Mqtt => "MQTT",
            ConnectionType::MqttWs => "MQTT_WS",
            ConnectionType::InProcess => "IN_PROCESS",
        }
    }

    /// Case-insensitive, as the server upper-cases the names first.
    pub fn parse(text: &str) -> Option<ConnectionType> {
        let upper = text.to_uppercase();
        ConnectionType::ALL.into_iter().find(|t| t.as_str() == upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_users_are_unlimited_and_scoped_ones_empty() {
        let mut u = UserClaims::new("UX");
        assert!(u.limits().nats.is_unlimited());
        assert!(!u.has_empty_permissions());
        u.set_scoped(true);
        assert!(u.has_empty_permissions());
        u.set_scoped(false);
        assert!(u.limits().nats.is_unlimited());
    }

    #[test]
    fn json_matches_the_go_layout() {
        let mut u = UserClaims::new("UX");
        u.data.issuer = "AX".into();
        u.nats.permission_limits.permissions.publish.allow = vec!["a.>".into()];
        u.nats.permission_limits.bearer_token = true;
        u.nats.permission_limits.allowed_connection_types = vec!["STANDARD".into()];
        u.nats.issuer_account = "AY".into();
        u.nats.generic = GenericFields { tags: vec!["t:1".into()], claim_type: "user".into(), version: 2 };
        let text = serde_json::to_string(&u).unwrap();
        assert_eq!(
            text,
            r#"{"iss":"AX","sub":"UX","nats":{"pub":{"allow":["a.>"]},"sub":{},"subs":-1,"data":-1,"payload":-1,"bearer_token":true,"allowed_connection_types":["STANDARD"],"issuer_account":"AY","tags":["t:1"],"type":"user","version":2}}"#
        );
        let back: UserClaims = serde_json::from_str(&text).unwrap();
        assert_eq!(back, u);
        assert_eq!(back.account(), "AY");
    }

    #[test]
    fn validation_covers_permissions_limits_and_issuer_account() {
        let now = Timestamp::from_second(100).unwrap();
        let mut u = UserClaims::new("UX");
        assert!(u.validate(now).is_empty());
        u.nats.permission_limits.permissions.publish.allow = vec!["a b".into()];
        u.nats.permission_limits.limits.user.src = CidrList(vec!["x".into()]);
        u.nats.issuer_account = "not-a-key".into();
        u.data.expires = 50;
        let vr = u.validate(now);
        assert_eq!(
            vr.to_string(),
            "&{Issues:[claim is expired Permission Subject \"a b\" is not allowed to contain queue \
             invalid cidr \"x\" in user src limits account_id is not an account public key]}"
        );
    }

    #[test]
    fn connection_types() {
        for t in ConnectionType::ALL {
            assert_eq!(ConnectionType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ConnectionType::parse("websocket"), Some(ConnectionType::Websocket));
        assert_eq!(ConnectionType::parse("QUIC"), None);
    }
}
