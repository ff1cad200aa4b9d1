//! A directory resolver's `<account key>.jwt` files and what it knows of
//! them, as nats-server's `DirJWTStore` with its expiration tracker
//! (dirstore.go): every file is tracked with its contents (so a login storm
//! reads it once), when it expires, and when it was last used.
//! - `limit` bounds how many files are kept: a `cache` evicts the least
//!   recently used file to make room, a `full` resolver refuses the write
//!   (`jwt store is full`);
//! - an entry expires `ttl` after it was written or last read (a `cache`
//!   with `ttl`), else when its JWT's `exp` says; the expiry sweep removes
//!   the file.
//!
//! Everything here blocks (file I/O): callers run it off the async workers.
//! Times are tokio's, so tests run it on a paused clock.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::server::jwt::{self, decode_generic};

/// How many files, and how long each is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Most files kept (`usize::MAX`: no limit).
    pub limit: usize,
    /// Whether a new file evicts the least recently used one at the limit
    /// (a cache) rather than being refused.
    pub evict: bool,
    /// How long an entry lives after its last use; zero: its JWT's `exp`.
    pub ttl: Duration,
}

impl Bounds {
    /// nats-server's `NewCacheDirAccResolver` bounds: `limit` 0 or less is 1000.
    pub fn cache(limit: i64, ttl: Duration) -> Bounds {
        let limit = if limit <= 0 { 1000 } else { usize::try_from(limit).unwrap_or(usize::MAX) };
        Bounds { limit, evict: true, ttl }
    }

    /// `NewDirAccResolver`'s: `limit` 0 or less is none; JWT expiry only.
    pub fn full(limit: i64) -> Bounds {
        let limit = if limit <= 0 { usize::MAX } else { usize::try_from(limit).unwrap_or(usize::MAX) };
        Bounds { limit, evict: false, ttl: Duration::ZERO }
    }
}

/// The files of one directory resolver.
pub struct DirStore {
    dir: PathBuf,
    bounds: Bounds,
    /// What is known of the files. A std Mutex: taken for map updates and
    /// around the small file write or removal that keeps them in step (as
    /// nats-server holds its store lock), never across a network wait.
    tracked: Mutex<Tracked>,
}

#[derive(Default)]
struct Tracked {
    entries: HashMap<String, Entry>,
    /// Use stamp -> key: the first is the least recently used.
    lru: BTreeMap<u64, String>,
    /// The next use stamp.
    clock: u64,
}

struct Entry {
    jwt: String,
    /// When the sweep removes the file; `None`: never.
    expires: Option<Instant>,
    /// This entry's key in `lru`.
    used: u64,
}

impl DirStore {
    /// Tracks every `.jwt` file already in `dir` (beyond the limit too, as
    /// nats-server does at start). Blocking.
    pub fn open(dir: PathBuf, bounds: Bounds) -> DirStore {
        let store = DirStore { dir, bounds, tracked: Mutex::new(Tracked::default()) };
        let mut files = store.read_all();
        files.sort();
        let now = Instant::now();
        let mut t = store.lock();
        for (key, jwt) in files {
            store.track(&mut t, &key, jwt.trim().to_string(), now);
        }
        drop(t);
        store
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How often the sweep looks for expired entries (nats-server: half the
    /// `ttl`, at most a minute).
    pub fn sweep_interval(&self) -> Duration {
        let half = self.bounds.ttl / 2;
        if half.is_zero() || half > Duration::from_secs(60) {
            Duration::from_secs(60)
        } else {
            half
        }
    }

    /// How many entries are tracked.
    pub fn tracked(&self) -> usize {
        self.lock().entries.len()
    }

    /// The account's JWT (counts as a use: it becomes the most recently
    /// used, and with a `ttl` its life starts again). A file not tracked
    /// (written by someone else) is read and tracked. Blocking.
    pub fn load(&self, key: &str) -> std::io::Result<String> {
        let now = Instant::now();
        {
            let mut t = self.lock();
            if t.entries.contains_key(key) {
                self.touch(&mut t, key, now);
                return Ok(t.entries[key].jwt.clone());
            }
        }
        self.reload(key)
    }

    /// Reads the account's file again (it may have been replaced) and
    /// tracks what it holds; forgets the account when the file is gone.
    /// Blocking.
    pub fn reload(&self, key: &str) -> std::io::Result<String> {
        let path = self.path(key).ok_or_else(|| std::io::Error::other("invalid public key"))?;
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let jwt = text.trim().to_string();
                let mut t = self.lock();
                self.track(&mut t, key, jwt.clone(), Instant::now());
                Ok(jwt)
            }
            Err(e) => {
                self.forget(key);
                Err(e)
            }
        }
    }

