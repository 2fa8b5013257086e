//! How a failed call to the token is judged: lost (reset the sessions and retry once),
//! refused (a fault of the token or of its setup), or over with a final error.

use cryptoki::error::{Error as P11Error, RvError};

use crate::Error;

/// [`RootOfTrust::kind`](crate::RootOfTrust::kind) of the PKCS#11 root.
pub(crate) const KIND: &str = "pkcs11";

/// Why an attempt at an operation on the token failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The session, the login or the token is gone (or a cached object handle went stale):
    /// reset the sessions, forget the cache and retry once.
    Lost {
        /// The call or step that failed.
        step: &'static str,
        /// The token's error, when there is one.
        source: Option<P11Error>,
    },
    /// The token refused the call for a reason a retry does not cure.
    Refused {
        /// The call that failed.
        step: &'static str,
        /// The token's error.
        source: P11Error,
    },
    /// The operation is over with this error.
    Done(Error),
}

impl Failure {
    /// Judges a failed cryptoki call made at `step`.
    pub(crate) fn call(step: &'static str) -> impl FnOnce(P11Error) -> Failure {
        move |source| match is_lost(&source) {
            true => Failure::Lost {
                step,
                source: Some(source),
            },
            false => Failure::Refused { step, source },
        }
    }

    /// Judges a failed cryptoki call made at `step` while opening a sealed value: a lost
    /// session stays lost, anything else is [`Error::InvalidCiphertext`].
    pub(crate) fn opening(step: &'static str) -> impl FnOnce(P11Error) -> Failure {
        move |source| match Failure::call(step)(source) {
            lost @ Failure::Lost { .. } => lost,
            _ => Failure::Done(Error::InvalidCiphertext),
        }
    }

    /// Whether the token refused the call because the key object does not allow it.
    pub(crate) fn is_not_permitted(&self) -> bool {
        matches!(
            self,
            Failure::Refused {
                source: P11Error::Pkcs11(RvError::KeyFunctionNotPermitted, _),
                ..
            }
        )
    }

    /// Whether a reset and a retry may cure this failure.
    pub(crate) fn is_lost(&self) -> bool {
        matches!(self, Failure::Lost { .. })
    }

    /// The error to report: a lost token is [`Error::RootUnavailable`], a refusal
    /// [`Error::RootOfTrust`].
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Lost { step, source } => Error::RootUnavailable {
                kind: KIND,
                reason: step,
                source: source.map(|s| Box::new(s) as _),
            },
            Failure::Refused { step, .. } => Error::RootOfTrust {
                kind: KIND,
                reason: step,
            },
            Failure::Done(err) => err,
        }
    }
}

/// Return codes after which the session (or every session) is gone, the application is
/// logged out, the library was finalized, or a cached object handle no longer names anything.
fn is_lost(err: &P11Error) -> bool {
    let P11Error::Pkcs11(rv, _) = err else {
        return false;
    };
    matches!(
        rv,
        RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::UserNotLoggedIn
            | RvError::CryptokiNotInitialized
            | RvError::ObjectHandleInvalid
            | RvError::KeyHandleInvalid
            | RvError::WrappingKeyHandleInvalid
            | RvError::UnwrappingKeyHandleInvalid
    )
}

#[cfg(test)]
mod tests {
    use cryptoki::context::Function;

    use super::*;

    fn failure(rv: RvError) -> Failure {
        Failure::call("C_Encrypt")(P11Error::Pkcs11(rv, Function::Encrypt))
    }

    #[test]
    fn session_and_device_faults_are_lost() {
        for rv in [
            RvError::SessionHandleInvalid,
            RvError::DeviceRemoved,
            RvError::UserNotLoggedIn,
            RvError::CryptokiNotInitialized,
            RvError::UnwrappingKeyHandleInvalid,
        ] {
            let failure = failure(rv);
            assert!(failure.is_lost());
            assert!(matches!(
                failure.into_error(),
                Error::RootUnavailable {
                    kind: "pkcs11",
                    reason: "C_Encrypt",
                    source: Some(_)
                }
            ));
        }
    }

    #[test]
    fn other_codes_are_refusals() {
        let failure = failure(RvError::MechanismInvalid);
        assert!(!failure.is_lost() && !failure.is_not_permitted());
        assert!(matches!(
            failure.into_error(),
            Error::RootOfTrust {
                kind: "pkcs11",
                reason: "C_Encrypt"
            }
        ));
    }

    #[test]
    fn opening_hides_all_but_a_lost_session() {
        let call = |rv| Failure::opening("C_UnwrapKey")(P11Error::Pkcs11(rv, Function::UnwrapKey));
        assert!(call(RvError::SessionHandleInvalid).is_lost());
        for rv in [RvError::WrappedKeyInvalid, RvError::KeyFunctionNotPermitted] {
            assert!(matches!(call(rv), Failure::Done(Error::InvalidCiphertext)));
        }
        assert!(failure(RvError::KeyFunctionNotPermitted).is_not_permitted());
    }
}
