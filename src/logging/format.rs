//! The bytes of a log line, exactly as nats-server writes them.
//!
//! stderr and files: `[pid] 2006/01/02 15:04:05.000000 [INF] message\n`
//! (Go's `log` flags `LstdFlags|Lmicroseconds`, local time unless
//! `logtime_utc`); the tag is coloured only on a terminal.
//!
//! syslog (Go's `log/syslog`): over the network
//! `<PRI>2006-01-02T15:04:05Z07:00 host tag[pid]: message\n`, and to a local
//! socket (`/dev/log`, `unix://`) `<PRI>Jan _2 15:04:05 tag[pid]: message\n`,
//! with no host.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::record::Record;

/// Which of Go's two syslog frame shapes a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStyle {
    /// UDP and TCP: RFC 3339 time and the host name.
    Network,
    /// Unix sockets: `time.Stamp` and no host name.
    Local,
}

/// Everything that shapes a line but not the sink: owned by the writer thread,
/// so reading it needs no synchronisation.
#[derive(Debug, Clone)]
pub struct Formatter {
    pid: u32,
    /// `[pid] `, built once.
    pid_prefix: String,
    pub logtime: bool,
    pub utc: bool,
    /// Looked up once, as Go loads `time.Local` once.
    local: TimeZone,
    hostname: String,
    tag: String,
}

impl Formatter {
    pub fn new() -> Formatter {
        Formatter::with_zone(TimeZone::system())
    }

    pub fn with_zone(local: TimeZone) -> Formatter {
        let pid = std::process::id();
        Formatter {
            pid,
            pid_prefix: format!("[{pid}] "),
            logtime: true,
            utc: false,
            local,
            hostname: hostname(),
            tag: syslog_tag(),
        }
    }

    /// The wall-clock time of `ts` in the zone lines are written in, and the
    /// zone's offset from UTC in seconds.
    fn civil(&self, ts: Timestamp) -> (DateTime, i32) {
        if self.utc {
            (TimeZone::UTC.to_datetime(ts), 0)
        } else {
            (self.local.to_datetime(ts), self.local.to_offset(ts).seconds())
        }
    }

    /// Appends one stderr/file line, newline included.
    pub fn line(&self, out: &mut Vec<u8>, rec: &Record, message: &str, colors: bool) {
        out.extend_from_slice(self.pid_prefix.as_bytes());
        if self.logtime {
            let (t, _) = self.civil(rec.time);
            push_num(out, t.year().into(), 4);
            out.push(b'/');
            push_num(out, t.month().into(), 2);
            out.push(b'/');
            push_num(out, t.day().into(), 2);
            out.push(b' ');
            push_clock(out, &t);
            out.push(b'.');
            push_num(out, (t.subsec_nanosecond() / 1000).into(), 6);
            out.push(b' ');
        }
        let label = rec.severity.label();
        if colors {
            out.extend_from_slice(b"[\x1b[");
            out.extend_from_slice(rec.severity.color().as_bytes());
            out.push(b'm');
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(b"\x1b[0m] ");
        } else {
            out.push(b'[');
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(b"] ");
        }
        out.extend_from_slice(message.as_bytes());
        out.push(b'\n');
    }

    /// Appends one syslog frame. `facility` is the facility number (0 for
    /// kern, as nats-server's remote logger ends up with; 3 for daemon).
    pub fn syslog_frame(&self, out: &mut Vec<u8>, style: FrameStyle, facility: u8, rec: &Record, message: &str) {
        let pri = u32::from(facility) * 8 + u32::from(rec.severity.syslog_severity());
        out.push(b'<');
        push_num(out, pri.into(), 1);
        out.push(b'>');
        let (t, offset) = self.civil(rec.time);
        match style {
            FrameStyle::Network => {
                push_num(out, t.year().into(), 4);
                out.push(b'-');
                push_num(out, t.month().into(), 2);
                out.push(b'-');
                push_num(out, t.day().into(), 2);
                out.push(b'T');
                push_clock(out, &t);
                if offset == 0 {
                    out.push(b'Z');
                } else {
                    out.push(if offset < 0 { b'-' } else { b'+' });
                    let minutes = offset.unsigned_abs() / 60;
                    push_num(out, (minutes / 60).into(), 2);
                    out.push(b':');
                    push_num(out, (minutes % 60).into(), 2);
                }
                out.push(b' ');
                out.extend_from_slice(self.hostname.as_bytes());
            }
            FrameStyle::Local => {
                const MONTHS: [&str; 12] =
                    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
                let month = usize::try_from(t.month() - 1).unwrap_or(0);
                out.extend_from_slice(MONTHS[month.min(11)].as_bytes());
                out.push(b' ');
                // Go's `_2`: the day padded with a space.
                if t.day() < 10 {
                    out.push(b' ');
                }
                push_num(out, t.day().into(), 1);
                out.push(b' ');
                push_clock(out, &t);
            }
        }
        out.push(b' ');
        out.extend_from_slice(self.tag.as_bytes());
        out.push(b'[');
        push_num(out, self.pid.into(), 1);
        out.extend_from_slice(b"]: ");
        out.extend_from_slice(message.as_bytes());
        if !message.ends_with('\n') {
            out.push(b'\n');
        }
    }

