//! The subscription index: a trie over subject tokens, as in nats-server's
//! `sublist.go`, with `*` and `>` children kept apart from literal children, and
//! a match-result cache invalidated by a generation counter.
//!
//! The trie sits behind one `RwLock`: matches take the read side, SUB/UNSUB the
//! write side, and no lock is ever held across an `.await`. Matching is kept off
//! that lock on the hot path by the `MatchCache` (`match_cache.rs`), which each connection owns: a
//! cached result is valid while the sublist's generation is unchanged, so a
//! publisher that repeats a subject pays one atomic load per message; after
//! a change, the sublist's [`ChangeLog`] tells a cache which entries to drop.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::subject::{is_valid_sub_subject, tokens};
use super::sublist_node::{Groups, Plain};

/// What a publish to one subject reaches: every plain subscription, and each
/// queue group (from which the caller picks one member).
#[derive(Debug)]
pub struct MatchResult<T> {
    pub psubs: Vec<Arc<T>>,
    pub qsubs: Vec<QueueGroup<T>>,
}

#[derive(Debug)]
pub struct QueueGroup<T> {
    pub name: Box<[u8]>,
    pub members: Vec<Arc<T>>,
    /// The sum of the members' weights: equal to `members.len()` unless some
    /// member stands for several (a route carrying another server's members).
    pub weight: u64,
}

/// How many queue members an entry stands for: 1 for a local subscription,
/// the advertised count for a route's remote queue subscription. An entry's
/// weight never changes while it is in a sublist (a new weight is a
/// [`Sublist::replace`]), so group sums stay exact.
pub trait Weighted {
    fn weight(&self) -> u32 {
        1
    }
}

impl Weighted for () {}
impl Weighted for u32 {}
impl Weighted for u64 {}

impl<T> MatchResult<T> {
    fn empty() -> Self {
        MatchResult { psubs: Vec::new(), qsubs: Vec::new() }
    }
    pub fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid subject")]
pub struct InvalidSubject;

/// One token's node (its layout: `sublist_node.rs`).
struct Node<T> {
    next: Option<Box<Level<T>>>,
    psubs: Plain<T>,
    qsubs: Groups<QueueGroup<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node { next: None, psubs: Plain::new(), qsubs: Groups::default() }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty() && self.next.as_ref().is_none_or(|l| l.is_empty())
    }
}

/// Hashes a level's literal tokens: foldhash, seeded per map, not std's
/// SipHash, which was a sixth of the server's time subscribing 1M subjects
/// (every SUB and every uncached match hashes each token of its subject).
/// Like the Go map nats-server keeps its sublist in, a seeded fast hash,
/// not a keyed cryptographic one.
type TokenHasher = foldhash::quality::RandomState;

struct Level<T> {
    literal: HashMap<Box<[u8]>, Node<T>, TokenHasher>,
    pwc: Option<Box<Node<T>>>,
    fwc: Option<Box<Node<T>>>,
}

impl<T> Default for Level<T> {
    fn default() -> Self {
        Level { literal: HashMap::default(), pwc: None, fwc: None }
    }
}

impl<T> Level<T> {
    fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }
}

/// Changes a sublist remembers for caches that fell behind.
pub(super) const LOGGED_CHANGES: usize = 64;

/// The subjects of a sublist's last changes, with the generation each one
/// made. Slots are reused, so logging allocates only until it is full.
#[derive(Default)]
pub(super) struct ChangeLog {
    entries: VecDeque<(u64, Vec<u8>)>,
}

impl ChangeLog {
    pub(super) fn record(&mut self, generation: u64, subject: &[u8]) {
        let mut slot = if self.entries.len() >= LOGGED_CHANGES {
            self.entries.pop_front().map(|(_, v)| v).unwrap_or_default()
        } else {
            Vec::new()
        };
        slot.clear();
        slot.extend_from_slice(subject);
        self.entries.push_back((generation, slot));
    }

