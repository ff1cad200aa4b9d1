//! A fixed set of subject filters (`foo.*`, `bar.>`, `baz`) compiled once
//! into an immutable token trie, for the permission checks that run per
//! message: a deny rule narrowing a wildcard subscription is checked on
//! every delivery to it. Unlike [`super::sublist::Sublist`], which serves
//! subscriptions that come and go, nothing here is locked, counted or
//! reference-counted: a match is a walk over shared, read-only memory.

use std::collections::HashMap;

/// Filters as a trie of tokens: `*` and `>` children kept apart from the
/// literal ones, as in the subscription index.
#[derive(Default)]
pub struct SubjectFilter {
    root: Level,
    len: usize,
}

#[derive(Default)]
struct Level {
    /// Hashed with foldhash: the keys are the configuration's own tokens,
    /// and the lookup runs per message.
    literal: HashMap<Box<[u8]>, Node, foldhash::fast::RandomState>,
    pwc: Option<Box<Node>>,
    /// A `>` at this level: any one or more remaining tokens match.
    fwc: bool,
}

#[derive(Default)]
struct Node {
    /// A filter ends at this token.
    end: bool,
    next: Option<Box<Level>>,
}

/// The first token of `subject` and what follows its dot, if anything.
fn split(subject: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b'.', subject) {
        Some(i) => (&subject[..i], Some(&subject[i + 1..])),
        None => (subject, None),
    }
}

impl SubjectFilter {
    /// The filters (valid subjects, checked with the config) in `filters`.
    pub fn new<'a>(filters: impl IntoIterator<Item = &'a [u8]>) -> SubjectFilter {
        let mut f = SubjectFilter::default();
        for filter in filters {
            f.insert(filter);
        }
        f
    }

    fn insert(&mut self, filter: &[u8]) {
        self.len += 1;
        let mut level = &mut self.root;
        let mut rest = filter;
        loop {
            let (token, more) = split(rest);
            if token == b">" {
                level.fwc = true;
                return;
            }
            let node = if token == b"*" {
                level.pwc.get_or_insert_with(Box::default)
            } else {
                level.literal.entry(token.into()).or_default()
            };
            match more {
                None => {
                    node.end = true;
                    return;
                }
                Some(m) => {
                    level = node.next.get_or_insert_with(Box::default);
                    rest = m;
                }
            }
        }
    }

    /// How many filters were compiled in.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether some filter matches the published `subject` (a wildcard
    /// token in it matches only a wildcard filter, as in the index).
    pub fn matches(&self, subject: &[u8]) -> bool {
        self.len > 0 && level_matches(&self.root, subject)
    }
}

fn level_matches(level: &Level, subject: &[u8]) -> bool {
    if level.fwc {
        return true;
    }
    let (token, rest) = split(subject);
    let node_matches = |n: &Node| match rest {
        None => n.end,
        Some(r) => n.next.as_deref().is_some_and(|l| level_matches(l, r)),
    };
    level.literal.get(token).is_some_and(node_matches) || level.pwc.as_deref().is_some_and(node_matches)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::server::sublist::Sublist;
    use proptest::prelude::*;

    fn filter(list: &[&str]) -> SubjectFilter {
        SubjectFilter::new(list.iter().map(|s| s.as_bytes()))
    }

    #[test]
    fn literals_and_wildcards() {
        let f = filter(&["foo.bar", "a.*.c", "x.>"]);
        assert!(f.matches(b"foo.bar"));
        assert!(!f.matches(b"foo"));
        assert!(!f.matches(b"foo.bar.baz"));
        assert!(f.matches(b"a.b.c") && f.matches(b"a.zz.c"));
        assert!(!f.matches(b"a.b") && !f.matches(b"a.b.c.d"));
        assert!(f.matches(b"x.y") && f.matches(b"x.y.z"));
        assert!(!f.matches(b"x"), "`>` needs at least one token");
        assert!(!filter(&[]).matches(b"anything"));
        assert!(filter(&[">"]).matches(b"anything.at.all"));
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![Just("a".to_string()), Just("b".to_string()), Just("c".to_string())]
    }

    fn filter_strategy() -> impl Strategy<Value = String> {
        (prop::collection::vec(prop_oneof![token(), Just("*".to_string())], 1..4), any::<bool>()).prop_map(
            |(mut toks, fwc)| {
                if fwc {
                    toks.push(">".into());
                }
                toks.join(".")
            },
        )
    }

    proptest! {
        /// The same answer as the subscription index it replaces on the
        /// per-message path.
        #[test]
        fn agrees_with_the_sublist(
            filters in prop::collection::vec(filter_strategy(), 0..6),
            subject in prop::collection::vec(token(), 1..5),
        ) {
            let subject = subject.join(".");
            let sl = Sublist::new();
            for f in &filters {
                sl.insert(f.as_bytes(), None, Arc::new(())).unwrap();
            }
            let compiled = SubjectFilter::new(filters.iter().map(|f| f.as_bytes()));
            prop_assert_eq!(compiled.matches(subject.as_bytes()), !sl.match_subject(subject.as_bytes()).psubs.is_empty());
        }
    }
}
