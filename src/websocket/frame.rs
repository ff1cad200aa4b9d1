//! WebSocket frames (RFC 6455 §5) as nats-server reads and writes them:
//! headers, masking, control frames, close codes, and the protocol errors
//! the reference answers with a 1002 close frame (its texts).

use crate::server::errors::CloseReason;

pub const OP_CONTINUATION: u8 = 0;
pub const OP_TEXT: u8 = 1;
pub const OP_BINARY: u8 = 2;
pub const OP_CLOSE: u8 = 8;
pub const OP_PING: u8 = 9;
pub const OP_PONG: u8 = 10;

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV2: u8 = 0x20;
const RSV3: u8 = 0x10;
const MASK: u8 = 0x80;

/// The longest header: 2 bytes, an 8-byte length, a 4-byte mask key.
pub const MAX_HEADER: usize = 14;
/// Control frames carry at most this much.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_NO_STATUS: u16 = 1005;
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;
pub const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;
pub const CLOSE_TLS_HANDSHAKE: u16 = 1015;

/// A frame header as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub fin: bool,
    /// permessage-deflate's "compressed" bit (set on a message's first frame).
    pub compressed: bool,
    pub opcode: u8,
    pub len: u64,
    pub mask: Option<[u8; 4]>,
    /// Bytes the header took.
    pub size: usize,
}

impl Header {
    pub fn is_control(&self) -> bool {
        self.opcode >= OP_CLOSE
    }
}

/// What the reader of a connection knows between frames.
#[derive(Debug, Clone, Copy)]
pub struct ReadRules {
    /// Clients must mask (unless they asked for `Nats-No-Masking`).
    pub require_mask: bool,
    /// permessage-deflate was negotiated.
    pub compression: bool,
    /// A data message is open: its final frame has not come yet.
    pub in_message: bool,
}

/// Decodes the header at the start of `buf`: `Ok(None)` when more bytes are
/// needed, an error (nats-server's text) for a frame the reference refuses.
pub fn parse_header(buf: &[u8], rules: &ReadRules) -> Result<Option<Header>, &'static str> {
    let Some(&b0) = buf.first() else { return Ok(None) };
    let fin = b0 & FIN != 0;
    let compressed = b0 & RSV1 != 0;
    let opcode = b0 & 0x0f;
    if b0 & (RSV2 | RSV3) != 0 {
        return Err("RSV2 and RSV3 must be clear");
    }
    if compressed && !rules.compression {
        return Err("compressed frame received without negotiated permessage-deflate");
    }
    let Some(&b1) = buf.get(1) else { return Ok(None) };
    if rules.require_mask && b1 & MASK == 0 {
        return Err("mask bit missing");
    }
    let short = u64::from(b1 & 0x7f);
    match opcode {
        OP_CLOSE | OP_PING | OP_PONG => {
            if short > MAX_CONTROL_PAYLOAD as u64 {
                return Err("control frame length bigger than maximum allowed of 125 bytes");
            }
            if !fin {
                return Err("control frame does not have final bit set");
            }
            if compressed {
                return Err("control frame must not be compressed");
            }
        }
        OP_TEXT | OP_BINARY => {
            if rules.in_message {
                return Err("new message started before final frame for previous message was received");
            }
        }
        OP_CONTINUATION => {
            if !rules.in_message || compressed {
                return Err("invalid continuation frame");
            }
        }
        _ => return Err(unknown_opcode(opcode)),
    }
    let (len, mut size) = match short {
        126 => {
            let Some(b) = buf.get(2..4) else { return Ok(None) };
            (u64::from(u16::from_be_bytes([b[0], b[1]])), 4)
        }
        127 => {
            let Some(b) = buf.get(2..10) else { return Ok(None) };
            let len = u64::from_be_bytes(b.try_into().unwrap_or_default());
            if len & (1 << 63) != 0 {
                return Err("invalid 64-bit payload length");
            }
            (len, 10)
        }
        n => (n, 2),
    };
    let mask = if b1 & MASK != 0 {
        let Some(k) = buf.get(size..size + 4) else { return Ok(None) };
        size += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    Ok(Some(Header { fin, compressed, opcode, len, mask, size }))
}

