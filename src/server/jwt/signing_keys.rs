//! An account's signing keys: plain keys, and scoped keys whose users get
//! their permissions and limits from the scope's template.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::keys::KeyKind;
use super::types::NatsLimits;
use super::{UserClaims, UserPermissionLimits, ValidationResults};
use crate::server::errors::go_quote;

/// A scoped signing key (`"kind": "user_scope"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserScope {
    pub key: String,
    pub role: String,
    pub template: UserPermissionLimits,
    pub description: String,
}

impl UserScope {
    /// A scope with unlimited NATS limits, as Go's `NewUserScope`.
    pub fn new(key: &str) -> UserScope {
        let mut template = UserPermissionLimits::default();
        template.limits.nats = NatsLimits::UNLIMITED;
        UserScope { key: key.to_string(), role: String::new(), template, description: String::new() }
    }

    /// Go's `UserScope.ValidateScopedSigner`: the user must be issued by this
    /// key and carry no permissions or limits of its own.
    pub fn validate_scoped_signer(&self, user: &UserClaims) -> Result<(), &'static str> {
        if user.data.issuer != self.key {
            return Err("issuer not the scoped signer");
        }
        if !user.has_empty_permissions() {
            return Err("scoped users require no permissions or limits set");
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct ScopeOut<'a> {
    kind: &'static str,
    key: &'a str,
    role: &'a str,
    template: &'a UserPermissionLimits,
    description: &'a str,
}

#[derive(Deserialize)]
struct ScopeIn {
    #[serde(default)]
    key: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    template: Option<UserPermissionLimits>,
    #[serde(default)]
    description: String,
}

impl Serialize for UserScope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ScopeOut {
            kind: "user_scope",
            key: &self.key,
            role: &self.role,
            template: &self.template,
            description: &self.description,
        }
        .serialize(s)
    }
}

/// Signing keys by public key; `None` for a plain key, the scope for a
/// scoped one. In JSON a list of key strings and scope objects, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningKeys(pub BTreeMap<String, Option<UserScope>>);

impl SigningKeys {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// `Some(None)` for a plain signing key, `Some(Some(scope))` for a
    /// scoped one, `None` if the key is not a signing key.
    pub fn get(&self, key: &str) -> Option<Option<&UserScope>> {
        self.0.get(key).map(Option::as_ref)
    }

    pub fn add(&mut self, key: &str) {
        self.0.insert(key.to_string(), None);
    }

    pub fn add_scope(&mut self, scope: UserScope) {
        self.0.insert(scope.key.clone(), Some(scope));
    }

    pub fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub(crate) fn validate(&self, vr: &mut ValidationResults) {
        for (key, scope) in &self.0 {
            match scope {
                Some(scope) if !KeyKind::Account.is_valid(&scope.key) => {
                    vr.add_error(format!("{} is not an account public key", scope.key))
                }
                None if !KeyKind::Account.is_valid(key) => {
                    vr.add_error(format!("{} is not a valid account signing key", go_quote(key)))
                }
                _ => {}
            }
        }
    }
}

impl Serialize for SigningKeys {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (key, scope) in &self.0 {
            match scope {
                Some(scope) => seq.serialize_element(scope)?,
                None => seq.serialize_element(key)?,
            }
        }
        seq.end()
    }
}

/// A missing template limit is unlimited, as Go fills the scope before
/// reading it.
fn fill_template_defaults(scope: &mut serde_json::Map<String, Value>) {
    let template = scope.entry("template").or_insert_with(|| Value::Object(Default::default()));
    if template.is_null() {
        *template = Value::Object(Default::default());
    }
    if let Value::Object(t) = template {
        for limit in ["subs", "data", "payload"] {
            match t.get(limit) {
                None | Some(Value::Null) => {
                    t.insert(limit.into(), Value::from(-1));
                }
                Some(_) => {}
            }
        }
    }
}

