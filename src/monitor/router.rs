//! From a request to a reply: nats-server's `ServeMux` rules (exact paths
//! under the base path, 307 to the clean path, 404 for the rest), the
//! optional `http_auth` check, which requests count in `http_req_stats`
//! and when (as nats-server counts them, endpoint by endpoint), and JSONP.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Request, Response};

use super::auth::Verdict;
use super::query::{unescape_path, Query};
use super::reply::{Reply, PROMETHEUS};
use super::varz::MonitorFigures;
use super::{absent, accountz, connz, gojson, healthz, metrics, root, routez, subsz, varz, Monitor};

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Root,
    Varz,
    Connz,
    Routez,
    Gatewayz,
    Leafz,
    Subsz,
    Accountz,
    Accstatz,
    Jsz,
    Healthz,
    Ipqueuesz,
    Raftz,
    Metrics,
    Dashboard,
}

impl Endpoint {
    /// The endpoint at `path` (the part after the base path).
    pub(crate) fn of(path: &str) -> Option<Endpoint> {
        Some(match path {
            "/varz" => Endpoint::Varz,
            "/connz" => Endpoint::Connz,
            "/routez" => Endpoint::Routez,
            "/gatewayz" => Endpoint::Gatewayz,
            "/leafz" => Endpoint::Leafz,
            "/subsz" | "/subscriptionsz" => Endpoint::Subsz,
            "/accountz" => Endpoint::Accountz,
            "/accstatz" => Endpoint::Accstatz,
            "/jsz" => Endpoint::Jsz,
            "/healthz" => Endpoint::Healthz,
            "/ipqueuesz" => Endpoint::Ipqueuesz,
            "/raftz" => Endpoint::Raftz,
            "/metrics" => Endpoint::Metrics,
            "/dashboard" => Endpoint::Dashboard,
            _ => return None,
        })
    }
}

