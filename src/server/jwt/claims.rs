//! What every claim carries (`aud exp jti iat iss name nbf sub`, Go's
//! `ClaimsData`), the `tags/type/version` of the `nats` object, and the
//! decoded token of any type ([`Claims`]).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512_256};

use super::codec::push_go_json_string;
use super::types::{is_zero, TagList};
use super::{AccountClaims, ActivationClaims, GenericClaims, OperatorClaims, UserClaims, ValidationResults};

/// The registered claims. Times are Unix seconds; `0` means unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaimsData {
    #[serde(rename = "aud", skip_serializing_if = "String::is_empty")]
    pub audience: String,
    #[serde(rename = "exp", skip_serializing_if = "is_zero")]
    pub expires: i64,
    #[serde(rename = "jti", skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "iat", skip_serializing_if = "is_zero")]
    pub issued_at: i64,
    #[serde(rename = "iss", skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "nbf", skip_serializing_if = "is_zero")]
    pub not_before: i64,
    #[serde(rename = "sub", skip_serializing_if = "String::is_empty")]
    pub subject: String,
}

impl ClaimsData {
    /// Go's `ClaimsData.Validate`: expiry and not-before against `now`
    /// (whole seconds, as Go compares them). Both are time checks, which
    /// block only when the caller includes time checks.
    pub fn validate(&self, vr: &mut ValidationResults, now: Timestamp) {
        let now = now.as_second();
        if self.expires > 0 && now > self.expires {
            vr.add_time_check("claim is expired");
        }
        if self.not_before > 0 && self.not_before > now {
            vr.add_time_check("claim is not yet valid");
        }
    }

    /// The `jti` the Go library computes for these claims: base32 of
    /// SHA-512/256 over their JSON with `jti` empty (servers do not check it).
    pub fn computed_jti(&self) -> String {
        jti_hash(self)
    }

    /// True if the issuer is the subject.
    pub fn is_self_signed(&self) -> bool {
        self.issuer == self.subject
    }
}

/// The fields of the `nats` object every v2 claim has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenericFields {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: TagList,
    /// The claim type as written (`user`, `account`, ...).
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub claim_type: String,
    /// 2 for v2 tokens, 1 for tokens migrated from v1.
    #[serde(skip_serializing_if = "is_zero")]
    pub version: i64,
}

/// The claim types the decoder tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimType {
    Operator,
    Account,
    User,
    Activation,
    AuthorizationRequest,
    AuthorizationResponse,
    /// Anything else (Go's `GenericClaim`).
    Generic,
}

impl ClaimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimType::Operator => "operator",
            ClaimType::Account => "account",
            ClaimType::User => "user",
            ClaimType::Activation => "activation",
            ClaimType::AuthorizationRequest => "authorization_request",
            ClaimType::AuthorizationResponse => "authorization_response",
            ClaimType::Generic => "generic",
        }
    }

    pub fn parse(text: &str) -> ClaimType {
        match text {
            "operator" => ClaimType::Operator,
            "account" => ClaimType::Account,
            "user" => ClaimType::User,
            "activation" => ClaimType::Activation,
            "authorization_request" => ClaimType::AuthorizationRequest,
            "authorization_response" => ClaimType::AuthorizationResponse,
            _ => ClaimType::Generic,
        }
    }
}

/// A decoded and verified token of any type.
// Made once per decode and unpacked straight away by the typed decoders:
// boxing the big variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Claims {
    Operator(OperatorClaims),
    Account(AccountClaims),
    User(UserClaims),
    Activation(ActivationClaims),
    Generic(GenericClaims),
}

impl Claims {
    pub fn data(&self) -> &ClaimsData {
        match self {
            Claims::Operator(c) => &c.data,
            Claims::Account(c) => &c.data,
            Claims::User(c) => &c.data,
            Claims::Activation(c) => &c.data,
            Claims::Generic(c) => &c.data,
        }
    }

    pub fn claim_type(&self) -> ClaimType {
        match self {
            Claims::Operator(_) => ClaimType::Operator,
            Claims::Account(_) => ClaimType::Account,
            Claims::User(_) => ClaimType::User,
            Claims::Activation(_) => ClaimType::Activation,
            Claims::Generic(c) => c.claim_type(),
        }
    }

