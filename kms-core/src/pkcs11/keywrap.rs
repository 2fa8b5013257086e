//! Key-wrap sealing of the PKCS#11 root, for tokens that cannot run `CKM_AES_GCM` with the
//! caller's associated data.
//!
//! [`Pkcs11Root`](crate::Pkcs11Root) hands this module a session, the master-key version's
//! object and a plaintext. Sealing draws a fresh content key from the OS random generator,
//! makes it a session object, has the token wrap it under the master key
//! (`CKM_AES_KEY_WRAP_PAD` or `CKM_AES_KEY_WRAP`) and destroys the object; the plaintext is then
//! sealed in software with [`aead::Key`](crate::aead::Key) under the content key. Opening has the
//! token unwrap the content key into a session object, reads it out, destroys the object and
//! opens in software. It hands back format 2 of `format`, and the plaintext.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use zeroize::{Zeroize, Zeroizing};

use super::fault::Failure;
use super::format::{WrapMechanism, Wrapped};
use crate::aead::{KEY_LEN, Key, NONCE_LEN};
use crate::secret::fill_random;
use crate::{Error, Plaintext};

/// A content key: 32 bytes, wiped on drop.
pub(super) type ContentKey = Zeroizing<[u8; KEY_LEN]>;

/// A fresh content key from the OS random generator.
pub(super) fn content_key() -> Result<ContentKey, Error> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    fill_random(key.as_mut())?;
    Ok(key)
}

/// `key` wrapped by `master`, or `None` if `master` may not wrap (a version made in GCM mode).
pub(super) fn wrap(
    session: &Session,
    master: ObjectHandle,
    mechanism: WrapMechanism,
    key: &ContentKey,
) -> Result<Option<Vec<u8>>, Failure> {
    let object = SessionKey::create(session, key)?;
    let wrapped = session.wrap_key(&token_mechanism(mechanism), master, object.handle);
    match wrapped.map_err(Failure::call("C_WrapKey")) {
        Err(failure) if failure.is_not_permitted() => Ok(None),
        other => other.map(Some),
    }
}

/// The content key `wrapped` holds, unwrapped by `master`. Every failure but a lost session is
/// [`Error::InvalidCiphertext`].
pub(super) fn unwrap(
    session: &Session,
    master: ObjectHandle,
    mechanism: WrapMechanism,
    wrapped: &[u8],
) -> Result<ContentKey, Failure> {
    let template = content_key_template();
    let object = session.unwrap_key(&token_mechanism(mechanism), master, wrapped, &template);
    let object = SessionKey {
        session,
        handle: object.map_err(Failure::opening("C_UnwrapKey"))?,
    };
    let values = session.get_attributes(object.handle, &[AttributeType::Value]);
    let values = values.map_err(Failure::opening("C_GetAttributeValue"))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    for attribute in values {
        if let Attribute::Value(value) = attribute {
            let value = Zeroizing::new(value);
            if value.len() != KEY_LEN {
                break;
            }
            key.copy_from_slice(&value);
            return Ok(key);
        }
    }
    Err(Failure::Done(Error::InvalidCiphertext))
}

/// `header || nonce || ciphertext || tag`: `plaintext` sealed in software under `key` with a
/// random nonce, over `header || aad`.
pub(super) fn seal(
    key: &ContentKey,
    header: Vec<u8>,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;

    let mut body = plaintext.to_vec();
    let bound = [header.as_slice(), aad].concat();
    Key::new(key)?.seal_in_place_append_tag(&nonce, &bound, &mut body)?;

    let mut out = header;
    out.reserve(NONCE_LEN + body.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens the software part of a format-2 value; any failure is [`Error::InvalidCiphertext`].
pub(super) fn open(key: &ContentKey, parts: &Wrapped<'_>, aad: &[u8]) -> Result<Plaintext, Error> {
    let key = Key::new(key).map_err(|_| Error::InvalidCiphertext)?;
    let bound = [parts.header, aad].concat();
    let mut buf = parts.body.to_vec();
    let len = key.open_in_place(&parts.nonce, &bound, &mut buf);
    buf.truncate(len.map_err(|_| Error::InvalidCiphertext)?);
    Ok(Plaintext::new(buf))
}

fn token_mechanism(mechanism: WrapMechanism) -> Mechanism<'static> {
    match mechanism {
        WrapMechanism::Pad => Mechanism::AesKeyWrapPad,
        WrapMechanism::Plain => Mechanism::AesKeyWrap,
    }
}

/// A content key while the token holds it: a private session object (it dies with its
/// session at the latest), readable and extractable since it is meant to leave, and good
/// for nothing else.
fn content_key_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ]
}

/// A session key object, destroyed on drop. A failed destroy is left alone: the object goes
/// when its session closes.
struct SessionKey<'a> {
    session: &'a Session,
    handle: ObjectHandle,
}

impl<'a> SessionKey<'a> {
    /// Makes `key` a session object; the template's copy of the value is wiped afterwards.
    fn create(session: &'a Session, key: &ContentKey) -> Result<SessionKey<'a>, Failure> {
        let mut template = content_key_template();
        template.push(Attribute::Value(key.to_vec()));
        let created = session.create_object(&template);
        for attribute in &mut template {
            if let Attribute::Value(value) = attribute {
                value.zeroize();
            }
        }
        let handle = created.map_err(Failure::call("C_CreateObject"))?;
        Ok(SessionKey { session, handle })
    }
}

impl Drop for SessionKey<'_> {
    fn drop(&mut self) {
        let _ = self.session.destroy_object(self.handle);
    }
}
