//! The byte-level encodings a JWT is made of, as Go reads and writes them:
//! base64url without padding (Go's `RawURLEncoding`, which accepts non-zero
//! trailing bits and skips CR/LF), the standard base64 fallback for nonce
//! signatures, `jti` (base32 of SHA-512/256 over Go's JSON of the claims
//! data) and Go's `%q` quoting for error texts.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{DecodeError, Engine as _};

use super::JwtError;
use crate::server::errors::go_quote;

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

/// `["a" "b"]`: a string slice as Go's `%q` prints it.
pub(crate) fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(go_quote).collect();
    format!("[{}]", quoted.join(" "))
}

/// Appends `text` as a JSON string the way Go's `encoding/json` writes it
/// (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 escaped).
pub(crate) fn push_go_json_string(out: &mut String, text: &str) {
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
}
