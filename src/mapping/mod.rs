//! Subject mappings (`mappings` at the top level and per account): a source
//! subject and weighted, optionally cluster-scoped destinations, applied to
//! what clients publish.
//!
//! Compiled once per snapshot; [`Mappings::select`] runs per message, writes
//! into the session's scratch buffer and allocates nothing. The weights work
//! as nats-server's `AddWeightedMappings` and `selectMappedSubject`: when the
//! weights of a list do not add up to 100 and the source itself is not
//! listed, the source takes the remainder (the subject stays as published);
//! when it is listed, the remainder is dropped ("artificial loss"). The list
//! is sorted by weight and walked with cumulative thresholds against one
//! draw in 0..100.
//!
//! Order between sources: nats-server walks its mappings in insertion order,
//! and that order comes from a Go map when the config is parsed, so two
//! sources that can both match a subject win in turn from one start to the
//! next. rnats: a literal source is looked up first; then wildcard sources
//! in the order of the config file.

mod error;
mod function;
#[cfg(test)]
mod tests;
pub(crate) mod transform;

use std::collections::HashMap;

pub use error::TransformError;
pub use transform::{Tokens, Transform};

/// One destination as written in the config: subject, weight (percent,
/// 100 when not given) and the cluster it is scoped to, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDest {
    pub subject: String,
    pub weight: u8,
    pub cluster: Option<String>,
}

impl MapDest {
    pub fn to(subject: &str) -> MapDest {
        MapDest { subject: subject.to_string(), weight: 100, cluster: None }
    }
}

/// Why a mapping was refused, worded as nats-server words it (the config
/// layer adds `Error adding mapping for "SRC" to "DEST" : ` in front).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingError {
    BadSource,
    Duplicate(String),
    WeightOver100,
    TotalOver100,
    Transform(TransformError),
}

impl std::fmt::Display for MappingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MappingError::BadSource => f.write_str("invalid subject"),
            MappingError::Duplicate(s) => {
                write!(f, "duplicate entry for {}", crate::gotext::go_quote(s.as_bytes()))
            }
            MappingError::WeightOver100 => f.write_str("individual weights need to be <= 100"),
            MappingError::TotalOver100 => f.write_str("total weight needs to be <= 100"),
            MappingError::Transform(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for MappingError {}

/// A destination with its cumulative weight (the threshold a draw in
/// 0..100 must stay under), `None` where the source passes unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Weighted {
    transform: Option<Transform>,
    /// The source itself (the remainder): the subject stays as published.
    keep: bool,
    threshold: u8,
}

/// One source and its destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    source: String,
    dests: Vec<Weighted>,
    /// Cluster name -> destinations for servers in that cluster.
    by_cluster: Vec<(String, Vec<Weighted>)>,
}

/// What [`Mappings::select`] decided for one published subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    /// No mapping applies: deliver as published.
    Unchanged,
    /// Deliver to the subject written into the scratch buffer.
    Mapped,
    /// The draw fell in the weights' gap and the source was listed: the
    /// message is dropped, as nats-server drops it.
    Dropped,
}

