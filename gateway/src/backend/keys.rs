//! The reversible mapping from S3 object keys to backend names.
//!
//! An S3 key is any 1 to 1024 bytes of UTF-8, but object_store's `Path` refuses empty segments,
//! `.` and `..` segments and ASCII control characters, and `LocalFileSystem` reserves `#`. This
//! module turns a key into an encoded name that every backend accepts, and back. The mapping is
//! the identity for ordinary keys (letters, digits, spaces, punctuation other than `%` and `#`,
//! any non-Latin script), so an operator browsing the backend sees familiar names. It is part of
//! the frozen backend format (`docs/format-backend.md`):
//!
//! - the key is split at every `/`; each segment is encoded on its own and the encoded segments
//!   are joined with `/` again;
//! - inside a segment, ASCII control bytes (0x00 to 0x1F, 0x7F), `%` and `#` become `%XX`
//!   (uppercase hex);
//! - an empty segment becomes `%`; a segment `.` becomes `%2E` and `..` becomes `%2E%2E`.
//!
//! Decoding accepts only canonical encodings, so two backend names never decode to the same key.
//! The mapping does not preserve byte order, so listings are sorted after decoding.

/// The byte that starts an escape, and alone stands for an empty segment.
const ESCAPE: char = '%';

/// Encodes an S3 key into a backend name made of valid, non-empty `/`-separated segments.
pub fn encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 8);
    for (i, segment) in key.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode_segment(segment, &mut out);
    }
    out
}

/// Encodes the complete segments of a key prefix: everything up to its last `/`.
///
/// Every key that starts with `prefix` has an encoded name under the returned directory (or
/// anywhere, when the prefix holds no `/`).
pub fn encode_dir_prefix(prefix: &str) -> Option<String> {
    prefix.rsplit_once('/').map(|(dir, _)| encode(dir))
}

/// Encodes one segment of a key (a part between two `/`).
pub fn encode_segment(segment: &str, out: &mut String) {
    match segment {
        "" => out.push(ESCAPE),
        "." => out.push_str("%2E"),
        ".." => out.push_str("%2E%2E"),
        _ => segment.chars().for_each(|c| encode_char(c, out)),
    }
}

fn encode_char(c: char, out: &mut String) {
    if c.is_ascii_control() || c == ESCAPE || c == '#' {
        out.push(ESCAPE);
        out.push_str(&format!("{:02X}", u32::from(c)));
    } else {
        out.push(c);
    }
}

/// Decodes a backend name made by [`encode`]; `None` if it is not a canonical encoding.
pub fn decode(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    for (i, segment) in name.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        decode_segment(segment, &mut out)?;
    }
    (encode(&out) == name).then_some(out)
}

fn decode_segment(segment: &str, out: &mut String) -> Option<()> {
    if segment == "%" {
        return Some(());
    }
    let mut bytes = Vec::with_capacity(segment.len());
    let mut rest = segment.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let (hex, tail) = tail.split_at_checked(2)?;
            bytes.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            rest = tail;
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    out.push_str(std::str::from_utf8(&bytes).ok()?);
    Some(())
}

/// Checks that `key` is a valid S3 key: 1 to 1024 bytes (UTF-8 is given by `&str`).
pub fn is_valid_key(key: &str) -> bool {
    (1..=1024).contains(&key.len())
}

/// The first segment of every record's backend name. An encoded key never holds `#`, so no key
/// maps under it.
pub const RECORDS_DIR: &str = "#sealgate";

/// Which names a view of a backend stores: clients' objects under their S3 keys, or Sealgate's
/// own records (multipart uploads and their parts) under names of its choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// S3 keys, mapped by [`encode`].
    Objects,
    /// Record names: `/`-separated segments of lowercase ASCII letters, digits, `-` and `_`,
    /// stored under [`RECORDS_DIR`].
    Records,
}

impl Space {
    /// Whether `name` can be stored in this space.
    pub fn is_valid(self, name: &str) -> bool {
        match self {
            Space::Objects => is_valid_key(name),
            Space::Records => is_record_name(name),
        }
    }

    /// The backend name of `name` (a key or a record name).
    pub fn encode(self, name: &str) -> String {
        match self {
            Space::Objects => encode(name),
            Space::Records => format!("{RECORDS_DIR}/{name}"),
        }
    }

