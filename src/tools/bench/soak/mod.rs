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

/// `rnats bench soak`'s options (what it does: `bench::command::Mode`).
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// How long to run (a Go duration: 30s, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = go_duration)]
    duration: Duration,
    /// Client connections (at least 40).
    #[arg(long, value_name = "N", default_value_t = 2000)]
    conns: usize,
    /// How often to print a line (at least 500ms).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = go_duration)]
    interval: Duration,
    /// How often to reload A and B (0: never).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = go_duration)]
    reload_every: Duration,
    /// How often to kill B or C (0: never).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = go_duration)]
    kill_every: Duration,
    /// Leave the reference nats-server out, even when installed.
    #[arg(long = "no-reference", action = clap::ArgAction::SetFalse)]
    reference: bool,
    /// The final report as JSON.
    #[arg(long)]
    json: bool,
}

fn go_duration(text: &str) -> Result<Duration, String> {
    crate::gotext::parse_go_duration(text)
}

pub fn run(mut args: SoakArgs) -> u8 {
    args.conns = args.conns.max(40);
    args.interval = args.interval.max(Duration::from_millis(500));
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
