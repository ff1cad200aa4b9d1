//! Claim requests over `$SYS` (design operator-jwt.md §4), against the
//! reference: the same keys, config and sequence of requests go to
//! nats-server 2.15 and to rnats (both as processes), and the replies and
//! what a live client sees are compared.
//! - MEMORY resolver: an account claim update tightens a live user's
//!   permissions (the account's default permissions) and limits without a
//!   restart; the update's error replies; the directory-only requests get
//!   no responder.
//! - full directory resolver: updates, LOOKUP, LIST, PACK, DELETE (refused
//!   and allowed).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{reference_binary, skip_loudly, Raw};
use jiff::Timestamp;
use nkeys::KeyPair;
use rnats::server::jwt::{AccountClaims, Claim, GenericClaims, OperatorClaims, UserClaims};
use rnats::tools::spawn::{ServerProcess, Spawn};
use serde_json::Value;

fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// The keys of one run, and the JWTs made from them.
struct Keys {
    operator: KeyPair,
    system: KeyPair,
    account: KeyPair,
    /// An account in the resolver no one logs in to.
    idle: KeyPair,
    sys_user: KeyPair,
    user: KeyPair,
    now: i64,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            operator: KeyPair::new_operator(),
            system: KeyPair::new_account(),
            account: KeyPair::new_account(),
            idle: KeyPair::new_account(),
            sys_user: KeyPair::new_user(),
            user: KeyPair::new_user(),
            now: Timestamp::now().as_second(),
        }
    }

    fn operator_jwt(&self) -> String {
        let mut op = OperatorClaims::new(&self.operator.public_key());
        op.data.name = "OP".into();
        op.nats.system_account = self.system.public_key();
        op.encode(&self.operator).unwrap()
    }

    /// An account JWT issued `age` seconds ago, after `edit`.
    fn account_jwt(&self, key: &KeyPair, name: &str, age: i64, edit: impl FnOnce(&mut AccountClaims)) -> String {
        let mut a = AccountClaims::new(&key.public_key());
        a.data.name = name.into();
        edit(&mut a);
        a.encode_at(&self.operator, self.now - age).unwrap()
    }

    fn user_jwt(&self, account: &KeyPair, user: &KeyPair, name: &str) -> String {
        let mut u = UserClaims::new(&user.public_key());
        u.data.name = name.into();
        u.encode_at(account, self.now - 100).unwrap()
    }

    /// The accounts at start: `(key, jwt)`.
    fn accounts(&self) -> Vec<(String, String)> {
        vec![
            (self.system.public_key(), self.account_jwt(&self.system, "SYS", 100, |_| {})),
            (self.account.public_key(), self.account_jwt(&self.account, "ACC", 100, |_| {})),
            (self.idle.public_key(), self.account_jwt(&self.idle, "IDLE", 100, |_| {})),
        ]
    }

    fn config(&self, resolver: &str) -> String {
        format!("operator: {}\nsystem_account: {}\n{resolver}\n", self.operator_jwt(), self.system.public_key())
    }

    fn memory_config(&self) -> String {
        let preload: Vec<String> = self.accounts().iter().map(|(k, j)| format!("  {k}: {j}")).collect();
        self.config(&format!("resolver: MEMORY\nresolver_preload: {{\n{}\n}}", preload.join("\n")))
    }
}

/// A server from `conf`, written into `dir`.
fn start(bin: &Path, dir: &Path, conf: &str) -> ServerProcess {
    let path = dir.join("server.conf");
    std::fs::write(&path, conf).unwrap();
    Spawn::new(bin).args(&["-c", path.to_str().unwrap()]).start().expect("server starts")
}

/// A raw client logged in with the user JWT, after the login's PONG.
async fn login(addr: SocketAddr, jwt: &str, key: &KeyPair) -> Raw {
    let mut c = Raw::connect(addr).await;
    let nonce = c.info_json()["nonce"].as_str().expect("nonce in INFO").to_string();
    let sig = b64url(&key.sign(nonce.as_bytes()).unwrap());
    let connect = serde_json::json!({"verbose": false, "pedantic": false, "jwt": jwt, "sig": sig, "protocol": 1});
    c.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes()).await;
    c.expect(b"PONG\r\n").await;
    c
}

/// Sends `script` (which ends with a PING) and returns what came back up to
/// its PONG, with `<closed>` if the server closed instead.
async fn exchange(c: &mut Raw, script: &str) -> String {
    c.send(script.as_bytes()).await;
    let (got, closed) = c.read_until_pongs(1).await;
    let mut text = wire_text(&got);
    if closed {
        text.push_str("<closed>");
    }
    text
}

