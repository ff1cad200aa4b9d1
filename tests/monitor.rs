//! The monitoring port against real clients: counters, paging and sort
//! orders, subscription listings, the closed-connection ring, request
//! counting, HTTP details (errors, redirects, HEAD, JSONP, CORS, base path),
//! `/metrics`, the JSON Schemas, `http_auth` and HTTPS.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::http::{get, get_json, request, HttpReply};
use common::{wait_until, Raw, TestServer, WAIT};
use futures_util::StreamExt;
use rnats::options::{HttpAuth, Options, Port};
use serde_json::{json, Value};

/// A server with the monitoring port on an OS-picked loopback port.
async fn monitored(configure: impl FnOnce(&mut Options)) -> (TestServer, String) {
    let s = TestServer::with(|o| {
        o.http_port = Some(-1);
        configure(o);
    })
    .await;
    let url = s.server.monitor_url().expect("monitoring is on").to_string();
    (s, url)
}

async fn named(s: &TestServer, name: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new().name(name).connect(s.url()).await.expect("client connects")
}

/// A raw client that sent CONNECT (with `connect` merged in) and `script`,
/// then PING; returns once the PONG came back (everything before it was
/// processed).
async fn raw(addr: SocketAddr, connect: Value, script: &str) -> Raw {
    let mut c = json!({"verbose": false, "pedantic": false, "protocol": 1});
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), connect) {
        c.extend(extra);
    }
    let mut r = Raw::connect(addr).await;
    r.send(format!("CONNECT {c}\r\n{script}PING\r\n").as_bytes()).await;
    until_pong(&mut r).await;
    r
}

async fn until_pong(r: &mut Raw) {
    for _ in 0..100_000 {
        if r.read_line().await == "PONG\r\n" {
            return;
        }
    }
    panic!("no PONG");
}

/// `n` messages of `size` bytes to `subject`.
fn pubs(subject: &str, n: usize, size: usize) -> String {
    let payload = "p".repeat(size);
    (0..n).map(|_| format!("PUB {subject} {size}\r\n{payload}\r\n")).collect()
}

fn cids(connz: &Value) -> Vec<u64> {
    connz["connections"].as_array().expect("connections").iter().map(|c| c["cid"].as_u64().expect("cid")).collect()
}

/// Nanoseconds since the epoch of an RFC 3339 time as /connz writes them.
fn nanos(t: &Value) -> i128 {
    let s = t.as_str().expect("time string");
    let ms = rnats::monitor::gotime::rfc3339_to_unix_millis(s).expect("RFC 3339") as i128;
    let frac = s.split_once('.').map(|(_, f)| f.trim_end_matches('Z')).unwrap_or("");
    let sub_ms: i128 = format!("{frac:0<9}")[3..9].parse().unwrap_or(0);
    ms * 1_000_000 + sub_ms
}

