//! The tables themselves: every block of keys nats-server 2.15 knows, and
//! the custom value types, one file per part of a config (the top level,
//! authorization, TLS, cluster and gateways, leaf nodes, the websocket and
//! MQTT listeners, JetStream, accounts). See the parent module for what each
//! field means.

use super::*;
use crate::conf::{setters, validate, values};

use Reload::{Partly, Reloadable as Yes, ReloadableInRnats as RnatsOnly, Restart};

const I32_MAX: i64 = i32::MAX as i64;

const WRITE_TIMEOUT: &[&str] = &["default", "close", "retry"];

macro_rules! custom {
    ($name:ident, $describe:expr, $schema:expr, $check:expr) => {
        custom!($name, $describe, $schema, $check, Inner::None);
    };
    ($name:ident, $describe:expr, $schema:expr, $check:expr, $inner:expr) => {
        pub static $name: Custom = Custom { describe: $describe, inner: $inner, schema: $schema, check: $check };
    };
}

mod accounts;
mod auth;
mod cluster;
mod jetstream;
mod leafnodes;
mod tls;
mod top;
mod types;
mod websocket;

pub use accounts::*;
pub use auth::*;
pub use cluster::*;
pub use jetstream::*;
use leafnodes::*;
pub use tls::*;
pub use top::*;
pub use types::*;
pub use websocket::*;
