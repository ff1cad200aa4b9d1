//! An account's imports of other accounts' streams and services, with the
//! activation token when the export requires one.

use serde::{Deserialize, Serialize};

use super::decode::decode_activation;
use super::exports::ExportType;
use super::types::{is_contained_in, is_false, renaming_to_subject, validate_renaming_subject, validate_subject};
use super::ValidationResults;
use crate::server::errors::go_quote;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Import {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The subject as the publisher sees it: the exporter's for a stream, the
    /// importer's (requester's) for a service.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// The exporting account's public key.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// The activation token (a JWT), when the export requires one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// Deprecated: use `local_subject`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// The local subject, with `$<n>` references to the subject's wildcards.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_subject: String,
    #[serde(rename = "type", skip_serializing_if = "ExportType::is_unknown")]
    pub import_type: ExportType,
    #[serde(skip_serializing_if = "is_false")]
    pub share: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
}

impl Import {
    pub fn is_service(&self) -> bool {
        self.import_type == ExportType::Service
    }

    pub fn is_stream(&self) -> bool {
        self.import_type == ExportType::Stream
    }

    /// Go's `Import.Validate`, for the account `account_key` holding it. The
    /// activation token is decoded and its signature verified, but its times
    /// are not checked here (the server checks them when it wires the import).
    pub fn validate(&self, account_key: &str, vr: &mut ValidationResults) {
        if !self.is_service() && !self.is_stream() {
            vr.add_error(format!("invalid import type: {}", go_quote(self.import_type.as_str())));
        }
        if self.is_service() && self.allow_trace {
            vr.add_error("AllowTrace only valid for stream import");
        }
        if self.account.is_empty() {
            vr.add_error("account to import from is not specified");
        }
        if !self.to.is_empty() {
            vr.add_warning("the field to has been deprecated (use LocalSubject instead)");
        }
        validate_subject(&self.subject, vr);
        if !self.local_subject.is_empty() {
            validate_renaming_subject(&self.local_subject, &self.subject, vr);
            if !self.to.is_empty() {
                vr.add_error("Local Subject replaces To");
            }
        }
        if self.share && !self.is_service() {
            vr.add_error(format!(
                "sharing information (for latency tracking) is only valid for services: {}",
                go_quote(&self.subject)
            ));
        }
        if self.token.is_empty() {
            return;
        }
        let activation = match decode_activation(&self.token) {
            Ok(a) => a,
            Err(_) => {
                vr.add_error(format!("import {} contains an invalid activation token", go_quote(&self.subject)));
                return;
            }
        };
        if activation.data.issuer != self.account && activation.nats.issuer_account != self.account {
            vr.add_error(format!("activation token doesn't match account for import {}", go_quote(&self.subject)));
        }
        if activation.data.subject != account_key {
            vr.add_error(format!(
                "activation token doesn't match account it is being included in, {}",
                go_quote(&self.subject)
            ));
        }
        if activation.nats.import_type != self.import_type {
            vr.add_error(format!(
                "mismatch between token import type {} and type of import {}",
                activation.nats.import_type.as_str(),
                self.import_type.as_str()
            ));
        }
        activation.validate_without_times(vr);
        let subject = if self.is_service() && !self.to.is_empty() { &self.to } else { &self.subject };
        if !is_contained_in(subject, &activation.nats.import_subject) {
            vr.add_error(format!(
                "activation token import subject {} doesn't match import {}",
                go_quote(&activation.nats.import_subject),
                go_quote(&self.subject)
            ));
        }
    }
}

