//! The server side of a TLS handshake on any byte stream, bounded in time,
//! with nats-server's view of every way it can fail.
//!
//! The caller owns the protocol around it: INFO in clear text first (or not,
//! with `handshake_first`), then [`accept`]. Bytes it already read from the
//! client (the `handshake_first` fallback probe) are passed in and replayed
//! into the handshake, so nothing is lost.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::{AlertDescription, CertificateError, PeerIncompatible};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;

use super::config::ServerTls;
use super::goname;
use super::negotiated::{sha256_hex, Negotiated, NotPinned};
use super::verifier::RejectedChain;

/// Why a handshake did not complete.
#[derive(Debug)]
pub enum HandshakeError {
    /// Not finished within `tls.timeout`.
    Timeout,
    /// The client closed before sending anything (Go: `EOF`).
    Eof,
    /// The client closed part-way through a record (Go: `unexpected EOF`).
    UnexpectedEof,
    /// The first bytes are not a TLS record: a plain-text client or a probe.
    NotTls,
    /// An SSL 2 hello.
    Sslv2,
    /// rustls refused the handshake. `offered`: the client's cipher suite
    /// ids; `presented`: the certificates of a refused client.
    Tls { error: rustls::Error, offered: Vec<u16>, presented: Vec<CertificateDer<'static>> },
    /// The client's key is not in `pinned_certs`.
    NotPinned(NotPinned),
    /// The socket failed.
    Io(io::Error),
}

impl HandshakeError {
    /// nats-server logs these at debug level only (load balancer probes,
    /// port scanners, plain-text clients) and everything else as an error.
    pub fn is_probe(&self) -> bool {
        matches!(self, HandshakeError::Timeout | HandshakeError::NotTls)
    }

    /// The text after `TLS handshake error: `, as nats-server writes it.
    /// `local`/`remote` are the socket addresses, which Go puts in I/O errors.
    pub fn go_text(&self, local: Option<SocketAddr>, remote: Option<SocketAddr>) -> String {
        let conn = match (local, remote) {
            (Some(l), Some(r)) => format!("read tcp {l}->{r}: "),
            _ => String::new(),
        };
        match self {
            HandshakeError::Timeout => format!("{conn}i/o timeout"),
            HandshakeError::Eof => "EOF".into(),
            HandshakeError::UnexpectedEof => "unexpected EOF".into(),
            HandshakeError::NotTls => "tls: first record does not look like a TLS handshake".into(),
            HandshakeError::Sslv2 => "tls: unsupported SSLv2 handshake received".into(),
            HandshakeError::NotPinned(_) => "certificate not pinned".into(),
            HandshakeError::Io(e) => format!("{conn}read: {}", lower_errno(e)),
            HandshakeError::Tls { error, offered, presented } => {
                let mut text = tls_error_text(error, offered);
                if matches!(error, rustls::Error::InvalidCertificate(_)) && !presented.is_empty() {
                    let certs: Vec<String> =
                        presented.iter().map(|c| format!("{} SHA-256: {}", subject_of(c), sha256_hex(c))).collect();
                    text.push_str(&format!(" ({})", certs.join("; ")));
                }
                text
            }
        }
    }
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.go_text(None, None))
    }
}

impl std::error::Error for HandshakeError {}

fn subject_of(der: &[u8]) -> String {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, c)| goname::name_string(&goname::rdns(c.subject())))
        .unwrap_or_default()
}

fn lower_errno(e: &io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    let mut chars = text.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// Go's `time.RFC3339` in the server's time zone (`Z` for UTC).
fn rfc3339(t: rustls::pki_types::UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    let Ok(ts) = jiff::Timestamp::from_second(secs) else { return secs.to_string() };
    let zoned = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    let offset = zoned.offset().seconds();
    let base = zoned.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if offset == 0 {
        format!("{base}Z")
    } else {
        format!("{base}{}", zoned.strftime("%:z"))
    }
}

/// crypto/tls' and crypto/x509's wording for what rustls reports.
fn tls_error_text(error: &rustls::Error, offered: &[u16]) -> String {
    use rustls::Error as E;
    match error {
        E::NoCertificatesPresented => "tls: client didn't provide a certificate".into(),
        E::InvalidCertificate(c) => format!("tls: failed to verify certificate: x509: {}", certificate_text(c)),
        E::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon) => {
            let ids: Vec<String> = offered.iter().map(|id| format!("{id:x}")).collect();
            format!("tls: no cipher suite supported by both client and server; client offered: [{}]", ids.join(" "))
        }
        E::PeerIncompatible(PeerIncompatible::NoKxGroupsInCommon) => {
            "tls: no ECDHE curve supported by both client and server".into()
        }
        E::PeerIncompatible(PeerIncompatible::SupportedVersionsExtensionRequired)
        | E::PeerIncompatible(PeerIncompatible::Tls12NotOffered)
        | E::PeerIncompatible(PeerIncompatible::Tls12NotOfferedOrEnabled)
        | E::PeerIncompatible(PeerIncompatible::Tls13RequiredForQuic) => {
            "tls: client offered only unsupported versions".into()
        }
        E::AlertReceived(a) => format!("remote error: tls: {}", alert_text(*a)),
        other => format!("tls: {other}"),
    }
}

