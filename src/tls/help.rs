//! `--help_tls`: nats-server's TLS usage text, listing what rnats supports.

use super::names;

const USAGE: &str = r#"
TLS configuration is specified in the tls section of a configuration file:

e.g.

    tls {
        cert_file:      "./certs/server-cert.pem"
        key_file:       "./certs/server-key.pem"
        ca_file:        "./certs/ca.pem"
        verify:         true
        verify_and_map: true

        cipher_suites: [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        ]
        curve_preferences: [
            "CurveP256",
            "CurveP384"
        ]
    }

Available cipher suites include:
"#;

/// The full text, as printed by `rnats --help_tls` (then exit 0).
pub fn help_text() -> String {
    let mut out = String::from(USAGE);
    for c in names::supported_ciphers() {
        out.push_str(&format!("    {}\n", c.name));
    }
    out.push_str("\nAvailable curve preferences include:\n");
    for c in names::supported_curves() {
        out.push_str(&format!("    {}\n", c.name));
    }
    let refused: Vec<&str> = names::GO_CIPHERS.iter().filter(|c| !c.available).map(|c| c.name).collect();
    let refused_curves: Vec<&str> = names::GO_CURVES.iter().filter(|c| c.rustls().is_none()).map(|c| c.name).collect();
    out.push_str(
        "\nnats-server also accepts the following names, which rnats refuses: TLS 1.2 suites with CBC, RC4,\n\
         3DES or RSA key exchange, the P-521 curve and the post-quantum hybrids (rustls does not offer them):\n",
    );
    for name in refused.iter().chain(&refused_curves) {
        out.push_str(&format!("    {name}\n"));
    }
    out.push_str("\nTLS 1.3 suites are always enabled; `cipher_suites` restricts TLS 1.2 only, as in nats-server.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_supported_names_before_refused_ones() {
        let text = help_text();
        let supported = text.find("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").unwrap_or(usize::MAX);
        let refused = text.find("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\n").unwrap_or(0);
        assert!(supported < refused);
        assert!(text.contains("Available curve preferences include:\n    X25519\n    CurveP256\n    CurveP384\n"));
        assert!(text.starts_with("\nTLS configuration is specified in the tls section"));
    }
}
