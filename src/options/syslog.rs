//! Where log lines go when syslog is on (`syslog`, `remote_syslog`). The
//! config layer owns the syntax of `remote_syslog`, so it can check a value
//! with the message the server would give; the logging layer sends to it.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    /// The local daemon (`syslog: true`).
    Local,
    /// `host:port`, resolved again at each connection.
    Udp(String),
    Tcp(String),
    Unix(PathBuf),
}

impl fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyslogTarget::Local => f.write_str("local syslog"),
            SyslogTarget::Udp(a) => write!(f, "udp://{a}"),
            SyslogTarget::Tcp(a) => write!(f, "tcp://{a}"),
            SyslogTarget::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

impl SyslogTarget {
    /// Parses a `remote_syslog` URL. The error is the whole message.
    pub fn parse_remote(url: &str) -> Result<SyslogTarget, String> {
        let invalid = |scheme: &str| {
            format!(
                "error invalid network type: {scheme:?} (remote_syslog takes udp://host:port, tcp://host:port, \
                 syslog://host[:port] or unix:///path)"
            )
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
            return Err(invalid(scheme));
        };
        // Go's url.Parse lower-cases the scheme.
        let scheme = scheme.to_ascii_lowercase();
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let with_port = |default: Option<u16>| -> Result<String, String> {
            if authority.is_empty() {
                return Err(format!("remote_syslog {url:?}: missing host"));
            }
            let port = match authority.rfind(':') {
                Some(i) if !authority[i..].contains(']') => Some(&authority[i + 1..]),
                _ => None,
            };
            match (port, default) {
                (Some(p), _) if p.parse::<u16>().is_ok() => Ok(authority.to_string()),
                (Some(p), _) => Err(format!("remote_syslog {url:?}: invalid port {p:?}")),
                (None, Some(d)) => Ok(format!("{authority}:{d}")),
                (None, None) => Err(format!("remote_syslog {url:?}: missing port in address")),
            }
        };
        match scheme.as_str() {
            "udp" => Ok(SyslogTarget::Udp(with_port(None)?)),
            "syslog" => Ok(SyslogTarget::Udp(with_port(Some(514))?)),
            "tcp" => Ok(SyslogTarget::Tcp(with_port(None)?)),
            "unix" => {
                let path = &rest[authority_end..];
                let path = path.split(['?', '#']).next().unwrap_or("");
                if path.is_empty() {
                    return Err(format!("remote_syslog {url:?}: missing socket path"));
                }
                Ok(SyslogTarget::Unix(PathBuf::from(path)))
            }
            _ => Err(invalid(&scheme)),
        }
    }
}
