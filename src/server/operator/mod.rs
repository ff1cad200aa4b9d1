//! Operator mode: the trusted operators, the account resolver, and the
//! runtime accounts made from account JWTs.
//!
//! Fixed for the server's life (nats-server refuses to reload the operator
//! or the resolver type); the resolver's contents change with claim
//! updates. Account JWTs become [`AccountOptions`](crate::options::AccountOptions)
//! (see [`compile`]) and then the same `AccountConfig` config accounts
//! compile to, installed in the account registry under the account's
//! public key.

pub mod background;
pub mod claims;
pub mod cluster_fetch;
pub mod compile;
pub mod dir_store;
pub mod login;
mod resolver;
pub mod sync;
pub mod user;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use jiff::Timestamp;

use crate::options::Options;
use crate::server::account_config::AccountConfig;
use crate::server::accounts::{AccountRegistry, ServerAccount};
use crate::server::jwt::login::{verify_account_jwt, AccountJwtError, Trust};
use crate::server::jwt::{self, decode_account, decode_generic, decode_operator, AccountClaims};
pub use resolver::AccountResolver;

/// What a claim update needs of the server (its accounts, and a way to
/// wake every connection), without this module depending on the server.
pub trait Server {
    fn accounts(&self) -> &AccountRegistry;
    fn wake_all(&self);
    /// The current configuration's `resolver_preload` (after a reload,
    /// the new one).
    fn resolver_preload(&self) -> BTreeMap<String, String>;
}

/// What operator mode needs at run time.
pub struct OperatorMode {
    trust: Trust,
    resolver: AccountResolver,
    /// `resolver_pinned_accounts`: when not empty, only these may log in.
    pinned: Vec<String>,
    /// Logins refused by `pinned` (`/varz` `pinned_account_fails`). Relaxed:
    /// a count, added to at a refused login only.
    pinned_fails: AtomicU64,
    /// Account key -> the JWT its installed rules were compiled from (and
    /// its claims, which live connections are re-checked against), so a
    /// login recompiles only what changed. Taken at login, on updates and
    /// when a session re-checks, never per message.
    installed: Mutex<HashMap<String, (String, Arc<AccountClaims>)>>,
    /// The first operator's key when it has `strict_signing_key_usage`:
    /// account JWTs it issued itself are refused by claim updates.
    strict_operator: Option<String>,
    /// The system account's key (a delete request may not name it).
    system_account: Option<String>,
    /// How often a `full` resolver compares its directory with the
    /// cluster's (`interval`).
    sync_interval: std::time::Duration,
    /// A directory resolver's lookups in the cluster, once the system
    /// account is up (see [`background::start`]).
    cluster: OnceLock<cluster_fetch::ClusterFetch>,
}

impl OperatorMode {
    /// `None` unless the options turn operator mode on. The options were
    /// validated: operator JWTs that do not decode were refused there.
    pub fn new(opts: &Options) -> Option<Arc<OperatorMode>> {
        let op = &opts.operator;
        if !op.is_on() {
            return None;
        }
        let operators: Vec<_> = op.operators.iter().filter_map(|jwt| decode_operator(jwt).ok()).collect();
        let trust = if op.trusted_keys.is_empty() {
            Trust::from_operators(&operators)
        } else {
            Trust::from_keys(op.trusted_keys.clone())
        };
        let strict_operator =
            operators.first().filter(|o| o.nats.strict_signing_key_usage).map(|o| o.data.subject.clone());
        let resolver = AccountResolver::new(op.resolver.as_ref(), op.resolver_tls.as_ref());
        let mode = OperatorMode {
            trust,
            resolver,
            pinned: op.resolver_pinned_accounts.clone(),
            pinned_fails: AtomicU64::new(0),
            installed: Mutex::new(HashMap::new()),
            strict_operator,
            system_account: crate::server::accounts::system_account_name(opts).map(str::to_string),
            sync_interval: match &op.resolver {
                Some(crate::options::Resolver::Dir(d)) if !d.interval.is_zero() => d.interval,
                _ => std::time::Duration::from_secs(60),
            },
            cluster: OnceLock::new(),
        };
        // nats-server's `ar.Store` of each preload: a directory resolver
        // writes the ones newer than its files.
        for (key, jwt) in &op.resolver_preload {
            if mode.resolver.dir().is_none() {
                mode.resolver.keep(key, jwt);
            } else if let Err(e) = mode.save_if_newer(key, jwt) {
                tracing::error!("Preloaded account [{key}] not stored: {e}");
            }
        }
        Some(Arc::new(mode))
    }

    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    pub fn resolver(&self) -> &AccountResolver {
        &self.resolver
    }

