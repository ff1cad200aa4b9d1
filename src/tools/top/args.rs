//! `rnats top`'s command line: nats-top's flags and defaults, parsed the way
//! Go's `flag` package does ([`crate::goflag`]: one dash or two, `-n 5` or
//! `-n=5`, booleans take a value only after `=`).

use std::time::Duration;

use super::http::{Endpoint, Scheme};
use super::monitor::parse_sort;
use super::tls::TlsFlags;
use crate::goflag::GoFlags;
use crate::monitor::connz::SortBy;

pub const TOP_USAGE: &str = "\
Usage: rnats top [-s HOST] [-m PORT] [-ms PORT] [-n NUM] [-d SECONDS] [-sort FIELD]
                 [-cert FILE] [-key FILE] [-cacert FILE] [-k] [-r MAX] [-o FILE] [-b] [-u]

A live view of a NATS server (rnats or nats-server) from its monitoring
endpoints /varz and /connz, like nats-top.

    -s HOST       server host (default 127.0.0.1)
    -m PORT       HTTP monitoring port (default 8222)
    -ms PORT      HTTPS monitoring port (used instead of -m when given)
    -n NUM        connections to show (default 1024)
    -d SECONDS    refresh interval (default 1; fractions allowed)
    -sort FIELD   connection order: cid, start, subs, pending, msgs_to, msgs_from,
                  bytes_to, bytes_from, last, idle, uptime, rtt (default cid)
    -r MAX        quit after MAX refreshes
    -o FILE       write one screen as text to FILE (- for stdout) and exit;
                  it waits one interval so the rates are real
    -b            show raw numbers instead of 1.5K, 2.0M
    -u, --display-subscriptions-column
                  show the SUBSCRIPTIONS column from the start

With -ms only:
    -cacert FILE  CA certificates (PEM) that verify the server (default: the
                  system's)
    -cert FILE    client certificate (PEM) to present, with -key
    -key FILE     the client certificate's private key (PEM)
    -k            skip verifying the server's certificate

Keys: o sort, n limit, s subscriptions, b raw numbers, space rates per
connection, ? help, q quit.
";

/// Everything the command line sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub endpoint: Endpoint,
    pub limit: usize,
    pub delay: Duration,
    pub sort: SortBy,
    pub raw_bytes: bool,
    pub show_subs: bool,
    pub max_refreshes: Option<u64>,
    pub output: Option<String>,
    /// nats-top's TLS flags; used when `endpoint.scheme` is HTTPS (`-ms`).
    pub tls: TlsFlags,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            endpoint: Endpoint { scheme: Scheme::Http, host: "127.0.0.1".into(), port: 8222 },
            limit: 1024,
            delay: Duration::from_secs(1),
            sort: SortBy::Cid,
            raw_bytes: false,
            show_subs: false,
            max_refreshes: None,
            output: None,
            tls: TlsFlags::default(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Run(Settings),
    Help,
}

fn port(flag: &str, v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("invalid value {v:?} for flag -{flag}: a port from 1 to 65535")),
    }
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(flag: &str, v: &str) -> Result<T, String> {
    match v.parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err(format!("invalid value {v:?} for flag -{flag}: a positive number")),
    }
}

