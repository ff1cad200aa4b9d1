//! What the rest of the server hands the system task, named here so that
//! the server state can hold it without depending on the task: the events
//! sessions send, and the reload a `RELOAD` request runs (implemented by
//! src/reload, which sits above the server).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::server::conn::Connection;
use crate::server::errors::CloseReason;

/// What happened, for the system task to announce.
#[derive(Debug)]
pub enum SystemEvent {
    /// A client authenticated and was admitted to its account.
    Connect(Arc<Connection>),
    /// A client closed, with its final counters.
    Disconnect(Arc<Connection>, CloseReason),
    /// A client was refused at login.
    AuthError(Arc<Connection>),
    /// The server entered lame duck mode.
    LameDuck,
    /// A RELOAD request's reload ended: answer it on `reply`.
    Reloaded { reply: Vec<u8>, answer: ReloadAnswer },
}

/// The answer to a RELOAD request: `Ok(data)` (`None`: the bare envelope,
/// as nats-server answers a reload that worked or changed nothing), or the
/// error description (code 500).
pub type ReloadAnswer = Result<Option<Vec<u8>>, String>;

/// Runs a reload for a RELOAD request whose body held `options` (the
/// request's JSON object; empty for an empty body).
pub trait ReloadRequest: Send + Sync {
    fn reload_request(
        &self,
        options: serde_json::Map<String, serde_json::Value>,
    ) -> Pin<Box<dyn Future<Output = ReloadAnswer> + Send + '_>>;
}
