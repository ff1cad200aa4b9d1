//! One connection's outbound side: the buffer publishers append to, the single
//! close state of the connection, and the writer that drains the buffer to the
//! socket.
//!
//! Publishers never touch a subscriber's socket: they append the encoded
//! `MSG`/`HMSG` to the subscriber's [`Outbound`] (a short critical section under
//! a std `Mutex`, never held across an `.await`) and, once per read chunk, wake
//! its writer. The writer swaps the whole buffer out and writes it in one call,
//! so N messages cost one syscall, and steady state allocates nothing (the two
//! buffers are reused).
//!
//! This file knows nothing about connections, logging or statistics: the
//! writer reports how it ended ([`WriteEnd`]) and its caller acts on it.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::errors::{err_line, CloseReason, ERR_SLOW_CONSUMER};

/// Buffers bigger than this are released after a flush instead of kept for
/// reuse, so one burst does not pin memory on an idle connection.
const KEEP_CAPACITY: usize = 256 * 1024;

/// How long a slow consumer's last write may take to finish so that it can be
/// sent `-ERR 'Slow Consumer'`; a client that is not reading at all is simply
/// closed after this.
const SLOW_CONSUMER_NOTICE: Duration = Duration::from_millis(250);

/// Set in [`Outbound::state`] when the close drops queued output.
const HARD: u16 = 1 << 8;

/// What appending a message did.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Pushed {
    Queued,
    /// It would have gone over `max_pending`: the message was not queued and
    /// the caller must close the connection as a slow consumer.
    SlowConsumer,
    /// The connection is closing; nothing was queued.
    Closed,
}

/// How the writer ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum WriteEnd {
    /// The connection was closed; everything owed was written (graceful) or
    /// dropped (hard).
    Closed,
    /// The socket refused a write.
    Error,
    /// One write took longer than the write deadline.
    Deadline { bytes: usize },
}

/// The bytes waiting to be written.
#[derive(Debug, Default)]
struct Queue {
    buf: Vec<u8>,
    /// Bytes handed to the writer and not yet written (for `pending`).
    in_flight: usize,
    msgs: u64,
    bytes: u64,
}

#[derive(Debug, Default)]
pub struct Outbound {
    /// A std mutex: held only to append or to swap the buffer out, never
    /// across an `.await`, so contention stays at a few hundred nanoseconds.
    queue: Mutex<Queue>,
    /// Wakes the writer: bytes queued or the connection closing. `Notify`
    /// keeps one permit, so a wakeup sent while the writer is busy is not lost.
    wake: Notify,
    /// The connection's one close state: 0 while open, then the
    /// [`CloseReason`] (the first one set wins) plus the [`HARD`] bit when
    /// queued output is to be dropped. Atomic so that publishers and both
    /// tasks of the connection read it without taking the queue lock.
    state: AtomicU16,
}

impl Outbound {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends raw protocol bytes (PONG, +OK, -ERR, INFO). Control traffic is
    /// not subject to `max_pending`.
    pub fn push_proto(&self, bytes: &[u8]) {
        if self.is_hard_closed() {
            return;
        }
        self.lock().buf.extend_from_slice(bytes);
    }

