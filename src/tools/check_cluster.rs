//! `rnats check a.conf b.conf ...`: servers of one cluster (same cluster
//! name) must agree on accounts, exports and imports. A peer that lacks an
//! account drops the interest routed in it (nats-server logs `Unknown
//! account`), so messages stop crossing at run time with nothing said at
//! start. This compares the files and says what differs.

use std::collections::BTreeSet;

use crate::options::{ExportKind, Options};

/// Warnings, one per difference, for files loaded from `files`.
pub fn differences(files: &[(&str, &Options)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut clusters: Vec<&str> = files.iter().filter_map(|(_, o)| cluster_name(o)).collect();
    clusters.sort_unstable();
    clusters.dedup();
    for cluster in clusters {
        let members: Vec<&(&str, &Options)> = files.iter().filter(|(_, o)| cluster_name(o) == Some(cluster)).collect();
        let Some((first_file, first)) = members.first() else { continue };
        let base = shape(first);
        for (file, o) in &members[1..] {
            let other = shape(o);
            for (what, only_a, only_b) in [
                ("accounts", diff(&base.0, &other.0), diff(&other.0, &base.0)),
                ("exports", diff(&base.1, &other.1), diff(&other.1, &base.1)),
                ("imports", diff(&base.2, &other.2), diff(&other.2, &base.2)),
            ] {
                if only_a.is_empty() && only_b.is_empty() {
                    continue;
                }
                let mut msg = format!("cluster `{cluster}`: {first_file} and {file} differ in {what}");
                if !only_a.is_empty() {
                    msg.push_str(&format!("; only in {first_file}: {}", only_a.join(", ")));
                }
                if !only_b.is_empty() {
                    msg.push_str(&format!("; only in {file}: {}", only_b.join(", ")));
                }
                msg.push_str(" (interest in what one server lacks is dropped by its peers)");
                out.push(msg);
            }
        }
    }
    out
}

fn cluster_name(o: &Options) -> Option<&str> {
    o.cluster.as_ref()?.name.as_deref()
}

type Shape = (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>);

/// Account names, exports and imports, each as one comparable line.
fn shape(o: &Options) -> Shape {
    let kind = |k: ExportKind| if k == ExportKind::Stream { "stream" } else { "service" };
    let names = o.accounts.iter().map(|a| a.name.clone()).collect();
    let exports = o
        .accounts
        .iter()
        .flat_map(|a| {
            a.exports.iter().map(move |x| {
                let to = x.accounts.as_ref().map_or(String::new(), |l| format!(" to [{}]", l.join(", ")));
                format!("{} {} `{}`{to}", a.name, kind(x.kind), x.subject)
            })
        })
        .collect();
    let imports = o
        .accounts
        .iter()
        .flat_map(|a| {
            a.imports.iter().map(move |i| {
                let local = i.to.as_ref().or(i.prefix.as_ref()).map_or(String::new(), |t| format!(" as `{t}`"));
                format!("{} {} `{}` from {}{local}", a.name, kind(i.kind), i.subject, i.account)
            })
        })
        .collect();
    (names, exports, imports)
}

fn diff(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
    a.difference(b).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{AccountOptions, Cluster, Export};

    fn server(accounts: &[&str], export: Option<&str>) -> Options {
        let mut o =
            Options { cluster: Some(Cluster { name: Some("c1".into()), ..Cluster::default() }), ..Options::default() };
        for name in accounts {
            o.accounts.push(AccountOptions { name: name.to_string(), ..AccountOptions::default() });
        }
        if let Some(s) = export {
            o.accounts[0].exports.push(Export::new(ExportKind::Stream, s));
        }
        o
    }

    #[test]
    fn names_what_differs() {
        let (a, b) = (server(&["A", "B"], Some("ev.>")), server(&["A"], None));
        let found = differences(&[("a.conf", &a), ("b.conf", &b)]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("differ in accounts; only in a.conf: B"), "{found:?}");
        assert!(found[1].contains("A stream `ev.>`"), "{found:?}");
        assert!(differences(&[("a.conf", &a), ("c.conf", &a.clone())]).is_empty());
    }
}
