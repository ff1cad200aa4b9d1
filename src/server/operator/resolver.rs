//! Where account JWTs come from: memory (`MEMORY` with `resolver_preload`),
//! a directory of `<account key>.jwt` files (`type: full|cache`, see
//! [`DirStore`]: bounded by `limit`, expiring), or an account server
//! (`URL(...)`). Every resolver keeps what it fetched or was given in
//! memory, so a login storm reads each file (or asks the server) once.
//!
//! [`AccountResolver::fetch`] blocks (file I/O, HTTP): callers run it off
//! the async workers.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::dir_store::{Bounds, DirStore};
use crate::options::{Resolver, Tls};

/// nats-server's `ErrMissingAccount`.
pub const MISSING: &str = "account missing";

/// The account resolver of the server.
pub struct AccountResolver {
    kind: Kind,
    /// Account key -> JWT: every JWT a memory or URL resolver holds or
    /// fetched (a directory's are in its [`DirStore`]). A std RwLock: read
    /// at login, written at start, on a fetch and on claim updates; never
    /// held across I/O.
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
    Dir { store: DirStore, full: bool, delete: Delete, timeout: Duration },
    Url { url: String, timeout: Duration, tls: Option<Arc<ClientConfig>> },
}

impl AccountResolver {
    /// `tls`: `resolver_tls`, for an `https://` account server.
    pub fn new(config: Option<&Resolver>, tls: Option<&Tls>) -> AccountResolver {
        let kind = match config {
            None | Some(Resolver::Memory) => Kind::Memory,
            Some(Resolver::Dir(d)) => {
                // The cache resolver deletes what it evicts, and any delete request.
                let delete = match (d.full, d.allow_delete, d.hard_delete) {
                    (false, _, _) | (true, true, true) => Delete::Remove,
                    (true, true, false) => Delete::Rename,
                    (true, false, _) => Delete::No,
                };
                let bounds = if d.full { Bounds::full(d.limit) } else { Bounds::cache(d.limit, d.ttl) };
                let store = DirStore::open(PathBuf::from(&d.dir), bounds);
                Kind::Dir { store, full: d.full, delete, timeout: d.timeout }
            }
            Some(Resolver::Url(url)) => {
                let tls = tls.and_then(|t| match client_config(t) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::error!("resolver_tls: {e}");
                        None
                    }
                });
                Kind::Url { url: url.clone(), timeout: Duration::from_millis(1900), tls }
            }
        };
        AccountResolver { kind, jwts: RwLock::new(HashMap::new()) }
    }

    /// The directory of a directory resolver.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.store().map(DirStore::dir)
    }

    /// A directory resolver's files.
    pub fn store(&self) -> Option<&DirStore> {
        match &self.kind {
            Kind::Dir { store, .. } => Some(store),
            _ => None,
        }
    }

    /// How long a directory resolver waits for the cluster's answer to a
    /// lookup (`timeout`).
    pub fn fetch_timeout(&self) -> Option<Duration> {
        match &self.kind {
            Kind::Dir { timeout, .. } => Some(*timeout),
            _ => None,
        }
    }

    /// Whether this is a `full` directory resolver (the one that manages
    /// the directory alone).
    pub fn is_full(&self) -> bool {
        matches!(self.kind, Kind::Dir { full: true, .. })
    }

    /// The account's JWT, or nats-server's error text (a directory
    /// resolver's miss is [`MISSING`]: the caller asks the cluster).
    /// Blocking.
    pub fn fetch(&self, key: &str) -> Result<String, String> {
        if let Kind::Dir { store, .. } = &self.kind {
            return store.load(key).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => MISSING.to_string(),
                _ => e.to_string(),
            });
        }
        if let Some(jwt) = self.jwts.read().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Ok(jwt.clone());
        }
        let jwt = match &self.kind {
            Kind::Memory | Kind::Dir { .. } => return Err(MISSING.into()),
            Kind::Url { url, timeout, tls } => http_get(&format!("{url}{key}"), *timeout, tls.as_ref())?,
        };
        self.keep(key, &jwt);
        Ok(jwt)
    }

    /// Holds exactly `entries` (a memory resolver's new preloads).
    pub fn replace_all(&self, entries: BTreeMap<String, String>) {
        *self.jwts.write().unwrap_or_else(|e| e.into_inner()) = entries.into_iter().collect();
    }

    /// Reads the account's JWT from its source again (a directory resolver's
    /// file after it changed), forgetting the copy held. Blocking.
    pub fn refetch(&self, key: &str) -> Result<String, String> {
        if let Kind::Dir { store, .. } = &self.kind {
            return store.reload(key).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => MISSING.to_string(),
                _ => e.to_string(),
            });
        }
        self.jwts.write().unwrap_or_else(|e| e.into_inner()).remove(key);
        self.fetch(key)
    }

    /// Keeps `jwt` for `key` in memory (preload, claim update of a memory
    /// or URL resolver; a directory resolver's file is written by
    /// [`save_if_changed`](Self::save_if_changed)).
    pub fn keep(&self, key: &str, jwt: &str) {
        self.jwts.write().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), jwt.to_string());
    }

    /// Every account key held (and, for a directory resolver, on disk).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.jwts.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        keys.extend(self.files().into_iter().map(|(k, _)| k));
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
        match self.store() {
            Some(store) => store.write(key, jwt),
            None => Err(std::io::Error::other("invalid public key")),
        }
    }

    /// The account's file as it is, if there is one. Blocking.
    pub fn file(&self, key: &str) -> Option<String> {
        std::fs::read_to_string(self.path(key)?).ok()
    }

    /// Every `<key>.jwt` file of a directory resolver with its contents, by
    /// key (nats-server walks the directory in lexical order). Blocking.
    pub fn files(&self) -> Vec<(String, String)> {
        self.store().map(DirStore::read_all).unwrap_or_default()
    }

    /// Deletes the account's file as configured (renamed or removed); false
    /// when there was none. The account is forgotten either way. Blocking.
    pub fn delete(&self, key: &str) -> std::io::Result<bool> {
        let (Kind::Dir { delete, store, .. }, Some(path)) = (&self.kind, self.path(key)) else {
            return Err(std::io::Error::other("store is not set up to for delete"));
        };
        if *delete != Delete::No {
            store.forget(key);
        }
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
        self.store()?.path(key)
    }
}

