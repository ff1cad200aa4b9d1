//! Per-connection outbound buffers and the task that drains them.
//!
//! Publishers never touch a subscriber's socket: they append the encoded
//! `MSG`/`HMSG` to the subscriber's [`Outbound`] (a short critical section under
//! a std `Mutex`, never held across an `.await`) and, once per read chunk, wake
//! its writer through a `Notify`. The writer swaps the whole buffer out and
//! writes it in one call, so N messages cost one syscall, and steady state
//! allocates nothing (the two buffers are reused).
//!
//! A subscriber whose pending bytes pass `max_pending`, or whose write does not
//! finish within `write_deadline`, is a slow consumer: it is cut off, and its
//! publishers carry on.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::client::ClientShared;
use super::errors::CloseReason;

/// Buffers bigger than this are released after a flush instead of kept for reuse,
/// so one burst does not pin memory on an idle connection.
const KEEP_CAPACITY: usize = 256 * 1024;

#[derive(Debug, Default)]
pub struct Outbound {
    buf: Vec<u8>,
    /// Bytes handed to the writer and not yet written.
    in_flight: usize,
    /// Set once the connection is closing; later appends are dropped.
    dead: bool,
    pub msgs: u64,
    pub bytes: u64,
}

/// What appending a message did.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Pushed {
    Queued,
    /// Went over `max_pending`: the caller must close the connection.
    SlowConsumer,
    /// The connection is already closing.
    Closed,
}

