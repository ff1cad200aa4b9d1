//! The subcommands other than serving: `rnats NAME ARGS...` → the tool's exit
//! code, or `None` for a name that is not a tool.
//!
//! check, fmt, passwd, schema, bench and completions are read by clap (with
//! `--help`). `top` reads nats-top's Go-style flags (`-sort subs`), so clap
//! hands its arguments over untouched.

use clap::{CommandFactory, Parser, Subcommand};

use super::bench::BenchArgs;
use super::check::CheckArgs;
use super::fmt::FmtArgs;
use super::passwd::PasswdArgs;
use super::reload::ReloadArgs;
use crate::options::Options;

#[derive(Debug, Parser)]
#[command(name = "rnats", about = "A NATS message broker, a drop-in for nats-server 2.x", version)]
struct Tools {
    #[command(subcommand)]
    command: Tool,
}

#[derive(Debug, Subcommand)]
enum Tool {
    Check(CheckArgs),
    Fmt(FmtArgs),
    Passwd(PasswdArgs),
    /// Print the JSON Schema of the resolved config (`check --dump`).
    Schema {
        /// The schema of config files (from the key table) instead.
        #[arg(long)]
        file: bool,
    },
    /// Measure a server; --compare runs rnats and nats-server side by side
    /// (`bench reload`, `bench soak`).
    Bench(Box<BenchArgs>),
    /// A live view of a server's connections and traffic, as nats-top
    /// (`rnats top -h`).
    #[command(disable_help_flag = true)]
    Top {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Reload running servers' configuration and report what it did to
    /// them; --dry-run says what it would do.
    Reload(ReloadArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        shell: clap_complete::Shell,
    },
}

/// The tools' names, as the server's command line hands them over.
pub const NAMES: &[&str] = crate::cli::TOOL_NAMES;

/// Runs the tool `name` with its arguments; `None` when there is no such tool.
pub fn run(name: &str, rest: &[String]) -> Option<u8> {
    if !NAMES.contains(&name) {
        return None;
    }
    let go_style = name != "top";
    let argv = ["rnats", name].into_iter().map(String::from).chain(rest.iter().map(|a| {
        if go_style {
            double_dash(a)
        } else {
            a.clone()
        }
    }));
    let tools = match Tools::try_parse_from(argv) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.print();
            return Some(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    Some(match tools.command {
        Tool::Check(a) => super::check::run(&a),
        Tool::Fmt(a) => super::fmt::run(&a),
        Tool::Passwd(a) => super::passwd::run(&a),
        Tool::Schema { file } => schema(file),
        Tool::Bench(a) => super::bench::run(*a),
        Tool::Top { args } => super::top::run(&args),
        Tool::Reload(a) => super::reload::run(&a),
        Tool::Completions { shell } => {
            clap_complete::generate(shell, &mut Tools::command(), "rnats", &mut std::io::stdout());
            0
        }
    })
}

/// `-strict` → `--strict`: the tools took long options with one dash, as
/// Go programs do, before they were read by clap; such lines keep working.
/// Single letters (`-p`) and `-` (standard input) stay as they are.
fn double_dash(arg: &str) -> String {
    match arg.strip_prefix('-') {
        Some(rest) if rest.len() > 1 && rest.starts_with(|c: char| c.is_ascii_alphabetic()) => format!("--{rest}"),
        _ => arg.to_string(),
    }
}

/// `rnats schema [--file]`.
fn schema(file: bool) -> u8 {
    let schema = if file { crate::conf::schema::config_file_schema() } else { Options::json_schema() };
    println!("{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Tools::command().debug_assert();
    }

    #[test]
    fn go_style_long_options_still_work() {
        assert_eq!(double_dash("-strict"), "--strict");
        assert_eq!(double_dash("-format=json"), "--format=json");
        assert_eq!(double_dash("--dump"), "--dump");
        assert_eq!(double_dash("-p"), "-p");
        assert_eq!(double_dash("-"), "-");
        assert_eq!(double_dash("file.conf"), "file.conf");
    }

    #[test]
    fn every_name_is_a_subcommand() {
        let cmd = Tools::command();
        for name in NAMES {
            assert!(cmd.find_subcommand(name).is_some(), "{name}");
        }
    }
}
