//! Servers bound to every address (`0.0.0.0`, `::`), as a default install
//! is, tested on real non-loopback addresses: each test makes a network
//! namespace of its own with a veth pair (documentation addresses
//! 198.51.100.x and 2001:db8::x on both ends), runs the servers inside it
//! with `ip netns exec`, and talks to them from outside over the veth.
//! Where namespaces cannot be made (not root, no iproute2, a sandbox), each
//! test says why and skips.
//!
//! Checked against the reference nats-server where it is installed, run in
//! the same namespace: `connect_urls` (INFO and `/varz`) list every global
//! address of the host, the ports file every address, the listeners take
//! IPv4 and IPv6 on one port, and the listen lines read the same.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{reference_binary, skip_loudly};
use rnats::tools::spawn::{ServerProcess, Spawn};

const BIN: &str = env!("CARGO_BIN_EXE_rnats");
const WAIT: Duration = Duration::from_secs(15);

/// A network namespace with one veth link to the test's namespace, removed
/// on drop. Each test has its own subnet (`n`), so tests can run at once.
struct Netns {
    name: String,
    /// The namespace's end of the link.
    v4: String,
    v6: String,
    /// The test's end (what the servers see as their clients' address).
    peer_v4: String,
    peer_v6: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Netns {
    /// A namespace named after this process and `n`, with
    /// 198.51.100.(64n+2) / 2001:db8:77:n::2 inside and .1 / ::1 outside.
    fn create(n: u8) -> Result<Netns, String> {
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let ns = Netns {
            name: format!("rnats-ai-{tag}"),
            v4: format!("198.51.100.{}", 64 * n + 2),
            // As Go and Rust print it (`2001:db8:77::2` for n = 0).
            v6: format!("2001:db8:77:{n}::2").parse::<std::net::Ipv6Addr>().expect("v6").to_string(),
            peer_v4: format!("198.51.100.{}", 64 * n + 1),
            peer_v6: format!("2001:db8:77:{n}::1").parse::<std::net::Ipv6Addr>().expect("v6").to_string(),
        };
        let (outside, inside) = (format!("rai{tag}o"), format!("rai{tag}i"));
        ip(&["netns", "add", &ns.name])?;
        let setup = || -> Result<(), String> {
            ip(&["link", "add", &outside, "type", "veth", "peer", "name", &inside])?;
            ip(&["link", "set", &inside, "netns", &ns.name])?;
            ip(&["addr", "add", &format!("{}/26", ns.peer_v4), "dev", &outside])?;
            ip(&["addr", "add", &format!("{}/64", ns.peer_v6), "dev", &outside, "nodad"])?;
            ip(&["link", "set", &outside, "up"])?;
            let exec = |args: &[&str]| ip(&[&["netns", "exec", &ns.name, "ip"], args].concat());
            exec(&["link", "set", "lo", "up"])?;
            exec(&["addr", "add", &format!("{}/26", ns.v4), "dev", &inside])?;
            exec(&["addr", "add", &format!("{}/64", ns.v6), "dev", &inside, "nodad"])?;
            exec(&["link", "set", &inside, "up"])?;
            Ok(())
        };
        // Dropped on failure too: the namespace (and the link) go away.
        setup()?;
        ns.wait_link_local()?;
        Ok(ns)
    }

    /// The kernel gives the inside link an fe80:: address once it is up,
    /// after duplicate address detection; both servers must see it.
    fn wait_link_local(&self) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = Command::new("ip")
                .args(["netns", "exec", &self.name, "ip", "-6", "addr"])
                .output()
                .map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&out.stdout);
            if text.contains("fe80::") && !text.contains("tentative") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no settled link-local address: {text}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `bin args` inside the namespace, its ports file in `dir`.
    fn start(&self, bin: &Path, dir: &Path, args: &[&str]) -> ServerProcess {
        let dir = dir.to_str().expect("utf-8 path");
        let bin = bin.to_str().expect("utf-8 path");
        let all = [&["netns", "exec", &self.name, bin, "--ports_file_dir", dir][..], args].concat();
        Spawn::exact(Path::new("ip")).args(&all).start().expect("server starts in the namespace")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the link, and the other.
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// The namespace for test `n`, or why there is none (then the test skips).
fn netns(test: &str, n: u8) -> Option<Netns> {
    match Netns::create(n) {
        Ok(ns) => Some(ns),
        Err(why) => {
            eprintln!("SKIPPED {test}: cannot make a network namespace here ({why})");
            None
        }
    }
}

/// The ports file a server wrote in `dir`.
fn ports_file(dir: &Path) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let found = std::fs::read_dir(dir).ok().and_then(|mut it| {
            it.find_map(|e| e.ok().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "ports")))
        });
        if let Some(text) = found.and_then(|p| std::fs::read_to_string(p).ok()) {
            if let Ok(v) = serde_json::from_str(&text) {
                return v;
            }
        }
        assert!(Instant::now() < deadline, "no ports file in {}", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().and_then(|p| p.trim_end_matches('/').parse().ok()).unwrap_or_else(|| panic!("{url}"))
}

