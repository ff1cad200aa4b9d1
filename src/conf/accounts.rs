//! `accounts` and `mappings` from the value tree into [`AccountOptions`] and
//! [`MappingOptions`], with nats-server's own words for what it refuses
//! (`parseAccounts`, `parseExportStreamOrService`,
//! `parseImportStreamOrService`, `parseAccountMappings` in its opts.go).
//! The key table calls these from the setters of the account blocks; the
//! rules across accounts (imports against exports) are in `accounts_rules`.

use std::time::Duration;

use super::context::Builder;
use super::diag::Diagnostic;
use super::keys::ACCOUNT;
use super::tree::{Entry, Kind, Map, Value};
use crate::gotext::{go_quote, parse_go_duration};
use crate::mapping::{MapDest, Mapping, Transform};
use crate::options::*;

fn quote(s: &str) -> String {
    go_quote(s.as_bytes())
}

/// `accounts: [A, B]` or `accounts { A { ... } }`; then the rules across
/// accounts, which need them all.
pub fn set_accounts(b: &mut Builder, e: &Entry, o: &mut Options) {
    o.accounts.clear();
    match &e.value.kind {
        Kind::Array(items) => {
            for item in items {
                if let Kind::Str(name) = &item.kind {
                    if !o.accounts.iter().any(|a| &a.name == name) && name != GLOBAL_ACCOUNT {
                        o.accounts.push(AccountOptions { name: name.clone(), ..AccountOptions::default() });
                    }
                }
            }
        }
        Kind::Map(m) => {
            for acc in m.effective() {
                let Kind::Map(am) = &acc.value.kind else { continue };
                if acc.used || acc.key == GLOBAL_ACCOUNT {
                    continue;
                }
                let mut a = AccountOptions { name: acc.key.clone(), ..AccountOptions::default() };
                b.within(&acc.key, |b| b.block(&ACCOUNT, am, &mut a));
                // nats-server skips an export or import that names no subject.
                a.exports.retain(|x| !x.subject.is_empty());
                a.imports.retain(|i| !i.account.is_empty() && !i.subject.is_empty());
                o.accounts.push(a);
            }
            super::accounts_rules::across(b, m, &o.accounts);
        }
        _ => {}
    }
}

/// `jetstream` inside an account: on unless `false`/`disabled`.
pub fn jetstream_enabled(v: &Value) -> bool {
    match &v.kind {
        Kind::Bool(on) => *on,
        Kind::Str(s) => matches!(s.to_ascii_lowercase().as_str(), "enabled" | "enable"),
        Kind::Map(_) => true,
        _ => false,
    }
}

