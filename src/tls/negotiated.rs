//! What a finished handshake agreed on, in the forms nats-server shows it:
//! the debug line `TLS version 1.3, cipher suite TLS_AES_128_GCM_SHA256`,
//! `/connz` `tls_version`, `tls_cipher_suite` and `tls_peer_certs`.

use std::collections::HashSet;

use rustls::pki_types::CertificateDer;
use rustls::ServerConnection;
use serde::Serialize;

use super::goname::{self, hex};
use super::identity::{CertIdentity, IdentityError};
use super::names::{go_cipher_name, go_version_name};

/// The negotiated parameters of one TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// `1.2` or `1.3` (`/connz` `tls_version`).
    pub version: String,
    /// Go's suite name (`/connz` `tls_cipher_suite`).
    pub cipher_suite: String,
    /// The client's certificates, leaf first (empty without `verify`).
    pub peer_certs: Vec<CertificateDer<'static>>,
}

impl Negotiated {
    pub fn from_connection(conn: &ServerConnection) -> Negotiated {
        Negotiated::from_state(conn)
    }

    /// Either side's view (a dialed route's too).
    pub fn from_state(conn: &rustls::CommonState) -> Negotiated {
        Negotiated {
            version: conn.protocol_version().map(go_version_name).unwrap_or_default(),
            cipher_suite: conn.negotiated_cipher_suite().map(|s| go_cipher_name(s.suite())).unwrap_or_default(),
            peer_certs: conn
                .peer_certificates()
                .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default(),
        }
    }

    /// nats-server's debug line after `TLS handshake complete`.
    pub fn log_line(&self) -> String {
        format!("TLS version {}, cipher suite {}", self.version, self.cipher_suite)
    }

    /// `/connz?auth=true` `tls_peer_certs`.
    pub fn peer_cert_info(&self) -> Vec<PeerCert> {
        self.peer_certs.iter().map(|c| PeerCert::of(c)).collect()
    }

    /// The identities of the client's leaf certificate, for `verify_and_map`.
    /// `None` when the client sent no certificate.
    pub fn identity(&self) -> Option<Result<CertIdentity, IdentityError>> {
        self.peer_certs.first().map(|c| CertIdentity::from_der(c))
    }
}

/// One entry of `/connz` `tls_peer_certs` (nats-server's `TLSPeerCert`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerCert {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(rename = "spki_sha256", skip_serializing_if = "String::is_empty")]
    pub spki_sha256: String,
    #[serde(rename = "cert_sha256", skip_serializing_if = "String::is_empty")]
    pub cert_sha256: String,
}

impl PeerCert {
    pub fn of(der: &[u8]) -> PeerCert {
        let parsed = x509_parser::parse_x509_certificate(der).ok();
        let subject = parsed.as_ref().map(|(_, c)| goname::name_string(&goname::rdns(c.subject()))).unwrap_or_default();
        let spki_sha256 = parsed.as_ref().map(|(_, c)| sha256_hex(c.public_key().raw)).unwrap_or_default();
        PeerCert { subject, spki_sha256, cert_sha256: sha256_hex(der) }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// `pinned_certs`: SHA-256 of the client leaf's DER SubjectPublicKeyInfo,
/// lower-case hex, as nats-server hashes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PinnedCerts {
    keys: HashSet<String>,
}

/// Why a client failed the pinned-certificate test; `debug_line` is
/// nats-server's debug text, logged before `TLS handshake error: certificate not pinned`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotPinned {
    NoCertificate,
    Unknown { key_id: String },
}

impl NotPinned {
    pub fn debug_line(&self) -> String {
        match self {
            NotPinned::NoCertificate => "Failed pinned cert test as client did not provide a certificate".into(),
            NotPinned::Unknown { key_id } => format!("Failed pinned cert test for key id: {key_id}"),
        }
    }
}

impl PinnedCerts {
    /// From already-validated entries (64 hex digits, any case).
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a str>) -> PinnedCerts {
        PinnedCerts { keys: entries.into_iter().map(str::to_ascii_lowercase).collect() }
    }

    pub fn check(&self, peer_certs: &[CertificateDer<'_>]) -> Result<(), NotPinned> {
        let Some(leaf) = peer_certs.first() else { return Err(NotPinned::NoCertificate) };
        let key_id = match x509_parser::parse_x509_certificate(leaf) {
            Ok((_, c)) => sha256_hex(c.public_key().raw),
            Err(_) => return Err(NotPinned::Unknown { key_id: String::new() }),
        };
        if self.keys.contains(&key_id) {
            Ok(())
        } else {
            Err(NotPinned::Unknown { key_id })
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    /// Hashes as `openssl x509 -pubkey | openssl pkey -pubin -outform der |
    /// sha256sum` (Go's `RawSubjectPublicKeyInfo`) and of the whole DER.
    #[test]
    fn peer_cert_hashes_match_openssl() {
        let pem = std::fs::read("tests/data/tls/subject-multivalued.pem").unwrap_or_default();
        let der = CertificateDer::from_pem_slice(&pem).map(|c| c.to_vec()).unwrap_or_default();
        let info = PeerCert::of(&der);
        assert_eq!(info.spki_sha256, "2cf79c6d6d9b7f076d0d48009672e71c64b9cf74a8d1f2d97d34f72b44d595e0");
        assert_eq!(info.cert_sha256, "1e020f2aa535ac9d06952c7aa4ffd64755d67c2daf95beabad3fd57c499c045a");
        assert_eq!(info.subject, "CN=example.com,OU=CNCF,O=Org");
        let pins = PinnedCerts::new(["2CF79C6D6D9B7F076D0D48009672E71C64B9CF74A8D1F2D97D34F72B44D595E0"]);
        assert_eq!(pins.check(&[CertificateDer::from(der.clone())]), Ok(()));
        assert_eq!(PinnedCerts::new(["00"]).check(&[]), Err(NotPinned::NoCertificate));
    }

    #[test]
    fn connz_json_shape() {
        let p = PeerCert { subject: "CN=x".into(), spki_sha256: "a".into(), cert_sha256: "b".into() };
        assert_eq!(
            serde_json::to_string(&p).unwrap_or_default(),
            r#"{"subject":"CN=x","spki_sha256":"a","cert_sha256":"b"}"#
        );
    }
}
