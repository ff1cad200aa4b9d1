//! Subject permissions compiled for fast checks, with nats-server's rules:
//!
//! * an allow list, when present, must match; a deny list, when it matches,
//!   wins over any allow;
//! * a subscription subject is matched as a literal against the filters, so a
//!   wildcard subscription is allowed only by an equal or wider filter
//!   (`foo.*` is allowed by `foo.*` or `foo.>`, not by `foo.bar`);
//! * subscribe entries may name a queue group (`"subject queue"`), which then
//!   allows (or denies) that group only;
//! * with `allow_responses` a client may publish to the reply subjects of the
//!   requests it received (up to `max` replies, within `expires`); without
//!   publish permissions of its own, that is all it may publish.

use std::sync::Arc;

use super::subject::{has_wildcard, is_subset_match};
use super::subject_filter::SubjectFilter;
use super::sublist::Sublist;
use crate::options::{Permissions, ResponsePermission, SubjectPermission};

/// One side (publish or subscribe) of a user's permissions.
#[derive(Default)]
pub struct SubjectRules {
    /// For subscribe checks (entries may name a queue group).
    allow: Option<Sublist<()>>,
    deny: Option<Sublist<()>>,
    /// The entries without a queue group, for publish checks: immutable
    /// and lock-free, as they run for every subject a publisher's cache
    /// has not seen.
    allow_subjects: Option<SubjectFilter>,
    deny_subjects: Option<SubjectFilter>,
    /// The deny filters as written, for wildcard-subscription overlap checks.
    deny_filters: Vec<String>,
}

/// The entries of `list` that name no queue group.
fn compile_subjects(list: &[String]) -> SubjectFilter {
    SubjectFilter::new(list.iter().map(|e| e.trim()).filter(|e| !e.contains(' ')).map(str::as_bytes))
}

fn compile_list(list: &[String]) -> Sublist<()> {
    let sl = Sublist::new();
    for entry in list {
        let mut parts = entry.split(' ').filter(|p| !p.is_empty());
        let subject = parts.next().unwrap_or("");
        let queue = parts.next();
        // Invalid subjects were rejected when the config was checked.
        let _ = sl.insert(subject.as_bytes(), queue.map(str::as_bytes), Arc::new(()));
    }
    sl
}

impl SubjectRules {
    fn new(p: Option<&SubjectPermission>) -> SubjectRules {
        let Some(p) = p else { return SubjectRules::default() };
        SubjectRules {
            allow: (!p.allow.is_empty()).then(|| compile_list(&p.allow)),
            deny: (!p.deny.is_empty()).then(|| compile_list(&p.deny)),
            allow_subjects: (!p.allow.is_empty()).then(|| compile_subjects(&p.allow)),
            deny_subjects: (!p.deny.is_empty()).then(|| compile_subjects(&p.deny)),
            deny_filters: p.deny.iter().map(|d| d.split(' ').next().unwrap_or("").to_string()).collect(),
        }
    }

    /// Publish rule: is `subject` allowed?
    pub fn allows(&self, subject: &[u8]) -> bool {
        if self.allow_subjects.as_ref().is_some_and(|allow| !allow.matches(subject)) {
            return false;
        }
        self.deny_subjects.as_ref().is_none_or(|deny| !deny.matches(subject))
    }

    /// Subscribe rule, with the optional queue group.
    pub fn allows_sub(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let mut allowed = true;
        if let Some(allow) = &self.allow {
            let r = allow.match_subject(subject);
            allowed = !r.psubs.is_empty();
            if let (Some(q), false) = (queue, r.qsubs.is_empty()) {
                allowed = queue_matches(q, r.qsubs.iter().map(|g| &*g.name));
            }
        }
        if allowed {
            if let Some(deny) = &self.deny {
                let r = deny.match_subject(subject);
                allowed = r.psubs.is_empty();
                if let (Some(q), false) = (queue, r.qsubs.is_empty()) {
                    allowed = !queue_matches(q, r.qsubs.iter().map(|g| &*g.name));
                }
            }
        }
        allowed
    }

