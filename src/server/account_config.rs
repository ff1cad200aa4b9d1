//! What the config says about one account, compiled for the message path:
//! its limits, its subject mappings and its stream imports.
//!
//! One immutable value per account and configuration. The runtime account
//! (the `Account` of `account.rs`) keeps the current one in an `ArcSwap`; a
//! session loads it when it is admitted and when it adopts a new snapshot,
//! never per message.

use std::sync::Arc;

use crate::mapping::{Mapping, Mappings, Transform};
use crate::options::{AccountLimits, AccountOptions, ExportKind, MappingOptions, Options};
use crate::server::service::response_table::ResponsePolicy;
use crate::subject::{is_subset_match, subjects_collide};

/// One account's compiled rules.
#[derive(Debug, Default)]
pub struct AccountConfig {
    pub limits: AccountLimits,
    /// `None` when the account maps nothing: one branch per publish.
    pub mappings: Option<Arc<Mappings>>,
    pub stream_imports: Vec<Arc<StreamImport>>,
    pub service_imports: Vec<Arc<ServiceImport>>,
    /// The account is gone from the config: no new logins (its object stays
    /// while connections and routes still use it).
    pub removed: bool,
}

impl AccountConfig {
    /// Compiles an account block. Mappings and imports the config layer
    /// refused never get here; one that fails anyway is left out.
    pub fn compile(opts: &AccountOptions, all: &Options) -> AccountConfig {
        AccountConfig {
            service_imports: opts
                .imports
                .iter()
                .filter(|i| i.kind == ExportKind::Service)
                .filter_map(|i| ServiceImport::new(i, all))
                .map(Arc::new)
                .collect(),
            limits: opts.limits,
            mappings: compile_mappings(&opts.mappings),
            stream_imports: opts
                .imports
                .iter()
                .filter(|i| i.kind == ExportKind::Stream)
                .filter_map(|i| StreamImport::new(&i.account, &i.subject, i.prefix.as_deref(), i.to.as_deref()))
                .map(Arc::new)
                .collect(),
            removed: false,
        }
    }

    /// The config with `imports` added (the system account's).
    pub fn with_imports(mut self, imports: Vec<Arc<ServiceImport>>) -> AccountConfig {
        self.service_imports.extend(imports);
        self
    }

    /// The global account `$G`: the top-level mappings, no limits.
    pub fn global(mappings: &[MappingOptions]) -> AccountConfig {
        AccountConfig { mappings: compile_mappings(mappings), ..AccountConfig::default() }
    }

    /// `limit` of the server, lowered by the account's own where it has one
    /// (0 in both means none).
    pub fn effective(server: usize, account: Option<u64>) -> usize {
        match (server, account.map(|a| usize::try_from(a).unwrap_or(usize::MAX))) {
            (s, None) => s,
            (0, Some(a)) => a,
            (s, Some(a)) => s.min(a),
        }
    }
}

fn compile_mappings(list: &[MappingOptions]) -> Option<Arc<Mappings>> {
    let compiled: Vec<Mapping> = list.iter().filter_map(|m| Mapping::new(&m.source, &m.map_dests()).ok()).collect();
    (!compiled.is_empty()).then(|| Arc::new(Mappings::new(compiled)))
}

/// How an imported stream's subjects arrive in the importing account.
#[derive(Debug, PartialEq)]
pub enum ImportMap {
    /// As published in the exporter.
    Same,
    /// `prefix`, with its trailing `.`.
    Prefix(Box<[u8]>),
    /// `to`: a wildcard-only transform of the exported subject.
    To(Transform),
}

/// One `stream` import of an account.
#[derive(Debug, PartialEq)]
pub struct StreamImport {
    /// The exporting account's name.
    pub exporter: Box<str>,
    /// The subject in the exporter's account.
    pub remote: Box<[u8]>,
    /// Where its messages arrive in the importer's account.
    pub local: Box<[u8]>,
    pub map: ImportMap,
}

/// Where a subscription of the importer listens in the exporter's account.
#[derive(Debug, PartialEq, Eq)]
pub struct Shadow {
    pub subject: Vec<u8>,
    /// The shadow listens wider than the subscription: each delivery's
    /// mapped subject is matched against the subscription's own subject.
    pub filtered: bool,
}

