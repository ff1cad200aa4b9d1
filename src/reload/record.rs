//! A reload's outcome as it is recorded for `/varz`, `/healthz` and the
//! system account's reload event.

use std::time::SystemTime;

use super::{Outcome, Trigger};
use crate::server::last_reload::{LastReload, ReloadOutcome};

/// The record of a reload that ended with `outcome`; `digest` is the
/// digest of the configuration in force afterwards.
pub(super) fn of(trigger: &Trigger, outcome: &Outcome, digest: &str) -> LastReload {
    let mut record = LastReload {
        time: SystemTime::now(),
        trigger: trigger_name(trigger),
        outcome: ReloadOutcome::Applied,
        reasons: Vec::new(),
        changes: Vec::new(),
        digest: digest.to_string(),
        connections: Default::default(),
        pending: 0,
    };
    match outcome {
        Outcome::Applied { changes, connections, pending, .. } => {
            record.changes = changes.iter().map(|c| c.reloaded_line()).collect();
            record.connections = *connections;
            record.pending = *pending;
        }
        Outcome::Unchanged { .. } => record.outcome = ReloadOutcome::Unchanged,
        Outcome::Refused { reasons } => {
            record.outcome = ReloadOutcome::Refused;
            record.reasons = reasons.clone();
        }
        Outcome::Invalid { diagnostics } => {
            record.outcome = ReloadOutcome::Invalid;
            record.reasons = diagnostics.clone();
        }
        Outcome::NoConfigFile => {
            record.outcome = ReloadOutcome::Invalid;
            record.reasons = vec!["can only reload config when a file is provided using -c or --config".into()];
        }
    }
    record
}

/// How reports name what started a reload.
pub fn trigger_name(trigger: &Trigger) -> &'static str {
    match trigger {
        Trigger::Signal => "signal",
        Trigger::FilesChanged(_) => "watch",
        Trigger::Request => "request",
    }
}
