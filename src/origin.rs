//! Origins, as nats-server reads them: `allowed_origins` entries and the
//! `Origin` header of a handshake go through Go's `url.ParseRequestURI`
//! and `net.SplitHostPort` (a missing port is the scheme's default), and
//! are compared by scheme, lower-cased host and port.
//!
//! Pure syntax, below both the config layer (which checks `allowed_origins`
//! where they are written) and the websocket listener (which compares a
//! handshake's `Origin` with them).

/// An origin: `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Lower case, as Go's URL parser leaves it.
    pub scheme: String,
    /// Lower case.
    pub host: String,
    pub port: String,
}

/// Go's `url.ParseRequestURI` for what origins need: the scheme and the
/// authority's `host[:port]`.
pub fn parse_request_uri(s: &str) -> Result<(String, String), String> {
    let invalid = || format!("parse {s:?}: invalid URI for request");
    if s.starts_with('/') {
        // An absolute path: no scheme, no host.
        return Ok((String::new(), String::new()));
    }
    let Some(colon) = s.find(':') else { return Err(invalid()) };
    let scheme = &s[..colon];
    let valid_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return Err(if colon == 0 { format!("parse {s:?}: missing protocol scheme") } else { invalid() });
    }
    let rest = &s[colon + 1..];
    let Some(after) = rest.strip_prefix("//") else {
        // `http:foo`: an opaque URI, which has no host.
        return Ok((scheme.to_ascii_lowercase(), String::new()));
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(|c: char| c.is_ascii_whitespace() || c.is_ascii_control()) {
        return Err(format!("parse {s:?}: invalid character in host name"));
    }
    // Go's parseHost: what follows the last colon (after a `]` for IPv6)
    // must be a port.
    let port_part = match host.rfind(']') {
        Some(end) => &host[end + 1..],
        None => host.rfind(':').map_or("", |i| &host[i..]),
    };
    let valid_port = port_part.starts_with(':') && port_part[1..].bytes().all(|b| b.is_ascii_digit());
    if !port_part.is_empty() && !valid_port {
        return Err(format!("parse {s:?}: invalid port {port_part:?} after host"));
    }
    Ok((scheme.to_ascii_lowercase(), host.to_string()))
}

/// nats-server's `wsGetHostAndPort`: `host:port`, the port defaulting to
/// 443 with TLS and 80 without; the host in lower case.
pub fn host_and_port(tls: bool, hostport: &str) -> Result<(String, String), String> {
    match split_host_port(hostport) {
        Ok((h, p)) => Ok((h.to_ascii_lowercase(), p.to_string())),
        Err(SplitError::MissingPort) => {
            Ok((hostport.to_ascii_lowercase(), if tls { "443".into() } else { "80".into() }))
        }
        Err(SplitError::Other(why)) => Err(format!("address {hostport}: {why}")),
    }
}

enum SplitError {
    MissingPort,
    Other(&'static str),
}

/// Go's `net.SplitHostPort`.
fn split_host_port(hp: &str) -> Result<(&str, &str), SplitError> {
    let Some(i) = hp.rfind(':') else { return Err(SplitError::MissingPort) };
    let host = if let Some(inner) = hp.strip_prefix('[') {
        let Some(end) = inner.find(']') else { return Err(SplitError::Other("missing ']' in address")) };
        let end = end + 1; // index in `hp`
        if end + 1 == hp.len() {
            return Err(SplitError::MissingPort);
        }
        if end + 1 != i {
            return Err(if hp.as_bytes()[end + 1] == b':' {
                SplitError::Other("too many colons in address")
            } else {
                SplitError::MissingPort
            });
        }
        &hp[1..end]
    } else {
        let host = &hp[..i];
        if host.contains(':') {
            return Err(SplitError::Other("too many colons in address"));
        }
        host
    };
    if hp[..i].rfind('[').is_some_and(|j| j > 0) || (!hp.starts_with('[') && hp[..i].contains(']')) {
        return Err(SplitError::Other("unexpected '[' or ']' in address"));
    }
    if hp[i + 1..].contains(['[', ']']) {
        return Err(SplitError::Other("unexpected ']' in address"));
    }
    Ok((host, &hp[i + 1..]))
}

/// An `allowed_origins` entry, checked as nats-server's
/// `validateWebsocketOptions` checks it (its messages).
pub fn parse_allowed(entry: &str) -> Result<Origin, String> {
    let (scheme, host) = parse_request_uri(entry).map_err(|e| format!("unable to parse allowed origin: {e}"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "unable to parse allowed origin {entry:?}: allowed origins must be absolute URLs with http or https scheme"
        ));
    }
    if host.is_empty() {
        return Err(format!("unable to parse allowed origin {entry:?}: host is required"));
    }
    let (host, port) =
        host_and_port(scheme == "https", &host).map_err(|e| format!("unable to parse allowed origin: {e}"))?;
    Ok(Origin { scheme, host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_origins_as_nats_server_reads_them() {
        let o = parse_allowed("https://Example.COM").unwrap();
        assert_eq!(o, Origin { scheme: "https".into(), host: "example.com".into(), port: "443".into() });
        let o = parse_allowed("http://h:8080/x").unwrap();
        assert_eq!((o.host.as_str(), o.port.as_str()), ("h", "8080"));
        assert_eq!(parse_allowed("http://[::1]").unwrap().host, "[::1]");
        assert_eq!(parse_allowed("http://[::1]:81").unwrap().host, "::1");
        assert_eq!(
            parse_allowed("ftp://x").unwrap_err(),
            r#"unable to parse allowed origin "ftp://x": allowed origins must be absolute URLs with http or https scheme"#
        );
        assert_eq!(
            parse_allowed("/path").unwrap_err(),
            r#"unable to parse allowed origin "/path": allowed origins must be absolute URLs with http or https scheme"#
        );
        assert_eq!(
            parse_allowed("http://").unwrap_err(),
            r#"unable to parse allowed origin "http://": host is required"#
        );
        assert_eq!(
            parse_allowed("foo").unwrap_err(),
            r#"unable to parse allowed origin: parse "foo": invalid URI for request"#
        );
        assert_eq!(
            parse_allowed("http://a:b:c").unwrap_err(),
            r#"unable to parse allowed origin: parse "http://a:b:c": invalid port ":c" after host"#
        );
        assert_eq!(
            parse_allowed("http://a:1:2").unwrap_err(),
            "unable to parse allowed origin: address a:1:2: too many colons in address"
        );
    }

    #[test]
    fn host_and_port_defaults() {
        assert_eq!(host_and_port(false, "Host").unwrap(), ("host".into(), "80".into()));
        assert_eq!(host_and_port(true, "host").unwrap(), ("host".into(), "443".into()));
        assert_eq!(host_and_port(true, "host:1").unwrap(), ("host".into(), "1".into()));
        assert!(host_and_port(true, "[::1").is_err());
    }
}
