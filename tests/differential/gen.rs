//! The seeded session generator.
//!
//! It keeps a rough model of each connection (connected, alive, the CONNECT
//! options as nats-server would merge them, its subscriptions) only to make
//! useful sessions: publishes that match subscriptions, ops on connections
//! that are still open. The model need not be right; the servers are the
//! oracle.
//!
//! Determinism rules it follows: queue group names are unique (a group with
//! two members picks one at random); an op whose handling in the reference
//! depends on where a read ends (a pedantic-invalid publish subject, HMSG from
//! a client, a CR inside a control line) is written whole and small, and never
//! left half-sent across steps.

use super::session::{Config, Session, Step};

/// nats-server's read buffer shrinks to 64 bytes after a few short reads;
/// an op that must be read whole is kept within one such read. (Where a
/// longer one is cut depends on the buffer's size, which depends on how the
/// client's writes happened to coalesce: it varies from run to run of the
/// reference itself.)
const WHOLE_READ: usize = 60;

/// SplitMix64: tiny, seedable, and stable across releases.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn pct(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn pick_bytes(&mut self, items: &[&'static [u8]]) -> &'static [u8] {
        items[self.below(items.len())]
    }
}

/// The seed of session `i` of a run whose base seed is `base`.
pub fn session_seed(base: u64, i: u64) -> u64 {
    let mut r = Rng::new(base ^ i.wrapping_mul(0xa076_1d64_78bd_642f));
    r.next_u64()
}

/// What the generator believes about one connection.
#[derive(Clone)]
struct Model {
    alive: bool,
    connects: usize,
    verbose: bool,
    pedantic: bool,
    headers: bool,
    no_responders: bool,
    subs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Every sid a SUB on this connection used.
    sids: Vec<Vec<u8>>,
    /// The rest of an op whose first part was sent by an unsynced step.
    pending: Option<Vec<u8>>,
}

impl Model {
    fn new() -> Model {
        Model {
            alive: true,
            connects: 0,
            verbose: true,
            pedantic: true,
            headers: false,
            no_responders: false,
            subs: Vec::new(),
            sids: Vec::new(),
            pending: None,
        }
    }
}

/// One generated op: its bytes, the known-difference ids it exercises,
/// whether it must be written whole, and whether it likely closes the conn.
struct Op {
    bytes: Vec<u8>,
    tags: Vec<&'static str>,
    whole: bool,
    closes: bool,
    /// Publishes to a subject nats-server's pedantic check rejects.
    pedantic_invalid: bool,
    /// Has a CR inside a control line (which changes its arguments).
    cr: bool,
}

impl Op {
    fn new(bytes: Vec<u8>) -> Op {
        Op { bytes, tags: Vec::new(), whole: false, closes: false, pedantic_invalid: false, cr: false }
    }
    fn closing(mut self) -> Op {
        self.closes = true;
        self
    }
    fn whole(mut self) -> Op {
        self.whole = true;
        self
    }
    fn tag(mut self, t: &'static str) -> Op {
        self.tags.push(t);
        self
    }
}

struct Gen {
    rng: Rng,
    config: Config,
    conns: Vec<Model>,
    steps: Vec<Step>,
    /// Numbers payloads, so copies of one publish can be told from another.
    msg_no: usize,
    /// Numbers queue groups, so no group ever has two members.
    queue_no: usize,
    /// The last CONNECT JSON made has an `account` or `new_account:true` member.
    account_field: bool,
    /// The last CONNECT JSON made lacks the right token (Token config).
    bad_token: bool,
    /// The last CONNECT JSON made has a credential member (user, pass, ...).
    credentials: bool,
    /// The last CONNECT JSON made has a bad protocol or no_responders:true.
    refused_after_auth: bool,
}

pub fn generate(seed: u64) -> Session {
    let mut rng = Rng::new(seed);
    let config = match rng.below(100) {
        0..=59 => Config::Default,
        60..=72 => Config::Token,
        73..=86 => Config::Limits,
        _ => Config::Perms,
    };
    let nconns = 1 + rng.below(3);
    let nsteps = 3 + rng.below(26);
    let mut g = Gen {
        rng,
        config,
        conns: vec![Model::new(); nconns],
        steps: Vec::new(),
        msg_no: 0,
        queue_no: 0,
        account_field: false,
        bad_token: false,
        credentials: false,
        refused_after_auth: false,
    };
    for _ in 0..nsteps {
        let Some(c) = g.pick_conn() else { break };
        if let Some(rest) = g.conns[c].pending.take() {
            g.steps.push(Step { conn: c, bytes: rest, splits: Vec::new(), sync: true, tags: Vec::new() });
            continue;
        }
        g.step(c);
    }
    // Usually finish what was left half-sent; sometimes leave it to the end.
    for c in 0..nconns {
        if let Some(rest) = g.conns[c].pending.take() {
            if g.rng.pct(80) {
                g.steps.push(Step { conn: c, bytes: rest, splits: Vec::new(), sync: true, tags: Vec::new() });
            }
        }
    }
    let mut session = Session::from_steps(seed, config, g.steps);
    session.conns = session.conns.max(nconns);
    session
}

