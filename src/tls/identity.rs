//! `verify_and_map`: which user a client certificate names.
//!
//! nats-server (`auth.go`, `checkClientTLSCertSubject`) tries, in order:
//! every e-mail SAN, every DNS SAN, every URI SAN (each looked up as a user
//! name), then the subject as a parsed DN (equal to a user name that parses as
//! a DN, then equal with RDNs reordered), then Go's RDN-sequence string with
//! the domain components appended, then that string alone. The first user
//! found wins. [`CertIdentity`] holds those candidates; [`map_user`] runs the
//! lookup and says which step matched, with the reference's debug lines.

use super::dn::Dn;
use super::goname;

/// The identities a client certificate offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    pub emails: Vec<String>,
    pub dns_names: Vec<String>,
    pub uris: Vec<String>,
    /// Go's `Subject.ToRDNSequence().String()` (`CN=example.com,OU=CNCF`).
    pub rdn_sequence: String,
    /// `DC=…` components, in certificate order (`getTLSAuthDCs`), if any.
    pub domain_components: String,
    /// The subject as `internal/ldap` reads it; `None` when it holds an
    /// attribute ldap has no name for (an e-mail in the subject, say).
    pub dn: Option<Dn>,
    /// Go's `Subject.String()`, for logs.
    pub subject: String,
}

/// A certificate that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityError(pub String);

impl std::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read the client certificate: {}", self.0)
    }
}

impl std::error::Error for IdentityError {}

impl CertIdentity {
    /// Reads the identities of a DER certificate (the peer's leaf).
    pub fn from_der(der: &[u8]) -> Result<CertIdentity, IdentityError> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| IdentityError(e.to_string()))?;
        let (mut emails, mut dns_names, mut uris) = (Vec::new(), Vec::new(), Vec::new());
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::RFC822Name(s) => emails.push(s.to_string()),
                    GeneralName::DNSName(s) => dns_names.push(s.to_string()),
                    GeneralName::URI(s) => uris.push(s.to_string()),
                    _ => {}
                }
            }
        }
        let rdns = goname::rdns(cert.subject());
        Ok(CertIdentity {
            emails,
            dns_names,
            uris,
            rdn_sequence: goname::rdn_sequence_string(&rdns),
            domain_components: goname::domain_components(&rdns),
            dn: Dn::from_subject(&rdns),
            subject: goname::name_string(&rdns),
        })
    }

    fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.dns_names.is_empty() && self.uris.is_empty() && self.subject.is_empty()
    }
}

/// Which step of the lookup found the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    Email,
    DnsName,
    Uri,
    /// The subject DN, exactly or with its RDNs reordered.
    DistinguishedName,
    /// Go's RDN string with `,DC=…` appended.
    RdnSequenceWithDcs,
    /// Go's RDN string.
    Subject,
}

/// The outcome of [`map_user`]: the user (an index into the slice given),
/// how it was found, and nats-server's debug lines for the connection log,
/// in order, without the connection prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapOutcome {
    pub user: Option<(usize, MatchedBy)>,
    pub debug: Vec<String>,
}

