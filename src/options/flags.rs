//! Option values given on the command line, laid over the config file's on
//! every load and reload (nats-server's "flags win"). The config layer owns
//! the type, since it applies it; `cli` fills it in.

use super::{Options, Port, Secret};

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
    pub username: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub max_traced_msg_len: Option<u64>,
    pub log_size_limit: Option<u64>,
    pub http_port: Option<i64>,
    pub https_port: Option<i64>,
    pub syslog: Option<bool>,
    pub remote_syslog: Option<String>,
    /// `--tls`: `Some(false)` (`-tls=false`) turns TLS off whatever the file
    /// says; any `--tls*` flag otherwise builds the TLS config from flags
    /// alone, replacing the file's `tls` block, as nats-server does.
    pub tls: Option<bool>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub tls_ca_cert: Option<String>,
    pub tls_verify: Option<bool>,
    /// `--cluster URL` / `--cluster_listen URL`: where routes listen, with
    /// optional `user:pass@` route credentials; an empty value turns
    /// clustering off, as in nats-server.
    pub cluster_listen: Option<String>,
    /// `--routes URL,URL`: replaces the configured routes (empty: none).
    pub routes: Option<String>,
    pub cluster_name: Option<String>,
    pub no_advertise: Option<bool>,
    pub cluster_advertise: Option<String>,
    pub connect_retries: Option<i64>,
}

impl FlagOverlay {
    /// Whether TLS comes from the command line (a `--tls*` flag other than
    /// `-tls=false`).
    pub fn tls_override(&self) -> bool {
        self.tls == Some(true)
            || self.tls_cert.is_some()
            || self.tls_key.is_some()
            || self.tls_ca_cert.is_some()
            || self.tls_verify.is_some()
    }

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
        set_opt(&mut opts.authorization.user, &self.username);
        set_opt(&mut opts.authorization.password, &self.password.clone().map(Secret::from));
        set_opt(&mut opts.authorization.token, &self.token.clone().map(Secret::from));
        if self.tls == Some(false) {
            opts.tls = None;
        } else if self.tls_override() {
            opts.tls = Some(crate::options::Tls {
                cert_file: self.tls_cert.clone(),
                key_file: self.tls_key.clone(),
                ca_file: self.tls_ca_cert.clone(),
                verify: self.tls_verify.unwrap_or(false),
                timeout: crate::options::DEFAULT_TLS_TIMEOUT,
                ..crate::options::Tls::default()
            });
        }
        set(&mut opts.max_traced_msg_len, &self.max_traced_msg_len);
        set(&mut opts.log_size_limit, &self.log_size_limit);
        set_opt(&mut opts.http_port, &self.http_port);
        set_opt(&mut opts.https_port, &self.https_port);
        set(&mut opts.syslog, &self.syslog);
        set_opt(&mut opts.remote_syslog, &self.remote_syslog);
        self.apply_cluster(opts);
    }

    /// The cluster flags, as nats-server's `overrideCluster` and
    /// `MergeOptions` apply them: the listen URL sets host, port and route
    /// credentials (clearing the file's when it has none); the other flags
    /// change a cluster that exists (from the file or from `--cluster`).
    fn apply_cluster(&self, opts: &mut Options) {
        if let Some(listen) = &self.cluster_listen {
            match parse_cluster_listen(listen) {
                Ok(None) => opts.cluster = None,
                Ok(Some((host, port, creds))) => {
                    let c = opts.cluster.get_or_insert_with(crate::options::Cluster::default);
                    c.host = host;
                    c.port = port;
                    match creds {
                        Some((user, pass)) => {
                            let a = c.authorization.get_or_insert_with(Default::default);
                            a.user = Some(user);
                            a.password = Some(Secret::from(pass));
                        }
                        None => {
                            if let Some(a) = c.authorization.as_mut() {
                                a.user = None;
                                a.password = None;
                            }
                        }
                    }
                }
                // Refused when the flags are checked (`check`).
                Err(_) => {}
            }
        }
        let Some(c) = opts.cluster.as_mut() else { return };
        if let Some(routes) = &self.routes {
            c.routes = routes.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_string).collect();
        }
        if let Some(name) = &self.cluster_name {
            c.name = Some(name.clone());
        }
        if let Some(on) = self.no_advertise {
            c.no_advertise = on;
        }
        if let Some(adv) = &self.cluster_advertise {
            c.advertise = Some(adv.clone());
        }
        if let Some(n) = self.connect_retries {
            c.connect_retries = n;
        }
    }

    /// nats-server's checks of the cluster flags against the merged
    /// options: a listen URL it can parse, a password with a user, and no
    /// `--routes` without somewhere for routes to listen.
    pub fn check(&self, opts: &Options) -> Result<(), String> {
        if let Some(listen) = &self.cluster_listen {
            parse_cluster_listen(listen)?;
        }
        if self.routes.as_deref().is_some_and(|r| !r.is_empty()) && opts.cluster.is_none() {
            return Err("solicited routes require cluster capabilities, e.g. --cluster".into());
        }
        Ok(())
    }
}

/// Host and port (`-1`: random) of `--cluster nats://[user:pass@]host:port`,
/// with the credentials; `None` for an empty value.
type ClusterListen = (String, Port, Option<(String, String)>);

fn parse_cluster_listen(text: &str) -> Result<Option<ClusterListen>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let rest = text.split_once("://").map_or(text, |(_, r)| r);
    let rest = rest.trim_end_matches('/');
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.trim_start_matches('[').trim_end_matches(']'), p),
        None => return Err(format!("address {hostport}: missing port in address")),
    };
    let port = match port {
        "-1" => Port::Random,
        p => Port::Fixed(p.parse().map_err(|_| format!("parse {text:?}: invalid port {p:?} after host"))?),
    };
    let creds = match userinfo {
        None => None,
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => Some((user.to_string(), pass.to_string())),
            None => return Err("expected cluster password to be set".into()),
        },
    };
    Ok(Some((host.to_string(), port, creds)))
}