    /// For an allowed wildcard subscription: the deny filters it overlaps,
    /// whose messages must be filtered out at delivery.
    pub fn overlapping_denies(&self, subject: &[u8]) -> Option<Arc<DenyFilter>> {
        if !has_wildcard(subject) {
            return None;
        }
        let overlapping: Vec<String> = self
            .deny_filters
            .iter()
            .filter(|d| is_subset_match(d.as_bytes(), subject) || is_subset_match(subject, d.as_bytes()))
            .cloned()
            .collect();
        (!overlapping.is_empty()).then(|| {
            let index = SubjectFilter::new(overlapping.iter().map(|f| f.as_bytes()));
            Arc::new(DenyFilter { index, filters: overlapping })
        })
    }
}

/// The deny entries a wildcard subscription overlaps: messages matching
/// them are not delivered to it, although the subscription itself is allowed.
pub struct DenyFilter {
    /// The entries as written, so two filters can be compared.
    pub filters: Vec<String>,
    /// Checked on every delivery to the subscription: immutable, so no
    /// lock, counter or allocation per message.
    index: SubjectFilter,
}

impl DenyFilter {
    pub fn blocks(&self, subject: &[u8]) -> bool {
        self.index.matches(subject)
    }
}

impl std::fmt::Debug for DenyFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenyFilter").field("filters", &self.filters).finish()
    }
}

/// Whether queue `q` is named by one of the permission's queue entries, which
/// may themselves be wildcards.
fn queue_matches<'a>(q: &[u8], names: impl Iterator<Item = &'a [u8]>) -> bool {
    let mut names = names;
    names.any(|name| name == q || (has_wildcard(name) && is_subset_match(q, name)))
}

/// A user's permissions, compiled once and shared by all its connections.
pub struct CompiledPermissions {
    pub publish: SubjectRules,
    pub subscribe: SubjectRules,
    pub responses: Option<ResponsePermission>,
    /// The rules as configured, as [`rules_key`] writes them: a reload
    /// reuses this compiled set for a user whose rules are the same.
    pub key: Box<[u8]>,
}

impl CompiledPermissions {
    pub fn new(p: &Permissions) -> CompiledPermissions {
        let mut publish = SubjectRules::new(p.publish.as_ref());
        // Responses only, when no publish rules: deny everything else.
        if p.allow_responses.is_some() && p.publish.as_ref().is_none_or(|pp| pp.allow.is_empty()) {
            publish.allow = Some(Sublist::new());
            publish.allow_subjects = Some(SubjectFilter::default());
        }
        CompiledPermissions {
            publish,
            subscribe: SubjectRules::new(p.subscribe.as_ref()),
            responses: p.allow_responses.clone(),
            key: {
                let mut key = Vec::new();
                rules_key(p, &mut key);
                key.into_boxed_slice()
            },
        }
    }
}