impl Outbound {
    pub fn pending(&self) -> usize {
        self.buf.len() + self.in_flight
    }

    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Appends raw protocol bytes (PONG, +OK, -ERR, INFO). Control traffic is
    /// not subject to `max_pending`.
    pub fn push_proto(&mut self, bytes: &[u8]) {
        if !self.dead {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Appends `MSG subject sid [reply] size` (or `HMSG ... hdr total`), the
    /// payload and CRLF, counting it against `max_pending`.
    #[allow(clippy::too_many_arguments)]
    pub fn push_msg(
        &mut self,
        subject: &[u8],
        sid: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        payload: &[u8],
        max_pending: usize,
    ) -> Pushed {
        if self.dead {
            return Pushed::Closed;
        }
        let mut num = itoa::Buffer::new();
        let before = self.buf.len();
        self.buf.reserve(subject.len() + sid.len() + reply.map_or(0, |r| r.len()) + payload.len() + 32);
        self.buf.extend_from_slice(if header_len.is_some() { b"HMSG " } else { b"MSG " });
        self.buf.extend_from_slice(subject);
        self.buf.push(b' ');
        self.buf.extend_from_slice(sid);
        self.buf.push(b' ');
        if let Some(reply) = reply {
            self.buf.extend_from_slice(reply);
            self.buf.push(b' ');
        }
        if let Some(h) = header_len {
            self.buf.extend_from_slice(num.format(h).as_bytes());
            self.buf.push(b' ');
        }
        self.buf.extend_from_slice(num.format(payload.len()).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
        self.buf.extend_from_slice(payload);
        self.buf.extend_from_slice(b"\r\n");
        if self.pending() > max_pending {
            self.buf.truncate(before);
            self.dead = true;
            return Pushed::SlowConsumer;
        }
        self.msgs += 1;
        self.bytes += payload.len() as u64;
        Pushed::Queued
    }

    pub fn kill(&mut self) {
        self.dead = true;
        self.buf = Vec::new();
    }
}

/// How long a slow consumer's last write may take to finish so that it can be
/// sent `-ERR 'Slow Consumer'`; a client that is not reading at all is simply
/// closed after this.
const SLOW_CONSUMER_NOTICE: Duration = Duration::from_millis(250);

/// Sends `-ERR 'Slow Consumer'` to a client cut off for exceeding max_pending.
/// nats-server closes such clients without a word; clients handle an unknown
/// `-ERR` as an asynchronous error, so this tells them why they were dropped.
async fn tell_slow_consumer<W: tokio::io::AsyncWrite + Unpin>(client: &ClientShared, socket: &mut W) {
    if client.close_reason() == Some(CloseReason::SlowConsumerPendingBytes) {
        let notice = super::errors::err_line(super::errors::ERR_SLOW_CONSUMER);
        let _ = tokio::time::timeout(SLOW_CONSUMER_NOTICE, socket.write_all(&notice)).await;
        let _ = tokio::time::timeout(SLOW_CONSUMER_NOTICE, socket.shutdown()).await;
    }
}

/// Drains `client`'s outbound buffer to `socket` until the connection closes.
/// A graceful close (reader finished, server stopping) flushes what is queued
/// first; a hard close (slow consumer, write error) stops at once.
pub async fn write_loop<W: tokio::io::AsyncWrite + Unpin>(
    client: Arc<ClientShared>,
    mut socket: W,
    write_deadline: Duration,
) {
    let mut spare: Vec<u8> = Vec::new();
    loop {
        // Read `closing` before draining: anything appended before it was set
        // is then guaranteed to be seen by this drain.
        let closing = client.is_closing();
        loop {
            {
                let mut out = client.out.lock().unwrap_or_else(|e| e.into_inner());
                if out.buf.is_empty() || out.dead && client.is_hard_closed() {
                    break;
                }
                std::mem::swap(&mut out.buf, &mut spare);
                out.in_flight = spare.len();
            }
            let result = {
                let write = tokio::time::timeout(write_deadline, socket.write_all(&spare));
                tokio::pin!(write);
                tokio::select! {
                    r = &mut write => r,
                    _ = client.cancel.cancelled() => {
                        // A slow consumer's write in flight ends on a message
                        // boundary: if it completes soon, the client can be told why.
                        let finished = tokio::time::timeout(SLOW_CONSUMER_NOTICE, &mut write).await;
                        if matches!(finished, Ok(Ok(Ok(())))) {
                            tell_slow_consumer(&client, &mut socket).await;
                        }
                        return;
                    }
                }
            };
            match result {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    client.close_hard(CloseReason::WriteError);
                    return;
                }
                Err(_elapsed) => {
                    client.slow_consumer_write_deadline(write_deadline, spare.len());
                    return;
                }
            }
            spare.clear();
            if spare.capacity() > KEEP_CAPACITY {
                spare = Vec::new();
            }
            let mut out = client.out.lock().unwrap_or_else(|e| e.into_inner());
            out.in_flight = 0;
        }
        if closing {
            tell_slow_consumer(&client, &mut socket).await;
            let _ = tokio::time::timeout(write_deadline, socket.shutdown()).await;
            return;
        }
        tokio::select! {
            _ = client.wake.notified() => {}
            _ = client.cancel.cancelled() => {
                tell_slow_consumer(&client, &mut socket).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_msg_and_hmsg() {
        let mut o = Outbound::default();
        assert_eq!(o.push_msg(b"foo", b"1", None, None, b"hello", 1 << 20), Pushed::Queued);
        assert_eq!(
            o.push_msg(b"foo", b"9", Some(b"_INBOX.x"), Some(12), b"NATS/1.0\r\n\r\nhi", 1 << 20),
            Pushed::Queued
        );
        assert_eq!(o.buf, b"MSG foo 1 5\r\nhello\r\nHMSG foo 9 _INBOX.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        assert_eq!((o.msgs, o.bytes), (2, 19));
    }

    #[test]
    fn slow_consumer_on_max_pending() {
        let mut o = Outbound::default();
        assert_eq!(o.push_msg(b"a", b"1", None, None, &[0; 50], 100), Pushed::Queued);
        let len = o.buf.len();
        assert_eq!(o.push_msg(b"a", b"1", None, None, &[0; 50], 100), Pushed::SlowConsumer);
        assert_eq!(o.buf.len(), len, "the message that overflowed is not queued");
        assert_eq!(o.push_msg(b"a", b"1", None, None, b"", 100), Pushed::Closed);
    }
}
