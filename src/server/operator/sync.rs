//! Directory sync between the servers of a cluster for `full` resolvers
//! (nats-server's `DirAccResolver.Start`, the PACK exchange): every
//! `interval` each server asks `$SYS.REQ.CLAIMS.PACK` with the hash of its
//! directory, replies to its own pack inbox; a server whose hash differs
//! answers with its JWTs, one `<key>|<jwt>` a message, and the asker merges
//! them: a JWT it lacks, or a newer one, is written and applied as an
//! update would be (`DirJWTStore.Merge` / `saveIfNewer`).

use sha2::{Digest, Sha256};
use tracing::{debug, error};

use super::{OperatorMode, Server};
use crate::server::jwt::{self, decode_generic};

impl OperatorMode {
    /// How often a `full` resolver compares its directory with the
    /// cluster's; `None` for other resolvers.
    pub fn sync_interval(&self) -> Option<std::time::Duration> {
        self.resolver.is_full().then_some(self.sync_interval)
    }

    /// The hash a PACK request carries: this directory's current JWTs.
    /// Blocking.
    pub fn directory_hash(&self) -> [u8; 32] {
        pack_hash(&self.current_files())
    }

    /// The directory's JWTs that are not empty and not expired (what
    /// nats-server packs and hashes). Blocking.
    pub(super) fn current_files(&self) -> Vec<(String, String)> {
        let now = jwt::now().as_second();
        self.resolver
            .files()
            .into_iter()
            .filter(|(_, jwt)| !jwt.is_empty())
            .filter(|(_, jwt)| decode_generic(jwt).map_or(true, |g| g.data.expires == 0 || g.data.expires >= now))
            .collect()
    }

    /// One message of another server's PACK answer: each line merged; the
    /// empty message ends the answer. Blocking.
    pub fn merge_pack(&self, server: &dyn Server, body: &[u8]) {
        if body.is_empty() {
            debug!("DirResolver - Merging finished and resulting in: {}", hex(&self.directory_hash()));
            return;
        }
        let before = self.directory_hash();
        let text = String::from_utf8_lossy(body);
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            if let Err(e) = self.merge_line(server, line) {
                error!("DirResolver - Merging resulted in error: {e}");
                return;
            }
        }
        debug!("DirResolver - Merging succeeded and changed {} to {}", hex(&before), hex(&self.directory_hash()));
    }

    fn merge_line(&self, server: &dyn Server, line: &str) -> Result<(), String> {
        let parts: Vec<&str> = line.split('|').collect();
        let [key, jwt] = parts[..] else {
            return Err(format!("line in package didn't contain 2 entries: {line:?}"));
        };
        if !key.starts_with('A') || nkeys::KeyPair::from_public_key(key).is_err() {
            return Err("key to merge is not a valid public account key".into());
        }
        if self.save_if_newer(key, jwt)? {
            self.stored_changed(server, key, jwt);
        }
        Ok(())
    }

    /// nats-server's `saveIfNewer`: true when the file was written.
    pub(super) fn save_if_newer(&self, key: &str, jwt: &str) -> Result<bool, String> {
        if let Some(existing) = self.resolver.file(key) {
            let new = decode_generic(jwt).map_err(|e| e.to_string())?;
            if let Ok(old) = decode_generic(&existing) {
                if old.data.id == new.data.id || old.data.issued_at > new.data.issued_at {
                    return Ok(false);
                }
                if new.data.subject != key {
                    return Err("jwt subject nkey and provided nkey do not match".into());
                }
                if old.data.subject != new.data.subject {
                    return Err("subject of existing and new jwt do not match".into());
                }
            }
        }
        self.resolver.save_if_changed(key, jwt).map_err(|e| e.to_string())
    }
}

/// Hashes as nats-server logs them (`%x`).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// nats-server's `DirJWTStore.Hash`: the XOR of each JWT's SHA-256.
pub fn pack_hash(files: &[(String, String)]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (_, jwt) in files {
        let h = Sha256::digest(jwt.as_bytes());
        out.iter_mut().zip(h.iter()).for_each(|(o, b)| *o ^= b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_hash_is_the_xor_of_each_jwt_hash() {
        let one = vec![("A".to_string(), "x".to_string())];
        let two = vec![("A".to_string(), "x".to_string()), ("B".to_string(), "x".to_string())];
        assert_eq!(pack_hash(&two), [0u8; 32]);
        assert_eq!(pack_hash(&one).as_slice(), Sha256::digest(b"x").as_slice());
    }
}