/// An account limit: a negative value means no limit (nats-server's `-1`).
pub fn limit(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

/// `mappings { SRC: DEST | {destination, weight, cluster} | [...] }`, each
/// compiled as the server will, so a mapping the server would refuse is an
/// error here.
pub fn mappings(b: &mut Builder, m: &Map) -> Vec<MappingOptions> {
    let mut out: Vec<MappingOptions> = Vec::new();
    let mut spans = Vec::new();
    for e in m.effective() {
        if e.used {
            continue;
        }
        let Some(destinations) = destinations(b, e) else { continue };
        let dests: Vec<MapDest> = destinations
            .iter()
            .map(|d| MapDest { subject: d.subject.clone(), weight: d.weight, cluster: d.cluster.clone() })
            .collect();
        if let Err(err) = Mapping::new(&e.key, &dests) {
            let msg = match &e.value.kind {
                Kind::Str(dest) => format!("Error adding mapping for {} to {} : {err}", quote(&e.key), quote(dest)),
                _ => format!("Error adding mapping for {} : {err}", quote(&e.key)),
            };
            b.error("mapping", e.key_span, msg);
            continue;
        }
        let mapping = MappingOptions { source: e.key.clone(), destinations };
        // A later entry for the same source replaces the earlier one.
        match out.iter().position(|x| x.source == mapping.source) {
            Some(i) => (out[i], spans[i]) = (mapping, e.key_span),
            None => {
                out.push(mapping);
                spans.push(e.key_span);
            }
        }
    }
    let positioned: Vec<_> = out.iter().zip(spans).collect();
    super::accounts_lint::mappings(b, &positioned);
    out
}

/// The destinations of one mapping entry (already type-checked).
fn destinations(b: &mut Builder, e: &Entry) -> Option<Vec<MappingDestination>> {
    let items: Vec<&Value> = match &e.value.kind {
        Kind::Str(dest) => return Some(vec![MappingDestination { subject: dest.clone(), weight: 100, cluster: None }]),
        Kind::Map(_) => vec![&e.value],
        Kind::Array(items) => items.iter().collect(),
        _ => return None,
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Kind::Map(dm) = &item.kind else { return None };
        let text = |names: &[&str]| match dm.find(names).map(|x| &x.value.kind) {
            Some(Kind::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let Some(subject) = text(&["destination", "dest"]) else {
            // nats-server takes such an entry and maps to nothing.
            b.diags.push(Diagnostic::note(
                "mapping",
                Some(item.span),
                "a mapping destination without `destination` is ignored",
            ));
            continue;
        };
        let weight = match dm.find(&["weight"]).map(|x| &x.value.kind) {
            Some(Kind::Int(n)) => u8::try_from(*n).ok(),
            Some(Kind::Str(s)) => s.trim_end_matches('%').parse::<u8>().ok(),
            _ => {
                let msg = format!("Missing weight for mapping destination {}", quote(&subject));
                b.error("mapping", item.span, msg);
                return None;
            }
        };
        // The weight's own check has reported a bad value.
        let weight = weight?;
        out.push(MappingDestination { subject, weight, cluster: text(&["cluster"]) });
    }
    Some(out)
}

/// `latency: SUBJECT` or `latency { sampling: 1..100 | "N%" | "headers", subject }`.
pub fn latency(b: &mut Builder, v: &Value) -> Option<Latency> {
    match &v.kind {
        Kind::Str(s) => Some(Latency { sampling: 100, subject: s.clone() }),
        Kind::Map(m) => {
            let sampling = match m.find(&["sampling"]).map(|e| &e.value) {
                None => 100,
                Some(s) => {
                    let n = match &s.kind {
                        Kind::Int(n) => Some(*n),
                        Kind::Str(t) if t.eq_ignore_ascii_case("headers") => Some(0),
                        Kind::Str(t) => t.trim_end_matches('%').parse::<i64>().ok(),
                        _ => None,
                    };
                    match n {
                        Some(0) if matches!(s.kind, Kind::Str(_)) => 0,
                        Some(n @ 1..=100) => n as u8,
                        _ => {
                            b.error("latency", s.span, "bad sampling percentage, should be 1-100");
                            return None;
                        }
                    }
                }
            };
            match m.find(&["subject"]).map(|e| &e.value.kind) {
                Some(Kind::Str(subject)) => Some(Latency { sampling, subject: subject.clone() }),
                _ => {
                    b.error("latency", v.span, "Latency subject required, but missing");
                    None
                }
            }
        }
        _ => {
            b.type_error_at("latency", v, "a subject or a map `{sampling, subject}`");
            None
        }
    }
}

/// `response_threshold`: a Go duration string only (nats-server refuses a number).
pub fn threshold(b: &mut Builder, v: &Value) -> Option<Duration> {
    let got = match &v.kind {
        Kind::Str(s) => match parse_go_duration(s) {
            Ok(d) => return Some(d),
            Err(_) => quote(s),
        },
        Kind::Int(_) => "int64".into(),
        Kind::Float(_) => "float64".into(),
        Kind::Bool(_) => "bool".into(),
        other => other.describe().into(),
    };
    b.error("value", v.span, format!("Expected response threshold to be a parseable time duration, got {got}"));
    None
}

/// `response_type`: its spellings.
pub fn response_type(v: &Value) -> ResponseType {
    match &v.kind {
        Kind::Str(s) => match s.to_ascii_lowercase().as_str() {
            "stream" => ResponseType::Stream,
            "chunk" | "chunked" => ResponseType::Chunked,
            _ => ResponseType::Single,
        },
        _ => ResponseType::Single,
    }
}

/// The entries of `m` spelt as one of `names`, in file order.
fn spelt<'a>(m: &'a Map, names: &[&str]) -> Vec<&'a Entry> {
    m.effective().into_iter().filter(|e| names.iter().any(|n| e.key.eq_ignore_ascii_case(n))).collect()
}

/// `{stream: ...}` and `{service: ...}` in one map: nats-server reports the
/// second it meets.
fn stream_and_service(b: &mut Builder, m: &Map, subject_of: impl Fn(&Entry) -> String) {
    let both = spelt(m, &["stream", "service"]);
    if let [first, .., second] = both.as_slice() {
        if !first.key.eq_ignore_ascii_case(&second.key) {
            let msg = format!(
                "Detected {} {} but already saw a {}",
                second.key.to_ascii_lowercase(),
                quote(&subject_of(second)),
                first.key.to_ascii_lowercase()
            );
            b.error("conflict", second.key_span, msg);
        }
    }
}

const RESPONSE_TYPE: &[&str] = &["response_type", "response"];
const THRESHOLD: &[&str] = &["threshold", "response_threshold", "response_max_time", "response_time"];

/// An export's rules across its keys.
pub fn export_rules(b: &mut Builder, m: &Map, x: &Export) {
    stream_and_service(b, m, |e| match &e.value.kind {
        Kind::Str(s) => s.clone(),
        _ => String::new(),
    });
    let is_service = !spelt(m, &["service"]).is_empty() && spelt(m, &["stream"]).is_empty();
    let directives: Vec<&Entry> = spelt(m, &[RESPONSE_TYPE, THRESHOLD].concat());
    if !is_service {
        if let Some(d) = directives.first() {
            b.error("conflict", d.key_span, "Detected response directive on non-service");
        }
    }
    if let Some(l) = x.latency.as_ref().filter(|_| is_service) {
        latency_rules(b, m, x, l);
    }
    if let [_, .., second] = spelt(m, RESPONSE_TYPE).as_slice() {
        b.error("duplicate", second.key_span, "Duplicate response type definition");
    }
    if let Some(pos) = x.account_token_position.filter(|p| *p > 0) {
        let token = x.subject.split('.').nth(pos as usize - 1);
        if token != Some("*") {
            let kind = if is_service { "service" } else { "stream" };
            let span = m.find(&["account_token_position"]).map_or_else(Default::default, |e| e.value.span);
            b.diags.push(
                Diagnostic::error(
                    "export",
                    Some(span),
                    format!("Error adding {kind} export {}: sublist: invalid subject", quote(&x.subject)),
                )
                .with_help(format!(
                    "token {pos} of `{}` must be `*`: it is where the importing account's name goes",
                    x.subject
                )),
            );
        }
    }
}

/// A service export's latency: for single responses, published on a
/// literal subject the service itself does not receive.
fn latency_rules(b: &mut Builder, m: &Map, x: &Export, l: &Latency) {
    let (why, help) = if x.response_type != ResponseType::Single {
        ("bad service response type", "latency is tracked for single-response services only")
    } else if !crate::subject::is_valid_literal_subject(l.subject.as_bytes()) {
        ("invalid publish subject", "the latency subject is published to: it cannot hold wildcards")
    } else if crate::subject::is_subset_match(l.subject.as_bytes(), x.subject.as_bytes()) {
        ("invalid publish subject", "the latency subject cannot be one the service itself receives")
    } else {
        return;
    };
    let span = m.find(&["latency"]).map(|e| e.key_span);
    let msg = format!(
        "Error adding service latency sampling for {} on subject {}: {why}",
        quote(&x.subject),
        quote(&l.subject)
    );
    b.diags.push(Diagnostic::error("export", span, msg).with_help(help));
}

/// An import's source: `{account, subject}`.
#[derive(Default)]
pub struct ImportSource {
    pub account: Option<String>,
    pub subject: Option<String>,
}

/// `stream: {account, subject}` / `service: {...}` of an import.
pub fn import_source(b: &mut Builder, e: &Entry, src: ImportSource, kind: ExportKind, i: &mut Import) {
    match (src.account, src.subject) {
        (Some(account), Some(subject)) => {
            i.kind = kind;
            i.account = account;
            i.subject = subject;
        }
        _ => b.error("import", e.value.span, "Expect an account name and a subject"),
    }
}

/// An import's rules across its keys: one kind, `prefix` or `to`, and a
/// `to` that can be reversed.
pub fn import_rules(b: &mut Builder, m: &Map, i: &Import) {
    stream_and_service(b, m, |e| match &e.value.kind {
        Kind::Map(src) => match src.find(&["subject"]).map(|s| &s.value.kind) {
            Some(Kind::Str(s)) => s.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    });
    if i.subject.is_empty() {
        return;
    }
    let kind = match i.kind {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    };
    let at = |names: &[&str]| m.find(names).map(|e| e.value.span);
    if i.kind == ExportKind::Stream {
        if let (Some(p), Some(t)) = (m.find(&["prefix"]), m.find(&["to"])) {
            let later = if p.key_span.start > t.key_span.start { p } else { t };
            b.error("conflict", later.key_span, "Stream import can not have a 'prefix' and a 'to' property");
            return;
        }
        if let Some(prefix) = &i.prefix {
            if prefix.split('.').any(|t| t == "*" || t == ">") {
                let msg = format!(
                    "Error adding stream import {}: stream import prefix can not contain wildcard tokens",
                    quote(&i.subject)
                );
                b.error("import", at(&["prefix"]).unwrap_or_default(), msg);
            }
        }
    }
    let Some(to) = i.to.as_deref().filter(|t| !t.is_empty()) else { return };
    // Stream imports map the exported subject onto `to`; service imports
    // map `to` (what this account's clients send to) onto the export.
    let (from, into) = match i.kind {
        ExportKind::Stream => (i.subject.as_str(), to),
        ExportKind::Service if to.contains("{{") || to.contains('$') => (to, i.subject.as_str()),
        ExportKind::Service => return,
    };
    if let Err(err) = Transform::new_strict(&i.subject, to) {
        let msg = format!(
            "Error adding {kind} import {}: failed to create mapping transform for {kind} import subject from {} \
             to {}: {err}",
            quote(&i.subject),
            quote(from),
            quote(into)
        );
        b.error("import", at(&["to"]).unwrap_or_default(), msg);
    }
}
