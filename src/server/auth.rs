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

/// Whether `c` carries credentials that `opts` accepts.
pub fn authenticate(opts: &Options, c: &ConnectOpts) -> bool {
    let a = &opts.authorization;
    if let Some(token) = &a.token {
        return c.auth_token.as_deref().is_some_and(|t| ct_eq(t, token));
    }
    if let Some(user) = &a.user {
        let user_ok = c.user.as_deref().is_some_and(|u| ct_eq(u, user));
        let pass_ok = match &a.password {
            Some(p) => c.pass.as_deref().is_some_and(|given| ct_eq(given, p)),
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
    }
}
