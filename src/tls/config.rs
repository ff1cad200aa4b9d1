//! `tls { ... }` options → a ready rustls `ServerConfig`, or precise,
//! positioned problems.
//!
//! Mirrors nats-server's `parseTLS` + `GenTLSConfig`: the same checks in the
//! same spirit, with the reference's error texts where it has one. Where
//! rustls cannot do what Go does (CBC/RC4/3DES/RSA-key-exchange suites, P-521,
//! post-quantum groups, RSA keys under 2048 bits) the config is refused with
//! the reason and what rnats supports, rather than silently weakened.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::names::{self, GoCipher};
use super::negotiated::PinnedCerts;
use super::pem::{self, PemError};
use super::resolver::CertResolver;
use super::verifier::ClientVerifier;
use crate::options::{ServedTlsCheck, Tls, TlsProblem, DEFAULT_TLS_TIMEOUT};

/// A compiled `tls` block: everything a listener needs per connection.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// For client (and route) connections: asks for client certificates
    /// when `verify` or `verify_and_map` is set.
    pub config: Arc<ServerConfig>,
    /// The same certificates without client authentication, for the HTTPS
    /// monitoring port (as nats-server does).
    pub https: Arc<ServerConfig>,
    /// Bound on the whole handshake.
    pub timeout: Duration,
    /// TLS before INFO.
    pub handshake_first: bool,
    /// With `handshake_first`: wait this long for the client's first bytes,
    /// then fall back to INFO in clear text.
    pub handshake_first_fallback: Option<Duration>,
    /// Client certificates are required (`tls_verify` in INFO).
    pub verify: bool,
    /// The user comes from the client certificate.
    pub map_users: bool,
    /// Only clients whose key is listed may connect.
    pub pinned: Option<PinnedCerts>,
    /// Expiry of the (first) server certificate, for `/varz` `tls_cert_not_after`.
    pub cert_not_after: Option<SystemTime>,
}

/// A field of the `tls` block a problem is about, and the list element when
/// the field is a list, so the config layer can point at `file:line:col`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Key name as written in configs (`cert_file`); `None`: the block itself.
    pub key: Option<&'static str>,
    /// Index into the list value (`cipher_suites`, `certs`, ...).
    pub index: Option<usize>,
}

impl Field {
    const fn key(key: &'static str) -> Field {
        Field { key: Some(key), index: None }
    }
    const fn item(key: &'static str, index: usize) -> Field {
        Field { key: Some(key), index: Some(index) }
    }
    const BLOCK: Field = Field { key: None, index: None };
}

