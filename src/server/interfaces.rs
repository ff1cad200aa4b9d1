//! Where a server bound to the wildcard address (`0.0.0.0` or `::`) can be
//! reached: the host's interface addresses, listed as nats-server lists them.
//!
//! - `connect_urls` (INFO, `/varz`, the route INFO) take the global unicast
//!   addresses only (no loopback, no link-local), nats-server's
//!   `getNonLocalIPsIfHostIsIPAny`: a client elsewhere can use them.
//! - The ports file takes every address, loopback first as the kernel lists
//!   it (nats-server's `resolveHostPorts`): a harness on the same host picks
//!   the one it likes.
//!
//! Both in Go's order: interfaces by index, each one's IPv4 addresses, then
//! its IPv6 ones.

use std::net::{IpAddr, SocketAddr};

use tracing::debug;

use super::route::urls::join_host_port;

/// Whether `host` is the wildcard address, as Go's `IsUnspecified` sees it
/// (`0.0.0.0`, `::`, `::ffff:0.0.0.0`).
pub fn is_wildcard(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_unspecified(),
        Ok(IpAddr::V6(v6)) => v6.is_unspecified() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_unspecified()),
        Err(_) => false,
    }
}

/// Every address of every interface, in Go's order. Empty when the host
/// will not say (as Go, which then ignores the error).
pub fn all_addresses() -> Vec<IpAddr> {
    let mut ifaces = if_addrs::get_if_addrs().unwrap_or_default();
    // getifaddrs lists every IPv4 address, then every IPv6 one; Go groups
    // them by interface. A stable sort keeps the kernel's order within.
    ifaces.sort_by_key(|i| (i.index.unwrap_or(u32::MAX), i.ip().is_ipv6()));
    ifaces.into_iter().map(|i| i.ip()).collect()
}

/// Go's `IP.IsGlobalUnicast`: not unspecified, loopback, multicast,
/// link-local or the IPv4 broadcast address. Private ranges count.
pub fn is_global_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified() || v4.is_loopback() || v4.is_multicast() || v4.is_link_local() || v4.is_broadcast())
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_global_unicast(IpAddr::V4(v4)),
            None => {
                let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
                !(v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() || link_local)
            }
        },
    }
}

/// nats-server's `getNonLocalIPsIfHostIsIPAny` (with its debug lines): the
/// global unicast addresses when `host` is the wildcard, else `None`.
pub fn non_local_ips(host: &str) -> Option<Vec<IpAddr>> {
    if !is_wildcard(host) {
        return None;
    }
    debug!("Get non local IPs for {host:?}");
    let ips: Vec<IpAddr> = all_addresses().into_iter().filter(|ip| is_global_unicast(*ip)).collect();
    for ip in &ips {
        debug!("  ip={ip}");
    }
    Some(ips)
}

/// The `host:port` a client is told to connect to for a server listening on
/// `host` (nats-server's `getConnectURLs`): the advertised address, or for
/// the wildcard every global unicast address, or the host itself. Empty
/// when the wildcard resolves to nothing (logged, as nats-server does).
pub fn connect_urls(advertise: Option<&str>, host: &str, port: u16) -> Vec<String> {
    if let Some(adv) = advertise.filter(|a| !a.is_empty()) {
        return match super::route::urls::split_host_port(adv) {
            Some((h, p)) => vec![join_host_port(&h, p)],
            None => vec![join_host_port(adv, port)],
        };
    }
    match non_local_ips(host) {
        Some(ips) if !ips.is_empty() => ips.iter().map(|ip| join_host_port(&ip.to_string(), port)).collect(),
        Some(_) => {
            tracing::error!("Address {host:?} can not be resolved properly");
            Vec::new()
        }
        None => vec![join_host_port(host, port)],
    }
}

/// The URLs of a bound listener as the ports file lists them (nats-server's
/// `formatURL`): every interface address for the wildcard, else the
/// address it is bound to.
pub fn listener_urls(scheme: &str, bound: SocketAddr) -> Vec<String> {
    let ips = if bound.ip().is_unspecified() { all_addresses() } else { vec![bound.ip()] };
    ips.iter().map(|ip| format!("{scheme}://{}", join_host_port(&ip.to_string(), bound.port()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_and_global_unicast_as_go() {
        for w in ["0.0.0.0", "::", "[::]", "::ffff:0.0.0.0", "0:0::0"] {
            assert!(is_wildcard(w), "{w}");
        }
        for h in ["127.0.0.1", "::1", "localhost", "", "example.com", "10.0.0.1"] {
            assert!(!is_wildcard(h), "{h}");
        }
        let g = |s: &str| is_global_unicast(s.parse().unwrap());
        for yes in ["10.1.2.3", "192.168.0.1", "198.51.100.7", "8.8.8.8", "2001:db8::1", "fd00::2", "::ffff:10.0.0.1"] {
            assert!(g(yes), "{yes}");
        }
        for no in
            ["127.0.0.1", "0.0.0.0", "169.254.1.1", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "ff02::1"]
        {
            assert!(!g(no), "{no}");
        }
    }

    #[test]
    fn connect_urls_of_a_named_host_or_advertised() {
        assert_eq!(connect_urls(None, "127.0.0.1", 4222), ["127.0.0.1:4222"]);
        assert_eq!(connect_urls(None, "::1", 4222), ["[::1]:4222"]);
        assert_eq!(connect_urls(Some("nats.example.com:5222"), "0.0.0.0", 4222), ["nats.example.com:5222"]);
        assert_eq!(connect_urls(Some("nats.example.com"), "0.0.0.0", 4222), ["nats.example.com:4222"]);
        // The wildcard lists this host's addresses: never loopback.
        for url in connect_urls(None, "0.0.0.0", 4222) {
            assert!(!url.starts_with("127.") && !url.starts_with("[::1]"), "{url}");
        }
        assert_eq!(listener_urls("nats", "127.0.0.1:4222".parse().unwrap()), ["nats://127.0.0.1:4222"]);
        let all = listener_urls("nats", "[::]:4222".parse().unwrap());
        assert!(all.contains(&"nats://127.0.0.1:4222".to_string()), "{all:?}");
    }
}
