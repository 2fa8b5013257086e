//! The root of trust: where master-key versions' material comes from and where it is used.
//!
//! [`Kms`](crate::Kms) never sees master-key material. It asks a [`RootOfTrust`] to create a
//! version (getting back an opaque handle it stores in the key store) and to seal or open data
//! keys with a version's handle. [`SoftwareRoot`] is the built-in root: each version's material
//! is 32 random bytes encrypted by a root key kept in a 0600 file. The HSM root is
//! [`Pkcs11Root`](crate::Pkcs11Root); [`MigratingRoot`](crate::MigratingRoot) layers the two.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use zeroize::Zeroizing;

use crate::aead::{self, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::secret::{RootKey, fill_random};
use crate::{Error, Plaintext};

/// The seam between the key store and whatever holds master-key material.
///
/// Implementations must be cheap to call for [`seal`](RootOfTrust::seal) and
/// [`open`](RootOfTrust::open): they run once per data key.
pub trait RootOfTrust: Send + Sync + fmt::Debug {
    /// A short constant name for logs and key metadata (`"software"`, `"pkcs11"`).
    fn kind(&self) -> &'static str;

    /// Makes the material of a new master-key version and returns an opaque handle the key
    /// store keeps. Must not change any state the key store depends on until that handle is
    /// committed (a crash in between leaves at most an unused handle).
    fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, Error>;

    /// Encrypts `plaintext` under the version named by `handle`, binding `aad`. The output is
    /// self-contained (nonce, ciphertext and tag).
    fn seal(&self, handle: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error>;

    /// Opens what [`seal`](RootOfTrust::seal) produced. Any authentication failure is
    /// [`Error::InvalidCiphertext`].
    fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, Error>;

    /// Destroys the version's material for good (crypto-erase). Must succeed when repeated.
    fn destroy(&self, handle: &[u8]) -> Result<(), Error>;

    /// Whether `handle` is in this root's format, judged by its format byte alone. A
    /// [`MigratingRoot`](crate::MigratingRoot) sends each handle to the root that owns it. The
    /// default claims every handle, which suits a root that is never layered.
    fn owns_handle(&self, handle: &[u8]) -> bool {
        let _ = handle;
        true
    }

    /// Whether `handle` lives in the root where new versions are made, so nothing that uses
    /// it needs another root. [`Kms::migrate_root`](crate::Kms::migrate_root) and
    /// `Iam::migrate_root` move whatever answers false. The default answers true: a single
    /// root made everything it is handed. A [`MigratingRoot`](crate::MigratingRoot) answers
    /// true for its primary's handles only.
    fn is_primary(&self, handle: &[u8]) -> bool {
        let _ = handle;
        true
    }
}

/// Format byte of a software-root handle. Frozen: documented in `docs/format-kms.md`. Other
/// roots' handles start with another byte (a PKCS#11 handle with `b'p'`).
const HANDLE_FORMAT: u8 = 1;
/// Domain prefix of the associated data that binds a handle's header. Frozen.
const HANDLE_AAD_PREFIX: &[u8] = b"sealgate/root-handle/v1";

/// The software root of trust: a root key in a file, material encrypted by it.
///
/// Opened material is cached per handle, so sealing a data key costs one AES-GCM of 32 bytes.
pub struct SoftwareRoot {
    root: aead::Key,
    opened: RwLock<HashMap<Vec<u8>, Arc<aead::Key>>>,
}

impl fmt::Debug for SoftwareRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareRoot")
            .field("root_key", &"<redacted>")
            .finish()
    }
}