/// [`map_user`] on the client's certificates as the handshake left them,
/// with nats-server's debug lines about the chain itself.
pub fn map_peer_certs(peer_certs: &[rustls::pki_types::CertificateDer<'_>], names: &[Option<&str>]) -> MapOutcome {
    let Some(leaf) = peer_certs.first() else {
        return MapOutcome { user: None, debug: vec!["User required in cert, no peer certificates found".into()] };
    };
    let mut debug = Vec::new();
    if peer_certs.len() > 1 {
        debug.push("Multiple peer certificates found, selecting first".to_string());
    }
    match CertIdentity::from_der(leaf) {
        Ok(id) => {
            let mut out = map_user(&id, names);
            debug.append(&mut out.debug);
            MapOutcome { user: out.user, debug }
        }
        Err(e) => {
            debug.push(e.to_string());
            MapOutcome { user: None, debug }
        }
    }
}

/// Finds the user a certificate maps to. `names[i]` is user `i`'s name, or
/// `None` for a user that cannot be chosen on this connection (no user name,
/// or its `allowed_connection_types` exclude it); exact lookups treat names
/// as unique, as nats-server's user map does (the first wins here).
pub fn map_user(id: &CertIdentity, names: &[Option<&str>]) -> MapOutcome {
    let mut debug = Vec::new();
    if id.is_empty() {
        debug.push("User required in cert, none found".to_string());
        return MapOutcome { user: None, debug };
    }
    let exact = |candidate: &str| names.iter().position(|n| *n == Some(candidate));
    let steps: [(&Vec<String>, MatchedBy, &str); 3] = [
        (&id.emails, MatchedBy::Email, "Using email found in cert for auth"),
        (&id.dns_names, MatchedBy::DnsName, "Using SAN found in cert for auth"),
        (&id.uris, MatchedBy::Uri, "Using URI found in cert for auth"),
    ];
    for (candidates, by, line) in steps {
        for c in candidates {
            if let Some(i) = exact(c) {
                debug.push(format!("{line} [{c:?}]"));
                return MapOutcome { user: Some((i, by)), debug };
            }
        }
    }
    if let Some(cert_dn) = &id.dn {
        let parsed: Vec<Option<Dn>> = names.iter().map(|n| n.and_then(|n| Dn::parse(n).ok())).collect();
        let found = parsed
            .iter()
            .position(|d| d.as_ref().is_some_and(|d| d.equal(cert_dn)))
            .or_else(|| parsed.iter().position(|d| d.as_ref().is_some_and(|d| d.rdns_match(cert_dn))));
        if let Some(i) = found {
            let name = names[i].unwrap_or_default();
            debug.push(format!("Using DistinguishedNameMatch for auth [{name:?}]"));
            return MapOutcome { user: Some((i, MatchedBy::DistinguishedName)), debug };
        }
        debug.push(format!("DistinguishedNameMatch could not be used for auth [{:?}]", id.rdn_sequence));
    }
    if !id.domain_components.is_empty() {
        let with_dcs = format!("{},{}", id.rdn_sequence, id.domain_components);
        if let Some(i) = exact(&with_dcs) {
            debug.push(format!("Using RDNSequence for auth [{with_dcs:?}]"));
            return MapOutcome { user: Some((i, MatchedBy::RdnSequenceWithDcs)), debug };
        }
        debug.push(format!("RDNSequence could not be used for auth [{with_dcs:?}]"));
    }
    if let Some(i) = exact(&id.rdn_sequence) {
        debug.push(format!("Using certificate subject for auth [{:?}]", id.rdn_sequence));
        return MapOutcome { user: Some((i, MatchedBy::Subject)), debug };
    }
    debug.push(format!("User in cert [{:?}], not found", id.rdn_sequence));
    MapOutcome { user: None, debug }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident() -> CertIdentity {
        CertIdentity {
            emails: vec!["alice@example.com".into()],
            dns_names: vec!["alice.example.com".into()],
            uris: vec!["spiffe://example.com/alice".into()],
            rdn_sequence: "CN=example.com,OU=CNCF".into(),
            domain_components: String::new(),
            dn: Dn::parse("CN=example.com,OU=CNCF").ok(),
            subject: "CN=example.com,OU=CNCF".into(),
        }
    }

    #[test]
    fn email_before_san_before_uri_before_dn() {
        let id = ident();
        let names = [Some("CN=example.com,OU=CNCF"), Some("spiffe://example.com/alice"), Some("alice.example.com")];
        let out = map_user(&id, &names);
        assert_eq!(out.user, Some((2, MatchedBy::DnsName)));
        assert_eq!(out.debug, vec![r#"Using SAN found in cert for auth ["alice.example.com"]"#]);
        let names = [Some("CN=example.com,OU=CNCF"), Some("alice@example.com")];
        assert_eq!(map_user(&id, &names).user, Some((1, MatchedBy::Email)));
        let names = [Some("CN=example.com,OU=CNCF"), Some("spiffe://example.com/alice")];
        assert_eq!(map_user(&id, &names).user, Some((1, MatchedBy::Uri)));
    }

    #[test]
    fn dn_exact_then_reordered() {
        let id = ident();
        let out = map_user(&id, &[Some("bob"), Some("OU=CNCF, CN=example.com")]);
        assert_eq!(out.user, Some((1, MatchedBy::DistinguishedName)));
        assert_eq!(out.debug, vec![r#"Using DistinguishedNameMatch for auth ["OU=CNCF, CN=example.com"]"#]);
        // An exact DN match beats an earlier reordered one.
        let out = map_user(&id, &[Some("OU=CNCF,CN=example.com"), Some("CN=example.com,OU=CNCF")]);
        assert_eq!(out.user, Some((1, MatchedBy::DistinguishedName)));
    }

    #[test]
    fn excluded_users_are_skipped() {
        let id = ident();
        let out = map_user(&id, &[None, Some("nobody")]);
        assert_eq!(out.user, None);
        assert_eq!(
            out.debug,
            vec![
                r#"DistinguishedNameMatch could not be used for auth ["CN=example.com,OU=CNCF"]"#,
                r#"User in cert ["CN=example.com,OU=CNCF"], not found"#
            ]
        );
    }

    #[test]
    fn subject_string_when_no_dn() {
        let mut id = ident();
        id.dn = None;
        id.emails.clear();
        id.domain_components = "DC=org".into();
        let out = map_user(&id, &[Some("CN=example.com,OU=CNCF,DC=org")]);
        assert_eq!(out.user, Some((0, MatchedBy::RdnSequenceWithDcs)));
        let out = map_user(&id, &[Some("CN=example.com,OU=CNCF")]);
        assert_eq!(out.user, Some((0, MatchedBy::Subject)));
        assert_eq!(
            out.debug,
            vec![
                r#"RDNSequence could not be used for auth ["CN=example.com,OU=CNCF,DC=org"]"#,
                r#"Using certificate subject for auth ["CN=example.com,OU=CNCF"]"#
            ]
        );
    }

    #[test]
    fn nothing_to_map() {
        let id = CertIdentity {
            emails: vec![],
            dns_names: vec![],
            uris: vec![],
            rdn_sequence: String::new(),
            domain_components: String::new(),
            dn: Some(Dn::default()),
            subject: String::new(),
        };
        let out = map_user(&id, &[Some("")]);
        assert_eq!(out.user, None);
        assert_eq!(out.debug, vec!["User required in cert, none found"]);
    }
}
