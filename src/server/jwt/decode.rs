//! Decoding and verifying tokens, in the Go library's order (`Decode`):
//! size, three parts, header, claims (version, then type), signature by the
//! `iss` nkey, issuer kind. v1 claims are migrated to the v2 structs.
//!
//! JSON is read as Go reads it: unknown fields ignored, `null` treated as
//! absent, a missing limit of a v1 user or of a scope template unlimited.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{ClaimsData, GenericFields};
use super::codec::b64url_decode;
use super::encode::Claim;
use super::keys::prefix_list;
use super::types::{Limits, NatsLimits, Permissions, StringList, TagList, TimeRange};
use super::{
    Account, AccountClaims, AccountLimits, Activation, ActivationClaims, Claims, Export, ExportType, GenericClaims,
    Import, JwtError, Operator, OperatorClaims, RevocationList, SigningKeys, User, UserClaims, UserPermissionLimits,
    LIB_VERSION, MAX_TOKEN_SIZE,
};

/// The three parts of a token.
fn split(token: &str) -> Result<[&str; 3], JwtError> {
    if token.len() > MAX_TOKEN_SIZE {
        return Err(JwtError::TooLarge(token.len()));
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok([h, p, s]),
        _ => Err(JwtError::Chunks),
    }
}

fn json_error(e: serde_json::Error) -> JwtError {
    JwtError::Json(e.to_string())
}

#[derive(Deserialize, Default)]
struct Header {
    #[serde(default)]
    typ: String,
    #[serde(default)]
    alg: String,
}

/// Go's `parseHeaders`: `typ` is `JWT` in any case, `alg` `ed25519` or
/// `ed25519-nkey` in any case. Returns the algorithm as written.
fn parse_header(part: &str) -> Result<String, JwtError> {
    let value: Value = serde_json::from_slice(&b64url_decode(part)?).map_err(json_error)?;
    let header = if value.is_null() { Header::default() } else { Header::deserialize(value).map_err(json_error)? };
    if header.typ.to_uppercase() != "JWT" {
        return Err(JwtError::HeaderType(header.typ));
    }
    let alg = header.alg.to_lowercase();
    if alg != "ed25519" && alg != "ed25519-nkey" {
        return Err(JwtError::HeaderAlgorithm(header.alg));
    }
    Ok(header.alg)
}

fn payload_json(part: &str) -> Result<Value, JwtError> {
    match serde_json::from_slice(&b64url_decode(part)?).map_err(json_error)? {
        Value::Null => Ok(Value::Object(Map::new())),
        v @ Value::Object(_) => Ok(v),
        other => Err(JwtError::Json(format!("claims must be a JSON object, not {other}"))),
    }
}

/// Drops `null` object members everywhere (Go leaves the field as it was).
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, JwtError> {
    T::deserialize(value).map_err(json_error)
}

/// Go's `identifier`: the claim type and version. A top-level `type` marks a
/// v1 token; v2 keeps both in `nats`.
fn identify(claims: &Value) -> Result<(String, i64), JwtError> {
    let wrong = |what: &str| JwtError::Json(format!("json: cannot unmarshal {what}"));
    match claims.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if !t.is_empty() => return Ok((t.clone(), 1)),
        Some(Value::String(_)) => {}
        Some(_) => return Err(wrong("type: not a string")),
    }
    let nats = match claims.get("nats") {
        None | Some(Value::Null) => return Ok((String::new(), 0)),
        Some(Value::Object(n)) => n,
        Some(_) => return Err(wrong("nats: not an object")),
    };
    let kind = match nats.get("type") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err(wrong("nats.type: not a string")),
    };
    let version = match nats.get("version") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(|| wrong("nats.version: not an integer"))?,
    };
    Ok((kind, version))
}

fn verify(issuer: &str, signed: &[u8], sig: &[u8]) -> bool {
    nkeys::KeyPair::from_public_key(issuer).is_ok_and(|kp| kp.verify(signed, sig).is_ok())
}

