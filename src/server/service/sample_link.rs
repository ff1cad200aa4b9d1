//! How service-import machinery on the message path hands a message to the
//! system task to publish (a latency sample into the exporting account):
//! a channel the system task connects when it starts. Without a system
//! account nothing is connected and the messages go nowhere, as
//! nats-server sends none without one (`ErrNoSysAccount`).

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc::UnboundedSender;

/// A message the server publishes into `account` as it is.
#[derive(Debug)]
pub struct AccountMessage {
    pub account: Box<str>,
    pub subject: Box<str>,
    pub payload: Vec<u8>,
}

/// The shared end of the channel: the account registry hands a clone to
/// every service import's entry.
#[derive(Debug, Clone, Default)]
pub struct SampleLink(Arc<OnceLock<UnboundedSender<AccountMessage>>>);

impl SampleLink {
    /// Connects the link to the system task (once).
    pub fn set(&self, tx: UnboundedSender<AccountMessage>) {
        let _ = self.0.set(tx);
    }

    /// Hands `message` to the system task, when it runs; never waits.
    pub fn send(&self, message: AccountMessage) {
        if let Some(tx) = self.0.get() {
            let _ = tx.send(message);
        }
    }
}

/// A 22-character event id, as a NUID looks.
pub fn event_id() -> String {
    use rand::Rng;
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..22).map(|_| DIGITS[rng.random_range(0..DIGITS.len())] as char).collect()
}