/// Go's `Imports.Validate`: each import, plus overlapping service imports
/// from one account; `null_entries` counts `null`s the list held.
pub(crate) fn validate_imports(imports: &[Import], null_entries: usize, account_key: &str, vr: &mut ValidationResults) {
    for _ in 0..null_entries {
        vr.add_error("null import is not allowed");
    }
    // Local subjects of service imports, per exporting account.
    let mut seen: Vec<(&str, String)> = Vec::new();
    for i in imports {
        if i.is_service() {
            let mut local = i.to.clone();
            if local.is_empty() {
                local = renaming_to_subject(&i.local_subject);
            }
            if local.is_empty() {
                local = i.subject.clone();
            }
            for (account, other) in &seen {
                if *account == i.account.as_str() && (is_contained_in(&local, other) || is_contained_in(other, &local))
                {
                    vr.add_error(format!(
                        "overlapping subject namespace for {} and {} in same account {}",
                        go_quote(&local),
                        go_quote(other),
                        go_quote(&i.account)
                    ));
                }
            }
            if seen.iter().any(|(a, s)| *a == i.account.as_str() && *s == local) {
                vr.add_error(format!(
                    "overlapping subject namespace for {} in account {}",
                    go_quote(&local),
                    go_quote(&i.account)
                ));
            } else {
                seen.push((&i.account, local));
            }
        }
        i.validate(account_key, vr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::jwt::{ActivationClaims, Claim};
    use nkeys::KeyPair;

    fn service(subject: &str, account: &str) -> Import {
        Import {
            subject: subject.into(),
            account: account.into(),
            import_type: ExportType::Service,
            ..Default::default()
        }
    }

    fn errors(imports: &[Import], holder: &str) -> Vec<String> {
        let mut vr = ValidationResults::new();
        validate_imports(imports, 0, holder, &mut vr);
        vr.errors().into_iter().map(String::from).collect()
    }

    #[test]
    fn import_rules() {
        let mut i = service("a", "");
        i.allow_trace = true;
        i.local_subject = "b".into();
        i.to = "c".into();
        assert_eq!(
            errors(&[i], "AH"),
            [
                "AllowTrace only valid for stream import",
                "account to import from is not specified",
                "Local Subject replaces To"
            ]
        );
        let mut s = service("a.*", "AX");
        s.import_type = ExportType::Stream;
        s.share = true;
        s.local_subject = "b.$1".into();
        assert_eq!(
            errors(&[s], "AH"),
            ["sharing information (for latency tracking) is only valid for services: \"a.*\""]
        );
        let none = Import { subject: "a".into(), account: "AX".into(), ..Default::default() };
        assert_eq!(errors(&[none], "AH"), ["invalid import type: \"unknown\""]);
    }

    #[test]
    fn overlapping_service_imports_from_one_account() {
        assert_eq!(
            errors(&[service("a.>", "AX"), service("a.b", "AX")], "AH"),
            ["overlapping subject namespace for \"a.b\" and \"a.>\" in same account \"AX\""]
        );
        assert_eq!(
            errors(&[service("a.b", "AX"), service("a.b", "AX")], "AH"),
            [
                "overlapping subject namespace for \"a.b\" and \"a.b\" in same account \"AX\"",
                "overlapping subject namespace for \"a.b\" in account \"AX\""
            ]
        );
        assert!(errors(&[service("a.>", "AX"), service("a.b", "AY")], "AH").is_empty());
    }

    #[test]
    fn activation_tokens_are_checked_against_the_import() {
        let exporter = KeyPair::new_account();
        let importer = KeyPair::new_account().public_key();
        let mut act = ActivationClaims::new(&importer);
        act.nats.import_subject = "svc.>".into();
        act.nats.import_type = ExportType::Service;
        let token = act.encode(&exporter).unwrap();
        let mut i = service("svc.x", &exporter.public_key());
        i.token = token.clone();
        assert!(errors(std::slice::from_ref(&i), &importer).is_empty());
        // Held by another account, for another exporter, as another type, for another subject.
        let other = KeyPair::new_account().public_key();
        let mut wrong = i.clone();
        wrong.account = other.clone();
        wrong.import_type = ExportType::Stream;
        wrong.subject = "other".into();
        assert_eq!(
            errors(&[wrong], &other),
            [
                "activation token doesn't match account for import \"other\"",
                "activation token doesn't match account it is being included in, \"other\"",
                "mismatch between token import type service and type of import stream",
                "activation token import subject \"svc.>\" doesn't match import \"other\""
            ]
        );
        i.token = format!("{token}x");
        assert_eq!(errors(&[i], &importer), ["import \"svc.x\" contains an invalid activation token"]);
    }

    #[test]
    fn expired_activations_pass_import_validation() {
        let exporter = KeyPair::new_account();
        let importer = KeyPair::new_account().public_key();
        let mut act = ActivationClaims::new(&importer);
        act.nats.import_subject = "s".into();
        act.nats.import_type = ExportType::Stream;
        act.data.expires = 1;
        let mut i = service("s", &exporter.public_key());
        i.import_type = ExportType::Stream;
        i.token = act.encode(&exporter).unwrap();
        assert!(errors(&[i], &importer).is_empty());
    }
}