    /// Appends `MSG subject sid [reply] size` (or `HMSG ... hdr total`), the
    /// payload and CRLF, counting it against `max_pending`.
    #[allow(clippy::too_many_arguments)]
    pub fn push_msg(
        &self,
        subject: &[u8],
        sid: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        payload: &[u8],
        max_pending: usize,
    ) -> Pushed {
        if self.is_hard_closed() {
            return Pushed::Closed;
        }
        let mut q = self.lock();
        let mut num = itoa::Buffer::new();
        let before = q.buf.len();
        let buf = &mut q.buf;
        buf.reserve(subject.len() + sid.len() + reply.map_or(0, |r| r.len()) + payload.len() + 32);
        buf.extend_from_slice(if header_len.is_some() { b"HMSG " } else { b"MSG " });
        buf.extend_from_slice(subject);
        buf.push(b' ');
        buf.extend_from_slice(sid);
        buf.push(b' ');
        if let Some(reply) = reply {
            buf.extend_from_slice(reply);
            buf.push(b' ');
        }
        if let Some(h) = header_len {
            buf.extend_from_slice(num.format(h).as_bytes());
            buf.push(b' ');
        }
        buf.extend_from_slice(num.format(payload.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(payload);
        buf.extend_from_slice(b"\r\n");
        if q.buf.len() + q.in_flight > max_pending {
            q.buf.truncate(before);
            return Pushed::SlowConsumer;
        }
        q.msgs += 1;
        q.bytes += payload.len() as u64;
        Pushed::Queued
    }

    /// Appends a message for another server: `RMSG <account> <subject>
    /// [reply] <size>` (`HMSG … <hdr> <size>` with headers), and with queue
    /// groups to deliver to, `RMSG <account> <subject> + <reply> <q1> … <size>`
    /// or `RMSG <account> <subject> | <q1> … <size>`. One per route per message.
    #[allow(clippy::too_many_arguments)]
    pub fn push_routed<'q>(
        &self,
        account: &[u8],
        subject: &[u8],
        reply: Option<&[u8]>,
        queues: impl Iterator<Item = &'q [u8]> + Clone,
        header_len: Option<usize>,
        payload: &[u8],
        max_pending: usize,
    ) -> Pushed {
        if self.is_hard_closed() {
            return Pushed::Closed;
        }
        let queued_names: usize = queues.clone().map(|q| q.len() + 1).sum();
        let mut q = self.lock();
        let mut num = itoa::Buffer::new();
        let before = q.buf.len();
        let buf = &mut q.buf;
        buf.reserve(account.len() + subject.len() + reply.map_or(0, |r| r.len()) + queued_names + payload.len() + 40);
        buf.extend_from_slice(if header_len.is_some() { b"HMSG " } else { b"RMSG " });
        buf.extend_from_slice(account);
        buf.push(b' ');
        buf.extend_from_slice(subject);
        buf.push(b' ');
        if queued_names > 0 {
            match reply {
                Some(reply) => {
                    buf.extend_from_slice(b"+ ");
                    buf.extend_from_slice(reply);
                    buf.push(b' ');
                }
                None => buf.extend_from_slice(b"| "),
            }
            for name in queues {
                buf.extend_from_slice(name);
                buf.push(b' ');
            }
        } else if let Some(reply) = reply {
            buf.extend_from_slice(reply);
            buf.push(b' ');
        }
        if let Some(h) = header_len {
            buf.extend_from_slice(num.format(h).as_bytes());
            buf.push(b' ');
        }
        buf.extend_from_slice(num.format(payload.len()).as_bytes());
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(payload);
        buf.extend_from_slice(b"\r\n");
        if q.buf.len() + q.in_flight > max_pending {
            q.buf.truncate(before);
            return Pushed::SlowConsumer;
        }
        q.msgs += 1;
        q.bytes += payload.len() as u64;
        Pushed::Queued
    }

    /// Wakes the writer to send what is queued.
    pub fn wake_writer(&self) {
        self.wake.notify_one();
    }

    /// Starts closing the connection. The first reason given is the one that
    /// stays; a later hard close still drops queued output. Returns whether
    /// this call set the reason.
    pub fn close(&self, reason: CloseReason, hard: bool) -> bool {
        let bits = reason as u16 | if hard { HARD } else { 0 };
        let first = self.state.compare_exchange(0, bits, Ordering::AcqRel, Ordering::Acquire).is_ok();
        if !first && hard {
            self.state.fetch_or(HARD, Ordering::AcqRel);
        }
        if hard {
            let mut q = self.lock();
            q.buf = Vec::new();
        }
        self.wake.notify_one();
        first
    }

    pub fn close_reason(&self) -> Option<CloseReason> {
        CloseReason::from_u8((self.state.load(Ordering::Acquire) & 0xff) as u8)
    }

    pub fn is_closing(&self) -> bool {
        self.state.load(Ordering::Acquire) != 0
    }

    pub fn is_hard_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & HARD != 0
    }

