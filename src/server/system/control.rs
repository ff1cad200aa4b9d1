//! `$SYS.REQ.SERVER.<id>.KICK` and `.LDM`: act on one client of this
//! server, named by its `cid` (nats-server's `kickClient` and
//! `ldmClient`). KICK closes it (reason `Kicked`, no `-ERR`); LDM sends it
//! an INFO with `"ldm":true` so it moves to another server, and leaves it
//! connected.

use serde_json::Value;

use super::filters::Options;
use crate::server::errors::CloseReason;
use crate::server::state::ServerState;

/// What a KICK or LDM did: `Ok` when the client was found, else
/// nats-server's error text. `None`: the body named no client (no reply).
pub fn act_on_client(server: &ServerState, opts: &Options, kick: bool) -> Option<Result<(), String>> {
    let cid = opts.get("cid").and_then(Value::as_u64)?;
    let Some(conn) = server.connections().into_iter().find(|c| c.cid == cid) else {
        return Some(Err("no such client or leafnode id".into()));
    };
    if kick {
        conn.close(CloseReason::Kicked);
    } else {
        conn.request_lame_duck();
    }
    Some(Ok(()))
}
