//! Route URLs (`nats-route://user:pass@host:port`) and the set of client
//! URLs a server advertises in `connect_urls`.

use std::fmt;

use crate::secret::Secret;

/// A route to dial, as configured or learned by gossip.
#[derive(Clone, PartialEq, Eq)]
pub struct RouteUrl {
    pub scheme: String,
    pub user: Option<String>,
    pub pass: Option<Secret>,
    pub host: String,
    pub port: u16,
    /// Written with a trailing `/` (as gossip's `nats-route://h:p/`).
    slash: bool,
}

impl RouteUrl {
    /// Parses `scheme://[user[:pass]@]host:port[/]`; user and password may
    /// be percent-encoded, an IPv6 host is bracketed.
    pub fn parse(text: &str) -> Result<RouteUrl, String> {
        let text = text.trim();
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!("route URL {text:?} has no scheme (nats-route://host:port)"));
        };
        let (rest, slash) = match rest.split_once('/') {
            Some((r, "")) => (r, true),
            Some(_) => return Err(format!("route URL {:?} has a path", redact_text(text))),
            None => (rest, false),
        };
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (user, pass) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (Some(percent_decode(n)?), Some(Secret::from(percent_decode(p)?))),
                None => (Some(percent_decode(u)?), None),
            },
        };
        let (host, port) =
            split_host_port(hostport).ok_or_else(|| format!("route URL {:?} needs host:port", redact_text(text)))?;
        Ok(RouteUrl { scheme: scheme.to_string(), user, pass, host, port, slash })
    }

    /// `nats-route://host:port/` for a server's route address.
    pub fn for_host_port(host: &str, port: u16) -> RouteUrl {
        RouteUrl {
            scheme: "nats-route".into(),
            user: None,
            pass: None,
            host: host.trim_start_matches('[').trim_end_matches(']').to_string(),
            port,
            slash: true,
        }
    }

    /// `host:port`, bracketing an IPv6 host.
    pub fn host_port(&self) -> String {
        join_host_port(&self.host, self.port)
    }

    /// Whether both name the same route (nats-server's `urlsAreEqual`:
    /// scheme, credentials, host and port).
    pub fn same(&self, other: &RouteUrl) -> bool {
        self.scheme == other.scheme
            && self.user == other.user
            && self.pass == other.pass
            && self.host.eq_ignore_ascii_case(&other.host)
            && self.port == other.port
    }

    pub fn with_credentials(mut self, user: Option<String>, pass: Option<Secret>) -> RouteUrl {
        self.user = user;
        self.pass = pass;
        self
    }

    /// The URL as nats-server's `Redacted()` shows it: the password as `xxxxx`.
    pub fn redacted(&self) -> String {
        let mut s = format!("{}://", self.scheme);
        if let Some(u) = &self.user {
            s.push_str(u);
            if self.pass.is_some() {
                s.push_str(":xxxxx");
            }
            s.push('@');
        }
        s.push_str(&self.host_port());
        if self.slash {
            s.push('/');
        }
        s
    }
}

/// Never prints the password.
impl fmt::Display for RouteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for RouteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RouteUrl({})", self.redacted())
    }
}

/// Hides the password of a route URL that did not parse.
pub fn redact_text(text: &str) -> String {
    match text.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:xxxxx@{host}"),
                None => text.to_string(),
            },
            None => text.to_string(),
        },
        None => text.to_string(),
    }
}

/// `host:port` → (host, port); `[v6]:port` too.
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        (h, p)
    } else {
        s.rsplit_once(':')?
    };
    if host.contains(':') && !s.starts_with('[') {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let v = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("invalid escape in route URL")?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "route URL credentials are not UTF-8".to_string())
}

/// The client URLs this server advertises: its own first, then those of the
/// other servers (reference counted: two routes may report the same URL).
/// Empty until the first remote URL is known, as in nats-server; after that
/// at least the server's own.
#[derive(Debug, Default)]
pub struct ConnectUrls {
    own: Vec<String>,
    remote: Vec<(String, usize)>,
    announced: bool,
}

