//! Live reload: a signal, a file change (`--watch`) or a request loads the
//! config file again and applies it to the running server, all or nothing.
//!
//! 1. Load the file with the same code as `rnats check`; any error keeps the
//!    running configuration and is logged with `file:line:col`.
//! 2. Diff the typed configurations ([`diff`]). A change that cannot apply
//!    at run time refuses the whole reload, naming the key as the config does.
//! 3. Otherwise compile the next snapshot, install it with one store, apply
//!    the side effects (logging, pid and ports files, the connection cap),
//!    and log one `Reloaded:` line per change. Every connection then adopts
//!    the snapshot at its next event: credentials and permissions are checked
//!    again there, without a cost on the message path between reloads.

pub mod diff;
pub mod dry_run;
mod record;
mod request;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tracing::{debug, error, info, warn};

use crate::conf::Loaded;
use crate::logging::{self, LogSettings};
use crate::options::FlagOverlay;
use crate::options::Options;
use crate::server::adoption::{Awaiting, ConnectionCounts};
use crate::server::errors::{err_line, CloseReason, ERR_MAX_CONNECTIONS};
use crate::server::snapshot::{NextParts, Snapshot};
use crate::server::state::ServerState;
use diff::{Change, Class, Diff};

/// How long a reload waits for every connection to adopt the new snapshot
/// before it reports back (connections keep adopting it afterwards).
const ADOPTION_WAIT: Duration = Duration::from_secs(10);

/// The config file a server runs from, and the flags laid over it (flags
/// win over the file, on every reload too, as in nats-server).
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub overlay: FlagOverlay,
}

/// What started a reload; the log says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP (also `rnats --signal reload`).
    Signal,
    /// `--watch` saw these files change.
    FilesChanged(Vec<PathBuf>),
    /// A direct call (tests, tools).
    Request,
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Signal => write!(f, "signal"),
            Trigger::Request => write!(f, "request"),
            Trigger::FilesChanged(files) => {
                let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                write!(f, "{} changed", names.join(", "))
            }
        }
    }
}

/// How a reload ended.
#[derive(Debug)]
pub enum Outcome {
    /// The new configuration is in force; `adopted_in` is the time from its
    /// install until every connection had adopted it (or the wait ended with
    /// `pending` still to adopt it); `connections` is what it did to clients.
    Applied {
        changes: Vec<Change>,
        digest: String,
        adopted_in: Duration,
        connections: ConnectionCounts,
        pending: usize,
    },
    /// The file was read and is valid, and nothing in it changed.
    Unchanged { digest: String },
    /// At least one change needs a restart; nothing was applied.
    Refused { reasons: Vec<String> },
    /// The file could not be loaded; nothing was applied.
    Invalid { diagnostics: Vec<String> },
    /// The server was not started with `-c`.
    NoConfigFile,
}

/// The files a loaded configuration came from, and their digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// `sha256:<hex>` over every source (files and environment values).
    pub digest: String,
    /// Files to watch: the config, its includes, and TLS files it names.
    pub files: Vec<PathBuf>,
    /// `sha256:<hex>` over the contents of the TLS files, so a renewed
    /// certificate is a change even when the config text is the same.
    pub tls_digest: String,
}

impl Fingerprint {
    pub fn of(loaded: &Loaded) -> Fingerprint {
        let mut hash = Sha256::new();
        let mut files = Vec::new();
        for src in loaded.sources.iter() {
            hash.update(src.name.as_bytes());
            hash.update([0]);
            hash.update(src.text.as_bytes());
            hash.update([0]);
            if !src.path.as_os_str().is_empty() {
                files.push(src.path.clone());
            }
        }
        let tls = tls_files(&loaded.options);
        let mut tls_hash = Sha256::new();
        for f in &tls {
            tls_hash.update(f.as_os_str().as_encoded_bytes());
            tls_hash.update([0]);
            tls_hash.update(std::fs::read(f).unwrap_or_default());
        }
        files.extend(tls);
        files.sort();
        files.dedup();
        Fingerprint {
            digest: format!("sha256:{:x}", hash.finalize()),
            files,
            tls_digest: format!("sha256:{:x}", tls_hash.finalize()),
        }
    }
}

/// Certificate, key and CA files named by the configuration.
fn tls_files(o: &Options) -> Vec<PathBuf> {
    let blocks = o.tls.iter().chain(o.cluster.iter().filter_map(|c| c.tls.as_ref()));
    blocks.flat_map(|t| [&t.cert_file, &t.key_file, &t.ca_file]).filter_map(|f| f.as_ref().map(PathBuf::from)).collect()
}

/// Loads `source` the way `rnats check` does: the file, then the flags.
pub fn load(source: &ConfigSource) -> Loaded {
    crate::conf::load(&source.path, &source.overlay)
}

