//! Every account of the server, by name: the only place accounts are made.
//!
//! An account object outlives reloads: a reload gives it new rules
//! ([`AccountConfig`]) but never a new index, so no unchanged connection
//! loses a subscription and no route hears `RS-` then `RS+` for interest
//! that stayed. An account removed from the config is kept (marked
//! removed, refusing logins) while anything still points at it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use super::account::{Account, InterestPeer};
use super::account_config::{AccountConfig, Shadow, StreamImport};
use super::conn::{Connection, Subscription, Via};
use super::permissions::CompiledPermissions;
use super::service::sample_link::SampleLink;
use crate::options::{Options, GLOBAL_ACCOUNT};

pub type ServerAccount = Account<Subscription>;

pub struct AccountRegistry {
    /// `$G`, kept apart: anonymous clients and `authorization` users need
    /// no lookup.
    global: Arc<ServerAccount>,
    /// Name -> account, `$G` included. A std RwLock: read at login, when a
    /// route names an account, and by monitoring; written at start and on
    /// reload. Never taken per message (sessions keep their account).
    by_name: RwLock<HashMap<Box<str>, Arc<ServerAccount>>>,
    /// The cluster side every account shares, so an account a reload adds
    /// is announced to the routes already up. Taken when a route comes or
    /// goes, on reload, and when an account is made.
    cluster: Mutex<ClusterSide>,
    /// The owner of the subscriptions the server makes for accounts
    /// (service imports, responses); never registered as a client.
    internal: Arc<Connection>,
    /// The server's name, told to exporters with `share`.
    server_name: Arc<str>,
    /// Where service imports hand the system task their latency samples.
    samples: SampleLink,
    /// The system account's name (`None`: `no_sys_acc`), fixed at start as
    /// nats-server fixes it (a reload cannot change it).
    system_name: std::sync::OnceLock<Option<Box<str>>>,
    /// Accounts made from account JWTs (operator mode), by public key: a
    /// config sync leaves them alone. Taken at sync and install only.
    resolved: Mutex<HashSet<Box<str>>>,
}

/// The imports `account` gets from the system account, when there is one.
fn system_imports_of(account: &str, system: Option<&str>) -> Vec<Arc<super::account_config::ServiceImport>> {
    system.map(|s| super::system::imports::system_imports(account, s)).unwrap_or_default()
}

/// The system account `opts` ask for: `system_account`, else `$SYS`,
/// unless `no_sys_acc`.
pub fn system_account_name(opts: &Options) -> Option<&str> {
    if opts.no_system_account {
        return None;
    }
    Some(opts.system_account.as_deref().unwrap_or(crate::options::DEFAULT_SYSTEM_ACCOUNT))
}

#[derive(Default)]
struct ClusterSide {
    /// Local interest is tracked (the server has a cluster).
    tracking: bool,
    /// `cluster.permissions.import`.
    import: Option<Arc<CompiledPermissions>>,
    routes: Vec<Arc<dyn InterestPeer>>,
}

impl AccountRegistry {
    pub fn new(opts: &Options, stats: Arc<super::stats::ServerStats>, server_name: &str) -> AccountRegistry {
        let global = Arc::new(Account::new(GLOBAL_ACCOUNT));
        let by_name = HashMap::from([(Box::from(GLOBAL_ACCOUNT), global.clone())]);
        let nowhere = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let internal = Arc::new(Connection::new(0, super::conn::ConnKind::Client, nowhere, global.clone(), stats));
        let registry = AccountRegistry {
            global,
            by_name: RwLock::new(by_name),
            cluster: Mutex::new(ClusterSide::default()),
            internal,
            server_name: server_name.into(),
            samples: SampleLink::default(),
            system_name: std::sync::OnceLock::new(),
            resolved: Mutex::new(HashSet::new()),
        };
        let _ = registry.system_name.set(system_account_name(opts).map(Into::into));
        registry.sync(opts);
        registry
    }

    pub fn global(&self) -> &Arc<ServerAccount> {
        &self.global
    }

