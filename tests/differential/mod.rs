//! The randomized differential test's machinery: generate a session, play it
//! against rnats and the reference nats-server, normalise, compare, and
//! shrink a difference to a minimal reproducer.

pub mod gen;
pub mod kernel_queues;
pub mod known;
pub mod normalise;
pub mod play;
pub mod session;
pub mod shrink;

use std::future::Future;

use crate::common::{reference_binary, Reference, TestServer};
use normalise::{render, Recorded};
use session::Session;

/// The normalised output of every connection of one run.
pub type Rendered = Vec<Vec<String>>;

/// The session's config file, written for both servers; `None` for defaults.
fn config_file(session: &Session) -> Option<(tempfile::TempDir, String)> {
    let text = session.config.file()?;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("server.conf");
    std::fs::write(&path, text).expect("write the config");
    let path = path.to_string_lossy().into_owned();
    Some((dir, path))
}

pub async fn run_rnats(session: &Session) -> Rendered {
    let conf = config_file(session);
    let server = match &conf {
        Some((_, path)) => TestServer::from_conf(path).await,
        None => TestServer::start().await,
    };
    let recorded = play::play(server.addr(), session).await;
    server.server.shutdown().await;
    rendered(&recorded)
}

pub async fn run_reference(session: &Session) -> Rendered {
    let conf = config_file(session);
    let args: Vec<String> = conf.as_ref().map(|(_, p)| vec!["-c".to_string(), p.clone()]).unwrap_or_default();
    let reference = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Reference::start(&args)
    })
    .await
    .expect("reference start task")
    .expect("the reference binary is present (checked by the caller)");
    let recorded = play::play(reference.addr, session).await;
    drop(reference);
    rendered(&recorded)
}

fn rendered(recorded: &[Recorded]) -> Rendered {
    recorded.iter().map(render).collect()
}

/// Both servers' normalised output, when it differs.
pub struct Diff {
    pub ours: Rendered,
    pub theirs: Rendered,
}

/// Plays `session` on both servers at once; `None` when they agree once
/// the known output differences are fixed up.
pub async fn compare(session: &Session) -> Option<Diff> {
    let (mut ours, theirs) = tokio::join!(run_rnats(session), run_reference(session));
    known::apply_fixups(session.config, &mut ours);
    (ours != theirs).then_some(Diff { ours, theirs })
}

/// [`compare`] without the fixups.
pub async fn compare_raw(session: &Session) -> Option<Diff> {
    let (ours, theirs) = tokio::join!(run_rnats(session), run_reference(session));
    (ours != theirs).then_some(Diff { ours, theirs })
}

pub enum Outcome {
    Same,
    /// The difference goes away without the steps tagged with these
    /// known-difference ids.
    Known(Vec<&'static str>),
    /// A difference no known rule explains, on this session (already
    /// stripped of known-difference steps).
    Unexplained(Session, Diff),
}

pub async fn classify(session: Session) -> Outcome {
    let Some(diff) = compare(&session).await else { return Outcome::Same };
    let known: Vec<&'static str> = session.tags().into_iter().filter(|t| known::is_known(t)).collect();
    if known.is_empty() {
        return Outcome::Unexplained(session, diff);
    }
    let stripped = known::strip(&session);
    match compare(&stripped).await {
        None => Outcome::Known(known),
        Some(diff) => Outcome::Unexplained(stripped, diff),
    }
}

/// Shrinks `session` while it still shows an unexplained difference.
pub async fn minimise(session: Session) -> (Session, Option<Diff>) {
    let shrunk = shrink::shrink(session, |s| async move { compare(&s).await.is_some() }).await;
    let diff = compare(&shrunk).await;
    (shrunk, diff)
}

/// Side by side, from the first line where the two runs part.
pub fn describe(diff: &Diff) -> String {
    let mut out = String::new();
    for (i, (ours, theirs)) in diff.ours.iter().zip(&diff.theirs).enumerate() {
        if ours == theirs {
            continue;
        }
        let first = ours.iter().zip(theirs).take_while(|(a, b)| a == b).count();
        out.push_str(&format!("conn {i}, first difference at line {first}:\n"));
        for l in &theirs[..first] {
            out.push_str(&format!("    both : {l}\n"));
        }
        for l in &theirs[first..] {
            out.push_str(&format!("    ref  : {l}\n"));
        }
        for l in &ours[first..] {
            out.push_str(&format!("    rnats: {l}\n"));
        }
    }
    out
}

/// True when the reference is installed; otherwise prints the loud skip.
pub fn reference_present(test: &str) -> bool {
    if reference_binary().is_some() {
        return true;
    }
    crate::common::skip_loudly(test);
    false
}

/// Runs futures with at most `jobs` in flight, returning results in order.
pub async fn run_all<T, F, Fut>(items: Vec<T>, jobs: usize, f: F) -> Vec<Fut::Output>
where
    F: Fn(T) -> Fut,
    Fut: Future,
{
    use futures_util::stream::{self, StreamExt};
    stream::iter(items.into_iter().map(f)).buffered(jobs.max(1)).collect().await
}
