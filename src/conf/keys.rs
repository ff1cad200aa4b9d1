//! The one table of configuration keys.
//!
//! Every key nats-server 2.15 knows, at the top level and in each block, is
//! declared here once: its name and aliases, the type of value it takes, the
//! rnats feature it belongs to (which says whether rnats implements it), how it
//! behaves on a config reload, and how its value lands in [`Options`]. Everything
//! else is derived from this table:
//!
//! - the mapping onto the model (the `build` module walks the tree with it),
//! - unknown keys and their "did you mean" suggestions,
//! - the one "not implemented" policy, shared with the command-line flags
//!   ([`Feature::support`]),
//! - the JSON Schema of config files (the `schema` module),
//! - the reload matrix ([`reload_class`], [`reload_matrix_markdown`]).
//!
//! To mark a feature implemented, change its arm in [`Feature::support`] to
//! [`Support::Implemented`]; every key and flag of that feature follows.

use std::collections::BTreeMap;

use super::context::{Builder, Val};
use super::tree::{Entry, Map, Value};
pub use crate::features::{Feature, Support};
use crate::options::*;

// ------------------------------------------------------------------ reload

/// What happens when a key's value changes in a config reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// Applied at run time, as nats-server 2.15 does.
    Reloadable,
    /// The whole reload is refused: a restart is needed (as nats-server).
    Restart,
    /// Applied at run time by rnats; nats-server refuses the reload.
    ReloadableInRnats,
    /// Some changes apply, others refuse the reload (the note says which).
    Partly(&'static str),
}

impl Reload {
    pub fn describe(self) -> String {
        match self {
            Reload::Reloadable => "yes".into(),
            Reload::Restart => "no (restart)".into(),
            Reload::ReloadableInRnats => "yes (nats-server: no)".into(),
            Reload::Partly(note) => format!("partly: {note}"),
        }
    }
}

// ------------------------------------------------------------------ types