impl ConnectUrls {
    pub fn set_own(&mut self, own: Vec<String>) {
        self.own = own;
    }

    pub fn own(&self) -> &[String] {
        &self.own
    }

    /// Adds a server's URLs; whether the advertised list changed.
    pub fn add(&mut self, urls: &[String]) -> bool {
        let mut changed = false;
        for url in urls {
            match self.remote.iter_mut().find(|(u, _)| u == url) {
                Some((_, n)) => *n += 1,
                None => {
                    self.remote.push((url.clone(), 1));
                    changed = true;
                }
            }
        }
        if changed {
            self.announced = true;
        }
        changed
    }

    /// Removes a server's URLs; whether the advertised list changed.
    pub fn remove(&mut self, urls: &[String]) -> bool {
        let mut changed = false;
        for url in urls {
            if let Some(i) = self.remote.iter().position(|(u, _)| u == url) {
                self.remote[i].1 -= 1;
                if self.remote[i].1 == 0 {
                    self.remote.remove(i);
                    changed = true;
                }
            }
        }
        changed
    }

    /// What clients get in `connect_urls`.
    pub fn list(&self) -> Vec<String> {
        if !self.announced {
            return Vec::new();
        }
        let mut out = self.own.clone();
        for (u, _) in &self.remote {
            if !out.contains(u) {
                out.push(u.clone());
            }
        }
        out
    }

    /// The other servers' URLs only (what a server in lame duck mode tells
    /// its clients to go to).
    pub fn remote_only(&self) -> Vec<String> {
        self.remote.iter().map(|(u, _)| u.clone()).filter(|u| !self.own.contains(u)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_urls() {
        let u = RouteUrl::parse("nats-route://ruser:T0p%40S3cr3t@10.0.0.1:6222").unwrap();
        assert_eq!((u.user.as_deref(), u.pass.as_ref().map(|p| p.expose())), (Some("ruser"), Some("T0p@S3cr3t")));
        assert_eq!(u.host_port(), "10.0.0.1:6222");
        assert_eq!(u.redacted(), "nats-route://ruser:xxxxx@10.0.0.1:6222");
        assert!(!format!("{u} {u:?}").contains("S3cr3t"));
        let g = RouteUrl::parse("nats-route://127.0.0.1:4248/").unwrap();
        assert_eq!(g.to_string(), "nats-route://127.0.0.1:4248/");
        let v6 = RouteUrl::parse("nats://[::1]:6222").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.host_port().as_str()), ("::1", 6222, "[::1]:6222"));
        assert!(RouteUrl::parse("127.0.0.1:6222").is_err());
        assert!(RouteUrl::parse("nats-route://host").is_err());
        assert!(RouteUrl::parse("nats-route://h:1/path").is_err());
        assert!(u.same(&RouteUrl::parse("nats-route://ruser:T0p%40S3cr3t@10.0.0.1:6222/").unwrap()));
        assert!(!u.same(&RouteUrl::parse("nats-route://10.0.0.1:6222").unwrap()));
        assert_eq!(redact_text("nats-route://a:secret@h:1/x"), "nats-route://a:xxxxx@h:1/x");
    }

    #[test]
    fn connect_urls_are_refcounted() {
        let mut c = ConnectUrls::default();
        c.set_own(vec!["a:1".into()]);
        assert!(c.list().is_empty(), "nothing advertised before the first peer");
        assert!(c.add(&["b:1".into()]));
        assert!(!c.add(&["b:1".into()]));
        assert_eq!(c.list(), ["a:1", "b:1"]);
        assert!(!c.remove(&["b:1".into()]));
        assert!(c.remove(&["b:1".into()]));
        assert_eq!(c.list(), ["a:1"], "own URLs stay once announced");
        c.add(&["c:1".into()]);
        assert_eq!(c.remote_only(), ["c:1"]);
    }
}