/// Decodes and verifies a token of any type. Times are not checked here:
/// call [`Claim::validate`] (or [`Claims::validate`]).
pub fn decode(token: &str) -> Result<Claims, JwtError> {
    let [header, payload, signature] = split(token)?;
    parse_header(header)?;
    let mut value = payload_json(payload)?;
    let (kind, version) = identify(&value)?;
    if version > LIB_VERSION {
        return Err(JwtError::NewerVersion);
    }
    let check_version = || match version {
        1 | 2 => Ok(()),
        v => Err(JwtError::UnsupportedVersion(v)),
    };
    // Generic claims are checked the v1 way, as in Go (their version is -1).
    let (claims, version) = match kind.as_str() {
        "operator" | "account" | "user" | "activation" => {
            check_version()?;
            strip_nulls(&mut value);
            let claims = match (kind.as_str(), version) {
                ("operator", 1) => Claims::Operator(load_v1_operator(value)?),
                ("operator", _) => Claims::Operator(from_value(value)?),
                ("account", 1) => Claims::Account(load_v1_account(value)?),
                ("account", _) => Claims::Account(load_v2_account(value)?),
                ("user", 1) => Claims::User(load_v1_user(value)?),
                ("user", _) => Claims::User(load_v2_user(value)?),
                ("activation", 1) => Claims::Activation(load_v1_activation(value)?),
                _ => Claims::Activation(from_value(value)?),
            };
            (claims, version)
        }
        "authorization_request" | "authorization_response" => return Err(JwtError::Unsupported(kind)),
        "cluster" => return Err(JwtError::ClusterClaims),
        "server" => return Err(JwtError::ServerClaims),
        _ => (Claims::Generic(load_generic(value)?), -1),
    };
    let sig = b64url_decode(signature)?;
    let issuer = &claims.data().issuer;
    if version <= 1 {
        if !verify(issuer, payload.as_bytes(), &sig) {
            return Err(JwtError::V1Signature);
        }
    } else if !verify(issuer, &token.as_bytes()[..header.len() + payload.len() + 1], &sig) {
        return Err(JwtError::V2Signature);
    }
    let expected = match &claims {
        Claims::Operator(c) => c.expected_prefixes(),
        Claims::Account(c) => c.expected_prefixes(),
        Claims::User(c) => c.expected_prefixes(),
        Claims::Activation(c) => c.expected_prefixes(),
        Claims::Generic(c) => c.expected_prefixes(),
    };
    if let Some(kinds) = expected {
        if !kinds.iter().any(|k| k.is_valid(issuer)) {
            return Err(JwtError::Prefixes(prefix_list(kinds)));
        }
    }
    Ok(claims)
}

/// Decodes an operator JWT (`not operator claim` for another type).
pub fn decode_operator(token: &str) -> Result<OperatorClaims, JwtError> {
    match decode(token)? {
        Claims::Operator(c) => Ok(c),
        _ => Err(JwtError::WrongType("operator")),
    }
}

pub fn decode_account(token: &str) -> Result<AccountClaims, JwtError> {
    match decode(token)? {
        Claims::Account(c) => Ok(c),
        _ => Err(JwtError::WrongType("account")),
    }
}

pub fn decode_user(token: &str) -> Result<UserClaims, JwtError> {
    match decode(token)? {
        Claims::User(c) => Ok(c),
        _ => Err(JwtError::WrongType("user")),
    }
}

pub fn decode_activation(token: &str) -> Result<ActivationClaims, JwtError> {
    match decode(token)? {
        Claims::Activation(c) => Ok(c),
        _ => Err(JwtError::WrongType("activation")),
    }
}