    /// Whether `account` may log in (`resolver_pinned_accounts`); a refusal
    /// is counted.
    pub fn is_pinned(&self, account: &str) -> bool {
        let pinned = self.pinned.is_empty() || self.pinned.iter().any(|p| p == account);
        if !pinned {
            self.pinned_fails.fetch_add(1, Ordering::Relaxed);
        }
        pinned
    }

    /// How many logins `resolver_pinned_accounts` refused.
    pub fn pinned_account_fails(&self) -> u64 {
        self.pinned_fails.load(Ordering::Relaxed)
    }

    /// The account's verified claims, from the resolver. Blocking: a
    /// directory or URL resolver reads a file or asks a server.
    pub fn lookup(&self, key: &str, now: Timestamp) -> Result<(String, AccountClaims), String> {
        let jwt = self.account_jwt(key)?;
        let claims = verify_account_jwt(&jwt, key, &self.trust, now).map_err(|e: AccountJwtError| e.to_string())?;
        Ok((jwt, claims))
    }

    /// nats-server's `lookupAccount`: with a directory resolver, the JWT of
    /// the account in use while it has not expired (nats-server uses its
    /// registered account and reads no file, so a login is no use of the
    /// file for the cache's `ttl` and LRU); else the resolver's JWT; else a
    /// directory resolver asks the cluster and stores the answer as a newer
    /// JWT (`Store`). Blocking: up to the `timeout`.
    fn account_jwt(&self, key: &str) -> Result<String, String> {
        let dir = self.resolver.dir().is_some();
        if dir {
            let installed = self.installed.lock().unwrap_or_else(|e| e.into_inner()).get(key).map(|(j, _)| j.clone());
            let now = jwt::now().as_second();
            let current = |j: &String| {
                !j.is_empty() && decode_generic(j).is_ok_and(|g| g.data.expires == 0 || g.data.expires > now)
            };
            if let Some(jwt) = installed.filter(current) {
                return Ok(jwt);
            }
        }
        let missing = match self.resolver.fetch(key) {
            Ok(jwt) => return Ok(jwt),
            Err(e) if e != resolver::MISSING || !dir => return Err(e),
            Err(e) => e,
        };
        let (Some(fetch), Some(timeout)) = (self.cluster.get(), self.resolver.fetch_timeout()) else {
            return Err(missing);
        };
        let started = std::time::Instant::now();
        let fetched = fetch.fetch(key, timeout);
        let took = crate::gotext::go_duration(started.elapsed());
        if started.elapsed() > std::time::Duration::from_secs(1) {
            tracing::warn!("Account [{key}] fetch took {took}");
        } else {
            tracing::debug!("Account [{key}] fetch took {took}");
        }
        let jwt = fetched.inspect_err(|e| tracing::warn!("Account fetch failed: {e}"))?;
        self.save_if_newer(key, &jwt)?;
        Ok(jwt)
    }

    /// Claims of an account as imports see it (decoded, trusted, not expired).
    fn exporter(&self, key: &str, now: Timestamp) -> Option<AccountClaims> {
        self.lookup(key, now).ok().map(|(_, claims)| claims)
    }