impl StreamImport {
    pub fn new(exporter: &str, subject: &str, prefix: Option<&str>, to: Option<&str>) -> Option<StreamImport> {
        let (local, map) = match (prefix.filter(|p| !p.is_empty()), to.filter(|t| !t.is_empty())) {
            (Some(p), _) => {
                let p = if p.ends_with('.') { p.to_string() } else { format!("{p}.") };
                (format!("{p}{subject}"), ImportMap::Prefix(p.into_bytes().into()))
            }
            (None, Some(to)) if to != subject => match Transform::new_strict(subject, to).ok()? {
                Some(t) => (wildcard_form(to), ImportMap::To(t)),
                None => (subject.to_string(), ImportMap::Same),
            },
            _ => (subject.to_string(), ImportMap::Same),
        };
        Some(StreamImport {
            exporter: exporter.into(),
            remote: subject.as_bytes().into(),
            local: local.into_bytes().into(),
            map,
        })
    }

    /// The shadow subscription in the exporter for an importer's
    /// subscription on `filter`; `None` when the two never meet.
    pub fn shadow_for(&self, filter: &[u8]) -> Option<Shadow> {
        if !subjects_collide(filter, &self.local) {
            return None;
        }
        let whole = Shadow { subject: self.remote.to_vec(), filtered: false };
        if !is_subset_match(filter, &self.local) {
            // Wider than the import, or overlapping it: listen to all of it.
            return Some(Shadow { filtered: !is_subset_match(&self.local, filter), ..whole });
        }
        Some(match &self.map {
            ImportMap::Same => Shadow { subject: filter.to_vec(), filtered: false },
            ImportMap::Prefix(p) => Shadow { subject: filter[p.len()..].to_vec(), filtered: false },
            ImportMap::To(_) => Shadow { filtered: true, ..whole },
        })
    }

    /// Writes the subject a message published on `subject` in the exporter
    /// arrives on in the importer; false when it arrives unchanged.
    pub fn map_into(&self, subject: &[u8], out: &mut Vec<u8>) -> bool {
        match &self.map {
            ImportMap::Same => false,
            ImportMap::Prefix(p) => {
                out.clear();
                out.extend_from_slice(p);
                out.extend_from_slice(subject);
                true
            }
            ImportMap::To(t) => {
                let tokens = crate::mapping::Tokens::of(subject);
                t.apply(tokens.as_slice(), out, &mut || 0);
                true
            }
        }
    }
}

/// An export's `latency`: where samples go, and how many requests are
/// sampled (1 to 100 percent; 0: only requests whose tracing header asks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyConfig {
    pub subject: Arc<str>,
    pub sampling: u8,
}

/// One `service` import of an account: requests its clients send to
/// `local` go to `remote` in the exporter's account.
#[derive(Debug, PartialEq)]
pub struct ServiceImport {
    pub exporter: Box<str>,
    /// The subject in the exporter's account (the import's `subject`).
    pub remote: Box<[u8]>,
    /// Where the importer's clients send requests (`to`, else `subject`).
    pub local: Box<[u8]>,
    /// `local` with wildcards mapped onto `remote`'s.
    transform: Option<Transform>,
    /// `local` equals `remote` and has wildcards: the request keeps the
    /// subject it was published on.
    use_pub: bool,
    pub share: bool,
    /// The matching export's response type and threshold.
    pub policy: ResponsePolicy,
    /// The matching export's latency sampling, if it has one.
    pub latency: Option<LatencyConfig>,
}

impl ServiceImport {
    fn new(import: &crate::options::Import, all: &Options) -> Option<ServiceImport> {
        let remote = import.subject.as_str();
        let local = import.to.as_deref().filter(|t| !t.is_empty()).unwrap_or(remote);
        let wild = crate::subject::has_wildcard(local.as_bytes());
        let use_pub = wild && local == remote;
        let transform = match (wild, use_pub) {
            (true, false) => Transform::new_strict(local, &positional(remote)).ok().flatten(),
            _ => None,
        };
        let export = all
            .accounts
            .iter()
            .find(|a| a.name == import.account)?
            .exports
            .iter()
            .find(|e| e.kind == ExportKind::Service && is_subset_match(remote.as_bytes(), e.subject.as_bytes()))?;
        Some(ServiceImport {
            exporter: import.account.as_str().into(),
            remote: remote.as_bytes().into(),
            local: local.as_bytes().into(),
            transform,
            use_pub,
            share: import.share,
            policy: ResponsePolicy { response_type: export.response_type, threshold: export.response_threshold },
            latency: export
                .latency
                .as_ref()
                .map(|l| LatencyConfig { subject: l.subject.as_str().into(), sampling: l.sampling }),
        })
    }

    /// An import the server makes itself (the system account's): plain
    /// subjects, no wildcards.
    pub fn fixed(exporter: &str, local: &str, remote: &str, share: bool, policy: ResponsePolicy) -> ServiceImport {
        ServiceImport {
            exporter: exporter.into(),
            remote: remote.as_bytes().into(),
            local: local.as_bytes().into(),
            transform: None,
            use_pub: false,
            share,
            policy,
            latency: None,
        }
    }

