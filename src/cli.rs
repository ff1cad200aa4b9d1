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

use crate::options::{Options, Port};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Value,
}

/// What rnats does with a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Support {
    Yes,
    /// Accepted with a warning: the feature is absent but running without it
    /// is safe (JetStream, monitoring, profiling).
    Ignored(&'static str),
    /// Refused: running without it would quietly weaken the deployment
    /// (TLS, clustering).
    Refused(&'static str),
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
    support: Support,
}

const NO_JS: Support = Support::Ignored("JetStream is not supported by rnats; running without it");
const NO_MON: Support = Support::Ignored("HTTP monitoring is not implemented yet; running without it");
const NO_TLS: Support = Support::Refused("TLS is not implemented yet");
const NO_CLUSTER: Support = Support::Refused("clustering is not implemented yet");

const FLAGS: &[Flag] = &[
    Flag { names: &["a", "addr", "net"], kind: Kind::Value, id: Id::Addr, support: Support::Yes },
    Flag { names: &["p", "port"], kind: Kind::Value, id: Id::Port, support: Support::Yes },
    Flag { names: &["n", "name", "server_name"], kind: Kind::Value, id: Id::Name, support: Support::Yes },
    Flag { names: &["P", "pid"], kind: Kind::Value, id: Id::Pid, support: Support::Yes },
    Flag { names: &["m", "http_port"], kind: Kind::Value, id: Id::HttpPort, support: NO_MON },
    Flag { names: &["ms", "https_port"], kind: Kind::Value, id: Id::HttpsPort, support: NO_MON },
    Flag { names: &["c", "config"], kind: Kind::Value, id: Id::Config, support: Support::Yes },
    Flag { names: &["t"], kind: Kind::Bool, id: Id::TestConfig, support: Support::Yes },
    Flag { names: &["watch"], kind: Kind::Bool, id: Id::Watch, support: Support::Yes },
    Flag { names: &["sl", "signal"], kind: Kind::Value, id: Id::Signal, support: Support::Yes },
    Flag { names: &["client_advertise"], kind: Kind::Value, id: Id::ClientAdvertise, support: Support::Yes },
    Flag { names: &["ports_file_dir"], kind: Kind::Value, id: Id::PortsFileDir, support: Support::Yes },
    Flag { names: &["l", "log"], kind: Kind::Value, id: Id::Log, support: Support::Yes },
    Flag { names: &["T", "logtime"], kind: Kind::Bool, id: Id::LogTime, support: Support::Yes },
    Flag { names: &["logtime_utc"], kind: Kind::Bool, id: Id::LogTimeUtc, support: Support::Yes },
    Flag { names: &["s", "syslog"], kind: Kind::Bool, id: Id::Syslog, support: Support::Yes },
    Flag { names: &["r", "remote_syslog"], kind: Kind::Value, id: Id::RemoteSyslog, support: Support::Yes },
    Flag { names: &["D", "debug"], kind: Kind::Bool, id: Id::Debug, support: Support::Yes },
    Flag { names: &["V", "trace"], kind: Kind::Bool, id: Id::Trace, support: Support::Yes },
    Flag { names: &["VV"], kind: Kind::Bool, id: Id::TraceVerbose, support: Support::Yes },
    Flag { names: &["DV"], kind: Kind::Bool, id: Id::DebugTrace, support: Support::Yes },
    Flag { names: &["DVV"], kind: Kind::Bool, id: Id::DebugTraceVerbose, support: Support::Yes },
    Flag { names: &["log_size_limit"], kind: Kind::Value, id: Id::LogSizeLimit, support: Support::Yes },
    Flag { names: &["max_traced_msg_len"], kind: Kind::Value, id: Id::MaxTracedMsgLen, support: Support::Yes },
    Flag { names: &["js", "jetstream"], kind: Kind::Bool, id: Id::JetStream, support: NO_JS },
    Flag { names: &["sd", "store_dir"], kind: Kind::Value, id: Id::StoreDir, support: NO_JS },
    Flag { names: &["user"], kind: Kind::Value, id: Id::User, support: Support::Yes },
    Flag { names: &["pass"], kind: Kind::Value, id: Id::Pass, support: Support::Yes },
    Flag { names: &["auth"], kind: Kind::Value, id: Id::Auth, support: Support::Yes },
    Flag { names: &["tls"], kind: Kind::Bool, id: Id::Tls, support: NO_TLS },
    Flag { names: &["tlscert"], kind: Kind::Value, id: Id::TlsCert, support: NO_TLS },
    Flag { names: &["tlskey"], kind: Kind::Value, id: Id::TlsKey, support: NO_TLS },
    Flag { names: &["tlsverify"], kind: Kind::Bool, id: Id::TlsVerify, support: NO_TLS },
    Flag { names: &["tlscacert"], kind: Kind::Value, id: Id::TlsCaCert, support: NO_TLS },
    Flag { names: &["routes"], kind: Kind::Value, id: Id::Routes, support: NO_CLUSTER },
    Flag { names: &["cluster"], kind: Kind::Value, id: Id::Cluster, support: NO_CLUSTER },
    Flag { names: &["cluster_listen"], kind: Kind::Value, id: Id::ClusterListen, support: NO_CLUSTER },
    Flag { names: &["cluster_name"], kind: Kind::Value, id: Id::ClusterName, support: NO_CLUSTER },
    Flag { names: &["no_advertise"], kind: Kind::Bool, id: Id::NoAdvertise, support: NO_CLUSTER },
    Flag { names: &["cluster_advertise"], kind: Kind::Value, id: Id::ClusterAdvertise, support: NO_CLUSTER },
    Flag { names: &["connect_retries"], kind: Kind::Value, id: Id::ConnectRetries, support: NO_CLUSTER },
    Flag {
        names: &["profile"],
        kind: Kind::Value,
        id: Id::Profile,
        support: Support::Ignored("profiling endpoints do not exist in rnats"),
    },
    Flag { names: &["h", "help"], kind: Kind::Bool, id: Id::Help, support: Support::Yes },
    Flag { names: &["help_tls"], kind: Kind::Bool, id: Id::HelpTls, support: Support::Yes },
    Flag { names: &["v", "version"], kind: Kind::Bool, id: Id::Version, support: Support::Yes },
];

/// Option values given on the command line. `None` means "not given", so the
/// config file's value (or the default) stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagOverlay {
    pub host: Option<String>,
    pub port: Option<Port>,
    pub server_name: Option<String>,
    pub pid_file: Option<String>,
    pub client_advertise: Option<String>,
    pub ports_file_dir: Option<String>,
    pub log_file: Option<String>,
    pub logtime: Option<bool>,
    pub logtime_utc: Option<bool>,
    pub debug: Option<bool>,
    pub trace: Option<bool>,
    pub trace_verbose: Option<bool>,
    pub syslog: Option<bool>,
    pub remote_syslog: Option<String>,
    pub log_size_limit: Option<u64>,
    pub max_traced_msg_len: Option<u64>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
}

