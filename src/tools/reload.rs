//! `rnats reload`: reload the configuration of running servers and say what
//! happened, or with `--dry-run` what would.
//!
//! Through the system account (`-s URL` with a system user's credentials)
//! every server of the cluster is asked: `$SYS.REQ.SERVER.PING.IDZ` finds
//! them, `$SYS.REQ.SERVER.<id>.RELOAD` reloads each. A nats-server parses
//! the request body as filter options and ignores `dry_run`: it would reload
//! for real, so a dry run asks `VARZ` first and skips servers that are not
//! rnats. With `--pid`, the process gets SIGHUP (a signal carries no answer:
//! no dry run), and `--monitor` reads the outcome from `/varz`.
//!
//! Exit status: 0 applied (or would apply), 1 refused or invalid, 2 nothing
//! changed, 3 no answer.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use super::top::http::{Client as HttpClient, Endpoint, Scheme};

/// Reload servers' configuration and report what it did to them (through
/// the system account, or by signal).
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// Report what a reload would change and which client connections it
    /// would close or re-check, without reloading (rnats servers only).
    #[arg(long)]
    dry_run: bool,
    /// A server of the cluster; every server that answers the system
    /// account is reloaded.
    #[arg(short = 's', long = "server", value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    url: String,
    /// A user of the system account.
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    password: Option<String>,
    #[arg(long)]
    token: Option<String>,
    /// A credentials file (operator mode).
    #[arg(long, value_name = "FILE")]
    creds: Option<PathBuf>,
    /// Only the server with this name or id.
    #[arg(long, value_name = "NAME|ID")]
    name: Option<String>,
    /// Signal this process (a pid or a pid file) with SIGHUP instead.
    #[arg(long, value_name = "PID|FILE", conflicts_with = "dry_run")]
    pid: Option<String>,
    /// With --pid: the monitoring URL (http://host:port) whose /varz tells
    /// how the reload ended.
    #[arg(long, value_name = "URL", requires = "pid")]
    monitor: Option<String>,
    /// Seconds to wait for the servers' answers.
    #[arg(long, default_value_t = 2.0)]
    timeout: f64,
}

/// How a server's reload ended, in the order that decides the exit status
/// across servers: any failure, else any silence, else any change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Unchanged,
    Applied,
    NoAnswer,
    Failed,
}

impl Status {
    fn of(outcome: &str) -> Status {
        match outcome {
            "applied" | "would_apply" => Status::Applied,
            "unchanged" => Status::Unchanged,
            _ => Status::Failed,
        }
    }

    fn exit_code(self) -> u8 {
        match self {
            Status::Applied => 0,
            Status::Failed => 1,
            Status::Unchanged => 2,
            Status::NoAnswer => 3,
        }
    }
}

pub fn run(args: &ReloadArgs) -> u8 {
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.05, 600.0));
    let status = match &args.pid {
        Some(pid) => by_signal(pid, args.monitor.as_deref(), timeout),
        None => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(by_request(args, timeout)),
            Err(e) => {
                eprintln!("rnats reload: {e}");
                Status::NoAnswer
            }
        },
    };
    status.exit_code()
}

/// SIGHUP to the process; with a monitoring URL, waits for its `/varz` to
/// record a reload newer than the one before the signal.
fn by_signal(pid: &str, monitor: Option<&str>, timeout: Duration) -> Status {
    let client = match monitor.map(endpoint).transpose() {
        Ok(endpoint) => endpoint.map(|e| HttpClient::new(e, timeout)),
        Err(e) => {
            eprintln!("rnats reload: {e}");
            return Status::NoAnswer;
        }
    };
    let last = |client: &HttpClient| -> Option<Value> {
        let body = client.get("/varz").ok()?;
        serde_json::from_slice::<Value>(&body).ok()?.get("reload").cloned()
    };
    let before = client.as_ref().and_then(last);
    if let Err(e) = crate::signals::send("reload", Some(pid)) {
        eprintln!("rnats reload: {e}");
        return Status::NoAnswer;
    }
    let Some(client) = client else {
        println!("sent SIGHUP (give --monitor to see how the reload ends)");
        return Status::Applied;
    };
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match last(&client) {
            Some(now) if Some(&now["time"]) != before.as_ref().map(|b| &b["time"]) => {
                return report("server", &now, false);
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    eprintln!("rnats reload: no new reload in {}/varz within {timeout:?}", client.endpoint.url());
    Status::NoAnswer
}

fn endpoint(url: &str) -> Result<Endpoint, String> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        None => (Scheme::Http, url),
        Some((other, _)) => return Err(format!("--monitor {url:?}: unknown scheme {other:?}")),
    };
    if scheme == Scheme::Https {
        return Err(format!("--monitor {url:?}: use the http monitoring port"));
    }
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(|| format!("--monitor {url:?}: no port"))?;
    let port = port.parse().map_err(|_| format!("--monitor {url:?}: bad port"))?;
    Ok(Endpoint { scheme, host: host.trim_matches(['[', ']']).to_string(), port })
}

