//! How many bytes the kernel holds for one loopback TCP connection: what
//! the client wrote that is not acknowledged yet, and what reached the
//! server that it has not read. Asked through netlink's `sock_diag`, one
//! exact lookup per socket (reading `/proc/net/tcp` walks every socket on
//! the machine, thousands on a test box, about 13 ms a read).

use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::OwnedFd;

use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType};

/// One netlink socket, reused for every question.
pub struct KernelQueues {
    fd: OwnedFd,
}

/// `SOCK_DIAG_BY_FAMILY`, `NLM_F_REQUEST`, `NLMSG_ERROR` (linux/netlink.h,
/// linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const AF_INET: u8 = 2;
const IPPROTO_TCP: u8 = 6;
/// `nlmsghdr` (16 bytes) + `inet_diag_req_v2` (56 bytes).
const REQUEST_LEN: usize = 72;
/// Offsets in the reply of `inet_diag_msg`'s `idiag_rqueue` and
/// `idiag_wqueue`, after the 16-byte `nlmsghdr`.
const RQUEUE_AT: usize = 16 + 4 + 48 + 4;
const WQUEUE_AT: usize = RQUEUE_AT + 4;

impl KernelQueues {
    pub fn open() -> Option<KernelQueues> {
        let fd = rustix::net::socket(AddressFamily::NETLINK, SocketType::DGRAM, Some(netlink::SOCK_DIAG)).ok()?;
        Some(KernelQueues { fd })
    }

    /// `(receive queue, send queue)` of the TCP socket bound to `local` and
    /// connected to `remote`, both IPv4; None when there is no such socket
    /// (closed) or the kernel does not answer.
    pub fn queues(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<(u32, u32)> {
        let mut req = [0u8; REQUEST_LEN];
        req[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
        req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        // inet_diag_req_v2: family, protocol, ext, pad, states (all).
        req[16] = AF_INET;
        req[17] = IPPROTO_TCP;
        req[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
        // inet_diag_sockid: ports and addresses in network order, then the
        // interface (any) and the cookie (INET_DIAG_NOCOOKIE: not checked).
        req[24..26].copy_from_slice(&local.port().to_be_bytes());
        req[26..28].copy_from_slice(&remote.port().to_be_bytes());
        req[28..32].copy_from_slice(&local.ip().octets());
        req[44..48].copy_from_slice(&remote.ip().octets());
        req[64..72].copy_from_slice(&[0xff; 8]);
        rustix::net::sendto(&self.fd, &req, SendFlags::empty(), &SocketAddrNetlink::new(0, 0)).ok()?;
        let mut reply = [0u8; 512];
        let (n, _) = rustix::net::recv(&self.fd, &mut reply[..], RecvFlags::empty()).ok()?;
        let kind = u16::from_ne_bytes([reply[4], reply[5]]);
        if kind == NLMSG_ERROR || kind != SOCK_DIAG_BY_FAMILY || n < WQUEUE_AT + 4 {
            return None;
        }
        let word = |at: usize| u32::from_ne_bytes([reply[at], reply[at + 1], reply[at + 2], reply[at + 3]]);
        Some((word(RQUEUE_AT), word(WQUEUE_AT)))
    }

    /// Whether nothing is in flight from `client` to `server`: the client's
    /// send queue is empty and the server has read everything that arrived.
    /// A socket that is gone counts as empty (nothing more will be read).
    pub fn drained(&self, client: SocketAddr, server: SocketAddr) -> bool {
        let (SocketAddr::V4(client), SocketAddr::V4(server)) = (client, server) else { return true };
        let unsent = self.queues(client, server).is_some_and(|(_, w)| w > 0);
        let unread = self.queues(server, client).is_some_and(|(r, _)| r > 0);
        !unsent && !unread
    }
}
