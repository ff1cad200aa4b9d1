//! systemd's readiness protocol (`sd_notify(3)`): one datagram of `KEY=VALUE`
//! lines to the unix socket named in `$NOTIFY_SOCKET`. A path starting with
//! `@` names a socket in the Linux abstract namespace.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op that returns
//! `Ok(false)`, so callers need no "am I under systemd?" branch.
//!
//! The order systemd expects from a `Type=notify` (or `notify-reload`) unit:
//!
//! * [`ready`] once the listeners accept connections;
//! * around a configuration reload (SIGHUP): [`reloading`] before re-reading
//!   the file, then [`ready`] when the outcome is known, success or failure
//!   (a failed reload keeps the old config running, so the service is ready);
//! * [`stopping`] when shutdown (or lame duck mode) begins.
//!
//! [`status`] sets the one-line text `systemctl status` shows.

use std::ffi::OsString;
use std::io;
use std::os::unix::net::UnixDatagram;

/// The environment variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Tells systemd the service is up: listeners bound, or a reload finished.
pub fn ready() -> io::Result<bool> {
    notify("READY=1")
}

/// Tells systemd a configuration reload starts. `MONOTONIC_USEC` is required
/// by `Type=notify-reload`: systemd uses it to tell this reload from an
/// earlier one. Follow with [`ready`] when the reload is over.
pub fn reloading() -> io::Result<bool> {
    notify(&reloading_message())
}

fn reloading_message() -> String {
    format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec())
}

/// Tells systemd the service is shutting down.
pub fn stopping() -> io::Result<bool> {
    notify("STOPPING=1")
}

/// Sets the free-form status line (`systemctl status`). Line breaks would
/// start new assignments, so they become spaces.
pub fn status(text: &str) -> io::Result<bool> {
    notify(&format!("STATUS={}", text.replace(['\n', '\r'], " ")))
}

/// Sends `state` to `$NOTIFY_SOCKET`. `Ok(false)` when the variable is unset
/// or empty (not started by systemd).
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os(NOTIFY_SOCKET) {
        Some(socket) if !socket.is_empty() => send_to(&socket, state).map(|()| true),
        _ => Ok(false),
    }
}

/// Sends one datagram to the socket `socket` names (a path, or `@name` for
/// the abstract namespace).
pub fn send_to(socket: &OsString, state: &str) -> io::Result<()> {
    let bytes = socket.as_encoded_bytes();
    let sock = UnixDatagram::unbound()?;
    let sent = match bytes.first() {
        Some(b'/') => sock.send_to(state.as_bytes(), socket)?,
        Some(b'@') => send_abstract(&sock, &bytes[1..], state)?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{NOTIFY_SOCKET}={} is neither an absolute path nor an @abstract name", socket.display()),
            ))
        }
    };
    if sent != state.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write to the notify socket"));
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn send_abstract(sock: &UnixDatagram, name: &[u8], state: &str) -> io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sock.send_to_addr(state.as_bytes(), &addr)
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &str) -> io::Result<usize> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "abstract unix sockets exist only on Linux"))
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares with.
fn monotonic_usec() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64).saturating_mul(1_000_000).saturating_add(t.tv_nsec as u64 / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).expect("a datagram arrives");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn path_socket_gets_each_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).expect("bind");
        listener.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let name: OsString = path.into_os_string();
        send_to(&name, "READY=1").expect("send");
        assert_eq!(recv(&listener), "READY=1");
        send_to(&name, "STATUS=x y").expect("send");
        assert_eq!(recv(&listener), "STATUS=x y");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("rnats-sd-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let listener = UnixDatagram::bind_addr(&addr).expect("bind abstract");
        listener.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        send_to(&OsString::from(format!("@{name}")), "STOPPING=1").expect("send");
        assert_eq!(recv(&listener), "STOPPING=1");
    }

    #[test]
    fn relative_names_are_refused() {
        let err = send_to(&OsString::from("relative.sock"), "READY=1").expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let before = monotonic_usec();
        let msg = reloading_message();
        let after = monotonic_usec();
        let usec = msg.strip_prefix("RELOADING=1\nMONOTONIC_USEC=").expect("both assignments, in order");
        let usec: u64 = usec.parse().expect("a decimal number");
        assert!(before <= usec && usec <= after, "{before} <= {usec} <= {after}");
        assert!(before > 0);
    }
}
