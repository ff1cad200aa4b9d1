//! Reading certificates and keys from PEM files, with nats-server's error
//! texts (Go's `tls.LoadX509KeyPair` and `CertPool.AppendCertsFromPEM`), so a
//! bad file is reported the way operators already search for.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate, key or CA file could not be used.
#[derive(Debug)]
pub enum PemError {
    /// The file could not be opened or read.
    Read { op: &'static str, path: String, error: io::Error },
    /// The file is not well-formed PEM.
    Malformed { path: String, detail: String },
    /// No `CERTIFICATE` block; `skipped` are the block types found instead.
    NoCertificate { skipped: Vec<String> },
    /// No `… PRIVATE KEY` block; `skipped` are the block types found instead.
    NoPrivateKey { skipped: Vec<String> },
    /// A key block that is not PKCS#1, PKCS#8 or SEC1 (an encrypted key, say).
    UnparsableKey,
    /// A key rustls' ring provider cannot sign with.
    UnsupportedKey { detail: String },
    /// The leaf certificate is not valid X.509.
    BadCertificate { detail: String },
    /// The key is not the one the certificate was issued for.
    KeyMismatch,
    /// A CA file without any usable certificate.
    NoCaCertificate,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemError::Read { op, path, error } => write!(f, "{op} {path}: {}", go_errno_text(error)),
            PemError::Malformed { path, detail } => write!(f, "malformed PEM in {path}: {detail}"),
            PemError::NoCertificate { skipped } => match skipped.as_slice() {
                [] => f.write_str("tls: failed to find any PEM data in certificate input"),
                [one] if one.ends_with("PRIVATE KEY") => f.write_str(
                    "tls: failed to find certificate PEM data in certificate input, but did find a private key; \
                     PEM inputs may have been switched",
                ),
                _ => write!(
                    f,
                    "tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks \
                     of the following types: [{}]",
                    skipped.join(" ")
                ),
            },
            PemError::NoPrivateKey { skipped } => match skipped.as_slice() {
                [] => f.write_str("tls: failed to find any PEM data in key input"),
                [one] if one == "CERTIFICATE" => {
                    f.write_str("tls: found a certificate rather than a key in the PEM for the private key")
                }
                _ => write!(
                    f,
                    "tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping \
                     PEM blocks of the following types: [{}]",
                    skipped.join(" ")
                ),
            },
            PemError::UnparsableKey => f.write_str("tls: failed to parse private key"),
            PemError::UnsupportedKey { detail } => write!(f, "unsupported private key: {detail}"),
            PemError::BadCertificate { detail } => write!(f, "x509: malformed certificate: {detail}"),
            PemError::KeyMismatch => f.write_str("tls: private key does not match public key"),
            PemError::NoCaCertificate => f.write_str("failed to parse root ca certificate"),
        }
    }
}

impl std::error::Error for PemError {}

impl PemError {
    /// A hint for the operator, where the reference's text alone would leave
    /// them guessing.
    pub fn help(&self) -> Option<String> {
        match self {
            PemError::Read { .. } => {
                Some("file paths in values are relative to the working directory, not to the config file".into())
            }
            PemError::UnparsableKey => Some("the key must be unencrypted PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM".into()),
            PemError::UnsupportedKey { .. } => {
                Some("rnats signs with ECDSA P-256/P-384, Ed25519 or RSA of 2048 to 8192 bits".into())
            }
            _ => None,
        }
    }
}

/// Go prints errno texts in lower case and without Rust's `(os error N)`.
fn go_errno_text(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Reads a whole file, naming the failing step as Go does (`open` or `read`).
pub fn read_file(path: &str) -> Result<Vec<u8>, PemError> {
    let err = |op, error| PemError::Read { op, path: path.to_string(), error };
    let mut file = std::fs::File::open(Path::new(path)).map_err(|e| err("open", e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| err("read", e))?;
    Ok(bytes)
}

/// The labels of every `-----BEGIN X-----` line, in order: what Go lists as
/// "skipped" when the block it wanted is missing.
fn block_labels(pem: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(pem);
    text.lines()
        .filter_map(|l| l.trim_end().strip_prefix("-----BEGIN ")?.strip_suffix("-----").map(str::to_string))
        .collect()
}

/// Every decodable PEM section, in file order.
fn sections(path: &str, pem: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, PemError> {
    <(SectionKind, Vec<u8>)>::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PemError::Malformed { path: path.to_string(), detail: e.to_string() })
}

/// The certificates of a PEM file (a leaf followed by its chain, or a CA
/// bundle), skipping other blocks as Go does.
pub fn certificates(path: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs: Vec<CertificateDer<'static>> = sections(path, pem)?
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der))
        .collect();
    if certs.is_empty() {
        let skipped = block_labels(pem).into_iter().filter(|l| l != "CERTIFICATE").collect();
        return Err(PemError::NoCertificate { skipped });
    }
    Ok(certs)
}

