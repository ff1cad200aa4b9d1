//! The Python client's (nats-py) nkey and creds logins, as its own tests
//! use them (`nkeys_seed=`, `user_credentials=`), against rnats and
//! nats-server on the same configs with keys made here: an nkey user
//! (`authorization { users: [{nkey: U…}] }`) and operator mode (MEMORY
//! resolver). Each login either round-trips a message or fails; the two
//! servers must agree on which, with the same error.

mod common;

use std::path::Path;
use std::process::Command;

use common::{reference_binary, skip_loudly};
use jiff::Timestamp;
use nkeys::KeyPair;
use rnats::server::jwt::{AccountClaims, Claim, OperatorClaims, UserClaims};
use rnats::tools::spawn::{ServerProcess, Spawn};

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

/// Logs in with `argv[2]` (`seed:<file>` or `creds:<file>`), round-trips a
/// message and prints `ok`, or prints the error.
const LOGIN: &str = r#"
import asyncio, sys
import nats

async def main(url, how):
    kind, path = how.split(":", 1)
    args = {"nkeys_seed": path} if kind == "seed" else {"user_credentials": path}
    try:
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=5, max_reconnect_attempts=0, **args)
    except Exception as e:
        print("refused:", type(e).__name__, str(e).strip())
        return
    sub = await nc.subscribe("py.auth")
    await nc.publish("py.auth", b"hello")
    msg = await sub.next_msg(timeout=5)
    print("ok", msg.data.decode())
    await nc.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"#;

fn python_ready() -> bool {
    Command::new("python3").args(["-c", "import nats, nkeys"]).output().is_ok_and(|o| o.status.success())
}

fn start(bin: &Path, dir: &Path, conf: &str) -> ServerProcess {
    let path = dir.join("server.conf");
    std::fs::write(&path, conf).unwrap();
    Spawn::new(bin).args(&["-c", path.to_str().unwrap()]).start().expect("server starts")
}

fn login(server: &ServerProcess, how: &str) -> String {
    let url = format!("nats://{}", server.addr);
    let out = Command::new("timeout").args(["60", "python3", "-c", LOGIN, &url, how]).output().expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!text.is_empty(), "nats-py printed nothing: {}", String::from_utf8_lossy(&out.stderr));
    text
}

fn creds(jwt: &str, key: &KeyPair) -> String {
    let seed = key.seed().unwrap();
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    )
}

#[test]
fn nats_py_nkey_and_creds_logins_match_the_reference() {
    let Some(reference) = reference_binary() else {
        return skip_loudly("nats_py_nkey_and_creds_logins_match_the_reference");
    };
    if !python_ready() {
        eprintln!("\n!! SKIPPED nats_py_nkey_and_creds_logins_match_the_reference: pip install nats-py nkeys\n");
        return;
    }
    let files = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    // An nkey user, and a stranger's seed.
    let user = KeyPair::new_user();
    let stranger = KeyPair::new_user();
    let nkey_conf = format!("authorization {{ users: [ {{ nkey: {} }} ] }}\n", user.public_key());
    let good_seed = format!("seed:{}", file("user.nk", &user.seed().unwrap()));
    let bad_seed = format!("seed:{}", file("stranger.nk", &stranger.seed().unwrap()));
    // Operator mode: an account in the resolver, and one that is not.
    let operator = KeyPair::new_operator();
    let account = KeyPair::new_account();
    let unknown = KeyPair::new_account();
    let iat = Timestamp::now().as_second() - 10;
    let mut acc = AccountClaims::new(&account.public_key());
    acc.data.name = "ACC".into();
    let op_jwt = OperatorClaims::new(&operator.public_key()).encode(&operator).unwrap();
    let operator_conf = format!(
        "operator: {op_jwt}\nresolver: MEMORY\nresolver_preload: {{ {}: {} }}\n",
        account.public_key(),
        acc.encode_at(&operator, iat).unwrap()
    );
    let user_creds = |issuer: &KeyPair, name: &str| {
        let key = KeyPair::new_user();
        let mut u = UserClaims::new(&key.public_key());
        u.data.name = name.into();
        let jwt = u.encode_at(issuer, iat).unwrap();
        format!("creds:{}", file(&format!("{name}.creds"), &creds(&jwt, &key)))
    };
    let good_creds = user_creds(&account, "good");
    let unknown_creds = user_creds(&unknown, "unknown");

    let mut runs = Vec::new();
    for bin in [reference.as_path(), Path::new(BIN)] {
        let mut log = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        let server = start(bin, dir.path(), &nkey_conf);
        log.push(login(&server, &good_seed));
        log.push(login(&server, &bad_seed));
        drop(server);
        let dir = tempfile::tempdir().unwrap();
        let server = start(bin, dir.path(), &operator_conf);
        log.push(login(&server, &good_creds));
        log.push(login(&server, &unknown_creds));
        runs.push(log);
    }
    assert_eq!(runs[1], runs[0]);
    assert_eq!(runs[0][0], "ok hello");
    assert_eq!(runs[0][2], "ok hello");
    assert!(runs[0][1].starts_with("refused"), "{:?}", runs[0]);
    assert!(runs[0][3].starts_with("refused"), "{:?}", runs[0]);
}
