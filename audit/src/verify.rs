//! Verification: reads every audit file in order and checks the whole chain and every seal.
//!
//! Takes the audit directory and the seal key, and hands back a [`Report`] naming the first
//! [`Break`]: a line that does not decode, a seq gap or repeat, a `prev` that does not match
//! (a line edited, deleted or reordered, a file missing or swapped), a seal whose form, file
//! name, line count, last hash or MAC is wrong, a line after a seal, an unsealed file that is not
//! the last one, a torn line. What it cannot see: the newest lines of an active (unsealed) file
//! cut off at a line boundary, or whole files deleted from the end; an anchor kept elsewhere
//! (the last seq and hash) is needed for those.

use std::fmt;
use std::path::Path;

use crate::file::{self, Line, Lines, Listed};
use crate::line::{self, GENESIS, Hash, Kind, Seal};
use crate::{Error, Event, SealKey};

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Audit files in the directory.
    pub files: usize,
    /// Event lines checked (up to the break, if any).
    pub events: u64,
    /// Things that are not a break but deserve a look: an unsealed active file, a seal written
    /// on recovery after a crash.
    pub warnings: Vec<String>,
    /// The first point where the log is not intact, or `None` if it is.
    pub broken: Option<Break>,
}

impl Report {
    /// Whether the log verified without a break (warnings allowed).
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// The first point where the log is not intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The audit file's name.
    pub file: String,
    /// The 1-based line in that file.
    pub line: u64,
    /// The seq of that line, when it could be read.
    pub seq: Option<u64>,
    /// What is wrong, in words.
    pub reason: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}", self.file, self.line)?;
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Verifies the audit trail in `dir` under `seal_key`.
///
/// # Errors
/// [`Error::Io`] if a file cannot be listed or read. A tampered log is not an error: it is a
/// report with [`Report::broken`] set.
pub fn verify(dir: &Path, seal_key: &SealKey) -> Result<Report, Error> {
    let files = file::list(dir)?;
    let mut chain = Chain::new(seal_key);
    if files.is_empty() {
        chain
            .warnings
            .push("no audit files in the directory".to_owned());
    }

    let mut broken = None;
    for (index, listed) in files.iter().enumerate() {
        let next = files.get(index + 1);
        broken = chain.check_file(listed, next)?;
        if broken.is_some() {
            break;
        }
    }

    let (events, warnings) = (chain.events, chain.warnings);
    Ok(Report {
        files: files.len(),
        events,
        warnings,
        broken,
    })
}

/// The chain as checked so far.
struct Chain<'k> {
    key: &'k SealKey,
    expected_seq: u64,
    expected_prev: Hash,
    /// The seq of the line last checked.
    last_seq: Option<u64>,
    events: u64,
    warnings: Vec<String>,
}

/// One file as checked so far.
#[derive(Default)]
struct FileState {
    events: u64,
    lines: u64,
    sealed: bool,
}

fn broken(listed: &Listed, line: u64, seq: Option<u64>, reason: String) -> Break {
    Break {
        file: listed.name.clone(),
        line,
        seq,
        reason,
    }
}

