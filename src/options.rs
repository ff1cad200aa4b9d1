//! The typed, validated options of a running server.
//!
//! One immutable value: the CLI and the config file build it, the server reads
//! it through an `ArcSwap<Options>` snapshot, and a reload swaps in a new one.
//! Its serialised form uses the config file's key names, so `rnats check
//! --dump` prints a config that parses back to the same value, and
//! `schemas/rnats-config.schema.json` is generated from these types.
//! Defaults are nats-server 2.x's (`server/const.go`).

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

/// The protocol version of nats-server this server is compatible with; clients
/// gate features on the `version` field of INFO, so it is what we advertise.
pub const COMPAT_VERSION: &str = "2.15.1";
pub const DEFAULT_PORT: u16 = 4222;
pub const DEFAULT_HOST: &str = "0.0.0.0";
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
pub const DEFAULT_MAX_CONNECTIONS: usize = 64 * 1024;
pub const DEFAULT_MAX_PENDING: usize = 64 * 1024 * 1024;
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
pub const DEFAULT_PING_MAX: u32 = 2;
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);
/// `handshake_first: auto`: how long to wait for a TLS-first client.
pub const DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK: Duration = Duration::from_millis(50);
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
pub const DEFAULT_LAME_DUCK_GRACE: Duration = Duration::from_secs(10);
/// Route (and leaf node) connect errors logged: the first, then every Nth.
pub const DEFAULT_CONNECT_ERROR_REPORTS: u64 = 3600;
pub const DEFAULT_RECONNECT_ERROR_REPORTS: u64 = 1;
/// Closed connections `/connz?state=closed` keeps (nats-server's default).
pub const DEFAULT_MAX_CLOSED_CLIENTS: usize = 10_000;
/// The first ping to a new client comes early, to measure its RTT.
pub const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);

/// Which port to listen on: a number, or an OS-chosen one (`-1`, `RANDOM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Fixed(u16),
    Random,
}

impl Port {
    pub fn bind_port(self) -> u16 {
        match self {
            Port::Fixed(p) => p,
            Port::Random => 0,
        }
    }
}

impl Serialize for Port {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Port::Fixed(p) => s.serialize_u16(*p),
            Port::Random => s.serialize_i32(-1),
        }
    }
}

impl JsonSchema for Port {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Port".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A TCP port, or -1 for a port chosen by the operating system.",
            "type": "integer",
            "minimum": -1,
            "maximum": 65535
        })
    }
}

/// A duration, written as Go writes them (`2m0s`, `500ms`).
fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

/// What `--dump` shows instead of a plain-text password or token.
pub use crate::secret::{Secret, REDACTED};

mod accounts;
mod accounts_conf;
mod auth;
mod cluster;
mod flags;
mod operator;
mod syslog;
mod tls;
mod websocket;

pub use accounts::*;
pub use auth::*;
pub use cluster::*;
pub use flags::FlagOverlay;
pub use operator::*;
pub use syslog::SyslogTarget;
pub use tls::*;
pub use websocket::*;

