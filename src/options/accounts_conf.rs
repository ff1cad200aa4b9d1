//! How `--dump` writes accounts and mappings: in the shape a config file
//! takes them (`accounts { A { exports: [{service: ...}] } }`, `mappings {
//! SRC: DEST }`), so a dump read back as a config gives the same options.
//! The typed model ([`AccountOptions`], [`Export`], ...) is shaped for the
//! server; these views are shaped for the file.

use std::collections::BTreeMap;

use super::*;

/// `accounts`: name → account, as `accounts { NAME { ... } }` writes it.
pub(super) fn ser_accounts<S: serde::Serializer>(accounts: &[AccountOptions], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(accounts.len()))?;
    for a in accounts {
        m.serialize_entry(&a.name, &AccountConf::from(a))?;
    }
    m.end()
}

/// `mappings`: source → destination(s), in config order.
pub(super) fn ser_mappings<S: serde::Serializer>(mappings: &[MappingOptions], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(mappings.len()))?;
    for mapping in mappings {
        m.serialize_entry(&mapping.source, &MappingConf::from(mapping))?;
    }
    m.end()
}

/// The schema of the `accounts` dump (what [`ser_accounts`] writes).
pub(super) type AccountsConf = BTreeMap<String, AccountConf>;
/// The schema of the `mappings` dump (what [`ser_mappings`] writes).
pub(super) type MappingsConf = BTreeMap<String, MappingConf>;

/// One account as a config file writes it.
#[derive(Serialize, JsonSchema)]
pub(super) struct AccountConf {
    #[serde(skip_serializing_if = "Option::is_none")]
    nkey: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_permissions: Option<Permissions>,
    #[serde(skip_serializing_if = "AccountLimits::is_unlimited")]
    limits: AccountLimits,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exports: Vec<ExportConf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imports: Vec<ImportConf>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    mappings: MappingsConf,
    #[serde(skip_serializing_if = "is_false")]
    jetstream: bool,
}

impl From<&AccountOptions> for AccountConf {
    fn from(a: &AccountOptions) -> Self {
        AccountConf {
            nkey: a.nkey.clone(),
            users: a.users.clone(),
            default_permissions: a.default_permissions.clone(),
            limits: a.limits,
            exports: a.exports.iter().map(ExportConf::from).collect(),
            imports: a.imports.iter().map(ImportConf::from).collect(),
            mappings: a.mappings.iter().map(|m| (m.source.clone(), MappingConf::from(m))).collect(),
            jetstream: a.jetstream,
        }
    }
}

/// An export as written: `{stream: SUBJ}` or `{service: SUBJ, ...}`; the
/// response settings only where they differ from the defaults.
#[derive(Serialize, JsonSchema)]
pub(super) struct ExportConf {
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_type: Option<ResponseType>,
    /// A Go duration string.
    #[serde(skip_serializing_if = "Option::is_none")]
    response_threshold: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency: Option<LatencyConf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_token_position: Option<u32>,
    #[serde(skip_serializing_if = "is_false")]
    allow_trace: bool,
}

impl From<&Export> for ExportConf {
    fn from(e: &Export) -> Self {
        let service = e.kind == ExportKind::Service;
        ExportConf {
            stream: (!service).then(|| e.subject.clone()),
            service: service.then(|| e.subject.clone()),
            accounts: e.accounts.clone(),
            response_type: (service && e.response_type != ResponseType::Single).then_some(e.response_type),
            response_threshold: (service && e.response_threshold != DEFAULT_RESPONSE_THRESHOLD)
                .then(|| format_duration(e.response_threshold)),
            latency: e.latency.as_ref().filter(|_| service).map(|l| LatencyConf {
                sampling: if l.sampling == 0 { "headers".into() } else { format!("{}%", l.sampling) },
                subject: l.subject.clone(),
            }),
            account_token_position: e.account_token_position,
            allow_trace: e.allow_trace,
        }
    }
}

/// `latency { sampling: "50%" | "headers", subject }`.
#[derive(Serialize, JsonSchema)]
pub(super) struct LatencyConf {
    sampling: String,
    subject: String,
}

/// An import as written: `{stream|service: {account, subject}, to, prefix, share}`.
#[derive(Serialize, JsonSchema)]
pub(super) struct ImportConf {
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<ImportSourceConf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<ImportSourceConf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    share: bool,
    #[serde(skip_serializing_if = "is_false")]
    allow_trace: bool,
}

#[derive(Serialize, JsonSchema)]
pub(super) struct ImportSourceConf {
    account: String,
    subject: String,
}

impl From<&Import> for ImportConf {
    fn from(i: &Import) -> Self {
        let source = ImportSourceConf { account: i.account.clone(), subject: i.subject.clone() };
        let (stream, service) = match i.kind {
            ExportKind::Stream => (Some(source), None),
            ExportKind::Service => (None, Some(source)),
        };
        ImportConf {
            stream,
            service,
            to: i.to.clone(),
            prefix: i.prefix.clone(),
            share: i.share,
            allow_trace: i.allow_trace,
        }
    }
}

/// A mapping's destinations: one subject, or the weighted list.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum MappingConf {
    Subject(String),
    Weighted(Vec<MappingDestinationConf>),
}

#[derive(Serialize, JsonSchema)]
pub(super) struct MappingDestinationConf {
    destination: String,
    weight: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
}

impl From<&MappingOptions> for MappingConf {
    fn from(m: &MappingOptions) -> Self {
        match m.destinations.as_slice() {
            [d] if d.weight == 100 && d.cluster.is_none() => MappingConf::Subject(d.subject.clone()),
            list => MappingConf::Weighted(
                list.iter()
                    .map(|d| MappingDestinationConf {
                        destination: d.subject.clone(),
                        weight: d.weight,
                        cluster: d.cluster.clone(),
                    })
                    .collect(),
            ),
        }
    }
}
