//! A soak client over a plain socket.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

/// A client connection over a plain socket: CONNECT, then a reader task
/// that answers PINGs and hands every MSG to `on_msg`.
pub(super) struct Client {
    w: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    closed: Arc<AtomicBool>,
    /// The reader task, which holds the socket: stopped when the client is
    /// dropped, so a dropped client really disconnects.
    reader: tokio::task::AbortHandle,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

pub(super) type OnMsg = Arc<dyn Fn(&str, &[u8]) + Send + Sync>;

impl Client {
    pub(super) async fn connect(
        addr: SocketAddr,
        user: &str,
        pass: &str,
        subs: &[(&str, Option<&str>)],
        on_msg: OnMsg,
    ) -> std::io::Result<Client> {
        let s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::other("connect timed out"))??;
        let _ = s.set_nodelay(true);
        let (r, mut w) = s.into_split();
        let mut r = BufReader::new(r);
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line))
            .await
            .map_err(|_| std::io::Error::other("no INFO"))??;
        let mut hello = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"{pass}\",\"protocol\":1}}\r\n"
        );
        for (i, (subject, queue)) in subs.iter().enumerate() {
            match queue {
                Some(q) => hello.push_str(&format!("SUB {subject} {q} {}\r\n", i + 1)),
                None => hello.push_str(&format!("SUB {subject} {}\r\n", i + 1)),
            }
        }
        hello.push_str("PING\r\n");
        w.write_all(hello.as_bytes()).await?;
        // Until the PONG: logged in, subscriptions in place.
        loop {
            line.clear();
            let n = tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line))
                .await
                .map_err(|_| std::io::Error::other("no PONG"))??;
            if n == 0 || line.starts_with("-ERR") {
                return Err(std::io::Error::other(format!("refused: {}", line.trim())));
            }
            if line == "PONG\r\n" {
                break;
            }
        }
        let w = Arc::new(tokio::sync::Mutex::new(w));
        let closed = Arc::new(AtomicBool::new(false));
        let (rw, rc) = (w.clone(), closed.clone());
        let reader = tokio::spawn(async move {
            let _ = read_loop(r, rw, on_msg).await;
            rc.store(true, Ordering::Release);
        })
        .abort_handle();
        Ok(Client { w, closed, reader })
    }

    pub(super) async fn send(&self, bytes: &[u8]) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        let mut w = self.w.lock().await;
        matches!(tokio::time::timeout(Duration::from_secs(5), w.write_all(bytes)).await, Ok(Ok(())))
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

pub(super) async fn read_loop(
    mut r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    w: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    on_msg: OnMsg,
) -> std::io::Result<()> {
    let mut line = String::new();
    let mut payload = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if line.starts_with("MSG ") {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let size: usize = parts.last().and_then(|s| s.parse().ok()).unwrap_or(0);
            payload.resize(size + 2, 0);
            r.read_exact(&mut payload).await?;
            let subject = parts.get(1).copied().unwrap_or_default();
            on_msg(subject, &payload[..size]);
        } else if line.starts_with("PING") {
            w.lock().await.write_all(b"PONG\r\n").await?;
        }
    }
}

/// A message's payload: sequence number, send time (nanoseconds since
/// start), padding.
pub(super) fn payload(seq: u64, start: Instant, size: usize) -> Vec<u8> {
    let mut p = vec![b'.'; size.max(16)];
    p[..8].copy_from_slice(&seq.to_be_bytes());
    p[8..16].copy_from_slice(&(start.elapsed().as_nanos() as u64).to_be_bytes());
    p
}

pub(super) fn seq_of(p: &[u8]) -> Option<(u64, u64)> {
    Some((u64::from_be_bytes(p.get(..8)?.try_into().ok()?), u64::from_be_bytes(p.get(8..16)?.try_into().ok()?)))
}
