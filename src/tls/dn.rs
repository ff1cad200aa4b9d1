//! Distinguished names as nats-server's `internal/ldap` reads and compares
//! them: how a `verify_and_map` user name such as `CN=example.com,OU=CNCF`
//! is parsed (RFC 4514) and matched against a certificate subject, first RDN
//! by RDN, then with the RDNs in any order.

use std::fmt;

use super::goname::{pkix_short_name, Attr, OID_DC};

/// One `type=value` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeAndValue {
    pub kind: String,
    pub value: String,
}

/// A relative distinguished name: one or more pairs joined by `+`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rdn {
    pub attrs: Vec<TypeAndValue>,
}

/// A distinguished name, most specific RDN first (`CN=…,OU=…`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dn {
    pub rdns: Vec<Rdn>,
}

/// Why a string is not a DN; user names that are not DNs simply never match
/// by DN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnError {
    CorruptEscape,
    BadHexEscape,
    BerValue,
    IncompletePair,
    IncompleteAtEnd,
}

impl fmt::Display for DnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DnError::CorruptEscape => "got corrupted escaped character",
            DnError::BadHexEscape => "failed to decode escaped character",
            DnError::BerValue => "unsupported BER encoding",
            DnError::IncompletePair => "incomplete type, value pair",
            DnError::IncompleteAtEnd => "DN ended with incomplete type, value pair",
        })
    }
}

impl std::error::Error for DnError {}

/// The short names `internal/ldap` knows (Go's pkix names and `DC`); a
/// subject with any other attribute is not compared as a DN at all.
fn ldap_short_name(oid: &str) -> Option<&'static str> {
    if oid == OID_DC {
        return Some("DC");
    }
    pkix_short_name(oid)
}

impl Dn {
    /// `ldap.ParseDN`, with its quirks kept: leading and unescaped trailing
    /// spaces are dropped, a pair with an empty value at the very end is
    /// dropped, `#`-encoded values are refused.
    pub fn parse(s: &str) -> Result<Dn, DnError> {
        let bytes = s.as_bytes();
        let mut dn = Dn::default();
        let mut rdn = Rdn::default();
        let mut kind = String::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut trailing_spaces = 0usize;
        let mut escaping = false;
        let take = |buf: &mut Vec<u8>, trailing: &mut usize| -> String {
            let keep = buf.len() - *trailing;
            let out = String::from_utf8_lossy(&buf[..keep]).into_owned();
            buf.clear();
            *trailing = 0;
            out
        };
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if escaping {
                trailing_spaces = 0;
                escaping = false;
                if matches!(c, b' ' | b'"' | b'#' | b'+' | b',' | b';' | b'<' | b'=' | b'>' | b'\\') {
                    buf.push(c);
                    i += 1;
                    continue;
                }
                // Not a special character: a hex-encoded octet.
                if i + 1 >= bytes.len() {
                    return Err(DnError::CorruptEscape);
                }
                let hi = (bytes[i] as char).to_digit(16).ok_or(DnError::BadHexEscape)?;
                let lo = (bytes[i + 1] as char).to_digit(16).ok_or(DnError::BadHexEscape)?;
                buf.push((hi * 16 + lo) as u8);
                i += 2;
                continue;
            }
            match c {
                b'\\' => {
                    trailing_spaces = 0;
                    escaping = true;
                }
                b'=' => {
                    kind = take(&mut buf, &mut trailing_spaces);
                    if bytes.get(i + 1) == Some(&b'#') {
                        return Err(DnError::BerValue);
                    }
                }
                b',' | b'+' => {
                    if kind.is_empty() {
                        return Err(DnError::IncompletePair);
                    }
                    let value = take(&mut buf, &mut trailing_spaces);
                    rdn.attrs.push(TypeAndValue { kind: std::mem::take(&mut kind), value });
                    if c == b',' {
                        dn.rdns.push(std::mem::take(&mut rdn));
                    }
                }
                b' ' if buf.is_empty() => {}
                _ => {
                    if c == b' ' {
                        trailing_spaces += 1;
                    } else {
                        trailing_spaces = 0;
                    }
                    buf.push(c);
                }
            }
            i += 1;
        }
        if !buf.is_empty() {
            if kind.is_empty() {
                return Err(DnError::IncompleteAtEnd);
            }
            let value = take(&mut buf, &mut trailing_spaces);
            rdn.attrs.push(TypeAndValue { kind, value });
            dn.rdns.push(rdn);
        }
        Ok(dn)
    }

    /// `ldap.FromRawCertSubject`: the subject's RDNs most specific first (the
    /// reverse of certificate order), attributes within an RDN reversed too.
    /// `None` when an attribute has no `internal/ldap` name or no string value.
    pub fn from_subject(rdns: &[Vec<Attr>]) -> Option<Dn> {
        let mut dn = Dn::default();
        for rdn in rdns.iter().rev() {
            if rdn.is_empty() {
                continue;
            }
            let mut out = Rdn::default();
            for attr in rdn.iter().rev() {
                let kind = ldap_short_name(&attr.oid)?;
                let value = attr.value.clone()?;
                out.attrs.push(TypeAndValue { kind: kind.to_string(), value });
            }
            dn.rdns.push(out);
        }
        Some(dn)
    }

    /// RFC 4517 distinguishedNameMatch: same RDNs in the same order.
    pub fn equal(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len() && self.rdns.iter().zip(&other.rdns).all(|(a, b)| a.equal(b))
    }

    /// The same RDNs in any order (`OU=CNCF,CN=example.com` matches
    /// `CN=example.com,OU=CNCF`).
    pub fn rdns_match(&self, other: &Dn) -> bool {
        if self.rdns.len() != other.rdns.len() {
            return false;
        }
        let mut used = vec![false; other.rdns.len()];
        self.rdns.iter().all(|mine| {
            let found = other.rdns.iter().enumerate().position(|(j, theirs)| !used[j] && mine.equal(theirs));
            match found {
                Some(j) => {
                    used[j] = true;
                    true
                }
                None => false,
            }
        })
    }
}

