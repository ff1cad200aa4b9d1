//! nats-server's command line, parsed the way Go's `flag` package does it.
//!
//! Every flag works with one dash or two (`-routes`, `--routes`), values come as
//! `-p 4222`, `-p=4222` or `--port=4222`, boolean flags take a value only after
//! `=` (`-T=false`), and the combined forms nats-server defines (`-DV`, `-DVV`,
//! `-VV`) are flags of their own. Parsing stops at the first non-flag word,
//! which is a command (`version`, `help`, `check`, `passwd`).
//!
//! Flags become a [`FlagOverlay`]: values that override the config file, at
//! startup and again on every reload, as in nats-server.

use crate::features::{Feature, Support};
pub use crate::goflag::parse_go_bool;
use crate::goflag::{GoFlagError, GoFlags};
pub use crate::options::FlagOverlay;
use crate::options::Port;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    Addr,
    Port,
    Name,
    Pid,
    HttpPort,
    HttpsPort,
    Config,
    TestConfig,
    Watch,
    Signal,
    ClientAdvertise,
    PortsFileDir,
    Log,
    LogTime,
    LogTimeUtc,
    Syslog,
    RemoteSyslog,
    Debug,
    Trace,
    TraceVerbose,
    DebugTrace,
    DebugTraceVerbose,
    LogSizeLimit,
    MaxTracedMsgLen,
    JetStream,
    StoreDir,
    User,
    Pass,
    Auth,
    Tls,
    TlsCert,
    TlsKey,
    TlsVerify,
    TlsCaCert,
    Routes,
    Cluster,
    ClusterListen,
    ClusterName,
    NoAdvertise,
    ClusterAdvertise,
    ConnectRetries,
    Profile,
    Help,
    HelpTls,
    Version,
}

struct Flag {
    names: &'static [&'static str],
    kind: Kind,
    id: Id,
    /// Whether rnats implements the flag is its feature's, as for the config
    /// keys of that feature: one policy (`Feature::support`) for both.
    feature: Feature,
}

