//! Durations as Go's `time.ParseDuration` reads them (`500ms`, `1m30s`,
//! `1.5h`; units ns, us/µs, ms, s, m, h), which is what nats-server uses.

use std::time::Duration;

/// Parses a Go duration string. Negative durations are refused: no option
/// the server has takes one.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration `{s}` (examples: `2s`, `500ms`, `1m30s`, `1.5h`)");
    let text = s.strip_prefix('+').unwrap_or(s);
    if text.starts_with('-') {
        return Err(format!("duration `{s}` is negative"));
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(bad());
        }
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let nanos_per = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit in duration `{s}`")),
            _ => return Err(format!("unknown unit `{unit}` in duration `{s}` (use ns, us, ms, s, m or h)")),
        };
        total += value * nanos_per;
        rest = next;
    }
    if total > u64::MAX as f64 {
        return Err(format!("duration `{s}` is too long"));
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_syntax() {
        assert_eq!(parse_go_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("2m0s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_go_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_go_duration("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert!(parse_go_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_go_duration("5d").unwrap_err().contains("unknown unit `d`"));
        assert!(parse_go_duration("-1s").unwrap_err().contains("negative"));
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("s").is_err());
        assert!(parse_go_duration("1..5s").is_err());
    }

    #[test]
    fn round_trips_with_format() {
        for text in ["2m0s", "500ms", "1h1m1s", "1.5s", "0s", "10µs"] {
            let d = parse_go_duration(text).unwrap();
            assert_eq!(crate::options::format_duration(d), text);
        }
    }
}
