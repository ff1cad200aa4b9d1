//! Micro-benchmarks of the hot path: the protocol parser and the
//! subscription index. `cargo bench` (divan); see README "Performance".

use std::sync::Arc;

use divan::{black_box, Bencher};
use rnats::server::match_cache::MatchCache;
use rnats::server::proto::{parse, Limits, Parsed};
use rnats::server::sublist::Sublist;

fn main() {
    divan::main();
}

const LIMITS: Limits = Limits { max_control_line: 4096, max_payload: 1 << 20, headers: true };

/// Parses a read buffer holding `n` ops; returns how many.
fn parse_all(buf: &[u8]) -> usize {
    let mut rest = buf;
    let mut n = 0;
    while let Ok(Parsed::Op(op, used)) = parse(rest, &LIMITS) {
        black_box(op);
        rest = &rest[used..];
        n += 1;
    }
    n
}

fn stream(one: &[u8], n: usize) -> Vec<u8> {
    one.repeat(n)
}

mod parser {
    use super::*;

    #[divan::bench(args = [16, 1024])]
    fn pub_messages(b: Bencher, size: usize) {
        let mut one = format!("PUB bench.subject.here {size}\r\n").into_bytes();
        one.extend(std::iter::repeat_n(b'x', size));
        one.extend_from_slice(b"\r\n");
        let buf = stream(&one, 1000);
        b.counter(divan::counter::BytesCount::of_slice(&buf)).bench(|| assert_eq!(parse_all(black_box(&buf)), 1000));
    }

    #[divan::bench]
    fn hpub_with_reply(b: Bencher) {
        let buf = stream(b"HPUB svc.req _INBOX.abcdef.1 12 17\r\nNATS/1.0\r\n\r\nhello\r\n", 1000);
        b.counter(divan::counter::ItemsCount::new(1000usize)).bench(|| parse_all(black_box(&buf)));
    }

    #[divan::bench]
    fn sub_unsub_ping(b: Bencher) {
        let buf = stream(b"SUB foo.bar q 12\r\nUNSUB 12 5\r\nPING\r\n", 1000);
        b.counter(divan::counter::ItemsCount::new(3000usize)).bench(|| parse_all(black_box(&buf)));
    }
}

/// A sublist with `n` literal subscriptions `s.<i>.x`, plus a few wildcards
/// and one queue group on the subject being matched.
fn populated(n: usize) -> Sublist<u64> {
    let sl = Sublist::new();
    for i in 0..n {
        sl.insert(format!("s.{i}.x").as_bytes(), None, Arc::new(i as u64)).unwrap();
    }
    sl.insert(b"s.*.x", None, Arc::new(0)).unwrap();
    sl.insert(b"s.>", None, Arc::new(0)).unwrap();
    for m in 0..4 {
        sl.insert(b"s.7.x", Some(b"workers"), Arc::new(m)).unwrap();
    }
    sl
}

mod sublist {
    use super::*;

    #[divan::bench(args = [1_000, 100_000])]
    fn match_literal_uncached(b: Bencher, n: usize) {
        let sl = populated(n);
        b.bench(|| black_box(sl.match_subject(black_box(b"s.7.x"))));
    }

    #[divan::bench]
    fn match_wildcard_publish_subject(b: Bencher) {
        let sl = populated(10_000);
        b.bench(|| black_box(sl.match_subject(black_box(b"s.*.x"))));
    }

    #[divan::bench]
    fn match_no_interest(b: Bencher) {
        let sl = populated(10_000);
        b.bench(|| black_box(sl.match_subject(black_box(b"other.subject"))));
    }

    #[divan::bench]
    fn cache_hit(b: Bencher) {
        let sl = populated(10_000);
        let mut cache = MatchCache::default();
        cache.get(&sl, b"s.7.x");
        b.bench_local(|| black_box(cache.get(&sl, black_box(b"s.7.x"))));
    }

    /// A request's fresh inbox subscribed and removed between two publishes:
    /// the entry survives (before the change log, every change emptied the
    /// cache and this was a miss, as in `cache_miss`).
    #[divan::bench]
    fn cache_after_unrelated_change(b: Bencher) {
        let sl = populated(10_000);
        let mut cache = MatchCache::default();
        let extra = Arc::new(1u64);
        b.bench_local(|| {
            sl.insert(b"churn", None, extra.clone()).unwrap();
            black_box(cache.get(&sl, black_box(b"s.7.x")));
            sl.remove(b"churn", None, &extra);
        });
    }

    /// A change the cached subject matches: that entry is matched anew.
    #[divan::bench]
    fn cache_after_matching_change(b: Bencher) {
        let sl = populated(10_000);
        let mut cache = MatchCache::default();
        let extra = Arc::new(1u64);
        b.bench_local(|| {
            sl.insert(b"s.*.x", None, extra.clone()).unwrap();
            black_box(cache.get(&sl, black_box(b"s.7.x")));
            sl.remove(b"s.*.x", None, &extra);
        });
    }

