//! What a session runs over: any byte stream that can be split into a read
//! half (the session task) and a write half (the writer task).
//!
//! TCP splits without a lock (`into_split`); other streams (TLS, an
//! in-memory duplex in tests) split through `tokio::io::split`, whose halves
//! share the stream behind a lock taken per poll.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {
    type Reader: AsyncRead + Send + Unpin + 'static;
    type Writer: AsyncWrite + Send + Unpin + 'static;

    fn split(self) -> (Self::Reader, Self::Writer);

    /// The session's connection now exists: a stream that talks to it on
    /// its own (websocket control frames wake its writer) keeps it.
    fn bind(&mut self, _conn: &Arc<crate::server::conn::Connection>) {}
}

impl Transport for TcpStream {
    type Reader = OwnedReadHalf;
    type Writer = OwnedWriteHalf;

    fn split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        self.into_split()
    }
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for Box<tokio_rustls::server::TlsStream<S>> {
    type Reader = ReadHalf<Self>;
    type Writer = WriteHalf<Self>;

    fn split(self) -> (Self::Reader, Self::Writer) {
        tokio::io::split(self)
    }
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for Box<tokio_rustls::client::TlsStream<S>> {
    type Reader = ReadHalf<Self>;
    type Writer = WriteHalf<Self>;

    fn split(self) -> (Self::Reader, Self::Writer) {
        tokio::io::split(self)
    }
}

impl Transport for DuplexStream {
    type Reader = ReadHalf<DuplexStream>;
    type Writer = WriteHalf<DuplexStream>;

    fn split(self) -> (Self::Reader, Self::Writer) {
        tokio::io::split(self)
    }
}