/// nats-server's `unknown opcode %v`, for the opcodes 3-7 and 11-15.
fn unknown_opcode(op: u8) -> &'static str {
    const TEXTS: [&str; 16] = [
        "",
        "",
        "",
        "unknown opcode 3",
        "unknown opcode 4",
        "unknown opcode 5",
        "unknown opcode 6",
        "unknown opcode 7",
        "",
        "",
        "",
        "unknown opcode 11",
        "unknown opcode 12",
        "unknown opcode 13",
        "unknown opcode 14",
        "unknown opcode 15",
    ];
    TEXTS[usize::from(op & 0x0f)]
}

/// Writes a frame header into `out` and returns its size. The server does
/// not mask what it sends. `first`: the opcode goes in (a continuation
/// frame carries 0); `compressed` only on a message's first frame.
pub fn write_header(
    out: &mut [u8; MAX_HEADER],
    first: bool,
    fin: bool,
    compressed: bool,
    opcode: u8,
    len: usize,
) -> usize {
    let mut b0 = if first { opcode } else { OP_CONTINUATION };
    if fin {
        b0 |= FIN;
    }
    if compressed {
        b0 |= RSV1;
    }
    out[0] = b0;
    if len <= 125 {
        out[1] = len as u8;
        2
    } else if len < 65536 {
        out[1] = 126;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    }
}

/// Appends one whole unmasked frame (a control frame, or a data frame
/// already sized) to `out`.
pub fn push_frame(out: &mut Vec<u8>, first: bool, fin: bool, compressed: bool, opcode: u8, payload: &[u8]) {
    let mut h = [0u8; MAX_HEADER];
    let n = write_header(&mut h, first, fin, compressed, opcode, payload.len());
    out.extend_from_slice(&h[..n]);
    out.extend_from_slice(payload);
}

/// XORs `buf` with the mask `key`, starting at byte `pos` of the key; returns
/// the key position after it. Eight bytes at a time.
pub fn unmask(buf: &mut [u8], key: [u8; 4], pos: usize) -> usize {
    let mut k8 = [0u8; 8];
    for (i, b) in k8.iter_mut().enumerate() {
        *b = key[(pos + i) & 3];
    }
    let k = u64::from_ne_bytes(k8);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c[..8].try_into().unwrap_or_default()) ^ k;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    let rest = chunks.into_remainder();
    for (i, b) in rest.iter_mut().enumerate() {
        *b ^= k8[i];
    }
    (pos + buf.len()) & 3
}

/// The payload of a close frame: the status, then the text (cut to fit a
/// control frame, ending in `...`, as nats-server cuts it).
pub fn close_payload(status: u16, body: &str) -> ([u8; MAX_CONTROL_PAYLOAD], usize) {
    let mut out = [0u8; MAX_CONTROL_PAYLOAD];
    out[..2].copy_from_slice(&status.to_be_bytes());
    let body = body.as_bytes();
    let n = if body.len() > MAX_CONTROL_PAYLOAD - 2 {
        let keep = MAX_CONTROL_PAYLOAD - 5;
        out[2..2 + keep].copy_from_slice(&body[..keep]);
        out[2 + keep..MAX_CONTROL_PAYLOAD].copy_from_slice(b"...");
        MAX_CONTROL_PAYLOAD
    } else {
        out[2..2 + body.len()].copy_from_slice(body);
        2 + body.len()
    };
    (out, n)
}

