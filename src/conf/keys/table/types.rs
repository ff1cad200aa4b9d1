//! Custom value types that hold no block of their own: numbers or durations,
//! switches, nkeys, URLs and the like, each checked by its function in `values`.

use super::*;

custom!(ANY_TY, "any value", "{}", values::any);

custom!(NUMBER_TY, "number of seconds", r#"{"type": "number"}"#, values::number);

custom!(
    NUMBER_OR_DURATION_TY,
    "number of seconds or duration",
    r#"{"type": ["number", "string"]}"#,
    values::number_or_duration
);

custom!(
    HANDSHAKE_FIRST_TY,
    "boolean, `auto`, `auto_fallback` or a duration",
    r#"{"type": ["boolean", "string"]}"#,
    values::handshake_first_value
);

custom!(ACCOUNT_NKEY_TY, "account public nkey", r#"{"type": "string"}"#, values::account_nkey);

custom!(SYNC_TY, "duration or `always`", r#"{"type": "string"}"#, values::sync_interval);

custom!(CIPHER_TY, "`chacha`, `chachapoly` or `aes`", r#"{"type": "string"}"#, values::js_cipher);

custom!(WEIGHT_TY, "percentage (`50%` or 50)", r#"{"type": ["string", "integer"]}"#, values::weight);

custom!(
    COMPRESSION_TY,
    "mode (boolean or string) or {mode, rtt_thresholds}",
    r#"{"type": ["boolean", "string", "object"]}"#,
    values::compression
);

custom!(OCSP_MODE_TY, "`always`, `must`, `never` or `auto`", r#"{"type": "string"}"#, values::ocsp_mode);

custom!(OCSP_CACHE_TY, "boolean or map", r#"{"type": ["boolean", "object"]}"#, values::ocsp_cache);

custom!(
    OPERATOR_TY,
    "JWT file or inline JWT, or an array of them",
    r#"{"type": ["string", "array"]}"#,
    values::operator
);

custom!(
    PRELOAD_TY,
    "map of account public key to account JWT",
    r#"{"type": "object", "additionalProperties": {"type": "string"}}"#,
    values::resolver_preload
);

custom!(TRUSTED_TY, "operator public nkeys", r#"{"type": ["string", "array"]}"#, values::trusted);

custom!(URL_TY, "URL", r#"{"type": "string"}"#, values::url);

custom!(RESPONSE_TYPE_TY, "`singleton`, `stream` or `chunked`", r#"{"type": "string"}"#, values::response_type);
