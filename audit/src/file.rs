//! Audit files on disk: their names, listing them in order, reading them line by line, and the
//! active file that the writer appends to and seals.
//!
//! A file is named `audit-<first seq, 20 digits zero-padded>.jsonl`, so names sort as seqs do.
//! Other files in the directory (the writer's lock file among them) are ignored.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::line::{self, Hash, Seal};
use crate::{Error, SealKey};

const PREFIX: &str = "audit-";
const SUFFIX: &str = ".jsonl";
const SEQ_DIGITS: usize = 20;

/// The file name for a file whose first line has `seq`.
pub(crate) fn file_name(seq: u64) -> String {
    format!("{PREFIX}{seq:0SEQ_DIGITS$}{SUFFIX}")
}

/// The first seq that an audit file's name states, or `None` for any other file.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let all_digits = digits.len() == SEQ_DIGITS && digits.bytes().all(|b| b.is_ascii_digit());
    all_digits.then(|| digits.parse().ok()).flatten()
}

/// One audit file found in the directory.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub name: String,
    pub first_seq: u64,
    pub path: PathBuf,
}

/// The audit files in `dir`, in seq order.
pub(crate) fn list(dir: &Path) -> Result<Vec<Listed>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(first_seq) = parse_name(&name) {
            let path = entry.path();
            files.push(Listed {
                name,
                first_seq,
                path,
            });
        }
    }
    files.sort_by_key(|f| f.first_seq);
    Ok(files)
}

/// Reads a file line by line, telling complete lines from a torn last one.
pub(crate) struct Lines {
    reader: BufReader<File>,
    buf: Vec<u8>,
    path: PathBuf,
    number: u64,
    offset: u64,
}

/// One line as read.
pub(crate) struct Line<'a> {
    /// The 1-based line number in the file.
    pub number: u64,
    /// Bytes in the file before this line.
    pub offset: u64,
    /// The line without its newline.
    pub bytes: &'a [u8],
    /// False for a torn last line: one that ends without a newline.
    pub complete: bool,
}

impl Lines {
    pub(crate) fn open(path: &Path) -> Result<Lines, Error> {
        let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        Ok(Lines {
            reader: BufReader::new(file),
            buf: Vec::new(),
            path: path.to_path_buf(),
            number: 0,
            offset: 0,
        })
    }

    pub(crate) fn next_line(&mut self) -> Result<Option<Line<'_>>, Error> {
        self.buf.clear();
        let read = self.reader.read_until(b'\n', &mut self.buf);
        let read = read.map_err(|e| Error::io("read", &self.path, e))?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        let offset = self.offset;
        self.offset += read as u64;
        let (bytes, complete) = match self.buf.strip_suffix(b"\n") {
            Some(line) => (line, true),
            None => (self.buf.as_slice(), false),
        };
        let number = self.number;
        Ok(Some(Line {
            number,
            offset,
            bytes,
            complete,
        }))
    }
}

/// Syncs a directory so that a file created in it survives a crash (best effort: not every
/// platform can open a directory).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// The file the writer appends to.
pub(crate) struct Active {
    /// Shared with the background syncer, which calls `sync_data` on it.
    pub file: Arc<File>,
    pub name: String,
    pub path: PathBuf,
    pub first_seq: u64,
    /// Event lines in the file.
    pub lines: u64,
    /// Bytes in the file.
    pub size: u64,
    pub opened: Instant,
}

impl Active {
    /// Creates the file for lines from `first_seq` on; it must not exist yet.
    pub(crate) fn create(dir: &Path, first_seq: u64) -> Result<Active, Error> {
        let name = file_name(first_seq);
        let path = dir.join(&name);
        let mut options = OpenOptions::new();
        options.append(true).create_new(true);
        let file = options
            .open(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        sync_dir(dir);
        Ok(Active::new(file, name, path, first_seq, 0, 0))
    }

    /// Opens an existing unsealed file (after a crash) to seal it.
    pub(crate) fn reopen(listed: &Listed, lines: u64, size: u64) -> Result<Active, Error> {
        let path = &listed.path;
        let file = OpenOptions::new().append(true).open(path);
        let file = file.map_err(|e| Error::io("open", path, e))?;
        let name = listed.name.clone();
        Ok(Active::new(
            file,
            name,
            path.clone(),
            listed.first_seq,
            lines,
            size,
        ))
    }

    fn new(
        file: File,
        name: String,
        path: PathBuf,
        first_seq: u64,
        lines: u64,
        size: u64,
    ) -> Active {
        let file = Arc::new(file);
        let opened = Instant::now();
        Active {
            file,
            name,
            path,
            first_seq,
            lines,
            size,
            opened,
        }
    }

    /// Appends one event line (with its newline) in one write, syncing it first if `sync`.
    pub(crate) fn append_event(&mut self, line: &[u8], sync: bool) -> Result<(), Error> {
        self.write(line, sync)?;
        self.lines += 1;
        Ok(())
    }

    /// Appends this file's seal line and syncs it. Returns the seal line's hash.
    pub(crate) fn seal(&mut self, key: &SealKey, seal: Seal) -> Result<Hash, Error> {
        let line = line::encode_seal(&seal, key)?;
        self.write(&line, true)?;
        Ok(line::hash(line.strip_suffix(b"\n").unwrap_or(&line)))
    }

    /// The seal that would close this file now.
    pub(crate) fn seal_for(&self, seq: u64, prev: &Hash, recovered: bool, torn: u64) -> Seal {
        Seal {
            seq,
            prev: hex::encode(prev),
            file: self.name.clone(),
            lines: self.lines,
            first_seq: self.first_seq,
            last_hash: hex::encode(prev),
            recovered,
            torn_bytes: torn,
        }
    }

    /// Writes `bytes` whole or not at all: on failure the file is cut back to its last good
    /// length (best effort) and the error returned.
    fn write(&mut self, bytes: &[u8], sync: bool) -> Result<(), Error> {
        let mut result = (&*self.file).write_all(bytes).map_err(|e| ("write", e));
        if result.is_ok() && sync {
            result = self.file.sync_data().map_err(|e| ("sync", e));
        }
        if let Err((op, source)) = result {
            let _ = self.file.set_len(self.size);
            return Err(Error::io(op, &self.path, source));
        }
        self.size += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(file_name(1), "audit-00000000000000000001.jsonl");
        assert_eq!(parse_name(&file_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_name("audit-1.jsonl"), None);
        assert_eq!(parse_name("audit.lock"), None);
        assert!(file_name(9) < file_name(10));
    }
}
