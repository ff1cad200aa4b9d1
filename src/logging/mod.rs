//! Logging as nats-server does it: `[pid] 2006/01/02 15:04:05.000000 [INF] msg`
//! on stderr or in a file (rotated by size, reopened on SIGUSR1), or framed
//! for a local or remote syslog.
//!
//! Scripts and test harnesses grep these lines ("Listening for client
//! connections on", "Server is ready"), so the format is matched exactly.
//!
//! How a line travels, and why:
//! - `info!`/`trace!`/… call sites check the level with a relaxed atomic
//!   load (trace call sites sit on the message path) — [`subscriber`];
//! - an enabled event becomes a [`record::Record`] (time, level, text) and
//!   goes on a queue bounded by a byte budget; nothing is written, formatted
//!   or flushed on the logging thread, which is usually a tokio worker —
//!   [`queue`] (the policy when the queue is full is documented there);
//! - one writer thread takes records in order, scrubs secrets
//!   ([`redact`]), and writes them to the one sink in use: stderr
//!   ([`stream`]), a file ([`file`](mod@file)) or syslog ([`syslog`]), each framing
//!   the line its own way ([`format`](mod@format));
//! - [`apply`] (start-up, reload), [`reopen`] (SIGUSR1) and [`shutdown`]
//!   (exit) reach the writer through the same queue, so they act between
//!   two lines, in order.
//!
//! Sink precedence is nats-server's: `log_file` > `remote_syslog` >
//! `syslog` > stderr.

#[cfg(test)]
pub(crate) mod capture;
mod file;
mod format;
mod output;
mod queue;
mod record;
pub(crate) mod redact;
mod stream;
mod subscriber;
mod syslog;
mod trace;
mod writer;

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use file::FileOut;
use format::Formatter;
use output::Output;
use queue::{FileLimits, LineSettings, Msg, Pipeline};
use record::{Record, Severity};
use stream::StreamOut;
use syslog::{SyslogOut, Target};
pub use trace::TracedPayload;

// The level switches: read at every enabled call site and by the
// subscriber, written by `apply`. Relaxed: a level change may reach other
// threads a moment later, which is all a reload promises.
static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);
static TRACE_VERBOSE: AtomicBool = AtomicBool::new(false);
static MAX_TRACED_MSG_LEN: AtomicUsize = AtomicUsize::new(0);

/// The queue to the writer thread, started by the first `apply`.
static PIPELINE: OnceLock<Pipeline> = OnceLock::new();

/// The sink the writer was last told to use. The mutex serialises `apply`
/// calls (start-up, reload, and a SIGUSR1 racing a reload) so that
/// "compare with the current sink, then switch" is one step.
static SINK: Mutex<Option<SinkSpec>> = Mutex::new(None);

/// How long `shutdown` waits for the writer to drain.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Everything the logger is configured by; built from the options at start
/// and again on every reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub debug: bool,
    pub trace: bool,
    /// `-VV` / `trace_verbose`: also trace the system account's internal
    /// connections. rnats has no system account yet, so this only implies
    /// `trace`; [`trace_verbose`] reports it for when it has one.
    pub trace_verbose: bool,
    pub logtime: bool,
    pub logtime_utc: bool,
    pub log_file: Option<String>,
    /// Rotate the file past this many bytes; 0 never.
    pub log_size_limit: u64,
    /// Files kept after rotation, the current one included; 0 keeps all.
    pub log_max_num: u64,
    pub syslog: bool,
    pub remote_syslog: Option<String>,
    /// Payload bytes shown in a trace; 0 shows all.
    pub max_traced_msg_len: usize,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            debug: false,
            trace: false,
            trace_verbose: false,
            logtime: true,
            logtime_utc: false,
            log_file: None,
            log_size_limit: 0,
            log_max_num: 0,
            syslog: false,
            remote_syslog: None,
            max_traced_msg_len: 0,
        }
    }
}

