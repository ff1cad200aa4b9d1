//! Accounts and what comes with them: limits, exports, imports, subject
//! mappings, and the `resolver` that serves account JWTs.

use super::*;
use crate::conf::accounts::{self, ImportSource};
use crate::conf::context::Val;
use crate::conf::tree::Kind;

/// One account of `accounts { NAME { ... } }`.
pub static ACCOUNT: Block<AccountOptions> = block(
    "account",
    &[
        key("nkey", Ty::Custom(&ACCOUNT_NKEY_TY), Yes).set(|_, e, _, a| a.nkey = raw_str(&e.value)),
        key("users", Ty::Blocks(&USER), Yes).set(|b, _, v, a| {
            if let Val::Items(items) = v {
                a.users = b.blocks(&USER, items);
            }
        }),
        key("imports", Ty::Blocks(&IMPORT), Yes).set(|b, _, v, a| {
            if let Val::Items(items) = v {
                a.imports = b.blocks(&IMPORT, items);
            }
        }),
        key("exports", Ty::Blocks(&EXPORT), Yes).set(|b, _, v, a| {
            if let Val::Items(items) = v {
                a.exports = b.blocks(&EXPORT, items);
            }
        }),
        key("jetstream", Ty::Custom(&ACCOUNT_JETSTREAM_TY), Yes)
            .feature(Feature::JetStream)
            .set(|_, e, _, a| a.jetstream = accounts::jetstream_enabled(&e.value)),
        key("default_permissions", Ty::Block(&PERMISSIONS), Yes).set(|b, _, v, a| {
            if let Val::Map(m) = v {
                let mut p = Permissions::default();
                b.block(&PERMISSIONS, m, &mut p);
                a.default_permissions = Some(p);
            }
        }),
        key("mappings", Ty::MapOf(&Ty::Custom(&MAPPING_TY)), Yes).alias(&["maps"]).set(|b, _, v, a| {
            if let Val::Map(m) = v {
                a.mappings = accounts::mappings(b, m);
            }
        }),
        key("limits", Ty::Block(&ACCOUNT_LIMITS), Yes).set(|b, _, v, a| {
            if let Val::Map(m) = v {
                b.block(&ACCOUNT_LIMITS, m, &mut a.limits);
            }
        }),
        key("msg_trace", Ty::Custom(&ANY_TY), Yes).alias(&["trace_dest"]),
    ],
);

/// The string of a value a custom type has checked.
fn raw_str(v: &crate::conf::tree::Value) -> Option<String> {
    match &v.kind {
        Kind::Str(s) => Some(s.clone()),
        _ => None,
    }
}

pub(super) static ACCOUNT_LIMITS: Block<AccountLimits> = Block {
    unknown: Unknown::Error,
    ..block(
        "limits",
        &[
            key("max_connections", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes)
                .alias(&["max_conn"])
                .set(|_, _, v, l| l.max_connections = accounts::limit(v.int())),
            key("max_subscriptions", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes)
                .alias(&["max_subs"])
                .set(|_, _, v, l| l.max_subscriptions = accounts::limit(v.int())),
            key("max_payload", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes)
                .alias(&["max_pay"])
                .set(|_, _, v, l| l.max_payload = accounts::limit(v.int())),
            key("max_leafnodes", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes)
                .alias(&["max_leafs"])
                .set(|_, _, v, l| l.max_leafnodes = accounts::limit(v.int())),
        ],
    )
};

pub static EXPORT: Block<Export> = Block {
    rules: Some(accounts::export_rules),
    ..block(
        "exports",
        &[
            key("stream", Ty::Str, Yes).set(|_, _, v, x| {
                if let Some(s) = v.into_str() {
                    x.kind = ExportKind::Stream;
                    x.subject = s;
                }
            }),
            key("service", Ty::Str, Yes).set(|_, _, v, x| {
                if let Some(s) = v.into_str() {
                    x.kind = ExportKind::Service;
                    x.subject = s;
                }
            }),
            key("response_type", Ty::Custom(&RESPONSE_TYPE_TY), Yes)
                .alias(&["response"])
                .set(|_, e, _, x| x.response_type = accounts::response_type(&e.value)),
            key("threshold", Ty::Custom(&THRESHOLD_TY), Yes)
                .alias(&["response_threshold", "response_max_time", "response_time"])
                .set(|_, e, _, x| {
                    if let Some(d) = raw_str(&e.value).and_then(|s| crate::gotext::parse_go_duration(&s).ok()) {
                        x.response_threshold = d;
                    }
                }),
            key("accounts", Ty::StrArray, Yes).set(|_, _, v, x| x.accounts = Some(v.into_strs())),
            key("latency", Ty::Custom(&ANY_TY), Yes).set(|b, e, _, x| x.latency = accounts::latency(b, &e.value)),
            key("account_token_position", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes)
                .set(|_, _, v, x| x.account_token_position = v.int().and_then(|n| u32::try_from(n).ok())),
            key("allow_trace", Ty::Bool, Yes).set(|_, _, v, x| v.set_bool(&mut x.allow_trace)),
        ],
    )
};