impl SoftwareRoot {
    /// Loads the root key from `path`, or creates it there (mode 0600) when the file is missing.
    /// Returns the root and whether the file was created.
    ///
    /// Creation is atomic: the key is written to a temporary file with mode 0600, synced, and
    /// linked to `path` only if nothing is there yet (two processes starting at once end up with
    /// the same key). An existing file is refused if group or others may read it or if it is
    /// not exactly 32 bytes.
    ///
    /// # Errors
    /// [`Error::RootKeyFile`] for a refused file, [`Error::Io`] for I/O failures.
    pub fn load_or_create(path: &Path) -> Result<(SoftwareRoot, bool), Error> {
        match load_root_key(path) {
            Ok(key) => return Ok((SoftwareRoot::new(&key)?, false)),
            Err(Error::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        let key = RootKey::generate()?;
        if create_root_key_file(path, &key)? {
            return Ok((SoftwareRoot::new(&key)?, true));
        }
        Ok((SoftwareRoot::new(&load_root_key(path)?)?, false))
    }

    /// A software root over a given root key (tests and recovery tools).
    ///
    /// # Errors
    /// [`Error::Aead`] if the AEAD refuses the key.
    pub fn new(root_key: &RootKey) -> Result<SoftwareRoot, Error> {
        Ok(SoftwareRoot {
            root: aead::Key::new(root_key.as_bytes())?,
            opened: RwLock::new(HashMap::new()),
        })
    }

    /// The material key of a handle, from the cache or by unsealing it with the root key.
    fn material(&self, handle: &[u8]) -> Result<Arc<aead::Key>, Error> {
        let cache = self.opened.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = cache.get(handle) {
            return Ok(Arc::clone(key));
        }
        drop(cache);
        let key = Arc::new(self.unseal_handle(handle)?);
        let mut cache = self.opened.write().unwrap_or_else(PoisonError::into_inner);
        cache.insert(handle.to_vec(), Arc::clone(&key));
        Ok(key)
    }

    fn unseal_handle(&self, handle: &[u8]) -> Result<aead::Key, Error> {
        let bad = || Error::RootOfTrust {
            kind: "software",
            reason: "the root key does not open this key version's handle",
        };
        let (header, sealed) = split_handle(handle).ok_or_else(bad)?;
        let (nonce, body) = split_nonce(sealed).ok_or_else(bad)?;
        let mut material = Zeroizing::new(body.to_vec());
        let aad = handle_aad(header);
        let len = self
            .root
            .open_in_place(&nonce, &aad, &mut material)
            .map_err(|_| bad())?;
        let bytes: &[u8; KEY_LEN] = material
            .get(..len)
            .and_then(|m| m.try_into().ok())
            .ok_or_else(bad)?;
        aead::Key::new(bytes)
    }
}

impl RootOfTrust for SoftwareRoot {
    fn kind(&self) -> &'static str {
        "software"
    }

    fn create_version(&self, key_id: &str, version: u32) -> Result<Vec<u8>, Error> {
        let mut handle = handle_header(key_id, version)?;
        let aad = handle_aad(&handle);
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        fill_random(material.as_mut_slice())?;
        let nonce = random_nonce()?;
        let tag = self
            .root
            .seal_in_place(&nonce, &aad, material.as_mut_slice())?;
        handle.extend_from_slice(&nonce);
        handle.extend_from_slice(material.as_slice());
        handle.extend_from_slice(&tag);
        Ok(handle)
    }

    fn seal(&self, handle: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let key = self.material(handle)?;
        let nonce = random_nonce()?;
        // Zeroizing: if sealing fails, the plaintext copied in is wiped on the way out.
        let mut out = Zeroizing::new(Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN));
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = key.seal_in_place(&nonce, aad, out.get_mut(NONCE_LEN..).unwrap_or_default())?;
        out.extend_from_slice(&tag);
        Ok(std::mem::take(&mut *out))
    }

    fn open(&self, handle: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, Error> {
        let key = self.material(handle)?;
        let (nonce, body) = split_nonce(sealed).ok_or(Error::InvalidCiphertext)?;
        let mut plain = Plaintext::new(body.to_vec());
        let buf = plain.as_mut_vec();
        let len = key
            .open_in_place(&nonce, aad, buf)
            .map_err(|_| Error::InvalidCiphertext)?;
        buf.truncate(len);
        Ok(plain)
    }

    fn owns_handle(&self, handle: &[u8]) -> bool {
        handle.first() == Some(&HANDLE_FORMAT)
    }

    fn destroy(&self, handle: &[u8]) -> Result<(), Error> {
        // The handle in the key store is the only copy of the material: forgetting the opened
        // key here and deleting the handle there is the crypto-erase.
        let mut cache = self.opened.write().unwrap_or_else(PoisonError::into_inner);
        cache.remove(handle);
        Ok(())
    }
}

/// `format (1) || version (u32 BE) || key id length (1) || key id`.
fn handle_header(key_id: &str, version: u32) -> Result<Vec<u8>, Error> {
    let id_len = u8::try_from(key_id.len()).map_err(|_| Error::Validation {
        field: "KeyId",
        reason: "longer than 255 bytes".into(),
    })?;
    let mut header = Vec::with_capacity(6 + key_id.len() + NONCE_LEN + KEY_LEN + TAG_LEN);
    header.push(HANDLE_FORMAT);
    header.extend_from_slice(&version.to_be_bytes());
    header.push(id_len);
    header.extend_from_slice(key_id.as_bytes());
    Ok(header)
}

fn handle_aad(header: &[u8]) -> Vec<u8> {
    [HANDLE_AAD_PREFIX, header].concat()
}

/// Splits a handle into its header and `nonce || sealed material || tag`.
fn split_handle(handle: &[u8]) -> Option<(&[u8], &[u8])> {
    if *handle.first()? != HANDLE_FORMAT {
        return None;
    }
    let id_len = usize::from(*handle.get(5)?);
    let header_len = 6 + id_len;
    let rest = handle.get(header_len..)?;
    (rest.len() == NONCE_LEN + KEY_LEN + TAG_LEN).then(|| handle.split_at(header_len))
}

fn split_nonce(sealed: &[u8]) -> Option<([u8; NONCE_LEN], &[u8])> {
    let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
    Some((nonce.try_into().ok()?, body))
}

fn random_nonce() -> Result<[u8; NONCE_LEN], Error> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    Ok(nonce)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn load_root_key(path: &Path) -> Result<RootKey, Error> {
    let refuse = |reason| Error::RootKeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let meta = fs::metadata(path).map_err(io_error(path))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(refuse(
            "readable or writable by group or others (want mode 0600)",
        ));
    }
    let bytes = Zeroizing::new(fs::read(path).map_err(io_error(path))?);
    let key: [u8; KEY_LEN] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| refuse("not 32 bytes"))?;
    Ok(RootKey::from_bytes(key))
}

