//! Where an object lives in the folder: the names of its directories and its file.
//!
//! A key is first encoded by [`crate::backend::keys`]; each encoded segment becomes a directory,
//! and the last one the object file. Two further rules make any key fit a file system (part of
//! the frozen folder format, `docs/format-backend.md`):
//!
//! - the object file's name ends with [`OBJECT_SUFFIX`] (`#o`), so the key `a` (file `a#o`) and
//!   the key `a/b` (directory `a`) never collide; encoded segments never hold `#`;
//! - a segment longer than [`MAX_CHUNK`] bytes is cut, from its end, into chunks of at most that
//!   many bytes; every chunk but the last ends with [`CONTINUED_SUFFIX`] (`#+`), so names stay
//!   under the usual 255-byte limit.
//!
//! Any other name holding `#` (the bucket marker, object_store's staging files `…#o#N`) is
//! internal and never decodes to a key.

use object_store::path::Path;

use crate::backend::keys::Space;

/// Longest chunk of an encoded segment in one file or directory name, in bytes.
pub(super) const MAX_CHUNK: usize = 200;

/// Ends the name of every object file.
pub(super) const OBJECT_SUFFIX: &str = "#o";

/// Ends a directory name that continues on the next level (a cut long segment).
pub(super) const CONTINUED_SUFFIX: &str = "#+";

/// The file in each bucket directory recording its creation time.
pub(super) const BUCKET_MARKER: &str = "#bucket";

/// The object file of `key` (a name of `space`), relative to the bucket directory.
pub(super) fn object_parts(space: Space, key: &str) -> Vec<String> {
    let encoded = space.encode(key);
    let mut parts = dir_parts(&encoded);
    if let Some(last) = parts.last_mut() {
        last.push_str(OBJECT_SUFFIX);
    }
    parts
}

/// The directories of the encoded segments `encoded` (segments joined by `/`).
pub(super) fn dir_parts(encoded: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for segment in encoded.split('/') {
        let chunks = chunks(segment);
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.into_iter().enumerate() {
            let suffix = if i < last { CONTINUED_SUFFIX } else { "" };
            parts.push(format!("{chunk}{suffix}"));
        }
    }
    parts
}

/// Cuts a segment into chunks of at most [`MAX_CHUNK`] bytes, from its end, at char boundaries.
fn chunks(segment: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = segment;
    while rest.len() > MAX_CHUNK {
        let mut cut = rest.len() - MAX_CHUNK;
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let Some((head, tail)) = rest.split_at_checked(cut) else {
            break;
        };
        out.push(tail);
        rest = head;
    }
    out.push(rest);
    out.reverse();
    out
}

/// The name of `space` whose object file is at `parts` (relative to the bucket); `None` for
/// internal files and names of the other space.
pub(super) fn key_of<'a>(space: Space, parts: impl Iterator<Item = &'a str>) -> Option<String> {
    let parts: Vec<&str> = parts.collect();
    let (file, dirs) = parts.split_last()?;
    let mut encoded = String::new();
    for dir in dirs {
        match dir.strip_suffix(CONTINUED_SUFFIX) {
            Some(chunk) => encoded.push_str(chunk),
            None => {
                encoded.push_str(dir);
                encoded.push('/');
            }
        }
    }
    encoded.push_str(file.strip_suffix(OBJECT_SUFFIX)?);
    let key = space.decode(&encoded)?;
    (object_parts(space, &key) == parts).then_some(key)
}

/// Joins a bucket and relative parts into an object_store path.
pub(super) fn path(bucket: &str, parts: &[String]) -> Path {
    let mut raw = bucket.to_string();
    for part in parts {
        raw.push('/');
        raw.push_str(part);
    }
    // Every part is non-empty and free of `/`, controls, `.` and `..`, so parsing succeeds.
    Path::parse(&raw).unwrap_or_else(|_| Path::from(bucket))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_keys_look_familiar() {
        assert_eq!(
            object_parts(Space::Objects, "photos/2024/cat.jpg"),
            ["photos", "2024", "cat.jpg#o"]
        );
        assert_eq!(object_parts(Space::Objects, "dir/"), ["dir", "%#o"]);
    }

    #[test]
    fn long_segments_are_cut() {
        let key = format!("{}/x", "é".repeat(300));
        let parts = object_parts(Space::Objects, &key);
        assert!(parts.iter().all(|p| p.len() <= MAX_CHUNK + 2));
        assert_eq!(parts.len(), 4);
        assert_eq!(
            key_of(Space::Objects, parts.iter().map(String::as_str)),
            Some(key)
        );
    }

    #[test]
    fn internal_files_are_not_keys() {
        for name in [BUCKET_MARKER, "a#o#1", "a", "a#+", "%41#o"] {
            assert_eq!(key_of(Space::Objects, [name].into_iter()), None, "{name}");
        }
    }

    #[test]
    fn records_live_apart_from_keys() {
        let parts = object_parts(Space::Records, "parts/0a1b/00001-ff");
        assert_eq!(parts, ["#sealgate", "parts", "0a1b", "00001-ff#o"]);
        let names = || parts.iter().map(String::as_str);
        assert_eq!(key_of(Space::Objects, names()), None);
        assert_eq!(
            key_of(Space::Records, names()).as_deref(),
            Some("parts/0a1b/00001-ff")
        );
    }

    proptest! {
        #[test]
        fn parts_round_trip(key in "(([a-z./%#]{0,3}|[\\PC]{0,2})/?){1,8}|[a.]{190,420}") {
            prop_assume!(crate::backend::keys::is_valid_key(&key));
            let parts = object_parts(Space::Objects, &key);
            prop_assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= 255));
            prop_assert!(parts.iter().all(|p| p != "." && p != ".."));
            prop_assert_eq!(key_of(Space::Objects, parts.iter().map(String::as_str)), Some(key.clone()));
            prop_assert_eq!(path("b", &parts).parts().count(), parts.len() + 1);
        }
    }
}
