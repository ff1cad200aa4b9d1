//! `rnats bench`: a load generator speaking the raw protocol, lean enough that
//! on a small machine the server is the bottleneck: plain blocking threads,
//! messages pre-encoded into large batches, a reader that counts messages by
//! skipping payloads without copying them. `--compare` starts rnats and the
//! reference nats-server side by side and alternates scenarios between them.

mod accounts;
mod command;
mod compare;
mod conf_file;
mod config;
mod conn;
mod memory;
mod reload;
mod reqrep;
mod scenarios;
mod soak;
mod steady;
mod tls;
mod workloads;
mod ws;

pub use command::{run, BenchArgs};
pub use config::Config;
pub use memory::rss_bytes;
pub use scenarios::run_scenario;
