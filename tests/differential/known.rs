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

use super::session::{step, Config, Session, Step};

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

pub const KNOWN_DIFFERENCES: &[Known] = &[
    // A second CONNECT is merged into the first: members it leaves out (or
    // sets to null) keep their values; every subscription is dropped; the
    // connect INFO is decided once, at the first PING after a CONNECT.
    Known {
        id: "second-connect",
        rule: "a later CONNECT merges into the options and drops all subscriptions",
        note: "protocol-rules.md §1",
        reproducer: || {
            vec![
                step(0, b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB a 1\r\n"),
                step(0, b"CONNECT {}\r\nPUB a 1\r\nx\r\n"),
            ]
        },
        config: Config::Default,
        fixup: None,
    },
    // `account` or `new_account:true` in CONNECT is refused after the
    // credentials check: -ERR 'Authorization Violation' and close.
    Known {
        id: "connect-account",
        rule: "CONNECT with account or new_account is an authorization violation",
        note: "protocol-rules.md §2",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false,\"account\":\"x\"}\r\n")],
        config: Config::Default,
        fixup: None,
    },
    // The SUB subject check is the sublist's: empty tokens and tokens after
    // `>` only; a form feed is a valid subject byte there.
    Known {
        id: "sub-subject-formfeed",
        rule: "SUB checks only empty tokens and `>` placement, not the bytes",
        note: "protocol-rules.md §3",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":true}\r\nSUB a\x0cb 1\r\n")],
        config: Config::Default,
        fixup: None,
    },
    // A SUB reusing a sid is ignored before its subject is looked at.
    Known {
        id: "sub-duplicate-sid-invalid-subject",
        rule: "a SUB with a sid in use gets +OK (verbose), even with an invalid subject",
        note: "protocol-rules.md §4",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":true}\r\nSUB a 1\r\nSUB a..b 1\r\n")],
        config: Config::Default,
        fixup: None,
    },
    // HPUB with a header size of 0 is a message without headers.
    Known {
        id: "hpub-zero-header",
        rule: "HPUB with header size 0 is delivered as MSG with the total size",
        note: "protocol-rules.md §5",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB a 1\r\nHPUB a 0 1\r\nx\r\n")],
        config: Config::Default,
        fixup: None,
    },
    // HMSG from a client is an empty message on an empty subject, without
    // the pedantic subject check (the parser side is done: it yields a PUB
    // with an empty subject).
    Known {
        id: "hmsg-from-client",
        rule: "HMSG from a client skips the pedantic check",
        note: "protocol-rules.md §6",
        reproducer: || vec![step(0, b"HMSG a\r\n\r\n")],
        config: Config::Default,
        fixup: None,
    },
    // The pedantic publish check runs on the control line: its -ERR comes
    // before the payload has arrived (so also before a bad payload's
    // -ERR), and once more when the payload is not complete in the read
    // that completed the control line.
    Known {
        id: "pedantic-at-control-line",
        rule: "pedantic -ERR at the control line, again when the payload comes in a later read",
        note: "protocol-rules.md §7",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false}\r\n"), step(0, b"PUB a.* 5\r\nhe").no_sync()],
        config: Config::Default,
        fixup: None,
    },
    // MSG and HMSG repeat the publisher's size fields as sent (`007`).
    Known {
        id: "pub-size-text",
        rule: "deliveries carry the size digits as the publisher wrote them",
        note: "protocol-rules.md §8",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 01\r\nx\r\n")],
        config: Config::Default,
        fixup: None,
    },
    // HPUB from a connection without headers is refused before its
    // arguments are read: silent close, even for a size over max_payload.
    Known {
        id: "hpub-without-headers",
        rule: "HPUB without headers:true closes silently before any argument check",
        note: "protocol-rules.md §9",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false}\r\nHPUB a 1 2000000\r\n")],
        config: Config::Default,
        fixup: None,
    },
    // With auth required, before CONNECT any op is refused on its first
    // byte: -ERR 'Authorization Violation' even where the parser would fail.
    Known {
        id: "auth-first-byte",
        rule: "before CONNECT (auth required) an op not starting with C is an authorization violation",
        note: "protocol-rules.md §10",
        reproducer: || vec![step(0, b"PUB a 2000000\r\n")],
        config: Config::Token,
        fixup: None,
    },
    // CONNECT checks credentials before the protocol version and the
    // no_responders/headers pairing.
    Known {
        id: "connect-check-order",
        rule: "CONNECT: credentials first, then protocol, then no_responders without headers",
        note: "protocol-rules.md §11",
        reproducer: || vec![step(0, b"CONNECT {\"protocol\":2}\r\n")],
        config: Config::Token,
        fixup: None,
    },
    // With no_auth_user set, the INFO says nothing of auth_required.
    Known {
        id: "info-no-auth-user",
        rule: "INFO leaves auth_required out when no_auth_user is set",
        note: "protocol-rules.md §12",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false}\r\n")],
        config: Config::Perms,
        fixup: Some(|config, line| {
            // Only the INFO sent on connect: the one after the first PONG
            // (`connect_info`) has auth_required.
            (config == Config::Perms && line.starts_with("INFO ") && !line.contains("\"connect_info\":true"))
                .then(|| line.replacen("\"auth_required\":true,", "", 1))
        }),
    },
    // Subjects and queue names in -ERR texts (and log lines) are quoted as
    // Go's %q quotes them (`\x7f`, `\x00`, `\xff`), not as Rust's {:?}.
    Known {
        id: "go-quoting",
        rule: "subjects in permission -ERRs are quoted as Go's %q does",
        note: "protocol-rules.md §15",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false}\r\nPUB secret.\x7f 1\r\nx\r\n")],
        config: Config::Perms,
        fixup: None,
    },
    // With no_auth_user, ops sent before CONNECT are served as that user.
    Known {
        id: "no-auth-user-before-connect",
        rule: "with no_auth_user, ops before CONNECT are allowed (as that user)",
        note: "protocol-rules.md §14",
        reproducer: || vec![step(0, b"SUB a 1\r\n")],
        config: Config::Perms,
        fixup: None,
    },
    // no_auth_user applies when user, pass and auth_token are all empty or
    // absent; an nkey, jwt or sig alone does not stop it (no nkey users,
    // no operator mode).
    Known {
        id: "no-auth-user-credentials",
        rule: "empty credentials count as none; no_auth_user then applies",
        note: "protocol-rules.md §13",
        reproducer: || vec![step(0, b"CONNECT {\"user\":\"\"}\r\n")],
        config: Config::Perms,
        fixup: None,
    },
];

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
