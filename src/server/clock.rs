//! Wall-clock instants as the server records them: nanoseconds since the
//! Unix epoch in a `u64`, so that they fit an atomic (`last_activity`) and
//! compare and subtract without `SystemTime`'s fallible arithmetic.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 for times before it).
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)
}
