//! Shrinks a session that shows a difference to a small one that still does:
//! drop runs of steps (halving the run length down to single steps), then
//! write splits, then unused connections. Bounded in runs and time.

use std::future::Future;
use std::time::{Duration, Instant};

use super::session::Session;

const MAX_RUNS: usize = 300;
const MAX_TIME: Duration = Duration::from_secs(120);

pub async fn shrink<F, Fut>(mut best: Session, differs: F) -> Session
where
    F: Fn(Session) -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    let mut runs = 0;
    let mut budget = || {
        runs += 1;
        runs <= MAX_RUNS && start.elapsed() < MAX_TIME
    };
    // Runs of steps, longest first.
    let mut chunk = best.steps.len().div_ceil(2).max(1);
    loop {
        let mut i = 0;
        while i < best.steps.len() {
            if best.steps.len() <= 1 || !budget() {
                break;
            }
            let mut candidate = best.clone();
            let end = (i + chunk).min(candidate.steps.len());
            candidate.steps.drain(i..end);
            if !candidate.steps.is_empty() && differs(candidate.clone()).await {
                best = candidate;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    // Write splits.
    for i in 0..best.steps.len() {
        if best.steps[i].splits.is_empty() || !budget() {
            continue;
        }
        let mut candidate = best.clone();
        candidate.steps[i].splits.clear();
        if differs(candidate.clone()).await {
            best = candidate;
        }
    }
    // Connections nothing is sent on.
    let compact = best.clone().compact();
    if compact.conns < best.conns && budget() && differs(compact.clone()).await {
        best = compact;
    }
    best
}
