//! Questions asked of the key table: the key at a path, how a reload treats
//! it, whether rnats implements it, every path (for the README's reload
//! matrix), and which configured features refuse a start.

use super::table::{ACCOUNT, ACCOUNTS_TY, TOP};
use super::{BlockInfo, KeyInfo, Reload, Ty};
use crate::features::{Feature, Support};
use crate::options::Options;

/// The top-level keys.
pub fn top() -> &'static dyn BlockInfo {
    &TOP
}

/// The key at a dotted path: `port`, `authorization.users`,
/// `authorization.users.permissions.publish`, `accounts.*.users` (a `*` or any
/// name stands for a map of named entries such as accounts). Names and aliases
/// match case-insensitively.
pub fn lookup(path: &str) -> Option<KeyInfo> {
    let mut block: &'static dyn BlockInfo = &TOP;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let info = block
            .key_infos()
            .into_iter()
            .find(|k| std::iter::once(k.name).chain(k.aliases.iter().copied()).any(|n| n.eq_ignore_ascii_case(part)))?;
        if parts.peek().is_none() {
            return Some(info);
        }
        block = match info.ty.inner() {
            Some((b, false)) => b,
            Some((b, true)) => {
                parts.next(); // the entry's name (an account's, ...)
                if parts.peek().is_none() {
                    return Some(info);
                }
                b
            }
            None => return None,
        };
    }
    None
}

/// How a change of the key at `path` is applied by a reload (see [`lookup`]
/// for the path syntax). `None` for a path that names no key.
///
/// ```
/// use rnats::conf::keys::{reload_class, Reload};
/// assert_eq!(reload_class("authorization.users"), Some(Reload::Reloadable));
/// assert_eq!(reload_class("port"), Some(Reload::Restart));
/// assert_eq!(reload_class("max_pending"), Some(Reload::ReloadableInRnats));
/// assert_eq!(reload_class("no_such_key"), None);
/// ```
pub fn reload_class(path: &str) -> Option<Reload> {
    lookup(path).map(|k| k.reload)
}

/// Whether rnats implements the key at `path`: a key inside a block rnats
/// does not implement (`gateway.tls`) is as unimplemented as its block.
pub fn support(path: &str) -> Option<Support> {
    lookup(path)?;
    let parts: Vec<&str> = path.split('.').collect();
    (1..=parts.len())
        .filter_map(|n| lookup(&parts[..n].join(".")))
        .map(|k| k.support())
        .find(|s| *s != Support::Implemented)
        .or(Some(Support::Implemented))
}

/// Every key path (canonical names), depth first, with its key.
pub fn all_paths() -> Vec<(String, KeyInfo)> {
    paths(false).into_iter().map(|(p, k, _)| (p, k)).collect()
}

/// Key paths depth first. With `once`, a block met again (`tls` in
/// `cluster`, ...) is not expanded again: its row names the path where it was.
fn paths(once: bool) -> Vec<(String, KeyInfo, Option<String>)> {
    struct Walk {
        once: bool,
        seen: Vec<(usize, String)>,
        out: Vec<(String, KeyInfo, Option<String>)>,
    }
    fn walk(w: &mut Walk, block: &'static dyn BlockInfo, prefix: &str, depth: usize) {
        for k in block.key_infos() {
            let path = if prefix.is_empty() { k.name.to_string() } else { format!("{prefix}.{}", k.name) };
            let child: Option<(&'static dyn BlockInfo, String)> = match k.ty {
                Ty::Block(b) | Ty::Blocks(b) => Some((*b, path.clone())),
                Ty::Custom(c) if std::ptr::eq(*c, &ACCOUNTS_TY) => {
                    Some((&ACCOUNT as &dyn BlockInfo, format!("{path}.*")))
                }
                _ => None,
            };
            let Some((b, child_prefix)) = child else {
                w.out.push((path, k, None));
                continue;
            };
            let id = b as *const dyn BlockInfo as *const () as usize;
            let earlier = w.seen.iter().find(|(i, _)| *i == id).map(|(_, p)| p.clone());
            match earlier {
                Some(first) if w.once => w.out.push((path, k, Some(first))),
                _ => {
                    w.out.push((path, k, None));
                    w.seen.push((id, child_prefix.clone()));
                    // Blocks nest (tls in cluster in ...): deep enough for every real path.
                    if depth < 6 {
                        walk(w, b, &child_prefix, depth + 1);
                    }
                }
            }
        }
    }
    let mut w = Walk { once, seen: Vec::new(), out: Vec::new() };
    walk(&mut w, &TOP, "", 0);
    w.out
}

/// The reload matrix as a Markdown table: one row per key path, with its
/// aliases, whether rnats implements it, and what a reload does. A block met
/// a second time (`cluster.tls`) is one row that points to the first. The
/// README holds this table verbatim (a test compares them).
pub fn reload_matrix_markdown() -> String {
    let mut out = String::from("| key | aliases | in rnats | reload |\n|---|---|---|---|\n");
    for (path, k, same_as) in paths(true) {
        let aliases = k.aliases.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
        let support = match support(&path).unwrap_or(k.support()) {
            Support::Implemented => "yes",
            Support::Ignored(_) => "checked, ignored",
            Support::Refused(_) => "checked, refused",
        };
        let reload = match same_as {
            Some(first) => format!("{} (keys as in `{first}`)", k.reload.describe()),
            None => k.reload.describe(),
        };
        out.push_str(&format!("| `{path}` | {aliases} | {support} | {reload} |\n"));
    }
    out
}

/// Why the server cannot start with these options: one line per configured
/// feature that rnats refuses (see [`Support::Refused`]).
pub fn refusals(opts: &Options) -> Vec<String> {
    let mut found: Vec<(Feature, String)> = Vec::new();
    let mut note = |feature: Feature, key: &str| {
        if let Support::Refused(why) = feature.support() {
            if !found.iter().any(|(f, _)| *f == feature) {
                found.push((feature, format!("`{key}`: {why}")));
            }
        }
    };
    if opts.tls.is_some() {
        note(Feature::Tls, "tls");
    }
    if opts.cluster.is_some() {
        note(Feature::Cluster, "cluster");
    }
    for k in opts.other.keys() {
        if let Some(info) = TOP.find(k) {
            note(info.feature, k);
        }
    }
    found.into_iter().map(|(_, m)| m).collect()
}
