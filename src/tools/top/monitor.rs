//! The parts of the monitoring JSON `rnats top` reads: `/varz` and `/connz`
//! as nats-server writes them (snake_case Go tags). Every field is optional:
//! a server that omits one (Go's `omitempty`) or writes `null` still parses.

use serde::{Deserialize, Deserializer};

use crate::monitor::connz::SortBy;

/// `null` reads as the type's default, as a missing field does.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `/varz`: the server and its totals.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Varz {
    #[serde(deserialize_with = "nullable")]
    pub server_id: String,
    #[serde(deserialize_with = "nullable")]
    pub server_name: String,
    #[serde(deserialize_with = "nullable")]
    pub version: String,
    /// RFC 3339 with nanoseconds: when the server produced this.
    #[serde(deserialize_with = "nullable")]
    pub now: String,
    /// A Go duration string (`"1h2m3s"`).
    #[serde(deserialize_with = "nullable")]
    pub uptime: String,
    /// Resident memory, bytes.
    pub mem: i64,
    /// CPU use, percent of one core.
    pub cpu: f64,
    pub connections: i64,
    pub in_msgs: i64,
    pub out_msgs: i64,
    pub in_bytes: i64,
    pub out_bytes: i64,
    pub slow_consumers: i64,
}

/// `/connz`: one page of connections.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Connz {
    #[serde(deserialize_with = "nullable")]
    pub now: String,
    /// Connections in this reply.
    pub num_connections: u64,
    /// Connections on the server.
    pub total: u64,
    #[serde(deserialize_with = "nullable")]
    pub connections: Vec<ConnInfo>,
}

/// One client connection in `/connz`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ConnInfo {
    pub cid: u64,
    #[serde(deserialize_with = "nullable")]
    pub ip: String,
    pub port: u16,
    #[serde(deserialize_with = "nullable")]
    pub start: String,
    #[serde(deserialize_with = "nullable")]
    pub last_activity: String,
    #[serde(deserialize_with = "nullable")]
    pub rtt: String,
    #[serde(deserialize_with = "nullable")]
    pub uptime: String,
    #[serde(deserialize_with = "nullable")]
    pub idle: String,
    pub pending_bytes: i64,
    pub in_msgs: i64,
    pub out_msgs: i64,
    pub in_bytes: i64,
    pub out_bytes: i64,
    /// The number of subscriptions.
    pub subscriptions: u64,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub lang: String,
    #[serde(deserialize_with = "nullable")]
    pub version: String,
    /// Subjects, present when asked for with `subs=1`.
    #[serde(deserialize_with = "nullable")]
    pub subscriptions_list: Vec<String>,
}

/// A sort order `rnats top` accepts: `/connz`'s, but for those that apply
/// only to closed connections, which top does not show.
pub fn parse_sort(s: &str) -> Result<SortBy, String> {
    match SortBy::ALL.into_iter().find(|k| k.as_str() == s) {
        Some(k) if k.closed_only() => {
            Err(format!("sort by {s} applies only to closed connections, which top does not show"))
        }
        Some(k) => Ok(k),
        None => {
            let names: Vec<&str> = SortBy::ALL.iter().filter(|k| !k.closed_only()).map(|k| k.as_str()).collect();
            Err(format!("invalid sort option {s:?}; use one of {}", names.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_null_fields_default() {
        let c: Connz = serde_json::from_str(r#"{"connections":[{"cid":3,"name":null,"subscriptions_list":null}]}"#)
            .expect("parses");
        assert_eq!(c.connections[0].cid, 3);
        assert_eq!(c.connections[0].name, "");
        assert!(c.connections[0].subscriptions_list.is_empty());
        let v: Varz = serde_json::from_str(r#"{"cpu":1.5,"extra":{"x":1}}"#).expect("parses");
        assert_eq!(v.cpu, 1.5);
    }

    #[test]
    fn sort_names_round_trip() {
        for k in SortBy::ALL.into_iter().filter(|k| !k.closed_only()) {
            assert_eq!(parse_sort(k.as_str()), Ok(k));
        }
        assert!(parse_sort("bogus").unwrap_err().contains("msgs_to"));
        assert!(parse_sort("stop").unwrap_err().contains("closed"));
    }
}