impl FlagOverlay {
    /// Applies the flags over `opts` (flags always win).
    pub fn apply(&self, opts: &mut Options) {
        fn set<T: Clone>(dst: &mut T, src: &Option<T>) {
            if let Some(v) = src {
                *dst = v.clone();
            }
        }
        fn set_opt<T: Clone>(dst: &mut Option<T>, src: &Option<T>) {
            if src.is_some() {
                dst.clone_from(src);
            }
        }
        set(&mut opts.host, &self.host);
        set(&mut opts.port, &self.port);
        set_opt(&mut opts.server_name, &self.server_name);
        set_opt(&mut opts.pid_file, &self.pid_file);
        set_opt(&mut opts.client_advertise, &self.client_advertise);
        set_opt(&mut opts.ports_file_dir, &self.ports_file_dir);
        set_opt(&mut opts.log_file, &self.log_file);
        set(&mut opts.logtime, &self.logtime);
        set(&mut opts.logtime_utc, &self.logtime_utc);
        set(&mut opts.debug, &self.debug);
        set(&mut opts.trace, &self.trace);
        set(&mut opts.trace_verbose, &self.trace_verbose);
        set(&mut opts.syslog, &self.syslog);
        set_opt(&mut opts.remote_syslog, &self.remote_syslog);
        set(&mut opts.log_size_limit, &self.log_size_limit);
        set(&mut opts.max_traced_msg_len, &self.max_traced_msg_len);
        set_opt(&mut opts.authorization.user, &self.username);
        set_opt(&mut opts.authorization.password, &self.password);
        set_opt(&mut opts.authorization.token, &self.token);
    }
}

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
    #[error("unrecognized command: {0:?}")]
    UnknownCommand(String),
    #[error("-{flag}: {reason}")]
    Unsupported { flag: String, reason: &'static str },
}

fn lookup(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.names.contains(&name))
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
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

