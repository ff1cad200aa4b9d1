//! `tls` blocks: certificates, verification, ciphers and the TLS-first handshake.

use super::*;

/// `tls { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
pub struct Tls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Require and verify client certificates.
    #[serde(skip_serializing_if = "is_false")]
    pub verify: bool,
    /// Verify client certificates and map them to users.
    #[serde(skip_serializing_if = "is_false")]
    pub verify_and_map: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub insecure: bool,
    #[serde(serialize_with = "ser_duration")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub curve_preferences: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_insecure_cipher_suites: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pinned_certs: Vec<String>,
    /// TLS before INFO (`handshake_first: true`).
    #[serde(skip)]
    pub handshake_first: bool,
    /// With `handshake_first: auto` (50ms) or a duration: how long to wait
    /// for a TLS-first client before sending INFO in clear text, so clients
    /// that cannot do TLS first still connect.
    #[serde(skip)]
    pub handshake_first_fallback: Option<Duration>,
    /// How the two fields above are written in a config (and in a dump):
    /// absent, `true`, or the fallback delay. Set through
    /// [`Tls::set_handshake_first`].
    #[serde(rename = "handshake_first", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub handshake_first_written: Option<HandshakeFirstWritten>,
    /// Several certificate/key pairs (`certs: [{cert_file, key_file}]`); the
    /// one whose names match the client's SNI is used, the first otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certs: Vec<TlsCertPair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// Other TLS settings, kept as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `handshake_first` as a config writes it: `true`, or a fallback delay.
#[derive(Debug, Clone, PartialEq)]
pub struct HandshakeFirstWritten(Option<Duration>);

impl Serialize for HandshakeFirstWritten {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_bool(true),
            Some(d) => s.serialize_str(&format_duration(d)),
        }
    }
}

impl Tls {
    /// Keeps the written form of `handshake_first` in step with the two
    /// fields the server uses (call after setting them).
    pub fn set_handshake_first(&mut self, on: bool, fallback: Option<Duration>) {
        self.handshake_first = on;
        self.handshake_first_fallback = fallback.filter(|_| on);
        self.handshake_first_written = on.then_some(HandshakeFirstWritten(self.handshake_first_fallback));
    }
}

/// A problem of a served `tls` block that only building it finds (files
/// read, names looked up): the key and list item it is about, so the config
/// layer can point at them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsProblem {
    /// Key name as written in configs (`cert_file`); `None`: the block itself.
    pub key: Option<&'static str>,
    /// Index into the list value (`cipher_suites`, `certs`, ...).
    pub index: Option<usize>,
    pub message: String,
    pub help: Option<String>,
    /// The server may still start (a usable alternative remains).
    pub warning: bool,
}

/// Building a served `tls` block and reporting what is wrong with it. The
/// config layer asks this of every served block; the TLS layer answers it
/// (`tls::config`), since only it can build one. The question lives here,
/// below both, so that the config layer does not import the TLS layer.
pub trait ServedTlsCheck {
    fn served_problems(&self) -> Vec<TlsProblem>;
}

/// One entry of `tls.certs`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
pub struct TlsCertPair {
    pub cert_file: String,
    pub key_file: String,
}
