//! The PKCS#11 root of trust: master-key versions as AES-256 key objects inside an HSM.
//!
//! [`Kms`](crate::Kms) hands [`Pkcs11Root`] a key id and version; the root has the token
//! generate a sensitive, non-extractable AES key object and hands back a 20-byte handle that
//! names it by `CKA_ID` (see `format` for the frozen layouts). Sealing and opening data keys
//! is `CKM_AES_GCM` inside the token, so key material never leaves it; a token without it
//! wraps a fresh content key per seal instead (`keywrap`, see [`SealMechanism`]), and either
//! mode opens what the other sealed. The root keeps no state
//! the token does not hold: a cache from `CKA_ID` to object handle, forgotten on any session
//! or token fault, and a pool of sessions (`pool`) that is reset and reconnected once per
//! fault before the operation is retried once.

mod fault;
mod format;
mod keywrap;
mod pool;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismInfo, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState};
use zeroize::Zeroizing;

use self::fault::{Failure, KIND};
use self::format::{ID_LEN, ObjectId, TAG_BITS, WrapMechanism, Wrapped};
use self::pool::Pool;
use crate::aead::{KEY_LEN, NONCE_LEN};
use crate::secret::fill_random;
use crate::{Error, Pin, Plaintext, RootOfTrust};

pub use self::format::{PKCS11_SEALED_FORMAT, PKCS11_WRAPPED_FORMAT, is_pkcs11_handle};

/// Default number of sessions a [`Pkcs11Root`] keeps open.
pub const DEFAULT_PKCS11_SESSIONS: usize = 4;

/// Which token of the module to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSelector {
    /// The token with this label (`CKA_LABEL` of the token, trailing blanks ignored).
    Label(String),
    /// The token in the slot with this id.
    Slot(u64),
}

/// How to reach the token. `Debug` shows everything but the PIN.
#[derive(Clone, Debug)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (a shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: PathBuf,
    /// The token to use.
    pub token: TokenSelector,
    /// The token's user PIN.
    pub pin: Pin,
    /// How many sessions to keep open: the most operations that run at once. Default
    /// [`DEFAULT_PKCS11_SESSIONS`]; 0 counts as 1.
    pub sessions: usize,
    /// How data keys are sealed. Default [`SealMechanism::Auto`].
    pub mechanism: SealMechanism,
}

/// How a [`Pkcs11Root`] seals data keys. Whatever it is, the root opens both formats, so a
/// token that gains or loses `CKM_AES_GCM` keeps opening what it sealed before.
///
/// ```no_run
/// use kms_core::{Pin, Pkcs11Config, Pkcs11Root, SealMechanism, TokenSelector};
///
/// # fn main() -> Result<(), kms_core::Error> {
/// let token = TokenSelector::Label("sealgate".into());
/// let mut config = Pkcs11Config::new("/usr/lib/libhsm.so", token, Pin::new("5678".into()));
/// config.mechanism = SealMechanism::KeyWrap;
/// assert_eq!(Pkcs11Root::open(&config)?.mechanism(), SealMechanism::KeyWrap);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SealMechanism {
    /// [`Gcm`](SealMechanism::Gcm) if the token's mechanism list has `CKM_AES_GCM` for
    /// encryption and decryption, else [`KeyWrap`](SealMechanism::KeyWrap). Decided once,
    /// when the root opens. The default.
    #[default]
    Auto,
    /// `CKM_AES_GCM` inside the token ([`PKCS11_SEALED_FORMAT`]); not checked against the
    /// mechanism list.
    Gcm,
    /// A fresh content key per seal, wrapped by the token with `CKM_AES_KEY_WRAP_PAD` (RFC 5649),
    /// or `CKM_AES_KEY_WRAP` (RFC 3394) if the token lacks it, and AES-256-GCM in software
    /// under that content key ([`PKCS11_WRAPPED_FORMAT`]).
    ///
    /// The trade-off: master-key versions made in this mode have `CKA_WRAP` and `CKA_UNWRAP`
    /// true. They stay sensitive and never leave the token, but any logged-in session may now
    /// have them wrap any extractable key or unwrap any value into a readable session object,
    /// and each content key is in process memory while one seal or open runs. Versions made in
    /// GCM mode keep wrapping off, so in this mode they still seal with `CKM_AES_GCM` (format 1,
    /// if the token can); rotate to move a key onto key wrapping.
    KeyWrap,
}

