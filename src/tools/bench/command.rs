//! `rnats bench`'s command line.

use clap::builder::PossibleValuesParser;

use super::accounts::ACCOUNT_SCENARIOS;
use super::compare::compare;
use super::config::{format_outcome, Config, EXTRA_SCENARIOS, SCENARIOS};
use super::scenarios::run_scenario;
use super::{reload, soak, tls, ws};

/// What the scenarios do, after the options in `--help`.
const SCENARIO_HELP: &str = "\
Scenarios (default: all; tls with --compare or --tlscacert; cluster with --compare or --url2;
ws, ws-deflate and the rest of the second line with --compare):
    pub, pubsub, fanout, queue, reqrep, large, flood, idle, tls, cluster, ws, ws-deflate
    service, mapped, filtered, churn, many, subs, steady

    service  reqrep across accounts: the requester's account imports the
             responder's service (--compare writes the accounts config that
             service, mapped and filtered need; without it, start the --url
             server from the config in src/tools/bench/accounts.rs)
    mapped   pubsub published to bench.in.x, which a `mappings` entry
             rewrites to the subscriber's bench.out.x
    filtered a `>` subscriber whose deny rule drops half the published
             messages; the rate counts all published
    churn    reqrep with a fresh inbox per request (SUB, UNSUB 1, PUB in one
             write) while another publisher runs
    many     one publisher over 10 000 subjects, two wildcard subscribers
    subs     --subscriptions distinct subscriptions: the rate, and memory per
             subscription on a fresh server
    steady   the server's RSS at the end of --duration of a fixed mixed load
             (45 connections: fan-out at four sizes, request/reply)

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
";

/// `rnats bench [options] [SCENARIO...]`, or `bench reload` / `bench soak`.
/// Options left out keep [`Config`]'s defaults.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, after_help = SCENARIO_HELP)]
pub struct BenchArgs {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Server to measure (default 127.0.0.1:4222).
    #[arg(long, value_name = "HOST:PORT")]
    url: Option<String>,
    /// A second server of --url's cluster (the cluster scenario).
    #[arg(long, value_name = "HOST:PORT")]
    url2: Option<String>,
    /// Start rnats and the reference nats-server (NATS_SERVER_REF or PATH) on
    /// free loopback ports and measure both, alternately.
    #[arg(long)]
    compare: bool,
    /// Rounds per scenario with --compare.
    #[arg(long, value_name = "N", default_value_t = 5)]
    rounds: usize,
    /// Messages per run (default 1000000).
    #[arg(long, value_name = "N")]
    msgs: Option<u64>,
    /// Payload bytes (default 16; `large` and `flood` use 65536).
    #[arg(long, value_name = "N")]
    size: Option<usize>,
    /// Subject (default bench.subject).
    #[arg(long, value_name = "S")]
    subject: Option<String>,
    /// Subscribers for fanout and queue (default 4).
    #[arg(long, value_name = "N")]
    subs: Option<usize>,
    /// Requests for reqrep (default 20000).
    #[arg(long, value_name = "N")]
    requests: Option<u64>,
    /// Idle connections for idle (default 10000).
    #[arg(long, value_name = "N")]
    conns: Option<usize>,
    /// Subscriptions for `subs` (default 1000000).
    #[arg(long, value_name = "N")]
    subscriptions: Option<u64>,
    /// Seconds `steady` runs (default 60; the 5-minute figure wants a quiet machine).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    /// Process whose memory `idle` reads (found from --url when local);
    /// `idle` is meaningful on a fresh server, as --compare runs it.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// CA that signed the --url server's certificate, for tls.
    #[arg(long, value_name = "FILE")]
    tlscacert: Option<String>,
    /// Results as JSON (one object) instead of a table.
    #[arg(long)]
    json: bool,
    /// Scenarios to run (default: all that apply, see below).
    #[arg(value_name = "SCENARIO", value_parser = scenario_names())]
    scenarios: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Mode {
    /// What a reload costs at scale: N users, connections logged in as them,
    /// SIGHUP after SIGHUP.
    ///
    /// Starts rnats from a config with --users users (each with permissions
    /// of its own), logs --conns connections in as them, then reloads the
    /// config --reloads times by SIGHUP, changing one user's permissions,
    /// removing one user and adding another each time. Reports the server's
    /// own timing of each reload and pub/sub throughput with and without
    /// reloads running.
    Reload(reload::ReloadArgs),
    /// A long run under hostile conditions: a three-server cluster under
    /// load, reloads, kills and reconnecting clients.
    ///
    /// Runs a three-server cluster (rnats A and B, and the reference
    /// nats-server as C when installed) under load for --duration: --conns
    /// client connections (mostly idle subscribers; publishers, queue
    /// members, responders and requesters; some reconnecting all the time), a
    /// reload of A and B every --reload-every that adds and removes users and
    /// changes a permission, and B and C killed with SIGKILL and restarted in
    /// turn every --kill-every.
    ///
    /// Prints, every --interval: messages sent and delivered to healthy
    /// subscribers (on A, from publishers on A) and how many of those were
    /// lost (expect 0), cross-server deliveries, requests and their p99
    /// latency, A's RSS and open descriptors, B's and C's RSS, reloads and
    /// kills so far.
    Soak(soak::SoakArgs),
}

fn scenario_names() -> PossibleValuesParser {
    PossibleValuesParser::new(
        SCENARIOS
            .iter()
            .chain(tls::TLS_SCENARIOS)
            .chain(ws::WS_SCENARIOS)
            .chain(ACCOUNT_SCENARIOS)
            .chain(EXTRA_SCENARIOS)
            .copied(),
    )
}

/// Runs the command; returns the exit code.
pub fn run(args: BenchArgs) -> u8 {
    match args.mode {
        Some(Mode::Reload(a)) => return reload::run(&a),
        Some(Mode::Soak(a)) => return soak::run(a),
        None => {}
    }
    let defaults = Config::default();
    let mut cfg = Config {
        url: args.url.unwrap_or(defaults.url),
        url2: args.url2,
        msgs: args.msgs.map_or(defaults.msgs, |n| n.max(1)),
        size: args.size.unwrap_or(defaults.size),
        subject: args.subject.unwrap_or(defaults.subject),
        subs: args.subs.map_or(defaults.subs, |n| n.max(1)),
        requests: args.requests.map_or(defaults.requests, |n| n.max(1)),
        conns: args.conns.map_or(defaults.conns, |n| n.max(1)),
        server_pid: args.server_pid,
        subscriptions: args.subscriptions.map_or(defaults.subscriptions, |n| n.max(1)),
        duration: args.duration.map_or(defaults.duration, |s| std::time::Duration::from_secs(s.max(1))),
        ..defaults
    };
    if let Some(path) = &args.tlscacert {
        match tls::client_config_from_file(path) {
            Ok(c) => cfg.tls = Some(c),
            Err(e) => {
                eprintln!("rnats bench: {e}");
                return 2;
            }
        }
    }
    let (compare_mode, json, rounds) = (args.compare, args.json, args.rounds.max(1));
    let mut scenarios = args.scenarios;
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
            scenarios.extend(ACCOUNT_SCENARIOS.iter().chain(EXTRA_SCENARIOS).map(|s| s.to_string()));
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
