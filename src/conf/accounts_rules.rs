//! Rules across accounts, checked once every account is built: exports and
//! imports name accounts that exist, every import matches an export that
//! lets the importer in, the system account exists. nats-server's words;
//! positions where it has none (it points at the `accounts` key, or at the
//! top of the file, for an import it refuses): rnats points at the import,
//! and says which export comes closest.

use super::context::Builder;
use super::diag::{suggest, Diagnostic};
use super::tree::{Entry, Kind, Map, Value};
use crate::gotext::go_quote;
use crate::options::*;

fn quote(s: &str) -> String {
    go_quote(s.as_bytes())
}

fn kind_word(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    }
}

fn items<'a>(m: &'a Map, names: &[&str]) -> &'a [Value] {
    match m.find(names).map(|e| &e.value.kind) {
        Some(Kind::Array(items)) => items,
        _ => &[],
    }
}

fn text(m: &Map, names: &[&str]) -> Option<(String, Value)> {
    let e = m.find(names)?;
    match &e.value.kind {
        Kind::Str(s) => Some((s.clone(), e.value.clone())),
        _ => None,
    }
}

/// The accounts as written (name, block), without `$G` and variables.
fn written(accounts: &Map) -> Vec<(&Entry, &Map)> {
    accounts
        .effective()
        .into_iter()
        .filter(|e| !e.used && e.key != GLOBAL_ACCOUNT)
        .filter_map(|e| match &e.value.kind {
            Kind::Map(m) => Some((e, m)),
            _ => None,
        })
        .collect()
}

/// Every rule across the accounts of `accounts { ... }`.
pub fn across(b: &mut Builder, accounts: &Map, built: &[AccountOptions]) {
    let defined = |name: &str| built.iter().find(|a| a.name == name);
    for (acc, am) in written(accounts) {
        for x in items(am, &["exports"]) {
            let Kind::Map(xm) = &x.kind else { continue };
            let kind = if xm.find(&["service"]).is_some() { ExportKind::Service } else { ExportKind::Stream };
            for name in items(xm, &["accounts"]) {
                if let Kind::Str(n) = &name.kind {
                    if defined(n).is_none() {
                        let msg = format!("{} account not defined for {} export", quote(n), kind_word(kind));
                        b.error("account", name.span, msg);
                    }
                }
            }
        }
        for im in items(am, &["imports"]) {
            let Kind::Map(im) = &im.kind else { continue };
            for kind in [ExportKind::Stream, ExportKind::Service] {
                let Some(Kind::Map(src)) = im.find(&[kind_word(kind)]).map(|e| &e.value.kind) else { continue };
                let (Some((exporter, exporter_at)), Some((subject, subject_at))) =
                    (text(src, &["account"]), text(src, &["subject"]))
                else {
                    continue;
                };
                match defined(&exporter) {
                    None => {
                        let msg = format!("{} account not defined for {} import", quote(&exporter), kind_word(kind));
                        let mut d = Diagnostic::error("account", Some(exporter_at.span), msg);
                        if let Some(s) = suggest(&exporter, built.iter().map(|a| a.name.as_str())) {
                            d = d.with_help(format!("did you mean `{s}`?"));
                        }
                        b.diags.push(d);
                    }
                    Some(from) => {
                        if let Err(help) = authorized(from, kind, &subject, &acc.key) {
                            let msg = format!(
                                "Error adding {k} import {}: {k} import not authorized",
                                quote(&subject),
                                k = kind_word(kind)
                            );
                            b.diags.push(Diagnostic::error("import", Some(subject_at.span), msg).with_help(help));
                        }
                    }
                }
            }
        }
    }
}

