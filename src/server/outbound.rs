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
//! Every byte queued for the peer, messages and protocol lines alike (PONG,
//! `+OK`, `-ERR`, INFO, a route's RS+), goes through one function,
//! [`Outbound::queue`], and counts toward the connection's `max_pending`:
//! a client that sends PING after PING and never reads is cut off as a slow
//! consumer once it owes that much, as nats-server's `queueOutbound` does,
//! instead of growing the server without bound.
//!
//! A subscriber that falls behind (more than 3/4 of `max_pending` owed) is
//! marked *behind* until its writer next completes a write, as nats-server
//! marks it with its stall gate: its producers slow down (see
//! the stall module) or, with `no_fast_producer_stall`, skip it.
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

/// What a writer that has written everything keeps of its two buffers (the
/// one it writes from and the one being filled): a connection that goes
/// quiet between bursts holds at most this much in each, as nats-server
/// returns its buffers to its pools once flushed. One burst of 4 KiB
/// messages fanned out to 28 subscribers held 256 KiB twice per connection
/// after it, for good.
const IDLE_KEEP_CAPACITY: usize = 16 * 1024;

/// How long a slow consumer's last write may take to finish so that it can be
/// sent `-ERR 'Slow Consumer'`; a client that is not reading at all is simply
/// closed after this.
const SLOW_CONSUMER_NOTICE: Duration = Duration::from_millis(250);

/// Set in [`Outbound::state`] when the close drops queued output.
const HARD: u16 = 1 << 8;

/// What appending bytes did.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Pushed {
    Queued,
    /// Queued to a subscriber that was already behind: the producer should
    /// stall for it.
    QueuedBehind,
    /// Not queued: the subscriber is behind and the producer does not stall
    /// (`no_fast_producer_stall`), so the message skips this subscriber.
    Dropped,
    /// It would have gone over `max_pending`: nothing was queued and the
    /// caller must close the connection as a slow consumer.
    SlowConsumer,
    /// The connection is closing; nothing was queued.
    Closed,
}

/// What a producer does about a subscriber that is behind.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum WhenBehind {
    /// Queue the message, then stall for the subscriber (a client producer).
    Stall,
    /// Skip the subscriber (`no_fast_producer_stall: true`).
    Drop,
    /// Queue the message and go on (internal messages; routes later).
    Queue,
}

/// The control line of one MSG or HMSG, in parts. Sizes are digits, as the
/// publisher wrote them.
#[derive(Debug, Clone, Copy)]
pub struct MsgLine<'a> {
    pub subject: &'a [u8],
    pub sid: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// `Some` for an HMSG: the size of the header block.
    pub header_size: Option<&'a [u8]>,
    /// The size of headers and payload together.
    pub size: &'a [u8],
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
#[derive(Debug)]
struct Queue {
    buf: Vec<u8>,
    /// Bytes handed to the writer and not yet written (for `pending`).
    in_flight: usize,
    /// The most bytes this connection may owe its peer, queued and in
    /// flight together (`max_pending`; set by the owning session from its
    /// configuration, and again after a reload).
    max_pending: usize,
    msgs: u64,
    bytes: u64,
    /// More than 3/4 of `max_pending` was owed after some push, and the
    /// writer has not completed a write since (nats-server's stall gate).
    behind: bool,
}

impl Default for Queue {
    fn default() -> Queue {
        Queue {
            buf: Vec::new(),
            in_flight: 0,
            max_pending: crate::options::DEFAULT_MAX_PENDING,
            msgs: 0,
            bytes: 0,
            behind: false,
        }
    }
}

/// What is being queued: a message counts in `out_msgs`/`out_bytes` and may
/// be skipped or stalled for when its subscriber is behind; protocol bytes
/// are neither, but count toward `max_pending` all the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A message with a payload of this many bytes.
    Message {
        payload: usize,
    },
    Protocol,
}

