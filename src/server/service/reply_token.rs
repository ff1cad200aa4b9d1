//! The `_R_.<PRE6>.<RND6>` reply subjects of service imports.
//!
//! nats-server rewrites the reply of a cross-account request to
//! `_R_.<PRE6>.<RND6>` in the exporting account: `<PRE6>` is 6 base62
//! characters fixed per exporting account (its interest `_R_.<PRE6>.>` is
//! what routes see), `<RND6>` is random per request and keys a map back to
//! the requester's inbox.
//!
//! rnats keeps the wire format but makes `<RND6>` a *token*: the index of a
//! slot in the account's response table and the slot's generation, passed
//! through a keyed bijection so that tokens are neither sequential nor
//! guessable from one another. Decoding needs no lookup and no lock; the
//! table then checks the generation, which turns a reply to an already
//! freed (and maybe reused) slot into a stale token.
//!
//! 62^6 ≈ 2^35.7, so a token carries 35 bits: [`INDEX_BITS`] of slot index
//! (enough for the table's default bound of 1,000,000 outstanding requests)
//! and [`GENERATION_BITS`] of generation. Values from 2^35 up to 62^6 are
//! never issued; decode rejects them as foreign.

/// base62 as the design writes it: digits, upper case, lower case.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters of `<PRE6>` and of `<RND6>`.
pub const TOKEN_LEN: usize = 6;
/// `_R_.`
pub const REPLY_ROOT: &[u8] = b"_R_.";
/// `_R_.<PRE6>.`: what every reply subject of one account starts with.
pub const PREFIX_LEN: usize = REPLY_ROOT.len() + TOKEN_LEN + 1;
/// A whole reply subject: `_R_.<PRE6>.<RND6>`.
pub const SUBJECT_LEN: usize = PREFIX_LEN + TOKEN_LEN;

/// Bits of slot index in a token: 2^20 = 1,048,576 slots.
pub const INDEX_BITS: u32 = 20;
/// Bits of generation in a token; a slot's generation wraps at 2^15.
pub const GENERATION_BITS: u32 = 15;
const TOKEN_BITS: u32 = INDEX_BITS + GENERATION_BITS;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;
/// Slots a table can address.
pub const MAX_SLOTS: u32 = 1 << INDEX_BITS;
/// Generations wrap inside this mask.
pub const GENERATION_MASK: u32 = (1 << GENERATION_BITS) - 1;

/// What a token stands for: a slot and the generation it was issued in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRef {
    pub index: u32,
    pub generation: u32,
}

/// One account's reply-subject codec: the `_R_.<PRE6>.` prefix and the keys
/// of the token permutation. Immutable once made, shared freely.
#[derive(Debug, Clone)]
pub struct ReplyCodec {
    /// `_R_.<PRE6>.` as written on the wire.
    prefix: [u8; PREFIX_LEN],
    /// Keys of the bijection on 35-bit values (see [`ReplyCodec::permute`]).
    xor_in: u64,
    mul_a: u64,
    mul_b: u64,
    xor_out: u64,
    /// Inverses of `mul_a` and `mul_b` modulo 2^35, for decoding.
    inv_a: u64,
    inv_b: u64,
}

impl ReplyCodec {
    /// A codec with a fresh random prefix and key.
    pub fn random() -> ReplyCodec {
        let mut pre = [0u8; TOKEN_LEN];
        for c in &mut pre {
            *c = ALPHABET[rand::random_range(0..ALPHABET.len())];
        }
        ReplyCodec::with_key(pre, rand::random())
    }

    /// A codec with a given prefix (6 base62 characters) and key; tests use
    /// it for reproducible tokens.
    pub fn with_key(pre: [u8; TOKEN_LEN], key: [u64; 4]) -> ReplyCodec {
        let mut prefix = [0u8; PREFIX_LEN];
        prefix[..REPLY_ROOT.len()].copy_from_slice(REPLY_ROOT);
        prefix[REPLY_ROOT.len()..REPLY_ROOT.len() + TOKEN_LEN].copy_from_slice(&pre);
        prefix[PREFIX_LEN - 1] = b'.';
        // Multipliers must be odd to be invertible modulo a power of two.
        let mul_a = (key[1] | 1) & TOKEN_MASK;
        let mul_b = (key[2] | 1) & TOKEN_MASK;
        ReplyCodec {
            prefix,
            xor_in: key[0] & TOKEN_MASK,
            mul_a,
            mul_b,
            xor_out: key[3] & TOKEN_MASK,
            inv_a: inverse_mod_2_35(mul_a),
            inv_b: inverse_mod_2_35(mul_b),
        }
    }

