//! The `$SYS.REQ.…` subjects the system task subscribes to, one line each
//! with its handler, and the answers (nats-server's `zReq` family in
//! `events.go`). To add a request: a line in [`table`] and an arm in
//! [`SystemTask::answer`].

use serde_json::Value;

use super::debug_subscribers::{nsubs_inbox, NSUBS_REQUEST};
use super::filters::{self, Options};
use super::info::{envelope, ApiError};
use super::{Incoming, SystemTask};
use crate::server::operator::claims::ClaimRequest;
use crate::server::service::request_info::ReceivedClientInfo;

/// What a request asks of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handler {
    /// `$SYS.REQ.SERVER.PING[.X]` and `$SYS.REQ.SERVER.<id>.X`.
    Server(Z),
    /// `$SYS.REQ.ACCOUNT.<acc>.X` (the account in token 4).
    Account(AccZ),
    /// `$SYS.REQ.ACCOUNT.PING.STATZ`: every account's figures.
    AccountPingStatz,
    /// `$SYS.REQ.USER.<acc>.INFO`, reached through the `USER.INFO` import.
    UserInfo,
    /// `$SYS.REQ.SERVER.<id>.KICK|LDM`: close one client, or move it.
    Kick,
    Ldm,
    /// `$SYS.REQ.SERVER.<id>.RELOAD`.
    Reload,
    /// Operator mode's claim requests (`…CLAIMS.UPDATE|LOOKUP|LIST|DELETE|
    /// PACK`), the ones the resolver answers; see [`super::claims`].
    Claims(ClaimRequest),
    /// `$SYS.SERVER.*.STATSZ`: a peer's statistics keep it in the table of
    /// remote servers.
    PeerStatsz,
    /// `$SYS.SERVER.*.SHUTDOWN|LAMEDUCK`: a peer leaves the table.
    PeerGone,
    /// `$SYS.SERVER.ACCOUNT.*.CONNS`: a peer's clients in an account.
    PeerAccountConns,
    /// `$SYS.DEBUG.SUBSCRIBERS`, and the peers' part of it: their
    /// `$SYS.REQ.ACCOUNT.NSUBS` and the counts they send back.
    DebugSubscribers,
    NumSubsRequest,
    NumSubsReply,
}

/// The server-wide requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Z {
    Statsz,
    Idz,
    Varz,
    Subsz,
    Connz,
    Routez,
    Gatewayz,
    Leafz,
    Accountz,
    Jsz,
    Healthz,
    Expvarz,
    Ipqueuesz,
    Raftz,
    Profilez,
}

/// The per-account requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AccZ {
    Subsz,
    Connz,
    Leafz,
    Jsz,
    Info,
    Statz,
    Conns,
}

/// One subscription of the system task.
pub(super) struct Route {
    pub subject: String,
    pub handler: Handler,
    /// Routes hear about it (nats-server's `sysSubscribe`, not
    /// `sysSubscribeInternal`).
    pub announce: bool,
    /// The queue group of its subscription: only one server of a cluster
    /// answers (nats-server's `sysSubscribeQ`).
    pub queue: Option<&'static str>,
}

const SERVER_REQUESTS: [(&str, Z); 15] = [
    ("STATSZ", Z::Statsz),
    ("IDZ", Z::Idz),
    ("VARZ", Z::Varz),
    ("SUBSZ", Z::Subsz),
    ("CONNZ", Z::Connz),
    ("ROUTEZ", Z::Routez),
    ("GATEWAYZ", Z::Gatewayz),
    ("LEAFZ", Z::Leafz),
    ("ACCOUNTZ", Z::Accountz),
    ("JSZ", Z::Jsz),
    ("HEALTHZ", Z::Healthz),
    ("EXPVARZ", Z::Expvarz),
    ("IPQUEUESZ", Z::Ipqueuesz),
    ("RAFTZ", Z::Raftz),
    ("PROFILEZ", Z::Profilez),
];

