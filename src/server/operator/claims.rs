//! The resolver's side of the system account's claim requests
//! (`$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` and the `$SYS.REQ.CLAIMS.…`
//! family), as nats-server 2.15 answers them for each resolver:
//! - `MEMORY` and `URL` (events.go `accountClaimUpdate`): only the two
//!   account update subjects; an account no login has loaded yet is
//!   skipped, the JWT must be trusted and current;
//! - `full` directory (accounts.go `DirAccResolver.Start`): updates are
//!   written to the directory whatever their issuer (the account in use is
//!   only updated when the JWT checks out, else an error is logged), plus
//!   `LOOKUP`, `LIST`, `DELETE` and `PACK`;
//! - `cache` directory (`CacheDirAccResolver.Start`): updates of accounts
//!   in use only, `LIST` and `DELETE`.
//!
//! Everything here blocks (file I/O, compiling an account): the system
//! task runs it in order, as nats-server's internal receive loop does.

use tracing::{debug, error};

use super::sync::{hex, pack_hash};
use super::{OperatorMode, Server};
use crate::server::jwt::{self, decode_account, decode_generic, Claim};

/// Which claim request a subscription serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimRequest {
    /// `$SYS.REQ.ACCOUNT.<id>.CLAIMS.UPDATE` and the older
    /// `$SYS.ACCOUNT.<id>.CLAIMS.UPDATE`: the account from the subject.
    AccountUpdate,
    /// `$SYS.REQ.CLAIMS.UPDATE`: the account from the JWT's `sub`.
    Update,
    /// `$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`.
    Lookup,
    /// `$SYS.REQ.CLAIMS.LIST`.
    List,
    /// `$SYS.REQ.CLAIMS.DELETE`.
    Delete,
    /// `$SYS.REQ.CLAIMS.PACK`.
    Pack,
    /// Another server's answer to this server's PACK request (see
    /// [`super::sync`]).
    PackAnswer,
}

/// What the system task sends back on the request's reply subject.
#[derive(Debug, PartialEq, Eq)]
pub enum ClaimReply {
    /// Nothing.
    Silent,
    /// nats-server's `ServerAPIClaimUpdateResponse`:
    /// `{"server":…,"data":{"account","code":200,"message"}}`, or with an
    /// error `{"server":…,"error":{"account","code":500,"description":
    /// "<message> - <error>"}}` (`account` left out when empty).
    Status { account: String, message: String, error: Option<String> },
    /// These payloads as they are, one message each, in order.
    Raw(Vec<Vec<u8>>),
    /// `{"data":[…],"server":…}` (a Go map: keys sorted).
    List(Vec<String>),
}

/// nats-server's `respondToUpdate`: logs the outcome (debug when it
/// worked, error when not) and makes the reply.
fn respond(account: &str, message: &str, err: Option<String>) -> ClaimReply {
    match (&err, account.is_empty()) {
        (None, true) => debug!("{message}"),
        (None, false) => debug!("{message} - {account}"),
        (Some(e), true) => error!("{message} - {e}"),
        (Some(e), false) => error!("{message} - {account} - {e}"),
    }
    ClaimReply::Status { account: account.to_string(), message: message.to_string(), error: err }
}

/// The account key in token `at` of `subject`.
fn token(subject: &str, at: usize) -> Option<&str> {
    subject.split('.').nth(at)
}

/// The account key of an update subject (new form: 6 tokens, old: 5).
fn update_account(subject: &str) -> Option<&str> {
    match subject.split('.').count() {
        6 => token(subject, 3),
        5 => token(subject, 2),
        _ => None,
    }
}

impl OperatorMode {
    /// The claim subjects this server's resolver answers; `server_id`
    /// names its pack inbox.
    pub fn claim_routes(&self, server_id: &str) -> Vec<(String, ClaimRequest)> {
        use ClaimRequest::*;
        let mut routes: Vec<(&str, ClaimRequest)> =
            vec![("$SYS.ACCOUNT.*.CLAIMS.UPDATE", AccountUpdate), ("$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE", AccountUpdate)];
        if self.resolver.dir().is_some() {
            routes.push(("$SYS.REQ.CLAIMS.UPDATE", Update));
            if self.resolver.is_full() {
                routes.push(("$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP", Lookup));
                routes.push(("$SYS.REQ.CLAIMS.PACK", Pack));
            }
            routes.push(("$SYS.REQ.CLAIMS.LIST", List));
            routes.push(("$SYS.REQ.CLAIMS.DELETE", Delete));
        }
        let mut routes: Vec<(String, ClaimRequest)> = routes.into_iter().map(|(s, r)| (s.to_string(), r)).collect();
        if self.resolver.is_full() {
            routes.push((pack_inbox(server_id), PackAnswer));
        }
        routes
    }

