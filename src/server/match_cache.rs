//! A per-connection cache of match results over one [`Sublist`], kept
//! valid across subscription changes: the sublist logs the subjects of its
//! last few changes, and a cache that fell behind drops only the entries
//! those subjects match (one lookup for a literal subject, as a request's
//! fresh inbox is) instead of everything. A cache further behind than the
//! log starts over.

use std::collections::HashMap;
use std::sync::Arc;

use super::subject::{filter_matches, has_wildcard};
use super::sublist::{MatchResult, Sublist, Weighted};

/// Capacity of a connection's match cache; past it the cache starts over, which
/// keeps memory bounded when a client publishes to ever-new subjects.
pub const MATCH_CACHE_CAPACITY: usize = 256;

/// A per-connection cache of match results.
pub struct MatchCache<T> {
    generation: u64,
    /// The index the cached results come from (its address): a route
    /// session publishes into many accounts, a client changes account at
    /// a later CONNECT.
    owner: usize,
    /// Hashed with foldhash, not SipHash: this lookup runs once per
    /// published message (SipHash was an eighth of a publisher's CPU), and
    /// with at most `MATCH_CACHE_CAPACITY` entries a client that crafts
    /// colliding subjects can only slow its own cache down.
    map: HashMap<Box<[u8]>, Arc<MatchResult<T>>, foldhash::fast::RandomState>,
    pub hits: u64,
    pub misses: u64,
    /// Sum and largest of the cached results' fan-out (plain subscribers
    /// plus queue groups, as nats-server counts it), kept as entries come
    /// and go so `/subsz` never walks the cache.
    pub fanout_sum: u64,
    pub fanout_max: u64,
}

impl<T> Default for MatchCache<T> {
    fn default() -> Self {
        MatchCache {
            generation: u64::MAX,
            owner: 0,
            map: HashMap::default(),
            hits: 0,
            misses: 0,
            fanout_sum: 0,
            fanout_max: 0,
        }
    }
}

fn fanout<T>(r: &MatchResult<T>) -> u64 {
    (r.psubs.len() + r.qsubs.len()) as u64
}

impl<T: Weighted> MatchCache<T> {
    pub fn get(&mut self, sublist: &Sublist<T>, subject: &[u8]) -> Arc<MatchResult<T>> {
        // Read the generation before matching: a change racing with the match
        // leaves a newer generation behind, so the entry is dropped next time.
        let gen = sublist.generation();
        let owner = sublist as *const Sublist<T> as usize;
        if owner != self.owner {
            self.clear();
            self.owner = owner;
            self.generation = gen;
        } else if gen != self.generation {
            self.catch_up(sublist);
        }
        if let Some(r) = self.map.get(subject) {
            self.hits += 1;
            return r.clone();
        }
        self.misses += 1;
        let r = sublist.match_subject(subject);
        if self.map.len() >= MATCH_CACHE_CAPACITY {
            self.clear();
        }
        let f = fanout(&r);
        self.fanout_sum += f;
        self.fanout_max = self.fanout_max.max(f);
        self.map.insert(subject.into(), r.clone());
        r
    }

    /// Drops the entries the sublist's changes since our generation affect
    /// (all of them if the log no longer reaches back that far).
    fn catch_up(&mut self, sublist: &Sublist<T>) {
        let mut dropped_max = false;
        let generation = sublist.with_changes(|gen, log| {
            let Some(changed) = (self.generation != u64::MAX).then(|| log.since(self.generation)).flatten() else {
                self.clear();
                return gen;
            };
            for pattern in changed {
                if self.map.is_empty() {
                    break;
                }
                if has_wildcard(pattern) {
                    let (sum, max) = (&mut self.fanout_sum, self.fanout_max);
                    self.map.retain(|subject, r| {
                        let keep = !filter_matches(pattern, subject);
                        if !keep {
                            let f = fanout(r);
                            *sum -= f;
                            dropped_max |= f == max;
                        }
                        keep
                    });
                } else if let Some(r) = self.map.remove(pattern) {
                    let f = fanout(&r);
                    self.fanout_sum -= f;
                    dropped_max |= f == self.fanout_max;
                }
            }
            gen
        });
        if dropped_max {
            self.fanout_max = self.map.values().map(|r| fanout(r)).max().unwrap_or(0);
        }
        self.generation = generation;
    }

