//! Setters with rules of their own, for keys of the table whose value needs
//! more than its type check: PEM files that must exist, TLS cipher and curve
//! names, `handshake_first`, and subject permissions.

use super::context::{Builder, Val};
use super::diag::{suggest, Diagnostic};
use super::keys::{Block, Ty};
use super::tree::{Entry, Kind};
use crate::gotext::parse_go_duration;
use crate::options::{SubjectPermission, Tls, DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK};
use crate::subject::is_valid_subject;

/// A public nkey of the given role (`U` user, `A` account, `O` operator) that decodes.
pub fn valid_nkey(key: &str, role: char) -> bool {
    key.starts_with(role) && nkeys::KeyPair::from_public_key(key).is_ok()
}

/// A PEM file that must exist (relative to the working directory, as in
/// nats-server) and contain a block of the given kind.
pub fn pem_file(b: &mut Builder, e: &Entry, v: Val<'_>, kind: &str) -> Option<String> {
    let path = v.into_str()?;
    match std::fs::read_to_string(&path) {
        Ok(text) if text.contains("-----BEGIN") && text.contains(kind) => {}
        Ok(_) => b.error("file", e.value.span, format!("`{path}` holds no PEM {kind}")),
        Err(err) => b.diags.push(
            Diagnostic::error("file", Some(e.value.span), format!("cannot read `{path}`: {err}"))
                .with_help("file paths in values are relative to the working directory, not to the config file"),
        ),
    }
    Some(path)
}

/// Whether the `tls` block at `path` is one rnats serves with (client port,
/// routes): those are compiled in full by the `validate` rules, the others
/// only shape-checked.
pub fn served_tls_block(path: &str) -> bool {
    path.is_empty() || path == "tls" || path == "cluster.tls" || path == "websocket.tls"
}

/// Go's `tls.CipherSuites()` names.
pub const SECURE_CIPHERS: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
];
/// Go's `tls.InsecureCipherSuites()` names (need `allow_insecure_cipher_suites`).
pub const INSECURE_CIPHERS: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];
const CURVES: &[&str] = &["CurveP256", "CurveP384", "CurveP521", "X25519", "X25519MLKEM768"];

pub fn cipher_suites(b: &mut Builder, e: &Entry, v: Val<'_>) -> Vec<String> {
    let list = v.into_strs();
    if list.is_empty() {
        b.error("tls", e.key_span, format!("`{}.cipher_suites` cannot be empty", b.path_parent()));
    }
    // Blocks rnats serves with are compiled in full by `validate::tls`.
    if served_tls_block(&b.path_parent()) {
        return list;
    }
    for c in &list {
        if !SECURE_CIPHERS.contains(&c.as_str()) && !INSECURE_CIPHERS.contains(&c.as_str()) {
            let mut d = Diagnostic::error("tls", Some(e.value.span), format!("unrecognized cipher `{c}`"));
            if let Some(s) = suggest(c, SECURE_CIPHERS.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            b.diags.push(d);
        }
    }
    list
}

pub fn curves(b: &mut Builder, e: &Entry, v: Val<'_>) -> Vec<String> {
    let list = v.into_strs();
    if list.is_empty() {
        b.error("tls", e.key_span, format!("`{}.curve_preferences` cannot be empty", b.path_parent()));
    }
    if served_tls_block(&b.path_parent()) {
        return list;
    }
    for c in &list {
        if !CURVES.contains(&c.as_str()) {
            b.diags.push(
                Diagnostic::error("tls", Some(e.value.span), format!("unrecognized curve preference `{c}`"))
                    .with_help(format!("known curves: {}", CURVES.join(", "))),
            );
        }
    }
    list
}

/// `handshake_first`: a boolean, or `auto`/`auto_fallback`/a delay (kept as written).
pub fn handshake_first(b: &mut Builder, e: &Entry, v: Val<'_>, t: &mut Tls) {
    match (v, &e.value.kind) {
        // A custom type hands over the raw value: `true` arrives as a
        // `Kind::Bool`, never as a `Val::Bool` (and was dropped while only
        // the latter was matched).
        (Val::Bool(on), _) | (_, &Kind::Bool(on)) => t.set_handshake_first(on, None),
        (_, Kind::Str(s)) => {
            // `auto` (or `auto_fallback`): TLS first, with nats-server's 50ms
            // fallback to INFO for clients that wait for it; a duration: that
            // fallback delay.
            let fallback = match s.to_ascii_lowercase().as_str() {
                "auto" | "auto_fallback" => Some(DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK),
                _ => match parse_go_duration(s) {
                    Ok(d) => Some(d),
                    Err(msg) => {
                        b.error("duration", e.value.span, msg);
                        None
                    }
                },
            };
            t.set_handshake_first(true, fallback);
        }
        _ => {}
    }
}

/// `publish`/`subscribe`: a subject, a list, or `{allow, deny}`; subjects are
/// checked, and `"subject queue"` is allowed for subscribe only.
pub fn subject_permission(
    b: &mut Builder,
    e: &Entry,
    _: Val<'_>,
    queue_allowed: bool,
    block: &'static Block<SubjectPermission>,
) -> Option<SubjectPermission> {
    let mut sp = SubjectPermission::default();
    match &e.value.kind {
        Kind::Map(m) => b.block(block, m, &mut sp),
        _ => sp.allow = b.check(&Ty::Strings, e, false)?.into_strs(),
    }
    let lists = [&sp.allow, &sp.deny];
    let mut ok = true;
    for s in lists.into_iter().flatten() {
        let mut parts = s.split(' ').filter(|p| !p.is_empty());
        let subject = parts.next().unwrap_or("");
        let queue = parts.next();
        let extra = parts.next();
        if !(is_valid_subject(subject.as_bytes()) && extra.is_none() && (queue.is_none() || queue_allowed)) {
            let mut d =
                Diagnostic::error("subject", Some(e.value.span), format!("invalid subject `{s}` in `{}`", e.key));
            if queue.is_some() && !queue_allowed {
                d = d.with_help("only subscribe permissions take a queue group (`\"subject queue\"`)");
            }
            b.diags.push(d);
            ok = false;
        }
    }
    ok.then_some(sp)
}
