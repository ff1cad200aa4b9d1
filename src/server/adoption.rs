//! How a reload learns, the moment it happens, that every connection has
//! adopted its snapshot, without polling the connections and without a cost
//! on the message path (sessions touch this once per reload, and once when
//! they end).
//!
//! The reloader marks each connection that still runs an older snapshot as
//! awaited (`Connection::awaited_generation`) and counts them. A session
//! that adopts the awaited generation, or ends, takes its mark back and
//! counts down; the one that reaches zero wakes the reloader. Exactly one
//! side takes each mark (a compare-and-swap), so the count is exact: the
//! session's store of its generation and the reloader's store of the mark
//! are both sequentially consistent, and each reads the other's after its
//! own, so at least one of them sees that the connection is done.

use std::sync::atomic::{AtomicI64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::conn::{ConnKind, Connection};
pub use super::last_reload::{ConnectionCounts, Effect};

/// The generation a connection reports once its session has ended: it
/// satisfies every wait.
const ENDED: u64 = u64::MAX;

/// Counts the connections one reload waits for (reloads run one at a time).
#[derive(Debug, Default)]
pub struct Adoptions {
    /// Marked connections whose session has not settled yet. Sessions that
    /// settle while the reloader is still marking take it below zero for a
    /// moment; the reloader adds its count when it is done marking.
    remaining: AtomicI64,
    /// Woken by the session that settles the last marked connection. Keeps
    /// a permit, so a wakeup before the reloader waits is not lost.
    all_settled: Notify,
    /// What adopting the newest generation did to each client, for the
    /// reload's report. A mutex: each session takes it once per reload.
    tally: Mutex<Tally>,
}

#[derive(Debug, Default)]
struct Tally {
    generation: u64,
    counts: ConnectionCounts,
}

impl Adoptions {
    /// The session of `conn` now runs under the snapshot of `generation`,
    /// which did `effect` to it.
    pub fn adopted(&self, conn: &Connection, generation: u64, effect: Effect) {
        if conn.kind == ConnKind::Client {
            // A connection the reload closed (lowered `max_connections`)
            // may adopt the snapshot before its session sees the close.
            let effect = if conn.is_closing() { Effect::Closed } else { effect };
            self.count(generation, effect);
        }
        self.settle(conn, generation);
    }

    /// A new session of `conn` starts under the snapshot of `generation`
    /// (no reload changed anything for it).
    pub fn started(&self, conn: &Connection, generation: u64) {
        self.settle(conn, generation);
    }

    /// The session of `conn` has ended: no reload waits for it any more.
    /// One that ends while a reload waits for it was closed by it, or at
    /// least during it.
    pub fn ended(&self, conn: &Connection) {
        let awaited = conn.awaited_generation.load(SeqCst);
        if self.settle(conn, ENDED) && conn.kind == ConnKind::Client {
            self.count(awaited, Effect::Closed);
        }
    }

    /// Takes `conn`'s mark if it was awaited for `generation` or earlier;
    /// returns whether this call took it.
    fn settle(&self, conn: &Connection, generation: u64) -> bool {
        conn.adopted_generation.store(generation, SeqCst);
        let awaited = conn.awaited_generation.load(SeqCst);
        let took = awaited != 0
            && awaited <= generation
            && conn.awaited_generation.compare_exchange(awaited, 0, SeqCst, SeqCst).is_ok();
        if took && self.remaining.fetch_sub(1, SeqCst) == 1 {
            self.all_settled.notify_one();
        }
        took
    }

    fn count(&self, generation: u64, effect: Effect) {
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        if tally.generation == generation {
            tally.counts.add(effect);
        }
    }

    /// What the snapshot of `generation` has done to clients so far.
    pub fn counts(&self, generation: u64) -> ConnectionCounts {
        let tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        if tally.generation == generation {
            tally.counts
        } else {
            ConnectionCounts::default()
        }
    }

    /// Starts a wait for `generation`: mark the connections with
    /// [`Awaiting::expect`] (before or after waking them), then
    /// [`Awaiting::wait`].
    pub fn awaiting(&self, generation: u64) -> Awaiting<'_> {
        *self.tally.lock().unwrap_or_else(|e| e.into_inner()) = Tally { generation, counts: Default::default() };
        Awaiting { adoptions: self, generation, marked: Vec::new(), counted: false }
    }
}

/// The connections one reload waits for. Dropped (however the wait ended),
/// it takes back the marks no session took, so the next reload starts from
/// zero.
pub struct Awaiting<'a> {
    adoptions: &'a Adoptions,
    generation: u64,
    marked: Vec<Arc<Connection>>,
    /// Whether `marked` was added to the count yet.
    counted: bool,
}

