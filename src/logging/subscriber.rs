//! The `tracing` layer: turns `info!`/`trace!`/… events from rnats into
//! records on the queue. It sits on tracing-subscriber's registry; no spans
//! are used.
//!
//! Cost at a disabled call site: the levels live in atomics, and every call
//! site's interest is recomputed (`rebuild_interest_cache`) when they
//! change, so a `trace!` with tracing off is one relaxed load of tracing's
//! max level and a branch, and nothing reaches this code.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::record::{Record, Severity};

/// nats-server's log lines, as a layer.
pub struct GoLayer;

fn severity(level: &Level) -> Severity {
    match *level {
        Level::ERROR => Severity::Error,
        Level::WARN => Severity::Warn,
        Level::INFO => Severity::Info,
        Level::DEBUG => Severity::Debug,
        Level::TRACE => Severity::Trace,
    }
}

/// Only rnats's own events: dependencies' debug output is not nats-server's.
fn wanted(meta: &Metadata<'_>) -> bool {
    meta.target().starts_with("rnats") && super::severity_enabled(severity(meta.level()))
}

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

impl<S: Subscriber> Layer<S> for GoLayer {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if wanted(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(if super::trace_enabled() {
            LevelFilter::TRACE
        } else if super::debug_enabled() {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        })
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        wanted(meta)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let severity = severity(event.metadata().level());
        // Interest is refreshed after a level change, not atomically with
        // it: check again so a just-disabled level writes nothing.
        if !super::severity_enabled(severity) {
            return;
        }
        let mut visitor = MessageVisitor(String::with_capacity(128));
        event.record(&mut visitor);
        super::submit(Record::now(severity, visitor.0));
    }
}
