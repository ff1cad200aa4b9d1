//! Wall-clock instants as the server records them: nanoseconds since the
//! Unix epoch in a `u64`, so that they fit an atomic (`last_activity`) and
//! compare and subtract without `SystemTime`'s fallible arithmetic.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 for times before it).
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)
}

/// `2026-11-30T03:49:54.79244557Z`: Go's `time.RFC3339Nano` of a UTC time.
pub fn rfc3339_nano(t: SystemTime) -> String {
    rfc3339_from_nanos(unix_nanos(t))
}

/// [`rfc3339_nano`] of a time given as nanoseconds since the Unix epoch.
/// jiff's RFC 3339 printer writes the fraction as Go's `RFC3339Nano` does:
/// only the digits needed, none when it is zero.
pub fn rfc3339_from_nanos(nanos: u64) -> String {
    // Every u64 of nanoseconds (until 2554) is within jiff's range.
    jiff::Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_string()
}
