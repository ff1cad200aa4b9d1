//! Go's names for TLS cipher suites, curves and versions, and which of them
//! rustls (ring provider) can provide.
//!
//! Configs, `--help_tls`, the debug log and `/connz` all speak Go's names
//! (`crypto/tls`'s `CipherSuiteName`), so the tables below are keyed by them.
//! Go's TLS 1.2 suites without forward secrecy or with CBC, RC4 or 3DES are
//! recognised (a config naming them is understood) but rustls does not
//! implement them, so naming one is a config error in rnats.

use rustls::crypto::ring::{ALL_CIPHER_SUITES, ALL_KX_GROUPS};
use rustls::crypto::SupportedKxGroup;
use rustls::{CipherSuite, NamedGroup, ProtocolVersion, SupportedCipherSuite};

/// One cipher suite as Go knows it.
#[derive(Debug, Clone, Copy)]
pub struct GoCipher {
    pub name: &'static str,
    pub id: u16,
    /// In Go's `tls.InsecureCipherSuites()`: refused unless
    /// `allow_insecure_cipher_suites` is set.
    pub insecure: bool,
    /// A TLS 1.3 suite: Go does not let configs restrict these.
    pub tls13: bool,
    /// rustls' ring provider has it.
    pub available: bool,
}

const fn go(name: &'static str, id: u16, insecure: bool, tls13: bool, available: bool) -> GoCipher {
    GoCipher { name, id, insecure, tls13, available }
}

impl GoCipher {
    /// The rustls suite (ring provider), when there is one.
    pub fn rustls(&self) -> Option<SupportedCipherSuite> {
        ALL_CIPHER_SUITES.iter().copied().find(|s| u16::from(s.suite()) == self.id)
    }
}

