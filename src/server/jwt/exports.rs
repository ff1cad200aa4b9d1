//! An account's exports: streams and services other accounts may import,
//! public or by activation token.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::types::{has_wildcards, is_contained_in, is_false, is_zero, validate_subject, Info};
use super::{ActivationClaims, RevocationList, ValidationResults};
use crate::server::errors::go_quote;

/// `stream` or `service` (`Unknown` when missing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ExportType {
    #[default]
    Unknown,
    Stream,
    Service,
}

impl ExportType {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportType::Unknown => "unknown",
            ExportType::Stream => "stream",
            ExportType::Service => "service",
        }
    }

    pub(crate) fn is_unknown(&self) -> bool {
        *self == ExportType::Unknown
    }
}

impl Serialize for ExportType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ExportType::Unknown => Err(serde::ser::Error::custom("unknown export type")),
            t => s.serialize_str(t.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for ExportType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ExportType, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "stream" => Ok(ExportType::Stream),
            "service" => Ok(ExportType::Service),
            _ => Err(D::Error::custom(format!("unknown export type {}", go_quote(&text)))),
        }
    }
}

/// The response types of a service export.
pub const RESPONSE_TYPE_SINGLETON: &str = "Singleton";
pub const RESPONSE_TYPE_STREAM: &str = "Stream";
pub const RESPONSE_TYPE_CHUNKED: &str = "Chunked";

/// A latency sampling rate: 1 to 100 percent, or `0` for "headers" (the
/// requester's headers decide).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SamplingRate(pub i64);

impl Serialize for SamplingRate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            0 => s.serialize_str("headers"),
            1..=100 => s.serialize_i64(self.0),
            _ => Err(serde::ser::Error::custom("unknown sampling rate")),
        }
    }
}