fn parse_go_int(flag: &str, v: &str) -> Result<i64, CliError> {
    v.parse::<i64>().map_err(|_| CliError::BadValue {
        flag: flag.into(),
        value: v.into(),
        reason: "parse error".into(),
    })
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, CliError> {
    let mut serve = ServeArgs::default();
    let mut i = 0;
    let mut help = None;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(CliError::Syntax(arg.clone()));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let flag = lookup(name).ok_or_else(|| CliError::Unknown(name.to_string()))?;
        let value = match flag.kind {
            Kind::Bool => match inline {
                None => "true".to_string(),
                Some(v) => {
                    parse_go_bool(&v).ok_or_else(|| CliError::BadValue {
                        flag: name.into(),
                        value: v.clone(),
                        reason: "parse error".into(),
                    })?;
                    v
                }
            },
            Kind::Value => match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i).cloned().ok_or_else(|| CliError::MissingValue(name.to_string()))?
                }
            },
        };
        i += 1;
        let on = || parse_go_bool(&value).unwrap_or(false);
        match flag.support {
            Support::Yes => {}
            Support::Ignored(why) => {
                serve.warnings.push(format!("-{name}: {why}"));
                continue;
            }
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
            Id::Syslog => o.syslog = Some(on()),
            Id::RemoteSyslog => o.remote_syslog = Some(value),
            // Go's Int64Var/IntVar: a negative value means "no limit".
            Id::LogSizeLimit => o.log_size_limit = Some(parse_go_int(name, &value)?.max(0) as u64),
            Id::MaxTracedMsgLen => o.max_traced_msg_len = Some(parse_go_int(name, &value)?.max(0) as u64),
            Id::User => o.username = Some(value),
            Id::Pass => o.password = Some(value),
            Id::Auth => o.token = Some(value),
            Id::Help if on() => help = Some(Command::Help),
            Id::HelpTls if on() => help = Some(Command::HelpTls),
            Id::Version if on() => help = help.or(Some(Command::Version)),
            _ => {}
        }
    }
    if let Some(cmd) = help {
        return Ok(cmd);
    }
    let rest = &args[i..];
    match rest.first().map(String::as_str) {
        None => Ok(Command::Serve(Box::new(serve))),
        Some("version") => Ok(Command::Version),
        Some("help") => Ok(Command::Help),
        Some(sub @ ("check" | "passwd" | "schema" | "bench" | "top")) => {
            Ok(Command::Sub(sub.to_string(), rest[1..].to_vec()))
        }
        Some(other) => Err(CliError::UnknownCommand(other.to_string())),
    }
}

pub const USAGE: &str = "\
Usage: rnats [options]            run the server (flags as nats-server's)
       rnats check [options] FILE...   validate config files (rnats check --help)
       rnats passwd [options]          make a bcrypt password hash
       rnats schema                    print the JSON Schema of the resolved config
       rnats bench [options]           measure a server; --compare runs rnats and nats-server side by side
       rnats top [options]             live view of a server's connections and traffic, as nats-top

Every option works with one dash or two; values as `-p 4222` or `--port=4222`.

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for random)
    -n, --name, --server_name <name> Server name (default: server ID)
    -P, --pid <file>                 File to store PID
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    --watch                          Reload when the config file, its includes or its TLS files change
    -sl, --signal <signal>[=<pid>]   Send signal to rnats process (ldm, stop, quit, term, reopen, reload)
    --client_advertise <string>      Client URL to advertise to other servers
    --ports_file_dir <dir>           Creates a ports file in the specified directory (<executable_name>_<pid>.ports)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true; -T=false to disable)
    --logtime_utc                    Timestamps in UTC instead of local time
    -s, --syslog                     Log to the local syslog
    -r, --remote_syslog <addr>       Syslog server addr (udp://127.0.0.1:514; also tcp://, syslog://, unix://)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)
    --log_size_limit <limit>         Logfile size limit, in bytes, past which it is rotated (default: none)
    --max_traced_msg_len <len>       Maximum printable length for traced messages (default: unlimited)

Authorization Options:
    --user <user>                    User required for connections
    --pass <password>                Password required for connections
    --auth <token>                   Authorization token required for connections

Accepted for compatibility, not yet implemented (a warning is logged):
    -m/--http_port, -ms/--https_port, -js/--jetstream, -sd/--store_dir, --profile
Not yet implemented (refused): --tls*, --routes, --cluster*, --no_advertise, --connect_retries

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
";

#[cfg(test)]
mod tests {
    use super::*;

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
    fn logging_flags() {
        let a = serve("-s -r udp://127.0.0.1:514 --log_size_limit 1000 --max_traced_msg_len=64 -DVV");
        let o = &a.overlay;
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
        assert_eq!((o.syslog, o.remote_syslog.as_deref()), (Some(true), Some("udp://127.0.0.1:514")));
        assert_eq!((o.log_size_limit, o.max_traced_msg_len), (Some(1000), Some(64)));
        assert_eq!((o.debug, o.trace, o.trace_verbose), (Some(true), Some(true), Some(true)));
        let vv = serve("-VV").overlay;
        assert_eq!((vv.debug, vv.trace, vv.trace_verbose), (None, Some(true), Some(true)));
        // Go's Int64Var takes a negative value, which means "no limit".
        assert_eq!(serve("--log_size_limit=-5").overlay.log_size_limit, Some(0));
        let mut opts = Options::default();
        serve("-VV --max_traced_msg_len 10").overlay.apply(&mut opts);
        assert!(opts.trace && opts.trace_verbose && opts.max_traced_msg_len == 10);
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
        assert!(matches!(parse(&argv("--tls")), Err(CliError::Unsupported { .. })));
        assert_eq!(parse(&argv("---p 1")), Err(CliError::Syntax("---p".into())));
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
}