const ACCOUNT_REQUESTS: [(&str, AccZ); 7] = [
    ("SUBSZ", AccZ::Subsz),
    ("CONNZ", AccZ::Connz),
    ("LEAFZ", AccZ::Leafz),
    ("JSZ", AccZ::Jsz),
    ("INFO", AccZ::Info),
    ("STATZ", AccZ::Statz),
    ("CONNS", AccZ::Conns),
];

/// Every subject the system task answers, for the server `id` and, in
/// operator mode, its resolver's `claims` subjects.
pub(super) fn table(id: &str, claims: &[(String, ClaimRequest)]) -> Vec<Route> {
    let route = |subject: String, handler| Route { subject, handler, announce: true, queue: None };
    let mut t = vec![route("$SYS.REQ.SERVER.PING".into(), Handler::Server(Z::Statsz))];
    for (name, z) in SERVER_REQUESTS {
        t.push(route(format!("$SYS.REQ.SERVER.PING.{name}"), Handler::Server(z)));
        t.push(route(format!("$SYS.REQ.SERVER.{id}.{name}"), Handler::Server(z)));
    }
    for (name, z) in ACCOUNT_REQUESTS {
        t.push(route(format!("$SYS.REQ.ACCOUNT.*.{name}"), Handler::Account(z)));
    }
    t.push(route("$SYS.REQ.ACCOUNT.PING.STATZ".into(), Handler::AccountPingStatz));
    t.push(route(format!("$SYS.REQ.SERVER.{id}.KICK"), Handler::Kick));
    t.push(route(format!("$SYS.REQ.SERVER.{id}.LDM"), Handler::Ldm));
    t.push(route(format!("$SYS.REQ.SERVER.{id}.RELOAD"), Handler::Reload));
    // Only the local server answers a client about itself.
    t.push(Route { announce: false, ..route("$SYS.REQ.USER.*.INFO".into(), Handler::UserInfo) });
    // nats-server's remote server tracking (events.go `initEventTracking`).
    t.push(route("$SYS.SERVER.*.STATSZ".into(), Handler::PeerStatsz));
    t.push(route("$SYS.SERVER.*.SHUTDOWN".into(), Handler::PeerGone));
    t.push(route("$SYS.SERVER.*.LAMEDUCK".into(), Handler::PeerGone));
    t.push(route("$SYS.SERVER.ACCOUNT.*.CONNS".into(), Handler::PeerAccountConns));
    // Asked of this server only (`sysSubscribeInternal`); it asks the peers.
    t.push(Route { announce: false, ..route("$SYS.DEBUG.SUBSCRIBERS".into(), Handler::DebugSubscribers) });
    t.push(route(NSUBS_REQUEST.into(), Handler::NumSubsRequest));
    t.push(route(format!("{}.*", nsubs_inbox(id)), Handler::NumSubsReply));
    for (subject, request) in claims {
        // nats-server answers PACK in the queue group `responder`: one full
        // resolver of the cluster sends its directory, not every one.
        let queue = matches!(request, ClaimRequest::Pack).then_some("responder");
        t.push(Route { queue, ..route(subject.clone(), Handler::Claims(*request)) });
    }
    t
}

/// What a handler sends back.
enum Answer {
    /// Nothing (filtered out, or nothing to say).
    Silent,
    /// A payload as is (no envelope).
    Bare(Vec<u8>),
    /// `{"server":…}` alone.
    Done,
    /// `{"server":…,"data":…}`.
    Data(Vec<u8>),
    /// `{"server":…,"data":null?,"error":…}`.
    Error { null_data: bool, code: u16, description: String },
}

