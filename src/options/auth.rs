//! Who may connect and what they may do: `authorization`, users and their
//! permissions, and the monitoring port's `http_auth`.

use super::*;

/// `authorization { ... }`: single user, token, or a list of users.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Authorization {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Plain text (compared in constant time) or a bcrypt hash (`$2a$...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// How long a client has to send CONNECT.
    #[serde(serialize_with = "ser_duration")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
    /// Permissions of users that have none of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_permissions: Option<Permissions>,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            user: None,
            password: None,
            token: None,
            timeout: DEFAULT_AUTH_TIMEOUT,
            users: Vec::new(),
            default_permissions: None,
        }
    }
}

/// One entry of `authorization.users`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
pub struct User {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// An nkey public key (`U...`) instead of user and password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nkey: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_connection_types: Vec<String>,
}

/// Publish and subscribe permissions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema, Default)]
pub struct Permissions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<SubjectPermission>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<SubjectPermission>,
    /// May publish to the reply subjects of requests received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_responses: Option<ResponsePermission>,
}

/// Subjects allowed and denied; deny wins. A subscribe entry may be
/// `"subject queue"` to allow or deny one queue group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema, Default)]
pub struct SubjectPermission {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema)]
pub struct ResponsePermission {
    /// Responses allowed per request.
    pub max: i64,
    /// How long after the request a response is allowed; 0 means no limit.
    #[serde(serialize_with = "ser_duration")]
    #[schemars(with = "String")]
    pub expires: Duration,
}

/// `http_auth { ... }`: credentials for the monitoring port, as HTTP Basic
/// (user and password) or a bearer token. Secrets may be bcrypt hashes.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
pub struct HttpAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Plain text (compared in constant time) or a bcrypt hash (`$2a$...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Sent as `Authorization: Bearer <token>`; plain text or a bcrypt hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

impl HttpAuth {
    /// A token, or a user with a password; not both.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.user, &self.password, &self.token) {
            (None, None, Some(_)) | (Some(_), Some(_), None) => Ok(()),
            (_, _, Some(_)) => Err("http_auth: use a token or a user and password, not both".into()),
            (Some(_), None, None) => Err("http_auth: the user needs a password".into()),
            (None, Some(_), None) => Err("http_auth: the password needs a user".into()),
            (None, None, None) => Err("http_auth: set a user and password, or a token".into()),
        }
    }
}
