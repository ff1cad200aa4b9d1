//! What a bench run is given ([`Config`]) and what it measures ([`Outcome`]).

use std::sync::Arc;

use serde::Serialize;

/// Errors are messages for the command line.
pub type Res<T> = Result<T, String>;

#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    /// A second server clustered with `url` (the `cluster` scenario).
    pub url2: Option<String>,
    pub msgs: u64,
    pub size: usize,
    pub subject: String,
    pub subs: usize,
    pub requests: u64,
    pub conns: usize,
    pub server_pid: Option<u32>,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// For the `tls` scenario: the client side (trusted CA).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// For the `ws` scenarios: connect over websocket (`true`: offer
    /// permessage-deflate).
    pub websocket: Option<bool>,
    /// Publish to this subject instead of `subject` (`mapped`: the mapping
    /// rewrites it to `subject`).
    pub publish_to: Option<String>,
    /// Subscriptions for `subs`.
    pub subscriptions: u64,
    /// How long `steady` runs.
    pub duration: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: "127.0.0.1:4222".into(),
            url2: None,
            msgs: 1_000_000,
            size: 16,
            subject: "bench.subject".into(),
            subs: 4,
            requests: 20_000,
            conns: 10_000,
            server_pid: None,
            progress: false,
            tls: None,
            websocket: None,
            publish_to: None,
            subscriptions: 1_000_000,
            duration: std::time::Duration::from_secs(60),
        }
    }
}

/// One scenario's measurement.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Outcome {
    pub scenario: String,
    /// Messages per second delivered (or published, for `pub`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgs_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mb_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<Latency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_conn: Option<f64>,
    /// `flood`: subscribers the server cut off before they got everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_offs: Option<u64>,
    /// `subs`: growth of the server's resident memory per subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_sub: Option<f64>,
    /// `steady`: the server's resident memory at the end of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<f64>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

pub const SCENARIOS: &[&str] = &["pub", "pubsub", "fanout", "queue", "reqrep", "large", "flood", "idle", "cluster"];

/// Scenarios run by name, or by default with `--compare` (they need a
/// fresh server, its pid, or minutes).
pub const EXTRA_SCENARIOS: &[&str] = &["churn", "many", "subs", "steady"];

/// Scenarios whose headline is memory: smaller is better.
pub(super) fn smaller_is_better(scenario: &str) -> bool {
    matches!(scenario, "idle" | "steady")
}
/// The headline number of an outcome, where bigger is better.
pub(super) fn headline(o: &Outcome) -> (f64, &'static str) {
    match o.scenario.as_str() {
        "large" | "flood" => (o.mb_per_sec.unwrap_or(0.0), "MB/s"),
        "idle" => (o.bytes_per_conn.unwrap_or(0.0), "bytes/conn"),
        "steady" => (o.rss_bytes.unwrap_or(0.0), "bytes RSS"),
        "subs" => (o.msgs_per_sec.unwrap_or(0.0), "subs/s"),
        _ => (o.msgs_per_sec.unwrap_or(0.0), "msgs/s"),
    }
}

pub(super) fn format_outcome(o: &Outcome) -> String {
    let (v, unit) = headline(o);
    let mut s = format!("{:<8} {:>14.0} {unit}", o.scenario, v);
    if let Some(l) = o.latency_us {
        s += &format!("   p50 {:.0}µs p90 {:.0}µs p99 {:.0}µs max {:.0}µs", l.p50, l.p90, l.p99, l.max);
    }
    if let Some(n) = o.cut_offs {
        s += &format!("   slow-consumer cut-offs: {n}");
    }
    if let Some(b) = o.bytes_per_sub {
        s += &format!("   {b:.0} bytes/sub");
    }
    s
}

pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    v[v.len() / 2]
}