/// Everything that can be wrong with a `tls` block.
#[derive(Debug)]
pub enum TlsConfigError {
    MissingKeyFile,
    MissingCertFile,
    /// No certificate at all: a TLS server cannot hand shake without one.
    NoCertificate,
    CertFileAndCerts,
    /// `cert_file`/`key_file` (`pair: None`) or `certs[i]` (`Some((i, n))`);
    /// `in_key_file`: the key file is at fault rather than the certificate file.
    KeyPair {
        pair: Option<(usize, usize)>,
        in_key_file: bool,
        error: PemError,
    },
    CaFile(PemError),
    EmptyCiphers,
    UnknownCipher {
        index: usize,
        name: String,
    },
    InsecureCiphers {
        names: Vec<String>,
    },
    UnavailableCipher {
        index: usize,
        name: String,
    },
    EmptyCurves,
    UnknownCurve {
        index: usize,
        name: String,
    },
    /// `others`: whether another configured curve remains usable (then this
    /// is only a warning).
    UnavailableCurve {
        index: usize,
        name: String,
        others: bool,
    },
    MinVersionUnknown {
        value: String,
    },
    MinVersionUnsupported {
        value: String,
    },
    BadPin {
        index: usize,
        entry: String,
    },
    /// rustls refused the assembled config (not expected).
    Rustls(String),
}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TlsConfigError::*;
        match self {
            MissingKeyFile => f.write_str("missing 'key_file' in TLS configuration"),
            MissingCertFile => f.write_str("missing 'cert_file' in TLS configuration"),
            NoCertificate => f.write_str("TLS needs a server certificate: set 'cert_file' and 'key_file' (or 'certs')"),
            CertFileAndCerts => {
                f.write_str("error parsing tls config, cannot combine 'cert_file' option with 'certs' option")
            }
            KeyPair { pair: None, error, .. } => write!(f, "error parsing X509 certificate/key pair: {error}"),
            KeyPair { pair: Some((i, n)), error, .. } => {
                write!(f, "error parsing X509 certificate/key pair {}/{n}: {error}", i + 1)
            }
            CaFile(e) => write!(f, "{e}"),
            EmptyCiphers => f.write_str("error parsing tls config, 'cipher_suites' cannot be empty"),
            UnknownCipher { name, .. } => write!(f, "unrecognized cipher {name}"),
            InsecureCiphers { names } => write!(
                f,
                "insecure cipher suites configured without 'allow_insecure_cipher_suites' option set: {}",
                names.join(", ")
            ),
            UnavailableCipher { name, .. } => write!(f, "cipher suite {name} is not supported by rnats"),
            EmptyCurves => f.write_str("error parsing tls config, 'curve_preferences' cannot be empty"),
            UnknownCurve { name, .. } => write!(f, "unrecognized curve preference {name}"),
            UnavailableCurve { name, .. } => write!(f, "curve preference {name} is not supported by rnats"),
            MinVersionUnknown { value } => write!(f, "error parsing tls config: unknown version: {value}"),
            MinVersionUnsupported { value } => {
                write!(f, "error parsing tls config: unsupported TLS version: TLS {value}")
            }
            BadPin { entry, .. } => write!(
                f,
                "error parsing tls config, 'pinned_certs' key {entry} does not look like hex-encoded sha256 of \
                 DER encoded SubjectPublicKeyInfo"
            ),
            Rustls(e) => write!(f, "TLS configuration refused: {e}"),
        }
    }
}

impl std::error::Error for TlsConfigError {}

impl TlsConfigError {
    /// Where in the `tls` block the problem is.
    pub fn field(&self) -> Field {
        use TlsConfigError::*;
        match self {
            MissingKeyFile => Field::key("cert_file"),
            MissingCertFile => Field::key("key_file"),
            NoCertificate | Rustls(_) => Field::BLOCK,
            CertFileAndCerts => Field::key("certs"),
            KeyPair { pair: Some((i, _)), .. } => Field::item("certs", *i),
            KeyPair { pair: None, in_key_file, .. } => Field::key(if *in_key_file { "key_file" } else { "cert_file" }),
            CaFile(_) => Field::key("ca_file"),
            EmptyCiphers | InsecureCiphers { .. } => Field::key("cipher_suites"),
            UnknownCipher { index, .. } | UnavailableCipher { index, .. } => Field::item("cipher_suites", *index),
            EmptyCurves => Field::key("curve_preferences"),
            UnknownCurve { index, .. } | UnavailableCurve { index, .. } => Field::item("curve_preferences", *index),
            MinVersionUnknown { .. } | MinVersionUnsupported { .. } => Field::key("min_version"),
            BadPin { index, .. } => Field::item("pinned_certs", *index),
        }
    }

    /// Whether the server may still start (a usable alternative remains).
    pub fn is_warning(&self) -> bool {
        matches!(self, TlsConfigError::UnavailableCurve { others: true, .. })
    }

    /// A hint: what rnats supports, or how to fix the file.
    pub fn help(&self) -> Option<String> {
        use TlsConfigError::*;
        match self {
            UnknownCipher { .. } | UnavailableCipher { .. } | InsecureCiphers { .. } => {
                Some(format!("rnats supports: {}", names::supported_cipher_list()))
            }
            UnknownCurve { .. } | UnavailableCurve { .. } => {
                Some(format!("rnats supports: {}", names::supported_curve_list()))
            }
            MinVersionUnknown { .. } | MinVersionUnsupported { .. } => Some("use \"1.2\" or \"1.3\"".into()),
            KeyPair { error, .. } | CaFile(error) => error.help(),
            _ => None,
        }
    }
}