impl Mapping {
    /// nats-server's `AddWeightedMappings`, with its checks in its order.
    pub fn new(source: &str, dests: &[MapDest]) -> Result<Mapping, MappingError> {
        if !crate::subject::is_valid_subject(source.as_bytes()) {
            return Err(MappingError::BadSource);
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut totals: HashMap<Option<&str>, u32> = HashMap::new();
        let mut plain = Vec::new();
        let mut by_cluster: Vec<(String, Vec<Weighted>)> = Vec::new();
        for d in dests {
            if seen.contains(&d.subject.as_str()) {
                return Err(MappingError::Duplicate(d.subject.clone()));
            }
            seen.push(&d.subject);
            if d.weight > 100 {
                return Err(MappingError::WeightOver100);
            }
            let total = totals.entry(d.cluster.as_deref()).or_insert(0);
            *total += d.weight as u32;
            if *total > 100 {
                return Err(MappingError::TotalOver100);
            }
            let transform = Transform::for_mapping(source, &d.subject).map_err(MappingError::Transform)?;
            let w = Weighted { transform, keep: false, threshold: d.weight };
            match &d.cluster {
                None => plain.push(w),
                Some(c) => match by_cluster.iter_mut().find(|(name, _)| name == c) {
                    Some((_, list)) => list.push(w),
                    None => by_cluster.push((c.clone(), vec![w])),
                },
            }
        }
        let source_listed = seen.contains(&source);
        let dests = weigh(plain, source_listed);
        let by_cluster = by_cluster.into_iter().map(|(c, list)| (c, weigh(list, source_listed))).collect();
        Ok(Mapping { source: source.to_string(), dests, by_cluster })
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Adds the remainder (when the weights fall short of 100 and the source is
/// not listed), sorts by weight and makes the weights cumulative. Equal
/// weights keep config order (Go's sort leaves theirs unspecified: only
/// which draws go where differs, not how many).
fn weigh(mut list: Vec<Weighted>, source_listed: bool) -> Vec<Weighted> {
    let total: u32 = list.iter().map(|w| w.threshold as u32).sum();
    if total != 100 && !source_listed {
        let rest = if list.is_empty() { 100 } else { 100 - total as u8 };
        list.push(Weighted { transform: None, keep: true, threshold: rest });
    }
    list.sort_by_key(|w| w.threshold);
    let mut acc = 0u8;
    for w in &mut list {
        w.threshold = w.threshold.saturating_add(acc);
        acc = w.threshold;
    }
    list
}

/// Every mapping of one account, ready for the message path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mappings {
    /// Literal sources, by subject: looked up first.
    literal: HashMap<Box<[u8]>, usize>,
    /// Wildcard sources, in config order: tried after the literal lookup.
    wildcard: Vec<usize>,
    all: Vec<Mapping>,
}

impl Mappings {
    /// From mappings in config order; a later entry for the same source
    /// replaces the earlier one (nats-server's "Replace an old one").
    pub fn new(list: Vec<Mapping>) -> Mappings {
        let mut m = Mappings::default();
        for mapping in list {
            if let Some(i) = m.all.iter().position(|x| x.source == mapping.source) {
                m.all[i] = mapping;
                continue;
            }
            let i = m.all.len();
            if mapping.source.split('.').any(|t| t == "*" || t == ">") {
                m.wildcard.push(i);
            } else {
                m.literal.insert(mapping.source.as_bytes().into(), i);
            }
            m.all.push(mapping);
        }
        m
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Mapping> {
        self.all.iter()
    }

    /// Picks the destination for `subject` published by a client of a server
    /// in `cluster`, writing it into `out` when [`Selected::Mapped`].
    /// `random` yields 31-bit numbers (one per weight draw or `random()`).
    pub fn select(
        &self,
        subject: &[u8],
        cluster: &str,
        out: &mut Vec<u8>,
        random: &mut dyn FnMut() -> u32,
    ) -> Selected {
        if self.all.is_empty() {
            return Selected::Unchanged;
        }
        let all_tokens = Tokens::of(subject);
        // A literal source hands its destination no tokens: nats-server
        // tokenizes the subject only once it has tried a wildcard source, so
        // a literal found first sees none, and `partition(n)` there hashes
        // the empty string (one bucket for that source, as the reference
        // gives whenever it meets the literal first; it is one subject
        // anyway).
        let (found, tokens) = match self.literal.get(subject) {
            Some(&i) => (Some(i), &[][..]),
            None => {
                let tokens = all_tokens.as_slice();
                (self.wildcard.iter().copied().find(|&i| matches_source(tokens, &self.all[i].source)), tokens)
            }
        };
        let Some(i) = found else { return Selected::Unchanged };
        let m = &self.all[i];
        let dests = m.by_cluster.iter().find(|(c, _)| c == cluster).map_or(&m.dests, |(_, d)| d);
        let pick = if dests.len() == 1 && dests[0].threshold == 100 {
            dests.first()
        } else {
            let draw = (random() % 100) as u8;
            dests.iter().find(|d| draw < d.threshold)
        };
        match pick {
            None => Selected::Dropped,
            Some(Weighted { keep: true, .. }) | Some(Weighted { transform: None, .. }) => Selected::Unchanged,
            Some(Weighted { transform: Some(t), .. }) => {
                t.apply(tokens, out, random);
                Selected::Mapped
            }
        }
    }
}

/// nats-server's `isSubsetMatch` of a published (literal) subject's tokens
/// against a source with wildcards.
fn matches_source(tokens: &[&[u8]], source: &str) -> bool {
    let mut n = 0;
    for (i, s) in source.split('.').enumerate() {
        if s == ">" {
            return i < tokens.len();
        }
        match tokens.get(i) {
            None => return false,
            Some(t) if s != "*" && *t != s.as_bytes() => return false,
            Some(_) => {}
        }
        n = i + 1;
    }
    n == tokens.len()
}
