//! `rnats bench`: a load generator speaking the raw protocol, lean enough that
//! on a small machine the server is the bottleneck: plain blocking threads,
//! messages pre-encoded into large batches, a reader that counts messages by
//! skipping payloads without copying them. `--compare` starts rnats and the
//! reference nats-server side by side and alternates scenarios between them.

mod command;
mod compare;
mod config;
mod conn;
pub mod reload;
mod scenarios;
pub mod soak;
mod tls;
mod ws;

pub use command::{run, BENCH_USAGE};
pub use config::{Config, Latency, Outcome, SCENARIOS};
pub use scenarios::{rss_bytes, run_scenario};