impl Pkcs11Config {
    /// A configuration with [`DEFAULT_PKCS11_SESSIONS`] sessions.
    pub fn new(module: impl Into<PathBuf>, token: TokenSelector, pin: Pin) -> Pkcs11Config {
        Pkcs11Config {
            module: module.into(),
            token,
            pin,
            sessions: DEFAULT_PKCS11_SESSIONS,
            mechanism: SealMechanism::Auto,
        }
    }
}

/// What [`Pkcs11Root::key_objects`] tells about one secret-key object on the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyObjectInfo {
    /// `CKA_LABEL`, `sealgate:<key id>:v<version>` for objects Sealgate made.
    pub label: String,
    /// `CKA_ID`.
    pub id: Vec<u8>,
    /// `CKA_SENSITIVE`.
    pub sensitive: bool,
    /// `CKA_EXTRACTABLE`.
    pub extractable: bool,
    /// `CKA_WRAP`: true only for versions made in [`SealMechanism::KeyWrap`] mode.
    pub wrap: bool,
    /// `CKA_UNWRAP`: true only for versions made in [`SealMechanism::KeyWrap`] mode.
    pub unwrap: bool,
    /// Whether `C_GetAttributeValue(CKA_VALUE)` returned the key's value (it must not).
    pub value_readable: bool,
}

/// How an open root seals: [`SealMechanism`] resolved against the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Gcm,
    KeyWrap(WrapMechanism),
}

/// What a seal in key-wrap mode got from the token.
enum FromToken {
    /// The content key, wrapped.
    Wrapped(Vec<u8>),
    /// A whole format-1 value: the version may not wrap, so it sealed with AES-GCM.
    Sealed(Vec<u8>),
}

/// A root of trust whose master-key versions are AES-256 key objects in a PKCS#11 token.
///
/// ```no_run
/// use std::sync::Arc;
/// use kms_core::{Kms, Pin, Pkcs11Config, Pkcs11Root, TokenSelector};
///
/// # fn main() -> Result<(), kms_core::Error> {
/// let config = Pkcs11Config::new(
///     "/usr/lib/softhsm/libsofthsm2.so",
///     TokenSelector::Label("sealgate".into()),
///     Pin::new("5678".into()),
/// );
/// let root = Pkcs11Root::open(&config)?;
/// let kms = Kms::open("/var/lib/sealgate".as_ref(), Arc::new(root))?;
/// # Ok(()) }
/// ```
pub struct Pkcs11Root {
    config: Pkcs11Config,
    mode: Mode,
    pool: Pool,
    objects: RwLock<HashMap<ObjectId, ObjectHandle>>,
}

