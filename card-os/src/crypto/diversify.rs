//! Key diversification, PBOC style, and the secure-messaging session key.
//!
//! One level turns a 16-byte master key and an 8-byte factor `F` into a 16-byte key of
//! the same algorithm:
//! - 3DES: `E(MK, F) || E(MK, !F)` (two 3DES encryptions of one block each);
//! - SM4 / AES: `E(MK, F || !F)` (one encryption of a 16-byte block);
//!
//! where `!F` is `F` with every bit inverted. DES parity bits are left as they come.

use zeroize::Zeroize;

use super::cipher::Cipher;
use super::{Algorithm, Error, SecretKey};
use crate::crypto::secret::KEY_LEN;

/// Length of a diversification factor.
pub const FACTOR_LEN: usize = 8;

/// The marker after the region code in the region factor: ASCII "sx" (社保).
pub const REGION_FACTOR_SUFFIX: [u8; 2] = *b"sx";

/// One level of diversification: `master` with `factor`.
pub fn diversify(master: &SecretKey, factor: &[u8; FACTOR_LEN]) -> Result<SecretKey, Error> {
    Diversifier::new(master).diversify(factor)
}

/// A key keyed once for many diversifications: its cipher's key schedule is computed once, as a
/// personalisation batch does for a region key shared by every card of the region. The schedule
/// zeroizes itself on drop.
pub struct Diversifier {
    cipher: Cipher,
    algorithm: Algorithm,
}

impl core::fmt::Debug for Diversifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Diversifier")
            .field("algorithm", &self.algorithm)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Diversifier {
    pub fn new(master: &SecretKey) -> Self {
        Diversifier {
            cipher: Cipher::new(master),
            algorithm: master.algorithm(),
        }
    }

    /// The master key diversified with `factor` (see [`diversify`]).
    pub fn diversify(&self, factor: &[u8; FACTOR_LEN]) -> Result<SecretKey, Error> {
        let mut input = [0u8; KEY_LEN];
        let (left, right) = input.split_at_mut(FACTOR_LEN);
        left.copy_from_slice(factor);
        right
            .iter_mut()
            .zip(factor)
            .for_each(|(out, byte)| *out = !byte);
        let result = match self.algorithm {
            Algorithm::Des3 => self
                .cipher
                .encrypt(left)
                .and_then(|()| self.cipher.encrypt(right)),
            Algorithm::Sm4 | Algorithm::Aes128 => self.cipher.encrypt(&mut input),
        };
        let key = result.map(|()| SecretKey::new(self.algorithm, input));
        input.zeroize();
        key
    }
}

/// Two levels: first the region factor (the key a region's PSAM holds), then the card
/// factor (the card's own key). ssc-card.md calls the card factor "level 1" and the
/// region factor "level 2"; the region level is applied first, nearer the master key.
pub fn diversify_two_level(
    master: &SecretKey,
    region: &[u8; FACTOR_LEN],
    card: &[u8; FACTOR_LEN],
) -> Result<SecretKey, Error> {
    diversify(&diversify(master, region)?, card)
}

/// The card factor: the last 8 bytes of the 16-byte card identification code
/// (SSSE EF05 record 1, the card-specific bytes after region and `D1 56 00 00 05`).
pub fn card_factor(card_identification_code: &[u8]) -> Result<[u8; FACTOR_LEN], Error> {
    let code: &[u8; 16] = card_identification_code
        .try_into()
        .map_err(|_| Error::Length)?;
    let mut factor = [0; FACTOR_LEN];
    factor.copy_from_slice(code.get(FACTOR_LEN..).ok_or(Error::Length)?);
    Ok(factor)
}

/// The region factor: the 6-digit region code (GB/T 2260) as ASCII digits, then "sx".
/// `region_bcd` is the region as stored in the card identification code (3 bytes of
/// packed BCD, e.g. `33 03 00`, giving `"330300sx"`).
pub fn region_factor(region_bcd: &[u8; 3]) -> Result<[u8; FACTOR_LEN], Error> {
    let mut factor = [0; FACTOR_LEN];
    let digits = region_bcd.iter().flat_map(|byte| [byte >> 4, byte & 0x0F]);
    for (out, digit) in factor.iter_mut().zip(digits) {
        if digit > 9 {
            return Err(Error::Format);
        }
        *out = b'0' + digit;
    }
    let (_, suffix) = factor.split_at_mut(FACTOR_LEN - REGION_FACTOR_SUFFIX.len());
    suffix.copy_from_slice(&REGION_FACTOR_SUFFIX);
    Ok(factor)
}

/// The session key for secure messaging: one level of diversification of the card key
/// with the challenge (4 or 8 bytes from GET CHALLENGE) padded with `00` to 8 bytes.
pub fn session_key(card_key: &SecretKey, challenge: &[u8]) -> Result<SecretKey, Error> {
    let mut factor = [0u8; FACTOR_LEN];
    factor
        .get_mut(..challenge.len())
        .filter(|_| super::auth::is_challenge_len(challenge.len()))
        .ok_or(Error::Length)?
        .copy_from_slice(challenge);
    let key = diversify(card_key, &factor);
    factor.zeroize();
    key
}
