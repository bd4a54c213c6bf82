//! Secrets as types: keys and PINs print redacted, compare in constant time and are
//! zeroized when dropped.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{Algorithm, Error};

/// Length of every key the card holds (3DES two-key, SM4, AES-128).
pub const KEY_LEN: usize = 16;

/// A 16-byte key and its algorithm.
#[derive(Clone)]
pub struct SecretKey {
    algorithm: Algorithm,
    bytes: [u8; KEY_LEN],
}

impl SecretKey {
    pub const fn new(algorithm: Algorithm, bytes: [u8; KEY_LEN]) -> Self {
        SecretKey { algorithm, bytes }
    }

    /// A key from a slice, which must be exactly 16 bytes.
    pub fn from_slice(algorithm: Algorithm, bytes: &[u8]) -> Result<Self, Error> {
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| Error::Length)?;
        Ok(SecretKey::new(algorithm, bytes))
    }

    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key bytes, for storing the key object and for the ciphers; never log them.
    pub const fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl ConstantTimeEq for SecretKey {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.algorithm.to_byte().ct_eq(&other.algorithm.to_byte()) & self.bytes.ct_eq(&other.bytes)
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({:?}, <redacted>)", self.algorithm)
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

/// Fewest and most digits a PIN may have.
pub const PIN_MIN_DIGITS: usize = 4;
pub const PIN_MAX_DIGITS: usize = 16;
/// Bytes of the longest packed-BCD PIN.
pub const PIN_MAX_BCD_LEN: usize = PIN_MAX_DIGITS / 2;

/// A PIN of 4 to 16 decimal digits, held as packed BCD padded with `F`.
///
/// The unused tail of the buffer is `FF`, so two PINs are equal exactly when their
/// buffers are: the comparison needs no length branch.
#[derive(Clone)]
pub struct Pin {
    bcd: [u8; PIN_MAX_BCD_LEN],
    digits: u8,
}

impl Pin {
    /// A PIN from ASCII digits (`b"123456"`).
    pub fn from_ascii(ascii: &[u8]) -> Result<Self, Error> {
        if !(PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&ascii.len()) {
            return Err(Error::Length);
        }
        let mut bcd = [0xFF; PIN_MAX_BCD_LEN];
        for (index, &char) in ascii.iter().enumerate() {
            if !char.is_ascii_digit() {
                bcd.zeroize();
                return Err(Error::Format);
            }
            set_nibble(&mut bcd, index, char - b'0');
        }
        Ok(Pin {
            bcd,
            digits: digit_count(ascii.len()),
        })
    }

    /// A PIN from packed BCD: digits first, then only `F` nibbles up to the end
    /// (`12 34 56`, `12 34 5F`, `12 34 FF` all parse; the last is the PIN 1234).
    pub fn from_bcd(bcd_in: &[u8]) -> Result<Self, Error> {
        if bcd_in.is_empty() || bcd_in.len() > PIN_MAX_BCD_LEN {
            return Err(Error::Length);
        }
        let mut bcd = [0xFF; PIN_MAX_BCD_LEN];
        let mut digits = 0;
        let mut in_padding = false;
        let nibbles = bcd_in.iter().flat_map(|byte| [byte >> 4, byte & 0x0F]);
        for nibble in nibbles {
            match (nibble, in_padding) {
                (0xF, _) => in_padding = true,
                (0..=9, false) => {
                    set_nibble(&mut bcd, digits, nibble);
                    digits += 1;
                }
                _ => {
                    bcd.zeroize();
                    return Err(Error::Format);
                }
            }
        }
        if digits < PIN_MIN_DIGITS {
            bcd.zeroize();
            return Err(Error::Length);
        }
        Ok(Pin {
            bcd,
            digits: digit_count(digits),
        })
    }

    /// Number of digits.
    pub const fn len(&self) -> usize {
        self.digits as usize
    }

    /// Always false: a PIN has at least four digits.
    pub const fn is_empty(&self) -> bool {
        self.digits == 0
    }

    /// The PIN as packed BCD, odd length padded with `F` (`12 34 5F`): `ceil(len / 2)` bytes.
    pub fn as_bcd(&self) -> &[u8] {
        let used = self.len().div_ceil(2);
        self.bcd.get(..used).unwrap_or(&self.bcd)
    }
}

/// Writes digit `index` (0 = high nibble of byte 0) of a packed BCD buffer.
fn set_nibble(bcd: &mut [u8; PIN_MAX_BCD_LEN], index: usize, digit: u8) {
    if let Some(byte) = bcd.get_mut(index / 2) {
        *byte = if index.is_multiple_of(2) {
            (digit << 4) | (*byte & 0x0F)
        } else {
            (*byte & 0xF0) | digit
        };
    }
}

/// A digit count already checked against `PIN_MAX_DIGITS`, as stored.
fn digit_count(count: usize) -> u8 {
    u8::try_from(count).unwrap_or(u8::MAX)
}

impl ConstantTimeEq for Pin {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.bcd.ct_eq(&other.bcd)
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Pin {}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.bcd.zeroize();
        self.digits.zeroize();
    }
}

impl ZeroizeOnDrop for Pin {}
