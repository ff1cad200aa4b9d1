//! Where account JWTs come from: memory (`MEMORY` with `resolver_preload`),
//! a directory of `<account key>.jwt` files (`type: full|cache`), or an
//! account server (`URL(...)`). Every resolver keeps what it fetched or was
//! given in memory, so a login storm reads each file (or asks the server)
//! once.
//!
//! [`AccountResolver::fetch`] blocks (file I/O, HTTP): callers run it off
//! the async workers.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

use crate::options::Resolver;

/// nats-server's `ErrMissingAccount`.
pub const MISSING: &str = "account missing";

/// The account resolver of the server.
pub struct AccountResolver {
    kind: Kind,
    /// Account key -> JWT: every JWT this resolver holds or fetched. A std
    /// RwLock: read at login, written at start, on a fetch and on claim
    /// updates; never held across I/O.
    jwts: RwLock<HashMap<String, String>>,
}

/// What a delete request does to a directory resolver's file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delete {
    /// Refused (`allow_delete` not set).
    No,
    /// Renamed to `<key>.jwt.deleted`.
    Rename,
    /// Removed (`hard_delete`).
    Remove,
}

enum Kind {
    Memory,
    Dir { dir: PathBuf, full: bool, delete: Delete },
    Url { url: String, timeout: Duration },
}

impl AccountResolver {
    pub fn new(config: Option<&Resolver>) -> AccountResolver {
        let kind = match config {
            None | Some(Resolver::Memory) => Kind::Memory,
            Some(Resolver::Dir(d)) => {
                // The cache resolver deletes what it evicts, and any delete request.
                let delete = match (d.full, d.allow_delete, d.hard_delete) {
                    (false, _, _) | (true, true, true) => Delete::Remove,
                    (true, true, false) => Delete::Rename,
                    (true, false, _) => Delete::No,
                };
                Kind::Dir { dir: PathBuf::from(&d.dir), full: d.full, delete }
            }
            Some(Resolver::Url(url)) => Kind::Url { url: url.clone(), timeout: Duration::from_millis(1900) },
        };
        AccountResolver { kind, jwts: RwLock::new(HashMap::new()) }
    }

    /// The directory of a directory resolver.
    pub fn dir(&self) -> Option<&std::path::Path> {
        match &self.kind {
            Kind::Dir { dir, .. } => Some(dir),
            _ => None,
        }
    }

    /// Whether this is a `full` directory resolver (the one that manages
    /// the directory alone).
    pub fn is_full(&self) -> bool {
        matches!(self.kind, Kind::Dir { full: true, .. })
    }

    /// The account's JWT, or nats-server's error text. Blocking.
    pub fn fetch(&self, key: &str) -> Result<String, String> {
        if let Some(jwt) = self.jwts.read().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Ok(jwt.clone());
        }
        let jwt = match &self.kind {
            Kind::Memory => return Err(MISSING.into()),
            Kind::Dir { dir, .. } => read_jwt_file(dir, key)?,
            Kind::Url { url, timeout } => http_get(&format!("{url}{key}"), *timeout)?,
        };
        self.store(key, &jwt);
        Ok(jwt)
    }

    /// Holds exactly `entries` (a memory resolver's new preloads).
    pub fn replace_all(&self, entries: BTreeMap<String, String>) {
        *self.jwts.write().unwrap_or_else(|e| e.into_inner()) = entries.into_iter().collect();
    }

    /// Reads the account's JWT from its source again (a directory resolver's
    /// file after it changed), forgetting the copy held. Blocking.
    pub fn refetch(&self, key: &str) -> Result<String, String> {
        self.jwts.write().unwrap_or_else(|e| e.into_inner()).remove(key);
        self.fetch(key)
    }

    /// Keeps `jwt` for `key` in memory (preload, claim update; a directory
    /// resolver's file is written by [`save_if_changed`](Self::save_if_changed)).
    pub fn store(&self, key: &str, jwt: &str) {
        self.jwts.write().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), jwt.to_string());
    }

    /// Every account key held (and, for a directory resolver, on disk).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.jwts.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        if let Some(dir) = self.dir() {
            if let Ok(entries) = std::fs::read_dir(dir) {
                keys.extend(
                    entries.filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".jwt").map(str::to_string)),
                );
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