/// What a client read, comparable between two servers: INFO lines differ
/// by nature (ids, nonce, version), so only their `max_payload` is kept;
/// the server's own PINGs come on timers and are left out.
fn wire_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split_inclusive('\n')
        .filter(|line| *line != "PING\r\n")
        .map(|line| match line.strip_prefix("INFO ") {
            Some(json) => {
                let v: Value = serde_json::from_str(json.trim_end()).unwrap_or_default();
                format!("INFO max_payload={}\r\n", v["max_payload"])
            }
            None => line.to_string(),
        })
        .collect()
}

/// The system user's client.
async fn system_client(addr: SocketAddr, k: &Keys) -> async_nats::Client {
    let jwt = k.user_jwt(&k.system, &k.sys_user, "sys");
    let seed = k.sys_user.seed().unwrap();
    let creds = format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    );
    async_nats::ConnectOptions::with_credentials(&creds).unwrap().connect(format!("nats://{addr}")).await.unwrap()
}

/// Every reply to a request within a short bound (the first within 3 s):
/// JSON with the `server` object left out, other payloads as text with the
/// run's keys named, and `no responders`.
async fn ask(c: &async_nats::Client, k: &Keys, subject: &str, body: Vec<u8>) -> Vec<String> {
    use futures_util::StreamExt;
    let inbox = c.new_inbox();
    let mut sub = c.subscribe(inbox.clone()).await.unwrap();
    c.publish_with_reply(subject.to_string(), inbox, body.into()).await.unwrap();
    let mut out = Vec::new();
    let mut wait = Duration::from_secs(3);
    while let Ok(Some(msg)) = tokio::time::timeout(wait, sub.next()).await {
        if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
            out.push("no responders".to_string());
            break;
        }
        let text = match serde_json::from_slice::<Value>(&msg.payload) {
            Ok(Value::Object(mut map)) => {
                map.remove("server");
                Value::Object(map).to_string()
            }
            _ => String::from_utf8_lossy(&msg.payload).into_owned(),
        };
        out.push(name_keys(k, &text));
        wait = Duration::from_millis(300);
    }
    out
}

/// The run's keys replaced by their roles, so two runs compare.
fn name_keys(k: &Keys, text: &str) -> String {
    let mut text = text.to_string();
    for (key, name) in
        [(&k.operator, "<OP>"), (&k.system, "<SYS>"), (&k.account, "<ACC>"), (&k.idle, "<IDLE>"), (&k.user, "<USER>")]
    {
        text = text.replace(&key.public_key(), name);
    }
    text
}

/// The key test of the issue: what a live user and the system user see
/// through a sequence of claim updates (MEMORY resolver).
async fn memory_run(addr: SocketAddr, k: &Keys) -> Vec<String> {
    let mut log = Vec::new();
    let acc = k.account.public_key();
    let update = format!("$SYS.REQ.ACCOUNT.{acc}.CLAIMS.UPDATE");
    let user_jwt = k.user_jwt(&k.account, &k.user, "u");
    let mut user = login(addr, &user_jwt, &k.user).await;
    let sys = system_client(addr, k).await;
    log.push(exchange(&mut user, "SUB foo.> 1\r\nPUB foo.a 2\r\nhi\r\nPING\r\n").await);

    // The account's default permissions tighten: the live user (whose JWT
    // has no permissions of its own) is refused what they deny.
    let tighter = k.account_jwt(&k.account, "ACC", 50, |a| {
        a.nats.default_permissions.publish.deny = vec!["foo.no".into()];
        a.nats.default_permissions.subscribe.deny = vec!["bar.>".into()];
    });
    log.extend(ask(&sys, k, &update, tighter.clone().into_bytes()).await);
    log.push(
        exchange(&mut user, "PUB foo.no 2\r\nno\r\nPUB foo.b 2\r\nok\r\nSUB bar.x 2\r\nSUB baz 3\r\nPING\r\n").await,
    );
    // The same JWT again, and an older one: both taken (no `iat` check).
    log.extend(ask(&sys, k, &update, tighter.into_bytes()).await);
    let older = k.account_jwt(&k.account, "ACC", 70, |a| {
        a.nats.default_permissions.publish.deny = vec!["foo.no".into()];
    });
    log.extend(ask(&sys, k, &update, older.into_bytes()).await);
    log.push(exchange(&mut user, "PUB foo.no 2\r\nno\r\nSUB bar.y 4\r\nPING\r\n").await);

    // The rejections.
    log.extend(ask(&sys, k, &update, Vec::new()).await);
    log.extend(ask(&sys, k, &update, b"garbage".to_vec()).await);
    let other = k.account_jwt(&k.idle, "IDLE", 40, |_| {});
    log.extend(ask(&sys, k, &update, other.clone().into_bytes()).await);
    let rogue = KeyPair::new_operator();
    let mut untrusted = AccountClaims::new(&acc);
    untrusted.data.name = "ACC".into();
    log.extend(ask(&sys, k, &update, untrusted.encode_at(&rogue, k.now - 30).unwrap().into_bytes()).await);
    let expired = k.account_jwt(&k.account, "ACC", 20, |a| a.data.expires = k.now - 1);
    log.extend(ask(&sys, k, &update, expired.into_bytes()).await);
    // An account no one uses: skipped; the older subject works too.
    let idle = k.idle.public_key();
    log.extend(ask(&sys, k, &format!("$SYS.REQ.ACCOUNT.{idle}.CLAIMS.UPDATE"), other.into_bytes()).await);
    let payload_8 = k.account_jwt(&k.account, "ACC", 10, |a| a.nats.limits.nats.payload = 8);
    log.extend(ask(&sys, k, &format!("$SYS.ACCOUNT.{acc}.CLAIMS.UPDATE"), payload_8.into_bytes()).await);
    // The directory resolver's requests are not answered.
    for subject in ["$SYS.REQ.CLAIMS.UPDATE", "$SYS.REQ.CLAIMS.LIST", "$SYS.REQ.CLAIMS.DELETE"] {
        log.extend(ask(&sys, k, subject, b"x".to_vec()).await);
    }
    log.extend(ask(&sys, k, &format!("$SYS.REQ.ACCOUNT.{acc}.CLAIMS.LOOKUP"), Vec::new()).await);
    // The new payload limit holds for the live connection.
    log.push(exchange(&mut user, "PUB foo.b 9\r\n123456789\r\nPING\r\n").await);
    log.iter().map(|l| name_keys(k, l)).collect()
}

