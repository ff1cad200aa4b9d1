//! TLS on rustls (ring provider): the `tls { ... }` block compiled into a
//! server config ([`config`]), the connection start-up in nats-server's order
//! ([`mod@establish`]) around a bounded handshake on any stream ([`mod@accept`]),
//! what it negotiated ([`negotiated`]), `verify_and_map` identities
//! ([`identity`], [`dn`], [`goname`]), route TLS ([`route`]), all speaking
//! nats-server's names and log texts ([`names`], [`help`]).
//!
//! How the server uses it:
//! 1. At (re)load: [`compile`]`(&tls)` → `ServerTls` (certificate files are
//!    read now; keep it in an `Arc`/`ArcSwap`, live connections keep theirs).
//!    [`check`] gives every problem with its [`Field`] for `rnats check`.
//!    Start-up log: `TLS required for client connections` (or `TLS available
//!    for client connections` with `allow_non_tls`, unless `handshake_first`
//!    without fallback, which also warns `Clients that are not using "TLS
//!    Handshake First" option will fail to connect`).
//! 2. Per client connection: [`fn@establish`] writes INFO (clear text, or
//!    through TLS with `handshake_first`), runs the handshake within
//!    `timeout` and logs nats-server's lines; the protocol then runs on the
//!    returned stream. A failure is already logged: close with reason `TLS
//!    Handshake Failure` (or `Write Error`), write nothing.
//! 3. `/connz`: `Negotiated::{version, cipher_suite}`, `peer_cert_info()`
//!    (with `auth`), `tls_first`; `/varz` `tls_cert_not_after`:
//!    `ServerTls::cert_not_after`.
//! 4. With `verify_and_map`, at CONNECT: [`map_peer_certs`] on
//!    `Negotiated::peer_certs` with the users' names picks the user (log its
//!    `debug` lines), or `Authorization Violation`.

pub(crate) mod accept;
pub(crate) mod config;
pub(crate) mod dn;
pub(crate) mod establish;
pub(crate) mod goname;
pub mod help;
pub(crate) mod identity;
pub(crate) mod insecure;
pub mod names;
pub mod negotiated;
pub(crate) mod pem;
pub(crate) mod resolver;
pub mod route;
pub(crate) mod verifier;

pub use accept::{accept, looks_like_tls, read_first_bytes, Accepted, HandshakeError};
pub use config::{check, compile, Field, ServerTls, TlsConfigError};
pub use establish::{establish, EstablishError, Established, Peer};
pub use identity::{map_peer_certs, map_user, CertIdentity, MapOutcome, MatchedBy};
pub use negotiated::{Negotiated, PeerCert, PinnedCerts};
pub use route::{compile_route, RouteTls};
