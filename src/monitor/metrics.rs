//! `/metrics`: the monitoring endpoints in the Prometheus text format, with
//! the metric names, HELP texts and types prometheus-nats-exporter gives
//! them (`-varz -connz -routez -subz -healthz`), so Grafana dashboards made
//! for the exporter work unchanged without running it.
//!
//! - `/varz`, `/routez`, `/subsz`: every number becomes a gauge
//!   `gnatsd_<endpoint>_<path>` (nested keys joined by `_`), HELP the path;
//!   `start` and `config_load_time` become Unix milliseconds; the strings
//!   `server_id`, `server_name`, `version`, `name`, ... become a gauge of 1
//!   with a `value` label; booleans and arrays are skipped; so are the
//!   exporter's skipped paths (`leaf`, `cluster_tls_timeout`, ...).
//! - `/connz` (its default page, as the exporter polls it): `num_connections`,
//!   `total`, `offset`, `limit`, and sums over the page of `pending_bytes`
//!   and `subscriptions` (gauges) and `in_msgs`, `out_msgs`, `in_bytes`,
//!   `out_bytes` (counters).
//! - `/healthz`: `gnatsd_healthz_status` (0 when ok) and
//!   `gnatsd_healthz_status_value{value="ok"}` (1 when ok).
//!
//! The `server_id` label is the server's id, as the exporter's
//! `-use_internal_server_id` sets it (by default the exporter labels with
//! the URL it scrapes, which a server cannot know).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::gotime::rfc3339_to_unix_millis;

/// Paths the exporter leaves out.
const SKIP: &[&str] = &[
    "leaf",
    "trusted_operators_claim",
    "cluster_tls_timeout",
    "cluster_cluster_port",
    "cluster_auth_timeout",
    "gateway_port",
    "gateway_auth_timeout",
    "gateway_tls_timeout",
    "gateway_connect_retries",
];

/// String fields the exporter turns into metrics.
const LABEL_KEYS: &[&str] =
    &["server_id", "server_name", "version", "domain", "leader", "name", "start", "config_load_time"];

/// One metric family with its samples.
#[derive(Debug, Clone)]
struct Family {
    help: String,
    kind: &'static str,
    /// (extra labels after `server_id`, value)
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// The exposition being built, families sorted by name.
#[derive(Debug, Default)]
pub struct Exposition {
    server_id: String,
    families: BTreeMap<String, Family>,
}

impl Exposition {
    pub fn new(server_id: &str) -> Exposition {
        Exposition { server_id: server_id.to_string(), families: BTreeMap::new() }
    }

    fn add(&mut self, name: String, help: &str, kind: &'static str, labels: Vec<(&'static str, String)>, v: f64) {
        let family =
            self.families.entry(name).or_insert_with(|| Family { help: help.to_string(), kind, samples: Vec::new() });
        family.samples.push((labels, v));
    }

    /// The exporter's generic collector over one endpoint's JSON.
    pub fn flatten(&mut self, endpoint: &str, doc: &Value) {
        if let Value::Object(map) = doc {
            self.flatten_object(endpoint, map, &[]);
        }
    }

    fn flatten_object(&mut self, endpoint: &str, map: &serde_json::Map<String, Value>, prefix: &[&str]) {
        for (key, value) in map {
            let mut path: Vec<&str> = prefix.to_vec();
            path.push(key);
            let fqn = fq_name(&path);
            if SKIP.contains(&fqn.as_str()) {
                continue;
            }
            let name = format!("gnatsd_{endpoint}_{fqn}");
            if self.families.contains_key(&name) {
                continue;
            }
            match value {
                Value::Number(n) => {
                    let v = n.as_f64().unwrap_or(0.0);
                    self.add(name, &fqn, "gauge", Vec::new(), v);
                }
                Value::String(s) if LABEL_KEYS.contains(&key.as_str()) => match rfc3339_to_unix_millis(s) {
                    Some(ms) => self.add(name, &fqn, "gauge", Vec::new(), ms as f64),
                    None => self.add(name, &fqn, "gauge", vec![("value", s.clone())], 1.0),
                },
                Value::Object(inner) => self.flatten_object(endpoint, inner, &path),
                _ => {}
            }
        }
    }