#[tokio::test]
async fn memory_resolver_claim_updates_match_the_reference() {
    let Some(reference) = reference_binary() else {
        skip_loudly("memory_resolver_claim_updates_match_the_reference");
        return;
    };
    let k = Keys::new();
    let conf = k.memory_config();
    let (theirs_dir, ours_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let theirs = start(&reference, theirs_dir.path(), &conf);
    let ours = start(Path::new(env!("CARGO_BIN_EXE_rnats")), ours_dir.path(), &conf);
    let expected = memory_run(theirs.addr, &k).await;
    let got = memory_run(ours.addr, &k).await;
    assert_eq!(got, expected);
    // What the sequence showed, so a change of both would still be seen.
    let all = expected.join("\n");
    assert!(all.contains("-ERR 'Permissions Violation for Publish to \"foo.no\"'"), "{all}");
    assert!(all.contains("\"message\":\"jwt updated\""), "{all}");
    assert!(all.contains("-ERR 'Maximum Payload Violation'"), "{all}");
}

/// A full directory resolver: updates, lookups, the list, a pack and
/// deletes, the same to both servers.
async fn dir_run(addr: SocketAddr, k: &Keys) -> Vec<String> {
    let mut log = Vec::new();
    let acc = k.account.public_key();
    let idle = k.idle.public_key();
    let sys = system_client(addr, k).await;
    let user_jwt = k.user_jwt(&k.account, &k.user, "u");
    let mut user = login(addr, &user_jwt, &k.user).await;
    log.push(exchange(&mut user, "SUB foo.> 1\r\nPUB foo.a 2\r\nhi\r\nPING\r\n").await);
    let tighter = k.account_jwt(&k.account, "ACC", 50, |a| {
        a.nats.default_permissions.publish.deny = vec!["foo.no".into()];
    });
    log.extend(ask(&sys, k, &format!("$SYS.REQ.ACCOUNT.{acc}.CLAIMS.UPDATE"), tighter.clone().into_bytes()).await);
    log.push(exchange(&mut user, "PUB foo.no 2\r\nno\r\nPUB foo.b 2\r\nok\r\nPING\r\n").await);
    // The generic update: the account from the JWT.
    let payload_8 = k.account_jwt(&k.account, "ACC", 40, |a| {
        a.nats.default_permissions.publish.deny = vec!["foo.no".into()];
        a.nats.limits.nats.payload = 8;
    });
    log.extend(ask(&sys, k, "$SYS.REQ.CLAIMS.UPDATE", payload_8.clone().into_bytes()).await);
    log.extend(ask(&sys, k, "$SYS.REQ.CLAIMS.UPDATE", b"garbage".to_vec()).await);
    log.extend(ask(&sys, k, &format!("$SYS.REQ.ACCOUNT.{idle}.CLAIMS.UPDATE"), payload_8.into_bytes()).await);
    log.extend(ask(&sys, k, &format!("$SYS.REQ.ACCOUNT.{acc}.CLAIMS.UPDATE"), Vec::new()).await);
    // A new account, stored.
    let fresh = KeyPair::new_account();
    let fresh_jwt = {
        let mut a = AccountClaims::new(&fresh.public_key());
        a.data.name = "FRESH".into();
        a.encode_at(&k.operator, k.now - 5).unwrap()
    };
    let fresh_key = fresh.public_key();
    let replies = ask(&sys, k, "$SYS.REQ.CLAIMS.UPDATE", fresh_jwt.clone().into_bytes()).await;
    log.extend(replies.iter().map(|r| r.replace(&fresh_key, "<FRESH>")));
    // Lookups: found, missing (an empty message), not a key (no answer).
    let found = ask(&sys, k, &format!("$SYS.REQ.ACCOUNT.{fresh_key}.CLAIMS.LOOKUP"), Vec::new()).await;
    log.push(format!("lookup fresh: {}", found == [fresh_jwt.clone()]));
    let missing = KeyPair::new_account().public_key();
    log.extend(ask(&sys, k, &format!("$SYS.REQ.ACCOUNT.{missing}.CLAIMS.LOOKUP"), Vec::new()).await);
    log.extend(ask(&sys, k, "$SYS.REQ.ACCOUNT.NOTAKEY.CLAIMS.LOOKUP", Vec::new()).await);
    // The list (by key: compare as a set of roles).
    let list = ask(&sys, k, "$SYS.REQ.CLAIMS.LIST", Vec::new()).await;
    log.push(list_roles(&list, &fresh_key));
    // A pack for an empty hash: every JWT, then an empty message.
    let pack = ask(&sys, k, "$SYS.REQ.CLAIMS.PACK", Vec::new()).await;
    log.push(format!("pack: {} messages, last empty: {}", pack.len(), pack.last().is_some_and(String::is_empty)));
    // Deletes are refused without `allow_delete`.
    let mut delete = GenericClaims::new(&k.operator.public_key());
    delete.data.name = "delete".into();
    delete.nats.insert("accounts".into(), serde_json::json!([fresh_key]));
    delete.nats.insert("type".into(), "generic".into());
    delete.nats.insert("version".into(), 2.into());
    let token = delete.encode(&k.operator).unwrap();
    log.extend(ask(&sys, k, "$SYS.REQ.CLAIMS.DELETE", token.into_bytes()).await);
    log.extend(ask(&sys, k, "$SYS.REQ.CLAIMS.DELETE", b"garbage".to_vec()).await);
    log.push(exchange(&mut user, "PUB foo.b 9\r\n123456789\r\nPING\r\n").await);
    log.iter().map(|l| name_keys(k, l)).collect()
}

/// The LIST reply's keys as roles, sorted.
fn list_roles(list: &[String], fresh: &str) -> String {
    let Some(Ok(v)) = list.first().map(|l| serde_json::from_str::<Value>(&l.replace(fresh, "<FRESH>"))) else {
        return format!("list: {list:?}");
    };
    let mut keys: Vec<String> =
        v["data"].as_array().into_iter().flatten().filter_map(|k| k.as_str()).map(String::from).collect();
    keys.sort();
    format!("list: {keys:?}")
}

/// A directory resolver's `dir` under `parent`, holding `files` (public key,
/// JWT) as `<key>.jwt`, the way nats-server names them.
fn jwt_dir(parent: &Path, files: &[(String, String)]) -> std::path::PathBuf {
    let jwts = parent.join("jwt");
    std::fs::create_dir(&jwts).unwrap();
    for (key, jwt) in files {
        std::fs::write(jwts.join(format!("{key}.jwt")), jwt).unwrap();
    }
    jwts
}

#[tokio::test]
async fn full_directory_resolver_claim_requests_match_the_reference() {
    let Some(reference) = reference_binary() else {
        skip_loudly("full_directory_resolver_claim_requests_match_the_reference");
        return;
    };
    let k = Keys::new();
    let mut runs = Vec::new();
    for bin in [reference.as_path(), Path::new(env!("CARGO_BIN_EXE_rnats"))] {
        let dir = tempfile::tempdir().unwrap();
        let jwts = jwt_dir(dir.path(), &k.accounts());
        let conf = k.config(&format!("resolver: {{ type: full, dir: {:?} }}", jwts.to_str().unwrap()));
        let server = start(bin, dir.path(), &conf);
        runs.push(dir_run(server.addr, &k).await);
    }
    assert_eq!(runs[1], runs[0]);
    let all = runs[0].join("\n");
    assert!(all.contains("delete must be enabled in server config"), "{all}");
    assert!(all.contains("lookup fresh: true"), "{all}");
}

#[tokio::test]
async fn delete_requests_match_the_reference() {
    let Some(reference) = reference_binary() else {
        skip_loudly("delete_requests_match_the_reference");
        return;
    };
    let k = Keys::new();
    let rogue = KeyPair::new_operator();
    let mut runs = Vec::new();
    for bin in [reference.as_path(), Path::new(env!("CARGO_BIN_EXE_rnats"))] {
        let dir = tempfile::tempdir().unwrap();
        let jwts = jwt_dir(dir.path(), &k.accounts());
        let conf =
            k.config(&format!("resolver: {{ type: full, dir: {:?}, allow_delete: true }}", jwts.to_str().unwrap()));
        let server = start(bin, dir.path(), &conf);
        let sys = system_client(server.addr, &k).await;
        // A client of the account deleted first: closed as at its expiry.
        let idle_user = KeyPair::new_user();
        let mut on_idle = login(server.addr, &k.user_jwt(&k.idle, &idle_user, "i"), &idle_user).await;
        let mut log = Vec::new();
        let request = |issuer: &KeyPair, subject: &str, accounts: Option<Value>| {
            let mut g = GenericClaims::new(subject);
            g.data.name = "delete".into();
            if let Some(a) = accounts {
                g.nats.insert("accounts".into(), a);
            }
            g.nats.insert("type".into(), "generic".into());
            g.nats.insert("version".into(), 2.into());
            g.encode(issuer).unwrap()
        };
        let op = k.operator.public_key();
        let idle = serde_json::json!([k.idle.public_key()]);
        let cases = [
            request(&k.operator, &op, Some(idle.clone())),
            request(&k.operator, &op, Some(idle)),
            request(&k.operator, &op, Some(serde_json::json!([k.system.public_key()]))),
            request(&k.operator, &op, None),
            request(&k.operator, &op, Some(serde_json::json!(["nope"]))),
            request(&k.operator, &k.account.public_key(), Some(serde_json::json!([k.account.public_key()]))),
            request(&rogue, &rogue.public_key(), Some(serde_json::json!([k.account.public_key()]))),
        ];
        for token in cases {
            let replies = ask(&sys, &k, "$SYS.REQ.CLAIMS.DELETE", token.into_bytes()).await;
            log.extend(replies.iter().map(|r| r.replace(&rogue.public_key(), "<ROGUE>")));
        }
        let list = ask(&sys, &k, "$SYS.REQ.CLAIMS.LIST", Vec::new()).await;
        log.push(list_roles(&list, "-"));
        let (bytes, closed) = on_idle.drain(Duration::from_millis(500)).await;
        log.push(format!("{} closed: {closed}", wire_text(&bytes)));
        log.push(format!("renamed: {}", jwts.join(format!("{}.jwt.deleted", k.idle.public_key())).exists()));
        runs.push(log);
    }
    assert_eq!(runs[1], runs[0]);
    let all = runs[0].join("\n");
    assert!(all.contains("deleted 1 accounts"), "{all}");
    assert!(all.contains("-ERR 'Account Authentication Expired'\r\n closed: true"), "{all}");
}

/// One server of cluster `C1` from `conf` (written into `dir`), named
/// `name`, with routes to `seed`; its log kept, debug lines too.
fn start_member(bin: &Path, dir: &Path, conf: &str, name: &str, seed: Option<String>) -> ServerProcess {
    let path = dir.join("server.conf");
    std::fs::write(&path, conf).unwrap();
    let path = path.to_str().unwrap().to_string();
    let mut args = vec!["-c".to_string(), path, "-n".into(), name.into(), "--cluster_name".into(), "C1".into()];
    args.extend(["--cluster".into(), "nats://127.0.0.1:-1".into(), "-D".into()]);
    if let Some(seed) = seed {
        args.extend(["--routes".into(), seed]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Spawn::new(bin).args(&args).log().start().expect("server starts")
}

/// One server of a cluster, with a full directory resolver of its own
/// holding the run's accounts.
fn cluster_member(bin: &Path, k: &Keys, dir: &Path, name: &str, seed: Option<String>) -> ServerProcess {
    let jwts = dir.join("jwt");
    std::fs::create_dir_all(&jwts).unwrap();
    for (key, jwt) in k.accounts() {
        std::fs::write(jwts.join(format!("{key}.jwt")), jwt).unwrap();
    }
    let conf = k.config(&format!("resolver: {{ type: full, dir: {:?} }}", jwts.to_str().unwrap()));
    start_member(bin, dir, &conf, name, seed)
}

/// An update sent to the first server reaches the second over the route
/// (every server's update subscription is announced to routes): both
/// answer, and the second's directory holds the new JWT.
async fn update_crosses_the_route(first: &Path, second: &Path) {
    let k = Keys::new();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = cluster_member(first, &k, dir_a.path(), "A", None);
    let seed = format!("nats-route://{}", a.cluster_addr().expect("route port"));
    let b = cluster_member(second, &k, dir_b.path(), "B", Some(seed));
    let sys = system_client(a.addr, &k).await;
    let acc = k.account.public_key();
    let update = k.account_jwt(&k.account, "ACC", 10, |a| a.nats.limits.nats.payload = 8);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let replies =
            ask(&sys, &k, &format!("$SYS.REQ.ACCOUNT.{acc}.CLAIMS.UPDATE"), update.clone().into_bytes()).await;
        if replies.len() == 2 {
            assert!(replies.iter().all(|r| r.contains("\"jwt updated\"")), "{replies:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "one answer per server, got {replies:?}");
    }
    let on_b = std::fs::read_to_string(dir_b.path().join("jwt").join(format!("{acc}.jwt"))).unwrap();
    assert_eq!(on_b, update);
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_updates_cross_a_cluster_of_rnats_servers() {
    let ours = Path::new(env!("CARGO_BIN_EXE_rnats"));
    update_crosses_the_route(ours, ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_updates_cross_a_mixed_cluster() {
    let Some(reference) = reference_binary() else {
        skip_loudly("claim_updates_cross_a_mixed_cluster");
        return;
    };
    let ours = Path::new(env!("CARGO_BIN_EXE_rnats"));
    update_crosses_the_route(&reference, ours).await;
    update_crosses_the_route(ours, &reference).await;
}

/// Two servers whose directories differ by one account each, with a 1 s
/// `interval`: each gets the other's account by the PACK exchange.
async fn directories_converge(first: &Path, second: &Path) {
    let k = Keys::new();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut extra = Vec::new();
    for (dir, name) in [(dir_a.path(), "ONLY_A"), (dir_b.path(), "ONLY_B")] {
        let key = KeyPair::new_account();
        let jwt = k.account_jwt(&key, name, 10, |_| {});
        let jwts = dir.join("jwt");
        std::fs::create_dir_all(&jwts).unwrap();
        std::fs::write(jwts.join(format!("{}.jwt", key.public_key())), &jwt).unwrap();
        extra.push((key.public_key(), jwt));
    }
    let with_interval = |k: &Keys, dir: &Path| {
        let jwts = dir.join("jwt");
        for (key, jwt) in k.accounts() {
            std::fs::write(jwts.join(format!("{key}.jwt")), jwt).unwrap();
        }
        k.config(&format!("resolver: {{ type: full, dir: {:?}, interval: \"1s\" }}", jwts.to_str().unwrap()))
    };
    let a = start_member(first, dir_a.path(), &with_interval(&k, dir_a.path()), "A", None);
    let seed = format!("nats-route://{}", a.cluster_addr().expect("route port"));
    let b = start_member(second, dir_b.path(), &with_interval(&k, dir_b.path()), "B", Some(seed));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let path = |dir: &Path, key: &str| dir.join("jwt").join(format!("{key}.jwt"));
    loop {
        let on_b = std::fs::read_to_string(path(dir_b.path(), &extra[0].0)).ok();
        let on_a = std::fs::read_to_string(path(dir_a.path(), &extra[1].0)).ok();
        if on_b.as_deref() == Some(extra[0].1.as_str()) && on_a.as_deref() == Some(extra[1].1.as_str()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "directories did not converge: {on_a:?} {on_b:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_of_rnats_servers_converge() {
    let ours = Path::new(env!("CARGO_BIN_EXE_rnats"));
    directories_converge(ours, ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_of_a_mixed_cluster_converge() {
    let Some(reference) = reference_binary() else {
        skip_loudly("directories_of_a_mixed_cluster_converge");
        return;
    };
    let ours = Path::new(env!("CARGO_BIN_EXE_rnats"));
    directories_converge(&reference, ours).await;
}

/// An account JWT that expires while its users are connected: nats-server
/// closes them with `-ERR 'Account Authentication Expired'`; whether the
/// `exp` came with the preloaded JWT or with a claim update.
async fn account_expiry_run(bin: &Path, k: &Keys) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let soon = Timestamp::now().as_second() + 2;
    let expiring = k.account_jwt(&k.account, "ACC", 100, |a| a.data.expires = soon);
    let idle_key = k.idle.public_key();
    let preload = format!(
        "  {}: {}\n  {}: {expiring}\n  {idle_key}: {}",
        k.system.public_key(),
        k.account_jwt(&k.system, "SYS", 100, |_| {}),
        k.account.public_key(),
        k.account_jwt(&k.idle, "IDLE", 100, |_| {}),
    );
    let conf = k.config(&format!("resolver: MEMORY\nresolver_preload: {{\n{preload}\n}}"));
    let server = start(bin, dir.path(), &conf);
    let mut log = Vec::new();
    // The idle account's user, whose account gets an `exp` by an update.
    let idle_user = KeyPair::new_user();
    let mut on_idle = login(server.addr, &k.user_jwt(&k.idle, &idle_user, "i"), &idle_user).await;
    let mut on_acc = login(server.addr, &k.user_jwt(&k.account, &k.user, "u"), &k.user).await;
    let sys = system_client(server.addr, k).await;
    let update = k.account_jwt(&k.idle, "IDLE", 50, |a| a.data.expires = soon);
    log.extend(ask(&sys, k, &format!("$SYS.REQ.ACCOUNT.{idle_key}.CLAIMS.UPDATE"), update.into_bytes()).await);
    for c in [&mut on_acc, &mut on_idle] {
        let (bytes, closed) = c.drain(Duration::from_secs(4)).await;
        log.push(format!("{} closed: {closed}", wire_text(&bytes)));
    }
    log.iter().map(|l| name_keys(k, l)).collect()
}

#[tokio::test]
async fn account_expiry_closes_live_clients_like_the_reference() {
    let Some(reference) = reference_binary() else {
        skip_loudly("account_expiry_closes_live_clients_like_the_reference");
        return;
    };
    let k = Keys::new();
    let expected = account_expiry_run(&reference, &k).await;
    let got = account_expiry_run(Path::new(env!("CARGO_BIN_EXE_rnats")), &k).await;
    assert_eq!(got, expected);
    assert!(expected.join("\n").contains("-ERR 'Account Authentication Expired'"), "{expected:?}");
}

/// A PACK request carrying the asker's directory hash, when the directories
/// are the same: one empty message ("nothing new"), from both servers.
#[tokio::test]
async fn pack_with_the_same_hash_gets_nothing_new() {
    let Some(reference) = reference_binary() else {
        skip_loudly("pack_with_the_same_hash_gets_nothing_new");
        return;
    };
    let k = Keys::new();
    let mut files = k.accounts();
    files.sort();
    let hash = rnats::server::operator::sync::pack_hash(&files);
    for bin in [reference.as_path(), Path::new(env!("CARGO_BIN_EXE_rnats"))] {
        let dir = tempfile::tempdir().unwrap();
        let jwts = jwt_dir(dir.path(), &files);
        let conf = k.config(&format!("resolver: {{ type: full, dir: {:?} }}", jwts.to_str().unwrap()));
        let server = start(bin, dir.path(), &conf);
        let sys = system_client(server.addr, &k).await;
        let replies = ask(&sys, &k, "$SYS.REQ.CLAIMS.PACK", hash.to_vec()).await;
        assert_eq!(replies, [""], "{bin:?}");
        let other = ask(&sys, &k, "$SYS.REQ.CLAIMS.PACK", vec![0u8; 32]).await;
        assert_eq!(other.len(), files.len() + 1, "{bin:?}");
    }
}

/// What a login with the user JWT got: the wire up to the PONG, or the
/// `-ERR` and `<closed>`.
async fn try_login(addr: SocketAddr, jwt: &str, key: &KeyPair) -> String {
    let mut c = Raw::connect(addr).await;
    let nonce = c.info_json()["nonce"].as_str().expect("nonce in INFO").to_string();
    let sig = b64url(&key.sign(nonce.as_bytes()).unwrap());
    let connect = serde_json::json!({"verbose": false, "pedantic": false, "jwt": jwt, "sig": sig, "protocol": 1});
    exchange(&mut c, &format!("CONNECT {connect}\r\nPING\r\n")).await
}

/// Waits until a PING of the system account gets `servers` answers.
async fn wait_for_cluster(sys: &async_nats::Client, k: &Keys, servers: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if ask(sys, k, "$SYS.REQ.SERVER.PING", Vec::new()).await.len() >= servers {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the cluster did not form");
    }
}

/// The log's lines about account lookups, from the text on (without the
/// prefixes, which differ), with the run's keys named.
fn lookup_log_lines(server: &ServerProcess, k: &Keys, needles: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = server
        .log_text()
        .lines()
        .filter_map(|l| needles.iter().find_map(|n| l.find(n).map(|at| name_keys(k, &l[at..]))))
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// A server whose directory resolver (`asker`: `cache` or `full`) lacks
/// the account of a user logging in, in a cluster with a full resolver
/// that holds it: the login looks the account up in the cluster and
/// succeeds, and the JWT is stored; an account no server holds is refused
/// (`account jwt not found`); a cache's `ttl` removes the file while the
/// account in use stays usable; with no server left to answer, a lookup
/// times out.
async fn lookup_run(holder: &Path, asker: &Path, asker_resolver: &str) -> Vec<String> {
    let k = Keys::new();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = cluster_member(holder, &k, dir_a.path(), "A", None);
    let seed = format!("nats-route://{}", a.cluster_addr().expect("route port"));
    // The asker holds the system account only.
    let jwts = jwt_dir(dir_b.path(), &k.accounts()[..1]);
    let ttl = if asker_resolver == "cache" { ", ttl: \"2s\"" } else { "" };
    let resolver =
        format!("resolver: {{ type: {asker_resolver}, dir: {:?}, timeout: \"1s\"{ttl} }}", jwts.to_str().unwrap());
    let b = start_member(asker, dir_b.path(), &k.config(&resolver), "B", Some(seed));
    let sys = system_client(b.addr, &k).await;
    wait_for_cluster(&sys, &k, 2).await;
    let mut log = Vec::new();
    let stored = jwts.join(format!("{}.jwt", k.account.public_key()));
    log.push(try_login(b.addr, &k.user_jwt(&k.account, &k.user, "u"), &k.user).await);
    log.push(format!("stored: {}", stored.exists()));
    let (nobody, nobody_user) = (KeyPair::new_account(), KeyPair::new_user());
    log.push(try_login(b.addr, &k.user_jwt(&nobody, &nobody_user, "n"), &nobody_user).await);
    if asker_resolver == "cache" {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while stored.exists() {
            assert!(tokio::time::Instant::now() < deadline, "the cache's ttl did not remove {stored:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        log.push("expired".into());
    }
    drop(a);
    // The account in use logs in without the cluster; another times out.
    let again = KeyPair::new_user();
    log.push(try_login(b.addr, &k.user_jwt(&k.account, &again, "again"), &again).await);
    let (gone, gone_user) = (KeyPair::new_account(), KeyPair::new_user());
    log.push(try_login(b.addr, &k.user_jwt(&gone, &gone_user, "g"), &gone_user).await);
    let mut lines = lookup_log_lines(&b, &k, &["Account fetch failed: ", "Account JWT lookup error: "]);
    for line in &mut lines {
        *line = line.replace(&nobody.public_key(), "<NOBODY>").replace(&gone.public_key(), "<GONE>");
    }
    log.extend(lines);
    log.iter().map(|l| wire_text(l.as_bytes())).collect()
}

async fn lookups_match_the_reference(asker_resolver: &str) {
    let Some(reference) = reference_binary() else {
        skip_loudly("lookups_match_the_reference");
        return;
    };
    let ours = Path::new(env!("CARGO_BIN_EXE_rnats"));
    let expected = lookup_run(&reference, &reference, asker_resolver).await;
    let mixed = lookup_run(&reference, ours, asker_resolver).await;
    assert_eq!(mixed, expected, "rnats asking nats-server");
    let all_ours = lookup_run(ours, ours, asker_resolver).await;
    assert_eq!(all_ours, expected, "rnats asking rnats");
    let answered_by_ours = lookup_run(ours, &reference, asker_resolver).await;
    assert_eq!(answered_by_ours, expected, "nats-server asking rnats");
    let all = expected.join("\n");
    assert!(all.contains("stored: true"), "{all}");
    assert!(all.contains("fetching jwt timed out"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_resolver_looks_accounts_up_in_the_cluster() {
    lookups_match_the_reference("cache").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_resolver_looks_up_what_it_lacks() {
    lookups_match_the_reference("full").await;
}

/// `resolver_pinned_accounts`: a user of an account not listed is refused
/// (`-ERR 'Authorization Violation'`), and `/varz` counts it in
/// `pinned_account_fails` (absent until the first refusal); `/varz` shows
/// the operator's JWT and claims.
async fn pinned_run(bin: &Path, k: &Keys, conf: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.conf");
    std::fs::write(&path, conf).unwrap();
    let server = Spawn::new(bin).args(&["-c", path.to_str().unwrap(), "-m", "-1"]).start().expect("server starts");
    let mon = server.monitor_url().expect("monitoring port");
    let fails = |v: &Value| format!("pinned_account_fails: {}", v["pinned_account_fails"]);
    let varz = common::http::get_json(&mon, "/varz").await;
    let mut log = vec![fails(&varz)];
    // The operator, as configured and decoded.
    log.push(format!("{} {}", varz["trusted_operators_jwt"], varz["trusted_operators_claim"]));
    let idle_user = KeyPair::new_user();
    log.push(try_login(server.addr, &k.user_jwt(&k.idle, &idle_user, "i"), &idle_user).await);
    for _ in 0..2 {
        log.push(try_login(server.addr, &k.user_jwt(&k.account, &k.user, "u"), &k.user).await);
    }
    log.push(fails(&common::http::get_json(&mon, "/varz").await));
    log
}

#[tokio::test]
async fn pinned_account_refusals_and_the_operator_show_in_varz_like_the_reference() {
    let Some(reference) = reference_binary() else {
        skip_loudly("pinned_account_refusals_and_the_operator_show_in_varz_like_the_reference");
        return;
    };
    let k = Keys::new();
    let pinned = format!("resolver_pinned_accounts: [{}, {}]", k.system.public_key(), k.idle.public_key());
    // One config (one operator JWT) for both servers.
    let conf = format!("{}\n{pinned}\n", k.memory_config());
    let expected = pinned_run(&reference, &k, &conf).await;
    let got = pinned_run(Path::new(env!("CARGO_BIN_EXE_rnats")), &k, &conf).await;
    assert_eq!(got, expected);
    assert_eq!(expected.last().map(String::as_str), Some("pinned_account_fails: 2"), "{expected:?}");
    assert!(expected[1].contains("\"system_account\":"), "{expected:?}");
}
