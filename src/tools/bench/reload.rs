//! `rnats bench reload`: what a reload costs at scale. A config with 10 000
//! users (each with permissions of its own), 10 000 connections logged in as
//! them, and SIGHUP after SIGHUP: the server's own timing of each reload
//! (load and diff, compile and install, every connection re-checked), and
//! message throughput with reloads running against throughput without.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::tools::spawn::{ServerProcess, Spawn};

/// `rnats bench reload`'s options (what it does: `bench::command::Mode`).
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// Users in the config (at least 2).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    users: usize,
    /// Connections logged in as them.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    conns: usize,
    /// Reloads (at least 1).
    #[arg(long, value_name = "N", default_value_t = 20)]
    reloads: usize,
    /// Messages per throughput run.
    #[arg(long, value_name = "N", default_value_t = 2_000_000)]
    msgs: u64,
    /// Results as JSON.
    #[arg(long)]
    json: bool,
}

/// The config of round `round`: user `round % users` has other permissions,
/// and the last user is replaced by one named after the round.
fn config(users: usize, round: usize) -> String {
    let mut text = String::with_capacity(users * 120);
    // The throughput scenarios log in without credentials: as `no_auth_user`.
    text.push_str("debug: true\nno_auth_user: u0\nauthorization { users = [\n");
    let changed = round % users;
    for i in 0..users - 1 {
        let extra = if i == changed && round > 0 { format!(", \"r{round}.>\"") } else { String::new() };
        text.push_str(&format!(
            "  {{user: u{i}, password: p{i}, permissions: {{publish: [\"u{i}.>\", \"bench.>\"{extra}], subscribe: [\"u{i}.>\", \"bench.>\", \"_INBOX.>\"]}}}}\n"
        ));
    }
    let last = if round == 0 { format!("u{}", users - 1) } else { format!("new{round}") };
    text.push_str(&format!("  {{user: {last}, password: x}}\n] }}\n"));
    text
}

fn login(addr: SocketAddr, user: usize) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let hello = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"u{user}\",\"pass\":\"p{user}\"}}\r\nSUB u{user}.x 1\r\nPING\r\n"
    );
    s.write_all(hello.as_bytes())?;
    line.clear();
    r.read_line(&mut line)?;
    if line != "PONG\r\n" {
        return Err(std::io::Error::other(format!("login of u{user} answered {line:?}")));
    }
    Ok(s)
}

/// The server's own account of its last reload, from its debug log.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
struct Timing {
    total_ms: f64,
    load_ms: f64,
    compile_ms: f64,
    rechecked_ms: f64,
}

fn parse_ms(text: &str) -> Option<f64> {
    // Rust's Debug of a Duration: `12.3ms`, `950µs`, `1.2s`, `800ns`.
    let t = text.trim().trim_end_matches(',');
    let (num, unit) = t.split_at(t.find(|c: char| c.is_alphabetic() || c == 'µ')?);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "s" => v * 1e3,
        "ms" => v,
        "µs" => v / 1e3,
        "ns" => v / 1e6,
        _ => return None,
    })
}

fn timing(line: &str) -> Option<Timing> {
    // Reload took T: load and diff A, compile and install B, N connections re-checked after C
    let rest = line.split("Reload took ").nth(1)?;
    let (total, rest) = rest.split_once(": load and diff ")?;
    let (load, rest) = rest.split_once(", compile and install ")?;
    let (compile, rest) = rest.split_once(", ")?;
    let checked = rest.split("re-checked after ").nth(1)?;
    Some(Timing {
        total_ms: parse_ms(total)?,
        load_ms: parse_ms(load)?,
        compile_ms: parse_ms(compile)?,
        rechecked_ms: parse_ms(checked)?,
    })
}

