//! Differential test of `/accountz?acc=NAME`'s configuration rows: the
//! reference nats-server serves them for a config with accounts, exports,
//! imports and mappings; rnats builds its rows from the same config text
//! (`conf::load_str` and `monitor::account_rows`) and must produce the same
//! JSON values. Where the reference's order is Go map order (exports,
//! imports), rows are compared as sets; the system account's automatic
//! imports are left out (rnats has no system account yet).
//!
//! The rows are compared without a running rnats because rnats does not
//! serve accounts yet; once it does, `/accountz` serves exactly these rows.
//! The config layer does not read `accounts` yet either, so [`options`]
//! writes the same accounts as typed options; once it does, they can come
//! from `rnats::conf::load_str("accounts.conf", CONF)`.

mod common;

use common::http::get;
use common::{reference_binary, skip_loudly};
use rnats::monitor::account_rows::{export_rows, import_rows, mapping_rows};
use rnats::options::{
    AccountOptions, Export, ExportKind, Import, Latency, MappingDestination, MappingOptions, ResponseType,
};
use serde_json::Value;

const CONF: &str = r#"
accounts {
  A {
    users: [{user: a, password: a}]
    mappings: {
      "m.a": "m.b"
      "w.x": [{destination: "w.y", weight: 60%}, {destination: "w.z", weight: 30%}]
      "l.x": [{destination: "l.x", weight: 20%}, {destination: "l.y", weight: 50%}]
      "w.*": [{destination: "v.$1", weight: 40%}]
      "c.x": [{destination: "c.y", weight: 100%, cluster: "c1"}, {destination: "c.z", weight: 50%, cluster: "c2"}, {destination: "c.q", weight: 100%}]
    }
    exports: [
      {stream: "s.*"}
      {stream: "ws.*.*"}
      {service: "q.>", response_type: chunked, response_threshold: "5s", accounts: [B, C]}
      {service: "st.>", response_type: stream}
      {service: "p.*.x", accounts: []}
      {service: "lat.>", latency: {sampling: 50%, subject: "latres.a"}}
      {service: "hdr.x", latency: {sampling: headers, subject: "latres.b"}}
    ]
  }
  B {
    users: [{user: b, password: b}]
    imports: [
      {stream: {account: A, subject: "s.*"}, to: "t.$1"}
      {stream: {account: A, subject: "s.x"}}
      {stream: {account: A, subject: "ws.*.*"}, to: "wm.{{wildcard(2)}}.{{wildcard(1)}}"}
      {stream: {account: A, subject: "ws.a.b"}, prefix: "pp"}
      {service: {account: A, subject: "q.>"}, to: "r.>"}
      {service: {account: A, subject: "q.a"}}
      {service: {account: A, subject: "st.>"}, share: true}
      {service: {account: A, subject: "lat.>"}}
    ]
  }
  C {
    users: [{user: c, password: c}]
    imports: [ {service: {account: A, subject: "q.x"}, to: "cq.x"} ]
  }
}
"#;

fn mapping(source: &str, dests: &[(&str, u8, Option<&str>)]) -> MappingOptions {
    MappingOptions {
        source: source.into(),
        destinations: dests
            .iter()
            .map(|(subject, weight, cluster)| MappingDestination {
                subject: subject.to_string(),
                weight: *weight,
                cluster: cluster.map(str::to_string),
            })
            .collect(),
    }
}

fn export(kind: ExportKind, subject: &str, edit: impl FnOnce(&mut Export)) -> Export {
    let mut e = Export::new(kind, subject);
    edit(&mut e);
    e
}

fn import(kind: ExportKind, subject: &str, edit: impl FnOnce(&mut Import)) -> Import {
    let mut i = Import {
        kind,
        account: "A".into(),
        subject: subject.into(),
        to: None,
        prefix: None,
        share: false,
        allow_trace: false,
    };
    edit(&mut i);
    i
}

