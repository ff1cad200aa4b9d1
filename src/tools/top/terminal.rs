//! The terminal side of `rnats top`: raw mode and the alternate screen for
//! the lifetime of the view, restored on every way out (q, Ctrl-C, SIGTERM,
//! SIGHUP, SIGINT, the terminal closing, an error, a panic), and the event
//! loop. When the terminal is gone there is nothing to restore: every write
//! to it may fail, and none of those failures may panic.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::prelude::CrosstermBackend;
use ratatui::Terminal;

use super::app::{Action, App, Query};
use super::args::Settings;
use super::http::Client;
use super::keys::{self, Input};
use super::poller::Poller;
use super::screen::View;

/// How long the loop waits for a key before looking at the poller again.
const TICK: Duration = Duration::from_millis(100);

/// Restores the terminal when dropped, whatever the way out.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        restore();
    }
}

/// Raw mode off, the main screen back, the cursor shown; each step tried
/// even if one before failed, and no failure reported (ratatui's own
/// `restore` prints one to stderr, which panics when the terminal is gone).
fn restore() {
    let _ = disable_raw_mode();
    let mut out = std::io::stdout();
    let _ = ratatui::crossterm::execute!(out, LeaveAlternateScreen, ratatui::crossterm::cursor::Show);
    let _ = out.flush();
}

/// The terminal in raw mode on the alternate screen, with a panic hook that
/// restores it before the panic message.
fn init() -> std::io::Result<Terminal<CrosstermBackend<std::io::Stdout>>> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    enable_raw_mode()?;
    ratatui::crossterm::execute!(std::io::stdout(), EnterAlternateScreen)?;
    Terminal::new(CrosstermBackend::new(std::io::stdout()))
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

    let _restore = Restore;
    let mut terminal = init().map_err(|e| format!("cannot set up the terminal: {e}"))?;
    let input = keys::spawn().map_err(|e| format!("cannot read the terminal: {e}"))?;
    let view = View { show_subs: settings.show_subs, raw_bytes: settings.raw_bytes, show_rates: false };
    let mut app = App::new(query, view, settings.delay, target);
    let outcome = event_loop(&mut terminal, &mut app, settings, &poller, &input, &stop);
    // ratatui's Terminal shows the cursor when dropped and prints to stderr
    // if it cannot, which panics when stderr is the terminal that went away:
    // a terminal that cannot take the cursor back is not dropped.
    if terminal.show_cursor().is_err() {
        std::mem::forget(terminal);
    }
    outcome
}

/// Draws and handles keys and polls until a way out.
fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<std::io::Stdout>>,
    app: &mut App,
    settings: &Settings,
    poller: &Poller,
    input: &std::sync::mpsc::Receiver<Input>,
    stop: &AtomicBool,
) -> Result<(), String> {
    loop {
        terminal.draw(|f| app.draw(f)).map_err(|e| format!("cannot draw: {e}"))?;
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if settings.max_refreshes.is_some_and(|max| app.refreshes >= max) {
            return Ok(());
        }
        match input.recv_timeout(TICK) {
            Ok(Input::Key(key)) => match app.on_key(key) {
                Action::Quit => return Ok(()),
                Action::Requery => {
                    if poller.queries.send(app.query).is_err() {
                        return Err("the polling thread stopped".into());
                    }
                }
                Action::Nothing => {}
            },
            Ok(Input::Closed(why)) => return Err(why),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Err("the terminal input stopped".into()),
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
