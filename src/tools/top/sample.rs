//! From samples of `/varz` + `/connz` to what the screen shows: rates from
//! the difference between two samples, and connections in the chosen order.

use std::collections::HashMap;

use jiff::Timestamp;

use super::format::parse_go_duration;
use super::monitor::{ConnInfo, Connz, Varz};
use crate::monitor::connz::SortBy;

/// One poll of the server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub varz: Varz,
    pub connz: Connz,
}

/// Per-second rates of the four counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub in_msgs: f64,
    pub out_msgs: f64,
    pub in_bytes: f64,
    pub out_bytes: f64,
}

/// What one screen shows: the latest sample, its connections sorted, and
/// rates against the sample before it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub varz: Varz,
    pub connz: Connz,
    /// Server-wide rates; zero on the first sample.
    pub rates: Rates,
    /// Rates per connection id, for connections seen in both samples.
    pub conn_rates: HashMap<u64, Rates>,
}

/// Remembers the previous sample so the next one yields rates.
#[derive(Debug, Default)]
pub struct Tracker {
    last: Option<Sample>,
}

fn timestamp(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// Seconds from `earlier` to `later`, if both parse and time moved forward.
fn seconds_between(earlier: &str, later: &str) -> Option<f64> {
    let secs = timestamp(later)?.duration_since(timestamp(earlier)?).as_secs_f64();
    (secs > 0.0).then_some(secs)
}

/// Counters only grow; a smaller value means they were reset, and the rate
/// over that interval is unknown, so zero.
fn per_sec(now: i64, before: i64, secs: f64) -> f64 {
    if now >= before {
        (now - before) as f64 / secs
    } else {
        0.0
    }
}

impl Tracker {
    /// Turns a fresh sample into screen data, connections sorted by `sort`.
    pub fn update(&mut self, sample: Sample, sort: SortBy) -> Stats {
        // A different server id means a restart: its counters and
        // connection ids start over, so the old sample says nothing.
        let prev = self.last.as_ref().filter(|p| p.varz.server_id == sample.varz.server_id);
        let mut rates = Rates::default();
        let mut conn_rates = HashMap::new();
        if let Some(prev) = prev {
            if let Some(secs) = seconds_between(&prev.varz.now, &sample.varz.now) {
                let (a, b) = (&sample.varz, &prev.varz);
                rates = Rates {
                    in_msgs: per_sec(a.in_msgs, b.in_msgs, secs),
                    out_msgs: per_sec(a.out_msgs, b.out_msgs, secs),
                    in_bytes: per_sec(a.in_bytes, b.in_bytes, secs),
                    out_bytes: per_sec(a.out_bytes, b.out_bytes, secs),
                };
            }
            if let Some(secs) = seconds_between(&prev.connz.now, &sample.connz.now) {
                let before: HashMap<u64, &ConnInfo> = prev.connz.connections.iter().map(|c| (c.cid, c)).collect();
                for c in &sample.connz.connections {
                    if let Some(b) = before.get(&c.cid) {
                        let r = Rates {
                            in_msgs: per_sec(c.in_msgs, b.in_msgs, secs),
                            out_msgs: per_sec(c.out_msgs, b.out_msgs, secs),
                            in_bytes: per_sec(c.in_bytes, b.in_bytes, secs),
                            out_bytes: per_sec(c.out_bytes, b.out_bytes, secs),
                        };
                        conn_rates.insert(c.cid, r);
                    }
                }
            }
        }
        let mut connz = sample.connz.clone();
        sort_connections(&mut connz.connections, sort);
        let stats = Stats { varz: sample.varz.clone(), connz, rates, conn_rates };
        self.last = Some(sample);
        stats
    }
}

/// Orders connections as nats-server's `/connz?sort=` does: ids and start
/// time ascending, counts descending, `last` most recent first, `idle`
/// longest idle first, `uptime` shortest first, `rtt` slowest first.
///
/// The server sorts before it applies the limit, so the rows are already in
/// this order; sorting again keeps the table right against a server that
/// ignores `sort`. Ties keep the server's order (the sort is stable).
pub fn sort_connections(conns: &mut [ConnInfo], key: SortBy) {
    use std::cmp::Reverse;
    // Unparsable times sort as the oldest possible.
    let time = |s: &str| timestamp(s).unwrap_or(Timestamp::MIN);
    match key {
        SortBy::Cid | SortBy::Start => conns.sort_by_key(|c| c.cid),
        SortBy::Subs => conns.sort_by_key(|c| Reverse(c.subscriptions)),
        SortBy::Pending => conns.sort_by_key(|c| Reverse(c.pending_bytes)),
        SortBy::MsgsTo => conns.sort_by_key(|c| Reverse(c.out_msgs)),
        SortBy::MsgsFrom => conns.sort_by_key(|c| Reverse(c.in_msgs)),
        SortBy::BytesTo => conns.sort_by_key(|c| Reverse(c.out_bytes)),
        SortBy::BytesFrom => conns.sort_by_key(|c| Reverse(c.in_bytes)),
        SortBy::Last => conns.sort_by_cached_key(|c| Reverse(time(&c.last_activity))),
        SortBy::Idle => conns.sort_by_cached_key(|c| time(&c.last_activity)),
        SortBy::Uptime => conns.sort_by_cached_key(|c| Reverse(time(&c.start))),
        SortBy::Rtt => conns.sort_by_cached_key(|c| Reverse(parse_go_duration(&c.rtt).unwrap_or_default())),
        // Closed connections only: top never asks for these (`parse_sort`
        // refuses them), and a live row has no stop time or reason.
        SortBy::Stop | SortBy::Reason => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(cid: u64, start: &str, last: &str, rtt: &str) -> ConnInfo {
        ConnInfo { cid, start: start.into(), last_activity: last.into(), rtt: rtt.into(), ..ConnInfo::default() }
    }

    fn order(conns: &[ConnInfo]) -> Vec<u64> {
        conns.iter().map(|c| c.cid).collect()
    }

    #[test]
    fn time_orders_follow_nats_server() {
        // Go trims trailing zeros from fractions, so string order would lie:
        // "…:00.5Z" is later than "…:00.25Z".
        let mut c = vec![
            conn(1, "2026-01-01T00:00:00.5Z", "2026-01-01T00:00:03Z", "2ms"),
            conn(2, "2026-01-01T00:00:00.25Z", "2026-01-01T00:00:09.1Z", "900µs"),
            conn(3, "2026-01-01T00:00:01Z", "2026-01-01T00:00:05Z", "1.5s"),
        ];
        sort_connections(&mut c, SortBy::Last);
        assert_eq!(order(&c), [2, 3, 1]);
        sort_connections(&mut c, SortBy::Idle);
        assert_eq!(order(&c), [1, 3, 2]);
        sort_connections(&mut c, SortBy::Uptime);
        assert_eq!(order(&c), [3, 1, 2], "shortest uptime (latest start) first");
        sort_connections(&mut c, SortBy::Rtt);
        assert_eq!(order(&c), [3, 1, 2]);
        sort_connections(&mut c, SortBy::Start);
        assert_eq!(order(&c), [1, 2, 3]);
    }

    #[test]
    fn counter_reset_and_restart_give_no_negative_rates() {
        let mut t = Tracker::default();
        let mut s = Sample::default();
        s.varz.server_id = "A".into();
        s.varz.now = "2026-01-01T00:00:00Z".into();
        s.varz.in_msgs = 100;
        t.update(s.clone(), SortBy::Cid);
        s.varz.now = "2026-01-01T00:00:02Z".into();
        s.varz.in_msgs = 10;
        assert_eq!(t.update(s.clone(), SortBy::Cid).rates.in_msgs, 0.0);
        s.varz.now = "2026-01-01T00:00:04Z".into();
        s.varz.in_msgs = 50;
        assert_eq!(t.update(s.clone(), SortBy::Cid).rates.in_msgs, 20.0);
        s.varz.server_id = "B".into();
        s.varz.now = "2026-01-01T00:00:06Z".into();
        s.varz.in_msgs = 90;
        assert_eq!(t.update(s, SortBy::Cid).rates.in_msgs, 0.0, "another server: no rate");
    }
}
