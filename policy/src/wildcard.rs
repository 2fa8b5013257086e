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
    // Bytes match as characters do unless a `?` meets a multi-byte character: a literal byte
    // sequence can only match whole characters (UTF-8 is self-synchronising), and case folding
    // is ASCII-only either way. So compare bytes, allocating nothing, unless that can happen.
    if !pattern.as_bytes().contains(&b'?') || text.is_ascii() {
        return glob(pattern.as_bytes(), text.as_bytes(), ignore_case);
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    glob(&pattern, &text, ignore_case)
}

/// A unit of matching: a byte of ASCII text, or a `char` of any other.
trait Symbol: Copy + Eq {
    const STAR: Self;
    const ONE: Self;
    fn same(self, other: Self, ignore_case: bool) -> bool;
}

impl Symbol for u8 {
    const STAR: u8 = b'*';
    const ONE: u8 = b'?';
    fn same(self, other: u8, ignore_case: bool) -> bool {
        self == other || (ignore_case && self.eq_ignore_ascii_case(&other))
    }
}

impl Symbol for char {
    const STAR: char = '*';
    const ONE: char = '?';
    fn same(self, other: char, ignore_case: bool) -> bool {
        self == other || (ignore_case && self.eq_ignore_ascii_case(&other))
    }
}

/// Iterative matching that remembers only the latest `*`: a later star can absorb whatever an
/// earlier one would have, so backtracking to it alone is enough. At most `pattern × text`
/// steps, never exponential, no recursion.
fn glob<T: Symbol>(pattern: &[T], text: &[T], ignore_case: bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some(&pc), _) if pc == T::STAR => {
                star = Some((p, t));
                p += 1;
            }
            (Some(&pc), Some(_)) if pc == T::ONE => {
                p += 1;
                t += 1;
            }
            (Some(&pc), Some(&tc)) if pc.same(tc, ignore_case) => {
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
        .is_some_and(|rest| rest.iter().all(|&c| c == T::STAR))
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
