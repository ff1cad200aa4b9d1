//! The hand-off between the threads that log and the writer thread: an
//! ordered channel, bounded by a byte budget.
//!
//! Policy when the writer falls behind (a slow disk, a stalled stderr pipe,
//! a syslog target timing out), chosen so that logging never blocks a tokio
//! worker and never grows memory without bound:
//! - debug and trace lines are dropped once 3/4 of the budget is queued, so
//!   a trace flood leaves room for the lines that matter;
//! - info, warning and error lines are dropped only once the whole budget
//!   is queued;
//! - fatal lines and control messages (new sink, reopen, flush) are never
//!   dropped: they are rare and their order matters;
//! - a line is always taken when the queue is empty, however long it is.
//!
//! Drops are counted, and when the writer catches up it writes
//! `[WRN] N log lines dropped (the log output could not keep up)` in their
//! place, so a gap in the log is never silent.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use super::output::Output;
use super::record::{Record, Severity};

/// Bytes of queued messages past which lines are dropped: a few seconds of
/// trace output, and a bound on what a stalled sink can cost in memory.
pub const DEFAULT_BUDGET: usize = 8 * 1024 * 1024;

/// The line shape settings that travel in order with the lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSettings {
    pub logtime: bool,
    pub utc: bool,
}

/// Size rotation settings of a file sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    pub size: u64,
    pub max_files: u64,
}

pub enum Msg {
    Record(Record),
    /// Switch to a sink opened by the caller.
    Install(Box<Output>, LineSettings),
    /// Same sink, new settings.
    Update(LineSettings, FileLimits),
    /// SIGUSR1: reopen the log file; when it was asked for.
    Reopen(jiff::Timestamp),
    /// Write out everything queued before this, then answer.
    Flush(SyncSender<()>),
}

/// Admission control for the queue.
pub struct Budget {
    /// Bytes of records sent and not yet taken by the writer. Producers add,
    /// the writer subtracts; only a bound, so Relaxed is enough.
    queued: AtomicUsize,
    /// Records refused since the writer last reported; written only when a
    /// line is dropped, swapped to zero by the writer.
    dropped: AtomicU64,
    limit: usize,
    chatter_limit: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget { queued: AtomicUsize::new(0), dropped: AtomicU64::new(0), limit, chatter_limit: limit / 4 * 3 }
    }

    /// Reserves room for a record, or counts it as dropped.
    pub fn admit(&self, severity: Severity, cost: usize) -> bool {
        let before = self.queued.fetch_add(cost, Ordering::Relaxed);
        let cap = match severity {
            Severity::Fatal => usize::MAX,
            s if s.is_chatter() => self.chatter_limit,
            _ => self.limit,
        };
        if before == 0 || before.saturating_add(cost) <= cap {
            return true;
        }
        self.queued.fetch_sub(cost, Ordering::Relaxed);
        self.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    pub fn release(&self, cost: usize) {
        self.queued.fetch_sub(cost, Ordering::Relaxed);
    }

    pub fn take_dropped(&self) -> u64 {
        // A plain load first: the common case (nothing dropped) then never
        // writes to the shared cache line.
        if self.dropped.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.dropped.swap(0, Ordering::Relaxed)
    }
}

/// The sending side, shared by every thread that logs.
pub struct Pipeline {
    // std's mpsc sender is lock-free and Sync; the channel itself is
    // unbounded, the budget above is what bounds it.
    tx: Sender<Msg>,
    budget: Arc<Budget>,
}

impl Pipeline {
    /// A pipeline of `budget` bytes, and the inbox its writer drains (the
    /// writer thread is started by `writer::start`).
    pub fn new(budget: usize) -> (Pipeline, Inbox, Arc<Budget>) {
        let (tx, rx) = mpsc::channel();
        let budget = Arc::new(Budget::new(budget));
        (Pipeline { tx, budget: budget.clone() }, rx, budget)
    }

