//! `/healthz`: `200 {"status":"ok"}` while the server serves clients, with
//! nats-server's parameters and answers. rnats has no JetStream, so the
//! JetStream checks (`js-enabled-only`, `js-server-only`, ...) pass, as they
//! do on a nats-server without JetStream; asking about a stream or consumer
//! without naming its account or stream is the same 400 as there.

use hyper::StatusCode;
use serde::Serialize;
use tracing::warn;

use super::gojson;
use super::query::Query;
use super::reply::Reply;
use crate::server::errors::go_quote;
use crate::server::last_reload::LastReload;

/// nats-server's `HealthStatus` as served over HTTP (no `status_code`).
#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<HealthError>,
    /// rnats only, with `details=true`: what is degraded but still serves
    /// (a refused reload: the server runs its previous configuration).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<HealthError>,
}

impl Health {
    fn ok() -> Health {
        Health { status: "ok", error: String::new(), errors: Vec::new(), warnings: Vec::new() }
    }
}

#[derive(Debug, Serialize)]
pub struct HealthError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: String,
}

/// Answers a `/healthz` request (already counted). A refused or invalid
/// last reload leaves the server healthy on its previous configuration: it
/// is a warning with `details=true`, and a failure (503) only with
/// `reload=true`, for probes that want a refused reload to show.
pub fn healthz(q: &Query, last_reload: Option<&LastReload>) -> Reply {
    let js_enabled = match q.bool("js-enabled") {
        Ok(v) => v,
        Err(e) => return Reply::bad_request(e),
    };
    if js_enabled {
        warn!("Healthcheck: js-enabled deprecated, use js-enabled-only instead");
    }
    for key in ["js-enabled-only", "js-server-only", "js-meta-only"] {
        if let Err(e) = q.bool(key) {
            return Reply::bad_request(e);
        }
    }
    let details = match q.bool("details") {
        Ok(v) => v,
        Err(e) => return Reply::bad_request(e),
    };
    let problem = if q.get("account").is_empty() && !q.get("stream").is_empty() {
        Some("\"account\" must not be empty when checking stream health")
    } else if q.get("stream").is_empty() && !q.get("consumer").is_empty() {
        Some("\"stream\" must not be empty when checking consumer health")
    } else {
        None
    };
    let reload_probe = match q.bool("reload") {
        Ok(v) => v,
        Err(e) => return Reply::bad_request(e),
    };
    let Some(problem) = problem else {
        let failure = last_reload.and_then(LastReload::failure);
        return match failure {
            Some(failure) if reload_probe => {
                warn!("Healthcheck failed: {}", go_quote(failure.as_bytes()));
                let health = match details {
                    true => Health {
                        status: "error",
                        errors: vec![HealthError { kind: "RELOAD", error: failure }],
                        ..Health::ok()
                    },
                    false => Health { status: "unavailable", error: failure, ..Health::ok() },
                };
                Reply::json_with(StatusCode::SERVICE_UNAVAILABLE, gojson::to_vec(&health))
            }
            Some(failure) if details => Reply::json(gojson::to_vec(&Health {
                warnings: vec![HealthError { kind: "RELOAD", error: failure }],
                ..Health::ok()
            })),
            _ => Reply::json(gojson::to_vec(&Health::ok())),
        };
    };
    let health = if details {
        warn!("Healthcheck failed: 1 errors");
        Health {
            status: "error",
            error: String::new(),
            errors: vec![HealthError { kind: "BAD_REQUEST", error: problem.to_string() }],
            warnings: Vec::new(),
        }
    } else {
        warn!("Healthcheck failed: {}", go_quote(problem.as_bytes()));
        Health { status: "error", error: problem.to_string(), ..Health::ok() }
    };
    Reply::json_with(StatusCode::BAD_REQUEST, gojson::to_vec(&health))
}
