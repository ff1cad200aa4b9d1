//! A secret (a password, a token) as a type of its own: `Debug` and
//! `Display` print `[REDACTED]`, so a secret cannot reach a log line, a
//! panic message or a `{:?}` of the struct that holds it by accident. The
//! text is reached only through [`Secret::expose`], which makes every place
//! that reads it easy to find. A bcrypt hash is not a secret in this sense
//! (nats-server's own tools print them), and the config dump shows it.

use std::fmt;

/// What is shown in place of a secret.
pub const REDACTED: &str = "[REDACTED]";

/// A password or token, redacted whenever it is printed.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself, for comparing and hashing it, or for sending it
    /// to the server that asked for it. Never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How a config dump shows it: a bcrypt hash (`$2...`) as written,
    /// plain text as [`REDACTED`].
    pub fn dump(&self) -> &str {
        if self.0.starts_with("$2") {
            &self.0
        } else {
            REDACTED
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

/// Serialised as the dump shows it: never the plain text.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.dump())
    }
}

/// Read from JSON as plain text (CONNECT's `pass` and `auth_token`).
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// For a message that carries the secret to the party that asked for it
/// (a route's CONNECT): the plain text, never the redacted form.
pub fn serialize_exposed<S: serde::Serializer>(v: &Option<&Secret>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(secret) => s.serialize_str(secret.expose()),
        None => s.serialize_none(),
    }
}

/// A string in the JSON Schemas, as written in a config file.
impl schemars::JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        String::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct User {
        name: String,
        password: Option<Secret>,
    }

    #[test]
    fn printing_never_shows_it() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s:#?}"), REDACTED);
        let u = User { name: "alice".into(), password: Some(s.clone()) };
        let shown = format!("{u:?} {u:#?}");
        assert!(!shown.contains("hunter2") && shown.contains("alice"), "{shown}");
        assert_eq!(serde_json::to_value(&s).unwrap(), REDACTED);
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn bcrypt_hashes_are_shown_in_dumps_only() {
        let h = Secret::new("$2a$11$abcdefghijklmnopqrstuv");
        assert_eq!(serde_json::to_value(&h).unwrap(), "$2a$11$abcdefghijklmnopqrstuv");
        assert_eq!(format!("{h:?}"), REDACTED, "Debug redacts even a hash");
        assert_eq!(Secret::new("$3a$xx").dump(), REDACTED);
    }

    #[test]
    fn reads_plain_text_from_json() {
        let s: Secret = serde_json::from_str("\"pw\"").unwrap();
        assert_eq!(s.expose(), "pw");
    }
}
