//! The scenarios that need accounts, users or mappings in the server's
//! config: `service` (request/reply through a service import across two
//! accounts), `mapped` (publishing to a subject a `mappings` entry rewrites)
//! and `filtered` (a `>` subscriber whose deny rule drops half the traffic).
//! With `--compare` both servers start from the same file, [`fixture`];
//! against `--url` the server must have been started from [`CONF`].

use std::net::SocketAddr;
use std::time::Instant;

use super::conf_file::ConfFile;
use super::config::{Config, Outcome, Res};
use super::conn::{Bar, Conn};
use super::reqrep::{requests, responder, Ask};

/// The scenarios that need [`CONF`].
pub const ACCOUNT_SCENARIOS: &[&str] = &["service", "mapped", "filtered"];

/// Anonymous clients land in APP (`no_auth_user`); the responder logs in to
/// SVC, the filtered subscriber as `filtered`. Passwords equal user names.
pub const CONF: &str = r#"
accounts {
  SVC {
    users: [{user: svc, password: svc}]
    exports: [{service: "bench.svc"}]
  }
  APP {
    users: [
      {user: app, password: app}
      {user: filtered, password: filtered, permissions: {subscribe: {allow: ">", deny: "bench.secret.>"}}}
    ]
    imports: [{service: {account: SVC, subject: "bench.svc"}}]
    mappings: {"bench.in.*": "bench.out.{{wildcard(1)}}"}
  }
}
no_auth_user: app
"#;

/// [`CONF`] in a temporary directory, removed on drop.
pub fn fixture() -> Res<ConfFile> {
    ConfFile::write("accounts", CONF)
}

/// `service`: the requester in APP asks `bench.svc`, which APP imports from
/// SVC; the responder in SVC answers to the `_R_` reply the server made.
pub(super) fn scenario_service(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    let server = responder(Conn::open_as(a, "svc")?, "bench.svc", None, cfg.requests)?;
    let ask = Ask { name: "service", subject: "bench.svc", fresh_inbox: false };
    let o = requests(cfg, Conn::open(a)?, &ask, cfg.requests)?;
    server.join().map_err(|_| "responder panicked")??;
    Ok(o)
}

/// `filtered`: a `>` subscriber whose user may not receive `bench.secret.>`;
/// the publisher alternates `bench.open.x` and `bench.secret.x`, so the
/// server drops every other message at delivery. Counts the delivered half.
pub(super) fn scenario_filtered(cfg: &Config, a: SocketAddr) -> Res<Outcome> {
    let mut sub = Conn::open_as(a, "filtered")?;
    sub.send(b"SUB > 1\r\n")?;
    sub.sync()?;
    let mut p = Conn::open(a)?;
    p.sync()?;
    let pairs = (cfg.msgs / 2).max(1);
    let size = cfg.size;
    let payload = "x".repeat(size);
    let pair = format!("PUB bench.open.x {size}\r\n{payload}\r\nPUB bench.secret.x {size}\r\n{payload}\r\n");
    let per_batch = (256 * 1024 / pair.len()).max(1) as u64;
    let batch = pair.repeat(per_batch as usize);
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = progress.clone();
    let t = Instant::now();
    let reader = std::thread::spawn(move || -> Res<()> {
        let mut got = 0;
        while got < pairs {
            let k = (pairs - got).min(256);
            sub.count_msgs(k, |_| {})?;
            got += k;
            seen.store(got, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    // The same window as the other scenarios: at most 32 MiB ahead.
    let window = (32 * 1024 * 1024 / pair.len() as u64).max(per_batch);
    let mut bar = Bar::new(cfg.progress, "filtered", pairs);
    let mut sent = 0;
    while sent < pairs {
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        while sent.saturating_sub(progress.load(std::sync::atomic::Ordering::Relaxed)) > window {
            if Instant::now() > deadline {
                return Err("filtered: the subscriber stopped reading".into());
            }
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        let k = (pairs - sent).min(per_batch);
        p.send(&batch.as_bytes()[..pair.len() * k as usize])?;
        sent += k;
        bar.set(sent);
    }
    bar.done();
    p.sync()?;
    reader.join().map_err(|_| "reader panicked")??;
    let d = t.elapsed();
    // Published messages per second: the server handled both halves.
    Ok(Outcome {
        scenario: "filtered".into(),
        msgs_per_sec: Some((2 * pairs) as f64 / d.as_secs_f64().max(1e-9)),
        seconds: d.as_secs_f64(),
        ..Default::default()
    })
}
