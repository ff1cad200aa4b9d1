//! A reload's dry run: what the config file on disk would change, and what
//! that would do to each live client connection, without changing anything.
//!
//! The prediction runs the reload's own steps (load, diff, refusals,
//! compile) and, per client, the same check its session runs when it adopts
//! a new configuration ([`crate::server::auth::predict`]), against the
//! connections live now: `rnats check --diff` can only compare files.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::{Outcome, Plan};
use crate::options::{Options, GLOBAL_ACCOUNT};
use crate::server::account_config::AccountConfig;
use crate::server::adoption::{ConnectionCounts, Effect};
use crate::server::auth;
use crate::server::conn::{ConnKind, Connection};
use crate::server::state::ServerState;

/// The answer to a dry run.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub dry_run: bool,
    /// `would_apply`, `unchanged`, `refused` or `invalid`.
    pub outcome: &'static str,
    /// The `Reloaded:` lines the reload would log.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// Why it would be refused, or the problems in the file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// What it would do to the client connections live now.
    pub connections: ConnectionCounts,
    /// The same, per account.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, ConnectionCounts>,
}

impl DryRun {
    /// One line for the log.
    pub fn summary(&self) -> String {
        let c = &self.connections;
        let mut line = format!(
            "{}, {} change(s); client connections: {} closed, {} re-checked, {} unchanged",
            self.outcome,
            self.changes.len(),
            c.closed,
            c.rechecked,
            c.unchanged
        );
        if c.uncertain > 0 {
            line.push_str(&format!(" ({} re-check credentials and may be closed)", c.uncertain));
        }
        line
    }
}

/// Predicts what `plan` would do (or reports why there is nothing to do).
pub(super) fn predict(state: &ServerState, plan: Result<&Plan, &Outcome>) -> DryRun {
    let mut dry = DryRun {
        dry_run: true,
        outcome: "would_apply",
        changes: Vec::new(),
        reasons: Vec::new(),
        connections: ConnectionCounts::default(),
        accounts: BTreeMap::new(),
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(outcome) => {
            (dry.outcome, dry.reasons) = match outcome {
                Outcome::Refused { reasons } => ("refused", reasons.clone()),
                Outcome::Invalid { diagnostics } => ("invalid", diagnostics.clone()),
                Outcome::NoConfigFile => ("invalid", vec!["the server was not started with a config file".into()]),
                Outcome::Applied { .. } | Outcome::Unchanged { .. } => ("unchanged", Vec::new()),
            };
            return dry;
        }
    };
    if plan.diff.changes.is_empty() {
        dry.outcome = "unchanged";
    }
    dry.changes = plan.diff.changes.iter().map(|c| c.reloaded_line()).collect();
    let closed_by_cap = closed_by_max_connections(state, &plan.old.opts, &plan.opts);
    for conn in state.connections() {
        if conn.kind != ConnKind::Client || conn.is_closing() {
            continue;
        }
        let account = conn.account().name.to_string();
        let (effect, uncertain) = match closed_by_cap.contains(&conn.cid) {
            true => (Effect::Closed, false),
            false => predict_one(&conn, plan),
        };
        for counts in [&mut dry.connections, dry.accounts.entry(account).or_default()] {
            counts.add(effect);
            counts.uncertain += u64::from(uncertain);
        }
    }
    dry
}

/// What the plan would do to one client, as its session would find.
fn predict_one(conn: &Connection, plan: &Plan) -> (Effect, bool) {
    let Some(identity) = conn.identity.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
        // Not logged in yet: it will be checked against the new users.
        return (Effect::Unchanged, false);
    };
    let account = conn.account();
    let before = AccountConfig::effective(plan.old.opts.max_payload, account.config().limits.max_payload);
    let after = AccountConfig::effective(plan.opts.max_payload, account_max_payload(&plan.opts, &account.name));
    auth::predict(plan.next.auth(), &identity, before != after)
}

fn account_max_payload(opts: &Options, name: &str) -> Option<u64> {
    if name == GLOBAL_ACCOUNT {
        return None;
    }
    opts.accounts.iter().find(|a| a.name == name).and_then(|a| a.limits.max_payload)
}

/// The clients a lowered `max_connections` would close: the newest, as the
/// reload closes them.
fn closed_by_max_connections(state: &ServerState, old: &Options, new: &Options) -> Vec<u64> {
    if new.max_connections == 0 || new.max_connections >= old.max_connections.max(1) {
        return Vec::new();
    }
    let mut conns: Vec<Arc<Connection>> = state.connections();
    conns.sort_by_key(|c| std::cmp::Reverse(c.cid));
    let excess = conns.len().saturating_sub(new.max_connections);
    conns.iter().take(excess).map(|c| c.cid).collect()
}
