//! What every claim type does ([`Claim`]) and the encoder: claims signed
//! with an nkeys [`KeyPair`] as the Go library signs them (`iss` from the
//! key, `iat`, `jti`, version 2, header `{"typ":"JWT","alg":"ed25519-nkey"}`).
//! The server never encodes; tests and test helpers mint tokens with it.

use jiff::Timestamp;
use nkeys::KeyPair;
use serde::Serialize;

use super::claims::ClaimsData;
use super::codec::b64url_encode;
use super::keys::{prefix_list, KeyKind};
use super::{JwtError, ValidationResults, LIB_VERSION};

/// The header of every v2 token.
pub const HEADER_V2: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;
/// The header of v1 tokens (signed over the payload only).
pub const HEADER_V1: &str = r#"{"typ":"jwt","alg":"ed25519"}"#;

pub trait Claim: Serialize {
    fn data(&self) -> &ClaimsData;

    fn data_mut(&mut self) -> &mut ClaimsData;

    /// The key kinds that may issue this claim type (`None`: any).
    fn expected_prefixes(&self) -> Option<&'static [KeyKind]>;

    /// The Go library's `Validate`, against `now`. Whether an issue blocks
    /// is the caller's decision ([`ValidationResults::is_blocking`]).
    fn validate(&self, now: Timestamp) -> ValidationResults;

    /// The type's checks before encoding (subject kind), and its `type`.
    #[doc(hidden)]
    fn prepare_encode(&mut self) -> Result<(), JwtError>;

    #[doc(hidden)]
    fn set_version(&mut self, version: i64);

    /// Signs the claims with `key`, issued now.
    fn encode(&mut self, key: &KeyPair) -> Result<String, JwtError> {
        self.encode_at(key, Timestamp::now().as_second())
    }

    /// Signs the claims with `key`, issued at `issued_at` (Unix seconds).
    /// Sets `iss`, `iat`, `jti` and the version as Go's `Encode` does, and
    /// refuses a subject or issuer of the wrong kind with Go's texts.
    fn encode_at(&mut self, key: &KeyPair, issued_at: i64) -> Result<String, JwtError> {
        self.prepare_encode()?;
        if self.data().subject.is_empty() {
            return Err(JwtError::Encode("subject is not set".into()));
        }
        let issuer = key.public_key();
        if let Some(kinds) = self.expected_prefixes() {
            if !kinds.iter().any(|k| k.is_valid(&issuer)) {
                return Err(JwtError::Prefixes(prefix_list(kinds)));
            }
        }
        let data = self.data_mut();
        data.issuer = issuer;
        data.issued_at = issued_at;
        data.id = data.computed_jti();
        self.set_version(LIB_VERSION);
        let payload = serde_json::to_string(self).map_err(|e| JwtError::Encode(e.to_string()))?;
        sign_token(HEADER_V2, &payload, key)
    }
}

/// Signs `header.payload` (both JSON, taken as they are) the v2 way, over
/// the encoded header and payload. For tests that need tokens the encoder
/// would refuse to make (bad headers, odd payloads, v1 layouts).
pub fn sign_token(header_json: &str, payload_json: &str, key: &KeyPair) -> Result<String, JwtError> {
    let signed = format!("{}.{}", b64url_encode(header_json.as_bytes()), b64url_encode(payload_json.as_bytes()));
    let sig = key.sign(signed.as_bytes()).map_err(|e| JwtError::Encode(e.to_string()))?;
    Ok(format!("{signed}.{}", b64url_encode(&sig)))
}

/// Signs a v1 token: the signature covers the encoded payload only.
pub fn sign_token_v1(header_json: &str, payload_json: &str, key: &KeyPair) -> Result<String, JwtError> {
    let payload = b64url_encode(payload_json.as_bytes());
    let sig = key.sign(payload.as_bytes()).map_err(|e| JwtError::Encode(e.to_string()))?;
    Ok(format!("{}.{payload}.{}", b64url_encode(header_json.as_bytes()), b64url_encode(&sig)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::jwt::{decode_user, AccountClaims, GenericClaims, OperatorClaims, UserClaims};

    #[test]
    fn encoding_sets_issuer_time_jti_and_version() {
        let account = KeyPair::new_account();
        let user = KeyPair::new_user();
        let mut claims = UserClaims::new(&user.public_key());
        claims.data.name = "alice".into();
        let token = claims.encode_at(&account, 1_700_000_000).unwrap();
        assert_eq!(claims.data.issuer, account.public_key());
        assert_eq!(claims.data.issued_at, 1_700_000_000);
        assert_eq!(claims.nats.generic.version, 2);
        assert_eq!(claims.nats.generic.claim_type, "user");
        assert_eq!(claims.data.id, claims.data.computed_jti());
        assert_eq!(claims.data.id.len(), 52);
        assert!(token.starts_with("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ."));
        assert_eq!(decode_user(&token).unwrap(), claims);
    }

    #[test]
    fn encoder_refuses_wrong_kinds_with_gos_texts() {
        let account = KeyPair::new_account();
        let operator = KeyPair::new_operator();
        let user = KeyPair::new_user();
        let err = |r: Result<String, JwtError>| r.unwrap_err().to_string();
        assert_eq!(
            err(UserClaims::new(&account.public_key()).encode(&account)),
            "expected subject to be user public key"
        );
        assert_eq!(
            err(UserClaims::new(&user.public_key()).encode(&operator)),
            "unable to validate expected prefixes - [account]"
        );
        assert_eq!(
            err(AccountClaims::new(&account.public_key()).encode(&user)),
            "unable to validate expected prefixes - [account operator]"
        );
        assert_eq!(
            err(OperatorClaims::new(&account.public_key()).encode(&operator)),
            "expected subject to be an operator public key"
        );
        assert_eq!(err(GenericClaims::default().encode(&operator)), "subject is not set");
        let public_only = KeyPair::from_public_key(&account.public_key()).unwrap();
        assert!(UserClaims::new(&user.public_key()).encode(&public_only).is_err());
    }

    #[test]
    fn accounts_sort_imports_and_exports() {
        use crate::server::jwt::{Export, ExportType};
        let op = KeyPair::new_operator();
        let mut a = AccountClaims::new(&KeyPair::new_account().public_key());
        for s in ["b", "a", "c"] {
            a.nats.exports.push(Export { subject: s.into(), export_type: ExportType::Stream, ..Default::default() });
        }
        a.encode(&op).unwrap();
        let subjects: Vec<&str> = a.nats.exports.iter().map(|e| e.subject.as_str()).collect();
        assert_eq!(subjects, ["a", "b", "c"]);
    }
}
