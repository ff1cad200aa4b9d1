//! The log file: appends whole lines, rotates by size and prunes old files as
//! nats-server 2.x does (logger/log.go), and reopens on SIGUSR1.
//!
//! nats-server's rules, kept here:
//! - the size counts the file as found when opened, then every byte written;
//! - the check runs after each line, so the line that crosses the limit stays
//!   in the old file (a file ends at most one line past the limit) and no
//!   line is ever split;
//! - the old file is renamed `<file>.YYYY.MM.DD.HH.MM.SS.<nanoseconds>`, the
//!   new file starts with `Rotated log, backup saved as "<backup>"`;
//! - with `logfile_max_num` N > 0, N files are kept in all: the current one
//!   and the N-1 newest backups (by name, which sorts by time); each removal
//!   is logged `Purged log file "<name>"`.
//!
//! Where it does better: a rotation that cannot rename or reopen keeps
//! writing to the file it has (nats-server panics if the reopen fails); the
//! rotation notices end in `\n` (nats-server writes `\r\n` for those two
//! only); the backup stamp follows `logtime_utc`; `logfile_max_num` survives
//! a SIGUSR1 reopen (nats-server forgets it).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use super::format::Formatter;
use super::record::{Record, Severity};
use crate::gotext::go_quote;

/// nats-server creates its log files `rw-r-----`.
const LOG_FILE_MODE: u32 = 0o640;

pub struct FileOut {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes in the current file.
    size: u64,
    /// Rotate once `size` passes this; 0 never. Doubled after a failed
    /// rotation so a stuck rename is not retried on every line.
    limit: u64,
    /// The configured limit, restored after a successful rotation.
    base_limit: u64,
    /// Files kept in all, the current one included; 0 keeps every backup.
    max_files: u64,
    /// One line being written; kept to reuse its allocation.
    line: Vec<u8>,
    /// A write error was reported and no write has succeeded since.
    failing: bool,
}

