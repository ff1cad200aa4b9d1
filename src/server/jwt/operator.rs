//! Operator claims: the root of trust (its signing keys, system account,
//! account server URL, minimum server version).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::claims::{ClaimsData, GenericFields};
use super::encode::Claim;
use super::keys::KeyKind;
use super::types::{is_false, split_url, StringList};
use super::{JwtError, ValidationResults};
use crate::server::errors::go_quote;

/// The `nats` object of an operator JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Operator {
    /// Operator keys that may sign accounts on the operator's behalf.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: StringList,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_server_url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operator_service_urls: StringList,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    /// `major.minor.update`: the oldest server this operator accepts.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub assert_server_version: String,
    /// Accounts must be signed by a signing key, not the operator's own key.
    #[serde(skip_serializing_if = "is_false")]
    pub strict_signing_key_usage: bool,
    #[serde(flatten)]
    pub generic: GenericFields,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorClaims {
    #[serde(flatten)]
    pub data: ClaimsData,
    #[serde(default)]
    pub nats: Operator,
}

/// Go's `ParseServerVersion` (`""` is 0.0.0).
pub fn parse_server_version(version: &str) -> Result<(i64, i64, i64), String> {
    if version.is_empty() {
        return Ok((0, 0, 0));
    }
    let parts: Vec<&str> = version.split('.').collect();
    if parts.len() != 3 {
        return Err("asserted server version must be of the form <major>.<minor>.<update>".into());
    }
    let mut n = [0i64; 3];
    for (i, p) in parts.iter().enumerate() {
        n[i] = go_atoi(p).ok_or_else(|| format!("asserted server version cant parse {p} to int"))?;
    }
    if n.iter().any(|&x| x < 0) {
        return Err(format!("asserted server version can'b contain negative values: {version}"));
    }
    Ok((n[0], n[1], n[2]))
}

/// Go's `strconv.Atoi`: optional sign, decimal digits.
fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn validate_account_server_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    match split_url(url) {
        Err(e) => Err(format!("error parsing account server url: {e}")),
        Ok(u) if u.scheme.is_empty() => Err(format!("account server url {} requires a protocol", go_quote(url))),
        Ok(_) => Ok(()),
    }
}

/// Go's `ValidateOperatorServiceURL`: `nats`, `tls`, `ws` or `wss`, no
/// credentials, no path.
pub fn validate_operator_service_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    let q = go_quote(url);
    let u = split_url(url).map_err(|e| format!("error parsing operator service url {q}: {e}"))?;
    if u.has_user {
        return Err(format!("operator service url {q} - credentials are not supported"));
    }
    if !u.path.is_empty() {
        return Err(format!("operator service url {q} - paths are not supported"));
    }
    match u.scheme.to_lowercase().as_str() {
        "nats" | "tls" | "ws" | "wss" => Ok(()),
        _ => Err(format!("operator service url {q} - protocol not supported (only 'nats', 'tls', 'ws', 'wss' only)")),
    }
}

impl OperatorClaims {
    /// A self-issued operator, as Go's `NewOperatorClaims`.
    pub fn new(subject: &str) -> OperatorClaims {
        let mut o = OperatorClaims::default();
        o.data.subject = subject.to_string();
        o.data.issuer = subject.to_string();
        o
    }

    /// Go's `OperatorClaims.DidSign`: did this operator (its key, unless
    /// strict, or one of its signing keys) issue `claims`?
    pub fn did_sign(&self, claims: &ClaimsData) -> bool {
        if claims.issuer == self.data.subject {
            return !self.nats.strict_signing_key_usage || claims.subject == self.data.subject;
        }
        self.nats.signing_keys.contains(&claims.issuer)
    }

    /// The server's check of `assert_server_version` against its own
    /// version (`validateTrustedOperators`), with its texts.
    pub fn check_server_version(&self, server_version: &str) -> Result<(), String> {
        let subject = &self.data.subject;
        let asserted = &self.nats.assert_server_version;
        let (major, minor, update) = parse_server_version(asserted)
            .map_err(|e| format!("operator {subject} expects version {asserted} got error instead: {e}"))?;
        let (s_major, s_minor, s_update) = parse_server_version(server_version).unwrap_or((0, 0, 0));
        if major > s_major {
            return Err(format!("operator {subject} expected major version {major} > server major version {s_major}"));
        }
        if s_major > major {
            return Ok(());
        }
        if minor > s_minor {
            return Err(format!("operator {subject} expected minor version {minor} > server minor version {s_minor}"));
        }
        if s_minor > minor {
            return Ok(());
        }
        if update > s_update {
            return Err(format!(
                "operator {subject} expected update version {update} > server update version {s_update}"
            ));
        }
        Ok(())
    }
}

impl Claim for OperatorClaims {
    fn data(&self) -> &ClaimsData {
        &self.data
    }

