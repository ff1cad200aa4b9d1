//! The client-certificate verifier: rustls' WebPKI verifier, plus a record of
//! the certificates a refused client presented.
//!
//! nats-server logs a refused certificate with each presented certificate's
//! subject and SHA-256 (`... (CN=x,OU=y SHA-256: ab12…)`). rustls reports only
//! the error, so the verifier keeps the chain it refused in a thread-local
//! slot: rustls calls it synchronously inside the poll that then fails the
//! handshake, and `accept` reads the slot in that same poll (see
//! `RejectedChain`).

use std::cell::RefCell;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

thread_local! {
    /// The chain the last failed verification on this thread refused.
    static REJECTED: RefCell<Option<Vec<CertificateDer<'static>>>> = const { RefCell::new(None) };
}

/// Scope guard around one poll of a handshake: clears the slot before, so a
/// chain left by another connection on this thread is never misattributed.
pub(crate) struct RejectedChain;

impl RejectedChain {
    pub(crate) fn begin() -> RejectedChain {
        REJECTED.with(|r| r.borrow_mut().take());
        RejectedChain
    }

    /// The chain refused during this poll, if any.
    pub(crate) fn take(&self) -> Option<Vec<CertificateDer<'static>>> {
        REJECTED.with(|r| r.borrow_mut().take())
    }
}

impl Drop for RejectedChain {
    fn drop(&mut self) {
        REJECTED.with(|r| r.borrow_mut().take());
    }
}

/// Requires a client certificate signed by one of the trusted roots.
#[derive(Debug)]
pub struct ClientVerifier {
    /// `None` when no root is trusted at all (no `ca_file` and no system
    /// roots): every certificate is then from an unknown authority, as in Go.
    webpki: Option<Arc<dyn ClientCertVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ClientVerifier {
    pub fn new(webpki: Option<Arc<dyn ClientCertVerifier>>, provider: Arc<CryptoProvider>) -> ClientVerifier {
        ClientVerifier { webpki, provider }
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        match &self.webpki {
            Some(v) => v.root_hint_subjects(),
            None => &[],
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let result = match &self.webpki {
            Some(v) => v.verify_client_cert(end_entity, intermediates, now),
            None => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        };
        if result.is_err() {
            let chain = std::iter::once(end_entity).chain(intermediates).map(|c| c.clone().into_owned()).collect();
            REJECTED.with(|r| *r.borrow_mut() = Some(chain));
        }
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