const SUB_TOKENS: &[&[u8]] = &[b"a", b"b", b"c", b"*", b">"];
const ODD_TOKENS: &[&[u8]] = &[
    b"f>o",
    b"foo*",
    b"\xc3\xbc",
    b"a\x0cb",
    b"\x00",
    b"\x7f",
    b"$SYS",
    b"_INBOX",
    b"a-b",
    b"A",
    b"**",
    b">>",
    b"",
    b"\xff",
];
const SIDS: &[&[u8]] = &[b"1", b"2", b"3", b"10", b"x", b"sid.9", b"0", b"-1", b"\xc3\xa9"];

impl Gen {
    fn pick_conn(&mut self) -> Option<usize> {
        let alive: Vec<usize> = (0..self.conns.len()).filter(|&c| self.conns[c].alive).collect();
        if alive.is_empty() {
            // Sometimes keep poking a connection believed closed: the model may be wrong.
            return self.rng.pct(20).then(|| self.rng.below(self.conns.len()));
        }
        Some(*self.rng.pick(&alive))
    }

    fn step(&mut self, c: usize) {
        let first = self.op(c);
        if first.whole {
            return self.emit(c, vec![first]);
        }
        let mut ops = vec![first];
        // Several ops in one write exercise the parser's buffer handling.
        while self.rng.pct(22) && ops.len() < 4 && !ops.iter().any(|o| o.closes) {
            let op = self.op(c);
            if op.whole {
                // An op that must be read whole gets a write of its own.
                self.emit(c, ops);
                return self.emit(c, vec![op]);
            }
            ops.push(op);
        }
        self.emit(c, ops)
    }

    /// Pushes the step that writes `ops` on connection `c`.
    fn emit(&mut self, c: usize, ops: Vec<Op>) {
        let mut bytes = Vec::new();
        let mut tags = Vec::new();
        let mut whole = false;
        // A publish to a subject the pedantic check rejects gets its -ERR
        // twice when a read ends inside its payload; with reads as small as
        // 64 bytes, whether one does is up to chance for a longer op.
        let mut ops = ops;
        ops.retain(|op| !(op.pedantic_invalid && op.bytes.len() > WHOLE_READ));
        if ops.is_empty() {
            return;
        }
        for op in &ops {
            bytes.extend_from_slice(&op.bytes);
            tags.extend(op.tags.iter().copied());
            whole |= op.whole;
        }
        if ops.iter().any(|o| o.closes) {
            self.conns[c].alive = false;
        }
        tags.sort_unstable();
        tags.dedup();
        // A publish may be left half-sent, to be finished by a later step.
        let last = ops.last().map(|o| o.bytes.len()).unwrap_or(0);
        let is_pub = bytes.len() >= last && {
            let head = &bytes[bytes.len() - last..];
            head.len() > 4 && (head[..4].eq_ignore_ascii_case(b"PUB ") || head[..4].eq_ignore_ascii_case(b"HPUB"))
        };
        // (Only a lone op: ops before it in the write would take effect
        // with no round trip to order them before other connections' steps.)
        if !whole && ops.len() == 1 && is_pub && self.conns[c].alive && self.rng.pct(12) {
            let start = bytes.len() - last;
            let cut = start + 1 + self.rng.below(last - 1);
            let rest = bytes.split_off(cut);
            self.conns[c].pending = Some(rest);
            self.steps.push(Step { conn: c, bytes, splits: Vec::new(), sync: false, tags });
            return;
        }
        let mut splits = Vec::new();
        if !whole && bytes.len() > 1 && self.rng.pct(30) {
            for _ in 0..1 + self.rng.below(3) {
                splits.push(1 + self.rng.below(bytes.len() - 1));
            }
            splits.sort_unstable();
            splits.dedup();
        }
        self.steps.push(Step { conn: c, bytes, splits, sync: true, tags });
    }

    fn op(&mut self, c: usize) -> Op {
        let before_connect = self.conns[c].connects == 0;
        let mut op = self.any_op(c);
        if before_connect && self.conns[c].connects == 0 {
            match self.config {
                // Before CONNECT, nats-server refuses any op but CONNECT on
                // its first byte, before the parser can fail on a later one.
                Config::Token => op.tags.push("auth-first-byte"),
                // With no_auth_user, ops before CONNECT run as that user.
                Config::Perms => op.tags.push("no-auth-user-before-connect"),
                _ => {}
            }
        }
        op
    }