    fn clear(&mut self) {
        self.map.clear();
        self.fanout_sum = 0;
        self.fanout_max = 0;
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Plain subscribers, and each queue group's name and members, sorted.
    type Ids = (Vec<u32>, Vec<(Vec<u8>, Vec<u32>)>);

    fn ids(r: &MatchResult<u32>) -> Ids {
        let mut p: Vec<u32> = r.psubs.iter().map(|s| **s).collect();
        p.sort();
        let mut q: Vec<(Vec<u8>, Vec<u32>)> = r
            .qsubs
            .iter()
            .map(|g| {
                let mut m: Vec<u32> = g.members.iter().map(|s| **s).collect();
                m.sort();
                (g.name.to_vec(), m)
            })
            .collect();
        q.sort();
        (p, q)
    }

    #[test]
    fn an_unrelated_change_keeps_the_entry() {
        let sl = Sublist::new();
        sl.insert(b"telemetry.>", None, Arc::new(1u32)).unwrap();
        let mut cache = MatchCache::default();
        cache.get(&sl, b"telemetry.a");
        // A request's fresh inbox comes and goes: the publisher's entry stays.
        let inbox = Arc::new(2u32);
        sl.insert(b"_INBOX.x.1", None, inbox.clone()).unwrap();
        sl.remove(b"_INBOX.x.1", None, &inbox);
        assert_eq!(cache.get(&sl, b"telemetry.a").psubs.len(), 1);
        assert_eq!((cache.hits, cache.misses), (1, 1));
        // A change it does match is seen at once.
        sl.insert(b"telemetry.*", Some(b"q"), Arc::new(3u32)).unwrap();
        assert_eq!(ids(&cache.get(&sl, b"telemetry.a")), (vec![1], vec![(b"q".to_vec(), vec![3])]));
        assert_eq!(cache.misses, 2);
        assert_eq!((cache.fanout_sum, cache.fanout_max), (2, 2));
    }

    #[test]
    fn a_cache_behind_the_log_starts_over() {
        let sl = Sublist::new();
        let mut cache = MatchCache::default();
        assert!(cache.get(&sl, b"a").is_empty());
        let items: Vec<Arc<u32>> = (0..crate::server::sublist::LOGGED_CHANGES as u32 + 1).map(Arc::new).collect();
        for (i, item) in items.iter().enumerate() {
            sl.insert(format!("other.{i}").as_bytes(), None, item.clone()).unwrap();
        }
        sl.insert(b"a", None, Arc::new(99u32)).unwrap();
        assert_eq!(ids(&cache.get(&sl, b"a")).0, vec![99]);
        assert_eq!(cache.misses, 2);
    }

    fn filter() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!["a", "b", "*"]), 1..4).prop_flat_map(|toks| {
            let s = toks.join(".");
            prop_oneof![Just(s.clone()), Just(format!("{s}.>"))]
        })
    }

    fn subject() -> impl Strategy<Value = String> {
        // Published subjects may hold wildcard tokens (non-pedantic clients).
        prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*"]), 1..5).prop_map(|t| t.join("."))
    }

    #[derive(Debug, Clone)]
    enum Step {
        Sub(String, Option<&'static str>),
        Unsub(usize),
        Publish(String),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (filter(), prop::option::of(prop::sample::select(vec!["q1", "q2"]))).prop_map(|(f, q)| Step::Sub(f, q)),
            any::<usize>().prop_map(Step::Unsub),
            subject().prop_map(Step::Publish),
        ]
    }

    proptest! {
        /// Whatever subscribes and unsubscribes between publishes, the
        /// cache answers what a fresh match answers.
        #[test]
        fn the_cache_agrees_with_the_index(steps in prop::collection::vec(step(), 1..80)) {
            let sl = Sublist::new();
            let mut cache = MatchCache::default();
            let mut live: Vec<(String, Option<&str>, Arc<u32>)> = Vec::new();
            for (n, s) in steps.into_iter().enumerate() {
                match s {
                    Step::Sub(f, q) => {
                        let item = Arc::new(n as u32);
                        sl.insert(f.as_bytes(), q.map(str::as_bytes), item.clone()).unwrap();
                        live.push((f, q, item));
                    }
                    Step::Unsub(i) if !live.is_empty() => {
                        let (f, q, item) = live.remove(i % live.len());
                        prop_assert!(sl.remove(f.as_bytes(), q.map(str::as_bytes), &item));
                    }
                    Step::Unsub(_) => {}
                    Step::Publish(subject) => {
                        let cached = ids(&cache.get(&sl, subject.as_bytes()));
                        prop_assert_eq!(cached, ids(&sl.match_subject(subject.as_bytes())), "subject {}", subject);
                    }
                }
            }
        }
    }
}
