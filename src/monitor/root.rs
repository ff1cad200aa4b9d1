//! `/` (the base path itself): a page of links to every endpoint, as
//! nats-server serves one, plus rnats's dashboard and metrics. Like the
//! dashboard it loads nothing from anywhere (no remote favicon or font).

use crate::options::COMPAT_VERSION;

/// (title, path) of each link, in nats-server's order, then rnats's own.
const LINKS: &[(&str, &str)] = &[
    ("General", "/varz"),
    ("JetStream", "/jsz"),
    ("Connections", "/connz"),
    ("Accounts", "/accountz"),
    ("Account Stats", "/accstatz"),
    ("Subscriptions", "/subsz"),
    ("Routes", "/routez"),
    ("LeafNodes", "/leafz"),
    ("Gateways", "/gatewayz"),
    ("Raft Groups", "/raftz"),
    ("Health Probe", "/healthz"),
    ("Dashboard", "/dashboard"),
    ("Prometheus Metrics", "/metrics"),
];

/// The page for a server whose endpoints live under `base` ("" or `/mon`).
/// Links are relative to the page, as nats-server writes them
/// (`./varz`, `./mon/varz`), so they work behind a proxy that adds a prefix.
pub fn page(base: &str) -> String {
    let mut links = String::new();
    for (title, path) in LINKS {
        links.push_str(&format!("    <a href=\".{base}{path}\">{title}<span class=\"endpoint\"> {path}</span></a>\n"));
    }
    format!(
        "<!DOCTYPE html>
<html lang=\"en\">
<head>
  <meta charset=\"utf-8\">
  <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
  <link rel=\"icon\" href=\"data:,\">
  <title>rnats monitoring</title>
  <style>
    :root {{ color-scheme: light dark; }}
    body {{ font-family: ui-sans-serif, system-ui, sans-serif; margin: 2rem; max-width: 40rem; }}
    h1 {{ font-size: 1.4rem; margin-bottom: 0.2rem; }}
    .version {{ color: #888; font-size: 0.9rem; margin-bottom: 1.2rem; }}
    a {{ display: block; padding: 0.3rem 0; text-decoration: none; }}
    .endpoint {{ color: #888; font-family: ui-monospace, monospace; font-size: 0.8rem; }}
  </style>
</head>
<body>
  <h1>rnats monitoring</h1>
  <div class=\"version\">rnats {} &middot; nats-server {COMPAT_VERSION} compatible</div>
  <nav>
{links}  </nav>
  <p><a href=\"https://docs.nats.io/running-a-nats-service/nats_admin/monitoring\">Help</a></p>
</body>
</html>
",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_carry_the_base_path() {
        let page = super::page("/mon");
        assert!(page.contains("<a href=\"./mon/varz\">General"), "{page}");
        assert!(page.contains("<a href=\"./mon/dashboard\">Dashboard"));
        assert!(super::page("").contains("<a href=\"./connz\">Connections"));
    }
}