    /// Answers one claim request (`body` without its headers).
    pub fn claim_request(&self, server: &dyn Server, request: ClaimRequest, subject: &str, raw: &[u8]) -> ClaimReply {
        // A PACK request's body is a binary hash; the others are JWTs.
        let body = String::from_utf8_lossy(raw);
        match (request, self.resolver.dir().is_some()) {
            (ClaimRequest::AccountUpdate, false) => match update_account(subject) {
                Some(key) => self.memory_update(server, key, &body),
                None => ClaimReply::Silent,
            },
            (ClaimRequest::AccountUpdate, true) => match update_account(subject) {
                Some(key) => self.dir_update(server, Some(key), &body),
                None => ClaimReply::Silent,
            },
            (ClaimRequest::Update, _) => self.dir_update(server, None, &body),
            (ClaimRequest::Lookup, _) => self.lookup_reply(token(subject, 3).unwrap_or_default()),
            (ClaimRequest::List, _) => ClaimReply::List(self.resolver.files().into_iter().map(|(k, _)| k).collect()),
            (ClaimRequest::Delete, _) => self.delete(server, &body),
            (ClaimRequest::Pack, _) => self.pack(raw),
            (ClaimRequest::PackAnswer, _) => {
                self.merge_pack(server, raw);
                ClaimReply::Silent
            }
        }
    }

    /// nats-server's `accountClaimUpdate` (resolvers that do not track
    /// updates themselves: `MEMORY`, `URL`).
    fn memory_update(&self, server: &dyn Server, key: &str, body: &str) -> ClaimReply {
        const FAILED: &str = "jwt update resulted in error";
        if body.is_empty() {
            return respond(key, "jwt update error", Some("request body is empty".into()));
        }
        let claims = match decode_account(body) {
            Ok(c) => c,
            Err(e) => return respond(key, FAILED, Some(e.to_string())),
        };
        if claims.data.subject != key {
            return respond(key, FAILED, Some("subject does not match jwt content".into()));
        }
        if server.accounts().get(key).is_none() {
            return respond(key, "jwt update skipped", None);
        }
        let now = jwt::now();
        let Ok(claims) = self.check_update(key, body, now) else {
            return respond(key, FAILED, Some("account validation failed".into()));
        };
        // Later logins of the account find the new JWT (nats-server keeps
        // the updated account loaded, which has the same effect).
        self.resolver.keep(key, body);
        self.ensure_installed(server.accounts(), body, &claims, now);
        server.wake_all();
        respond(key, "jwt updated", None)
    }

    /// `DirAccResolver`'s (and `CacheDirAccResolver`'s) update handlers:
    /// `key` from the subject, or `None` for `$SYS.REQ.CLAIMS.UPDATE`.
    fn dir_update(&self, server: &dyn Server, key: Option<&str>, body: &str) -> ClaimReply {
        let cache = !self.resolver.is_full();
        let (failed, skipped, invalid, updated) = if cache {
            (
                "jwt update cache resulted in error",
                "jwt update cache skipped",
                "jwt update cache validation failed",
                "jwt updated cache",
            )
        } else {
            ("jwt update resulted in error", "", "jwt validation failed", "jwt updated")
        };
        let claims = match decode_account(body) {
            Ok(c) => c,
            // The cache names the subject's account, the full resolver "n/a".
            Err(e) => return respond(key.filter(|_| cache).unwrap_or("n/a"), failed, Some(e.to_string())),
        };
        let sub = claims.data.subject.clone();
        let validation = claims.validate(jwt::now());
        let invalid_error =
            validation.is_blocking(false).then(|| format!("validation errors: [{}]", validation.errors().join(" ")));
        // The full resolver validates before comparing subjects, the cache after.
        if !cache {
            if let Some(e) = invalid_error.clone() {
                return respond(&sub, invalid, Some(e));
            }
        }
        let key = key.unwrap_or(&sub);
        if sub != key {
            return respond(key, failed, Some("subject does not match jwt content".into()));
        }
        if self.strict_operator.as_deref() == Some(claims.data.issuer.as_str()) {
            return respond(key, failed, Some("operator requires issuer to be a signing key".into()));
        }
        if cache {
            if server.accounts().get(key).is_none() {
                return respond(key, skipped, None);
            }
            if let Some(e) = invalid_error {
                return respond(key, invalid, Some(e));
            }
        }
        match self.resolver.save_if_changed(key, body) {
            Err(e) => respond(key, failed, Some(e.to_string())),
            Ok(changed) => {
                if changed {
                    self.stored_changed(server, key, body);
                }
                respond(key, updated, None)
            }
        }
    }

    /// The directory's JWT for `key` changed: an account in use takes it
    /// when it checks out (nats-server's `DirJWTStore.changed` callback).
    pub(super) fn stored_changed(&self, server: &dyn Server, key: &str, jwt: &str) {
        if server.accounts().get(key).is_none() {
            return;
        }
        let now = jwt::now();
        match self.check_update(key, jwt, now) {
            Ok(claims) => {
                self.ensure_installed(server.accounts(), jwt, &claims, now);
                server.wake_all();
            }
            Err(e) => error!("DirResolver - Update for account {key:?} resulted in error {e}"),
        }
    }

