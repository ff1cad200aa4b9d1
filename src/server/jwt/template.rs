//! Scoped signing key templates: a user issued by a scoped key gets the
//! scope's permissions with `{{name()}}`, `{{subject()}}`,
//! `{{account-name()}}`, `{{account-subject()}}`, `{{tag(x)}}` and
//! `{{account-tag(x)}}` expanded, as the reference's
//! `processUserPermissionsTemplate` does: an allow subject that comes out
//! invalid is dropped (and `>` denied if nothing is left), a deny subject
//! that comes out invalid refuses the login; a tag with several values
//! yields one subject per value (at most [`MAX_EXPANSIONS`] in all).

use super::types::{list_add, StringList};
use super::{UserClaims, UserPermissionLimits};
use crate::server::errors::go_quote;
use crate::server::subject::is_valid_subject;

/// The most subjects tag expansion may produce for one list.
pub const MAX_EXPANSIONS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("generated invalid subject {}: {} is not defined", go_quote(.0), go_quote(.1))]
    TagNotDefined(String, String),
    #[error("template operation in {}: {} is not defined", go_quote(.0), go_quote(.1))]
    UnknownOperation(String, String),
    #[error("generated invalid subject")]
    InvalidSubject,
    #[error("template expansion exceeds limit: {MAX_EXPANSIONS}")]
    TooManyExpansions,
}

/// What the templates may refer to besides the user JWT: the account JWT's
/// `name` and tags (its key is the user's `issuer_account`).
#[derive(Debug, Clone, Copy)]
pub struct AccountInfo<'a> {
    pub name: &'a str,
    pub tags: &'a [String],
}

/// The `{{...}}` parts of `text`, leftmost first, as the regular
/// expression `{{2}([^}]+)}{2}` finds them.
fn mustaches(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'{' && b[i + 1] == b'{' {
            let mut j = i + 2;
            while j < b.len() && b[j] != b'}' {
                j += 1;
            }
            if j > i + 2 && j + 1 < b.len() && b[j + 1] == b'}' {
                found.push(&text[i..j + 2]);
                i = j + 2;
                continue;
            }
        }
        i += 1;
    }
    found
}

/// Go's `strings.EqualFold` against an ASCII word: the only non-ASCII
/// letters that fold to ASCII ones are the long s and the Kelvin sign.
fn equal_fold(text: &str, ascii: &str) -> bool {
    let fold = |c: char| match c {
        '\u{17f}' => 's',
        '\u{212a}' => 'k',
        c => c.to_ascii_lowercase(),
    };
    text.chars().map(fold).eq(ascii.chars().map(|c| c.to_ascii_lowercase()))
}

/// `tag(x)` / `account-tag(x)`: which, and the name (Go trims the prefix
/// case-sensitively after matching it case-insensitively; kept).
fn tag_operation(op: &str) -> Option<(bool, &str)> {
    let b = op.as_bytes();
    let name = |prefix: &str| {
        let rest = op.strip_prefix(prefix).unwrap_or(op);
        rest.strip_suffix(')').unwrap_or(rest)
    };
    if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"tag(") && op.ends_with(')') {
        return Some((false, name("tag(")));
    }
    if b.len() >= 12 && b[..12].eq_ignore_ascii_case(b"account-tag(") && op.ends_with(')') {
        return Some((true, name("account-tag(")));
    }
    None
}

/// All combinations of the values, the last position varying fastest.
fn cartesian(values: &[Vec<String>]) -> Vec<Vec<&str>> {
    let total: usize = values.iter().map(Vec::len).product();
    let mut out = Vec::with_capacity(total);
    let mut idx = vec![0usize; values.len()];
    for _ in 0..total {
        out.push(idx.iter().enumerate().map(|(j, &n)| values[j][n].as_str()).collect());
        for j in (0..idx.len()).rev() {
            idx[j] += 1;
            if idx[j] < values[j].len() {
                break;
            }
            idx[j] = 0;
        }
    }
    out
}