fn certificate_text(c: &CertificateError) -> String {
    match c {
        CertificateError::UnknownIssuer => "certificate signed by unknown authority".into(),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "certificate has expired or is not yet valid: current time {} is after {}",
            rfc3339(*time),
            rfc3339(*not_after)
        ),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "certificate has expired or is not yet valid: current time {} is before {}",
            rfc3339(*time),
            rfc3339(*not_before)
        ),
        CertificateError::Expired | CertificateError::NotValidYet => {
            "certificate has expired or is not yet valid".into()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "certificate specifies an incompatible key usage".into()
        }
        CertificateError::BadSignature => "certificate signature is invalid".into(),
        CertificateError::Revoked => "certificate is revoked".into(),
        other => format!("{other:?}"),
    }
}

/// Go's alert strings (`crypto/tls/alert.go`).
fn alert_text(a: AlertDescription) -> String {
    match a {
        AlertDescription::CloseNotify => "close notify".into(),
        AlertDescription::UnexpectedMessage => "unexpected message".into(),
        AlertDescription::BadRecordMac => "bad record MAC".into(),
        AlertDescription::HandshakeFailure => "handshake failure".into(),
        AlertDescription::BadCertificate => "bad certificate".into(),
        AlertDescription::UnsupportedCertificate => "unsupported certificate".into(),
        AlertDescription::CertificateRevoked => "revoked certificate".into(),
        AlertDescription::CertificateExpired => "expired certificate".into(),
        AlertDescription::CertificateUnknown => "unknown certificate".into(),
        AlertDescription::IllegalParameter => "illegal parameter".into(),
        AlertDescription::UnknownCA => "unknown certificate authority".into(),
        AlertDescription::AccessDenied => "access denied".into(),
        AlertDescription::DecodeError => "error decoding message".into(),
        AlertDescription::DecryptError => "error decrypting message".into(),
        AlertDescription::ProtocolVersion => "protocol version not supported".into(),
        AlertDescription::InsufficientSecurity => "insufficient security level".into(),
        AlertDescription::InternalError => "internal error".into(),
        AlertDescription::UserCanceled => "user canceled".into(),
        AlertDescription::NoRenegotiation => "no renegotiation".into(),
        AlertDescription::MissingExtension => "missing extension".into(),
        AlertDescription::UnsupportedExtension => "unsupported extension".into(),
        AlertDescription::UnrecognisedName => "unrecognized name".into(),
        AlertDescription::UnknownPSKIdentity => "unknown PSK identity".into(),
        AlertDescription::CertificateRequired => "certificate required".into(),
        AlertDescription::NoApplicationProtocol => "no application protocol".into(),
        other => format!("alert({})", u8::from(other)),
    }
}

/// A finished handshake.
pub struct Accepted<S> {
    pub stream: TlsStream<S>,
    pub negotiated: Negotiated,
}

impl<S> std::fmt::Debug for Accepted<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accepted").field("negotiated", &self.negotiated).finish_non_exhaustive()
    }
}

/// TLS record types a first record may have (Go accepts handshake and alert).
const RECORD_HANDSHAKE: u8 = 0x16;
const RECORD_ALERT: u8 = 0x15;

/// Runs the server handshake on `stream`, all of it within `tls.timeout`.
///
/// `already_read`: bytes the caller consumed from the client before (the
/// `handshake_first` fallback probe); they are fed to the handshake first.
/// On success the stream carries NATS protocol from here on. On failure the
/// stream is dropped (closed) and nothing was written to it in clear text:
/// like nats-server, a plain-text client just sees the connection close.
pub async fn accept<S>(stream: S, tls: &ServerTls, already_read: &[u8]) -> Result<Accepted<S>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(tls.timeout, handshake(stream, tls, already_read)).await {
        Ok(r) => r,
        Err(_) => Err(HandshakeError::Timeout),
    }
}