const FLAGS: &[Flag] = &[
    Flag { names: &["a", "addr", "net"], kind: Kind::Value, id: Id::Addr, feature: Feature::Core },
    Flag { names: &["p", "port"], kind: Kind::Value, id: Id::Port, feature: Feature::Core },
    Flag { names: &["n", "name", "server_name"], kind: Kind::Value, id: Id::Name, feature: Feature::Core },
    Flag { names: &["P", "pid"], kind: Kind::Value, id: Id::Pid, feature: Feature::Core },
    Flag { names: &["m", "http_port"], kind: Kind::Value, id: Id::HttpPort, feature: Feature::Monitoring },
    Flag { names: &["ms", "https_port"], kind: Kind::Value, id: Id::HttpsPort, feature: Feature::Monitoring },
    Flag { names: &["c", "config"], kind: Kind::Value, id: Id::Config, feature: Feature::Core },
    Flag { names: &["t"], kind: Kind::Bool, id: Id::TestConfig, feature: Feature::Core },
    Flag { names: &["watch"], kind: Kind::Bool, id: Id::Watch, feature: Feature::Core },
    Flag { names: &["sl", "signal"], kind: Kind::Value, id: Id::Signal, feature: Feature::Core },
    Flag { names: &["client_advertise"], kind: Kind::Value, id: Id::ClientAdvertise, feature: Feature::Core },
    Flag { names: &["ports_file_dir"], kind: Kind::Value, id: Id::PortsFileDir, feature: Feature::Core },
    Flag { names: &["l", "log"], kind: Kind::Value, id: Id::Log, feature: Feature::Core },
    Flag { names: &["T", "logtime"], kind: Kind::Bool, id: Id::LogTime, feature: Feature::Core },
    Flag { names: &["logtime_utc"], kind: Kind::Bool, id: Id::LogTimeUtc, feature: Feature::Core },
    Flag { names: &["s", "syslog"], kind: Kind::Bool, id: Id::Syslog, feature: Feature::Syslog },
    Flag { names: &["r", "remote_syslog"], kind: Kind::Value, id: Id::RemoteSyslog, feature: Feature::Syslog },
    Flag { names: &["D", "debug"], kind: Kind::Bool, id: Id::Debug, feature: Feature::Core },
    Flag { names: &["V", "trace"], kind: Kind::Bool, id: Id::Trace, feature: Feature::Core },
    Flag { names: &["VV"], kind: Kind::Bool, id: Id::TraceVerbose, feature: Feature::Core },
    Flag { names: &["DV"], kind: Kind::Bool, id: Id::DebugTrace, feature: Feature::Core },
    Flag { names: &["DVV"], kind: Kind::Bool, id: Id::DebugTraceVerbose, feature: Feature::Core },
    Flag { names: &["log_size_limit"], kind: Kind::Value, id: Id::LogSizeLimit, feature: Feature::LogRotation },
    Flag {
        names: &["max_traced_msg_len"],
        kind: Kind::Value,
        id: Id::MaxTracedMsgLen,
        feature: Feature::TraceTruncation,
    },
    Flag { names: &["js", "jetstream"], kind: Kind::Bool, id: Id::JetStream, feature: Feature::JetStream },
    Flag { names: &["sd", "store_dir"], kind: Kind::Value, id: Id::StoreDir, feature: Feature::JetStream },
    Flag { names: &["user"], kind: Kind::Value, id: Id::User, feature: Feature::Core },
    Flag { names: &["pass"], kind: Kind::Value, id: Id::Pass, feature: Feature::Core },
    Flag { names: &["auth"], kind: Kind::Value, id: Id::Auth, feature: Feature::Core },
    Flag { names: &["tls"], kind: Kind::Bool, id: Id::Tls, feature: Feature::Tls },
    Flag { names: &["tlscert"], kind: Kind::Value, id: Id::TlsCert, feature: Feature::Tls },
    Flag { names: &["tlskey"], kind: Kind::Value, id: Id::TlsKey, feature: Feature::Tls },
    Flag { names: &["tlsverify"], kind: Kind::Bool, id: Id::TlsVerify, feature: Feature::Tls },
    Flag { names: &["tlscacert"], kind: Kind::Value, id: Id::TlsCaCert, feature: Feature::Tls },
    Flag { names: &["routes"], kind: Kind::Value, id: Id::Routes, feature: Feature::Cluster },
    Flag { names: &["cluster"], kind: Kind::Value, id: Id::Cluster, feature: Feature::Cluster },
    Flag { names: &["cluster_listen"], kind: Kind::Value, id: Id::ClusterListen, feature: Feature::Cluster },
    Flag { names: &["cluster_name"], kind: Kind::Value, id: Id::ClusterName, feature: Feature::Cluster },
    Flag { names: &["no_advertise"], kind: Kind::Bool, id: Id::NoAdvertise, feature: Feature::Cluster },
    Flag { names: &["cluster_advertise"], kind: Kind::Value, id: Id::ClusterAdvertise, feature: Feature::Cluster },
    Flag { names: &["connect_retries"], kind: Kind::Value, id: Id::ConnectRetries, feature: Feature::Cluster },
    Flag { names: &["profile"], kind: Kind::Value, id: Id::Profile, feature: Feature::Profiling },
    Flag { names: &["h", "help"], kind: Kind::Bool, id: Id::Help, feature: Feature::Core },
    Flag { names: &["help_tls"], kind: Kind::Bool, id: Id::HelpTls, feature: Feature::Core },
    Flag { names: &["v", "version"], kind: Kind::Bool, id: Id::Version, feature: Feature::Core },
];

/// Running the server, as configured by flags (and maybe a file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServeArgs {
    pub config: Option<String>,
    /// `-t`: check the configuration and exit.
    pub test_config: bool,
    /// `--watch`: reload when the config file (or an include, or a TLS file
    /// it names) changes. A flag, not a config key: nats-server refuses
    /// unknown keys, so a config file stays portable.
    pub watch: bool,
    /// `--signal CMD[=PID]`: signal a running server and exit.
    pub signal: Option<String>,
    pub overlay: FlagOverlay,
    /// Notes about accepted flags whose feature is absent.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Serve(Box<ServeArgs>),
    Help,
    HelpTls,
    Version,
    /// A subcommand and its own arguments (`check`, `passwd`).
    Sub(String, Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("flag provided but not defined: -{0}")]
    Unknown(String),
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    BadValue { flag: String, value: String, reason: String },
    #[error("bad flag syntax: {0}")]
    Syntax(String),
    #[error("{0}")]
    Invalid(String),
    #[error("unrecognized command: {0:?}")]
    UnknownCommand(String),
    #[error("-{flag}: {reason}")]
    Unsupported { flag: String, reason: &'static str },
}

impl From<GoFlagError> for CliError {
    fn from(e: GoFlagError) -> Self {
        match e {
            GoFlagError::Syntax(arg) => CliError::Syntax(arg),
            GoFlagError::MissingValue(flag) => CliError::MissingValue(flag),
            GoFlagError::BadBool { flag, value } => CliError::BadValue { flag, value, reason: "parse error".into() },
        }
    }
}

