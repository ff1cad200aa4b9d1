//! Fast-producer stall: a client publishing to a subscriber that is behind
//! (more than 3/4 of `max_pending` owed, see [`crate::server::outbound`]) is
//! slowed down briefly, as nats-server 2.11+ does, so the subscriber can
//! catch up instead of being cut off as a slow consumer.
//!
//! nats-server's rule: before each delivery to a subscriber that is behind,
//! the producer's read loop waits until the subscriber catches up, at most
//! 2 ms (5 ms if it owes all of `max_pending`), and at most 10 ms in total
//! per read buffer; then the message is queued anyway. The producer's socket
//! is not read meanwhile, so TCP pushes back on it.
//!
//! rnats keeps the bounds and moves the wait: the message is queued at once,
//! the deliveries that found their subscriber behind are noted here, and the
//! session waits for them after the read chunk, once the other subscribers'
//! writers have been woken. So a stuck subscriber costs its producers at most
//! 10 ms per read chunk (each chunk carries at least one message), and never
//! delays the other subscribers of the same message, which nats-server's
//! in-line wait does (by up to 10 ms).
//!
//! A subscriber that stops reading is still cut off after `write_deadline`
//! (or on passing `max_pending`); its close releases its producers at once.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, warn};

use super::conn::Connection;
use super::stats::ServerStats;

/// One stall for a subscriber that is behind (`stallClientMinDuration`).
pub const STALL_MIN: Duration = Duration::from_millis(2);
/// One stall for a subscriber owing all of `max_pending`
/// (`stallClientMaxDuration`), and the total above which it is logged.
pub const STALL_MAX: Duration = Duration::from_millis(5);
/// The most a producer is stalled per read chunk (`stallTotalAllowed`).
pub const STALL_TOTAL: Duration = Duration::from_millis(10);
/// At most one `Producer was stalled` warning per account this often.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// The deliveries of one read chunk that found their subscriber behind.
#[derive(Default)]
pub struct Stalls {
    /// Each subscriber once, in the order first met, with how many
    /// deliveries found it behind. Reused from chunk to chunk.
    behind: Vec<(Arc<Connection>, u32)>,
}

