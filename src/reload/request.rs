//! The reload a system account `RELOAD` request asks for
//! (`$SYS.REQ.SERVER.<id>.RELOAD`): the one SIGHUP runs, its outcome mapped
//! to the request's answer (design system-account.md §5.3).

use std::future::Future;
use std::pin::Pin;

use super::{Outcome, Reloader, Trigger};
use crate::server::system::link::{ReloadAnswer, ReloadRequest};

impl ReloadRequest for Reloader {
    fn reload_request(
        &self,
        options: serde_json::Map<String, serde_json::Value>,
    ) -> Pin<Box<dyn Future<Output = ReloadAnswer> + Send + '_>> {
        Box::pin(async move {
            // rnats only (design §6.2): what the reload would do, as `data`.
            if options.get("dry_run").and_then(serde_json::Value::as_bool) == Some(true) {
                let dry = self.dry_run().await;
                return Ok(Some(serde_json::to_vec(&dry).unwrap_or_default()));
            }
            answer(self.reload(Trigger::Request).await)
        })
    }
}

/// Applied or unchanged: the bare envelope; refused or invalid: the first
/// reason (rnats's own words, naming the config key).
fn answer(outcome: Outcome) -> ReloadAnswer {
    match outcome {
        Outcome::Applied { .. } | Outcome::Unchanged { .. } => Ok(None),
        Outcome::Refused { reasons } => Err(first(reasons, "config reload refused")),
        Outcome::Invalid { diagnostics } => Err(first(diagnostics, "config reload failed")),
        Outcome::NoConfigFile => Err("can only reload config when a file is provided using -c or --config".into()),
    }
}

fn first(list: Vec<String>, otherwise: &str) -> String {
    list.into_iter().next().unwrap_or_else(|| otherwise.to_string())
}