    /// nats-server's `DirJWTStore.write`: true when the file was written;
    /// false when it already held `jwt`. At the limit a cache first removes
    /// the least recently used file; a full resolver refuses. Blocking.
    pub fn write(&self, key: &str, jwt: &str) -> std::io::Result<bool> {
        let path = self.path(key).ok_or_else(|| std::io::Error::other("invalid public key"))?;
        if jwt.is_empty() {
            return Err(std::io::Error::other("invalid JWT"));
        }
        let now = Instant::now();
        let mut t = self.lock();
        if t.entries.contains_key(key) {
            self.touch(&mut t, key, now);
            if t.entries[key].jwt == jwt {
                return Ok(false);
            }
        } else if t.entries.len() >= self.bounds.limit {
            if !self.bounds.evict {
                return Err(std::io::Error::other("jwt store is full"));
            }
            if let Some(oldest) = t.lru.values().next().cloned() {
                let gone = self.path(&oldest).map_or(Ok(()), std::fs::remove_file);
                match gone {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
                tracing::debug!("DirResolver - Evicted account {oldest:?} to make room");
                untrack(&mut t, &oldest);
            }
        }
        std::fs::write(&path, jwt)?;
        self.track(&mut t, key, jwt.to_string(), now);
        Ok(true)
    }

    /// The account is no longer held (its file was deleted or renamed).
    pub fn forget(&self, key: &str) {
        untrack(&mut self.lock(), key);
    }

    /// Removes the files of every entry expired by `now`; their keys.
    /// Blocking.
    pub fn sweep(&self, now: Instant) -> Vec<String> {
        let mut t = self.lock();
        let due: Vec<String> =
            t.entries.iter().filter(|(_, e)| e.expires.is_some_and(|at| at <= now)).map(|(k, _)| k.clone()).collect();
        let mut removed = Vec::with_capacity(due.len());
        for key in due {
            let gone = self.path(&key).map_or(Ok(()), std::fs::remove_file);
            // A file that cannot be removed stays tracked and is tried again.
            if gone.is_ok() || gone.is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
                untrack(&mut t, &key);
                removed.push(key);
            }
        }
        removed
    }

    /// Every `<key>.jwt` file in the directory with its contents, by key.
    /// Blocking.
    pub fn read_all(&self) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut files: Vec<(String, String)> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                let key = e.file_name().to_str()?.strip_suffix(".jwt")?.to_string();
                Some((key, std::fs::read_to_string(e.path()).ok()?))
            })
            .collect();
        files.sort();
        files
    }

    /// `<dir>/<key>.jwt`, for a key that is a public nkey.
    pub fn path(&self, key: &str) -> Option<PathBuf> {
        nkeys::KeyPair::from_public_key(key).ok()?;
        Some(self.dir.join(format!("{key}.jwt")))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.tracked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When an entry written (or, with a `ttl`, used) `now` expires: a
    /// `ttl` wins over the JWT's `exp`.
    fn expiry(&self, jwt: &str, now: Instant) -> Option<Instant> {
        if !self.bounds.ttl.is_zero() {
            return now.checked_add(self.bounds.ttl);
        }
        let exp = decode_generic(jwt).ok()?.data.expires;
        if exp == 0 {
            return None;
        }
        let left = exp.saturating_sub(jwt::now().as_second()).max(0);
        now.checked_add(Duration::from_secs(left.unsigned_abs()))
    }

    fn track(&self, t: &mut Tracked, key: &str, jwt: String, now: Instant) {
        untrack(t, key);
        let expires = self.expiry(&jwt, now);
        let used = t.clock;
        t.clock += 1;
        t.lru.insert(used, key.to_string());
        t.entries.insert(key.to_string(), Entry { jwt, expires, used });
    }

    /// A use: most recently used; with a `ttl`, alive for another `ttl`.
    fn touch(&self, t: &mut Tracked, key: &str, now: Instant) {
        let stamp = t.clock;
        let Some(entry) = t.entries.get_mut(key) else { return };
        if !self.bounds.ttl.is_zero() {
            entry.expires = now.checked_add(self.bounds.ttl);
        }
        let old = std::mem::replace(&mut entry.used, stamp);
        t.clock += 1;
        t.lru.remove(&old);
        t.lru.insert(stamp, key.to_string());
    }
}