    /// What a lookup costs when the cache has nothing: a match and an insert.
    #[divan::bench]
    fn cache_miss(b: Bencher) {
        let sl = populated(10_000);
        b.bench_local(|| black_box(MatchCache::default().get(&sl, black_box(b"s.7.x"))));
    }

    #[divan::bench]
    fn insert_and_remove(b: Bencher) {
        let sl = populated(10_000);
        let item = Arc::new(1u64);
        b.bench_local(|| {
            sl.insert(b"a.b.c.d", None, item.clone()).unwrap();
            sl.remove(b"a.b.c.d", None, &item);
        });
    }

    /// One million subscriptions: building the index, then matching in it.
    #[divan::bench(sample_count = 3, sample_size = 1)]
    fn one_million_insert() -> Sublist<u64> {
        populated(1_000_000)
    }

    #[divan::bench]
    fn one_million_match(b: Bencher) {
        let sl = populated(1_000_000);
        b.bench(|| black_box(sl.match_subject(black_box(b"s.654321.x"))));
    }
}

/// Per-message permission checks: a deny rule on a wildcard subscription,
/// and a publish check, each against the subscription index they replaced.
mod permissions {
    use super::*;
    use rnats::server::subject_filter::SubjectFilter;

    const DENY: [&str; 4] = ["bench.secret.>", "admin.*", "sys.*.cmd", "audit"];

    #[divan::bench(args = ["bench.secret.x", "bench.open.x"])]
    fn deny_filter(b: Bencher, subject: &str) {
        let f = SubjectFilter::new(DENY.iter().map(|d| d.as_bytes()));
        b.bench(|| black_box(f.matches(black_box(subject.as_bytes()))));
    }

    #[divan::bench(args = ["bench.secret.x", "bench.open.x"])]
    fn deny_as_sublist(b: Bencher, subject: &str) {
        let sl = Sublist::<()>::new();
        for d in DENY {
            sl.insert(d.as_bytes(), None, Arc::new(())).unwrap();
        }
        b.bench(|| black_box(!sl.match_subject(black_box(subject.as_bytes())).psubs.is_empty()));
    }
}

/// The per-delivery bookkeeping on the subscriber's connection.
mod deliver {
    use super::*;
    use rnats::server::conn::bench;

    /// Every delivery after the first in a read chunk finds its subscriber
    /// already in the wake list: a load, no write to the shared line.
    #[divan::bench]
    fn mark_flush_queued_again(b: Bencher) {
        let conn = bench::client(1);
        conn.mark_flush_queued();
        b.bench_local(|| black_box(conn.mark_flush_queued()));
    }

    /// The once-per-chunk cycle: queued by the first delivery, woken at
    /// the end of the chunk.
    #[divan::bench]
    fn mark_then_flush(b: Bencher) {
        let conn = bench::client(1);
        b.bench_local(|| {
            black_box(conn.mark_flush_queued());
            conn.flush();
        });
    }

    /// What the same bookkeeping cost as a swap per delivery (the code
    /// before the load was added), for comparison on the same machine.
    #[divan::bench]
    fn swap_per_delivery_reference(b: Bencher) {
        let flag = std::sync::atomic::AtomicBool::new(true);
        b.bench_local(|| black_box(!flag.swap(true, std::sync::atomic::Ordering::AcqRel)));
    }
}

/// A connection's subscriptions by sid: the lookups of SUB, UNSUB and an
/// auto-unsubscribe reached during delivery.
mod sids {
    use super::*;
    use rnats::server::conn::bench;

    /// A sid in use among 100 others: SUB finds it taken.
    #[divan::bench]
    fn sub_to_sid_in_use(b: Bencher) {
        let conn = bench::client(1);
        for i in 0..100 {
            conn.subscribe(format!("s.{i}").as_bytes(), None, i.to_string().as_bytes(), None);
        }
        b.bench_local(|| black_box(conn.subscribe(b"s.other", None, black_box(b"57"), None)));
    }

    /// Looking a sid up, as UNSUB does.
    #[divan::bench]
    fn lookup(b: Bencher) {
        let conn = bench::client(1);
        for i in 0..100 {
            conn.subscribe(format!("s.{i}").as_bytes(), None, i.to_string().as_bytes(), None);
        }
        b.bench_local(|| black_box(conn.subscription(black_box(b"57"))));
    }
}

/// The sid map's hashers on the same keys: SipHash (std's default, what
/// the map used before) against foldhash (what it uses now).
mod sid_hashers {
    use super::*;
    use std::collections::HashSet;

    fn keys() -> Vec<Box<[u8]>> {
        (0..100).map(|i: u32| i.to_string().into_bytes().into_boxed_slice()).collect()
    }

    #[divan::bench]
    fn siphash_lookup(b: Bencher) {
        let set: HashSet<Box<[u8]>> = keys().into_iter().collect();
        b.bench_local(|| black_box(set.contains(black_box(&b"57"[..]))));
    }

    #[divan::bench]
    fn foldhash_lookup(b: Bencher) {
        let set: HashSet<Box<[u8]>, foldhash::fast::RandomState> = keys().into_iter().collect();
        b.bench_local(|| black_box(set.contains(black_box(&b"57"[..]))));
    }
}
