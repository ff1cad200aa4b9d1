//! The websocket transport: a byte stream over websocket frames, so the
//! session layer runs the NATS protocol over it exactly as over TCP or TLS.
//!
//! - [`WsReader`] turns the client's frames back into the byte stream:
//!   headers are parsed from a small buffer of its own, payloads unmasked
//!   straight into the session's read buffer (or inflated into it), control
//!   frames answered, protocol errors refused with nats-server's close frame.
//! - [`WsWriter`] frames what the session's writer hands it: one binary
//!   frame per write (4 KiB frames for browsers), compressed when
//!   negotiated, control frames first and the close frame last.
//!
//! The two halves share a [`WsLink`]: the control frames the reader owes
//! the peer (pongs, the close answer) and the connection, to wake its writer
//! and learn why it closes. Both halves keep their buffers, compressor and
//! inflater for the life of the connection: nothing is allocated per message.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tracing::error;

use super::deflate::{Deflater, Inflater, COMPRESS_THRESHOLD};
use super::frame::{
    self, ReadRules, MAX_CONTROL_PAYLOAD, MAX_HEADER, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG,
};
use super::handshake::WsMeta;
use crate::server::conn::Connection;
use crate::server::errors::CloseReason;
use crate::server::session::Transport;

/// Frames to browsers carry at most this much (nats-server: "webrowsers
/// behave better with limited frame size").
pub const BROWSER_FRAME: usize = 4096;
/// A compressed message may take at most this many times `max_payload`
/// (nats-server's `wsMaxMsgPayloadMultiple`), and never more than 64 MiB.
const COMPRESSED_MULTIPLE: u64 = 8;
const COMPRESSED_LIMIT: u64 = 64 * 1024 * 1024;
/// The reader's frame buffer: it starts small (most clients send little),
/// doubles after a read that fills it.
const START_RAW: usize = 512;
const MAX_RAW: usize = 64 * 1024;
/// The writer releases a frame buffer bigger than this once it is written.
const KEEP_OUT: usize = 256 * 1024;

/// What the two halves of one websocket connection share.
#[derive(Debug, Default)]
pub struct WsLink {
    /// Set once the session has the connection (before any read).
    conn: OnceLock<Arc<Connection>>,
    /// Whether `control` holds anything: the writer checks this flag, not
    /// the lock, on every write.
    has_control: AtomicBool,
    /// A std mutex, taken by the reader when a control frame arrives and by
    /// the writer when the flag is up; never across an `.await`.
    control: Mutex<Control>,
}

#[derive(Debug, Default)]
struct Control {
    /// Framed pongs, written before the next data.
    frames: Vec<u8>,
    /// The close frame's payload the reader chose (the peer's close
    /// echoed, or a protocol error); written last, instead of the one the
    /// close reason gives.
    close: Option<([u8; MAX_CONTROL_PAYLOAD], usize)>,
}

impl WsLink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_writer(&self) {
        if let Some(conn) = self.conn.get() {
            conn.outbound.wake_writer();
        }
    }

    fn queue_pong(&self, payload: &[u8]) {
        frame::push_frame(&mut self.lock().frames, true, true, false, OP_PONG, payload);
        self.has_control.store(true, Ordering::Release);
        self.wake_writer();
    }

    /// The close frame to send, unless one was chosen already.
    fn set_close(&self, payload: &[u8]) {
        let mut c = self.lock();
        if c.close.is_none() {
            let mut p = [0u8; MAX_CONTROL_PAYLOAD];
            let n = payload.len().min(MAX_CONTROL_PAYLOAD);
            p[..n].copy_from_slice(&payload[..n]);
            c.close = Some((p, n));
        }
    }

    fn log_prefix(&self) -> &str {
        self.conn.get().map_or("websocket", |c| c.log_prefix.as_str())
    }
}

/// How the writer frames: from the handshake.
#[derive(Debug, Clone, Copy, Default)]
struct WriteRules {
    compress: bool,
    browser: bool,
    no_compressed_fragments: bool,
}

/// A websocket connection after the handshake, as one stream.
pub struct WsStream<S: Transport> {
    reader: WsReader<S::Reader>,
    writer: WsWriter<S::Writer>,
}

