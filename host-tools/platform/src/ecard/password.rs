//! The 6-digit e-card password: a type that never prints and wipes itself, and its salted slow
//! hash (Argon2id, PHC string with its own salt and parameters).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use zeroize::Zeroizing;

use crate::error::PlatformError;

/// An e-card password: exactly 6 ASCII digits. Debug prints `<redacted>`; dropped, it is wiped.
#[derive(Clone)]
pub struct EcardPassword(Zeroizing<String>);

impl std::fmt::Debug for EcardPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EcardPassword(<redacted>)")
    }
}

impl EcardPassword {
    /// Checks the form: 6 digits, nothing else.
    pub fn new(text: &str) -> Result<EcardPassword, PlatformError> {
        if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(EcardPassword(Zeroizing::new(text.to_owned())))
        } else {
            Err(PlatformError::invalid("password", "exactly 6 digits"))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The PHC string stored: Argon2id with a fresh random salt and the crate's default cost
    /// (19 MiB, 2 passes), so each guess at a stolen table costs as much as a login.
    pub fn hash(&self) -> Result<String, PlatformError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)
            .map_err(|e| PlatformError::Corrupt(format!("no random salt: {e}")))?;
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| PlatformError::Corrupt(format!("salt: {e}")))?;
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PlatformError::Corrupt(format!("password hash: {e}")))
    }

    /// `true` when this password matches the stored PHC string.
    pub fn matches(&self, stored: &str) -> Result<bool, PlatformError> {
        let parsed = PasswordHash::new(stored)
            .map_err(|e| PlatformError::Corrupt(format!("a stored password hash: {e}")))?;
        Ok(Argon2::default()
            .verify_password(self.0.as_bytes(), &parsed)
            .is_ok())
    }
}