/// Close codes a peer may send (RFC 6455 §7.4, as nats-server checks them).
pub fn valid_close_status(code: u16) -> bool {
    !matches!(code, CLOSE_NO_STATUS | 1004 | 1006 | CLOSE_TLS_HANDSHAKE)
        && (1000..5000).contains(&code)
        && !(1016..=2999).contains(&code)
}

/// The close status nats-server sends for a connection closed for `reason`.
pub fn status_for(reason: CloseReason) -> u16 {
    use CloseReason::*;
    match reason {
        ClientClosed => CLOSE_NORMAL,
        AuthenticationTimeout
        | AuthenticationViolation
        | SlowConsumerPendingBytes
        | SlowConsumerWriteDeadline
        | MaxConnectionsExceeded
        | MaxControlLineExceeded => CLOSE_POLICY_VIOLATION,
        TlsHandshakeError => CLOSE_TLS_HANDSHAKE,
        ParseError | ProtocolViolation | BadClientProtocolVersion => CLOSE_PROTOCOL_ERROR,
        MaxPayloadExceeded => CLOSE_MESSAGE_TOO_BIG,
        WriteError | ReadError | StaleConnection | ServerShutdown => CLOSE_GOING_AWAY,
        _ => CLOSE_INTERNAL_ERROR,
    }
}