impl Stalls {
    /// A delivery to `conn` found it behind.
    pub fn note(&mut self, conn: &Arc<Connection>) {
        // Runs of deliveries to one subscriber are the usual case.
        if let Some(last) = self.behind.last_mut().filter(|(c, _)| Arc::ptr_eq(c, conn)) {
            last.1 += 1;
            return;
        }
        match self.behind.iter_mut().find(|(c, _)| Arc::ptr_eq(c, conn)) {
            Some(entry) => entry.1 += 1,
            None => self.behind.push((conn.clone(), 1)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.behind.is_empty()
    }

    /// Stalls the producer `producer` for the noted deliveries, as
    /// nats-server would have one by one: each waits until its subscriber
    /// catches up or its time runs out, within [`STALL_TOTAL`] for the chunk.
    /// Counts each stall on the subscriber and the server, and warns (rate
    /// limited per account) when the chunk's total reaches [`STALL_MAX`].
    pub async fn wait(&mut self, producer: &Connection, stats: &ServerStats, max_pending: usize) -> Duration {
        let mut stalled = Duration::ZERO;
        'subscribers: for (sub, deliveries) in self.behind.drain(..) {
            for _ in 0..deliveries {
                let left = STALL_TOTAL.saturating_sub(stalled);
                if left.is_zero() {
                    break 'subscribers;
                }
                // A subscriber that caught up holds back none of its later
                // deliveries (nats-server would have found its gate open).
                if !sub.outbound.is_behind() {
                    continue 'subscribers;
                }
                let ttl = if sub.outbound.pending() >= max_pending { STALL_MAX } else { STALL_MIN }.min(left);
                sub.stalls.fetch_add(1, Ordering::Relaxed);
                stats.stalled_clients.fetch_add(1, Ordering::Relaxed);
                let at = Instant::now();
                if !sub.outbound.wait_caught_up(ttl).await {
                    debug!("{} - Timed out of fast producer stall ({})", producer.log_prefix, go_ms(ttl));
                }
                stalled += at.elapsed();
            }
        }
        self.behind.clear();
        if stalled >= STALL_MAX {
            warn_stalled(producer, stalled);
        }
        stalled
    }
}

/// `Producer was stalled for a total of 7ms - Account:$G`, at most once a
/// second per account, as nats-server rate-limits it.
fn warn_stalled(producer: &Connection, total: Duration) {
    if !producer.account().stall_warning_due(WARN_EVERY) {
        return;
    }
    let user = producer.meta.lock().unwrap_or_else(|e| e.into_inner()).user.clone();
    let suffix = if user.is_empty() { String::new() } else { format!(" - user:{user}") };
    warn!(
        "{} - Producer was stalled for a total of {} - Account:{}{suffix}",
        producer.log_prefix,
        go_ms(total),
        producer.account().name
    );
}

/// A duration under a second rounded to the millisecond, as Go prints it
/// (`7ms`); stalls are bounded well below a second.
fn go_ms(d: Duration) -> String {
    format!("{}ms", (d.as_micros() + 500) / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::account::Account;
    use crate::server::conn::ConnKind;
    use crate::server::errors::CloseReason;
    use crate::server::outbound::{MsgLine, Pushed, WhenBehind};

    const MAX_PENDING: usize = 1000;

    fn conn(cid: u64, stats: &Arc<ServerStats>) -> Arc<Connection> {
        let account = Arc::new(Account::new("$G"));
        Arc::new(Connection::new(cid, ConnKind::Client, ([127, 0, 0, 1], 4000).into(), account, stats.clone()))
    }

    /// Queues `payload` bytes (plus 15 bytes of framing) for `conn`.
    fn owe(conn: &Connection, payload: usize) {
        let size = payload.to_string();
        let line = MsgLine { subject: b"a", sid: b"1", reply: None, header_size: None, size: size.as_bytes() };
        conn.outbound.set_max_pending(MAX_PENDING);
        let pushed = conn.outbound.push_msg(&line, &vec![0; payload], WhenBehind::Stall);
        assert_eq!(pushed, Pushed::Queued);
    }

    fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    #[tokio::test(start_paused = true)]
    async fn a_chunk_stalls_at_most_ten_ms() {
        let stats = Arc::new(ServerStats::default());
        let (producer, stuck, fine) = (conn(5, &stats), conn(6, &stats), conn(7, &stats));
        owe(&stuck, 800);
        assert!(stuck.outbound.is_behind());
        let mut stalls = Stalls::default();
        for _ in 0..50 {
            stalls.note(&stuck);
            stalls.note(&fine);
        }
        let t = Instant::now();
        let total = stalls.wait(&producer, &stats, MAX_PENDING).await;
        assert_eq!((t.elapsed(), total), (STALL_TOTAL, STALL_TOTAL));
        assert_eq!((load(&stuck.stalls), load(&fine.stalls), load(&stats.stalled_clients)), (5, 0, 5));
        assert!(stalls.is_empty());
        // The next chunk has its own budget.
        stalls.note(&stuck);
        assert_eq!(stalls.wait(&producer, &stats, MAX_PENDING).await, STALL_MIN);
    }

    #[tokio::test(start_paused = true)]
    async fn owing_all_of_max_pending_stalls_five_ms() {
        let stats = Arc::new(ServerStats::default());
        let (producer, full) = (conn(5, &stats), conn(6, &stats));
        owe(&full, MAX_PENDING - 15);
        let mut stalls = Stalls::default();
        stalls.note(&full);
        assert_eq!(stalls.wait(&producer, &stats, MAX_PENDING).await, STALL_MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn a_subscriber_that_catches_up_releases_the_producer_at_once() {
        let stats = Arc::new(ServerStats::default());
        let (producer, sub) = (conn(5, &stats), conn(6, &stats));
        owe(&sub, 800);
        let mut stalls = Stalls::default();
        for _ in 0..3 {
            stalls.note(&sub);
        }
        let t = Instant::now();
        let (total, ()) = tokio::join!(stalls.wait(&producer, &stats, MAX_PENDING), async {
            sub.outbound.close(CloseReason::ClientClosed, false);
        });
        assert_eq!((t.elapsed(), total), (Duration::ZERO, Duration::ZERO));
        assert_eq!(load(&sub.stalls), 1, "counted once; its later deliveries found it caught up");
    }

    #[test]
    fn rounds_to_the_millisecond() {
        assert_eq!(go_ms(Duration::from_micros(2_499)), "2ms");
        assert_eq!(go_ms(Duration::from_micros(10_500)), "11ms");
        assert_eq!(go_ms(Duration::ZERO), "0ms");
    }
}
