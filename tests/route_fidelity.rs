//! Routes as nats-server logs, traces and counts them, side by side with
//! the reference where it can run the same scenario: the route listener's
//! startup lines after "Server is ready", `cluster.pool_size` in `/varz`,
//! outgoing `RMSG` traced, a slow route counted apart from clients.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{reference_binary, skip_loudly};
use rnats::tools::spawn::{ServerProcess, Spawn};

const BIN: &str = env!("CARGO_BIN_EXE_rnats");
const WAIT: Duration = Duration::from_secs(10);

fn start(bin: &Path, args: &[&str]) -> ServerProcess {
    Spawn::new(bin).args(args).log().start().expect("server starts")
}

fn varz(p: &ServerProcess) -> serde_json::Value {
    let base = p.monitor_url().expect("monitoring on");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(common::http::get_json(&base, "/varz"))
}

/// Where each startup line is, in log order.
fn startup_order(p: &ServerProcess) -> Vec<&'static str> {
    p.wait_for_log("Listening for route connections", WAIT).expect("the route listener's line");
    let log = p.log_text();
    let marks =
        ["Listening for client connections", "Server is ready", "Cluster name is", "Listening for route connections"];
    let mut found: Vec<(usize, &'static str)> = marks.iter().filter_map(|m| log.find(m).map(|i| (i, *m))).collect();
    found.sort();
    found.into_iter().map(|(_, m)| m).collect()
}

#[test]
fn startup_lines_and_pool_size_as_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("pool.conf");
    std::fs::write(&conf, "cluster { name: C, listen: \"127.0.0.1:-1\", pool_size: 5 }\n").unwrap();
    let conf = conf.to_str().unwrap();
    let run = |bin: &Path| {
        let default = start(bin, &["-m", "-1", "--cluster_name", "C", "--cluster", "nats://127.0.0.1:-1"]);
        let five = start(bin, &["-m", "-1", "-c", conf]);
        (
            startup_order(&default),
            varz(&default)["cluster"]["pool_size"].clone(),
            varz(&five)["cluster"]["pool_size"].clone(),
        )
    };
    let ours = run(Path::new(BIN));
    assert_eq!(
        ours.0,
        ["Listening for client connections", "Server is ready", "Cluster name is", "Listening for route connections"]
    );
    assert_eq!((ours.1.clone(), ours.2.clone()), (serde_json::json!(3), serde_json::json!(5)));
    match reference_binary() {
        Some(reference) => {
            // nats-server logs the route listener's lines from a goroutine,
            // so they land before or after its "Server is ready" as the
            // scheduler has it (seen both ways on a loaded machine): the
            // reference half compares the order of the other lines.
            let theirs = run(&reference);
            let settled = |(order, a, b): &(Vec<&'static str>, serde_json::Value, serde_json::Value)| {
                (order.iter().filter(|m| **m != "Server is ready").copied().collect::<Vec<_>>(), a.clone(), b.clone())
            };
            assert_eq!(settled(&ours), settled(&theirs), "rnats (left), nats-server (right)");
            assert!(theirs.0.contains(&"Server is ready"), "{theirs:?}");
        }
        None => skip_loudly("startup_lines_and_pool_size_as_the_reference (the reference half)"),
    }
}