fn is_false(b: &bool) -> bool {
    !*b
}

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Options {
    /// Server name; defaults to the server id. No spaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Interface to listen on for clients.
    pub host: String,
    /// Port for clients.
    pub port: Port,
    /// `host:port` advertised to clients in place of the listen address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_advertise: Option<String>,
    /// Interface of the monitoring port (`http: host:port`); the client
    /// interface (`host`) when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_host: Option<String>,
    /// Monitoring HTTP port; -1 for a port chosen by the system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_port: Option<i64>,
    /// Monitoring HTTPS port (with the `tls` block's certificate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_port: Option<i64>,
    /// Path prefix of every monitoring endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_base_path: Option<String>,
    /// Who may read the monitoring port (rnats only; open when not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_auth: Option<HttpAuth>,
    /// Closed client connections kept for `/connz?state=closed`.
    pub max_closed_clients: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports_file_dir: Option<String>,

    /// Largest message payload a client may publish, in bytes.
    pub max_payload: usize,
    /// Longest protocol control line, in bytes.
    pub max_control_line: usize,
    /// Most client connections at once; 0 means unlimited.
    pub max_connections: usize,
    /// Bytes queued for one client before it is cut off as a slow consumer.
    pub max_pending: usize,
    /// Subscriptions per connection; 0 means unlimited.
    pub max_subscriptions: usize,
    /// How often the server pings an idle client.
    #[serde(serialize_with = "ser_duration")]
    #[schemars(with = "String")]
    pub ping_interval: Duration,
    /// Unanswered pings before a connection is closed as stale.
    pub ping_max: u32,
    /// How long one write to a client may block before it is a slow consumer.
    #[serde(serialize_with = "ser_duration")]
    #[schemars(with = "String")]
    pub write_deadline: Duration,
    /// Refuse message headers (HPUB).
    #[serde(skip_serializing_if = "is_false")]
    pub no_header_support: bool,
    /// Never stall a client publishing to a subscriber that is behind: skip
    /// that subscriber for the message instead.
    #[serde(skip_serializing_if = "is_false")]
    pub no_fast_producer_stall: bool,
    #[serde(serialize_with = "ser_duration")]
    #[schemars(with = "String")]
    pub lame_duck_duration: Duration,
    #[serde(serialize_with = "ser_duration")]
    #[schemars(with = "String")]
    pub lame_duck_grace_period: Duration,

    pub debug: bool,
    pub trace: bool,
    /// Also trace the system account (`-VV`); implies `trace`.
    #[serde(skip_serializing_if = "is_false")]
    pub trace_verbose: bool,
    /// Timestamps on log lines.
    pub logtime: bool,
    /// Timestamps in UTC rather than local time.
    pub logtime_utc: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file: Option<String>,
    /// Rotate the log file past this many bytes; 0 means never.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub log_size_limit: u64,
    /// Log files kept after rotation, the current one included; 0 keeps all.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub logfile_max_num: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub syslog: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_syslog: Option<String>,
    /// Longest payload shown in traces; 0 means all of it.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub max_traced_msg_len: u64,

    /// Who may connect, and what they may do.
    pub authorization: Authorization,
    /// Clients that send no credentials are this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_auth_user: Option<String>,
    /// `accounts { ... }`: tenants with their own subjects; users of
    /// `authorization` and anonymous clients are in `$G`.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "accounts_conf::ser_accounts")]
    #[schemars(with = "accounts_conf::AccountsConf")]
    pub accounts: Vec<AccountOptions>,
    /// Top-level `mappings`: the mappings of `$G`.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "accounts_conf::ser_mappings")]
    #[schemars(with = "accounts_conf::MappingsConf")]
    pub mappings: Vec<MappingOptions>,
    /// `system_account`: the account of server events and requests
    /// (`$SYS` when not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_account: Option<String>,
    /// `no_sys_acc`: run without a system account.
    #[serde(skip_serializing_if = "is_false")]
    pub no_system_account: bool,
    /// Operator mode: JWT accounts and users.
    #[serde(flatten)]
    pub operator: OperatorOptions,
    /// TLS for client connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// With `tls`: also accept clients that do not upgrade (INFO says
    /// `tls_available` instead of `tls_required`).
    #[serde(skip_serializing_if = "is_false")]
    pub allow_non_tls: bool,
    /// Clustering (routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
    /// The WebSocket listener (browsers, and clients' websocket transports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub websocket: Option<Websocket>,
    /// Failed attempts at a route before its error is logged again (the
    /// first is always logged).
    pub connect_error_reports: u64,
    /// The same for a route that was up and dropped.
    pub reconnect_error_reports: u64,

    /// Blocks rnats checks but does not act on (gateway, leafnodes, websocket,
    /// mqtt, jetstream, accounts, ...), kept as written so nothing is lost.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

impl Default for Port {
    fn default() -> Self {
        Port::Fixed(0)
    }
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&format_duration(*d)),
        None => s.serialize_none(),
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server_name: None,
            host: DEFAULT_HOST.to_string(),
            port: Port::Fixed(DEFAULT_PORT),
            client_advertise: None,
            http_host: None,
            http_port: None,
            https_port: None,
            http_base_path: None,
            http_auth: None,
            max_closed_clients: DEFAULT_MAX_CLOSED_CLIENTS,
            pid_file: None,
            ports_file_dir: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_pending: DEFAULT_MAX_PENDING,
            max_subscriptions: 0,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_max: DEFAULT_PING_MAX,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            no_header_support: false,
            no_fast_producer_stall: false,
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE,
            debug: false,
            trace: false,
            trace_verbose: false,
            logtime: true,
            logtime_utc: false,
            log_file: None,
            log_size_limit: 0,
            logfile_max_num: 0,
            syslog: false,
            remote_syslog: None,
            max_traced_msg_len: 0,
            authorization: Authorization::default(),
            no_auth_user: None,
            accounts: Vec::new(),
            mappings: Vec::new(),
            system_account: None,
            no_system_account: false,
            operator: OperatorOptions::default(),
            tls: None,
            allow_non_tls: false,
            cluster: None,
            websocket: None,
            connect_error_reports: DEFAULT_CONNECT_ERROR_REPORTS,
            reconnect_error_reports: DEFAULT_RECONNECT_ERROR_REPORTS,
            other: BTreeMap::new(),
        }
    }
}

