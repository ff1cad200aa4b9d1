//! INFO (server → client) and CONNECT (client → server) JSON, with nats-server's
//! field names and order. Optional fields are left out when empty, as Go's
//! `omitempty` does, because clients and tests compare these lines.

mod gojson;

use serde::{Deserialize, Deserializer, Serialize};

use crate::secret::Secret;
use gojson::{Decoded, Kind};

#[derive(Debug, Clone, Serialize, Default)]
pub struct Info {
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
    #[serde(skip_serializing_if = "is_false")]
    pub tls_available: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub connect_info: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    /// The client is in the system account.
    #[serde(skip_serializing_if = "is_false")]
    pub acc_is_sys: bool,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Info {
    pub fn to_line(&self) -> Vec<u8> {
        info_line(self)
    }
}

/// `INFO {...} \r\n` for clients and routes alike — note the space before
/// CRLF, which the reference sends.
pub(crate) fn info_line(info: &impl Serialize) -> Vec<u8> {
    let mut line = b"INFO ".to_vec();
    // Serialising a plain struct of strings and numbers cannot fail.
    serde_json::to_writer(&mut line, info).unwrap_or_default();
    line.extend_from_slice(b" \r\n");
    line
}

/// The CONNECT options. Fields a client leaves out keep the reference's
/// defaults: verbose, pedantic and echo are on.
///
/// Decoding follows Go's `encoding/json` into nats-server's `ClientOpts` (see
/// [`gojson`]): keys match case-insensitively, `null` keeps a field as it
/// was, the last of repeated keys wins, and `CONNECT null` is a valid
/// CONNECT. [`check_connect`] says whether nats-server accepts the JSON at
/// all; [`ConnectOpts::apply_json`] also merges a later CONNECT into the
/// options of an earlier one, as nats-server does.
#[derive(Debug, Clone)]
pub struct ConnectOpts {
    pub verbose: bool,
    pub pedantic: bool,
    pub tls_required: bool,
    pub auth_token: Option<Secret>,
    pub user: Option<String>,
    pub pass: Option<Secret>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub protocol: i64,
    pub echo: bool,
    pub headers: bool,
    pub no_responders: bool,
    pub nkey: Option<String>,
    pub sig: Option<String>,
    pub jwt: Option<String>,
    pub account: Option<String>,
    pub new_account: bool,
}

/// nats-server's `ClientOpts` fields, in declaration order.
const CLIENT_OPTS: &[(&str, Kind)] = &[
    ("echo", Kind::Bool),
    ("verbose", Kind::Bool),
    ("pedantic", Kind::Bool),
    ("tls_required", Kind::Bool),
    ("nkey", Kind::Str),
    ("jwt", Kind::Str),
    ("sig", Kind::Str),
    ("auth_token", Kind::Str),
    ("user", Kind::Str),
    ("pass", Kind::Str),
    ("name", Kind::Str),
    ("lang", Kind::Str),
    ("version", Kind::Str),
    ("protocol", gojson::INT),
    ("account", Kind::Str),
    ("new_account", Kind::Bool),
    ("headers", Kind::Bool),
    ("no_responders", Kind::Bool),
    ("import", Kind::SubjectPermission),
    ("export", Kind::SubjectPermission),
    ("remote_account", Kind::Str),
    ("proxy_sig", Kind::Str),
];

/// nats-server's `Info` fields, in declaration order: a client may send an
/// INFO, and nats-server closes the connection when it does not decode.
const SERVER_INFO: &[(&str, Kind)] = &[
    ("server_id", Kind::Str),
    ("server_name", Kind::Str),
    ("version", Kind::Str),
    ("proto", gojson::INT),
    ("git_commit", Kind::Str),
    ("go", Kind::Str),
    ("host", Kind::Str),
    ("port", gojson::INT),
    ("headers", Kind::Bool),
    ("auth_required", Kind::Bool),
    ("tls_required", Kind::Bool),
    ("tls_verify", Kind::Bool),
    ("tls_available", Kind::Bool),
    ("max_payload", gojson::INT32),
    ("jetstream", Kind::Bool),
    ("ip", Kind::Str),
    ("client_id", gojson::UINT64),
    ("client_ip", Kind::Str),
    ("nonce", Kind::Str),
    ("cluster", Kind::Str),
    ("cluster_dynamic", Kind::Bool),
    ("domain", Kind::Str),
    ("connect_urls", Kind::StrList),
    ("ws_connect_urls", Kind::StrList),
    ("ldm", Kind::Bool),
    ("compression", Kind::Str),
    ("connect_info", Kind::Bool),
    ("remote_account", Kind::Str),
    ("acc_is_sys", Kind::Bool),
    ("api_lvl", gojson::INT),
    ("import", Kind::SubjectPermission),
    ("export", Kind::SubjectPermission),
    ("lnoc", Kind::Bool),
    ("lnocu", Kind::Bool),
    ("info_on_connect", Kind::Bool),
    ("route_pool_size", gojson::INT),
    ("route_pool_idx", gojson::INT),
    ("route_account", Kind::Str),
    ("route_acc_add_reqid", Kind::Str),
    ("gossip_mode", gojson::BYTE),
    ("gateway", Kind::Str),
    ("gateway_urls", Kind::StrList),
    ("gateway_url", Kind::Str),
    ("gateway_cmd", gojson::BYTE),
    ("gateway_cmd_payload", Kind::Bytes),
    ("gateway_nrp", Kind::Bool),
    ("gateway_iom", Kind::Bool),
    ("leafnode_urls", Kind::StrList),
    ("xkey", Kind::Str),
];

/// Whether nats-server accepts `json` as a CONNECT argument. The error is
/// the Go decoder's message, which nats-server logs before closing.
pub fn check_connect(json: &[u8]) -> Result<(), String> {
    gojson::decode_struct(json, "ClientOpts", CLIENT_OPTS, |_, _| {})
}

/// Whether nats-server accepts `json` as the argument of an INFO sent by a
/// client (it ignores the content, but closes on what does not decode).
pub fn check_info(json: &[u8]) -> Result<(), String> {
    gojson::decode_struct(json, "Info", SERVER_INFO, |_, _| {})
}

impl ConnectOpts {
    /// Decodes `json` into these options as nats-server does: members that
    /// are present and not `null` overwrite, everything else stays. This is
    /// how a second CONNECT on a connection changes its options. After an
    /// error (the connection is closed) the options are unspecified.
    pub fn apply_json(&mut self, json: &[u8]) -> Result<(), String> {
        gojson::decode_struct(json, "ClientOpts", CLIENT_OPTS, |i, v| self.store(CLIENT_OPTS[i].0, v))
    }

