//! `$SYS.REQ.USER.INFO`: who the requester is, and its permissions as
//! nats-server's `UserInfo` shows them.

use crate::options::{Options, Permissions, SubjectPermission, User, GLOBAL_ACCOUNT};
use crate::server::service::request_info::{write_go_string, ReceivedClientInfo};

/// nats-server's `DEFAULT_ALLOW_RESPONSE_EXPIRATION`.
const DEFAULT_RESPONSE_TTL: std::time::Duration = std::time::Duration::from_secs(120);

/// `{"user","account","account_name","permissions"?}` for the client the
/// request header names.
pub fn user_info(opts: &Options, info: &ReceivedClientInfo) -> Vec<u8> {
    let mut out = b"{\"user\":".to_vec();
    write_go_string(&info.user, &mut out);
    out.extend_from_slice(b",\"account\":");
    write_go_string(&info.acc, &mut out);
    out.extend_from_slice(b",\"account_name\":");
    write_go_string(&info.acc, &mut out);
    if let Some(perms) = permissions_of(opts, &info.acc, &info.user) {
        out.extend_from_slice(b",\"permissions\":");
        write_permissions(&perms, &mut out);
    }
    out.push(b'}');
    out
}

/// The permissions the user `user` of `account` has: its own, else its
/// account's (or `authorization`'s) defaults.
fn permissions_of(opts: &Options, account: &str, user: &str) -> Option<Permissions> {
    let named = |u: &&User| u.user.as_deref() == Some(user) || u.nkey.as_deref() == Some(user);
    if account == GLOBAL_ACCOUNT {
        let found = opts.authorization.users.iter().find(named)?;
        return found.permissions.clone().or_else(|| opts.authorization.default_permissions.clone());
    }
    let acc = opts.accounts.iter().find(|a| a.name == account)?;
    let found = acc.users.iter().find(named)?;
    found.permissions.clone().or_else(|| acc.default_permissions.clone())
}

fn write_permissions(p: &Permissions, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    let mut key = |name: &str, out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        write_go_string(name, out);
        out.push(b':');
    };
    if let Some(publish) = &p.publish {
        key("publish", out);
        write_subject_permission(publish, out);
    }
    if let Some(subscribe) = &p.subscribe {
        key("subscribe", out);
        write_subject_permission(subscribe, out);
    }
    if let Some(r) = &p.allow_responses {
        key("responses", out);
        // nats-server's default expiry when none is given: 2 minutes.
        let ttl = if r.expires.is_zero() { DEFAULT_RESPONSE_TTL } else { r.expires };
        out.extend_from_slice(format!("{{\"max\":{},\"ttl\":{}}}", r.max, ttl.as_nanos()).as_bytes());
    }
    out.push(b'}');
}

fn write_subject_permission(p: &SubjectPermission, out: &mut Vec<u8>) {
    out.push(b'{');
    let list = |name: &str, items: &[String], out: &mut Vec<u8>| {
        write_go_string(name, out);
        out.extend_from_slice(b":[");
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_go_string(s, out);
        }
        out.push(b']');
    };
    if !p.allow.is_empty() {
        list("allow", &p.allow, out);
    }
    if !p.deny.is_empty() {
        if !p.allow.is_empty() {
            out.push(b',');
        }
        list("deny", &p.deny, out);
    }
    out.push(b'}');
}
