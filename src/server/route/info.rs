//! The route INFO and CONNECT JSON, both ways.
//!
//! What rnats sends is nats-server 2.15's route INFO and CONNECT with the
//! fields of a legacy single-connection route: no `route_pool_size` (so a
//! pooling peer keeps one connection to us), no `compression` (so it stays
//! plain text), no `lnoc` (so it never sends `LS+`/`LMSG`), `proto` 2 (so it
//! does not forward trace-only messages). Field order is Go's `Info` struct
//! order; optional fields are left out as `omitempty` does.

use serde::{Deserialize, Serialize};

use crate::options::Permissions;
use crate::secret::Secret;
use crate::server::info::is_false;

/// The route protocol version rnats speaks: accounts in RS+/RMSG (2); not 3,
/// message tracing.
pub const ROUTE_PROTO: u32 = 2;

/// The INFO a server sends on a route (on accept, when soliciting, and with
/// `ldm:true` when entering lame duck mode).
#[derive(Debug, Clone, Serialize, Default)]
pub struct RouteInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: u32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    pub cluster: String,
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// This server's websocket URLs, gossiped to the cluster's websocket clients.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(rename = "import", skip_serializing_if = "Option::is_none")]
    pub import: Option<crate::options::SubjectPermission>,
    #[serde(rename = "export", skip_serializing_if = "Option::is_none")]
    pub export: Option<crate::options::SubjectPermission>,
    #[serde(skip_serializing_if = "is_zero")]
    pub gossip_mode: u8,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

impl RouteInfo {
    /// `INFO {...} \r\n`, with the space nats-server puts before CRLF.
    pub fn to_line(&self) -> Vec<u8> {
        crate::server::info::info_line(self)
    }

    pub fn set_permissions(&mut self, perms: Option<&Permissions>) {
        self.import = perms.and_then(|p| p.publish.clone());
        self.export = perms.and_then(|p| p.subscribe.clone());
    }
}

/// The CONNECT a server sends on a route it dialed.
#[derive(Debug, Clone, Serialize)]
pub struct RouteConnect<'a> {
    pub echo: bool,
    pub verbose: bool,
    pub pedantic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// Sent to the peer in clear (it asked for it); redacted when printed.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "crate::secret::serialize_exposed")]
    pub pass: Option<&'a Secret>,
    pub tls_required: bool,
    pub headers: bool,
    pub name: &'a str,
    pub cluster: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
}

impl RouteConnect<'_> {
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = b"CONNECT ".to_vec();
        serde_json::to_writer(&mut line, self).unwrap_or_default();
        line.extend_from_slice(b"\r\n");
        line
    }
}

/// What a peer's route INFO says, as far as rnats uses it. Unknown fields
/// (`lnoc`, `ln`, `jetstream`, `domain`, ...) are ignored.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct PeerInfo {
    pub server_id: String,
    #[serde(rename = "server_name")]
    pub name: String,
    pub version: String,
    pub proto: i64,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    pub auth_required: bool,
    pub tls_required: bool,
    pub ip: String,
    pub cluster: String,
    pub cluster_dynamic: bool,
    pub connect_urls: Option<Vec<String>>,
    pub ws_connect_urls: Option<Vec<String>>,
    pub ldm: bool,
    pub compression: String,
    pub route_pool_size: i64,
    pub route_pool_idx: i64,
    pub route_account: String,
    pub route_acc_add_reqid: String,
    pub gossip_mode: u8,
    pub gateway: String,
}

/// What a peer's route CONNECT says.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct PeerConnect {
    pub lang: String,
    pub user: Option<String>,
    pub pass: Option<Secret>,
    pub name: String,
    pub cluster: String,
    pub cluster_dynamic: bool,
    pub headers: bool,
    pub gateway: String,
    pub tls_required: bool,
}

/// The modes a peer may announce in `compression` (nats-server refuses
/// anything else with `unsupported route compression mode`).
pub fn known_compression(mode: &str) -> bool {
    matches!(
        mode.to_ascii_lowercase().as_str(),
        "" | "off"
            | "disabled"
            | "false"
            | "accept"
            | "not supported"
            | "s2_fast"
            | "fast"
            | "s2_better"
            | "better"
            | "s2_best"
            | "best"
            | "s2_auto"
            | "auto"
            | "s2_uncompressed"
            | "uncompressed"
            | "on"
            | "enabled"
            | "true"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_info_is_a_legacy_single_connection_info() {
        let info = RouteInfo {
            server_id: "NABC".into(),
            server_name: "F".into(),
            version: "2.15.1".into(),
            proto: ROUTE_PROTO,
            go: "rnats".into(),
            host: "127.0.0.1".into(),
            port: 6222,
            headers: true,
            max_payload: 1048576,
            cluster: "C1".into(),
            connect_urls: vec!["127.0.0.1:4222".into()],
            ..RouteInfo::default()
        };
        let line = String::from_utf8(info.to_line()).unwrap();
        assert_eq!(
            line,
            "INFO {\"server_id\":\"NABC\",\"server_name\":\"F\",\"version\":\"2.15.1\",\"proto\":2,\"go\":\"rnats\",\"host\":\"127.0.0.1\",\"port\":6222,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"C1\",\"connect_urls\":[\"127.0.0.1:4222\"]} \r\n"
        );
        for absent in ["route_pool_size", "compression", "lnoc", "nonce", "gossip_mode"] {
            assert!(!line.contains(absent), "{absent}");
        }
        let pw = Secret::from("pw");
        let connect = RouteConnect {
            echo: true,
            verbose: false,
            pedantic: false,
            user: Some("ruser"),
            pass: Some(&pw),
            tls_required: false,
            headers: true,
            name: "NABC",
            cluster: "C1",
            cluster_dynamic: false,
        };
        assert_eq!(
            String::from_utf8(connect.to_line()).unwrap(),
            "CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false,\"user\":\"ruser\",\"pass\":\"pw\",\"tls_required\":false,\"headers\":true,\"name\":\"NABC\",\"cluster\":\"C1\"}\r\n"
        );
        // Sent in clear to the peer, never printed.
        assert!(!format!("{connect:?}").contains("\"pw\""), "{connect:?}");
    }

    #[test]
    fn peer_info_from_the_reference() {
        let text = r#"{"server_id":"NCZ7","server_name":"A","version":"2.15.1","proto":3,"go":"go1.27.2","host":"127.0.0.1","port":59845,"headers":true,"max_payload":1048576,"nonce":"zJvTi9vY0IsphB4","cluster":"C1","connect_urls":["127.0.0.1:60081"],"compression":"accept","lnoc":true,"lnocu":true,"ln":true,"route_pool_size":3}"#;
        let p: PeerInfo = serde_json::from_str(text).unwrap();
        assert_eq!((p.server_id.as_str(), p.name.as_str(), p.port, p.route_pool_size), ("NCZ7", "A", 59845, 3));
        assert_eq!(p.connect_urls.as_deref(), Some(&["127.0.0.1:60081".to_string()][..]));
        assert!(known_compression(&p.compression));
        assert!(!known_compression("zstd"));
    }
}
