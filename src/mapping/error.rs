//! Why a transform does not compile, in nats-server's words.

use std::fmt;

/// A compile error, worded as nats-server words it (its `mappingDestinationErr`
/// and `ErrBadSubject`), so config errors can quote it unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    /// Source or destination is not a subject, the destination has a `*`,
    /// or only one side has a `>`.
    BadSubject,
    /// A destination token that cannot be one (empty, after `>`).
    InvalidTransform {
        token: String,
    },
    /// A destination token with a blank in it.
    BlankInDestination,
    UnknownFunction {
        token: String,
    },
    IndexOutOfRange {
        token: String,
    },
    NotEnoughArgs {
        token: String,
    },
    TooManyArgs {
        token: String,
    },
    InvalidArg {
        token: String,
    },
    /// Imports must be reversible: `wildcard()` (or `$n`) only.
    OnlyWildcardForImport {
        token: String,
    },
    /// Imports must use every wildcard of their source.
    NotUsingAllWildcards {
        dest: String,
    },
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const P: &str = "invalid mapping destination";
        let (what, token) = match self {
            TransformError::BadSubject => return f.write_str("invalid subject"),
            TransformError::BlankInDestination => return write!(f, "{P}: invalid transform"),
            TransformError::InvalidTransform { token } => ("invalid transform", token),
            TransformError::UnknownFunction { token } => ("unknown function", token),
            TransformError::IndexOutOfRange { token } => ("wildcard index out of range", token),
            TransformError::NotEnoughArgs { token } => ("not enough arguments passed to the function", token),
            TransformError::TooManyArgs { token } => ("too many arguments passed to the function", token),
            TransformError::InvalidArg { token } => ("function argument is invalid or in the wrong format", token),
            TransformError::OnlyWildcardForImport { token } => {
                ("the only mapping function allowed for import transforms is {{Wildcard()}}", token)
            }
            TransformError::NotUsingAllWildcards { dest } => ("not using all of the token wildcard(s)", dest),
        };
        // nats-server's `mappingDestinationErr`: " in TOKEN" unless empty.
        if token.is_empty() {
            write!(f, "{P}: {what}")
        } else {
            write!(f, "{P}: {what} in {token}")
        }
    }
}

impl std::error::Error for TransformError {}