    fn data_mut(&mut self) -> &mut ClaimsData {
        &mut self.data
    }

    fn expected_prefixes(&self) -> Option<&'static [KeyKind]> {
        Some(&[KeyKind::Operator])
    }

    fn validate(&self, now: Timestamp) -> ValidationResults {
        let mut vr = ValidationResults::new();
        self.data.validate(&mut vr, now);
        let o = &self.nats;
        if let Err(e) = validate_account_server_url(&o.account_server_url) {
            vr.add_error(e);
        }
        for url in &o.operator_service_urls {
            if let Err(e) = validate_operator_service_url(url) {
                vr.add_error(e);
            }
        }
        for k in &o.signing_keys {
            if !KeyKind::Operator.is_valid(k) {
                vr.add_error(format!("{k} is not an operator public key"));
            }
        }
        if !o.system_account.is_empty() && !KeyKind::Account.is_valid(&o.system_account) {
            vr.add_error(format!("{} is not an account public key", o.system_account));
        }
        if let Err(e) = parse_server_version(&o.assert_server_version) {
            vr.add_error(format!("assert server version error: {e}"));
        }
        vr
    }

    fn prepare_encode(&mut self) -> Result<(), JwtError> {
        if !KeyKind::Operator.is_valid(&self.data.subject) {
            return Err(JwtError::Encode("expected subject to be an operator public key".into()));
        }
        validate_account_server_url(&self.nats.account_server_url).map_err(JwtError::Encode)?;
        self.nats.generic.claim_type = "operator".into();
        Ok(())
    }

    fn set_version(&mut self, version: i64) {
        self.nats.generic.version = version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nkeys::KeyPair;

    fn now() -> Timestamp {
        Timestamp::from_second(1_000).unwrap()
    }

    #[test]
    fn did_sign_follows_strict_signing_key_usage() {
        let op = KeyPair::new_operator().public_key();
        let sk = KeyPair::new_operator().public_key();
        let mut o = OperatorClaims::new(&op);
        o.nats.signing_keys = vec![sk.clone()];
        let by = |issuer: &str, subject: &str| ClaimsData {
            issuer: issuer.into(),
            subject: subject.into(),
            ..Default::default()
        };
        assert!(o.did_sign(&by(&op, "AACC")));
        assert!(o.did_sign(&by(&sk, "AACC")));
        assert!(!o.did_sign(&by("OOTHER", "AACC")));
        o.nats.strict_signing_key_usage = true;
        assert!(!o.did_sign(&by(&op, "AACC")));
        assert!(o.did_sign(&by(&op, &op)), "the operator still signs itself");
        assert!(o.did_sign(&by(&sk, "AACC")));
    }

    #[test]
    fn validation_texts() {
        let mut o = OperatorClaims::new(&KeyPair::new_operator().public_key());
        assert!(o.validate(now()).is_empty());
        o.nats.account_server_url = "localhost/jwt".into();
        o.nats.operator_service_urls =
            vec!["nats://h:4222".into(), "http://h".into(), "nats://u:p@h".into(), "tls://h/path".into()];
        o.nats.signing_keys = vec!["AX".into()];
        o.nats.system_account = "UX".into();
        o.nats.assert_server_version = "2.x.0".into();
        assert_eq!(
            o.validate(now()).errors(),
            [
                "account server url \"localhost/jwt\" requires a protocol",
                "operator service url \"http://h\" - protocol not supported (only 'nats', 'tls', 'ws', 'wss' only)",
                "operator service url \"nats://u:p@h\" - credentials are not supported",
                "operator service url \"tls://h/path\" - paths are not supported",
                "AX is not an operator public key",
                "UX is not an account public key",
                "assert server version error: asserted server version cant parse x to int"
            ]
        );
    }

    #[test]
    fn server_version_assertions() {
        let mut o = OperatorClaims::new("OX");
        for (asserted, ok) in [("", true), ("2.15.1", true), ("2.10.0", true), ("1.99.99", true), ("2.15.2", false)] {
            o.nats.assert_server_version = asserted.into();
            assert_eq!(o.check_server_version("2.15.1").is_ok(), ok, "{asserted}");
        }
        o.nats.assert_server_version = "3.0.0".into();
        assert_eq!(
            o.check_server_version("2.15.1").unwrap_err(),
            "operator OX expected major version 3 > server major version 2"
        );
        o.nats.assert_server_version = "2.16".into();
        assert_eq!(
            o.check_server_version("2.15.1").unwrap_err(),
            "operator OX expects version 2.16 got error instead: \
             asserted server version must be of the form <major>.<minor>.<update>"
        );
        assert_eq!(
            parse_server_version("1.-2.3").unwrap_err(),
            "asserted server version can'b contain negative values: 1.-2.3"
        );
    }
}
