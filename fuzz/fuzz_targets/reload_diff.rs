//! A reload between two configurations: the input is two config texts
//! separated by a 0xFF byte. When both load without errors (the seeds are
//! pairs of real configs, which mutations mostly keep valid), the reload
//! diff and the compilation of the next snapshot run between them.
//! Invariants:
//! - a config diffed with itself shows no change;
//! - two configs whose options differ show at least one change, both ways
//!   (no field escapes the diff, so none escapes a reload);
//! - what the diff logs never contains a password or token of either side;
//! - compiling the first and then its successor fails cleanly or succeeds,
//!   and a successor's generation is the next one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnats::options::Options;
use rnats::reload::diff::diff;
use rnats::server::snapshot::Snapshot;

/// The plain-text secrets of a config, long enough to be found by search.
fn secrets(o: &Options) -> Vec<String> {
    let mut out = Vec::new();
    let a = &o.authorization;
    let mut push = |s: &Option<rnats::secret::Secret>| {
        if let Some(s) = s {
            let text = s.expose();
            if text.len() >= 6 && !text.starts_with("$2") {
                out.push(text.to_string());
            }
        }
    };
    push(&a.password);
    push(&a.token);
    for u in &a.users {
        push(&u.password);
    }
    if let Some(h) = &o.http_auth {
        push(&h.password);
        push(&h.token);
    }
    if let Some(c) = o.cluster.as_ref().and_then(|c| c.authorization.as_ref()) {
        push(&c.password);
    }
    out
}

fn lines(d: &rnats::reload::diff::Diff) -> String {
    d.changes.iter().map(|c| format!("{}\n{}", c.reloaded_line(), c.refusal_line())).collect::<Vec<_>>().join("\n")
}

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|&b| b == 0xFF) else { return };
    let (a, b) = (String::from_utf8_lossy(&data[..split]), String::from_utf8_lossy(&data[split + 1..]));
    let (la, lb) = (rnats::conf::load_str("old.conf", &a), rnats::conf::load_str("new.conf", &b));
    if la.failed(false) || lb.failed(false) {
        return;
    }
    let (old, new) = (la.options, lb.options);
    assert!(diff(&old, &old).changes.is_empty(), "a config differs from itself: {}", lines(&diff(&old, &old)));
    let forward = diff(&old, &new);
    let backward = diff(&new, &old);
    if old != new {
        assert!(!forward.changes.is_empty(), "options differ, the diff shows nothing:\n{a}\n--\n{b}");
        assert!(!backward.changes.is_empty(), "options differ, the reverse diff shows nothing");
    }
    let shown = format!("{}\n{}", lines(&forward), lines(&backward));
    for s in secrets(&old).into_iter().chain(secrets(&new)) {
        assert!(!shown.contains(&s), "a secret is shown by the diff: {shown}");
    }
    let _ = forward.is_refused();
    if let Ok(first) = Snapshot::compile(old, 1, None) {
        if let Ok(next) = first.successor(new, None) {
            assert_eq!(next.generation, 2);
        }
    }
});