fn open_append(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new().create(true).append(true).mode(LOG_FILE_MODE).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

fn quoted(text: &str) -> String {
    go_quote(text.as_bytes())
}

impl FileOut {
    pub fn open(path: &Path, limit: u64, max_files: u64) -> io::Result<FileOut> {
        let (file, size) = open_append(path)?;
        Ok(FileOut {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(64 * 1024, file),
            size,
            limit,
            base_limit: limit,
            max_files,
            line: Vec::with_capacity(256),
            failing: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file, as opened, is already past its limit.
    pub fn over_limit(&self) -> bool {
        self.limit > 0 && self.size > self.limit
    }

    /// Whether the file is already past a newly set limit, which nats-server
    /// answers with `Rotating logfile...` (a line that triggers the rotation).
    pub fn set_limits(&mut self, limit: u64, max_files: u64) -> bool {
        self.limit = limit;
        self.base_limit = limit;
        self.max_files = max_files;
        limit > 0 && self.size > limit
    }

    /// Writes one line, then rotates if the file has passed its limit.
    pub fn write(&mut self, rec: &Record, message: &str, fmt: &Formatter) {
        self.line.clear();
        fmt.line(&mut self.line, rec, message, false);
        self.put_line();
        if self.limit > 0 && self.size > self.limit {
            // The notices carry the time of the line that caused them, so
            // times never go backwards in the new file.
            self.rotate(fmt, rec.time);
        }
    }

    fn put_line(&mut self) {
        match self.out.write_all(&self.line) {
            Ok(()) => {
                self.size += self.line.len() as u64;
                self.failing = false;
            }
            Err(e) => {
                // Never lose the line: it goes to stderr, with one notice
                // per run of failures.
                let mut err = io::stderr().lock();
                if !self.failing {
                    self.failing = true;
                    let _ = writeln!(err, "rnats: cannot write the log file {}: {e}", self.path.display());
                }
                let _ = err.write_all(&self.line);
            }
        }
    }

    /// A line the file logger writes about itself, not checked for rotation.
    fn notice(&mut self, severity: Severity, text: String, at: Timestamp, fmt: &Formatter) {
        let rec = Record { time: at, severity, message: text };
        self.line.clear();
        fmt.line(&mut self.line, &rec, &rec.message, false);
        self.put_line();
    }

    fn postpone(&mut self, why: String, at: Timestamp, fmt: &Formatter) {
        self.limit = self.limit.saturating_mul(2);
        let text = format!("{why}, will attempt next rotation at size {}", self.limit);
        self.notice(Severity::Error, text, at, fmt);
    }

    pub fn rotate(&mut self, fmt: &Formatter, at: Timestamp) {
        let _ = self.out.flush();
        let name = self.path.to_string_lossy().into_owned();
        let mut now = Timestamp::now();
        let mut backup = format!("{name}.{}", fmt.rotation_stamp(now));
        // Two rotations within one clock tick would overwrite a backup.
        while Path::new(&backup).exists() {
            now = now.checked_add(SignedDuration::from_nanos(1)).unwrap_or(now);
            backup = format!("{name}.{}", fmt.rotation_stamp(now));
        }
        if let Err(e) = std::fs::rename(&self.path, &backup) {
            self.postpone(format!("Unable to rename logfile {} for rotation ({e})", quoted(&name)), at, fmt);
            return;
        }
        // The handle still writes to the renamed file until the new one is
        // open, so a failed open loses nothing.
        match open_append(&self.path) {
            Ok((file, size)) => {
                self.out = BufWriter::with_capacity(64 * 1024, file);
                self.size = size;
                self.limit = self.base_limit;
            }
            Err(e) => {
                let why = format!("Unable to re-open the logfile {} after rotation ({e})", quoted(&name));
                self.postpone(why, at, fmt);
                return;
            }
        }
        self.notice(Severity::Info, format!("Rotated log, backup saved as {}", quoted(&backup)), at, fmt);
        if self.max_files > 0 {
            self.purge(fmt, at);
        }
    }

    fn purge(&mut self, fmt: &Formatter, at: Timestamp) {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = self.path.file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_default();
        let names = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) => {
                let why = format!(
                    "Unable to read directory {} for log purge ({e}), will attempt next rotation",
                    quoted(&dir.to_string_lossy())
                );
                self.notice(Severity::Error, why, at, fmt);
                return;
            }
        };
        for name in backups_to_purge(names, &base, self.max_files) {
            match std::fs::remove_file(dir.join(&name)) {
                Ok(()) => self.notice(Severity::Info, format!("Purged log file {}", quoted(&name)), at, fmt),
                Err(e) => {
                    let why =
                        format!("Unable to remove backup log file {} ({e}), will attempt next rotation", quoted(&name));
                    self.notice(Severity::Error, why, at, fmt);
                    return;
                }
            }
        }
    }

    /// Closes the file and opens the path again (after logrotate moved it).
    /// On failure the current file stays in use.
    pub fn reopen(&mut self) -> io::Result<()> {
        let _ = self.out.flush();
        let (file, size) = open_append(&self.path)?;
        self.out = BufWriter::with_capacity(64 * 1024, file);
        self.size = size;
        Ok(())
    }

    pub fn flush(&mut self) {
        if let Err(e) = self.out.flush() {
            if !self.failing {
                self.failing = true;
                eprintln!("rnats: cannot write the log file {}: {e}", self.path.display());
            }
        }
    }
}

/// Whether `name` is `<base>.YYYY.MM.DD.HH.MM.SS[.fraction]`, a backup this
/// logger (or nats-server's) made.
fn is_backup_of(name: &str, base: &str) -> bool {
    let Some(stamp) = name.strip_prefix(base).and_then(|s| s.strip_prefix('.')) else {
        return false;
    };
    let parts: Vec<&str> = stamp.split('.').collect();
    if !(6..=7).contains(&parts.len()) {
        return false;
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let in_range = |s: &str, lo: u32, hi: u32| digits(s, 2) && s.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v));
    digits(parts[0], 4)
        && in_range(parts[1], 1, 12)
        && in_range(parts[2], 1, 31)
        && in_range(parts[3], 0, 23)
        && in_range(parts[4], 0, 59)
        && in_range(parts[5], 0, 59)
        && parts.get(6).is_none_or(|f| (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
}

/// The backups to remove so that `max_files` files remain, counting the
/// current one: the oldest first.
pub fn backups_to_purge(names: Vec<String>, base: &str, max_files: u64) -> Vec<String> {
    let mut backups: Vec<String> = names.into_iter().filter(|n| is_backup_of(n, base)).collect();
    backups.sort();
    let keep = usize::try_from(max_files.saturating_sub(1)).unwrap_or(usize::MAX);
    let excess = backups.len().saturating_sub(keep);
    backups.truncate(excess);
    backups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn recognises_backup_names() {
        assert!(is_backup_of("n.log.2026.11.30.03.44.11.868804899", "n.log"));
        assert!(is_backup_of("n.log.2026.11.30.03.44.11", "n.log"));
        assert!(!is_backup_of("n.log", "n.log"));
        assert!(!is_backup_of("n.log.old", "n.log"));
        assert!(!is_backup_of("n.log.2026.13.30.03.44.11.1", "n.log"), "month 13");
        assert!(!is_backup_of("n.logx.2026.11.30.03.44.11.1", "n.log"));
        assert!(!is_backup_of("n.log.2026.11.30.03.44.11.1234567890", "n.log"), "ten fraction digits");
    }

    #[test]
    fn keeps_max_minus_one_backups_oldest_go_first() {
        let list = names(&[
            "n.log",
            "n.log.2026.11.30.03.44.11.000000003",
            "n.log.2026.11.30.03.44.11.000000001",
            "other.log.2026.11.30.03.44.11.000000000",
            "n.log.2026.11.30.03.44.11.000000002",
            "n.log.notes",
        ]);
        assert_eq!(
            backups_to_purge(list.clone(), "n.log", 3),
            names(&["n.log.2026.11.30.03.44.11.000000001"]),
            "3 files: the current one and the two newest backups"
        );
        assert_eq!(backups_to_purge(list.clone(), "n.log", 1).len(), 3, "only the current file");
        assert!(backups_to_purge(list, "n.log", 4).is_empty());
    }

    #[test]
    fn rotates_after_the_line_that_crosses_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.log");
        let fmt = Formatter::new();
        let mut f = FileOut::open(&path, 400, 2).unwrap();
        let mut written = Vec::new();
        for i in 0..40 {
            let msg = format!("line {i:03} {}", "x".repeat(20));
            f.write(&Record::now(Severity::Trace, msg.clone()), &msg, &fmt);
            written.push(msg);
        }
        f.flush();
        let mut files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        assert_eq!(files.len(), 2, "max 2 files: {files:?}");
        let mut seen = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for line in text.lines() {
                if let Some(i) = line.find("line ") {
                    seen.push(line[i..].to_string());
                }
            }
            // A file passes the limit by one line at most.
            let last = text.lines().last().unwrap_or_default().len() as u64 + 1;
            assert!(text.len() as u64 <= 400 + last, "{} bytes in {}", text.len(), file.display());
        }
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.lines().next().unwrap().contains("[INF] Rotated log, backup saved as \""), "{current}");
        assert!(current.contains("[INF] Purged log file \"r.log."), "{current}");
        // No line is split or repeated; the oldest are pruned.
        seen.sort();
        seen.dedup();
        let tail: Vec<_> = written[written.len() - seen.len()..].to_vec();
        assert_eq!(seen, tail);
    }

    #[test]
    fn reopen_follows_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.log");
        let fmt = Formatter::new();
        let mut f = FileOut::open(&path, 0, 0).unwrap();
        f.write(&Record::now(Severity::Info, "before"), "before", &fmt);
        f.flush();
        std::fs::rename(&path, dir.path().join("moved.log")).unwrap();
        f.reopen().unwrap();
        f.write(&Record::now(Severity::Info, "after"), "after", &fmt);
        f.flush();
        assert!(std::fs::read_to_string(dir.path().join("moved.log")).unwrap().contains("before"));
        let now = std::fs::read_to_string(&path).unwrap();
        assert!(now.contains("after") && !now.contains("before"));
    }
}