    fn store(&mut self, field: &str, v: Decoded) {
        match v {
            Decoded::Keep | Decoded::Other => {}
            Decoded::Bool(b) => match field {
                "echo" => self.echo = b,
                "verbose" => self.verbose = b,
                "pedantic" => self.pedantic = b,
                "tls_required" => self.tls_required = b,
                "new_account" => self.new_account = b,
                "headers" => self.headers = b,
                "no_responders" => self.no_responders = b,
                _ => {}
            },
            Decoded::Int(n) => {
                if field == "protocol" {
                    self.protocol = n;
                }
            }
            Decoded::Str(s) => {
                let slot = match field {
                    "auth_token" => return self.auth_token = Some(Secret::from(s)),
                    "pass" => return self.pass = Some(Secret::from(s)),
                    "nkey" => &mut self.nkey,
                    "jwt" => &mut self.jwt,
                    "sig" => &mut self.sig,
                    "user" => &mut self.user,
                    "name" => &mut self.name,
                    "lang" => &mut self.lang,
                    "version" => &mut self.version,
                    "account" => &mut self.account,
                    _ => return,
                };
                *slot = Some(s);
            }
        }
    }
}

/// Serde decoding with Go's rules for what [`check_connect`] accepts (keys
/// as raw bytes, so strings with invalid UTF-8 or lone surrogates decode as
/// Go decodes them). Prefer [`ConnectOpts::apply_json`], which also merges.
impl<'de> Deserialize<'de> for ConnectOpts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(serde_go::OptsVisitor)
    }
}

