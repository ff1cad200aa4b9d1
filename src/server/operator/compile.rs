//! Account and user claims into the config's own types, so a JWT account
//! compiles into the same `AccountConfig` as a config account and a JWT
//! user's permissions into the same `CompiledPermissions` as a config
//! user's: the message path never knows where either came from.

use std::time::Duration;

use jiff::Timestamp;

use crate::options::{
    AccountLimits, AccountOptions, Export as ConfExport, ExportKind, Import as ConfImport, MappingDestination,
    MappingOptions, Permissions as ConfPermissions, ResponsePermission as ConfResponse, ResponseType,
    SubjectPermission, DEFAULT_RESPONSE_THRESHOLD,
};
use crate::server::jwt::{
    decode_activation, AccountClaims, Claim, ExportType, NatsLimits, Permission, Permissions, RESPONSE_TYPE_CHUNKED,
    RESPONSE_TYPE_STREAM,
};
use crate::subject::is_subset_match;

/// nats-server's defaults for a response permission without values.
const DEFAULT_RESPONSE_MAX: i64 = 1;
const DEFAULT_RESPONSE_TTL: Duration = Duration::from_secs(120);

/// A limit of the claims (`-1`: none; nats-server treats 0 as "none allowed"
/// only for some, and as unset in the config; both read as no limit here
/// except where the claim says a real number).
fn limit(n: i64) -> Option<u64> {
    u64::try_from(n).ok()
}

/// `buildInternalNkeyUser`'s permissions: `None` when the claims set none.
pub fn permissions(p: &Permissions) -> Option<ConfPermissions> {
    let side = |p: &Permission| {
        (!p.allow.is_empty() || !p.deny.is_empty())
            .then(|| SubjectPermission { allow: p.allow.clone(), deny: p.deny.clone() })
    };
    let publish = side(&p.publish);
    let subscribe = side(&p.subscribe);
    let allow_responses = p.response.as_ref().map(|r| ConfResponse {
        max: if r.max_msgs == 0 { DEFAULT_RESPONSE_MAX } else { r.max_msgs },
        expires: match u64::try_from(r.ttl_nanos) {
            Ok(0) | Err(_) => DEFAULT_RESPONSE_TTL,
            Ok(ns) => Duration::from_nanos(ns),
        },
    });
    if publish.is_none() && subscribe.is_none() && allow_responses.is_none() {
        return None;
    }
    Some(ConfPermissions { publish, subscribe, allow_responses })
}

/// The user limits that narrow a connection's (`-1` or 0: none).
pub fn user_limits(l: &NatsLimits) -> (Option<u64>, Option<u64>) {
    let positive = |n: i64| u64::try_from(n).ok().filter(|n| *n > 0);
    (positive(l.subs), positive(l.payload))
}

/// An account's claims as a config account block, named by its public key.
/// `exporter` finds another account's claims (imports need the exporter's
/// exports and, for private ones, an activation token it issued).
pub fn account_options(
    claims: &AccountClaims,
    exporter: &dyn Fn(&str) -> Option<AccountClaims>,
    now: Timestamp,
) -> AccountOptions {
    let n = &claims.nats;
    AccountOptions {
        name: claims.data.subject.clone(),
        nkey: Some(claims.data.subject.clone()),
        users: Vec::new(),
        default_permissions: permissions(&n.default_permissions),
        limits: AccountLimits {
            max_connections: limit(n.limits.account.conn),
            max_subscriptions: limit(n.limits.nats.subs),
            max_payload: limit(n.limits.nats.payload),
            max_leafnodes: limit(n.limits.account.leaf_node_conn),
        },
        exports: n.exports.iter().map(export).collect(),
        imports: n.imports.iter().filter_map(|i| import(claims, i, exporter, now)).collect(),
        mappings: n
            .mappings
            .iter()
            .map(|(source, dests)| MappingOptions {
                source: source.clone(),
                destinations: dests
                    .iter()
                    .map(|d| MappingDestination {
                        subject: d.subject.clone(),
                        weight: d.weight(),
                        cluster: (!d.cluster.is_empty()).then(|| d.cluster.clone()),
                    })
                    .collect(),
            })
            .collect(),
        jetstream: false,
    }
}

fn kind(t: ExportType) -> ExportKind {
    match t {
        ExportType::Service => ExportKind::Service,
        _ => ExportKind::Stream,
    }
}

fn export(e: &crate::server::jwt::Export) -> ConfExport {
    let mut out = ConfExport::new(kind(e.export_type), &e.subject);
    // Private exports are checked against activation tokens when the
    // importer is compiled (see `import`), so the compiled form is public.
    out.response_type = match e.response_type.as_str() {
        RESPONSE_TYPE_STREAM => ResponseType::Stream,
        RESPONSE_TYPE_CHUNKED => ResponseType::Chunked,
        _ => ResponseType::Single,
    };
    out.response_threshold = match u64::try_from(e.response_threshold) {
        Ok(ns) if ns > 0 => Duration::from_nanos(ns),
        _ => DEFAULT_RESPONSE_THRESHOLD,
    };
    out.account_token_position = u32::try_from(e.account_token_position).ok().filter(|p| *p > 0);
    out.allow_trace = e.allow_trace;
    out
}