/// Go's `tls.CipherSuites()` then `tls.InsecureCipherSuites()`.
pub static GO_CIPHERS: &[GoCipher] = &[
    go("TLS_AES_128_GCM_SHA256", 0x1301, false, true, true),
    go("TLS_AES_256_GCM_SHA384", 0x1302, false, true, true),
    go("TLS_CHACHA20_POLY1305_SHA256", 0x1303, false, true, true),
    go("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xc009, false, false, false),
    go("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xc00a, false, false, false),
    go("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xc013, false, false, false),
    go("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xc014, false, false, false),
    go("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xc02b, false, false, true),
    go("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xc02c, false, false, true),
    go("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xc02f, false, false, true),
    go("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xc030, false, false, true),
    go("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca8, false, false, true),
    go("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca9, false, false, true),
    go("TLS_RSA_WITH_RC4_128_SHA", 0x0005, true, false, false),
    go("TLS_RSA_WITH_3DES_EDE_CBC_SHA", 0x000a, true, false, false),
    go("TLS_RSA_WITH_AES_128_CBC_SHA", 0x002f, true, false, false),
    go("TLS_RSA_WITH_AES_256_CBC_SHA", 0x0035, true, false, false),
    go("TLS_RSA_WITH_AES_128_CBC_SHA256", 0x003c, true, false, false),
    go("TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009c, true, false, false),
    go("TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009d, true, false, false),
    go("TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", 0xc007, true, false, false),
    go("TLS_ECDHE_RSA_WITH_RC4_128_SHA", 0xc011, true, false, false),
    go("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", 0xc012, true, false, false),
    go("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 0xc023, true, false, false),
    go("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 0xc027, true, false, false),
];

/// The order in which the server prefers suites, whatever order a config
/// lists them in (Go has ignored configured order since 1.17): AES-128-GCM
/// first, as Go does on hardware with AES instructions.
const PREFERENCE: &[u16] = &[0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8];

pub fn cipher_by_name(name: &str) -> Option<&'static GoCipher> {
    GO_CIPHERS.iter().find(|c| c.name == name)
}

/// The suites rnats can offer, in preference order.
pub fn supported_ciphers() -> impl Iterator<Item = &'static GoCipher> {
    PREFERENCE.iter().filter_map(|id| GO_CIPHERS.iter().find(|c| c.id == *id && c.available))
}

/// Orders rustls suites by server preference.
pub fn in_preference_order(mut suites: Vec<SupportedCipherSuite>) -> Vec<SupportedCipherSuite> {
    let rank = |s: &SupportedCipherSuite| {
        let id = u16::from(s.suite());
        PREFERENCE.iter().position(|p| *p == id).unwrap_or(PREFERENCE.len())
    };
    suites.sort_by_key(rank);
    suites
}

/// Go's `tls.CipherSuiteName`: the name, or `0xC0FF` for an unknown id.
pub fn go_cipher_name(suite: CipherSuite) -> String {
    let id = u16::from(suite);
    match GO_CIPHERS.iter().find(|c| c.id == id) {
        Some(c) => c.name.to_string(),
        None => format!("0x{id:04X}"),
    }
}

/// One curve (key exchange group) as Go knows it.
#[derive(Debug, Clone, Copy)]
pub struct GoCurve {
    pub name: &'static str,
    /// rustls' group, when its ring provider has one.
    pub group: Option<NamedGroup>,
}

impl GoCurve {
    pub fn rustls(&self) -> Option<&'static dyn SupportedKxGroup> {
        let group = self.group?;
        ALL_KX_GROUPS.iter().copied().find(|g| g.name() == group)
    }
}

/// Go's `curvePreferenceMap` (nats-server on Go 1.26). The post-quantum
/// hybrids and P-521 are not in rustls' ring provider.
pub static GO_CURVES: &[GoCurve] = &[
    GoCurve { name: "X25519", group: Some(NamedGroup::X25519) },
    GoCurve { name: "CurveP256", group: Some(NamedGroup::secp256r1) },
    GoCurve { name: "CurveP384", group: Some(NamedGroup::secp384r1) },
    GoCurve { name: "CurveP521", group: None },
    GoCurve { name: "X25519MLKEM768", group: None },
    GoCurve { name: "SecP256r1MLKEM768", group: None },
    GoCurve { name: "SecP384r1MLKEM1024", group: None },
];

pub fn curve_by_name(name: &str) -> Option<&'static GoCurve> {
    GO_CURVES.iter().find(|c| c.name == name)
}

pub fn supported_curves() -> impl Iterator<Item = &'static GoCurve> {
    GO_CURVES.iter().filter(|c| c.rustls().is_some())
}

/// nats-server's `tlsVersion`: `1.2`, `1.3`, or `Unknown [0x…]`.
pub fn go_version_name(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_0 => "1.0".into(),
        ProtocolVersion::TLSv1_1 => "1.1".into(),
        ProtocolVersion::TLSv1_2 => "1.2".into(),
        ProtocolVersion::TLSv1_3 => "1.3".into(),
        other => format!("Unknown [0x{:x}]", u16::from(other)),
    }
}

/// Names joined for error messages and help (`A, B, C`).
pub fn supported_cipher_list() -> String {
    supported_ciphers().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

pub fn supported_curve_list() -> String {
    supported_curves().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rustls_ring_suite_has_its_go_name() {
        for s in ALL_CIPHER_SUITES {
            let name = go_cipher_name(s.suite());
            assert!(!name.starts_with("0x"), "{:?} has no Go name", s.suite());
            assert!(supported_ciphers().any(|c| c.name == name));
        }
        assert_eq!(supported_ciphers().count(), ALL_CIPHER_SUITES.len());
        assert_eq!(supported_curves().count(), ALL_KX_GROUPS.len());
    }

    #[test]
    fn go_ids_match_rustls_ids() {
        for c in GO_CIPHERS {
            assert_eq!(c.rustls().is_some(), c.available, "{}", c.name);
        }
    }

    #[test]
    fn go_lists_twenty_five_suites_and_no_aliases() {
        assert_eq!(GO_CIPHERS.len(), 25);
        assert!(cipher_by_name("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305").is_none());
    }

    #[test]
    fn unknown_suite_is_hex_as_go_prints_it() {
        assert_eq!(go_cipher_name(CipherSuite::from(0x00ff)), "0x00FF");
        assert_eq!(go_cipher_name(CipherSuite::from(0xc02f)), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
    }

    #[test]
    fn versions() {
        assert_eq!(go_version_name(ProtocolVersion::TLSv1_3), "1.3");
        assert_eq!(go_version_name(ProtocolVersion::TLSv1_2), "1.2");
        assert_eq!(go_version_name(ProtocolVersion::from(0x7f00)), "Unknown [0x7f00]");
    }
}
