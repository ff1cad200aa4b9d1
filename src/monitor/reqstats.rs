//! `/varz` `http_req_stats`: requests per endpoint, keyed by the endpoint's
//! path without the base path, listed once an endpoint was hit (in sorted
//! order, as Go writes a map). When a request counts follows nats-server
//! endpoint by endpoint (see the callers in [`super::router`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The keys, in one table so a counter is one array index.
pub const KEYS: [&str; 13] = [
    "/",
    "/varz",
    "/connz",
    "/routez",
    "/gatewayz",
    "/leafz",
    "/subsz",
    "/accountz",
    "/accstatz",
    "/jsz",
    "/healthz",
    // rnats's own endpoints.
    "/metrics",
    "/dashboard",
];

/// One counter per key: relaxed atomics, bumped once per request.
#[derive(Debug, Default)]
pub struct ReqStats {
    counts: [AtomicU64; KEYS.len()],
}

impl ReqStats {
    pub fn count(&self, key: &str) {
        if let Some(i) = KEYS.iter().position(|k| *k == key) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The endpoints hit at least once, with their counts.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        KEYS.iter().zip(&self.counts).map(|(k, c)| (*k, c.load(Ordering::Relaxed))).filter(|(_, n)| *n > 0).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_hit_endpoints_in_key_order() {
        let s = ReqStats::default();
        s.count("/varz");
        s.count("/varz");
        s.count("/");
        s.count("/nope");
        let snap: Vec<(&str, u64)> = s.snapshot().into_iter().collect();
        assert_eq!(snap, [("/", 1), ("/varz", 2)]);
    }
}
