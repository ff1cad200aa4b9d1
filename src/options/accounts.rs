//! `accounts`, the top-level `mappings`, `system_account` and `no_sys_acc`:
//! multi-tenancy as nats-server's `parseAccounts` reads it.
//!
//! Users of `authorization {}` and anonymous clients belong to the global
//! account [`GLOBAL_ACCOUNT`]; the users of an account block belong to it.
//! These types hold the config as written (names, subjects, weights); the
//! server compiles them into its runtime accounts.

use super::*;

/// The account of `authorization {}` users and of clients without a user.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The system account's name when `system_account` is not set.
pub const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";
/// How long a service export waits for a response before it forgets the
/// request (nats-server's `DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD`).
pub const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// One account of `accounts { NAME { ... } }` (or of `accounts: [NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
pub struct AccountOptions {
    pub name: String,
    /// The account's public nkey (`A...`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    /// Users and nkey users of this account, with the same fields as
    /// `authorization.users`. User names are unique across all accounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
    /// Permissions of this account's users that have none of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_permissions: Option<Permissions>,
    #[serde(skip_serializing_if = "AccountLimits::is_unlimited")]
    pub limits: AccountLimits,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<Export>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<Import>,
    /// Subject mappings applied to what this account's clients publish.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<MappingOptions>,
    /// `jetstream` inside the account: checked and kept; rnats has no
    /// JetStream yet.
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
}

/// `limits { ... }` of an account. `None` (or a negative value in the
/// config, as nats-server reads it) means no limit of the account's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema, Default)]
pub struct AccountLimits {
    /// Client connections of the account on this server at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u64>,
    /// Subscriptions per connection of the account (nats-server counts
    /// them per connection, not per account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_subscriptions: Option<u64>,
    /// Largest payload a client of the account may publish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_payload: Option<u64>,
    /// Leaf node connections of the account (kept for leaf nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_leafnodes: Option<u64>,
}

impl AccountLimits {
    pub fn is_unlimited(&self) -> bool {
        *self == AccountLimits::default()
    }
}

/// What an export offers: messages (stream) or request/reply (service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExportKind {
    #[default]
    Stream,
    Service,
}

/// How many responses a service request may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum ResponseType {
    /// One response (the default).
    #[default]
    Single,
    /// Any number, until an empty message or the threshold.
    Stream,
    /// As `stream`; nats-server treats both the same.
    Chunked,
}

/// One entry of an account's `exports`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Export {
    pub kind: ExportKind,
    pub subject: String,
    /// Accounts allowed to import; public (anyone) when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<String>>,
    /// Services only.
    pub response_type: ResponseType,
    /// Services only: how long a response is waited for.
    #[serde(serialize_with = "ser_duration")]
    #[schemars(with = "String")]
    pub response_threshold: Duration,
    /// Services only: where latency samples go, and how many requests are sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// The token of the subject that must equal the importing account's
    /// name (nkey), 1-based.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_token_position: Option<u32>,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
}

impl Default for Export {
    fn default() -> Export {
        Export::new(ExportKind::Stream, "")
    }
}

impl Export {
    pub fn new(kind: ExportKind, subject: &str) -> Export {
        Export {
            kind,
            subject: subject.to_string(),
            accounts: None,
            response_type: ResponseType::Single,
            response_threshold: DEFAULT_RESPONSE_THRESHOLD,
            latency: None,
            account_token_position: None,
            allow_trace: false,
        }
    }
}

/// `latency: "subject"` or `latency { sampling: 50%, subject: ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Latency {
    /// Percent of requests sampled, 1..=100; 0 means headers-triggered.
    pub sampling: u8,
    pub subject: String,
}

/// One entry of an account's `imports`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
pub struct Import {
    pub kind: ExportKind,
    /// The exporting account.
    pub account: String,
    /// The exported subject (or a subset of it).
    pub subject: String,
    /// Stream: where messages arrive in this account (may reorder wildcards
    /// with `$n` / `{{wildcard(n)}}`). Service: the subject this account's
    /// clients send requests to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Stream only: prepended to the subject (a `.` is added if missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Service only: tell the exporter who is asking (full client info in
    /// the `Nats-Request-Info` header).
    #[serde(skip_serializing_if = "is_false")]
    pub share: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
}

/// One source of `mappings` and its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MappingOptions {
    pub source: String,
    pub destinations: Vec<MappingDestination>,
}

/// A mapping destination: subject, weight in percent (100 when alone and
/// not given), and the cluster it applies in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MappingDestination {
    pub subject: String,
    pub weight: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

impl MappingOptions {
    /// The destinations as the mapping compiler takes them.
    pub fn map_dests(&self) -> Vec<crate::mapping::MapDest> {
        self.destinations
            .iter()
            .map(|d| crate::mapping::MapDest {
                subject: d.subject.clone(),
                weight: d.weight,
                cluster: d.cluster.clone(),
            })
            .collect()
    }
}
