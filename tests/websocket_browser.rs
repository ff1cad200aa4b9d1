//! A real browser over the websocket listener: headless Chromium (Debian's
//! `chromium`) loads a page that connects with the official JavaScript
//! client (npm `nats.ws`, its bundled ES module), subscribes, publishes,
//! makes requests that a TCP client (async-nats) answers, receives what the
//! TCP client publishes, and posts its findings back to the test. The page
//! and the module are served by the test itself; the browser reaches
//! nothing else.
//!
//! The module is not part of the repository: `.ci/run` installs it with
//! `npm install --prefix target/js nats.ws@1.30.3` (Apache-2.0);
//! `RNATS_NATS_WS=/path/to/nats.js` points elsewhere.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use rnats::cli::FlagOverlay;
use rnats::options::Port;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RNATS_CHROMIUM") {
        return Some(p.into());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| PathBuf::from(d).join(n)))
        .find(|p| p.is_file())
}

fn nats_ws_module() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RNATS_NATS_WS") {
        return Some(p.into());
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/js/node_modules/nats.ws/esm/nats.js");
    p.is_file().then_some(p)
}

fn skip(test: &str, why: &str) {
    if std::env::var_os("RNATS_REQUIRE_BROWSER").is_some() {
        panic!("{test}: RNATS_REQUIRE_BROWSER is set but {why}");
    }
    eprintln!("\n!! SKIPPED {test}: {why}\n");
}

/// The page: every step's outcome, posted back as JSON.
fn page(ws_url: &str) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>rnats websocket</title>
<script type="module">
import {{ connect, StringCodec }} from "/nats.js";
const sc = StringCodec();
const report = {{ steps: [] }};
const step = (name, ok, detail) => report.steps.push({{ name, ok, detail: String(detail ?? "") }});
try {{
  const nc = await connect({{ servers: "{ws_url}", timeout: 5000 }});
  step("connect", true, nc.getServer());
  const fromTcp = nc.subscribe("from.tcp", {{ max: 1 }});
  const self = nc.subscribe("self.echo", {{ max: 1 }});
  await nc.flush();
  nc.publish("browser.ready", sc.encode("ready"));
  nc.publish("self.echo", sc.encode("to myself"));
  for await (const m of self) step("pubsub", sc.decode(m.data) === "to myself", sc.decode(m.data));
  const reply = await nc.request("tcp.svc", sc.encode("hello from the browser"), {{ timeout: 5000 }});
  step("request", sc.decode(reply.data) === "tcp says: hello from the browser", sc.decode(reply.data));
  const big = "0123456789abcdef".repeat(8192);
  const bigReply = await nc.request("tcp.svc", sc.encode(big), {{ timeout: 5000 }});
  step("large request", sc.decode(bigReply.data) === "tcp says: " + big, bigReply.data.length);
  for await (const m of fromTcp) step("from tcp", sc.decode(m.data) === "hi browser", sc.decode(m.data));
  step("servers", true, JSON.stringify(nc.info && nc.info.port));
  await nc.close();
  step("close", true, "");
}} catch (e) {{
  step("error", false, e && (e.stack || e.message || e));
}}
await fetch("/result", {{ method: "POST", body: JSON.stringify(report) }});
</script>
"#
    )
}

