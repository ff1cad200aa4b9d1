//! The exact texts nats-server puts on the wire and in `/connz`. Clients match
//! some of them literally, so they are constants, never formatted ad hoc.

pub const ERR_UNKNOWN_OP: &str = "Unknown Protocol Operation";
pub const ERR_AUTH_VIOLATION: &str = "Authorization Violation";
pub const ERR_AUTH_TIMEOUT: &str = "Authentication Timeout";
pub const ERR_MAX_PAYLOAD: &str = "Maximum Payload Violation";
pub const ERR_MAX_CONTROL_LINE: &str = "maximum control line exceeded";
pub const ERR_MAX_CONNECTIONS: &str = "maximum connections exceeded";
pub const ERR_MAX_SUBSCRIPTIONS: &str = "maximum subscriptions exceeded";
pub const ERR_INVALID_SUBJECT: &str = "Invalid Subject";
pub const ERR_INVALID_PUB_SUBJECT: &str = "Invalid Publish Subject";
pub const ERR_INVALID_PROTOCOL: &str = "invalid client protocol";
pub const ERR_NO_RESPONDERS_NEEDS_HEADERS: &str = "no responders requires headers support";
pub const ERR_STALE_CONNECTION: &str = "Stale Connection";
/// Sent before closing a slow consumer (nats-server sends nothing).
pub const ERR_SLOW_CONSUMER: &str = "Slow Consumer";

/// Why a connection ended; the strings are nats-server's `ClosedState` names,
/// shown as `reason` in `/connz?state=closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CloseReason {
    ClientClosed = 1,
    AuthenticationTimeout,
    AuthenticationViolation,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    WriteError,
    ReadError,
    ParseError,
    StaleConnection,
    ProtocolViolation,
    BadClientProtocolVersion,
    MaxConnectionsExceeded,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    ServerShutdown,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::WriteError => "Write Error",
            CloseReason::ReadError => "Read Error",
            CloseReason::ParseError => "Parse Error",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::BadClientProtocolVersion => "Bad Client Protocol Version",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::MaxPayloadExceeded => "Maximum Payload Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::ServerShutdown => "Server Shutdown",
        }
    }

    pub fn from_u8(v: u8) -> Option<CloseReason> {
        use CloseReason::*;
        const ALL: [CloseReason; 15] = [
            ClientClosed,
            AuthenticationTimeout,
            AuthenticationViolation,
            SlowConsumerPendingBytes,
            SlowConsumerWriteDeadline,
            WriteError,
            ReadError,
            ParseError,
            StaleConnection,
            ProtocolViolation,
            BadClientProtocolVersion,
            MaxConnectionsExceeded,
            MaxPayloadExceeded,
            MaxControlLineExceeded,
            ServerShutdown,
        ];
        ALL.iter().copied().find(|r| *r as u8 == v)
    }

    pub fn is_slow_consumer(self) -> bool {
        matches!(self, CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline)
    }
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
        assert_eq!(err_line(ERR_UNKNOWN_OP), b"-ERR 'Unknown Protocol Operation'\r\n");
    }
}
