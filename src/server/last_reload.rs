//! The outcome of the last configuration reload, kept where operators can
//! see it: `/varz`, `/healthz` and the system account's reload event. A
//! reload refused by a signal from a Kubernetes sidecar otherwise shows up
//! nowhere but a log line nobody reads (nats-server issue 7990).

use std::time::SystemTime;

use serde::Serialize;

use super::clock::rfc3339_nano;

/// What adopting a new configuration did to one client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing that concerns it changed.
    Unchanged,
    /// Its credentials were checked again, or its permissions or limits
    /// replaced; it stays.
    Rechecked,
    /// The new configuration closed it.
    Closed,
}

/// How many client connections a reload left alone, re-checked or closed
/// (and, for a prediction, how many re-checks could still close).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionCounts {
    pub closed: u64,
    pub rechecked: u64,
    pub unchanged: u64,
    /// Predictions only: re-checks whose outcome depends on credentials a
    /// dry run does not verify again (a changed password, bcrypt).
    #[serde(skip_serializing_if = "is_zero")]
    pub uncertain: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ConnectionCounts {
    pub fn add(&mut self, effect: Effect) {
        match effect {
            Effect::Unchanged => self.unchanged += 1,
            Effect::Rechecked => self.rechecked += 1,
            Effect::Closed => self.closed += 1,
        }
    }
}

/// How one reload ended, as it is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastReload {
    pub time: SystemTime,
    /// `signal`, `watch` or `request`.
    pub trigger: &'static str,
    pub outcome: ReloadOutcome,
    /// Why it was refused or invalid (the log's error lines).
    pub reasons: Vec<String>,
    /// What changed (the log's `Reloaded:` lines).
    pub changes: Vec<String>,
    /// The digest of the configuration in force afterwards.
    pub digest: String,
    /// What the reload did to client connections.
    pub connections: ConnectionCounts,
    /// Clients that had not adopted the new configuration when the reload
    /// stopped waiting for them.
    pub pending: usize,
}

/// The reload's outcome, named as reports and the exit status of
/// `rnats reload` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadOutcome {
    Applied,
    Unchanged,
    Refused,
    Invalid,
}

impl ReloadOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Applied => "applied",
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Refused => "refused",
            ReloadOutcome::Invalid => "invalid",
        }
    }

    /// Whether the configuration the operator asked for is not in force.
    pub fn failed(self) -> bool {
        matches!(self, ReloadOutcome::Refused | ReloadOutcome::Invalid)
    }
}

impl LastReload {
    /// One line for a health check: what failed and why.
    pub fn failure(&self) -> Option<String> {
        if !self.outcome.failed() {
            return None;
        }
        let reason = self.reasons.first().map(String::as_str).unwrap_or("no reason given");
        let more = match self.reasons.len() {
            0 | 1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        Some(format!("the last configuration reload ({}) was {}: {reason}{more}", self.trigger, self.outcome.as_str()))
    }
}

/// The record as JSON (`/varz` `reload`, the reload event's body).
#[derive(Debug, Clone, Serialize)]
pub struct LastReloadJson {
    pub time: String,
    pub trigger: &'static str,
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    pub config_digest: String,
    pub connections: ConnectionCounts,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub pending: usize,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

impl From<&LastReload> for LastReloadJson {
    fn from(r: &LastReload) -> LastReloadJson {
        LastReloadJson {
            time: rfc3339_nano(r.time),
            trigger: r.trigger,
            outcome: r.outcome.as_str(),
            reasons: r.reasons.clone(),
            changes: r.changes.clone(),
            config_digest: r.digest.clone(),
            connections: r.connections,
            pending: r.pending,
        }
    }
}
