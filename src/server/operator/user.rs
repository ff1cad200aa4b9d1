//! What a user JWT's login leaves on a connection (kept apart from the
//! login itself so the credential types need nothing of the server).

/// What a JWT login leaves on the connection besides its permissions.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtUser {
    /// The user's public key (the JWT's subject).
    pub user_key: String,
    /// The JWT's `name`.
    pub user_name: String,
    pub account_key: String,
    /// The account JWT's `name`.
    pub account_name: String,
    /// The signing key that issued the user, when not the account itself.
    pub signing_key: Option<String>,
    /// The user JWT's `iat` (revocations compare with it).
    pub issued_at: i64,
    /// When the connection must be closed: the JWT's `exp`, or the end of
    /// its connect window.
    pub expires_at: Option<tokio::time::Instant>,
    /// The user's own `subs` and `payload` limits (the account's apply too).
    pub max_subscriptions: Option<u64>,
    pub max_payload: Option<u64>,
    /// The account's `default_permissions` the connection's permissions
    /// were compiled from, when the user JWT had none of its own: a claim
    /// update that changes them changes the connection's (nats-server's
    /// `updateDefaultPermissions`).
    pub default_permissions: Option<crate::server::jwt::Permissions>,
}
