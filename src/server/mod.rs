//! The running server.
//!
//! Messages: socket → [`session`] (generic over the stream; role client, or
//! route with clustering) → [`proto`] parser → the account's [`sublist`] →
//! [`deliver`] → each subscriber's [`outbound`] buffer → its writer → socket.
//!
//! Configuration: one compiled [`snapshot::Snapshot`] behind an `ArcSwap`;
//! [`state::ServerState::install`] swaps in a new one and wakes every connection,
//! which adopts it at its next event.

pub(crate) mod account;
pub(crate) mod account_config;
pub(crate) mod accounts;
pub(crate) mod adoption;
pub(crate) mod auth;
pub(crate) mod bind;
pub(crate) mod clock;
pub(crate) mod closed;
pub mod conn;
pub(crate) mod deliver;
pub mod errors;
pub(crate) mod facts;
pub(crate) mod files;
pub mod info;
pub(crate) mod interfaces;
pub mod jwt;
pub mod lame_duck;
pub mod last_reload;
pub(crate) mod listener;
pub mod match_cache;
pub mod operator;
pub(crate) mod outbound;
pub(crate) mod permissions;
pub mod proto;
pub(crate) mod responses;
pub mod route;
pub mod service;
pub mod session;
pub mod snapshot;
pub mod stall;
pub mod state;
pub(crate) mod stats;
pub mod system;
pub use crate::subject;
pub mod subject_filter;
pub mod sublist;
mod sublist_node;
