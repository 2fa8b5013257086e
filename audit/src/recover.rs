//! Reopening after a stop: find where the chain ends so the writer can go on from there.
//!
//! After a clean close the last file ends with its seal. After a crash it does not: its lines are
//! read to find the last seq and hash, a torn last line (bytes without a newline) is cut off, and
//! the file is sealed with `"recovered": true` (and `"torn_bytes"` when something was cut). A
//! file left empty by a crash right after its creation is removed. Hands a [`Resume`] to the
//! writer, which starts a new file.

use std::fs::OpenOptions;
use std::path::Path;

use crate::file::{self, Active, Lines, Listed};
use crate::line::{self, GENESIS, Hash, Kind};
use crate::{Error, SealKey};

/// Where the writer goes on from.
pub(crate) struct Resume {
    pub next_seq: u64,
    pub prev: Hash,
    pub recovery: Option<Recovery>,
}

/// What reopening had to repair after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The file that was found unsealed and sealed with `"recovered": true`.
    pub file: String,
    /// Bytes of a torn last line that were cut off (0 if none).
    pub torn_bytes: u64,
}

/// Finds the end of the chain in `dir`, sealing a file that a crash left open.
pub(crate) fn recover(dir: &Path, key: &SealKey) -> Result<Resume, Error> {
    let mut files = file::list(dir)?;
    while let Some(listed) = files.pop() {
        let tail = scan(&listed)?;
        if tail.torn > 0 {
            cut(&listed.path, tail.good_len)?;
        }
        let Some(last) = tail.last else {
            remove_empty(&listed)?;
            continue;
        };
        if last.sealed {
            let next_seq = last.seq + 1;
            return Ok(Resume {
                next_seq,
                prev: last.hash,
                recovery: None,
            });
        }
        return seal_recovered(&listed, &tail, &last, key);
    }
    Ok(Resume {
        next_seq: 1,
        prev: GENESIS,
        recovery: None,
    })
}

#[derive(Default)]
struct Tail {
    events: u64,
    last: Option<LastLine>,
    good_len: u64,
    torn: u64,
}

#[derive(Clone, Copy)]
struct LastLine {
    seq: u64,
    hash: Hash,
    sealed: bool,
}

fn scan(listed: &Listed) -> Result<Tail, Error> {
    let mut lines = Lines::open(&listed.path)?;
    let mut tail = Tail::default();
    while let Some(line) = lines.next_line()? {
        if !line.complete {
            tail.torn = line.bytes.len() as u64;
            break;
        }
        let corrupt = |reason: String| corrupt(listed, line.number, reason);
        let head = line::decode_head(line.bytes).map_err(|e| corrupt(e.to_string()))?;
        if tail.last.is_some_and(|last| last.sealed) {
            return Err(corrupt("line after the seal".to_owned()));
        }
        tail.events += u64::from(head.kind == Kind::Event);
        let (seq, hash, sealed) = (head.seq, line::hash(line.bytes), head.kind == Kind::Seal);
        tail.last = Some(LastLine { seq, hash, sealed });
        tail.good_len = line.offset + line.bytes.len() as u64 + 1;
    }
    Ok(tail)
}

fn corrupt(listed: &Listed, line: u64, reason: String) -> Error {
    Error::Corrupt {
        file: listed.name.clone(),
        line,
        reason,
    }
}

/// Cuts a torn last line off.
fn cut(path: &Path, len: u64) -> Result<(), Error> {
    let file = OpenOptions::new().write(true).open(path);
    let file = file.map_err(|e| Error::io("open", path, e))?;
    file.set_len(len)
        .map_err(|e| Error::io("truncate", path, e))?;
    file.sync_data().map_err(|e| Error::io("sync", path, e))
}

fn remove_empty(listed: &Listed) -> Result<(), Error> {
    std::fs::remove_file(&listed.path).map_err(|e| Error::io("remove", &listed.path, e))
}

fn seal_recovered(
    listed: &Listed,
    tail: &Tail,
    last: &LastLine,
    key: &SealKey,
) -> Result<Resume, Error> {
    let mut active = Active::reopen(listed, tail.events, tail.good_len)?;
    let seal = active.seal_for(last.seq + 1, &last.hash, true, tail.torn);
    let prev = active.seal(key, seal)?;
    let recovery = Recovery {
        file: listed.name.clone(),
        torn_bytes: tail.torn,
    };
    Ok(Resume {
        next_seq: last.seq + 2,
        prev,
        recovery: Some(recovery),
    })
}
