//! permessage-deflate (RFC 7692) as nats-server negotiates it: no context
//! takeover either way, so every message is compressed and inflated on its
//! own. The compressor and the inflater (with their windows) are made once
//! per connection, on first use, and reset per message: no allocation per
//! message.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// What a sync flush ends with; RFC 7692 §7.2.1 drops it from the frame
/// and §7.2.2 has the reader append it again.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Writes below this size go uncompressed (nats-server's `wsCompressThreshold`).
pub const COMPRESS_THRESHOLD: usize = 64;

/// Compresses whole messages.
pub struct Deflater {
    c: Compress,
}

impl Default for Deflater {
    fn default() -> Self {
        // Raw deflate (no zlib header), nats-server's `flate.BestSpeed`.
        Deflater { c: Compress::new(Compression::fast(), false) }
    }
}

impl Deflater {
    /// Appends `input` compressed as one message to `out`, without the
    /// sync-flush tail.
    ///
    /// One call with room for the worst case: miniz_oxide loses output when
    /// a sync flush is resumed after the output buffer ran full (seen with
    /// 60 KB of incompressible data), so the flush must fit at once. `out`
    /// is the writer's reused buffer: it grows to the largest batch and stays.
    pub fn compress_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.c.reset();
        let start = out.len();
        out.reserve(compress_bound(input.len()));
        let before = self.c.total_in();
        self.c.compress_vec(input, out, FlushCompress::Sync).map_err(|e| format!("Error during compression: {e}"))?;
        if (self.c.total_in() - before) as usize != input.len() || out.len() == out.capacity() {
            return Err("Error during compression: the output did not fit".into());
        }
        if out.len() >= start + TAIL.len() && out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        Ok(())
    }
}

/// The most raw deflate can take for `n` bytes, sync flush included
/// (zlib's `compressBound`, plus the flush's empty stored block and slack).
fn compress_bound(n: usize) -> usize {
    n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 5 + 64
}

/// Inflates messages as their frames arrive, straight into the reader's
/// buffer.
pub struct Inflater {
    d: Decompress,
    /// Bytes of the tail still to feed at the end of the message.
    tail_left: usize,
    /// The tail is (being) fed and the message's last output may still be
    /// inside the inflater: [`Inflater::finish`] until it says done.
    finishing: bool,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater { d: Decompress::new(false), tail_left: 0, finishing: false }
    }
}

/// How far one call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub consumed: usize,
    pub produced: usize,
}

impl Inflater {
    /// Inflates what it can of `input` into `out`.
    pub fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Progress, String> {
        let (in0, out0) = (self.d.total_in(), self.d.total_out());
        let status = self.d.decompress(input, out, FlushDecompress::None).map_err(|e| format!("flate: {e}"))?;
        let p =
            Progress { consumed: (self.d.total_in() - in0) as usize, produced: (self.d.total_out() - out0) as usize };
        if status == Status::StreamEnd && p.consumed < input.len() {
            return Err("flate: data after the final block".into());
        }
        Ok(p)
    }

    /// The message's last frame is in: the tail follows.
    pub fn start_tail(&mut self) {
        self.tail_left = TAIL.len();
        self.finishing = true;
    }

    /// Feeds the tail; returns the bytes produced, and whether the message
    /// is complete (the inflater is then reset for the next one).
    pub fn finish(&mut self, out: &mut [u8]) -> Result<(usize, bool), String> {
        let mut produced = 0;
        loop {
            let tail = &TAIL[TAIL.len() - self.tail_left..];
            let p = self.inflate(tail, &mut out[produced..])?;
            self.tail_left -= p.consumed;
            produced += p.produced;
            if self.tail_left == 0 && produced < out.len() {
                // Input all in and room left over: nothing more will come out.
                self.d.reset(false);
                self.finishing = false;
                return Ok((produced, true));
            }
            if p.consumed == 0 && p.produced == 0 {
                return Ok((produced, false));
            }
        }
    }

