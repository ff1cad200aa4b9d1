//! KNOWN_DIFFERENCES: the rules where rnats still answers differently from
//! nats-server 2.15.1, each with the note that states the exact rule (in
//! /work/notes/protocol-rules.md), and a minimal reproducer.
//!
//! How it is used: the generator tags every step that exercises one of these
//! rules with the rule's id. A session that differs is played again without
//! its tagged steps; if the difference goes away, it is counted as known,
//! otherwise it is a failure. `known_differences_still_differ` plays each
//! reproducer on both servers and fails once they agree, so a fixed rule
//! cannot stay listed. Remove an entry when its fix lands: from then on its
//! steps are compared like any other.

use super::session::{Config, Session, Step};

pub struct Known {
    /// The tag the generator puts on steps exercising the rule.
    pub id: &'static str,
    /// The rule nats-server follows, in one line.
    pub rule: &'static str,
    /// Where the rule is written down in full.
    pub note: &'static str,
    /// A minimal session on which the two servers differ, and its config.
    pub reproducer: fn() -> Vec<Step>,
    pub config: Config,
    /// For a difference no step causes (the INFO sent on connect): rewrites
    /// a line of rnats' output as the reference would have it.
    pub fixup: Option<fn(Config, &str) -> Option<String>>,
}

/// Empty: every rule found so far is matched (protocol-rules.md part B;
/// each has a regression test at the end of tests/differential.rs).
pub const KNOWN_DIFFERENCES: &[Known] = &[];

pub fn is_known(id: &str) -> bool {
    KNOWN_DIFFERENCES.iter().any(|k| k.id == id)
}

/// The session without the steps exercising known differences, and without
/// every later step on their connections: a removed step may have changed
/// the connection's state (a CONNECT merge, a close one server makes and
/// the other does not, a SUB batched with the tagged op), so what follows
/// on that connection would be out of context.
pub fn strip(session: &Session) -> Session {
    let mut tainted = vec![false; session.conns];
    let mut out = session.clone();
    out.steps.clear();
    for step in &session.steps {
        if step.tags.iter().any(|t| is_known(t)) {
            tainted[step.conn] = true;
        }
        if !tainted[step.conn] {
            out.steps.push(step.clone());
        }
    }
    out
}

/// Rewrites rnats' output with every listed fixup (see `Known::fixup`).
pub fn apply_fixups(config: Config, ours: &mut [Vec<String>]) {
    for k in KNOWN_DIFFERENCES {
        let Some(fix) = k.fixup else { continue };
        for line in ours.iter_mut().flatten() {
            if let Some(new) = fix(config, line) {
                *line = new;
            }
        }
    }
}
