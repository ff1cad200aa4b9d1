//! Compressed replies to `$SYS` requests (nats-server's `getAcceptEncoding`
//! and its send loop, events.go): a request whose `Accept-Encoding` header
//! names `snappy` or `s2` gets its answer in the snappy framing format, one
//! naming `gzip` gets gzip, each with a `Content-Encoding` header; any
//! other value gets the answer as is with `Content-Encoding: identity`.
//!
//! Snappy uses the `snap` crate (the Rust port of the reference
//! implementation, BurntSushi's): its frame encoder writes the stream that
//! nats-server's `s2.WriterSnappyCompat()` writes and clients decode.

use std::io::Write;

/// What a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Snappy,
    /// An `Accept-Encoding` the server does not offer.
    Unsupported,
}

/// The encoding the request's header block (`NATS/1.0…`) asks for:
/// `snappy` or `s2` anywhere first, then `gzip` (as nats-server looks).
pub fn accepted(header: Option<&[u8]>) -> Encoding {
    let Some(header) = header else { return Encoding::Identity };
    let text = String::from_utf8_lossy(header).to_ascii_lowercase();
    let value = text.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "accept-encoding").then(|| value.trim().to_string())
    });
    match value {
        None => Encoding::Identity,
        Some(v) if v.is_empty() => Encoding::Identity,
        Some(v) if v.contains("snappy") || v.contains("s2") => Encoding::Snappy,
        Some(v) if v.contains("gzip") => Encoding::Gzip,
        Some(_) => Encoding::Unsupported,
    }
}

/// The header block and body of a reply of `payload` in `encoding`; no
/// header for [`Encoding::Identity`] or an empty payload.
pub fn encode(encoding: Encoding, payload: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    if payload.is_empty() {
        return (Vec::new(), payload);
    }
    let (name, body) = match encoding {
        Encoding::Identity => return (Vec::new(), payload),
        Encoding::Unsupported => ("identity", payload),
        Encoding::Gzip => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            // Writing into a Vec cannot fail.
            let body = w.write_all(&payload).and_then(|()| w.finish());
            match body {
                Ok(body) => ("gzip", body),
                Err(_) => return (Vec::new(), payload),
            }
        }
        Encoding::Snappy => {
            let mut w = snap::write::FrameEncoder::new(Vec::new());
            match w.write_all(&payload).map_err(|_| ()).and_then(|()| w.into_inner().map_err(|_| ())) {
                Ok(body) => ("snappy", body),
                Err(()) => return (Vec::new(), payload),
            }
        }
    };
    (format!("NATS/1.0\r\nContent-Encoding: {name}\r\n\r\n").into_bytes(), body)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_header_picks_snappy_then_gzip() {
        let h = |v: &str| format!("NATS/1.0\r\nAccept-Encoding: {v}\r\n\r\n").into_bytes();
        assert_eq!(accepted(None), Encoding::Identity);
        assert_eq!(accepted(Some(&h("gzip, s2"))), Encoding::Snappy);
        assert_eq!(accepted(Some(&h("GZIP"))), Encoding::Gzip);
        assert_eq!(accepted(Some(&h("br"))), Encoding::Unsupported);
        assert_eq!(accepted(Some(b"NATS/1.0\r\nOther: x\r\n\r\n")), Encoding::Identity);
    }

    #[test]
    fn encoded_replies_decode_back() {
        let doc = br#"{"server":{"name":"S1"},"data":{"x":1}}"#.repeat(20);
        let (h, body) = encode(Encoding::Snappy, doc.clone());
        assert_eq!(h, b"NATS/1.0\r\nContent-Encoding: snappy\r\n\r\n");
        let mut back = Vec::new();
        snap::read::FrameDecoder::new(&body[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, doc);
        let (h, body) = encode(Encoding::Gzip, doc.clone());
        assert!(h.ends_with(b"Content-Encoding: gzip\r\n\r\n"));
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, doc);
        assert_eq!(encode(Encoding::Identity, doc.clone()), (Vec::new(), doc));
    }
}
