//! WebSocket: browsers and the clients' websocket transports, as
//! nats-server 2.15 serves them (`server/websocket.go`).
//!
//! - [`listener`] accepts, runs TLS (`wss://`) and the HTTP upgrade
//!   ([`handshake`], with [`crate::origin`] checks) within `handshake_timeout`.
//! - [`stream`] is the transport: frames ([`frame`], [`deflate`]) in and
//!   out, the NATS byte stream to the session layer, which serves a
//!   websocket client as any other (its INFO, authentication and ping
//!   interval follow the `websocket` block, see [`Runtime`]).
//! - [`settings`]: the block compiled per configuration snapshot.

pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod listener;
pub mod settings;
pub mod stream;

use std::sync::Arc;

use crate::options::Options;
use crate::server::auth::{AuthIndex, ConnType};
use crate::tls::ServerTls;
pub use handshake::WsMeta;
pub use settings::WsSettings;

/// The `websocket` block of one configuration snapshot, compiled.
pub struct Runtime {
    pub settings: WsSettings,
    /// `wss://`: the block's certificates, read when the snapshot was
    /// compiled (a reload reads them again).
    pub tls: Option<Arc<ServerTls>>,
    /// Who websocket clients may be: the top-level users, with the block's
    /// own credentials or `no_auth_user` when it has them, and
    /// `allowed_connection_types` read for `WEBSOCKET`.
    pub auth: AuthIndex,
}

impl Runtime {
    /// The runtime for `opts`, when a websocket listener is configured.
    /// `previous`: the running one, whose compiled permissions are shared.
    pub fn compile(opts: &Options, previous: Option<&Runtime>) -> Result<Option<Runtime>, String> {
        let Some(w) = opts.websocket.as_ref().filter(|w| w.enabled()) else { return Ok(None) };
        let tls = match &w.tls {
            Some(t) => Some(Arc::new(crate::tls::compile(t).map_err(|e| format!("websocket tls: {e}"))?)),
            None => None,
        };
        Ok(Some(Runtime {
            settings: WsSettings::new(w),
            tls,
            auth: AuthIndex::compile_for(opts, previous.map(|p| &p.auth), ConnType::Websocket),
        }))
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("settings", &self.settings).finish_non_exhaustive()
    }
}