impl Awaiting<'_> {
    /// Marks `conn` as awaited, unless it runs the generation already.
    pub fn expect(&mut self, conn: Arc<Connection>) {
        let generation = self.generation;
        if conn.adopted_generation.load(SeqCst) >= generation {
            return;
        }
        conn.awaited_generation.store(generation, SeqCst);
        // The session may have adopted it just now, before it could see the
        // mark: then take the mark back, unless the session did.
        if conn.adopted_generation.load(SeqCst) >= generation
            && conn.awaited_generation.compare_exchange(generation, 0, SeqCst, SeqCst).is_ok()
        {
            return;
        }
        self.marked.push(conn);
    }

    /// Adds the marked connections to the count, once.
    fn count(&mut self) {
        if !std::mem::replace(&mut self.counted, true) {
            self.adoptions.remaining.fetch_add(self.marked.len() as i64, SeqCst);
        }
    }

    /// Waits until every marked connection has adopted the generation (or
    /// ended), at most until `deadline`. Returns how many had not by then.
    pub async fn wait(mut self, deadline: Instant) -> usize {
        self.count();
        loop {
            let settled = self.adoptions.all_settled.notified();
            let remaining = self.adoptions.remaining.load(SeqCst);
            if remaining <= 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                return remaining.max(0) as usize;
            }
        }
    }
}

impl Drop for Awaiting<'_> {
    fn drop(&mut self) {
        self.count();
        for conn in &self.marked {
            if conn.awaited_generation.compare_exchange(self.generation, 0, SeqCst, SeqCst).is_ok() {
                self.adoptions.remaining.fetch_sub(1, SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::conn::ConnKind;
    use std::time::Duration;

    fn conn(cid: u64) -> Arc<Connection> {
        let account = Arc::new(crate::server::account::Account::new("$G"));
        let addr = "127.0.0.1:1".parse().unwrap();
        Arc::new(Connection::new(cid, ConnKind::Client, addr, account, Default::default()))
    }

    async fn wait(a: &Adoptions, conns: &[Arc<Connection>], generation: u64, deadline: Instant) -> usize {
        let mut awaiting = a.awaiting(generation);
        for c in conns {
            awaiting.expect(c.clone());
        }
        awaiting.wait(deadline).await
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn returns_at_once_when_all_adopted() {
        let a = Adoptions::default();
        let conns = [conn(1), conn(2)];
        for c in &conns {
            a.adopted(c, 2, Effect::Unchanged);
        }
        assert_eq!(wait(&a, &conns, 2, soon()).await, 0);
        assert_eq!(a.remaining.load(SeqCst), 0);
    }

    #[tokio::test]
    async fn wakes_when_the_last_one_adopts_or_ends() {
        let a = Arc::new(Adoptions::default());
        let conns: Vec<_> = (1..=3).map(conn).collect();
        for c in &conns {
            a.adopted(c, 1, Effect::Unchanged);
        }
        let (a2, c2) = (a.clone(), conns.clone());
        // On this one-thread runtime the task runs once the wait awaits,
        // after every connection was marked.
        let sessions = tokio::spawn(async move {
            assert!(c2.iter().all(|c| c.awaited_generation.load(SeqCst) == 2));
            a2.adopted(&c2[0], 2, Effect::Unchanged);
            a2.adopted(&c2[1], 1, Effect::Unchanged); // an older generation does not count
            a2.ended(&c2[2]);
            a2.adopted(&c2[1], 3, Effect::Unchanged); // a newer one does
        });
        assert_eq!(wait(&a, &conns, 2, soon()).await, 0);
        sessions.await.unwrap();
        assert_eq!(a.remaining.load(SeqCst), 0);
        assert!(conns.iter().all(|c| c.awaited_generation.load(SeqCst) == 0));
    }

    #[tokio::test]
    async fn a_timeout_takes_the_marks_back() {
        let a = Adoptions::default();
        let conns: Vec<_> = (1..=2).map(conn).collect();
        a.adopted(&conns[0], 2, Effect::Unchanged);
        assert_eq!(wait(&a, &conns, 2, Instant::now() + Duration::from_millis(20)).await, 1);
        assert_eq!(a.remaining.load(SeqCst), 0, "the next reload starts from zero");
        assert_eq!(conns[1].awaited_generation.load(SeqCst), 0);
        // The straggler adopting later changes nothing.
        a.adopted(&conns[1], 2, Effect::Unchanged);
        assert_eq!(a.remaining.load(SeqCst), 0);
    }
}
