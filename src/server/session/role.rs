//! What a connection's ops mean: the role of a session. One lifecycle
//! serves every role (accept → handshake → serve → retire, see
//! `lifecycle.rs`); what differs is behind this trait, implemented by the
//! client role (`ClientState`) and the route role (`RouteState`). The
//! session is generic over its role, so each op is a direct call, never a
//! dynamic dispatch.

use std::future::Future;
use std::sync::Arc;

use super::core::Core;
use crate::server::adoption::Effect;
use crate::server::errors::CloseReason;
use crate::server::proto::Cut;
use crate::server::snapshot::Snapshot;

/// What acting on the op at the start of a buffer came to.
pub(crate) enum Step {
    /// The op took this many bytes and was served.
    Served(usize),
    /// The op is not complete: at least this many bytes are needed.
    Need(usize),
    /// The session must close.
    Close(CloseReason),
}

pub(crate) trait Role: Send {
    /// The session is set up (its writer runs): the role's opening, such as
    /// a route's CONNECT and INFO.
    fn opened(&mut self, core: &mut Core);

    /// The session ended for `reason`: the connection is retired and its
    /// writer finished.
    fn closed(&mut self, core: &Core, reason: CloseReason);

    /// A read chunk arrived, before it is parsed.
    fn on_read(&mut self) {}

    /// The first byte of an op while the peer must still authenticate.
    fn on_op_start(&mut self, _core: &mut Core, _first: u8) -> impl Future<Output = Result<(), CloseReason>> + Send {
        async { Ok(()) }
    }

    /// Parses the op at the start of `buf` and acts on it. `cut` is where
    /// the first read that ended inside this op's argument ended (see
    /// [`Cut`]), for roles whose parser assembles arguments as the
    /// reference does.
    fn next_op(&mut self, core: &mut Core, buf: &[u8], cut: Option<Cut<'_>>) -> impl Future<Output = Step> + Send;

    /// The session moved to a new snapshot; `old` is the one it left.
    /// Returns what the change did to the connection, for the reload's
    /// report.
    fn on_new_snapshot(
        &mut self,
        core: &mut Core,
        old: &Arc<Snapshot>,
    ) -> impl Future<Output = Result<Effect, CloseReason>> + Send;

    /// The session was woken: rules it runs under may have changed outside
    /// a reload (an account's claims were updated).
    fn on_wakeup(&mut self, _core: &mut Core) -> impl Future<Output = Result<(), CloseReason>> + Send {
        async { Ok(()) }
    }

    /// The server entered lame duck mode.
    fn on_lame_duck(&mut self, _core: &mut Core) {}
}
