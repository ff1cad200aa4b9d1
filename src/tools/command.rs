//! The subcommands other than serving: `rnats NAME ARGS...` → the tool's exit
//! code, or `None` for a name that is not a tool.

use crate::options::Options;

/// Runs the tool `name` with its arguments; `None` when there is no such tool.
pub fn run(name: &str, rest: &[String]) -> Option<u8> {
    let code = match name {
        "check" => super::check::run(rest),
        "fmt" => super::fmt::run(rest),
        "bench" if rest.first().is_some_and(|a| a == "reload") => super::bench::reload::run(&rest[1..]),
        "bench" if rest.first().is_some_and(|a| a == "soak") => super::bench::soak::run(&rest[1..]),
        "bench" => super::bench::run(rest),
        "passwd" => super::passwd::run(rest),
        "top" => super::top::run(rest),
        "schema" => schema(rest),
        _ => return None,
    };
    Some(code)
}

/// `rnats schema [--file]`: `--file`, the schema of config files (from the
/// key table); without it, the schema of the resolved config (`check --dump`).
fn schema(rest: &[String]) -> u8 {
    let schema = if rest.iter().any(|a| a == "--file") {
        crate::conf::schema::config_file_schema()
    } else {
        Options::json_schema()
    };
    println!("{}", serde_json::to_string_pretty(&schema).unwrap_or_default());
    0
}