/// The HTTPS client of `resolver_tls`: its `ca_file` (else the system's
/// roots), its client certificate if it has one, `insecure` to skip
/// verifying the account server (nats-server's `InsecureSkipVerify`).
fn client_config(tls: &Tls) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(ca) => {
            for cert in crate::tls::pem::load_ca(ca).map_err(|e| e.to_string())? {
                roots.add(cert).map_err(|e| e.to_string())?;
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(crate::tls::insecure::AcceptAnyServerCertificate(provider)))
    } else {
        builder.with_root_certificates(roots)
    };
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let pair = crate::tls::pem::load_key_pair(cert, key).map_err(|e| e.to_string())?;
            builder.with_client_auth_cert(pair.chain, pair.key).map_err(|e| e.to_string())?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A GET with a deadline, over HTTPS with `resolver_tls` (nats-server's URL
/// resolver: non-200 is `could not fetch <"url">: <status>`).
fn http_get(url: &str, timeout: Duration, tls: Option<&Arc<ClientConfig>>) -> Result<String, String> {
    let fail = |why: String| format!("could not fetch {url:?}: {why}");
    let (rest, secure) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (rest, None),
        (_, Some(rest)) => (rest, Some(tls.ok_or_else(|| fail("https needs resolver_tls".into()))?)),
        _ => return Err(fail("only http:// and https:// account servers are supported".into())),
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let default_port = if secure.is_some() { 443 } else { 80 };
    let with_port = if host.contains(':') { host.to_string() } else { format!("{host}:{default_port}") };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&with_port)
        .map_err(|e| fail(e.to_string()))?
        .next()
        .ok_or_else(|| fail("no address".into()))?;
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| fail(e.to_string()))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| fail(e.to_string()))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| fail(e.to_string()))?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: */*\r\n\r\n");
    let response = match secure {
        None => exchange(stream, &request),
        Some(config) => {
            let name = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_matches(['[', ']']).to_string();
            let name = ServerName::try_from(name).map_err(|e| fail(e.to_string()))?;
            let conn = ClientConnection::new(config.clone(), name).map_err(|e| fail(e.to_string()))?;
            exchange(StreamOwned::new(conn, stream), &request)
        }
    }
    .map_err(|e| fail(e.to_string()))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| fail("malformed response".into()))?;
    let status = head.lines().next().and_then(|l| l.split_once(' ')).map(|(_, s)| s.trim()).unwrap_or_default();
    if !status.starts_with("200") {
        return Err(fail(status.to_string()));
    }
    Ok(body.trim().to_string())
}

/// Sends the request and reads the whole response (at most 4 MiB). An
/// HTTPS server that closes without `close_notify` has still answered.
fn exchange<S: Read + Write>(mut stream: S, request: &str) -> std::io::Result<Vec<u8>> {
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut response = Vec::new();
    match stream.take(4 * 1024 * 1024).read_to_end(&mut response) {
        Ok(_) => Ok(response),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => Ok(response),
        Err(e) => Err(e),
    }
}
