//! A session's read loop: wait for the next event (a wakeup, shutdown, bytes
//! from the peer, the ping timer, the authentication deadline), then act on
//! it. Each piece has its name: [`ReadSize`] sizes the reads,
//! [`on_wakeup`] handles a wakeup (close, snapshot adoption, lame duck),
//! [`serve_chunk`] parses and serves what one read brought.

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;
use tracing::debug;

use super::core::Core;
use super::role::{Role, Step};
use crate::server::adoption::Effect;
use crate::server::errors::{CloseReason, ERR_AUTH_EXPIRED, ERR_AUTH_TIMEOUT};
use crate::server::proto;

/// Read sizes, as nats-server sizes its read buffer: start at 512 bytes,
/// double after a read that fills it (up to 64 KiB), halve (down to 64
/// bytes) after each short read once more than two reads in a row used
/// less than half of it. Reads never take more than the current size, so
/// the read boundaries, which some of the reference's answers depend on,
/// fall where its own do.
const START_READ: usize = 512;
const MIN_READ: usize = 64;
const MAX_READ: usize = 64 * 1024;
const SHORTS_TO_SHRINK: u32 = 2;

/// How much the next read may take.
struct ReadSize {
    size: usize,
    short_reads: u32,
}

impl ReadSize {
    fn new() -> ReadSize {
        ReadSize { size: START_READ, short_reads: 0 }
    }

    /// A read brought `n` bytes: grow or shrink the next one.
    fn after_read(&mut self, n: usize) {
        if n >= self.size {
            self.short_reads = 0;
        } else if n < self.size / 2 {
            self.short_reads += 1;
        }
        if n >= self.size && self.size < MAX_READ {
            self.size *= 2;
        } else if n < self.size && self.size > MIN_READ && self.short_reads > SHORTS_TO_SHRINK {
            self.size /= 2;
        }
    }
}

/// The bytes read and not yet served, and how an argument split across
/// reads is assembled (see [`proto::Cut`]).
struct Input {
    buf: BytesMut,
    /// Bytes read before the session started, to parse before any read.
    unparsed: bool,
    /// Where the first read that ended inside the pending op's argument
    /// ended, and room to assemble such an argument (rarely used).
    split_at: Option<usize>,
    split_arg: Vec<u8>,
}

/// When the session's timer must fire next: the next ping, the
/// authentication deadline while the peer must still authenticate, and
/// the credentials' expiry once a login (or a claim update) sets one.
struct Deadlines {
    ping: Instant,
    auth: Instant,
}

impl Deadlines {
    fn next(&self, core: &Core) -> Instant {
        let mut at = self.ping;
        if core.awaiting_auth() {
            at = at.min(self.auth);
        }
        if let Some(e) = &core.expiry {
            at = at.min(e.at);
        }
        at
    }
}

/// `d` from now; a duration too long to add is as good as never.
fn after(d: std::time::Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + std::time::Duration::from_secs(86400 * 365 * 30))
}

/// Reads and acts until the connection must close; returns why.
pub(super) async fn read_loop<R: Role, Rd: AsyncRead + Unpin>(
    core: &mut Core,
    role: &mut R,
    mut rd: Rd,
    pending: Vec<u8>,
) -> CloseReason {
    let mut input = Input {
        buf: BytesMut::with_capacity(START_READ.max(pending.len())),
        unparsed: !pending.is_empty(),
        split_at: None,
        split_arg: Vec::new(),
    };
    input.buf.extend_from_slice(&pending);
    let mut read_size = ReadSize::new();
    let mut ping_interval = core.ping_interval();
    let mut deadlines = Deadlines { ping: after(core.first_ping()), auth: after(core.auth_timeout) };
    // One timer for the three deadlines, set to the nearest: every idle
    // connection holds this future for life, and a tokio `Sleep` is over
    // a hundred bytes.
    let mut armed = deadlines.next(core);
    let timer = tokio::time::sleep_until(armed);
    tokio::pin!(timer);
    let conn = core.conn.clone();
    // Made once, not at each turn of the loop: every session waits on this
    // one token, and registering with it (or leaving it) takes its lock.
    let shutdown = core.server.shutting_down_owned();
    tokio::pin!(shutdown);
    loop {
        if input.buf.capacity() - input.buf.len() < read_size.size {
            input.buf.reserve(read_size.size);
        }
        let next = deadlines.next(core);
        if next != armed {
            armed = next;
            timer.as_mut().reset(armed);
        }
        let n = if std::mem::take(&mut input.unparsed) {
            input.buf.len()
        } else {
            // Never more than the read size at once, so reads end where the
            // reference's do.
            let mut room = (&mut input.buf).limit(read_size.size);
            tokio::select! {
                biased;
                _ = conn.events.notified() => {
                    if let Err(reason) = on_wakeup(core, role).await {
                        return reason;
                    }
                    if core.ping_interval() != ping_interval {
                        ping_interval = core.ping_interval();
                        deadlines.ping = after(ping_interval);
                    }
                    continue;
                }
                _ = &mut shutdown => return CloseReason::ServerShutdown,
                r = rd.read_buf(&mut room) => match r {
                    Ok(0) => return CloseReason::ClientClosed,
                    Ok(n) => n,
                    Err(_) => return CloseReason::ReadError,
                },
                _ = &mut timer => {
                    // In the order the three timers were served in: the
                    // ping, the authentication deadline, the expiry.
                    let now = Instant::now();
                    if deadlines.ping <= now {
                        ping_interval = core.ping_interval();
                        deadlines.ping = now + ping_interval;
                        let r = core.on_ping_timer();
                        core.finish_batch();
                        match r {
                            Ok(()) => continue,
                            Err(reason) => return reason,
                        }
                    }
                    if core.awaiting_auth() && deadlines.auth <= now {
                        return on_auth_timeout(core);
                    }
                    if core.expiry.as_ref().is_some_and(|e| e.at <= now) {
                        return on_expired(core);
                    }
                    // Fired for a deadline that moved: re-armed above.
                    armed = now;
                    continue;
                }
            }
        };
        core.last_read = Instant::now();
        role.on_read();
        read_size.after_read(n);
        // A reload applies from the next chunk on, even if its wakeup has
        // not been handled yet.
        if let Err(reason) = adopt_snapshot(core, role).await {
            core.finish_batch();
            return reason;
        }
        let outcome = serve_chunk(core, role, &mut input).await;
        core.finish_batch();
        if let Err(reason) = outcome {
            return reason;
        }
        core.stall_for_slow_subscribers().await;
    }
}

