//! The exact texts nats-server puts on the wire and in `/connz`. Clients match
//! some of them literally, so they are constants, never formatted ad hoc.

pub const ERR_UNKNOWN_OP: &str = "Unknown Protocol Operation";
pub const ERR_AUTH_VIOLATION: &str = "Authorization Violation";
pub const ERR_AUTH_TIMEOUT: &str = "Authentication Timeout";
/// A user JWT expired on a live connection.
pub const ERR_AUTH_EXPIRED: &str = "User Authentication Expired";
pub const ERR_ACCOUNT_EXPIRED: &str = "Account Authentication Expired";
/// A claim update revoked a live connection's user JWT.
pub const ERR_AUTH_REVOKED: &str = "User Authentication Revoked";
pub const ERR_MAX_PAYLOAD: &str = "Maximum Payload Violation";
pub const ERR_MAX_CONTROL_LINE: &str = "maximum control line exceeded";
pub const ERR_MAX_CONNECTIONS: &str = "maximum connections exceeded";
pub const ERR_MAX_SUBSCRIPTIONS: &str = "maximum subscriptions exceeded";
pub const ERR_MAX_ACCOUNT_CONNECTIONS: &str = "maximum account active connections exceeded";
pub const ERR_INVALID_SUBJECT: &str = "Invalid Subject";
pub const ERR_INVALID_PUB_SUBJECT: &str = "Invalid Publish Subject";
pub const ERR_INVALID_PROTOCOL: &str = "invalid client protocol";
pub const ERR_NO_RESPONDERS_NEEDS_HEADERS: &str = "no responders requires headers support";
pub const ERR_STALE_CONNECTION: &str = "Stale Connection";
/// Sent before closing a slow consumer (nats-server sends nothing).
pub const ERR_SLOW_CONSUMER: &str = "Slow Consumer";
/// A client that dialed the route port (its CONNECT names a `lang`).
pub const ERR_CLIENT_ON_ROUTE_PORT: &str = "attempted to connect to route port";

/// Declares [`CloseReason`] and its texts in one list, so a new reason cannot
/// be left out of the text table or of [`CloseReason::from_u8`].
macro_rules! close_reasons {
    (
        $(#[$first_doc:meta])* $first:ident => $first_text:literal,
        $( $(#[$doc:meta])* $name:ident => $text:literal, )*
    ) => {
        /// Why a connection ended; the strings are nats-server's `ClosedState`
        /// names, shown as `reason` in `/connz?state=closed`. Numbered from 1:
        /// 0 is "open" in the connection's close state.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum CloseReason {
            $(#[$first_doc])* $first = 1,
            $( $(#[$doc])* $name, )*
        }

        impl CloseReason {
            const ALL: &'static [CloseReason] = &[CloseReason::$first, $( CloseReason::$name, )*];

            pub fn as_str(self) -> &'static str {
                match self {
                    CloseReason::$first => $first_text,
                    $( CloseReason::$name => $text, )*
                }
            }
        }
    };
}

close_reasons! {
    ClientClosed => "Client Closed",
    AuthenticationTimeout => "Authentication Timeout",
    AuthenticationViolation => "Authentication Failure",
    SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
    SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
    WriteError => "Write Error",
    ReadError => "Read Error",
    ParseError => "Parse Error",
    StaleConnection => "Stale Connection",
    ProtocolViolation => "Protocol Violation",
    BadClientProtocolVersion => "Bad Client Protocol Version",
    MaxConnectionsExceeded => "Maximum Connections Exceeded",
    MaxPayloadExceeded => "Maximum Message Payload Exceeded",
    MaxControlLineExceeded => "Maximum Control Line Exceeded",
    ServerShutdown => "Server Shutdown",
    TlsHandshakeError => "TLS Handshake Failure",
    /// A second route to a server already routed to, or a route to itself.
    DuplicateRoute => "Duplicate Route",
    ClusterNameConflict => "Cluster Name Conflict",
    DuplicateServerName => "Duplicate Server Name",
    /// A client (or gateway) on the route port.
    WrongPort => "Incorrect Port",
    WrongGateway => "Wrong Gateway",
    /// A configured route taken out by a reload.
    RouteRemoved => "Route Removed",
    NoRespondersRequiresHeaders => "No Responders Requires Headers",
    /// A route that sent more interest than a route may hold.
    MaxSubscriptionsExceeded => "Maximum Subscriptions Exceeded",
    MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
    /// Closed by a system account's `KICK` request.
    Kicked => "Kicked",
    /// A user JWT expired.
    AuthenticationExpired => "Authentication Expired",
    /// A claim update revoked the user.
    Revocation => "Credentials Revoked",
    /// The session failed (a bug: a panic in its task). nats-server has no
    /// such reason: a panic there takes the whole server down.
    InternalError => "Internal Error",
}

impl CloseReason {
    /// The reason stored as `reason as u8`; `None` for 0 (open) or junk.
    pub fn from_u8(v: u8) -> Option<CloseReason> {
        CloseReason::ALL.get(usize::from(v).checked_sub(1)?).copied()
    }

    pub fn is_slow_consumer(self) -> bool {
        matches!(self, CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline)
    }
}

/// Quotes bytes (or a `str`) as Go's `%q` (`strconv.Quote`) does, as
/// nats-server prints subjects, queue names and sids in `-ERR` texts and log
/// lines, and JWT errors their values: `"secret.\x7f"`, `"a\x00"`,
/// `"\xff"`, `"é"`, `"\u00a0"`. The one implementation is
/// [`crate::gotext::go_quote`].
pub fn go_quote(text: impl AsRef<[u8]>) -> String {
    crate::gotext::go_quote(text.as_ref())
}

/// `-ERR '<text>'\r\n`
pub fn err_line(text: &str) -> Vec<u8> {
    format!("-ERR '{text}'\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip() {
        for v in 0..=255u8 {
            if let Some(r) = CloseReason::from_u8(v) {
                assert_eq!(r as u8, v);
            }
        }
        assert_eq!(CloseReason::from_u8(CloseReason::ServerShutdown as u8), Some(CloseReason::ServerShutdown));
        assert_eq!(CloseReason::from_u8(0), None);
        for r in CloseReason::ALL {
            assert_eq!(CloseReason::from_u8(*r as u8), Some(*r), "{r:?}");
            assert!(!r.as_str().is_empty());
        }
        assert_eq!(err_line(ERR_UNKNOWN_OP), b"-ERR 'Unknown Protocol Operation'\r\n");
    }

    /// Checked against nats-server 2.15.1's `-ERR 'Permissions Violation
    /// for Publish to "..."'` texts and Go's strconv.Quote.
    #[test]
    fn quotes_as_go_does() {
        assert_eq!(go_quote(b"secret.c.\x7f.\r$SYS"), r#""secret.c.\x7f.\r$SYS""#);
        assert_eq!(go_quote(b"secret.\x00.c"), r#""secret.\x00.c""#);
        assert_eq!(go_quote(b"a\xffb\xe2\x82"), r#""a\xffb\xe2\x82""#);
        assert_eq!(go_quote("é\u{a0}\u{1f600}".as_bytes()), "\"é\\u00a0\u{1f600}\"");
        assert_eq!(go_quote(b"q\"\\\x07\x08\x0c\n\t\x0b\x1b"), r#""q\"\\\a\b\f\n\t\v\x1b""#);
    }
}