mod serde_go {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, Visitor};

    use super::{gojson, ConnectOpts, Decoded, CLIENT_OPTS};

    pub struct OptsVisitor;

    impl<'de> Visitor<'de> for OptsVisitor {
        type Value = ConnectOpts;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a CONNECT object")
        }

        fn visit_unit<E: Error>(self) -> Result<ConnectOpts, E> {
            Ok(ConnectOpts::default())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConnectOpts, A::Error> {
            let mut opts = ConnectOpts::default();
            while let Some(key) = map.next_key_seed(Raw)? {
                let key = {
                    let mut s = String::new();
                    gojson::push_go_utf8(&mut s, &key);
                    s
                };
                let Some(&(name, kind)) = CLIENT_OPTS.iter().find(|(n, _)| gojson::key_matches(&key, n)) else {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                };
                let v = match kind {
                    gojson::Kind::Bool => map.next_value_seed(Scalar::Bool)?,
                    gojson::Kind::Str => map.next_value_seed(Scalar::Str)?,
                    gojson::Kind::Int { .. } => map.next_value_seed(Scalar::Int)?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                        Decoded::Other
                    }
                };
                opts.store(name, v);
            }
            Ok(opts)
        }
    }

    /// serde_json hands over a lone `\\uD800` escape as its WTF-8 bytes; Go
    /// makes it one U+FFFD. (A surrogate's bytes written raw, not escaped,
    /// are three U+FFFD in Go; serde cannot tell the two apart, `apply_json`
    /// can.)
    fn from_wtf8(bytes: &[u8]) -> String {
        let mut s = String::new();
        let mut start = 0;
        let mut i = 0;
        while i + 2 < bytes.len() {
            if bytes[i] == 0xed && (0xa0..=0xbf).contains(&bytes[i + 1]) && (0x80..=0xbf).contains(&bytes[i + 2]) {
                gojson::push_go_utf8(&mut s, &bytes[start..i]);
                s.push('\u{fffd}');
                i += 3;
                start = i;
            } else {
                i += 1;
            }
        }
        gojson::push_go_utf8(&mut s, &bytes[start..]);
        s
    }

    /// A key or string as raw bytes, never checked as UTF-8 by serde_json.
    struct Raw;

    impl<'de> DeserializeSeed<'de> for Raw {
        type Value = Vec<u8>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
            d.deserialize_bytes(RawVisitor)
        }
    }

    struct RawVisitor;

    impl<'de> Visitor<'de> for RawVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Vec<u8>, E> {
            Ok(v.as_bytes().to_vec())
        }
    }

    #[derive(Clone, Copy)]
    enum Scalar {
        Bool,
        Str,
        Int,
    }

    impl<'de> DeserializeSeed<'de> for Scalar {
        type Value = Decoded;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Decoded, D::Error> {
            match self {
                Scalar::Str => d.deserialize_option(self),
                _ => d.deserialize_any(self),
            }
        }
    }

    impl<'de> Visitor<'de> for Scalar {
        type Value = Decoded;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(match self {
                Scalar::Bool => "a bool",
                Scalar::Str => "a string",
                Scalar::Int => "an integer",
            })
        }
        fn visit_unit<E: Error>(self) -> Result<Decoded, E> {
            Ok(Decoded::Keep)
        }
        fn visit_none<E: Error>(self) -> Result<Decoded, E> {
            Ok(Decoded::Keep)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Decoded, D::Error> {
            let bytes = d.deserialize_bytes(RawVisitor)?;
            Ok(Decoded::Str(from_wtf8(&bytes)))
        }
        fn visit_bool<E: Error>(self, v: bool) -> Result<Decoded, E> {
            match self {
                Scalar::Bool => Ok(Decoded::Bool(v)),
                _ => Err(E::custom("cannot unmarshal bool")),
            }
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Decoded, E> {
            match self {
                Scalar::Int => Ok(Decoded::Int(v)),
                _ => Err(E::custom("cannot unmarshal number")),
            }
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Decoded, E> {
            match (self, i64::try_from(v)) {
                (Scalar::Int, Ok(n)) => Ok(Decoded::Int(n)),
                _ => Err(E::custom("cannot unmarshal number")),
            }
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<Decoded, E> {
            // serde_json reads `-0` as -0.0; Go reads it as the integer 0.
            // (`-0.0` and other fractions never get here: check_connect
            // rejects them first.)
            match self {
                Scalar::Int if v == 0.0 => Ok(Decoded::Int(0)),
                _ => Err(E::custom("cannot unmarshal number")),
            }
        }
    }
}

impl Default for ConnectOpts {
    fn default() -> Self {
        ConnectOpts {
            verbose: true,
            pedantic: true,
            tls_required: false,
            auth_token: None,
            user: None,
            pass: None,
            name: None,
            lang: None,
            version: None,
            protocol: 0,
            echo: true,
            headers: false,
            no_responders: false,
            nkey: None,
            sig: None,
            jwt: None,
            account: None,
            new_account: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_line_shape() {
        let info = Info {
            server_id: "NABC".into(),
            server_name: "n".into(),
            version: "2.15.1".into(),
            proto: 1,
            go: "rust".into(),
            host: "127.0.0.1".into(),
            port: 4222,
            headers: true,
            max_payload: 1048576,
            client_id: 5,
            client_ip: "127.0.0.1".into(),
            ..Info::default()
        };
        let line = String::from_utf8(info.to_line()).unwrap();
        assert_eq!(
            line,
            "INFO {\"server_id\":\"NABC\",\"server_name\":\"n\",\"version\":\"2.15.1\",\"proto\":1,\"go\":\"rust\",\"host\":\"127.0.0.1\",\"port\":4222,\"headers\":true,\"max_payload\":1048576,\"client_id\":5,\"client_ip\":\"127.0.0.1\"} \r\n"
        );
    }

    #[test]
    fn connect_defaults() {
        let c: ConnectOpts = serde_json::from_str("{}").unwrap();
        assert!(c.verbose && c.pedantic && c.echo && !c.headers);
        let c: ConnectOpts = serde_json::from_str(r#"{"verbose":false,"extra":1}"#).unwrap();
        assert!(!c.verbose && c.pedantic);
        assert!(serde_json::from_str::<ConnectOpts>(r#"{"verbose":"x"}"#).is_err());
    }

    /// The serde path and `apply_json` agree with Go on what they accept.
    #[test]
    fn connect_decodes_as_go_does() {
        let serde = |j: &[u8]| serde_json::from_slice::<ConnectOpts>(j);
        let c = serde(b"null").unwrap();
        assert!(c.verbose && c.pedantic);
        let c = serde(br#"{"VERBOSE":false,"Pedantic":false,"verbose":null,"protocol":-0}"#).unwrap();
        assert!(!c.verbose && !c.pedantic && c.protocol == 0);
        let c = serde(b"{\"verbose\":true,\"verbose\":false,\"name\":\"\xff\\ud800\"}").unwrap();
        assert!(!c.verbose);
        assert_eq!(c.name.as_deref(), Some("\u{fffd}\u{fffd}"));
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(500), "]".repeat(500));
        assert!(serde(deep.as_bytes()).is_ok() && check_connect(deep.as_bytes()).is_ok());

        for bad in [
            &b"[]"[..],
            b"\"x\"",
            b"1",
            b"{}x",
            br#"{"protocol":"1"}"#,
            br#"{"protocol":1.0}"#,
            br#"{"verbose":0}"#,
            br#"{"import":{"allow":1}}"#,
            br#"{"sig":1}"#,
        ] {
            assert!(check_connect(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        for good in [&b"null"[..], b" {} ", br#"{"protocol":-0}"#, br#"{"import":null,"new_account":false}"#] {
            assert_eq!(check_connect(good), Ok(()), "{:?}", String::from_utf8_lossy(good));
        }

        // A second CONNECT merges into the first.
        let mut c = ConnectOpts::default();
        c.apply_json(br#"{"verbose":false,"headers":true,"name":"a"}"#).unwrap();
        c.apply_json(br#"{"pedantic":false,"name":null}"#).unwrap();
        assert!(!c.verbose && !c.pedantic && c.headers && c.name.as_deref() == Some("a"));
        c.apply_json(b"null").unwrap();
        assert!(!c.verbose);
    }

    #[test]
    fn info_from_a_client() {
        for good in
            [&b"{}"[..], b"null", br#"{"server_id":"x","port":1,"connect_urls":["a"],"gateway_cmd_payload":"YQ=="}"#]
        {
            assert_eq!(check_info(good), Ok(()), "{:?}", String::from_utf8_lossy(good));
        }
        for bad in [
            &b"garbage"[..],
            b"",
            b"[]",
            br#"{"port":"x"}"#,
            br#"{"max_payload":3000000000}"#,
            br#"{"client_id":-1}"#,
            br#"{"gossip_mode":256}"#,
            br#"{"gateway_cmd_payload":"YQ"}"#,
        ] {
            assert!(check_info(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
