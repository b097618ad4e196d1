//! The id/code/PIN pattern generator: any text either is refused or gives a generator whose
//! values are printable ASCII, at most 255 characters, and (for patterns without anchors,
//! which the generator ignores) match the pattern.

#![no_main]

use libfuzzer_sys::fuzz_target;
use voucherd_domain::pattern::{GENERATED_CHARS_MAX, Pattern};

/// Assertions a generator ignores; a pattern using one is not compared with a regex.
const IGNORED_ASSERTIONS: &[&str] = &["^", "$", "\\A", "\\z", "(?m"];

fuzz_target!(|source: &str| {
    let Ok(pattern) = Pattern::parse(source) else {
        return;
    };
    let matcher = if IGNORED_ASSERTIONS.iter().any(|a| source.contains(a)) {
        None
    } else {
        regex::bytes::RegexBuilder::new(&format!("^(?:{source})$"))
            .unicode(false)
            .build()
            .ok()
    };
    assert!(pattern.entropy_bits() >= 0.0);
    for _ in 0..4 {
        let value = pattern.generate();
        assert!(
            value.len() <= GENERATED_CHARS_MAX,
            "{source:?} gave {value:?}"
        );
        assert!(
            value.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "{source:?} gave {value:?}"
        );
        if let Some(matcher) = &matcher {
            assert!(
                matcher.is_match(value.as_bytes()),
                "{source:?} gave {value:?}"
            );
        }
    }
});
