//! Behaviour seen through a real client library (async-nats), the way
//! applications use the server.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures_util::StreamExt;

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(WAIT, sub.next()).await.expect("message in time").expect("subscription open")
}

async fn nothing_more(sub: &mut async_nats::Subscriber) {
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
        panic!("unexpected message on {}: {:?}", m.subject, m.payload);
    }
}

#[tokio::test]
async fn publish_subscribe() {
    let s = TestServer::start().await;
    let sub_client = s.client().await;
    let pub_client = s.client().await;
    let mut sub = sub_client.subscribe("greet.joe").await.unwrap();
    sub_client.flush().await.unwrap();
    for i in 0..100 {
        pub_client.publish("greet.joe", Bytes::from(format!("hello {i}"))).await.unwrap();
    }
    pub_client.publish("greet.sue", "not for joe".into()).await.unwrap();
    pub_client.flush().await.unwrap();
    for i in 0..100 {
        let m = next(&mut sub).await;
        assert_eq!(m.subject.as_str(), "greet.joe");
        assert_eq!(m.payload, format!("hello {i}"), "in order");
    }
    nothing_more(&mut sub).await;
}

#[tokio::test]
async fn wildcards() {
    let s = TestServer::start().await;
    let c = s.client().await;
    let mut star = c.subscribe("time.*.east").await.unwrap();
    let mut tail = c.subscribe("time.us.>").await.unwrap();
    let mut all = c.subscribe(">").await.unwrap();
    c.flush().await.unwrap();
    for subject in ["time.us.east", "time.us.east.atlanta", "time.eu.east", "time.us"] {
        c.publish(subject, subject.into()).await.unwrap();
    }
    c.flush().await.unwrap();
    assert_eq!(next(&mut star).await.subject.as_str(), "time.us.east");
    assert_eq!(next(&mut star).await.subject.as_str(), "time.eu.east");
    nothing_more(&mut star).await;
    assert_eq!(next(&mut tail).await.subject.as_str(), "time.us.east");
    assert_eq!(next(&mut tail).await.subject.as_str(), "time.us.east.atlanta");
    nothing_more(&mut tail).await;
    for want in ["time.us.east", "time.us.east.atlanta", "time.eu.east", "time.us"] {
        assert_eq!(next(&mut all).await.subject.as_str(), want);
    }
}

/// Each message goes to exactly one member of each group, spread over members,
/// while plain subscribers get every message.
#[tokio::test]
async fn queue_groups_exactly_once_and_spread() {
    let s = TestServer::start().await;
    let mut members = Vec::new();
    for _ in 0..4 {
        let c = s.client().await;
        let sub = c.queue_subscribe("work", "workers".into()).await.unwrap();
        c.flush().await.unwrap();
        members.push((c, sub));
    }
    let other_group_client = s.client().await;
    let mut other_group = other_group_client.queue_subscribe("work", "auditors".into()).await.unwrap();
    let plain_client = s.client().await;
    let mut plain = plain_client.subscribe("work").await.unwrap();
    other_group_client.flush().await.unwrap();
    plain_client.flush().await.unwrap();

    let publisher = s.client().await;
    const N: usize = 400;
    for i in 0..N {
        publisher.publish("work", Bytes::from(i.to_string())).await.unwrap();
    }
    publisher.flush().await.unwrap();

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut per_member = Vec::new();
    for (_, sub) in members.iter_mut() {
        let mut count = 0;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
            *seen.entry(String::from_utf8_lossy(&m.payload).into_owned()).or_default() += 1;
            count += 1;
        }
        per_member.push(count);
    }
    assert_eq!(seen.len(), N, "every message reached the group");
    assert!(seen.values().all(|&n| n == 1), "no message delivered twice");
    assert!(per_member.iter().all(|&c| c > N / 4 / 3), "spread over members: {per_member:?}");
    for _ in 0..N {
        next(&mut other_group).await;
        next(&mut plain).await;
    }
    nothing_more(&mut other_group).await;
    nothing_more(&mut plain).await;
}

