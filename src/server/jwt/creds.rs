//! `.creds` files and decorated JWTs: armored blocks
//! (`-----BEGIN NATS USER JWT-----` ... `------END NATS USER JWT------`)
//! as `nsc` writes them and the clients read them. Seeds are secrets: they
//! are only ever returned as key pairs or written into the text asked for.

use nkeys::KeyPair;

use super::{decode, ClaimType, Claims, JwtError};
use crate::server::errors::go_quote;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredsError {
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error("{} cannot be serialized as a user config", go_quote(.0))]
    NotUser(String),
    #[error("nkey seed is not an user seed")]
    NotUserSeed,
    #[error("nkey seed does not match the jwt subject")]
    SeedMismatch,
    #[error("seed is too short")]
    SeedTooShort,
    #[error("seed is not an operator, account or user seed")]
    UnknownSeedKind,
    #[error("no nkey seed found")]
    NoSeed,
    #[error("doesn't contain a seed nkey")]
    NotSeed,
    #[error("doesn't contain an user seed nkey")]
    NotUserSeedNkey,
    /// The seed did not decode (the nkeys crate's text).
    #[error("{0}")]
    BadSeed(String),
}

/// `-----BEGIN NATS <KIND> JWT-----` block around a JWT, as Go's `formatJwt`.
fn format_jwt(kind: &str, jwt: &str) -> String {
    let kind = kind.to_uppercase();
    format!("-----BEGIN NATS {kind} JWT-----\n{jwt}\n------END NATS {kind} JWT------\n\n")
}

/// A JWT in its armored block, named by its (verified) claim type.
pub fn decorate_jwt(jwt: &str) -> Result<String, CredsError> {
    let claims = decode(jwt)?;
    Ok(format_jwt(claims.claim_type().as_str(), jwt))
}

/// A seed in its armored block with the reference's warning around it.
pub fn decorate_seed(seed: &str) -> Result<String, CredsError> {
    let seed = seed.trim();
    if seed.len() < 2 {
        return Err(CredsError::SeedTooShort);
    }
    let kind = match &seed[..2] {
        "SU" => "USER",
        "SA" => "ACCOUNT",
        "SO" => "OPERATOR",
        _ => return Err(CredsError::UnknownSeedKind),
    };
    Ok(format!(
        "************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\
         \n\
         -----BEGIN {kind} NKEY SEED-----\n\
         {seed}\n\
         ------END {kind} NKEY SEED------\n\
         \n\
         *************************************************************\n"
    ))
}

/// A `.creds` file: the user JWT and the user's seed (Go's
/// `FormatUserConfig`): the JWT must verify, be a user JWT, and its subject
/// must be the seed's public key.
pub fn format_user_config(jwt: &str, seed: &str) -> Result<String, CredsError> {
    let claims = decode(jwt)?;
    let Claims::User(user) = &claims else {
        return Err(CredsError::NotUser(claims.claim_type().as_str().to_string()));
    };
    let mut out = format_jwt(ClaimType::User.as_str(), jwt);
    if !seed.trim().starts_with("SU") {
        return Err(CredsError::NotUserSeed);
    }
    let key = KeyPair::from_seed(seed.trim()).map_err(|e| CredsError::BadSeed(e.to_string()))?;
    if key.public_key() != user.data.subject {
        return Err(CredsError::SeedMismatch);
    }
    out.push_str(&decorate_seed(seed)?);
    Ok(out)
}

/// One line of the text and whether a line break ended it.
struct Line<'a> {
    text: &'a str,
    terminated: bool,
}

fn lines(contents: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut rest = contents;
    while !rest.is_empty() {
        match rest.find('\n') {
            Some(i) => {
                let text = &rest[..i];
                out.push(Line { text: text.strip_suffix('\r').unwrap_or(text), terminated: true });
                rest = &rest[i + 1..];
            }
            None => {
                out.push(Line { text: rest, terminated: false });
                rest = "";
            }
        }
    }
    out
}

/// A begin line: ends with three or more dashes, after an earlier run of
/// three dashes (the regular expression's `[-]{3,}.*[-]{3,}\r?\n`, which may
/// start anywhere in the line).
fn is_begin(line: &str) -> bool {
    line.ends_with("---") && line.find("---").is_some_and(|at| at + 6 <= line.len())
}

/// An end line: starts and ends with three or more dashes.
fn is_end(line: &str) -> bool {
    line.starts_with("---") && line.ends_with("---") && line.len() >= 6
}

/// The block's content: base64url, seeds, `=` and `.` only (`[\w\-.=]+`).
fn is_block_content(line: &str) -> bool {
    !line.is_empty() && line.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'='))
}

/// The contents of the armored blocks, in order (Go's `userConfigRE`).
fn blocks(contents: &str) -> Vec<&str> {
    let lines = lines(contents);
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        let (begin, content, end) = (&lines[i], &lines[i + 1], &lines[i + 2]);
        if is_begin(begin.text)
            && begin.terminated
            && is_block_content(content.text)
            && content.terminated
            && is_end(end.text)
        {
            found.push(content.text);
            i += 3;
        } else {
            i += 1;
        }
    }
    found
}

/// The JWT of a creds file or decorated JWT file; text without blocks is
/// taken as the JWT itself (Go's `ParseDecoratedJWT`).
pub fn parse_decorated_jwt(contents: &str) -> String {
    match blocks(contents).first() {
        Some(jwt) => jwt.to_string(),
        None => contents.to_string(),
    }
}