/// Writes the key to a synced 0600 temporary file and links it to `path`. Returns false if
/// another process created `path` first.
fn create_root_key_file(path: &Path, key: &RootKey) -> Result<bool, Error> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let tmp = temp_path(path)?;
    write_synced(&tmp, key.as_bytes())?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Err(err) if err.kind() == ErrorKind::AlreadyExists => return Ok(false),
        other => other.map_err(io_error(path))?,
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))?;
    Ok(true)
}

fn temp_path(path: &Path) -> Result<PathBuf, Error> {
    let mut suffix = [0u8; 8];
    fill_random(&mut suffix)?;
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".tmp-{:016x}", u64::from_be_bytes(suffix)));
    Ok(PathBuf::from(name))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> SoftwareRoot {
        SoftwareRoot::new(&RootKey::from_bytes([3; 32])).unwrap()
    }

    #[test]
    fn creates_then_loads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/root.key");
        let (first, created) = SoftwareRoot::load_or_create(&path).unwrap();
        assert!(created);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read(&path).unwrap().len(), 32);
        let handle = first.create_version("k", 1).unwrap();
        let sealed = first.seal(&handle, b"aad", b"secret").unwrap();

        let (second, created) = SoftwareRoot::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(
            second.open(&handle, b"aad", &sealed).unwrap().as_bytes(),
            b"secret"
        );
        assert_eq!(
            fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "temp file left"
        );
    }

    #[test]
    fn refuses_a_readable_or_short_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        fs::write(&path, [1u8; 32]).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = SoftwareRoot::load_or_create(&path).unwrap_err();
        assert!(matches!(err, Error::RootKeyFile { .. }), "{err:?}");

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, [1u8; 31]).unwrap();
        let err = SoftwareRoot::load_or_create(&path).unwrap_err();
        assert!(matches!(err, Error::RootKeyFile { .. }), "{err:?}");
    }

    #[test]
    fn seal_binds_aad_and_handle() {
        let root = root();
        let (h1, h2) = (
            root.create_version("a", 1).unwrap(),
            root.create_version("a", 2).unwrap(),
        );
        let sealed = root.seal(&h1, b"ctx", b"data key").unwrap();
        assert!(matches!(
            root.open(&h1, b"other", &sealed),
            Err(Error::InvalidCiphertext)
        ));
        assert!(matches!(
            root.open(&h2, b"ctx", &sealed),
            Err(Error::InvalidCiphertext)
        ));
        assert!(matches!(
            root.open(&h1, b"ctx", &sealed[..20]),
            Err(Error::InvalidCiphertext)
        ));
    }

    #[test]
    fn handle_binds_key_id_and_version() {
        let root = root();
        let mut handle = root.create_version("abc", 1).unwrap();
        handle[4] = 2; // version 1 -> 2
        assert!(matches!(
            root.material(&handle),
            Err(Error::RootOfTrust { .. })
        ));
        let other = SoftwareRoot::new(&RootKey::from_bytes([4; 32])).unwrap();
        let handle = root.create_version("abc", 1).unwrap();
        assert!(matches!(
            other.material(&handle),
            Err(Error::RootOfTrust { .. })
        ));
    }

    #[test]
    fn debug_leaks_nothing() {
        let text = format!("{:?}", root());
        assert!(text.contains("redacted") && !text.contains('3'), "{text}");
    }
}