    /// Queues a record without ever waiting; false if it was dropped.
    pub fn submit(&self, rec: Record) -> bool {
        let cost = rec.cost();
        if !self.budget.admit(rec.severity, cost) {
            return false;
        }
        if let Err(mpsc::SendError(Msg::Record(rec))) = self.tx.send(Msg::Record(rec)) {
            // The writer thread is gone (it panicked): write here rather
            // than lose the line.
            self.budget.release(cost);
            super::write_direct(&rec);
        }
        true
    }

    /// Queues a control message; false if the writer thread is gone.
    pub fn send(&self, msg: Msg) -> bool {
        self.tx.send(msg).is_ok()
    }

    /// Waits, at most `timeout`, until everything queued so far is written.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = mpsc::sync_channel(1);
        self.send(Msg::Flush(ack)) && done.recv_timeout(timeout).is_ok()
    }

    #[cfg(test)]
    pub fn budget(&self) -> &Budget {
        &self.budget
    }
}

/// The receiving end, for the writer.
pub type Inbox = Receiver<Msg>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::stream::StreamOut;
    use std::io;
    use std::sync::{Condvar, Mutex};

    #[test]
    fn chatter_goes_first_and_an_empty_queue_takes_anything() {
        let b = Budget::new(1000);
        assert!(b.admit(Severity::Trace, 5000), "empty queue: taken whatever its size");
        b.release(5000);
        assert!(b.admit(Severity::Trace, 700));
        assert!(!b.admit(Severity::Trace, 100), "past 3/4 of the budget");
        assert!(b.admit(Severity::Info, 250), "info may use the last quarter");
        assert!(!b.admit(Severity::Error, 100), "the whole budget is used");
        assert!(b.admit(Severity::Fatal, 10_000), "fatal is never dropped");
        assert_eq!(b.take_dropped(), 2);
        assert_eq!(b.take_dropped(), 0);
    }

    /// A writer that blocks until the test opens the gate.
    #[derive(Clone)]
    struct Gate {
        open: Arc<(Mutex<bool>, Condvar)>,
        out: Arc<Mutex<Vec<u8>>>,
    }
    impl io::Write for Gate {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let (lock, cv) = &*self.open;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            self.out.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn overflow_drops_counts_and_reports_when_caught_up() {
        let gate = Gate { open: Arc::new((Mutex::new(false), Condvar::new())), out: Arc::default() };
        // The writer blocks at the gate the first time it flushes (or fills
        // its 64 KiB buffer), so the lines below pile up in the queue, past
        // its 64 KiB budget.
        let output = Output::Stream(StreamOut::new(Box::new(gate.clone()), false));
        let p = crate::logging::writer::start(output, crate::logging::format::Formatter::new(), 64 * 1024).unwrap();
        p.submit(Record::now(Severity::Info, "first"));
        // Wait until the writer has taken "first" (it then flushes into the
        // closed gate, or takes a few of the lines below first).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while p.budget().queued.load(Ordering::Relaxed) != 0 {
            assert!(std::time::Instant::now() < deadline, "writer never took the first record");
            std::thread::yield_now();
        }
        let line = "x".repeat(1000);
        let mut taken = 0;
        let mut dropped = 0;
        for _ in 0..200 {
            if p.submit(Record::now(Severity::Trace, line.clone())) {
                taken += 1;
            } else {
                dropped += 1;
            }
        }
        assert!(p.submit(Record::now(Severity::Warn, "important")), "room kept for a warning");
        assert!(taken > 0 && dropped > 0, "taken {taken}, dropped {dropped}");
        *gate.open.0.lock().unwrap() = true;
        gate.open.1.notify_all();
        assert!(p.flush(Duration::from_secs(10)));
        let text = String::from_utf8(gate.out.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches(&line).count(), taken, "every accepted line is written once");
        assert!(text.contains("[WRN] important"));
        assert!(
            text.contains(&format!("[WRN] {dropped} log lines dropped (the log output could not keep up)")),
            "{}",
            &text[text.len().saturating_sub(300)..]
        );
    }
}