/// A reload ready to install: the configuration in force, and the next one
/// loaded, diffed, checked and compiled.
struct Plan {
    old: Arc<Snapshot>,
    fingerprint: Fingerprint,
    opts: Options,
    diff: Diff,
    next: NextParts,
    began: Instant,
    diffed: Instant,
}

/// A configuration loaded, compared with the one in force and compiled.
struct Prepared {
    fingerprint: Fingerprint,
    opts: Options,
    diff: Diff,
    /// The compiled snapshot parts, or why they could not be compiled.
    next: Result<NextParts, String>,
    /// When the diff was done (the compile may have taken longer).
    diffed: Instant,
}

/// Loads `source` and, if it is valid, diffs and compiles it against `old`;
/// otherwise returns its diagnostics. Runs on the blocking pool. The diff
/// and the compile only read the two configurations, so the compile runs
/// on a thread of its own beside the diff: at 10 000 users each takes a few
/// milliseconds, and the reload waits for the longer one, not for both.
fn prepare(source: &ConfigSource, old: &Snapshot) -> Result<Prepared, Vec<String>> {
    let loaded = load(source);
    if loaded.failed(false) {
        return Err(positioned(&loaded));
    }
    let (fingerprint, diff, diffed, next) = std::thread::scope(|scope| {
        let opts = &loaded.options;
        let compiling = std::thread::Builder::new()
            .name("rnats-reload-compile".into())
            .spawn_scoped(scope, || old.compile_next(opts));
        // The digest of the sources, meanwhile too.
        let fingerprint = Fingerprint::of(&loaded);
        let diff = diff::diff(&old.opts, opts);
        let diffed = Instant::now();
        let next = match compiling {
            Ok(thread) => thread.join().unwrap_or_else(|_| Err("the compile failed unexpectedly".to_string())),
            // No thread to be had: compile here, after the diff.
            Err(_) => old.compile_next(opts),
        };
        (fingerprint, diff, diffed, next)
    });
    Ok(Prepared { fingerprint, opts: loaded.options, diff, next, diffed })
}

/// Applies configuration changes to one running server, one at a time.
pub struct Reloader {
    state: Arc<ServerState>,
    source: Option<ConfigSource>,
    /// Serialises reloads (signal, watcher, requests) and holds the
    /// fingerprint of the configuration in force. A tokio mutex: a reload
    /// awaits the file load and the connections while holding it.
    current: tokio::sync::Mutex<Fingerprint>,
    /// The watcher learns the new file list after each reload.
    watched: tokio::sync::watch::Sender<Vec<PathBuf>>,
}

impl Reloader {
    /// `fingerprint` describes the configuration the server started with.
    pub fn new(state: Arc<ServerState>, source: Option<ConfigSource>, fingerprint: Fingerprint) -> Arc<Reloader> {
        let (watched, _) = tokio::sync::watch::channel(fingerprint.files.clone());
        Arc::new(Reloader { state, source, current: tokio::sync::Mutex::new(fingerprint), watched })
    }

    /// The server this reloader reloads.
    pub fn state(&self) -> &Arc<ServerState> {
        &self.state
    }

    pub fn source(&self) -> Option<&ConfigSource> {
        self.source.as_ref()
    }

    /// The files the current configuration came from, as they change.
    pub fn watched_files(&self) -> tokio::sync::watch::Receiver<Vec<PathBuf>> {
        self.watched.subscribe()
    }

    /// Loads the config file again and applies it, all or nothing; logs the
    /// outcome as nats-server does, and records it for `/varz`, `/healthz`
    /// and the system account's reload event.
    pub async fn reload(&self, trigger: Trigger) -> Outcome {
        let mut current = self.current.lock().await;
        let _systemd = SystemdReloading::start();
        let outcome = self.reload_locked(&mut current, &trigger).await;
        self.state.record_reload(record::of(&trigger, &outcome, &current.digest));
        outcome
    }