    /// The account named `name`, if the config has it (or had it and it is
    /// still in use).
    pub fn get(&self, name: &str) -> Option<Arc<ServerAccount>> {
        if name == GLOBAL_ACCOUNT {
            return Some(self.global.clone());
        }
        self.by_name.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    /// The system account, when the server runs one.
    pub fn system(&self) -> Option<Arc<ServerAccount>> {
        self.get(self.system_name.get()?.as_deref()?)
    }

    /// Every account, sorted by name.
    pub fn all(&self) -> Vec<Arc<ServerAccount>> {
        let mut all: Vec<_> = self.by_name.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Gives every account of `opts` its rules, making the new ones; an
    /// account no longer configured is marked removed.
    pub fn sync(&self, opts: &Options) {
        let system = system_account_name(opts);
        self.global.set_config(Arc::new(
            AccountConfig::global(&opts.mappings).with_imports(system_imports_of(GLOBAL_ACCOUNT, system)),
        ));
        let mut by_name = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        for a in &opts.accounts {
            let config = Arc::new(AccountConfig::compile(a, opts).with_imports(system_imports_of(&a.name, system)));
            match by_name.get(a.name.as_str()) {
                Some(account) => account.set_config(config),
                None => {
                    let account = Arc::new(Account::new(&a.name));
                    account.set_config(config);
                    self.join_cluster(&account);
                    by_name.insert(a.name.as_str().into(), account);
                }
            }
        }
        // The system account needs no block of its own (`$SYS` by default).
        if let Some(name) = system.filter(|n| *n != GLOBAL_ACCOUNT && !opts.accounts.iter().any(|a| a.name == *n)) {
            let config = Arc::new(AccountConfig::default().with_imports(system_imports_of(name, system)));
            match by_name.get(name) {
                Some(account) => account.set_config(config),
                None => {
                    let account = Arc::new(Account::new(name));
                    account.set_config(config);
                    self.join_cluster(&account);
                    by_name.insert(name.into(), account);
                }
            }
        }
        let resolved = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        for (name, account) in by_name.iter() {
            let configured = opts.accounts.iter().any(|a| a.name == **name) || system == Some(&**name);
            if &**name != GLOBAL_ACCOUNT && !configured && !resolved.contains(name) {
                account.set_config(Arc::new(AccountConfig { removed: true, ..AccountConfig::default() }));
            }
        }
        drop(resolved);
        let all: Vec<_> = by_name.values().cloned().collect();
        drop(by_name);
        for account in &all {
            self.sync_internal(account, &all);
        }
    }

    /// Installs an account resolved from its JWT (operator mode) under its
    /// public key: made if new, else given the new rules, as [`sync`](Self::sync)
    /// does for a config account.
    pub fn install_resolved(&self, name: &str, config: AccountConfig) -> Arc<ServerAccount> {
        self.resolved.lock().unwrap_or_else(|e| e.into_inner()).insert(name.into());
        let mut by_name = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        let account = match by_name.get(name) {
            Some(account) => account.clone(),
            None => {
                let account = Arc::new(Account::new(name));
                self.join_cluster(&account);
                by_name.insert(name.into(), account.clone());
                account
            }
        };
        account.set_config(Arc::new(config));
        let all: Vec<_> = by_name.values().cloned().collect();
        drop(by_name);
        for a in &all {
            self.sync_internal(a, &all);
        }
        account
    }

    /// Brings the server's own entries in `account`'s index in line with
    /// its rules: one per service import, and the `_R_` interest when any
    /// account imports one of its services. New entries go in before old
    /// ones come out, so a reload never leaves a gap.
    fn sync_internal(&self, account: &Arc<ServerAccount>, all: &[Arc<ServerAccount>]) {
        let config = account.config();
        let mut wanted: Vec<(Vec<u8>, Via)> = Vec::new();
        for import in &config.service_imports {
            let Some(exporter) = all.iter().find(|a| *a.name == *import.exporter) else { continue };
            let via = Via::ServiceImport {
                import: import.clone(),
                exporter: exporter.clone(),
                server: self.server_name.clone(),
                samples: self.samples.clone(),
            };
            wanted.push((import.local.to_vec(), via));
        }
        let exports_served =
            all.iter().any(|a| a.config().service_imports.iter().any(|i| *i.exporter == *account.name));
        if exports_served {
            let (table, _) = account.responses();
            wanted.push((table.codec().interest().into_bytes(), Via::Responses));
        }
        let mut current = account.internal_subscriptions();
        let same = |sub: &Subscription, subject: &[u8], via: &Via| {
            *sub.subject == *subject
                && match (sub.via.as_deref(), via) {
                    (Some(Via::Responses), Via::Responses) => true,
                    (
                        Some(Via::ServiceImport { import: a, exporter: x, .. }),
                        Via::ServiceImport { import: b, exporter: y, .. },
                    ) => a == b && Arc::ptr_eq(x, y),
                    _ => false,
                }
        };
        let mut kept = Vec::with_capacity(wanted.len());
        for (subject, via) in wanted {
            if let Some(i) = current.iter().position(|s| same(s, &subject, &via)) {
                kept.push(current.swap_remove(i));
                continue;
            }
            let sub = Arc::new(Subscription::internal(self.internal.clone(), account.clone(), &subject, via));
            if account.subscribe(&sub).is_ok() {
                kept.push(sub);
            }
        }
        for old in current.drain(..) {
            if old.mark_removed() {
                account.unsubscribe(&old);
            }
        }
        *current = kept;
    }

    /// Where service imports hand the system task their latency samples.
    pub fn samples(&self) -> &SampleLink {
        &self.samples
    }

    /// Frees pending service responses past their threshold, in every
    /// account; returns how many.
    pub fn sweep_responses(&self, now: tokio::time::Instant) -> usize {
        self.all().iter().filter_map(|a| a.responses_if_any()).map(|t| t.sweep(now)).sum()
    }

    /// The shadow subscriptions that stream imports of an account with
    /// `config` need for its new subscription `parent`, each already in its
    /// exporter's index.
    pub fn shadows_for(&self, config: &AccountConfig, parent: &Arc<Subscription>) -> Vec<Arc<Subscription>> {
        let mut out = Vec::new();
        for import in &config.stream_imports {
            let Some(shadow) = import.shadow_for(&parent.subject) else { continue };
            out.extend(self.add_shadow(parent, import, &shadow));
        }
        out
    }

    /// A shadow of `parent` for `import`, put in the exporter's index.
    fn add_shadow(
        &self,
        parent: &Arc<Subscription>,
        import: &Arc<StreamImport>,
        shadow: &Shadow,
    ) -> Option<Arc<Subscription>> {
        let exporter = self.get(&import.exporter)?;
        let sub =
            Arc::new(Subscription::shadow(parent, exporter.clone(), &shadow.subject, import.clone(), shadow.filtered));
        exporter.subscribe(&sub).ok().map(|_| sub)
    }

    /// A reload changed the stream imports of `parent`'s account to those
    /// of `config`: shadows of imports that stayed are kept, new ones are
    /// added before the ones of removed imports go.
    pub fn resync_shadows(&self, config: &AccountConfig, parent: &Arc<Subscription>) {
        let current = parent.conn.shadows_of(&parent.sid);
        let mut keep = Vec::new();
        let mut added = Vec::new();
        for import in &config.stream_imports {
            let Some(shadow) = import.shadow_for(&parent.subject) else { continue };
            let same = current.iter().find(|s| {
                s.shadow_of().is_some_and(|o| *o.import == **import && o.filtered == shadow.filtered)
                    && *s.subject == *shadow.subject
            });
            if let Some(s) = same {
                keep.push(s.clone());
                continue;
            }
            added.extend(self.add_shadow(parent, import, &shadow));
        }
        parent.conn.replace_shadows(parent, keep, added);
    }

    /// A new account takes part in the cluster as the others do.
    fn join_cluster(&self, account: &ServerAccount) {
        let cluster = self.cluster.lock().unwrap_or_else(|e| e.into_inner());
        if cluster.tracking {
            account.track_interest();
            account.set_import(cluster.import.clone());
            for route in &cluster.routes {
                account.add_route(route.clone());
            }
        }
    }

    /// The server is part of a cluster: every account keeps its local
    /// interest for the routes from now on.
    pub fn track_interest(&self, import: Option<Arc<CompiledPermissions>>) {
        let mut cluster = self.cluster.lock().unwrap_or_else(|e| e.into_inner());
        cluster.tracking = true;
        cluster.import = import.clone();
        for account in self.all() {
            account.track_interest();
            account.set_import(import.clone());
        }
    }

    /// `cluster.permissions.import` changed.
    pub fn set_import(&self, import: Option<Arc<CompiledPermissions>>) {
        let mut cluster = self.cluster.lock().unwrap_or_else(|e| e.into_inner());
        cluster.import = import.clone();
        for account in self.all() {
            account.set_import(import.clone());
        }
    }

    /// A route registered: every account tells it its interest.
    pub fn add_route(&self, route: Arc<dyn InterestPeer>) {
        let mut cluster = self.cluster.lock().unwrap_or_else(|e| e.into_inner());
        for account in self.all() {
            account.add_route(route.clone());
        }
        cluster.routes.push(route);
    }

    pub fn remove_route(&self, route: &dyn InterestPeer) {
        let mut cluster = self.cluster.lock().unwrap_or_else(|e| e.into_inner());
        for account in self.all() {
            account.remove_route(route);
        }
        cluster.routes.retain(|r| !std::ptr::addr_eq(Arc::as_ptr(r), route));
    }
}