fn untrack(t: &mut Tracked, key: &str) {
    if let Some(entry) = t.entries.remove(key) {
        t.lru.remove(&entry.used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        nkeys::KeyPair::new_account().public_key()
    }

    fn store(dir: &Path, bounds: Bounds) -> DirStore {
        DirStore::open(dir.to_path_buf(), bounds)
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_cache_evicts_the_least_recently_used_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Bounds::cache(2, Duration::ZERO));
        let (a, b, c) = (key(), key(), key());
        assert!(s.write(&a, "jwt-a").unwrap());
        assert!(s.write(&b, "jwt-b").unwrap());
        // A login reads `a`: `b` is now the least recently used.
        assert_eq!(s.load(&a).unwrap(), "jwt-a");
        assert!(s.write(&c, "jwt-c").unwrap());
        assert_eq!(s.tracked(), 2);
        assert!(!s.path(&b).unwrap().exists(), "the least recently used file is removed");
        assert!(s.path(&a).unwrap().exists() && s.path(&c).unwrap().exists());
        // Writing what a file holds is no change, and no eviction.
        assert!(!s.write(&c, "jwt-c").unwrap());
        assert_eq!(s.tracked(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_resolver_at_its_limit_refuses_new_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Bounds::full(1));
        let (a, b) = (key(), key());
        assert!(s.write(&a, "jwt-a").unwrap());
        assert_eq!(s.write(&b, "jwt-b").unwrap_err().to_string(), "jwt store is full");
        // An account it holds may still change.
        assert!(s.write(&a, "jwt-a2").unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_ttl_after_their_last_use() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Bounds::cache(0, Duration::from_secs(10)));
        assert_eq!(s.sweep_interval(), Duration::from_secs(5));
        let (a, b) = (key(), key());
        s.write(&a, "jwt-a").unwrap();
        s.write(&b, "jwt-b").unwrap();
        tokio::time::advance(Duration::from_secs(6)).await;
        // `a` is used: it lives 10 s from now.
        s.load(&a).unwrap();
        assert!(s.sweep(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(s.sweep(Instant::now()), vec![b.clone()]);
        assert!(!s.path(&b).unwrap().exists());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(s.sweep(Instant::now()), vec![a.clone()]);
        assert_eq!(s.tracked(), 0);
        assert!(s.load(&a).is_err(), "an expired account is gone");
    }

    #[tokio::test(start_paused = true)]
    async fn without_ttl_an_entry_expires_with_its_jwt() {
        use crate::server::jwt::{AccountClaims, Claim};
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), Bounds::cache(0, Duration::ZERO));
        let operator = nkeys::KeyPair::new_operator();
        let (a, b) = (nkeys::KeyPair::new_account(), key());
        let mut claims = AccountClaims::new(&a.public_key());
        claims.data.expires = jwt::now().as_second() + 30;
        s.write(&a.public_key(), &claims.encode(&operator).unwrap()).unwrap();
        s.write(&b, "not a jwt: never expires").unwrap();
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(s.sweep(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(s.sweep(Instant::now()), vec![a.public_key()]);
        assert_eq!(s.tracked(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn files_present_at_start_are_tracked() {
        let dir = tempfile::tempdir().unwrap();
        let a = key();
        std::fs::write(dir.path().join(format!("{a}.jwt")), "jwt-a\n").unwrap();
        let s = store(dir.path(), Bounds::cache(1, Duration::from_secs(4)));
        assert_eq!(s.tracked(), 1);
        assert_eq!(s.load(&a).unwrap(), "jwt-a");
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(s.sweep(Instant::now()), vec![a]);
    }
}