/// The first private key of a PEM file (which may also hold certificates).
pub fn private_key(path: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    let labels = block_labels(pem);
    let key = sections(path, pem)?.into_iter().find_map(|(kind, der)| PrivateKeyDer::from_pem(kind, der));
    match key {
        Some(k) => Ok(k),
        // Go picks any block whose type ends in "PRIVATE KEY" and then fails
        // to parse it (an `ENCRYPTED PRIVATE KEY`, say).
        None if labels.iter().any(|l| l == "PRIVATE KEY" || l.ends_with(" PRIVATE KEY")) => {
            Err(PemError::UnparsableKey)
        }
        None => Err(PemError::NoPrivateKey { skipped: labels }),
    }
}

/// A certificate chain and the key for its leaf, from one or two files.
pub struct KeyPair {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// Go's `tls.LoadX509KeyPair`: both files are read, then the certificates,
/// then the key. The key is checked against the leaf by the caller, which
/// has the crypto provider.
pub fn load_key_pair(cert_file: &str, key_file: &str) -> Result<KeyPair, PemError> {
    let cert_pem = read_file(cert_file)?;
    let key_pem = read_file(key_file)?;
    let chain = certificates(cert_file, &cert_pem)?;
    let key = private_key(key_file, &key_pem)?;
    if let Err(e) = x509_parser::parse_x509_certificate(&chain[0]) {
        return Err(PemError::BadCertificate { detail: e.to_string() });
    }
    Ok(KeyPair { chain, key })
}

/// Go's `AppendCertsFromPEM`: the certificates of a CA file; unparsable ones
/// are skipped, and a file with none is an error.
pub fn load_ca(path: &str) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let pem = read_file(path)?;
    let certs = match certificates(path, &pem) {
        Ok(c) => c,
        Err(PemError::Read { op, path, error }) => return Err(PemError::Read { op, path, error }),
        Err(_) => return Err(PemError::NoCaCertificate),
    };
    let usable: Vec<_> = certs.into_iter().filter(|c| x509_parser::parse_x509_certificate(c).is_ok()).collect();
    if usable.is_empty() {
        return Err(PemError::NoCaCertificate);
    }
    Ok(usable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_is_go_style() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(go_errno_text(&e), "no such file or directory");
        let e = io::Error::from_raw_os_error(13);
        assert_eq!(go_errno_text(&e), "permission denied");
    }

    #[test]
    fn missing_file_reads_like_go() {
        let e = read_file("surely/not/here.pem").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("open surely/not/here.pem: no such file or directory"));
        let e = read_file("/").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("read /: is a directory"));
    }

    #[test]
    fn go_texts_for_missing_blocks() {
        let nothing = PemError::NoCertificate { skipped: vec![] };
        assert_eq!(nothing.to_string(), "tls: failed to find any PEM data in certificate input");
        let switched = PemError::NoCertificate { skipped: vec!["PRIVATE KEY".into()] };
        assert!(switched.to_string().contains("PEM inputs may have been switched"));
        let two = PemError::NoCertificate { skipped: vec!["PRIVATE KEY".into(), "X509 CRL".into()] };
        assert!(two.to_string().ends_with("following types: [PRIVATE KEY X509 CRL]"));
        let cert = PemError::NoPrivateKey { skipped: vec!["CERTIFICATE".into()] };
        assert_eq!(cert.to_string(), "tls: found a certificate rather than a key in the PEM for the private key");
        assert_eq!(
            PemError::NoPrivateKey { skipped: vec![] }.to_string(),
            "tls: failed to find any PEM data in key input"
        );
    }

    #[test]
    fn garbage_has_no_pem_data() {
        assert!(
            matches!(certificates("x", b"garbage\n"), Err(PemError::NoCertificate { skipped }) if skipped.is_empty())
        );
        assert!(
            matches!(private_key("x", b"garbage\n"), Err(PemError::NoPrivateKey { skipped }) if skipped.is_empty())
        );
    }

    #[test]
    fn encrypted_key_is_unparsable() {
        let pem = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(matches!(private_key("x", pem), Err(PemError::UnparsableKey)));
    }
}
