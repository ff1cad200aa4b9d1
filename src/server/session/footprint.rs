//! What one idle client connection costs, piece by piece: the sizes of the
//! structures and of the two tasks' futures that every connection holds
//! for its whole life. The bounds fail a change that makes them grow, so
//! growth is a decision rather than an accident (`rnats bench idle`
//! measures the total).

use std::mem::size_of;

use crate::server::conn::{Connection, Subscription};

/// The size of what `make` returns, without calling it.
fn size_of_return<R>(_make: impl FnOnce() -> R) -> usize {
    size_of::<R>()
}

#[test]
#[allow(unreachable_code, unused_variables, clippy::diverging_sub_expression)]
fn an_idle_connection_s_pieces_stay_small() {
    let session =
        size_of_return(|| super::serve_client::<tokio::net::TcpStream>(unreachable!(), unreachable!(), unreachable!()));
    let writer = size_of_return(|| {
        let outbound: &crate::server::outbound::Outbound = unreachable!();
        outbound.write_loop(unreachable!() as tokio::net::tcp::OwnedWriteHalf, || unreachable!())
    });
    let read_loop = size_of_return(|| {
        super::read_loop::read_loop::<super::client::ClientState, tokio::net::tcp::OwnedReadHalf>(
            unreachable!(),
            unreachable!(),
            unreachable!(),
            unreachable!(),
        )
    });
    let pieces = [
        ("session future", session),
        ("writer future", writer),
        ("read loop future", read_loop),
        ("Core", size_of::<super::core::Core>()),
        ("ClientState", size_of::<super::client::ClientState>()),
        ("Fanout", size_of::<crate::server::deliver::Fanout>()),
        ("tokio Sleep", size_of::<tokio::time::Sleep>()),
        ("Connection", size_of::<Connection>()),
        ("Subscription", size_of::<Subscription>()),
    ];
    eprintln!("{pieces:?}");
    // The bounds: the session's task (its future and tokio's ~100 bytes
    // around it) within mimalloc's 3 KiB size class. It was 5.5 KB before
    // the rare awaits (login, reload, stalls, TLS and websocket setup)
    // were boxed, and 3.9 KB before the handshake's future stopped being
    // kept beside the session's, the three timers became one, and a
    // parsed op stopped being held across the CONNECT's await.
    let bounds = [
        ("session future", 2816),
        ("read loop future", 704),
        ("writer future", 512),
        ("Connection", 832),
        ("Subscription", 112),
    ];
    for (name, bound) in bounds {
        let (_, size) = pieces.iter().find(|(n, _)| *n == name).copied().unwrap_or_default();
        assert!(size <= bound, "{name}: {size} bytes, over {bound}");
    }
}
