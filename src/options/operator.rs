//! Operator mode: `operator`, `trusted`, `resolver`, `resolver_preload` and
//! `resolver_pinned_accounts`, as nats-server's `opts.go` reads them. The
//! JWTs are kept as text (checked when the config is read); the server
//! decodes them again when it builds its trust and resolver.

use super::*;

/// The operator-mode settings; operator mode is on when [`is_on`](Self::is_on).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
pub struct OperatorOptions {
    /// Operator JWTs (read from their files, or given inline).
    #[serde(rename = "operator", skip_serializing_if = "Vec::is_empty")]
    pub operators: Vec<String>,
    /// `trusted`: operator public keys accounts may be issued by.
    #[serde(rename = "trusted", skip_serializing_if = "Vec::is_empty")]
    pub trusted_keys: Vec<String>,
    /// `MEMORY`, `URL("...")`, or `{type: full|cache, dir, ...}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "serde_json::Value")]
    pub resolver: Option<Resolver>,
    /// Account public key -> account JWT, loaded into the resolver at start.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub resolver_preload: BTreeMap<String, String>,
    /// Only these accounts may log in, when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolver_pinned_accounts: Vec<String>,
    /// `resolver_tls`: the HTTPS client of a `URL(...)` resolver (CA,
    /// client certificate, `insecure`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver_tls: Option<Tls>,
}

impl OperatorOptions {
    /// Clients authenticate with user JWTs.
    pub fn is_on(&self) -> bool {
        !self.operators.is_empty() || !self.trusted_keys.is_empty()
    }
}

/// Where account JWTs come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolver {
    /// `MEMORY`: `resolver_preload` and claim updates only.
    Memory,
    /// `URL("...")`: fetched with a GET of `<url><account key>` (the URL ends in `/`).
    Url(String),
    /// `{type: full|cache, dir, ...}`: account JWTs in files.
    Dir(DirResolver),
}

/// A directory resolver.
#[derive(Debug, Clone, PartialEq)]
pub struct DirResolver {
    /// `full` (every account of the operator is kept) rather than `cache`.
    pub full: bool,
    pub dir: String,
    pub allow_delete: bool,
    pub hard_delete: bool,
    /// Most accounts kept; 0 means no limit.
    pub limit: i64,
    /// Cache only: how long a fetched account is kept; zero means forever.
    pub ttl: Duration,
    /// Full only: how often servers compare their directories.
    pub interval: Duration,
    /// How long a lookup in the cluster waits.
    pub timeout: Duration,
}

/// nats-server's defaults for a directory resolver.
pub const DEFAULT_RESOLVER_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_RESOLVER_TIMEOUT: Duration = Duration::from_millis(1900);
/// A full resolver's default `limit`, and a cache's.
pub const DEFAULT_FULL_LIMIT: i64 = 0;
pub const DEFAULT_CACHE_LIMIT: i64 = 1000;

impl Serialize for Resolver {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Resolver::Memory => s.serialize_str("MEMORY"),
            Resolver::Url(url) => s.serialize_str(&format!("URL({url:?})")),
            Resolver::Dir(d) => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("type", if d.full { "full" } else { "cache" })?;
                m.serialize_entry("dir", &d.dir)?;
                if d.allow_delete {
                    m.serialize_entry("allow_delete", &true)?;
                }
                if d.hard_delete {
                    m.serialize_entry("hard_delete", &true)?;
                }
                if d.limit != 0 {
                    m.serialize_entry("limit", &d.limit)?;
                }
                if !d.full && !d.ttl.is_zero() {
                    m.serialize_entry("ttl", &format_duration(d.ttl))?;
                }
                if d.full {
                    m.serialize_entry("interval", &format_duration(d.interval))?;
                }
                m.serialize_entry("timeout", &format_duration(d.timeout))?;
                m.end()
            }
        }
    }
}