/// Serves the page and the module until the page posts its report.
async fn serve(listener: TcpListener, html: String, module: Vec<u8>) -> serde_json::Value {
    loop {
        let (mut sock, _) = listener.accept().await.expect("accept");
        let mut req = Vec::new();
        let mut buf = [0u8; 8192];
        // The head, and for the POST its body (Content-Length).
        let body = loop {
            let n = sock.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break None;
            }
            req.extend_from_slice(&buf[..n]);
            let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if req.len() >= end + 4 + len {
                break Some((head, req[end + 4..end + 4 + len].to_vec()));
            }
        };
        let Some((head, body)) = body else { continue };
        let (status, kind, content): (&str, &str, Vec<u8>) = if head.starts_with("get / ") {
            ("200 OK", "text/html; charset=utf-8", html.clone().into_bytes())
        } else if head.starts_with("get /nats.js ") {
            ("200 OK", "text/javascript", module.clone())
        } else if head.starts_with("post /result ") {
            let _ = sock.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await;
            return serde_json::from_slice(&body).expect("the report is JSON");
        } else {
            ("404 Not Found", "text/plain", b"not found".to_vec())
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            content.len()
        );
        let _ = sock.write_all(head.as_bytes()).await;
        let _ = sock.write_all(&content).await;
    }
}

struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn run_page(conf: &str) -> serde_json::Value {
    let bin = chromium().expect("checked");
    let module = std::fs::read(nats_ws_module().expect("checked")).expect("read nats.js");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, conf).unwrap();
    let overlay = FlagOverlay { host: Some("127.0.0.1".into()), port: Some(Port::Random), ..FlagOverlay::default() };
    let loaded = rnats::conf::load(&path, &overlay);
    assert!(!loaded.failed(false), "{}", loaded.render());
    let server = rnats::launch::Server::start(loaded.options).await.unwrap();
    let ws_port = server.state().ws_addr().unwrap().port();

    // The TCP side: answers requests, and greets the browser once it is ready.
    let tcp = async_nats::connect(format!("nats://{}", server.client_addr())).await.unwrap();
    let mut svc = tcp.subscribe("tcp.svc").await.unwrap();
    let mut ready = tcp.subscribe("browser.ready").await.unwrap();
    tcp.flush().await.unwrap();
    let responder = tcp.clone();
    tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            let mut answer = b"tcp says: ".to_vec();
            answer.extend_from_slice(&m.payload);
            let _ = responder.publish(m.reply.unwrap(), answer.into()).await;
        }
    });
    let greeter = tcp.clone();
    tokio::spawn(async move {
        if ready.next().await.is_some() {
            let _ = greeter.publish("from.tcp", "hi browser".into()).await;
        }
    });

    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_url = format!("http://127.0.0.1:{}/", http.local_addr().unwrap().port());
    let report = tokio::spawn(serve(http, page(&format!("ws://127.0.0.1:{ws_port}")), module));
    let profile = tempfile::tempdir().unwrap();
    let _browser = Browser(
        Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(&page_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts"),
    );
    let report = tokio::time::timeout(Duration::from_secs(90), report)
        .await
        .expect("the page reported within 90s")
        .expect("report task");
    server.shutdown().await;
    report
}

fn assert_steps(report: &serde_json::Value, wanted: &[&str]) {
    eprintln!("{report}");
    let steps = report["steps"].as_array().expect("steps");
    for name in wanted {
        let step = steps.iter().find(|s| s["name"] == *name);
        assert!(step.is_some_and(|s| s["ok"] == true), "step {name}: {report:#}");
    }
}

#[tokio::test]
async fn the_javascript_client_in_chromium() {
    if chromium().is_none() {
        return skip("the_javascript_client_in_chromium", "chromium not found (apt-get install -y chromium)");
    }
    if nats_ws_module().is_none() {
        return skip(
            "the_javascript_client_in_chromium",
            "nats.ws not installed (npm install --prefix target/js nats.ws@1.30.3)",
        );
    }
    let all = ["connect", "pubsub", "request", "large request", "from tcp", "close"];
    // Plain, then compressed: Chromium offers permessage-deflate, and as a
    // browser it gets 4 KiB frames (compressed messages fragmented).
    let report = run_page("websocket { listen: \"127.0.0.1:-1\", no_tls: true }\n").await;
    assert_steps(&report, &all);
    let report = run_page("websocket { listen: \"127.0.0.1:-1\", no_tls: true, compression: true }\n").await;
    assert_steps(&report, &all);
}
