//! HTTPS to the monitoring port (`-ms`), with nats-top's TLS flags:
//! `-cacert` the CA that signed the server's certificate (the system roots
//! when absent), `-cert`/`-key` a client certificate to present, `-k` no
//! verification of the server's certificate at all.
//!
//! The configuration is built once at start-up, so a missing or bad file is
//! an error before the first request; a server whose certificate does not
//! verify is a request error like any other (retried on the screen).

use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};

use crate::tls::insecure::AcceptAnyServerCertificate;
use crate::tls::pem;

/// nats-top's TLS flags. They apply only with `-ms`, as in nats-top.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFlags {
    /// `-cacert FILE`: PEM CA certificates that verify the server.
    pub ca_file: Option<String>,
    /// `-cert FILE`: the client certificate (a leaf, optionally its chain).
    pub cert_file: Option<String>,
    /// `-key FILE`: the client certificate's private key.
    pub key_file: Option<String>,
    /// `-k`: accept any server certificate.
    pub skip_verify: bool,
}

/// Builds the client configuration the flags describe. Errors name the flag
/// and the file, with Go's texts for bad PEM (`open ca.pem: no such file or
/// directory`, `tls: private key does not match public key`).
pub fn client_config(flags: &TlsFlags) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    // The CA file is read even with -k, as nats-top does: a wrong path is
    // reported rather than silently ignored.
    let roots = match &flags.ca_file {
        Some(path) => {
            let certs = pem::load_ca(path).map_err(|e| format!("-cacert {path}: {e}"))?;
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("-cacert {path}: {}", pem::PemError::NoCaCertificate));
            }
            roots
        }
        None if flags.skip_verify => RootCertStore::empty(),
        None => {
            // Go's default: the system pool.
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            roots
        }
    };
    let builder = if flags.skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnyServerCertificate(provider)))
    } else {
        builder.with_root_certificates(roots)
    };
    let config = match (&flags.cert_file, &flags.key_file) {
        (Some(cert), Some(key)) => {
            let pair = pem::load_key_pair(cert, key).map_err(|e| format!("-cert {cert} -key {key}: {e}"))?;
            builder.with_client_auth_cert(pair.chain, pair.key).map_err(|e| format!("-cert {cert} -key {key}: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => return Err("-cert needs -key: the client certificate's private key".into()),
        (None, Some(_)) => return Err("-key needs -cert: the client certificate".into()),
    };
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: the `-s` host, checked
/// against the certificate's IP SANs when it is an address, as Go does.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|e| format!("{host:?} is not a host name for TLS: {e}"))
}

/// A hint after a failed handshake, for the failures operators hit most.
pub fn hint(error: &rustls::Error) -> Option<&'static str> {
    use rustls::{CertificateError, Error};
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => {
            Some("give the CA that signed the server's certificate with -cacert, or skip verification with -k")
        }
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => Some("connect with -s to a name the server's certificate lists, or skip verification with -k"),
        Error::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => {
            Some("the server's certificate has expired; -k skips verification")
        }
        Error::InvalidMessage(_) => Some("is this the HTTPS port? a plain HTTP port is given with -m"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_a_key_pair_is_refused() {
        let only_cert = TlsFlags { cert_file: Some("c.pem".into()), ..TlsFlags::default() };
        assert!(client_config(&only_cert).expect_err("no key").contains("-cert needs -key"));
        let only_key = TlsFlags { key_file: Some("k.pem".into()), ..TlsFlags::default() };
        assert!(client_config(&only_key).expect_err("no cert").contains("-key needs -cert"));
    }

    #[test]
    fn missing_files_name_the_flag() {
        let flags = TlsFlags { ca_file: Some("surely/not/ca.pem".into()), ..TlsFlags::default() };
        assert_eq!(
            client_config(&flags).expect_err("no file"),
            "-cacert surely/not/ca.pem: open surely/not/ca.pem: no such file or directory"
        );
    }

    #[test]
    fn skip_verify_needs_no_files() {
        let flags = TlsFlags { skip_verify: true, ..TlsFlags::default() };
        assert!(client_config(&flags).is_ok());
    }

    #[test]
    fn names_and_addresses() {
        assert!(matches!(server_name("127.0.0.1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("[::1]"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("::1"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("nats.example.com"), Ok(ServerName::DnsName(_))));
        assert!(server_name("bad name!").is_err());
    }
}
