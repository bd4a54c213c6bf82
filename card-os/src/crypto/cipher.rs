//! The block ciphers behind one enum: 3DES (two-key EDE), SM4 and AES-128.

use aes::Aes128;
use des::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::TdesEde2;
use sm4::Sm4;

use super::{Error, SecretKey};

/// Largest block size of the supported ciphers.
pub const MAX_BLOCK_SIZE: usize = 16;

/// A key's algorithm, with the byte values of the key object (security.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Algorithm {
    /// Two-key triple DES (EDE, K1 K2 K1), 8-byte blocks.
    Des3 = 0x01,
    /// SM4 (GB/T 32907), 16-byte blocks.
    Sm4 = 0x03,
    /// AES-128, 16-byte blocks.
    Aes128 = 0x04,
}

impl Algorithm {
    /// The algorithm for a key object's algorithm byte; `02` (SSF33) is not supported.
    pub const fn from_byte(byte: u8) -> Result<Self, Error> {
        match byte {
            0x01 => Ok(Algorithm::Des3),
            0x03 => Ok(Algorithm::Sm4),
            0x04 => Ok(Algorithm::Aes128),
            _ => Err(Error::UnsupportedAlgorithm),
        }
    }

    /// The byte stored in a key object.
    pub const fn to_byte(self) -> u8 {
        self as u8
    }

    /// Block size in bytes: 8 for 3DES, 16 for SM4 and AES.
    pub const fn block_size(self) -> usize {
        match self {
            Algorithm::Des3 => 8,
            Algorithm::Sm4 | Algorithm::Aes128 => 16,
        }
    }
}

impl TryFrom<u8> for Algorithm {
    type Error = Error;
    fn try_from(byte: u8) -> Result<Self, Error> {
        Algorithm::from_byte(byte)
    }
}

/// A keyed block cipher; the key schedules zeroize themselves on drop.
pub(crate) enum Cipher {
    Des3(TdesEde2),
    Sm4(Sm4),
    Aes128(Aes128),
}

impl Cipher {
    pub(crate) fn new(key: &SecretKey) -> Self {
        let bytes = Array::from(*key.expose_bytes());
        match key.algorithm() {
            Algorithm::Des3 => Cipher::Des3(TdesEde2::new(&bytes)),
            Algorithm::Sm4 => Cipher::Sm4(Sm4::new(&bytes)),
            Algorithm::Aes128 => Cipher::Aes128(Aes128::new(&bytes)),
        }
    }

    pub(crate) fn block_size(&self) -> usize {
        match self {
            Cipher::Des3(_) => Algorithm::Des3.block_size(),
            Cipher::Sm4(_) => Algorithm::Sm4.block_size(),
            Cipher::Aes128(_) => Algorithm::Aes128.block_size(),
        }
    }

    /// Encrypts one block in place; `block` must be exactly one block long.
    pub(crate) fn encrypt(&self, block: &mut [u8]) -> Result<(), Error> {
        match self {
            Cipher::Des3(c) => {
                c.encrypt_block(Array::slice_as_mut_array(block).ok_or(Error::Length)?)
            }
            Cipher::Sm4(c) => {
                c.encrypt_block(Array::slice_as_mut_array(block).ok_or(Error::Length)?)
            }
            Cipher::Aes128(c) => {
                c.encrypt_block(Array::slice_as_mut_array(block).ok_or(Error::Length)?)
            }
        }
        Ok(())
    }

    /// Decrypts one block in place; `block` must be exactly one block long.
    pub(crate) fn decrypt(&self, block: &mut [u8]) -> Result<(), Error> {
        match self {
            Cipher::Des3(c) => {
                c.decrypt_block(Array::slice_as_mut_array(block).ok_or(Error::Length)?)
            }
            Cipher::Sm4(c) => {
                c.decrypt_block(Array::slice_as_mut_array(block).ok_or(Error::Length)?)
            }
            Cipher::Aes128(c) => {
                c.decrypt_block(Array::slice_as_mut_array(block).ok_or(Error::Length)?)
            }
        }
        Ok(())
    }
}

/// Encrypts one block in place (`block.len()` = the key's block size, else [`Error::Length`]).
pub fn encrypt_block(key: &SecretKey, block: &mut [u8]) -> Result<(), Error> {
    Cipher::new(key).encrypt(block)
}

/// Decrypts one block in place (`block.len()` = the key's block size, else [`Error::Length`]).
pub fn decrypt_block(key: &SecretKey, block: &mut [u8]) -> Result<(), Error> {
    Cipher::new(key).decrypt(block)
}

/// ECB-encrypts a buffer in place; its length must be a multiple of the block size.
pub fn ecb_encrypt(key: &SecretKey, buffer: &mut [u8]) -> Result<(), Error> {
    let cipher = Cipher::new(key);
    for_each_block(&cipher, buffer, |block| cipher.encrypt(block))
}

/// ECB-decrypts a buffer in place; its length must be a multiple of the block size.
pub fn ecb_decrypt(key: &SecretKey, buffer: &mut [u8]) -> Result<(), Error> {
    let cipher = Cipher::new(key);
    for_each_block(&cipher, buffer, |block| cipher.decrypt(block))
}

fn for_each_block(
    cipher: &Cipher,
    buffer: &mut [u8],
    op: impl FnMut(&mut [u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let size = cipher.block_size();
    if !buffer.len().is_multiple_of(size) {
        return Err(Error::Length);
    }
    buffer.chunks_exact_mut(size).try_for_each(op)
}

/// Cipher output of one or two blocks (at most 16 bytes): a cryptogram or a full MAC block.
/// Check a received value against one with [`crate::crypto::mac::verify`] (constant
/// time), not with `==`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Cryptogram {
    bytes: [u8; MAX_BLOCK_SIZE],
    len: usize,
}

impl Cryptogram {
    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        let mut out = Cryptogram {
            bytes: [0; MAX_BLOCK_SIZE],
            len: bytes.len(),
        };
        out.bytes
            .get_mut(..bytes.len())
            .ok_or(Error::Length)?
            .copy_from_slice(bytes);
        Ok(out)
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&self.bytes)
    }
}

impl core::fmt::Debug for Cryptogram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Cryptogram(")?;
        self.as_bytes()
            .iter()
            .try_for_each(|byte| write!(f, "{byte:02X}"))?;
        f.write_str(")")
    }
}
