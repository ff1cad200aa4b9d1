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

/// nats-server's `HealthStatus` as served over HTTP (no `status_code`).
#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<HealthError>,
}

#[derive(Debug, Serialize)]
pub struct HealthError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: String,
}

/// Answers a `/healthz` request (already counted).
pub fn healthz(q: &Query) -> Reply {
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
    let Some(problem) = problem else {
        return Reply::json(gojson::to_vec(&Health { status: "ok", error: String::new(), errors: Vec::new() }));
    };
    let health = if details {
        warn!("Healthcheck failed: 1 errors");
        Health {
            status: "error",
            error: String::new(),
            errors: vec![HealthError { kind: "BAD_REQUEST", error: problem.to_string() }],
        }
    } else {
        warn!("Healthcheck failed: {}", go_quote(problem.as_bytes()));
        Health { status: "error", error: problem.to_string(), errors: Vec::new() }
    };
    Reply::json_with(StatusCode::BAD_REQUEST, gojson::to_vec(&health))
}
