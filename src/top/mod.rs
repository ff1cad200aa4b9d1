//! `rnats top`: nats-top built in. A live view of a NATS server read from its
//! monitoring endpoints `/varz` and `/connz` only, so it works against rnats
//! and nats-server alike.
//!
//! * [`args`]: nats-top's flags and defaults;
//! * [`http`]: the GET client for the monitoring port;
//! * [`monitor`]: the JSON read from it;
//! * [`sample`]: rates from two samples, the sort orders;
//! * [`screen`]: the screen as lines of text;
//! * [`app`]: keys and state, drawn with ratatui;
//! * [`poller`]: polling on its own thread;
//! * [`terminal`]: the terminal and the event loop.

pub mod app;
pub mod args;
pub mod format;
pub mod http;
pub mod monitor;
pub mod poller;
pub mod sample;
pub mod screen;
pub mod terminal;

use std::time::Duration;

use args::{Parsed, Settings, TOP_USAGE};
use http::Client;

/// Bound on one request: long enough for a big `/connz` from a busy server,
/// short enough that a hung server turns into a retry message quickly.
fn request_timeout(delay: Duration) -> Duration {
    delay.clamp(Duration::from_secs(2), Duration::from_secs(10))
}

/// One screen as text, from two samples one interval apart so that the
/// rates are measured (nats-top's `-o` prints zero rates from one sample).
pub fn snapshot(settings: &Settings) -> Result<String, String> {
    let client = Client::new(settings.endpoint.clone(), request_timeout(settings.delay));
    let query = app::Query { limit: settings.limit, sort: settings.sort, subs: settings.show_subs };
    let mut tracker = sample::Tracker::default();
    tracker.update(poller::fetch(&client, &query)?, settings.sort);
    std::thread::sleep(settings.delay);
    let stats = tracker.update(poller::fetch(&client, &query)?, settings.sort);
    let view = screen::View { show_subs: settings.show_subs, raw_bytes: settings.raw_bytes, show_rates: false };
    Ok(screen::plain(&screen::lines(&stats, &screen::StatusLine::None, view)))
}

/// Runs the command; returns the process exit code (2 for usage errors).
pub fn run(args: &[String]) -> u8 {
    let settings = match args::parse(args) {
        Ok(Parsed::Run(s)) => s,
        Ok(Parsed::Help) => {
            print!("{TOP_USAGE}");
            return 0;
        }
        Err(e) => {
            eprintln!("rnats top: {e}\n");
            eprint!("{TOP_USAGE}");
            return 2;
        }
    };
    let outcome = match &settings.output {
        Some(path) => snapshot(&settings).and_then(|text| {
            if path == "-" {
                print!("{text}");
                Ok(())
            } else {
                std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))
            }
        }),
        None => terminal::run(&settings, Client::new(settings.endpoint.clone(), request_timeout(settings.delay))),
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rnats top: {e}");
            1
        }
    }
}
