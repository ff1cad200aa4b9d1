//! Plays a session against one server and records what each connection got.
//!
//! Determinism comes from round trips, never from sleeping: after a step the
//! player sends `PING` on that connection and waits for its `PONG`. Whatever
//! the step caused on other connections (deliveries) was queued on their
//! sockets before that PONG was queued, so it is ahead of anything a later
//! step makes them receive. At the end every connection is half-closed and
//! read to EOF, which flushes whatever the server still had queued. A step
//! written in pieces waits, between pieces, until the server has read what
//! was sent (the kernel's queues for the connection are empty), so every
//! piece is a read of its own on both servers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::kernel_queues::KernelQueues;
use super::normalise::{has_info, pongs, Recorded};
use super::session::Session;

/// Upper bound on one wait for the server (a PONG, the INFO, the close).
/// Generated sessions never need it; it only bounds a broken one.
const STEP_WAIT: Duration = Duration::from_secs(3);

/// Bytes received so far on one connection, filled by its reader task.
#[derive(Default)]
struct Inbox {
    bytes: Vec<u8>,
    eof: bool,
}

struct Conn {
    wr: Option<OwnedWriteHalf>,
    /// Both ends of the connection, to find it in `/proc/net/tcp`.
    ends: Option<(SocketAddr, SocketAddr)>,
    /// Everything written so far, to count the PINGs in it.
    sent: Vec<u8>,
    /// Shared with the reader task; a std mutex held only to append or look.
    inbox: Arc<Mutex<Inbox>>,
    /// The reader signals every append; `Notify` keeps a permit, so a signal
    /// sent between a check and the wait is not lost.
    arrived: Arc<Notify>,
    closed_during_session: bool,
    timed_out: bool,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let stream = match tokio::time::timeout(STEP_WAIT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            other => panic!("connect to {addr}: {other:?}"),
        };
        let _ = stream.set_nodelay(true);
        let ends = stream.local_addr().ok().zip(stream.peer_addr().ok());
        let (mut rd, wr) = stream.into_split();
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let arrived = Arc::new(Notify::new());
        let (inbox2, arrived2) = (inbox.clone(), arrived.clone());
        tokio::spawn(async move {
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = rd.read(&mut chunk).await.unwrap_or(0);
                {
                    let mut ib = inbox2.lock().unwrap_or_else(|e| e.into_inner());
                    if n == 0 {
                        ib.eof = true;
                    } else {
                        ib.bytes.extend_from_slice(&chunk[..n]);
                    }
                }
                arrived2.notify_one();
                if n == 0 {
                    break;
                }
            }
        });
        let mut conn = Conn {
            wr: Some(wr),
            ends,
            sent: Vec::new(),
            inbox,
            arrived,
            closed_during_session: false,
            timed_out: false,
        };
        conn.wait(|ib| has_info(&ib.bytes) || ib.eof).await;
        conn
    }

    /// Waits until `done` holds for the inbox; false on timeout.
    async fn wait(&mut self, done: impl Fn(&Inbox) -> bool) -> bool {
        let deadline = Instant::now() + STEP_WAIT;
        loop {
            if done(&self.inbox.lock().unwrap_or_else(|e| e.into_inner())) {
                return true;
            }
            if tokio::time::timeout_at(deadline, self.arrived.notified()).await.is_err() {
                self.timed_out = true;
                return false;
            }
        }
    }

    /// Waits until the server has read every byte written so far (our send
    /// queue and its receive queue are both empty), so the next write is a
    /// read of its own: the reference parses a control line cut by a read
    /// differently, so both servers must see the same cuts. Bounded: a
    /// server that stopped reading is seen by the next step.
    async fn wait_read_by_server(&self, kernel: Option<&KernelQueues>) {
        let (Some((ours, theirs)), Some(kernel)) = (self.ends, kernel) else {
            // Without netlink the pieces are as separate as the scheduler
            // makes them.
            return tokio::task::yield_now().await;
        };
        let deadline = Instant::now() + STEP_WAIT;
        while !self.eof() && !kernel.drained(ours, theirs) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    fn eof(&self) -> bool {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner()).eof
    }

    /// Writes, ignoring errors: the server may have closed the connection,
    /// and the recording shows that.
    async fn write(&mut self, bytes: &[u8]) {
        self.sent.extend_from_slice(bytes);
        if let Some(wr) = &mut self.wr {
            if wr.write_all(bytes).await.is_err() {
                self.wr = None;
            }
        }
    }

    /// Waits for the PONG to every PING sent so far, the step's own ones
    /// included (waiting for "one more PONG" could be satisfied by a PONG
    /// the step itself asked for, before the step is done).
    async fn sync(&mut self, max_payload: usize) {
        if self.timed_out || self.eof() {
            return;
        }
        self.write(b"PING\r\n").await;
        match expect(&self.sent, max_payload) {
            Expect::Pongs(n) => self.wait(|ib| ib.eof || pongs(&ib.bytes) >= n).await,
            Expect::Close => self.wait(|ib| ib.eof).await,
        };
    }

    async fn finish(mut self) -> Recorded {
        self.closed_during_session = self.eof();
        if !self.closed_during_session && !self.timed_out {
            if let Some(mut wr) = self.wr.take() {
                let _ = wr.shutdown().await;
            }
            self.wait(|ib| ib.eof).await;
        }
        let ib = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        Recorded { bytes: ib.bytes.clone(), closed: self.closed_during_session, timed_out: self.timed_out }
    }
}

