//! A differential session: a few client connections and the steps played on
//! them, in order. A step is one write (optionally split into several writes)
//! on one connection, usually followed by a PING/PONG round trip so that its
//! effects are complete before the next step starts.

use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub conn: usize,
    pub bytes: Vec<u8>,
    /// Offsets at which the bytes are cut into separate writes.
    pub splits: Vec<usize>,
    /// Send `PING` afterwards and wait for the `PONG` (or the close). False
    /// when the step leaves an op unfinished (part of a payload), because the
    /// PING would be taken as payload.
    pub sync: bool,
    /// The known-difference ids (see `known.rs`) this step exercises.
    pub tags: Vec<&'static str>,
}

/// Builds a synced, unsplit step; used by the printed reproducers.
pub fn step(conn: usize, bytes: &[u8]) -> Step {
    Step { conn, bytes: bytes.to_vec(), splits: Vec::new(), sync: true, tags: Vec::new() }
}

impl Step {
    pub fn split(mut self, at: &[usize]) -> Step {
        self.splits = at.to_vec();
        self
    }

    pub fn no_sync(mut self) -> Step {
        self.sync = false;
        self
    }

    /// Used by pasted reproducers whose steps carry known-difference ids.
    #[allow(dead_code)]
    pub fn tag(mut self, id: &'static str) -> Step {
        self.tags.push(id);
        self
    }

    /// The writes this step makes, in order.
    pub fn pieces(&self) -> Vec<&[u8]> {
        let mut cuts: Vec<usize> = self.splits.iter().copied().filter(|&c| c > 0 && c < self.bytes.len()).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut out = Vec::new();
        let mut prev = 0;
        for c in cuts {
            out.push(&self.bytes[prev..c]);
            prev = c;
        }
        out.push(&self.bytes[prev..]);
        out
    }
}

/// The server configuration a session runs with (the same file for both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Config {
    Default,
    /// `authorization { token }`: CONNECT must come first, with the token.
    Token,
    /// Small limits: max_payload 64, max_control_line 256, max_subscriptions 3.
    Limits,
    /// A user with publish/subscribe denies, used without credentials
    /// through `no_auth_user`.
    Perms,
}

impl Config {
    /// The config file text; `None` runs both servers on their defaults.
    pub fn file(self) -> Option<&'static str> {
        match self {
            Config::Default => None,
            Config::Token => Some("authorization { token: \"s3cret\" }\n"),
            Config::Limits => Some("max_payload: 64\nmax_control_line: 256\nmax_subscriptions: 3\n"),
            Config::Perms => Some(
                "authorization {\n  users: [\n    {user: a, password: a, permissions: {\n      \
                 publish: {deny: [\"secret.>\"]},\n      subscribe: {deny: [\"secret.>\", \"q.*.x\"]}}}\n  ]\n}\n\
                 no_auth_user: a\n",
            ),
        }
    }

    pub fn max_payload(self) -> usize {
        if self == Config::Limits {
            64
        } else {
            1024 * 1024
        }
    }

    pub fn max_control_line(self) -> usize {
        if self == Config::Limits {
            256
        } else {
            4096
        }
    }
}

#[derive(Clone, Debug)]
pub struct Session {
    pub seed: u64,
    pub config: Config,
    pub conns: usize,
    pub steps: Vec<Step>,
}

impl Session {
    pub fn from_steps(seed: u64, config: Config, steps: Vec<Step>) -> Session {
        let conns = steps.iter().map(|s| s.conn + 1).max().unwrap_or(1);
        Session { seed, config, conns, steps }
    }

    /// Every known-difference id used by some step.
    pub fn tags(&self) -> Vec<&'static str> {
        let mut t: Vec<&'static str> = self.steps.iter().flat_map(|s| s.tags.iter().copied()).collect();
        t.sort_unstable();
        t.dedup();
        t
    }

    /// Drops connections without steps and renumbers the rest.
    pub fn compact(mut self) -> Session {
        let mut used: Vec<usize> = self.steps.iter().map(|s| s.conn).collect();
        used.sort_unstable();
        used.dedup();
        for s in &mut self.steps {
            s.conn = used.iter().position(|&c| c == s.conn).unwrap_or(0);
        }
        self.conns = used.len().max(1);
        self
    }

    /// The session as a ready-to-paste regression test for tests/differential.rs.
    pub fn to_rust(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "/// Found by the differential test, seed {:#018x}.", self.seed);
        let _ = writeln!(out, "#[tokio::test]");
        let _ = writeln!(out, "async fn diff_seed_{:016x}() {{", self.seed);
        let _ = writeln!(out, "    check_against_reference(Config::{:?}, &[", self.config);
        for s in &self.steps {
            let mut line = format!("        step({}, {})", s.conn, byte_literal(&s.bytes));
            if !s.splits.is_empty() {
                let _ = write!(line, ".split(&{:?})", s.splits);
            }
            if !s.sync {
                line.push_str(".no_sync()");
            }
            for t in &s.tags {
                let _ = write!(line, ".tag({t:?})");
            }
            line.push(',');
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(out, "    ])");
        let _ = writeln!(out, "    .await;");
        let _ = writeln!(out, "}}");
        out
    }
}

/// `b"..."` with every byte Rust needs escaped.
pub fn byte_literal(bytes: &[u8]) -> String {
    format!("b\"{}\"", escape(bytes))
}

/// Bytes as printable text: `\r`, `\n`, `\t`, `\\`, `\"` and `\xNN` escapes.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}