/// The connection was woken: it is closing, or a new snapshot is in
/// place, or lame duck mode began. Ends the batch of whatever it sent.
async fn on_wakeup<R: Role>(core: &mut Core, role: &mut R) -> Result<(), CloseReason> {
    if let Some(reason) = core.conn.close_reason() {
        return Err(reason);
    }
    if let Err(reason) = adopt_snapshot(core, role).await {
        core.finish_batch();
        return Err(reason);
    }
    if let Err(reason) = role.on_wakeup(core).await {
        core.finish_batch();
        return Err(reason);
    }
    if core.server.in_lame_duck() || core.conn.lame_duck_requested() {
        role.on_lame_duck(core);
    }
    core.finish_batch();
    Ok(())
}

/// The peer did not authenticate in time.
fn on_auth_timeout(core: &mut Core) -> CloseReason {
    debug!("{} - Authentication Timeout", core.conn.log_prefix);
    core.send_err(ERR_AUTH_TIMEOUT);
    core.finish_batch();
    CloseReason::AuthenticationTimeout
}

/// The credentials expired (nats-server's `authExpired`)
/// (or its account's, `accountAuthExpired`).
fn on_expired(core: &mut Core) -> CloseReason {
    let mut error = ERR_AUTH_EXPIRED;
    if let Some(e) = &core.expiry {
        debug!("{} - {}", core.conn.log_prefix, e.line);
        error = e.error;
    }
    core.send_err(error);
    core.finish_batch();
    CloseReason::AuthenticationExpired
}

/// Serves every complete op of the input, keeps the rest for the next read,
/// and notes where an argument split across reads began.
async fn serve_chunk<R: Role>(core: &mut Core, role: &mut R, input: &mut Input) -> Result<(), CloseReason> {
    let buf = &input.buf;
    let mut pos = 0;
    let mut need = 0;
    let outcome = loop {
        if pos < buf.len() && core.awaiting_auth() {
            if let Err(reason) = role.on_op_start(core, buf[pos]).await {
                break Err(reason);
            }
        }
        // Only the op at the start of the buffer began in an earlier read.
        let cut = input.split_at.filter(|_| pos == 0).map(|at| proto::Cut { at, scratch: &mut input.split_arg });
        match role.next_op(core, &buf[pos..], cut).await {
            Step::Served(used) => pos += used,
            Step::Need(n) => {
                need = n;
                break Ok(());
            }
            Step::Close(reason) => break Err(reason),
        }
    };
    input.buf.advance(pos);
    // The first read that ends inside an op's argument decides how the
    // reference assembles it (see `proto::Cut`).
    if pos > 0 {
        input.split_at = None;
    }
    let buf = &input.buf;
    if input.split_at.is_none() && outcome.is_ok() && proto::arg_start(buf).is_some_and(|s| s < buf.len()) {
        input.split_at = Some(buf.len());
    }
    if need > input.buf.len() {
        input.buf.reserve(need - input.buf.len());
    }
    outcome
}

/// Moves the session onto the server's newest snapshot, if there is one, and
/// lets the role apply what changed for it.
async fn adopt_snapshot<R: Role>(core: &mut Core, role: &mut R) -> Result<(), CloseReason> {
    let Some(old) = core.take_new_snapshot() else { return Ok(()) };
    let r = role.on_new_snapshot(core, &old).await;
    let effect = r.as_ref().map_or(Effect::Closed, |e| *e);
    core.server.adopted(&core.conn, core.snap.generation, effect);
    r.map(drop)
}