impl Rdn {
    /// Same pairs in any order; types compare case-insensitively, values exactly.
    pub fn equal(&self, other: &Rdn) -> bool {
        self.attrs.len() == other.attrs.len() && self.has_all(&other.attrs) && other.has_all(&self.attrs)
    }

    fn has_all(&self, attrs: &[TypeAndValue]) -> bool {
        attrs.iter().all(|a| self.attrs.iter().any(|m| m.kind.eq_ignore_ascii_case(&a.kind) && m.value == a.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::goname::{OID_CN, OID_OU};

    fn tv(k: &str, v: &str) -> TypeAndValue {
        TypeAndValue { kind: k.into(), value: v.into() }
    }

    #[test]
    fn parses_rfc4514() {
        let dn = Dn::parse("CN=example.com, OU=CNCF").unwrap();
        assert_eq!(dn.rdns.len(), 2);
        assert_eq!(dn.rdns[0].attrs, vec![tv("CN", "example.com")]);
        assert_eq!(dn.rdns[1].attrs, vec![tv("OU", "CNCF")]);
    }

    #[test]
    fn multi_valued_and_escapes() {
        let dn = Dn::parse(r"OU=a+OU=b,CN=x\,y\2Cz\ ,O=  trail  ").unwrap();
        assert_eq!(dn.rdns[0].attrs, vec![tv("OU", "a"), tv("OU", "b")]);
        assert_eq!(dn.rdns[1].attrs, vec![tv("CN", "x,y,z ")]);
        assert_eq!(dn.rdns[2].attrs, vec![tv("O", "trail")]);
    }

    #[test]
    fn errors_as_ldap() {
        assert_eq!(Dn::parse("CN=#0403"), Err(DnError::BerValue));
        assert_eq!(Dn::parse("novalue,CN=x"), Err(DnError::IncompletePair));
        assert_eq!(Dn::parse("CN=x,tail"), Err(DnError::IncompleteAtEnd));
        assert_eq!(Dn::parse(r"CN=x\a"), Err(DnError::CorruptEscape));
        // A lone trailing backslash is dropped, as ldap does.
        assert_eq!(Dn::parse(r"CN=x\").unwrap().rdns[0].attrs, vec![tv("CN", "x")]);
        assert_eq!(Dn::parse(r"CN=x\zz"), Err(DnError::BadHexEscape));
        // A plain user name has no type: not a DN.
        assert!(Dn::parse("alice").is_err());
        // ldap's quirk: an empty value at the very end is dropped.
        assert_eq!(Dn::parse("CN=").unwrap().rdns.len(), 0);
    }

    #[test]
    fn equal_and_reordered() {
        let a = Dn::parse("CN=example.com,OU=CNCF").unwrap();
        let b = Dn::parse("cn=example.com,ou=CNCF").unwrap();
        let c = Dn::parse("OU=CNCF,CN=example.com").unwrap();
        let d = Dn::parse("CN=Example.com,OU=CNCF").unwrap();
        assert!(a.equal(&b), "types compare case-insensitively");
        assert!(!a.equal(&c) && a.rdns_match(&c));
        assert!(!a.equal(&d) && !a.rdns_match(&d), "values compare exactly");
        let dup = Dn::parse("OU=CNCF,OU=CNCF").unwrap();
        assert!(!dup.rdns_match(&c), "each RDN matches once");
    }

    #[test]
    fn from_subject_reverses_and_refuses_unknown_types() {
        let attr = |oid: &str, v: &str| Attr { oid: oid.into(), value: Some(v.into()) };
        let subject = vec![vec![attr(OID_OU, "CNCF")], vec![attr(OID_CN, "example.com")]];
        let dn = Dn::from_subject(&subject).unwrap();
        assert!(dn.equal(&Dn::parse("CN=example.com,OU=CNCF").unwrap()));
        let with_email = vec![vec![attr("1.2.840.113549.1.9.1", "a@b")], vec![attr(OID_CN, "x")]];
        assert!(Dn::from_subject(&with_email).is_none());
        let dc = vec![vec![attr(OID_DC, "org")], vec![attr(OID_CN, "x")]];
        assert!(Dn::from_subject(&dc).unwrap().equal(&Dn::parse("CN=x,DC=org").unwrap()));
    }
}
