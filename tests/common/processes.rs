//! Servers run as processes from a config file (rnats or the reference),
//! and clients that log in to them as a config user.

use std::path::Path;

use rnats::tools::spawn::{ServerProcess, Spawn};

/// `bin -c conf`, on the ports the file names (tests' files use `-1`).
pub fn start(bin: &Path, conf: &Path) -> ServerProcess {
    Spawn::new(bin).args(&["-c", conf.to_str().expect("utf-8 path")]).start().expect("server starts")
}

/// An async-nats client of `user`, whose password is its name, named
/// `app-<user>` (the name shows in connection events and CONNZ).
pub async fn login(p: &ServerProcess, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), user.into())
        .name(format!("app-{user}"))
        .connect(format!("nats://{}", p.addr))
        .await
        .expect("login")
}

/// Rewrites `conf` with `text`, sends SIGHUP and waits until the log holds
/// `reloads` "Reloaded server configuration" lines (rnats and nats-server
/// both log it); fails on an `[ERR]` line or after [`super::WAIT`].
pub fn reload_by_sighup(p: &ServerProcess, conf: &Path, text: &str, reloads: usize) {
    std::fs::write(conf, text).expect("config written");
    p.signal(rustix::process::Signal::HUP).expect("SIGHUP");
    let deadline = std::time::Instant::now() + super::WAIT;
    loop {
        let log = p.log_text();
        assert!(!log.contains("[ERR]"), "the reload failed:\n{log}");
        if log.matches("Reloaded server configuration").count() >= reloads {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "reload {reloads} was not logged:\n{log}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