/// The key pair of the seed in a creds file (the second block), or of the
/// first line that starts with an operator, account or user seed prefix.
pub fn parse_decorated_nkey(contents: &str) -> Result<KeyPair, CredsError> {
    let found = blocks(contents);
    let seed = if found.len() > 1 {
        found[1]
    } else {
        contents
            .split('\n')
            .find(|l| {
                let t = l.trim();
                t.starts_with("SO") || t.starts_with("SA") || t.starts_with("SU")
            })
            .ok_or(CredsError::NoSeed)?
    };
    if !(seed.starts_with("SO") || seed.starts_with("SA") || seed.starts_with("SU")) {
        return Err(CredsError::NotSeed);
    }
    KeyPair::from_seed(seed.trim_end_matches('\r')).map_err(|e| CredsError::BadSeed(e.to_string()))
}

/// As [`parse_decorated_nkey`], for a user seed only.
pub fn parse_decorated_user_nkey(contents: &str) -> Result<KeyPair, CredsError> {
    let key = parse_decorated_nkey(contents)?;
    if key.key_pair_type() != nkeys::KeyPairType::User {
        return Err(CredsError::NotUserSeedNkey);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::jwt::{Claim, OperatorClaims, UserClaims};

    fn user_creds() -> (String, KeyPair, String) {
        let account = KeyPair::new_account();
        let user = KeyPair::new_user();
        let jwt = UserClaims::new(&user.public_key()).encode(&account).unwrap();
        let creds = format_user_config(&jwt, &user.seed().unwrap()).unwrap();
        (jwt, user, creds)
    }

    #[test]
    fn writes_the_nsc_layout() {
        let (jwt, user, creds) = user_creds();
        let seed = user.seed().unwrap();
        assert_eq!(
            creds,
            format!(
                "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
                 ************************* IMPORTANT *************************\n\
                 NKEY Seed printed below can be used to sign and prove identity.\n\
                 NKEYs are sensitive and should be treated as secrets.\n\n\
                 -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
                 *************************************************************\n"
            )
        );
    }

    #[test]
    fn reads_back_what_it_writes() {
        let (jwt, user, creds) = user_creds();
        assert_eq!(parse_decorated_jwt(&creds), jwt);
        assert_eq!(parse_decorated_user_nkey(&creds).unwrap().public_key(), user.public_key());
        // CRLF files too.
        let crlf = creds.replace('\n', "\r\n");
        assert_eq!(parse_decorated_jwt(&crlf), jwt);
        assert_eq!(parse_decorated_nkey(&crlf).unwrap().public_key(), user.public_key());
        // A bare JWT is its own content; a bare seed line is found.
        assert_eq!(parse_decorated_jwt(&jwt), jwt);
        let seed = user.seed().unwrap();
        assert_eq!(parse_decorated_nkey(&format!("# key\n{seed}\n")).unwrap().public_key(), user.public_key());
    }

    #[test]
    fn refuses_what_go_refuses() {
        let (jwt, user, _) = user_creds();
        let other = KeyPair::new_user().seed().unwrap();
        assert_eq!(format_user_config(&jwt, &other), Err(CredsError::SeedMismatch));
        let account_seed = KeyPair::new_account().seed().unwrap();
        assert_eq!(format_user_config(&jwt, &account_seed), Err(CredsError::NotUserSeed));
        let op = KeyPair::new_operator();
        let op_jwt = OperatorClaims::new(&op.public_key()).encode(&op).unwrap();
        assert_eq!(
            format_user_config(&op_jwt, &user.seed().unwrap()).unwrap_err().to_string(),
            "\"operator\" cannot be serialized as a user config"
        );
        assert!(matches!(format_user_config("x.y.z", &user.seed().unwrap()), Err(CredsError::Jwt(_))));
        assert_eq!(decorate_seed("S"), Err(CredsError::SeedTooShort));
        assert_eq!(decorate_seed("SX123"), Err(CredsError::UnknownSeedKind));
        assert!(matches!(parse_decorated_nkey("nothing here"), Err(CredsError::NoSeed)));
        assert!(matches!(parse_decorated_nkey("  SUxx"), Err(CredsError::NotSeed)));
        let acc_creds = format!(
            "-----BEGIN X-----\nJWT\n------END X------\n-----BEGIN Y-----\n{account_seed}\n------END Y------\n"
        );
        assert!(parse_decorated_nkey(&acc_creds).is_ok());
        assert!(matches!(parse_decorated_user_nkey(&acc_creds), Err(CredsError::NotUserSeedNkey)));
    }

    #[test]
    fn decorates_any_claim_type() {
        let op = KeyPair::new_operator();
        let jwt = OperatorClaims::new(&op.public_key()).encode(&op).unwrap();
        let text = decorate_jwt(&jwt).unwrap();
        assert!(text.starts_with("-----BEGIN NATS OPERATOR JWT-----\n"));
        assert_eq!(parse_decorated_jwt(&text), jwt);
    }

    #[test]
    fn block_rules_follow_the_regex() {
        // The end line may close the file without a newline; the content
        // line may not hold spaces; a begin line needs two dash runs.
        assert_eq!(blocks("---a---\nTOKEN\n------"), ["TOKEN"]);
        assert!(blocks("---a---\nTO KEN\n------\n").is_empty());
        assert!(blocks("-----\nTOKEN\n------\n").is_empty());
        assert_eq!(blocks("x ---BEGIN--- \n").len(), 0);
        assert_eq!(blocks("junk ---BEGIN---\nT\n---END---\n"), ["T"]);
    }
}
