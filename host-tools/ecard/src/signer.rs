//! The platform's side: signing codes.

use crate::ids::{KeyId, UnixTime};
use crate::keys::{KeyError, PlatformSecretKey, DISTINGUISHING_ID};
use crate::payload::{self, Body, Claims, Nonce, SIGNING_CONTEXT};
use sm2::dsa::signature::MultipartSigner;
use sm2::dsa::{Signature, SigningKey};
use std::fmt;
use std::mem::ManuallyDrop;

/// How long a code is valid, in seconds, unless the back office says otherwise (its setting
/// `qr_validity_secs`). Public sources disagree between a 30- and a 60-second refresh; this
/// project follows the issue and shows a new code every 60 seconds.
pub const DEFAULT_VALIDITY_SECS: u16 = 60;

// `Signer` wipes its `SigningKey` in place on drop, which is sound only while that type owns no
// heap memory (sm2 is built without its `alloc` feature, which would add a `String`). If a
// dependency ever turns that feature on, this stops the build instead of leaking memory.
const _: () = assert!(
    !std::mem::needs_drop::<SigningKey>(),
    "sm2's `alloc` (or `std`) feature is on somewhere in the build: Signer cannot wipe its key"
);

/// Why a code could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("the time {0} cannot be written in a code (after the year 2106)")]
    TimeOutOfRange(UnixTime),
    #[error("the operating system's random generator failed to give a nonce")]
    Random,
    #[error("SM2 signing failed")]
    Signing(#[source] sm2::dsa::signature::Error),
}

/// Signs codes with the platform key. Debug shows only the key id; the key is wiped on drop.
pub struct Signer {
    key: ManuallyDrop<SigningKey>,
    key_id: KeyId,
    validity_secs: u16,
}

impl Signer {
    /// A signer with the default validity of [`DEFAULT_VALIDITY_SECS`].
    pub fn new(secret: &PlatformSecretKey) -> Result<Self, KeyError> {
        let key =
            SigningKey::new(DISTINGUISHING_ID, secret.secret()).map_err(|_| KeyError::Format {
                format: "an SM2 signing key",
            })?;
        Ok(Self {
            key: ManuallyDrop::new(key),
            key_id: secret.public_key().key_id(),
            validity_secs: DEFAULT_VALIDITY_SECS,
        })
    }

    /// Sets how long the codes it issues are valid (the setting `qr_validity_secs`).
    pub fn with_validity_secs(mut self, secs: u16) -> Self {
        self.validity_secs = secs;
        self
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn validity_secs(&self) -> u16 {
        self.validity_secs
    }

    /// A new code for `claims`, valid from `now` for the signer's validity, with a fresh nonce.
    pub fn issue(&self, claims: &Claims, now: UnixTime) -> Result<String, IssueError> {
        let nonce = Nonce::random().map_err(|_| IssueError::Random)?;
        self.issue_with_nonce(claims, now, nonce)
    }

    /// As [`Signer::issue`] with a given nonce: for tests, and for a back office that draws its
    /// nonces itself. Two codes with the same nonce are one code to every replay guard.
    pub fn issue_with_nonce(
        &self,
        claims: &Claims,
        now: UnixTime,
        nonce: Nonce,
    ) -> Result<String, IssueError> {
        let issued_at = u32::try_from(now.secs()).map_err(|_| IssueError::TimeOutOfRange(now))?;
        let body = Body {
            key_id: self.key_id,
            claims: *claims,
            issued_at,
            validity_secs: self.validity_secs,
            nonce,
        }
        .to_bytes();
        let signature: Signature = self
            .key
            .try_multipart_sign(&[SIGNING_CONTEXT, &body])
            .map_err(IssueError::Signing)?;
        Ok(payload::to_text(&body, &signature.to_bytes()))
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("validity_secs", &self.validity_secs)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Drop for Signer {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        let key: *mut SigningKey = &mut *self.key;
        // SAFETY: `SigningKey` holds only plain field data (scalars, a point, a hash; asserted
        // above to need no drop), for which all-zero bytes are a valid bit pattern. It sits in a
        // `ManuallyDrop` and is never used again, so no code observes the zeroed value.
        unsafe { zeroize::zeroize_flat_type(key) }
    }
}
