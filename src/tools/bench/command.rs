//! `rnats bench`'s command line.

use super::compare::compare;
use super::config::{format_outcome, Config, SCENARIOS};
use super::scenarios::run_scenario;
use super::{tls, ws};

pub const BENCH_USAGE: &str = "\
Usage: rnats bench [options] [SCENARIO...]

Scenarios (default: all; tls with --compare or --tlscacert; cluster with --compare or --url2;
ws and ws-deflate with --compare):
    pub, pubsub, fanout, queue, reqrep, large, flood, idle, tls, cluster, ws, ws-deflate

    cluster publisher on one server, subscriber on another of its cluster: the
            messages cross a route (--compare starts two servers of each kind
            routed to each other; without it, --url2 names the second server)

    flood   64 KiB messages 1:1 with no flow control: the publisher writes as
            fast as it can; reports the rate and how often the server cut the
            subscriber off as a slow consumer (fast-producer stall prevents it)
    tls     pubsub with every connection over TLS; --compare starts both
            servers with one generated certificate (--tlscert/--tlskey)
    ws      pubsub with both connections over websocket (masked frames, as
            clients send them); --compare starts both servers with the same
            websocket block, otherwise --url names the websocket port
    ws-deflate  ws with permessage-deflate offered: the server compresses

Options:
    --url HOST:PORT     server to measure (default 127.0.0.1:4222)
    --url2 HOST:PORT    a second server of --url's cluster (the cluster scenario)
    --compare           start rnats and the reference nats-server (NATS_SERVER_REF or
                        PATH) on free loopback ports and measure both, alternately
    --rounds N          rounds per scenario with --compare (default 5)
    --msgs N            messages per run (default 1000000)
    --size N            payload bytes (default 16; `large` and `flood` use 65536)
    --subject S         subject (default bench.subject)
    --subs N            subscribers for fanout and queue (default 4)
    --requests N        requests for reqrep (default 20000)
    --conns N           idle connections for idle (default 10000)
    --server-pid PID    process whose memory `idle` reads (found from --url when local);
                        `idle` is meaningful on a fresh server, as --compare runs it
    --tlscacert FILE    CA that signed the --url server's certificate, for tls
    --json              results as JSON (one object) instead of a table
";

/// Runs the command; returns the exit code.
/// (`rnats bench reload` is dispatched by main to `bench_reload`.)
pub fn run(args: &[String]) -> u8 {
    let mut cfg = Config::default();
    let (mut compare_mode, mut json, mut rounds) = (false, false, 5usize);
    let mut scenarios = Vec::new();
    let mut it = args.iter();
    let num = |v: Option<&String>, what: &str| -> Result<u64, String> {
        v.and_then(|s| s.parse().ok()).ok_or_else(|| format!("{what} takes a number"))
    };
    while let Some(a) = it.next() {
        let r: Result<(), String> = match a.trim_start_matches('-') {
            "url" => it.next().map(|v| cfg.url = v.clone()).ok_or_else(|| "--url takes HOST:PORT".into()),
            "url2" => it.next().map(|v| cfg.url2 = Some(v.clone())).ok_or_else(|| "--url2 takes HOST:PORT".into()),
            "compare" => {
                compare_mode = true;
                Ok(())
            }
            "json" => {
                json = true;
                Ok(())
            }
            "rounds" => num(it.next(), "--rounds").map(|n| rounds = n.max(1) as usize),
            "msgs" => num(it.next(), "--msgs").map(|n| cfg.msgs = n.max(1)),
            "size" => num(it.next(), "--size").map(|n| cfg.size = n as usize),
            "subs" => num(it.next(), "--subs").map(|n| cfg.subs = n.max(1) as usize),
            "requests" => num(it.next(), "--requests").map(|n| cfg.requests = n.max(1)),
            "conns" => num(it.next(), "--conns").map(|n| cfg.conns = n.max(1) as usize),
            "server-pid" => num(it.next(), "--server-pid").map(|n| cfg.server_pid = Some(n as u32)),
            "subject" => it.next().map(|v| cfg.subject = v.clone()).ok_or_else(|| "--subject takes a subject".into()),
            "tlscacert" => match it.next() {
                Some(path) => tls::client_config_from_file(path).map(|c| cfg.tls = Some(c)),
                None => Err("--tlscacert takes a file".into()),
            },
            "h" | "help" => {
                print!("{BENCH_USAGE}");
                return 0;
            }
            s if (SCENARIOS.contains(&s) || tls::TLS_SCENARIOS.contains(&s) || ws::WS_SCENARIOS.contains(&s))
                && !a.starts_with('-') =>
            {
                scenarios.push(s.to_string());
                Ok(())
            }
            _ => Err(format!("unknown argument `{a}`")),
        };
        if let Err(e) = r {
            eprintln!("rnats bench: {e}\n\n{BENCH_USAGE}");
            return 2;
        }
    }
    if scenarios.is_empty() {
        let two_servers = compare_mode || cfg.url2.is_some();
        scenarios = SCENARIOS.iter().filter(|s| two_servers || **s != "cluster").map(|s| s.to_string()).collect();
        // TLS needs certificates: --compare makes them, --tlscacert names the CA.
        if compare_mode || cfg.tls.is_some() {
            scenarios.extend(tls::TLS_SCENARIOS.iter().map(|s| s.to_string()));
        }
        // Websocket needs a websocket listener: --compare configures one.
        if compare_mode {
            scenarios.extend(ws::WS_SCENARIOS.iter().map(|s| s.to_string()));
        }
    }
    cfg.progress = !json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    if compare_mode {
        return match compare(&cfg, &scenarios, rounds, json) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("rnats bench: {e}");
                1
            }
        };
    }
    let mut results = Vec::new();
    for s in &scenarios {
        match run_scenario(s, &cfg) {
            Ok(o) => {
                if !json {
                    println!("{}", format_outcome(&o));
                }
                results.push(o);
            }
            Err(e) => {
                eprintln!("rnats bench: {s}: {e}");
                return 1;
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default());
    }
    0
}
