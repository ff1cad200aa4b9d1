//! Polling the server on its own thread, so a slow or unreachable server
//! never freezes the keyboard: one `/varz` + `/connz` pair per interval, or
//! at once when the query changes.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::app::{Poll, Query};
use super::http::Client;
use super::monitor::{Connz, Varz};
use super::sample::{Sample, Tracker};

/// The `/connz` request nats-top makes.
pub fn connz_path(q: &Query) -> String {
    let mut path = format!("/connz?limit={}&sort={}", q.limit, q.sort);
    if q.subs {
        path.push_str("&subs=1");
    }
    path
}

/// One poll: `/varz`, then `/connz` for `q`.
pub fn fetch(client: &Client, q: &Query) -> Result<Sample, String> {
    let varz: Varz = decode(client, "/varz")?;
    let connz: Connz = decode(client, &connz_path(q))?;
    Ok(Sample { varz, connz })
}

fn decode<T: serde::de::DeserializeOwned>(client: &Client, path: &str) -> Result<T, String> {
    let body = client.get(path).map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| format!("{}{path}: not the JSON expected: {e}", client.endpoint.url()))
}

/// The polling thread's handles.
pub struct Poller {
    /// Results, in order.
    pub results: Receiver<Poll>,
    /// New queries; each one triggers a poll at once.
    pub queries: Sender<Query>,
}

impl Poller {
    /// Starts polling `client` with `query` every `interval`. The thread ends
    /// at its next send or wait after either handle is dropped; it is not
    /// joined, since it may be inside a request (bounded by the client's
    /// timeout) and quitting should not wait for that.
    pub fn spawn(client: Client, query: Query, interval: Duration) -> std::io::Result<Poller> {
        // Results flow to the UI; queries flow back. Both unbounded: at most
        // one result per interval, and queries only come from key presses.
        let (result_tx, results) = mpsc::channel();
        let (queries, query_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("top-poller".into())
            .spawn(move || poll_loop(client, query, interval, result_tx, query_rx))?;
        Ok(Poller { results, queries })
    }
}

fn poll_loop(client: Client, mut query: Query, interval: Duration, out: Sender<Poll>, queries: Receiver<Query>) {
    let mut tracker = Tracker::default();
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        let poll = match fetch(&client, &query) {
            Ok(sample) => {
                failures = 0;
                Poll::Stats(Box::new(tracker.update(sample, query.sort)))
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                Poll::Failed { error, attempt: failures }
            }
        };
        if out.send(poll).is_err() {
            return;
        }
        // Wait out the interval, unless a new query asks for a poll now.
        let next = started + interval;
        match queries.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(q) => {
                query = q;
                // Several key presses may have queued; the last one counts.
                while let Ok(q) = queries.try_recv() {
                    query = q;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}
