//! `rnats check --map SRC DEST SUBJECT...`: what the server would publish
//! each subject as, with the mapping compiler the server uses. The offline
//! tester `nats server mapping` is for, without a server.
//!
//! DEST is one destination, or weighted ones separated by blanks
//! (`'v1=80 v2=20'`). With weights or `random()`, each subject is drawn many
//! times and the distribution is printed.

use std::collections::BTreeMap;

use crate::mapping::{MapDest, Mapping, Mappings, Selected};

/// Draws per subject when the destination is random or weighted.
const DRAWS: u32 = 10_000;

/// Runs `--map`; `args` is SRC, DEST, then the subjects. Returns the exit code.
pub fn run(args: &[String]) -> u8 {
    let [src, dest, subjects @ ..] = args else {
        eprintln!("rnats check: --map takes a source, a destination and subjects");
        return 2;
    };
    let dests = destinations(dest);
    let mappings = match Mapping::new(src, &dests) {
        Ok(m) => Mappings::new(vec![m]),
        Err(err) => {
            let q = |s: &str| crate::gotext::go_quote(s.as_bytes());
            match dests.as_slice() {
                [one] if one.weight == 100 => {
                    eprintln!("error: Error adding mapping for {} to {} : {err}", q(src), q(&one.subject))
                }
                _ => eprintln!("error: Error adding mapping for {} : {err}", q(src)),
            }
            return 1;
        }
    };
    let random = dests.len() > 1 || dests.iter().any(|d| d.weight < 100 || d.subject.contains("random("));
    for subject in subjects {
        println!("{}", describe(&mappings, subject, random));
    }
    0
}

/// `SUBJECT` or `SUBJECT=WEIGHT[%]` separated by blanks.
fn destinations(text: &str) -> Vec<MapDest> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let weighted = |p: &str| {
        let (s, w) = p.rsplit_once('=')?;
        Some(MapDest { subject: s.to_string(), weight: w.trim_end_matches('%').parse().ok()?, cluster: None })
    };
    match parts.iter().map(|p| weighted(p)).collect::<Option<Vec<_>>>() {
        Some(list) if !list.is_empty() => list,
        _ => vec![MapDest::to(text.trim())],
    }
}

/// One line: `subject -> mapped`, or the distribution over many draws.
fn describe(mappings: &Mappings, subject: &str, random: bool) -> String {
    if !crate::subject::is_valid_literal_subject(subject.as_bytes()) {
        return format!("{subject} -> (not a subject a client can publish to)");
    }
    // A fixed xorshift: the same output at every run.
    let mut state = 0x2545_f491_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state >> 1
    };
    let mut out = Vec::new();
    let mut pick = |next: &mut dyn FnMut() -> u32| match mappings.select(subject.as_bytes(), "", &mut out, next) {
        Selected::Unchanged => subject.to_string(),
        Selected::Mapped => String::from_utf8_lossy(&out).into_owned(),
        Selected::Dropped => "(dropped)".to_string(),
    };
    if !random {
        let to = pick(&mut next);
        return if to == subject { format!("{subject} -> {to} (unchanged)") } else { format!("{subject} -> {to}") };
    }
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..DRAWS {
        *counts.entry(pick(&mut next)).or_default() += 1;
    }
    let mut shares: Vec<(String, u32)> = counts.into_iter().collect();
    shares.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let list: Vec<String> =
        shares.iter().map(|(to, n)| format!("{to} {:.1}%", *n as f64 * 100.0 / DRAWS as f64)).collect();
    format!("{subject} -> {} (over {DRAWS} draws)", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_destinations_parse() {
        let d = destinations("v1=80 v2=20%");
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].subject.as_str(), d[0].weight), ("v1", 80));
        assert_eq!((d[1].subject.as_str(), d[1].weight), ("v2", 20));
        assert_eq!(destinations("b.{{partition(10,1)}}")[0].weight, 100);
    }

    #[test]
    fn distribution_and_plain() {
        let m = Mappings::new(vec![Mapping::new("w", &destinations("w.a=50")).unwrap()]);
        let line = describe(&m, "w", true);
        assert!(line.starts_with("w -> ") && line.contains("w.a ") && line.contains("w "), "{line}");
        let m = Mappings::new(vec![Mapping::new("a.*.*", &[MapDest::to("b.$2.$1")]).unwrap()]);
        assert_eq!(describe(&m, "a.x.y", false), "a.x.y -> b.y.x");
        assert_eq!(describe(&m, "c", false), "c -> c (unchanged)");
    }
}
