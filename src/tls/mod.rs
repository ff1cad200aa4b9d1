//! TLS on rustls (ring provider): the `tls { ... }` block compiled into a
//! server config ([`config`]), the handshake on any stream ([`accept`]), what
//! it negotiated ([`negotiated`]), and `verify_and_map` identities
//! ([`identity`], [`dn`], [`goname`]), all speaking nats-server's names and
//! log texts ([`names`], [`help`]).
//!
//! How a connection uses it (see the session layer):
//! 1. `compile(&opts.tls)` once per (re)load; keep the `Arc<ServerTls>`.
//! 2. Per connection: unless `handshake_first`, send INFO (with
//!    `tls_required`) in clear text; then [`accept::accept`]; then the NATS
//!    protocol on the returned stream.
//! 3. With `verify_and_map`, [`identity::map_user`] on the peer certificate
//!    picks the user at CONNECT.

pub mod accept;
pub mod config;
pub mod dn;
pub mod establish;
pub mod goname;
pub mod help;
pub mod identity;
pub mod names;
pub mod negotiated;
pub mod pem;
pub mod resolver;
pub mod route;
pub mod verifier;

pub use accept::{accept, looks_like_tls, read_first_bytes, Accepted, HandshakeError};
pub use config::{check, compile, Field, ServerTls, TlsConfigError};
pub use establish::{establish, EstablishError, Established, Peer};
pub use identity::{map_peer_certs, map_user, CertIdentity, MapOutcome, MatchedBy};
pub use negotiated::{Negotiated, PeerCert, PinnedCerts};
pub use route::{compile_route, RouteTls};
