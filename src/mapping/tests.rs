//! The mapping engine against what nats-server 2.15.1 was seen to do (the
//! tables in docs/design/accounts.md §1.4; tests/mapping_reference.rs asks
//! the reference itself).

use super::*;

fn map(src: &str, dest: &str, subject: &str) -> String {
    let t = Transform::for_mapping(src, dest).expect("compiles").expect("a transform");
    let tokens = Tokens::of(subject.as_bytes());
    let mut out = Vec::new();
    t.apply(tokens.as_slice(), &mut out, &mut || 7);
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn every_function_as_the_reference_applies_it() {
    let cases = [
        ("lit.src", "lit.dst", "lit.src", "lit.dst"),
        ("wc.*.*", "wc.{{wildcard(2)}}.{{wildcard(1)}}", "wc.a.b", "wc.b.a"),
        ("legacy.*.*", "legacy.$2.$1", "legacy.a.b", "legacy.b.a"),
        ("spaces.*", "spaces.{{ Wildcard( 1 ) }}", "spaces.one", "spaces.one"),
        ("part.*.*", "part.{{partition(10,1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}", "part.a.b", "part.6.a.b"),
        ("partall.*", "partall.{{partition(5)}}.{{wildcard(1)}}", "partall.key1", "partall.1.key1"),
        ("partlit", "partlit.{{partition(7)}}", "partlit", "partlit.2"),
        ("split.*", "split.{{split(1,-)}}", "split.a-b--c-", "split.a.b.c"),
        ("split.*", "split.{{split(1,-)}}", "split.-lead", "split.lead"),
        ("sfl.*", "sfl.{{splitfromleft(1,3)}}", "sfl.abcdefg", "sfl.abc.defg"),
        ("sfl.*", "sfl.{{splitfromleft(1,3)}}", "sfl.ab", "sfl.ab"),
        ("sfr.*", "sfr.{{splitfromright(1,3)}}", "sfr.abcdefg", "sfr.abcd.efg"),
        ("slfl.*", "slfl.{{slicefromleft(1,3)}}", "slfl.abcdefg", "slfl.abc.def.g"),
        ("slfl.*", "slfl.{{slicefromleft(1,3)}}", "slfl.abcdef", "slfl.abc.def"),
        ("slfr.*", "slfr.{{slicefromright(1,3)}}", "slfr.abcdefg", "slfr.a.bcd.efg"),
        ("slfr.*", "slfr.{{slicefromright(1,3)}}", "slfr.ab", "slfr.ab"),
        ("fwc.>", "mapped.fwc.>", "fwc.a.b.c", "mapped.fwc.a.b.c"),
        ("fwcmix.*.>", "mix.{{wildcard(1)}}.>", "fwcmix.a.b.c", "mix.a.b.c"),
        ("drop.*.x", "dropped.x", "drop.zz.x", "dropped.x"),
        ("a.*", "b.{{left(1,2)}}", "a.hello", "b.he"),
        ("r.*", "r.{{right(1,2)}}", "r.hello", "r.lo"),
        // Seen on the reference: wildcard(0) and wildcard(-1) are the first
        // token; partition's token 0 likewise; split by a word; a split that
        // leaves nothing leaves an empty token.
        ("w.*.*", "w.{{ wildcard(0) }}.{{wildcard(-1)}}.{{wildcard(2)}}", "w.x.y", "w.w.w.y"),
        ("p.*.*", "p.{{partition(10,0,2)}}", "p.a.b", "p.5"),
        ("pl", "pl.{{partition(10,1)}}", "pl", "pl.5"),
        ("s.*", "s.{{split(1,ab)}}", "s.xabyab", "s.x.y"),
        ("s.*", "s.{{split(1,ab)}}", "s.abab", "s."),
        ("big.>", "big.{{wildcard(0)}}.>", "big.q.r", "big.big.q.r"),
        ("sfl.*", "x.{{splitfromleft(1,0)}}", "sfl.abc", "x.abc"),
        ("slr.*", "x.{{slicefromright(1,2)}}", "slr.abcde", "x.a.bc.de"),
        ("sll.*", "x.{{slicefromleft(1,2)}}", "sll.abcde", "x.ab.cd.e"),
        ("sll.*", "x.{{slicefromleft(1,2)}}", "sll.abcd", "x.ab.cd"),
        ("keep.*", "keep.$foo.$1", "keep.z", "keep.$foo.z"),
    ];
    for (src, dest, subject, want) in cases {
        assert_eq!(map(src, dest, subject), want, "{src} -> {dest} on {subject}");
    }
}

#[test]
fn compile_errors_are_the_reference_texts() {
    let err = |src: &str, dest: &str| Transform::for_mapping(src, dest).unwrap_err().to_string();
    assert_eq!(
        err("a.*", "b.{{wildcard(2)}}"),
        "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"
    );
    assert_eq!(err("W.*", "W.{{WILDCARD(1)}}"), "invalid mapping destination: unknown function in {{WILDCARD(1)}}");
    assert_eq!(err("a.*", "b.*"), "invalid subject");
    assert_eq!(err("a.>", "b.c"), "invalid subject");
    assert_eq!(err("a.*", "b..c"), "invalid mapping destination: invalid transform");
    assert_eq!(
        err("a.*", "b.{{wildcard()}}"),
        "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}"
    );
    assert_eq!(
        err("a.*", "b.{{wildcard(1,2)}}"),
        "invalid mapping destination: too many arguments passed to the function in {{wildcard(1,2)}}"
    );
    assert_eq!(
        err("a.*", "b.{{split(1,a b)}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{split(1,a b)}}"
    );
    assert_eq!(
        err("lit", "x.{{wildcard(1)}}"),
        "invalid mapping destination: wildcard index out of range in {{wildcard(1)}}"
    );
    assert_eq!(
        err("a.*", "b.{{partition(x)}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{partition(x)}}"
    );
}

#[test]
fn imports_allow_only_wildcards_and_must_use_them_all() {
    let strict = |src: &str, dest: &str| Transform::new_strict(src, dest).map(|t| t.is_some());
    assert_eq!(strict("a.*.*", "b.$2.$1"), Ok(true));
    assert_eq!(
        strict("a.*", "b.{{partition(3,1)}}").unwrap_err().to_string(),
        "invalid mapping destination: the only mapping function allowed for import transforms is {{Wildcard()}} in {{partition(3,1)}}"
    );
    assert_eq!(
        strict("a.*.*", "b.$1").unwrap_err().to_string(),
        "invalid mapping destination: not using all of the token wildcard(s) in b.$1"
    );
    assert_eq!(strict("a.*", ""), Ok(false));
}

#[test]
fn random_and_partition_stay_in_range() {
    let t = Transform::for_mapping("rnd.*", "rnd.{{random(3)}}").unwrap().unwrap();
    let tokens = Tokens::of(b"rnd.x");
    let mut seen = [0usize; 3];
    let mut state = 1u32;
    let mut out = Vec::new();
    for _ in 0..300 {
        t.apply(tokens.as_slice(), &mut out, &mut || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            state >> 1
        });
        let n: usize = std::str::from_utf8(&out[4..]).unwrap().parse().unwrap();
        seen[n] += 1;
    }
    assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
}

#[test]
fn more_than_32_tokens_spill_and_still_map() {
    let subject = (0..40).map(|i| format!("t{i}")).collect::<Vec<_>>().join(".");
    let tokens = Tokens::of(subject.as_bytes());
    assert_eq!(tokens.as_slice().len(), 40);
    assert_eq!(tokens.as_slice()[39], b"t39");
    assert_eq!(map("t0.>", "moved.>", &subject), format!("moved.{}", &subject[3..]));
}

fn select(m: &Mappings, subject: &str, cluster: &str, draw: u32) -> (Selected, String) {
    let mut out = Vec::new();
    let s = m.select(subject.as_bytes(), cluster, &mut out, &mut || draw);
    (s, String::from_utf8(out).unwrap())
}

#[test]
fn weights_remainder_and_artificial_loss() {
    let d = |s: &str, w: u8| MapDest { subject: s.into(), weight: w, cluster: None };
    let m = Mappings::new(vec![
        Mapping::new("w.lb", &[d("v1", 80), d("v2", 20)]).unwrap(),
        Mapping::new("w.rem", &[d("w.rem.v1", 30)]).unwrap(),
        Mapping::new("w.loss", &[d("w.loss", 50)]).unwrap(),
    ]);
    // Sorted by weight, cumulative: v2 takes draws 0..20, v1 20..100.
    assert_eq!(select(&m, "w.lb", "", 5), (Selected::Mapped, "v2".into()));
    assert_eq!(select(&m, "w.lb", "", 50), (Selected::Mapped, "v1".into()));
    // 30 % mapped, the remainder stays on the source.
    assert_eq!(select(&m, "w.rem", "", 10), (Selected::Mapped, "w.rem.v1".into()));
    assert_eq!(select(&m, "w.rem", "", 90).0, Selected::Unchanged);
    // The source listed at 50 %: the other half is dropped.
    assert_eq!(select(&m, "w.loss", "", 10), (Selected::Mapped, "w.loss".into()));
    assert_eq!(select(&m, "w.loss", "", 60).0, Selected::Dropped);
    assert_eq!(select(&m, "other", "", 0).0, Selected::Unchanged);
}

#[test]
fn cluster_scoped_destinations_fall_back_to_the_plain_ones() {
    let m = Mappings::new(vec![Mapping::new(
        "cl.x",
        &[MapDest { subject: "cl.west".into(), weight: 100, cluster: Some("west".into()) }, MapDest::to("cl.none")],
    )
    .unwrap()]);
    assert_eq!(select(&m, "cl.x", "west", 0), (Selected::Mapped, "cl.west".into()));
    assert_eq!(select(&m, "cl.x", "east", 0), (Selected::Mapped, "cl.none".into()));
    assert_eq!(select(&m, "cl.x", "", 0), (Selected::Mapped, "cl.none".into()));
}

#[test]
fn literal_sources_first_then_wildcards_in_config_order() {
    let m = Mappings::new(vec![
        Mapping::new("o.*", &[MapDest::to("first")]).unwrap(),
        Mapping::new("o.>", &[MapDest::to("second.>")]).unwrap(),
        Mapping::new("o.lit", &[MapDest::to("literal")]).unwrap(),
    ]);
    assert_eq!(select(&m, "o.lit", "", 0).1, "literal");
    assert_eq!(select(&m, "o.a", "", 0).1, "first");
    assert_eq!(select(&m, "o.a.b", "", 0).1, "second.a.b");
    assert_eq!(select(&m, "o", "", 0).0, Selected::Unchanged);
}

#[test]
fn weight_and_duplicate_errors_are_the_reference_texts() {
    let d = |s: &str, w: u8| MapDest { subject: s.into(), weight: w, cluster: None };
    let err = |dests: &[MapDest]| Mapping::new("a", dests).unwrap_err().to_string();
    assert_eq!(err(&[d("b", 60), d("c", 50)]), "total weight needs to be <= 100");
    assert_eq!(err(&[d("b", 101)]), "individual weights need to be <= 100");
    assert_eq!(err(&[d("b", 10), d("b", 10)]), "duplicate entry for \"b\"");
    assert_eq!(Mapping::new("a..b", &[d("b", 10)]).unwrap_err().to_string(), "invalid subject");
}

#[test]
fn a_literal_source_hands_its_destination_no_tokens() {
    // The reference, meeting the literal source first, hashes "" (bucket 2
    // of 7 and 3 of 1000), whatever the subject.
    let m = Mappings::new(vec![
        Mapping::new("partlit2", &[MapDest::to("partlit2.{{partition(7,1)}}")]).unwrap(),
        Mapping::new("pl3", &[MapDest::to("pl3.{{partition(1000)}}.x")]).unwrap(),
    ]);
    assert_eq!(select(&m, "partlit2", "", 0), (Selected::Mapped, "partlit2.2".into()));
    assert_eq!(select(&m, "pl3", "", 0), (Selected::Mapped, format!("pl3.{}.x", 0x811c_9dc5u32 % 1000)));
}