/// Builds the server side of a `tls` block. Files are read now: call again on
/// reload to pick up renewed certificates (live connections keep theirs).
pub fn compile(tls: &Tls) -> Result<ServerTls, TlsConfigError> {
    let mut problems = Vec::new();
    match build(tls, &mut problems) {
        Some(b) if problems.iter().all(TlsConfigError::is_warning) => Ok(b.server),
        _ => Err(problems
            .into_iter()
            .find(|p| !p.is_warning())
            .unwrap_or_else(|| TlsConfigError::Rustls("no usable configuration".into()))),
    }
}

/// Every problem of a `tls` block (for `rnats check` and startup
/// diagnostics), errors and warnings, in field order.
pub fn check(tls: &Tls) -> Vec<TlsConfigError> {
    let mut problems = Vec::new();
    let _ = build(tls, &mut problems);
    problems
}

/// The config layer's check of a served block: [`check`], each problem
/// with its field, text and hint.
impl ServedTlsCheck for Tls {
    fn served_problems(&self) -> Vec<TlsProblem> {
        check(self)
            .into_iter()
            .map(|p| {
                let Field { key, index } = p.field();
                TlsProblem { key, index, message: p.to_string(), help: p.help(), warning: p.is_warning() }
            })
            .collect()
    }
}

fn ring() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The TLS 1.2 suites a config allows (TLS 1.3 suites cannot be restricted,
/// as in Go), in server preference order.
fn cipher_suites(tls: &Tls, problems: &mut Vec<TlsConfigError>) -> Vec<rustls::SupportedCipherSuite> {
    let tls13 = names::supported_ciphers().filter(|c| c.tls13).filter_map(GoCipher::rustls);
    if tls.cipher_suites.is_empty() {
        // Options cannot tell "absent" from "empty list"; the config layer
        // reports an empty list (`EmptyCiphers`) where it sees one.
        return names::in_preference_order(names::supported_ciphers().filter_map(GoCipher::rustls).collect());
    }
    let mut chosen: Vec<rustls::SupportedCipherSuite> = tls13.collect();
    let mut insecure = Vec::new();
    let mut unavailable = Vec::new();
    for (index, name) in tls.cipher_suites.iter().enumerate() {
        match names::cipher_by_name(name) {
            None => problems.push(TlsConfigError::UnknownCipher { index, name: name.clone() }),
            Some(c) => {
                if c.insecure {
                    insecure.push(c.name.to_string());
                }
                match c.rustls() {
                    Some(s) if !c.tls13 => chosen.push(s),
                    Some(_) => {}
                    None => unavailable.push((index, c)),
                }
            }
        }
    }
    if !insecure.is_empty() && !tls.allow_insecure_cipher_suites {
        problems.push(TlsConfigError::InsecureCiphers { names: insecure });
    }
    for (index, c) in unavailable {
        // An insecure suite not allowed is already reported above.
        if c.insecure && !tls.allow_insecure_cipher_suites {
            continue;
        }
        problems.push(TlsConfigError::UnavailableCipher { index, name: c.name.to_string() });
    }
    chosen.dedup_by_key(|s| s.suite());
    names::in_preference_order(chosen)
}

fn kx_groups(tls: &Tls, problems: &mut Vec<TlsConfigError>) -> Vec<&'static dyn rustls::crypto::SupportedKxGroup> {
    if tls.curve_preferences.is_empty() {
        return names::supported_curves().filter_map(|c| c.rustls()).collect();
    }
    let mut groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup> = Vec::new();
    let mut unavailable = Vec::new();
    for (index, name) in tls.curve_preferences.iter().enumerate() {
        match names::curve_by_name(name) {
            None => problems.push(TlsConfigError::UnknownCurve { index, name: name.clone() }),
            Some(c) => match c.rustls() {
                Some(g) if !groups.iter().any(|h| h.name() == g.name()) => groups.push(g),
                Some(_) => {}
                None => unavailable.push((index, c.name)),
            },
        }
    }
    let others = !groups.is_empty();
    for (index, name) in unavailable {
        problems.push(TlsConfigError::UnavailableCurve { index, name: name.to_string(), others });
    }
    groups
}

