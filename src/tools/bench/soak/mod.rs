//! `rnats bench soak`: a long run under hostile conditions, to show that
//! nothing grows and nothing healthy is lost. A three-server cluster (the
//! third one the reference nats-server when installed), thousands of client
//! connections doing pub/sub, queue groups and request/reply, a reload every
//! few seconds that adds and removes users and changes permissions, clients
//! that disconnect and come back, and the two other servers killed with
//! SIGKILL and restarted in turn. Server A, which is never killed, is the
//! one measured.
//!
//! Every interval it prints what happened since the last line: messages
//! sent and delivered to healthy subscribers (subscribers on A, of
//! publishers on A: nothing is ever cut between them, so none may be lost),
//! deliveries across the cluster (lost while a peer is down, reported
//! apart), requests and their p99 latency, A's resident memory and open
//! descriptors, the other servers' memory, reloads and kills so far.
//!
//! Clients speak the protocol over plain sockets (the library has no client).

mod client;
mod cluster;
mod run;
mod tally;
mod workers;

use std::time::Duration;

pub const USAGE: &str = "\
Usage: rnats bench soak [--duration 30m] [--conns N] [--interval 10s]
                        [--reload-every 5s] [--kill-every 60s] [--no-reference] [--json]

Runs a three-server cluster (rnats A and B, and the reference nats-server as
C when installed) under load for --duration: --conns client connections
(mostly idle subscribers; publishers, queue members, responders and
requesters; some reconnecting all the time), a reload of A and B every
--reload-every that adds and removes users and changes a permission, and B
and C killed with SIGKILL and restarted in turn every --kill-every.

Prints, every --interval: messages sent and delivered to healthy subscribers
(on A, from publishers on A) and how many of those were lost (expect 0),
cross-server deliveries, requests and their p99 latency, A's RSS and open
descriptors, B's and C's RSS, reloads and kills so far.
";

#[derive(Debug, Clone)]
struct Args {
    duration: Duration,
    conns: usize,
    interval: Duration,
    reload_every: Duration,
    kill_every: Duration,
    reference: bool,
    json: bool,
}

fn duration(text: Option<&String>, what: &str) -> Result<Duration, String> {
    let t = text.ok_or_else(|| format!("{what} takes a duration (30s, 5m)"))?;
    crate::gotext::parse_go_duration(t).map_err(|e| format!("{what}: {e}"))
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        duration: Duration::from_secs(1800),
        conns: 2000,
        interval: Duration::from_secs(10),
        reload_every: Duration::from_secs(5),
        kill_every: Duration::from_secs(60),
        reference: true,
        json: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.trim_start_matches('-') {
            "duration" => a.duration = duration(it.next(), "--duration")?,
            "conns" => {
                a.conns = it.next().and_then(|s| s.parse().ok()).ok_or("--conns takes a number")?;
            }
            "interval" => a.interval = duration(it.next(), "--interval")?.max(Duration::from_millis(500)),
            "reload-every" => a.reload_every = duration(it.next(), "--reload-every")?,
            "kill-every" => a.kill_every = duration(it.next(), "--kill-every")?,
            "no-reference" => a.reference = false,
            "json" => a.json = true,
            "h" | "help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    a.conns = a.conns.max(40);
    Ok(a)
}

pub fn run(args: &[String]) -> u8 {
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("rnats bench soak: {e}");
            }
            eprint!("{USAGE}");
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rnats bench soak: {e}");
            return 1;
        }
    };
    match rt.block_on(run::soak(args)) {
        Ok(report) => {
            let lost = report.healthy_lost + report.healthy_out_of_order;
            if lost > 0 || report.healthy_request_failures > 0 {
                eprintln!("rnats bench soak: healthy traffic lost messages or requests");
                1
            } else {
                0
            }
        }
        Err(e) => {
            eprintln!("rnats bench soak: {e}");
            1
        }
    }
}