    /// The subject a request published on `subject` goes to in the
    /// exporter's account (written into `out` when it is not `remote` or
    /// `subject` as is).
    pub fn destination<'a>(&'a self, subject: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
        if self.use_pub {
            return subject;
        }
        match &self.transform {
            Some(t) => {
                let tokens = crate::mapping::Tokens::of(subject);
                t.apply(tokens.as_slice(), out, &mut || 0);
                out
            }
            None => &self.remote,
        }
    }
}

/// `a.*.b.*` as `a.$1.b.$2`: plain wildcards as positional references.
fn positional(subject: &str) -> String {
    let mut n = 0;
    subject
        .split('.')
        .map(|t| match t {
            "*" => {
                n += 1;
                format!("${n}")
            }
            t => t.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A `to` destination as a subscription filter: each `{{wildcard(n)}}` or
/// `$n` token becomes `*` (where the import's messages can arrive).
fn wildcard_form(to: &str) -> String {
    to.split('.')
        .map(|t| {
            let placeholder = t.starts_with("{{")
                || (t.len() > 1 && t.starts_with('$') && t[1..].bytes().all(|b| b.is_ascii_digit()));
            if placeholder {
                "*"
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shadow(i: &StreamImport, filter: &str) -> Option<(String, bool)> {
        i.shadow_for(filter.as_bytes()).map(|s| (String::from_utf8(s.subject).unwrap(), s.filtered))
    }

    #[test]
    fn prefix_imports_listen_where_the_exporter_publishes() {
        let i = StreamImport::new("A", "a.>", Some("from_a"), None).unwrap();
        assert_eq!(&*i.local, b"from_a.a.>");
        assert_eq!(shadow(&i, "from_a.a.b"), Some(("a.b".into(), false)));
        assert_eq!(shadow(&i, ">"), Some(("a.>".into(), false)));
        assert_eq!(shadow(&i, "from_a.*.b"), Some(("a.>".into(), true)));
        assert_eq!(shadow(&i, "other.>"), None);
        let mut out = Vec::new();
        assert!(i.map_into(b"a.b.c", &mut out));
        assert_eq!(out, b"from_a.a.b.c");
    }

    #[test]
    fn to_imports_reorder_wildcards() {
        let i = StreamImport::new("A", "w.*.*", None, Some("wmapped.{{wildcard(2)}}.{{wildcard(1)}}")).unwrap();
        let mut out = Vec::new();
        assert!(i.map_into(b"w.one.two", &mut out));
        assert_eq!(out, b"wmapped.two.one");
        assert_eq!(shadow(&i, "wmapped.two.one"), Some(("w.*.*".into(), true)));
        let same = StreamImport::new("A", "ev.>", None, None).unwrap();
        assert_eq!(shadow(&same, "ev.only"), Some(("ev.only".into(), false)));
        assert!(!same.map_into(b"ev.only", &mut out));
    }

    #[test]
    fn service_imports_map_the_request_subject() {
        use crate::options::{AccountOptions, Export, Import};
        let mut all = Options::default();
        let mut a = AccountOptions { name: "A".into(), ..AccountOptions::default() };
        a.exports.push(Export::new(ExportKind::Service, "svc.>"));
        all.accounts.push(a);
        let import = |subject: &str, to: Option<&str>| Import {
            kind: ExportKind::Service,
            account: "A".into(),
            subject: subject.into(),
            to: to.map(Into::into),
            prefix: None,
            share: false,
            allow_trace: false,
        };
        let mut out = Vec::new();
        let plain = ServiceImport::new(&import("svc.one", None), &all).unwrap();
        assert_eq!(plain.destination(b"svc.one", &mut out), b"svc.one");
        let renamed = ServiceImport::new(&import("svc.one", Some("ask")), &all).unwrap();
        assert_eq!(&*renamed.local, b"ask");
        assert_eq!(renamed.destination(b"ask", &mut out), b"svc.one");
        let wild = ServiceImport::new(&import("svc.*", Some("req.*")), &all).unwrap();
        assert_eq!(wild.destination(b"req.x", &mut out), b"svc.x");
        let same = ServiceImport::new(&import("svc.>", None), &all).unwrap();
        assert_eq!(same.destination(b"svc.a.b", &mut out), b"svc.a.b");
        assert!(ServiceImport::new(&import("other", None), &all).is_none(), "no export: no import");
    }

    #[test]
    fn effective_limits_take_the_lower() {
        assert_eq!(AccountConfig::effective(0, None), 0);
        assert_eq!(AccountConfig::effective(0, Some(5)), 5);
        assert_eq!(AccountConfig::effective(10, Some(5)), 5);
        assert_eq!(AccountConfig::effective(3, Some(5)), 3);
    }
}
