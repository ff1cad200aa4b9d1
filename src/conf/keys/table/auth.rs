//! Who may connect and what they may do: `authorization`, users, their
//! permissions, the monitoring port's `http_auth` and `auth_callout`.

use std::time::Duration;

use super::*;
use crate::conf::context::Val;
use crate::conf::tree::Kind;

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission { max: 1, expires: Duration::ZERO }
    }
}

/// `http_auth { ... }` (rnats only).
pub static HTTP_AUTH: Block<HttpAuth> = Block {
    rules: Some(validate::http_auth),
    ..block(
        "http_auth",
        &[
            key("user", Ty::Str, RnatsOnly).alias(&["username"]).set(|_, _, v, a| a.user = v.into_str()),
            key("password", Ty::Str, RnatsOnly)
                .alias(&["pass"])
                .set(|_, _, v, a| a.password = v.into_str().map(Secret::from)),
            key("token", Ty::Str, RnatsOnly).set(|_, _, v, a| a.token = v.into_str().map(Secret::from)),
        ],
    )
};

pub static AUTHORIZATION: Block<Authorization> = Block {
    rules: Some(validate::authorization),
    ..block(
        "authorization",
        &[
            key("user", Ty::Str, Yes).alias(&["username"]).set(|_, _, v, a| a.user = v.into_str()),
            key("password", Ty::Str, Yes)
                .alias(&["pass"])
                .set(|_, _, v, a| a.password = v.into_str().map(Secret::from)),
            key("token", Ty::Str, Yes).set(|_, _, v, a| a.token = v.into_str().map(Secret::from)),
            key("timeout", Ty::Seconds, Yes).doc("seconds a client has to send CONNECT").set(|b, e, v, a| {
                if let Val::Dur(d) = v {
                    if d > Duration::from_secs(60) {
                        b.warning(
                            "value",
                            e.value.span,
                            format!(
                                "an authorization timeout of {} is high; keep it under 60 seconds",
                                format_duration(d)
                            ),
                            "an unquoted `1m` is one million seconds: write \"1m\"",
                        );
                    }
                    a.timeout = d;
                }
            }),
            key("users", Ty::Blocks(&USER), Yes).set(|b, _, v, a| {
                if let Val::Items(items) = v {
                    a.users = b.blocks(&USER, items);
                }
            }),
            key("default_permissions", Ty::Block(&PERMISSIONS), Yes).alias(&["default_permission", "permissions"]).set(
                |b, _, v, a| {
                    if let Val::Map(m) = v {
                        let mut p = Permissions::default();
                        b.block(&PERMISSIONS, m, &mut p);
                        a.default_permissions = Some(p);
                    }
                },
            ),
            key("auth_callout", Ty::Block(&AUTH_CALLOUT), Yes).alias(&["auth_hook"]).feature(Feature::AuthCallout),
            key("proxy_required", Ty::Bool, Yes).feature(Feature::Proxies),
        ],
    )
};

pub static USER: Block<User> = Block {
    rules: Some(validate::user),
    ..block(
        "users",
        &[
            key("user", Ty::Str, Yes).alias(&["username"]).set(|_, _, v, u| u.user = v.into_str()),
            key("password", Ty::Str, Yes)
                .alias(&["pass"])
                .set(|_, _, v, u| u.password = v.into_str().map(Secret::from)),
            key("nkey", Ty::Str, Yes).set(|b, e, v, u| {
                if let Some(k) = v.into_str() {
                    if setters::valid_nkey(&k, 'U') {
                        u.nkey = Some(k);
                    } else {
                        b.error("nkey", e.value.span, format!("not a valid public nkey for a user: `{k}`"));
                    }
                }
            }),
            key("permissions", Ty::Block(&PERMISSIONS), Yes).alias(&["permission", "authorization"]).set(
                |b, _, v, u| {
                    if let Val::Map(m) = v {
                        let mut p = Permissions::default();
                        b.block(&PERMISSIONS, m, &mut p);
                        u.permissions = Some(p);
                    }
                },
            ),
            key("allowed_connection_types", Ty::Strings, Yes)
                .alias(&["connection_types", "clients"])
                .set(|_, _, v, u| u.allowed_connection_types = v.into_strs()),
            key("proxy_required", Ty::Bool, Yes).feature(Feature::Proxies),
        ],
    )
};

pub static PERMISSIONS: Block<Permissions> = Block {
    unknown: Unknown::Error,
    ..block(
        "permissions",
        &[
            key("publish", Ty::Custom(&SUBJECTS_TY), Yes)
                .alias(&["pub", "import"])
                .set(|b, e, v, p| p.publish = setters::subject_permission(b, e, v, false, &SUBJECT_PERMISSION)),
            key("subscribe", Ty::Custom(&SUBJECTS_TY), Yes)
                .alias(&["sub", "export"])
                .set(|b, e, v, p| p.subscribe = setters::subject_permission(b, e, v, true, &SUBJECT_PERMISSION)),
            key("allow_responses", Ty::Custom(&ALLOW_RESPONSES_TY), Yes).alias(&["publish_allow_responses"]).set(
                |b, e, _, p| {
                    p.allow_responses = match &e.value.kind {
                        Kind::Bool(true) => Some(ResponsePermission::default()),
                        Kind::Map(m) => {
                            let mut rp = ResponsePermission::default();
                            b.block(&ALLOW_RESPONSES, m, &mut rp);
                            Some(rp)
                        }
                        _ => None,
                    }
                },
            ),
        ],
    )
};

pub static SUBJECT_PERMISSION: Block<SubjectPermission> = Block {
    unknown: Unknown::Error,
    ..block(
        "subject permissions",
        &[
            key("allow", Ty::Strings, Yes).set(|_, _, v, s| s.allow = v.into_strs()),
            key("deny", Ty::Strings, Yes).set(|_, _, v, s| s.deny = v.into_strs()),
        ],
    )
};

pub static ALLOW_RESPONSES: Block<ResponsePermission> = Block {
    unknown: Unknown::Error,
    ..block(
        "allow_responses",
        &[
            key("max", Ty::Int { min: 0, max: i64::MAX }, Yes)
                .alias(&["max_msgs", "max_messages", "max_responses"])
                .set(|_, _, v, r| {
                    if let Val::Int(n) = v {
                        r.max = n
                    }
                }),
            key("expires", Ty::Duration, Yes).alias(&["expiration", "ttl"]).set(|_, _, v, r| v.set_dur(&mut r.expires)),
        ],
    )
};

pub(super) static AUTH_CALLOUT: Block<()> = Block {
    unknown: Unknown::Error,
    ..block(
        "auth_callout",
        &[
            key("issuer", Ty::Str, Yes),
            key("account", Ty::Str, Yes).alias(&["acc"]),
            key("auth_users", Ty::Strings, Yes).alias(&["users"]),
            key("xkey", Ty::Str, Yes).alias(&["key"]),
            key("allowed_accounts", Ty::Strings, Yes),
        ],
    )
};

custom!(
    SUBJECTS_TY,
    "subject, array of subjects, or {allow, deny}",
    r#"{"type": ["string", "array", "object"]}"#,
    values::subjects_value,
    Inner::Block(&SUBJECT_PERMISSION)
);

custom!(
    ALLOW_RESPONSES_TY,
    "boolean or {max, expires}",
    r#"{"type": ["boolean", "object"]}"#,
    values::allow_responses_value,
    Inner::Block(&ALLOW_RESPONSES)
);
