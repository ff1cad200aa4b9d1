//! A certificate subject written the way Go writes it.
//!
//! nats-server matches `verify_and_map` users against Go's
//! `Name.ToRDNSequence().String()`, logs and reports (`/connz`) subjects as
//! `Name.String()`, and appends the domain components separately. Those
//! strings are what users put in their configs, so they are reproduced
//! exactly here: Go's fixed attribute order (not the certificate's), its
//! multi-valued RDNs for repeated attributes, its short names and escaping.

use x509_parser::asn1_rs::Tag;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// One attribute of a subject, in certificate order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Dotted OID (`2.5.4.3`).
    pub oid: String,
    /// The value, when it is one of the string types Go decodes.
    pub value: Option<String>,
}

pub const OID_CN: &str = "2.5.4.3";
pub const OID_SERIALNUMBER: &str = "2.5.4.5";
pub const OID_C: &str = "2.5.4.6";
pub const OID_L: &str = "2.5.4.7";
pub const OID_ST: &str = "2.5.4.8";
pub const OID_STREET: &str = "2.5.4.9";
pub const OID_O: &str = "2.5.4.10";
pub const OID_OU: &str = "2.5.4.11";
pub const OID_POSTALCODE: &str = "2.5.4.17";
pub const OID_DC: &str = "0.9.2342.19200300.100.1.25";

/// Go's `crypto/x509/pkix` short names (no `DC`: Go writes it as an OID).
pub(super) fn pkix_short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        OID_CN => "CN",
        OID_SERIALNUMBER => "SERIALNUMBER",
        OID_C => "C",
        OID_L => "L",
        OID_ST => "ST",
        OID_STREET => "STREET",
        OID_O => "O",
        OID_OU => "OU",
        OID_POSTALCODE => "POSTALCODE",
        _ => return None,
    })
}

/// The RDNs of a name, each a list of attributes, in certificate order.
pub fn rdns(name: &X509Name<'_>) -> Vec<Vec<Attr>> {
    name.iter_rdn()
        .map(|rdn| rdn.iter().map(|atv| Attr { oid: atv.attr_type().to_id_string(), value: decode(atv) }).collect())
        .collect()
}