impl<'de> Deserialize<'de> for SigningKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SigningKeys, D::Error> {
        let mut keys = SigningKeys::default();
        for entry in Vec::<Value>::deserialize(d)? {
            match entry {
                Value::String(key) => keys.add(&key),
                Value::Object(mut obj) => {
                    if obj.get("kind").and_then(Value::as_str) != Some("user_scope") {
                        // Go names the `type` field here (not `kind`).
                        let named = match obj.get("type") {
                            Some(Value::String(s)) => go_quote(s),
                            _ => "%!q(<nil>)".into(),
                        };
                        return Err(D::Error::custom(format!("unknown signing key scope {named}")));
                    }
                    fill_template_defaults(&mut obj);
                    let scope = ScopeIn::deserialize(Value::Object(obj)).map_err(D::Error::custom)?;
                    keys.add_scope(UserScope {
                        key: scope.key,
                        role: scope.role,
                        template: scope.template.unwrap_or_default(),
                        description: scope.description,
                    });
                }
                // Go skips anything else in the list.
                _ => {}
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nkeys::KeyPair;

    #[test]
    fn reads_plain_and_scoped_keys() {
        let text = r#"["AKEY1", {"kind":"user_scope","key":"AKEY2","role":"r",
            "template":{"pub":{"allow":["scoped.{{name()}}.>"]},"subs":10},"description":"d"}, 7]"#;
        let keys: SigningKeys = serde_json::from_str(text).unwrap();
        assert_eq!(keys.get("AKEY1"), Some(None));
        let scope = keys.get("AKEY2").unwrap().unwrap();
        assert_eq!(scope.role, "r");
        assert_eq!(scope.template.permissions.publish.allow, ["scoped.{{name()}}.>"]);
        // Explicit limits are kept, missing ones are unlimited.
        assert_eq!(scope.template.limits.nats, NatsLimits { subs: 10, data: -1, payload: -1 });
        assert_eq!(keys.get("AKEY3"), None);
        let bare: SigningKeys = serde_json::from_str(r#"[{"kind":"user_scope","key":"AK"}]"#).unwrap();
        assert!(bare.get("AK").unwrap().unwrap().template.limits.nats.is_unlimited());
    }

    #[test]
    fn unknown_scope_kinds_are_errors_with_gos_text() {
        let err = serde_json::from_str::<SigningKeys>(r#"[{"kind":"other","key":"AK"}]"#).unwrap_err();
        assert_eq!(err.to_string(), "unknown signing key scope %!q(<nil>)");
        let err = serde_json::from_str::<SigningKeys>(r#"[{"kind":"x","type":"t"}]"#).unwrap_err();
        assert_eq!(err.to_string(), "unknown signing key scope \"t\"");
    }

    #[test]
    fn writes_a_sorted_list() {
        let mut keys = SigningKeys::default();
        keys.add("AZ");
        let mut scope = UserScope::new("AB");
        scope.role = "admin".into();
        keys.add_scope(scope);
        let text = serde_json::to_string(&keys).unwrap();
        assert_eq!(
            text,
            r#"[{"kind":"user_scope","key":"AB","role":"admin","template":{"pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1},"description":""},"AZ"]"#
        );
        assert_eq!(serde_json::from_str::<SigningKeys>(&text).unwrap(), keys);
    }

    #[test]
    fn validates_key_kinds() {
        let account = KeyPair::new_account().public_key();
        let user = KeyPair::new_user().public_key();
        let mut keys = SigningKeys::default();
        keys.add(&account);
        keys.add(&user);
        keys.add_scope(UserScope::new("bad"));
        let mut vr = ValidationResults::new();
        keys.validate(&mut vr);
        let mut errors = vr.errors();
        errors.sort();
        assert_eq!(
            errors,
            [format!("\"{user}\" is not a valid account signing key"), "bad is not an account public key".into()]
        );
    }

    #[test]
    fn scoped_signer_rules() {
        let scope = UserScope::new("AS");
        let mut user = UserClaims::new("UX");
        user.data.issuer = "AS".into();
        assert_eq!(scope.validate_scoped_signer(&user), Err("scoped users require no permissions or limits set"));
        user.set_scoped(true);
        assert_eq!(scope.validate_scoped_signer(&user), Ok(()));
        user.data.issuer = "AO".into();
        assert_eq!(scope.validate_scoped_signer(&user), Err("issuer not the scoped signer"));
    }
}
