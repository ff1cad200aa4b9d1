//! Activation claims: an exporter's permission for one account to import a
//! stream or service (carried in the import's `token`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::claims::{ClaimsData, GenericFields};
use super::encode::Claim;
use super::exports::ExportType;
use super::keys::KeyKind;
use super::types::validate_subject;
use super::{JwtError, ValidationResults};
use crate::server::errors::go_quote;

/// The `nats` object of an activation JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Activation {
    /// The exported subject the importer may use.
    #[serde(rename = "subject", skip_serializing_if = "String::is_empty")]
    pub import_subject: String,
    #[serde(rename = "kind", skip_serializing_if = "ExportType::is_unknown")]
    pub import_type: ExportType,
    /// The exporting account when issued by one of its signing keys.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// `sub` is the importing account; `iss` the exporter (or its signing key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationClaims {
    #[serde(flatten)]
    pub data: ClaimsData,
    #[serde(default)]
    pub nats: Activation,
}

/// Go's `cleanSubject`: the subject up to its first wildcard token (`_`
/// when that is the first token).
fn clean_subject(subject: &str) -> String {
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, t) in tokens.iter().enumerate() {
        if *t == "*" || *t == ">" {
            if i == 0 {
                return "_".into();
            }
            return tokens[..i].join(".");
        }
    }
    subject.to_string()
}

impl ActivationClaims {
    pub fn new(subject: &str) -> ActivationClaims {
        let mut a = ActivationClaims::default();
        a.data.subject = subject.to_string();
        a
    }

    /// The exporting account: `issuer_account`, else the issuer.
    pub fn exporter(&self) -> &str {
        if self.nats.issuer_account.is_empty() {
            &self.data.issuer
        } else {
            &self.nats.issuer_account
        }
    }

    /// Go's `Activation.Validate` plus the issuer account check, without
    /// the time checks (as an import's validation runs it).
    pub(crate) fn validate_without_times(&self, vr: &mut ValidationResults) {
        let a = &self.nats;
        if a.import_type == ExportType::Unknown {
            vr.add_error(format!("invalid import type: {}", go_quote(a.import_type.as_str())));
        }
        validate_subject(&a.import_subject, vr);
        if !a.issuer_account.is_empty() && !KeyKind::Account.is_valid(&a.issuer_account) {
            vr.add_error("account_id is not an account public key");
        }
    }

    /// Go's `HashID`: base32 (padded) of SHA-256 over
    /// `issuer.subject.<subject up to its first wildcard>`.
    pub fn hash_id(&self) -> Option<String> {
        if self.data.issuer.is_empty() || self.data.subject.is_empty() || self.nats.import_subject.is_empty() {
            return None;
        }
        let base = format!("{}.{}.{}", self.data.issuer, self.data.subject, clean_subject(&self.nats.import_subject));
        Some(data_encoding::BASE32.encode(&Sha256::digest(base.as_bytes())))
    }
}

impl Claim for ActivationClaims {
    fn data(&self) -> &ClaimsData {
        &self.data
    }

    fn data_mut(&mut self) -> &mut ClaimsData {
        &mut self.data
    }

    fn expected_prefixes(&self) -> Option<&'static [KeyKind]> {
        Some(&[KeyKind::Account, KeyKind::Operator])
    }

    fn validate(&self, now: Timestamp) -> ValidationResults {
        let mut vr = ValidationResults::new();
        self.data.validate(&mut vr, now);
        self.validate_without_times(&mut vr);
        vr
    }

    fn prepare_encode(&mut self) -> Result<(), JwtError> {
        if !KeyKind::Account.is_valid(&self.data.subject) {
            return Err(JwtError::Encode("expected subject to be an account".into()));
        }
        self.nats.generic.claim_type = "activation".into();
        Ok(())
    }

    fn set_version(&mut self, version: i64) {
        self.nats.generic.version = version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_layout() {
        let mut a = ActivationClaims::new("AIMP");
        a.nats.import_subject = "svc.>".into();
        a.nats.import_type = ExportType::Service;
        a.nats.issuer_account = "AEXP".into();
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(text, r#"{"sub":"AIMP","nats":{"subject":"svc.>","kind":"service","issuer_account":"AEXP"}}"#);
        assert_eq!(serde_json::from_str::<ActivationClaims>(&text).unwrap(), a);
        assert_eq!(a.exporter(), "AEXP");
    }

    #[test]
    fn validation() {
        let now = Timestamp::from_second(10).unwrap();
        let mut a = ActivationClaims::new("AIMP");
        a.data.expires = 5;
        assert_eq!(
            a.validate(now).to_string(),
            "&{Issues:[claim is expired invalid import type: \"unknown\" subject cannot be empty]}"
        );
        a.nats.import_type = ExportType::Stream;
        a.nats.import_subject = "s".into();
        a.data.expires = 0;
        assert!(a.validate(now).is_empty());
    }

    #[test]
    fn hash_ids() {
        assert_eq!(clean_subject("a.b.*.c"), "a.b");
        assert_eq!(clean_subject("*.x"), "_");
        assert_eq!(clean_subject(">"), "_");
        assert_eq!(clean_subject("a.b"), "a.b");
        let mut a = ActivationClaims::new("AIMP");
        assert_eq!(a.hash_id(), None);
        a.data.issuer = "AEXP".into();
        a.nats.import_subject = "a.*".into();
        let expected = data_encoding::BASE32.encode(&Sha256::digest(b"AEXP.AIMP.a"));
        assert_eq!(a.hash_id(), Some(expected));
    }
}