impl SystemTask {
    /// Answers one request, when it asked for an answer.
    pub(super) fn answer(&mut self, m: Incoming) {
        let Some(handler) = self.table.get(usize::from(m.handler)).map(|r| r.handler) else { return };
        // A claim update applies with or without a reply; its body is a JWT.
        if let Handler::Claims(request) = handler {
            return self.claims(request, &m);
        }
        match handler {
            Handler::PeerStatsz => return self.peer_statsz(&m.body),
            Handler::PeerGone => return self.peer_gone(&m.subject, &m.body),
            Handler::PeerAccountConns => return self.peer_account_conns(&m.body),
            Handler::DebugSubscribers => return self.debug_subscribers(&m),
            Handler::NumSubsRequest => return self.nsubs_request(&m),
            Handler::NumSubsReply => return self.nsubs_reply(&m),
            _ => {}
        }
        let Some(reply) = m.reply.as_deref() else { return };
        let answer = match filters::parse(&m.body) {
            Err(e) => Answer::Error { null_data: false, code: 400, description: e },
            Ok(opts) if !filters::selects(&opts, &self.server) => Answer::Silent,
            Ok(opts) => match handler {
                Handler::Server(z) => self.server_request(z, &opts),
                Handler::Account(z) => self.account_request(z, &m.subject, &opts),
                Handler::AccountPingStatz => {
                    let names: Vec<String> = opts
                        .get("accounts")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                        .unwrap_or_default();
                    match self.data.account_statz(&names, filters::flag(&opts, "include_unused")) {
                        Some(doc) => Answer::Data(doc),
                        None => Answer::Silent,
                    }
                }
                Handler::UserInfo => self.user_info(m.header.as_deref()),
                Handler::Kick | Handler::Ldm => {
                    match super::control::act_on_client(&self.server, &opts, handler == Handler::Kick) {
                        None => Answer::Silent,
                        Some(Ok(())) => Answer::Done,
                        Some(Err(e)) => Answer::Error { null_data: false, code: 500, description: e },
                    }
                }
                Handler::Reload => {
                    self.start_reload(reply.to_vec(), opts);
                    Answer::Silent
                }
                Handler::Claims(_)
                | Handler::PeerStatsz
                | Handler::PeerGone
                | Handler::PeerAccountConns
                | Handler::DebugSubscribers
                | Handler::NumSubsRequest
                | Handler::NumSubsReply => Answer::Silent,
            },
        };
        let seq = self.seq + 1;
        // nats-server compresses answers (not errors) when asked.
        let encoding = match answer {
            Answer::Done | Answer::Data(_) => super::encoding::accepted(m.header.as_deref()),
            _ => super::encoding::Encoding::Identity,
        };
        let payload = match answer {
            Answer::Silent => return,
            Answer::Bare(p) => p,
            Answer::Done => envelope(&self.server, seq, None, None),
            Answer::Data(d) => envelope(&self.server, seq, Some(&d), None),
            Answer::Error { null_data, code, description } => {
                let data = null_data.then_some(&b"null"[..]);
                envelope(&self.server, seq, data, Some(&ApiError { code, description }))
            }
        };
        let reply = reply.to_vec();
        let (header, body) = super::encoding::encode(encoding, payload);
        self.publish_with_header(&reply, &header, &body);
    }

    fn document(&self, endpoint: &str, query: &[(String, String)]) -> Answer {
        match self.data.document(endpoint, query) {
            Ok((_, doc)) => Answer::Data(doc),
            Err(e) => Answer::Error { null_data: false, code: 400, description: e },
        }
    }

    fn server_request(&mut self, z: Z, opts: &Options) -> Answer {
        let query = filters::as_query(opts);
        match z {
            Z::Statsz => Answer::Bare(self.statsz()),
            Z::Idz => {
                let mut out = b"{\"name\":".to_vec();
                let w = crate::server::service::request_info::write_go_string;
                w(self.server.name(), &mut out);
                out.extend_from_slice(b",\"host\":");
                w(&self.server.snapshot().opts.host, &mut out);
                out.extend_from_slice(b",\"id\":");
                w(self.server.id(), &mut out);
                out.push(b'}');
                Answer::Bare(out)
            }
            Z::Varz => self.document("varz", &query),
            Z::Subsz => self.document("subsz", &query),
            Z::Connz => self.document("connz", &query),
            Z::Routez => self.document("routez", &query),
            Z::Gatewayz => self.document("gatewayz", &query),
            Z::Leafz => self.document("leafz", &query),
            Z::Accountz => self.document("accountz", &query),
            Z::Jsz => self.document("jsz", &query),
            Z::Raftz => Answer::Data(b"{}".to_vec()),
            Z::Ipqueuesz => Answer::Data(b"{}".to_vec()),
            Z::Healthz => match self.data.document("healthz", &query) {
                Ok((status, doc)) => Answer::Data(with_status_code(&doc, status)),
                Err(e) => Answer::Error { null_data: false, code: 400, description: e },
            },
            Z::Expvarz => {
                let args: Vec<String> = std::env::args().collect();
                Answer::Data(serde_json::to_vec(&serde_json::json!({ "cmdline": args })).unwrap_or_default())
            }
            Z::Profilez => {
                Answer::Error { null_data: false, code: 501, description: "profiling is not supported".into() }
            }
        }
    }