impl<'k> Chain<'k> {
    fn new(key: &'k SealKey) -> Chain<'k> {
        Chain {
            key,
            expected_seq: 1,
            expected_prev: GENESIS,
            last_seq: None,
            events: 0,
            warnings: Vec::new(),
        }
    }

    fn check_file(
        &mut self,
        listed: &Listed,
        next: Option<&Listed>,
    ) -> Result<Option<Break>, Error> {
        let mut lines = Lines::open(&listed.path)?;
        let mut state = FileState::default();
        while let Some(line) = lines.next_line()? {
            state.lines = line.number;
            if let Err(found) = self.check_line(listed, &mut state, &line) {
                return Ok(Some(found));
            }
        }
        Ok(self.end_of_file(listed, &state, next))
    }

    fn check_line(
        &mut self,
        listed: &Listed,
        file: &mut FileState,
        line: &Line<'_>,
    ) -> Result<(), Break> {
        let number = line.number;
        if !line.complete {
            let reason = format!(
                "torn line: {} bytes without a newline end the file (a crash during a write? \
                 reopening the log cuts them off)",
                line.bytes.len()
            );
            return Err(broken(listed, number, None, reason));
        }
        if file.sealed {
            let reason = "line after the seal: a sealed file is never written again".to_owned();
            return Err(broken(listed, number, None, reason));
        }
        let head = line::decode_head(line.bytes)
            .map_err(|e| broken(listed, number, None, format!("line does not decode: {e}")))?;
        let seq = Some(head.seq);

        self.check_seq(listed, number, head.seq)?;
        if number == 1 && head.seq != listed.first_seq {
            let reason = format!(
                "first line has seq {}, the file name says {}",
                head.seq, listed.first_seq
            );
            return Err(broken(listed, number, seq, reason));
        }
        self.check_prev(listed, number, &head.prev)?;

        match head.kind {
            Kind::Event => check_event(listed, number, seq, line.bytes)?,
            Kind::Seal => self.check_seal(listed, file, number, line.bytes)?,
        }
        file.events += u64::from(head.kind == Kind::Event);
        file.sealed = head.kind == Kind::Seal;

        self.expected_seq = head.seq + 1;
        self.expected_prev = line::hash(line.bytes);
        self.last_seq = seq;
        self.events += u64::from(head.kind == Kind::Event);
        Ok(())
    }

    fn check_seq(&self, listed: &Listed, number: u64, seq: u64) -> Result<(), Break> {
        let expected = self.expected_seq;
        if seq == expected {
            return Ok(());
        }
        let reason = if number == 1 && expected == 1 {
            format!("the log starts at seq {seq}, not 1: its first files are missing")
        } else if number == 1 && seq > expected {
            format!("seq jumps from {expected} to {seq} between files: a file is missing")
        } else if seq > expected {
            format!("seq gap: expected {expected}, found {seq} (lines deleted or reordered)")
        } else {
            format!("seq repeats: expected {expected}, found {seq} (lines copied or reordered)")
        };
        Err(broken(listed, number, Some(seq), reason))
    }

    fn check_prev(&self, listed: &Listed, number: u64, prev: &str) -> Result<(), Break> {
        if prev == hex::encode(self.expected_prev) {
            return Ok(());
        }
        if number == 1 {
            let reason = "first line does not chain to the last line of the previous file \
                          (files replaced or the previous file altered)";
            return Err(broken(
                listed,
                number,
                Some(self.expected_seq),
                reason.to_owned(),
            ));
        }
        let reason =
            format!("line was changed: its hash does not match the prev recorded in line {number}");
        Err(broken(listed, number - 1, self.last_seq, reason))
    }

    fn check_seal(
        &mut self,
        listed: &Listed,
        file: &FileState,
        number: u64,
        bytes: &[u8],
    ) -> Result<(), Break> {
        let fail = |seq: Option<u64>, reason: String| broken(listed, number, seq, reason);
        let (seal, mac) = line::decode_seal(bytes)
            .map_err(|e| fail(None, format!("seal line does not decode: {e}")))?;
        let seq = Some(seal.seq);

        if let Some(reason) = self.seal_problem(listed, file, &seal, &mac, bytes) {
            return Err(fail(seq, reason));
        }
        if seal.recovered {
            self.warnings.push(format!(
                "{} was sealed on recovery after a crash ({} torn bytes cut off)",
                listed.name, seal.torn_bytes
            ));
        }
        Ok(())
    }

    fn seal_problem(
        &self,
        listed: &Listed,
        file: &FileState,
        seal: &Seal,
        mac: &str,
        bytes: &[u8],
    ) -> Option<String> {
        if !line::is_canonical(bytes, seal, mac) {
            return Some(
                "seal line was edited: it is not in the form the writer writes".to_owned(),
            );
        }
        if seal.file != listed.name {
            return Some(format!(
                "seal names file {}, not this one (renamed?)",
                seal.file
            ));
        }
        if seal.first_seq != listed.first_seq {
            return Some(format!(
                "seal says the file starts at seq {}",
                seal.first_seq
            ));
        }
        if seal.lines != file.events {
            return Some(format!(
                "seal counts {} events, the file has {}",
                seal.lines, file.events
            ));
        }
        if seal.last_hash != hex::encode(self.expected_prev) {
            return Some("seal's last_hash does not match the file's last line".to_owned());
        }
        if !line::mac_matches(seal, mac, self.key) {
            return Some("seal MAC does not match: forged seal or wrong seal key".to_owned());
        }
        None
    }

    fn end_of_file(
        &mut self,
        listed: &Listed,
        file: &FileState,
        next: Option<&Listed>,
    ) -> Option<Break> {
        if file.sealed {
            return None;
        }
        let Some(next) = next else {
            self.warnings.push(format!(
                "{} is the active file: not sealed yet, so its newest lines are not yet protected",
                listed.name
            ));
            return None;
        };
        let reason = format!("file has no seal but {} follows it (truncated?)", next.name);
        Some(broken(listed, file.lines + 1, None, reason))
    }
}

fn check_event(listed: &Listed, number: u64, seq: Option<u64>, bytes: &[u8]) -> Result<(), Break> {
    match serde_json::from_slice::<Event>(bytes) {
        Ok(_) => Ok(()),
        Err(e) => Err(broken(
            listed,
            number,
            seq,
            format!("event does not decode: {e}"),
        )),
    }
}