impl Monitor {
    /// Serves one request.
    pub async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let auth = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes().to_vec());
        self.answer(req.uri().path(), req.uri().query(), auth.as_deref()).await.into_response()
    }

    /// The reply to `path?query`, given the `Authorization` header.
    pub async fn answer(&self, raw_path: &str, raw_query: Option<&str>, auth: Option<&[u8]>) -> Reply {
        let Some(path) = unescape_path(raw_path) else {
            return Reply::bad_request("invalid URL escape");
        };
        // Go's mux cleans the path as sent (escapes kept) and redirects to
        // that, so the Location stays a valid, escaped URL (`/a%3Fb/c`, not
        // `/a?b/c`); the endpoint is then found by the decoded path.
        let clean = clean_path(raw_path);
        if clean != raw_path {
            let clean = escape_location(&clean);
            let location = match raw_query {
                Some(q) if !q.is_empty() => format!("{clean}?{q}"),
                _ => clean,
            };
            return Reply::redirect(location);
        }
        let Some(endpoint) = self.route(&path) else { return Reply::not_found() };
        // Health probes stay open: they reveal nothing, and orchestrators
        // send no credentials.
        if endpoint != Endpoint::Healthz {
            if let Verdict::Refused(challenge) = self.auth.check(&self.server, auth).await {
                return Reply::unauthorized(challenge);
            }
        }
        let q = Query::parse(raw_query);
        let reply = self.dispatch(endpoint, &q);
        match q.get("callback") {
            "" => reply,
            callback => reply.jsonp(callback),
        }
    }

    fn route(&self, path: &str) -> Option<Endpoint> {
        if path == self.base || (self.base.is_empty() && path == "/") {
            return Some(Endpoint::Root);
        }
        Endpoint::of(path.strip_prefix(self.base.as_str())?)
    }

    pub(crate) fn dispatch(&self, endpoint: Endpoint, q: &Query) -> Reply {
        let server = &self.server;
        let json = |doc: &dyn erased::Doc| Reply::json(doc.indented());
        match endpoint {
            Endpoint::Root => {
                self.stats.count("/");
                Reply::html(root::page(&self.base))
            }
            Endpoint::Varz => {
                self.stats.count("/varz");
                json(&varz::varz(server, self.figures()))
            }
            Endpoint::Connz => {
                let opts = match connz::ConnzOptions::from_query(q) {
                    Ok(o) => o,
                    Err(e) => return Reply::bad_request(e),
                };
                self.stats.count("/connz");
                match connz::connz(server, &opts) {
                    Ok(c) => json(&c),
                    Err(e) => Reply::bad_request(e),
                }
            }
            Endpoint::Routez => {
                let subs = match q.subs() {
                    Ok(s) => s,
                    Err(e) => return Reply::bad_request(e),
                };
                self.stats.count("/routez");
                json(&routez::routez(server, subs))
            }
            Endpoint::Subsz => {
                self.stats.count("/subsz");
                match subsz::SubszOptions::from_query(q).and_then(|o| subsz::subsz(server, &o)) {
                    Ok(s) => json(&s),
                    Err(e) => Reply::bad_request(e),
                }
            }
            Endpoint::Healthz => {
                self.stats.count("/healthz");
                healthz::healthz(q, server.last_reload().as_deref())
            }
            Endpoint::Gatewayz => {
                self.stats.count("/gatewayz");
                absent::gatewayz(server, q)
            }
            Endpoint::Leafz => {
                self.stats.count("/leafz");
                absent::leafz(server, q)
            }
            Endpoint::Jsz => {
                self.stats.count("/jsz");
                absent::jsz(server, q)
            }
            Endpoint::Accountz => {
                self.stats.count("/accountz");
                accountz::accountz(server, q)
            }
            Endpoint::Accstatz => {
                self.stats.count("/accstatz");
                accountz::accstatz(server, q)
            }
            Endpoint::Ipqueuesz => absent::ipqueuesz(q),
            Endpoint::Raftz => absent::raftz(),
            Endpoint::Metrics => {
                self.stats.count("/metrics");
                Reply::text(PROMETHEUS, self.metrics())
            }
            Endpoint::Dashboard => {
                self.stats.count("/dashboard");
                super::dashboard::reply()
            }
        }
    }

    pub(crate) fn figures(&self) -> MonitorFigures {
        MonitorFigures { http_req_stats: self.stats.snapshot(), usage: self.cpu.usage() }
    }

    /// `/metrics`: the documents the exporter would poll, converted.
    fn metrics(&self) -> String {
        let server = &self.server;
        let mut e = metrics::Exposition::new(server.id());
        let as_value = |doc: &dyn erased::Doc| serde_json::from_slice(&doc.indented()).unwrap_or_default();
        e.flatten("varz", &as_value(&varz::varz(server, self.figures())));
        e.flatten("routez", &as_value(&routez::routez(server, super::query::Subs::None)));
        if let Ok(s) = subsz::subsz(server, &subsz::SubszOptions::default()) {
            e.flatten("subsz", &as_value(&s));
        }
        if let Ok(c) = connz::connz(server, &connz::ConnzOptions::default()) {
            let conns = c.connections.as_deref().unwrap_or_default();
            let sum = |f: fn(&connz::ConnInfo) -> u64| conns.iter().map(f).sum::<u64>() as f64;
            e.metric("gnatsd_connz_num_connections", "num_connections", "gauge", c.num_connections as f64);
            e.metric("gnatsd_connz_total", "total", "gauge", c.total as f64);
            e.metric("gnatsd_connz_offset", "offset", "gauge", c.offset as f64);
            e.metric("gnatsd_connz_limit", "limit", "gauge", c.limit as f64);
            e.metric("gnatsd_connz_pending_bytes", "pending_bytes", "gauge", sum(|c| c.pending_bytes));
            e.metric("gnatsd_connz_subscriptions", "subscriptions", "gauge", sum(|c| c.subscriptions as u64));
            e.metric("gnatsd_connz_in_bytes", "in_bytes", "counter", sum(|c| c.in_bytes));
            e.metric("gnatsd_connz_out_bytes", "out_bytes", "counter", sum(|c| c.out_bytes));
            e.metric("gnatsd_connz_in_msgs", "in_msgs", "counter", sum(|c| c.in_msgs));
            e.metric("gnatsd_connz_out_msgs", "out_msgs", "counter", sum(|c| c.out_msgs));
        }
        // The server answers, so it is healthy.
        e.metric("gnatsd_healthz_status", "status", "gauge", 0.0);
        e.labelled("gnatsd_healthz_status_value", "status", ("value", "ok".into()), 1.0);
        e.render()
    }
}

/// Go's `cleanPath`: `path.Clean`, rooted, keeping a trailing slash.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if p.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

/// A path as Go's `url.URL.String()` writes it for a redirect: escapes
/// already in it are kept as written (`%7e` stays lower case), and every
/// byte a URL path may not hold is escaped (`^` → `%5E`, UTF-8 → `%C3%A9`),
/// so the `Location` is always a valid header and URL.
fn escape_location(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@[]/%".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Serialising any reply type to Go's indented JSON through one signature.
mod erased {
    pub trait Doc {
        fn indented(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Doc for T {
        fn indented(&self) -> Vec<u8> {
            super::gojson::to_vec_indent(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clean_path;

    #[test]
    fn locations_are_escaped_as_go() {
        use super::escape_location;
        assert_eq!(escape_location("/i\u{e9}^x"), "/i%C3%A9%5Ex");
        assert_eq!(escape_location("/%7e/a%20b/c"), "/%7e/a%20b/c");
        assert_eq!(escape_location("/a/\0\t"), "/a/%00%09");
        assert_eq!(escape_location("/!$&'()*+,;=:@[]-._~"), "/!$&'()*+,;=:@[]-._~");
    }

    #[test]
    fn cleans_as_go() {
        assert_eq!(clean_path("/varz"), "/varz");
        assert_eq!(clean_path("//varz"), "/varz");
        assert_eq!(clean_path("/./varz"), "/varz");
        assert_eq!(clean_path("/varz/../connz"), "/connz");
        assert_eq!(clean_path("/varz/"), "/varz/");
        assert_eq!(clean_path("/varz/."), "/varz");
        assert_eq!(clean_path("/a/.."), "/");
        assert_eq!(clean_path("/.."), "/");
        assert_eq!(clean_path(""), "/");
    }
}