/// A close frame the peer sent, decoded: what to answer. `Ok(None)`: no
/// status was given, so the answer carries none. An error for a payload
/// nats-server refuses.
pub fn close_answer(payload: &[u8]) -> Result<Option<(u16, &str)>, String> {
    match payload.len() {
        0 => Ok(None),
        1 => Err("close frame payload cannot be 1 byte".into()),
        _ => {
            let status = u16::from_be_bytes([payload[0], payload[1]]);
            if !valid_close_status(status) {
                return Err(format!("invalid close status code {status}"));
            }
            match std::str::from_utf8(&payload[2..]) {
                Ok(body) => Ok(Some((status, body))),
                Err(_) => Ok(Some((CLOSE_INVALID_PAYLOAD, "invalid utf8 body in close frame"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: ReadRules = ReadRules { require_mask: true, compression: false, in_message: false };

    fn masked(b0: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut v = vec![b0];
        match payload.len() {
            n if n <= 125 => v.push(0x80 | n as u8),
            n if n < 65536 => {
                v.push(0x80 | 126);
                v.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                v.push(0x80 | 127);
                v.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        v.extend_from_slice(&key);
        let mut p = payload.to_vec();
        unmask(&mut p, key, 0);
        v.extend_from_slice(&p);
        v
    }

    #[test]
    fn headers_of_every_length_form() {
        for n in [0usize, 1, 125, 126, 65535, 65536, 200_000] {
            let f = masked(0x82, &vec![7u8; n], [1, 2, 3, 4]);
            let h = parse_header(&f, &CLIENT).unwrap().unwrap();
            assert_eq!((h.fin, h.opcode, h.len, h.mask), (true, OP_BINARY, n as u64, Some([1, 2, 3, 4])));
            assert_eq!(h.size + n, f.len());
            // Every prefix of the header asks for more.
            for cut in 0..h.size {
                assert_eq!(parse_header(&f[..cut], &CLIENT), Ok(None), "n={n} cut={cut}");
            }
        }
    }

    #[test]
    fn refusals_with_the_reference_texts() {
        let err = |bytes: &[u8], rules: &ReadRules| parse_header(bytes, rules).unwrap_err();
        assert_eq!(err(&[0x82, 0x01], &CLIENT), "mask bit missing");
        assert_eq!(err(&[0xa2, 0x80], &CLIENT), "RSV2 and RSV3 must be clear");
        assert_eq!(err(&[0xc2, 0x80], &CLIENT), "compressed frame received without negotiated permessage-deflate");
        assert_eq!(err(&[0x89, 0xfe], &CLIENT), "control frame length bigger than maximum allowed of 125 bytes");
        assert_eq!(err(&[0x09, 0x80], &CLIENT), "control frame does not have final bit set");
        let deflate = ReadRules { compression: true, ..CLIENT };
        assert_eq!(err(&[0xc9, 0x80], &deflate), "control frame must not be compressed");
        assert_eq!(err(&[0x80, 0x80], &CLIENT), "invalid continuation frame");
        let open = ReadRules { in_message: true, ..deflate };
        assert_eq!(err(&[0xc0, 0x80], &open), "invalid continuation frame");
        assert_eq!(
            err(&[0x82, 0x80], &open),
            "new message started before final frame for previous message was received"
        );
        assert_eq!(err(&[0x83, 0x80], &CLIENT), "unknown opcode 3");
        assert_eq!(err(&[0x8f, 0x80], &CLIENT), "unknown opcode 15");
        let mut huge = vec![0x82, 0xff];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(err(&huge, &CLIENT), "invalid 64-bit payload length");
        let no_mask = ReadRules { require_mask: false, ..CLIENT };
        assert_eq!(parse_header(&[0x82, 0x01], &no_mask).unwrap().unwrap().mask, None);
    }

    #[test]
    fn unmasking_any_offset_and_length() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut whole = data.clone();
        unmask(&mut whole, key, 0);
        for split in [0, 1, 3, 7, 8, 9, 500, 999] {
            let mut parts = data.clone();
            let pos = unmask(&mut parts[..split], key, 0);
            unmask(&mut parts[split..], key, pos);
            assert_eq!(parts, whole, "split at {split}");
        }
        let mut back = whole.clone();
        unmask(&mut back, key, 0);
        assert_eq!(back, data);
    }

    #[test]
    fn written_headers_read_back() {
        let rules = ReadRules { require_mask: false, compression: true, in_message: false };
        for n in [0usize, 125, 126, 65535, 65536] {
            let mut h = [0; MAX_HEADER];
            let size = write_header(&mut h, true, true, true, OP_BINARY, n);
            let mut f = h[..size].to_vec();
            f.resize(size + n, 0);
            let back = parse_header(&f, &rules).unwrap().unwrap();
            assert_eq!((back.len, back.compressed, back.fin, back.size), (n as u64, true, true, size));
        }
        let mut h = [0; MAX_HEADER];
        assert_eq!(write_header(&mut h, false, false, false, OP_BINARY, 3), 2);
        assert_eq!(h[0], OP_CONTINUATION, "a continuation frame carries no opcode and no FIN");
    }

    #[test]
    fn close_frames() {
        let (p, n) = close_payload(1000, "Client Closed");
        assert_eq!(&p[..n], b"\x03\xe8Client Closed");
        let (p, n) = close_payload(1002, &"x".repeat(200));
        assert_eq!(n, 125);
        assert!(p[..n].ends_with(b"xx..."));
        assert_eq!(close_answer(b""), Ok(None));
        assert_eq!(close_answer(b"\x03"), Err("close frame payload cannot be 1 byte".into()));
        assert_eq!(close_answer(b"\x03\xed"), Err("invalid close status code 1005".into()));
        assert_eq!(close_answer(b"\x0b\xb8bye"), Ok(Some((3000, "bye"))));
        assert_eq!(close_answer(b"\x03\xe8\xff"), Ok(Some((1007, "invalid utf8 body in close frame"))));
        assert!(!valid_close_status(999) && !valid_close_status(1016) && !valid_close_status(5000));
        assert!(valid_close_status(1000) && valid_close_status(3000) && valid_close_status(4999));
        assert_eq!(status_for(CloseReason::ClientClosed), 1000);
        assert_eq!(status_for(CloseReason::AuthenticationViolation), 1008);
        assert_eq!(status_for(CloseReason::MaxPayloadExceeded), 1009);
        assert_eq!(status_for(CloseReason::ServerShutdown), 1001);
        assert_eq!(status_for(CloseReason::DuplicateRoute), 1011);
    }
}
