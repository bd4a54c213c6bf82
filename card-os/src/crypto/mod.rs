//! Block ciphers, MACs, hashes and key diversification used by the card (and by terminals).
//!
//! The byte-level rules (padding, IVs, factors, session keys) are written down in
//! docs/security.md, "Cryptography"; this module is their one implementation.

mod auth;
mod cipher;
mod error;
mod secret;

pub mod diversify;
pub mod hash;
pub mod mac;
pub mod purse;
pub mod sm;

pub use auth::{
    external_cryptogram, internal_authenticate, verify_external_cryptogram, CHALLENGE_LENS,
    INTERNAL_AUTH_MAX,
};
pub use cipher::{
    decrypt_block, ecb_decrypt, ecb_encrypt, encrypt_block, Algorithm, Cryptogram, MAX_BLOCK_SIZE,
};
pub use diversify::{diversify, diversify_two_level, session_key};
pub use error::Error;
pub use hash::{crc32, sha256};
pub use secret::{Pin, SecretKey, KEY_LEN, PIN_MAX_BCD_LEN, PIN_MAX_DIGITS, PIN_MIN_DIGITS};