    /// `LOOKUP`: the stored JWT, an empty message when there is none, and
    /// nothing for a key that is not one.
    fn lookup_reply(&self, key: &str) -> ClaimReply {
        if nkeys::KeyPair::from_public_key(key).is_err() {
            error!("DirResolver - Error looking up account {key:?}: invalid public key");
            return ClaimReply::Silent;
        }
        match self.resolver.file(key) {
            Some(jwt) => ClaimReply::Raw(vec![jwt.into_bytes()]),
            None => {
                debug!("DirResolver - Could not find account {key:?}");
                ClaimReply::Raw(vec![Vec::new()])
            }
        }
    }

    /// nats-server's `handleDeleteRequest`: an operator-signed generic claim
    /// whose `accounts` lists the accounts to delete.
    fn delete(&self, server: &dyn Server, body: &str) -> ClaimReply {
        let (subject, checked) = match decode_generic(body) {
            Err(e) => (String::new(), Err(e.to_string())),
            Ok(g) => {
                let subject = g.data.subject.clone();
                let checked = self.delete_request_accounts(&g);
                (subject, checked)
            }
        };
        let accounts = match checked {
            Ok(accounts) => accounts,
            Err(e) => return respond("", &format!("delete accounts request by {subject} failed"), Some(e)),
        };
        let mut errors = Vec::new();
        for key in &accounts {
            match self.resolver.delete(key) {
                Ok(true) => self.deleted(server, key),
                Ok(false) => {}
                Err(e) => errors.push(e.to_string()),
            }
        }
        let passed = accounts.len() - errors.len();
        if errors.is_empty() {
            respond("", &format!("deleted {passed} accounts"), None)
        } else {
            let message = format!("deleted {passed} accounts, failed for {}", errors.len());
            respond("", &message, Some(errors.join("\n")))
        }
    }

    /// The accounts a delete request names, or why it is refused (the
    /// reference's checks, in its order).
    fn delete_request_accounts(&self, g: &jwt::GenericClaims) -> Result<Vec<String>, String> {
        if !self.resolver.allows_delete() {
            return Err("delete must be enabled in server config".into());
        }
        if g.data.subject != g.data.issuer {
            return Err("not self signed".into());
        }
        if !self.trust.is_trusted(&g.data.issuer) {
            return Err("not trusted".into());
        }
        let malformed = || "malformed request".to_string();
        let list = g.nats.get("accounts").and_then(|v| v.as_array()).ok_or_else(malformed)?;
        let system = self.system_account.as_deref();
        let mut accounts = Vec::with_capacity(list.len());
        for entry in list {
            let key = entry.as_str().filter(|k| k.starts_with('A') && nkeys::KeyPair::from_public_key(k).is_ok());
            let key = key.ok_or_else(malformed)?;
            if Some(key) == system {
                return Err("not allowed to delete system account".into());
            }
            accounts.push(key.to_string());
        }
        Ok(accounts)
    }

    /// An account's JWT was deleted: later logins are refused, and the
    /// clients of an account in use are closed as at its expiry
    /// (nats-server's `removeCb` → `expiredTimeout`): its rules are
    /// reinstalled from its claims with `exp` now, which every session of
    /// the account re-checks (`jwt_expiry`) when woken.
    fn deleted(&self, server: &dyn Server, key: &str) {
        let removed = self.installed.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        let Some((_, claims)) = removed.filter(|_| server.accounts().get(key).is_some()) else { return };
        debug!("Disable account {key} due to remove");
        let now = jwt::now();
        let mut expired = (*claims).clone();
        expired.data.expires = now.as_second();
        self.install(server.accounts(), &expired, now);
        let entry = (String::new(), std::sync::Arc::new(expired));
        self.installed.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), entry);
        server.wake_all();
    }

    /// `PACK`: nothing new when the asker's hash is ours (one empty
    /// message), else every stored JWT as `<key>|<jwt>`, one a message,
    /// and an empty message to end.
    fn pack(&self, their_hash: &[u8]) -> ClaimReply {
        let current = self.current_files();
        let ours = pack_hash(&current);
        if their_hash == ours.as_slice() {
            debug!("DirResolver - Pack request matches hash {}", hex(&ours));
            return ClaimReply::Raw(vec![Vec::new()]);
        }
        let mut out: Vec<Vec<u8>> = current.into_iter().map(|(k, jwt)| format!("{k}|{jwt}").into_bytes()).collect();
        out.push(Vec::new());
        debug!("DirResolver - Pack request hash {} - finished responding with hash {}", hex(their_hash), hex(&ours));
        ClaimReply::Raw(out)
    }
}

/// The subject other servers answer this server's PACK requests on.
pub fn pack_inbox(server_id: &str) -> String {
    format!("$SYS._INBOX.{server_id}.PACK")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_subjects_name_their_account() {
        assert_eq!(update_account("$SYS.REQ.ACCOUNT.AK.CLAIMS.UPDATE"), Some("AK"));
        assert_eq!(update_account("$SYS.ACCOUNT.AK.CLAIMS.UPDATE"), Some("AK"));
        assert_eq!(update_account("$SYS.REQ.CLAIMS.UPDATE"), None);
    }
}