fn apply_list(
    list: &StringList,
    fail_on_bad_subject: bool,
    user: &UserClaims,
    account: AccountInfo<'_>,
) -> Result<StringList, TemplateError> {
    if !list.iter().any(|s| !mustaches(s).is_empty()) {
        return Ok(list.clone());
    }
    let mut emitted: StringList = Vec::with_capacity(list.len());
    for entry in list {
        let tokens = mustaches(entry);
        let mut values: Vec<Vec<String>> = Vec::with_capacity(tokens.len());
        let mut has_tags = false;
        for tk in &tokens {
            let inner = tk.strip_prefix("{{").unwrap_or(tk);
            let op = inner.strip_suffix("}}").unwrap_or(inner).trim();
            if equal_fold(op, "name()") {
                values.push(vec![user.data.name.clone()]);
            } else if equal_fold(op, "subject()") {
                values.push(vec![user.data.subject.clone()]);
            } else if equal_fold(op, "account-name()") {
                values.push(vec![account.name.to_string()]);
            } else if equal_fold(op, "account-subject()") {
                values.push(vec![user.nats.issuer_account.clone()]);
            } else if let Some((of_account, name)) = tag_operation(op) {
                has_tags = true;
                let tags = if of_account { account.tags } else { user.tags() };
                let prefix = format!("{}:", name.to_lowercase());
                let found: Vec<String> =
                    tags.iter().filter_map(|t| t.strip_prefix(prefix.as_str())).map(String::from).collect();
                if !found.is_empty() {
                    values.push(found);
                } else if fail_on_bad_subject {
                    return Err(TemplateError::TagNotDefined(entry.clone(), name.to_string()));
                } else {
                    // A subject with a space: invalid, so dropped below.
                    values.push(vec![" ".into()]);
                }
            } else {
                return Err(TemplateError::UnknownOperation(entry.clone(), op.to_string()));
            }
        }
        let combinations = if has_tags {
            let mut count = 1usize;
            for v in &values {
                if count > MAX_EXPANSIONS / v.len() {
                    return Err(TemplateError::TooManyExpansions);
                }
                count *= v.len();
            }
            if emitted.len() > MAX_EXPANSIONS - count {
                return Err(TemplateError::TooManyExpansions);
            }
            cartesian(&values)
        } else {
            vec![values.iter().map(|v| v[0].as_str()).collect()]
        };
        for combination in combinations {
            let mut subject = entry.clone();
            for (src, value) in tokens.iter().zip(combination) {
                subject = subject.replace(src, value);
            }
            if is_valid_subject(subject.as_bytes()) {
                emitted.push(subject);
            } else if fail_on_bad_subject {
                return Err(TemplateError::InvalidSubject);
            }
        }
    }
    Ok(emitted)
}