async fn by_request(args: &ReloadArgs, timeout: Duration) -> Status {
    let client = match connect(args).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rnats reload: cannot connect to {}: {e}", args.url);
            return Status::NoAnswer;
        }
    };
    let mut servers = ping(&client, timeout).await;
    if let Some(only) = &args.name {
        servers.retain(|s| s["id"] == only.as_str() || s["name"] == only.as_str());
    }
    if servers.is_empty() {
        eprintln!("rnats reload: no server answered $SYS.REQ.SERVER.PING.IDZ (is the user in the system account?)");
        return Status::NoAnswer;
    }
    let mut worst = Status::Unchanged;
    let mut any = false;
    for server in &servers {
        let id = server["id"].as_str().unwrap_or_default();
        let label = format!("{} ({id})", server["name"].as_str().unwrap_or_default());
        if args.dry_run && !is_rnats(&client, id, timeout).await {
            println!("{label}: skipped: not rnats (nats-server would reload for real)");
            continue;
        }
        let body = if args.dry_run { json!({"dry_run": true}) } else { json!({}) };
        let subject = format!("$SYS.REQ.SERVER.{id}.RELOAD");
        let status = match request(&client, subject, body.to_string(), timeout).await {
            None => {
                println!("{label}: no answer");
                Status::NoAnswer
            }
            Some(reply) => match (&reply["error"], &reply["data"]) {
                (Value::Object(e), _) => {
                    println!("{label}: refused: {}", e["description"].as_str().unwrap_or_default());
                    Status::Failed
                }
                (_, data @ Value::Object(_)) => report(&label, data, args.dry_run),
                // A reload that worked: rnats keeps its record in VARZ;
                // nats-server says no more.
                _ => match varz(&client, id, timeout).await.map(|v| v["data"]["reload"].clone()) {
                    Some(record @ Value::Object(_)) => report(&label, &record, false),
                    _ => {
                        println!("{label}: reloaded");
                        Status::Applied
                    }
                },
            },
        };
        any = true;
        worst = worst.max(status);
    }
    if any {
        worst
    } else {
        Status::NoAnswer
    }
}

async fn connect(args: &ReloadArgs) -> Result<async_nats::Client, String> {
    let mut options = async_nats::ConnectOptions::new().name("rnats reload");
    if let (Some(user), Some(password)) = (&args.user, &args.password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &args.token {
        options = options.token(token.clone());
    }
    if let Some(creds) = &args.creds {
        options = options.credentials_file(creds).await.map_err(|e| e.to_string())?;
    }
    options.connect(&args.url).await.map_err(|e| e.to_string())
}

/// Every server's IDZ answer (`name`, `id`), in the order they
/// answered, until `timeout` passes without a new one.
async fn ping(client: &async_nats::Client, timeout: Duration) -> Vec<Value> {
    let inbox = client.new_inbox();
    let Ok(mut answers) = client.subscribe(inbox.clone()).await else { return Vec::new() };
    if client.publish_with_reply("$SYS.REQ.SERVER.PING.IDZ", inbox, "".into()).await.is_err() {
        return Vec::new();
    }
    let mut servers = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout(timeout, answers.next()).await {
        // IDZ answers with the bare `{name, host, id}`, not an envelope.
        if let Ok(reply) = serde_json::from_slice::<Value>(&msg.payload) {
            if reply["id"].is_string() {
                servers.push(reply);
            }
        }
    }
    servers
}

async fn request(client: &async_nats::Client, subject: String, body: String, timeout: Duration) -> Option<Value> {
    let msg = tokio::time::timeout(timeout, client.request(subject, body.into())).await.ok()?.ok()?;
    serde_json::from_slice(&msg.payload).ok()
}

async fn varz(client: &async_nats::Client, id: &str, timeout: Duration) -> Option<Value> {
    request(client, format!("$SYS.REQ.SERVER.{id}.VARZ"), "{}".into(), timeout).await
}

/// Whether the server with `id` is rnats (its `/varz` `go` field says so).
async fn is_rnats(client: &async_nats::Client, id: &str, timeout: Duration) -> bool {
    let varz = varz(client, id, timeout).await;
    varz.is_some_and(|v| v["data"]["go"].as_str().is_some_and(|go| go.starts_with("rnats")))
}

/// Prints one server's reload record or dry run; returns its status.
fn report(label: &str, data: &Value, dry_run: bool) -> Status {
    let outcome = data["outcome"].as_str().unwrap_or("unknown");
    let c = &data["connections"];
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    let verb = if dry_run { "dry run" } else { "reload" };
    println!(
        "{label}: {verb} {outcome}; client connections: {} closed, {} re-checked, {} unchanged",
        n("closed"),
        n("rechecked"),
        n("unchanged")
    );
    if n("uncertain") > 0 {
        println!("  {} re-check credentials the dry run cannot verify and may be closed", n("uncertain"));
    }
    for key in ["changes", "reasons"] {
        for line in data[key].as_array().into_iter().flatten() {
            println!("  {}", line.as_str().unwrap_or_default());
        }
    }
    if let Some(accounts) = data["accounts"].as_object() {
        for (name, c) in accounts {
            let n = |k: &str| c[k].as_u64().unwrap_or(0);
            println!(
                "  account {name}: {} closed, {} re-checked, {} unchanged",
                n("closed"),
                n("rechecked"),
                n("unchanged")
            );
        }
    }
    Status::of(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_outcome_decides_the_exit_status() {
        let worst = [Status::of("applied"), Status::of("unchanged"), Status::of("refused")].into_iter().max();
        assert_eq!(worst.map(Status::exit_code), Some(1));
        assert_eq!(Status::of("would_apply").max(Status::of("unchanged")).exit_code(), 0);
        assert_eq!(Status::of("unchanged").max(Status::of("unchanged")).exit_code(), 2);
        assert_eq!(Status::NoAnswer.max(Status::Applied).exit_code(), 3);
        assert_eq!(Status::NoAnswer.max(Status::of("invalid")).exit_code(), 1);
    }

    #[test]
    fn monitor_urls() {
        assert_eq!(endpoint("http://127.0.0.1:8222/").unwrap().url(), "http://127.0.0.1:8222");
        assert_eq!(endpoint("[::1]:8222").unwrap().url(), "http://[::1]:8222");
        assert!(endpoint("ftp://x:1").is_err());
        assert!(endpoint("http://x").is_err());
    }
}
