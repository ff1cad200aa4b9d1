//! The running server.
//!
//! Messages: socket → [`session`] (generic over the stream; role client, or
//! route with clustering) → [`proto`] parser → the account's [`sublist`] →
//! [`deliver`] → each subscriber's [`outbound`] buffer → its writer → socket.
//!
//! Configuration: one compiled [`snapshot::Snapshot`] behind an `ArcSwap`;
//! [`state::ServerState::install`] swaps in a new one and wakes every connection,
//! which adopts it at its next event.

pub mod account;
pub mod account_config;
pub mod accounts;
pub mod adoption;
pub mod auth;
pub mod bind;
pub mod clock;
pub mod closed;
pub mod conn;
pub mod deliver;
pub mod errors;
pub mod facts;
pub mod files;
pub mod info;
pub mod interfaces;
pub mod jwt;
pub mod lame_duck;
pub mod listener;
pub mod names;
pub mod outbound;
pub mod permissions;
pub mod proto;
pub mod responses;
pub mod route;
pub mod service;
pub mod session;
pub mod snapshot;
pub mod stall;
pub mod state;
pub mod stats;
pub use crate::subject;
pub mod sublist;
