//! What the soak counts, and the report it ends with.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Healthy deliveries: per (subscriber, publisher) the next sequence
/// expected; a gap is a loss, an earlier number a duplicate or reorder.
#[derive(Default)]
pub(super) struct Healthy {
    pub(super) next: Mutex<HashMap<(usize, u64), u64>>,
    pub(super) delivered: AtomicU64,
    pub(super) lost: AtomicU64,
    pub(super) out_of_order: AtomicU64,
}

impl Healthy {
    pub(super) fn record(&self, sub: usize, publisher: u64, seq: u64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let expected = next.entry((sub, publisher)).or_insert(0);
        if seq > *expected {
            self.lost.fetch_add(seq - *expected, Ordering::Relaxed);
        } else if seq < *expected {
            self.out_of_order.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *expected = seq + 1;
    }
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) sent: AtomicU64,
    pub(super) cross_sent: AtomicU64,
    pub(super) cross_delivered: AtomicU64,
    pub(super) queue_delivered: AtomicU64,
    pub(super) requests: AtomicU64,
    pub(super) request_failures: AtomicU64,
    pub(super) cross_request_failures: AtomicU64,
    pub(super) reconnects: AtomicU64,
    pub(super) reloads: AtomicU64,
    pub(super) kills: AtomicU64,
    /// Publishers that have stopped (after the run), so the final count of
    /// what was sent is exact.
    pub(super) publishers_done: AtomicU64,
    /// Request round trips this interval, in microseconds.
    pub(super) latencies: Mutex<Vec<u64>>,
}

/// The run's outcome, printed as JSON with `--json`.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub seconds: f64,
    pub connections: usize,
    pub healthy_sent: u64,
    pub healthy_delivered: u64,
    pub healthy_lost: u64,
    pub healthy_out_of_order: u64,
    pub healthy_request_failures: u64,
    pub cross_sent: u64,
    pub cross_delivered: u64,
    pub cross_request_failures: u64,
    pub queue_delivered: u64,
    pub requests: u64,
    pub reconnects: u64,
    pub reloads: u64,
    pub kills: u64,
    /// A's RSS at each interval, in MiB.
    pub rss_a_mib: Vec<f64>,
    /// A's open descriptors at each interval.
    pub fds_a: Vec<usize>,
    /// p99 request latency at each interval, in milliseconds.
    pub p99_ms: Vec<f64>,
}

pub(super) fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

pub(super) fn mib(pid: Option<u32>) -> f64 {
    pid.and_then(crate::tools::bench::rss_bytes).map_or(0.0, |b| b as f64 / (1 << 20) as f64)
}

pub(super) fn percentile(mut v: Vec<u64>, p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p) as usize]
}