    async fn reload_locked(&self, current: &mut Fingerprint, trigger: &Trigger) -> Outcome {
        info!("Reloading server configuration ({trigger})");
        let plan = match self.plan(current).await {
            Ok(plan) => plan,
            Err(outcome) => {
                log_failure(&outcome);
                return outcome;
            }
        };
        let Plan { old, fingerprint, opts: new_opts, diff, next, began, diffed } = plan;
        // Logging first: it is the one side effect that can fail (a log file
        // that cannot be opened), and then nothing has changed yet.
        if logging_changed(&old.opts, &new_opts) {
            // It may open a file or resolve a syslog host: off the workers.
            let settings = LogSettings::from_options(&new_opts);
            let applied = tokio::task::spawn_blocking(move || logging::apply(&settings))
                .await
                .unwrap_or_else(|e| Err(logging::LogError::Syslog(e.to_string())));
            if let Err(e) = applied {
                let outcome = Outcome::Refused { reasons: vec![format!("cannot open the new log output: {e}")] };
                log_failure(&outcome);
                return outcome;
            }
        }
        let snapshot = old.successor_from(next, new_opts, Some(fingerprint.digest.clone()));
        let generation = snapshot.generation;
        let awaiting = self.state.install(snapshot);
        let installed = Instant::now();
        let new = self.state.snapshot();
        self.apply_side_effects(&old.opts, &new.opts, &diff);
        if let Some(op) = self.state.operator().cloned() {
            // Operator mode: account JWTs changed on disk apply now (file
            // reads, off the workers).
            let state = self.state.clone();
            let _ = tokio::task::spawn_blocking(move || op.refresh(&*state)).await;
        }
        for change in &diff.changes {
            if let Some(name) = change.account() {
                // How many of this server's clients the account change touches.
                let clients = self.state.accounts().get(name).map_or(0, |a| a.num_clients());
                info!("{} ({clients} client connection(s) in the account)", change.reloaded_line());
                continue;
            }
            match change.class {
                Class::Ignored => warn!("{} (not supported by rnats: no effect)", change.reloaded_line()),
                Class::ReloadableBeyondReference => {
                    info!("{} (applied live; nats-server needs a restart for this)", change.reloaded_line())
                }
                _ => info!("{}", change.reloaded_line()),
            }
        }
        // The compile ran beside the diff; what it took beyond the diff
        // counts here.
        let compiled_in = diffed.elapsed();
        let (adopted_in, pending) = self.wait_for_adoption(awaiting, installed).await;
        let connections = self.state.reload_effects(generation);
        debug!(
            "Reload took {:?}: load and diff {:?}, compile and install {compiled_in:?}, {} connections re-checked after {adopted_in:?}",
            began.elapsed(),
            diffed.duration_since(began),
            self.state.num_clients()
        );
        // Freeing the old snapshot (every user's options, names and rules)
        // is CPU work too: off the workers. The sessions have let go of it.
        tokio::task::spawn_blocking(move || drop(old));
        let _ = self.watched.send(fingerprint.files.clone());
        let digest = fingerprint.digest.clone();
        *current = fingerprint;
        if diff.changes.is_empty() {
            info!("Reloaded server configuration: no changes ({digest})");
            return Outcome::Unchanged { digest };
        }
        info!(
            "Reloaded server configuration ({digest}): {} client connection(s) closed, {} re-checked, {} unchanged",
            connections.closed, connections.rechecked, connections.unchanged
        );
        Outcome::Applied { changes: diff.changes, digest, adopted_in, connections, pending }
    }

    /// Loads, checks, diffs and compiles the config file against the one in
    /// force (`current`), without changing anything; an outcome that ends
    /// the reload here is the error.
    async fn plan(&self, current: &Fingerprint) -> Result<Plan, Outcome> {
        let Some(source) = self.source.clone() else {
            return Err(Outcome::NoConfigFile);
        };
        // Parsing, diffing and compiling a file with thousands of users is
        // CPU work: keep it off the workers that move messages. Only this
        // reloader installs snapshots, under `current`, so `old` stays the
        // one in force until it does.
        let began = Instant::now();
        let old = self.state.snapshot();
        let base = old.clone();
        let prepared = match tokio::task::spawn_blocking(move || prepare(&source, &base)).await {
            Ok(Ok(p)) => p,
            Ok(Err(diagnostics)) => return Err(Outcome::Invalid { diagnostics }),
            Err(e) => return Err(Outcome::Invalid { diagnostics: vec![e.to_string()] }),
        };
        let Prepared { fingerprint, opts, mut diff, next, diffed } = prepared;
        if opts.tls.is_some()
            && fingerprint.tls_digest != current.tls_digest
            && !diff.changes.iter().any(|c| c.key == "tls")
        {
            diff.changes.push(Change {
                key: "tls".into(),
                old: String::new(),
                new: String::new(),
                class: Class::Reloadable,
                detail: Some("certificate files re-read; new connections use them".into()),
            });
        }
        let mut reasons: Vec<String> = diff.refused().map(Change::refusal_line).collect();
        reasons.extend(crate::conf::keys::refusals(&opts).iter().map(|m| format!("cannot apply: {m}")));
        if !reasons.is_empty() {
            return Err(Outcome::Refused { reasons });
        }
        // Certificate files were read by the compile: a bad one refuses the
        // whole reload, before anything is applied.
        let next = next.map_err(|reason| Outcome::Refused { reasons: vec![reason] })?;
        Ok(Plan { old, fingerprint, opts, diff, next, began, diffed })
    }

