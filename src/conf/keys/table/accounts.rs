//! Accounts and what comes with them: limits, exports, imports, subject
//! mappings, and the `resolver` that serves account JWTs.

use super::*;

/// One account of `accounts { NAME { ... } }`.
pub static ACCOUNT: Block<()> = block(
    "account",
    &[
        key("nkey", Ty::Custom(&ACCOUNT_NKEY_TY), Yes),
        key("users", Ty::Blocks(&USER), Yes),
        key("imports", Ty::Blocks(&IMPORT), Yes),
        key("exports", Ty::Blocks(&EXPORT), Yes),
        key("jetstream", Ty::Custom(&ACCOUNT_JETSTREAM_TY), Yes),
        key("default_permissions", Ty::Block(&PERMISSIONS), Yes),
        key("mappings", Ty::MapOf(&Ty::Custom(&MAPPING_TY)), Yes).alias(&["maps"]),
        key("limits", Ty::Block(&ACCOUNT_LIMITS), Yes),
        key("msg_trace", Ty::Custom(&ANY_TY), Yes).alias(&["trace_dest"]),
    ],
);

pub(super) static ACCOUNT_LIMITS: Block<()> = Block {
    unknown: Unknown::Error,
    ..block(
        "limits",
        &[
            key("max_connections", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["max_conn"]),
            key("max_subscriptions", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["max_subs"]),
            key("max_payload", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["max_pay"]),
            key("max_leafnodes", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes).alias(&["max_leafs"]),
        ],
    )
};

pub static EXPORT: Block<()> = block(
    "exports",
    &[
        key("stream", Ty::Str, Yes),
        key("service", Ty::Str, Yes),
        key("response_type", Ty::Custom(&RESPONSE_TYPE_TY), Yes).alias(&["response"]),
        key("threshold", Ty::Custom(&NUMBER_OR_DURATION_TY), Yes).alias(&[
            "response_threshold",
            "response_max_time",
            "response_time",
        ]),
        key("accounts", Ty::StrArray, Yes),
        key("latency", Ty::Custom(&ANY_TY), Yes),
        key("account_token_position", Ty::Int { min: i64::MIN, max: i64::MAX }, Yes),
        key("allow_trace", Ty::Bool, Yes),
    ],
);

pub static IMPORT: Block<()> = block(
    "imports",
    &[
        key("stream", Ty::Block(&IMPORT_SOURCE), Yes),
        key("service", Ty::Block(&IMPORT_SOURCE), Yes),
        key("prefix", Ty::Str, Yes),
        key("to", Ty::Str, Yes),
        key("share", Ty::Bool, Yes),
        key("allow_trace", Ty::Bool, Yes),
    ],
);

pub(super) static IMPORT_SOURCE: Block<()> =
    block("source", &[key("account", Ty::Str, Yes), key("subject", Ty::Str, Yes)]);

pub(super) static MAPPING_DEST: Block<()> = block(
    "mapping destination",
    &[
        key("destination", Ty::Str, Yes).alias(&["dest"]),
        key("weight", Ty::Custom(&WEIGHT_TY), Yes),
        key("cluster", Ty::Str, Yes),
    ],
);

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