/// Go's `DecodeGeneric`: any token as claims data plus the `nats` map; the
/// signature is checked the v1 way when the header says `ed25519`, and the
/// issuer's kind is not checked. (Unlike Go, the size limit applies here
/// too.)
pub fn decode_generic(token: &str) -> Result<GenericClaims, JwtError> {
    let [header, payload, signature] = split(token)?;
    let alg = parse_header(header)?;
    let mut value = payload_json(payload)?;
    #[derive(Deserialize)]
    struct TopLevel {
        #[serde(flatten)]
        generic: GenericFields,
    }
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    let top: TopLevel = from_value(value.clone())?;
    let mut claims = load_generic(value)?;
    let sig = b64url_decode(signature)?;
    if alg == "ed25519" {
        if !verify(&claims.data.issuer, payload.as_bytes(), &sig) {
            return Err(JwtError::V1Signature);
        }
        if !top.generic.claim_type.is_empty() {
            claims.nats.insert("type".into(), Value::String(top.generic.claim_type));
        }
        if !top.generic.tags.is_empty() {
            claims.nats.insert("tags".into(), Value::from(top.generic.tags));
        }
    } else if !verify(&claims.data.issuer, &token.as_bytes()[..header.len() + payload.len() + 1], &sig) {
        return Err(JwtError::V2Signature);
    }
    Ok(claims)
}

fn load_generic(mut value: Value) -> Result<GenericClaims, JwtError> {
    // Only the registered claims lose their nulls: the map keeps its own.
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    from_value(value)
}

/// The `nats` object of a claim (empty if missing).
fn nats_of(value: &mut Value) -> &mut Map<String, Value> {
    let Value::Object(map) = value else { unreachable!("payload_json returns objects") };
    let nats = map.entry("nats").or_insert_with(|| Value::Object(Map::new()));
    if !nats.is_object() {
        *nats = Value::Object(Map::new());
    }
    match nats {
        Value::Object(n) => n,
        _ => unreachable!("made an object above"),
    }
}

/// Go tells an empty list from a missing one: a user spelling out an empty
/// list does not have "empty permissions".
fn has_explicit_empty_lists(nats: &Map<String, Value>) -> bool {
    let empty_array = |v: Option<&Value>| matches!(v, Some(Value::Array(a)) if a.is_empty());
    let perm_lists = ["pub", "sub"].iter().any(|p| {
        let perm = nats.get(*p);
        empty_array(perm.and_then(|p| p.get("allow"))) || empty_array(perm.and_then(|p| p.get("deny")))
    });
    perm_lists
        || empty_array(nats.get("src"))
        || matches!(nats.get("src"), Some(Value::String(_)))
        || empty_array(nats.get("times"))
        || empty_array(nats.get("allowed_connection_types"))
}

fn load_v2_user(mut value: Value) -> Result<UserClaims, JwtError> {
    let explicit_empty_lists = has_explicit_empty_lists(nats_of(&mut value));
    let mut user: UserClaims = from_value(value)?;
    user.explicit_empty_lists = explicit_empty_lists;
    Ok(user)
}

/// `null` entries of the import and export lists are dropped and counted
/// (Go keeps them as nil pointers and refuses them in validation).
fn take_null_entries(nats: &mut Map<String, Value>, key: &str) -> usize {
    match nats.get_mut(key) {
        Some(Value::Array(items)) => {
            let before = items.len();
            items.retain(|v| !v.is_null());
            before - items.len()
        }
        _ => 0,
    }
}

fn load_v2_account(mut value: Value) -> Result<AccountClaims, JwtError> {
    let nats = nats_of(&mut value);
    let null_imports = take_null_entries(nats, "imports");
    let null_exports = take_null_entries(nats, "exports");
    let mut account: AccountClaims = from_value(value)?;
    account.nats.null_imports = null_imports;
    account.nats.null_exports = null_exports;
    // Tiered limits replace the untiered JetStream ones.
    if !account.nats.limits.tiered.is_empty() {
        account.nats.limits.jetstream = Default::default();
    }
    Ok(account)
}

// ------------------------------------------------------------ v1 migration

/// The top-level fields v1 claims had and v2 moved into `nats`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct V1Fields {
    tags: TagList,
    #[serde(rename = "type")]
    claim_type: String,
    issuer_account: String,
}

