//! `/dashboard` in a real browser: headless Chromium (Debian's `chromium`)
//! loads the page from a running server with known clients, lets it poll,
//! and the rendered DOM must show the server, the clients (names as text,
//! never as markup), the counters, the charts, the requested sort order and
//! the colour scheme. The page may reach nothing but the server: Chromium
//! is started without network services and the page's CSP forbids the rest.
//!
//! `RNATS_SCREENSHOTS=DIR` also writes laptop and phone screenshots there
//! (how docs/dashboard.png is made).

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{Raw, TestServer};

/// The browser: `RNATS_CHROMIUM`, or Debian's `chromium` on PATH.
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

fn skip(test: &str) {
    if std::env::var_os("RNATS_REQUIRE_BROWSER").is_some() {
        panic!("{test}: RNATS_REQUIRE_BROWSER is set but chromium was not found");
    }
    eprintln!("\n!! SKIPPED {test}: chromium not found (apt-get install -y chromium chromium-driver)\n");
}

/// Runs headless Chromium on `url` with `extra` flags; returns stdout.
fn browse(bin: &PathBuf, url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut cmd = Command::new(bin);
    cmd.args([
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
        "--hide-scrollbars",
        // Virtual time runs the page's one-second timer quickly; fetches
        // still go to the server for real.
        "--virtual-time-budget=8000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url);
    let out = run_bounded(cmd, Duration::from_secs(60));
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `cmd` with a time limit (a browser that hangs must not hang the suite).
fn run_bounded(mut cmd: Command, limit: Duration) -> Vec<u8> {
    use std::io::Read;
    let mut child =
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let deadline = std::time::Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("reader")
}

/// Clients the page must show: a publisher with traffic, a subscriber whose
/// name tries to be markup, one without a name.
async fn clients(addr: SocketAddr) -> Vec<Raw> {
    let mut out = Vec::new();
    for (connect, script) in [
        (
            r#"{"name":"orders-service","lang":"go","version":"1.41.1","verbose":false}"#,
            "SUB orders.> 1\r\nSUB orders.* 2\r\n",
        ),
        (
            r#"{"name":"<img src=x onerror=alert(1)>billing","lang":"python3","version":"2.9.0","verbose":false}"#,
            "SUB invoices.* 1\r\n",
        ),
        (r#"{"verbose":false}"#, "SUB audit 1\r\nSUB a 2\r\nSUB b 3\r\n"),
    ] {
        let mut r = Raw::connect(addr).await;
        r.send(format!("CONNECT {connect}\r\n{script}PING\r\n").as_bytes()).await;
        r.expect(b"PONG\r\n").await;
        out.push(r);
    }
    let publisher = &mut out[0];
    let mut burst = Vec::new();
    for _ in 0..500 {
        burst.extend_from_slice(b"PUB invoices.new 11\r\nhello world\r\n");
    }
    burst.extend_from_slice(b"PING\r\n");
    publisher.send(&burst).await;
    publisher.expect(b"PONG\r\n").await;
    out
}

/// The text of the element with `id` in a dumped DOM.
fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("#{id} in the DOM"));
    let from = start + dom[start..].find('>').expect("tag end") + 1;
    let to = from + dom[from..].find('<').expect("text end");
    &dom[from..to]
}

fn row_cids(dom: &str) -> Vec<u64> {
    dom.match_indices("<tr data-cid=\"")
        .map(|(i, m)| dom[i + m.len()..].split('"').next().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_renders_the_live_server() {
    let Some(bin) = chromium() else {
        skip("dashboard_renders_the_live_server");
        return;
    };
    let s = TestServer::with(|o| {
        // Counts of the clients' own subscriptions only.
        o.no_system_account = true;
        o.http_port = Some(-1);
        o.server_name = Some("dash-test".into());
    })
    .await;
    let mon = s.server.monitor_url().expect("monitoring").to_string();
    let _clients = clients(s.addr()).await;
    let url = format!("{mon}/dashboard");

    let dom = tokio::task::spawn_blocking({
        let (bin, url) = (bin.clone(), url.clone());
        move || browse(&bin, &url, &["--dump-dom", "--window-size=1280,900"])
    })
    .await
    .unwrap();
    let polls: u32 =
        dom.split("data-polls=\"").nth(1).and_then(|r| r.split('"').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(polls >= 2, "the page polled the server repeatedly (polls={polls}):\n{dom}");
    assert_eq!(text_of(&dom, "status"), "live");
    assert_eq!(text_of(&dom, "server-name"), "dash-test");
    assert!(text_of(&dom, "server-meta").starts_with("v2.15.1 · up "), "{}", text_of(&dom, "server-meta"));
    assert!(text_of(&dom, "server-meta").ends_with(s.server.state().id()), "the id is shown when a name is set");
    assert_eq!(text_of(&dom, "v-connections"), "3");
    assert_eq!(text_of(&dom, "v-subs"), "6");
    assert_eq!(text_of(&dom, "v-slow"), "0");
    // Every connection, in cid order by default, names as text.
    assert_eq!(row_cids(&dom), [5, 6, 7]);
    assert!(dom.contains(">orders-service<") && dom.contains(">go 1.41.1<"));
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;billing"), "names are escaped text");
    assert!(!dom.contains("<img src=\"x\"") && !dom.contains("<img src=x"), "no markup from clients");
    // 500 messages from the publisher, shown as 500 in its row.
    assert!(dom.contains("<td>500</td>"), "publisher's msgs in: {dom}");
    // Charts drawn from the polls: one line per series.
    for series in ["conns", "inMsgs", "outMsgs", "inBytes", "outBytes"] {
        assert!(dom.contains(&format!("data-series=\"{series}\"")), "{series} chart line");
    }

    // The sort order from the address: most subscriptions first.
    let sorted = tokio::task::spawn_blocking({
        let (bin, url) = (bin.clone(), format!("{url}#sort=-subscriptions"));
        move || browse(&bin, &url, &["--dump-dom"])
    })
    .await
    .unwrap();
    assert_eq!(row_cids(&sorted), [7, 5, 6]);
    assert!(sorted.contains("data-key=\"subscriptions\" aria-sort=\"descending\""), "the header shows the order");

    // Dark when the system asks for it.
    let dark = tokio::task::spawn_blocking({
        let (bin, url) = (bin.clone(), url.clone());
        move || browse(&bin, &url, &["--dump-dom", "--force-dark-mode", "--blink-settings=preferredColorScheme=0"])
    })
    .await
    .unwrap();
    assert!(dark.contains("data-scheme=\"dark\""), "dark scheme seen by the page");
    assert!(dom.contains("data-scheme=\"light\""), "light by default");

    if let Some(dir) = std::env::var_os("RNATS_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        for (file, size, extra) in
            [("dashboard.png", "1280,900", None), ("dashboard-phone-dark.png", "390,844", Some("--force-dark-mode"))]
        {
            let path = dir.join(file);
            let (bin, url) = (bin.clone(), url.clone());
            tokio::task::spawn_blocking(move || {
                let shot = format!("--screenshot={}", path.display());
                let size = format!("--window-size={size}");
                let mut flags = vec![shot.as_str(), size.as_str()];
                flags.extend(extra);
                browse(&bin, &url, &flags);
            })
            .await
            .unwrap();
        }
    }
}
