//! Accounts and subject mappings in config files, through the front door:
//! real files, the `rnats` binary (`check`, `-t`, `--dump`, `--map`), and,
//! where the reference nats-server is installed, its `-t` verdict on the
//! same files. Each refused case must carry nats-server's words and rnats'
//! position; a few cases are refused by rnats on purpose where nats-server's
//! `-t` passes and its start fails (said in each case).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

fn run(bin: &Path, args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn rnats(args: &[&str], cwd: &Path) -> (i32, String, String) {
    run(Path::new(BIN), args, cwd)
}

/// How the reference's `-t` judges a case.
#[derive(Clone, Copy, PartialEq)]
enum Reference {
    /// As rnats does.
    Agrees,
    /// Passes `-t`, fails at start with the same error: rnats says so at check time.
    StartOnly,
    /// Its verdict depends on Go's map order from one run to the next.
    Random,
}

struct Case {
    name: &'static str,
    text: &'static str,
    /// `None` for a valid file; else nats-server's words and `line:col` of rnats' caret.
    error: Option<(&'static str, &'static str)>,
    reference: Reference,
}

const fn bad(name: &'static str, text: &'static str, msg: &'static str, at: &'static str) -> Case {
    Case { name, text, error: Some((msg, at)), reference: Reference::Agrees }
}

const fn good(name: &'static str, text: &'static str) -> Case {
    Case { name, text, error: None, reference: Reference::Agrees }
}

const IMPORTS: &str = "accounts {
  A { exports: [ {stream: \"ev.>\"}, {stream: \"priv.>\", accounts: [C]}, {service: \"svc.help\"} ] }
  B { imports: [ {stream: {account: A, subject: \"priv.>\"}} ] }
  C {}
}
";

fn cases() -> Vec<Case> {
    vec![
        good(
            "users-in-accounts",
            "accounts { A { users: [{user: a, password: p}, {nkey: UB57IEMPG4KOTPFV5A66QKE2HZ3XBXFHVRCCVMJEWKECMVN2HSH3VTSJ}] } }\n",
        ),
        good("names-only", "accounts: [A, B]\n"),
        good("limits-negative", "accounts { A { limits { max_conn: -1, max_subs: 2, max_pay: 10, max_leafs: -5 } } }\n"),
        good(
            "import-subset",
            "accounts {\n  A { exports: [{stream: \"s.>\"}] }\n  B { imports: [{stream: {account: A, subject: \"s.x.*\"}, to: \"t.$1\"}] }\n}\n",
        ),
        good(
            "token-position",
            "accounts {\n  A { exports: [{service: \"u.*.info\", account_token_position: 2}] }\n  B { imports: [{service: {account: A, subject: \"u.B.info\"}}] }\n}\n",
        ),
        bad("reserved", "accounts {\n  $G {}\n}\n", "\"$G\" is a Reserved Account", "2:3"),
        bad("duplicate-name", "accounts: [A, B, A]\n", "Duplicate Account Entry: A", "1:18"),
        bad(
            "user-in-two-accounts",
            "accounts {\n  A { users: [{user: a, password: p}] }\n  B { users: [{user: a, password: q}] }\n}\n",
            "Duplicate user \"a\" detected",
            "3:15",
        ),
        bad(
            "mapping-bad-subject",
            "accounts {\n  A { mappings: { \"a.*\": \"b.*\" } }\n}\n",
            "Error adding mapping for \"a.*\" to \"b.*\" : invalid subject",
            "2:19",
        ),
        bad(
            "mapping-weights",
            "mappings {\n  a: [{destination: b, weight: 60}, {destination: c, weight: 50}]\n}\n",
            "Error adding mapping for \"a\" : total weight needs to be <= 100",
            "2:3",
        ),
        bad(
            "prefix-wildcard",
            "accounts {\n  A { exports: [{stream: \"a.>\"}] }\n  B { imports: [{stream: {account: A, subject: \"a.>\"}, prefix: \"x.*\"}] }\n}\n",
            "Error adding stream import \"a.>\": stream import prefix can not contain wildcard tokens",
            "3:64",
        ),
        bad(
            "import-to-function",
            "accounts {\n  A { exports: [{stream: \"a.*\"}] }\n  B { imports: [{stream: {account: A, subject: \"a.*\"}, to: \"x.{{partition(2,1)}}\"}] }\n}\n",
            "the only mapping function allowed for import transforms is {{Wildcard()}} in {{partition(2,1)}}",
            "3:60",
        ),
        bad("import-private", IMPORTS, "Error adding stream import \"priv.>\": stream import not authorized", "3:49"),
        bad(
            "import-no-export",
            "accounts {\n  A { exports: [{service: \"svc.help\"}] }\n  B { imports: [{service: {account: A, subject: \"svc.hlep\"}}] }\n}\n",
            "Error adding service import \"svc.hlep\": service import not authorized",
            "3:49",
        ),
        bad(
            "import-missing-account",
            "accounts {\n  B { imports: [{stream: {account: Z, subject: \"x.>\"}}] }\n}\n",
            "\"Z\" account not defined for stream import",
            "2:36",
        ),
        bad(
            "export-missing-account",
            "accounts {\n  A { exports: [{service: \"x\", accounts: [Z]}] }\n}\n",
            "\"Z\" account not defined for service export",
            "2:43",
        ),
        Case {
            reference: Reference::StartOnly,
            ..bad(
                "no-auth-user-unknown",
                "no_auth_user: ghost\naccounts {\n  A { users: [{user: a, password: p}] }\n}\n",
                "no_auth_user: \"ghost\" not present as user or nkey in authorization block or account configuration",
                "1:1",
            )
        },
        Case {
            reference: Reference::StartOnly,
            ..bad(
                "system-account-missing",
                "system_account: SYSTEM\naccounts {\n  SYS {}\n}\n",
                "error resolving system account: account missing",
                "1:17",
            )
        },
        Case {
            reference: Reference::Random,
            ..bad(
                "prefix-and-to",
                "accounts {\n  A { exports: [{stream: \"a.>\"}] }\n  B { imports: [{stream: {account: A, subject: \"a.>\"}, prefix: p, to: \"q.>\"}] }\n}\n",
                "Stream import can not have a 'prefix' and a 'to' property",
                "3:67",
            )
        },
    ]
}

/// Every case: rnats' verdict, nats-server's words at rnats' position, and
/// the reference's own `-t` verdict where it is installed.
#[test]
fn account_rules_as_the_reference_words_them() {
    let dir = tempfile::tempdir().unwrap();
    let reference = common::reference_binary();
    if reference.is_none() {
        common::skip_loudly("account_rules_as_the_reference_words_them: the reference's verdicts");
    }
    let mut failures = Vec::new();
    for case in cases() {
        let file = format!("{}.conf", case.name);
        std::fs::write(dir.path().join(&file), case.text).unwrap();
        let (code, _, err) = rnats(&["check", &file], dir.path());
        match case.error {
            None if code != 0 => failures.push(format!("{}: refused:\n{err}", case.name)),
            Some((msg, at)) => {
                let caret = format!("--> {file}:{at}\n");
                if code != 1 || !err.contains(msg) || !err.contains(&caret) {
                    failures.push(format!("{}: expected `{msg}` at {at}, got:\n{err}", case.name));
                }
            }
            None => {}
        }
        let Some(reference) = &reference else { continue };
        let theirs = run(reference, &["-t", "-c", &file], dir.path()).0 == 0;
        let ours = code == 0;
        let agree = match case.reference {
            Reference::Agrees => theirs == ours,
            Reference::StartOnly => theirs && !ours,
            Reference::Random => true,
        };
        if !agree {
            failures.push(format!("{}: nats-server -t says valid={theirs}, rnats valid={ours}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An unauthorized import says why, and what comes closest.
#[test]
fn refused_imports_say_what_would_match() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases().iter().filter(|c| c.name.starts_with("import-")) {
        std::fs::write(dir.path().join(format!("{}.conf", case.name)), case.text).unwrap();
    }
    let (_, _, err) = rnats(&["check", "import-private.conf"], dir.path());
    assert!(err.contains("help: `A` exports `priv.>` only to C"), "{err}");
    let (_, _, err) = rnats(&["check", "import-no-export.conf"], dir.path());
    assert!(err.contains("did you mean `svc.help`?"), "{err}");
}

/// `--dump` writes accounts and mappings as a config writes them: the dump
/// read back as a config gives the same dump.
#[test]
fn dump_of_accounts_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let (code, dump, err) = rnats(&["check", "--dump", "tests/conf/compat/accounts-full.conf"], Path::new("."));
    assert_eq!(code, 0, "{err}");
    let first: serde_json::Value = serde_json::from_str(&dump).unwrap();
    assert_eq!(first["accounts"]["SVC"]["exports"][2]["response_type"], "stream");
    assert_eq!(first["accounts"]["APP"]["imports"][0]["stream"]["account"], "SVC");
    assert_eq!(first["accounts"]["APP"]["mappings"]["w"][0]["weight"], 40);
    assert_eq!(first["mappings"]["g.src"], "g.dst");
    assert_eq!(first["accounts"]["SVC"]["limits"]["max_connections"], 10);
    assert!(first["accounts"]["SVC"]["limits"].get("max_subscriptions").is_none(), "-1 is no limit");
    std::fs::write(dir.path().join("dump.json"), &dump).unwrap();
    let (code, again, err) = rnats(&["check", "--dump", "dump.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert_eq!(first, serde_json::from_str::<serde_json::Value>(&again).unwrap());
}

/// `--map`: each subject's destination, or the distribution.
#[test]
fn map_prints_destinations() {
    let here = Path::new(".");
    let (code, out, _) = rnats(&["check", "--map", "a.*.*", "b.{{wildcard(2)}}.{{wildcard(1)}}", "a.x.y", "c"], here);
    assert_eq!(code, 0);
    assert_eq!(out, "a.x.y -> b.y.x\nc -> c (unchanged)\n");
    let (code, out, _) = rnats(&["check", "--map", "w", "w.v1=80 w.v2=20", "w"], here);
    assert_eq!(code, 0);
    let shares: Vec<f64> = out
        .split(['%', ' '])
        .filter_map(|t| t.parse::<f64>().ok())
        .filter(|n| *n > 1.0 && *n < 100.0 && n.fract() != 0.0)
        .collect();
    assert!(out.starts_with("w -> w.v1 ") && shares.len() == 2, "{out}");
    assert!((shares[0] - 80.0).abs() < 3.0 && (shares[1] - 20.0).abs() < 3.0, "{out}");
    let (code, out, _) = rnats(&["check", "--map", "w.loss", "w.loss=50", "w.loss"], here);
    assert_eq!(code, 0);
    assert!(out.contains("(dropped)"), "{out}");
    let (code, _, err) = rnats(&["check", "--map", "a.*", "b.*", "a.x"], here);
    assert_eq!(code, 1);
    assert!(err.contains("Error adding mapping for \"a.*\" to \"b.*\" : invalid subject"), "{err}");
}

/// Overlapping sources and lossy weights are advice for `check`; `-t`
/// passes the file, as nats-server's does.
#[test]
fn mapping_advice_is_for_check_only() {
    let dir = tempfile::tempdir().unwrap();
    let text = "mappings {\n  \"a.*\": \"b.{{wildcard(1)}}\"\n  \"a.x\": c\n  \"w.loss\": [{destination: w.loss, weight: 50}]\n  \"w.rem\": [{destination: w.v1, weight: 30}]\n}\n";
    std::fs::write(dir.path().join("m.conf"), text).unwrap();
    let (code, _, err) = rnats(&["check", "m.conf"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning[mapping-overlap]: mapping sources `a.*` and `a.x` overlap"), "{err}");
    assert!(err.contains("--> m.conf:3:3") && err.contains("--> m.conf:2:3"), "both positions: {err}");
    assert!(err.contains("warning[mapping-loss]") && err.contains("50% of its messages are dropped"), "{err}");
    assert!(err.contains("note[mapping-remainder]") && err.contains("70% of its messages stay on `w.rem`"), "{err}");
    assert_eq!(rnats(&["check", "--strict", "m.conf"], dir.path()).0, 1);
    assert_eq!(rnats(&["-t", "-c", "m.conf"], dir.path()).0, 0, "-t fails only where nats-server's does");
    if let Some(reference) = common::reference_binary() {
        assert_eq!(run(&reference, &["-t", "-c", "m.conf"], dir.path()).0, 0);
    }
}

/// Servers of one cluster are compared: what one lacks is named.
#[test]
fn cluster_members_with_different_accounts_are_warned() {
    let dir = tempfile::tempdir().unwrap();
    let a = "cluster { name: c1, port: -1 }\naccounts {\n  A { exports: [{stream: \"ev.>\"}] }\n  B {}\n}\n";
    let b = "cluster { name: c1, port: -1 }\naccounts {\n  A {}\n}\n";
    let other = "cluster { name: c2, port: -1 }\n";
    for (name, text) in [("a.conf", a), ("b.conf", b), ("other.conf", other)] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let (code, _, err) = rnats(&["check", "a.conf", "b.conf", "other.conf"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cluster `c1`: a.conf and b.conf differ in accounts; only in a.conf: B"), "{err}");
    assert!(err.contains("differ in exports; only in a.conf: A stream `ev.>`"), "{err}");
    assert!(!err.contains("c2"), "{err}");
    let (code, _, err) = rnats(&["check", "a.conf", "a.conf"], dir.path());
    assert_eq!(code, 0);
    assert!(!err.contains("cluster-accounts"), "{err}");
}

/// The account examples are valid for rnats and for nats-server.
#[test]
fn account_examples_pass_both() {
    let files = ["accounts-basic.conf", "accounts-imports.conf", "accounts-system.conf", "mappings.conf"];
    let dir = Path::new("examples-conf");
    for f in files {
        let (code, _, err) = rnats(&["check", "--strict", f], dir);
        assert_eq!(code, 0, "{f}: {err}");
    }
    let Some(reference) = common::reference_binary() else {
        common::skip_loudly("account_examples_pass_both: nats-server -t on the examples");
        return;
    };
    for f in files {
        let (code, _, err) = run(&reference, &["-t", "-c", f], dir);
        assert_eq!(code, 0, "{f}: {err}");
    }
}
