//! The pending responses of one exporting account's service imports: the
//! slab behind its `_R_.<PRE6>.<RND6>` reply subjects (design §4.3).
//!
//! A request that crosses into the account with a reply gets an entry here
//! ([`ResponseTable::allocate`]): the requester's reply subject, who the
//! requester is (`T`, the caller's account handle), the export's response
//! type and threshold. The responder answers on the `_R_` subject; the
//! message path hands it to [`ResponseTable::respond`], which finds the
//! entry by decoding the token (no hashing, no table-wide lock), lets the
//! caller deliver it to the requester, and frees the entry when the export's
//! rules say the exchange is over. [`ResponseTable::sweep`], run from a
//! timer, frees entries whose responder never answered.
//!
//! Concurrency: the slab grows in segments that are made once and never
//! moved, so a slot is found without a lock; each slot has its own mutex,
//! which only the requester's session (allocating) and the responder's
//! session (answering), or the sweeper, ever take. Free slots sit on a
//! lock-free stack. Nothing here is a counter shared by all requests.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use super::reply_token::{ReplyCodec, SlotRef, GENERATION_MASK, MAX_SLOTS};
use crate::options::ResponseType;

/// Outstanding responses per account at most, by default; beyond it a
/// request is delivered without a reply (nats-server has no bound).
pub const DEFAULT_MAX_OUTSTANDING: u32 = 1_000_000;

/// Slots in the first segment, as a power of two; segment `k` holds
/// `FIRST_SEGMENT << k`, so a quiet account costs one small segment.
const FIRST_SEGMENT_SHIFT: u32 = 8;
/// Enough doubling segments to address [`MAX_SLOTS`].
const SEGMENTS: usize = (super::reply_token::INDEX_BITS - FIRST_SEGMENT_SHIFT + 1) as usize;

/// The free-list head's low half: slot index + 1 (0 = empty list).
const HEAD_INDEX_MASK: u64 = 0xffff_ffff;

/// How an export's responses are handled: how many, and how long they are
/// waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePolicy {
    pub response_type: ResponseType,
    pub threshold: Duration,
}

/// How a sampled exchange ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// The request had no reply subject (400).
    NoReply,
    /// Nobody took the request (503).
    NoResponder,
    /// No answer within the response threshold (504).
    Timeout,
    /// The requester stopped listening for the answer (408).
    InterestLost,
}

/// A request sampled for latency, as its entry keeps it (the sample is
/// written by `service::latency`, which the table does not know).
pub trait Tracked: Send + Sync + std::fmt::Debug + std::any::Any {
    /// The exchange ended without an answer: send its sample.
    fn unanswered(&self, why: Unanswered);
}

/// What the deliver callback of [`ResponseTable::respond`] sees.
#[derive(Debug)]
pub struct Pending<'a, T> {
    /// The requester's own reply subject (its inbox).
    pub reply: &'a [u8],
    pub requester: &'a T,
    pub response_type: ResponseType,
    pub share: bool,
    /// The request was sampled for latency.
    pub tracking: Option<&'a dyn Tracked>,
}

/// What became of a message sent to a `_R_` subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not a reply subject of this table (other prefix, malformed).
    Foreign,
    /// A reply subject of this table whose entry is gone (answered, swept,
    /// or never issued): dropped, as nats-server drops it.
    Stale,
    /// The entry's threshold had passed: dropped and freed.
    Expired,
    /// Delivered to the requester; `freed` when that ended the exchange
    /// (single response, or an empty message for stream/chunked).
    Delivered { freed: bool },
    /// The callback could not deliver it: the entry is freed (nats-server's
    /// `!didDeliver`).
    Undelivered,
}

/// The table is at its bound: the caller gets its requester back and sends
/// the request on without a reply.
#[derive(Debug)]
pub struct Full<T>(pub T);

struct Live<T> {
    requester: T,
    response_type: ResponseType,
    threshold: Duration,
    /// When the request was made, or the last response of a stream passed.
    last: Instant,
    share: bool,
    /// A sampled request's latency tracking (boxed: one pointer for the
    /// others).
    tracking: Option<Box<dyn Tracked>>,
}

struct SlotState<T> {
    /// Bumped each time the slot is freed: tokens of earlier uses go stale.
    generation: u32,
    live: Option<Live<T>>,
    /// The requester's reply subject; the buffer is kept across uses.
    reply: Vec<u8>,
}