#[derive(Deserialize)]
struct V1Claims<N> {
    #[serde(flatten)]
    data: ClaimsData,
    #[serde(flatten)]
    v1: V1Fields,
    nats: N,
}

fn v1_generic(v1: &V1Fields) -> GenericFields {
    GenericFields { tags: v1.tags.clone(), claim_type: v1.claim_type.clone(), version: 1 }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1Operator {
    signing_keys: StringList,
    account_server_url: String,
    operator_service_urls: StringList,
    system_account: String,
}

fn load_v1_operator(mut value: Value) -> Result<OperatorClaims, JwtError> {
    nats_of(&mut value);
    let c: V1Claims<V1Operator> = from_value(value)?;
    Ok(OperatorClaims {
        nats: Operator {
            signing_keys: c.nats.signing_keys,
            account_server_url: c.nats.account_server_url,
            operator_service_urls: c.nats.operator_service_urls,
            system_account: c.nats.system_account,
            generic: v1_generic(&c.v1),
            ..Default::default()
        },
        data: c.data,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1AccountLimits {
    #[serde(flatten)]
    nats: NatsLimits,
    #[serde(flatten)]
    account: AccountLimits,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1Account {
    imports: Vec<Import>,
    exports: Vec<Export>,
    limits: V1AccountLimits,
    signing_keys: StringList,
    revocations: RevocationList,
}

fn load_v1_account(mut value: Value) -> Result<AccountClaims, JwtError> {
    let nats = nats_of(&mut value);
    let null_imports = take_null_entries(nats, "imports");
    let null_exports = take_null_entries(nats, "exports");
    let c: V1Claims<V1Account> = from_value(value)?;
    let mut signing_keys = SigningKeys::default();
    for k in &c.nats.signing_keys {
        signing_keys.add(k);
    }
    let mut account = Account {
        imports: c.nats.imports,
        exports: c.nats.exports,
        signing_keys,
        revocations: c.nats.revocations,
        generic: v1_generic(&c.v1),
        null_imports,
        null_exports,
        ..Default::default()
    };
    account.limits.nats = c.nats.limits.nats;
    account.limits.account = c.nats.limits.account;
    Ok(AccountClaims { data: c.data, nats: account })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1User {
    #[serde(flatten)]
    permissions: Permissions,
    #[serde(flatten)]
    limits: Limits,
    bearer_token: bool,
}

fn load_v1_user(mut value: Value) -> Result<UserClaims, JwtError> {
    let nats = nats_of(&mut value);
    // A v1 user's missing limits are unlimited (Go fills them first).
    for limit in ["subs", "data", "payload"] {
        nats.entry(limit).or_insert(Value::from(-1));
    }
    let explicit_empty_lists = has_explicit_empty_lists(nats);
    let c: V1Claims<V1User> = from_value(value)?;
    Ok(UserClaims {
        nats: User {
            permission_limits: UserPermissionLimits {
                permissions: c.nats.permissions,
                limits: c.nats.limits,
                bearer_token: c.nats.bearer_token,
                ..Default::default()
            },
            issuer_account: c.v1.issuer_account.clone(),
            generic: v1_generic(&c.v1),
        },
        data: c.data,
        explicit_empty_lists,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V1Activation {
    subject: String,
    #[serde(rename = "type")]
    import_type: ExportType,
    // Read (their types are checked, as in Go) and dropped by the migration.
    #[allow(dead_code)]
    src: String,
    #[allow(dead_code)]
    times: Vec<TimeRange>,
}

fn load_v1_activation(mut value: Value) -> Result<ActivationClaims, JwtError> {
    nats_of(&mut value);
    let c: V1Claims<V1Activation> = from_value(value)?;
    Ok(ActivationClaims {
        nats: Activation {
            import_subject: c.nats.subject,
            import_type: c.nats.import_type,
            issuer_account: c.v1.issuer_account.clone(),
            generic: v1_generic(&c.v1),
        },
        data: c.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::jwt::encode::{sign_token, sign_token_v1, HEADER_V1, HEADER_V2};
    use crate::server::jwt::{ClaimType, UserScope, ValidationResults};
    use jiff::Timestamp;
    use nkeys::KeyPair;

    fn payload(issuer: &KeyPair, subject: &str, nats: &str) -> String {
        format!(r#"{{"iat":1700000000,"iss":"{}","sub":"{subject}","nats":{nats}}}"#, issuer.public_key())
    }

    #[test]
    fn size_chunks_and_header() {
        let big = "a".repeat(MAX_TOKEN_SIZE + 1);
        assert_eq!(
            decode(&big).unwrap_err().to_string(),
            format!("token size {} exceeds maximum of 1048576 bytes: token too large", MAX_TOKEN_SIZE + 1)
        );
        assert_eq!(decode("a.b").unwrap_err().to_string(), "expected 3 chunks");
        assert_eq!(decode("a.b.c.d").unwrap_err().to_string(), "expected 3 chunks");
        let kp = KeyPair::new_account();
        let p = payload(&kp, &KeyPair::new_user().public_key(), r#"{"type":"user","version":2}"#);
        let bad_type = sign_token(r#"{"typ":"JWS","alg":"ed25519-nkey"}"#, &p, &kp).unwrap();
        assert_eq!(decode(&bad_type).unwrap_err().to_string(), "not supported type \"JWS\"");
        let bad_alg = sign_token(r#"{"typ":"jwt","alg":"ED25519-NKEYS"}"#, &p, &kp).unwrap();
        assert_eq!(decode(&bad_alg).unwrap_err().to_string(), "unexpected \"ED25519-NKEYS\" algorithm");
        let rs = sign_token(r#"{"typ":"JWT","alg":"RS256"}"#, &p, &kp).unwrap();
        assert_eq!(decode(&rs).unwrap_err().to_string(), "unexpected \"RS256\" algorithm");
        // Case does not matter, and `ed25519` is fine on a v2 claim.
        let upper = sign_token(r#"{"typ":"jwt","alg":"ED25519"}"#, &p, &kp).unwrap();
        assert!(decode_user(&upper).is_ok());
        assert_eq!(decode("!!.e30.e30").unwrap_err().to_string(), "illegal base64 data at input byte 0");
    }

    #[test]
    fn versions_and_types() {
        let kp = KeyPair::new_account();
        let user = KeyPair::new_user().public_key();
        let newer = sign_token(HEADER_V2, &payload(&kp, &user, r#"{"type":"user","version":3}"#), &kp).unwrap();
        assert_eq!(decode(&newer).unwrap_err().to_string(), "JWT was generated by a newer version ");
        let zero = sign_token(HEADER_V2, &payload(&kp, &user, r#"{"type":"user"}"#), &kp).unwrap();
        assert_eq!(decode(&zero).unwrap_err().to_string(), "library supports version 2 or less - received 0");
        let cluster = sign_token(HEADER_V2, &payload(&kp, &user, r#"{"type":"cluster","version":2}"#), &kp).unwrap();
        assert_eq!(decode(&cluster).unwrap_err().to_string(), "ClusterClaims are not supported");
        let server = sign_token(HEADER_V2, &payload(&kp, &user, r#"{"type":"server","version":2}"#), &kp).unwrap();
        assert_eq!(decode(&server).unwrap_err().to_string(), "ServerClaims are not supported");
        // A type it does not know is generic, checked the v1 way as Go does:
        // a v2 signature fails, a v1 one passes.
        let p = payload(&kp, &user, r#"{"type":"thing","version":2}"#);
        let v2 = sign_token(HEADER_V2, &p, &kp).unwrap();
        assert_eq!(decode(&v2).unwrap_err().to_string(), "claim failed V1 signature verification");
        let v1 = sign_token_v1(HEADER_V2, &p, &kp).unwrap();
        assert!(matches!(decode(&v1).unwrap(), Claims::Generic(_)));
        // Typed decoders name what they wanted.
        let u = sign_token(HEADER_V2, &payload(&kp, &user, r#"{"type":"user","version":2}"#), &kp).unwrap();
        assert_eq!(decode_account(&u).unwrap_err().to_string(), "not account claim");
        assert_eq!(decode_operator(&u).unwrap_err().to_string(), "not operator claim");
        assert_eq!(decode_activation(&u).unwrap_err().to_string(), "not activation claim");
        assert_eq!(decode(&u).unwrap().claim_type(), ClaimType::User);
    }

    #[test]
    fn signatures_and_issuer_kinds() {
        let kp = KeyPair::new_account();
        let user = KeyPair::new_user();
        let mut token =
            sign_token(HEADER_V2, &payload(&kp, &user.public_key(), r#"{"type":"user","version":2}"#), &kp).unwrap();
        assert!(decode_user(&token).is_ok());
        // Another key's signature.
        let forged =
            sign_token(HEADER_V2, &payload(&kp, &user.public_key(), r#"{"type":"user","version":2}"#), &user).unwrap();
        assert_eq!(decode(&forged).unwrap_err().to_string(), "claim failed V2 signature verification");
        // A changed payload.
        let parts: Vec<&str> = token.split('.').collect();
        let other = crate::server::jwt::codec::b64url_encode(
            payload(&kp, &KeyPair::new_user().public_key(), r#"{"type":"user","version":2}"#).as_bytes(),
        );
        let swapped = format!("{}.{other}.{}", parts[0], parts[2]);
        assert_eq!(decode(&swapped).unwrap_err().to_string(), "claim failed V2 signature verification");
        // A signature that is not base64.
        token.push('!');
        assert!(decode(&token).unwrap_err().to_string().starts_with("illegal base64 data at input byte"));
        // A user JWT signed by an operator key: the signature is fine, the kind is not.
        let op = KeyPair::new_operator();
        let by_op =
            sign_token(HEADER_V2, &payload(&op, &user.public_key(), r#"{"type":"user","version":2}"#), &op).unwrap();
        assert_eq!(decode(&by_op).unwrap_err().to_string(), "unable to validate expected prefixes - [account]");
        let acc_by_user =
            sign_token(HEADER_V2, &payload(&user, "AX", r#"{"type":"account","version":2}"#), &user).unwrap();
        assert_eq!(
            decode(&acc_by_user).unwrap_err().to_string(),
            "unable to validate expected prefixes - [account operator]"
        );
        let op_by_acc = sign_token(HEADER_V2, &payload(&kp, "OX", r#"{"type":"operator","version":2}"#), &kp).unwrap();
        assert_eq!(decode(&op_by_acc).unwrap_err().to_string(), "unable to validate expected prefixes - [operator]");
    }

    #[test]
    fn nulls_are_absent_and_unknown_fields_ignored() {
        let kp = KeyPair::new_account();
        let user = KeyPair::new_user().public_key();
        let nats = r#"{"pub":null,"sub":{"allow":null},"subs":null,"resp":null,"extra":{"x":1},
            "type":"user","version":2}"#;
        let token =
            sign_token(HEADER_V2, &payload(&kp, &user, nats).replace("\"iat\"", "\"aud\":null,\"iat\""), &kp).unwrap();
        let u = decode_user(&token).unwrap();
        assert!(!u.permissions().is_specified());
        assert!(u.has_empty_permissions());
        assert_eq!(u.data.subject, user);
    }

    #[test]
    fn empty_lists_are_not_empty_permissions() {
        let kp = KeyPair::new_account();
        let user = KeyPair::new_user().public_key();
        for nats in [
            r#"{"pub":{"allow":[]},"sub":{},"type":"user","version":2}"#,
            r#"{"pub":{},"sub":{"deny":[]},"type":"user","version":2}"#,
            r#"{"pub":{},"sub":{},"src":[],"type":"user","version":2}"#,
            r#"{"pub":{},"sub":{},"src":"","type":"user","version":2}"#,
            r#"{"pub":{},"sub":{},"times":[],"type":"user","version":2}"#,
            r#"{"pub":{},"sub":{},"allowed_connection_types":[],"type":"user","version":2}"#,
            r#"{"pub":{},"sub":{},"resp":{"max":0,"ttl":0},"type":"user","version":2}"#,
            r#"{"subs":-1,"type":"user","version":2}"#,
        ] {
            let token = sign_token(HEADER_V2, &payload(&kp, &user, nats), &kp).unwrap();
            assert!(!decode_user(&token).unwrap().has_empty_permissions(), "{nats}");
        }
        let scoped =
            sign_token(HEADER_V2, &payload(&kp, &user, r#"{"pub":{},"sub":{},"type":"user","version":2}"#), &kp)
                .unwrap();
        assert!(decode_user(&scoped).unwrap().has_empty_permissions());
    }

    #[test]
    fn accounts_keep_count_of_null_imports_and_tiers_win() {
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account().public_key();
        let nats = r#"{"imports":[null],"exports":[null,null],"limits":{"imports":-1,"exports":-1,
            "mem_storage":5,"tiered_limits":{"R1":{"disk_storage":7}}},"type":"account","version":2}"#;
        let a = decode_account(&sign_token(HEADER_V2, &payload(&op, &acc, nats), &op).unwrap()).unwrap();
        assert!(a.nats.imports.is_empty());
        assert_eq!(a.nats.limits.jetstream.memory_storage, 0);
        assert_eq!(a.nats.limits.tiered["R1"].disk_storage, 7);
        let vr = a.validate(Timestamp::from_second(0).unwrap());
        assert_eq!(
            vr.errors(),
            ["null import is not allowed", "null export is not allowed", "null export is not allowed"]
        );
    }

    #[test]
    fn scoped_keys_in_an_account() {
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account().public_key();
        let scoped = KeyPair::new_account().public_key();
        let nats = format!(
            r#"{{"signing_keys":["{scoped}x",{{"kind":"user_scope","key":"{scoped}","role":"r",
            "template":{{"pub":{{"allow":["a"]}}}},"description":""}}],"type":"account","version":2}}"#
        );
        let a = decode_account(&sign_token(HEADER_V2, &payload(&op, &acc, &nats), &op).unwrap()).unwrap();
        let scope: &UserScope = a.nats.signing_keys.get(&scoped).unwrap().unwrap();
        assert!(scope.template.limits.nats.is_unlimited());
        assert_eq!(a.nats.signing_keys.get(&format!("{scoped}x")), Some(None));
    }

    #[test]
    fn v1_tokens_are_migrated() {
        let op = KeyPair::new_operator();
        let acc = KeyPair::new_account();
        let user = KeyPair::new_user().public_key();
        let v1_user = format!(
            r#"{{"iat":5,"iss":"{}","sub":"{user}","type":"user","tags":["t"],"issuer_account":"{}",
            "nats":{{"pub":{{"allow":["a"]}},"payload":10,"bearer_token":true,"max":3}}}}"#,
            acc.public_key(),
            acc.public_key()
        );
        let token = sign_token_v1(HEADER_V1, &v1_user, &acc).unwrap();
        let u = decode_user(&token).unwrap();
        assert_eq!(u.nats.generic, GenericFields { tags: vec!["t".into()], claim_type: "user".into(), version: 1 });
        assert_eq!(u.limits().nats, NatsLimits { subs: -1, data: -1, payload: 10 });
        assert!(u.is_bearer_token());
        assert_eq!(u.nats.issuer_account, acc.public_key());
        assert_eq!(u.permissions().publish.allow, ["a"]);
        // v1 tokens are signed over the payload only.
        let v2_signed = sign_token(HEADER_V1, &v1_user, &acc).unwrap();
        assert_eq!(decode(&v2_signed).unwrap_err().to_string(), "claim failed V1 signature verification");

        let v1_account = format!(
            r#"{{"iss":"{}","sub":"{}","type":"account","nats":{{"limits":{{"subs":7,"conn":2}},
            "signing_keys":["{}"],"revocations":{{"{user}":9}}}}}}"#,
            op.public_key(),
            acc.public_key(),
            KeyPair::new_account().public_key()
        );
        let a = decode_account(&sign_token_v1(HEADER_V1, &v1_account, &op).unwrap()).unwrap();
        assert_eq!(a.nats.limits.nats.subs, 7);
        assert_eq!(a.nats.limits.account.conn, 2);
        assert_eq!(a.nats.signing_keys.0.len(), 1);
        assert!(a.is_user_revoked(&user, 9));
        assert_eq!(a.nats.generic.version, 1);

        let v1_op = format!(
            r#"{{"iss":"{0}","sub":"{0}","type":"operator","nats":{{"signing_keys":["{1}"],"system_account":"{2}"}}}}"#,
            op.public_key(),
            KeyPair::new_operator().public_key(),
            acc.public_key()
        );
        let o = decode_operator(&sign_token_v1(HEADER_V1, &v1_op, &op).unwrap()).unwrap();
        assert_eq!(o.nats.system_account, acc.public_key());
        assert_eq!(o.nats.signing_keys.len(), 1);

        let v1_act = format!(
            r#"{{"iss":"{}","sub":"AIMP","type":"activation","nats":{{"subject":"s.>","type":"stream","max":1}}}}"#,
            acc.public_key()
        );
        let act = decode_activation(&sign_token_v1(HEADER_V1, &v1_act, &acc).unwrap()).unwrap();
        assert_eq!(act.nats.import_subject, "s.>");
        assert_eq!(act.nats.import_type, ExportType::Stream);
    }

    #[test]
    fn generic_decoding() {
        let op = KeyPair::new_operator();
        let p = format!(
            r#"{{"iss":"{0}","sub":"{0}","nats":{{"accounts":["A1"],"x":null,"type":"generic","version":2}}}}"#,
            op.public_key()
        );
        let g = decode_generic(&sign_token(HEADER_V2, &p, &op).unwrap()).unwrap();
        assert_eq!(g.nats["accounts"][0], "A1");
        assert!(g.nats.contains_key("x"), "the map keeps its nulls");
        assert_eq!(decode_generic(&sign_token_v1(HEADER_V2, &p, &op).unwrap()).unwrap_err(), JwtError::V2Signature);
        // `ed25519` headers: v1 signature, and the top-level type and tags move into the map.
        let v1 = format!(r#"{{"iss":"{0}","sub":"{0}","type":"thing","tags":["a"]}}"#, op.public_key());
        let g = decode_generic(&sign_token_v1(r#"{"typ":"JWT","alg":"ed25519"}"#, &v1, &op).unwrap()).unwrap();
        assert_eq!(g.nats["type"], "thing");
        assert_eq!(g.nats["tags"][0], "a");
        // Any issuer kind will do.
        let user = KeyPair::new_user();
        let by_user = format!(r#"{{"iss":"{0}","sub":"{0}","nats":{{}}}}"#, user.public_key());
        assert!(decode_generic(&sign_token(HEADER_V2, &by_user, &user).unwrap()).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        let kp = KeyPair::new_account();
        for p in ["[]", "5", "\"x\"", "{\"nats\":5}", "{\"type\":5}", "{\"nats\":{\"version\":\"2\"}}", "{", "null"] {
            let token = sign_token(HEADER_V2, p, &kp).unwrap();
            assert!(decode(&token).is_err(), "{p}");
            let _ = decode_generic(&token);
        }
        let mut vr = ValidationResults::new();
        vr.add_error("x");
        assert!(vr.is_blocking(false));
    }
}
