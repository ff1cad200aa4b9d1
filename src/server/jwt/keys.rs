//! Public nkey kinds and the prefix checks the Go library makes
//! (`nkeys.IsValidPublicAccountKey`, ...).

/// The kind of a public nkey, from its prefix byte (`O...`, `A...`, `U...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Operator,
    Account,
    User,
    Server,
    Cluster,
}

impl KeyKind {
    /// The nkey prefix byte of this kind (before base32).
    fn prefix_byte(self) -> u8 {
        match self {
            KeyKind::Operator => 14 << 3,
            KeyKind::Account => 0,
            KeyKind::User => 20 << 3,
            KeyKind::Server => 13 << 3,
            KeyKind::Cluster => 2 << 3,
        }
    }

    /// The name Go's `nkeys.PrefixByte` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Operator => "operator",
            KeyKind::Account => "account",
            KeyKind::User => "user",
            KeyKind::Server => "server",
            KeyKind::Cluster => "cluster",
        }
    }

    /// True if `key` is a well-formed public nkey (base32, checksum) of this kind.
    pub fn is_valid(self, key: &str) -> bool {
        matches!(nkeys::from_public_key(key), Ok((prefix, _)) if prefix == self.prefix_byte())
    }

    /// The kind of a well-formed public key, if it is one of ours.
    pub fn of(key: &str) -> Option<KeyKind> {
        let (prefix, _) = nkeys::from_public_key(key).ok()?;
        [KeyKind::Operator, KeyKind::Account, KeyKind::User, KeyKind::Server, KeyKind::Cluster]
            .into_iter()
            .find(|k| k.prefix_byte() == prefix)
    }
}

/// `[account operator]`: a prefix list as Go prints `[]nkeys.PrefixByte`.
pub(crate) fn prefix_list(kinds: &[KeyKind]) -> String {
    kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use nkeys::KeyPair;

    #[test]
    fn kinds_follow_the_prefix() {
        let cases = [
            (KeyPair::new_operator(), KeyKind::Operator),
            (KeyPair::new_account(), KeyKind::Account),
            (KeyPair::new_user(), KeyKind::User),
            (KeyPair::new_server(), KeyKind::Server),
            (KeyPair::new_cluster(), KeyKind::Cluster),
        ];
        for (kp, kind) in cases {
            let public = kp.public_key();
            assert!(kind.is_valid(&public), "{public}");
            assert_eq!(KeyKind::of(&public), Some(kind));
            for other in [KeyKind::Operator, KeyKind::Account, KeyKind::User] {
                if other != kind {
                    assert!(!other.is_valid(&public));
                }
            }
        }
    }

    #[test]
    fn malformed_keys_are_no_kind() {
        let account = KeyPair::new_account().public_key();
        // One character changed breaks the checksum.
        let mut broken = account.clone().into_bytes();
        broken[10] = if broken[10] == b'A' { b'B' } else { b'A' };
        let broken = String::from_utf8(broken).unwrap();
        for bad in ["", "A", "*", broken.as_str(), &account[..account.len() - 1]] {
            assert!(!KeyKind::Account.is_valid(bad), "{bad}");
            assert_eq!(KeyKind::of(bad), None);
        }
        // A seed is not a public key.
        let seed = KeyPair::new_account().seed().unwrap();
        assert_eq!(KeyKind::of(&seed), None);
    }

    #[test]
    fn prefix_lists_print_like_go() {
        assert_eq!(prefix_list(&[KeyKind::Account, KeyKind::Operator]), "account operator");
        assert_eq!(prefix_list(&[KeyKind::Account]), "account");
    }
}
