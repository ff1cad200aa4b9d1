//! The byte-level encodings a JWT is made of, as Go reads and writes them:
//! base64url without padding (Go's `RawURLEncoding`, which accepts non-zero
//! trailing bits and skips CR/LF), the standard base64 fallback for nonce
//! signatures, `jti` (base32 of SHA-512/256 over Go's JSON of the claims
//! data) and Go's `%q` quoting for error texts.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{DecodeError, Engine as _};
use sha2::{Digest, Sha512_256};

use super::claims::ClaimsData;
use super::JwtError;

/// Go's `base64.RawURLEncoding`: no padding written or accepted, lenient
/// about the unused bits of the last symbol.
const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Go's `base64.StdEncoding`: padding required.
const STD_PADDED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

pub(crate) fn b64url_encode(data: &[u8]) -> String {
    RAW_URL.encode(data)
}

/// Go's decoders skip CR and LF anywhere in the input.
fn without_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\r', '\n']) {
        text.replace(['\r', '\n'], "").into()
    } else {
        text.into()
    }
}

fn offset_of(err: DecodeError, text: &str) -> usize {
    match err {
        DecodeError::InvalidByte(at, _) | DecodeError::InvalidLastSymbol(at, _) => at,
        DecodeError::InvalidLength(len) => len.saturating_sub(1),
        DecodeError::InvalidPadding => text.find('=').unwrap_or(0),
    }
}

/// Decodes one part of a token.
pub(crate) fn b64url_decode(text: &str) -> Result<Vec<u8>, JwtError> {
    let text = without_newlines(text);
    RAW_URL.decode(text.as_bytes()).map_err(|e| JwtError::Base64(offset_of(e, &text)))
}

/// A nonce signature as the reference accepts it in CONNECT: base64url
/// without padding, else standard base64 with padding.
pub(crate) fn signature_decode(text: &str) -> Option<Vec<u8>> {
    let text = without_newlines(text);
    RAW_URL.decode(text.as_bytes()).or_else(|_| STD_PADDED.decode(text.as_bytes())).ok()
}

/// Go's `strconv.Quote` (what `%q` prints), for the texts of errors.
pub(crate) fn go_quote(text: &str) -> String {
    crate::gotext::go_quote(text.as_bytes())
}

/// `["a" "b"]`: a string slice as Go's `%q` prints it.
pub(crate) fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Appends `text` as a JSON string the way Go's `encoding/json` writes it
/// (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 escaped).
fn push_go_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Marshal` of the claims data (fields in declaration order,
/// `omitempty` on each): the input of the `jti` hash.
fn go_json_claims_data(d: &ClaimsData) -> String {
    let mut out = String::from("{");
    let field = |out: &mut String, name: &str| {
        if out.len() > 1 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
    };
    let strings_and_ints: [(&str, Result<&str, i64>); 8] = [
        ("aud", Ok(&d.audience)),
        ("exp", Err(d.expires)),
        ("jti", Ok(&d.id)),
        ("iat", Err(d.issued_at)),
        ("iss", Ok(&d.issuer)),
        ("name", Ok(&d.name)),
        ("nbf", Err(d.not_before)),
        ("sub", Ok(&d.subject)),
    ];
    for (name, value) in strings_and_ints {
        match value {
            Ok(s) if !s.is_empty() => {
                field(&mut out, name);
                push_go_json_string(&mut out, s);
            }
            Err(n) if n != 0 => {
                field(&mut out, name);
                out.push_str(&n.to_string());
            }
            _ => {}
        }
    }
    out.push('}');
    out
}

/// The `jti` the Go library writes: base32 (no padding) of SHA-512/256 over
/// the JSON of the claims data with `jti` empty.
pub(crate) fn jti_hash(data: &ClaimsData) -> String {
    let mut d = data.clone();
    d.id.clear();
    let digest = Sha512_256::digest(go_json_claims_data(&d).as_bytes());
    data_encoding::BASE32_NOPAD.encode(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_go_raw_url() {
        assert_eq!(b64url_encode(b"\xfb\xff"), "-_8");
        assert_eq!(b64url_decode("-_8").unwrap(), b"\xfb\xff");
        // Padding is not part of the raw alphabet.
        assert_eq!(b64url_decode("-_8="), Err(JwtError::Base64(3)));
        // Standard-alphabet characters are not url-safe ones.
        assert_eq!(b64url_decode("+/8"), Err(JwtError::Base64(0)));
        // Go ignores CR/LF; trailing bits need not be zero ("-_9" decodes too).
        assert_eq!(b64url_decode("-_\r\n8").unwrap(), b"\xfb\xff");
        assert_eq!(b64url_decode("-_9").unwrap(), b"\xfb\xff");
        assert!(b64url_decode("A").is_err());
    }

    #[test]
    fn signatures_fall_back_to_standard_base64() {
        assert_eq!(signature_decode("-_8").unwrap(), b"\xfb\xff");
        assert_eq!(signature_decode("+/8=").unwrap(), b"\xfb\xff");
        // Standard without its padding is neither.
        assert_eq!(signature_decode("+/8"), None);
        assert_eq!(signature_decode("not base64!"), None);
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("JWT"), "\"JWT\"");
        assert_eq!(go_quote("a\"b\\c\n\x01\u{7f}é"), "\"a\\\"b\\\\c\\n\\x01\\x7fé\"");
        assert_eq!(go_quote_list(&["MQTT".into(), "X".into()]), "[\"MQTT\" \"X\"]");
    }

    #[test]
    fn claims_data_json_is_gos() {
        let d = ClaimsData {
            audience: String::new(),
            expires: 5,
            id: "x".into(),
            issued_at: 7,
            issuer: "I".into(),
            name: "a<b>&\"\u{2028}\x01".into(),
            not_before: 0,
            subject: "S".into(),
        };
        assert_eq!(
            go_json_claims_data(&d),
            r#"{"exp":5,"jti":"x","iat":7,"iss":"I","name":"a\u003cb\u003e\u0026\"\u2028\u0001","sub":"S"}"#
        );
        assert_eq!(go_json_claims_data(&ClaimsData::default()), "{}");
    }
}