    /// Bytes queued or being written.
    pub fn pending(&self) -> usize {
        let q = self.lock();
        q.buf.len() + q.in_flight
    }

    /// Messages and payload bytes queued so far (for `/connz` `out_msgs`).
    pub fn counters(&self) -> (u64, u64) {
        let q = self.lock();
        (q.msgs, q.bytes)
    }

    /// Drains this buffer to `socket` until the connection closes.
    ///
    /// A graceful close (reader finished, server stopping) flushes what is
    /// queued first; a hard close (slow consumer, write error) stops at once.
    /// `write_deadline` is asked before every write, so a reload that changes
    /// it applies to live connections.
    pub async fn write_loop<W: AsyncWrite + Unpin>(
        &self,
        mut socket: W,
        write_deadline: impl Fn() -> Duration,
    ) -> WriteEnd {
        let mut spare: Vec<u8> = Vec::new();
        loop {
            // Read `closing` before draining: anything appended before the close
            // was requested is then guaranteed to be seen by this drain.
            let closing = self.is_closing();
            loop {
                {
                    let mut q = self.lock();
                    if q.buf.is_empty() || self.is_hard_closed() {
                        break;
                    }
                    std::mem::swap(&mut q.buf, &mut spare);
                    q.in_flight = spare.len();
                }
                let deadline = write_deadline();
                let write = tokio::time::timeout(deadline, socket.write_all(&spare));
                tokio::pin!(write);
                let result = loop {
                    tokio::select! {
                        r = &mut write => break r,
                        _ = self.wake.notified() => {
                            if self.is_hard_closed() {
                                // A slow consumer's write in flight ends on a message
                                // boundary: if it completes soon, the client can be told why.
                                let finished = tokio::time::timeout(SLOW_CONSUMER_NOTICE, &mut write).await;
                                if matches!(finished, Ok(Ok(Ok(())))) {
                                    self.tell_slow_consumer(&mut socket).await;
                                }
                                return WriteEnd::Closed;
                            }
                            // More bytes queued: they go with the next write.
                        }
                    }
                };
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return WriteEnd::Error,
                    Err(_elapsed) => return WriteEnd::Deadline { bytes: spare.len() },
                }
                spare.clear();
                if spare.capacity() > KEEP_CAPACITY {
                    spare = Vec::new();
                }
                self.lock().in_flight = 0;
            }
            if closing || self.is_hard_closed() {
                self.tell_slow_consumer(&mut socket).await;
                if !self.is_hard_closed() {
                    let _ = tokio::time::timeout(write_deadline(), socket.shutdown()).await;
                }
                return WriteEnd::Closed;
            }
            if self.is_closing() {
                // Closed while we wrote (its wakeup was taken by the select
                // above): drain once more, then finish.
                continue;
            }
            self.wake.notified().await;
        }
    }

    /// Sends `-ERR 'Slow Consumer'` to a client cut off for exceeding
    /// max_pending. nats-server closes such clients without a word; clients
    /// handle an unknown `-ERR` as an asynchronous error, so this tells them
    /// why they were dropped.
    async fn tell_slow_consumer<W: AsyncWrite + Unpin>(&self, socket: &mut W) {
        if self.close_reason() == Some(CloseReason::SlowConsumerPendingBytes) {
            let notice = err_line(ERR_SLOW_CONSUMER);
            let _ = tokio::time::timeout(SLOW_CONSUMER_NOTICE, socket.write_all(&notice)).await;
            let _ = tokio::time::timeout(SLOW_CONSUMER_NOTICE, socket.shutdown()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn contents(o: &Outbound) -> Vec<u8> {
        o.lock().buf.clone()
    }

    #[test]
    fn encodes_msg_and_hmsg() {
        let o = Outbound::default();
        assert_eq!(o.push_msg(b"foo", b"1", None, None, b"hello", 1 << 20), Pushed::Queued);
        assert_eq!(
            o.push_msg(b"foo", b"9", Some(b"_INBOX.x"), Some(12), b"NATS/1.0\r\n\r\nhi", 1 << 20),
            Pushed::Queued
        );
        assert_eq!(contents(&o), b"MSG foo 1 5\r\nhello\r\nHMSG foo 9 _INBOX.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        assert_eq!(o.counters(), (2, 19));
    }

    #[test]
    fn encodes_routed_messages() {
        let o = Outbound::default();
        let none = std::iter::empty::<&[u8]>();
        o.push_routed(b"$G", b"foo", None, none.clone(), None, b"hi", 1 << 20);
        o.push_routed(b"$G", b"foo", Some(b"r.1"), none.clone(), None, b"hi", 1 << 20);
        o.push_routed(b"$G", b"foo", None, none, Some(12), b"NATS/1.0\r\n\r\nhi", 1 << 20);
        let qs: [&[u8]; 2] = [b"qg", b"qg2"];
        o.push_routed(b"$G", b"q", None, qs.iter().copied(), None, b"qq", 1 << 20);
        o.push_routed(b"$G", b"q", Some(b"rep.3"), qs.iter().copied(), None, b"qq", 1 << 20);
        o.push_routed(b"$G", b"q", Some(b"r"), qs[..1].iter().copied(), Some(12), b"NATS/1.0\r\n\r\nhi", 1 << 20);
        // The reference's bytes (its queue list ends with a space too).
        assert_eq!(
            String::from_utf8(contents(&o)).unwrap(),
            "RMSG $G foo 2\r\nhi\r\nRMSG $G foo r.1 2\r\nhi\r\nHMSG $G foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
             RMSG $G q | qg qg2 2\r\nqq\r\nRMSG $G q + rep.3 qg qg2 2\r\nqq\r\n\
             HMSG $G q + r qg 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
        );
        assert_eq!(o.counters().0, 6);
    }

    #[test]
    fn slow_consumer_on_max_pending() {
        let o = Outbound::default();
        assert_eq!(o.push_msg(b"a", b"1", None, None, &[0; 50], 100), Pushed::Queued);
        let len = contents(&o).len();
        assert_eq!(o.push_msg(b"a", b"1", None, None, &[0; 50], 100), Pushed::SlowConsumer);
        assert_eq!(contents(&o).len(), len, "the message that overflowed is not queued");
        assert!(o.close(CloseReason::SlowConsumerPendingBytes, true));
        assert_eq!(o.push_msg(b"a", b"1", None, None, b"", 100), Pushed::Closed);
        assert!(contents(&o).is_empty(), "a hard close drops queued output");
    }

    #[test]
    fn first_close_reason_wins_and_hard_sticks() {
        let o = Outbound::default();
        assert!(!o.is_closing());
        assert!(o.close(CloseReason::ClientClosed, false));
        assert!(!o.close(CloseReason::WriteError, true));
        assert_eq!(o.close_reason(), Some(CloseReason::ClientClosed));
        assert!(o.is_hard_closed());
    }

    #[tokio::test]
    async fn graceful_close_flushes_then_shuts_down() {
        let o = std::sync::Arc::new(Outbound::default());
        let (ours, mut theirs) = tokio::io::duplex(64);
        let writer = {
            let o = o.clone();
            tokio::spawn(async move { o.write_loop(ours, || Duration::from_secs(5)).await })
        };
        o.push_proto(b"PONG\r\n");
        o.push_msg(b"s", b"1", None, None, b"x", 1 << 20);
        o.close(CloseReason::ClientClosed, false);
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"PONG\r\nMSG s 1 1\r\nx\r\n");
        assert_eq!(writer.await.unwrap(), WriteEnd::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stuck_reader_hits_the_write_deadline() {
        let o = std::sync::Arc::new(Outbound::default());
        // A 16-byte pipe nobody reads: the write cannot finish.
        let (ours, _theirs) = tokio::io::duplex(16);
        o.push_proto(&[b'x'; 64]);
        let end = o.write_loop(ours, || Duration::from_millis(500)).await;
        assert_eq!(end, WriteEnd::Deadline { bytes: 64 });
    }
}
