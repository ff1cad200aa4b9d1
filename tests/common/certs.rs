//! Test certificates, generated fresh for each test (rcgen, ECDSA P-256):
//! a CA, a server certificate for `127.0.0.1`/`localhost` (also as a chain
//! bundle through an intermediate CA, and as one file holding certificate
//! and key), and client certificates with an e-mail SAN, with a subject DN,
//! expired, and from an unknown CA. Files live in a temporary directory
//! that is removed when the `Pki` is dropped.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

/// One certificate and its key, as PEM text and as files.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_file: String,
    pub key_file: String,
    pub der: Vec<u8>,
}

/// What a leaf certificate says about its holder.
#[derive(Default, Clone)]
pub struct Leaf {
    /// Subject attributes in certificate order (`("OU", "CNCF")`, `("CN", "example.com")`).
    pub subject: Vec<(&'static str, String)>,
    pub emails: Vec<String>,
    pub dns: Vec<String>,
    pub ips: Vec<std::net::IpAddr>,
    pub uris: Vec<String>,
    /// Valid from 2020-01-01 to 2020-02-01.
    pub expired: bool,
}

impl Leaf {
    pub fn subject(attrs: &[(&'static str, &str)]) -> Leaf {
        Leaf { subject: attrs.iter().map(|(k, v)| (*k, v.to_string())).collect(), ..Leaf::default() }
    }
}

fn dn_type(short: &str) -> DnType {
    match short {
        "CN" => DnType::CommonName,
        "OU" => DnType::OrganizationalUnitName,
        "O" => DnType::OrganizationName,
        "L" => DnType::LocalityName,
        "ST" => DnType::StateOrProvinceName,
        "C" => DnType::CountryName,
        "DC" => DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]),
        "EMAIL" => DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
        other => panic!("no DN type {other} in the test helper"),
    }
}

fn params(leaf: &Leaf) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    for (k, v) in &leaf.subject {
        dn.push(dn_type(k), v.as_str());
    }
    p.distinguished_name = dn;
    let ia5 = |s: &String| s.clone().try_into().expect("ASCII name");
    p.subject_alt_names.extend(leaf.emails.iter().map(|e| SanType::Rfc822Name(ia5(e))));
    p.subject_alt_names.extend(leaf.dns.iter().map(|d| SanType::DnsName(ia5(d))));
    p.subject_alt_names.extend(leaf.ips.iter().map(|ip| SanType::IpAddress(*ip)));
    p.subject_alt_names.extend(leaf.uris.iter().map(|u| SanType::URI(ia5(u))));
    if leaf.expired {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2020, 2, 1);
    }
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p
}

/// A certificate authority that can issue leaves.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub cert_pem: String,
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let issuer = CertifiedIssuer::self_signed(ca_params(cn), KeyPair::generate().expect("key")).expect("CA");
        let cert_pem = issuer.pem();
        let der = issuer.der().to_vec();
        Ca { issuer, cert_pem, der }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, cn: &str) -> Ca {
        let issuer = CertifiedIssuer::signed_by(ca_params(cn), KeyPair::generate().expect("key"), &self.issuer)
            .expect("intermediate");
        let cert_pem = issuer.pem();
        let der = issuer.der().to_vec();
        Ca { issuer, cert_pem, der }
    }

    /// Issues a leaf and writes `<name>-cert.pem` and `<name>-key.pem` to `dir`.
    pub fn issue(&self, dir: &Path, name: &str, leaf: &Leaf) -> Issued {
        let key = KeyPair::generate().expect("key");
        let cert = params(leaf).signed_by(&key, &self.issuer).expect("leaf");
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        let cert_file = write(dir, &format!("{name}-cert.pem"), &cert_pem);
        let key_file = write(dir, &format!("{name}-key.pem"), &key_pem);
        Issued { cert_pem, key_pem, cert_file, key_file, der: cert.der().to_vec() }
    }
}

pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path.to_string_lossy().into_owned()
}

/// The usual set of test certificates.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: Ca,
    /// `ca.pem`.
    pub ca_file: String,
    /// Leaf for `127.0.0.1` and `localhost`, signed by the CA.
    pub server: Issued,
    /// Leaf signed by an intermediate CA; `server_chain.cert_file` holds the
    /// leaf then the intermediate (a bundle), clients trust only the root.
    pub server_chain: Issued,
    /// Certificate and key in one file (`cert_file` = `key_file`).
    pub server_combined: String,
    /// E-mail SAN `alice@example.com`, subject `CN=alice`.
    pub client_email: Issued,
    /// Subject `OU=CNCF`, `CN=example.com` (in that certificate order), no SAN.
    pub client_dn: Issued,
    /// Valid only in January 2020.
    pub client_expired: Issued,
    /// Signed by a CA the server does not know.
    pub client_unknown_ca: Issued,
    pub other_ca: Ca,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let ca = Ca::new("rnats test CA");
        let ca_file = write(d, "ca.pem", &ca.cert_pem);
        let server_leaf = Leaf {
            subject: vec![("CN", "localhost".into())],
            dns: vec!["localhost".into()],
            ips: vec!["127.0.0.1".parse().expect("ip")],
            ..Leaf::default()
        };
        let server = ca.issue(d, "server", &server_leaf);
        let inter = ca.intermediate("rnats test intermediate");
        let mut server_chain = inter.issue(d, "server-chain", &server_leaf);
        server_chain.cert_file =
            write(d, "server-chain-bundle.pem", &format!("{}{}", server_chain.cert_pem, inter.cert_pem));
        let server_combined = write(d, "server-combined.pem", &format!("{}{}", server.cert_pem, server.key_pem));
        let client_email = ca.issue(
            d,
            "client-email",
            &Leaf {
                subject: vec![("CN", "alice".into())],
                emails: vec!["alice@example.com".into()],
                ..Leaf::default()
            },
        );
        let client_dn = ca.issue(d, "client-dn", &Leaf::subject(&[("OU", "CNCF"), ("CN", "example.com")]));
        let client_expired = ca.issue(
            d,
            "client-expired",
            &Leaf { expired: true, ..Leaf::subject(&[("OU", "CNCF"), ("CN", "example.com")]) },
        );
        let other_ca = Ca::new("unknown CA");
        let client_unknown_ca =
            other_ca.issue(d, "client-unknown", &Leaf::subject(&[("OU", "CNCF"), ("CN", "example.com")]));
        Pki {
            dir,
            ca,
            ca_file,
            server,
            server_chain,
            server_combined,
            client_email,
            client_dn,
            client_expired,
            client_unknown_ca,
            other_ca,
        }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// `tls { cert_file, key_file }` for the server certificate.
    pub fn server_tls(&self) -> rnats::options::Tls {
        rnats::options::Tls {
            cert_file: Some(self.server.cert_file.clone()),
            key_file: Some(self.server.key_file.clone()),
            timeout: rnats::options::DEFAULT_TLS_TIMEOUT,
            ..rnats::options::Tls::default()
        }
    }

    /// As [`Pki::server_tls`], requiring client certificates from the CA.
    pub fn mutual_tls(&self) -> rnats::options::Tls {
        rnats::options::Tls { ca_file: Some(self.ca_file.clone()), verify: true, ..self.server_tls() }
    }
}
