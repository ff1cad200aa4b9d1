//! Keys from the terminal, read on a thread of their own.
//!
//! Not crossterm's event reader: once the terminal is gone (an ssh session
//! dropped, a tmux pane killed) a read of it returns end of file at once,
//! and crossterm's reader retries that read in a loop without returning,
//! so the view spun at most of a core and never looked at its stop flag
//! again. Here a read that ends (end of file or an error) ends the input,
//! and the view leaves at its next tick.

use std::io::{IsTerminal, Read};
use std::sync::mpsc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What the input thread reports.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    Key(KeyEvent),
    /// The terminal cannot be read any more; why.
    Closed(String),
}

/// Starts reading keys: from standard input when it is the terminal, else
/// from `/dev/tty` (where raw mode applies either way).
pub fn spawn() -> std::io::Result<mpsc::Receiver<Input>> {
    let source: Box<dyn Read + Send> = if std::io::stdin().is_terminal() {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open("/dev/tty")?)
    };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new().name("top-keys".into()).spawn(move || read_keys(source, tx))?;
    Ok(rx)
}

/// Reads until the terminal ends or the view stops listening. The thread
/// is left blocked in a read when the view ends first; the process exit
/// ends it.
fn read_keys(mut source: Box<dyn Read + Send>, tx: mpsc::Sender<Input>) {
    let mut buf = [0u8; 256];
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => {
                let _ = tx.send(Input::Closed("the terminal was closed".into()));
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Input::Closed(format!("cannot read the terminal: {e}")));
                return;
            }
        };
        for key in decode(&buf[..n]) {
            if tx.send(Input::Key(key)).is_err() {
                return;
            }
        }
    }
}

/// The keys in one read of a terminal in raw mode: characters, Enter,
/// Backspace, Esc and Ctrl-C; escape sequences (arrows, function keys) and
/// other control bytes are skipped.
pub fn decode(bytes: &[u8]) -> Vec<KeyEvent> {
    let mut keys = Vec::new();
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let key = match c {
            '\r' | '\n' => KeyEvent::from(KeyCode::Enter),
            '\x7f' | '\x08' => KeyEvent::from(KeyCode::Backspace),
            '\x03' => KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            '\x1b' => match chars.peek() {
                // CSI (`ESC [ ... final`) or SS3 (`ESC O x`): a key rnats
                // top has no use for.
                Some('[') => {
                    chars.next();
                    while chars.next().is_some_and(|c| !('\x40'..='\x7e').contains(&c)) {}
                    continue;
                }
                Some('O') => {
                    chars.next();
                    chars.next();
                    continue;
                }
                _ => KeyEvent::from(KeyCode::Esc),
            },
            c if c.is_control() || c == char::REPLACEMENT_CHARACTER => continue,
            c => KeyEvent::from(KeyCode::Char(c)),
        };
        keys.push(key);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes_to_keys() {
        let codes = |b: &[u8]| decode(b).into_iter().map(|k| (k.code, k.modifiers)).collect::<Vec<_>>();
        let none = KeyModifiers::NONE;
        assert_eq!(codes(b"q"), [(KeyCode::Char('q'), none)]);
        assert_eq!(codes(b"o5\r"), [(KeyCode::Char('o'), none), (KeyCode::Char('5'), none), (KeyCode::Enter, none)]);
        assert_eq!(codes(b"\x03"), [(KeyCode::Char('c'), KeyModifiers::CONTROL)]);
        assert_eq!(codes(b"\x7f\x1b"), [(KeyCode::Backspace, none), (KeyCode::Esc, none)]);
        assert_eq!(codes(b"\x1b[A\x1b[1;5Cx\x1bOPy"), [(KeyCode::Char('x'), none), (KeyCode::Char('y'), none)]);
        assert_eq!(codes("é".as_bytes()), [(KeyCode::Char('é'), none)]);
        assert_eq!(codes(b"\x01\x00 "), [(KeyCode::Char(' '), none)]);
    }
}
