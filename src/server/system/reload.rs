//! `$SYS.REQ.SERVER.<id>.RELOAD`: the reload SIGHUP runs, asked over NATS
//! (design system-account.md §5.3).
//!
//! The reloader lives above the server (src/reload), so the binary hands
//! the server a [`super::link::ReloadRequest`] at start; the system task
//! runs it on a task of its own (a reload waits for every connection to
//! adopt the new configuration) and publishes the answer when it ends.

use std::time::SystemTime;

use super::filters::Options;
use super::info::{envelope, ApiError};
use super::link::ReloadAnswer;
use super::payloads::event_id;
use super::SystemTask;
use crate::server::clock::rfc3339_nano;
use crate::server::last_reload::{LastReload, LastReloadJson};

impl SystemTask {
    /// Runs the reload on a task of its own; its answer comes back as an
    /// event, published by this task.
    pub(super) fn start_reload(&mut self, reply: Vec<u8>, opts: Options) {
        let Some(reloader) = self.server.reload_request() else {
            let text = "can only reload config when a file is provided using -c or --config";
            self.reload_answered(reply, Err(text.into()));
            return;
        };
        let server = self.server.clone();
        self.server.spawn(async move {
            let answer = reloader.reload_request(opts).await;
            server.system_event(super::link::SystemEvent::Reloaded { reply, answer });
        });
    }

    /// Publishes the answer to a RELOAD request.
    pub(super) fn reload_answered(&mut self, reply: Vec<u8>, answer: ReloadAnswer) {
        let seq = self.seq + 1;
        let payload = match answer {
            Ok(data) => envelope(&self.server, seq, data.as_deref(), None),
            Err(description) => envelope(&self.server, seq, None, Some(&ApiError { code: 500, description })),
        };
        self.publish_system(&reply, None, &payload);
    }

    /// `$SYS.SERVER.<id>.RELOAD` (rnats only, in the reference's
    /// namespace): every reload's outcome, however it was started, so a
    /// refused reload is seen by whoever watches events (`nats event`).
    /// The `io.nats.rnats` type keeps tools that switch on the reference's
    /// types from mistaking it for one of them.
    pub(super) fn reload_event(&mut self, record: &LastReload) {
        let mut out = format!(
            "{{\"type\":\"io.nats.rnats.advisory.v1.reload\",\"id\":\"{}\",\"timestamp\":\"{}\",\"server\":",
            event_id(),
            rfc3339_nano(SystemTime::now())
        )
        .into_bytes();
        super::info::write_server_info(&self.server, self.seq + 1, &mut out);
        let body = serde_json::to_vec(&LastReloadJson::from(record)).unwrap_or_else(|_| b"{}".to_vec());
        // The record's fields follow the server's, in one object.
        if body.len() > 2 {
            out.push(b',');
            out.extend_from_slice(&body[1..body.len() - 1]);
        }
        out.push(b'}');
        let subject = format!("$SYS.SERVER.{}.RELOAD", self.server.id());
        self.publish_system(subject.as_bytes(), None, &out);
    }
}
