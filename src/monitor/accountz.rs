//! `/accountz` and `/accstatz`, with nats-server's field names and order
//! (observed with 2.15.1, tests/fixtures/reference/monitor_accounts.json).
//!
//! Live figures come from an [`AccountDirectory`]; what an account exports,
//! imports and maps comes from the options of the current snapshot. Where
//! the reference lists accounts in Go map order, rnats sorts by name.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use super::account_directory::{find, AccountDirectory, AccountFigures, MsgBytes};
use super::account_rows::{export_rows, import_rows, mapping_rows, ExportRow, ImportRow, MapDestRow};
use super::gojson;
use super::gotime::rfc3339_nano;
use super::query::Query;
use super::reply::Reply;
use super::sublist_stats::SublistStats;
use crate::options::{Options, GLOBAL_ACCOUNT};
use crate::server::state::ServerState;

#[derive(Serialize)]
struct Accountz {
    server_id: String,
    now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_account: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    accounts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<AccountInfo>,
}

/// nats-server's `AccountInfo` for an account without JWT.
#[derive(Serialize)]
struct AccountInfo {
    account_name: String,
    update_time: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_system: bool,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: usize,
    client_connections: usize,
    subscriptions: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    mappings: BTreeMap<String, Vec<MapDestRow>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exports: Vec<ExportRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imports: Vec<ImportRow>,
    name_tag: String,
    sublist_stats: SublistStats,
}

/// `/accountz` (already counted).
pub fn accountz(server: &ServerState, q: &Query) -> Reply {
    accountz_with(server, server, q)
}

/// `/accountz` with the accounts of `directory`: the list of names, or with
/// `acc=NAME` that account's detail (HTTP 400 when it does not exist).
pub fn accountz_with(server: &ServerState, directory: &dyn AccountDirectory, q: &Query) -> Reply {
    let acc = q.get("acc");
    let mut reply = Accountz {
        server_id: server.id().to_string(),
        now: rfc3339_nano(SystemTime::now()),
        system_account: directory.system_account(),
        accounts: Vec::new(),
        account_detail: None,
    };
    if acc.is_empty() {
        reply.accounts = directory.accounts().iter().map(|a| a.name().to_string()).collect();
        reply.accounts.sort();
    } else {
        let Some(figures) = find(directory, acc) else {
            return Reply::bad_request(format!("Account {acc} does not exist"));
        };
        let snapshot = server.snapshot();
        let system = directory.system_account();
        let stats = directory.sublist_stats(Some(acc));
        reply.account_detail = Some(account_info(&figures, &snapshot.opts, stats, system.as_deref()));
    }
    Reply::json(gojson::to_vec_indent(&reply))
}

/// The imports every account gets from the system account `system`.
fn system_import_rows(account: &str, system: Option<&str>) -> Vec<ImportRow> {
    let Some(system) = system else { return Vec::new() };
    crate::server::system::imports::system_imports(account, system)
        .iter()
        .map(|i| {
            let (remote, local) = (String::from_utf8_lossy(&i.remote), String::from_utf8_lossy(&i.local));
            ImportRow::service(remote.into_owned(), system.to_string(), local.into_owned(), i.share, None)
        })
        .collect()
}

/// The system account's own exports (nats-server's
/// `addSystemAccountExports`), sorted by subject as rnats sorts exports (the
/// reference lists them in Go map order).
fn system_export_rows(account: &str, system: Option<&str>) -> Vec<ExportRow> {
    if system != Some(account) {
        return Vec::new();
    }
    crate::server::system::imports::SYSTEM_EXPORTS
        .iter()
        .map(|&(subject, response_type)| ExportRow {
            subject: subject.to_string(),
            kind: "service",
            response_type: Some(response_type),
            service_latency: None,
            approved_accounts: Vec::new(),
        })
        .collect()
}

fn account_info(
    figures: &AccountFigures,
    opts: &Options,
    sublist_stats: SublistStats,
    system: Option<&str>,
) -> AccountInfo {
    let name = figures.name().to_string();
    let config = opts.accounts.iter().find(|a| a.name == name);
    let mappings = match config {
        Some(c) => mapping_rows(&c.mappings),
        None if name == GLOBAL_ACCOUNT => mapping_rows(&opts.mappings),
        None => BTreeMap::new(),
    };
    AccountInfo {
        account_name: name.clone(),
        update_time: rfc3339_nano(figures.updated),
        is_system: system == Some(name.as_str()),
        expired: false,
        complete: true,
        jetstream_enabled: false,
        leafnode_connections: figures.leafnode_connections,
        client_connections: figures.client_connections,
        subscriptions: figures.account.sublist.count(),
        mappings,
        exports: system_export_rows(&name, system)
            .into_iter()
            .chain(config.map(export_rows).unwrap_or_default())
            .collect(),
        imports: system_import_rows(&name, system)
            .into_iter()
            .chain(config.map(|c| import_rows(c, &opts.accounts)).unwrap_or_default())
            .collect(),
        name_tag: name,
        sublist_stats,
    }
}

