//! `websocket`: the listener for browser and websocket clients.

use super::*;

/// `websocket { ... }`: nats-server's `WebsocketOpts`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
pub struct Websocket {
    /// Interface to listen on; `0.0.0.0` when a port is set and no host.
    pub host: String,
    /// 0 (the default) means no listener; -1 an OS-chosen port.
    pub port: Port,
    /// `host:port` websocket clients of the cluster are told about
    /// (`ws_connect_urls`), in place of the listen address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise: Option<String>,
    /// Plain `ws://` without a `tls` block (nats-server refuses to start
    /// otherwise: bearer credentials would travel in clear).
    #[serde(skip_serializing_if = "is_false")]
    pub no_tls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// An `Origin` header, when sent, must name the host the request was sent to.
    #[serde(skip_serializing_if = "is_false")]
    pub same_origin: bool,
    /// An `Origin` header, when sent, must be one of these (`scheme://host[:port]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// Offer permessage-deflate to clients that ask for it.
    #[serde(skip_serializing_if = "is_false")]
    pub compression: bool,
    /// How long the TLS and HTTP handshake may take; no limit when unset.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_duration")]
    #[schemars(with = "Option<String>")]
    pub handshake_timeout: Option<Duration>,
    /// Credentials for websocket clients in place of the top-level ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<WebsocketAuth>,
    /// Cookie names whose values stand in for the CONNECT's `jwt`, `user`,
    /// `pass` and `auth_token` when the CONNECT has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_cookie: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_cookie: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_cookie: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_cookie: Option<String>,
    /// Websocket clients without credentials are this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_auth_user: Option<String>,
    /// Extra headers of the `101 Switching Protocols` answer.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// How often websocket clients are pinged, in place of `ping_interval`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_duration")]
    #[schemars(with = "Option<String>")]
    pub ping_interval: Option<Duration>,
}

impl Websocket {
    /// Whether a listener is configured (nats-server: `Port != 0`).
    pub fn enabled(&self) -> bool {
        self.port != Port::Fixed(0)
    }

    /// nats-server's `authOverride`: websocket clients authenticate with
    /// the block's own credentials (or `no_auth_user`), not the top-level ones.
    pub fn auth_override(&self) -> bool {
        let a = self.authorization.as_ref();
        a.is_some_and(|a| a.user.as_deref().is_some_and(|u| !u.is_empty()))
            || a.is_some_and(|a| a.token.as_ref().is_some_and(|t| !t.is_empty()))
            || self.no_auth_user.as_deref().is_some_and(|u| !u.is_empty())
    }
}

/// `websocket.authorization { user, password, token, timeout }`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
pub struct WebsocketAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// How long a websocket client has to send CONNECT, in place of
    /// `authorization.timeout`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_duration")]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Duration>,
}
