//! Times and durations written the way nats-server's monitoring JSON writes
//! them, which is Go's: four formats that tools parse by shape.
//!
//! - instants (`start`, `now`, `last_activity`, `stop`): RFC 3339 in UTC with
//!   nanoseconds, trailing zeros of the fraction trimmed (`RFC3339Nano`);
//! - `uptime` and `idle`: whole seconds as `1y2d3h4m5s` (nats-server's
//!   `myUptime`), leading zero units left out;
//! - `rtt`: `time.Duration.String()` (`466µs`, `1.234567ms`, `1.5s`, `0s`);
//! - durations in `/varz` (`ping_interval`, `write_deadline`): integer
//!   nanoseconds, written as plain numbers by the callers.

use std::time::Duration;

use jiff::Timestamp;

pub use crate::server::clock::{rfc3339_from_nanos, rfc3339_nano, unix_nanos};

/// Parses what [`rfc3339_nano`] writes (a UTC `Z` time) back into
/// milliseconds since the epoch, as prometheus-nats-exporter turns `start`
/// and `config_load_time` into gauges.
pub fn rfc3339_to_unix_millis(s: &str) -> Option<i64> {
    // Only UTC, as the server writes it: an offset means the text came
    // from somewhere else.
    if !s.ends_with('Z') {
        return None;
    }
    s.parse::<Timestamp>().ok().map(|t| t.as_millisecond())
}

/// nats-server's `myUptime`: `0s`, `2s`, `1m5s`, `2h0m7s`, `1d2h3m4s`,
/// `1y2d3h4m5s` (a year is 365 days), from whole seconds.
pub fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
    let years = days / 365;
    if years > 0 {
        format!("{years}y{}d{}h{}m{}s", days % 365, hours % 24, mins % 60, secs % 60)
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

pub use crate::gotext::go_duration;

/// The RTT as nats-server reports it: truncated to microseconds between 1µs
/// and 1ms, `0s` until measured.
pub fn rtt(rtt: Option<Duration>) -> String {
    match rtt {
        None => "0s".into(),
        Some(d) if d > Duration::from_micros(1) && d < Duration::from_millis(1) => {
            go_duration(Duration::from_micros(d.as_micros() as u64))
        }
        Some(d) => go_duration(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_nano_trims_the_fraction() {
        let t = |n: u64| rfc3339_from_nanos(n);
        assert_eq!(t(0), "1970-01-01T00:00:00Z");
        assert_eq!(t(1_796_010_594_792_445_570), "2026-11-30T03:49:54.79244557Z");
        assert_eq!(t(1_796_010_594_686_856_008), "2026-11-30T03:49:54.686856008Z");
        assert_eq!(t(951_782_400_500_000_000), "2000-02-29T00:00:00.5Z");
        for n in [0, 1_796_010_594_792_445_570, 951_782_400_500_000_000, 4_102_444_800_123_000_000] {
            assert_eq!(rfc3339_to_unix_millis(&t(n)), Some((n / 1_000_000) as i64), "{}", t(n));
        }
        assert_eq!(rfc3339_to_unix_millis("2026-11-30T03:49:54+01:00"), None);
        assert_eq!(rfc3339_to_unix_millis("yesterday"), None);
    }

    #[test]
    fn uptime_as_nats_server() {
        let u = |s: u64| uptime(Duration::from_secs(s));
        assert_eq!(u(0), "0s");
        assert_eq!(u(65), "1m5s");
        assert_eq!(u(2 * 3600 + 7), "2h0m7s");
        assert_eq!(u(86_400 + 2 * 3600 + 3 * 60 + 4), "1d2h3m4s");
        assert_eq!(u(365 * 86_400 + 2 * 86_400 + 3 * 3600 + 4 * 60 + 5), "1y2d3h4m5s");
        assert_eq!(uptime(Duration::from_millis(1999)), "1s");
    }

    /// Go's duration text itself is tested in gotext.rs.
    #[test]
    fn rtt_as_go() {
        assert_eq!(rtt(None), "0s");
        assert_eq!(rtt(Some(Duration::from_nanos(466_789))), "466µs");
        assert_eq!(rtt(Some(Duration::from_nanos(1_234_567))), "1.234567ms");
        assert_eq!(rtt(Some(Duration::from_nanos(900))), "900ns");
    }
}
