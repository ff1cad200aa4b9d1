//! A byte stream sink: stderr in the server, any writer in tests. Lines are
//! buffered and flushed whenever the writer thread has caught up, so a burst
//! costs one write call, not one per line.

use std::io::{self, BufWriter, IsTerminal, Write};

use super::format::Formatter;
use super::record::Record;

pub struct StreamOut {
    out: BufWriter<Box<dyn Write + Send>>,
    /// Coloured tags; nats-server colours them only when stderr is a
    /// terminal.
    colors: bool,
    line: Vec<u8>,
}

impl StreamOut {
    pub fn stderr() -> StreamOut {
        let colors = io::stderr().is_terminal();
        StreamOut::new(Box::new(io::stderr()), colors)
    }

    pub fn new(out: Box<dyn Write + Send>, colors: bool) -> StreamOut {
        StreamOut { out: BufWriter::with_capacity(64 * 1024, out), colors, line: Vec::with_capacity(256) }
    }

    pub fn write(&mut self, rec: &Record, message: &str, fmt: &Formatter) {
        self.line.clear();
        fmt.line(&mut self.line, rec, message, self.colors);
        // Nowhere left to report a failing stderr.
        let _ = self.out.write_all(&self.line);
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}
