//! The soak run: start the cluster, start the clients, reload and kill on
//! schedule, print each interval, and count at the end.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{seq_of, Client, OnMsg};
use super::cluster::{free_port, server_conf, tempfile_dir, users_file, wait_routes, Node};
use super::tally::{mib, open_fds, percentile, Counters, Healthy, Report};
use super::workers::{churner, flipper, hold, publisher, requester, resilient, responder};
use super::SoakArgs;

pub(super) async fn soak(args: SoakArgs) -> Result<Report, String> {
    let dir = tempfile_dir()?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let reference = if args.reference { crate::tools::spawn::reference_binary() } else { None };
    let names = ["A", "B", "C"];
    let bins = [me.clone(), me.clone(), reference.clone().unwrap_or(me.clone())];
    let ports: Vec<(u16, u16)> =
        (0..3).map(|_| Ok((free_port()?, free_port()?))).collect::<std::io::Result<_>>().map_err(|e| e.to_string())?;
    let http = free_port().map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    for i in 0..3 {
        let users = dir.join(format!("users-{}.conf", names[i]));
        std::fs::write(&users, users_file(0)).map_err(|e| e.to_string())?;
        let others: Vec<u16> = (0..3).filter(|&j| j != i).map(|j| ports[j].1).collect();
        let conf = dir.join(format!("{}.conf", names[i]));
        let text = server_conf(ports[i].0, ports[i].1, &others, (i == 0).then_some(http), names[i], &users);
        std::fs::write(&conf, text).map_err(|e| e.to_string())?;
        let client = SocketAddr::from(([127, 0, 0, 1], ports[i].0));
        nodes.push(Node { name: names[i], bin: bins[i].clone(), conf, users, client, process: None });
    }
    for n in &mut nodes {
        n.start()?;
    }
    eprintln!(
        "soak: A={} B={} C={} ({}), {} connections, {:?}; reload every {:?}, kill every {:?}",
        nodes[0].client,
        nodes[1].client,
        nodes[2].client,
        if reference.is_some() { "the reference nats-server" } else { "rnats: reference not installed" },
        args.conns,
        args.duration,
        args.reload_every,
        args.kill_every
    );
    // Routes up before traffic: A is connected to both.
    let routez = format!("http://127.0.0.1:{http}/routez");
    wait_routes(&routez, 2, Duration::from_secs(20)).await?;

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    // Subscribers on A hang up only after the final count: publishers may
    // send once more after `stop`, and a subscriber gone by then would turn
    // those last messages into false losses.
    let hang_up = Arc::new(AtomicBool::new(false));
    let healthy = Arc::new(Healthy::default());
    let counters = Arc::new(Counters::default());
    let (a, b, c) = (nodes[0].client, nodes[1].client, nodes[2].client);
    let mut tasks = tokio::task::JoinSet::new();

    // Shares of the connections: healthy subscribers and publishers on A,
    // cross-server subscribers on B and C, queue members and responders on A,
    // requesters on A (healthy) and B, churning clients on A, idle ones on all.
    let n = args.conns;
    let (pubs, subs) = (10u64, (n / 20).clamp(4, 200));
    let queue_members = 10;
    let responders = 5;
    let (requesters, cross_requesters) = (10u64, 5u64);
    let churners = (n / 20).clamp(4, 100);
    let cross_subs = (n / 20).clamp(4, 200);
    let busy = pubs as usize
        + subs
        + queue_members
        + responders
        + (requesters + cross_requesters) as usize
        + churners
        + cross_subs;
    let idle = n.saturating_sub(busy);

    // Healthy subscribers: on A, all of A's publishers (`h.<pub>`).
    for s in 0..subs {
        let h = healthy.clone();
        let on: OnMsg = Arc::new(move |subject: &str, p: &[u8]| {
            let publisher = subject.rsplit('.').next().and_then(|x| x.parse().ok()).unwrap_or(0);
            if let Some((seq, _)) = seq_of(p) {
                h.record(s, publisher, seq);
            }
        });
        let client = Client::connect(a, "healthy", "h", &[("h.*", None)], on).await.map_err(|e| e.to_string())?;
        tasks.spawn(hold(client, hang_up.clone()));
    }
    // Cross-server subscribers (on B and C): deliveries counted apart.
    for s in 0..cross_subs {
        let counted = counters.clone();
        let on: OnMsg = Arc::new(move |_: &str, _: &[u8]| {
            counted.cross_delivered.fetch_add(1, Ordering::Relaxed);
        });
        let at = if s % 2 == 0 { b } else { c };
        tasks.spawn(resilient(at, "cross", "c", vec![("x.>".into(), None)], on, stop.clone(), counters.clone()));
    }
    // Queue members on A: each message to exactly one of them.
    for _ in 0..queue_members {
        let counters = counters.clone();
        let on: OnMsg = Arc::new(move |_: &str, _: &[u8]| {
            counters.queue_delivered.fetch_add(1, Ordering::Relaxed);
        });
        let client =
            Client::connect(a, "healthy", "h", &[("q.work", Some("workers"))], on).await.map_err(|e| e.to_string())?;
        tasks.spawn(hold(client, hang_up.clone()));
    }
    // Responders on A (a queue group): answer on the reply subject.
    for _ in 0..responders {
        tasks.spawn(responder(a, stop.clone()));
    }
    // Idle connections, spread over the three servers, reconnecting after kills.
    let idle_on = [a, b, c];
    for i in 0..idle {
        let at = idle_on[i % 3];
        let subject = format!("idle.{i}");
        let on: OnMsg = Arc::new(|_: &str, _: &[u8]| {});
        tasks.spawn(resilient(at, "cross", "c", vec![(subject, None)], on, stop.clone(), counters.clone()));
        if i % 200 == 199 {
            tokio::task::yield_now().await;
        }
    }
    // Publishers on A: healthy subjects, cross-server subjects, queue work.
    for p in 0..pubs {
        tasks.spawn(publisher(a, p, start, stop.clone(), counters.clone()));
    }
    // Requesters: on A (healthy) and on B (through the route).
    for r in 0..requesters {
        tasks.spawn(requester(a, r, true, stop.clone(), counters.clone()));
    }
    for r in 0..cross_requesters {
        tasks.spawn(requester(b, 100 + r, false, stop.clone(), counters.clone()));
    }
    // Churn: clients on A that log in as users a reload may remove, and go
    // and come back all the time.
    for ch in 0..churners {
        tasks.spawn(churner(a, ch as u64, stop.clone(), counters.clone()));
    }
    tasks.spawn(flipper(a, stop.clone()));

    let mut report = Report { connections: n, ..Report::default() };
    let mut next_reload = start + args.reload_every;
    let mut next_kill = start + args.kill_every;
    let mut next_line = start + args.interval;
    let mut round = 0u64;
    let mut victim = 1usize;
    let mut down: Option<(usize, Instant)> = None;
    // Totals at the previous line: sent, delivered, cross-server, requests.
    let mut last = [0u64; 4];
    let end = start + args.duration;
    println!(
        "{:>6} {:>10} {:>10} {:>6} {:>9} {:>8} {:>9} {:>8} {:>8} {:>6} {:>8} {:>8} {:>5} {:>5}",
        "secs",
        "sent",
        "delivered",
        "lost",
        "x-deliv",
        "reqs",
        "p99 ms",
        "A MiB",
        "A fds",
        "reconn",
        "B MiB",
        "C MiB",
        "rld",
        "kill"
    );
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    while Instant::now() < end {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = &mut interrupted => {
                eprintln!("soak: interrupted; stopping the cluster");
                break;
            }
        }
        let now = Instant::now();
        if !args.reload_every.is_zero() && now >= next_reload {
            next_reload += args.reload_every;
            round += 1;
            // A and B reload (C may be the reference: it reloads too).
            for node in nodes.iter_mut() {
                if std::fs::write(&node.users, users_file(round)).is_ok() {
                    if let Some(p) = &node.process {
                        let _ = p.signal(rustix::process::Signal::HUP);
                    }
                }
            }
            counters.reloads.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((i, since)) = down {
            if now >= since + Duration::from_secs(3) {
                nodes[i].start()?;
                down = None;
            }
        } else if !args.kill_every.is_zero() && now >= next_kill {
            next_kill += args.kill_every;
            nodes[victim].kill();
            counters.kills.fetch_add(1, Ordering::Relaxed);
            down = Some((victim, now));
            victim = if victim == 1 { 2 } else { 1 };
        }
        if now >= next_line {
            next_line += args.interval;
            let now_totals = [
                counters.sent.load(Ordering::Relaxed),
                healthy.delivered.load(Ordering::Relaxed),
                counters.cross_delivered.load(Ordering::Relaxed),
                counters.requests.load(Ordering::Relaxed),
            ];
            let lat = std::mem::take(&mut *counters.latencies.lock().unwrap_or_else(|e| e.into_inner()));
            let p99 = percentile(lat, 0.99) as f64 / 1000.0;
            let a_pid = nodes[0].pid();
            let rss_a = mib(a_pid);
            let fds = a_pid.map_or(0, open_fds);
            report.rss_a_mib.push(rss_a);
            report.fds_a.push(fds);
            report.p99_ms.push(p99);
            println!(
                "{:>6.0} {:>10} {:>10} {:>6} {:>9} {:>8} {:>9.2} {:>8.1} {:>8} {:>6} {:>8.1} {:>8.1} {:>5} {:>5}",
                start.elapsed().as_secs_f64(),
                now_totals[0] - last[0],
                now_totals[1] - last[1],
                healthy.lost.load(Ordering::Relaxed) + healthy.out_of_order.load(Ordering::Relaxed),
                now_totals[2] - last[2],
                now_totals[3] - last[3],
                p99,
                rss_a,
                fds,
                counters.reconnects.load(Ordering::Relaxed),
                mib(nodes[1].pid()),
                mib(nodes[2].pid()),
                counters.reloads.load(Ordering::Relaxed),
                counters.kills.load(Ordering::Relaxed),
            );
            last = now_totals;
        }
    }
    if let Some((i, _)) = down {
        nodes[i].start()?;
    }
    // Publishers stop first and are waited for, so what was sent is final;
    // then in-flight messages get time to arrive before the last count.
    stop.store(true, Ordering::Release);
    let settle = Instant::now() + Duration::from_secs(5);
    while counters.publishers_done.load(Ordering::Acquire) < pubs && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = counters.sent.load(Ordering::Relaxed);
    let expected = sent * subs as u64;
    let behind = || {
        healthy.delivered.load(Ordering::Relaxed) < expected || counters.queue_delivered.load(Ordering::Relaxed) < sent
    };
    let settle = Instant::now() + Duration::from_secs(5);
    while behind() && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered = healthy.delivered.load(Ordering::Relaxed);
    report.seconds = start.elapsed().as_secs_f64();
    report.healthy_sent = sent;
    report.healthy_delivered = delivered;
    // Gaps seen, plus whatever never arrived at the end.
    report.healthy_lost = healthy.lost.load(Ordering::Relaxed) + expected.saturating_sub(delivered);
    report.healthy_out_of_order = healthy.out_of_order.load(Ordering::Relaxed);
    report.healthy_request_failures = counters.request_failures.load(Ordering::Relaxed);
    report.cross_sent = counters.cross_sent.load(Ordering::Relaxed);
    report.cross_delivered = counters.cross_delivered.load(Ordering::Relaxed);
    report.cross_request_failures = counters.cross_request_failures.load(Ordering::Relaxed);
    report.queue_delivered = counters.queue_delivered.load(Ordering::Relaxed);
    report.requests = counters.requests.load(Ordering::Relaxed);
    report.reconnects = counters.reconnects.load(Ordering::Relaxed);
    report.reloads = counters.reloads.load(Ordering::Relaxed);
    report.kills = counters.kills.load(Ordering::Relaxed);
    hang_up.store(true, Ordering::Release);
    tasks.abort_all();
    println!(
        "healthy: {} published x {subs} subscribers, {} delivered, {} lost, {} out of order, {} failed requests; \
         cross-server: {} delivered, {} failed requests; queue: {} of {} work items; {} requests; \
         {} reconnects, {} reloads, {} kills",
        report.healthy_sent,
        report.healthy_delivered,
        report.healthy_lost,
        report.healthy_out_of_order,
        report.healthy_request_failures,
        report.cross_delivered,
        report.cross_request_failures,
        report.queue_delivered,
        report.healthy_sent,
        report.requests,
        report.reconnects,
        report.reloads,
        report.kills
    );
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    }
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(report)
}
