//! Log lines in nats-server's format: `[pid] 2006/01/02 15:04:05.000000 [INF] msg`.
//!
//! Scripts and test harnesses grep these lines ("Listening for client
//! connections on", "Server is ready"), so the format is matched exactly. The
//! level switches and the output live in statics read on every event, which is
//! what lets a config reload change them without rebuilding the subscriber.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);
static LOGTIME: AtomicBool = AtomicBool::new(true);
static LOGTIME_UTC: AtomicBool = AtomicBool::new(false);
static COLORS: AtomicBool = AtomicBool::new(false);
static OUTPUT: OnceLock<Mutex<Box<dyn Write + Send>>> = OnceLock::new();

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSettings {
    pub debug: bool,
    pub trace: bool,
    pub logtime: bool,
    pub logtime_utc: bool,
    pub log_file: Option<String>,
}

impl LogSettings {
    pub fn from_options(o: &crate::options::Options) -> Self {
        LogSettings {
            debug: o.debug,
            trace: o.trace,
            logtime: o.logtime,
            logtime_utc: o.logtime_utc,
            log_file: o.log_file.clone(),
        }
    }
}

/// Installs the global logger. Safe to call once per process.
pub fn init(settings: &LogSettings) -> std::io::Result<()> {
    apply(settings)?;
    let _ = tracing_subscriber::registry().with(GoFormat).try_init();
    Ok(())
}

/// Applies new settings to the installed logger (startup and reload).
pub fn apply(settings: &LogSettings) -> std::io::Result<()> {
    DEBUG.store(settings.debug, Ordering::Relaxed);
    TRACE.store(settings.trace, Ordering::Relaxed);
    LOGTIME.store(settings.logtime, Ordering::Relaxed);
    LOGTIME_UTC.store(settings.logtime_utc, Ordering::Relaxed);
    let writer: Box<dyn Write + Send> = match &settings.log_file {
        Some(path) => {
            COLORS.store(false, Ordering::Relaxed);
            Box::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?)
        }
        None => {
            COLORS.store(std::io::stderr().is_terminal(), Ordering::Relaxed);
            Box::new(std::io::stderr())
        }
    };
    match OUTPUT.get() {
        Some(out) => *out.lock().unwrap_or_else(|e| e.into_inner()) = writer,
        None => {
            let _ = OUTPUT.set(Mutex::new(writer));
        }
    }
    Ok(())
}

fn tag(level: &Level) -> (&'static str, &'static str) {
    match *level {
        Level::ERROR => ("ERR", "\x1b[31m"),
        Level::WARN => ("WRN", "\x1b[33m"),
        Level::INFO => ("INF", "\x1b[32m"),
        Level::DEBUG => ("DBG", "\x1b[36m"),
        Level::TRACE => ("TRC", "\x1b[33m"),
    }
}

fn level_enabled(level: &Level) -> bool {
    match *level {
        Level::DEBUG => DEBUG.load(Ordering::Relaxed),
        Level::TRACE => TRACE.load(Ordering::Relaxed),
        _ => true,
    }
}

/// Formats one line, without the trailing newline.
pub fn format_line(tag_text: &str, color: Option<&str>, message: &str) -> String {
    let mut line = String::with_capacity(64 + message.len());
    let _ = write!(line, "[{}] ", std::process::id());
    if LOGTIME.load(Ordering::Relaxed) {
        let now = jiff::Timestamp::now();
        let formatted = if LOGTIME_UTC.load(Ordering::Relaxed) {
            now.strftime("%Y/%m/%d %H:%M:%S%.6f").to_string()
        } else {
            now.to_zoned_datetime(jiff::tz::TimeZone::system()).strftime("%Y/%m/%d %H:%M:%S%.6f").to_string()
        };
        let _ = write!(line, "{formatted} ");
    }
    match color {
        Some(c) => {
            let _ = write!(line, "[{c}{tag_text}\x1b[0m] {message}");
        }
        None => {
            let _ = write!(line, "[{tag_text}] {message}");
        }
    }
    line
}

fn emit(line: &str) {
    if let Some(out) = OUTPUT.get() {
        let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    } else {
        eprintln!("{line}");
    }
}

/// A fatal error, logged as `[FTL]` (the caller exits).
pub fn fatal(message: &str) {
    let color = COLORS.load(Ordering::Relaxed).then_some("\x1b[31m");
    emit(&format_line("FTL", color, message));
}

struct GoFormat;

struct MessageVisitor(String);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }
}

impl<S: Subscriber> Layer<S> for GoFormat {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        // Levels change at runtime, so ask `enabled` every time.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target().starts_with("rnats") && level_enabled(metadata.level())
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let level = event.metadata().level();
        if !level_enabled(level) {
            return;
        }
        let mut visitor = MessageVisitor(String::new());
        event.record(&mut visitor);
        let (text, color) = tag(level);
        let color = COLORS.load(Ordering::Relaxed).then_some(color);
        emit(&format_line(text, color, &visitor.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shape() {
        let line = format_line("INF", None, "Server is ready");
        let pid = format!("[{}] ", std::process::id());
        assert!(line.starts_with(&pid), "{line}");
        assert!(line.ends_with(" [INF] Server is ready"), "{line}");
        // [pid] YYYY/MM/DD HH:MM:SS.micro [INF] ...
        let date = &line[pid.len()..pid.len() + 26];
        assert_eq!(date.as_bytes()[4], b'/');
        assert_eq!(date.as_bytes()[19], b'.');
    }
}