/// A server in the namespace and where its ports file says it listens.
struct Inside {
    p: ServerProcess,
    _dir: tempfile::TempDir,
    ports: serde_json::Value,
    client: u16,
    monitor: u16,
    route: u16,
}

fn inside(ns: &Netns, bin: &Path, args: &[&str]) -> Inside {
    let dir = tempfile::tempdir().unwrap();
    let p = ns.start(bin, dir.path(), args);
    let ports = ports_file(dir.path());
    let first = |key: &str| ports[key][0].as_str().map(port_of).unwrap_or(0);
    let (client, monitor, route) = (first("nats"), first("monitoring"), first("cluster"));
    Inside { p, _dir: dir, ports, client, monitor, route }
}

/// The INFO a client at `addr` receives.
fn info(addr: SocketAddr) -> serde_json::Value {
    let stream = TcpStream::connect_timeout(&addr, WAIT).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("INFO line");
    serde_json::from_str(line.trim_start_matches("INFO ").trim_end()).expect("INFO JSON")
}

/// `GET /varz` from the monitoring port at `addr`.
fn varz(addr: SocketAddr) -> serde_json::Value {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(b"GET /varz HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let body = reply.split("\r\n\r\n").nth(1).expect("a body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn urls(v: &serde_json::Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|u| u.as_str().map(String::from)).collect()).unwrap_or_default()
}

fn sock(host: &str, port: u16) -> SocketAddr {
    let host = host.parse::<std::net::IpAddr>().expect("an address");
    SocketAddr::new(host, port)
}

/// What one implementation showed, with its ports replaced by names so the
/// two implementations compare.
#[derive(Debug, PartialEq)]
struct Seen {
    /// A's INFO `connect_urls`: A's own first (in order), then B's (a set:
    /// nats-server keeps them in a Go map).
    info_own: Vec<String>,
    info_others: std::collections::BTreeSet<String>,
    varz_own: Vec<String>,
    varz_others: std::collections::BTreeSet<String>,
    /// A's ports file, link-local addresses left out (their zone makes them
    /// unusable from elsewhere, and the kernel adds them on its own time).
    ports: serde_json::Value,
    /// A's listen lines.
    lines: Vec<String>,
    /// `client_ip` of an IPv4 and of an IPv6 client.
    client_ips: (String, String),
}