/// Messages sent to a route and to a client are traced as deliverMsg traces
/// them, in the reference's shape (checked on a pair of each).
#[test]
fn outgoing_messages_are_traced() {
    let run = |bin: &Path| -> Vec<String> {
        let a = start(bin, &["-V", "--cluster_name", "C", "--cluster", "nats://127.0.0.1:-1"]);
        let route = format!("nats://{}", a.cluster_addr().expect("route port"));
        let b = start(bin, &["--cluster_name", "C", "--cluster", "nats://127.0.0.1:-1", "--routes", &route]);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use futures_util::StreamExt;
            let cb = async_nats::connect(b.addr.to_string()).await.unwrap();
            let mut sub_b = cb.queue_subscribe("traced", "q".into()).await.unwrap();
            cb.flush().await.unwrap();
            let ca = async_nats::connect(a.addr.to_string()).await.unwrap();
            let mut sub_a = ca.subscribe("local").await.unwrap();
            ca.flush().await.unwrap();
            a.wait_for_log("RS+ $G traced q", WAIT).expect("B's interest reached A");
            ca.publish("traced", "hello".into()).await.unwrap();
            ca.publish("local", "hi".into()).await.unwrap();
            ca.flush().await.unwrap();
            tokio::time::timeout(WAIT, sub_b.next()).await.expect("routed").unwrap();
            tokio::time::timeout(WAIT, sub_a.next()).await.expect("local").unwrap();
        });
        a.wait_for_log("->> MSG_PAYLOAD: [\"hi\"]", WAIT).expect("the delivery traced");
        let log = a.log_text();
        log.lines()
            .filter(|l| l.contains("->> [RMSG") || l.contains("->> [MSG") || l.contains("->> MSG_PAYLOAD"))
            .map(|l| {
                let op = l.split(" - ->> ").nth(1).unwrap_or_default();
                // The client's sid is the library's.
                if op.starts_with("[MSG local ") {
                    "[MSG local <sid> 2]".to_string()
                } else {
                    op.to_string()
                }
            })
            .collect()
    };
    // The system account's traffic (STATSZ, events) is not what this
    // test looks at, on either server.
    let ours: Vec<String> =
        run(Path::new(BIN)).into_iter().filter(|l| !l.contains("$SYS") && !l.contains("{\\\"")).collect();
    assert_eq!(
        ours,
        ["[RMSG $G traced | q 5]", "MSG_PAYLOAD: [\"hello\"]", "[MSG local <sid> 2]", "MSG_PAYLOAD: [\"hi\"]"],
        "{ours:?}"
    );
    match reference_binary() {
        Some(reference) => {
            // The reference's pooled routes carry `$SYS` traffic too; its
            // lines for these two messages read the same.
            let theirs: Vec<String> =
                run(&reference).into_iter().filter(|l| !l.contains("$SYS") && !l.contains("{\\\"")).collect();
            assert_eq!(ours, theirs, "rnats (left), nats-server (right)");
        }
        None => skip_loudly("outgoing_messages_are_traced (the reference half)"),
    }
}

/// A route whose peer stops reading is a slow consumer of the route kind:
/// `/varz` counts it under `slow_consumer_stats.routes`, not `clients`.
#[test]
fn a_slow_route_is_counted_apart_from_clients() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("slow.conf");
    std::fs::write(&conf, "max_payload: 65536\nmax_pending: 262144\ncluster { name: C1, listen: \"127.0.0.1:-1\" }\n")
        .unwrap();
    let a = start(Path::new(BIN), &["-D", "-m", "-1", "-c", conf.to_str().unwrap()]);
    // A peer that says hello, asks for `slow.>`, then never reads again.
    let route = a.cluster_addr().expect("route port");
    let mut peer = std::net::TcpStream::connect(route).unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut line = String::new();
    BufReader::new(peer.try_clone().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("INFO "), "{line}");
    let id = "NSLOWPEER";
    peer.write_all(format!(
        "CONNECT {{\"echo\":true,\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"{id}\",\"cluster\":\"C1\"}}\r\n\
         INFO {{\"server_id\":\"{id}\",\"server_name\":\"S\",\"version\":\"2.15.1\",\"proto\":2,\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"C1\"}}\r\n\
         RS+ $G slow.>\r\n").as_bytes()).unwrap();
    a.wait_for_log("Registering remote route", WAIT).expect("registered");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = async_nats::connect(a.addr.to_string()).await.unwrap();
        let chunk = bytes::Bytes::from(vec![b'x'; 32 * 1024]);
        let deadline = Instant::now() + WAIT;
        // Bounded: at most 64 MB, until the route is cut off.
        for i in 0..2048 {
            c.publish("slow.data", chunk.clone()).await.unwrap();
            if i % 64 == 63 {
                let _ = tokio::time::timeout(Duration::from_secs(1), c.flush()).await;
                if a.log_text().contains("Slow Consumer Detected") || Instant::now() > deadline {
                    break;
                }
            }
        }
    });
    if a.wait_for_log("Slow Consumer Detected", WAIT).is_none() {
        panic!("the route was never found slow:\n{}\n{}", a.log_text(), varz(&a));
    }
    let v = varz(&a);
    assert_eq!(v["slow_consumer_stats"]["clients"], 0, "{v}");
    assert_eq!(v["slow_consumer_stats"]["routes"], 1, "{v}");
    assert_eq!(v["slow_consumers"], 1, "{v}");
    drop(peer);
}