impl<S: Transport> WsStream<S> {
    /// `stream` just answered `101 Switching Protocols` for `meta`;
    /// `max_payload` bounds a compressed message.
    pub fn new(stream: S, meta: &WsMeta, max_payload: usize) -> WsStream<S> {
        let link = Arc::new(WsLink::default());
        let (rd, wr) = stream.split();
        let rules = ReadRules { require_mask: !meta.no_masking, compression: meta.compress, in_message: false };
        let max_payload = max_payload.max(1) as u64;
        WsStream {
            reader: WsReader {
                io: rd,
                raw: vec![0; START_RAW],
                start: 0,
                end: 0,
                rules,
                remaining: 0,
                mask: None,
                mask_pos: 0,
                frame_fin: false,
                compressed: false,
                unmasked: 0,
                inflater: None,
                compressed_size: 0,
                inflated_size: 0,
                max_payload,
                compressed_limit: (max_payload * COMPRESSED_MULTIPLE).min(COMPRESSED_LIMIT),
                closed: false,
                link: link.clone(),
            },
            writer: WsWriter {
                io: wr,
                out: Vec::new(),
                out_pos: 0,
                deflater: None,
                scratch: Vec::new(),
                rules: WriteRules {
                    compress: meta.compress,
                    browser: meta.browser,
                    no_compressed_fragments: meta.no_compressed_fragments,
                },
                close_sent: false,
                link,
            },
        }
    }
}

impl<S: Transport> Transport for WsStream<S> {
    type Reader = WsReader<S::Reader>;
    type Writer = WsWriter<S::Writer>;

    fn split(self) -> (Self::Reader, Self::Writer) {
        (self.reader, self.writer)
    }

    fn bind(&mut self, conn: &Arc<Connection>) {
        let _ = self.reader.link.conn.set(conn.clone());
    }
}

impl<S: Transport> AsyncRead for WsStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl<S: Transport> AsyncWrite for WsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}

/// The reading half: frames in, the NATS byte stream out.
pub struct WsReader<R> {
    io: R,
    /// Frame bytes read and not yet taken: `raw[start..end]`. Always
    /// initialised in full (`len` is the capacity in use), so reads need
    /// no zeroing.
    raw: Vec<u8>,
    start: usize,
    end: usize,
    rules: ReadRules,
    /// Payload bytes of the current data frame still to come.
    remaining: u64,
    mask: Option<[u8; 4]>,
    mask_pos: usize,
    /// The current data frame ends its message.
    frame_fin: bool,
    /// The current message is compressed.
    compressed: bool,
    /// Compressed payload at `raw[start..start + unmasked]` already unmasked.
    unmasked: usize,
    inflater: Option<Box<Inflater>>,
    compressed_size: u64,
    inflated_size: u64,
    max_payload: u64,
    compressed_limit: u64,
    /// A close frame came, or the connection failed: the stream has ended.
    closed: bool,
    link: Arc<WsLink>,
}

impl<R: AsyncRead + Unpin> WsReader<R> {
    /// A frame nats-server refuses: it answers with a 1002 close frame
    /// carrying the reason, and the connection ends as a read error.
    fn protocol_error(&mut self, why: &str) -> io::Error {
        self.fail(frame::CLOSE_PROTOCOL_ERROR, why)
    }

    fn fail(&mut self, status: u16, why: &str) -> io::Error {
        error!("{} - read error: {why}", self.link.log_prefix());
        let (p, n) = frame::close_payload(status, why);
        self.link.set_close(&p[..n]);
        self.closed = true;
        io::Error::new(io::ErrorKind::InvalidData, why.to_string())
    }

    /// A compressed message larger than nats-server allows: the connection
    /// closes as `Maximum Message Payload Exceeded`.
    fn too_big(&mut self) -> io::Error {
        if let Some(conn) = self.link.conn.get() {
            conn.close(CloseReason::MaxPayloadExceeded);
        }
        error!("{} - read error: maximum payload exceeded", self.link.log_prefix());
        self.closed = true;
        io::Error::new(io::ErrorKind::InvalidData, "maximum payload exceeded")
    }

    fn buffered(&self) -> &[u8] {
        &self.raw[self.start..self.end]
    }