/// One import, if the exporter exports it to this account: a public export,
/// or a private one with a valid activation token for this account.
fn import(
    importer: &AccountClaims,
    i: &crate::server::jwt::Import,
    exporter: &dyn Fn(&str) -> Option<AccountClaims>,
    now: Timestamp,
) -> Option<ConfImport> {
    let from = exporter(&i.account)?;
    let wanted = kind(i.import_type);
    let export = from
        .nats
        .exports
        .iter()
        .find(|e| kind(e.export_type) == wanted && is_subset_match(i.subject.as_bytes(), e.subject.as_bytes()))?;
    if export.token_req && !activation_ok(importer, i, &from, export, now) {
        return None;
    }
    let local = (!i.local_subject.is_empty()).then(|| i.local_subject.clone());
    let (to, prefix) = match wanted {
        ExportKind::Service => (local.or_else(|| (!i.to.is_empty()).then(|| i.to.clone())), None),
        ExportKind::Stream => (local, (!i.to.is_empty()).then(|| i.to.clone())),
    };
    Some(ConfImport {
        kind: wanted,
        account: i.account.clone(),
        subject: i.subject.clone(),
        to,
        prefix,
        share: i.share,
        allow_trace: i.allow_trace,
    })
}

/// The import's activation token: issued by the exporter (or one of its
/// signing keys) to this account, for this subject, and valid now.
fn activation_ok(
    importer: &AccountClaims,
    i: &crate::server::jwt::Import,
    from: &AccountClaims,
    export: &crate::server::jwt::Export,
    now: Timestamp,
) -> bool {
    let Ok(act) = decode_activation(&i.token) else { return false };
    let issuer_ok = act.data.issuer == from.data.subject
        || (act.nats.issuer_account == from.data.subject && from.nats.signing_keys.contains(&act.data.issuer));
    issuer_ok
        && act.data.subject == importer.data.subject
        && !act.validate(now).is_blocking(true)
        && is_subset_match(i.subject.as_bytes(), act.nats.import_subject.as_bytes())
        && !export.revocations.is_revoked(&importer.data.subject, act.data.issued_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::jwt::{ActivationClaims, Export, Import, ResponsePermission};
    use nkeys::KeyPair;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    #[test]
    fn permissions_as_buildinternalnkeyuser_makes_them() {
        assert_eq!(permissions(&Permissions::default()), None);
        let mut p = Permissions::default();
        p.publish.allow = vec!["a.>".into()];
        p.response = Some(ResponsePermission { max_msgs: 0, ttl_nanos: 0 });
        let c = permissions(&p).unwrap();
        assert_eq!(c.publish.unwrap().allow, ["a.>"]);
        assert_eq!(c.subscribe, None);
        let r = c.allow_responses.unwrap();
        assert_eq!((r.max, r.expires), (1, Duration::from_secs(120)));
        let (subs, payload) = user_limits(&NatsLimits { subs: -1, data: -1, payload: 8 });
        assert_eq!((subs, payload), (None, Some(8)));
    }

    #[test]
    fn account_limits_mappings_and_imports() {
        let (operator, exporter, importer) = (KeyPair::new_operator(), KeyPair::new_account(), KeyPair::new_account());
        let mut from = AccountClaims::new(&exporter.public_key());
        let public = Export { subject: "pub.>".into(), export_type: ExportType::Stream, ..Export::default() };
        let private = Export {
            subject: "svc.>".into(),
            export_type: ExportType::Service,
            token_req: true,
            response_type: RESPONSE_TYPE_STREAM.into(),
            ..Export::default()
        };
        from.nats.exports = vec![public, private];
        from.encode_at(&operator, now().as_second() - 10).unwrap();

        let mut to = AccountClaims::new(&importer.public_key());
        to.nats.limits.nats.payload = 8;
        to.nats.limits.account.conn = -1;
        let import = |subject: &str, kind, token: String| Import {
            subject: subject.into(),
            account: exporter.public_key(),
            import_type: kind,
            token,
            ..Import::default()
        };
        let mut activation = ActivationClaims::new(&importer.public_key());
        activation.nats.import_subject = "svc.>".into();
        activation.nats.import_type = ExportType::Service;
        let token = activation.encode_at(&exporter, now().as_second() - 10).unwrap();
        to.nats.imports = vec![
            import("pub.x", ExportType::Stream, String::new()),
            import("svc.a", ExportType::Service, token),
            // A private export without a token is not imported.
            import("svc.b", ExportType::Service, String::new()),
        ];
        let found = |key: &str| (key == exporter.public_key()).then(|| from.clone());
        let a = account_options(&to, &found, now());
        assert_eq!(a.name, importer.public_key());
        assert_eq!(a.limits.max_payload, Some(8));
        assert_eq!(a.limits.max_connections, None);
        let imported: Vec<&str> = a.imports.iter().map(|i| i.subject.as_str()).collect();
        assert_eq!(imported, ["pub.x", "svc.a"]);
        let exports = account_options(&from, &|_| None, now()).exports;
        assert_eq!(exports[1].response_type, ResponseType::Stream);
        assert_eq!(exports[1].kind, ExportKind::Service);
    }
}