#[derive(Debug, Default)]
pub struct Outbound {
    /// A std mutex: held only to append or to swap the buffer out, never
    /// across an `.await`, so contention stays at a few hundred nanoseconds.
    queue: Mutex<Queue>,
    /// Wakes the writer: bytes queued or the connection closing. `Notify`
    /// keeps one permit, so a wakeup sent while the writer is busy is not lost.
    wake: Notify,
    /// Wakes the producers stalled for this subscriber when it stops being
    /// behind (a write completed, or it is closing). Waiters register
    /// before they look at `behind`, so no wakeup is missed.
    caught_up: Notify,
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

    /// Sets the most bytes this connection may owe (`max_pending`).
    pub fn set_max_pending(&self, max_pending: usize) {
        self.lock().max_pending = max_pending;
    }

    pub fn max_pending(&self) -> usize {
        self.lock().max_pending
    }

    /// The one way bytes are queued for the peer. `encode` appends them to
    /// the buffer (at least `at_least` bytes; about `reserve`, reserved
    /// first); over `max_pending` they are taken back and the caller must
    /// close the connection as a slow consumer; over 3/4 of it the
    /// subscriber is behind.
    fn queue(
        &self,
        kind: Kind,
        when_behind: WhenBehind,
        (at_least, reserve): (usize, usize),
        encode: impl FnOnce(&mut Vec<u8>),
    ) -> Pushed {
        if self.is_hard_closed() {
            return Pushed::Closed;
        }
        let mut q = self.lock();
        let was_behind = q.behind;
        let message = matches!(kind, Kind::Message { .. });
        if message && was_behind && when_behind == WhenBehind::Drop {
            return Pushed::Dropped;
        }
        let before = q.buf.len();
        // What surely cannot fit is refused before anything is copied, so the
        // buffer never grows past the limit for it.
        if before + q.in_flight + at_least > q.max_pending {
            return Pushed::SlowConsumer;
        }
        let needed = before + reserve;
        if needed > q.buf.capacity() {
            // Doubling, but never past what may be owed: the buffer's
            // memory stays within max_pending (a doubled 64 MiB buffer
            // would hold 128 MiB for a slow consumer about to be cut).
            let room = q.max_pending.saturating_sub(q.in_flight).max(needed);
            let target = (q.buf.capacity() * 2).max(needed).min(room);
            q.buf.reserve_exact(target - before);
        }
        encode(&mut q.buf);
        let pending = q.buf.len() + q.in_flight;
        if pending > q.max_pending {
            q.buf.truncate(before);
            return Pushed::SlowConsumer;
        }
        if pending > q.max_pending / 4 * 3 {
            q.behind = true;
        }
        if let Kind::Message { payload } = kind {
            q.msgs += 1;
            q.bytes += payload as u64;
        }
        if message && was_behind && when_behind == WhenBehind::Stall {
            Pushed::QueuedBehind
        } else {
            Pushed::Queued
        }
    }

    /// Appends protocol bytes (PONG, `+OK`, `-ERR`, INFO, PING, a route's
    /// RS+/RS-), counted toward `max_pending` like everything else.
    pub fn push_proto(&self, bytes: &[u8]) -> Pushed {
        self.queue(Kind::Protocol, WhenBehind::Queue, (bytes.len(), bytes.len()), |buf| buf.extend_from_slice(bytes))
    }

    /// Appends `MSG subject sid [reply] size` (or `HMSG ... hdr total`), the
    /// payload and CRLF, counting it against `max_pending`, and marks the
    /// subscriber behind when it then owes more than 3/4 of it.
    pub fn push_msg(&self, line: &MsgLine<'_>, payload: &[u8], when_behind: WhenBehind) -> Pushed {
        let size = line.subject.len()
            + line.sid.len()
            + line.reply.map_or(0, |r| r.len() + 1)
            + line.header_size.map_or(0, |h| h.len() + 1)
            + line.size.len()
            + payload.len()
            + 11;
        self.queue(Kind::Message { payload: payload.len() }, when_behind, (payload.len(), size), |buf| {
            buf.extend_from_slice(if line.header_size.is_some() { b"HMSG " } else { b"MSG " });
            buf.extend_from_slice(line.subject);
            buf.push(b' ');
            buf.extend_from_slice(line.sid);
            buf.push(b' ');
            if let Some(reply) = line.reply {
                buf.extend_from_slice(reply);
                buf.push(b' ');
            }
            if let Some(h) = line.header_size {
                buf.extend_from_slice(h);
                buf.push(b' ');
            }
            buf.extend_from_slice(line.size);
            buf.extend_from_slice(b"\r\n");
            buf.extend_from_slice(payload);
            buf.extend_from_slice(b"\r\n");
        })
    }

