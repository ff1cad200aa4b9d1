//! `rnats top`: nats-top built in. A live view of a NATS server read from its
//! monitoring endpoints `/varz` and `/connz` only, so it works against rnats
//! and nats-server alike.
//!
//! * [`args`]: nats-top's flags and defaults;
//! * [`http`]: the GET client for the monitoring port;
//! * [`tls`]: HTTPS with nats-top's `-cacert`, `-cert`, `-key` and `-k`;
//! * [`monitor`]: the JSON read from it;
//! * [`sample`]: rates from two samples, the sort orders;
//! * [`screen`]: the screen as lines of text;
//! * [`app`]: keys and state, drawn with ratatui;
//! * [`poller`]: polling on its own thread;
//! * [`keys`]: keys from the terminal, on their own thread;
//! * [`terminal`]: the terminal and the event loop.

pub mod app;
pub(crate) mod args;
pub(crate) mod format;
pub mod http;
pub(crate) mod keys;
pub mod monitor;
pub mod poller;
pub mod sample;
pub mod screen;
pub(crate) mod terminal;
pub mod tls;

use std::time::Duration;

use args::{Parsed, Settings, TOP_USAGE};
use http::{Client, Scheme};

/// Bound on one request: long enough for a big `/connz` from a busy server,
/// short enough that a hung server turns into a retry message quickly.
fn request_timeout(delay: Duration) -> Duration {
    delay.clamp(Duration::from_secs(2), Duration::from_secs(10))
}

/// The client the settings describe: plain HTTP for `-m`, HTTPS with the
/// TLS flags for `-ms` (a bad certificate file is an error here).
pub fn client(settings: &Settings) -> Result<Client, String> {
    let timeout = request_timeout(settings.delay);
    match settings.endpoint.scheme {
        Scheme::Http => Ok(Client::new(settings.endpoint.clone(), timeout)),
        Scheme::Https => Ok(Client::https(settings.endpoint.clone(), timeout, tls::client_config(&settings.tls)?)),
    }
}

/// One screen as text, from two samples one interval apart so that the
/// rates are measured (nats-top's `-o` prints zero rates from one sample).
pub fn snapshot(settings: &Settings) -> Result<String, String> {
    let client = client(settings)?;
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
        None => client(&settings).and_then(|c| terminal::run(&settings, c)),
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            // Not eprintln!: stderr may be the terminal that went away.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "rnats top: {e}");
            1
        }
    }
}
