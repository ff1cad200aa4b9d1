//! The `tls` block (the client port's, and every other listener's and
//! remote's), its certificate pairs, and `ocsp`.

use std::collections::BTreeMap;

use super::*;
use crate::conf::context::Val;
use crate::conf::tree::{Kind, Value};

pub(super) fn other_of_tls(t: &mut Tls) -> &mut BTreeMap<String, serde_json::Value> {
    &mut t.other
}

/// `tls { ... }`, wherever it appears (client port, routes, gateways, leaf
/// nodes, ...); built into [`Tls`].
pub static TLS: Block<Tls> = Block {
    unknown: Unknown::Error,
    other: Some(other_of_tls),
    rules: Some(validate::tls),
    ..block(
        "tls",
        &[
            key("cert_file", Ty::Str, Yes).set(|b, e, v, t| t.cert_file = setters::pem_file(b, e, v, "CERTIFICATE")),
            key("key_file", Ty::Str, Yes).set(|b, e, v, t| t.key_file = setters::pem_file(b, e, v, "PRIVATE KEY")),
            key("ca_file", Ty::Str, Yes).set(|b, e, v, t| t.ca_file = setters::pem_file(b, e, v, "CERTIFICATE")),
            key("verify", Ty::Bool, Yes).set(|_, _, v, t| v.set_bool(&mut t.verify)),
            key("verify_and_map", Ty::Bool, Yes).set(|_, _, v, t| v.set_bool(&mut t.verify_and_map)),
            key("insecure", Ty::Bool, Yes).set(|_, _, v, t| v.set_bool(&mut t.insecure)),
            key("timeout", Ty::Seconds, Yes).set(|_, _, v, t| v.set_dur(&mut t.timeout)),
            key("allow_insecure_cipher_suites", Ty::Bool, Yes)
                .set(|_, _, v, t| v.set_bool(&mut t.allow_insecure_cipher_suites)),
            key("cipher_suites", Ty::Strings, Yes).set(|b, e, v, t| t.cipher_suites = setters::cipher_suites(b, e, v)),
            key("curve_preferences", Ty::Strings, Yes).set(|b, e, v, t| t.curve_preferences = setters::curves(b, e, v)),
            key("pinned_certs", Ty::Strings, Yes).set(|_, _, v, t| t.pinned_certs = v.into_strs()),
            key("handshake_first", Ty::Custom(&HANDSHAKE_FIRST_TY), Yes)
                .alias(&["first", "immediate"])
                .set(setters::handshake_first),
            key("min_version", Ty::OneOf(&["1.2", "1.3"]), Yes).set(|_, _, v, t| t.min_version = v.into_str()),
            key("verify_cert_and_check_known_urls", Ty::Bool, Yes),
            key("connection_rate_limit", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
            key("cert_store", Ty::Str, Yes),
            key("cert_match_by", Ty::Str, Yes),
            key("cert_match", Ty::Str, Yes),
            key("ca_certs_match", Ty::Strings, Yes),
            key("cert_match_skip_invalid", Ty::Bool, Yes),
            key("ocsp_peer", Ty::Custom(&ANY_TY), Yes).feature(Feature::Ocsp),
            key("certs", Ty::Blocks(&TLS_CERT_PAIR), Yes).alias(&["certificates"]).set(|_, _, v, t| {
                if let Val::Items(items) = v {
                    t.certs = items.iter().filter_map(cert_pair).collect();
                }
            }),
        ],
    )
};

/// One `certs` entry: `{ cert_file, key_file }` (checked by the block rules).
pub(super) fn cert_pair(v: &Value) -> Option<TlsCertPair> {
    let Kind::Map(m) = &v.kind else { return None };
    let get = |k: &str| match m.find(&[k]).map(|e| &e.value.kind) {
        Some(Kind::Str(s)) => Some(s.clone()),
        _ => None,
    };
    Some(TlsCertPair { cert_file: get("cert_file")?, key_file: get("key_file")? })
}

pub(super) static TLS_CERT_PAIR: Block<()> = Block {
    unknown: Unknown::Error,
    ..block("certs", &[key("cert_file", Ty::Str, Yes), key("key_file", Ty::Str, Yes)])
};

pub(super) static OCSP: Block<()> = Block {
    unknown: Unknown::Error,
    case_sensitive: true,
    ..block(
        "ocsp",
        &[key("mode", Ty::Custom(&OCSP_MODE_TY), Yes), key("url", Ty::Str, Yes), key("urls", Ty::StrArray, Yes)],
    )
};

custom!(
    OCSP_TY,
    "boolean or {mode, url, urls}",
    r#"{"type": ["boolean", "object"]}"#,
    |b, k, v| values::ocsp(b, k, v, &OCSP),
    Inner::Block(&OCSP)
);