impl AccountResolver {
    /// Whether delete requests are honoured.
    pub fn allows_delete(&self) -> bool {
        matches!(self.kind, Kind::Dir { delete: Delete::Remove | Delete::Rename, .. })
    }

    /// Writes the account's file unless it already holds `jwt` (nats-server's
    /// `DirJWTStore.save`); true when it changed. Blocking.
    pub fn save_if_changed(&self, key: &str, jwt: &str) -> std::io::Result<bool> {
        let Some(path) = self.path(key) else {
            return Err(std::io::Error::other("invalid public key"));
        };
        if jwt.is_empty() {
            return Err(std::io::Error::other("invalid JWT"));
        }
        if std::fs::read_to_string(&path).is_ok_and(|old| old == jwt) {
            return Ok(false);
        }
        std::fs::write(&path, jwt)?;
        self.store(key, jwt);
        Ok(true)
    }

    /// The account's file as it is, if there is one. Blocking.
    pub fn file(&self, key: &str) -> Option<String> {
        std::fs::read_to_string(self.path(key)?).ok()
    }

    /// Every `<key>.jwt` file of a directory resolver with its contents, by
    /// key (nats-server walks the directory in lexical order). Blocking.
    pub fn files(&self) -> Vec<(String, String)> {
        let Some(dir) = self.dir() else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
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

    /// Deletes the account's file as configured (renamed or removed); false
    /// when there was none. The account is forgotten either way. Blocking.
    pub fn delete(&self, key: &str) -> std::io::Result<bool> {
        let (Kind::Dir { delete, .. }, Some(path)) = (&self.kind, self.path(key)) else {
            return Err(std::io::Error::other("store is not set up to for delete"));
        };
        self.jwts.write().unwrap_or_else(|e| e.into_inner()).remove(key);
        let done = match delete {
            Delete::No => return Err(std::io::Error::other("store is not set up to for delete")),
            Delete::Rename => std::fs::rename(&path, path.with_extension("jwt.deleted")),
            Delete::Remove => std::fs::remove_file(&path),
        };
        match done {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `<dir>/<key>.jwt`, for a key that is a public nkey.
    fn path(&self, key: &str) -> Option<PathBuf> {
        nkeys::KeyPair::from_public_key(key).ok()?;
        Some(self.dir()?.join(format!("{key}.jwt")))
    }
}

fn read_jwt_file(dir: &std::path::Path, key: &str) -> Result<String, String> {
    // A key is base32: no path separators can sneak in, but check anyway.
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(MISSING.into());
    }
    match std::fs::read_to_string(dir.join(format!("{key}.jwt"))) {
        Ok(text) => Ok(text.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(MISSING.into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A plain-HTTP GET with a deadline (nats-server's URL resolver: non-200
/// is `could not fetch <"url">: <status>`).
fn http_get(url: &str, timeout: Duration) -> Result<String, String> {
    let fail = |why: String| format!("could not fetch {url:?}: {why}");
    let rest = url.strip_prefix("http://").ok_or_else(|| fail("only http:// account servers are supported".into()))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(
        &(if host.contains(':') { host.to_string() } else { format!("{host}:80") }),
    )
    .map_err(|e| fail(e.to_string()))?
    .next()
    .ok_or_else(|| fail("no address".into()))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| fail(e.to_string()))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| fail(e.to_string()))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| fail(e.to_string()))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: */*\r\n\r\n").map_err(|e| fail(e.to_string()))?;
    let mut response = Vec::new();
    stream.take(4 * 1024 * 1024).read_to_end(&mut response).map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| fail("malformed response".into()))?;
    let status = head.lines().next().and_then(|l| l.split_once(' ')).map(|(_, s)| s.trim()).unwrap_or_default();
    if !status.starts_with("200") {
        return Err(fail(status.to_string()));
    }
    Ok(body.trim().to_string())
}
