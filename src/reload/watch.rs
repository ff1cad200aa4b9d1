//! `--watch`: reload when the config file, a file it includes, or a TLS file
//! it names changes.
//!
//! Directories are watched, not files: an editor saves by writing a
//! temporary file and renaming it over the old one, and Kubernetes updates
//! a ConfigMap by swapping a `..data` symlink in the mounted directory, so a
//! watch on the file itself would be lost after the first change. Every
//! burst of events (debounced) leads to a comparison of the files' contents
//! with what they were at the last reload; only a real change reloads, and
//! the log names the files that changed.
//!
//! A file written in place is read once its writer closes it, never while
//! it is being written: a writer that pauses halfway (a slow copy, a script
//! writing line by line) must not get its first half applied, even when
//! that half is valid on its own. So plain modifications are ignored; what
//! ends a change is the close of a file opened for writing, a create, a
//! rename (an editor's save, a symlink swap) or a removal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::new_debouncer;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tracing::{debug, error, info};

use super::{Reloader, Trigger};

/// Events closer together than this are one change (an editor's save is
/// several events; so is a ConfigMap update).
const DEBOUNCE: Duration = Duration::from_millis(250);

/// The content digest of each watched file (`None`: missing or unreadable).
type Contents = BTreeMap<PathBuf, Option<[u8; 32]>>;

fn read_contents(files: &[PathBuf]) -> Contents {
    files
        .iter()
        .map(|f| {
            let digest = std::fs::read(f).ok().map(|bytes| Sha256::digest(&bytes).into());
            (f.clone(), digest)
        })
        .collect()
}

/// The directories to watch for `files`: each file's directory, and the
/// directory of the file a symlink points to.
fn directories(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut dirs = BTreeSet::new();
    for f in files {
        let parent = match f.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        dirs.insert(parent);
        if let Ok(target) = std::fs::canonicalize(f) {
            if let Some(p) = target.parent() {
                dirs.insert(p.to_path_buf());
            }
        }
    }
    dirs
}

/// Starts watching; runs until `shutdown`.
pub fn spawn(reloader: Arc<Reloader>, shutdown: WaitForCancellationFutureOwned) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = run(reloader, shutdown).await {
            error!("Config file watcher stopped: {e}");
        }
    })
}

async fn run(reloader: Arc<Reloader>, shutdown: WaitForCancellationFutureOwned) -> Result<(), String> {
    tokio::pin!(shutdown);
    // Bounded: one pending notice is enough, since every notice leads to a
    // full comparison of the files anyway.
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: notify_debouncer_full::DebounceEventResult| {
        if result.is_ok_and(|events| events.iter().any(|e| ends_a_change(&e.kind))) {
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| e.to_string())?;
    let mut files_rx = reloader.watched_files();
    let mut files = files_rx.borrow_and_update().clone();
    let mut watching: BTreeSet<PathBuf> = BTreeSet::new();
    watch_dirs(&mut debouncer, &mut watching, &files);
    let mut contents = read_contents(&files);
    info!("Watching {} configuration file(s) for changes", files.len());
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            changed = files_rx.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                // A reload happened (by any trigger): what is in force now is
                // the baseline, and its file list may have changed.
                files = files_rx.borrow_and_update().clone();
                watch_dirs(&mut debouncer, &mut watching, &files);
                contents = read_contents(&files);
            }
            notice = rx.recv() => {
                if notice.is_none() {
                    return Ok(());
                }
                let now = read_contents(&files);
                let changed: Vec<PathBuf> =
                    now.iter().filter(|(f, d)| contents.get(*f) != Some(d)).map(|(f, _)| f.clone()).collect();
                if changed.is_empty() {
                    debug!("Configuration files touched without a change in content; not reloading");
                    continue;
                }
                contents = now;
                reloader.reload(Trigger::FilesChanged(changed)).await;
            }
        }
    }
}

/// Whether an event can complete a change to a file (see the module docs).
fn ends_a_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Name(_)) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        // Where the platform reports no closes (kqueue, FSEvents), a write is
        // all there is to go by.
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => !cfg!(target_os = "linux"),
        EventKind::Any | EventKind::Other => true,
        _ => false,
    }
}

fn watch_dirs<W: notify::Watcher, C: notify_debouncer_full::FileIdCache>(
    debouncer: &mut notify_debouncer_full::Debouncer<W, C>,
    watching: &mut BTreeSet<PathBuf>,
    files: &[PathBuf],
) {
    let wanted = directories(files);
    for gone in watching.difference(&wanted) {
        let _ = debouncer.unwatch(gone);
    }
    for dir in wanted.difference(watching) {
        if let Err(e) = debouncer.watch(Path::new(dir), RecursiveMode::NonRecursive) {
            error!("Cannot watch {} for configuration changes: {e}", dir.display());
        }
    }
    *watching = wanted;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_count_once_the_file_is_closed() {
        use notify::event::{CreateKind, DataChange, MetadataKind, RenameMode};
        assert!(!ends_a_change(&EventKind::Modify(ModifyKind::Data(DataChange::Any))), "half written");
        assert!(ends_a_change(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(!ends_a_change(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(ends_a_change(&EventKind::Create(CreateKind::File)));
        assert!(ends_a_change(&EventKind::Modify(ModifyKind::Name(RenameMode::To))));
        assert!(!ends_a_change(&EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any))));
    }

    #[test]
    fn watches_the_directory_and_a_symlink_target() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("..2026_11_30");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("nats.conf"), "port: 1").unwrap();
        let link = dir.path().join("nats.conf");
        std::os::unix::fs::symlink(data.join("nats.conf"), &link).unwrap();
        let dirs = directories(&[link.clone(), PathBuf::from("relative.conf")]);
        assert!(dirs.contains(dir.path()));
        assert!(dirs.contains(&std::fs::canonicalize(&data).unwrap()));
        assert!(dirs.contains(Path::new(".")));
        let missing = PathBuf::from("/nonexistent/x.conf");
        let c = read_contents(&[link.clone(), missing.clone()]);
        assert!(c[&link].is_some(), "read through the symlink");
        assert!(c[&missing].is_none());
    }
}
