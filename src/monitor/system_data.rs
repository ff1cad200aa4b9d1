//! The monitoring documents the system account's requests answer with
//! (`$SYS.REQ.SERVER.PING.VARZ` and the rest): built by the same code as
//! the HTTP endpoints, written compact as nats-server sends them on the
//! wire. The server reaches them through its [`MonitorData`] trait, so it
//! never imports this layer.

use std::sync::Arc;

use super::account_directory::{AccountDirectory, AccountFigures};
use super::query::Query;
use super::sublist_stats::SublistStats;
use super::{accountz, Monitor};
use crate::server::state::ServerState;
use crate::server::system::MonitorData;

/// The system task's view of the monitoring endpoints.
pub struct SystemData {
    monitor: Monitor,
}

impl SystemData {
    pub fn new(server: Arc<ServerState>) -> SystemData {
        SystemData { monitor: Monitor::new(server, None) }
    }
}

impl MonitorData for SystemData {
    fn document(&self, endpoint: &str, options: &[(String, String)]) -> Result<(u16, Vec<u8>), String> {
        if endpoint == "varz" {
            // The HTTP port's request counts, not the system requests'
            // (nats-server counts HTTP requests only).
            let mut figures = self.monitor.figures();
            figures.http_req_stats = Default::default();
            return Ok((200, super::gojson::to_vec(&super::varz::varz(&self.monitor.server, figures))));
        }
        let Some(endpoint) = super::router::Endpoint::of(&format!("/{endpoint}")) else {
            return Err(format!("no endpoint {endpoint}"));
        };
        let reply = self.monitor.dispatch(endpoint, &Query::from_pairs(options));
        if reply.status == hyper::StatusCode::BAD_REQUEST {
            return Err(String::from_utf8_lossy(&reply.body).trim_end().to_string());
        }
        Ok((reply.status.as_u16(), compact(&reply.body)))
    }

    fn account_detail(&self, name: &str) -> Option<Vec<u8>> {
        let q = Query::from_pairs(&[("acc".into(), name.into())]);
        let reply = accountz::accountz(&self.monitor.server, &q);
        if reply.status != hyper::StatusCode::OK {
            return None;
        }
        // The detail is the document's last member.
        let doc = compact(&reply.body);
        let key = b"\"account_detail\":";
        let at = doc.windows(key.len()).position(|w| w == key)? + key.len();
        Some(doc.get(at..doc.len() - 1)?.to_vec())
    }

    fn account_statz(&self, names: &[String], include_unused: bool) -> Option<Vec<u8>> {
        let only = Only { server: &self.monitor.server, names };
        let q = Query::from_pairs(&[("unused".into(), if include_unused { "1" } else { "0" }.into())]);
        let doc = compact(&accountz::accstatz_with(&self.monitor.server, &only, &q).body);
        let empty = doc.windows(19).any(|w| w == b"\"account_statz\":[]}");
        (!empty).then_some(doc)
    }

    fn account_stat(&self, name: &str) -> Option<Vec<u8>> {
        self.monitor.server.accounts().get(name)?;
        let doc = self.account_statz(&[name.to_string()], true)?;
        let key = b"\"account_statz\":[";
        let at = doc.windows(key.len()).position(|w| w == key)? + key.len();
        Some(doc.get(at..doc.len().checked_sub(2)?)?.to_vec())
    }
}

/// The server's accounts, only those named (all when none is).
struct Only<'a> {
    server: &'a ServerState,
    names: &'a [String],
}

impl AccountDirectory for Only<'_> {
    fn system_account(&self) -> Option<String> {
        self.server.system_account()
    }

    fn accounts(&self) -> Vec<AccountFigures> {
        let all = AccountDirectory::accounts(self.server);
        all.into_iter().filter(|a| self.names.is_empty() || self.names.iter().any(|n| n == a.name())).collect()
    }

    fn sublist_stats(&self, account: Option<&str>) -> SublistStats {
        self.server.sublist_stats(account)
    }
}

/// Go's indented JSON without its indentation: whitespace outside strings
/// dropped.
fn compact(doc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in doc {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b' ' | b'\n' | b'\r' | b'\t' => {}
            b'"' => {
                in_string = true;
                out.push(b);
            }
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn compacting_keeps_strings_as_they_are() {
        assert_eq!(
            super::compact(b"{\n  \"a b\": \"x \\\" y\",\n  \"c\": [1, 2]\n}"),
            b"{\"a b\":\"x \\\" y\",\"c\":[1,2]}"
        );
    }
}
