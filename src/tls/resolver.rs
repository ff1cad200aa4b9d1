//! Choosing the server certificate when `tls.certs` lists several: the first
//! whose DNS or IP names cover the name the client asked for (SNI), else the
//! first one, as Go's `tls.Config.Certificates` does.

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

#[derive(Debug)]
pub struct CertResolver {
    /// Each key with the lower-cased DNS names and IP addresses of its leaf.
    keys: Vec<(Arc<CertifiedKey>, Vec<String>)>,
}

impl CertResolver {
    /// `keys` must not be empty.
    pub fn new(keys: Vec<Arc<CertifiedKey>>) -> CertResolver {
        let keys = keys
            .into_iter()
            .map(|k| {
                let names = k.end_entity_cert().map(|c| leaf_names(c)).unwrap_or_default();
                (k, names)
            })
            .collect();
        CertResolver { keys }
    }
}

fn leaf_names(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { return Vec::new() };
    let Ok(Some(san)) = cert.subject_alternative_name() else { return Vec::new() };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => Some(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                16 => <[u8; 16]>::try_from(*ip).ok().map(|b| std::net::Ipv6Addr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// RFC 6125: a `*` matches exactly the left-most label.
fn name_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(rest) => host.split_once('.').is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == host,
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(sni) = hello.server_name() {
            let sni = sni.to_ascii_lowercase();
            if let Some((k, _)) = self.keys.iter().find(|(_, names)| names.iter().any(|n| name_matches(n, &sni))) {
                return Some(k.clone());
            }
        }
        self.keys.first().map(|(k, _)| k.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.example.com", "a.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("localhost", "localhost"));
    }
}
