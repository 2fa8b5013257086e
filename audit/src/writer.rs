//! The writer: [`AuditLog`] appends each event as one line to the active file, rotates and seals
//! files, and makes lines durable as [`Durability`] says.
//!
//! It takes events from the gateway's request handlers and background tasks (many at once: the
//! state sits behind one mutex) and hands lines to the file system. When `append` fails the event
//! is not in the log, and the caller should refuse the request rather than serve it unrecorded.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::file::Active;
use crate::line::{self, Hash};
use crate::recover::{self, Recovery};
use crate::{Error, Event, SealKey};

/// The name of the lock file that keeps a second writer out of the directory.
const LOCK_FILE: &str = "audit.lock";

/// How the writer rotates and syncs files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// A file is sealed before the next event once it holds this many bytes or more, so a file
    /// ends at most one event line and its seal past this. Default 64 MiB.
    pub max_file_bytes: u64,
    /// A file is sealed before the next event once it has been open this long. Checked when an
    /// event arrives, so an idle file stays open past it. Default 1 hour.
    pub max_file_age: Duration,
    /// When lines reach the disk. Default [`Durability::Batched`] with 1 second.
    pub durability: Durability,
}

impl Default for AuditOptions {
    fn default() -> AuditOptions {
        AuditOptions {
            max_file_bytes: 64 * 1024 * 1024,
            max_file_age: Duration::from_secs(60 * 60),
            durability: Durability::default(),
        }
    }
}

/// When an appended line is made durable (`fsync`).
///
/// Every line is written to the file in one `write` call before `append` returns, never held in
/// a user-space buffer, so a crash of the gateway process loses nothing that `append` accepted.
/// Only a crash of the operating system (or power) can lose lines not yet synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `sync_data` before `append` returns: nothing accepted is ever lost, at the price of one
    /// disk flush per request.
    EveryEvent,
    /// A background thread syncs at most `max_delay` after a line was written. An OS crash loses
    /// at most the last `max_delay` of events; reopening then seals what is left. This is the
    /// default because one flush per request would cap the gateway at the disk's flush rate.
    Batched {
        /// The longest a written line waits for its sync. Default 1 second.
        max_delay: Duration,
    },
}

impl Default for Durability {
    fn default() -> Durability {
        Durability::Batched {
            max_delay: Duration::from_secs(1),
        }
    }
}

/// An open audit trail directory: appends events, rotates and seals files.
///
/// Dropping it without [`close`](AuditLog::close) leaves the active file unsealed, as a crash
/// would; the next [`open`](AuditLog::open) seals it as recovered.
pub struct AuditLog {
    shared: Arc<Shared>,
    syncer: Mutex<Option<JoinHandle<()>>>,
    recovery: Option<Recovery>,
    _lock: File,
}

struct Shared {
    dir: PathBuf,
    key: SealKey,
    options: AuditOptions,
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    active: Option<Active>,
    next_seq: u64,
    prev: Hash,
    /// When the oldest line not yet synced was written (batched durability).
    dirty_since: Option<Instant>,
    /// The background sync failed; the next append must sync before it may succeed.
    sync_failed: bool,
    closed: bool,
    stopping: bool,
}

impl AuditLog {
    /// Opens (creating it if needed) the audit directory `dir`, seals a file left open by a
    /// crash, and starts a new file.
    ///
    /// # Errors
    /// [`Error::Locked`] if another `AuditLog` has the directory open, [`Error::Corrupt`] if the
    /// last file holds a line that does not decode (run [`verify`](crate::verify)), and
    /// [`Error::Io`] for the file system.
    pub fn open(dir: &Path, seal_key: SealKey, options: AuditOptions) -> Result<AuditLog, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let lock = lock(dir)?;

        let resume = recover::recover(dir, &seal_key)?;
        let active = Active::create(dir, resume.next_seq)?;