    /// The suffix of a rotated log file: `YYYY.MM.DD.HH.MM.SS.nnnnnnnnn`.
    pub fn rotation_stamp(&self, ts: Timestamp) -> String {
        let (t, _) = self.civil(ts);
        let mut out = Vec::with_capacity(29);
        push_num(&mut out, t.year().into(), 4);
        for v in [t.month(), t.day(), t.hour(), t.minute(), t.second()] {
            out.push(b'.');
            push_num(&mut out, v.into(), 2);
        }
        out.push(b'.');
        push_num(&mut out, t.subsec_nanosecond().into(), 9);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Formatter {
    fn default() -> Self {
        Formatter::new()
    }
}

fn push_clock(out: &mut Vec<u8>, t: &DateTime) {
    push_num(out, t.hour().into(), 2);
    out.push(b':');
    push_num(out, t.minute().into(), 2);
    out.push(b':');
    push_num(out, t.second().into(), 2);
}

/// Appends `v` in decimal, zero-padded to at least `width` digits.
fn push_num(out: &mut Vec<u8>, v: i64, width: usize) {
    if v < 0 {
        out.push(b'-');
    }
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(v.unsigned_abs());
    for _ in digits.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(digits.as_bytes());
}

/// The syslog tag: the name this executable was started as, as Go's
/// `GetSysLoggerTag` takes it (the last part of `argv[0]`).
fn syslog_tag() -> String {
    std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .and_then(|a| a.rsplit('/').find(|p| !p.is_empty()).map(str::to_string))
        .unwrap_or_else(|| "rnats".into())
}

/// The host name as Go's `os.Hostname` finds it on Linux.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            let uname = rustix::system::uname();
            Some(uname.nodename().to_string_lossy().into_owned()).filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::record::Severity;

    fn formatter(zone: &str) -> Formatter {
        let mut f = Formatter::with_zone(TimeZone::get(zone).unwrap());
        f.hostname = "vm".into();
        f.tag = "nats-server".into();
        f.pid = 30547;
        f.pid_prefix = "[30547] ".into();
        f
    }

    fn record(severity: Severity, text: &str) -> Record {
        let time: Timestamp = "2026-11-24T23:53:37.020971123Z".parse().unwrap();
        Record { time, severity, message: text.into() }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn file_line_matches_go_log() {
        let f = formatter("UTC");
        let mut out = Vec::new();
        f.line(&mut out, &record(Severity::Info, "Starting nats-server"), "Starting nats-server", false);
        assert_eq!(text(out), "[30547] 2026/11/24 23:53:37.020971 [INF] Starting nats-server\n");
    }

    #[test]
    fn logtime_off_keeps_the_pid() {
        let mut f = formatter("UTC");
        f.logtime = false;
        let mut out = Vec::new();
        f.line(&mut out, &record(Severity::Trace, "x"), "x", false);
        assert_eq!(text(out), "[30547] [TRC] x\n");
    }

    #[test]
    fn colours_wrap_the_tag_only() {
        let f = formatter("UTC");
        let mut out = Vec::new();
        f.line(&mut out, &record(Severity::Warn, "w"), "w", true);
        assert!(text(out).ends_with("[\x1b[0;93mWRN\x1b[0m] w\n"));
    }

    #[test]
    fn local_time_unless_utc() {
        let mut f = formatter("Europe/Paris");
        let mut out = Vec::new();
        f.line(&mut out, &record(Severity::Info, "m"), "m", false);
        assert!(text(out).contains(" 2026/11/25 00:53:37.020971 "), "one hour ahead in November");
        f.utc = true;
        let mut out = Vec::new();
        f.line(&mut out, &record(Severity::Info, "m"), "m", false);
        assert!(text(out).contains(" 2026/11/24 23:53:37.020971 "));
    }

    /// The datagram observed from nats-server 2.15.1 with `-r udp://…`.
    #[test]
    fn network_frame_matches_observed_datagram() {
        let f = formatter("UTC");
        let mut out = Vec::new();
        let rec = record(Severity::Info, "Starting nats-server");
        f.syslog_frame(&mut out, FrameStyle::Network, 0, &rec, &rec.message);
        assert_eq!(text(out), "<5>2026-11-24T23:53:37Z vm nats-server[30547]: Starting nats-server\n");
        for (sev, pri) in [
            (Severity::Debug, 7),
            (Severity::Error, 3),
            (Severity::Warn, 4),
            (Severity::Fatal, 2),
            (Severity::Trace, 5),
        ] {
            let mut out = Vec::new();
            f.syslog_frame(&mut out, FrameStyle::Network, 0, &record(sev, "m"), "m");
            assert!(text(out).starts_with(&format!("<{pri}>")), "{sev:?}");
        }
    }

    #[test]
    fn network_frame_carries_the_zone_offset() {
        let f = formatter("America/New_York");
        let mut out = Vec::new();
        f.syslog_frame(&mut out, FrameStyle::Network, 0, &record(Severity::Info, "m"), "m");
        assert!(text(out).starts_with("<5>2026-11-24T18:53:37-05:00 vm "));
    }

    /// The local shape (what nats-server sends over `unix://`, observed).
    #[test]
    fn local_frame_has_no_host_and_a_padded_day() {
        let f = formatter("UTC");
        let time: Timestamp = "2026-11-03T02:05:18Z".parse().unwrap();
        let rec = Record { time, severity: Severity::Info, message: "Server is ready\n".into() };
        let mut out = Vec::new();
        f.syslog_frame(&mut out, FrameStyle::Local, 3, &rec, &rec.message);
        assert_eq!(text(out), "<29>Nov  3 02:05:18 nats-server[30547]: Server is ready\n", "no second newline");
    }

    #[test]
    fn rotation_stamp_is_lexically_ordered() {
        let f = formatter("UTC");
        let a = f.rotation_stamp("2026-01-02T03:04:05.000000007Z".parse().unwrap());
        assert_eq!(a, "2026.01.02.03.04.05.000000007");
        let b = f.rotation_stamp("2026-01-02T03:04:05.1Z".parse().unwrap());
        assert!(a < b);
    }
}
