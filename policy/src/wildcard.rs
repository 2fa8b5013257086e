//! IAM wildcards: `*` matches any run of characters (none included), `?` exactly one.

/// Whether `text` matches `pattern`; with `ignore_case`, ASCII letters compare without case (IAM
/// action names do, resources and string conditions do not).
///
/// ```
/// use policy::wildcard::matches;
/// assert!(matches("s3:Get*", "s3:GetObject", false));
/// assert!(matches("S3:GETOBJECT", "s3:GetObject", true));
/// assert!(matches("arn:aws:s3:::photos/?024/*", "arn:aws:s3:::photos/2024/cat.jpg", false));
/// assert!(!matches("arn:aws:s3:::photos", "arn:aws:s3:::photos2", false));
/// ```
pub fn matches(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let same = |p: char, t: char| {
        if ignore_case {
            p.eq_ignore_ascii_case(&t)
        } else {
            p == t
        }
    };
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point: linear in practice, no recursion.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some('*'), _) => {
                star = Some((p, t));
                p += 1;
            }
            (Some('?'), Some(_)) => {
                p += 1;
                t += 1;
            }
            (Some(&pc), Some(&tc)) if same(pc, tc) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_questions() {
        for (pattern, text, want) in [
            ("*", "", true),
            ("*", "anything", true),
            ("a*", "a", true),
            ("*b", "ab", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("", "", true),
            ("", "a", false),
            ("**", "x", true),
            ("kms:*", "kms:Decrypt", true),
            ("kms:*", "s3:GetObject", false),
        ] {
            assert_eq!(matches(pattern, text, false), want, "{pattern} ~ {text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_star_for_any_stretch_still_matches(
            text in "[a-z/:.]{0,24}",
            a in 0usize..25,
            b in 0usize..25,
        ) {
            let (from, to) = (a.min(b).min(text.len()), a.max(b).min(text.len()));
            let pattern = format!("{}*{}", &text[..from], &text[to..]);
            proptest::prop_assert!(matches(&pattern, &text, false));
            proptest::prop_assert!(matches(&text, &text, false));
            let longer = format!("{text}x");
            proptest::prop_assert!(!matches(&text, &longer, false));
        }
    }

    #[test]
    fn case_only_when_asked() {
        assert!(!matches("s3:getobject", "s3:GetObject", false));
        assert!(matches("s3:getobject", "s3:GetObject", true));
    }
}
