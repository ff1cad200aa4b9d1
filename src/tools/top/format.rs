//! Number formats of nats-top: byte sizes in powers of 1024 (`1.5K`, `2.0M`),
//! counts in powers of 1000 (`1.5K`, `2.0M`, `3.0B`), and Go duration strings
//! as the monitoring JSON writes them (`"594µs"`, `"1m30s"`).

use std::time::Duration;

/// A byte size: `512`, `1.5K`, `2.0M`, `3.1G` (nats-top's `Psize`). With
/// `raw`, the plain number.
pub fn psize(raw: bool, n: i64) -> String {
    scaled(raw, n, 1024.0, &["K", "M", "G"])
}

/// A count: `999`, `1.5K`, `2.0M`, `3.0B`, `4.0T` (nats-top's `Nsize`). With
/// `raw`, the plain number.
pub fn nsize(raw: bool, n: i64) -> String {
    scaled(raw, n, 1000.0, &["K", "M", "B", "T"])
}

/// `n` in the largest unit of `units` (each `base` times the one before)
/// it reaches, with one decimal; below `base`, or `raw`, the plain number.
fn scaled(raw: bool, n: i64, base: f64, units: &[&str]) -> String {
    let size = n as f64;
    if raw || size < base {
        return format!("{size:.0}");
    }
    let mut div = base;
    for (i, unit) in units.iter().enumerate() {
        if i + 1 == units.len() || size < div * base {
            return format!("{:.1}{unit}", size / div);
        }
        div *= base;
    }
    format!("{size:.0}")
}

/// Parses a Go `time.Duration` string (`"1h2m3.5s"`, `"594µs"`, `"0s"`).
/// `None` for anything else.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    crate::gotext::parse_go_duration(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_nats_top_prints_them() {
        assert_eq!(psize(false, 0), "0");
        assert_eq!(psize(false, 1023), "1023");
        assert_eq!(psize(false, 1024), "1.0K");
        assert_eq!(psize(false, 1536), "1.5K");
        assert_eq!(psize(false, 3_150_000), "3.0M");
        assert_eq!(psize(false, 5 * 1024 * 1024 * 1024), "5.0G");
        assert_eq!(psize(true, 3_150_000), "3150000");
        assert_eq!(nsize(false, 999), "999");
        assert_eq!(nsize(false, 1000), "1.0K");
        assert_eq!(nsize(false, 4750), "4.8K");
        assert_eq!(nsize(false, 2_500_000), "2.5M");
        assert_eq!(nsize(false, 7_000_000_000), "7.0B");
        assert_eq!(nsize(false, 8_000_000_000_000), "8.0T");
        assert_eq!(nsize(true, 4750), "4750");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("594µs"), Some(Duration::from_micros(594)));
        assert_eq!(parse_go_duration("1.5ms"), Some(Duration::from_micros(1500)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("2h0m0.25s"), Some(Duration::from_millis(7_200_250)));
        assert_eq!(parse_go_duration("12ns"), Some(Duration::from_nanos(12)));
        for bad in ["", "s", "5", "-1s", "1x", "1..2s", "1d"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }
}
