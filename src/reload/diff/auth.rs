//! The authorization part of a reload's diff: users (named, sorted, later
//! entries winning, secrets masked), permissions, `http_auth`, and whose
//! connections the new config would end.

use super::*;

pub(super) fn authorization_changes(
    c: &mut Collector,
    old: &Authorization,
    new: &Authorization,
    user_changes: &UserChanges,
) {
    let Authorization { user, password, token, timeout, users, default_permissions } = new;
    c.field("authorization user", &old.user, user, class_of("authorization.user"), show);
    c.secret("authorization password", &old.password, password);
    c.secret("authorization token", &old.token, token);
    c.field("authorization timeout", &old.timeout, timeout, class_of("authorization.timeout"), |d| format_duration(*d));
    if let Some(detail) = users_detail(user_changes) {
        c.changes.push(Change {
            key: "authorization users".into(),
            old: format!("{} users", old.users.len()),
            new: format!("{} users", users.len()),
            class: class_of("authorization.users"),
            detail: Some(detail),
        });
    }
    if &old.default_permissions != default_permissions {
        c.changes.push(Change {
            key: "authorization default_permissions".into(),
            old: perms_summary(&old.default_permissions),
            new: perms_summary(default_permissions),
            class: class_of("authorization.default_permissions"),
            detail: Some("changed".into()),
        });
    }
}

/// `http_auth` applies to the next monitoring request; its secrets are
/// never shown.
pub(super) fn http_auth_changes(c: &mut Collector, old: &Option<HttpAuth>, new: &Option<HttpAuth>) {
    if old == new {
        return;
    }
    let none = HttpAuth::default();
    let (o, n) = (old.as_ref().unwrap_or(&none), new.as_ref().unwrap_or(&none));
    c.field("http_auth user", &o.user, &n.user, class_of("http_auth.user"), show);
    c.secret("http_auth password", &o.password, &n.password);
    c.secret("http_auth token", &o.token, &n.token);
}

pub(super) fn perms_summary(p: &Option<Permissions>) -> String {
    match p {
        None => "none".into(),
        Some(p) => serde_json::to_string(p).unwrap_or_default(),
    }
}

/// A user's name as logs show it: the user name, or the nkey.
fn user_name(u: &User) -> &str {
    u.user.as_deref().or(u.nkey.as_deref()).unwrap_or_default()
}

/// How the users of two configurations differ, by name (a later entry of
/// the same name wins). Hashed, so a reload of 10 000 users compares them
/// in linear time; each list is sorted, as the logs show them.
#[derive(Default)]
pub(super) struct UserChanges<'a> {
    added: Vec<&'a str>,
    removed: Vec<&'a str>,
    /// Any setting of the user changed.
    changed: Vec<&'a str>,
    /// Its password or nkey changed (a part of `changed`).
    credentials_changed: Vec<&'a str>,
}

impl<'a> UserChanges<'a> {
    pub(super) fn of(old: &'a [User], new: &'a [User]) -> UserChanges<'a> {
        type ByName<'a> = HashMap<&'a str, &'a User, foldhash::fast::RandomState>;
        let by_name = |users: &'a [User]| -> ByName<'a> { users.iter().map(|u| (user_name(u), u)).collect() };
        let (old, new) = (by_name(old), by_name(new));
        let mut out = UserChanges::default();
        for (name, u) in &new {
            match old.get(name) {
                None => out.added.push(name),
                Some(o) if o != u => {
                    out.changed.push(name);
                    if o.password != u.password || o.nkey != u.nkey {
                        out.credentials_changed.push(name);
                    }
                }
                Some(_) => {}
            }
        }
        out.removed = old.keys().filter(|name| !new.contains_key(*name)).copied().collect();
        for list in [&mut out.added, &mut out.removed, &mut out.changed, &mut out.credentials_changed] {
            list.sort_unstable();
        }
        out
    }
}

/// `added: carol; removed: bob; changed: alice`, or `None` if equal.
fn users_detail(users: &UserChanges) -> Option<String> {
    let mut parts = Vec::new();
    for (label, names) in [("added", &users.added), ("removed", &users.removed), ("changed", &users.changed)] {
        if !names.is_empty() {
            parts.push(format!("{label}: {}", names.join(", ")));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Whose connections the reload would end.
pub(super) fn cut_off(old: &Options, new: &Options, users: &UserChanges) -> CutOff {
    let (a, b) = (&old.authorization, &new.authorization);
    let mut out = CutOff {
        removed: users.removed.iter().map(|n| n.to_string()).collect(),
        credentials_changed: users.credentials_changed.iter().map(|n| n.to_string()).collect(),
        anonymous_clients: false,
    };
    if let Some(user) = &a.user {
        if b.user.as_ref() != Some(user) {
            out.removed.push(user.clone());
        } else if a.password != b.password {
            out.credentials_changed.push(user.clone());
        }
    }
    if a.token.is_some() && a.token != b.token {
        out.credentials_changed.push("(token)".into());
    }
    out.anonymous_clients = !old.auth_required() && new.auth_required();
    out
}