/// Writes `p` to `out` as one byte string in which every list and subject is
/// length-prefixed, so two permission sets are equal exactly when their
/// strings are. A reload of 10 000 users compares each user's rules with
/// the previous compile's: one look at one buffer, where comparing two
/// `Permissions` follows a pointer per subject into memory long gone cold.
/// The structs are taken apart field by field, so a field added to them does
/// not compile until it is written here too.
pub fn rules_key(p: &Permissions, out: &mut Vec<u8>) {
    fn text(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn side(out: &mut Vec<u8>, side: &Option<SubjectPermission>) {
        let Some(SubjectPermission { allow, deny }) = side else {
            out.push(0);
            return;
        };
        out.push(1);
        for list in [allow, deny] {
            out.extend_from_slice(&(list.len() as u64).to_le_bytes());
            for subject in list {
                text(out, subject);
            }
        }
    }
    let Permissions { publish, subscribe, allow_responses } = p;
    side(out, publish);
    side(out, subscribe);
    match allow_responses {
        None => out.push(0),
        Some(ResponsePermission { max, expires }) => {
            out.push(1);
            out.extend_from_slice(&max.to_le_bytes());
            out.extend_from_slice(&expires.as_nanos().to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn perms(publish: &[&str], pub_deny: &[&str], sub: &[&str], sub_deny: &[&str]) -> CompiledPermissions {
        let sp = |a: &[&str], d: &[&str]| {
            (!a.is_empty() || !d.is_empty()).then(|| SubjectPermission {
                allow: a.iter().map(|s| s.to_string()).collect(),
                deny: d.iter().map(|s| s.to_string()).collect(),
            })
        };
        CompiledPermissions::new(&Permissions {
            publish: sp(publish, pub_deny),
            subscribe: sp(sub, sub_deny),
            allow_responses: None,
        })
    }

    #[test]
    fn rules_keys_are_equal_exactly_when_the_rules_are() {
        let side = |allow: &[&str], deny: &[&str]| {
            Some(SubjectPermission {
                allow: allow.iter().map(|s| s.to_string()).collect(),
                deny: deny.iter().map(|s| s.to_string()).collect(),
            })
        };
        let key = |p: &Permissions| {
            let mut out = Vec::new();
            rules_key(p, &mut out);
            out
        };
        let responses = |max| Some(ResponsePermission { max, expires: Duration::from_secs(1) });
        let sets = [
            Permissions::default(),
            Permissions { publish: side(&[], &[]), ..Default::default() },
            Permissions { publish: side(&["ab"], &[]), ..Default::default() },
            Permissions { publish: side(&["a", "b"], &[]), ..Default::default() },
            Permissions { publish: side(&["a"], &["b"]), ..Default::default() },
            Permissions { publish: side(&[], &["a", "b"]), ..Default::default() },
            Permissions { subscribe: side(&["a", "b"], &[]), ..Default::default() },
            Permissions { allow_responses: responses(1), ..Default::default() },
            Permissions { allow_responses: responses(2), ..Default::default() },
        ];
        for (i, a) in sets.iter().enumerate() {
            for (j, b) in sets.iter().enumerate() {
                assert_eq!(key(a) == key(b), i == j, "{a:?} / {b:?}");
            }
            assert_eq!(key(a), key(&a.clone()));
        }
    }

    #[test]
    fn publish_allow_and_deny() {
        let p = perms(&["foo.*", "_INBOX.>"], &["foo.bar"], &[], &[]);
        assert!(p.publish.allows(b"foo.baz"));
        assert!(!p.publish.allows(b"foo.bar"), "deny wins");
        assert!(!p.publish.allows(b"other"));
        assert!(p.publish.allows(b"_INBOX.a.b"));
        let open = perms(&[], &["secret.>"], &[], &[]);
        assert!(open.publish.allows(b"anything"));
        assert!(!open.publish.allows(b"secret.x"));
    }

    #[test]
    fn subscribe_rules_like_the_reference() {
        let p = perms(&[], &[], &["foo.>", "q.* workers"], &["foo.secret"]);
        assert!(!p.subscribe.allows_sub(b"foo.secret", None));
        assert!(p.subscribe.allows_sub(b"foo.*", None));
        assert!(p.subscribe.allows_sub(b"q.1", Some(b"workers")));
        assert!(!p.subscribe.allows_sub(b"q.1", Some(b"others")));
        assert!(!p.subscribe.allows_sub(b"q.1", None), "a queue-only allow does not allow plain subs");
        assert!(!p.subscribe.allows_sub(b"bar", None));
        assert!(p.subscribe.allows_sub(b"foo.>", Some(b"q")));
        let narrow = perms(&[], &[], &["foo.bar"], &[]);
        assert!(!narrow.subscribe.allows_sub(b"foo.*", None), "a wildcard needs an equal or wider allow");
        assert!(narrow.subscribe.allows_sub(b"foo.bar", None));
        let wq = perms(&[], &[], &["jobs *"], &[]);
        assert!(wq.subscribe.allows_sub(b"jobs", Some(b"any")), "wildcard queue names");
    }

    #[test]
    fn wildcard_subscriptions_get_deny_filters() {
        let p = perms(&[], &[], &[">"], &["foo.bar"]);
        assert!(p.subscribe.allows_sub(b"foo.*", None));
        let filter = p.subscribe.overlapping_denies(b"foo.*").expect("overlaps");
        assert!(filter.blocks(b"foo.bar") && !filter.blocks(b"foo.baz"));
        assert_eq!(filter.filters, ["foo.bar"]);
        assert!(p.subscribe.overlapping_denies(b"baz.*").is_none());
        assert!(p.subscribe.overlapping_denies(b"foo.baz").is_none(), "literal subs need no filter");
    }

    #[test]
    fn responses_only() {
        let p = CompiledPermissions::new(&Permissions {
            publish: None,
            subscribe: None,
            allow_responses: Some(ResponsePermission { max: 1, expires: Duration::ZERO }),
        });
        assert!(!p.publish.allows(b"anything"), "only replies may be published");
    }
}
