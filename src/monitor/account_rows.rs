//! The configuration rows of `/accountz?acc=NAME`: `mappings`, `exports`
//! and `imports`, built from the account's options as nats-server builds
//! them from its runtime account (observed with nats-server 2.15.1).
//!
//! - mappings: per source (sorted, as Go sorts map keys), the destinations
//!   with *cumulative* weights in ascending order of weight, the source
//!   itself added with the remainder when the weights do not sum to 100
//!   (unless the source is listed, which means "lose the rest"), wildcard
//!   sources as `$n` (`w.*` → `w.$1`); cluster-scoped destinations after
//!   the others, one cluster at a time.
//! - exports: services, then streams (the reference's order is Go map order;
//!   rnats sorts by subject); `response_type` `Singleton`/`Streamed`/
//!   `Chunked`, `service_latency`, `approved_accounts`.
//! - imports: streams, then services, in config order; a stream's
//!   `local_subject` is where its messages arrive (`prefix.` + subject, or
//!   `to` with its wildcard references as `*`); a service's `to` and
//!   `local_subject` are the subject the importer's clients use.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::options::{AccountOptions, Export, ExportKind, Import, Latency, MappingOptions, ResponseType};
use crate::subject::is_subset_match;

#[derive(Debug, Serialize, PartialEq)]
pub struct MapDestRow {
    pub subject: String,
    pub weight: u8,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ExportRow {
    pub subject: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_latency: Option<LatencyRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approved_accounts: Vec<String>,
}

/// jwt's `ServiceLatency`: `sampling` is a percentage, or `"headers"`.
#[derive(Debug, Serialize, PartialEq, Clone)]
pub struct LatencyRow {
    pub sampling: Sampling,
    pub results: String,
}

#[derive(Debug, Serialize, PartialEq, Clone, Copy)]
#[serde(untagged)]
pub enum Sampling {
    Percent(u8),
    Headers(&'static str),
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ImportRow {
    pub subject: String,
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub local_subject: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub invalid: bool,
    pub share: bool,
    pub tracking: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyRow>,
}

impl ImportRow {
    /// A service import of `subject` from `account`, answered locally on
    /// `local`.
    pub fn service(
        subject: String,
        account: String,
        local: String,
        share: bool,
        latency: Option<LatencyRow>,
    ) -> ImportRow {
        ImportRow {
            subject,
            account,
            to: Some(local.clone()),
            local_subject: local,
            kind: "service",
            invalid: false,
            share,
            tracking: false,
            latency,
        }
    }
}

/// The `mappings` object of one account (its own, or the top-level ones
/// for `$G`).
pub fn mapping_rows(mappings: &[MappingOptions]) -> BTreeMap<String, Vec<MapDestRow>> {
    mappings.iter().map(|m| (m.source.clone(), mapping_dests(m))).collect()
}

fn mapping_dests(m: &MappingOptions) -> Vec<MapDestRow> {
    let lists_source = m.destinations.iter().any(|d| d.subject == m.source);
    let mut clusters: Vec<&str> = m.destinations.iter().filter_map(|d| d.cluster.as_deref()).collect();
    clusters.sort_unstable();
    clusters.dedup();
    let mut rows = Vec::new();
    for cluster in std::iter::once("").chain(clusters) {
        let mut group: Vec<(String, u8)> = m
            .destinations
            .iter()
            .filter(|d| d.cluster.as_deref().unwrap_or("") == cluster)
            .map(|d| (d.subject.clone(), d.weight))
            .collect();
        if group.is_empty() {
            continue;
        }
        let total: u32 = group.iter().map(|(_, w)| u32::from(*w)).sum();
        if total != 100 && !lists_source {
            group.push((source_as_destination(&m.source), 100u32.saturating_sub(total) as u8));
        }
        // Go sorts by weight (an insertion sort for lists this short, so
        // stable) and then makes the weights cumulative.
        group.sort_by_key(|(_, w)| *w);
        let mut sum: u8 = 0;
        for (subject, weight) in group {
            sum = sum.saturating_add(weight);
            rows.push(MapDestRow { subject, weight: sum, cluster: cluster.to_string() });
        }
    }
    rows
}

/// The source as a destination: each `*` becomes `$1`, `$2`, ... (`>`
/// stays), as nats-server's `transformTokenize` writes it.
fn source_as_destination(source: &str) -> String {
    let mut n = 0;
    source
        .split('.')
        .map(|t| {
            if t == "*" {
                n += 1;
                format!("${n}")
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The `exports` rows of an account.
pub fn export_rows(account: &AccountOptions) -> Vec<ExportRow> {
    let mut services: Vec<&Export> = account.exports.iter().filter(|e| e.kind == ExportKind::Service).collect();
    let mut streams: Vec<&Export> = account.exports.iter().filter(|e| e.kind == ExportKind::Stream).collect();
    services.sort_by(|a, b| a.subject.cmp(&b.subject));
    streams.sort_by(|a, b| a.subject.cmp(&b.subject));
    services
        .into_iter()
        .chain(streams)
        .map(|e| {
            let service = e.kind == ExportKind::Service;
            ExportRow {
                subject: e.subject.clone(),
                kind: kind_name(e.kind),
                response_type: service.then(|| response_type_name(e.response_type)),
                service_latency: if service { e.latency.as_ref().map(latency_row) } else { None },
                approved_accounts: e.accounts.clone().unwrap_or_default(),
            }
        })
        .collect()
}

/// The `imports` rows of `account`; `all` is every account of the config,
/// to find the exports that service imports use (for their latency).
pub fn import_rows(account: &AccountOptions, all: &[AccountOptions]) -> Vec<ImportRow> {
    let streams = account.imports.iter().filter(|i| i.kind == ExportKind::Stream);
    let services = account.imports.iter().filter(|i| i.kind == ExportKind::Service);
    streams
        .chain(services)
        .map(|i| match i.kind {
            ExportKind::Stream => ImportRow {
                subject: i.subject.clone(),
                account: i.account.clone(),
                to: None,
                local_subject: stream_local_subject(i),
                kind: "stream",
                invalid: false,
                share: false,
                tracking: false,
                latency: None,
            },
            ExportKind::Service => {
                let local = i.to.clone().unwrap_or_else(|| i.subject.clone());
                let latency = exported_latency(i, all).map(latency_row);
                ImportRow::service(i.subject.clone(), i.account.clone(), local, i.share, latency)
            }
        })
        .collect()
}

/// Where a stream import's messages arrive, with wildcards as `*`.
fn stream_local_subject(i: &Import) -> String {
    if let Some(prefix) = i.prefix.as_deref().filter(|p| !p.is_empty()) {
        let dot = if prefix.ends_with('.') { "" } else { "." };
        return format!("{prefix}{dot}{}", i.subject);
    }
    match i.to.as_deref() {
        Some(to) => to.split('.').map(|t| if is_wildcard_reference(t) { "*" } else { t }).collect::<Vec<_>>().join("."),
        None => i.subject.clone(),
    }
}

/// `$1` or `{{wildcard(1)}}` (any mapping function, in any spacing).
fn is_wildcard_reference(token: &str) -> bool {
    let dollar = token.strip_prefix('$').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    dollar || (token.starts_with("{{") && token.ends_with("}}"))
}

/// The latency of the export a service import uses: the exporter's service
/// export with the import's subject, or else the first one covering it.
fn exported_latency<'a>(i: &Import, all: &'a [AccountOptions]) -> Option<&'a Latency> {
    let exporter = all.iter().find(|a| a.name == i.account)?;
    let services = || exporter.exports.iter().filter(|e| e.kind == ExportKind::Service);
    let export = services()
        .find(|e| e.subject == i.subject)
        .or_else(|| services().find(|e| is_subset_match(i.subject.as_bytes(), e.subject.as_bytes())))?;
    export.latency.as_ref()
}

fn latency_row(l: &Latency) -> LatencyRow {
    LatencyRow {
        sampling: if l.sampling == 0 { Sampling::Headers("headers") } else { Sampling::Percent(l.sampling) },
        results: l.subject.clone(),
    }
}

fn kind_name(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    }
}

/// nats-server's `ServiceRespType.String()`.
fn response_type_name(rt: ResponseType) -> &'static str {
    match rt {
        ResponseType::Single => "Singleton",
        ResponseType::Stream => "Streamed",
        ResponseType::Chunked => "Chunked",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::gojson;
    use crate::options::MappingDestination;

    fn dest(subject: &str, weight: u8, cluster: Option<&str>) -> MappingDestination {
        MappingDestination { subject: subject.into(), weight, cluster: cluster.map(str::to_string) }
    }

    fn mapping(source: &str, dests: Vec<MappingDestination>) -> MappingOptions {
        MappingOptions { source: source.into(), destinations: dests }
    }

    fn import(kind: ExportKind, account: &str, subject: &str) -> Import {
        Import {
            kind,
            account: account.into(),
            subject: subject.into(),
            to: None,
            prefix: None,
            share: false,
            allow_trace: false,
        }
    }

    fn json<T: Serialize>(v: &T) -> String {
        String::from_utf8(gojson::to_vec(v)).expect("utf8")
    }

    #[test]
    fn mappings_as_the_reference_lists_them() {
        // Observed (map.conf): weights cumulative in ascending order, the
        // remainder on the source unless it is listed, `w.*` as `w.$1`,
        // clusters after the unscoped destinations.
        let rows = mapping_rows(&[
            mapping("m.a", vec![dest("m.b", 100, None)]),
            mapping("w.x", vec![dest("w.y", 60, None), dest("w.z", 30, None)]),
            mapping("l.x", vec![dest("l.x", 20, None), dest("l.y", 50, None)]),
            mapping("w.*", vec![dest("v.$1", 40, None)]),
            mapping("c.x", vec![dest("c.y", 100, Some("c1")), dest("c.z", 50, Some("c2")), dest("c.q", 100, None)]),
        ]);
        assert_eq!(
            json(&rows),
            concat!(
                r#"{"c.x":[{"subject":"c.q","weight":100},{"subject":"c.y","weight":100,"cluster":"c1"},"#,
                r#"{"subject":"c.z","weight":50,"cluster":"c2"},{"subject":"c.x","weight":100,"cluster":"c2"}],"#,
                r#""l.x":[{"subject":"l.x","weight":20},{"subject":"l.y","weight":70}],"#,
                r#""m.a":[{"subject":"m.b","weight":100}],"#,
                r#""w.*":[{"subject":"v.$1","weight":40},{"subject":"w.$1","weight":100}],"#,
                r#""w.x":[{"subject":"w.x","weight":10},{"subject":"w.z","weight":40},{"subject":"w.y","weight":100}]}"#
            )
        );
    }

    #[test]
    fn exports_as_the_reference_lists_them() {
        // Observed (monitor_accounts.json and map.conf, map2.conf).
        let mut a = AccountOptions { name: "A".into(), ..AccountOptions::default() };
        a.exports.push(Export::new(ExportKind::Stream, "ev.>"));
        let mut svc = Export::new(ExportKind::Service, "svc.>");
        svc.response_type = ResponseType::Stream;
        svc.accounts = Some(vec!["B".into()]);
        a.exports.push(svc);
        let mut q = Export::new(ExportKind::Service, "q.>");
        q.response_type = ResponseType::Chunked;
        q.accounts = Some(vec!["B".into(), "C".into()]);
        a.exports.push(q);
        let mut lat = Export::new(ExportKind::Service, "lat.>");
        lat.latency = Some(Latency { sampling: 50, subject: "latres.a".into() });
        a.exports.push(lat);
        let mut hdr = Export::new(ExportKind::Service, "hdr.x");
        hdr.latency = Some(Latency { sampling: 0, subject: "latres.b".into() });
        hdr.accounts = Some(Vec::new());
        a.exports.push(hdr);
        assert_eq!(
            json(&export_rows(&a)),
            concat!(
                r#"[{"subject":"hdr.x","type":"service","response_type":"Singleton","#,
                r#""service_latency":{"sampling":"headers","results":"latres.b"}},"#,
                r#"{"subject":"lat.\u003e","type":"service","response_type":"Singleton","#,
                r#""service_latency":{"sampling":50,"results":"latres.a"}},"#,
                r#"{"subject":"q.\u003e","type":"service","response_type":"Chunked","approved_accounts":["B","C"]},"#,
                r#"{"subject":"svc.\u003e","type":"service","response_type":"Streamed","approved_accounts":["B"]},"#,
                r#"{"subject":"ev.\u003e","type":"stream"}]"#
            )
        );
    }

    #[test]
    fn imports_as_the_reference_lists_them() {
        let mut a = AccountOptions { name: "A".into(), ..AccountOptions::default() };
        let mut lat = Export::new(ExportKind::Service, "lat.>");
        lat.latency = Some(Latency { sampling: 50, subject: "latres.a".into() });
        a.exports.push(lat);
        let mut b = AccountOptions { name: "B".into(), ..AccountOptions::default() };
        let mut prefixed = import(ExportKind::Stream, "A", "ev.>");
        prefixed.prefix = Some("fa".into());
        let mut reordered = import(ExportKind::Stream, "A", "ws.*.*");
        reordered.to = Some("wm.{{wildcard(2)}}.{{wildcard(1)}}".into());
        let mut dollar = import(ExportKind::Stream, "A", "s.*");
        dollar.to = Some("t.$1".into());
        let mut shared = import(ExportKind::Service, "A", "svc.>");
        shared.to = Some("req.>".into());
        shared.share = true;
        b.imports = vec![
            shared,
            prefixed,
            reordered,
            dollar,
            import(ExportKind::Stream, "A", "s.x"),
            import(ExportKind::Service, "A", "lat.>"),
        ];
        let all = [a, b];
        let rows: Vec<String> = import_rows(&all[1], &all).iter().map(json).collect();
        let tail = r#""invalid":false,"share":false,"tracking":false}"#;
        assert_eq!(
            rows,
            vec![
                format!(
                    r#"{{"subject":"ev.\u003e","account":"A","local_subject":"fa.ev.\u003e","type":"stream",{tail}"#
                ),
                format!(r#"{{"subject":"ws.*.*","account":"A","local_subject":"wm.*.*","type":"stream",{tail}"#),
                format!(r#"{{"subject":"s.*","account":"A","local_subject":"t.*","type":"stream",{tail}"#),
                format!(r#"{{"subject":"s.x","account":"A","local_subject":"s.x","type":"stream",{tail}"#),
                concat!(
                    r#"{"subject":"svc.\u003e","account":"A","to":"req.\u003e","local_subject":"req.\u003e","#,
                    r#""type":"service","invalid":false,"share":true,"tracking":false}"#
                )
                .to_string(),
                concat!(
                    r#"{"subject":"lat.\u003e","account":"A","to":"lat.\u003e","local_subject":"lat.\u003e","#,
                    r#""type":"service","invalid":false,"share":false,"tracking":false,"#,
                    r#""latency":{"sampling":50,"results":"latres.a"}}"#
                )
                .to_string(),
            ]
        );
    }

    #[test]
    fn source_tokens_become_references() {
        assert_eq!(source_as_destination("a.*.b.*.>"), "a.$1.b.$2.>");
        assert_eq!(source_as_destination("plain"), "plain");
    }
}