fn lookup(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.names.contains(&name))
}

fn parse_port(flag: &str, v: &str) -> Result<Port, CliError> {
    let bad = |reason: &str| CliError::BadValue { flag: flag.into(), value: v.into(), reason: reason.into() };
    if v.eq_ignore_ascii_case("random") {
        return Ok(Port::Random);
    }
    let n: i64 = v.parse().map_err(|_| bad("parse error"))?;
    match n {
        -1 => Ok(Port::Random),
        0..=65535 => Ok(Port::Fixed(n as u16)),
        _ => Err(bad("port must be between 0 and 65535, or -1 for a random port")),
    }
}

/// A non-negative integer flag value (Go's `flag.Int64` refuses the rest).
fn parse_number(flag: &str, v: &str) -> Result<u64, CliError> {
    v.parse::<u64>().map_err(|_| CliError::BadValue {
        flag: flag.into(),
        value: v.into(),
        reason: "parse error".into(),
    })
}

/// `-m`/`-ms`: a port, or -1 for a random one.
fn parse_port_number(flag: &str, v: &str) -> Result<i64, CliError> {
    Ok(match parse_port(flag, v)? {
        Port::Fixed(p) => p as i64,
        Port::Random => -1,
    })
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, CliError> {
    let mut serve = ServeArgs::default();
    let mut flags = GoFlags::new(args);
    let mut help = None;
    while let Some(given) = flags.next_flag()? {
        let name = given.name;
        let flag = lookup(name).ok_or_else(|| CliError::Unknown(name.to_string()))?;
        let value = match flag.kind {
            Kind::Bool => GoFlags::boolean(&given)?.to_string(),
            Kind::Value => flags.value(&given)?.to_string(),
        };
        let on = || parse_go_bool(&value).unwrap_or(false);
        match flag.feature.support() {
            Support::Implemented => {}
            // Still taken into the overlay below: the flag works the day its
            // feature does.
            Support::Ignored(why) => serve.warnings.push(format!("-{name}: {why}")),
            Support::Refused(why) => return Err(CliError::Unsupported { flag: name.into(), reason: why }),
        }
        let o = &mut serve.overlay;
        match flag.id {
            Id::Addr => o.host = Some(value),
            Id::Port => o.port = Some(parse_port(name, &value)?),
            Id::Name => o.server_name = Some(value),
            Id::Pid => o.pid_file = Some(value),
            Id::Config => serve.config = Some(value),
            Id::TestConfig => serve.test_config = on(),
            Id::Watch => serve.watch = on(),
            Id::Signal => serve.signal = Some(value),
            Id::ClientAdvertise => o.client_advertise = Some(value),
            Id::PortsFileDir => o.ports_file_dir = Some(value),
            Id::Log => o.log_file = Some(value),
            Id::LogTime => o.logtime = Some(on()),
            Id::LogTimeUtc => o.logtime_utc = Some(on()),
            Id::Debug => o.debug = Some(on()),
            Id::Trace => o.trace = Some(on()),
            Id::TraceVerbose => {
                o.trace = Some(on());
                o.trace_verbose = Some(on());
            }
            Id::DebugTrace => {
                o.debug = Some(on());
                o.trace = Some(on());
            }
            Id::DebugTraceVerbose => {
                o.debug = Some(on());
                o.trace = Some(on());
                o.trace_verbose = Some(on());
            }
            Id::MaxTracedMsgLen => o.max_traced_msg_len = Some(parse_number(name, &value)?),
            Id::LogSizeLimit => o.log_size_limit = Some(parse_number(name, &value)?),
            Id::HttpPort => o.http_port = Some(parse_port_number(name, &value)?),
            Id::HttpsPort => o.https_port = Some(parse_port_number(name, &value)?),
            Id::Syslog => o.syslog = Some(on()),
            Id::RemoteSyslog => o.remote_syslog = Some(value),
            Id::User => o.username = Some(value),
            Id::Pass => o.password = Some(value),
            Id::Auth => o.token = Some(value),
            Id::Tls => o.tls = Some(on()),
            Id::TlsCert => o.tls_cert = Some(value),
            Id::TlsKey => o.tls_key = Some(value),
            Id::TlsCaCert => o.tls_ca_cert = Some(value),
            Id::TlsVerify => o.tls_verify = Some(on()),
            Id::Cluster | Id::ClusterListen => o.cluster_listen = Some(value),
            Id::Routes => o.routes = Some(value),
            Id::ClusterName => o.cluster_name = Some(value),
            Id::NoAdvertise => o.no_advertise = Some(on()),
            Id::ClusterAdvertise => o.cluster_advertise = Some(value),
            Id::ConnectRetries => {
                o.connect_retries = Some(value.parse().map_err(|_| CliError::BadValue {
                    flag: name.into(),
                    value: value.clone(),
                    reason: "parse error".into(),
                })?)
            }
            Id::Help if on() => help = Some(Command::Help),
            Id::HelpTls if on() => help = Some(Command::HelpTls),
            Id::Version if on() => help = help.or(Some(Command::Version)),
            _ => {}
        }
    }
    // nats-server's checks when TLS comes from flags.
    if serve.overlay.tls != Some(false) && serve.overlay.tls_override() {
        if serve.overlay.tls_cert.is_none() {
            return Err(CliError::Invalid("TLS Server certificate must be present and valid".into()));
        }
        if serve.overlay.tls_key.is_none() {
            return Err(CliError::Invalid("TLS Server private key must be present and valid".into()));
        }
    }
    if let Some(cmd) = help {
        return Ok(cmd);
    }
    let rest = flags.rest();
    match rest.first().map(String::as_str) {
        None => Ok(Command::Serve(Box::new(serve))),
        Some("version") => Ok(Command::Version),
        Some("help") => Ok(Command::Help),
        Some(sub) if TOOL_NAMES.contains(&sub) => Ok(Command::Sub(sub.to_string(), rest[1..].to_vec())),
        Some(other) => Err(CliError::UnknownCommand(other.to_string())),
    }
}

/// The subcommands (`src/tools`), which the server's command line hands
/// over with the arguments after them.
pub const TOOL_NAMES: &[&str] = &["check", "fmt", "passwd", "schema", "bench", "top", "reload", "completions"];

/// The server's usage text (`rnats --help`), nats-server's layout.
pub const USAGE: &str = include_str!("cli_usage.txt");

/// The usage text, with the flags rnats does not implement yet listed from
/// the same feature table as the config keys.
pub fn usage() -> String {
    let list = |pick: fn(Support) -> bool| {
        FLAGS
            .iter()
            .filter(|f| pick(f.feature.support()))
            .map(|f| {
                f.names
                    .iter()
                    .map(|n| if n.len() <= 2 { format!("-{n}") } else { format!("--{n}") })
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ignored = list(|s| matches!(s, Support::Ignored(_)));
    let refused = list(|s| matches!(s, Support::Refused(_)));
    let mut out = USAGE.to_string();
    if !ignored.is_empty() {
        out.push_str(&format!("\nAccepted, not implemented yet (a warning is logged):\n    {ignored}\n"));
    }
    if !refused.is_empty() {
        out.push_str(&format!("Not implemented yet (refused):\n    {refused}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn serve(s: &str) -> ServeArgs {
        match parse(&argv(s)).expect("parses") {
            Command::Serve(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn go_flag_forms() {
        let a = serve("-p 4333 --addr=127.0.0.1 -n=x --pid /tmp/p -DV");
        assert_eq!(a.overlay.port, Some(Port::Fixed(4333)));
        assert_eq!(a.overlay.host.as_deref(), Some("127.0.0.1"));
        assert_eq!(a.overlay.server_name.as_deref(), Some("x"));
        assert_eq!(a.overlay.pid_file.as_deref(), Some("/tmp/p"));
        assert_eq!((a.overlay.debug, a.overlay.trace), (Some(true), Some(true)));
        assert_eq!(serve("--port=5").overlay.port, Some(Port::Fixed(5)));
        assert_eq!(serve("-port 5").overlay.port, Some(Port::Fixed(5)));
        assert_eq!(serve("-p -1").overlay.port, Some(Port::Random));
        assert_eq!(serve("-p RANDOM").overlay.port, Some(Port::Random));
        assert_eq!(serve("-T=false").overlay.logtime, Some(false));
        assert_eq!(serve("-c a.conf -t").config.as_deref(), Some("a.conf"));
        assert!(serve("-c a.conf -t").test_config);
        assert_eq!(serve("--user a --pass b").overlay.password.as_deref(), Some("b"));
    }

    #[test]
    fn errors() {
        assert_eq!(parse(&argv("-x")), Err(CliError::Unknown("x".into())));
        assert_eq!(parse(&argv("-VD")), Err(CliError::Unknown("VD".into())));
        assert_eq!(parse(&argv("-p")), Err(CliError::MissingValue("p".into())));
        assert!(matches!(parse(&argv("-p abc")), Err(CliError::BadValue { .. })));
        assert!(matches!(parse(&argv("-p 70000")), Err(CliError::BadValue { .. })));
        assert!(matches!(parse(&argv("-D=maybe")), Err(CliError::BadValue { .. })));
        assert_eq!(parse(&argv("-T false")), Err(CliError::UnknownCommand("false".into())));
        assert_eq!(
            parse(&argv("--tls")),
            Err(CliError::Invalid("TLS Server certificate must be present and valid".into()))
        );
        assert_eq!(parse(&argv("---p 1")), Err(CliError::Syntax("---p".into())));
    }

    #[test]
    fn tls_from_flags_replaces_the_file_block() {
        let a = serve("--tlscert c.pem --tlskey k.pem --tlsverify");
        let mut o = Options {
            tls: Some(crate::options::Tls { ca_file: Some("file-ca.pem".into()), ..Default::default() }),
            ..Options::default()
        };
        a.overlay.apply(&mut o);
        let t = o.tls.expect("tls from flags");
        assert_eq!(
            (t.cert_file.as_deref(), t.key_file.as_deref(), t.ca_file, t.verify),
            (Some("c.pem"), Some("k.pem"), None, true)
        );
        let mut o = Options { tls: Some(Default::default()), ..Options::default() };
        serve("-tls=false").overlay.apply(&mut o);
        assert!(o.tls.is_none(), "-tls=false turns TLS off");
    }

    #[test]
    fn cluster_flags() {
        let a = serve("--cluster nats://ru:rp@127.0.0.1:-1 --routes nats-route://a:1,nats-route://b:2 --cluster_name C1 --no_advertise --cluster_advertise 10.0.0.1:7 --connect_retries 3");
        let mut o = Options::default();
        a.overlay.apply(&mut o);
        a.overlay.check(&o).unwrap();
        let c = o.cluster.expect("a cluster from --cluster");
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", Port::Random));
        assert_eq!(c.routes, vec!["nats-route://a:1".to_string(), "nats-route://b:2".to_string()]);
        assert_eq!(
            (c.name.as_deref(), c.no_advertise, c.advertise.as_deref(), c.connect_retries),
            (Some("C1"), true, Some("10.0.0.1:7"), 3)
        );
        let auth = c.authorization.expect("credentials from the URL");
        assert_eq!((auth.user.as_deref(), auth.password.as_ref().map(|p| p.expose())), (Some("ru"), Some("rp")));

        let a = serve("--routes nats-route://a:1");
        let mut o = Options::default();
        a.overlay.apply(&mut o);
        assert_eq!(a.overlay.check(&o), Err("solicited routes require cluster capabilities, e.g. --cluster".into()));
        let a = serve("--cluster nats://u@h:1");
        assert_eq!(a.overlay.check(&Options::default()), Err("expected cluster password to be set".into()));
        let mut o = Options { cluster: Some(Default::default()), ..Options::default() };
        serve("--cluster=").overlay.apply(&mut o);
        assert!(o.cluster.is_none(), "an empty --cluster turns clustering off");
    }

    #[test]
    fn commands() {
        assert_eq!(parse(&argv("version")), Ok(Command::Version));
        assert_eq!(parse(&argv("-v")), Ok(Command::Version));
        assert_eq!(parse(&argv("--help")), Ok(Command::Help));
        assert_eq!(parse(&argv("check a b")), Ok(Command::Sub("check".into(), argv("a b"))));
        let a = serve("-js -sd /tmp/x");
        assert_eq!(a.warnings.len(), 2);
    }

    #[test]
    fn one_policy_for_flags_and_keys() {
        // -sd warns with the words the config note for `store_dir` uses;
        // -m (implemented) carries its value without a warning.
        let a = serve("-sd /tmp/x -m 8222 --max_traced_msg_len 64 --log_size_limit 1000");
        let Support::Ignored(why) = crate::conf::keys::support("store_dir").unwrap() else {
            panic!("store_dir is expected to be ignored in this build");
        };
        assert!(a.warnings.iter().any(|w| w == &format!("-sd: {why}")), "{:?}", a.warnings);
        assert!(!a.warnings.iter().any(|w| w.starts_with("-m:")), "{:?}", a.warnings);
        assert_eq!(a.overlay.http_port, Some(8222));
        assert_eq!(a.overlay.max_traced_msg_len, Some(64), "no longer parsed and dropped");
        let mut o = Options::default();
        a.overlay.apply(&mut o);
        assert_eq!((o.max_traced_msg_len, o.log_size_limit, o.http_port), (64, 1000, Some(8222)));
        assert!(matches!(parse(&argv("--max_traced_msg_len x")), Err(CliError::BadValue { .. })));
        assert!(usage().contains("--routes"), "cluster flags are listed in the usage");
    }
}
