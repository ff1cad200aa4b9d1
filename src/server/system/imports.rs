//! The service imports every account gets from the system account, as
//! nats-server's `addSystemAccountExports` and `registerSystemImports` set
//! them up: a client of any account can ask who it is
//! (`$SYS.REQ.USER.INFO`) and about its own account's connections and
//! figures, without a system user.

use std::sync::Arc;

use crate::options::{ResponseType, DEFAULT_RESPONSE_THRESHOLD};
use crate::server::account_config::ServiceImport;
use crate::server::service::response_table::ResponsePolicy;

/// `local` in the importer → `remote` in the system account (`%s` is the
/// importer's name), streamed or not, sharing the requester's details.
/// In the order `/accountz` lists them (observed).
const FOR_EVERY_ACCOUNT: [(&str, &str, ResponseType, bool); 4] = [
    ("$SYS.REQ.USER.INFO", "$SYS.REQ.USER.%s.INFO", ResponseType::Single, true),
    ("$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.ACCOUNT.%s.CONNZ", ResponseType::Stream, false),
    ("$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.%s.CONNZ", ResponseType::Stream, false),
    ("$SYS.REQ.ACCOUNT.PING.STATZ", "$SYS.REQ.ACCOUNT.%s.STATZ", ResponseType::Stream, false),
];

/// The system account's own service exports, as `/accountz` lists them
/// (subject, response type), sorted by subject.
pub const SYSTEM_EXPORTS: [(&str, &str); 4] = [
    ("$SYS.DEBUG.SUBSCRIBERS", "Singleton"),
    ("$SYS.REQ.ACCOUNT.*.CONNZ", "Streamed"),
    ("$SYS.REQ.ACCOUNT.*.STATZ", "Streamed"),
    ("$SYS.REQ.USER.*.INFO", "Singleton"),
];

/// The imports `account` gets when the server's system account is
/// `system`: the four above, or for the system account itself only its
/// own `USER.INFO`.
pub fn system_imports(account: &str, system: &str) -> Vec<Arc<ServiceImport>> {
    FOR_EVERY_ACCOUNT
        .iter()
        .filter(|(local, ..)| account != system || *local == "$SYS.REQ.USER.INFO")
        .map(|&(local, remote, response_type, share)| {
            let policy = ResponsePolicy { response_type, threshold: DEFAULT_RESPONSE_THRESHOLD };
            Arc::new(ServiceImport::fixed(system, local, &remote.replace("%s", account), share, policy))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_account_asks_about_itself_and_the_system_account_only_who_it_is() {
        let a = system_imports("A", "SYS");
        let pairs: Vec<_> = a.iter().map(|i| (&*i.local, &*i.remote, &*i.exporter)).collect();
        assert_eq!(pairs.len(), 4);
        assert!(pairs.contains(&(&b"$SYS.REQ.SERVER.PING.CONNZ"[..], &b"$SYS.REQ.ACCOUNT.A.CONNZ"[..], "SYS")));
        assert!(a.iter().any(|i| &*i.remote == b"$SYS.REQ.USER.A.INFO" && i.share));
        let sys = system_imports("SYS", "SYS");
        assert_eq!(sys.len(), 1);
        assert_eq!(&*sys[0].remote, b"$SYS.REQ.USER.SYS.INFO");
    }
}