async fn handshake<S>(mut stream: S, tls: &ServerTls, already_read: &[u8]) -> Result<Accepted<S>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Read the first record header ourselves, exactly and no further, to
    // tell a plain-text client from a TLS one as Go does.
    let mut header = [0u8; 5];
    let have = already_read.len().min(5);
    header[..have].copy_from_slice(&already_read[..have]);
    let mut filled = have;
    while filled < header.len() {
        match stream.read(&mut header[filled..]).await {
            Ok(0) if filled == 0 => return Err(HandshakeError::Eof),
            Ok(0) => return Err(HandshakeError::UnexpectedEof),
            Ok(n) => filled += n,
            Err(e) => return Err(io_error(e)),
        }
    }
    if header[0] == 0x80 {
        return Err(HandshakeError::Sslv2);
    }
    let version = u16::from_be_bytes([header[1], header[2]]);
    if !matches!(header[0], RECORD_HANDSHAKE | RECORD_ALERT) || version >= 0x1000 {
        return Err(HandshakeError::NotTls);
    }

    if header[0] == RECORD_ALERT {
        // An alert instead of a hello: Go reports it as the peer's error.
        let mut alert = [0u8; 2];
        if u16::from_be_bytes([header[3], header[4]]) < 2 {
            return Err(HandshakeError::UnexpectedEof);
        }
        let after_header = already_read.get(5..).unwrap_or_default();
        let have_more = after_header.len().min(2);
        alert[..have_more].copy_from_slice(&after_header[..have_more]);
        if have_more < 2 {
            stream.read_exact(&mut alert[have_more..]).await.map_err(io_error)?;
        }
        return Err(match alert[1] {
            0 => HandshakeError::Eof,
            d => HandshakeError::Tls {
                error: rustls::Error::AlertReceived(AlertDescription::from(d)),
                offered: Vec::new(),
                presented: Vec::new(),
            },
        });
    }

    let mut acceptor = rustls::server::Acceptor::default();
    let mut replay: &[u8] = &header;
    let rest = &already_read[have..];
    let mut replay_rest: &[u8] = rest;
    for source in [&mut replay, &mut replay_rest] {
        while !source.is_empty() {
            if acceptor.read_tls(source).map_err(io_error)? == 0 {
                break;
            }
        }
    }
    // The record header is in: a close before the hello is complete is Go's
    // "unexpected EOF"; a close later in the handshake is its "EOF".
    let start = LazyConfigAcceptor::new(acceptor, stream).await.map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => HandshakeError::UnexpectedEof,
        _ => from_io(e, Vec::new(), Vec::new()),
    })?;
    let offered: Vec<u16> = start.client_hello().cipher_suites().iter().map(|s| u16::from(*s)).collect();
    let accept = start.into_stream(tls.config.clone());
    let stream = WithRejectedChain { inner: accept }.await.map_err(|(e, presented)| from_io(e, offered, presented))?;

    let negotiated = Negotiated::from_connection(stream.get_ref().1);
    if let Some(pinned) = &tls.pinned {
        pinned.check(&negotiated.peer_certs).map_err(HandshakeError::NotPinned)?;
    }
    Ok(Accepted { stream, negotiated })
}

fn io_error(e: io::Error) -> HandshakeError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => HandshakeError::UnexpectedEof,
        _ => HandshakeError::Io(e),
    }
}

/// tokio-rustls reports rustls errors inside `io::Error`s.
fn from_io(e: io::Error, offered: Vec<u16>, presented: Vec<CertificateDer<'static>>) -> HandshakeError {
    if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return HandshakeError::Tls { error: tls.clone(), offered, presented };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => HandshakeError::Eof,
        _ => HandshakeError::Io(e),
    }
}

/// Polls the handshake with the verifier's rejected-chain slot scoped to
/// each poll, so a refused client's certificates come out with the error.
struct WithRejectedChain<F> {
    inner: F,
}

impl<F, T> Future for WithRejectedChain<F>
where
    F: Future<Output = io::Result<T>> + Unpin,
{
    type Output = Result<T, (io::Error, Vec<CertificateDer<'static>>)>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = RejectedChain::begin();
        match Pin::new(&mut self.inner).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(t)) => Poll::Ready(Ok(t)),
            Poll::Ready(Err(e)) => Poll::Ready(Err((e, slot.take().unwrap_or_default()))),
        }
    }
}