#[tokio::test]
async fn request_reply_and_no_responders() {
    let s = TestServer::start().await;
    let responder = s.client().await;
    let mut service = responder.subscribe("svc.echo").await.unwrap();
    responder.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(m) = service.next().await {
            if let Some(reply) = m.reply {
                let mut body = b"echo: ".to_vec();
                body.extend_from_slice(&m.payload);
                responder.publish(reply, body.into()).await.unwrap();
            }
        }
    });
    let requester = s.client().await;
    for i in 0..20 {
        let resp = tokio::time::timeout(WAIT, requester.request("svc.echo", Bytes::from(format!("{i}"))))
            .await
            .expect("in time")
            .expect("reply");
        assert_eq!(resp.payload, format!("echo: {i}"));
    }
    let err =
        tokio::time::timeout(WAIT, requester.request("svc.nobody", "x".into())).await.expect("in time").unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn headers_round_trip() {
    let s = TestServer::start().await;
    let c = s.client().await;
    let mut sub = c.subscribe("h").await.unwrap();
    c.flush().await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("X-Trace", "abc-123");
    headers.append("X-Multi", "one");
    headers.append("X-Multi", "two");
    c.publish_with_headers("h", headers, "body".into()).await.unwrap();
    c.flush().await.unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.payload, "body");
    let h = m.headers.expect("headers arrive");
    assert_eq!(h.get("X-Trace").map(|v| v.as_str()), Some("abc-123"));
    let multi: Vec<&str> = h.get_all("X-Multi").map(|v| v.as_str()).collect();
    assert_eq!(multi, vec!["one", "two"]);
}

#[tokio::test]
async fn auto_unsubscribe() {
    // No system account: `$G` then holds the client's entries only.
    let s = TestServer::with(|o| o.no_system_account = true).await;
    let c = s.client().await;
    let mut sub = c.subscribe("limited").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    c.flush().await.unwrap();
    for i in 0..10 {
        c.publish("limited", Bytes::from(i.to_string())).await.unwrap();
    }
    c.flush().await.unwrap();
    for i in 0..3 {
        assert_eq!(next(&mut sub).await.payload, i.to_string());
    }
    let end = tokio::time::timeout(WAIT, sub.next()).await.expect("stream ends in time");
    assert!(end.is_none(), "the subscription ends after 3 messages");
    wait_until("the server dropped it too", || s.server.state().global().sublist.count() == 0).await;
}

#[tokio::test]
async fn echo_off() {
    let s = TestServer::start().await;
    let quiet = async_nats::ConnectOptions::new().no_echo().connect(s.url()).await.unwrap();
    let other = s.client().await;
    let mut own = quiet.subscribe("e").await.unwrap();
    quiet.flush().await.unwrap();
    quiet.publish("e", "mine".into()).await.unwrap();
    quiet.flush().await.unwrap();
    other.publish("e", "theirs".into()).await.unwrap();
    other.flush().await.unwrap();
    assert_eq!(next(&mut own).await.payload, "theirs");
    nothing_more(&mut own).await;
}

/// The client learns max_payload from INFO and refuses bigger messages; a
/// client that ignores it is cut off by the server (see tests/protocol.rs).
#[tokio::test]
async fn max_payload_is_advertised_and_enforced() {
    let s = TestServer::with(|o| o.max_payload = 1024).await;
    let c = s.client().await;
    assert_eq!(c.server_info().max_payload, 1024);
    let err = c.publish("big", Bytes::from(vec![0u8; 2048])).await.unwrap_err();
    assert!(err.to_string().to_lowercase().contains("payload"), "{err}");
    let mut raw = Raw::connect(s.addr()).await;
    raw.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB big 2048\r\n").await;
    raw.expect(b"-ERR 'Maximum Payload Violation'\r\n").await;
    raw.expect_close().await;
}