    /// The subjects changed after generation `since`, or `None` when some
    /// of them are no longer logged.
    pub(super) fn since(&self, since: u64) -> Option<impl Iterator<Item = &[u8]>> {
        let oldest = self.entries.front().map_or(u64::MAX, |(g, _)| *g);
        (oldest <= since + 1).then(|| self.entries.iter().filter(move |(g, _)| *g > since).map(|(_, s)| &s[..]))
    }
}

/// Counters for `/subsz`-style reporting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SublistStats {
    pub subscriptions: u64,
    pub inserts: u64,
    pub removes: u64,
    pub matches: u64,
}

pub struct Sublist<T> {
    root: RwLock<Level<T>>,
    /// Bumped on every insert and remove; caches compare against it.
    generation: AtomicU64,
    /// The subjects of the last changes. Locked by a writer (inside the
    /// trie's write lock, so a generation and its subject appear together)
    /// and by a cache catching up after a change: never per message.
    changes: Mutex<ChangeLog>,
    count: AtomicU64,
    inserts: AtomicU64,
    removes: AtomicU64,
    matches: AtomicU64,
}

impl<T> std::fmt::Debug for Sublist<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sublist").field("count", &self.count()).field("generation", &self.generation()).finish()
    }
}

impl<T> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Sublist<T> {
    pub fn new() -> Self {
        Sublist {
            root: RwLock::new(Level::default()),
            generation: AtomicU64::new(0),
            changes: Mutex::new(ChangeLog::default()),
            count: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            matches: AtomicU64::new(0),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Bumps the generation for a change to `subject`; called with the
    /// trie's write lock held.
    fn changed(&self, subject: &[u8]) {
        let mut log = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        log.record(generation, subject);
    }

    /// Calls `f` with the current generation and the log of the changes
    /// that led to it, consistent with each other.
    pub(super) fn with_changes<R>(&self, f: impl FnOnce(u64, &ChangeLog) -> R) -> R {
        let log = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        f(self.generation(), &log)
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> SublistStats {
        SublistStats {
            subscriptions: self.count(),
            inserts: self.inserts.load(Ordering::Relaxed),
            removes: self.removes.load(Ordering::Relaxed),
            matches: self.matches.load(Ordering::Relaxed),
        }
    }
}

impl<T: Weighted> Sublist<T> {
    /// Adds `item` under `subject` (optionally in queue group `queue`).
    pub fn insert(&self, subject: &[u8], queue: Option<&[u8]>, item: Arc<T>) -> Result<(), InvalidSubject> {
        if !is_valid_sub_subject(subject) {
            return Err(InvalidSubject);
        }
        let mut root = self.root.write().unwrap_or_else(|e| e.into_inner());
        let mut level: &mut Level<T> = &mut root;
        let mut toks = tokens(subject).peekable();
        loop {
            let Some(tok) = toks.next() else { unreachable!("valid subjects have a token") };
            let node: &mut Node<T> = match tok {
                b"*" => level.pwc.get_or_insert_with(Default::default),
                b">" => level.fwc.get_or_insert_with(Default::default),
                lit => literal_child(level, lit),
            };
            if toks.peek().is_none() {
                match queue {
                    None => node.psubs.push(item),
                    Some(q) => match node.qsubs.iter_mut().find(|g| &*g.name == q) {
                        Some(group) => {
                            group.weight += u64::from(item.weight());
                            group.members.push(item);
                        }
                        None => {
                            let weight = u64::from(item.weight());
                            node.qsubs.push(QueueGroup { name: q.into(), members: vec![item], weight });
                        }
                    },
                }
                break;
            }
            level = node.next.get_or_insert_with(Default::default);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.changed(subject);
        Ok(())
    }

    /// Removes the entry that is `item` (by identity). Returns whether it was there.
    pub fn remove(&self, subject: &[u8], queue: Option<&[u8]>, item: &Arc<T>) -> bool {
        if !is_valid_sub_subject(subject) {
            return false;
        }
        let mut root = self.root.write().unwrap_or_else(|e| e.into_inner());
        let toks: smallvec_lite::Tokens = tokens(subject).collect();
        let removed = remove_at(&mut root, &toks, queue, item);
        if removed {
            self.count.fetch_sub(1, Ordering::Relaxed);
            self.removes.fetch_add(1, Ordering::Relaxed);
            self.changed(subject);
        }
        removed
    }

    /// Puts `new` where `old` (by identity) is, in one step under the write
    /// lock, so no publish can see both or neither. Returns whether `old` was
    /// there.
    pub fn replace(&self, subject: &[u8], queue: Option<&[u8]>, old: &Arc<T>, new: Arc<T>) -> bool {
        if !is_valid_sub_subject(subject) {
            return false;
        }
        let mut root = self.root.write().unwrap_or_else(|e| e.into_inner());
        let mut level: &mut Level<T> = &mut root;
        let mut toks = tokens(subject).peekable();
        while let Some(tok) = toks.next() {
            let node = match tok {
                b"*" => level.pwc.as_deref_mut(),
                b">" => level.fwc.as_deref_mut(),
                lit => level.literal.get_mut(lit),
            };
            let Some(node) = node else { return false };
            if toks.peek().is_some() {
                match node.next.as_deref_mut() {
                    Some(next) => level = next,
                    None => return false,
                }
                continue;
            }
            let slot = match queue {
                None => node.psubs.iter_mut().find(|s| Arc::ptr_eq(s, old)),
                Some(q) => match node.qsubs.iter_mut().find(|g| &*g.name == q) {
                    Some(g) => {
                        let found = g.members.iter_mut().find(|s| Arc::ptr_eq(s, old));
                        if found.is_some() {
                            g.weight = g.weight + u64::from(new.weight()) - u64::from(old.weight());
                        }
                        found
                    }
                    None => None,
                },
            };
            let Some(slot) = slot else { return false };
            *slot = new;
            self.changed(subject);
            return true;
        }
        false
    }

    /// Everything a publish to `subject` reaches. The subject may itself contain
    /// `*`/`>` tokens (a non-pedantic publish); they are then matched literally
    /// against wildcard subscriptions only, token by token, as nats-server does.
    pub fn match_subject(&self, subject: &[u8]) -> Arc<MatchResult<T>> {
        self.matches.fetch_add(1, Ordering::Relaxed);
        let mut result = MatchResult::empty();
        if subject.is_empty() {
            return Arc::new(result);
        }
        let root = self.root.read().unwrap_or_else(|e| e.into_inner());
        let toks: smallvec_lite::Tokens = tokens(subject).collect();
        if toks.iter().any(|t| t.is_empty()) {
            return Arc::new(result);
        }
        match_level(&root, &toks, &mut result);
        Arc::new(result)
    }

    /// Calls `f` for every entry with its subject and queue (for monitoring and
    /// interest propagation). Holds the read lock for the duration.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], Option<&[u8]>, &Arc<T>)) {
        let root = self.root.read().unwrap_or_else(|e| e.into_inner());
        let mut path = Vec::new();
        walk(&root, &mut path, &mut f);
    }
}

/// The child of `level` for the literal token `tok`, made if missing. The
/// key is allocated only for a new child: `entry` would box the token on
/// every insert, for the tokens a subject shares with others too.
fn literal_child<'a, T>(level: &'a mut Level<T>, tok: &[u8]) -> &'a mut Node<T> {
    if !level.literal.contains_key(tok) {
        level.literal.insert(tok.into(), Node::default());
    }
    match level.literal.get_mut(tok) {
        Some(node) => node,
        None => unreachable!("inserted above"),
    }
}

fn push_node<T>(node: &Node<T>, out: &mut MatchResult<T>) {
    out.psubs.extend(node.psubs.iter().cloned());
    for group in &node.qsubs {
        // Groups of the same name found at different trie nodes are one group.
        match out.qsubs.iter_mut().find(|g| g.name == group.name) {
            Some(existing) => {
                existing.members.extend(group.members.iter().cloned());
                existing.weight += group.weight;
            }
            None => out.qsubs.push(QueueGroup {
                name: group.name.clone(),
                members: group.members.clone(),
                weight: group.weight,
            }),
        }
    }
}

fn match_level<T>(level: &Level<T>, toks: &[&[u8]], out: &mut MatchResult<T>) {
    let (tok, rest) = match toks.split_first() {
        Some(x) => x,
        None => return,
    };
    if let Some(fwc) = &level.fwc {
        push_node(fwc, out);
    }
    if let Some(pwc) = &level.pwc {
        visit(pwc, rest, out);
    }
    if let Some(node) = level.literal.get(*tok) {
        visit(node, rest, out);
    }
}

fn visit<T>(node: &Node<T>, rest: &[&[u8]], out: &mut MatchResult<T>) {
    if rest.is_empty() {
        push_node(node, out);
    } else if let Some(next) = &node.next {
        match_level(next, rest, out);
    }
}

fn remove_at<T: Weighted>(level: &mut Level<T>, toks: &[&[u8]], queue: Option<&[u8]>, item: &Arc<T>) -> bool {
    let Some((tok, rest)) = toks.split_first() else {
        return false;
    };
    let node: &mut Node<T> = match *tok {
        b"*" => match level.pwc.as_deref_mut() {
            Some(n) => n,
            None => return false,
        },
        b">" => match level.fwc.as_deref_mut() {
            Some(n) => n,
            None => return false,
        },
        lit => match level.literal.get_mut(lit) {
            Some(n) => n,
            None => return false,
        },
    };
    let removed = if rest.is_empty() {
        remove_from_node(node, queue, item)
    } else {
        match node.next.as_deref_mut() {
            Some(next) => {
                let r = remove_at(next, rest, queue, item);
                if next.is_empty() {
                    node.next = None;
                }
                r
            }
            None => false,
        }
    };
    if removed && node.is_empty() {
        // Prune so the trie does not grow without bound under subject churn.
        match *tok {
            b"*" => level.pwc = None,
            b">" => level.fwc = None,
            lit => {
                level.literal.remove(lit);
            }
        }
    }
    removed
}

fn remove_from_node<T: Weighted>(node: &mut Node<T>, queue: Option<&[u8]>, item: &Arc<T>) -> bool {
    match queue {
        None => match node.psubs.iter().position(|s| Arc::ptr_eq(s, item)) {
            Some(i) => {
                node.psubs.swap_remove(i);
                true
            }
            None => false,
        },
        Some(q) => {
            let Some(gi) = node.qsubs.iter().position(|g| &*g.name == q) else {
                return false;
            };
            let group = &mut node.qsubs[gi];
            match group.members.iter().position(|s| Arc::ptr_eq(s, item)) {
                Some(i) => {
                    let gone = group.members.swap_remove(i);
                    group.weight = group.weight.saturating_sub(u64::from(gone.weight()));
                    if group.members.is_empty() {
                        node.qsubs.swap_remove(gi);
                    }
                    true
                }
                None => false,
            }
        }
    }
}

/// Visitor of `(subject, queue, entry)` triples.
type EntryVisitor<'a, T> = dyn FnMut(&[u8], Option<&[u8]>, &Arc<T>) + 'a;

fn walk<T>(level: &Level<T>, path: &mut Vec<u8>, f: &mut EntryVisitor<'_, T>) {
    let children = level
        .literal
        .iter()
        .map(|(tok, node)| (&**tok, node))
        .chain(level.pwc.as_deref().map(|n| (&b"*"[..], n)))
        .chain(level.fwc.as_deref().map(|n| (&b">"[..], n)));
    for (tok, node) in children {
        let len = path.len();
        if len > 0 {
            path.push(b'.');
        }
        path.extend_from_slice(tok);
        for s in &node.psubs {
            f(path, None, s);
        }
        for g in &node.qsubs {
            for s in &g.members {
                f(path, Some(&g.name), s);
            }
        }
        if let Some(next) = &node.next {
            walk(next, path, f);
        }
        path.truncate(len);
    }
}

/// A tiny fixed-capacity token stack, so matching a subject of up to 32 tokens
/// does not allocate (the same bound nats-server uses).
mod smallvec_lite {
    pub struct Tokens<'a> {
        inline: [&'a [u8]; 32],
        len: usize,
        spill: Vec<&'a [u8]>,
    }
    impl<'a> FromIterator<&'a [u8]> for Tokens<'a> {
        fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
            let mut t = Tokens { inline: [&[]; 32], len: 0, spill: Vec::new() };
            for tok in iter {
                if t.len < 32 && t.spill.is_empty() {
                    t.inline[t.len] = tok;
                    t.len += 1;
                } else {
                    if t.spill.is_empty() {
                        t.spill.extend_from_slice(&t.inline[..t.len]);
                    }
                    t.spill.push(tok);
                }
            }
            t
        }
    }
    impl<'a> std::ops::Deref for Tokens<'a> {
        type Target = [&'a [u8]];
        fn deref(&self) -> &Self::Target {
            if self.spill.is_empty() {
                &self.inline[..self.len]
            } else {
                &self.spill
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::match_cache::MatchCache;
    use crate::server::subject::{filter_matches, is_valid_subject};
    use proptest::prelude::*;

    fn ids(r: &MatchResult<u32>) -> (Vec<u32>, Vec<(String, Vec<u32>)>) {
        let mut p: Vec<u32> = r.psubs.iter().map(|s| **s).collect();
        p.sort();
        let mut q: Vec<(String, Vec<u32>)> = r
            .qsubs
            .iter()
            .map(|g| {
                let mut m: Vec<u32> = g.members.iter().map(|s| **s).collect();
                m.sort();
                (String::from_utf8_lossy(&g.name).into_owned(), m)
            })
            .collect();
        q.sort();
        (p, q)
    }

    #[test]
    fn literal_and_wildcards() {
        let sl = Sublist::new();
        sl.insert(b"foo.bar", None, Arc::new(1)).unwrap();
        sl.insert(b"foo.*", None, Arc::new(2)).unwrap();
        sl.insert(b"foo.>", None, Arc::new(3)).unwrap();
        sl.insert(b">", None, Arc::new(4)).unwrap();
        sl.insert(b"*.bar", Some(b"q"), Arc::new(5)).unwrap();
        sl.insert(b"foo.bar", Some(b"q"), Arc::new(6)).unwrap();
        let (p, q) = ids(&sl.match_subject(b"foo.bar"));
        assert_eq!(p, vec![1, 2, 3, 4]);
        assert_eq!(q, vec![("q".to_string(), vec![5, 6])]);
        let (p, _) = ids(&sl.match_subject(b"foo.bar.baz"));
        assert_eq!(p, vec![3, 4]);
        let (p, _) = ids(&sl.match_subject(b"foo"));
        assert_eq!(p, vec![4]);
        // A publish subject with a wildcard token matches wildcard subs only.
        let (p, _) = ids(&sl.match_subject(b"foo.*"));
        assert_eq!(p, vec![2, 3, 4]);
        assert_eq!(sl.insert(b"foo..bar", None, Arc::new(9)), Err(InvalidSubject));
        assert_eq!(sl.count(), 6);
    }

    #[test]
    fn remove_prunes_and_bumps_generation() {
        let sl = Sublist::new();
        let a = Arc::new(1u32);
        let b = Arc::new(1u32); // equal value, different identity
        sl.insert(b"a.b.c", None, a.clone()).unwrap();
        sl.insert(b"a.b.c", None, b.clone()).unwrap();
        let g = sl.generation();
        assert!(sl.remove(b"a.b.c", None, &a));
        assert!(sl.generation() > g);
        assert!(!sl.remove(b"a.b.c", None, &a));
        assert_eq!(sl.match_subject(b"a.b.c").psubs.len(), 1);
        assert!(Arc::ptr_eq(&sl.match_subject(b"a.b.c").psubs[0], &b));
        assert!(sl.remove(b"a.b.c", None, &b));
        assert!(sl.root.read().unwrap().is_empty(), "trie pruned when empty");
        assert_eq!(sl.count(), 0);
    }

    #[test]
    fn cache_is_invalidated_by_generation() {
        let sl = Sublist::new();
        let mut cache = MatchCache::default();
        assert!(cache.get(&sl, b"x").is_empty());
        assert!(cache.get(&sl, b"x").is_empty());
        assert_eq!(cache.hits, 1);
        sl.insert(b"x", None, Arc::new(7u32)).unwrap();
        assert_eq!(cache.get(&sl, b"x").psubs.len(), 1);
        assert_eq!(cache.misses, 2);
    }

    #[test]
    fn long_subjects_spill() {
        let sl = Sublist::new();
        let long: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        let subj = long.join(".");
        sl.insert(subj.as_bytes(), None, Arc::new(1u32)).unwrap();
        assert_eq!(sl.match_subject(subj.as_bytes()).psubs.len(), 1);
        let mut seen = Vec::new();
        sl.for_each(|s, q, _| seen.push((s.to_vec(), q.map(|q| q.to_vec()))));
        assert_eq!(seen, vec![(subj.into_bytes(), None)]);
    }

    fn filter_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*", ">"]), 1..5).prop_filter_map(
            "> must be last",
            |toks| {
                let s = toks.join(".");
                is_valid_subject(s.as_bytes()).then_some(s)
            },
        )
    }

    fn subject_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 1..6).prop_map(|t| t.join("."))
    }

    proptest! {
        /// The trie agrees with a naive token-by-token matcher, before and after removals.
        #[test]
        fn trie_matches_naive(
            filters in prop::collection::vec((filter_strategy(), prop::option::of(prop::sample::select(vec!["q1", "q2"]))), 0..40),
            subjects in prop::collection::vec(subject_strategy(), 1..20),
            remove_mask in prop::collection::vec(any::<bool>(), 40),
        ) {
            let sl = Sublist::new();
            let mut live: Vec<(String, Option<&str>, Arc<u32>)> = Vec::new();
            for (i, (f, q)) in filters.iter().enumerate() {
                let item = Arc::new(i as u32);
                sl.insert(f.as_bytes(), q.map(str::as_bytes), item.clone()).unwrap();
                live.push((f.clone(), *q, item));
            }
            for round in 0..2 {
                for s in &subjects {
                    let got = ids(&sl.match_subject(s.as_bytes()));
                    let mut want_p: Vec<u32> = live.iter().filter(|(f, q, _)| q.is_none() && filter_matches(f.as_bytes(), s.as_bytes())).map(|(_, _, i)| **i).collect();
                    want_p.sort();
                    let mut want_q: Vec<(String, Vec<u32>)> = Vec::new();
                    for qn in ["q1", "q2"] {
                        let mut m: Vec<u32> = live.iter().filter(|(f, q, _)| *q == Some(qn) && filter_matches(f.as_bytes(), s.as_bytes())).map(|(_, _, i)| **i).collect();
                        m.sort();
                        if !m.is_empty() { want_q.push((qn.to_string(), m)); }
                    }
                    prop_assert_eq!(got, (want_p, want_q), "round {} subject {}", round, s);
                }
                let mut keep = Vec::new();
                for (i, (f, q, item)) in live.drain(..).enumerate() {
                    if remove_mask[i] {
                        prop_assert!(sl.remove(f.as_bytes(), q.map(str::as_bytes), &item));
                    } else {
                        keep.push((f, q, item));
                    }
                }
                live = keep;
                prop_assert_eq!(sl.count() as usize, live.len());
            }
        }
    }
}
