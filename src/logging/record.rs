//! One log event as it travels from the thread that logged it to the writer
//! thread: when, how severe, and the message text (not yet formatted, because
//! each sink frames it differently).

use jiff::Timestamp;

/// nats-server's six levels, in order of severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Severity {
    /// The tag between brackets in a stderr or file line.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Fatal => "FTL",
            Severity::Error => "ERR",
            Severity::Warn => "WRN",
            Severity::Info => "INF",
            Severity::Debug => "DBG",
            Severity::Trace => "TRC",
        }
    }

    /// The ANSI colour nats-server gives the tag on a terminal.
    pub fn color(self) -> &'static str {
        match self {
            Severity::Fatal | Severity::Error => "31",
            Severity::Warn => "0;93",
            Severity::Info => "32",
            Severity::Debug => "36",
            Severity::Trace => "33",
        }
    }

    /// The syslog severity nats-server's `SysLogger` uses: traces go out as
    /// NOTICE, like plain information, and a fatal error as CRIT.
    pub fn syslog_severity(self) -> u8 {
        match self {
            Severity::Fatal => 2,
            Severity::Error => 3,
            Severity::Warn => 4,
            Severity::Info | Severity::Trace => 5,
            Severity::Debug => 7,
        }
    }

    /// Debug and trace lines are the ones a flood is made of; they are the
    /// first to be dropped when the writer falls behind.
    pub fn is_chatter(self) -> bool {
        matches!(self, Severity::Debug | Severity::Trace)
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    /// Taken when the event happened, not when it is written.
    pub time: Timestamp,
    pub severity: Severity,
    pub message: String,
}

impl Record {
    pub fn now(severity: Severity, message: impl Into<String>) -> Record {
        Record { time: Timestamp::now(), severity, message: message.into() }
    }

    /// What the record costs the queue's byte budget: the text plus a rough
    /// allowance for the record and the channel slot holding it.
    pub fn cost(&self) -> usize {
        self.message.len() + 64
    }
}
