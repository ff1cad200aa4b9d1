//! `rnats bench`: a load generator speaking the raw protocol, lean enough that
//! on a small machine the server is the bottleneck: plain blocking threads,
//! messages pre-encoded into large batches, a reader that counts messages by
//! skipping payloads without copying them. `--compare` starts rnats and the
//! reference nats-server side by side and alternates scenarios between them.

mod command;
mod compare;
mod config;
mod conn;
mod reload;
mod scenarios;
mod soak;
mod tls;
mod ws;

pub use command::{run, BenchArgs};
pub use config::Config;
pub use scenarios::{rss_bytes, run_scenario};
