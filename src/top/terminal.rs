//! The terminal side of `rnats top`: raw mode and the alternate screen for
//! the lifetime of the view, restored on every way out (q, Ctrl-C, SIGTERM,
//! SIGHUP, an error, a panic), and the event loop.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::TryRecvError;
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event};

use super::app::{Action, App, Query};
use super::args::Settings;
use super::http::Client;
use super::poller::Poller;
use super::screen::View;

/// How long the loop waits for a key before looking at the poller again.
const TICK: Duration = Duration::from_millis(100);

/// Restores the terminal when dropped, whatever the way out.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
        let _ = ratatui::crossterm::execute!(std::io::stdout(), ratatui::crossterm::cursor::Show);
        let _ = std::io::stdout().flush();
    }
}

/// Runs the interactive view until the user quits.
pub fn run(settings: &Settings, client: Client) -> Result<(), String> {
    if !std::io::stdout().is_terminal() {
        return Err("the live view needs a terminal; use -o - to print one screen".into());
    }
    let query = Query { limit: settings.limit, sort: settings.sort, subs: settings.show_subs };
    let target = client.endpoint.url();
    let poller = Poller::spawn(client, query, settings.delay).map_err(|e| format!("cannot start polling: {e}"))?;

    // Set by SIGTERM, SIGHUP (terminal gone) and SIGINT (raw mode turns
    // Ctrl-C into a key, but `kill -INT` still arrives as a signal); the
    // loop checks it every tick and leaves through the same door as `q`.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| format!("cannot handle signals: {e}"))?;
    }

    // try_init also installs a panic hook that restores the terminal before
    // the panic message prints.
    let mut terminal = ratatui::try_init().map_err(|e| format!("cannot set up the terminal: {e}"))?;
    let _restore = Restore;
    let view = View { show_subs: settings.show_subs, raw_bytes: settings.raw_bytes, show_rates: false };
    let mut app = App::new(query, view, settings.delay, target);
    loop {
        terminal.draw(|f| app.draw(f)).map_err(|e| format!("cannot draw: {e}"))?;
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if settings.max_refreshes.is_some_and(|max| app.refreshes >= max) {
            return Ok(());
        }
        if event::poll(TICK).map_err(|e| format!("cannot read the terminal: {e}"))? {
            if let Event::Key(key) = event::read().map_err(|e| format!("cannot read the terminal: {e}"))? {
                match app.on_key(key) {
                    Action::Quit => return Ok(()),
                    Action::Requery => {
                        if poller.queries.send(app.query).is_err() {
                            return Err("the polling thread stopped".into());
                        }
                    }
                    Action::Nothing => {}
                }
            }
        }
        loop {
            match poller.results.try_recv() {
                Ok(poll) => app.on_poll(poll),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Err("the polling thread stopped".into()),
            }
        }
    }
}