    /// Installs the account unless its rules already come from `jwt`.
    /// Blocking, as [`install`](Self::install).
    pub fn ensure_installed(&self, registry: &AccountRegistry, jwt: &str, claims: &AccountClaims, now: Timestamp) {
        let key = &claims.data.subject;
        let current = self.installed.lock().unwrap_or_else(|e| e.into_inner()).get(key).is_some_and(|(j, _)| j == jwt);
        if current && registry.get(key).is_some() {
            return;
        }
        self.install(registry, claims, now);
        let entry = (jwt.to_string(), Arc::new(claims.clone()));
        self.installed.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), entry);
    }

    /// Re-reads every account in use from a directory resolver (its files
    /// may have been replaced) and applies what changed. Blocking. The
    /// reload runs it, so a reload picks up new account JWTs on disk.
    pub fn refresh(&self, server: &dyn Server) {
        if self.resolver.dir().is_none() {
            self.reload_preloads(server);
            return;
        }
        let keys: Vec<String> = self.installed.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        for key in keys {
            // A file gone (a cache's expired entry) leaves the account in
            // use as it is: nats-server's reload only reads the files there.
            match self.reread(server, &key) {
                Err(e) if e != resolver::MISSING => {
                    tracing::warn!("Account {key} could not be re-read from the resolver: {e}")
                }
                _ => {}
            }
        }
    }

    /// A reload with a memory resolver (nats-server's `reloadAuthorization`):
    /// the resolver holds the new `resolver_preload` only, and every account
    /// in use takes its JWT from it, or is dropped (`Reloaded: deleting
    /// account [removed]` / `[bad claims]`): its users can no longer log in.
    /// Blocking.
    fn reload_preloads(&self, server: &dyn Server) {
        self.resolver.replace_all(server.resolver_preload());
        let keys: Vec<String> = self.installed.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        let now = jwt::now();
        for key in keys {
            let checked = self.resolver.fetch(&key).map(|jwt| (self.check_update(&key, &jwt, now), jwt));
            match checked {
                Ok((Ok(claims), jwt)) => {
                    self.ensure_installed(server.accounts(), &jwt, &claims, now);
                    server.wake_all();
                }
                Ok((Err(_), _)) => {
                    tracing::info!("Reloaded: deleting account [bad claims]: {key:?}");
                    self.installed.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                }
                Err(_) => {
                    tracing::info!("Reloaded: deleting account [removed]: {key:?}");
                    self.installed.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                }
            }
        }
    }

    /// The claims the account's installed rules come from.
    pub fn account_claims(&self, key: &str) -> Option<Arc<AccountClaims>> {
        self.installed.lock().unwrap_or_else(|e| e.into_inner()).get(key).map(|(_, c)| c.clone())
    }

    /// A directory resolver's file for `key` may have changed: read it
    /// again and apply it as a claim update. Blocking.
    pub fn reread(&self, server: &dyn Server, key: &str) -> Result<&'static str, String> {
        let jwt = self.resolver.refetch(key)?;
        let now = jwt::now();
        let claims = self.check_update(key, &jwt, now)?;
        if server.accounts().get(key).is_some() {
            self.ensure_installed(server.accounts(), &jwt, &claims, now);
            server.wake_all();
        }
        Ok("jwt updated")
    }

    /// Compiles `claims` and installs the account (new, or its rules
    /// replaced, as a reload replaces a config account's). Blocking, as
    /// [`lookup`](Self::lookup): imports look up their exporters.
    pub fn install(&self, registry: &AccountRegistry, claims: &AccountClaims, now: Timestamp) -> Arc<ServerAccount> {
        let exporter = |key: &str| self.exporter(key, now);
        let account = compile::account_options(claims, &exporter, now);
        // Service imports find their exporter's exports in a config;
        // give them one with the exporters compiled the same way.
        let mut all = Options::default();
        for import in &account.imports {
            if let Some(from) = self.exporter(&import.account, now) {
                all.accounts.push(compile::account_options(&from, &|_| None, now));
            }
        }
        let config = AccountConfig::compile(&account, &all);
        registry.install_resolved(&account.name, config)
    }

    /// A decoded, trusted, current account JWT for `key`, or why not (the
    /// text the claim update reply and the log use).
    pub fn check_update(&self, key: &str, jwt: &str, now: Timestamp) -> Result<AccountClaims, String> {
        decode_account(jwt).map_err(|e| format!("jwt validation failed - {e}"))?;
        verify_account_jwt(jwt, key, &self.trust, now).map_err(|_| "account validation failed".to_string())
    }
}
