//! The tools around the server, behind the `tools` feature (on by default):
//! the subcommands other than serving (`check`, `fmt`, `passwd`, `bench`,
//! `top`) and the process spawner the benchmarks and tests start servers
//! with. The server library does not use them, so a build without the
//! feature leaves out their dependencies (ratatui, rcgen).

pub(crate) mod bench;
pub(crate) mod check;
mod check_cluster;
mod check_map;
pub mod command;
pub(crate) mod fmt;
pub(crate) mod passwd;
pub(crate) mod reload;
pub mod spawn;
pub mod top;
