//! The `websocket` block compiled once per configuration snapshot: what
//! every handshake and every websocket session reads.

use std::time::Duration;

use crate::options::Websocket;
use crate::origin::{self, Origin};

/// Without `handshake_timeout`, nats-server lets a client take forever to
/// send its request (and to finish TLS); rnats bounds it.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
pub struct WsSettings {
    pub same_origin: bool,
    /// Parsed `allowed_origins` (entries that do not parse were refused by
    /// the config check).
    pub allowed_origins: Vec<Origin>,
    pub compression: bool,
    /// `headers`, ready to append to the `101` answer.
    pub raw_headers: String,
    pub jwt_cookie: Option<String>,
    pub user_cookie: Option<String>,
    pub pass_cookie: Option<String>,
    pub token_cookie: Option<String>,
    pub handshake_timeout: Duration,
    /// How often websocket clients are pinged, when it differs from the
    /// server's `ping_interval`.
    pub ping_interval: Option<Duration>,
    /// How long a websocket client has to authenticate, when set.
    pub auth_timeout: Option<Duration>,
    /// The block's own credentials (or `no_auth_user`) apply.
    pub auth_override: bool,
}

impl WsSettings {
    pub fn new(w: &Websocket) -> WsSettings {
        let named = |c: &Option<String>| c.clone().filter(|c| !c.is_empty());
        WsSettings {
            same_origin: w.same_origin,
            allowed_origins: w.allowed_origins.iter().filter_map(|o| origin::parse_allowed(o).ok()).collect(),
            compression: w.compression,
            raw_headers: w.headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect(),
            jwt_cookie: named(&w.jwt_cookie),
            user_cookie: named(&w.user_cookie),
            pass_cookie: named(&w.pass_cookie),
            token_cookie: named(&w.token_cookie),
            handshake_timeout: w.handshake_timeout.filter(|d| !d.is_zero()).unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT),
            ping_interval: w.ping_interval.filter(|d| !d.is_zero()),
            auth_timeout: w.authorization.as_ref().and_then(|a| a.timeout),
            auth_override: w.auth_override(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_from_the_block() {
        let mut w = Websocket {
            allowed_origins: vec!["http://a".into(), "https://b:1".into()],
            user_cookie: Some(String::new()),
            ..Websocket::default()
        };
        w.headers.insert("X-A".into(), "1".into());
        w.headers.insert("X-B".into(), "2".into());
        let s = WsSettings::new(&w);
        assert_eq!(s.allowed_origins.len(), 2);
        assert_eq!(s.raw_headers, "X-A: 1\r\nX-B: 2\r\n");
        assert_eq!(s.user_cookie, None, "an empty cookie name names no cookie");
        assert_eq!(s.handshake_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
        assert!(!s.auth_override);
        w.no_auth_user = Some("u".into());
        assert!(WsSettings::new(&w).auth_override);
    }
}