/// The value a key takes. The builder checks it before the key's setter runs
/// and hands over the checked value as a [`Val`].
pub enum Ty {
    /// `true/false`, `yes/no`, `on/off` → [`Val::Bool`].
    Bool,
    /// An integer in a range → [`Val::Int`].
    Int { min: i64, max: i64 },
    /// A non-negative size (suffixes allowed), at most `max` → [`Val::Int`].
    Size { max: i64 },
    /// A string → [`Val::Str`].
    Str,
    /// A string or an array of strings → [`Val::Strs`].
    Strings,
    /// An array of strings (a single string is refused, as in nats-server) → [`Val::Strs`].
    StrArray,
    /// A Go duration string; an integer is taken as seconds with a warning → [`Val::Dur`].
    Duration,
    /// A Go duration string only → [`Val::Dur`].
    DurationStr,
    /// Seconds as a number, or a duration string → [`Val::Dur`].
    Seconds,
    /// A port number, `-1` or `RANDOM` → [`Val::Port`].
    Port,
    /// A port, or `host:port` → [`Val::Listen`].
    Listen,
    /// One of these strings, exactly → [`Val::Str`].
    OneOf(&'static [&'static str]),
    /// An integer, or a string like `10G` (K, M, G, T) → [`Val::Int`].
    StorageSize,
    /// A map checked with a nested block → [`Val::Map`].
    Block(&'static dyn BlockInfo),
    /// An array of maps, each checked with a nested block → [`Val::Items`].
    Blocks(&'static dyn BlockInfo),
    /// A map whose values all have one type → [`Val::Map`].
    MapOf(&'static Ty),
    /// Checked by a function of its own → [`Val::Raw`] (or what it returns).
    Custom(&'static Custom),
}

/// The keys inside a custom value, when it has any.
#[derive(Clone, Copy)]
pub enum Inner {
    None,
    /// A map with these keys (`publish: {allow, deny}`).
    Block(&'static dyn BlockInfo),
    /// A map of names to maps with these keys (`accounts { A { ... } }`).
    Named(&'static dyn BlockInfo),
}

/// A value type with rules of its own (`jetstream: enabled` or a map, ...).
pub struct Custom {
    /// Words for messages and docs ("a boolean, `enabled`/`disabled` or a map").
    pub describe: &'static str,
    /// The keys the value may hold when it is a map, for key paths
    /// (`authorization.users.permissions.publish.allow`).
    pub inner: Inner,
    /// The JSON Schema of the value, as text.
    pub schema: &'static str,
    /// Reports what is wrong (with the key's name and the value's position);
    /// `false` when the value is unusable.
    pub check: fn(&mut Builder, &str, &Value) -> bool,
}

impl Ty {
    /// Words for the type, as used in messages and the README.
    pub fn describe(&self) -> String {
        match self {
            Ty::Bool => "boolean".into(),
            Ty::Int { min, max } => format!("integer {min}..{max}"),
            Ty::Size { .. } => "size".into(),
            Ty::Str => "string".into(),
            Ty::Strings => "string or array of strings".into(),
            Ty::StrArray => "array of strings".into(),
            Ty::Duration => "duration".into(),
            Ty::DurationStr => "duration string".into(),
            Ty::Seconds => "seconds or duration".into(),
            Ty::Port => "port".into(),
            Ty::Listen => "port or host:port".into(),
            Ty::OneOf(v) => v.join(" | "),
            Ty::StorageSize => "size or size string".into(),
            Ty::Block(_) => "map".into(),
            Ty::Blocks(_) => "array of maps".into(),
            Ty::MapOf(t) => format!("map of {}", t.describe()),
            Ty::Custom(c) => c.describe.into(),
        }
    }

    /// The keys nested in this value, and whether a name comes before them
    /// in a key path (`accounts.A.users`).
    pub fn inner(&self) -> Option<(&'static dyn BlockInfo, bool)> {
        match self {
            Ty::Block(b) | Ty::Blocks(b) => Some((*b, false)),
            Ty::Custom(Custom { inner: Inner::Block(b), .. }) => Some((*b, false)),
            Ty::Custom(Custom { inner: Inner::Named(b), .. }) => Some((*b, true)),
            _ => None,
        }
    }
}

// ------------------------------------------------------------------ keys and blocks

/// How a checked value lands in the model `T` of its block.
pub type Setter<T> = for<'a> fn(&mut Builder, &'a Entry, Val<'a>, &mut T);

pub struct Key<T: 'static> {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub ty: Ty,
    pub feature: Feature,
    pub reload: Reload,
    pub doc: &'static str,
    /// Without a setter, a checked value is kept in the block's `other` map
    /// (when it has one) so the dump shows it.
    pub set: Option<Setter<T>>,
}

const fn key<T>(name: &'static str, ty: Ty, reload: Reload) -> Key<T> {
    Key { name, aliases: &[], ty, feature: Feature::Core, reload, doc: "", set: None }
}

impl<T> Key<T> {
    const fn alias(self, aliases: &'static [&'static str]) -> Self {
        Key { aliases, ..self }
    }
    const fn feature(self, feature: Feature) -> Self {
        Key { feature, ..self }
    }
    const fn doc(self, doc: &'static str) -> Self {
        Key { doc, ..self }
    }
    const fn set(self, set: Setter<T>) -> Self {
        Key { set: Some(set), ..self }
    }
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
    pub fn matches(&self, key: &str, case_sensitive: bool) -> bool {
        self.names().any(|n| if case_sensitive { n == key } else { n.eq_ignore_ascii_case(key) })
    }
}

/// What a block does with a key it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// A warning (an error under `-t` and `check --strict`), as most blocks.
    Warn,
    /// An error (the reference refuses with a block-specific message).
    Error,
    /// The reference ignores unknown keys here; rnats notes them.
    Note,
}

pub struct Block<T: 'static> {
    /// The block's name in messages and in key paths.
    pub name: &'static str,
    pub keys: &'static [Key<T>],
    pub unknown: Unknown,
    /// nats-server matches these keys case-sensitively (`ocsp`, `resolver`).
    pub case_sensitive: bool,
    /// Where keys without a setter are kept (as written) for the dump.
    pub other: Option<OtherOf<T>>,
    /// Cross-field rules, run once the block is built (the `validate` module).
    pub rules: Option<Rules<T>>,
}

/// The map of a model type where keys it does not model are kept as written.
pub type OtherOf<T> = fn(&mut T) -> &mut BTreeMap<String, serde_json::Value>;

/// Rules across the keys of one block: the block as written and as built.
pub type Rules<T> = fn(&mut Builder, &Map, &T);

const fn block<T>(name: &'static str, keys: &'static [Key<T>]) -> Block<T> {
    Block { name, keys, unknown: Unknown::Warn, case_sensitive: false, other: None, rules: None }
}

impl<T> Block<T> {
    pub fn find(&self, key: &str) -> Option<&Key<T>> {
        self.keys.iter().find(|k| k.matches(key, self.case_sensitive))
    }
}

/// A key as seen without its block's model type: for lookups, the schema,
/// the reload matrix and the command-line flags.
#[derive(Clone, Copy)]
pub struct KeyInfo {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub ty: &'static Ty,
    pub feature: Feature,
    pub reload: Reload,
    pub doc: &'static str,
    /// The key has a setter: its value lands in the typed options (without
    /// one it is checked and kept as written for the dump only).
    pub applied: bool,
}

impl KeyInfo {
    pub fn support(&self) -> Support {
        self.feature.support()
    }
}

/// A block of keys, whatever its model type.
pub trait BlockInfo: Sync {
    fn name(&self) -> &'static str;
    fn key_infos(&'static self) -> Vec<KeyInfo>;
    fn unknown(&self) -> Unknown;
    fn case_sensitive(&self) -> bool;
    /// Checks a map with this block's keys, building nothing.
    fn check(&'static self, b: &mut Builder, map: &Map);
}

impl<T> Block<T> {
    /// The block's keys as seen without its model type.
    pub fn infos(&'static self) -> Vec<KeyInfo> {
        self.keys
            .iter()
            .map(|k| KeyInfo {
                name: k.name,
                aliases: k.aliases,
                ty: &k.ty,
                feature: k.feature,
                reload: k.reload,
                doc: k.doc,
                applied: k.set.is_some(),
            })
            .collect()
    }
}

mod lookup;
mod table;
pub use lookup::*;
pub use table::*;

#[cfg(test)]
mod tests {
    use super::Reload::{Reloadable as Yes, ReloadableInRnats as RnatsOnly, Restart};
    use super::*;

    #[test]
    fn lookups_by_path() {
        assert_eq!(reload_class("port"), Some(Restart));
        assert_eq!(reload_class("PORT"), Some(Restart), "case-insensitive");
        assert_eq!(reload_class("net"), Some(Restart), "aliases");
        assert_eq!(reload_class("debug"), Some(Yes));
        assert_eq!(reload_class("max_subs"), Some(RnatsOnly));
        assert_eq!(reload_class("authorization.users"), Some(Yes));
        assert_eq!(reload_class("authorization.users.permissions.publish"), Some(Yes));
        assert_eq!(reload_class("cluster.port"), Some(Restart));
        assert_eq!(reload_class("cluster.routes"), Some(Yes));
        assert_eq!(reload_class("accounts.A.users"), Some(Yes));
        assert_eq!(reload_class("accounts.*.imports"), Some(Yes));
        assert_eq!(reload_class("gateway.tls.cert_file"), Some(Yes));
        assert_eq!(reload_class("port.x"), None);
        assert_eq!(reload_class(""), None);
    }

    /// Every path of the resolved config (`check --dump`, the serialised
    /// `Options`) names a key of the table, so a reload can diff two dumps
    /// and ask `reload_class` about each difference.
    #[test]
    fn every_dumped_option_has_a_reload_class() {
        let loaded = crate::conf::load_str(
            "all.conf",
            "server_name: a\nclient_advertise: x\nhttp_port: 1\nhttps_port: 2\nhttp_base_path: /m\npid_file: p\n\
             ports_file_dir: d\nno_header_support: true\nno_fast_producer_stall: true\nlog_file: l\nlog_size_limit: 5\nsyslog: true\n\
             remote_syslog: udp://h:1\nmax_traced_msg_len: 3\nno_auth_user: u\ntrace_verbose: true\n\
             authorization { default_permissions { publish: a }\n users: [ {user: u, password: p, \
             permissions: {publish: {allow: a, deny: b}, subscribe: c, allow_responses: true}, \
             allowed_connection_types: [STANDARD]} ] }\n\
             cluster { name: c, advertise: a, no_advertise: true, routes: [r], pool_size: 3, \
             authorization { user: a, password: b }, tls { insecure: true, handshake_first: auto, \
             cert_file: examples-conf/certs/server-cert.pem, key_file: examples-conf/certs/server-key.pem } }\n\
             tls { verify: true, cipher_suites: [TLS_AES_128_GCM_SHA256], curve_preferences: [X25519], \
             pinned_certs: [\"4a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b\"], \
             min_version: \"1.3\", allow_insecure_cipher_suites: true, verify_and_map: true, \
             cert_file: examples-conf/certs/server-cert.pem, key_file: examples-conf/certs/server-key.pem, \
             ca_file: examples-conf/certs/ca.pem }\n\
             jetstream: enabled\n",
        );
        assert!(loaded.diags.iter().all(|d| d.severity != crate::conf::diag::Severity::Error), "{}", loaded.render());
        let dump = serde_json::to_value(&loaded.options).unwrap();
        fn walk(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, child) in m {
                        let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                        out.push(p.clone());
                        // Maps of free names (`server_metadata`) end the path.
                        if lookup(&p).is_some_and(|i| i.ty.inner().is_some()) {
                            walk(child, &p, out);
                        }
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, path, out)),
                _ => {}
            }
        }
        let mut paths = Vec::new();
        walk(&dump, "", &mut paths);
        let missing: Vec<&String> = paths.iter().filter(|p| reload_class(p).is_none()).collect();
        assert!(missing.is_empty(), "dump paths with no key in the table: {missing:?}");
        assert!(paths.len() > 60, "{paths:?}");
    }

    #[test]
    fn no_duplicate_names_in_a_block() {
        let mut seen = std::collections::HashSet::new();
        for (path, k) in all_paths() {
            let parent = path.rsplit_once('.').map_or("", |(p, _)| p).to_string();
            for n in std::iter::once(k.name).chain(k.aliases.iter().copied()) {
                assert!(seen.insert((parent.clone(), n.to_ascii_lowercase())), "`{n}` twice in `{parent}`");
            }
        }
    }

    #[test]
    fn flipping_a_feature_is_one_arm() {
        // Every key of a feature shares its support: the table has no second opinion.
        for (path, k) in all_paths() {
            assert_eq!(k.support(), k.feature.support(), "{path}");
            if !path.contains('.') {
                assert_eq!(support(&path), Some(k.feature.support()), "{path}");
            }
        }
        assert_eq!(support("tls.cert_file"), support("tls"), "inner keys follow their block");
        assert_eq!(support("gateway.tls.cert_file"), support("gateway"));
        assert_eq!(support("debug"), Some(Support::Implemented));
        assert_eq!(support("nope"), None);
    }
}