/// Plays `session` against the server at `addr`.
pub async fn play(addr: SocketAddr, session: &Session) -> Vec<Recorded> {
    let mut conns = Vec::with_capacity(session.conns);
    for _ in 0..session.conns {
        conns.push(Conn::open(addr).await);
    }
    let kernel = KernelQueues::open();
    for step in &session.steps {
        let conn = &mut conns[step.conn];
        if conn.timed_out {
            continue;
        }
        let pieces = step.pieces();
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            conn.write(piece).await;
            if i < last {
                // The server takes the piece in a read of its own.
                conn.wait_read_by_server(kernel.as_ref()).await;
            }
        }
        if step.sync {
            conn.sync(session.config.max_payload()).await;
        }
    }
    let mut out = Vec::with_capacity(conns.len());
    for c in conns {
        out.push(c.finish().await);
    }
    out
}

/// What a server does with what a client sent so far: answers this many
/// PINGs, or closes the connection. Ops are walked the way nats-server frames
/// them (a PUB's payload is skipped by its size).
#[derive(Debug, PartialEq, Eq)]
pub enum Expect {
    Pongs(usize),
    Close,
}

pub fn expect(sent: &[u8], max_payload: usize) -> Expect {
    let mut pings = 0;
    let mut pos = 0;
    while pos < sent.len() {
        let rest = &sent[pos..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else { break };
        let starts = |verb: &[u8]| rest.len() >= verb.len() && rest[..verb.len()].eq_ignore_ascii_case(verb);
        let line = &rest[..nl];
        pos += nl + 1;
        if starts(b"PING") {
            pings += 1;
        } else if starts(b"PUB ") || starts(b"PUB\t") || starts(b"HPUB ") || starts(b"HPUB\t") {
            // A CR in the argument after its first byte drops the byte
            // before the LF (the argument starts after the verb's blanks).
            let verb = if starts(b"PUB") { 3 } else { 4 };
            let arg = line[verb..].iter().position(|&b| b != b' ' && b != b'\t').map_or(line.len(), |i| verb + i);
            let cr = line.get(arg + 1..).is_some_and(|rest| rest.contains(&b'\r'));
            let line = if cr { &line[..line.len() - 1] } else { line };
            let size = line
                .split(|&b| b == b' ' || b == b'\t')
                .rfind(|a| !a.is_empty())
                .filter(|a| a.len() <= 9 && a.iter().all(u8::is_ascii_digit))
                .and_then(|a| std::str::from_utf8(a).ok()?.parse::<usize>().ok());
            match size {
                Some(n) if n <= max_payload => pos += n + 2,
                _ => return Expect::Close,
            }
        } else if starts(b"HMSG ") || starts(b"HMSG\t") {
            pos += 2;
        } else if !(starts(b"PONG")
            || starts(b"+OK")
            || starts(b"SUB")
            || starts(b"UNSUB")
            || starts(b"CONNECT")
            || starts(b"INFO"))
        {
            return Expect::Close;
        }
    }
    Expect::Pongs(pings)
}
