//! The typed, validated options of a running server.
//!
//! One immutable value: the CLI and the config file build it, the server reads
//! it through an `ArcSwap<Options>` snapshot, and a reload swaps in a new one.
//! Defaults are nats-server 2.x's (`server/const.go`).

use std::time::Duration;

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
/// The first ping to a new client comes early, to measure its RTT.
pub const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);

/// Which port to listen on: a number, or an OS-chosen one (`-p -1`, `RANDOM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Options {
    pub host: String,
    pub port: Port,
    pub server_name: Option<String>,
    pub client_advertise: Option<String>,
    pub pid_file: Option<String>,
    pub ports_file_dir: Option<String>,

    pub max_payload: usize,
    pub max_control_line: usize,
    /// 0 means unlimited (as in nats-server).
    pub max_connections: usize,
    pub max_pending: usize,
    /// 0 means unlimited.
    pub max_subscriptions: usize,
    #[serde(serialize_with = "ser_duration")]
    pub ping_interval: Duration,
    pub ping_max: u32,
    #[serde(serialize_with = "ser_duration")]
    pub write_deadline: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub auth_timeout: Duration,
    pub no_header_support: bool,

    /// Single-user authorization (`--user`/`--pass`).
    pub username: Option<String>,
    #[serde(serialize_with = "ser_secret")]
    pub password: Option<String>,
    /// Token authorization (`--auth`).
    #[serde(serialize_with = "ser_secret")]
    pub token: Option<String>,

    pub debug: bool,
    pub trace: bool,
    pub logtime: bool,
    pub logtime_utc: bool,
    pub log_file: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: DEFAULT_HOST.to_string(),
            port: Port::Fixed(DEFAULT_PORT),
            server_name: None,
            client_advertise: None,
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
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            no_header_support: false,
            username: None,
            password: None,
            token: None,
            debug: false,
            trace: false,
            logtime: true,
            logtime_utc: false,
            log_file: None,
        }
    }
}

impl Options {
    /// Whether clients must authenticate in CONNECT.
    pub fn auth_required(&self) -> bool {
        self.username.is_some() || self.token.is_some()
    }

    /// Cross-field checks the reference makes at startup.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_payload > self.max_pending {
            return Err(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.max_payload, self.max_pending
            ));
        }
        if self.token.is_some() && self.username.is_some() {
            return Err("Can not have a single user/pass and a token".into());
        }
        if let Some(name) = &self.server_name {
            if name.contains(' ') {
                return Err("server name cannot contain spaces".into());
            }
        }
        Ok(())
    }
}

/// Secrets never leave the process in clear: dumps show that one is set.
fn ser_secret<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(secret) if secret.starts_with("$2") => s.serialize_str(secret),
        Some(_) => s.serialize_str("[REDACTED]"),
        None => s.serialize_none(),
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

/// Formats a duration the way Go's `time.Duration.String` does (`2m0s`, `1.5s`,
/// `500ms`), which is also what our config language reads back.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_frac(nanos as f64 / 1e3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_frac(nanos as f64 / 1e6));
    }
    let total_secs = d.as_secs();
    let frac = d.subsec_nanos();
    let h = total_secs / 3600;
    let m = (total_secs % 3600) / 60;
    let s = total_secs % 60;
    let secs = if frac == 0 {
        format!("{s}")
    } else {
        trim_frac(s as f64 + frac as f64 / 1e9)
    };
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
    }
}

fn trim_frac(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

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
        let o = Options {
            max_pending: 65536,
            ..Options::default()
        };
        assert_eq!(
            o.validate().unwrap_err(),
            "max_payload (1048576) cannot be higher than max_pending (65536)"
        );
    }
}
