//! The session pool of the PKCS#11 root: a free list of logged-in R/W sessions on one token.
//!
//! An operation takes a session, uses it alone (a PKCS#11 session serves one thread at a
//! time) and gives it back, so parallel calls use parallel sessions, up to the pool's size;
//! beyond that they wait for one to come back. When a session turns out to be lost, the pool
//! is reset: every free session is closed, a generation counter moves on (sessions of an older
//! generation are dropped rather than given back), and the next caller connects again:
//! `C_Initialize` if the library was finalized, find the token, open a session, log in.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::{MechanismInfo, MechanismType};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::fault::Failure;
use super::{Pkcs11Config, TokenSelector};
use crate::Pin;

/// A pool of sessions on the token a [`Pkcs11Config`] names.
pub(super) struct Pool {
    ctx: Pkcs11,
    token: TokenSelector,
    pin: Pin,
    size: usize,
    state: Mutex<State>,
    returned: Condvar,
}

/// The pool's mutable part.
struct State {
    /// Idle sessions of the current generation.
    free: Vec<Session>,
    /// Sessions of the current generation, idle or in use.
    open: usize,
    /// Moves on at each reset.
    generation: u64,
    /// The token's slot while connected; `None` after a reset.
    slot: Option<Slot>,
}

impl Pool {
    /// Loads the module and connects: initializes it, finds the token, logs in and opens
    /// `config.sessions` sessions.
    pub(super) fn open(config: &Pkcs11Config) -> Result<Pool, Failure> {
        let ctx = Pkcs11::new(&config.module).map_err(Failure::call("load the PKCS#11 module"))?;
        let pool = Pool {
            ctx,
            token: config.token.clone(),
            pin: config.pin.clone(),
            size: config.sessions.max(1),
            state: Mutex::new(State {
                free: Vec::new(),
                open: 0,
                generation: 0,
                slot: None,
            }),
            returned: Condvar::new(),
        };
        pool.fill()?;
        Ok(pool)
    }

    /// Runs `op` on a session of its own; a lost session resets the pool.
    pub(super) fn with<T>(
        &self,
        op: impl FnOnce(&Session) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let (session, generation) = self.take()?;
        let result = op(&session);
        match &result {
            Err(failure) if failure.is_lost() => self.reset(generation, session),
            _ => self.give_back(session, generation),
        }
        result
    }

    /// What the token says it does with mechanism `ty`, or `None` if `C_GetMechanismList`
    /// does not list it.
    pub(super) fn mechanism(&self, ty: MechanismType) -> Result<Option<MechanismInfo>, Failure> {
        let slot = self.lock().slot.ok_or(Failure::Lost {
            step: "find the token",
            source: None,
        })?;
        let listed = self.ctx.get_mechanism_list(slot);
        if !listed
            .map_err(Failure::call("C_GetMechanismList"))?
            .contains(&ty)
        {
            return Ok(None);
        }
        let info = self.ctx.get_mechanism_info(slot, ty);
        info.map(Some).map_err(Failure::call("C_GetMechanismInfo"))
    }

    /// Opens sessions until the pool is full.
    fn fill(&self) -> Result<(), Failure> {
        let mut state = self.lock();
        while state.open < self.size {
            let session = self.open_session(&mut state)?;
            state.free.push(session);
            state.open += 1;
        }
        Ok(())
    }

    /// An idle session, a new one if the pool is not full, or the next one given back.
    fn take(&self) -> Result<(Session, u64), Failure> {
        let mut state = self.lock();
        loop {
            if let Some(session) = state.free.pop() {
                return Ok((session, state.generation));
            }
            if state.open < self.size {
                let session = self.open_session(&mut state)?;
                state.open += 1;
                return Ok((session, state.generation));
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give_back(&self, session: Session, generation: u64) {
        let mut state = self.lock();
        // A session from before a reset is dropped without C_CloseSession: after a
        // re-initialization its handle may name a new session. It leaks at most until the
        // library is finalized.
        if generation == state.generation {
            state.free.push(session);
            self.returned.notify_one();
        }
    }

    /// Forgets every session of `generation` (unless a reset already did) so that the next
    /// caller connects again.
    fn reset(&self, generation: u64, lost: Session) {
        let mut state = self.lock();
        if generation != state.generation {
            return;
        }
        state.generation += 1;
        state.open = 0;
        state.slot = None;
        // Close before any re-initialization, while the handles still mean these sessions;
        // errors are expected (the sessions are likely gone already).
        let _ = lost.close();
        for session in state.free.drain(..) {
            let _ = session.close();
        }
        self.returned.notify_all();
    }

    /// A new R/W session, connecting first if the pool was reset.
    fn open_session(&self, state: &mut State) -> Result<Session, Failure> {
        let Some(slot) = state.slot else {
            return self.connect(state);
        };
        let session = self.ctx.open_rw_session_no_drop(slot);
        session.map_err(Failure::call("C_OpenSession"))
    }

    /// Initializes the library if needed, finds the token, opens a session and logs in (the
    /// login is shared by every session of the application on this token, and ends when its
    /// last session closes).
    fn connect(&self, state: &mut State) -> Result<Session, Failure> {
        initialize(&self.ctx)?;
        let slot = find_slot(&self.ctx, &self.token)?;
        let session = self.ctx.open_rw_session_no_drop(slot);
        let session = session.map_err(Failure::call("C_OpenSession"))?;
        if let Err(failure) = login(&session, &self.pin) {
            let _ = session.close();
            return Err(failure);
        }
        state.slot = Some(slot);
        Ok(session)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The library stays initialized: another root in this process may share it.
        for session in self.lock().free.drain(..) {
            let _ = session.close();
        }
    }
}

/// `C_Initialize` with OS locking; an already initialized library is fine.
fn initialize(ctx: &Pkcs11) -> Result<(), Failure> {
    let args = CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK);
    match ctx.initialize(args) {
        Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) | Ok(()) => Ok(()),
        Err(err) => Err(Failure::call("C_Initialize")(err)),
    }
}

/// The slot holding the selected token.
fn find_slot(ctx: &Pkcs11, token: &TokenSelector) -> Result<Slot, Failure> {
    let slots = ctx.get_slots_with_token();
    for slot in slots.map_err(Failure::call("C_GetSlotList"))? {
        let found = match token {
            TokenSelector::Slot(id) => slot.id() == *id,
            TokenSelector::Label(label) => {
                let info = ctx.get_token_info(slot);
                let info = info.map_err(Failure::call("C_GetTokenInfo"))?;
                info.label().trim_end() == label.trim_end()
            }
        };
        if found {
            return Ok(slot);
        }
    }
    Err(Failure::Lost {
        step: "find the token",
        source: None,
    })
}

/// `C_Login` as User; an application already logged in is fine.
fn login(session: &Session, pin: &Pin) -> Result<(), Failure> {
    let pin = AuthPin::from(pin.expose());
    match session.login(UserType::User, Some(&pin)) {
        Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) | Ok(()) => Ok(()),
        Err(err) => Err(Failure::call("C_Login")(err)),
    }
}
