//! rnats: a NATS message broker, a drop-in for nats-server 2.x.
//!
//! Two flows shape the crate.
//!
//! **Configuration**: config file → [`conf`] (the pest grammar in
//! `grammar/nats.pest` → a value tree with spans → typed, validated
//! [`options::Options`], every problem reported at `file:line:col`) → command
//! line flags laid over it ([`cli::FlagOverlay`]) → one compiled
//! [`server::snapshot::Snapshot`] (options, credential index, compiled
//! permissions) in an `ArcSwap` → the running [`server`]. A reload builds a
//! new snapshot the same way and swaps it in with one store.
//!
//! **Messages**: socket → [`server::session`] (generic over the stream: TCP,
//! TLS, in-memory; role: client, or route) → [`server::proto`] parser
//! (borrows the read buffer) → the account's [`server::sublist`] (match
//! cached per connection) → [`server::deliver`] (permission filters, one
//! member per queue group) → each subscriber's [`server::outbound`] buffer →
//! its writer task → socket, one write per batch.
//!
//! **Public API.** The library exists for the `rnats` binary and for what
//! tests the server from outside; every module is crate-private unless one
//! of them needs it, and going private is how dead code shows up:
//! - `main.rs` wires [`cli`], [`check`], [`conf`], [`options`], [`launch`],
//!   [`logging`], [`reload`], [`server`], [`signals`], [`sd_notify`], [`tls`]
//!   and [`tools`] (`command::run`);
//! - the integration tests (`tests/`) also drive [`server`] directly
//!   (sessions over in-memory streams), [`mapping`], [`monitor`]
//!   (`connz::SortBy`, `gotime`) and `rnats top` through [`tools`];
//! - `benches/` measure the parser and the subscription index in
//!   [`server`]; the `fuzz/` targets feed [`conf`], [`options`], [`reload`],
//!   [`server`], [`monitor`] and [`secret`];
//! - [`subject`] is public as `server::subject` (tests, doctests).
//!
//! Within the public modules, submodules nothing outside uses are
//! crate-private too (tools, monitor, tls, mapping, logging, server, conf).

// The module docs are a map of the internals for whoever works on rnats, and
// name crate-private modules on purpose: read them with
// `cargo doc --document-private-items`.
#![allow(rustdoc::private_intra_doc_links)]

pub mod check;
pub mod cli;
pub mod conf;
pub(crate) mod features;
pub(crate) mod goflag;
pub(crate) mod gotext;
pub mod launch;
pub mod logging;
pub mod mapping;
pub mod monitor;
pub mod options;
pub(crate) mod origin;
pub mod reload;
pub mod sd_notify;
pub mod secret;
pub mod server;
pub mod signals;
pub mod subject;
pub mod tls;
#[cfg(feature = "tools")]
pub mod tools;
pub(crate) mod websocket;