    fn any_op(&mut self, c: usize) -> Op {
        if self.conns[c].connects == 0 && self.rng.pct(75) {
            return self.connect(c);
        }
        match self.rng.below(100) {
            0..=19 => self.sub(c),
            20..=44 => self.publish(c),
            45..=52 => self.hpub(c),
            53..=58 => self.unsub(c),
            59..=63 => self.connect(c),
            64..=70 => self.request(c),
            71..=76 => self.ping_like(),
            77..=81 => self.info_from_client(c),
            82..=86 => self.server_verb(c),
            87..=89 => self.garbage(),
            90..=91 => self.long_line(c),
            _ => self.publish(c),
        }
    }

    // ---- formatting -------------------------------------------------------

    /// A control line with the variations nats-server accepts: verb case,
    /// runs of spaces and tabs, trailing blanks, a bare LF ending.
    fn line(&mut self, verb: &str, args: &[&[u8]]) -> Op {
        let mut out = Vec::new();
        match self.rng.below(10) {
            0 => out.extend(verb.to_ascii_lowercase().bytes()),
            1 => out.extend(verb.bytes().map(|b| if self.rng.pct(50) { b.to_ascii_lowercase() } else { b })),
            _ => out.extend(verb.bytes()),
        }
        for a in args {
            let sep = self.sep();
            out.extend_from_slice(sep);
            out.extend_from_slice(a);
        }
        if self.rng.pct(8) {
            out.extend_from_slice(self.rng.pick_bytes(&[b" ", b"\t", b"  "]));
        }
        let mut op = Op::new(Vec::new());
        // (Only in a short line: nats-server's reads may be as small as 64
        // bytes, and a CR in a line cut by a read is dropped instead.)
        if self.rng.pct(3) && out.len() > verb.len() + 1 && out.len() < 40 {
            // A CR inside the line: nats-server then drops the byte before
            // the LF. Its handling depends on read boundaries, so keep it whole.
            let at = verb.len() + 1 + self.rng.below(out.len() - verb.len());
            out.insert(at.min(out.len()), b'\r');
            op = op.whole();
            op.cr = true;
        }
        out.extend_from_slice(if self.rng.pct(15) { b"\n" } else { b"\r\n" });
        op.bytes = out;
        op
    }