/// Parses the arguments after `top`.
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut s = Settings::default();
    let mut https_port = None;
    let mut flags = GoFlags::new(args);
    while let Some(flag) = flags.next_flag().map_err(|e| e.to_string())? {
        let name = flag.name;
        let boolean = || GoFlags::boolean(&flag).map_err(|e| e.to_string());
        match name {
            "h" | "help" => return Ok(Parsed::Help),
            "b" => s.raw_bytes = boolean()?,
            "u" | "display-subscriptions-column" => s.show_subs = boolean()?,
            "lookup" => return Err("-lookup: reverse DNS lookup of client addresses is not supported".into()),
            "k" => s.tls.skip_verify = boolean()?,
            "l" => return Err("-l: delimited output is not supported; -o writes the screen as text".into()),
            "s" | "m" | "ms" | "n" | "d" | "sort" | "r" | "o" | "cert" | "key" | "cacert" => {
                let value = flags.value(&flag).map_err(|e| e.to_string())?.to_string();
                match name {
                    "s" if value.is_empty() => return Err("-s: the server host is empty".into()),
                    "s" => s.endpoint.host = value.trim_start_matches('[').trim_end_matches(']').to_string(),
                    "m" => s.endpoint.port = port(name, &value)?,
                    "ms" => https_port = Some(port(name, &value)?),
                    "n" => s.limit = positive(name, &value)?,
                    "d" => {
                        let secs: f64 = positive(name, &value)?;
                        s.delay = Duration::try_from_secs_f64(secs)
                            .map_err(|_| format!("invalid value {value:?} for flag -d: too large"))?;
                    }
                    "sort" => s.sort = parse_sort(&value)?,
                    "r" => s.max_refreshes = Some(positive(name, &value)?),
                    "cert" | "key" | "cacert" if value.is_empty() => {
                        return Err(format!("-{name}: the file name is empty"))
                    }
                    "cert" => s.tls.cert_file = Some(value),
                    "key" => s.tls.key_file = Some(value),
                    "cacert" => s.tls.ca_file = Some(value),
                    _ => s.output = Some(value),
                }
            }
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
    }
    if let Some(word) = flags.rest().first() {
        return Err(format!("unexpected argument {word:?}"));
    }
    // As nats-top: the secure port, when given, wins over the plain one,
    // and the TLS flags apply only to it.
    if let Some(p) = https_port {
        s.endpoint.scheme = Scheme::Https;
        s.endpoint.port = p;
    }
    Ok(Parsed::Run(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Settings {
        let args: Vec<String> = s.split_whitespace().map(String::from).collect();
        match parse(&args) {
            Ok(Parsed::Run(s)) => s,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        let args: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&args).expect_err(s)
    }

    #[test]
    fn defaults_are_nats_tops() {
        let s = run("");
        assert_eq!(s.endpoint.url(), "http://127.0.0.1:8222");
        assert_eq!((s.limit, s.delay, s.sort), (1024, Duration::from_secs(1), SortBy::Cid));
        assert!(!s.raw_bytes && !s.show_subs && s.output.is_none() && s.max_refreshes.is_none());
    }

    #[test]
    fn go_style_flags() {
        let s = run("-s 10.0.0.1 -m 9222 -n=5 --d 2.5 -sort bytes_to -b -u=false -r 3 -o -");
        assert_eq!(s.endpoint.url(), "http://10.0.0.1:9222");
        assert_eq!((s.limit, s.delay, s.sort), (5, Duration::from_millis(2500), SortBy::BytesTo));
        assert!(s.raw_bytes && !s.show_subs);
        assert_eq!((s.max_refreshes, s.output.as_deref()), (Some(3), Some("-")));
        assert!(run("--display-subscriptions-column").show_subs);
        assert_eq!(run("-s ::1").endpoint.url(), "http://[::1]:8222");
        assert_eq!(parse(&["-h".to_string()]), Ok(Parsed::Help));
    }

    #[test]
    fn https_and_nats_tops_tls_flags() {
        let s = run("-s localhost -m 8222 -ms 8443 -cacert ca.pem -cert c.pem -key=k.pem -k");
        assert_eq!(s.endpoint.url(), "https://localhost:8443", "-ms wins over -m");
        let expected = TlsFlags {
            ca_file: Some("ca.pem".into()),
            cert_file: Some("c.pem".into()),
            key_file: Some("k.pem".into()),
            skip_verify: true,
        };
        assert_eq!(s.tls, expected);
        let s = run("-m 9222 -cacert ca.pem");
        assert_eq!(s.endpoint.url(), "http://127.0.0.1:9222", "TLS flags alone do not switch to HTTPS");
        assert!(!run("-ms 8443 -k=false").tls.skip_verify);
    }

    #[test]
    fn bad_flags_say_why() {
        assert!(err("-x").contains("not defined: -x"));
        assert!(err("-n").contains("needs an argument"));
        assert!(err("-n 0").contains("positive"));
        assert!(err("-d -1").contains("positive"));
        assert!(err("-m 70000").contains("port"));
        assert!(err("-sort bogus").contains("invalid sort option"));
        assert!(err("-sort stop").contains("closed"));
        assert!(err("-b=maybe").contains("boolean"));
        assert!(err("-cacert").contains("needs an argument"));
        assert!(err("-cert=").contains("empty"));
        assert!(err("-k=maybe").contains("boolean"));
        assert!(err("extra").contains("unexpected"));
    }
}