impl fmt::Debug for Pkcs11Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Root")
            .field("config", &self.config)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Root {
    /// Loads the module, initializes it (`CKF_OS_LOCKING_OK`), finds the token, logs in as
    /// User, opens the pool of R/W sessions and settles the [`SealMechanism`] against the
    /// token's mechanism list.
    ///
    /// # Errors
    /// [`Error::Pkcs11Open`] naming the step that failed (loading, `C_Initialize`, finding
    /// the token, `C_OpenSession`, `C_Login`, `C_GetMechanismList`) with the token's error,
    /// or saying that the token has none of the mechanisms the configured mode needs.
    pub fn open(config: &Pkcs11Config) -> Result<Pkcs11Root, Error> {
        let pool = Pool::open(config).map_err(|failure| open_error(config, failure))?;
        let mode = resolve(&pool, config.mechanism).map_err(|f| open_error(config, f))?;
        let mode = mode.ok_or_else(|| Error::Pkcs11Open {
            module: config.module.clone(),
            reason: "the token offers neither CKM_AES_GCM nor CKM_AES_KEY_WRAP(_PAD)",
            source: None,
        })?;
        Ok(Pkcs11Root {
            config: config.clone(),
            mode,
            pool,
            objects: RwLock::new(HashMap::new()),
        })
    }

    /// How this root seals: [`SealMechanism::Gcm`] or [`SealMechanism::KeyWrap`], never
    /// `Auto`.
    pub fn mechanism(&self) -> SealMechanism {
        match self.mode {
            Mode::Gcm => SealMechanism::Gcm,
            Mode::KeyWrap(_) => SealMechanism::KeyWrap,
        }
    }

    /// Every secret-key object the token shows this user, with what it says about itself.
    ///
    /// # Errors
    /// [`Error::RootOfTrust`] or [`Error::RootUnavailable`] if the token fails.
    pub fn key_objects(&self) -> Result<Vec<KeyObjectInfo>, Error> {
        self.run(|session| {
            let template = [Attribute::Class(ObjectClass::SECRET_KEY)];
            let found = session.find_objects(&template);
            let found = found.map_err(Failure::call("C_FindObjects"))?;
            found.into_iter().map(|o| describe(session, o)).collect()
        })
    }

    /// Runs `op` on a session; if the session or token was lost, runs it once more on a
    /// fresh one (the pool reconnects), and reports a second loss as unavailable.
    fn run<T>(&self, op: impl Fn(&Session) -> Result<T, Failure>) -> Result<T, Error> {
        match self.attempt(&op) {
            Err(failure) if failure.is_lost() => {}
            other => return other.map_err(Failure::into_error),
        }
        self.attempt(&op).map_err(Failure::into_error)
    }

    fn attempt<T>(&self, op: &impl Fn(&Session) -> Result<T, Failure>) -> Result<T, Failure> {
        let result = self.pool.with(op);
        if result.as_ref().is_err_and(Failure::is_lost) {
            self.forget_all();
        }
        result
    }

    /// The object with `CKA_ID` `id`, from the cache or the token.
    fn key_object(&self, session: &Session, id: &ObjectId) -> Result<ObjectHandle, Failure> {
        let cached = self.objects.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(object) = cached.get(id) {
            return Ok(*object);
        }
        drop(cached);
        let Some(&object) = find_by_id(session, id)?.first() else {
            return Err(Failure::Done(Error::RootOfTrust {
                kind: KIND,
                reason: "no key object on the token has this handle's CKA_ID",
            }));
        };
        self.remember(*id, object);
        Ok(object)
    }

    fn remember(&self, id: ObjectId, object: ObjectHandle) {
        let mut cache = self.objects.write().unwrap_or_else(PoisonError::into_inner);
        cache.insert(id, object);
    }

    fn forget(&self, id: &ObjectId) {
        let mut cache = self.objects.write().unwrap_or_else(PoisonError::into_inner);
        cache.remove(id);
    }

    fn forget_all(&self) {
        let mut cache = self.objects.write().unwrap_or_else(PoisonError::into_inner);
        cache.clear();
    }

    /// Generates the key object of a new version; returns its `CKA_ID`.
    fn generate(&self, session: &Session, label: &str) -> Result<ObjectId, Failure> {
        // A fresh CKA_ID per attempt: an object the token made before a lost answer is
        // left unused rather than sharing an id with the retry's.
        let id = random::<ID_LEN>().map_err(Failure::Done)?;
        let template = key_template(label, &id, self.mode);
        let object = session.generate_key(&Mechanism::AesKeyGen, &template);
        let object = object.map_err(Failure::call("C_GenerateKey"))?;
        self.remember(id, object);
        Ok(id)
    }

    /// AES-GCM inside the token; returns the IV and `ciphertext || tag`.
    fn encrypt(
        &self,
        session: &Session,
        id: &ObjectId,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<([u8; NONCE_LEN], Vec<u8>), Failure> {
        let object = self.key_object(session, id)?;
        let iv = random::<NONCE_LEN>().map_err(Failure::Done)?;
        let mut iv_param = iv;
        let params = GcmParams::new(&mut iv_param, aad, TAG_BITS.into());
        let params = params.map_err(Failure::call("CK_GCM_PARAMS"))?;
        let body = session.encrypt(&Mechanism::AesGcm(params), object, plaintext);
        Ok((iv, body.map_err(Failure::call("C_Encrypt"))?))
    }

    /// AES-GCM decryption inside the token; every failure but a lost session is
    /// [`Error::InvalidCiphertext`].
    fn decrypt(
        &self,
        session: &Session,
        id: &ObjectId,
        aad: &[u8],
        iv: [u8; NONCE_LEN],
        body: &[u8],
    ) -> Result<Plaintext, Failure> {
        let object = self.key_object(session, id)?;
        let mut iv = iv;
        let params = GcmParams::new(&mut iv, aad, TAG_BITS.into());
        let params = params.map_err(|_| Failure::Done(Error::InvalidCiphertext))?;
        let plain = session.decrypt(&Mechanism::AesGcm(params), object, body);
        Ok(Plaintext::new(
            plain.map_err(Failure::opening("C_Decrypt"))?,
        ))
    }

    /// Seals in key-wrap mode: format 2, or format 1 for a version that may not wrap.
    fn seal_wrapped(
        &self,
        id: &ObjectId,
        mechanism: WrapMechanism,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let key = keywrap::content_key()?;
        let from_token = self.run(|session| {
            let master = self.key_object(session, id)?;
            if let Some(wrapped) = keywrap::wrap(session, master, mechanism, &key)? {
                return Ok(FromToken::Wrapped(wrapped));
            }
            let (iv, body) = self.encrypt(session, id, aad, plaintext)?;
            Ok(FromToken::Sealed(format::sealed(&iv, &body)))
        })?;

        let wrapped = match from_token {
            FromToken::Wrapped(wrapped) => wrapped,
            FromToken::Sealed(sealed) => return Ok(sealed),
        };
        let header = format::wrapped_header(mechanism, &wrapped).ok_or(Error::RootOfTrust {
            kind: KIND,
            reason: "the token wrapped a content key into more than 65535 bytes",
        })?;
        keywrap::seal(&key, header, aad, plaintext)
    }

    /// Opens a format-2 value: the token unwraps the content key, software does the rest.
    fn open_wrapped(
        &self,
        id: &ObjectId,
        parts: &Wrapped<'_>,
        aad: &[u8],
    ) -> Result<Plaintext, Error> {
        let key = self.run(|session| {
            let master = self.key_object(session, id)?;
            keywrap::unwrap(session, master, parts.mechanism, parts.wrapped_key)
        })?;
        keywrap::open(&key, parts, aad)
    }

    /// Destroys every object with `CKA_ID` `id`; none at all is success.
    fn destroy_objects(&self, session: &Session, id: &ObjectId) -> Result<(), Failure> {
        self.forget(id);
        for object in find_by_id(session, id)? {
            let destroyed = session.destroy_object(object);
            destroyed.map_err(Failure::call("C_DestroyObject"))?;
        }
        Ok(())
    }
}

impl RootOfTrust for Pkcs11Root {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, Error> {
        let label = format!("sealgate:{key_id}:v{version}");
        let id = self.run(|session| self.generate(session, &label))?;
        Ok(format::handle(&id))
    }

    fn seal(&self, handle: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let id = parse_handle(handle)?;
        if let Mode::KeyWrap(mechanism) = self.mode {
            return self.seal_wrapped(&id, mechanism, aad, plaintext);
        }
        let (iv, body) = self.run(|session| self.encrypt(session, &id, aad, plaintext))?;
        Ok(format::sealed(&iv, &body))
    }

    fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, Error> {
        let id = parse_handle(handle)?;
        // Both formats, whatever the mode: the token may have gained or lost CKM_AES_GCM.
        if let Some(parts) = format::split_wrapped(sealed) {
            return self.open_wrapped(&id, &parts, aad);
        }
        let (iv, body) = format::split_sealed(sealed).ok_or(Error::InvalidCiphertext)?;
        self.run(|session| self.decrypt(session, &id, aad, iv, body))
    }

    fn destroy(&self, handle: &[u8]) -> Result<(), Error> {
        let id = parse_handle(handle)?;
        self.run(|session| self.destroy_objects(session, &id))
    }

    fn owns_handle(&self, handle: &[u8]) -> bool {
        is_pkcs11_handle(handle)
    }
}

/// The template of a version's key object: a 256-bit AES token object that only encrypts
/// and decrypts, is private and sensitive, and never leaves the token. In key-wrap mode it
/// also wraps and unwraps: the trade-off is told at [`SealMechanism::KeyWrap`].
fn key_template(label: &str, id: &ObjectId, mode: Mode) -> Vec<Attribute> {
    let wraps = matches!(mode, Mode::KeyWrap(_));
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen((KEY_LEN as u64).into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(wraps),
        Attribute::Unwrap(wraps),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

/// The mode `wanted` comes to on this token, or `None` if it has no mechanism for it.
fn resolve(pool: &Pool, wanted: SealMechanism) -> Result<Option<Mode>, Failure> {
    let gcm = |info: MechanismInfo| info.encrypt() && info.decrypt();
    let wraps = |info: MechanismInfo| info.wrap() && info.unwrap();
    match wanted {
        SealMechanism::Gcm => return Ok(Some(Mode::Gcm)),
        SealMechanism::Auto if pool.mechanism(MechanismType::AES_GCM)?.is_some_and(gcm) => {
            return Ok(Some(Mode::Gcm));
        }
        SealMechanism::Auto | SealMechanism::KeyWrap => {}
    }
    if pool
        .mechanism(MechanismType::AES_KEY_WRAP_PAD)?
        .is_some_and(wraps)
    {
        return Ok(Some(Mode::KeyWrap(WrapMechanism::Pad)));
    }
    let plain = pool
        .mechanism(MechanismType::AES_KEY_WRAP)?
        .is_some_and(wraps);
    Ok(plain.then_some(Mode::KeyWrap(WrapMechanism::Plain)))
}

/// Secret-key objects with `CKA_ID` `id`. Finding none while logged out is a lost login,
/// not a missing key: private objects are invisible then.
fn find_by_id(session: &Session, id: &ObjectId) -> Result<Vec<ObjectHandle>, Failure> {
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Id(id.to_vec()),
    ];
    let found = session.find_objects(&template);
    let found = found.map_err(Failure::call("C_FindObjects"))?;
    if found.is_empty() {
        check_logged_in(session)?;
    }
    Ok(found)
}

fn check_logged_in(session: &Session) -> Result<(), Failure> {
    let info = session.get_session_info();
    let info = info.map_err(Failure::call("C_GetSessionInfo"))?;
    match info.session_state() {
        SessionState::RwUser | SessionState::RoUser => Ok(()),
        _ => Err(Failure::Lost {
            step: "logged out",
            source: None,
        }),
    }
}

/// Reads an object's label, id and flags, and tries (and drops) its value.
fn describe(session: &Session, object: ObjectHandle) -> Result<KeyObjectInfo, Failure> {
    let wanted = [
        AttributeType::Label,
        AttributeType::Id,
        AttributeType::Sensitive,
        AttributeType::Extractable,
        AttributeType::Wrap,
        AttributeType::Unwrap,
    ];
    let attributes = session.get_attributes(object, &wanted);
    let attributes = attributes.map_err(Failure::call("C_GetAttributeValue"))?;
    let mut info = KeyObjectInfo {
        label: String::new(),
        id: Vec::new(),
        sensitive: false,
        extractable: true,
        wrap: true,
        unwrap: true,
        value_readable: value_readable(session, object)?,
    };
    for attribute in attributes {
        match attribute {
            Attribute::Label(label) => info.label = String::from_utf8_lossy(&label).into(),
            Attribute::Id(id) => info.id = id,
            Attribute::Sensitive(on) => info.sensitive = on,
            Attribute::Extractable(on) => info.extractable = on,
            Attribute::Wrap(on) => info.wrap = on,
            Attribute::Unwrap(on) => info.unwrap = on,
            _ => {}
        }
    }
    Ok(info)
}

/// Whether the token hands out `CKA_VALUE` (cryptoki leaves out a sensitive attribute).
fn value_readable(session: &Session, object: ObjectHandle) -> Result<bool, Failure> {
    match session.get_attributes(object, &[AttributeType::Value]) {
        Ok(values) => Ok(values.into_iter().any(|a| match a {
            Attribute::Value(value) => !Zeroizing::new(value).is_empty(),
            _ => false,
        })),
        Err(err) => match Failure::call("C_GetAttributeValue")(err) {
            lost @ Failure::Lost { .. } => Err(lost),
            _ => Ok(false),
        },
    }
}

fn parse_handle(handle: &[u8]) -> Result<ObjectId, Error> {
    format::parse_handle(handle).ok_or(Error::RootOfTrust {
        kind: KIND,
        reason: "not a PKCS#11 key-version handle",
    })
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    fill_random(&mut bytes)?;
    Ok(bytes)
}

fn open_error(config: &Pkcs11Config, failure: Failure) -> Error {
    let (reason, source) = match failure {
        Failure::Lost { step, source } => (step, source),
        Failure::Refused { step, source } => (step, Some(source)),
        Failure::Done(err) => return err,
    };
    Error::Pkcs11Open {
        module: config.module.clone(),
        reason,
        source: source.map(|s| Box::new(s) as _),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaks_no_pin() {
        let config = Pkcs11Config::new(
            "/nowhere/libnothing.so",
            TokenSelector::Label("t".into()),
            Pin::new("s3cr3t-pin".into()),
        );
        let text = format!("{config:?}");
        assert!(
            text.contains("redacted") && text.contains("libnothing"),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn a_missing_module_fails_to_open_with_its_path() {
        let config = Pkcs11Config::new(
            "/nowhere/libnothing.so",
            TokenSelector::Slot(0),
            Pin::new("1".into()),
        );
        let err = Pkcs11Root::open(&config).unwrap_err();
        assert!(
            matches!(&err, Error::Pkcs11Open { module, source: Some(_), .. }
                if module.ends_with("libnothing.so")),
            "{err:?}"
        );
    }
}
