//! `cluster`: the routes between the servers of a cluster.

use super::*;

/// `cluster { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Cluster {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub host: String,
    pub port: Port,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub no_advertise: bool,
    /// Route URLs to connect to (`nats-route://host:port`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// Extra attempts at a route learned by gossip (configured routes are
    /// retried forever).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub connect_retries: i64,
    /// Double the delay between attempts at a configured route, up to 30s.
    #[serde(skip_serializing_if = "is_false")]
    pub connect_backoff: bool,
    /// nats-server's route pooling; rnats always keeps one connection per
    /// server and tells its peers so (the value is accepted and reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<i64>,
    /// nats-server's route compression; rnats routes are not compressed and
    /// say so to their peers, which then send plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// How often routes are pinged (at most 30s); the top-level value otherwise.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_duration")]
    #[schemars(with = "Option<String>")]
    pub ping_interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_max: Option<u32>,
    /// How long one write to a route may take before the route is cut (a
    /// peer that stopped reading); the top-level `write_deadline` otherwise.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_duration")]
    #[schemars(with = "Option<String>")]
    pub write_deadline: Option<Duration>,
    /// `import` (publish): subjects this server asks its peers for;
    /// `export` (subscribe): subjects peers may ask it for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
    /// Other cluster settings, kept as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}