    /// The name whose backend name is `backend_name`; `None` if it belongs to no name of this
    /// space.
    pub fn decode(self, backend_name: &str) -> Option<String> {
        match self {
            Space::Objects => decode(backend_name),
            Space::Records => backend_name
                .strip_prefix(RECORDS_DIR)?
                .strip_prefix('/')
                .filter(|name| is_record_name(name))
                .map(str::to_owned),
        }
    }

    /// The deepest backend directory holding every name that starts with `prefix`; `None` for
    /// the whole bucket.
    pub fn encode_dir_prefix(self, prefix: &str) -> Option<String> {
        match self {
            Space::Objects => encode_dir_prefix(prefix),
            Space::Records => Some(match prefix.rsplit_once('/') {
                Some((dir, _)) => format!("{RECORDS_DIR}/{dir}"),
                None => RECORDS_DIR.to_owned(),
            }),
        }
    }
}

/// A record name: 1 to 255 bytes of `/`-separated, non-empty segments of `a-z`, `0-9`, `-`, `_`.
fn is_record_name(name: &str) -> bool {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    (1..=255).contains(&name.len()) && name.split('/').all(segment_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_keys_are_unchanged() {
        for key in [
            "photos/2024/cat.jpg",
            "a b+c=d,e(f)",
            "日本語/ключ",
            "x\\y",
            "a?b*c",
        ] {
            assert_eq!(encode(key), key);
        }
    }

    #[test]
    fn odd_keys_become_valid_paths() {
        let cases = [
            ("dir/", "dir/%"),
            ("a//b", "a/%/b"),
            ("/lead", "%/lead"),
            ("/", "%/%"),
            ("./..", "%2E/%2E%2E"),
            ("...", "..."),
            ("100%", "100%25"),
            ("a#1", "a%231"),
            ("tab\there", "tab%09here"),
        ];
        for (key, name) in cases {
            assert_eq!(encode(key), name);
            assert_eq!(decode(name).as_deref(), Some(key));
            object_store::path::Path::parse(name).unwrap();
        }
    }

    #[test]
    fn records_never_meet_keys() {
        let name = Space::Records.encode("uploads/0a1b");
        assert_eq!(name, "#sealgate/uploads/0a1b");
        assert_eq!(
            Space::Records.decode(&name).as_deref(),
            Some("uploads/0a1b")
        );
        assert_eq!(Space::Objects.decode(&name), None);
        assert_eq!(
            Space::Records.decode(&encode("#sealgate/uploads/0a1b")),
            None
        );
        for bad in ["", "Up", "a//b", "a/", "../x", "a b"] {
            assert!(!Space::Records.is_valid(bad), "{bad:?}");
        }
        assert_eq!(
            Space::Records.encode_dir_prefix("parts/0a1b/").as_deref(),
            Some("#sealgate/parts/0a1b")
        );
    }

    #[test]
    fn non_canonical_names_are_refused() {
        for name in ["%41", "%2e", "a%", "%zz", "a%2", "%C3%A9", ""] {
            assert_eq!(decode(name), None, "{name}");
        }
    }

    #[test]
    fn dir_prefix_covers_keys() {
        assert_eq!(encode_dir_prefix("photos/20"), Some("photos".to_string()));
        assert_eq!(encode_dir_prefix("a//"), Some("a/%".to_string()));
        assert_eq!(encode_dir_prefix("abc"), None);
    }

    fn any_key() -> impl Strategy<Value = String> {
        let odd = prop::sample::select(vec![
            "/", "//", ".", "..", "%", "#", "#1", "\u{0}", "\u{7f}", "\n", " ", "é", "日", "%2E",
        ]);
        let piece = prop_oneof![odd.prop_map(String::from), "[a-z0-9.]{0,4}", ".{0,3}"];
        prop::collection::vec(piece, 1..12)
            .prop_map(|parts| parts.concat())
            .prop_filter("S3 key length", |k| is_valid_key(k))
    }

    proptest! {
        #[test]
        fn encode_decode_is_identity(key in any_key()) {
            let name = encode(&key);
            prop_assert_eq!(decode(&name), Some(key));
            prop_assert!(object_store::path::Path::parse(&name).is_ok());
            prop_assert!(!name.contains('#'));
        }

        #[test]
        fn names_of_prefixed_keys_share_the_dir_prefix(key in any_key(), cut in 0usize..64) {
            let cut = (0..=cut.min(key.len())).rev().find(|&i| key.is_char_boundary(i)).unwrap();
            let prefix = &key[..cut];
            if let Some(dir) = encode_dir_prefix(prefix) {
                let expected = format!("{}/", dir);
                prop_assert!(encode(&key).starts_with(&expected));
            }
        }
    }
}