/// The permissions and limits a user issued by a scoped signing key gets:
/// the scope's `template` with its templates expanded for `user`.
pub fn apply(
    template: &UserPermissionLimits,
    user: &UserClaims,
    account: AccountInfo<'_>,
) -> Result<UserPermissionLimits, TemplateError> {
    let mut out = template.clone();
    let p = &mut out.permissions;
    let sub_allow_was_set = !p.subscribe.allow.is_empty();
    let pub_allow_was_set = !p.publish.allow.is_empty();
    p.subscribe.allow = apply_list(&p.subscribe.allow, false, user, account)?;
    p.subscribe.deny = apply_list(&p.subscribe.deny, true, user, account)?;
    p.publish.allow = apply_list(&p.publish.allow, false, user, account)?;
    p.publish.deny = apply_list(&p.publish.deny, true, user, account)?;
    // Nothing left of a non-empty allow list must not mean "allow all".
    if sub_allow_was_set && p.subscribe.allow.is_empty() {
        list_add(&mut p.subscribe.deny, ">");
    }
    if pub_allow_was_set && p.publish.allow.is_empty() {
        list_add(&mut p.publish.deny, ">");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, tags: &[&str]) -> UserClaims {
        let mut u = UserClaims::default();
        u.data.name = name.into();
        u.data.subject = "UKEY".into();
        u.nats.issuer_account = "AKEY".into();
        u.nats.generic.tags = tags.iter().map(|t| t.to_string()).collect();
        u
    }

    fn template(pub_allow: &[&str], pub_deny: &[&str], sub_allow: &[&str], sub_deny: &[&str]) -> UserPermissionLimits {
        let mut t = UserPermissionLimits::default();
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        t.permissions.publish.allow = v(pub_allow);
        t.permissions.publish.deny = v(pub_deny);
        t.permissions.subscribe.allow = v(sub_allow);
        t.permissions.subscribe.deny = v(sub_deny);
        t
    }

    const ACC: AccountInfo<'static> = AccountInfo { name: "ACC", tags: &[] };

    #[test]
    fn finds_templates_like_the_regex() {
        assert_eq!(mustaches("a.{{name()}}.{{ subject() }}"), ["{{name()}}", "{{ subject() }}"]);
        assert_eq!(mustaches("{{{x}}"), ["{{{x}}"]);
        assert!(mustaches("{{}}").is_empty());
        assert!(mustaches("{{a}b}}").is_empty());
        assert!(mustaches("{{a").is_empty());
    }

    #[test]
    fn expands_names_and_subjects() {
        let t = template(
            &["scoped.{{name()}}.>", "k.{{subject()}}", "a.{{account-name()}}.{{account-subject()}}"],
            &[],
            &["_INBOX.>"],
            &[],
        );
        let out = apply(&t, &user("alice", &[]), ACC).unwrap();
        assert_eq!(out.permissions.publish.allow, ["scoped.alice.>", "k.UKEY", "a.ACC.AKEY"]);
        assert_eq!(out.permissions.subscribe.allow, ["_INBOX.>"]);
        // Operation names are case-insensitive, with Go's Unicode folds.
        let t = template(&["x.{{NAME()}}", "y.{{\u{17f}ubject()}}"], &[], &[], &[]);
        assert_eq!(apply(&t, &user("bob", &[]), ACC).unwrap().permissions.publish.allow, ["x.bob", "y.UKEY"]);
    }

    #[test]
    fn tags_expand_to_every_value() {
        let t = template(&["t.{{tag(dept)}}.{{account-tag(region)}}"], &[], &[], &[]);
        let u = user("u", &["dept:a", "dept:b", "other:c"]);
        let acc_tags = vec!["region:eu".to_string(), "region:us".to_string()];
        let out = apply(&t, &u, AccountInfo { name: "ACC", tags: &acc_tags }).unwrap();
        assert_eq!(out.permissions.publish.allow, ["t.a.eu", "t.a.us", "t.b.eu", "t.b.us"]);
        // The tag name is lower-cased before matching; the values are not.
        let t = template(&["{{tag(DEPT)}}"], &[], &[], &[]);
        assert_eq!(apply(&t, &user("u", &["dept:X"]), ACC).unwrap().permissions.publish.allow, ["X"]);
        // Go trims `tag(` case-sensitively: `TAG(dept)` looks for "tag(dept:".
        let t = template(&["{{TAG(dept)}}", "ok"], &[], &[], &[]);
        assert_eq!(apply(&t, &user("u", &["dept:X"]), ACC).unwrap().permissions.publish.allow, ["ok"]);
    }

    #[test]
    fn invalid_allow_subjects_are_dropped_invalid_denies_refuse() {
        // An empty name makes "scoped..>": dropped; nothing left: deny all.
        let t = template(&["scoped.{{name()}}.>"], &[], &["s.{{tag(missing)}}"], &[]);
        let out = apply(&t, &user("", &[]), ACC).unwrap();
        assert!(out.permissions.publish.allow.is_empty());
        assert_eq!(out.permissions.publish.deny, [">"]);
        assert!(out.permissions.subscribe.allow.is_empty());
        assert_eq!(out.permissions.subscribe.deny, [">"]);
        let t = template(&[], &["d.{{name()}}"], &[], &[]);
        assert_eq!(apply(&t, &user("", &[]), ACC).unwrap_err(), TemplateError::InvalidSubject);
        let t = template(&[], &[], &[], &["d.{{tag(team)}}"]);
        assert_eq!(
            apply(&t, &user("u", &[]), ACC).unwrap_err().to_string(),
            "generated invalid subject \"d.{{tag(team)}}\": \"team\" is not defined"
        );
        let t = template(&["x.{{nope()}}"], &[], &[], &[]);
        assert_eq!(
            apply(&t, &user("u", &[]), ACC).unwrap_err().to_string(),
            "template operation in \"x.{{nope()}}\": \"nope()\" is not defined"
        );
    }

    #[test]
    fn lists_without_templates_are_kept_as_they_are() {
        let t = template(&["a b", "c"], &["..x"], &[], &[]);
        let out = apply(&t, &user("u", &[]), ACC).unwrap();
        assert_eq!(out, t);
    }

    #[test]
    fn expansion_is_bounded() {
        let tags: Vec<String> = (0..100).map(|n| format!("t:{n}")).collect();
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        let t = template(&["{{tag(t)}}.{{tag(t)}}"], &[], &[], &[]);
        assert_eq!(
            apply(&t, &user("u", &tags), ACC).unwrap_err().to_string(),
            "template expansion exceeds limit: 4096"
        );
        // 64 x 64 is exactly the limit; one more subject is not allowed.
        let u = user("u", &tags[..64]);
        assert_eq!(apply(&t, &u, ACC).unwrap().permissions.publish.allow.len(), MAX_EXPANSIONS);
        let t = template(&["{{tag(t)}}.{{tag(t)}}", "x.{{tag(t)}}"], &[], &[], &[]);
        assert_eq!(apply(&t, &u, ACC).unwrap_err(), TemplateError::TooManyExpansions);
    }
}