    /// `_R_.<PRE6>.`
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// `_R_.<PRE6>.>`: the exporter's interest in its replies.
    pub fn interest(&self) -> String {
        let mut s = String::with_capacity(PREFIX_LEN + 1);
        s.extend(self.prefix.iter().map(|&b| b as char));
        s.push('>');
        s
    }

    /// Appends `_R_.<PRE6>.<RND6>` for `slot` to `out`.
    pub fn write_subject(&self, slot: SlotRef, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&self.encode(slot));
    }

    /// `<RND6>` for a slot. The index must be below [`MAX_SLOTS`]; the
    /// generation is taken modulo 2^[`GENERATION_BITS`].
    pub fn encode(&self, slot: SlotRef) -> [u8; TOKEN_LEN] {
        debug_assert!(slot.index < MAX_SLOTS);
        let plain = (u64::from(slot.generation & GENERATION_MASK) << INDEX_BITS) | u64::from(slot.index);
        let mut v = self.permute(plain);
        let mut out = [0u8; TOKEN_LEN];
        for c in out.iter_mut().rev() {
            *c = ALPHABET[(v % 62) as usize];
            v /= 62;
        }
        out
    }

    /// The slot a reply subject names, or `None` for a subject that is not
    /// one of this codec's (other prefix, wrong length, not base62, or a
    /// value never issued).
    pub fn decode_subject(&self, subject: &[u8]) -> Option<SlotRef> {
        if subject.len() != SUBJECT_LEN || subject[..PREFIX_LEN] != self.prefix {
            return None;
        }
        self.decode(&subject[PREFIX_LEN..])
    }

    /// The slot `<RND6>` names (see [`ReplyCodec::decode_subject`]).
    pub fn decode(&self, token: &[u8]) -> Option<SlotRef> {
        if token.len() != TOKEN_LEN {
            return None;
        }
        let mut v: u64 = 0;
        for &c in token {
            v = v * 62 + u64::from(base62_digit(c)?);
        }
        if v > TOKEN_MASK {
            return None;
        }
        let plain = self.unpermute(v);
        Some(SlotRef { index: (plain & u64::from(MAX_SLOTS - 1)) as u32, generation: (plain >> INDEX_BITS) as u32 })
    }

    /// A keyed bijection on 35-bit values: xor, odd multiply, xorshift, odd
    /// multiply, xor. Each step is invertible modulo 2^35; together they
    /// scatter consecutive slots over the whole space. Not cryptographic:
    /// the goal is that a responder cannot tell one request's token from
    /// the next, not secrecy against analysis.
    fn permute(&self, v: u64) -> u64 {
        let mut x = v ^ self.xor_in;
        x = x.wrapping_mul(self.mul_a) & TOKEN_MASK;
        x ^= x >> 17;
        x = x.wrapping_mul(self.mul_b) & TOKEN_MASK;
        x ^ self.xor_out
    }

    fn unpermute(&self, v: u64) -> u64 {
        let mut x = v ^ self.xor_out;
        x = x.wrapping_mul(self.inv_b) & TOKEN_MASK;
        // x ^= x >> 17 undone: 35 bits need two rounds of the shift.
        x ^= x >> 17;
        x ^= x >> 34;
        x = x.wrapping_mul(self.inv_a) & TOKEN_MASK;
        x ^ self.xor_in
    }
}

fn base62_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some(c - b'A' + 10),
        b'a'..=b'z' => Some(c - b'a' + 36),
        _ => None,
    }
}