impl Options {
    /// What routes may import and export: `cluster.permissions`, or the
    /// deprecated `cluster.authorization.permissions`.
    pub fn route_permissions(&self) -> Option<Permissions> {
        let c = self.cluster.as_ref()?;
        c.permissions.clone().or_else(|| c.authorization.as_ref().and_then(|a| a.default_permissions.clone()))
    }

    /// Whether clients must authenticate in CONNECT.
    pub fn auth_required(&self) -> bool {
        let a = &self.authorization;
        a.user.is_some() || a.token.is_some() || !a.users.is_empty()
    }

    /// Cross-field checks the reference makes at startup.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_payload > self.max_pending {
            return Err(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.max_payload, self.max_pending
            ));
        }
        let a = &self.authorization;
        if a.token.is_some() && a.user.is_some() {
            return Err("Can not have a token and a single user/password at the same time".into());
        }
        if let Some(name) = &self.server_name {
            if name.contains(' ') {
                return Err("server name cannot contain spaces".into());
            }
        }
        if let Some(e) = self.lame_duck_error() {
            return Err(e);
        }
        if let Some(a) = &self.http_auth {
            a.validate()?;
        }
        Ok(())
    }

    /// nats-server's rule: the grace period ends before the lame duck
    /// duration does.
    pub fn lame_duck_error(&self) -> Option<String> {
        (self.lame_duck_grace_period >= self.lame_duck_duration).then(|| {
            format!(
                "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                format_duration(self.lame_duck_grace_period),
                format_duration(self.lame_duck_duration)
            )
        })
    }

    /// The JSON Schema of the resolved configuration (what `--dump` prints).
    pub fn json_schema() -> serde_json::Value {
        // Serialize mode: the schema describes what `--dump` writes, where
        // fields skipped when empty are optional.
        let generator = schemars::generate::SchemaSettings::draft2020_12().for_serialize().into_generator();
        let mut schema = serde_json::to_value(generator.into_root_schema_for::<Options>()).unwrap_or_default();
        if let Some(obj) = schema.as_object_mut() {
            obj.insert("$id".into(), "https://github.com/rnats/rnats/schemas/rnats-config.schema.json".into());
            obj.insert("title".into(), "rnats configuration (resolved)".into());
        }
        schema
    }
}

/// Durations are written as Go writes them (`2m0s`, `1.5s`, `500ms`), which
/// is also what the config language reads back.
pub use crate::gotext::go_duration as format_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(format_duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(3661)), "1h1m1s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn payload_above_pending_is_refused() {
        let o = Options { max_pending: 65536, ..Options::default() };
        assert_eq!(o.validate().unwrap_err(), "max_payload (1048576) cannot be higher than max_pending (65536)");
    }

    #[test]
    fn secrets_are_redacted_but_hashes_shown() {
        let mut o = Options::default();
        o.authorization.user = Some("a".into());
        o.authorization.password = Some("hunter2".into());
        let j = serde_json::to_value(&o).unwrap();
        assert_eq!(j["authorization"]["password"], REDACTED);
        o.authorization.password = Some("$2a$11$abc".into());
        assert_eq!(serde_json::to_value(&o).unwrap()["authorization"]["password"], "$2a$11$abc");
    }
}