/// Go's `time.Duration` text back into nanoseconds (`rtt`).
fn rtt_nanos(v: &Value) -> f64 {
    let s = v.as_str().expect("rtt");
    for (unit, scale) in [("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)] {
        if let Some(n) = s.strip_suffix(unit).and_then(|n| n.parse::<f64>().ok()) {
            return n * scale;
        }
    }
    panic!("rtt {s}");
}

#[tokio::test]
async fn varz_and_connz_count_every_message_once() {
    // Counts of the clients' own subscriptions: no system account, whose
    // requests and imports are entries too.
    let (s, mon) = monitored(|o| o.no_system_account = true).await;
    let alice = named(&s, "alice").await;
    let mut a1 = alice.subscribe("m.*").await.unwrap();
    let mut a2 = alice.subscribe("m.x").await.unwrap();
    alice.flush().await.unwrap();
    let bob = named(&s, "bob").await;
    let mut b1 = bob.queue_subscribe("m.>", "workers".into()).await.unwrap();
    bob.flush().await.unwrap();
    let publisher = named(&s, "pub").await;
    for _ in 0..10 {
        publisher.publish("m.x", Bytes::from(vec![b'z'; 100])).await.unwrap();
    }
    publisher.flush().await.unwrap();
    for sub in [&mut a1, &mut a2, &mut b1] {
        for _ in 0..10 {
            tokio::time::timeout(WAIT, sub.next()).await.expect("delivered").expect("open");
        }
    }

    let v = get_json(&mon, "/varz").await;
    for (k, want) in [
        ("in_msgs", 10),
        ("in_bytes", 1000),
        ("in_client_msgs", 10),
        ("in_client_bytes", 1000),
        ("out_msgs", 30),
        ("out_bytes", 3000),
        ("out_client_msgs", 30),
        ("out_client_bytes", 3000),
        ("connections", 3),
        ("total_connections", 3),
        ("subscriptions", 3),
        ("slow_consumers", 0),
    ] {
        assert_eq!(v[k], want, "{k}");
    }
    assert_eq!(v["server_id"], s.server.state().id());
    assert_eq!(v["port"], s.addr().port());
    assert_eq!(v["http_port"], -1, "as configured, as nats-server reports it");

    let c = get_json(&mon, "/connz").await;
    assert_eq!(
        (c["num_connections"].as_u64(), c["total"].as_u64(), c["limit"].as_u64()),
        (Some(3), Some(3), Some(1024))
    );
    let by_name = |n: &str| c["connections"].as_array().unwrap().iter().find(|x| x["name"] == n).cloned().unwrap();
    let (a, b, p) = (by_name("alice"), by_name("bob"), by_name("pub"));
    assert_eq!(
        (&a["out_msgs"], &a["out_bytes"], &a["in_msgs"], &a["subscriptions"]),
        (&json!(20), &json!(2000), &json!(0), &json!(2))
    );
    assert_eq!((&b["out_msgs"], &b["subscriptions"]), (&json!(10), &json!(1)));
    assert_eq!((&p["in_msgs"], &p["in_bytes"], &p["out_msgs"]), (&json!(10), &json!(1000), &json!(0)));
    assert_eq!(a["lang"], "rust");
    assert_eq!((&a["kind"], &a["type"], &a["ip"]), (&json!("Client"), &json!("nats"), &json!("127.0.0.1")));
    assert!(nanos(&p["last_activity"]) >= nanos(&p["start"]));

    // A closed connection's traffic stays in the totals.
    drop(b1);
    drop(bob);
    wait_until("bob is closed", || s.server.state().closed().len() == 1).await;
    let v = get_json(&mon, "/varz").await;
    assert_eq!((&v["out_msgs"], &v["connections"], &v["total_connections"]), (&json!(30), &json!(2), &json!(3)));
    let closed = get_json(&mon, "/connz?state=closed").await;
    assert_eq!(closed["connections"][0]["name"], "bob");
    assert_eq!(closed["connections"][0]["out_msgs"], 10);
    assert_eq!(closed["connections"][0]["reason"], "Client Closed");
}

/// Five connections with different counts: every sort order, paging and
/// the `cid` lookup.
#[tokio::test]
async fn connz_sorts_and_pages_as_nats_server() {
    let (s, mon) = monitored(|_| {}).await;
    let (pub_count, pub_size) = ([4, 1, 3, 2], [5, 100, 10, 1]);
    let (recv_count, recv_size) = ([2, 5, 1, 3], [50, 1, 40, 2]);
    let mut conns = Vec::new();
    for i in 0..4 {
        let subs: String = (0..=i).map(|k| format!("SUB t{i}.{k} {}\r\n", k + 1)).collect();
        let script = subs + &pubs("void", pub_count[i], pub_size[i]);
        conns.push(raw(s.addr(), json!({"name": format!("n{i}"), "lang": "raw", "version": "1.0"}), &script).await);
    }
    let feeder_script: String = (0..4).map(|i| pubs(&format!("t{i}.0"), recv_count[i], recv_size[i])).collect();
    let _feeder = raw(s.addr(), json!({"name": "feeder"}), &feeder_script).await;
    for c in &mut conns {
        c.send(b"PING\r\n").await;
        until_pong(c).await;
    }
    let all = get_json(&mon, "/connz").await;
    let ids = cids(&all);
    assert_eq!(ids.len(), 5);
    let (c, f) = (&ids[..4], ids[4]);
    let order = |idx: &[usize]| idx.iter().map(|&i| if i == 4 { f } else { c[i] }).collect::<Vec<u64>>();
    for (sort, want) in [
        ("cid", order(&[0, 1, 2, 3, 4])),
        ("start", order(&[0, 1, 2, 3, 4])),
        ("subs", order(&[3, 2, 1, 0, 4])),
        ("msgs_from", order(&[4, 0, 2, 3, 1])),
        ("bytes_from", order(&[4, 1, 2, 0, 3])),
        ("msgs_to", order(&[1, 3, 0, 2, 4])),
        ("bytes_to", order(&[0, 2, 3, 1, 4])),
        ("pending", order(&[0, 1, 2, 3, 4])),
        ("uptime", order(&[4, 3, 2, 1, 0])),
    ] {
        assert_eq!(cids(&get_json(&mon, &format!("/connz?sort={sort}")).await), want, "sort={sort}");
    }
    // Time-based orders, checked against the values in the same reply
    // (ties broken by cid). `rtt` is shown truncated to the microsecond
    // but sorted on the exact value, as nats-server does, so two rows that
    // show the same rtt may come in either order.
    type Key = fn(&Value) -> f64;
    let last: Key = |c| nanos(&c["last_activity"]) as f64;
    let rtt: Key = |c| rtt_nanos(&c["rtt"]);
    for (sort, key, descending, exact) in
        [("last", last, true, true), ("idle", last, false, true), ("rtt", rtt, true, false)]
    {
        let reply = get_json(&mon, &format!("/connz?sort={sort}")).await;
        let rows = reply["connections"].as_array().unwrap();
        for w in rows.windows(2) {
            let (a, b) = (key(&w[0]), key(&w[1]));
            let ok = if a == b { !exact || w[0]["cid"].as_u64() < w[1]["cid"].as_u64() } else { (a > b) == descending };
            assert!(ok, "sort={sort}: {} before {}", w[0], w[1]);
        }
    }
    // Exact counts as driven.
    let row = |cid: u64| all["connections"].as_array().unwrap().iter().find(|r| r["cid"] == cid).cloned().unwrap();
    for i in 0..4 {
        let r = row(c[i]);
        assert_eq!(r["subscriptions"], i + 1);
        assert_eq!(r["in_msgs"], pub_count[i]);
        assert_eq!(r["in_bytes"], pub_count[i] * pub_size[i]);
        assert_eq!(r["out_msgs"], recv_count[i]);
        assert_eq!(r["out_bytes"], recv_count[i] * recv_size[i]);
        assert_eq!((&r["name"], &r["lang"], &r["version"]), (&json!(format!("n{i}")), &json!("raw"), &json!("1.0")));
    }
    assert_eq!(row(f)["in_bytes"], 151);
    assert!(row(f).get("lang").is_none(), "no lang in CONNECT, no key: {}", row(f));

    // Paging after sorting; nats-server's clamping.
    let page = get_json(&mon, "/connz?sort=subs&offset=1&limit=2").await;
    assert_eq!(cids(&page), order(&[2, 1]));
    assert_eq!(
        (&page["num_connections"], &page["total"], &page["offset"], &page["limit"]),
        (&json!(2), &json!(5), &json!(1), &json!(2))
    );
    let past = get_json(&mon, "/connz?offset=10").await;
    assert_eq!((past["connections"].clone(), &past["total"]), (json!([]), &json!(5)));
    let clamped = get_json(&mon, "/connz?limit=-5&offset=-3").await;
    assert_eq!((&clamped["limit"], &clamped["offset"], cids(&clamped).len()), (&json!(1024), &json!(0), 5));
    let one = get_json(&mon, &format!("/connz?cid={}", c[2])).await;
    assert_eq!((cids(&one), &one["limit"], &one["total"]), (vec![c[2]], &json!(1), &json!(5)));
    let none = get_json(&mon, "/connz?cid=999").await;
    assert_eq!((none["connections"].clone(), &none["total"], &none["limit"]), (json!([]), &json!(5), &json!(1)));
    let by_user = get_json(&mon, "/connz?user=nobody").await;
    assert_eq!((&by_user["num_connections"], &by_user["total"]), (&json!(0), &json!(5)));
    assert_eq!(get_json(&mon, "/connz?acc=$G").await["total"], 5);
    let unknown = get_json(&mon, "/connz?acc=NOPE").await;
    assert_eq!(
        (&unknown["server_id"], &unknown["connections"], &unknown["total"]),
        (&json!(""), &Value::Null, &json!(0))
    );
}

#[tokio::test]
async fn subscription_listings() {
    // Counts of the clients' own subscriptions: no system account, whose
    // requests and imports are entries too.
    let (s, mon) = monitored(|o| o.no_system_account = true).await;
    let script = "SUB foo 1\r\nSUB bar q1 2\r\nSUB limited 3\r\nUNSUB 3 5\r\nSUB orders.> 10\r\n";
    let _c = raw(s.addr(), json!({"name": "lister"}), script).await;
    let _p = raw(s.addr(), json!({}), &pubs("foo", 2, 3)).await;
    let cid = |v: &Value| v["connections"][0]["cid"].as_u64().unwrap();
    let listed = get_json(&mon, "/connz?subs=1&limit=1").await;
    assert_eq!(listed["connections"][0]["subscriptions_list"], json!(["foo", "bar", "limited", "orders.>"]));
    assert!(listed["connections"][0].get("subscriptions_list_detail").is_none());
    assert_eq!(
        get_json(&mon, "/connz?subs=true&limit=1").await["connections"][0]["subscriptions_list"],
        listed["connections"][0]["subscriptions_list"]
    );
    let detail = get_json(&mon, "/connz?subs=detail&limit=1").await;
    let id = cid(&detail);
    assert_eq!(
        detail["connections"][0]["subscriptions_list_detail"],
        json!([
            {"subject": "foo", "sid": "1", "msgs": 2, "cid": id},
            {"subject": "bar", "qgroup": "q1", "sid": "2", "msgs": 0, "cid": id},
            {"subject": "limited", "sid": "3", "msgs": 0, "max": 5, "cid": id},
            {"subject": "orders.>", "sid": "10", "msgs": 0, "cid": id},
        ])
    );
    // The raw body escapes `>` as Go does.
    assert!(get(&mon, "/connz?subs=1").await.text().contains("\"orders.\\u003e\""));
    // The publisher has no subscriptions: no list at all.
    assert!(get_json(&mon, "/connz?subs=1&offset=1").await["connections"][0].get("subscriptions_list").is_none());

    let subsz = get_json(&mon, "/subsz?subs=1&test=foo").await;
    assert_eq!((&subsz["total"], &subsz["num_subscriptions"]), (&json!(1), &json!(4)));
    assert_eq!(
        subsz["subscriptions_list"],
        json!([{"account": "$G", "account_tag": "$G", "subject": "foo", "sid": "1", "msgs": 2, "cid": id}])
    );
    let orders = get_json(&mon, "/subsz?subs=1&test=orders.new.eu").await;
    assert_eq!(orders["subscriptions_list"][0]["subject"], "orders.>");
    let paged = get_json(&mon, "/subsz?subs=1&offset=1&limit=2").await;
    assert_eq!((&paged["total"], paged["subscriptions_list"].as_array().map(Vec::len)), (&json!(4), Some(2)));
    let stats = get_json(&mon, "/subsz").await;
    assert_eq!((&stats["total"], stats.get("subscriptions_list")), (&json!(0), None));
    assert_eq!((&stats["num_inserts"], &stats["num_removes"]), (&json!(4), &json!(0)));
    let bad = get(&mon, "/subsz?test=foo.*").await;
    assert_eq!((bad.status, bad.text()), (400, "invalid test subject, must be valid publish subject: foo.*".into()));
    // The alias answers the same.
    assert_eq!(get_json(&mon, "/subscriptionsz?subs=1&test=foo").await["total"], 1);
    // The account filter: the one account, or one the server does not have.
    let global = get_json(&mon, "/subsz?subs=1&acc=$G").await;
    assert_eq!((&global["total"], &global["num_subscriptions"]), (&json!(4), &json!(4)));
    let nope = get_json(&mon, "/subsz?subs=1&acc=NOPE").await;
    assert_eq!(
        (&nope["total"], &nope["num_subscriptions"], nope.get("subscriptions_list")),
        (&json!(0), &json!(0), None)
    );
}

#[tokio::test]
async fn closed_connections_ring_with_reasons() {
    let (s, mon) = monitored(|o| {
        o.max_closed_clients = 4;
        o.max_payload = 64;
        o.authorization.users = vec![rnats::options::User {
            user: Some("alice".into()),
            password: Some("pw".into()),
            ..Default::default()
        }];
        o.authorization.timeout = Duration::from_millis(300);
    })
    .await;
    let closed_total = |want: usize| {
        let state = s.server.state().clone();
        move || state.closed().len() >= want || state.closed().len() == 4
    };
    let alice = json!({"user": "alice", "pass": "pw", "name": "first"});
    // 1. closes normally, with a subscription.
    drop(raw(s.addr(), alice.clone(), "SUB gone.* 1\r\n").await);
    wait_until("1 closed", closed_total(1)).await;
    // 2. wrong password.
    let mut r = Raw::connect(s.addr()).await;
    r.send(b"CONNECT {\"user\":\"alice\",\"pass\":\"nope\",\"verbose\":false}\r\n").await;
    r.expect_close().await;
    wait_until("2 closed", closed_total(2)).await;
    // 3. payload over max_payload.
    let mut r = raw(s.addr(), alice.clone(), "").await;
    r.send(b"PUB big 100\r\n").await;
    r.expect_close().await;
    wait_until("3 closed", closed_total(3)).await;
    // 4. an unknown verb.
    let mut r = raw(s.addr(), alice.clone(), "").await;
    r.send(b"FOO\r\n").await;
    r.expect_close().await;
    wait_until("4 closed", closed_total(4)).await;
    // 5. no CONNECT within the auth timeout.
    let mut r = Raw::connect(s.addr()).await;
    r.expect_close().await;
    // 6. closes with subscriptions, as alice.
    let last = raw(s.addr(), json!({"user": "alice", "pass": "pw", "name": "sixth"}), "SUB a 1\r\nSUB b 2\r\n").await;
    drop(last);
    let reasons = || async {
        let c = get_json(&mon, "/connz?state=closed").await;
        c["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["reason"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + WAIT;
    while reasons().await.last().map(String::as_str) != Some("Client Closed") || reasons().await.len() < 4 {
        assert!(std::time::Instant::now() < deadline, "ring never reached 6 closes: {:?}", reasons().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The oldest fell out; the rest in order of closing.
    assert_eq!(
        reasons().await,
        ["Maximum Message Payload Exceeded", "Protocol Violation", "Authentication Timeout", "Client Closed"]
    );
    let closed = get_json(&mon, "/connz?state=closed&subs=1&auth=1").await;
    assert_eq!(closed["total"], 4);
    let rows = closed["connections"].as_array().unwrap();
    assert_eq!(rows[3]["subscriptions_list"], json!(["a", "b"]));
    assert_eq!(
        (&rows[3]["subscriptions"], &rows[3]["authorized_user"], &rows[3]["name"]),
        (&json!(2), &json!("alice"), &json!("sixth"))
    );
    assert_eq!(rows[0]["authorized_user"], "alice");
    assert!(rows[2].get("authorized_user").is_none(), "the timed-out client sent no user");
    assert_eq!(rows[2]["rtt"], "0s", "no CONNECT, no RTT");
    for r in rows {
        assert!(nanos(&r["stop"]) >= nanos(&r["start"]), "{r}");
    }
    // Orders only valid on closed ones.
    let by_reason = get_json(&mon, "/connz?state=closed&sort=reason").await;
    let got: Vec<&str> =
        by_reason["connections"].as_array().unwrap().iter().map(|x| x["reason"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        ["Authentication Timeout", "Client Closed", "Maximum Message Payload Exceeded", "Protocol Violation"]
    );
    let by_stop = get_json(&mon, "/connz?state=closed&sort=stop").await;
    let mut want = cids(&closed);
    want.reverse();
    assert_eq!(cids(&by_stop), want, "latest stop first");
    let e = get(&mon, "/connz?sort=stop").await;
    assert_eq!((e.status, e.text()), (400, "sort by stop only valid on closed connections".into()));
    let e = get(&mon, "/connz?sort=reason&state=any").await;
    assert_eq!((e.status, e.text()), (400, "sort by reason only valid on closed connections".into()));
    // A closed connection by cid, and open plus closed together.
    let id = rows[1]["cid"].as_u64().unwrap();
    let found = get_json(&mon, &format!("/connz?state=closed&cid={id}")).await;
    assert_eq!((cids(&found), &found["connections"][0]["reason"]), (vec![id], &json!("Protocol Violation")));
    let _open = raw(s.addr(), alice, "").await;
    let any = get_json(&mon, "/connz?state=any").await;
    assert_eq!(any["total"], 5);
    assert!(any["connections"][4].get("stop").is_none() && any["connections"][0].get("stop").is_some());
    assert_eq!(get_json(&mon, "/connz?state=ALL").await["total"], 5, "state is case-insensitive");
}

#[tokio::test]
async fn requests_are_counted_as_nats_server_counts_them() {
    let (_s, mon) = monitored(|_| {}).await;
    for path in [
        "/connz?limit=x",    // bad query: 400 before counting
        "/connz?sort=bogus", // bad sort: counted
        "/connz",
        "/routez?subs=x", // not counted
        "/routez",
        "/subsz?limit=x", // counted before parsing
        "/subscriptionsz",
        "/healthz?js-enabled-only=x", // counted before parsing
        "/",
        "/nope",  // 404: never
        "//varz", // redirect: never
        "/raftz", // never
        "/ipqueuesz",
        "/jsz",
        "/leafz",
        "/gatewayz",
        "/accountz",
        "/accstatz",
    ] {
        get(&mon, path).await;
    }
    let v = get_json(&mon, "/varz").await;
    assert_eq!(
        v["http_req_stats"],
        json!({"/": 1, "/accountz": 1, "/accstatz": 1, "/connz": 2, "/gatewayz": 1, "/healthz": 1, "/jsz": 1,
               "/leafz": 1, "/routez": 1, "/subsz": 2, "/varz": 1})
    );
    // Every method counts, HEAD included.
    request(&mon, "HEAD", "/varz", &[]).await;
    assert_eq!(get_json(&mon, "/varz").await["http_req_stats"]["/varz"], 3);
}

#[tokio::test]
async fn http_details_as_nats_server() {
    let (_s, mon) = monitored(|_| {}).await;
    let json_reply = get(&mon, "/varz").await;
    assert_eq!(json_reply.header("content-type"), Some("application/json"));
    assert_eq!(json_reply.header("access-control-allow-origin"), Some("*"));
    assert!(json_reply.text().starts_with("{\n  \"server_id\": \"") && !json_reply.text().ends_with('\n'));

    let nf = get(&mon, "/varz/").await;
    assert_eq!((nf.status, nf.text()), (404, "404 page not found\n".into()));
    assert_eq!(
        (nf.header("content-type"), nf.header("x-content-type-options")),
        (Some("text/plain; charset=utf-8"), Some("nosniff"))
    );
    for p in ["/varzx", "/VARZ", "/healthz/", "/varz%2F", "/stacksz"] {
        assert_eq!(get(&mon, p).await.status, 404, "{p}");
    }
    assert_eq!(get(&mon, "/%76arz").await.status, 200, "paths are unescaped first");
    let r = get(&mon, "/varz/../connz?sort=cid").await;
    assert_eq!((r.status, r.header("location")), (307, Some("/connz?sort=cid")));
    assert_eq!(r.text(), "<a href=\"/connz?sort=cid\">Temporary Redirect</a>.\n\n");

    for (path, text) in [
        ("/connz?limit=x", "Error decoding int for 'limit': strconv.Atoi: parsing \"x\": invalid syntax"),
        ("/connz?offset=1.5", "Error decoding int for 'offset': strconv.Atoi: parsing \"1.5\": invalid syntax"),
        ("/connz?cid=-1", "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax"),
        ("/connz?auth=yes", "Error decoding boolean for 'auth': strconv.ParseBool: parsing \"yes\": invalid syntax"),
        (
            "/connz?subs=maybe",
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"maybe\": invalid syntax",
        ),
        ("/connz?state=bogus", "Error decoding state for bogus"),
        ("/connz?sort=bogus", "invalid sorting option: bogus"),
        ("/routez?subs=x", "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"x\": invalid syntax"),
        ("/accountz?acc=NOPE", "Account NOPE does not exist"),
        (
            "/connz?limit=99999999999999999999",
            "Error decoding int for 'limit': strconv.Atoi: parsing \"99999999999999999999\": value out of range",
        ),
    ] {
        let r = get(&mon, path).await;
        assert_eq!((r.status, r.text()), (400, text.to_string()), "{path}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("access-control-allow-origin"), None, "no CORS on errors");
    }
    let r = get(&mon, "/healthz").await;
    assert_eq!((r.status, r.text()), (200, "{\"status\":\"ok\"}".into()));
    let r = get(&mon, "/healthz?stream=s").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), r#"{"status":"error","error":"\"account\" must not be empty when checking stream health"}"#);
    let r = get(&mon, "/healthz?consumer=c&details=1").await;
    assert_eq!(
        r.text(),
        r#"{"status":"error","errors":[{"type":"BAD_REQUEST","error":"\"stream\" must not be empty when checking consumer health"}]}"#
    );
    assert_eq!(get(&mon, "/healthz?js-enabled-only=true&js-server-only=1").await.status, 200);
    let r = get(&mon, "/raftz").await;
    assert_eq!((r.status, r.text()), (404, "No Raft nodes registered".into()));
    assert_eq!(get(&mon, "/ipqueuesz").await.text(), "{}");
    assert_eq!(get_json(&mon, "/jsz").await["disabled"], true);
    let routez = get_json(&mon, "/routez").await;
    let (id, name) = (_s.server.state().id(), _s.server.state().name());
    assert_eq!(
        routez,
        json!({"server_id": id, "server_name": name, "now": routez["now"], "num_routes": 0, "routes": []})
    );

    // Methods: HEAD has the headers and no body; the rest answer alike.
    let head = request(&mon, "HEAD", "/varz", &[]).await;
    assert_eq!((head.status, head.header("content-type"), head.body.len()), (200, Some("application/json"), 0));
    for m in ["POST", "PUT", "DELETE", "OPTIONS"] {
        assert_eq!(request(&mon, m, "/healthz", &[]).await.text(), "{\"status\":\"ok\"}", "{m}");
    }
    // The index links every endpoint, the dashboard included.
    let root = get(&mon, "/").await;
    assert_eq!(root.header("content-type"), Some("text/html; charset=utf-8"));
    for link in ["./varz", "./connz", "./subsz", "./routez", "./healthz", "./dashboard", "./metrics"] {
        assert!(root.text().contains(&format!("href=\"{link}\"")), "{link}");
    }
}

#[tokio::test]
async fn jsonp_with_safe_callbacks_only() {
    let (_s, mon) = monitored(|_| {}).await;
    let r = get(&mon, "/varz?callback=app.onVarz").await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/javascript")));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let body = r.text();
    let inner = body.strip_prefix("/**/app.onVarz(").and_then(|b| b.strip_suffix(");")).expect("wrapped");
    assert!(serde_json::from_str::<Value>(inner).is_ok());
    assert_eq!(get(&mon, "/healthz?callback=cb").await.text(), "/**/cb({\"status\":\"ok\"});");
    for bad in ["alert(1)", "%3Cscript%3E", "a..b", "1x", "x%3By"] {
        let r = get(&mon, &format!("/connz?callback={bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.text().starts_with("invalid JSONP callback"), "{}", r.text());
        assert!(!r.text().contains('<'), "the name is never echoed raw: {}", r.text());
    }
}

#[tokio::test]
async fn base_path_as_nats_server() {
    let (_s, mon) = monitored(|o| o.http_base_path = Some("mon/".into())).await;
    assert_eq!(get(&mon, "/mon").await.status, 200);
    assert!(get(&mon, "/mon").await.text().contains("href=\"./mon/varz\""));
    assert_eq!(get(&mon, "/mon/varz").await.status, 200);
    assert_eq!(get(&mon, "/mon/dashboard").await.status, 200);
    for p in ["/mon/", "/varz", "/", "/mon/varz/"] {
        assert_eq!(get(&mon, p).await.status, 404, "{p}");
    }
    let v = get_json(&mon, "/mon/varz").await;
    assert_eq!(v["http_base_path"], "mon/", "reported as configured");
    assert_eq!(v["http_req_stats"], json!({"/": 2, "/dashboard": 1, "/varz": 2}), "keys without the base path");
}

/// `/metrics` parses as the Prometheus text format, names and types as
/// prometheus-nats-exporter, values agreeing with /varz and /connz.
#[tokio::test]
async fn metrics_agree_with_varz_and_connz() {
    // Counts of the clients' own subscriptions: no system account, whose
    // requests and imports are entries too.
    let (s, mon) = monitored(|o| o.no_system_account = true).await;
    let _sub = raw(s.addr(), json!({"name": "sub"}), "SUB m.* 1\r\nSUB n 2\r\n").await;
    let _p = raw(s.addr(), json!({}), &pubs("m.a", 7, 20)).await;
    let r = get(&mon, "/metrics").await;
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = r.text();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let id = s.server.state().id().to_string();
    let value = |name: &str| -> f64 {
        let sample = scrape.samples.iter().find(|x| x.metric == name).unwrap_or_else(|| panic!("{name} in\n{text}"));
        assert_eq!(sample.labels.get("server_id"), Some(id.as_str()), "{name}");
        match sample.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name}: not a number"),
        }
    };
    let v = get_json(&mon, "/varz").await;
    for k in [
        "in_msgs",
        "in_bytes",
        "out_msgs",
        "out_bytes",
        "connections",
        "total_connections",
        "subscriptions",
        "max_payload",
        "ping_interval",
    ] {
        assert_eq!(value(&format!("gnatsd_varz_{k}")), v[k].as_f64().unwrap(), "{k}");
    }
    assert_eq!(value("gnatsd_varz_in_msgs"), 7.0);
    assert_eq!(value("gnatsd_varz_slow_consumer_stats_clients"), 0.0);
    let start_ms = rnats::monitor::gotime::rfc3339_to_unix_millis(v["start"].as_str().unwrap()).unwrap();
    assert_eq!(value("gnatsd_varz_start"), start_ms as f64);
    let version = scrape.samples.iter().find(|x| x.metric == "gnatsd_varz_version").expect("version");
    assert_eq!(version.labels.get("value"), Some("2.15.1"));
    let c = get_json(&mon, "/connz").await;
    let sum = |k: &str| c["connections"].as_array().unwrap().iter().map(|x| x[k].as_f64().unwrap()).sum::<f64>();
    assert_eq!(value("gnatsd_connz_num_connections"), 2.0);
    assert_eq!(value("gnatsd_connz_total"), c["total"].as_f64().unwrap());
    for k in ["in_msgs", "out_msgs", "in_bytes", "out_bytes", "subscriptions", "pending_bytes"] {
        assert_eq!(value(&format!("gnatsd_connz_{k}")), sum(k), "{k}");
    }
    assert_eq!(value("gnatsd_routez_num_routes"), 0.0);
    assert_eq!(value("gnatsd_subsz_num_subscriptions"), 2.0);
    assert_eq!(value("gnatsd_healthz_status"), 0.0);
    // Types and help as the exporter: varz gauges only, connz totals counters.
    for (family, kind) in
        [("gnatsd_varz_in_msgs", "gauge"), ("gnatsd_connz_in_msgs", "counter"), ("gnatsd_connz_total", "gauge")]
    {
        assert!(text.contains(&format!("# TYPE {family} {kind}\n")), "{family} {kind}");
    }
    assert!(text.contains("# HELP gnatsd_varz_in_msgs in_msgs\n"));
    assert!(!text.contains("auth_required") && !text.contains("gnatsd_varz_now"), "booleans and `now` are skipped");
}

/// Every endpoint's live reply validates against its schema in `schemas/`.
#[tokio::test]
async fn replies_match_the_schemas() {
    let (s, mon) = monitored(|_| {}).await;
    let _a = raw(s.addr(), json!({"name": "a", "lang": "raw", "version": "1"}), "SUB x 1\r\nSUB y q 2\r\n").await;
    drop(raw(s.addr(), json!({"name": "gone"}), "SUB z 1\r\n").await);
    wait_until("one closed", || s.server.state().closed().len() == 1).await;
    for (schema, paths) in [
        ("varz", &["/varz"][..]),
        (
            "connz",
            &["/connz", "/connz?subs=detail&auth=1", "/connz?state=any&subs=1", "/connz?acc=NOPE", "/connz?cid=99"],
        ),
        ("routez", &["/routez", "/routez?subs=detail"]),
        ("subsz", &["/subsz", "/subsz?subs=1", "/subsz?subs=1&test=x"]),
        ("healthz", &["/healthz", "/healthz?stream=s", "/healthz?stream=s&details=1"]),
        ("leafz", &["/leafz"]),
        ("gatewayz", &["/gatewayz"]),
        ("jsz", &["/jsz"]),
        ("accountz", &["/accountz", "/accountz?acc=$G"]),
        ("accstatz", &["/accstatz", "/accstatz?unused=1"]),
    ] {
        let file = format!("schemas/monitor-{schema}.schema.json");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let validator = jsonschema::validator_for(&serde_json::from_str(&text).expect("schema JSON")).expect("schema");
        for path in paths {
            let doc = get(&mon, path).await.json();
            let errors: Vec<String> =
                validator.iter_errors(&doc).map(|e| format!("{e} at {}", e.instance_path)).collect();
            assert!(errors.is_empty(), "{path} against {file}:\n{}\n{doc:#}", errors.join("\n"));
        }
    }
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

#[tokio::test]
async fn http_auth_basic_bearer_and_bcrypt() {
    let (_s, mon) = monitored(|o| {
        o.http_auth = Some(HttpAuth { user: Some("ops".into()), password: Some("s3cret".into()), token: None })
    })
    .await;
    let r = get(&mon, "/varz").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"rnats monitoring\", charset=\"UTF-8\""));
    let ok = request(&mon, "GET", "/connz", &[("Authorization", &basic("ops", "s3cret"))]).await;
    assert_eq!(ok.status, 200);
    for wrong in [basic("ops", "s3cret!"), basic("op", "s3cret"), "Bearer s3cret".into(), "Basic !!".into()] {
        assert_eq!(request(&mon, "GET", "/varz", &[("Authorization", &wrong)]).await.status, 401, "{wrong}");
    }
    assert_eq!(get(&mon, "/healthz").await.status, 200, "health probes need no credentials");
    assert_eq!(get(&mon, "/dashboard").await.status, 401);

    let hash = bcrypt::hash("t0k3n", 4).unwrap();
    let (_t, mon) =
        monitored(|o| o.http_auth = Some(HttpAuth { token: Some(hash.into()), ..HttpAuth::default() })).await;
    let r = get(&mon, "/metrics").await;
    assert_eq!((r.status, r.header("www-authenticate")), (401, Some("Bearer realm=\"rnats monitoring\"")));
    for _ in 0..3 {
        assert_eq!(request(&mon, "GET", "/metrics", &[("Authorization", "Bearer t0k3n")]).await.status, 200);
    }
    assert_eq!(request(&mon, "GET", "/metrics", &[("Authorization", "Bearer t0k3")]).await.status, 401);
}

#[tokio::test]
async fn monitoring_ports_refused_as_nats_server() {
    let both = rnats::launch::Server::start(Options {
        host: "127.0.0.1".into(),
        port: Port::Random,
        http_port: Some(-1),
        https_port: Some(-1),
        ..Options::default()
    })
    .await;
    assert_eq!(
        both.err().map(|e| e.to_string()),
        Some("Can't start monitoring: can't specify both HTTP (-1) and HTTPs (-1) ports".into())
    );
    let no_tls = rnats::launch::Server::start(Options {
        host: "127.0.0.1".into(),
        port: Port::Random,
        https_port: Some(-1),
        ..Options::default()
    })
    .await;
    assert_eq!(
        no_tls.err().map(|e| e.to_string()),
        Some("Can't start monitoring: TLS cert and key required for HTTPS".into())
    );
}

/// HTTPS serves the same endpoints with the `tls` block's certificate.
#[tokio::test]
async fn https_monitoring() {
    use rustls::pki_types::pem::PemObject;
    let pki = common::certs::Pki::new();
    let tls = pki.mutual_tls();
    let opts = Options { host: "127.0.0.1".into(), https_port: Some(-1), tls: Some(tls.clone()), ..Options::default() };
    let snapshot = rnats::server::snapshot::Snapshot::compile(opts, 1, None).expect("compiles with TLS");
    assert!(snapshot.tls.is_some());
    let state = rnats::server::state::ServerState::new(snapshot, "NTEST".into(), "https-test".into());
    let url = rnats::monitor::start(&state).await.expect("starts").expect("on");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(pki.ca.cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(common::http::addr_of(&url)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    // No client certificate is asked for on the monitoring port, even when
    // client connections must present one.
    let stream = tokio::time::timeout(WAIT, connector.connect(name, tcp)).await.unwrap().expect("handshake");
    let r: HttpReply = common::http::exchange(stream, "GET", "/varz", &[]).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        (&v["server_name"], &v["https_port"], &v["tls_required"]),
        (&json!("https-test"), &json!(-1), &json!(true))
    );
    assert!(v["tls_cert_not_after"].is_string());
    state.begin_shutdown();
}