impl<'de> Deserialize<'de> for SamplingRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SamplingRate, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Number(i64),
            Text(String),
        }
        match Form::deserialize(d)? {
            Form::Number(n) => Ok(SamplingRate(n)),
            Form::Text(t) if t.eq_ignore_ascii_case("headers") => Ok(SamplingRate(0)),
            Form::Text(t) => Err(D::Error::custom(format!("invalid sampling rate {}", go_quote(&t)))),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceLatency {
    pub sampling: SamplingRate,
    pub results: String,
}

impl ServiceLatency {
    fn validate(&self, vr: &mut ValidationResults) {
        if self.sampling.0 != 0 && !(1..=100).contains(&self.sampling.0) {
            vr.add_error("sampling percentage needs to be between 1-100");
        }
        validate_subject(&self.results, vr);
        if has_wildcards(&self.results) {
            vr.add_error("results subject can not contain wildcards");
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Export {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(rename = "type", skip_serializing_if = "ExportType::is_unknown")]
    pub export_type: ExportType,
    /// Importers need an activation token.
    #[serde(skip_serializing_if = "is_false")]
    pub token_req: bool,
    /// Revoked activations, by importing account (or `*`).
    #[serde(skip_serializing_if = "RevocationList::is_empty")]
    pub revocations: RevocationList,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub response_type: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub response_threshold: i64,
    #[serde(rename = "service_latency", skip_serializing_if = "Option::is_none")]
    pub latency: Option<ServiceLatency>,
    /// The 1-based token of the subject that must be the importer's key.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub account_token_position: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub advertise: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
    #[serde(flatten)]
    pub info: Info,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl Export {
    pub fn is_service(&self) -> bool {
        self.export_type == ExportType::Service
    }

    pub fn is_stream(&self) -> bool {
        self.export_type == ExportType::Stream
    }

    pub fn is_single_response(&self) -> bool {
        self.is_service() && (self.response_type == RESPONSE_TYPE_SINGLETON || self.response_type.is_empty())
    }

    pub fn is_chunked_response(&self) -> bool {
        self.is_service() && self.response_type == RESPONSE_TYPE_CHUNKED
    }

    pub fn is_stream_response(&self) -> bool {
        self.is_service() && self.response_type == RESPONSE_TYPE_STREAM
    }

    /// True if the export revoked this activation (by the importer's key and
    /// the activation's issue time). Claims without subject or `iat` count
    /// as revoked, as in Go.
    pub fn is_claim_revoked(&self, activation: &ActivationClaims) -> bool {
        if activation.data.issued_at == 0 || activation.data.subject.is_empty() {
            return true;
        }
        self.revocations.is_revoked(&activation.data.subject, activation.data.issued_at)
    }

    pub(crate) fn validate(&self, vr: &mut ValidationResults) {
        if !self.is_service() && !self.is_stream() {
            vr.add_error(format!("invalid export type: {}", go_quote(self.export_type.as_str())));
        }
        if self.is_service() && !self.is_single_response() && !self.is_chunked_response() && !self.is_stream_response()
        {
            vr.add_error(format!("invalid response type for service: {}", go_quote(&self.response_type)));
        }
        if self.is_stream() {
            if !self.response_type.is_empty() {
                vr.add_error(format!("invalid response type for stream: {}", go_quote(&self.response_type)));
            }
            if self.allow_trace {
                vr.add_error("AllowTrace only valid for service export");
            }
        }
        if let Some(latency) = &self.latency {
            if !self.is_service() {
                vr.add_error("latency tracking only permitted for services");
            }
            latency.validate(vr);
        }
        if self.response_threshold < 0 {
            vr.add_error("negative response threshold is invalid");
        }
        if self.response_threshold > 0 && !self.is_service() {
            vr.add_error("response threshold only valid for services");
        }
        validate_subject(&self.subject, vr);
        if self.account_token_position > 0 {
            if !has_wildcards(&self.subject) {
                vr.add_error(format!(
                    "Account Token Position can only be used with wildcard subjects: {}",
                    self.subject
                ));
            } else {
                let tokens: Vec<&str> = self.subject.split('.').collect();
                let pos = self.account_token_position;
                if pos > tokens.len() as u64 {
                    vr.add_error(format!("Account Token Position {pos} exceeds length of subject '{}'", self.subject));
                } else if tokens[pos as usize - 1] != "*" {
                    vr.add_error(format!(
                        "Account Token Position {pos} matches '{}' but must match a * in: {}",
                        tokens[pos as usize - 1],
                        self.subject
                    ));
                }
            }
        }
        self.info.validate(vr);
    }
}

/// Go's `isContainedIn`: an export subject inside another of the same kind.
fn overlapping(kind: ExportType, subjects: &[&str], vr: &mut ValidationResults) {
    // Ordered by the containing subject, first contained one kept (Go keeps
    // the first it meets in a map, printed in map order).
    let mut found: Vec<(&str, &str)> = Vec::new();
    for (i, inner) in subjects.iter().enumerate() {
        for (j, outer) in subjects.iter().enumerate() {
            if i != j && is_contained_in(inner, outer) && !found.iter().any(|(o, _)| o == outer) {
                found.push((outer, inner));
            }
        }
    }
    for (outer, inner) in found {
        vr.add_error(format!(
            "{} export subject {} already exports {}",
            kind.as_str(),
            go_quote(outer),
            go_quote(inner)
        ));
    }
}

/// Go's `Exports.Validate`; `null_entries` counts `null`s the list held.
pub(crate) fn validate_exports(exports: &[Export], null_entries: usize, vr: &mut ValidationResults) {
    for _ in 0..null_entries {
        vr.add_error("null export is not allowed");
    }
    let mut services = Vec::new();
    let mut streams = Vec::new();
    for e in exports {
        if e.is_service() {
            services.push(e.subject.as_str());
        } else {
            streams.push(e.subject.as_str());
        }
        e.validate(vr);
    }
    overlapping(ExportType::Service, &services, vr);
    overlapping(ExportType::Stream, &streams, vr);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(exports: &[Export]) -> Vec<String> {
        let mut vr = ValidationResults::new();
        validate_exports(exports, 0, &mut vr);
        vr.errors().into_iter().map(String::from).collect()
    }

    fn service(subject: &str) -> Export {
        Export { subject: subject.into(), export_type: ExportType::Service, ..Default::default() }
    }

    #[test]
    fn export_types_and_sampling_in_json() {
        let e: Export = serde_json::from_str(
            r#"{"name":"x","subject":"$SYS.REQ.ACCOUNT.*.*","type":"service","response_type":"Stream",
                "account_token_position":4,"service_latency":{"sampling":"Headers","results":"lat"},
                "description":"d","info_url":"https://x.example/"}"#,
        )
        .unwrap();
        assert!(e.is_stream_response());
        assert_eq!(e.latency.as_ref().unwrap().sampling, SamplingRate(0));
        assert_eq!(e.info.description, "d");
        assert!(errors(std::slice::from_ref(&e)).is_empty());
        let text = serde_json::to_string(&e).unwrap();
        assert!(text.contains(r#""service_latency":{"sampling":"headers","results":"lat"}"#), "{text}");
        assert_eq!(serde_json::from_str::<Export>(&text).unwrap(), e);
        let err = serde_json::from_str::<Export>(r#"{"type":"queue"}"#).unwrap_err();
        assert!(err.to_string().starts_with("unknown export type \"queue\""), "{err}");
        let s: ServiceLatency = serde_json::from_str(r#"{"sampling":50,"results":"r"}"#).unwrap();
        assert_eq!(s.sampling, SamplingRate(50));
    }

    #[test]
    fn export_rules() {
        let mut stream = service("a.>");
        stream.export_type = ExportType::Stream;
        stream.response_type = "Singleton".into();
        stream.allow_trace = true;
        stream.response_threshold = 5;
        assert_eq!(
            errors(&[stream]),
            [
                "invalid response type for stream: \"Singleton\"",
                "AllowTrace only valid for service export",
                "response threshold only valid for services"
            ]
        );
        let mut bad = service("a.b");
        bad.response_type = "Many".into();
        bad.account_token_position = 2;
        bad.latency = Some(ServiceLatency { sampling: SamplingRate(101), results: "r.*".into() });
        assert_eq!(
            errors(&[bad]),
            [
                "invalid response type for service: \"Many\"",
                "sampling percentage needs to be between 1-100",
                "results subject can not contain wildcards",
                "Account Token Position can only be used with wildcard subjects: a.b"
            ]
        );
        let mut pos = service("a.*.b.>");
        pos.account_token_position = 3;
        assert_eq!(errors(&[pos.clone()]), ["Account Token Position 3 matches 'b' but must match a * in: a.*.b.>"]);
        pos.account_token_position = 9;
        assert_eq!(errors(&[pos]), ["Account Token Position 9 exceeds length of subject 'a.*.b.>'"]);
        let none = Export { subject: "x".into(), ..Default::default() };
        assert_eq!(errors(&[none]), ["invalid export type: \"unknown\""]);
    }

    #[test]
    fn overlapping_exports_of_one_kind() {
        assert_eq!(
            errors(&[service("a.>"), service("a.b")]),
            ["service export subject \"a.>\" already exports \"a.b\""]
        );
        let mut stream = service("a.b");
        stream.export_type = ExportType::Stream;
        assert!(errors(&[service("a.>"), stream]).is_empty());
        let mut vr = ValidationResults::new();
        validate_exports(&[], 2, &mut vr);
        assert_eq!(vr.errors(), ["null export is not allowed", "null export is not allowed"]);
    }

    #[test]
    fn activation_revocation_by_importer() {
        let mut e = service("svc");
        e.revocations.revoke("AIMPORTER", 100);
        let mut act = ActivationClaims::default();
        act.data.subject = "AIMPORTER".into();
        act.data.issued_at = 100;
        assert!(e.is_claim_revoked(&act));
        act.data.issued_at = 101;
        assert!(!e.is_claim_revoked(&act));
        act.data.issued_at = 0;
        assert!(e.is_claim_revoked(&act));
    }
}