/// [`CONF`]'s accounts as options.
fn options() -> Vec<AccountOptions> {
    use ExportKind::{Service, Stream};
    let a = AccountOptions {
        name: "A".into(),
        mappings: vec![
            mapping("m.a", &[("m.b", 100, None)]),
            mapping("w.x", &[("w.y", 60, None), ("w.z", 30, None)]),
            mapping("l.x", &[("l.x", 20, None), ("l.y", 50, None)]),
            mapping("w.*", &[("v.$1", 40, None)]),
            mapping("c.x", &[("c.y", 100, Some("c1")), ("c.z", 50, Some("c2")), ("c.q", 100, None)]),
        ],
        exports: vec![
            export(Stream, "s.*", |_| {}),
            export(Stream, "ws.*.*", |_| {}),
            export(Service, "q.>", |e| {
                e.response_type = ResponseType::Chunked;
                e.response_threshold = std::time::Duration::from_secs(5);
                e.accounts = Some(vec!["B".into(), "C".into()]);
            }),
            export(Service, "st.>", |e| e.response_type = ResponseType::Stream),
            export(Service, "p.*.x", |e| e.accounts = Some(Vec::new())),
            export(Service, "lat.>", |e| e.latency = Some(Latency { sampling: 50, subject: "latres.a".into() })),
            export(Service, "hdr.x", |e| e.latency = Some(Latency { sampling: 0, subject: "latres.b".into() })),
        ],
        ..AccountOptions::default()
    };
    let b = AccountOptions {
        name: "B".into(),
        imports: vec![
            import(Stream, "s.*", |i| i.to = Some("t.$1".into())),
            import(Stream, "s.x", |_| {}),
            import(Stream, "ws.*.*", |i| i.to = Some("wm.{{wildcard(2)}}.{{wildcard(1)}}".into())),
            import(Stream, "ws.a.b", |i| i.prefix = Some("pp".into())),
            import(Service, "q.>", |i| i.to = Some("r.>".into())),
            import(Service, "q.a", |_| {}),
            import(Service, "st.>", |i| i.share = true),
            import(Service, "lat.>", |_| {}),
        ],
        ..AccountOptions::default()
    };
    let c = AccountOptions {
        name: "C".into(),
        imports: vec![import(Service, "q.x", |i| i.to = Some("cq.x".into()))],
        ..AccountOptions::default()
    };
    vec![a, b, c]
}

/// Rows as a sorted list of their JSON texts (a multiset).
/// Rows as a sorted set, each with its `approved_accounts` sorted: the
/// reference lists those in Go map order, which changes between runs.
fn as_set(rows: &Value) -> Vec<String> {
    let sorted_approvals = |row: &Value| {
        let mut row = row.clone();
        if let Some(list) = row.get_mut("approved_accounts").and_then(Value::as_array_mut) {
            list.sort_by_key(Value::to_string);
        }
        row.to_string()
    };
    let mut set: Vec<String> = rows.as_array().map(|a| a.iter().map(sorted_approvals).collect()).unwrap_or_default();
    set.sort();
    set
}

/// Each source's rows grouped by cluster (a stable sort, so the order
/// within a cluster stays): the reference lists the clusters of one source
/// in Go map order, which changes between runs.
fn by_cluster(mut mappings: Value) -> Value {
    if let Some(sources) = mappings.as_object_mut() {
        for rows in sources.values_mut().filter_map(Value::as_array_mut) {
            rows.sort_by_key(|r| r.get("cluster").map(Value::to_string).unwrap_or_default());
        }
    }
    mappings
}

fn without_system_imports(imports: &Value) -> Value {
    let rows = imports.as_array().cloned().unwrap_or_default();
    Value::Array(rows.into_iter().filter(|r| r["account"] != "$SYS").collect())
}

#[tokio::test]
async fn account_rows_match_the_reference() {
    let Some(bin) = reference_binary() else {
        skip_loudly("account_rows_match_the_reference");
        return;
    };
    let accounts = options();

    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("accounts.conf");
    std::fs::write(&conf, CONF).expect("config");
    let process = rnats::tools::spawn::Spawn::new(&bin)
        .args(&["-m", "-1", "-c", conf.to_str().expect("path")])
        .start()
        .expect("reference starts");
    let mon = process.monitor_url().expect("ports file lists the monitoring port");

    let mut compared = 0;
    for account in &accounts {
        let reply = get(&mon, &format!("/accountz?acc={}", account.name)).await;
        assert_eq!(reply.status, 200, "{}", account.name);
        let detail = reply.json()["account_detail"].clone();
        let ours_mappings = serde_json::to_value(mapping_rows(&account.mappings)).expect("json");
        let theirs_mappings = detail.get("mappings").cloned().unwrap_or(Value::Object(Default::default()));
        assert_eq!(by_cluster(ours_mappings), by_cluster(theirs_mappings), "mappings of {}", account.name);
        let ours_exports = serde_json::to_value(export_rows(account)).expect("json");
        assert_eq!(
            as_set(&ours_exports),
            as_set(detail.get("exports").unwrap_or(&Value::Null)),
            "exports of {}",
            account.name
        );
        let ours_imports = serde_json::to_value(import_rows(account, &accounts)).expect("json");
        assert_eq!(
            as_set(&ours_imports),
            as_set(&without_system_imports(detail.get("imports").unwrap_or(&Value::Null))),
            "imports of {}",
            account.name
        );
        compared += as_set(&ours_exports).len() + as_set(&ours_imports).len() + account.mappings.len();
    }
    assert_eq!(compared, 7 + 8 + 1 + 5, "every row was compared");
}