        let state = State::new(active, resume.next_seq, resume.prev);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            key: seal_key,
            options,
            state: Mutex::new(state),
            wake: Condvar::new(),
        });
        let syncer = start_syncer(&shared)?;
        let recovery = resume.recovery;
        Ok(AuditLog {
            shared,
            syncer: Mutex::new(syncer),
            recovery,
            _lock: lock,
        })
    }

    /// What opening had to repair after a crash, if anything (for the gateway to log).
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// Appends one event. When this returns `Ok` the line is in the file (and on disk with
    /// [`Durability::EveryEvent`]).
    ///
    /// # Errors
    /// [`Error::Io`] if a write, sync, seal or file creation failed: the event was not recorded
    /// and a later call tries again. [`Error::Closed`] after [`close`](AuditLog::close).
    pub fn append(&self, event: &Event) -> Result<(), Error> {
        let body = line::encode_body(event)?;
        let mut state = self.shared.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        state.retry_sync()?;

        if state.rotation_due(&self.shared.options) {
            state.seal_active(&self.shared.key)?;
        }
        state.ensure_active(&self.shared.dir)?;

        let was_dirty = state.dirty_since.is_some();
        state.write_event(&body, self.shared.options.durability)?;
        if !was_dirty && state.dirty_since.is_some() {
            // Only the first unsynced line starts the syncer's clock.
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Seals the active file and stops taking events. Calling it again does nothing.
    ///
    /// # Errors
    /// [`Error::Io`] if the seal could not be written; the log stays open and `close` may be
    /// called again.
    pub fn close(&self) -> Result<(), Error> {
        {
            let mut state = self.shared.lock();
            if state.closed {
                return Ok(());
            }
            state.seal_active(&self.shared.key)?;
            state.closed = true;
        }
        self.stop_syncer();
        Ok(())
    }

    fn stop_syncer(&self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_all();
        let handle = self
            .syncer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Swaps the active file's handle (tests point it at `/dev/full` to make writes fail).
    #[cfg(test)]
    pub(crate) fn swap_file_for_test(&self, file: Arc<File>) -> Option<Arc<File>> {
        let mut state = self.shared.lock();
        let active = state.active.as_mut()?;
        Some(std::mem::replace(&mut active.file, file))
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        self.stop_syncer();
        if let Some(active) = &self.shared.lock().active {
            let _ = active.file.sync_data();
        }
    }
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

fn lock(dir: &Path) -> Result<File, Error> {
    let path = dir.join(LOCK_FILE);
    let file = File::create(&path).map_err(|e| Error::io("create", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn new(active: Active, next_seq: u64, prev: Hash) -> State {
        State {
            active: Some(active),
            next_seq,
            prev,
            dirty_since: None,
            sync_failed: false,
            closed: false,
            stopping: false,
        }
    }

    /// After a failed background sync, syncs now: an append only succeeds on a healthy disk.
    fn retry_sync(&mut self) -> Result<(), Error> {
        if !self.sync_failed {
            return Ok(());
        }
        if let Some(active) = &self.active {
            let synced = active.file.sync_data();
            synced.map_err(|e| Error::io("sync", &active.path, e))?;
        }
        self.sync_failed = false;
        Ok(())
    }

    fn rotation_due(&self, options: &AuditOptions) -> bool {
        self.active.as_ref().is_some_and(|active| {
            let full = active.size >= options.max_file_bytes;
            let old = active.opened.elapsed() >= options.max_file_age;
            active.lines > 0 && (full || old)
        })
    }

    /// Seals the active file; on success there is no active file until the next append.
    fn seal_active(&mut self, key: &SealKey) -> Result<(), Error> {
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        let seal = active.seal_for(self.next_seq, &self.prev, false, 0);
        self.prev = active.seal(key, seal)?;
        self.next_seq += 1;
        self.active = None;
        self.dirty_since = None;
        Ok(())
    }

    fn ensure_active(&mut self, dir: &Path) -> Result<(), Error> {
        if self.active.is_none() {
            self.active = Some(Active::create(dir, self.next_seq)?);
        }
        Ok(())
    }

    fn write_event(&mut self, body: &[u8], durability: Durability) -> Result<(), Error> {
        let line = line::event_line(self.next_seq, &self.prev, body);
        let Some(active) = self.active.as_mut() else {
            return Err(Error::Closed);
        };
        let sync = durability == Durability::EveryEvent;
        active.append_event(&line, sync)?;

        self.prev = line::hash(line.strip_suffix(b"\n").unwrap_or(&line));
        self.next_seq += 1;
        if !sync && self.dirty_since.is_none() {
            self.dirty_since = Some(Instant::now());
        }
        Ok(())
    }
}

fn start_syncer(shared: &Arc<Shared>) -> Result<Option<JoinHandle<()>>, Error> {
    let Durability::Batched { max_delay } = shared.options.durability else {
        return Ok(None);
    };
    let dir = shared.dir.clone();
    let shared = Arc::clone(shared);
    let thread = std::thread::Builder::new().name("audit-sync".to_owned());
    let handle = thread.spawn(move || run_syncer(&shared, max_delay));
    handle
        .map(Some)
        .map_err(|e| Error::io("start sync thread", &dir, e))
}

/// The background syncer: sleeps until a line is written, waits out `max_delay` from then, and
/// syncs the active file outside the lock so appends go on meanwhile.
fn run_syncer(shared: &Shared, max_delay: Duration) {
    let mut state = shared.lock();
    while !state.stopping {
        let Some(since) = state.dirty_since else {
            state = shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let wait = (since + max_delay).saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            let woken = shared.wake.wait_timeout(state, wait);
            state = woken.unwrap_or_else(PoisonError::into_inner).0;
            continue;
        }

        state.dirty_since = None;
        let file = state.active.as_ref().map(|active| Arc::clone(&active.file));
        drop(state);
        let failed = file.is_some_and(|file| file.sync_data().is_err());
        state = shared.lock();
        state.sync_failed |= failed;
    }
}