pub static IMPORT: Block<Import> = Block {
    rules: Some(accounts::import_rules),
    ..block(
        "imports",
        &[
            key("stream", Ty::Block(&IMPORT_SOURCE), Yes).set(|b, e, v, i| {
                if let Val::Map(m) = v {
                    let mut src = ImportSource::default();
                    b.block(&IMPORT_SOURCE, m, &mut src);
                    accounts::import_source(b, e, src, ExportKind::Stream, i);
                }
            }),
            key("service", Ty::Block(&IMPORT_SOURCE), Yes).set(|b, e, v, i| {
                if let Val::Map(m) = v {
                    let mut src = ImportSource::default();
                    b.block(&IMPORT_SOURCE, m, &mut src);
                    accounts::import_source(b, e, src, ExportKind::Service, i);
                }
            }),
            key("prefix", Ty::Str, Yes).set(|_, _, v, i| i.prefix = v.into_str()),
            key("to", Ty::Str, Yes).set(|_, _, v, i| i.to = v.into_str()),
            key("share", Ty::Bool, Yes).set(|_, _, v, i| v.set_bool(&mut i.share)),
            key("allow_trace", Ty::Bool, Yes).set(|_, _, v, i| v.set_bool(&mut i.allow_trace)),
        ],
    )
};

pub(super) static IMPORT_SOURCE: Block<ImportSource> = block(
    "source",
    &[
        key("account", Ty::Str, Yes).set(|_, _, v, s| s.account = v.into_str()),
        key("subject", Ty::Str, Yes).set(|_, _, v, s| s.subject = v.into_str()),
    ],
);

pub(super) static MAPPING_DEST: Block<()> = Block {
    unknown: Unknown::Error,
    ..block(
        "mapping destination",
        &[
            key("destination", Ty::Str, Yes).alias(&["dest"]),
            key("weight", Ty::Custom(&WEIGHT_TY), Yes),
            key("cluster", Ty::Str, Yes),
        ],
    )
};

pub(super) static RESOLVER: Block<()> = Block {
    unknown: Unknown::Note,
    case_sensitive: true,
    ..block(
        "resolver",
        &[
            key("type", Ty::Str, Restart),
            key("dir", Ty::Str, Restart),
            key("allow_delete", Ty::Bool, Yes),
            key("hard_delete", Ty::Bool, Yes),
            key("limit", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
            key("ttl", Ty::DurationStr, Yes),
            key("interval", Ty::DurationStr, Yes),
            key("timeout", Ty::DurationStr, Yes),
        ],
    )
};

custom!(
    ACCOUNTS_TY,
    "map of accounts, or array of names",
    r#"{"type": ["object", "array"]}"#,
    |b, k, v| values::accounts(b, k, v, &ACCOUNT),
    Inner::Named(&ACCOUNT)
);

custom!(THRESHOLD_TY, "duration string", r#"{"type": "string"}"#, |b, _, v| crate::conf::accounts::threshold(b, v)
    .is_some());

custom!(
    MAPPING_TY,
    "subject, or destinations",
    r#"{"type": ["string", "object", "array"]}"#,
    |b, k, v| values::mapping(b, k, v, &MAPPING_DEST),
    Inner::Block(&MAPPING_DEST)
);

custom!(
    RESOLVER_TY,
    "`MEMORY`, `URL(url)` or {type, dir, ...}",
    r#"{"type": ["string", "object"]}"#,
    |b, k, v| values::resolver(b, k, v, &RESOLVER),
    Inner::Block(&RESOLVER)
);