    /// The current data frame is all read.
    fn end_of_frame(&mut self) {
        if self.frame_fin && self.compressed {
            if let Some(inf) = self.inflater.as_mut() {
                inf.start_tail();
            }
        }
    }

    /// Handles the complete control frame at the start of the buffer.
    fn control(&mut self, h: &frame::Header) -> Result<(), io::Error> {
        let begin = self.start + h.size;
        let end = begin + h.len as usize;
        if let Some(key) = h.mask {
            frame::unmask(&mut self.raw[begin..end], key, 0);
        }
        self.start = end;
        match h.opcode {
            OP_PING => self.link.queue_pong(&self.raw[begin..end]),
            OP_CLOSE => {
                match frame::close_answer(&self.raw[begin..end]) {
                    Err(why) => return Err(self.protocol_error(&why)),
                    Ok(None) => self.link.set_close(&[]),
                    Ok(Some((status, body))) => {
                        let (p, n) = frame::close_payload(status, body);
                        self.link.set_close(&p[..n]);
                    }
                }
                // Read no further: the connection ends as closed by the client.
                self.closed = true;
            }
            _ => {} // A pong: nothing to do.
        }
        Ok(())
    }

    /// Reads more frame bytes (room for at least `need` buffered in all);
    /// `Ok(false)` at the end of the stream.
    fn fill(&mut self, cx: &mut Context<'_>, need: usize) -> Poll<io::Result<bool>> {
        if self.start > 0 {
            self.raw.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.raw.len() < need {
            self.raw.resize(need.next_power_of_two(), 0);
        }
        let spare = self.raw.len() - self.end;
        let mut rb = ReadBuf::new(&mut self.raw[self.end..]);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb))?;
        let n = rb.filled().len();
        self.end += n;
        if n == spare && self.raw.len() < MAX_RAW {
            // A full read: the client sends in bulk, read more at once.
            self.raw.resize(self.raw.len() * 2, 0);
        }
        Poll::Ready(Ok(n > 0))
    }

    /// Inflates from the current compressed frame into `dst`.
    fn inflate_some(&mut self, dst: &mut ReadBuf<'_>) -> Result<usize, io::Error> {
        let avail = (self.buffered().len() as u64).min(self.remaining) as usize;
        if let Some(key) = self.mask {
            let (from, to) = (self.start + self.unmasked, self.start + avail);
            if to > from {
                self.mask_pos = frame::unmask(&mut self.raw[from..to], key, self.mask_pos);
            }
        }
        self.unmasked = avail;
        let inf = self.inflater.get_or_insert_with(Box::default);
        let p = match inf.inflate(&self.raw[self.start..self.start + avail], dst.initialize_unfilled()) {
            Ok(p) => p,
            Err(e) => {
                self.closed = true;
                error!("{} - read error: {e}", self.link.log_prefix());
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        };
        dst.advance(p.produced);
        self.start += p.consumed;
        self.unmasked -= p.consumed;
        self.remaining -= p.consumed as u64;
        self.inflated_size += p.produced as u64;
        if self.inflated_size > self.max_payload {
            return Err(self.too_big());
        }
        if self.remaining == 0 {
            self.end_of_frame();
        }
        Ok(p.produced + p.consumed)
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for WsReader<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, dst: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = dst.filled().len();
        loop {
            if dst.remaining() == 0 || dst.filled().len() > before {
                return Poll::Ready(Ok(()));
            }
            if this.closed {
                return Poll::Ready(Ok(()));
            }
            // The end of a compressed message: the tail, then the next one.
            if this.inflater.as_ref().is_some_and(|i| i.finishing()) {
                let inf = this.inflater.as_mut().expect("checked");
                let (n, done) = match inf.finish(dst.initialize_unfilled()) {
                    Ok(r) => r,
                    Err(e) => {
                        this.closed = true;
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
                    }
                };
                dst.advance(n);
                this.inflated_size += n as u64;
                if this.inflated_size > this.max_payload {
                    return Poll::Ready(Err(this.too_big()));
                }
                if done {
                    this.compressed = false;
                }
                continue;
            }
            if this.remaining > 0 {
                if this.buffered().is_empty() {
                    if !this.compressed {
                        // Payload only: read it straight into the session's
                        // buffer and unmask it there.
                        let room = (dst.remaining() as u64).min(this.remaining) as usize;
                        let n = {
                            let mut direct = dst.take(room);
                            ready!(Pin::new(&mut this.io).poll_read(cx, &mut direct))?;
                            direct.filled().len()
                        };
                        if n == 0 {
                            return Poll::Ready(Ok(()));
                        }
                        let at = dst.filled().len();
                        // SAFETY: the read above wrote these `n` bytes of
                        // `dst`'s unfilled part (`take` lends exactly that part).
                        unsafe { dst.assume_init(n) };
                        dst.advance(n);
                        if let Some(key) = this.mask {
                            this.mask_pos = frame::unmask(&mut dst.filled_mut()[at..at + n], key, this.mask_pos);
                        }
                        this.remaining -= n as u64;
                        if this.remaining == 0 {
                            this.end_of_frame();
                        }
                        continue;
                    }
                    if !ready!(this.fill(cx, 1))? {
                        return Poll::Ready(Ok(()));
                    }
                    continue;
                }
                if this.compressed {
                    if let Err(e) = this.inflate_some(dst) {
                        return Poll::Ready(Err(e));
                    }
                    continue;
                }
                let n = (this.buffered().len() as u64).min(this.remaining).min(dst.remaining() as u64) as usize;
                let at = dst.filled().len();
                dst.put_slice(&this.raw[this.start..this.start + n]);
                if let Some(key) = this.mask {
                    this.mask_pos = frame::unmask(&mut dst.filled_mut()[at..at + n], key, this.mask_pos);
                }
                this.start += n;
                this.remaining -= n as u64;
                if this.remaining == 0 {
                    this.end_of_frame();
                }
                continue;
            }
            let header = match frame::parse_header(this.buffered(), &this.rules) {
                Err(why) => return Poll::Ready(Err(this.protocol_error(why))),
                Ok(None) => {
                    if !ready!(this.fill(cx, MAX_HEADER))? {
                        return Poll::Ready(Ok(()));
                    }
                    continue;
                }
                Ok(Some(h)) => h,
            };
            if header.is_control() {
                let whole = header.size + header.len as usize;
                if this.buffered().len() < whole {
                    if !ready!(this.fill(cx, whole))? {
                        return Poll::Ready(Ok(()));
                    }
                    continue;
                }
                if let Err(e) = this.control(&header) {
                    return Poll::Ready(Err(e));
                }
                continue;
            }
            this.start += header.size;
            if header.opcode != OP_CONTINUATION {
                this.compressed = header.compressed;
                this.compressed_size = 0;
                this.inflated_size = 0;
            }
            if this.compressed {
                this.compressed_size += header.len;
                if this.compressed_size > this.compressed_limit {
                    return Poll::Ready(Err(this.too_big()));
                }
            }
            this.rules.in_message = !header.fin;
            this.frame_fin = header.fin;
            this.remaining = header.len;
            this.mask = header.mask;
            this.mask_pos = 0;
            this.unmasked = 0;
            if header.len == 0 {
                this.end_of_frame();
            }
        }
    }
}

