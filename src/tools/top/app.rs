//! The interactive state of `rnats top`: what is shown, the keys of nats-top,
//! and drawing one frame. No terminal or network here, so tests drive it
//! with key events and render it on ratatui's `TestBackend`.

use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::monitor::parse_sort;
use super::sample::Stats;
use super::screen::{self, StatusLine, View};
use crate::monitor::connz::SortBy;

/// What the poller asks the server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub limit: usize,
    pub sort: SortBy,
    pub subs: bool,
}

/// The outcome of one poll.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    Stats(Box<Stats>),
    /// The server could not be read; `attempt` counts failures in a row.
    Failed {
        error: String,
        attempt: u32,
    },
}

/// What the caller does after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// The query changed: poll again with [`App::query`].
    Requery,
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    Sort,
    Limit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Top,
    Help,
    Input(Prompt, String),
}

/// How long a note ("invalid order: x") stays on the status line.
const NOTE_FOR: Duration = Duration::from_secs(2);

pub struct App {
    pub query: Query,
    pub view: View,
    /// How often the poller polls, for the retry message.
    pub delay: Duration,
    /// The monitoring URL, for the retry message.
    pub target: String,
    mode: Mode,
    stats: Stats,
    error: Option<String>,
    note: Option<(String, Instant)>,
    /// Successful polls so far (for `-r`).
    pub refreshes: u64,
}

impl App {
    pub fn new(query: Query, view: View, delay: Duration, target: String) -> App {
        App {
            query,
            view,
            delay,
            target,
            mode: Mode::Top,
            stats: Stats::default(),
            error: None,
            note: None,
            refreshes: 0,
        }
    }

    /// Takes in a poll: new numbers, or the reason there are none.
    pub fn on_poll(&mut self, poll: Poll) {
        match poll {
            Poll::Stats(stats) => {
                self.stats = *stats;
                self.error = None;
                self.refreshes += 1;
            }
            Poll::Failed { error, attempt } => {
                let every = format!("{:?}", self.delay);
                self.error = Some(format!("{error} (attempt {attempt}; retrying every {every})"));
            }
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Handles one key, nats-top's way.
    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Nothing;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        match std::mem::replace(&mut self.mode, Mode::Top) {
            Mode::Help => {
                // Any key leaves help; q still quits, as in nats-top.
                if key.code == KeyCode::Char('q') {
                    return Action::Quit;
                }
                Action::Nothing
            }
            Mode::Input(prompt, mut buf) => match key.code {
                KeyCode::Enter => self.submit(prompt, buf.trim()),
                KeyCode::Esc => Action::Nothing,
                KeyCode::Backspace => {
                    buf.pop();
                    self.mode = Mode::Input(prompt, buf);
                    Action::Nothing
                }
                KeyCode::Char(ch) if !ch.is_control() => {
                    if buf.len() < 64 {
                        buf.push(ch);
                    }
                    self.mode = Mode::Input(prompt, buf);
                    Action::Nothing
                }
                _ => {
                    self.mode = Mode::Input(prompt, buf);
                    Action::Nothing
                }
            },
            Mode::Top => match key.code {
                KeyCode::Char('q') => Action::Quit,
                KeyCode::Char('o') => {
                    self.mode = Mode::Input(Prompt::Sort, String::new());
                    Action::Nothing
                }
                KeyCode::Char('n') => {
                    self.mode = Mode::Input(Prompt::Limit, String::new());
                    Action::Nothing
                }
                KeyCode::Char('s') => {
                    self.view.show_subs = !self.view.show_subs;
                    self.query.subs = self.view.show_subs;
                    Action::Requery
                }
                KeyCode::Char('b') => {
                    self.view.raw_bytes = !self.view.raw_bytes;
                    Action::Nothing
                }
                KeyCode::Char(' ') => {
                    self.view.show_rates = !self.view.show_rates;
                    Action::Nothing
                }
                KeyCode::Char('?') | KeyCode::Char('h') => {
                    self.mode = Mode::Help;
                    Action::Nothing
                }
                _ => Action::Nothing,
            },
        }
    }

    fn submit(&mut self, prompt: Prompt, text: &str) -> Action {
        if text.is_empty() {
            return Action::Nothing;
        }
        match prompt {
            Prompt::Sort => match parse_sort(text) {
                Ok(k) => {
                    self.query.sort = k;
                    super::sample::sort_connections(&mut self.stats.connz.connections, k);
                    Action::Requery
                }
                Err(e) => {
                    self.note = Some((format!("invalid order: {e}"), Instant::now()));
                    Action::Nothing
                }
            },
            Prompt::Limit => match text.parse::<usize>() {
                Ok(n) if n > 0 => {
                    self.query.limit = n;
                    Action::Requery
                }
                _ => {
                    self.note = Some((format!("invalid limit: {text:?} (a positive number)"), Instant::now()));
                    Action::Nothing
                }
            },
        }
    }

    fn status_line(&self) -> StatusLine {
        match &self.mode {
            Mode::Input(Prompt::Sort, buf) => {
                return StatusLine::Prompt(format!("sort by [{}]: {buf}", self.query.sort))
            }
            Mode::Input(Prompt::Limit, buf) => {
                return StatusLine::Prompt(format!("limit   [{}]: {buf}", self.query.limit))
            }
            _ => {}
        }
        if let Some((note, at)) = &self.note {
            if at.elapsed() < NOTE_FOR {
                return StatusLine::Note(note.clone());
            }
        }
        match &self.error {
            Some(e) => StatusLine::Error(e.clone()),
            None => StatusLine::None,
        }
    }

    /// The lines on screen now.
    pub fn lines(&self) -> Vec<Line<'static>> {
        match self.mode {
            Mode::Help => screen::help(),
            _ => screen::lines(&self.stats, &self.status_line(), self.view),
        }
    }

    pub fn draw(&self, frame: &mut Frame) {
        frame.render_widget(Paragraph::new(self.lines()), frame.area());
    }

    /// Whether a prompt is open (on row [`screen::STATUS_ROW`], as in nats-top).
    pub fn prompting(&self) -> bool {
        matches!(self.mode, Mode::Input(..))
    }
}
