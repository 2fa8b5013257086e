//! Properties of IAM wildcard matching, and agreement with a plain reference matcher.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, Instant};

use policy::wildcard::matches;
use proptest::prelude::*;

/// The reference: dynamic programming over characters, `at[i][j]` being whether the first `i`
/// pattern characters match the first `j` text characters.
fn reference(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let mut at = vec![vec![false; text.len() + 1]; pattern.len() + 1];
    at[0][0] = true;
    for (i, &p) in pattern.iter().enumerate() {
        if p == '*' {
            at[i + 1][0] = at[i][0];
        }
        for (j, &t) in text.iter().enumerate() {
            at[i + 1][j + 1] = match p {
                '*' => at[i][j + 1] || at[i + 1][j],
                '?' => at[i][j],
                _ if ignore_case => at[i][j] && p.eq_ignore_ascii_case(&t),
                _ => at[i][j] && p == t,
            };
        }
    }
    at[pattern.len()][text.len()]
}

/// Replaces `text[from..to]` (in characters) with `with`.
fn splice(text: &str, from: usize, to: usize, with: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let (from, to) = (from.min(chars.len()), to.min(chars.len()));
    let (from, to) = (from.min(to), from.max(to));
    let before: String = chars[..from].iter().collect();
    let after: String = chars[to..].iter().collect();
    format!("{before}{with}{after}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn agrees_with_the_reference(pattern in "[ab*?]{0,10}", text in "[ab*?]{0,12}") {
        prop_assert_eq!(matches(&pattern, &text, false), reference(&pattern, &text, false));
    }

    #[test]
    fn agrees_with_the_reference_without_case(
        pattern in "[aAb*?]{0,10}",
        text in "[aAbB]{0,12}",
    ) {
        prop_assert_eq!(matches(&pattern, &text, true), reference(&pattern, &text, true));
        prop_assert_eq!(matches(&pattern, &text, false), reference(&pattern, &text, false));
    }

    #[test]
    fn agrees_with_the_reference_beyond_ascii(pattern in "[aé*?]{0,8}", text in "[aéß]{0,10}") {
        prop_assert_eq!(matches(&pattern, &text, false), reference(&pattern, &text, false));
        prop_assert_eq!(matches(&pattern, &text, true), reference(&pattern, &text, true));
    }

    #[test]
    fn a_pattern_matches_itself(text in "[a-z/:.*?é]{0,30}") {
        prop_assert!(matches(&text, &text, false));
        prop_assert!(matches(&text, &text, true));
        prop_assert!(matches(&text.to_ascii_uppercase(), &text, true));
    }

    #[test]
    fn a_star_matches_everything(text in "\\PC{0,40}") {
        prop_assert!(matches("*", &text, false));
        prop_assert!(matches("**", &text, true));
    }

    #[test]
    fn a_question_mark_for_any_character_still_matches(text in "[a-z/:.é]{1,30}", at in 0usize..30) {
        let at = at % text.chars().count();
        let pattern = splice(&text, at, at + 1, "?");
        prop_assert!(matches(&pattern, &text, false), "{} ~ {}", pattern, text);
        let longer = format!("{text}x");
        prop_assert!(!matches(&pattern, &longer, false));
    }

    #[test]
    fn a_star_for_any_substring_still_matches(
        text in "[a-z/:.é]{0,30}",
        from in 0usize..31,
        to in 0usize..31,
        also in 0usize..31,
    ) {
        let pattern = splice(&text, from, to, "*");
        prop_assert!(matches(&pattern, &text, false), "{} ~ {}", pattern, text);
        // A second star, anywhere, changes nothing.
        let twice = splice(&pattern, also, also, "*");
        prop_assert!(matches(&twice, &text, false), "{} ~ {}", twice, text);
    }

    #[test]
    fn without_wildcards_matching_is_equality(pattern in "[abA]{0,8}", text in "[abA]{0,8}") {
        prop_assert_eq!(matches(&pattern, &text, false), pattern == text);
        prop_assert_eq!(matches(&pattern, &text, true), pattern.eq_ignore_ascii_case(&text));
    }
}

/// Patterns that make a backtracking matcher exponential: each must take well under a second
/// (debug build) on 20,000 characters.
#[test]
fn pathological_patterns_take_bounded_time() {
    let long = "a".repeat(20_000);
    let cases = [
        ("a*a*a*a*a*a*b", false),
        ("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", false),
        ("*aaaaaaaaaaaaaaaaaaab", false),
        ("a*a*a*a*a*a*a", true),
        ("*?*?*?*?*?*?*?*?*", true),
    ];
    for (pattern, want) in cases {
        let start = Instant::now();
        assert_eq!(matches(pattern, &long, false), want, "{pattern}");
        assert_eq!(matches(pattern, &long, true), want, "{pattern}");
        let took = start.elapsed();
        assert!(took < Duration::from_secs(1), "{pattern}: {took:?}");
    }
    let wide = format!("{}é", "a".repeat(20_000));
    let start = Instant::now();
    assert!(!matches("a*a*a*a*a*a*b", &wide, false));
    assert!(start.elapsed() < Duration::from_secs(1));
}