    fn account_request(&mut self, z: AccZ, subject: &[u8], opts: &Options) -> Answer {
        // `$SYS.REQ.ACCOUNT.<acc>.X`: the account is token 4.
        let Some(acc) = std::str::from_utf8(subject).ok().and_then(|s| s.split('.').nth(3)).map(String::from) else {
            return Answer::Silent;
        };
        let mut query = filters::as_query(opts);
        query.retain(|(k, _)| k != "acc");
        query.push(("acc".into(), acc.clone()));
        let exists = self.server.accounts().get(&acc).is_some();
        match z {
            AccZ::Subsz => {
                query.retain(|(k, _)| k != "subs");
                query.push(("subs".into(), "1".into()));
                self.document("subsz", &query)
            }
            AccZ::Connz if !exists => {
                // nats-server answers an empty list for an account it does
                // not have (`$SYS.REQ.ACCOUNT.PING.CONNZ` from a system
                // user lands here too).
                let now = crate::server::clock::rfc3339_nano(std::time::SystemTime::now());
                let doc = format!(
                    r#"{{"server_id":"","now":"{now}","num_connections":0,"total":0,"offset":0,"limit":1024,"connections":null}}"#
                );
                Answer::Data(doc.into_bytes())
            }
            AccZ::Connz => self.document("connz", &query),
            AccZ::Leafz => self.document("leafz", &[]),
            AccZ::Jsz => Answer::Error { null_data: true, code: 500, description: "jetstream not enabled".into() },
            AccZ::Info => match self.data.account_detail(&acc) {
                Some(doc) => Answer::Data(doc),
                None => {
                    Answer::Error { null_data: true, code: 500, description: format!("Account {acc} does not exist") }
                }
            },
            // `ACCOUNT.PING.STATZ` has a handler of its own.
            AccZ::Statz if acc == "PING" => Answer::Silent,
            AccZ::Statz => match self.data.account_statz(&[acc], filters::flag(opts, "include_unused")) {
                Some(doc) => Answer::Data(doc),
                None => Answer::Silent,
            },
            AccZ::Conns => match self.account_connections(&acc) {
                Some(event) => Answer::Bare(event),
                None => Answer::Silent,
            },
        }
    }

    /// Who the requester is, from the request's `Nats-Request-Info`
    /// header (the `USER.INFO` import shares it).
    fn user_info(&self, header: Option<&[u8]>) -> Answer {
        match header.and_then(ReceivedClientInfo::from_header) {
            Some(info) => Answer::Data(super::user_info::user_info(&self.server.snapshot().opts, &info)),
            None => Answer::Silent,
        }
    }
}

/// The healthz document with `status_code` after `status`, as the system
/// request answers it (the HTTP one says it in the status line).
fn with_status_code(doc: &[u8], status: u16) -> Vec<u8> {
    let text = String::from_utf8_lossy(doc);
    match text.find("\"status\":\"").and_then(|at| text[at + 10..].find('"').map(|end| at + 10 + end + 1)) {
        Some(end) => format!("{},\"status_code\":{status}{}", &text[..end], &text[end..]).into_bytes(),
        None => doc.to_vec(),
    }
}