#[derive(Serialize)]
struct AccountStatz {
    server_id: String,
    now: String,
    account_statz: Vec<AccountStat>,
}

#[derive(Serialize)]
struct AccountStat {
    acc: String,
    name: String,
    conns: usize,
    leafnodes: usize,
    total_conns: usize,
    num_subscriptions: u64,
    sent: DataStats,
    received: DataStats,
    slow_consumers: u64,
}

#[derive(Serialize, Default)]
struct MsgBytesRow {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize, Default)]
struct DataStats {
    msgs: u64,
    bytes: u64,
    gateways: MsgBytesRow,
    routes: MsgBytesRow,
    leafs: MsgBytesRow,
}

impl From<MsgBytes> for DataStats {
    fn from(t: MsgBytes) -> DataStats {
        DataStats { msgs: t.msgs, bytes: t.bytes, ..DataStats::default() }
    }
}

/// `/accstatz` (already counted).
pub fn accstatz(server: &ServerState, q: &Query) -> Reply {
    accstatz_with(server, server, q)
}

/// `/accstatz`: each account's connections and traffic; accounts without
/// connections only with `unused=1`. `acc` is ignored, as nats-server's
/// HTTP handler ignores it (observed).
pub fn accstatz_with(server: &ServerState, directory: &dyn AccountDirectory, q: &Query) -> Reply {
    let unused = match q.bool("unused") {
        Ok(v) => v,
        Err(e) => return Reply::bad_request(e),
    };
    let mut accounts = directory.accounts();
    accounts.sort_by(|a, b| a.name().cmp(b.name()));
    let list = accounts
        .iter()
        .filter(|a| unused || a.client_connections + a.leafnode_connections > 0)
        .map(|a| AccountStat {
            acc: a.name().to_string(),
            name: a.name().to_string(),
            conns: a.client_connections,
            leafnodes: a.leafnode_connections,
            total_conns: a.client_connections + a.leafnode_connections,
            num_subscriptions: a.account.sublist.count(),
            sent: a.sent.into(),
            received: a.received.into(),
            slow_consumers: a.slow_consumers,
        })
        .collect();
    Reply::json(gojson::to_vec_indent(&AccountStatz {
        server_id: server.id().to_string(),
        now: rfc3339_nano(SystemTime::now()),
        account_statz: list,
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;
    use crate::options::{AccountOptions, Export, ExportKind, Import, MappingDestination, MappingOptions};
    use crate::server::account::Account;
    use crate::server::snapshot::Snapshot;

    /// Three accounts, as the lead's registry will report them.
    struct Registry(Vec<AccountFigures>);

    impl AccountDirectory for Registry {
        fn system_account(&self) -> Option<String> {
            Some("$SYS".into())
        }
        fn accounts(&self) -> Vec<AccountFigures> {
            self.0.clone()
        }
        fn sublist_stats(&self, _: Option<&str>) -> SublistStats {
            SublistStats::default()
        }
    }

    fn figures(name: &str, conns: usize) -> AccountFigures {
        AccountFigures {
            account: Arc::new(Account::new(name)),
            client_connections: conns,
            leafnode_connections: 0,
            updated: SystemTime::UNIX_EPOCH,
            sent: MsgBytes { msgs: 2, bytes: 20 },
            received: MsgBytes { msgs: 1, bytes: 10 },
            slow_consumers: 0,
        }
    }

    /// monitor_accounts.json's config: A exports, B imports, a mapping.
    fn server() -> (Arc<ServerState>, Registry) {
        let mut opts = Options::default();
        let mut a = AccountOptions { name: "A".into(), ..AccountOptions::default() };
        a.exports.push(Export::new(ExportKind::Stream, "ev.>"));
        a.mappings.push(MappingOptions {
            source: "m.a".into(),
            destinations: vec![MappingDestination { subject: "m.b".into(), weight: 100, cluster: None }],
        });
        let mut b = AccountOptions { name: "B".into(), ..AccountOptions::default() };
        b.imports.push(Import {
            kind: ExportKind::Stream,
            account: "A".into(),
            subject: "ev.>".into(),
            to: None,
            prefix: Some("fa".into()),
            share: false,
            allow_trace: false,
        });
        opts.accounts = vec![a, b];
        let snapshot = Snapshot::compile(opts, 1, None).expect("compiles");
        let server = ServerState::new(snapshot, "NTEST".into(), "test".into());
        (server, Registry(vec![figures("B", 1), figures("A", 2), figures("$G", 0)]))
    }

    fn body(reply: &Reply) -> Value {
        serde_json::from_slice(&reply.body).expect("json")
    }

    /// The keys appear in this order in the reply's text (serde_json's
    /// `Value` sorts them, so the order is checked on the text).
    fn assert_order(reply: &Reply, keys: &[&str]) {
        let text = std::str::from_utf8(&reply.body).expect("utf8");
        let mut from = 0;
        for key in keys {
            let at = text[from..].find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} after {from}: {text}"));
            from += at + 1;
        }
    }

    #[test]
    fn lists_sorted_names_and_the_system_account() {
        let (server, registry) = server();
        let r = accountz_with(&server, &registry, &Query::parse(None));
        assert_order(&r, &["server_id", "now", "system_account", "accounts"]);
        let v = body(&r);
        assert_eq!(v["accounts"], serde_json::json!(["$G", "A", "B"]));
        assert_eq!(v["system_account"], "$SYS");
    }

    #[test]
    fn detail_has_the_references_keys_in_order() {
        let (server, registry) = server();
        let r = accountz_with(&server, &registry, &Query::parse(Some("acc=A")));
        let v = body(&r);
        let d = &v["account_detail"];
        assert_order(
            &r,
            &[
                "server_id",
                "now",
                "system_account",
                "account_detail",
                "account_name",
                "update_time",
                "expired",
                "complete",
                "jetstream_enabled",
                "leafnode_connections",
                "client_connections",
                "subscriptions",
                "mappings",
                "exports",
                "name_tag",
                "sublist_stats",
            ],
        );
        assert_eq!(d["client_connections"], 2);
        assert_eq!(d["mappings"], serde_json::json!({"m.a": [{"subject": "m.b", "weight": 100}]}));
        assert_eq!(d["exports"], serde_json::json!([{"subject": "ev.>", "type": "stream"}]));
        let b = body(&accountz_with(&server, &registry, &Query::parse(Some("acc=B"))));
        // The system account's imports come first, then the config's.
        let imports = b["account_detail"]["imports"].as_array().expect("imports");
        assert_eq!(imports[0]["local_subject"], "$SYS.REQ.USER.INFO");
        assert_eq!(imports[4]["local_subject"], "fa.ev.>");
        assert!(b["account_detail"].get("exports").is_none());
    }

    #[test]
    fn an_unknown_account_is_a_400() {
        let (server, registry) = server();
        let r = accountz_with(&server, &registry, &Query::parse(Some("acc=NOPE")));
        assert_eq!(r.status.as_u16(), 400);
        assert_eq!(&r.body[..], b"Account NOPE does not exist");
    }

    #[test]
    fn accstatz_lists_used_accounts_unless_unused() {
        let (server, registry) = server();
        let r = accstatz_with(&server, &registry, &Query::parse(None));
        assert_order(
            &r,
            &[
                "server_id",
                "now",
                "account_statz",
                "acc",
                "name",
                "conns",
                "leafnodes",
                "total_conns",
                "num_subscriptions",
                "sent",
                "msgs",
                "bytes",
                "gateways",
                "routes",
                "leafs",
                "received",
                "slow_consumers",
            ],
        );
        let v = body(&r);
        let names: Vec<&str> =
            v["account_statz"].as_array().expect("list").iter().map(|a| a["acc"].as_str().unwrap_or("")).collect();
        assert_eq!(names, ["A", "B"]);
        let a = &v["account_statz"][0];
        assert_eq!(a["sent"]["msgs"], 2);
        assert_eq!(a["received"]["bytes"], 10);
        let all = body(&accstatz_with(&server, &registry, &Query::parse(Some("unused=1&acc=B"))));
        assert_eq!(all["account_statz"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn the_server_serves_its_registry() {
        let (server, _) = server();
        let v = body(&accountz(&server, &Query::parse(None)));
        assert_eq!(v["accounts"], serde_json::json!(["$G", "$SYS", "A", "B"]));
        assert_eq!(v["system_account"], "$SYS");
        let a = body(&accountz(&server, &Query::parse(Some("acc=A"))));
        assert_eq!(a["account_detail"]["exports"], serde_json::json!([{"subject": "ev.>", "type": "stream"}]));
        assert_eq!(a["account_detail"]["client_connections"], 0);
        let g = body(&accountz(&server, &Query::parse(Some("acc=$G"))));
        assert_eq!(g["account_detail"]["name_tag"], "$G");
        assert_eq!(accountz(&server, &Query::parse(Some("acc=NOPE"))).status.as_u16(), 400);
        let statz = body(&accstatz(&server, &Query::parse(Some("unused=1"))));
        // `$G`, `$SYS`, A and B.
        assert_eq!(statz["account_statz"].as_array().map(Vec::len), Some(4));
    }
}