/// Reads what the client sends first, up to `max` bytes, waiting at most
/// `wait` (nats-server's `handshake_first` fallback reads 4 bytes within the
/// fallback delay; its `allow_non_tls` sniff reads 6 within `tls.timeout`).
/// Returns what arrived, possibly nothing; stops early at end of stream.
pub async fn read_first_bytes<S>(stream: &mut S, max: usize, wait: Duration) -> io::Result<Vec<u8>>
where
    S: AsyncRead + Unpin,
{
    let mut buf = vec![0u8; max];
    let mut filled = 0;
    let deadline = tokio::time::Instant::now() + wait;
    while filled < max {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf[filled..])).await {
            Err(_) => break,
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => filled += n,
            Ok(Err(e)) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// `allow_non_tls`: the client speaks TLS when its first byte opens a TLS
/// handshake record.
pub fn looks_like_tls(first_bytes: &[u8]) -> bool {
    first_bytes.first() == Some(&RECORD_HANDSHAKE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_errors_are_debug_only() {
        assert!(HandshakeError::Timeout.is_probe());
        assert!(HandshakeError::NotTls.is_probe());
        assert!(!HandshakeError::Eof.is_probe());
        let e =
            HandshakeError::Tls { error: rustls::Error::NoCertificatesPresented, offered: vec![], presented: vec![] };
        assert!(!e.is_probe());
        assert_eq!(e.go_text(None, None), "tls: client didn't provide a certificate");
    }

    #[test]
    fn timeout_text_names_the_sockets() {
        let l: SocketAddr = "127.0.0.1:4222".parse().unwrap_or_else(|_| unreachable!());
        let r: SocketAddr = "127.0.0.1:5555".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(
            HandshakeError::Timeout.go_text(Some(l), Some(r)),
            "read tcp 127.0.0.1:4222->127.0.0.1:5555: i/o timeout"
        );
    }

    #[test]
    fn cipher_mismatch_lists_client_offer_in_hex() {
        let e = HandshakeError::Tls {
            error: rustls::Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
            offered: vec![0xc02b, 0xff],
            presented: vec![],
        };
        assert_eq!(
            e.to_string(),
            "tls: no cipher suite supported by both client and server; client offered: [c02b ff]"
        );
    }

    #[test]
    fn expiry_text_as_go() {
        let e = CertificateError::ExpiredContext {
            time: rustls::pki_types::UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000)),
            not_after: rustls::pki_types::UnixTime::since_unix_epoch(Duration::from_secs(1_580_515_200)),
        };
        let text = certificate_text(&e);
        assert!(text.starts_with("certificate has expired or is not yet valid: current time 2027-"), "{text}");
        assert!(text.contains(" is after 2020-02-01T"), "{text}");
    }

    fn test_server() -> ServerTls {
        // A fixture certificate: these inputs never get past the hello.
        let tls = crate::options::Tls {
            cert_file: Some("tests/data/tls/subject-multivalued.pem".into()),
            key_file: Some("tests/data/tls/subject-many-key.pem".into()),
            timeout: Duration::from_millis(200),
            ..crate::options::Tls::default()
        };
        match super::super::compile(&tls) {
            Ok(t) => t,
            Err(e) => panic!("fixture: {e}"),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Arbitrary first bytes, split anywhere between the caller's probe
        /// and the stream: always an error, never a panic, never a hang.
        #[test]
        fn garbage_never_panics(
            record_type in proptest::sample::select(vec![0x16u8, 0x15, 0x80, 0x43]),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..60),
            split in 0usize..64,
        ) {
            // A plausible record type, then anything: headers, short
            // bodies, bad hellos, alerts.
            let bytes: Vec<u8> = std::iter::once(record_type).chain(tail).collect();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let Ok(rt) = rt else { return Ok(()) };
            let server = test_server();
            let split = split.min(bytes.len());
            let result = rt.block_on(async {
                let (mut client, srv) = tokio::io::duplex(1024);
                let (pre, rest) = bytes.split_at(split);
                tokio::io::AsyncWriteExt::write_all(&mut client, rest).await.ok();
                drop(client);
                accept(srv, &server, pre).await
            });
            proptest::prop_assert!(result.is_err());
        }
    }

    #[test]
    fn tls_sniff() {
        assert!(looks_like_tls(&[0x16, 3, 1]));
        assert!(!looks_like_tls(b"CONNECT"));
        assert!(!looks_like_tls(&[]));
    }
}