impl LogSettings {
    pub fn from_options(o: &crate::options::Options) -> Self {
        LogSettings {
            debug: o.debug,
            trace: o.trace || o.trace_verbose,
            trace_verbose: o.trace_verbose,
            logtime: o.logtime,
            logtime_utc: o.logtime_utc,
            log_file: o.log_file.clone().filter(|f| !f.is_empty()),
            log_size_limit: o.log_size_limit,
            log_max_num: o.logfile_max_num,
            syslog: o.syslog,
            remote_syslog: o.remote_syslog.clone().filter(|r| !r.is_empty()),
            max_traced_msg_len: usize::try_from(o.max_traced_msg_len).unwrap_or(usize::MAX),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("error opening log file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: io::Error,
    },
    /// A `remote_syslog` URL rnats cannot use; the text is the whole message.
    #[error("{0}")]
    Syslog(String),
    #[error("cannot start the log writer thread: {0}")]
    Thread(#[source] io::Error),
}

/// The sink as configured, to tell a reload that keeps it from one that
/// switches it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SinkSpec {
    Stderr,
    File(PathBuf),
    Syslog(Target),
}

fn sink_spec(s: &LogSettings) -> Result<SinkSpec, LogError> {
    Ok(if let Some(path) = &s.log_file {
        SinkSpec::File(PathBuf::from(path))
    } else if let Some(url) = &s.remote_syslog {
        SinkSpec::Syslog(Target::parse_remote(url).map_err(LogError::Syslog)?)
    } else if s.syslog {
        SinkSpec::Syslog(Target::Local)
    } else {
        SinkSpec::Stderr
    })
}

/// Opens a sink on the calling thread, so a failure is reported to the
/// caller and the current sink stays.
fn open_output(spec: &SinkSpec, limits: FileLimits) -> Result<Output, LogError> {
    Ok(match spec {
        SinkSpec::Stderr => Output::Stream(StreamOut::stderr()),
        SinkSpec::File(path) => Output::File(
            FileOut::open(path, limits.size, limits.max_files)
                .map_err(|source| LogError::File { path: path.display().to_string(), source })?,
        ),
        SinkSpec::Syslog(target) => {
            target.check().map_err(LogError::Syslog)?;
            Output::Syslog(SyslogOut::new(target.clone(), StreamOut::stderr()))
        }
    })
}

/// Starts the writer and installs the `tracing` subscriber, then applies
/// `settings`. Call once, from `main`, before the runtime starts.
pub fn init(settings: &LogSettings) -> Result<(), LogError> {
    apply(settings)?;
    // Fails only if a subscriber is already installed (a second init).
    use tracing_subscriber::layer::SubscriberExt;
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(subscriber::GoLayer));
    Ok(())
}

/// Applies new settings: levels at once, line shape and sink in order with
/// the lines already queued. If the new sink cannot be opened (a file in a
/// missing directory, an invalid `remote_syslog`, a name that does not
/// resolve), nothing changes and the error says why.
///
/// May block briefly (opening a file, resolving a syslog host name); from
/// async code, call it through `spawn_blocking`.
pub fn apply(settings: &LogSettings) -> Result<(), LogError> {
    let mut current = SINK.lock().unwrap_or_else(|e| e.into_inner());
    let spec = sink_spec(settings)?;
    let line = LineSettings { logtime: settings.logtime, utc: settings.logtime_utc };
    let limits = FileLimits { size: settings.log_size_limit, max_files: settings.log_max_num };
    let unchanged = current.as_ref() == Some(&spec);
    let output = if unchanged { None } else { Some(open_output(&spec, limits)?) };
    let pipeline = match PIPELINE.get() {
        Some(p) => p,
        None => {
            let p = writer::start(Output::Stream(StreamOut::stderr()), Formatter::new(), queue::DEFAULT_BUDGET)
                .map_err(LogError::Thread)?;
            PIPELINE.get_or_init(|| p)
        }
    };
    match output {
        Some(output) => {
            pipeline.send(Msg::Install(Box::new(output), line));
            *current = Some(spec);
        }
        None => {
            pipeline.send(Msg::Update(line, limits));
        }
    }
    MAX_TRACED_MSG_LEN.store(settings.max_traced_msg_len, Ordering::Relaxed);
    TRACE_VERBOSE.store(settings.trace_verbose, Ordering::Relaxed);
    let trace = settings.trace || settings.trace_verbose;
    let was_debug = DEBUG.swap(settings.debug, Ordering::Relaxed);
    let was_trace = TRACE.swap(trace, Ordering::Relaxed);
    if was_debug != settings.debug || was_trace != trace {
        // Re-asks the subscriber which call sites are on.
        tracing::callsite::rebuild_interest_cache();
    }
    Ok(())
}

/// SIGUSR1: reopen the log file (after logrotate moved it). The writer logs
/// `File log re-opened` as the first line of the new file, or why it could
/// not (and keeps the old file), or `File log re-open ignored, not a file
/// logger`. Returns at once.
pub fn reopen() {
    if let Some(p) = PIPELINE.get() {
        p.send(Msg::Reopen(jiff::Timestamp::now()));
    }
}

/// Writes out every line queued so far, waiting at most a few seconds (a
/// stalled sink cannot hold the exit up). Call before the process exits.
pub fn shutdown() {
    if let Some(p) = PIPELINE.get() {
        p.flush(SHUTDOWN_WAIT);
    }
}

/// A fatal error, logged as `[FTL]` and written out before this returns
/// (the caller exits next).
pub fn fatal(message: &str) {
    let rec = Record::now(Severity::Fatal, message);
    match PIPELINE.get() {
        Some(p) => {
            p.submit(rec);
            p.flush(SHUTDOWN_WAIT);
        }
        None => write_direct(&rec),
    }
}

/// Whether `debug!` lines are written.
pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Whether `trace!` lines are written.
pub fn trace_enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// `-VV`: whether the system account's connections are traced too.
pub fn trace_verbose() -> bool {
    TRACE_VERBOSE.load(Ordering::Relaxed)
}

/// A payload as a `MSG_PAYLOAD` trace shows it, cut at
/// `max_traced_msg_len`: `trace!("{p} - <<- MSG_PAYLOAD: [{}]", traced_payload(payload))`.
pub fn traced_payload(payload: &[u8]) -> TracedPayload<'_> {
    TracedPayload::new(payload, MAX_TRACED_MSG_LEN.load(Ordering::Relaxed))
}

fn severity_enabled(s: Severity) -> bool {
    match s {
        Severity::Debug => debug_enabled(),
        Severity::Trace => trace_enabled(),
        _ => true,
    }
}

fn submit(rec: Record) {
    match PIPELINE.get() {
        Some(p) => {
            p.submit(rec);
        }
        None => write_direct(&rec),
    }
}

/// Writes on the calling thread: only before the writer exists or after it
/// died, so a line is never lost.
fn write_direct(rec: &Record) {
    static FALLBACK: OnceLock<Formatter> = OnceLock::new();
    let fmt = FALLBACK.get_or_init(Formatter::new);
    let mut line = Vec::with_capacity(rec.message.len() + 64);
    fmt.line(&mut line, rec, &redact::scrub(&rec.message), false);
    let _ = io::stderr().lock().write_all(&line);
}