fn versions(tls: &Tls, problems: &mut Vec<TlsConfigError>) -> &'static [&'static SupportedProtocolVersion] {
    static BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
    static ONLY_13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    match tls.min_version.as_deref() {
        None | Some("1.2") => BOTH,
        Some("1.3") => ONLY_13,
        Some(v @ ("1.0" | "1.1")) => {
            problems.push(TlsConfigError::MinVersionUnsupported { value: v.to_string() });
            BOTH
        }
        Some(v) => {
            problems.push(TlsConfigError::MinVersionUnknown { value: v.to_string() });
            BOTH
        }
    }
}

fn pinned(tls: &Tls, problems: &mut Vec<TlsConfigError>) -> Option<PinnedCerts> {
    if tls.pinned_certs.is_empty() {
        return None;
    }
    let mut ok = true;
    for (index, entry) in tls.pinned_certs.iter().enumerate() {
        let lower = entry.to_ascii_lowercase();
        if lower.len() != 64 || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
            problems.push(TlsConfigError::BadPin { index, entry: lower });
            ok = false;
        }
    }
    ok.then(|| PinnedCerts::new(tls.pinned_certs.iter().map(String::as_str)))
}

/// Loads one certificate/key pair and checks the key against the leaf.
fn certified_key(cert_file: &str, key_file: &str, provider: &CryptoProvider) -> Result<CertifiedKey, PemError> {
    let pair = pem::load_key_pair(cert_file, key_file)?;
    let leaf = pair.chain[0].clone();
    match CertifiedKey::from_der(pair.chain, pair.key, provider) {
        Ok(k) => Ok(k),
        Err(rustls::Error::InconsistentKeys(_)) => Err(PemError::KeyMismatch),
        Err(_) => Err(unsupported_key(&leaf)),
    }
}

/// Why ring would not load a key: told from the certificate's public key,
/// since ring's own error does not say.
fn unsupported_key(leaf: &[u8]) -> PemError {
    use x509_parser::public_key::PublicKey;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf) else { return PemError::UnparsableKey };
    let spki = cert.public_key();
    let detail = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            if (2048..=8192).contains(&bits) {
                return PemError::UnparsableKey;
            }
            format!("RSA key of {bits} bits (rnats needs 2048 to 8192)")
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") | Some("1.3.132.0.34") => return PemError::UnparsableKey,
                Some("1.3.132.0.35") => "ECDSA key on curve P-521".to_string(),
                Some(other) => format!("ECDSA key on curve {other}"),
                None => "ECDSA key on an unnamed curve".to_string(),
            }
        }
        Ok(PublicKey::DSA(_)) => "DSA key".to_string(),
        _ if spki.algorithm.algorithm.to_id_string() == "1.3.101.112" => return PemError::UnparsableKey,
        _ => format!("key algorithm {}", spki.algorithm.algorithm.to_id_string()),
    };
    PemError::UnsupportedKey { detail }
}

/// Server certificates: `cert_file`/`key_file`, or each of `certs`.
fn server_keys(tls: &Tls, provider: &CryptoProvider, problems: &mut Vec<TlsConfigError>) -> Vec<Arc<CertifiedKey>> {
    let mut keys = Vec::new();
    if tls.cert_file.is_some() && !tls.certs.is_empty() {
        problems.push(TlsConfigError::CertFileAndCerts);
        return keys;
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(_), None) => problems.push(TlsConfigError::MissingKeyFile),
        (None, Some(_)) => problems.push(TlsConfigError::MissingCertFile),
        (Some(c), Some(k)) => match certified_key(c, k, provider) {
            Ok(key) => keys.push(Arc::new(key)),
            Err(error) => problems.push(key_pair_error(None, error, c, k)),
        },
        (None, None) => {
            let n = tls.certs.len();
            for (i, pair) in tls.certs.iter().enumerate() {
                match certified_key(&pair.cert_file, &pair.key_file, provider) {
                    Ok(key) => keys.push(Arc::new(key)),
                    Err(error) => problems.push(key_pair_error(Some((i, n)), error, &pair.cert_file, &pair.key_file)),
                }
            }
            if n == 0 {
                problems.push(TlsConfigError::NoCertificate);
            }
        }
    }
    keys
}

