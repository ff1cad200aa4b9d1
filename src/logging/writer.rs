//! The writer thread: the only place a log line is written. It owns the
//! sink, so rotation, reopen and sink switches happen between two lines,
//! in the order they were asked for, with no lock.

use std::sync::Arc;

use super::format::Formatter;
use super::output::Output;
use super::queue::{Budget, Inbox, LineSettings, Msg, Pipeline};
use super::record::{Record, Severity};
use super::redact;

/// Check for dropped lines at least this often while draining a backlog.
const REPORT_EVERY: usize = 256;

pub struct Writer {
    output: Output,
    fmt: Formatter,
    budget: Arc<Budget>,
    scrubber: redact::Scrubber,
}

/// Starts the writer thread on `output` and returns the pipeline that feeds it.
pub fn start(output: Output, fmt: Formatter, budget: usize) -> std::io::Result<Pipeline> {
    let (pipeline, inbox, budget) = Pipeline::new(budget);
    let writer = Writer::new(output, fmt, budget);
    std::thread::Builder::new().name("rnats-log".into()).spawn(move || writer.run(inbox))?;
    Ok(pipeline)
}

impl Writer {
    pub fn new(output: Output, fmt: Formatter, budget: Arc<Budget>) -> Writer {
        Writer { output, fmt, budget, scrubber: redact::Scrubber::default() }
    }

    pub fn run(mut self, inbox: Inbox) {
        // Blocks only here, when there is nothing to write.
        while let Ok(msg) = inbox.recv() {
            self.handle(msg);
            let mut drained = 0;
            while let Ok(msg) = inbox.try_recv() {
                self.handle(msg);
                drained += 1;
                if drained % REPORT_EVERY == 0 {
                    self.report_drops();
                }
            }
            // Caught up: say what was lost, then write the batch out.
            self.report_drops();
            self.output.flush();
        }
        self.output.flush();
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Record(rec) => {
                self.budget.release(rec.cost());
                self.write(&rec);
            }
            Msg::Install(output, line) => {
                self.output.flush();
                self.output = *output;
                self.set_line(line);
                if let Output::File(f) = &mut self.output {
                    if f.over_limit() {
                        self.write(&Record::now(Severity::Info, "Rotating logfile..."));
                    }
                }
            }
            Msg::Update(line, limits) => {
                self.set_line(line);
                if let Output::File(f) = &mut self.output {
                    if f.set_limits(limits.size, limits.max_files) {
                        self.write(&Record::now(Severity::Info, "Rotating logfile..."));
                    }
                }
            }
            Msg::Reopen(at) => self.reopen(at),
            Msg::Flush(ack) => {
                self.report_drops();
                self.output.flush();
                let _ = ack.send(());
            }
        }
    }

    fn set_line(&mut self, line: LineSettings) {
        self.fmt.logtime = line.logtime;
        self.fmt.utc = line.utc;
    }

    /// nats-server's `ReOpenLogFile`, with the outcome logged in order: the
    /// success notice is the first line of the new file.
    fn reopen(&mut self, at: jiff::Timestamp) {
        let (severity, message) = match &mut self.output {
            Output::File(f) => match f.reopen() {
                Ok(()) => (Severity::Info, "File log re-opened".to_string()),
                Err(e) => (
                    Severity::Error,
                    format!("Error re-opening log file {}: {e}; still writing to the old file", f.path().display()),
                ),
            },
            _ => (Severity::Info, "File log re-open ignored, not a file logger".to_string()),
        };
        self.write(&Record { time: at, severity, message });
    }

    fn write(&mut self, rec: &Record) {
        let message = self.scrubber.scrub(&rec.message);
        match &mut self.output {
            Output::Stream(s) => s.write(rec, &message, &self.fmt),
            Output::File(f) => f.write(rec, &message, &self.fmt),
            Output::Syslog(s) => s.write(rec, &message, &self.fmt),
        }
    }

    fn report_drops(&mut self) {
        let dropped = self.budget.take_dropped();
        if dropped > 0 {
            let text = format!("{dropped} log lines dropped (the log output could not keep up)");
            self.write(&Record::now(Severity::Warn, text));
        }
    }
}