fn reload(server: &ServerProcess, conf: &Path, users: usize, round: usize) -> Result<Timing, String> {
    let before = server.log_text().matches("Reload took ").count();
    std::fs::write(conf, config(users, round)).map_err(|e| e.to_string())?;
    server.signal(rustix::process::Signal::HUP).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = server.log_text();
        if log.matches("Reload took ").count() > before {
            let line = log.lines().rev().find(|l| l.contains("Reload took ")).unwrap_or_default();
            return timing(line).ok_or_else(|| format!("cannot read the timing in {line:?}"));
        }
        if log.contains("Failed to reload") {
            return Err(format!("the reload failed:\n{}", log.lines().rev().take(5).collect::<Vec<_>>().join("\n")));
        }
        if Instant::now() > deadline {
            return Err("the reload did not finish within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Publishes `msgs` small messages to one subscriber and returns msgs/s.
fn pubsub_rate(addr: SocketAddr, msgs: u64) -> Result<f64, String> {
    let cfg = super::Config { url: addr.to_string(), msgs, ..Default::default() };
    let out = super::run_scenario("pubsub", &cfg)?;
    out.msgs_per_sec.ok_or_else(|| "no rate measured".into())
}

pub fn run(args: &ReloadArgs) -> u8 {
    let a = ReloadArgs {
        users: args.users.max(2),
        reloads: args.reloads.max(1),
        msgs: args.msgs.max(1),
        conns: args.conns,
        json: args.json,
    };
    match measure(&a) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rnats bench reload: {e}");
            1
        }
    }
}

fn measure(a: &ReloadArgs) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("rnats-bench-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let conf: PathBuf = dir.join("users.conf");
    std::fs::write(&conf, config(a.users, 0)).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let server =
        Spawn::new(&exe).args(&["-c", conf.to_str().unwrap_or_default()]).log().start().map_err(|e| e.to_string())?;
    eprintln!("logging in {} connections as {} users...", a.conns, a.users);
    let started = Instant::now();
    let mut conns = Vec::with_capacity(a.conns);
    for i in 0..a.conns {
        conns.push(login(server.addr, i % (a.users - 1)).map_err(|e| format!("connection {i}: {e}"))?);
    }
    eprintln!(
        "{} connections in {:.1}s; reloading {} times...",
        conns.len(),
        started.elapsed().as_secs_f64(),
        a.reloads
    );
    let mut timings = Vec::new();
    for round in 1..=a.reloads {
        timings.push(reload(&server, &conf, a.users, round)?);
    }
    let quiet = pubsub_rate(server.addr, a.msgs)?;
    // The same traffic with a reload every 50 ms.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reloads_during = std::thread::scope(|scope| -> Result<(f64, usize), String> {
        let stop2 = stop.clone();
        let reloader = scope.spawn(|| {
            let stop = stop2;
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 10_000 {
                if reload(&server, &conf, a.users, a.reloads + 1 + n).is_err() {
                    break;
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            n
        });
        let rate = pubsub_rate(server.addr, a.msgs);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let n = reloader.join().unwrap_or(0);
        Ok((rate?, n))
    })?;
    let (busy, n_busy) = reloads_during;
    drop(conns);
    let _ = std::fs::remove_dir_all(&dir);
    let med = |f: fn(&Timing) -> f64| median(timings.iter().map(f).collect());
    let result = serde_json::json!({
        "users": a.users,
        "connections": a.conns,
        "reloads": timings.len(),
        "median_ms": {
            "total": med(|t| t.total_ms),
            "load_and_diff": med(|t| t.load_ms),
            "compile_and_install": med(|t| t.compile_ms),
            "every_connection_rechecked": med(|t| t.rechecked_ms),
        },
        "max_total_ms": timings.iter().map(|t| t.total_ms).fold(0.0, f64::max),
        "pubsub_msgs_per_sec": { "without_reloads": quiet, "with_reloads": busy, "reloads_meanwhile": n_busy },
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&result).unwrap_or_default());
    } else {
        let m = &result["median_ms"];
        println!("reload of {} users with {} connections, median of {} reloads:", a.users, a.conns, timings.len());
        println!("  load and diff            {:>8.1} ms", m["load_and_diff"].as_f64().unwrap_or_default());
        println!("  compile and install      {:>8.1} ms", m["compile_and_install"].as_f64().unwrap_or_default());
        println!(
            "  every connection checked {:>7.1} ms after the install",
            m["every_connection_rechecked"].as_f64().unwrap_or_default()
        );
        println!(
            "  total                    {:>8.1} ms (max {:.1} ms)",
            m["total"].as_f64().unwrap_or_default(),
            result["max_total_ms"].as_f64().unwrap_or_default()
        );
        println!(
            "pub/sub throughput: {:.2} M msgs/s without reloads, {:.2} M msgs/s with {} reloads meanwhile",
            quiet / 1e6,
            busy / 1e6,
            n_busy
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_servers_timing_line() {
        let t = timing("[1] 2026/11/30 [DBG] Reload took 41.5ms: load and diff 30.1ms, compile and install 8.2ms, 10000 connections re-checked after 11.4ms").unwrap();
        assert_eq!((t.total_ms, t.load_ms, t.compile_ms, t.rechecked_ms), (41.5, 30.1, 8.2, 11.4));
        assert_eq!(parse_ms("950µs"), Some(0.95));
        assert_eq!(parse_ms("1.5s"), Some(1500.0));
    }

    #[test]
    fn each_round_changes_permissions_and_users() {
        let a = config(3, 0);
        let b = config(3, 1);
        assert!(a.contains("{user: u2, password: x}") && b.contains("{user: new1, password: x}"));
        assert!(b.contains("\"r1.>\"") && !a.contains("\"r1.>\""));
    }
}