    /// A fixed metric (connz, healthz).
    pub fn metric(&mut self, name: &str, help: &str, kind: &'static str, v: f64) {
        self.add(name.to_string(), help, kind, Vec::new(), v);
    }

    pub fn labelled(&mut self, name: &str, help: &str, label: (&'static str, String), v: f64) {
        self.add(name.to_string(), help, "gauge", vec![label], v);
    }

    /// The text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.families.len() * 160);
        let id = escape_label(&self.server_id);
        for (name, f) in &self.families {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {name} {}", f.kind);
            for (labels, v) in &f.samples {
                let _ = write!(out, "{name}{{server_id=\"{id}\"");
                for (k, val) in labels {
                    let _ = write!(out, ",{k}=\"{}\"", escape_label(val));
                }
                let _ = writeln!(out, "}} {}", go_g(*v));
            }
        }
        out
    }
}

/// The exporter's `fqName`: keys joined by `_`, `/` as `_`, runs of `_`
/// collapsed, no `_` at either end (`http_req_stats` + `/` →
/// `http_req_stats`, + `/varz` → `http_req_stats_varz`).
fn fq_name(path: &[&str]) -> String {
    let joined = path.join("_").replace('/', "_");
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.trim_matches('_').to_string()
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)`, as client_golang writes
/// sample values: the shortest digits, in exponent form (`1.2e+11`,
/// `1e-05`) when the decimal exponent is below -4 or 6 and above.
pub fn go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_the_exporter() {
        assert_eq!(fq_name(&["http_req_stats", "/"]), "http_req_stats");
        assert_eq!(fq_name(&["http_req_stats", "/varz"]), "http_req_stats_varz");
        assert_eq!(fq_name(&["slow_consumer_stats", "clients"]), "slow_consumer_stats_clients");
    }

    #[test]
    fn values_as_client_golang() {
        assert_eq!(go_g(3005.0), "3005");
        assert_eq!(go_g(0.4), "0.4");
        assert_eq!(go_g(1.0), "1");
        assert_eq!(go_g(120_000_000_000.0), "1.2e+11");
        assert_eq!(go_g(1_796_493_354_638.0), "1.796493354638e+12");
        assert_eq!(go_g(1_000_000.0), "1e+06");
        assert_eq!(go_g(123_456.0), "123456");
        assert_eq!(go_g(1_234_567.0), "1.234567e+06");
        assert_eq!(go_g(0.0001), "0.0001");
        assert_eq!(go_g(0.00001), "1e-05");
        assert_eq!(go_g(67_108_864.0), "6.7108864e+07");
        assert_eq!(go_g(f64::NAN), "NaN");
    }

    #[test]
    fn flattens_varz_like_the_exporter() {
        let doc = serde_json::json!({
            "server_id": "NID", "version": "2.15.1", "in_msgs": 11, "auth_required": true,
            "start": "2026-11-30T03:49:54.638921062Z", "now": "2026-11-30T03:49:56Z",
            "cluster": {"name": "C1", "tls_timeout": 2, "pool_size": 3}, "leaf": {"port": 7},
            "http_req_stats": {"/": 2, "/varz": 1}, "connect_urls": ["a"]
        });
        let mut e = Exposition::new("NID");
        e.flatten("varz", &doc);
        let text = e.render();
        for line in [
            "# HELP gnatsd_varz_in_msgs in_msgs\n# TYPE gnatsd_varz_in_msgs gauge\ngnatsd_varz_in_msgs{server_id=\"NID\"} 11\n",
            "gnatsd_varz_version{server_id=\"NID\",value=\"2.15.1\"} 1\n",
            "gnatsd_varz_start{server_id=\"NID\"} 1.796010594638e+12\n",
            "gnatsd_varz_cluster_name{server_id=\"NID\",value=\"C1\"} 1\n",
            "gnatsd_varz_cluster_pool_size{server_id=\"NID\"} 3\n",
            "gnatsd_varz_http_req_stats{server_id=\"NID\"} 2\n",
            "gnatsd_varz_http_req_stats_varz{server_id=\"NID\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        for absent in ["auth_required", "_now", "cluster_tls_timeout", "leaf", "connect_urls"] {
            assert!(!text.contains(absent), "{absent} in\n{text}");
        }
    }
}
