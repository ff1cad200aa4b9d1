//! Claims of any type read as a map (Go's `GenericClaims`): what the
//! directory resolver and `$SYS.REQ.CLAIMS.DELETE` requests decode.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::claims::{ClaimType, ClaimsData};
use super::encode::Claim;
use super::keys::KeyKind;
use super::{JwtError, ValidationResults, LIB_VERSION};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenericClaims {
    #[serde(flatten)]
    pub data: ClaimsData,
    /// The `nats` object as it is.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub nats: Map<String, Value>,
}

impl GenericClaims {
    pub fn new(subject: &str) -> GenericClaims {
        let mut g = GenericClaims::default();
        g.data.subject = subject.to_string();
        g
    }

    /// The type named in `nats.type` (Go's `GenericClaims.ClaimType`).
    pub fn claim_type(&self) -> ClaimType {
        let named = match self.nats.get("type") {
            Some(v) => v.as_str(),
            None => self.nats.get("nats").and_then(|n| n.get("type")).and_then(Value::as_str),
        };
        named.map_or(ClaimType::Generic, ClaimType::parse)
    }
}

impl Claim for GenericClaims {
    fn data(&self) -> &ClaimsData {
        &self.data
    }

    fn data_mut(&mut self) -> &mut ClaimsData {
        &mut self.data
    }

    fn expected_prefixes(&self) -> Option<&'static [KeyKind]> {
        None
    }

    fn validate(&self, now: Timestamp) -> ValidationResults {
        let mut vr = ValidationResults::new();
        self.data.validate(&mut vr, now);
        vr
    }

    fn prepare_encode(&mut self) -> Result<(), JwtError> {
        Ok(())
    }

    fn set_version(&mut self, version: i64) {
        debug_assert_eq!(version, LIB_VERSION);
        self.nats.insert("version".into(), Value::from(version));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_comes_from_the_nats_map() {
        let g: GenericClaims =
            serde_json::from_str(r#"{"sub":"OX","nats":{"accounts":["A1"],"type":"delete"}}"#).unwrap();
        assert_eq!(g.claim_type(), ClaimType::Generic);
        assert_eq!(g.nats["accounts"][0], "A1");
        let g: GenericClaims = serde_json::from_str(r#"{"sub":"UX","nats":{"type":"user"}}"#).unwrap();
        assert_eq!(g.claim_type(), ClaimType::User);
        assert_eq!(GenericClaims::new("X").claim_type(), ClaimType::Generic);
    }
}