/// A and B in a cluster inside the namespace, both on the default address
/// (B routes to A over the namespace's `::1`); what A shows.
fn two_server_cluster(ns: &Netns, bin: &Path) -> Seen {
    let cluster = ["-p", "-1", "-m", "-1", "--cluster_name", "W", "--cluster", "nats://0.0.0.0:-1"];
    let a = inside(ns, bin, &cluster);
    let route = format!("nats://[::1]:{}", a.route);
    let b = inside(ns, bin, &[&cluster[..], &["--routes", &route]].concat());
    let a_addr = sock(&ns.v4, a.client);
    // Meshed once A offers both servers' URLs.
    let deadline = Instant::now() + WAIT;
    let info_urls = loop {
        let got = urls(&info(a_addr)["connect_urls"]);
        if got.len() == 4 || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let varz_urls = urls(&varz(sock(&ns.v4, a.monitor))["connect_urls"]);
    let name = |url: &str| url.replace(&a.client.to_string(), "A").replace(&b.client.to_string(), "B");
    let split = |u: Vec<String>| {
        let u: Vec<String> = u.iter().map(|s| name(s)).collect();
        let own: Vec<String> = u.iter().take_while(|s| s.ends_with(":A")).cloned().collect();
        let others = u[own.len()..].iter().cloned().collect();
        (own, others)
    };
    let (info_own, info_others) = split(info_urls);
    let (varz_own, varz_others) = split(varz_urls);
    let mut ports = a.ports.clone();
    for (_, list) in ports.as_object_mut().expect("an object").iter_mut() {
        let kept: Vec<serde_json::Value> = urls(list)
            .iter()
            .filter(|u| !u.contains("[fe80:"))
            .map(|u| {
                let p = port_of(u);
                serde_json::Value::from(u.replace(&format!(":{p}"), ":P"))
            })
            .collect();
        *list = kept.into();
    }
    let log = a.p.log_text();
    let lines = log
        .lines()
        .filter_map(|l| {
            l.split("] ").nth(2).filter(|m| m.starts_with("Listening for") || m.starts_with("Starting http"))
        })
        .map(|m| m.rsplit_once(':').map_or(m.to_string(), |(h, _)| format!("{h}:P")))
        .collect();
    let v4_ip = info(a_addr)["client_ip"].as_str().unwrap_or_default().to_string();
    let v6_ip = info(sock(&ns.v6, a.client))["client_ip"].as_str().unwrap_or_default().to_string();
    drop(b);
    Seen { info_own, info_others, varz_own, varz_others, ports, lines, client_ips: (v4_ip, v6_ip) }
}

#[test]
fn cluster_on_all_interfaces_advertises_the_hosts_addresses() {
    let Some(ns) = netns("cluster_on_all_interfaces_advertises_the_hosts_addresses", 0) else { return };
    let seen = two_server_cluster(&ns, Path::new(BIN));
    let (v4, v6) = (ns.v4.as_str(), format!("[{}]", ns.v6));
    // Global addresses only, own first: never loopback or link-local.
    assert_eq!(seen.info_own, [format!("{v4}:A"), format!("{v6}:A")], "{seen:?}");
    let others: Vec<String> = seen.info_others.iter().cloned().collect();
    assert_eq!(others, [format!("{v4}:B"), format!("{v6}:B")], "{seen:?}");
    assert_eq!((&seen.varz_own, &seen.varz_others), (&seen.info_own, &seen.info_others));
    // Every address in the ports file, loopback first.
    let nats = urls(&seen.ports["nats"]);
    assert_eq!(nats, ["nats://127.0.0.1:P", "nats://[::1]:P", &format!("nats://{v4}:P"), &format!("nats://{v6}:P")]);
    assert_eq!(urls(&seen.ports["cluster"]).len(), 4, "{:?}", seen.ports);
    assert_eq!(urls(&seen.ports["monitoring"])[2], format!("http://{v4}:P"));
    // One port takes both families; the client's address as Go shows it.
    assert_eq!(seen.client_ips, (ns.peer_v4.clone(), ns.peer_v6.clone()));
    assert_eq!(
        seen.lines,
        [
            "Starting http monitor on 0.0.0.0:P",
            "Listening for client connections on 0.0.0.0:P",
            "Listening for route connections on 0.0.0.0:P"
        ]
    );

    match reference_binary() {
        Some(reference) => {
            let theirs = two_server_cluster(&ns, &reference);
            assert_eq!(seen, theirs, "rnats (left) and nats-server (right) on the same host");
        }
        None => skip_loudly("cluster_on_all_interfaces_advertises_the_hosts_addresses (the reference half)"),
    }
}

/// `-a ::` listens the same way, and says `[::]:PORT`.
#[test]
fn ipv6_wildcard_takes_ipv4_too() {
    let Some(ns) = netns("ipv6_wildcard_takes_ipv4_too", 1) else { return };
    let run = |bin: &Path| {
        let s = inside(&ns, bin, &["-a", "::", "-p", "-1", "-m", "-1"]);
        let v4 = info(sock(&ns.v4, s.client))["client_ip"].as_str().map(String::from);
        let v6 = info(sock(&ns.v6, s.client))["client_ip"].as_str().map(String::from);
        let mon = varz(sock(&ns.v6, s.monitor))["http_host"].as_str().map(String::from);
        let log = s.p.log_text();
        let line = log.lines().find(|l| l.contains("Listening for client")).map(|l| {
            let m = l.split("] ").nth(2).unwrap_or_default();
            m.rsplit_once(':').map_or(m.to_string(), |(h, _)| h.to_string())
        });
        (v4, v6, mon, line)
    };
    let ours = run(Path::new(BIN));
    assert_eq!(
        ours,
        (
            Some(ns.peer_v4.clone()),
            Some(ns.peer_v6.clone()),
            Some("::".to_string()),
            Some("Listening for client connections on [::]".to_string())
        )
    );
    match reference_binary() {
        Some(reference) => assert_eq!(ours, run(&reference), "rnats (left) and nats-server (right)"),
        None => skip_loudly("ipv6_wildcard_takes_ipv4_too (the reference half)"),
    }
}

/// Whether nats-py (the official Python client) is installed.
fn nats_py(test: &str) -> bool {
    let have = Command::new("python3").args(["-c", "import nats"]).output().is_ok_and(|o| o.status.success());
    if !have {
        if std::env::var_os("RNATS_REQUIRE_REFERENCE").is_some() {
            panic!("nats-py is required in CI (pip install nats-py)");
        }
        skip_loudly(&format!("{test} (nats-py not installed)"));
    }
    have
}

/// nats-py inside the namespace: connects to A alone, learns B from
/// `connect_urls`, sees A stop, reconnects to B and carries a message.
const FAILOVER: &str = r#"
import asyncio, os, signal, sys
import nats
async def main(url, pid_a):
    back = asyncio.Event()
    async def reconnected():
        back.set()
    nc = await nats.connect(url, reconnected_cb=reconnected, max_reconnect_attempts=50,
                            reconnect_time_wait=0.1, connect_timeout=2)
    for _ in range(100):
        if nc.discovered_servers:
            break
        await asyncio.sleep(0.05)
    print("discovered", " ".join(sorted(s.netloc for s in nc.discovered_servers)), flush=True)
    os.kill(pid_a, signal.SIGTERM)
    await asyncio.wait_for(back.wait(), 15)
    print("reconnected", nc.connected_url.netloc, flush=True)
    sub = await nc.subscribe("after.failover")
    await nc.publish("after.failover", b"ok")
    msg = await sub.next_msg(timeout=5)
    print("message", msg.data.decode(), flush=True)
    await nc.close()
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"#;

/// Runs nats-py's failover inside the namespace against A and B of `bin`;
/// what the client saw, ports named A and B.
fn failover(ns: &Netns, bin: &Path) -> Vec<String> {
    let cluster = ["-p", "-1", "--cluster_name", "F", "--cluster", "nats://0.0.0.0:-1"];
    let a = inside(ns, bin, &cluster);
    let route = format!("nats://127.0.0.1:{}", a.route);
    let b = inside(ns, bin, &[&cluster[..], &["--routes", &route]].concat());
    // Meshed: A offers B's URLs to new clients.
    let deadline = Instant::now() + WAIT;
    while urls(&info(sock(&ns.v4, a.client))["connect_urls"]).len() < 4 {
        assert!(Instant::now() < deadline, "A never learned B's URLs");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("nats://{}:{}", ns.v4, a.client);
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "timeout", "30", "python3", "-c", FAILOVER, &url, &a.p.pid().to_string()])
        .output()
        .expect("python3 runs");
    let text =
        String::from_utf8_lossy(&out.stdout).replace(&a.client.to_string(), "A").replace(&b.client.to_string(), "B");
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    // The discovered URLs in order once their ports are named.
    text.lines()
        .map(|l| match l.strip_prefix("discovered ") {
            Some(list) => {
                let mut v: Vec<&str> = list.split(' ').collect();
                v.sort();
                format!("discovered {}", v.join(" "))
            }
            None => l.to_string(),
        })
        .collect()
}

