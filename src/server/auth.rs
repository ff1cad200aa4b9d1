//! Checking a client's CONNECT credentials against the configured ones.
//!
//! Plain secrets are compared in constant time, so response timing does not
//! reveal how much of a guess was right.

use subtle::ConstantTimeEq;

use super::info::ConnectOpts;
use crate::options::Options;

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A configured password: a bcrypt hash (`$2a$`, `$2b$`, `$2y$`) or plain text.
pub fn password_matches(configured: &str, given: &str) -> bool {
    if configured.starts_with("$2a$") || configured.starts_with("$2b$") || configured.starts_with("$2y$") {
        bcrypt::verify(given, configured).unwrap_or(false)
    } else {
        ct_eq(given, configured)
    }
}

/// Whether `c` carries credentials that `opts` accepts.
pub fn authenticate(opts: &Options, c: &ConnectOpts) -> bool {
    let a = &opts.authorization;
    if !a.users.is_empty() {
        let (Some(name), Some(given)) = (c.user.as_deref(), c.pass.as_deref()) else { return false };
        return a.users.iter().any(|u| {
            u.user.as_deref() == Some(name) && u.password.as_deref().is_some_and(|p| password_matches(p, given))
        });
    }
    if let Some(token) = &a.token {
        return c.auth_token.as_deref().is_some_and(|t| ct_eq(t, token));
    }
    if let Some(user) = &a.user {
        let user_ok = c.user.as_deref().is_some_and(|u| ct_eq(u, user));
        let pass_ok = match &a.password {
            Some(p) => c.pass.as_deref().is_some_and(|given| password_matches(p, given)),
            None => true,
        };
        return user_ok & pass_ok;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(json: &str) -> ConnectOpts {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn user_and_token() {
        let mut o = Options::default();
        o.authorization.user = Some("a".into());
        o.authorization.password = Some("p".into());
        assert!(authenticate(&o, &connect(r#"{"user":"a","pass":"p"}"#)));
        assert!(!authenticate(&o, &connect(r#"{"user":"a","pass":"x"}"#)));
        assert!(!authenticate(&o, &connect(r#"{"user":"b","pass":"p"}"#)));
        assert!(!authenticate(&o, &connect(r#"{}"#)));
        let mut o = Options::default();
        o.authorization.token = Some("s3cret".into());
        assert!(authenticate(&o, &connect(r#"{"auth_token":"s3cret"}"#)));
        assert!(!authenticate(&o, &connect(r#"{"auth_token":"s3cre"}"#)));
        assert!(authenticate(&Options::default(), &connect("{}")));
        let mut o = Options::default();
        let hash = bcrypt::hash("pw-b", 4).unwrap();
        o.authorization.users = vec![
            crate::options::User { user: Some("a".into()), password: Some("pw-a".into()), ..Default::default() },
            crate::options::User { user: Some("b".into()), password: Some(hash), ..Default::default() },
        ];
        assert!(authenticate(&o, &connect(r#"{"user":"a","pass":"pw-a"}"#)));
        assert!(authenticate(&o, &connect(r#"{"user":"b","pass":"pw-b"}"#)));
        assert!(!authenticate(&o, &connect(r#"{"user":"b","pass":"pw-a"}"#)));
        assert!(!authenticate(&o, &connect(r#"{"user":"c","pass":"pw-a"}"#)));
        assert!(!authenticate(&o, &connect(r#"{"user":"a"}"#)));
    }
}
