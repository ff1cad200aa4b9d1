//! The config scanner against pest, the grammar of record: for any text
//! both give the same tree, or both refuse it. The depth rule applies to
//! both (pest's tree is checked as the loader checks it), and the loader's
//! result agrees with them: a text neither parses is a syntax or depth
//! error, never a panic or a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnats::conf::scan::{scan, Declined};
use rnats::conf::syntax::Syntax;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let fast = scan(&text);
    let pest = Syntax::parse_with_pest(&text);
    match (&fast, &pest) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "scanner and pest trees differ on {text:?}"),
        // The scanner refused the nesting: pest's tree breaks the same rule
        // (or pest's stack guard stopped it).
        (Err(Declined::TooDeep(_)), Ok(b)) => assert!(b.check_depth().is_err(), "only the scanner refused {text:?}"),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("pest refuses what the scanner parsed: {text:?}\n{e}"),
        (Err(Declined::NoMatch), Ok(b)) => {
            panic!("the scanner declined what pest parsed: {text:?} ({} tokens)", b.tokens.len())
        }
    }
    if let Ok(tree) = &fast {
        assert!(tree.check_depth().is_ok(), "the scanner built a tree deeper than the rule");
    }
    // The loader on the same text: diagnostics, never a panic.
    let loaded = rnats::conf::load_str("fuzz.conf", &text);
    let parsed = fast.is_ok() || pest.as_ref().is_ok_and(|t| t.check_depth().is_ok());
    let syntax_error = loaded.diags.iter().any(|d| matches!(d.code, "syntax" | "too-deep" | "escape"));
    if !parsed {
        assert!(syntax_error, "neither parser took {text:?}, yet the loader reported no syntax error");
    }
    let _ = loaded.render();
});