/// Which file of a pair a loading error is about.
fn key_pair_error(pair: Option<(usize, usize)>, error: PemError, cert_file: &str, key_file: &str) -> TlsConfigError {
    let in_key_file = match &error {
        PemError::Read { path, .. } | PemError::Malformed { path, .. } => path == key_file && path != cert_file,
        PemError::NoCertificate { .. } | PemError::BadCertificate { .. } => false,
        _ => true,
    };
    TlsConfigError::KeyPair { pair, in_key_file, error }
}

/// The roots client certificates must chain to: `ca_file`, or the system's.
fn client_roots(tls: &Tls, problems: &mut Vec<TlsConfigError>) -> Option<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => match pem::load_ca(path) {
            Ok(certs) => {
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    problems.push(TlsConfigError::CaFile(PemError::NoCaCertificate));
                    return None;
                }
            }
            Err(e) => {
                problems.push(TlsConfigError::CaFile(e));
                return None;
            }
        },
        None if tls.verify || tls.verify_and_map => {
            // Go verifies against the system pool when no CA is given.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
        None => {}
    }
    Some(roots)
}

/// A compiled block and the parts a client side (routes) is made from.
pub(crate) struct Built {
    pub server: ServerTls,
    pub provider: Arc<CryptoProvider>,
    pub versions: &'static [&'static SupportedProtocolVersion],
    pub keys: Vec<Arc<CertifiedKey>>,
    pub roots: Arc<RootCertStore>,
}

pub(crate) fn build(tls: &Tls, problems: &mut Vec<TlsConfigError>) -> Option<Built> {
    let base = ring();
    let keys = server_keys(tls, &base, problems);
    let roots = client_roots(tls, problems);
    let provider = Arc::new(CryptoProvider {
        cipher_suites: cipher_suites(tls, problems),
        kx_groups: kx_groups(tls, problems),
        ..base
    });
    let versions = versions(tls, problems);
    let pinned = pinned(tls, problems);
    if keys.is_empty()
        && !problems.iter().any(|p| {
            matches!(
                p,
                TlsConfigError::KeyPair { .. }
                    | TlsConfigError::MissingKeyFile
                    | TlsConfigError::MissingCertFile
                    | TlsConfigError::CertFileAndCerts
                    | TlsConfigError::NoCertificate
            )
        })
    {
        problems.push(TlsConfigError::NoCertificate);
    }
    if problems.iter().any(|p| !p.is_warning()) {
        return None;
    }
    let roots = Arc::new(roots?);
    let verify = tls.verify || tls.verify_and_map;
    let client_verifier: Arc<dyn ClientCertVerifier> = if verify {
        let webpki = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build().ok();
        Arc::new(ClientVerifier::new(webpki, provider.clone()))
    } else {
        WebPkiClientVerifier::no_client_auth()
    };
    let resolver = Arc::new(CertResolver::new(keys.clone()));
    let make = |verifier: Arc<dyn ClientCertVerifier>| -> Result<Arc<ServerConfig>, TlsConfigError> {
        let mut config = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| TlsConfigError::Rustls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(resolver.clone());
        // The server's preference order decides, as in Go.
        config.ignore_client_order = true;
        Ok(Arc::new(config))
    };
    let built = make(client_verifier).and_then(|c| Ok((c, make(WebPkiClientVerifier::no_client_auth())?)));
    let (config, https) = match built {
        Ok(pair) => pair,
        Err(e) => {
            problems.push(e);
            return None;
        }
    };
    let timeout = if tls.timeout.is_zero() { DEFAULT_TLS_TIMEOUT } else { tls.timeout };
    let server = ServerTls {
        config,
        https,
        timeout,
        handshake_first: tls.handshake_first,
        handshake_first_fallback: tls.handshake_first_fallback.filter(|d| !d.is_zero()),
        verify,
        map_users: tls.verify_and_map,
        pinned,
        cert_not_after: keys.first().and_then(|k| not_after(k)),
    };
    Some(Built { server, provider, versions, keys, roots })
}

fn not_after(key: &CertifiedKey) -> Option<SystemTime> {
    let leaf = key.end_entity_cert().ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).ok()?;
    let secs = cert.validity().not_after.timestamp();
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}