    fn sep(&mut self) -> &'static [u8] {
        match self.rng.below(20) {
            0 => b"\t",
            1 => b"  ",
            2 => b" \t",
            3 => b"\t\t ",
            _ => b" ",
        }
    }

    // ---- subjects ---------------------------------------------------------

    fn token(&mut self, wild: bool) -> Vec<u8> {
        if self.rng.pct(4) {
            return self.rng.pick(ODD_TOKENS).to_vec();
        }
        if wild {
            self.rng.pick(SUB_TOKENS).to_vec()
        } else {
            self.rng.pick(&SUB_TOKENS[..3]).to_vec()
        }
    }

    fn subject(&mut self, wild: bool) -> Vec<u8> {
        let n = 1 + self.rng.below(3);
        let mut toks: Vec<Vec<u8>> = (0..n).map(|_| self.token(wild)).collect();
        if self.config == Config::Perms && self.rng.pct(25) {
            // Subjects the user may not publish or subscribe to.
            let first: &[u8] = self.rng.pick_bytes(&[b"secret", b"q"]);
            toks.insert(0, first.to_vec());
        }
        toks.join(&b"."[..])
    }

    /// A subject to publish to: mostly one some subscription matches.
    fn pub_subject(&mut self, c: usize) -> Vec<u8> {
        let all: Vec<Vec<u8>> = self.conns.iter().flat_map(|m| m.subs.iter().map(|(s, _)| s.clone())).collect();
        if !all.is_empty() && self.rng.pct(60) {
            let s = self.rng.pick(&all).clone();
            // Turn wildcards into literals so the subject matches.
            let toks: Vec<Vec<u8>> = s
                .split(|&b| b == b'.')
                .map(|t| match t {
                    b"*" => b"b".to_vec(),
                    b">" => b"c.d".to_vec(),
                    t => t.to_vec(),
                })
                .collect();
            return toks.join(&b"."[..]);
        }
        let _ = c;
        let wild = self.rng.pct(10);
        self.subject(wild)
    }

    fn queue(&mut self) -> Vec<u8> {
        self.queue_no += 1;
        let base: &[u8] = self.rng.pick_bytes(&[b"q", b"q.x", b"q*", b"q>", b">", b"*", b"Q", b"\xc3\xa9"]);
        let mut q = base.to_vec();
        q.extend(self.queue_no.to_string().bytes());
        q
    }

    fn payload(&mut self) -> Vec<u8> {
        self.msg_no += 1;
        let mut p = format!("m{}", self.msg_no).into_bytes();
        let extra = if self.rng.pct(5) {
            600 + self.rng.below(400)
        } else if self.config == Config::Limits && self.rng.pct(20) {
            // Around max_payload (64).
            56 + self.rng.below(12)
        } else {
            self.rng.below(12)
        };
        for _ in 0..extra {
            p.push(*self.rng.pick(b"xyz \r\n\0\t.-"));
        }
        p
    }

    /// A payload that only numbers the message.
    fn short_payload(&mut self) -> Vec<u8> {
        self.msg_no += 1;
        format!("m{}", self.msg_no).into_bytes()
    }

    // ---- ops --------------------------------------------------------------

    fn connect(&mut self, c: usize) -> Op {
        let second = self.conns[c].connects > 0;
        self.conns[c].connects += 1;
        let (json, ok, effects) = self.connect_json();
        let mut line = match self.rng.below(12) {
            0 => b"connect ".to_vec(),
            1 => b"CONNECT\t".to_vec(),
            2 => b"CONNECT".to_vec(),
            3 => b"Connect  ".to_vec(),
            _ => b"CONNECT ".to_vec(),
        };
        line.extend_from_slice(&json);
        line.extend_from_slice(if self.rng.pct(10) { b"\n" } else { b"\r\n" });
        let mut op = Op::new(line);
        if second {
            op = op.tag("second-connect");
        }
        let m = &mut self.conns[c];
        for (field, value) in effects {
            match field {
                "verbose" => m.verbose = value,
                "pedantic" => m.pedantic = value,
                "headers" => m.headers = value,
                "no_responders" => m.no_responders = value,
                _ => {}
            }
        }
        if second {
            // nats-server drops every subscription on a second CONNECT.
            m.subs.clear();
        }
        if !ok || (m.no_responders && !m.headers) {
            op = op.closing();
        }
        if self.account_field {
            op = op.tag("connect-account");
        }
        if self.config == Config::Token && self.bad_token && self.refused_after_auth {
            op = op.tag("connect-check-order");
        }
        if self.config == Config::Perms && self.credentials {
            op = op.tag("no-auth-user-credentials");
        }
        op
    }

    /// CONNECT JSON, whether nats-server accepts it, and the bool options it sets.
    fn connect_json(&mut self) -> (Vec<u8>, bool, Vec<(&'static str, bool)>) {
        self.account_field = false;
        self.credentials = false;
        self.bad_token = true;
        self.refused_after_auth = false;
        if self.rng.pct(7) {
            let (j, ok): (&[u8], bool) = *self.rng.pick(&[
                (&b"[]"[..], false),
                (b"null", true),
                (b"\"x\"", false),
                (b"1", false),
                (b"true", false),
                (b"{}x", false),
                (b"{", false),
                (b"{\"verbose\":false", false),
                (b"[{}]", false),
                (b"{}{}", false),
                (b" {} ", true),
                (b"{\"a\":[[[[{}]]]]}", true),
                (b"", false),
                (b"{\"verbose\":false,}", false),
                (b"{'verbose':false}", false),
                (b"{\"verbose\":False}", false),
                (b"\t\t{\"verbose\":false,\"pedantic\":false}", true),
            ]);
            let effects = if j.starts_with(b"\t\t") { vec![("verbose", false), ("pedantic", false)] } else { vec![] };
            return (j.to_vec(), ok, effects);
        }
        let mut ok = true;
        let mut effects = Vec::new();
        let mut fields: Vec<Vec<u8>> = Vec::new();
        if self.config == Config::Token {
            match self.rng.below(10) {
                0 => ok = false,
                1 => {
                    ok = false;
                    fields.push(self.field("auth_token", b"\"wrong\""));
                }
                _ => {
                    self.bad_token = false;
                    fields.push(self.field("auth_token", b"\"s3cret\""));
                }
            }
        }
        for name in ["verbose", "pedantic", "headers", "no_responders", "echo"] {
            let present = match name {
                "verbose" | "pedantic" => self.rng.pct(85),
                _ => self.rng.pct(45),
            };
            if !present {
                continue;
            }
            let (value, parsed): (&[u8], Option<Option<bool>>) = match self.rng.below(40) {
                0 => (b"null", Some(None)),
                1 => (b"1", None),
                2 => (b"\"true\"", None),
                3 => (b"[]", None),
                _ => {
                    if self.rng.pct(50) {
                        (b"true", Some(Some(true)))
                    } else {
                        (b"false", Some(Some(false)))
                    }
                }
            };
            match parsed {
                None => ok = false,
                Some(Some(v)) => effects.push((name, v)),
                Some(None) => {}
            }
            // no_responders without headers is refused after the credentials.
            self.refused_after_auth |= name == "no_responders" && parsed == Some(Some(true));
            fields.push(self.field(name, value));
        }
        if self.rng.pct(50) {
            let (v, good): (&[u8], bool) = *self.rng.pick(&[
                (&b"1"[..], true),
                (b"0", true),
                (b"1", true),
                (b"2", false),
                (b"-1", false),
                (b"\"1\"", false),
                (b"1.0", false),
                (b"-0", true),
                (b"1e0", false),
                (b"null", true),
                (b"99999999999999999999", false),
            ]);
            ok &= good;
            self.refused_after_auth |= v == b"2" || v == b"-1";
            fields.push(self.field("protocol", v));
        }
        for name in ["name", "lang", "version", "user", "pass", "auth_token"] {
            if self.rng.pct(15) {
                let v: &[u8] = self.rng.pick_bytes(&[
                    &b"\"x\""[..],
                    b"\"\"",
                    b"null",
                    b"\"\xc3\xa9\"",
                    b"\"\xff\xfe\"",
                    b"\"\\ud800\"",
                    b"\"\\u0041\\n\"",
                    b"1",
                ]);
                ok &= v != b"1";
                self.credentials |= ["user", "pass", "auth_token"].contains(&name);
                // A repeated auth_token wins over the right one.
                self.bad_token |= name == "auth_token";
                fields.push(self.field(name, v));
            }
        }
        if self.rng.pct(6) {
            let (k, v, good): (&str, &[u8], bool) = *self.rng.pick(&[
                ("tls_required", &b"false"[..], true),
                ("unknown", b"{\"x\":[1,2,{\"y\":null}]}", true),
                ("import", b"{\"allow\":[\"a\"]}", true),
                ("import", b"{\"allow\":1}", false),
                ("export", b"null", true),
                ("account", b"\"x\"", false),
                ("new_account", b"false", true),
                ("new_account", b"true", false),
                ("jwt", b"\"e30\"", true),
                ("sig", b"1", false),
            ]);
            ok &= good;
            // nats-server refuses these after the credentials check.
            self.account_field |= k == "account" || (k == "new_account" && v == b"true");
            self.credentials |= ["jwt", "sig", "nkey"].contains(&k);
            fields.push(self.field(k, v));
        }
        if !fields.is_empty() && self.rng.pct(5) {
            // A repeated key: the last one wins in Go.
            let dup = fields[self.rng.below(fields.len())].clone();
            fields.push(dup);
        }
        let (open, comma, close): (&[u8], &[u8], &[u8]) = match self.rng.below(8) {
            0 => (b"{ ", b", ", b" }"),
            1 => (b"{\t", b",\t", b"}"),
            _ => (b"{", b",", b"}"),
        };
        let mut json = open.to_vec();
        json.extend_from_slice(&fields.join(comma));
        json.extend_from_slice(close);
        (json, ok, effects)
    }

    /// `"name":value`, sometimes with the key in another case or escaped:
    /// Go matches JSON keys to fields case-insensitively.
    fn field(&mut self, name: &str, value: &[u8]) -> Vec<u8> {
        let key: Vec<u8> = match self.rng.below(25) {
            0 => name.to_ascii_uppercase().into_bytes(),
            1 => {
                let mut k = name.as_bytes().to_vec();
                k[0] = k[0].to_ascii_uppercase();
                k
            }
            2 => {
                let mut k = name.as_bytes().to_vec();
                k[0] = k[0].to_ascii_uppercase();
                // `\u0065` is `e`; escapes are decoded before matching.
                let s = String::from_utf8_lossy(&k).replacen('e', "\\u0065", 1);
                s.into_bytes()
            }
            _ => name.as_bytes().to_vec(),
        };
        let mut f = b"\"".to_vec();
        f.extend_from_slice(&key);
        f.extend_from_slice(b"\":");
        f.extend_from_slice(value);
        f
    }

    fn sub(&mut self, c: usize) -> Op {
        let mut subject = self.subject(true);
        if matches!(self.config, Config::Token | Config::Perms)
            && (subject.starts_with(b"*") || subject.starts_with(b">") || subject.starts_with(b"$SYS"))
        {
            // Not a subscription that could match $SYS.ACCOUNT.CLIENT.AUTH.ERR:
            // nats-server publishes that advisory (asynchronously) when a
            // client fails to authenticate, and rnats has no such events.
            subject = [&b"a."[..], &subject].concat();
        }
        let sid = if self.rng.pct(85) { self.rng.pick(SIDS).to_vec() } else { b"s".to_vec() };
        let queue = self.rng.pct(25).then(|| self.queue());
        let mut args: Vec<&[u8]> = vec![&subject];
        if let Some(q) = &queue {
            args.push(q);
        }
        args.push(&sid);
        let mut op = self.line("SUB", &args);
        if valid_sub_subject(&subject) && !self.conns[c].subs.iter().any(|(_, s)| *s == sid) {
            self.conns[c].subs.push((subject.clone(), sid.clone()));
        }
        if subject.contains(&0x0c) {
            op = op.tag("sub-subject-formfeed");
        }
        let odd = |b: &[u8]| b.iter().any(|b| !(0x20..0x7f).contains(b));
        if self.config == Config::Perms && (op.cr || odd(&subject) || queue.as_deref().is_some_and(odd)) {
            // A permission -ERR quotes the subject as Go's %q does.
            op = op.tag("go-quoting");
        }
        // A CR in the line (`op.cr`) can move the arguments around: any piece
        // may then be the subject or the sid.
        op = self.note_sids(c, op, !valid_sub_subject(&subject), &sid);
        if self.rng.pct(3) {
            // Wrong argument counts close the connection silently.
            let mut bad = self.line("SUB", &[&subject]);
            if self.rng.pct(50) {
                bad = self.line("SUB", &[&subject, b"q", b"1", b"x"]);
            }
            return bad.closing();
        }
        op
    }

    /// Records the sids a SUB may use and tags it when nats-server would
    /// find its sid in use before looking at a subject rnats rejects.
    fn note_sids(&mut self, c: usize, mut op: Op, invalid: bool, sid: &[u8]) -> Op {
        let pieces: Vec<Vec<u8>> = if op.cr {
            // Every word of the line as nats-server splits it (after the verb).
            op.bytes[3..].split(|b| b" \t\r\n".contains(b)).filter(|p| !p.is_empty()).map(<[u8]>::to_vec).collect()
        } else {
            vec![sid.to_vec()]
        };
        if (invalid || op.cr) && pieces.iter().any(|p| self.conns[c].sids.contains(p)) {
            op = op.tag("sub-duplicate-sid-invalid-subject");
        }
        self.conns[c].sids.extend(pieces);
        op
    }

    fn unsub(&mut self, c: usize) -> Op {
        let sid = match self.conns[c].subs.is_empty() || self.rng.pct(20) {
            true => self.rng.pick(SIDS).to_vec(),
            false => {
                let i = self.rng.below(self.conns[c].subs.len());
                self.conns[c].subs[i].1.clone()
            }
        };
        let max: Option<&[u8]> = match self.rng.below(10) {
            0..=4 => None,
            5 => Some(b"0"),
            6 => Some(b"x"),
            7 => Some(b"1234567890"),
            _ => Some(*self.rng.pick(&[&b"1"[..], b"2", b"3", b"001"])),
        };
        if max.is_none() || max == Some(b"0") || max == Some(b"x") || max == Some(b"1234567890") {
            self.conns[c].subs.retain(|(_, s)| *s != sid);
        }
        match max {
            Some(m) => self.line("UNSUB", &[&sid, m]),
            None => self.line("UNSUB", &[&sid]),
        }
    }

    fn publish(&mut self, c: usize) -> Op {
        let subject = self.pub_subject(c);
        let reply = self.rng.pct(20).then(|| self.subject(false));
        // Within one smallest read when the pedantic check rejects the subject.
        let payload = if valid_literal_subject(&subject) { self.payload() } else { self.short_payload() };
        let size = payload.len().to_string().into_bytes();
        let mut closes = false;
        let mut size_text = false;
        let size: Vec<u8> = match self.rng.below(40) {
            0 => {
                closes = true;
                b"1234567890".to_vec()
            }
            1 => {
                closes = true;
                b"2000000".to_vec()
            }
            2 => {
                size_text = true;
                [&b"00"[..], &size].concat()
            }
            3 => {
                closes = true;
                b"-1".to_vec()
            }
            _ => size,
        };
        let mut args: Vec<&[u8]> = vec![&subject];
        if let Some(r) = &reply {
            args.push(r);
        }
        args.push(&size);
        let mut op = self.line("PUB", &args);
        if closes {
            return op.closing();
        }
        if size_text {
            op = op.tag("pub-size-text");
        }
        if payload.len() > self.config.max_payload() {
            op = op.closing();
        }
        op.bytes.extend_from_slice(&payload);
        if self.rng.pct(3) {
            op.bytes.extend_from_slice(b"!!\r\n");
            let op = self.mark_pedantic(op.closing(), &subject);
            // The pedantic -ERR comes at the control line, before the payload
            // turns out to be bad.
            return if op.pedantic_invalid { op.tag("pedantic-at-control-line") } else { op };
        }
        op.bytes.extend_from_slice(b"\r\n");
        self.mark_pedantic(op, &subject)
    }

    /// A publish subject nats-server's pedantic check rejects is reported at
    /// the control line, again when the payload comes in a later read: such
    /// ops are written whole, and small.
    fn mark_pedantic(&mut self, mut op: Op, subject: &[u8]) -> Op {
        if !valid_literal_subject(subject) {
            op.whole = true;
            op.pedantic_invalid = true;
            if op.cr {
                // The CR shifts the size, so the payload is misframed: the
                // pedantic -ERR comes first.
                op.tags.push("pedantic-at-control-line");
            }
        }
        if self.config == Config::Perms && (op.cr || subject.iter().any(|b| !(0x20..0x7f).contains(b))) {
            // A permission -ERR quotes the subject as Go's %q does.
            op.tags.push("go-quoting");
        }
        op
    }

    fn hpub(&mut self, c: usize) -> Op {
        let subject = self.pub_subject(c);
        let reply = self.rng.pct(20).then(|| self.subject(false));
        let short = !valid_literal_subject(&subject);
        let hdr: Vec<u8> = match self.rng.below(10) {
            0 => Vec::new(),
            1 => b"HELLO".to_vec(),
            2 => b"NATS/1.0\r\n\r\n".to_vec(),
            _ if short => b"NATS/1.0\r\n\r\n".to_vec(),
            _ => format!("NATS/1.0\r\nK{}: v\r\n\r\n", self.msg_no).into_bytes(),
        };
        let payload = if short { self.short_payload() } else { self.payload() };
        let total = hdr.len() + payload.len();
        let (h, t) = if self.rng.pct(4) { (total + 1, total) } else { (hdr.len(), total) };
        let hs = h.to_string().into_bytes();
        let ts = t.to_string().into_bytes();
        let mut args: Vec<&[u8]> = vec![&subject];
        if let Some(r) = &reply {
            args.push(r);
        }
        args.push(&hs);
        args.push(&ts);
        let mut op = self.line("HPUB", &args);
        op.bytes.extend_from_slice(&hdr);
        op.bytes.extend_from_slice(&payload);
        op.bytes.extend_from_slice(b"\r\n");
        if h > t || !self.conns[c].headers {
            op = op.closing();
        }
        if h == 0 {
            op = op.tag("hpub-zero-header");
        }
        if !self.conns[c].headers {
            op = op.tag("hpub-without-headers");
        }
        self.mark_pedantic(op, &subject)
    }

    /// A request: the reply subject subscribed on this connection, the
    /// request subject subscribed by nobody (no-responders) or by someone.
    fn request(&mut self, c: usize) -> Op {
        let inbox = format!("_INBOX.{}", self.rng.below(3)).into_bytes();
        // The no-responders status goes to one of the requester's own
        // subscriptions matching the reply subject; with several, nats-server
        // picks in Go map order. So the inbox has one, or this is a publish.
        let matching: Vec<&(Vec<u8>, Vec<u8>)> =
            self.conns[c].subs.iter().filter(|(filter, _)| sub_matches(filter, &inbox)).collect();
        let (sid, new) = match matching.as_slice() {
            [] => (format!("r{}", self.rng.below(3)).into_bytes(), true),
            [(filter, sid)] if *filter == inbox => (sid.clone(), false),
            _ => return self.publish(c),
        };
        let op = self.line("SUB", &[&inbox, &sid]);
        let mut op = self.note_sids(c, op, false, &sid);
        if new && !self.conns[c].subs.iter().any(|(_, s)| *s == sid) {
            self.conns[c].subs.push((inbox.clone(), sid));
        }
        let subject = if self.rng.pct(70) { b"nobody".to_vec() } else { self.pub_subject(c) };
        let payload = if valid_literal_subject(&subject) { self.payload() } else { self.short_payload() };
        let size = payload.len().to_string().into_bytes();
        let pubb = self.line("PUB", &[&subject, &inbox, &size]);
        op.bytes.extend_from_slice(&pubb.bytes);
        op.bytes.extend_from_slice(&payload);
        op.bytes.extend_from_slice(b"\r\n");
        op.whole |= pubb.whole;
        self.mark_pedantic(op, &subject)
    }

    fn ping_like(&mut self) -> Op {
        let l: &[u8] = self.rng.pick_bytes(&[
            &b"PING\r\n"[..],
            b"ping\n",
            b"PiNg junk\r\n",
            b"PONG\r\n",
            b"pong\n",
            b"+OK\r\n",
            b"+ok\n",
            b"+OKAY\r\n",
            b"PINGPONG\r\n",
        ]);
        Op::new(l.to_vec())
    }

    fn info_from_client(&mut self, _c: usize) -> Op {
        let (l, ok): (&[u8], bool) = *self.rng.pick(&[
            (&b"INFO {}\r\n"[..], true),
            (b"INFO {\"server_id\":\"x\",\"port\":1}\r\n", true),
            (b"info\t{\"connect_urls\":[\"a\"]}\n", true),
            (b"INFO null\r\n", true),
            (b"INFO {\"port\":\"x\"}\r\n", false),
            (b"INFO {\"max_payload\":3000000000}\r\n", false),
            (b"INFO {\"client_id\":-1}\r\n", false),
            (b"INFO garbage\r\n", false),
            (b"INFO\r\n", false),
            (b"INFO []\r\n", false),
            (b"INFO {\"gateway_cmd_payload\":\"!!\"}\r\n", false),
            (b"INFO {\"PORT\":5}\r\n", true),
        ]);
        let op = Op::new(l.to_vec());
        if ok {
            op
        } else {
            op.closing()
        }
    }

    fn server_verb(&mut self, c: usize) -> Op {
        let _ = c;
        match self.rng.below(9) {
            0 => Op::new(b"MSG a 1 1\r\nx\r\n".to_vec()).closing(),
            1 => Op::new(b"-ERR 'x'\r\n".to_vec()).closing(),
            2 => Op::new(b"RS+ a\r\n".to_vec()).closing(),
            3 => Op::new(b"A+ a\r\n".to_vec()).closing(),
            4 => Op::new(b"LS+ a\r\n".to_vec()).closing(),
            5 => Op::new(b"-ERR\r\n".to_vec()).closing(),
            // HMSG from a client: nats-server reads the line, then wants CRLF
            // in the same read; it then handles an empty message.
            6 => Op::new(b"HMSG a 1 2 3\r\n\r\n".to_vec()).whole().tag("hmsg-from-client"),
            7 => Op::new(b"hmsg x\r\n\r\n".to_vec()).whole().tag("hmsg-from-client"),
            _ => Op::new(b"HMSG a 1 2 3\r\nxyz\r\n".to_vec()).whole().closing(),
        }
    }

    fn garbage(&mut self) -> Op {
        let l: &[u8] = self.rng.pick_bytes(&[
            &b"\r\n"[..],
            b"\n",
            b"FOO\r\n",
            b"PUX foo\r\n",
            b"SUBX a 1\r\n",
            b"\x00\x01\x02",
            b"\xff\xfe\r\n",
            b"PI\r\n",
            b"CONNEC {}\r\n",
            b"UNSUB\r\n",
            b"PUB\r\n",
        ]);
        Op::new(l.to_vec()).closing()
    }

    /// Control lines near `max_control_line` (4096).
    fn long_line(&mut self, c: usize) -> Op {
        let mcl = self.config.max_control_line();
        let len = mcl - 6 + *self.rng.pick(&[0usize, 4, 5, 6, 7, 900]);
        let sid = b"7";
        // The argument is `<subject> 7`, so the subject takes len - 2 bytes.
        let subject = vec![b'a'; len - 2];
        let op = self.line("SUB", &[&subject, sid]);
        if len > mcl {
            op.closing()
        } else {
            self.conns[c].subs.push((subject, sid.to_vec()));
            op
        }
    }
}

/// nats-server's check when it inserts a subscription: no empty token and
/// nothing after a `>` token (the sublist does not look at the bytes).
pub fn valid_sub_subject(s: &[u8]) -> bool {
    let mut after_fwc = false;
    for t in s.split(|&b| b == b'.') {
        if t.is_empty() || after_fwc {
            return false;
        }
        after_fwc = t == b">";
    }
    true
}

/// Whether subscription `filter` matches the literal `subject`.
pub fn sub_matches(filter: &[u8], subject: &[u8]) -> bool {
    let (f, s): (Vec<&[u8]>, Vec<&[u8]>) =
        (filter.split(|&b| b == b'.').collect(), subject.split(|&b| b == b'.').collect());
    for (i, t) in f.iter().enumerate() {
        match (*t, s.get(i)) {
            (b">", Some(_)) => return true,
            (b"*", Some(_)) => {}
            (t, Some(st)) if t == *st => {}
            _ => return false,
        }
    }
    f.len() == s.len()
}

/// nats-server's pedantic publish check: no empty token, no wildcard token.
pub fn valid_literal_subject(s: &[u8]) -> bool {
    s.split(|&b| b == b'.').all(|t| !t.is_empty() && t != b"*" && t != b">")
}
