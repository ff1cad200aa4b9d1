//! The `tls` scenario: pub/sub 1:1 with every connection over TLS, the NATS
//! way (INFO in clear text, then the handshake, then CONNECT). With
//! `--compare` both servers are started with the same certificate, made
//! fresh for the run: a CA and a leaf for `127.0.0.1` and `localhost`
//! (ECDSA P-256), which the load generator verifies as a real client would.
//! Against `--url`, the server's CA is given with `--tlscacert`.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use super::config::Res;

/// The scenarios that need TLS on the server.
pub const TLS_SCENARIOS: &[&str] = &["tls"];

/// The client configuration that trusts the CA certificates in `pem`.
pub fn client_config(pem: &[u8], source: &str) -> Res<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("{source}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{source}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{source}: no CA certificate in it"));
    }
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `--tlscacert FILE`.
pub fn client_config_from_file(path: &str) -> Res<Arc<ClientConfig>> {
    let pem = std::fs::read(path).map_err(|e| format!("--tlscacert {path}: {e}"))?;
    client_config(&pem, &format!("--tlscacert {path}"))
}

/// The name the server's certificate is checked against: the host of
/// `--url` (`127.0.0.1` is matched against IP SANs).
pub fn server_name(url: &str) -> Res<ServerName<'static>> {
    let hostport = url.trim_start_matches("nats://").trim_start_matches("tls://");
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| format!("--url {url}: {host:?} is not a TLS server name: {e}"))
}

/// A CA and a server certificate in a scratch directory (removed on drop),
/// and the client configuration that trusts the CA.
pub struct Fixture {
    dir: PathBuf,
    pub cert_file: String,
    pub key_file: String,
    pub client: Arc<ClientConfig>,
}

impl Fixture {
    pub fn generate() -> Res<Fixture> {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let err = |e: rcgen::Error| format!("generating the bench certificate: {e}");
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name.push(DnType::CommonName, "rnats bench CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?).map_err(err)?;
        let key = KeyPair::generate().map_err(err)?;
        // Strings that parse as addresses become IP SANs.
        let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).map_err(err)?;
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &ca).map_err(err)?;

        let dir =
            std::env::temp_dir().join(format!("rnats-bench-tls-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let write = |name: &str, text: &str| -> Res<String> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(path.to_string_lossy().into_owned())
        };
        let fixture = Fixture {
            cert_file: write("server-cert.pem", &cert.pem())?,
            key_file: write("server-key.pem", &key.serialize_pem())?,
            client: client_config(ca.pem().as_bytes(), "the generated CA")?,
            dir: dir.clone(),
        };
        Ok(fixture)
    }

    /// The server flags, the same for rnats and nats-server.
    pub fn server_args(&self) -> Vec<String> {
        vec!["--tlscert".into(), self.cert_file.clone(), "--tlskey".into(), self.key_file.clone()]
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_urls() {
        assert!(matches!(server_name("127.0.0.1:4222"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("nats://[::1]:4222"), Ok(ServerName::IpAddress(_))));
        assert!(matches!(server_name("tls://localhost:4222"), Ok(ServerName::DnsName(_))));
        assert!(server_name("bad host!:4222").is_err());
    }

    #[test]
    fn fixture_files_exist_until_dropped() {
        let f = Fixture::generate().expect("generates");
        let dir = f.dir.clone();
        let pem = std::fs::read_to_string(&f.cert_file).expect("cert file");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(std::fs::read_to_string(&f.key_file).expect("key file").contains("PRIVATE KEY"));
        drop(f);
        assert!(!dir.exists());
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let e = client_config(b"not pem", "x.pem").expect_err("no certificate");
        assert!(e.contains("x.pem: no CA certificate"), "{e}");
    }
}