/// The inverse of an odd `a` modulo 2^35, by Newton's iteration (each step
/// doubles the correct low bits: 3 → 6 → 12 → 24 → 48).
fn inverse_mod_2_35(a: u64) -> u64 {
    let mut x = a; // correct to 3 bits for any odd a
    for _ in 0..4 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
    }
    x & TOKEN_MASK
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn codec() -> ReplyCodec {
        ReplyCodec::with_key(*b"WT8qdj", [0x1234_5678_9abc, 0xdead_beef_1234, 0x0bad_cafe_f00d, 0x7777_1111_3333])
    }

    #[test]
    fn subject_has_the_wire_shape() {
        let c = codec();
        let mut out = Vec::new();
        c.write_subject(SlotRef { index: 5, generation: 3 }, &mut out);
        assert_eq!(out.len(), SUBJECT_LEN);
        assert!(out.starts_with(b"_R_.WT8qdj."));
        assert!(out[PREFIX_LEN..].iter().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(c.interest(), "_R_.WT8qdj.>");
    }

    #[test]
    fn round_trips_across_the_space() {
        let c = codec();
        for index in [0, 1, 2, 1000, MAX_SLOTS - 1] {
            for generation in [0, 1, 77, GENERATION_MASK] {
                let slot = SlotRef { index, generation };
                let mut out = Vec::new();
                c.write_subject(slot, &mut out);
                assert_eq!(c.decode_subject(&out), Some(slot), "{slot:?}");
            }
        }
    }

    #[test]
    fn permutation_is_a_bijection_on_a_sample() {
        let c = codec();
        let mut seen = HashSet::new();
        for v in 0..50_000u64 {
            let p = c.permute(v);
            assert!(p <= TOKEN_MASK);
            assert_eq!(c.unpermute(p), v);
            assert!(seen.insert(p));
        }
        // The top of the range too.
        for v in TOKEN_MASK - 1000..=TOKEN_MASK {
            assert_eq!(c.unpermute(c.permute(v)), v);
        }
    }

    #[test]
    fn consecutive_slots_are_not_sequential() {
        let c = codec();
        let a = c.encode(SlotRef { index: 0, generation: 0 });
        let b = c.encode(SlotRef { index: 1, generation: 0 });
        let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        assert!(common < 4, "{a:?} {b:?}");
    }

    #[test]
    fn random_codecs_differ() {
        let a = ReplyCodec::random();
        let b = ReplyCodec::random();
        let slot = SlotRef { index: 9, generation: 1 };
        // 1 in 62^6 that the prefixes collide, 1 in 2^35 for the tokens.
        assert!(a.prefix() != b.prefix() || a.encode(slot) != b.encode(slot));
        let mut out = Vec::new();
        a.write_subject(slot, &mut out);
        assert_eq!(a.decode_subject(&out), Some(slot));
    }

    #[test]
    fn rejects_foreign_subjects() {
        let c = codec();
        let mut good = Vec::new();
        c.write_subject(SlotRef { index: 1, generation: 1 }, &mut good);
        let mut other_prefix = good.clone();
        other_prefix[4] = if other_prefix[4] == b'X' { b'Y' } else { b'X' };
        assert_eq!(c.decode_subject(&other_prefix), None);
        assert_eq!(c.decode_subject(&good[..SUBJECT_LEN - 1]), None);
        let mut longer = good.clone();
        longer.push(b'0');
        assert_eq!(c.decode_subject(&longer), None);
        let mut bad_char = good.clone();
        bad_char[SUBJECT_LEN - 1] = b'-';
        assert_eq!(c.decode_subject(&bad_char), None);
        // zzzzzz = 62^6 - 1, above the 35 bits ever issued.
        assert_eq!(c.decode(b"zzzzzz"), None);
        assert_eq!(c.decode_subject(b"_INBOX.abc"), None);
    }

    #[test]
    fn inverse_is_an_inverse() {
        for a in [1u64, 3, 5, 0x7_ffff_ffff, 0x1234_5679] {
            assert_eq!(a.wrapping_mul(inverse_mod_2_35(a)) & TOKEN_MASK, 1, "{a}");
        }
    }
}