    /// What a reload would do now, against the live connections, without
    /// doing it: the system account's `RELOAD` request with `dry_run`.
    pub async fn dry_run(&self) -> dry_run::DryRun {
        let current = self.current.lock().await;
        let plan = self.plan(&current).await;
        let dry = dry_run::predict(&self.state, plan.as_ref().map_err(|o| o as &Outcome));
        info!("Reload dry run: {}", dry.summary());
        dry
    }

    /// The digest of the configuration in force.
    pub async fn digest(&self) -> String {
        self.current.lock().await.digest.clone()
    }

    fn apply_side_effects(&self, old: &Options, new: &Options, diff: &Diff) {
        let changed = |key: &str| diff.changes.iter().any(|c| c.key == key);
        if changed("pid_file") {
            if let Err(e) = self.state.files().set_pid_file(new.pid_file.as_deref()) {
                error!("{e}");
            }
        }
        if changed("ports_file_dir") {
            let addr = self.state.client_addr();
            let cluster = self.state.cluster().and_then(|c| c.listen_addr());
            if let Err(e) = self.state.files().set_ports_dir(new.ports_file_dir.as_deref(), new, addr, cluster) {
                error!("{e}");
            }
        }
        if new.max_connections > 0 && new.max_connections < old.max_connections.max(1) {
            self.enforce_max_connections(new.max_connections);
        }
        // Routes removed from `cluster.routes` are closed, new ones dialed.
        crate::server::route::apply_reload(&self.state, old, new);
    }

    /// Closes the newest connections until at most `max` remain, as
    /// nats-server does when `max_connections` is lowered (it picks at
    /// random; newest first is deterministic and spares long-lived clients).
    fn enforce_max_connections(&self, max: usize) {
        let mut conns = self.state.connections();
        if conns.len() <= max {
            return;
        }
        conns.sort_by_key(|c| std::cmp::Reverse(c.cid));
        let excess = conns.len() - max;
        for conn in conns.iter().take(excess) {
            conn.outbound.push_proto(&err_line(ERR_MAX_CONNECTIONS));
            conn.close(CloseReason::MaxConnectionsExceeded);
        }
        info!("Closed {excess} connections to fall within max_connections");
    }

    /// Waits (bounded) until every live connection has adopted the new
    /// snapshot; returns the time from `installed` until then, and how many
    /// had not by the deadline. Sessions count down as they adopt it (or
    /// close), and the last one wakes this.
    async fn wait_for_adoption(&self, awaiting: Awaiting<'_>, installed: Instant) -> (Duration, usize) {
        let deadline = tokio::time::Instant::from_std(installed + ADOPTION_WAIT);
        let pending = awaiting.wait(deadline).await;
        if pending > 0 {
            warn!("{pending} connections have not adopted the new configuration yet");
        }
        (installed.elapsed(), pending)
    }
}

/// Logs why a reload ended without applying anything, as nats-server does.
fn log_failure(outcome: &Outcome) {
    match outcome {
        Outcome::NoConfigFile => error!(
            "Failed to reload server configuration: can only reload config when a file is provided using -c or --config"
        ),
        Outcome::Invalid { diagnostics } => {
            error!("Failed to reload server configuration: {} problem(s) in the configuration", diagnostics.len());
            for d in diagnostics {
                error!("  {d}");
            }
        }
        Outcome::Refused { reasons } => {
            for r in reasons {
                error!("Failed to reload server configuration: {r}");
            }
        }
        Outcome::Applied { .. } | Outcome::Unchanged { .. } => {}
    }
}

/// Tells systemd (`Type=notify`) that a reload is under way, and, when
/// dropped, that the service is ready again, however the reload ended.
struct SystemdReloading;

impl SystemdReloading {
    fn start() -> SystemdReloading {
        if let Err(e) = crate::sd_notify::reloading() {
            warn!("Could not notify systemd: {e}");
        }
        SystemdReloading
    }
}

impl Drop for SystemdReloading {
    fn drop(&mut self) {
        if let Err(e) = crate::sd_notify::ready() {
            warn!("Could not notify systemd: {e}");
        }
    }
}

fn logging_changed(old: &Options, new: &Options) -> bool {
    LogSettings::from_options(old) != LogSettings::from_options(new)
}

/// Every error and warning as `file:line:col: message`.
pub fn positioned(loaded: &Loaded) -> Vec<String> {
    loaded
        .diags
        .iter()
        .filter(|d| d.severity != crate::conf::diag::Severity::Note)
        .map(|d| match d.location(&loaded.sources) {
            Some((f, l, c)) => format!("{f}:{l}:{c}: {}", d.message),
            None => d.message.clone(),
        })
        .collect()
}
