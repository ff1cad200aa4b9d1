//! Revocation lists: public key (or `*`) to a Unix time; a JWT for that key
//! issued at or before the time is revoked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ALL;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RevocationList(pub BTreeMap<String, i64>);

impl RevocationList {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Revokes `key`'s JWTs issued at or before `at`. An existing entry with
    /// a later time is kept: a revocation is never moved to an earlier time.
    pub fn revoke(&mut self, key: &str, at: i64) {
        if let Some(&existing) = self.0.get(key) {
            if existing > at {
                return;
            }
        }
        self.0.insert(key.to_string(), at);
    }

    pub fn clear(&mut self, key: &str) {
        self.0.remove(key);
    }

    /// True if a JWT for `key` issued at `issued_at` (Unix seconds) is
    /// revoked, by its own entry or by `*` (the server's `isRevoked`).
    pub fn is_revoked(&self, key: &str, issued_at: i64) -> bool {
        let by = |k: &str| self.0.get(k).is_some_and(|&t| t >= issued_at);
        by(ALL) || by(key)
    }

    /// Drops entries a `*` entry already covers; returns them.
    pub fn maybe_compact(&mut self) -> Vec<(String, i64)> {
        let Some(&all) = self.0.get(ALL) else {
            return Vec::new();
        };
        let covered: Vec<(String, i64)> =
            self.0.iter().filter(|(k, &t)| k.as_str() != ALL && all >= t).map(|(k, &t)| (k.clone(), t)).collect();
        for (k, _) in &covered {
            self.0.remove(k);
        }
        covered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_at_or_before_the_time() {
        let mut r = RevocationList::default();
        assert!(!r.is_revoked("U1", 0));
        r.revoke("U1", 100);
        assert!(r.is_revoked("U1", 99));
        assert!(r.is_revoked("U1", 100));
        assert!(!r.is_revoked("U1", 101));
        assert!(!r.is_revoked("U2", 1));
        // Never moved to an earlier time.
        r.revoke("U1", 50);
        assert_eq!(r.0["U1"], 100);
        r.revoke("U1", 150);
        assert_eq!(r.0["U1"], 150);
        r.clear("U1");
        assert!(!r.is_revoked("U1", 1));
    }

    #[test]
    fn star_revokes_everyone_issued_before() {
        let mut r = RevocationList::default();
        r.revoke("U1", 300);
        r.revoke("U2", 100);
        r.revoke(ALL, 200);
        assert!(r.is_revoked("U9", 200));
        assert!(!r.is_revoked("U9", 201));
        assert!(r.is_revoked("U1", 250));
        assert_eq!(r.maybe_compact(), [("U2".to_string(), 100)]);
        assert_eq!(r.0.len(), 2);
    }

    #[test]
    fn json_is_a_map_of_times() {
        let r: RevocationList = serde_json::from_str(r#"{"UX":17,"*":5}"#).unwrap();
        assert!(r.is_revoked("UX", 17) && r.is_revoked("UY", 5));
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"*":5,"UX":17}"#);
    }
}