    /// Whether the tail of a finished message is still being fed.
    pub fn finishing(&self) -> bool {
        self.finishing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate_all(inf: &mut Inflater, compressed: &[u8], chunk: usize, room: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; room];
        for piece in compressed.chunks(chunk.max(1)) {
            let mut at = 0;
            while at < piece.len() {
                let p = inf.inflate(&piece[at..], &mut buf).unwrap();
                at += p.consumed;
                out.extend_from_slice(&buf[..p.produced]);
                assert!(p.consumed > 0 || p.produced > 0, "progress");
            }
        }
        inf.start_tail();
        loop {
            let (n, done) = inf.finish(&mut buf).unwrap();
            out.extend_from_slice(&buf[..n]);
            if done {
                break;
            }
        }
        out
    }

    #[test]
    fn round_trips_in_any_chunking() {
        let msg: Vec<u8> = b"MSG foo.bar 1 11\r\nhello world\r\n".repeat(300);
        let mut d = Deflater::default();
        let mut inf = Inflater::default();
        for (chunk, room) in [(1, 1), (7, 3), (100, 64), (100_000, 100_000)] {
            let mut c = Vec::new();
            d.compress_into(&msg, &mut c).unwrap();
            assert!(c.len() < msg.len() / 5, "compresses: {} of {}", c.len(), msg.len());
            assert!(!c.ends_with(&TAIL));
            assert_eq!(inflate_all(&mut inf, &c, chunk, room), msg, "chunk {chunk} room {room}");
        }
    }

    #[test]
    fn output_that_fills_the_buffer_at_the_tail_is_not_lost() {
        // Whatever the room, every byte comes out: the inflater may hold the
        // message's last bytes after the tail went in.
        let msg: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut c = Vec::new();
        Deflater::default().compress_into(&msg, &mut c).unwrap();
        for room in [1, 2, 3, 5, 64, 999, 1000, 2999, 3000, 3001] {
            assert_eq!(inflate_all(&mut Inflater::default(), &c, c.len(), room), msg, "room {room}");
        }
    }

    #[test]
    fn incompressible_input_round_trips() {
        let mut seed = 7u32;
        let noise: Vec<u8> = (0..60_000)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            })
            .collect();
        let mut c = Vec::new();
        Deflater::default().compress_into(&noise, &mut c).unwrap();
        // An independent inflate of what we wrote.
        let mut d = Decompress::new(false);
        let mut input = c.clone();
        input.extend_from_slice(&TAIL);
        let mut back = Vec::with_capacity(noise.len() + 1024);
        d.decompress_vec(&input, &mut back, FlushDecompress::Sync).unwrap();
        assert!(back == noise, "compressor: {} of {} bytes back", back.len(), noise.len());
        let ours = inflate_all(&mut Inflater::default(), &c, 4096, 512);
        assert!(ours == noise, "inflater: {} of {} bytes", ours.len(), noise.len());
    }

    #[test]
    fn every_message_stands_alone() {
        // No context takeover: a message inflates with a fresh inflater.
        let mut d = Deflater::default();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        d.compress_into(&[b'x'; 500], &mut a).unwrap();
        d.compress_into(&[b'x'; 500], &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(inflate_all(&mut Inflater::default(), &b, 10, 10), vec![b'x'; 500]);
    }

    #[test]
    fn reads_what_zlib_writes() {
        // A sync-flushed raw deflate stream from another implementation
        // (Python's zlib, level 6: "hello hello hello"), tail removed.
        let c = [0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x90, 0x00, 0x00];
        assert_eq!(inflate_all(&mut Inflater::default(), &c, 3, 5), b"hello hello hello");
    }

    #[test]
    fn corrupt_input_is_an_error() {
        let mut inf = Inflater::default();
        let mut out = [0u8; 64];
        assert!(inf.inflate(&[0xff, 0xff, 0xff, 0xff], &mut out).is_err());
    }
}