/// A subscriber that stops reading is cut off as a slow consumer; the
/// publisher is never blocked and a healthy subscriber loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_cut_off_without_blocking_others() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const N: usize = 2000;
    const BATCH: usize = 8;
    let s = TestServer::with(|o| {
        o.max_pending = 256 * 1024;
        o.max_payload = 64 * 1024;
    })
    .await;
    // The slow one subscribes and then never reads.
    let mut slow = Raw::connect(s.addr()).await;
    slow.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB flood 1\r\nPING\r\n").await;
    slow.expect(b"PONG\r\n").await;

    let healthy_client = s.client().await;
    let mut healthy = healthy_client.subscribe("flood").await.unwrap();
    healthy_client.flush().await.unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let reader = tokio::spawn(async move {
        while counter.load(Ordering::Relaxed) < N {
            match tokio::time::timeout(WAIT, healthy.next()).await {
                Ok(Some(_)) => counter.fetch_add(1, Ordering::Relaxed),
                _ => break,
            };
        }
    });

    // 32 MB in all, far more than the slow socket's kernel buffers plus
    // max_pending; paced on the healthy reader so only the slow one lags.
    let publisher = s.client().await;
    let payload = Bytes::from(vec![b'x'; 16 * 1024]);
    for batch in 0..N / BATCH {
        for _ in 0..BATCH {
            publisher.publish("flood", payload.clone()).await.unwrap();
        }
        tokio::time::timeout(WAIT, publisher.flush()).await.expect("publisher never blocked").unwrap();
        let target = (batch + 1) * BATCH;
        let deadline = std::time::Instant::now() + WAIT;
        while received.load(Ordering::Relaxed) < target {
            assert!(
                std::time::Instant::now() < deadline,
                "healthy subscriber stalled at {}",
                received.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    reader.await.unwrap();
    assert_eq!(received.load(Ordering::Relaxed), N, "the healthy subscriber got every message");
    let (_, closed) = slow.drain(Duration::from_millis(500)).await;
    assert!(closed, "the slow consumer was disconnected");
    let stats = s.server.state().stats();
    assert_eq!(stats.slow_consumers.load(Ordering::Relaxed), 1, "only the slow one");
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    // No system account: `$G` then holds the client's entries only.
    let s = TestServer::with(|o| o.no_system_account = true).await;
    let c = s.client().await;
    let mut sub = c.subscribe("u").await.unwrap();
    c.flush().await.unwrap();
    c.publish("u", "1".into()).await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "1");
    sub.unsubscribe().await.unwrap();
    c.flush().await.unwrap();
    wait_until("the subscription is gone", || s.server.state().global().sublist.count() == 0).await;
}

/// A subscriber whose socket stays full past write_deadline is cut off as a
/// slow consumer (write deadline), even though max_pending is not reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_deadline_slow_consumer() {
    let s = TestServer::with(|o| o.write_deadline = Duration::from_millis(200)).await;
    let mut stuck = Raw::connect(s.addr()).await;
    stuck.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB flood 1\r\nPING\r\n").await;
    stuck.expect(b"PONG\r\n").await;
    let publisher = s.client().await;
    let payload = Bytes::from(vec![b'x'; 64 * 1024]);
    // Up to 32 MiB: enough to fill any loopback socket buffer; stops as soon
    // as the server gives up on the stuck reader.
    let stats = s.server.state().stats().clone();
    for _ in 0..512 {
        publisher.publish("flood", payload.clone()).await.unwrap();
        if stats.slow_consumers.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let deadline = std::time::Instant::now() + WAIT;
    while stats.slow_consumers.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(std::time::Instant::now() < deadline, "write deadline never fired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, closed) = stuck.drain(Duration::from_millis(300)).await;
    assert!(closed || stuck.drain(WAIT).await.1, "the stuck reader was disconnected");
    publisher.flush().await.expect("the publisher is unaffected");
}

/// A subscriber cut off for exceeding max_pending is told why before the
/// close, when its socket can still take the notice (nats-server just closes).
#[tokio::test]
async fn slow_consumer_is_told_why() {
    let s = TestServer::with(|o| {
        o.max_pending = 4096;
        o.max_payload = 1024;
    })
    .await;
    let mut sub = Raw::connect(s.addr()).await;
    sub.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB burst 1\r\nPING\r\n").await;
    sub.expect(b"PONG\r\n").await;
    // One read chunk of 8 KiB for a 4 KiB max_pending: over the limit before
    // the writer runs, so the client has read everything sent before.
    let mut publisher = Raw::connect(s.addr()).await;
    publisher.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n").await;
    // Grow the server's read buffer for this connection (it starts at 512
    // bytes), so that the burst below arrives in a single read.
    let mut warm = Vec::new();
    for _ in 0..64 {
        warm.extend_from_slice(b"PUB nobody 1000\r\n");
        warm.extend_from_slice(&[b'w'; 1000]);
        warm.extend_from_slice(b"\r\n");
    }
    warm.extend_from_slice(b"PING\r\n");
    publisher.send(&warm).await;
    publisher.expect(b"PONG\r\n").await;
    let mut chunk = Vec::new();
    for _ in 0..8 {
        chunk.extend_from_slice(b"PUB burst 1000\r\n");
        chunk.extend_from_slice(&[b'z'; 1000]);
        chunk.extend_from_slice(b"\r\n");
    }
    publisher.send(&chunk).await;
    let bytes = sub.expect_close().await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.ends_with("-ERR 'Slow Consumer'\r\n"), "{text:?}");
    assert_eq!(s.server.state().stats().slow_consumers.load(std::sync::atomic::Ordering::Relaxed), 1);
}
