//! What a reload changes in `accounts` and the top-level `mappings`: one
//! change per account that was added, removed or changed, naming what
//! changed in it, so the log (and `rnats check --diff`) says more than
//! nats-server's single `Reloaded: accounts`.

use super::{class_of, Change, Collector};
use crate::options::{AccountOptions, MappingOptions};

pub(super) fn account_changes(c: &mut Collector, old: &[AccountOptions], new: &[AccountOptions]) {
    let class = class_of("accounts");
    let mut push = |name: &str, what: String| {
        c.changes.push(Change {
            key: "accounts".into(),
            old: String::new(),
            new: String::new(),
            class,
            detail: Some(format!("account {name:?} {what}")),
        });
    };
    for a in new {
        let Some(before) = old.iter().find(|o| o.name == a.name) else {
            push(&a.name, "added".into());
            continue;
        };
        let mut what = Vec::new();
        if before.users != a.users {
            what.push(list_change("users", before.users.iter().map(user_name), a.users.iter().map(user_name)));
        }
        if before.default_permissions != a.default_permissions {
            what.push("default permissions changed".into());
        }
        if before.limits != a.limits {
            what.push("limits changed".into());
        }
        if before.exports != a.exports {
            what.push(list_change(
                "exports",
                before.exports.iter().map(|e| e.subject.clone()),
                a.exports.iter().map(|e| e.subject.clone()),
            ));
        }
        if before.imports != a.imports {
            let show = |i: &crate::options::Import| format!("{} {}", i.account, i.subject);
            what.push(list_change("imports", before.imports.iter().map(show), a.imports.iter().map(show)));
        }
        if before.mappings != a.mappings {
            what.push(mappings_change(&before.mappings, &a.mappings));
        }
        if before.nkey != a.nkey || before.jetstream != a.jetstream {
            what.push("settings changed".into());
        }
        if !what.is_empty() {
            push(&a.name, what.join("; "));
        }
    }
    for a in old.iter().filter(|o| !new.iter().any(|n| n.name == o.name)) {
        push(&a.name, "removed (its clients are disconnected)".into());
    }
}

fn user_name(u: &crate::options::User) -> String {
    u.user.clone().or_else(|| u.nkey.clone()).unwrap_or_default()
}

/// `imports: +A x.>, -A ev.>` (entries that changed in place show as both).
fn list_change(what: &str, old: impl Iterator<Item = String>, new: impl Iterator<Item = String>) -> String {
    let (old, new): (Vec<String>, Vec<String>) = (old.collect(), new.collect());
    let added = new.iter().filter(|n| !old.contains(n)).map(|n| format!("+{n}"));
    let removed = old.iter().filter(|o| !new.contains(o)).map(|o| format!("-{o}"));
    let list: Vec<String> = added.chain(removed).collect();
    if list.is_empty() {
        format!("{what} changed")
    } else {
        format!("{what}: {}", list.join(", "))
    }
}

pub(super) fn mappings_change(old: &[MappingOptions], new: &[MappingOptions]) -> String {
    let show = |m: &MappingOptions| m.source.clone();
    let changed =
        new.iter().filter(|m| old.iter().any(|o| o.source == m.source && o != *m)).map(|m| format!("~{}", m.source));
    let base = list_change("mappings", old.iter().map(show), new.iter().map(show));
    let changed: Vec<String> = changed.collect();
    match (changed.is_empty(), base.ends_with(" changed")) {
        (true, _) => base,
        (false, true) => format!("mappings: {}", changed.join(", ")),
        (false, false) => format!("{base}, {}", changed.join(", ")),
    }
}

impl Change {
    /// The account a change of `accounts` is about.
    pub fn account(&self) -> Option<&str> {
        let rest = self.detail.as_deref()?.strip_prefix("account \"")?;
        (self.key == "accounts").then(|| rest.split('"').next()).flatten()
    }
}
