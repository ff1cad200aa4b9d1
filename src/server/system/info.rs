//! nats-server's `ServerInfo` (the `server` object of every system reply
//! and event) and the reply envelope `ServerAPIResponse`, written by hand
//! in Go's field order.

use std::time::SystemTime;

use crate::options::COMPAT_VERSION;
use crate::server::clock::rfc3339_nano;
use crate::server::service::request_info::write_go_string;
use crate::server::state::ServerState;

/// The JetStream feature switches nats-server 2.15.1 reports, at its
/// defaults (rnats has no JetStream yet).
const FEATURE_FLAGS: &str =
    r#"{"js_ack_fc_v2":false,"js_api_reply_v2":false,"js_raft_delete_range":true,"js_snapshot_sources":false}"#;

/// Writes the `ServerInfo` of `server` with sequence number `seq`.
pub fn write_server_info(server: &ServerState, seq: u64, out: &mut Vec<u8>) {
    let snap = server.snapshot();
    out.extend_from_slice(b"{\"name\":");
    write_go_string(server.name(), out);
    out.extend_from_slice(b",\"host\":");
    write_go_string(&snap.opts.host, out);
    out.extend_from_slice(b",\"id\":");
    write_go_string(server.id(), out);
    if let Some(cluster) = server.cluster() {
        out.extend_from_slice(b",\"cluster\":");
        write_go_string(&cluster.name(), out);
    }
    out.extend_from_slice(b",\"ver\":");
    write_go_string(COMPAT_VERSION, out);
    out.extend_from_slice(b",\"feature_flags\":");
    out.extend_from_slice(FEATURE_FLAGS.as_bytes());
    out.extend_from_slice(b",\"jetstream\":false,\"flags\":");
    // Bit 0 of nats-server's flags: the server is in lame duck mode.
    out.push(if server.in_lame_duck() { b'1' } else { b'0' });
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    out.extend_from_slice(b",\"time\":");
    write_go_string(&rfc3339_nano(SystemTime::now()), out);
    out.push(b'}');
}

/// A reply's `error` member.
pub struct ApiError {
    pub code: u16,
    pub description: String,
}

/// `{"server":…,"data":…,"error":…}`; `data` and `error` only when given
/// (`data` as JSON text; `null` is written as such).
pub fn envelope(server: &ServerState, seq: u64, data: Option<&[u8]>, error: Option<&ApiError>) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + data.map_or(0, <[u8]>::len));
    out.extend_from_slice(b"{\"server\":");
    write_server_info(server, seq, &mut out);
    if let Some(data) = data {
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(data);
    }
    if let Some(e) = error {
        out.extend_from_slice(b",\"error\":{\"code\":");
        out.extend_from_slice(itoa::Buffer::new().format(e.code).as_bytes());
        out.extend_from_slice(b",\"description\":");
        write_go_string(&e.description, &mut out);
        out.push(b'}');
    }
    out.push(b'}');
    out
}
