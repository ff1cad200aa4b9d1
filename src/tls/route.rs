//! TLS for `cluster { tls { ... } }` (and gateways): each server is both a
//! TLS server (accepting routes) and a TLS client (dialing them). As in
//! nats-server's `getTLSConfig`, client certificates are always required
//! and verified, and the CA file also verifies the servers dialed; the same
//! certificate is presented both ways. `insecure: true` skips verifying the
//! dialed server (nats-server's `InsecureSkipVerify`), never the signature.

use std::io;
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;

use super::accept::HandshakeError;
use super::config::{build, ServerTls, TlsConfigError};
use super::insecure::AcceptAnyServerCertificate;
use super::negotiated::Negotiated;
use crate::options::Tls;

/// Both sides of a route TLS block.
#[derive(Debug, Clone)]
pub struct RouteTls {
    /// For accepted routes (client certificates required).
    pub server: ServerTls,
    /// For dialed routes.
    pub client: Arc<ClientConfig>,
}

/// Compiles a `cluster.tls` block; problems as [`super::compile`] reports them.
pub fn compile_route(tls: &Tls) -> Result<RouteTls, TlsConfigError> {
    let forced = Tls { verify: true, ..tls.clone() };
    let mut problems = Vec::new();
    let built = build(&forced, &mut problems);
    let first_error = |problems: Vec<TlsConfigError>| {
        problems
            .into_iter()
            .find(|p| !p.is_warning())
            .unwrap_or_else(|| TlsConfigError::Rustls("no usable configuration".into()))
    };
    let built = match built {
        Some(b) if problems.iter().all(TlsConfigError::is_warning) => b,
        _ => return Err(first_error(problems)),
    };
    let builder = ClientConfig::builder_with_provider(built.provider.clone())
        .with_protocol_versions(built.versions)
        .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCertificate(built.provider.clone())))
    } else {
        builder.with_root_certificates(built.roots.clone())
    };
    let client = builder.with_client_cert_resolver(Arc::new(OwnCert(built.keys.first().cloned())));
    Ok(RouteTls { server: built.server, client: Arc::new(client) })
}

/// Dials TLS on a connected route socket, within the block's timeout.
/// `server_name`: the route URL's host name (nats-server uses the host of
/// the URL; an IP address is checked against the certificate's IP SANs).
/// Errors read as nats-server's `TLS route handshake error: …`.
pub async fn connect<S>(
    stream: S,
    route: &RouteTls,
    server_name: ServerName<'static>,
) -> Result<(TlsStream<S>, Negotiated), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connector = tokio_rustls::TlsConnector::from(route.client.clone());
    let connecting = connector.connect(server_name, stream);
    let stream = match tokio::time::timeout(route.server.timeout, connecting).await {
        Err(_) => return Err(HandshakeError::Timeout),
        Ok(Err(e)) => return Err(client_error(e)),
        Ok(Ok(s)) => s,
    };
    let negotiated = Negotiated::from_state(stream.get_ref().1);
    Ok((stream, negotiated))
}

fn client_error(e: io::Error) -> HandshakeError {
    if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return HandshakeError::Tls { error: tls.clone(), offered: Vec::new(), presented: Vec::new() };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => HandshakeError::Eof,
        _ => HandshakeError::Io(e),
    }
}

/// Presents the server's own certificate when a peer asks for one.
#[derive(Debug)]
struct OwnCert(Option<Arc<CertifiedKey>>);

impl ResolvesClientCert for OwnCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.0.clone()
    }

    fn has_certs(&self) -> bool {
        self.0.is_some()
    }
}