    /// Whether this subscriber is behind (see [`Pushed::QueuedBehind`]).
    pub fn is_behind(&self) -> bool {
        self.lock().behind
    }

    /// Waits until this subscriber is no longer behind, at most `max`;
    /// returns whether it caught up in time.
    pub async fn wait_caught_up(&self, max: Duration) -> bool {
        let caught_up = self.caught_up.notified();
        tokio::pin!(caught_up);
        // Registered before the check, so a release in between wakes us.
        caught_up.as_mut().enable();
        if !self.is_behind() {
            return true;
        }
        tokio::time::timeout(max, caught_up).await.is_ok()
    }

    /// Releases the producers stalled for this subscriber.
    fn release_behind(&self, q: &mut Queue) {
        if std::mem::take(&mut q.behind) {
            self.caught_up.notify_waiters();
        }
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
        when_behind: WhenBehind,
    ) -> Pushed {
        let queued_names: usize = queues.clone().map(|q| q.len() + 1).sum();
        let size = account.len() + subject.len() + reply.map_or(0, |r| r.len()) + queued_names + payload.len() + 64;
        self.queue(Kind::Message { payload: payload.len() }, when_behind, (payload.len(), size), |buf| {
            let mut num = itoa::Buffer::new();
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
        })
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
        {
            let mut q = self.lock();
            if hard {
                q.buf = Vec::new();
            }
            // A closing subscriber holds no producer back.
            self.release_behind(&mut q);
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
                let mut q = self.lock();
                q.in_flight = 0;
                // Everything attempted was written: the subscriber is keeping
                // up, as nats-server judges it when a flush completes.
                self.release_behind(&mut q);
            }
            // Nothing left to hand over: a stream that buffers (websocket
            // frames, its control frames) writes the rest now; TCP has
            // nothing to flush.
            if !self.is_hard_closed() {
                match tokio::time::timeout(write_deadline(), socket.flush()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return WriteEnd::Error,
                    Err(_elapsed) => return WriteEnd::Deadline { bytes: 0 },
                }
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
            if spare.capacity() > IDLE_KEEP_CAPACITY {
                spare = Vec::new();
            }
            {
                let mut q = self.lock();
                if q.buf.is_empty() && q.buf.capacity() > IDLE_KEEP_CAPACITY {
                    q.buf = Vec::new();
                }
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

    /// A MSG to sid 1 of `a`, its size written plainly.
    fn push(o: &Outbound, payload: &[u8], max_pending: usize, when: WhenBehind) -> Pushed {
        let size = payload.len().to_string();
        let line = MsgLine { subject: b"a", sid: b"1", reply: None, header_size: None, size: size.as_bytes() };
        o.set_max_pending(max_pending);
        o.push_msg(&line, payload, when)
    }

    #[test]
    fn encodes_msg_and_hmsg() {
        let o = Outbound::default();
        let line = MsgLine { subject: b"foo", sid: b"1", reply: None, header_size: None, size: b"005" };
        assert_eq!(o.push_msg(&line, b"hello", WhenBehind::Stall), Pushed::Queued);
        let line =
            MsgLine { subject: b"foo", sid: b"9", reply: Some(b"_INBOX.x"), header_size: Some(b"12"), size: b"14" };
        assert_eq!(o.push_msg(&line, b"NATS/1.0\r\n\r\nhi", WhenBehind::Stall), Pushed::Queued);
        assert_eq!(contents(&o), b"MSG foo 1 005\r\nhello\r\nHMSG foo 9 _INBOX.x 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
        assert_eq!(o.counters(), (2, 19));
    }

    #[test]
    fn encodes_routed_messages() {
        let o = Outbound::default();
        let none = std::iter::empty::<&[u8]>();
        o.push_routed(b"$G", b"foo", None, none.clone(), None, b"hi", WhenBehind::Queue);
        o.push_routed(b"$G", b"foo", Some(b"r.1"), none.clone(), None, b"hi", WhenBehind::Queue);
        o.push_routed(b"$G", b"foo", None, none, Some(12), b"NATS/1.0\r\n\r\nhi", WhenBehind::Queue);
        let qs: [&[u8]; 2] = [b"qg", b"qg2"];
        o.push_routed(b"$G", b"q", None, qs.iter().copied(), None, b"qq", WhenBehind::Queue);
        o.push_routed(b"$G", b"q", Some(b"rep.3"), qs.iter().copied(), None, b"qq", WhenBehind::Queue);
        o.push_routed(
            b"$G",
            b"q",
            Some(b"r"),
            qs[..1].iter().copied(),
            Some(12),
            b"NATS/1.0\r\n\r\nhi",
            WhenBehind::Queue,
        );
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
        assert_eq!(push(&o, &[0; 50], 100, WhenBehind::Stall), Pushed::Queued);
        let len = contents(&o).len();
        assert_eq!(push(&o, &[0; 50], 100, WhenBehind::Stall), Pushed::SlowConsumer);
        assert_eq!(contents(&o).len(), len, "the message that overflowed is not queued");
        assert!(o.close(CloseReason::SlowConsumerPendingBytes, true));
        assert_eq!(push(&o, b"", 100, WhenBehind::Stall), Pushed::Closed);
        assert!(contents(&o).is_empty(), "a hard close drops queued output");
    }

    #[test]
    fn only_queued_messages_count_toward_out_msgs_and_out_bytes() {
        let o = Outbound::default();
        // 64 bytes owed of 100: not behind yet.
        assert_eq!(push(&o, &[0; 50], 100, WhenBehind::Stall), Pushed::Queued);
        assert_eq!(o.counters(), (1, 50));
        // Refused: the message would take it past max_pending.
        assert_eq!(push(&o, &[0; 50], 100, WhenBehind::Stall), Pushed::SlowConsumer);
        assert_eq!(o.counters(), (1, 50));
        // 79 owed: behind, so a producer that does not stall skips it.
        assert_eq!(push(&o, &[0; 1], 100, WhenBehind::Queue), Pushed::Queued);
        assert!(o.is_behind());
        assert_eq!(push(&o, &[0; 1], 100, WhenBehind::Drop), Pushed::Dropped);
        assert_eq!(o.counters(), (2, 51));
        // Protocol bytes take room but are no message.
        assert!(matches!(o.push_proto(b"PING\r\n"), Pushed::Queued | Pushed::QueuedBehind));
        assert_eq!(o.counters(), (2, 51));
        assert_eq!(o.pending(), contents(&o).len());
    }

    /// Over 3/4 of max_pending a subscriber is behind: the next message
    /// asks its producer to stall, or skips it, until a write completes.
    #[tokio::test]
    async fn behind_over_three_quarters_until_a_write_completes() {
        let o = std::sync::Arc::new(Outbound::default());
        // `MSG a 1 N` and two CRLFs add 13 or 14 bytes to each payload.
        assert_eq!(push(&o, &[0; 60], 1000, WhenBehind::Stall), Pushed::Queued);
        assert!(!o.is_behind(), "74 of 1000 owed");
        assert_eq!(push(&o, &[0; 690], 1000, WhenBehind::Stall), Pushed::Queued);
        assert!(o.is_behind(), "this push took it over 750");
        assert_eq!(push(&o, b"x", 1000, WhenBehind::Stall), Pushed::QueuedBehind);
        assert_eq!(push(&o, b"x", 1000, WhenBehind::Queue), Pushed::Queued);
        let len = contents(&o).len();
        assert_eq!(push(&o, b"x", 1000, WhenBehind::Drop), Pushed::Dropped);
        assert_eq!(contents(&o).len(), len, "a dropped message is not queued");
        assert!(!o.wait_caught_up(Duration::from_millis(1)).await, "nobody writes");

        let (ours, mut theirs) = tokio::io::duplex(4096);
        let writer = {
            let o = o.clone();
            tokio::spawn(async move { o.write_loop(ours, || Duration::from_secs(5)).await })
        };
        let waiter = {
            let o = o.clone();
            tokio::spawn(async move { o.wait_caught_up(Duration::from_secs(60)).await })
        };
        o.wake_writer();
        let mut got = vec![0; len];
        theirs.read_exact(&mut got).await.unwrap();
        assert!(waiter.await.unwrap(), "a completed write releases the stalled producer");
        assert!(!o.is_behind());
        assert_eq!(push(&o, b"x", 1000, WhenBehind::Drop), Pushed::Queued);
        o.close(CloseReason::ClientClosed, false);
        assert_eq!(writer.await.unwrap(), WriteEnd::Closed);
    }

    /// A burst grows both buffers; once everything is written and the
    /// writer waits, the one being filled is small again.
    #[tokio::test]
    async fn buffers_grown_by_a_burst_are_released_when_idle() {
        let o = std::sync::Arc::new(Outbound::default());
        let (ours, mut theirs) = tokio::io::duplex(4096);
        let writer = {
            let o = o.clone();
            tokio::spawn(async move { o.write_loop(ours, || Duration::from_secs(5)).await })
        };
        // The first 100 KB is taken by the writer, which blocks on the
        // unread socket; the second fills the other buffer meanwhile.
        let burst = vec![b'x'; 100 * 1024];
        for _ in 0..2 {
            assert_eq!(o.push_proto(&burst), Pushed::Queued);
            o.wake_writer();
            tokio::task::yield_now().await;
        }
        let mut got = vec![0; 2 * burst.len()];
        theirs.read_exact(&mut got).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while o.lock().buf.capacity() > IDLE_KEEP_CAPACITY {
            assert!(std::time::Instant::now() < deadline, "capacity {} kept", o.lock().buf.capacity());
            tokio::task::yield_now().await;
        }
        o.close(CloseReason::ClientClosed, false);
        assert_eq!(writer.await.unwrap(), WriteEnd::Closed);
    }

    #[tokio::test]
    async fn closing_releases_stalled_producers() {
        let o = std::sync::Arc::new(Outbound::default());
        assert_eq!(push(&o, &[0; 80], 100, WhenBehind::Stall), Pushed::Queued);
        assert!(o.is_behind());
        let waiter = {
            let o = o.clone();
            tokio::spawn(async move { o.wait_caught_up(Duration::from_secs(60)).await })
        };
        tokio::task::yield_now().await;
        o.close(CloseReason::SlowConsumerWriteDeadline, true);
        assert!(waiter.await.unwrap());
    }

    /// Protocol bytes count like messages: a peer that never reads its
    /// PONGs is a slow consumer once it owes `max_pending`, with the bytes
    /// in flight counted too, and the buffer never holds more than that.
    #[test]
    fn protocol_bytes_count_toward_max_pending() {
        let o = Outbound::default();
        o.set_max_pending(60);
        for _ in 0..10 {
            assert_eq!(o.push_proto(b"PONG\r\n"), Pushed::Queued);
        }
        assert_eq!(o.pending(), 60);
        assert_eq!(o.push_proto(b"PONG\r\n"), Pushed::SlowConsumer, "the 61st byte");
        assert_eq!(o.pending(), 60, "nothing past the limit was kept");
        assert_eq!(o.counters(), (0, 0), "protocol lines are not messages");
        // Bytes handed to the writer still count until written.
        o.lock().in_flight = 54;
        o.lock().buf.truncate(6);
        assert_eq!(o.push_proto(b"+OK\r\n"), Pushed::SlowConsumer);
        // A large line that cannot fit is refused without growing the buffer.
        let big = vec![b'x'; 1 << 20];
        let capacity = o.lock().buf.capacity();
        assert_eq!(o.push_proto(&big), Pushed::SlowConsumer);
        assert_eq!(o.lock().buf.capacity(), capacity);
        assert_eq!(o.max_pending(), 60);
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
        let line = MsgLine { subject: b"s", sid: b"1", reply: None, header_size: None, size: b"1" };
        o.push_msg(&line, b"x", WhenBehind::Stall);
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
