//! The cryptograms of EXTERNAL AUTHENTICATE and INTERNAL AUTHENTICATE, and the card
//! challenge they (and secure messaging) start from.

use super::cipher::{ecb_encrypt, MAX_BLOCK_SIZE};
use super::mac::verify;
use super::{Algorithm, Cryptogram, Error, SecretKey};

/// Challenge lengths GET CHALLENGE hands out (Le `04` or `08`).
pub const CHALLENGE_LENS: [usize; 2] = [4, 8];

/// Most bytes of data INTERNAL AUTHENTICATE encrypts.
pub const INTERNAL_AUTH_MAX: usize = 16;

pub(crate) fn is_challenge_len(len: usize) -> bool {
    CHALLENGE_LENS.contains(&len)
}

/// `data` padded with `00` to a multiple of the block size (no padding when it already
/// is one), in a fixed buffer; returns the buffer and the padded length.
fn pad_zeros(algorithm: Algorithm, data: &[u8]) -> Result<([u8; MAX_BLOCK_SIZE], usize), Error> {
    let size = algorithm.block_size();
    let padded = data.len().div_ceil(size) * size;
    let mut buffer = [0; MAX_BLOCK_SIZE];
    buffer
        .get_mut(..data.len())
        .filter(|_| padded <= MAX_BLOCK_SIZE)
        .ok_or(Error::Length)?
        .copy_from_slice(data);
    Ok((buffer, padded))
}

/// The challenge as one block: padded with `00` to the key's block size.
pub(crate) fn challenge_block(
    algorithm: Algorithm,
    challenge: &[u8],
) -> Result<([u8; MAX_BLOCK_SIZE], usize), Error> {
    if !is_challenge_len(challenge.len()) {
        return Err(Error::Length);
    }
    pad_zeros(algorithm, challenge)
}

/// The EXTERNAL AUTHENTICATE cryptogram a terminal sends: `E(key, challenge || 00..)`,
/// one block (8 bytes for 3DES, 16 for SM4 and AES).
pub fn external_cryptogram(key: &SecretKey, challenge: &[u8]) -> Result<Cryptogram, Error> {
    let (mut block, len) = challenge_block(key.algorithm(), challenge)?;
    let used = block.get_mut(..len).ok_or(Error::Length)?;
    ecb_encrypt(key, used)?;
    Cryptogram::from_slice(used)
}

/// The card's check of an EXTERNAL AUTHENTICATE cryptogram, in constant time.
pub fn verify_external_cryptogram(
    key: &SecretKey,
    challenge: &[u8],
    received: &[u8],
) -> Result<(), Error> {
    verify(external_cryptogram(key, challenge)?.as_bytes(), received)
}

/// The INTERNAL AUTHENTICATE answer: `E(key, data || 00..)`, ECB, with the data
/// (1 to 16 bytes) padded with `00` to a multiple of the block size.
pub fn internal_authenticate(key: &SecretKey, data: &[u8]) -> Result<Cryptogram, Error> {
    if data.is_empty() || data.len() > INTERNAL_AUTH_MAX {
        return Err(Error::Length);
    }
    let (mut block, len) = pad_zeros(key.algorithm(), data)?;
    let used = block.get_mut(..len).ok_or(Error::Length)?;
    ecb_encrypt(key, used)?;
    Cryptogram::from_slice(used)
}
