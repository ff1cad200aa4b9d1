//! `--signal CMD[=PID|PIDFILE]`: signal a running server, as nats-server does.

use rustix::process::{kill_process, Pid, Signal};

fn signal_for(cmd: &str) -> Option<Signal> {
    Some(match cmd {
        "stop" => Signal::KILL,
        "quit" => Signal::INT,
        "term" => Signal::TERM,
        "reopen" => Signal::USR1,
        "reload" => Signal::HUP,
        "ldm" => Signal::USR2,
        _ => return None,
    })
}

/// Resolves the target: a pid, a pid file, or (neither given) the one other
/// process running under this executable's name.
fn target(spec: Option<&str>) -> Result<i32, String> {
    if let Some(s) = spec {
        if let Ok(pid) = s.parse::<i32>() {
            return Ok(pid);
        }
        let text = std::fs::read_to_string(s).map_err(|e| format!("could not read pid file {s}: {e}"))?;
        return text.trim().parse::<i32>().map_err(|_| format!("invalid pid in {s}: {:?}", text.trim()));
    }
    let me = std::process::id() as i32;
    let name = std::env::args()
        .next()
        .and_then(|a| std::path::Path::new(&a).file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rnats".into());
    let comm: String = name.chars().take(15).collect();
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            if std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == comm) {
                found.push(pid);
            }
        }
    }
    match found.as_slice() {
        [] => Err(format!("no {name} processes running")),
        [pid] => Ok(*pid),
        many => Err(format!(
            "multiple {name} processes running:\n{}",
            many.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n")
        )),
    }
}

/// Sends the signal named by `spec` (`reload`, `stop=1234`, `ldm=/run/n.pid`).
pub fn send(spec: &str, pid_file: Option<&str>) -> Result<(), String> {
    let (cmd, pid) = match spec.split_once('=') {
        Some((c, p)) => (c, Some(p)),
        None => (spec, pid_file),
    };
    let sig = signal_for(cmd).ok_or_else(|| format!("unknown signal {cmd:?}"))?;
    let pid = target(pid)?;
    let pid = Pid::from_raw(pid).ok_or_else(|| format!("invalid pid {pid}"))?;
    kill_process(pid, sig).map_err(|e| format!("failed to send signal to {}: {e}", pid.as_raw_nonzero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal_for("reload"), Some(Signal::HUP));
        assert_eq!(signal_for("stop"), Some(Signal::KILL));
        assert_eq!(signal_for("bogus"), None);
        assert_eq!(send("bogus", None), Err("unknown signal \"bogus\"".into()));
    }
}
