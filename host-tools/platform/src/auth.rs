//! Terminal credentials: a 256-bit random token, shown once, stored as its SHA-256.
//!
//! Why SHA-256 and not argon2: the token is 32 random bytes, not a password a person chose, so
//! no dictionary or brute force gets anywhere near it and a slow hash adds nothing but a
//! per-request cost (argon2 at its recommended settings takes tens of milliseconds and memory
//! on every call a terminal makes). A stolen credentials table still gives no usable token.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a terminal may do (docs/back-office.md, "Roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A bank outlet: card status, activation, loss reports, the blacklist.
    Outlet,
    /// A hospital or pharmacy till: card status, settlement uploads, the blacklist.
    Hospital,
    /// The back office's own staff: everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Outlet => "outlet",
            Role::Hospital => "hospital",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Outlet, Role::Hospital, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// What a presented token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Live {
        id: String,
        role: Role,
    },
    /// A terminal's credential that an administrator revoked.
    Revoked {
        id: String,
    },
    /// No terminal's credential.
    Unknown,
}

/// The prefix of every token, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "sscp_";

/// A fresh token: the prefix and 32 random bytes in hex.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// What the database stores and looks a presented token up by.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The longest token accepted (anything longer is refused before hashing).
pub const MAX_TOKEN_LEN: usize = 128;

/// A terminal id: 1–64 of `A-Z a-z 0-9 - _ .`.
pub fn check_terminal_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_hash_stably() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert!(!token_hash(&a).contains(&a[TOKEN_PREFIX.len()..]));
    }
}