/// The writing half: the NATS byte stream in, frames out.
pub struct WsWriter<W> {
    io: W,
    /// Framed bytes not yet written: `out[out_pos..]`.
    out: Vec<u8>,
    out_pos: usize,
    deflater: Option<Box<Deflater>>,
    /// The compressed form of the current write.
    scratch: Vec<u8>,
    rules: WriteRules,
    close_sent: bool,
    link: Arc<WsLink>,
}

impl<W: AsyncWrite + Unpin> WsWriter<W> {
    /// Writes every framed byte owed (pongs queued by the reader first).
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.out_pos == self.out.len() {
                self.out.clear();
                self.out_pos = 0;
                if self.out.capacity() > KEEP_OUT {
                    self.out = Vec::new();
                }
                if !self.link.has_control.swap(false, Ordering::AcqRel) {
                    return Poll::Ready(Ok(()));
                }
                let mut c = self.link.lock();
                std::mem::swap(&mut self.out, &mut c.frames);
                continue;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.out_pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_pos += n;
        }
    }

    /// Frames `buf` into `out`, as nats-server frames one flush.
    fn encode(&mut self, buf: &[u8]) -> io::Result<()> {
        let browser = self.rules.browser;
        if self.rules.compress && buf.len() > COMPRESS_THRESHOLD {
            self.scratch.clear();
            let d = self.deflater.get_or_insert_with(Box::default);
            d.compress_into(buf, &mut self.scratch).map_err(io::Error::other)?;
            let fragment = browser && !self.rules.no_compressed_fragments && self.scratch.len() > BROWSER_FRAME;
            if fragment {
                let chunks = self.scratch.len().div_ceil(BROWSER_FRAME);
                for (i, chunk) in self.scratch.chunks(BROWSER_FRAME).enumerate() {
                    let first = i == 0;
                    frame::push_frame(&mut self.out, first, i + 1 == chunks, first, OP_BINARY, chunk);
                }
            } else if !self.scratch.is_empty() {
                frame::push_frame(&mut self.out, true, true, true, OP_BINARY, &self.scratch);
            }
            if self.scratch.capacity() > KEEP_OUT {
                self.scratch = Vec::new();
            }
        } else if browser {
            for chunk in buf.chunks(BROWSER_FRAME) {
                frame::push_frame(&mut self.out, true, true, false, OP_BINARY, chunk);
            }
        } else {
            frame::push_frame(&mut self.out, true, true, false, OP_BINARY, buf);
        }
        Ok(())
    }

    /// The close frame: the reader's choice, else the one for the
    /// connection's close reason (nats-server's `wsEnqueueCloseMessage`).
    fn push_close(&mut self) {
        let chosen = self.link.lock().close.take();
        let (payload, n) = match chosen {
            Some(c) => c,
            None => {
                let reason = self.link.conn.get().and_then(|c| c.close_reason()).unwrap_or(CloseReason::ClientClosed);
                frame::close_payload(frame::status_for(reason), reason.as_str())
            }
        };
        frame::push_frame(&mut self.out, true, true, false, OP_CLOSE, &payload[..n]);
        self.close_sent = true;
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for WsWriter<W> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if this.close_sent || buf.is_empty() {
            return Poll::Ready(Ok(buf.len()));
        }
        this.encode(buf)?;
        // Taken whole: what the socket does not take now is written by the
        // next call or the flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        if !self.close_sent {
            self.push_close();
            ready!(self.poll_drain(cx))?;
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::deflate::Deflater;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// A client frame: masked, optionally compressed (RSV1), any opcode.
    fn client_frame(b0: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut f = vec![b0];
        match payload.len() {
            n if n <= 125 => f.push(0x80 | n as u8),
            n if n < 65536 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&key);
        let mut p = payload.to_vec();
        frame::unmask(&mut p, key, 0);
        f.extend_from_slice(&p);
        f
    }

    fn pair(meta: WsMeta) -> (WsStream<DuplexStream>, DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        (WsStream::new(ours, &meta, 1 << 20), theirs)
    }

    /// Reads everything the stream yields until EOF or an error.
    async fn read_all(rd: &mut WsReader<tokio::io::ReadHalf<DuplexStream>>) -> (Vec<u8>, Option<io::Error>) {
        let mut out = Vec::new();
        let mut buf = [0u8; 37]; // odd-sized reads, as a session's grow and shrink
        loop {
            match rd.read(&mut buf).await {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    /// Server frames as (opcode byte, payload).
    fn server_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let rules = ReadRules { require_mask: false, compression: true, in_message: false };
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let h = frame::parse_header(bytes, &ReadRules { in_message: false, ..rules })
                .or_else(|_| frame::parse_header(bytes, &ReadRules { in_message: true, ..rules }))
                .unwrap()
                .unwrap();
            let end = h.size + h.len as usize;
            out.push((bytes[0], bytes[h.size..end].to_vec()));
            bytes = &bytes[end..];
        }
        out
    }

    #[tokio::test]
    async fn masked_and_fragmented_frames_become_the_byte_stream() {
        let (ws, mut client) = pair(WsMeta::default());
        let (mut rd, _wr) = ws.split();
        let text = b"PUB foo 5\r\nhello\r\nPING\r\n".repeat(100);
        let mut wire = Vec::new();
        let (a, rest) = text.split_at(1000);
        let (b, c) = rest.split_at(700);
        wire.extend(client_frame(0x02, a, [1, 2, 3, 4])); // first fragment
        wire.extend(client_frame(0x89, b"hi", [9, 9, 9, 9])); // a ping in between
        wire.extend(client_frame(0x00, b, [5, 6, 7, 8])); // continuation
        wire.extend(client_frame(0x80, c, [0xff, 0, 0xff, 0])); // final continuation
        wire.extend(client_frame(0x82, b"", [1, 1, 1, 1])); // an empty message
        for chunk in wire.chunks(13) {
            client.write_all(chunk).await.unwrap();
        }
        drop(client);
        let (got, err) = read_all(&mut rd).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, text);
    }

    #[tokio::test]
    async fn pings_are_answered_and_a_close_is_echoed_last() {
        let (ws, mut client) = pair(WsMeta::default());
        let (mut rd, mut wr) = ws.split();
        client.write_all(&client_frame(0x89, b"p1", [1, 2, 3, 4])).await.unwrap();
        client.write_all(&client_frame(0x82, b"PING\r\n", [1, 2, 3, 4])).await.unwrap();
        client.write_all(&client_frame(0x88, b"\x0b\xb8bye", [4, 3, 2, 1])).await.unwrap();
        client.write_all(&client_frame(0x82, b"never read", [1, 2, 3, 4])).await.unwrap();
        let (got, err) = read_all(&mut rd).await;
        assert!(err.is_none());
        assert_eq!(got, b"PING\r\n", "nothing after the close frame is read");
        wr.write_all(b"PONG\r\n").await.unwrap();
        wr.shutdown().await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        let frames = server_frames(&out);
        assert_eq!(
            frames,
            vec![(0x8a, b"p1".to_vec()), (0x82, b"PONG\r\n".to_vec()), (0x88, b"\x0b\xb8bye".to_vec())],
            "the pong first, data, then the peer's close echoed"
        );
    }

    #[tokio::test]
    async fn a_protocol_error_ends_the_stream_with_a_1002_close() {
        let (ws, mut client) = pair(WsMeta::default());
        let (mut rd, mut wr) = ws.split();
        client.write_all(&[0x82, 0x02, b'h', b'i']).await.unwrap(); // not masked
        let (got, err) = read_all(&mut rd).await;
        assert!(got.is_empty());
        assert_eq!(err.unwrap().to_string(), "mask bit missing");
        wr.shutdown().await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        assert_eq!(server_frames(&out), vec![(0x88, b"\x03\xeamask bit missing".to_vec())]);
    }

    #[tokio::test]
    async fn no_masking_when_asked() {
        let (ws, mut client) = pair(WsMeta { no_masking: true, ..WsMeta::default() });
        let (mut rd, _wr) = ws.split();
        client.write_all(&[0x82, 0x06]).await.unwrap();
        client.write_all(b"PING\r\n").await.unwrap();
        drop(client);
        assert_eq!(read_all(&mut rd).await.0, b"PING\r\n");
    }

    #[tokio::test]
    async fn compressed_messages_in_fragments_inflate() {
        let (ws, mut client) = pair(WsMeta { compress: true, ..WsMeta::default() });
        let (mut rd, _wr) = ws.split();
        let one = b"PUB a.b.c 11\r\nhello world\r\n".repeat(200);
        let two = b"SUB x 1\r\n".repeat(50);
        let mut d = Deflater::default();
        let (mut c1, mut c2) = (Vec::new(), Vec::new());
        d.compress_into(&one, &mut c1).unwrap();
        d.compress_into(&two, &mut c2).unwrap();
        let mid = c1.len() / 2;
        let mut wire = client_frame(0x42, &c1[..mid], [1, 2, 3, 4]); // RSV1, not final
        wire.extend(client_frame(0x80, &c1[mid..], [7, 7, 7, 7]));
        wire.extend(client_frame(0xc2, &c2, [3, 1, 4, 1]));
        wire.extend(client_frame(0x82, b"PING\r\n", [0, 0, 0, 1])); // uncompressed between
        client.write_all(&wire).await.unwrap();
        drop(client);
        let (got, err) = read_all(&mut rd).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, [one, two, b"PING\r\n".to_vec()].concat());
    }

    #[tokio::test]
    async fn a_compressed_message_over_max_payload_is_refused() {
        let (ours, mut client) = tokio::io::duplex(1 << 20);
        let ws = WsStream::new(ours, &WsMeta { compress: true, ..WsMeta::default() }, 1000);
        let (mut rd, _wr) = ws.split();
        let mut c = Vec::new();
        Deflater::default().compress_into(&[b'x'; 5000], &mut c).unwrap();
        client.write_all(&client_frame(0xc2, &c, [1, 2, 3, 4])).await.unwrap();
        let (_, err) = read_all(&mut rd).await;
        assert_eq!(err.unwrap().to_string(), "maximum payload exceeded");
    }

    #[tokio::test]
    async fn writes_are_framed_as_nats_server_frames_them() {
        // A plain client: one frame per write.
        let (ws, mut client) = pair(WsMeta::default());
        let (_rd, mut wr) = ws.split();
        let big = vec![b'm'; 10_000];
        wr.write_all(&big).await.unwrap();
        wr.flush().await.unwrap();
        let mut buf = vec![0; 10_004];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(server_frames(&buf), vec![(0x82, big.clone())]);

        // A browser: 4 KiB frames.
        let (ws, mut client) = pair(WsMeta { browser: true, ..WsMeta::default() });
        let (_rd, mut wr) = ws.split();
        wr.write_all(&big).await.unwrap();
        wr.shutdown().await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        let frames = server_frames(&out);
        let sizes: Vec<usize> = frames.iter().map(|(_, p)| p.len()).collect();
        assert_eq!(sizes, [4096, 4096, 1808, 15], "then the close frame");
        assert!(frames[..3].iter().all(|(b0, _)| *b0 == 0x82));
        assert_eq!(frames[3], (0x88, b"\x03\xe8Client Closed".to_vec()));
    }

    #[tokio::test]
    async fn compressed_writes_fragment_for_browsers_except_safari() {
        let payload: Vec<u8> = (0..60_000u32).flat_map(|i| (i % 1000).to_le_bytes()).collect();
        for (browser, safari) in [(false, false), (true, false), (true, true)] {
            let meta = WsMeta { compress: true, browser, no_compressed_fragments: safari, ..WsMeta::default() };
            let (ws, mut client) = pair(meta);
            let (_rd, mut wr) = ws.split();
            wr.write_all(&payload).await.unwrap();
            wr.write_all(b"PONG\r\n").await.unwrap(); // under the threshold: not compressed
            wr.shutdown().await.unwrap();
            let mut out = Vec::new();
            client.read_to_end(&mut out).await.unwrap();
            let frames = server_frames(&out);
            let (data, rest) = frames.split_at(frames.len() - 2);
            assert_eq!(rest[0], (0x82, b"PONG\r\n".to_vec()));
            assert_eq!(data[0].0, if data.len() > 1 { 0x42 } else { 0xc2 }, "RSV1 on the first frame only");
            if browser && !safari {
                assert!(data.len() > 1 && data.iter().all(|(_, p)| p.len() <= BROWSER_FRAME));
                assert!(data[1..data.len() - 1].iter().all(|(b0, _)| *b0 == 0x00));
                assert_eq!(data.last().unwrap().0, 0x80);
            } else {
                assert_eq!(data.len(), 1);
            }
            let compressed: Vec<u8> = data.iter().flat_map(|(_, p)| p.clone()).collect();
            let mut inf = Inflater::default();
            let mut back = vec![0u8; payload.len() + 64];
            let mut produced = 0;
            let mut at = 0;
            while at < compressed.len() {
                let p = inf.inflate(&compressed[at..], &mut back[produced..]).unwrap();
                at += p.consumed;
                produced += p.produced;
            }
            inf.start_tail();
            produced += inf.finish(&mut back[produced..]).unwrap().0;
            assert_eq!(&back[..produced], &payload[..]);
        }
    }
}