    /// The type's `Validate` (see [`super::Claim::validate`]).
    pub fn validate(&self, now: Timestamp) -> ValidationResults {
        use super::Claim;
        match self {
            Claims::Operator(c) => c.validate(now),
            Claims::Account(c) => c.validate(now),
            Claims::User(c) => c.validate(now),
            Claims::Activation(c) => c.validate(now),
            Claims::Generic(c) => c.validate(now),
        }
    }
}

/// Go's `json.Marshal` of the claims data (fields in declaration order,
/// `omitempty` on each): the input of the `jti` hash.
fn go_json_claims_data(d: &ClaimsData) -> String {
    let mut out = String::from("{");
    let field = |out: &mut String, name: &str| {
        if out.len() > 1 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
    };
    let strings_and_ints: [(&str, Result<&str, i64>); 8] = [
        ("aud", Ok(&d.audience)),
        ("exp", Err(d.expires)),
        ("jti", Ok(&d.id)),
        ("iat", Err(d.issued_at)),
        ("iss", Ok(&d.issuer)),
        ("name", Ok(&d.name)),
        ("nbf", Err(d.not_before)),
        ("sub", Ok(&d.subject)),
    ];
    for (name, value) in strings_and_ints {
        match value {
            Ok(s) if !s.is_empty() => {
                field(&mut out, name);
                push_go_json_string(&mut out, s);
            }
            Err(n) if n != 0 => {
                field(&mut out, name);
                out.push_str(&n.to_string());
            }
            _ => {}
        }
    }
    out.push('}');
    out
}

/// The `jti` the Go library writes: base32 (no padding) of SHA-512/256 over
/// the JSON of the claims data with `jti` empty.
fn jti_hash(data: &ClaimsData) -> String {
    let mut d = data.clone();
    d.id.clear();
    let digest = Sha512_256::digest(go_json_claims_data(&d).as_bytes());
    data_encoding::BASE32_NOPAD.encode(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_not_before_are_time_checks() {
        let now = Timestamp::from_second(1_000).unwrap();
        let check = |exp, nbf| {
            let mut vr = ValidationResults::new();
            ClaimsData { expires: exp, not_before: nbf, ..Default::default() }.validate(&mut vr, now);
            vr
        };
        assert!(check(0, 0).is_empty());
        // Go compares with `>`: a claim expiring this second is still valid.
        assert!(check(1_000, 0).is_empty());
        let expired = check(999, 0);
        assert_eq!(expired.warnings(), ["claim is expired"]);
        assert!(expired.is_blocking(true) && !expired.is_blocking(false));
        assert!(check(0, 1_000).is_empty());
        assert_eq!(check(0, 1_001).warnings(), ["claim is not yet valid"]);
        assert_eq!(check(1, 2_000).warnings(), ["claim is expired", "claim is not yet valid"]);
    }

    #[test]
    fn serialises_in_go_order_without_empty_fields() {
        let d = ClaimsData { subject: "S".into(), issuer: "I".into(), issued_at: 3, expires: 9, ..Default::default() };
        assert_eq!(serde_json::to_string(&d).unwrap(), r#"{"exp":9,"iat":3,"iss":"I","sub":"S"}"#);
        let back: ClaimsData = serde_json::from_str(r#"{"sub":"S","iss":"I","iat":3,"exp":9,"other":1}"#).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn claim_types_round_trip() {
        for t in [
            ClaimType::Operator,
            ClaimType::Account,
            ClaimType::User,
            ClaimType::Activation,
            ClaimType::AuthorizationRequest,
            ClaimType::AuthorizationResponse,
            ClaimType::Generic,
        ] {
            assert_eq!(ClaimType::parse(t.as_str()), t);
        }
        assert_eq!(ClaimType::parse("whatever"), ClaimType::Generic);
    }

    #[test]
    fn claims_data_json_is_gos() {
        let d = ClaimsData {
            audience: String::new(),
            expires: 5,
            id: "x".into(),
            issued_at: 7,
            issuer: "I".into(),
            name: "a<b>&\"\u{2028}\x01".into(),
            not_before: 0,
            subject: "S".into(),
        };
        assert_eq!(
            go_json_claims_data(&d),
            r#"{"exp":5,"jti":"x","iat":7,"iss":"I","name":"a\u003cb\u003e\u0026\"\u2028\u0001","sub":"S"}"#
        );
        assert_eq!(go_json_claims_data(&ClaimsData::default()), "{}");
    }
}
