//! NATS JWTs as nats-server 2.15 reads them (the claims of nats-io/jwt v2;
//! v1 tokens are decoded through the same migration the Go library does).
//!
//! - [`decode()`] and the typed [`decode_user`], [`decode_account`],
//!   [`decode_operator`], [`decode_activation`], [`decode_generic`]: size
//!   limit, header, base64url, claim version and type, the Ed25519 signature
//!   by the `iss` nkey, and the issuer prefix each claim type allows. Error
//!   texts are the Go library's, since they reach the reference's log lines.
//! - Typed claims ([`OperatorClaims`], [`AccountClaims`], [`UserClaims`],
//!   [`ActivationClaims`], [`GenericClaims`]) with serde; `Validate` of the
//!   Go library as [`Claim::validate`] against a caller-supplied clock.
//! - [`Claim::encode`]: signs claims with an nkeys [`KeyPair`] the way the Go
//!   library does (`iss`, `iat`, `jti`), so tests mint tokens; [`creds`]
//!   reads and writes `.creds` files.
//! - [`template`]: scoped signing key templates (`{{name()}}`, ...).
//! - [`login`]: the reference's user-JWT checks at CONNECT, in its order and
//!   with its debug texts, as a pure function over decoded claims.
//!
//! Nothing here is on the message path: a JWT is verified once per CONNECT
//! or claim update.
//!
//! [`KeyPair`]: nkeys::KeyPair

mod account;
mod activation;
mod claims;
mod codec;
pub mod creds;
mod decode;
mod encode;
mod error;
mod exports;
mod generic;
mod imports;
mod keys;
pub mod login;
mod operator;
pub mod restrict;
mod revocations;
mod signing_keys;
pub mod template;
mod types;
mod user;
mod validation;

pub use account::{
    Account, AccountClaims, AccountLimits, ExternalAuthorization, JetStreamLimits, Mapping, MsgTrace, OperatorLimits,
    WeightedMapping,
};
pub use activation::{Activation, ActivationClaims};
pub use claims::{ClaimType, Claims, ClaimsData, GenericFields};
pub use decode::{decode, decode_account, decode_activation, decode_generic, decode_operator, decode_user};
pub use encode::{sign_token, sign_token_v1, Claim, HEADER_V1, HEADER_V2};
pub use error::JwtError;
pub use exports::{
    Export, ExportType, SamplingRate, ServiceLatency, RESPONSE_TYPE_CHUNKED, RESPONSE_TYPE_SINGLETON,
    RESPONSE_TYPE_STREAM,
};
pub use generic::GenericClaims;
pub use imports::Import;
pub use keys::KeyKind;
pub use operator::{parse_server_version, validate_operator_service_url, Operator, OperatorClaims};
pub use revocations::RevocationList;
pub use signing_keys::{SigningKeys, UserScope};
pub use types::{
    CidrList, Info, Limits, NatsLimits, Permission, Permissions, ResponsePermission, TimeRange, UserLimits,
};
pub use user::{ConnectionType, User, UserClaims, UserPermissionLimits};
pub use validation::{ValidationIssue, ValidationResults};

/// A limit of `-1` means unlimited (the Go library's `NoLimit`).
pub const NO_LIMIT: i64 = -1;

/// The revocation key that revokes every user (or activation) issued at or
/// before its time.
pub const ALL: &str = "*";

/// Tokens longer than this are refused before anything else is looked at.
pub const MAX_TOKEN_SIZE: usize = 1024 * 1024;

/// The claim version this library writes and the newest it reads.
pub const LIB_VERSION: i64 = 2;

/// The current time, for the `now` arguments of validation (the clock is a
/// parameter so tests and timers can inject theirs).
pub fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}