struct Slot<T> {
    /// The next free slot (index + 1, 0 = none) while this one is on the
    /// free list. Atomic because a popper may read it while another thread
    /// pops and re-pushes the slot; the head's tag makes that pop fail.
    next_free: AtomicU32,
    /// The entry. Taken by the requester's session (allocate), the
    /// responder's session (respond) and the sweeper: never contended by
    /// more than those, and never held across an await.
    state: Mutex<SlotState<T>>,
}

impl<T> Slot<T> {
    fn new() -> Slot<T> {
        Slot {
            next_free: AtomicU32::new(0),
            state: Mutex::new(SlotState { generation: 0, live: None, reply: Vec::new() }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState<T>> {
        // A panic while holding a slot leaves plain data behind: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One exporting account's pending responses. `T` is the requester handle
/// the caller wants back when a response arrives (an `Arc<Account>`).
pub struct ResponseTable<T> {
    codec: ReplyCodec,
    /// Segments of slots, each made once on first use and never moved, so
    /// readers index them without a lock (`OnceLock` only synchronises the
    /// one-time creation).
    segments: [OnceLock<Box<[Slot<T>]>>; SEGMENTS],
    /// Slots handed out fresh so far; new requests take fresh slots only
    /// when the free list is empty. Touched only on that growth path.
    fresh: AtomicU32,
    /// Upper bound of `fresh`: the outstanding-entries bound.
    limit: u32,
    /// Lock-free stack of freed slots: low 32 bits slot index + 1, high 32
    /// bits a tag bumped by every push and pop, so that a slot popped and
    /// pushed back between another popper's read and its compare-exchange
    /// cannot fool it (ABA).
    free_head: AtomicU64,
}

impl<T> ResponseTable<T> {
    /// A table with a random `_R_` prefix and token key, holding at most
    /// `max_outstanding` pending responses (capped at 2^20).
    pub fn new(max_outstanding: u32) -> ResponseTable<T> {
        ResponseTable::with_codec(ReplyCodec::random(), max_outstanding)
    }

    pub fn with_codec(codec: ReplyCodec, max_outstanding: u32) -> ResponseTable<T> {
        ResponseTable {
            codec,
            segments: std::array::from_fn(|_| OnceLock::new()),
            fresh: AtomicU32::new(0),
            limit: max_outstanding.min(MAX_SLOTS),
            free_head: AtomicU64::new(0),
        }
    }

    /// The account's reply-subject codec (prefix, interest subject).
    pub fn codec(&self) -> &ReplyCodec {
        &self.codec
    }

    /// Records a request that crossed into this account and writes its
    /// `_R_.<PRE6>.<RND6>` subject to `subject_out` (appended). `Full` when
    /// the table holds its bound of pending responses.
    pub fn allocate(
        &self,
        reply: &[u8],
        requester: T,
        policy: ResponsePolicy,
        share: bool,
        now: Instant,
        subject_out: &mut Vec<u8>,
    ) -> Result<SlotRef, Full<T>> {
        self.allocate_tracked(reply, requester, policy, share, None, now, subject_out)
    }

    /// [`ResponseTable::allocate`] for a request sampled for latency: the
    /// entry keeps `tracking` until the exchange ends.
    #[allow(clippy::too_many_arguments)]
    pub fn allocate_tracked(
        &self,
        reply: &[u8],
        requester: T,
        policy: ResponsePolicy,
        share: bool,
        tracking: Option<Box<dyn Tracked>>,
        now: Instant,
        subject_out: &mut Vec<u8>,
    ) -> Result<SlotRef, Full<T>> {
        let Some(index) = self.pop_free().or_else(|| self.take_fresh()) else {
            return Err(Full(requester));
        };
        let Some(slot) = self.slot(index) else {
            // take_fresh made the segment; pop_free only returns used slots.
            return Err(Full(requester));
        };
        let generation = {
            let mut state = slot.lock();
            state.reply.clear();
            state.reply.extend_from_slice(reply);
            state.live = Some(Live {
                requester,
                response_type: policy.response_type,
                threshold: policy.threshold,
                last: now,
                share,
                tracking,
            });
            state.generation
        };
        let slot_ref = SlotRef { index, generation };
        self.codec.write_subject(slot_ref, subject_out);
        Ok(slot_ref)
    }

    /// A message published to `subject` (a `_R_` subject) of `message_len`
    /// bytes, header and payload together. Finds the pending response and,
    /// unless it expired, calls `deliver` with the slot locked; `deliver`
    /// returns whether the message reached the requester. The entry is freed
    /// when it was not delivered, for a single response, and for stream and
    /// chunked on an empty message; otherwise its threshold clock restarts.
    ///
    /// `deliver` runs under the slot's lock: it must not answer the same
    /// `_R_` subject (another table's, or another slot's, is fine).
    pub fn respond<F>(&self, subject: &[u8], message_len: usize, now: Instant, deliver: F) -> Outcome
    where
        F: FnOnce(&Pending<'_, T>) -> bool,
    {
        let Some(slot_ref) = self.codec.decode_subject(subject) else {
            return Outcome::Foreign;
        };
        let Some(slot) = self.slot(slot_ref.index) else {
            return Outcome::Stale;
        };
        let mut state = slot.lock();
        if state.generation != slot_ref.generation {
            return Outcome::Stale;
        }
        let Some(live) = state.live.as_ref() else {
            return Outcome::Stale;
        };
        if now.saturating_duration_since(live.last) > live.threshold {
            free(&mut state, Some(Unanswered::Timeout));
            drop(state);
            self.push_free(slot_ref.index);
            return Outcome::Expired;
        }
        let pending = Pending {
            reply: &state.reply,
            requester: &live.requester,
            response_type: live.response_type,
            share: live.share,
            tracking: live.tracking.as_deref(),
        };
        let delivered = deliver(&pending);
        let ends = !delivered || live.response_type == ResponseType::Single || message_len == 0;
        if !ends {
            if let Some(live) = state.live.as_mut() {
                live.last = now;
            }
            return Outcome::Delivered { freed: false };
        }
        free(&mut state, None);
        drop(state);
        self.push_free(slot_ref.index);
        if delivered {
            Outcome::Delivered { freed: true }
        } else {
            Outcome::Undelivered
        }
    }

    /// Frees the entry of a request that reached no responder (nats-server
    /// removes it at once). A stale `slot` is ignored.
    pub fn release(&self, slot_ref: SlotRef) -> bool {
        self.release_for(slot_ref, Unanswered::NoResponder)
    }

    /// Frees the entry of a request that ended `why` without an answer
    /// (a sampled one sends that sample). A stale `slot` is ignored.
    pub fn release_for(&self, slot_ref: SlotRef, why: Unanswered) -> bool {
        let Some(slot) = self.slot(slot_ref.index) else {
            return false;
        };
        let mut state = slot.lock();
        if state.generation != slot_ref.generation || state.live.is_none() {
            return false;
        }
        free(&mut state, Some(why));
        drop(state);
        self.push_free(slot_ref.index);
        true
    }

    /// Whether the entry `slot_ref` still waits for its answer.
    pub fn is_live(&self, slot_ref: SlotRef) -> bool {
        self.slot(slot_ref.index).is_some_and(|slot| {
            let state = slot.lock();
            state.generation == slot_ref.generation && state.live.is_some()
        })
    }

    /// Frees the entry behind a `_R_` subject: for a response the caller
    /// delivered outside [`ResponseTable::respond`]'s callback and found
    /// undeliverable (nats-server frees it then, `!didDeliver`).
    pub fn release_subject(&self, subject: &[u8]) -> bool {
        self.codec.decode_subject(subject).is_some_and(|slot_ref| self.release(slot_ref))
    }

    /// Frees every entry whose threshold has passed at `now`; returns how
    /// many. Run from a timer every half of the smallest threshold or so:
    /// entries then go between 1x and 1.5x their threshold (nats-server:
    /// 1x to 2x). Responses that arrive late are dropped by `respond`
    /// anyway, so the sweep only bounds memory.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut freed = 0;
        for index in 0..self.fresh.load(Ordering::Acquire).min(self.limit) {
            let Some(slot) = self.slot(index) else { continue };
            // A slot that is locked is being answered or allocated right
            // now: it is not idle, and the next sweep will see it.
            let Ok(mut state) = slot.state.try_lock() else { continue };
            let expired = state.live.as_ref().is_some_and(|l| now.saturating_duration_since(l.last) > l.threshold);
            if expired {
                free(&mut state, Some(Unanswered::Timeout));
                drop(state);
                self.push_free(index);
                freed += 1;
            }
        }
        freed
    }

    /// Pending responses now (a scan: for monitoring and tests, not the
    /// message path).
    pub fn outstanding(&self) -> usize {
        (0..self.fresh.load(Ordering::Acquire).min(self.limit))
            .filter(|&i| self.slot(i).is_some_and(|s| s.lock().live.is_some()))
            .count()
    }

    /// The slot at `index`, if its segment exists.
    fn slot(&self, index: u32) -> Option<&Slot<T>> {
        let (segment, offset) = locate(index);
        self.segments.get(segment)?.get()?.get(offset)
    }

    /// A never-used slot, making its segment if needed; `None` at the bound.
    fn take_fresh(&self) -> Option<u32> {
        // fetch_update, not fetch_add: the counter must not run past the
        // bound, or sweep's range would cover slots that were never made.
        let index =
            self.fresh.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.limit).then_some(n + 1)).ok()?;
        let (segment, _) = locate(index);
        self.segments.get(segment)?.get_or_init(|| (0..segment_len(segment)).map(|_| Slot::new()).collect());
        Some(index)
    }

    fn pop_free(&self) -> Option<u32> {
        let mut head = self.free_head.load(Ordering::Acquire);
        loop {
            let top = (head & HEAD_INDEX_MASK) as u32;
            if top == 0 {
                return None;
            }
            let next = self.slot(top - 1).map_or(0, |s| s.next_free.load(Ordering::Acquire));
            let new = (next_tag(head) << 32) | u64::from(next);
            match self.free_head.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(top - 1),
                Err(now) => head = now,
            }
        }
    }

    fn push_free(&self, index: u32) {
        let Some(slot) = self.slot(index) else { return };
        let mut head = self.free_head.load(Ordering::Acquire);
        loop {
            slot.next_free.store((head & HEAD_INDEX_MASK) as u32, Ordering::Release);
            let new = (next_tag(head) << 32) | u64::from(index + 1);
            match self.free_head.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }
}

/// Ends an entry: its tokens go stale, the requester handle is dropped.
/// Frees a slot; a sampled request whose exchange ends this way (not
/// answered: `ending`) sends its latency sample.
fn free<T>(state: &mut SlotState<T>, ending: Option<Unanswered>) {
    state.generation = (state.generation + 1) & GENERATION_MASK;
    if let (Some(tracking), Some(ending)) = (state.live.take().and_then(|l| l.tracking), ending) {
        tracking.unanswered(ending);
    }
    state.reply.clear();
}

fn next_tag(head: u64) -> u64 {
    (head >> 32).wrapping_add(1) & HEAD_INDEX_MASK
}

/// Segment and offset of a slot index: segment `k` starts at
/// `FIRST * (2^k - 1)`.
fn locate(index: u32) -> (usize, usize) {
    let blocks = (index >> FIRST_SEGMENT_SHIFT) + 1;
    let segment = 31 - blocks.leading_zeros();
    let start = ((1u32 << segment) - 1) << FIRST_SEGMENT_SHIFT;
    (segment as usize, (index - start) as usize)
}

fn segment_len(segment: usize) -> usize {
    1usize << (FIRST_SEGMENT_SHIFT as usize + segment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const T2: Duration = Duration::from_secs(2);

    fn table(limit: u32) -> ResponseTable<&'static str> {
        ResponseTable::with_codec(ReplyCodec::with_key(*b"Pre6xy", [1, 2, 3, 4]), limit)
    }

    /// Allocates and returns the `_R_` subject.
    fn request(t: &ResponseTable<&'static str>, reply: &str, rt: ResponseType, now: Instant) -> Vec<u8> {
        let mut subject = Vec::new();
        t.allocate(
            reply.as_bytes(),
            "B",
            ResponsePolicy { response_type: rt, threshold: T2 },
            false,
            now,
            &mut subject,
        )
        .expect("room");
        subject
    }

    /// Responds and records where the response went.
    fn answer(t: &ResponseTable<&'static str>, subject: &[u8], len: usize, now: Instant) -> (Outcome, Option<String>) {
        let mut got = None;
        let outcome = t.respond(subject, len, now, |p| {
            got = Some(format!("{}:{}", p.requester, String::from_utf8_lossy(p.reply)));
            true
        });
        (outcome, got)
    }

    #[test]
    fn single_passes_the_first_reply_only() {
        let t = table(10);
        let now = Instant::now();
        let subject = request(&t, "_INBOX.b.1", ResponseType::Single, now);
        assert!(subject.starts_with(b"_R_.Pre6xy."));
        assert_eq!(t.outstanding(), 1);
        assert_eq!(answer(&t, &subject, 4, now), (Outcome::Delivered { freed: true }, Some("B:_INBOX.b.1".into())));
        assert_eq!(answer(&t, &subject, 4, now), (Outcome::Stale, None));
        assert_eq!(t.outstanding(), 0);
    }

    #[test]
    fn stream_and_chunked_end_on_an_empty_message() {
        for rt in [ResponseType::Stream, ResponseType::Chunked] {
            let t = table(10);
            let now = Instant::now();
            let subject = request(&t, "_INBOX.b.3", rt, now);
            for _ in 0..3 {
                assert_eq!(answer(&t, &subject, 4, now).0, Outcome::Delivered { freed: false });
            }
            assert_eq!(answer(&t, &subject, 0, now), (Outcome::Delivered { freed: true }, Some("B:_INBOX.b.3".into())));
            assert_eq!(answer(&t, &subject, 5, now).0, Outcome::Stale);
        }
    }

    #[test]
    fn a_reply_after_the_threshold_is_dropped() {
        let t = table(10);
        let now = Instant::now();
        let single = request(&t, "_INBOX.b.6", ResponseType::Single, now);
        assert_eq!(answer(&t, &single, 4, now + T2 + Duration::from_millis(1)), (Outcome::Expired, None));
        assert_eq!(answer(&t, &single, 4, now).0, Outcome::Stale);
        // Stream: each delivered reply restarts the clock.
        let stream = request(&t, "_INBOX.b.5", ResponseType::Stream, now);
        let later = now + Duration::from_millis(1500);
        assert_eq!(answer(&t, &stream, 4, later).0, Outcome::Delivered { freed: false });
        assert_eq!(answer(&t, &stream, 4, later + Duration::from_millis(1500)).0, Outcome::Delivered { freed: false });
        assert_eq!(answer(&t, &stream, 4, later + Duration::from_secs(10)).0, Outcome::Expired);
    }

    #[test]
    fn release_by_subject_ends_a_stream() {
        let t = table(10);
        let now = Instant::now();
        let subject = request(&t, "_INBOX.b.1", ResponseType::Stream, now);
        assert_eq!(answer(&t, &subject, 4, now).0, Outcome::Delivered { freed: false });
        assert!(t.release_subject(&subject));
        assert!(!t.release_subject(&subject), "once");
        assert!(!t.release_subject(b"_INBOX.x"));
        assert_eq!(answer(&t, &subject, 4, now).0, Outcome::Stale);
    }

    #[test]
    fn an_undelivered_reply_frees_the_entry() {
        let t = table(10);
        let now = Instant::now();
        let subject = request(&t, "_INBOX.b.1", ResponseType::Stream, now);
        assert_eq!(t.respond(&subject, 4, now, |_| false), Outcome::Undelivered);
        assert_eq!(answer(&t, &subject, 4, now).0, Outcome::Stale);
    }

    #[test]
    fn foreign_subjects_are_not_ours() {
        let t = table(10);
        let other = ResponseTable::<&str>::with_codec(ReplyCodec::with_key(*b"Other1", [1, 2, 3, 4]), 10);
        let now = Instant::now();
        let mut subject = Vec::new();
        other
            .allocate(
                b"x",
                "C",
                ResponsePolicy { response_type: ResponseType::Single, threshold: T2 },
                false,
                now,
                &mut subject,
            )
            .expect("room");
        assert_eq!(answer(&t, &subject, 4, now).0, Outcome::Foreign);
        assert_eq!(answer(&t, b"_INBOX.x", 4, now).0, Outcome::Foreign);
        // Ours, but never issued: a slot that does not exist yet, and one
        // that exists but holds nothing.
        let mut never = Vec::new();
        t.codec().write_subject(SlotRef { index: 5000, generation: 0 }, &mut never);
        assert_eq!(answer(&t, &never, 4, now).0, Outcome::Stale);
        never.clear();
        t.codec().write_subject(SlotRef { index: 3, generation: 0 }, &mut never);
        assert_eq!(answer(&t, &never, 4, now).0, Outcome::Stale);
    }

    #[test]
    fn a_reused_slot_rejects_the_old_token() {
        let t = table(1);
        let now = Instant::now();
        let first = request(&t, "_INBOX.old", ResponseType::Single, now);
        assert_eq!(answer(&t, &first, 1, now).0, Outcome::Delivered { freed: true });
        let second = request(&t, "_INBOX.new", ResponseType::Single, now);
        assert_ne!(first, second, "same slot, new generation, new token");
        assert_eq!(answer(&t, &first, 1, now).0, Outcome::Stale);
        assert_eq!(answer(&t, &second, 1, now).1, Some("B:_INBOX.new".into()));
    }

    #[test]
    fn the_bound_refuses_and_frees_make_room() {
        let t = table(3);
        let now = Instant::now();
        let subjects: Vec<_> = (0..3).map(|i| request(&t, &format!("_INBOX.{i}"), ResponseType::Single, now)).collect();
        let mut out = Vec::new();
        let full = t.allocate(
            b"_INBOX.x",
            "B",
            ResponsePolicy { response_type: ResponseType::Single, threshold: T2 },
            false,
            now,
            &mut out,
        );
        assert!(matches!(full, Err(Full("B"))));
        assert!(out.is_empty());
        assert!(t.release(t.codec().decode_subject(&subjects[1]).expect("ours")));
        assert!(!t.release(t.codec().decode_subject(&subjects[1]).expect("ours")), "released once");
        request(&t, "_INBOX.x", ResponseType::Single, now);
        assert_eq!(t.outstanding(), 3);
    }

    #[test]
    fn sweep_frees_only_expired_entries() {
        let t = table(100);
        let now = Instant::now();
        let old = request(&t, "_INBOX.old", ResponseType::Stream, now);
        let mut short = Vec::new();
        t.allocate(
            b"_INBOX.short",
            "B",
            ResponsePolicy { response_type: ResponseType::Single, threshold: Duration::from_millis(100) },
            false,
            now,
            &mut short,
        )
        .expect("room");
        let young = request(&t, "_INBOX.young", ResponseType::Single, now + Duration::from_secs(1));
        assert_eq!(t.sweep(now + Duration::from_millis(50)), 0);
        assert_eq!(t.sweep(now + Duration::from_millis(150)), 1);
        assert_eq!(t.sweep(now + Duration::from_millis(2500)), 1);
        assert_eq!(answer(&t, &old, 1, now).0, Outcome::Stale);
        assert_eq!(answer(&t, &short, 1, now).0, Outcome::Stale);
        assert_eq!(answer(&t, &young, 1, now + Duration::from_secs(2)).0, Outcome::Delivered { freed: true });
    }

    #[test]
    fn share_and_type_reach_the_callback() {
        let t = table(10);
        let now = Instant::now();
        let mut subject = Vec::new();
        t.allocate(
            b"r",
            "C",
            ResponsePolicy { response_type: ResponseType::Chunked, threshold: T2 },
            true,
            now,
            &mut subject,
        )
        .expect("room");
        let mut seen = None;
        t.respond(&subject, 1, now, |p| {
            seen = Some((p.share, p.response_type));
            true
        });
        assert_eq!(seen, Some((true, ResponseType::Chunked)));
    }

    #[test]
    fn segments_cover_the_index_space() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(255), (0, 255));
        assert_eq!(locate(256), (1, 0));
        assert_eq!(locate(767), (1, 511));
        assert_eq!(locate(768), (2, 0));
        let (segment, offset) = locate(MAX_SLOTS - 1);
        assert!(segment < SEGMENTS && offset < segment_len(segment));
    }

    #[test]
    fn grows_past_the_first_segments() {
        let t = table(2000);
        let now = Instant::now();
        let subjects: Vec<_> =
            (0..2000).map(|i| request(&t, &format!("_INBOX.{i}"), ResponseType::Single, now)).collect();
        for (i, s) in subjects.iter().enumerate() {
            assert_eq!(answer(&t, s, 1, now).1, Some(format!("B:_INBOX.{i}")));
        }
        assert_eq!(t.outstanding(), 0);
    }

    #[test]
    fn threads_allocate_and_answer_without_mixups() {
        let t = Arc::new(ResponseTable::<u64>::new(1 << 16));
        let now = Instant::now();
        let workers: Vec<_> = (0..4u64)
            .map(|w| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    let mut subject = Vec::new();
                    for i in 0..5000u64 {
                        subject.clear();
                        let id = w * 1_000_000 + i;
                        let reply = id.to_string();
                        t.allocate(
                            reply.as_bytes(),
                            id,
                            ResponsePolicy { response_type: ResponseType::Single, threshold: T2 },
                            false,
                            now,
                            &mut subject,
                        )
                        .expect("room");
                        let outcome =
                            t.respond(&subject, 1, now, |p| p.reply == reply.as_bytes() && *p.requester == id);
                        assert_eq!(outcome, Outcome::Delivered { freed: true });
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("worker");
        }
        assert_eq!(t.outstanding(), 0);
        // Slots were reused rather than grown per request.
        assert!(t.fresh.load(Ordering::Relaxed) <= 64, "{}", t.fresh.load(Ordering::Relaxed));
    }
}
