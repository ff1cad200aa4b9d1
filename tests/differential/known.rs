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

use super::session::{step, Step};

pub struct Known {
    /// The tag the generator puts on steps exercising the rule.
    pub id: &'static str,
    /// The rule nats-server follows, in one line.
    pub rule: &'static str,
    /// Where the rule is written down in full.
    pub note: &'static str,
    /// A minimal session on which the two servers differ.
    pub reproducer: fn() -> Vec<Step>,
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
    },
    // `account` or `new_account:true` in CONNECT is refused after the
    // credentials check: -ERR 'Authorization Violation' and close.
    Known {
        id: "connect-account",
        rule: "CONNECT with account or new_account is an authorization violation",
        note: "protocol-rules.md §2",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false,\"account\":\"x\"}\r\n")],
    },
    // The SUB subject check is the sublist's: empty tokens and tokens after
    // `>` only; a form feed is a valid subject byte there.
    Known {
        id: "sub-subject-formfeed",
        rule: "SUB checks only empty tokens and `>` placement, not the bytes",
        note: "protocol-rules.md §3",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":true}\r\nSUB a\x0cb 1\r\n")],
    },
    // A SUB reusing a sid is ignored before its subject is looked at.
    Known {
        id: "sub-duplicate-sid-invalid-subject",
        rule: "a SUB with a sid in use gets +OK (verbose), even with an invalid subject",
        note: "protocol-rules.md §4",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":true}\r\nSUB a 1\r\nSUB a..b 1\r\n")],
    },
    // HPUB with a header size of 0 is a message without headers.
    Known {
        id: "hpub-zero-header",
        rule: "HPUB with header size 0 is delivered as MSG with the total size",
        note: "protocol-rules.md §5",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB a 1\r\nHPUB a 0 1\r\nx\r\n")],
    },
    // HMSG from a client is an empty message on an empty subject, without
    // the pedantic subject check (the parser side is done: it yields a PUB
    // with an empty subject).
    Known {
        id: "hmsg-from-client",
        rule: "HMSG from a client skips the pedantic check",
        note: "protocol-rules.md §6",
        reproducer: || vec![step(0, b"HMSG a\r\n\r\n")],
    },
    // The pedantic publish check runs on the control line: its -ERR comes
    // before the payload has arrived, and once more when the payload is not
    // complete in the read that completed the control line.
    Known {
        id: "pedantic-pub-split",
        rule: "pedantic -ERR at the control line, repeated when the payload comes in a later read",
        note: "protocol-rules.md §7",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false}\r\n"), step(0, b"PUB a.* 5\r\nhe").no_sync()],
    },
    // MSG and HMSG repeat the publisher's size fields as sent (`007`).
    Known {
        id: "pub-size-text",
        rule: "deliveries carry the size digits as the publisher wrote them",
        note: "protocol-rules.md §8",
        reproducer: || vec![step(0, b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 01\r\nx\r\n")],
    },
];

pub fn is_known(id: &str) -> bool {
    KNOWN_DIFFERENCES.iter().any(|k| k.id == id)
}