/// The string types Go's `asn1` decodes into a Go string.
fn decode(atv: &AttributeTypeAndValue<'_>) -> Option<String> {
    let any = atv.attr_value();
    let data = any.data;
    match any.tag() {
        Tag::PrintableString | Tag::NumericString | Tag::Ia5String | Tag::Utf8String => {
            std::str::from_utf8(data).ok().map(str::to_string)
        }
        // Go copies T61 bytes into a string unchanged.
        Tag::T61String => Some(String::from_utf8_lossy(data).into_owned()),
        Tag::BmpString => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = data.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Go's `pkix.Name` as filled from a certificate: the well-known attributes
/// in fields (repeated ones collected, `CN` and `SERIALNUMBER` last-wins).
#[derive(Default)]
struct GoName {
    country: Vec<String>,
    province: Vec<String>,
    locality: Vec<String>,
    street: Vec<String>,
    postal_code: Vec<String>,
    organization: Vec<String>,
    organizational_unit: Vec<String>,
    common_name: String,
    serial_number: String,
}

impl GoName {
    fn fill(rdns: &[Vec<Attr>]) -> GoName {
        let mut n = GoName::default();
        for attr in rdns.iter().flatten() {
            let Some(v) = attr.value.clone() else { continue };
            match attr.oid.as_str() {
                OID_CN => n.common_name = v,
                OID_SERIALNUMBER => n.serial_number = v,
                OID_C => n.country.push(v),
                OID_L => n.locality.push(v),
                OID_ST => n.province.push(v),
                OID_STREET => n.street.push(v),
                OID_O => n.organization.push(v),
                OID_OU => n.organizational_unit.push(v),
                OID_POSTALCODE => n.postal_code.push(v),
                _ => {}
            }
        }
        n
    }

    /// Go's `Name.ToRDNSequence`: one RDN per attribute type, in Go's order.
    fn to_rdn_sequence(&self) -> Vec<Vec<(String, String)>> {
        let mut out = Vec::new();
        let mut push = |values: &[String], oid: &str| {
            if !values.is_empty() {
                out.push(values.iter().map(|v| (oid.to_string(), v.clone())).collect());
            }
        };
        push(&self.country, OID_C);
        push(&self.province, OID_ST);
        push(&self.locality, OID_L);
        push(&self.street, OID_STREET);
        push(&self.postal_code, OID_POSTALCODE);
        push(&self.organization, OID_O);
        push(&self.organizational_unit, OID_OU);
        if !self.common_name.is_empty() {
            push(std::slice::from_ref(&self.common_name), OID_CN);
        }
        if !self.serial_number.is_empty() {
            push(std::slice::from_ref(&self.serial_number), OID_SERIALNUMBER);
        }
        out
    }
}

/// Go's `cert.Subject.ToRDNSequence().String()`: what `verify_and_map`
/// matches user names against (`CN=example.com,OU=CNCF`).
pub fn rdn_sequence_string(rdns: &[Vec<Attr>]) -> String {
    sequence_string(&GoName::fill(rdns).to_rdn_sequence())
}

/// Go's `cert.Subject.String()`: as [`rdn_sequence_string`], followed by the
/// other attributes (e-mail, DC, UID, ...) as `OID=value`, last first. Used in log lines
/// and `/connz` `tls_peer_certs`.
pub fn name_string(rdns: &[Vec<Attr>]) -> String {
    let mut seq: Vec<Vec<(String, String)>> = Vec::new();
    for attr in rdns.iter().flatten() {
        if pkix_short_name(&attr.oid).is_some() {
            continue;
        }
        // Go keeps the value; a non-string one never gets this far (Go
        // refuses such certificates), so it is shown empty.
        seq.push(vec![(attr.oid.clone(), attr.value.clone().unwrap_or_default())]);
    }
    seq.extend(GoName::fill(rdns).to_rdn_sequence());
    sequence_string(&seq)
}

/// nats-server's `getTLSAuthDCs`: `DC=a,DC=b` in certificate order.
pub fn domain_components(rdns: &[Vec<Attr>]) -> String {
    rdns.iter()
        .flatten()
        .filter(|a| a.oid == OID_DC)
        .filter_map(|a| a.value.as_ref().map(|v| format!("DC={v}")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's `RDNSequence.String()`: last RDN first, `+` inside an RDN.
fn sequence_string(seq: &[Vec<(String, String)>]) -> String {
    let mut out = String::new();
    for (i, rdn) in seq.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, (oid, value)) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            match pkix_short_name(oid) {
                Some(short) => {
                    out.push_str(short);
                    out.push('=');
                    escape_into(value, &mut out);
                }
                // Other attributes by OID, their string value escaped as
                // usual (observed from nats-server 2.15.1).
                None => {
                    out.push_str(oid);
                    out.push('=');
                    escape_into(value, &mut out);
                }
            }
        }
    }
    out
}

/// Go's escaping in `RDNSequence.String()`.
fn escape_into(value: &str, out: &mut String) {
    let last = value.len().saturating_sub(1);
    for (k, c) in value.char_indices() {
        let escape = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k == last,
            '#' => k == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(oid: &str, v: &str) -> Vec<Attr> {
        vec![Attr { oid: oid.into(), value: Some(v.into()) }]
    }

    #[test]
    fn go_order_not_certificate_order() {
        // Certificate order OU then CN, as `openssl -subj /OU=CNCF/CN=example.com`.
        let rdns = vec![a(OID_OU, "CNCF"), a(OID_CN, "example.com")];
        assert_eq!(rdn_sequence_string(&rdns), "CN=example.com,OU=CNCF");
        // CN first in the certificate: Go still writes CN first.
        let rdns = vec![a(OID_CN, "example.com"), a(OID_OU, "CNCF")];
        assert_eq!(rdn_sequence_string(&rdns), "CN=example.com,OU=CNCF");
    }

    #[test]
    fn full_subject_in_go_order() {
        let rdns = vec![
            a(OID_C, "US"),
            a(OID_ST, "California"),
            a(OID_O, "Synadia"),
            a(OID_OU, "nats.io"),
            a(OID_CN, "localhost"),
        ];
        assert_eq!(rdn_sequence_string(&rdns), "CN=localhost,OU=nats.io,O=Synadia,ST=California,C=US");
    }

    #[test]
    fn repeated_attributes_share_one_rdn() {
        let rdns = vec![a(OID_OU, "a"), a(OID_OU, "b"), a(OID_CN, "x")];
        assert_eq!(rdn_sequence_string(&rdns), "CN=x,OU=a+OU=b");
    }

    #[test]
    fn escaping_as_go() {
        let rdns = vec![a(OID_CN, " a,b+c#\"d\\ "), a(OID_O, "#x")];
        assert_eq!(rdn_sequence_string(&rdns), "CN=\\ a\\,b\\+c#\\\"d\\\\\\ ,O=\\#x");
    }

    #[test]
    fn other_attributes_follow_by_oid_in_name_string_only() {
        let rdns = vec![a(OID_DC, "org"), a(OID_DC, "example"), a("1.2.840.113549.1.9.1", "a@b.c"), a(OID_CN, "x")];
        assert_eq!(rdn_sequence_string(&rdns), "CN=x");
        assert_eq!(
            name_string(&rdns),
            "CN=x,1.2.840.113549.1.9.1=a@b.c,0.9.2342.19200300.100.1.25=example,0.9.2342.19200300.100.1.25=org"
        );
        assert_eq!(domain_components(&rdns), "DC=org,DC=example");
    }
}