/// Whether `importer` may import `subject` of `kind` from `from` (nats-server's
/// `checkStreamExportApproved` / `checkServiceExportApproved`); when not, what
/// comes closest, for the help line.
fn authorized(from: &AccountOptions, kind: ExportKind, subject: &str, importer: &str) -> Result<(), String> {
    let exports: Vec<&Export> = from.exports.iter().filter(|x| x.kind == kind).collect();
    let valid = crate::subject::is_valid_subject(subject.as_bytes());
    let covering: Vec<&&Export> = exports.iter().filter(|x| valid && is_subset_match(subject, &x.subject)).collect();
    if covering.iter().any(|x| approves(x, subject, importer)) {
        return Ok(());
    }
    let (word, name) = (kind_word(kind), &from.name);
    if let Some(x) = covering.first() {
        return Err(match (&x.accounts, x.account_token_position) {
            (Some(list), _) if !list.iter().any(|a| a == importer) => {
                format!("`{name}` exports `{}` only to {}", x.subject, list.join(", "))
            }
            (_, Some(p)) => format!("token {p} of the imported subject must be this account's name, `{importer}`"),
            _ => format!("`{name}` exports `{}`", x.subject),
        });
    }
    if exports.is_empty() {
        let other = from.exports.iter().find(|x| is_subset_match(subject, &x.subject));
        return Err(match other {
            Some(x) => format!("`{name}` exports `{}` as a {}, not a {word}", x.subject, kind_word(x.kind)),
            None => format!("account `{name}` has no {word} exports"),
        });
    }
    let subjects: Vec<&str> = exports.iter().map(|x| x.subject.as_str()).collect();
    Err(match closest(subject, &subjects) {
        Some(s) => format!("no {word} export of `{name}` covers `{subject}`; did you mean `{s}`?"),
        None => format!("no {word} export of `{name}` covers `{subject}`; it exports {}", subjects.join(", ")),
    })
}

/// The export subject nearest to `subject`, by edit distance (wildcards
/// count as the tokens they stand for would not).
fn closest<'a>(subject: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(subject, c), *c))
        .filter(|(d, c)| *d <= subject.len().max(c.len()) / 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The export lets `importer` in: public or listing it, and with an account
/// token position, the importer's name at that token.
fn approves(x: &Export, subject: &str, importer: &str) -> bool {
    if x.accounts.as_ref().is_some_and(|list| !list.iter().any(|a| a == importer)) {
        return false;
    }
    match x.account_token_position.filter(|p| *p > 0) {
        Some(p) => subject.split('.').nth(p as usize - 1) == Some(importer),
        None => true,
    }
}

/// nats-server's `isSubsetMatch`: every subject `subject` matches, `test` matches.
fn is_subset_match(subject: &str, test: &str) -> bool {
    crate::subject::is_subset_match(subject.as_bytes(), test.as_bytes())
}

/// Rules between `accounts` and the other top-level keys: the system
/// account exists, latency tracking has a system account to report to.
pub fn top(b: &mut Builder, root: &Map, opts: &Options) {
    // In operator mode the system account is a public key the resolver knows.
    let operator_mode = root.find(&["operator", "operators", "root", "roots", "trusted", "trusted_keys"]).is_some();
    if let Some(name) = opts.system_account.as_ref().filter(|_| !operator_mode) {
        let known =
            name == DEFAULT_SYSTEM_ACCOUNT || name == GLOBAL_ACCOUNT || opts.accounts.iter().any(|a| &a.name == name);
        if !known {
            let span = root.find(&["system_account", "system"]).map(|e| e.value.span);
            let help = match suggest(name, opts.accounts.iter().map(|a| a.name.as_str())) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("`{name}` is not one of the accounts (nats-server's -t misses this; its start fails)"),
            };
            b.diags.push(
                Diagnostic::error("account", span, "error resolving system account: account missing").with_help(help),
            );
        }
    }
    if opts.no_system_account {
        for a in &opts.accounts {
            for x in a.exports.iter().filter(|x| x.latency.is_some()) {
                let span = latency_span(root, &a.name, &x.subject);
                let msg = format!(
                    "Error adding service latency sampling for {}: system account not setup",
                    quote(&x.subject)
                );
                b.diags.push(
                    Diagnostic::error("account", span, msg)
                        .with_help("latency samples go through the system account: remove `no_sys_acc`, or `latency`"),
                );
            }
        }
    }
}

/// Where the `latency` of account `account`'s export of `subject` is written.
fn latency_span(root: &Map, account: &str, subject: &str) -> Option<super::source::Span> {
    let Some(Kind::Map(accounts)) = root.find(&["accounts"]).map(|e| &e.value.kind) else { return None };
    let (_, am) = written(accounts).into_iter().find(|(e, _)| e.key == account)?;
    items(am, &["exports"]).iter().find_map(|x| match &x.kind {
        Kind::Map(xm) if text(xm, &["service"]).is_some_and(|(s, _)| s == subject) => {
            xm.find(&["latency"]).map(|e| e.key_span)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_export() {
        assert_eq!(closest("ev.x", &["ev.>", "zzz.yyy.www"]), Some("ev.>"));
        assert_eq!(closest("a", &["completely.different"]), None);
    }
}
