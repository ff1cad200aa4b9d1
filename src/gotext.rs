//! Go's text forms that nats-server's output and config files use, one
//! implementation each: `strconv.Quote` (what `%q` prints, in `-ERR` texts,
//! log and trace lines, JWT errors), `time.Duration.String()` and
//! `time.ParseDuration`.

use std::fmt::{self, Write as _};
use std::time::Duration;

/// `bytes` as Go's `strconv.Quote` prints them, quotes included.
pub fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    // Writing into a String cannot fail.
    let _ = go_quote_into(&mut out, bytes);
    out.push('"');
    out
}

/// Writes `bytes` as the inside of Go's `strconv.Quote`: printable UTF-8 as
/// is; `\a \b \f \n \r \t \v \\ \"`; other control characters and invalid
/// bytes as `\xNN`; other non-printable characters as `\uNNNN`/`\UNNNNNNNN`.
pub fn go_quote_into(out: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    let mut rest = bytes;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, None),
            Err(e) => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                // Checked by from_utf8 just above.
                let s = std::str::from_utf8(ok).unwrap_or_default();
                (s, Some((tail, e.error_len().unwrap_or(tail.len()))))
            }
        };
        for c in valid.chars() {
            quote_char(out, c)?;
        }
        match bad {
            Some((tail, len)) => {
                for b in &tail[..len] {
                    write!(out, "\\x{b:02x}")?;
                }
                rest = &tail[len..];
            }
            None => break,
        }
    }
    Ok(())
}

fn quote_char(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '"' => out.write_str("\\\""),
        '\\' => out.write_str("\\\\"),
        '\x07' => out.write_str("\\a"),
        '\x08' => out.write_str("\\b"),
        '\x0c' => out.write_str("\\f"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\x0b' => out.write_str("\\v"),
        ' '..='~' => out.write_char(c),
        c if (c as u32) < 0x20 || c == '\x7f' => write!(out, "\\x{:02x}", c as u32),
        c if is_printable(c) => out.write_char(c),
        c if (c as u32) < 0x10000 => write!(out, "\\u{:04x}", c as u32),
        c => write!(out, "\\U{:08x}", c as u32),
    }
}

/// Go's `unicode.IsPrint` for a non-ASCII character: letters, marks,
/// numbers, punctuation and symbols. Rust's `Debug` escaping uses the same
/// Unicode classes, except that it also escapes a combining mark standing
/// first, so the character is tested after a plain letter.
fn is_printable(c: char) -> bool {
    let mut pair = [0u8; 8];
    pair[0] = b'a';
    let len = 1 + c.encode_utf8(&mut pair[1..]).len();
    let s = std::str::from_utf8(&pair[..len]).unwrap_or("a");
    s.escape_debug().eq(s.chars())
}

/// Go's `time.Duration.String()`, exactly: `0s`, `850ns`, `466µs`,
/// `1.234567ms`, `1.5s`, `2m0s`, `1h0m0.5s`.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos().min(i64::MAX as u128) as u64;
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, scale) = match nanos {
            n if n < 1_000 => ("ns", 1),
            n if n < 1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", fixed(nanos / scale, nanos % scale, scale));
    }
    let secs = nanos / 1_000_000_000;
    let mut out = String::new();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    out.push_str(&fixed(s, nanos % 1_000_000_000, 1_000_000_000));
    out.push('s');
    out
}

/// `whole.fraction` with the fraction's trailing zeros trimmed, the fraction
/// being `frac / scale`.
fn fixed(whole: u64, frac: u64, scale: u64) -> String {
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

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
    fn quotes_as_go_does() {
        assert_eq!(go_quote(b"a\"b\\c\r\n\t\x00\x7f\x1b"), r#""a\"b\\c\r\n\t\x00\x7f\x1b""#);
        assert_eq!(go_quote(b"\x07\x08\x0c\x0b"), r#""\a\b\f\v""#);
        assert_eq!(go_quote("héllo ✓ 日本".as_bytes()), "\"héllo ✓ 日本\"");
        // Invalid UTF-8, byte by byte; non-printable characters (NBSP, a
        // zero-width space, private use, unassigned) escaped.
        assert_eq!(go_quote(b"a\xff\xfeb"), r#""a\xff\xfeb""#);
        assert_eq!(
            go_quote("\u{a0}\u{200b}\u{e000}\u{378}\u{301}".as_bytes()),
            "\"\\u00a0\\u200b\\ue000\\u0378\u{301}\""
        );
        assert_eq!(go_quote("\u{f0000}".as_bytes()), "\"\\U000f0000\"");
    }

    #[test]
    fn durations_as_go_prints_them() {
        let d = |n: u64| go_duration(Duration::from_nanos(n));
        assert_eq!(d(0), "0s");
        assert_eq!(d(850), "850ns");
        assert_eq!(d(466_000), "466µs");
        assert_eq!(d(1_234_567), "1.234567ms");
        assert_eq!(d(1_500_000_000), "1.5s");
        assert_eq!(d(120_000_000_000), "2m0s");
        assert_eq!(d(3_600_500_000_000), "1h0m0.5s");
    }

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
            assert_eq!(go_duration(d), text);
        }
    }
}