/// The Python client's cluster failover on a default install: bound to all
/// interfaces, A tells it about B's global addresses, and when A goes away
/// it reconnects to B. nats-server does the same in the same namespace.
#[test]
fn nats_py_fails_over_to_a_discovered_server() {
    if !nats_py("nats_py_fails_over_to_a_discovered_server") {
        return;
    }
    let Some(ns) = netns("nats_py_fails_over_to_a_discovered_server", 2) else { return };
    let seen = failover(&ns, Path::new(BIN));
    let v6 = format!("[{}]", ns.v6);
    assert_eq!(
        seen,
        [
            // B's global addresses, and A's other one.
            format!("discovered {}:B {v6}:A {v6}:B", ns.v4),
            // It takes the first discovered URL it can reach.
            seen[1].clone(),
            "message ok".to_string()
        ]
    );
    assert!(seen[1] == format!("reconnected {}:B", ns.v4) || seen[1] == format!("reconnected {v6}:B"), "{seen:?}");
    match reference_binary() {
        Some(reference) => {
            let theirs = failover(&ns, &reference);
            assert_eq!((&seen[0], &seen[2]), (&theirs[0], &theirs[2]), "rnats (left), nats-server (right)");
        }
        None => skip_loudly("nats_py_fails_over_to_a_discovered_server (the reference half)"),
    }
}

