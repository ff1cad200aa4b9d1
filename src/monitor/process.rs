//! The process figures of `/varz`: resident memory (`mem`, bytes) and CPU use
//! (`cpu`, percent of one core), read from `/proc/self/stat` as nats-server
//! does on Linux. CPU is the use since the previous sample at least a second
//! ago (nats-server samples every second on a timer; sampling when asked
//! gives the same figure to a poller and costs nothing when nobody asks).
//! Elsewhere both read 0.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shortest window a CPU figure is computed over.
const MIN_WINDOW: Duration = Duration::from_secs(1);

/// Resident memory and CPU time of this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Resident set, bytes.
    pub rss: u64,
    /// Percent of one core, one decimal.
    pub cpu: f64,
}

#[derive(Debug)]
struct Sample {
    at: Instant,
    cpu_ticks: u64,
    percent: f64,
}

/// Keeps the last CPU sample. A std mutex: taken once per `/varz`.
#[derive(Debug, Default)]
pub struct CpuSampler {
    last: Mutex<Option<Sample>>,
}

impl CpuSampler {
    pub fn usage(&self) -> Usage {
        let Some(stat) = read_stat() else { return Usage::default() };
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let cpu = match last.as_mut() {
            None => {
                *last = Some(Sample { at: now, cpu_ticks: stat.cpu_ticks, percent: 0.0 });
                0.0
            }
            Some(s) if now.duration_since(s.at) < MIN_WINDOW => s.percent,
            Some(s) => {
                let secs = now.duration_since(s.at).as_secs_f64();
                let used = stat.cpu_ticks.saturating_sub(s.cpu_ticks) as f64 / stat.ticks_per_sec as f64;
                let percent = (used / secs * 1000.0).round() / 10.0;
                *s = Sample { at: now, cpu_ticks: stat.cpu_ticks, percent };
                percent
            }
        };
        Usage { rss: stat.rss_bytes, cpu }
    }
}

struct Stat {
    cpu_ticks: u64,
    ticks_per_sec: u64,
    rss_bytes: u64,
}

#[cfg(target_os = "linux")]
fn read_stat() -> Option<Stat> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&text, rustix::param::clock_ticks_per_second(), rustix::param::page_size() as u64)
}

#[cfg(not(target_os = "linux"))]
fn read_stat() -> Option<Stat> {
    None
}

/// Fields of `/proc/<pid>/stat` after the command name (which may hold
/// spaces and parentheses, so the split starts after the last `)`):
/// utime and stime are fields 14 and 15, rss (pages) field 24.
fn parse_stat(text: &str, ticks_per_sec: u64, page_size: u64) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state).
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        cpu_ticks: field(14)? + field(15)?,
        ticks_per_sec: ticks_per_sec.max(1),
        rss_bytes: field(24)? * page_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_with_an_awkward_name() {
        let line = "1234 (we ird) name)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0 100 123456 3000 rest";
        let s = parse_stat(line, 100, 4096).expect("parses");
        assert_eq!((s.cpu_ticks, s.rss_bytes), (300, 3000 * 4096));
        assert!(parse_stat("garbage", 100, 4096).is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let u = CpuSampler::default().usage();
        assert!(u.rss > 1024 * 1024, "{u:?}");
        assert_eq!(u.cpu, 0.0, "the first sample has no window yet");
    }
}
