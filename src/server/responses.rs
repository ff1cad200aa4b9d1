//! `allow_responses`: the reply subjects a connection may publish to because it
//! received a request carrying them.
//!
//! Publishers record a grant when they deliver a request to the connection;
//! the connection checks (and counts) a grant when it publishes. Both sides
//! touch the same map, so it sits behind a std mutex, taken only by
//! connections whose permissions use `allow_responses`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::options::ResponsePermission;

/// Tracked reply subjects per connection, at most (expired ones go first).
const MAX_TRACKED_REPLIES: usize = 4096;

/// One reply subject a connection may answer: since when, and how many sent.
#[derive(Debug, Clone, Copy)]
struct Grant {
    since: Instant,
    sent: i64,
}

#[derive(Debug, Default)]
pub struct ReplyGrants {
    /// Whether grants are recorded at all; read by every publisher that
    /// delivers a request here, so it is an atomic rather than under the lock.
    enabled: AtomicBool,
    /// `allow_responses.expires` in nanoseconds (0 = no limit), for pruning.
    ttl_nanos: AtomicU64,
    grants: Mutex<HashMap<Box<[u8]>, Grant>>,
}

impl ReplyGrants {
    /// Turns tracking on or off for the connection's current permissions.
    pub fn configure(&self, permission: Option<&ResponsePermission>) {
        match permission {
            Some(p) => {
                self.ttl_nanos.store(u64::try_from(p.expires.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
                self.enabled.store(true, Ordering::Release);
            }
            None => {
                self.enabled.store(false, Ordering::Release);
                self.grants.lock().unwrap_or_else(|e| e.into_inner()).clear();
            }
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Records that the connection received a request it may answer.
    pub fn grant(&self, reply: &[u8]) {
        let ttl = Duration::from_nanos(self.ttl_nanos.load(Ordering::Relaxed));
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        if grants.len() >= MAX_TRACKED_REPLIES {
            if !ttl.is_zero() {
                grants.retain(|_, g| g.since.elapsed() <= ttl);
            }
            if grants.len() >= MAX_TRACKED_REPLIES {
                let drop: Vec<Box<[u8]>> = grants.keys().take(MAX_TRACKED_REPLIES / 2).cloned().collect();
                for k in drop {
                    grants.remove(&k);
                }
            }
        }
        grants.insert(reply.into(), Grant { since: Instant::now(), sent: 0 });
    }

    /// Whether a publish to `subject` is an allowed response; counts it.
    pub fn use_grant(&self, subject: &[u8], rule: &ResponsePermission) -> bool {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        let Some(grant) = grants.get_mut(subject) else { return false };
        grant.sent += 1;
        let over = rule.max > 0 && grant.sent > rule.max;
        let expired = !rule.expires.is_zero() && grant.since.elapsed() > rule.expires;
        if over || expired {
            grants.remove(subject);
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_responses_per_request() {
        let g = ReplyGrants::default();
        let rule = ResponsePermission { max: 2, expires: Duration::ZERO };
        g.configure(Some(&rule));
        assert!(!g.use_grant(b"_INBOX.1", &rule), "no request received yet");
        g.grant(b"_INBOX.1");
        assert!(g.use_grant(b"_INBOX.1", &rule));
        assert!(g.use_grant(b"_INBOX.1", &rule));
        assert!(!g.use_grant(b"_INBOX.1", &rule), "the third reply is over max");
        g.configure(None);
        assert!(!g.enabled());
    }
}