/// The Python client's server launcher on `host="::"`: it starts
/// `nats-server`, reads the host and port from the `Listening for client
/// connections on [::]:PORT` line, and connects to `nats://[::1]:PORT`;
/// that takes a listener on `::` that answers on `::1`. Here, rnats under
/// that name inside the namespace, the client there too.
#[test]
fn nats_py_launcher_on_the_ipv6_wildcard() {
    if !nats_py("nats_py_launcher_on_the_ipv6_wildcard") {
        return;
    }
    let Some(ns) = netns("nats_py_launcher_on_the_ipv6_wildcard", 3) else { return };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("nats-server");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let s = ns.start(&link, dir.path(), &["--addr", "::", "--port", "-1"]);
    let log = s.log_text();
    // The launcher's LISTENING_PATTERN, `(.+):(\d+)`, then its bracket strip.
    let line = log.lines().find(|l| l.contains("Listening for client connections on ")).expect("the line");
    let hostport = line.rsplit("Listening for client connections on ").next().unwrap().trim();
    let (host, port) = hostport.rsplit_once(':').unwrap();
    assert_eq!(host, "[::]", "{line}");
    let url = format!("nats://[::1]:{port}");
    let script = r#"
import asyncio, sys
import nats
async def main(url):
    nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False)
    sub = await nc.subscribe("launcher")
    await nc.publish("launcher", b"v6")
    msg = await sub.next_msg(timeout=3)
    print(str(nc.connected_server_version).strip("<>").split()[-1].lstrip("v"), msg.data.decode())
    await nc.close()
asyncio.run(main(sys.argv[1]))
"#;
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "timeout", "20", "python3", "-c", script, &url])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.trim(), format!("{} v6", rnats::options::COMPAT_VERSION));
}
