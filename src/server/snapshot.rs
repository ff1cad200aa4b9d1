//! One compiled configuration: the options plus everything that is expensive
//! to derive from them: the credential index with compiled permissions, the
//! compiled `tls` block (client port and HTTPS monitoring) and `cluster.tls`,
//! the compiled route permissions, the websocket listener's settings, and the
//! config file's digest and load time. A reload's successor re-reads the
//! certificates and shares the compiled permissions that did not change.
//!
//! The running server holds exactly one current snapshot behind an `ArcSwap`.
//! Connections keep an `Arc` to the snapshot they run under and compare its
//! generation with the server's at their next event (a read chunk, a timer, a
//! wakeup), never per message; a reload compiles a whole new snapshot first
//! and swaps it in with one store, so no connection ever sees half of a change.

use std::time::SystemTime;

use std::sync::Arc;

use super::auth::AuthIndex;
use super::proto::Limits;
use crate::options::Options;
use crate::tls::ServerTls;

pub struct Snapshot {
    /// Starts at 1 and goes up by one with each installed snapshot.
    pub generation: u64,
    pub opts: Options,
    pub auth: AuthIndex,
    /// The compiled `tls` block: certificates read when the snapshot was
    /// compiled, used by new connections (live ones keep their session).
    /// Also serves the HTTPS monitoring port.
    pub tls: Option<Arc<ServerTls>>,
    /// The compiled `cluster.tls` block (both sides of route TLS).
    pub route_tls: Option<Arc<crate::tls::RouteTls>>,
    /// `cluster.permissions`: `publish` is what this server imports (asks
    /// its peers for), `subscribe` what it exports.
    pub route_perms: Option<Arc<super::permissions::CompiledPermissions>>,
    /// The compiled `websocket` block, when a websocket listener is configured.
    pub websocket: Option<Arc<crate::websocket::Runtime>>,
    /// `sha256:<hex>` of the config file's contents, when there is one.
    pub config_digest: Option<String>,
    /// When this configuration was loaded.
    pub loaded_at: SystemTime,
}

impl Snapshot {
    /// Compiles `opts`, which must already be validated. Fails only on what
    /// the config check cannot see ahead of time (a certificate file that
    /// changed or vanished since).
    pub fn compile(opts: Options, generation: u64, config_digest: Option<String>) -> Result<Snapshot, String> {
        let tls = compile_tls(&opts)?;
        Ok(Snapshot {
            generation,
            auth: AuthIndex::new(&opts),
            tls,
            route_tls: compile_route_tls(&opts)?,
            route_perms: compile_route_perms(&opts),
            websocket: crate::websocket::Runtime::compile(&opts, None)?.map(Arc::new),
            opts,
            config_digest,
            loaded_at: SystemTime::now(),
        })
    }

    /// The next snapshot, for `opts`: its generation follows this one, and
    /// compiled permissions that did not change are shared with it.
    /// Certificate files are read again, so renewed certificates reach new
    /// connections.
    pub fn successor(&self, opts: Options, config_digest: Option<String>) -> Result<Snapshot, String> {
        let parts = self.compile_next(&opts)?;
        Ok(self.successor_from(parts, opts, config_digest))
    }

    /// What takes time in [`Snapshot::successor`], from borrowed options, so
    /// that a reload can diff the same options on another thread meanwhile.
    pub fn compile_next(&self, opts: &Options) -> Result<NextParts, String> {
        Ok(NextParts {
            auth: AuthIndex::compile(opts, Some(&self.auth)),
            tls: compile_tls(opts)?,
            route_tls: compile_route_tls(opts)?,
            route_perms: compile_route_perms(opts),
            websocket: crate::websocket::Runtime::compile(opts, self.websocket.as_deref())?.map(Arc::new),
        })
    }

    /// The next snapshot from `parts`, compiled from these `opts`.
    pub fn successor_from(&self, parts: NextParts, opts: Options, config_digest: Option<String>) -> Snapshot {
        let NextParts { auth, tls, route_tls, route_perms, websocket } = parts;
        Snapshot {
            generation: self.generation + 1,
            opts,
            auth,
            tls,
            route_tls,
            route_perms,
            websocket,
            config_digest,
            loaded_at: SystemTime::now(),
        }
    }

    /// Who clients of this kind may be: websocket clients have an index of
    /// their own (see [`crate::websocket::Runtime`]).
    pub fn auth_for(&self, websocket: bool) -> &AuthIndex {
        match (websocket, &self.websocket) {
            (true, Some(ws)) => &ws.auth,
            _ => &self.auth,
        }
    }

    /// The parser's limits for client connections.
    /// A client's limits before its CONNECT (which may turn headers on).
    pub fn client_limits(&self) -> Limits {
        Limits { max_control_line: self.opts.max_control_line, max_payload: self.opts.max_payload, headers: false }
    }
}

/// The compiled parts of a next snapshot (see [`Snapshot::compile_next`]).
pub struct NextParts {
    auth: AuthIndex,
    tls: Option<Arc<ServerTls>>,
    route_tls: Option<Arc<crate::tls::RouteTls>>,
    route_perms: Option<Arc<super::permissions::CompiledPermissions>>,
    websocket: Option<Arc<crate::websocket::Runtime>>,
}

impl NextParts {
    /// The users and their permissions the next snapshot will check
    /// clients against (a reload's dry run asks it).
    pub fn auth(&self) -> &AuthIndex {
        &self.auth
    }
}

fn compile_tls(opts: &Options) -> Result<Option<Arc<ServerTls>>, String> {
    match &opts.tls {
        Some(t) => crate::tls::compile(t).map(|c| Some(Arc::new(c))).map_err(|e| format!("tls: {e}")),
        None => Ok(None),
    }
}

fn compile_route_tls(opts: &Options) -> Result<Option<Arc<crate::tls::RouteTls>>, String> {
    match opts.cluster.as_ref().and_then(|c| c.tls.as_ref()) {
        Some(t) => crate::tls::compile_route(t).map(|c| Some(Arc::new(c))).map_err(|e| format!("cluster tls: {e}")),
        None => Ok(None),
    }
}

fn compile_route_perms(opts: &Options) -> Option<Arc<super::permissions::CompiledPermissions>> {
    opts.route_permissions().map(|p| Arc::new(super::permissions::CompiledPermissions::new(&p)))
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("generation", &self.generation).finish_non_exhaustive()
    }
}
