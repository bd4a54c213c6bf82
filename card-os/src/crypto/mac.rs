//! MACs: ISO/IEC 9797-1 padding method 2, CBC-MAC (MAC algorithm 1), the DES retail
//! MAC (MAC algorithm 3), AES-CMAC (RFC 4493) and constant-time verification.
//!
//! The MACs run over the data as it arrives (`update`), so the card needs no buffer
//! for the padded message.

use cmac::{Cmac, Mac as _};
use des::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::Des;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::cipher::{Cipher, MAX_BLOCK_SIZE};
use super::{Algorithm, Cryptogram, Error, SecretKey};

/// The first byte of ISO/IEC 9797-1 padding method 2 (then `00` up to the block end).
pub const PADDING_MARKER: u8 = 0x80;

/// Length of the MAC appended to a secure-messaging command.
pub const LINE_MAC_LEN: usize = 4;

/// Pads `buffer[..len]` in place with method 2 (`80`, then `00` to a block boundary)
/// and returns the padded length; [`Error::Length`] if the buffer is too short.
pub fn pad_method2(buffer: &mut [u8], len: usize, block_size: usize) -> Result<usize, Error> {
    if block_size == 0 {
        return Err(Error::Length);
    }
    let padded = (len / block_size + 1) * block_size;
    let tail = buffer.get_mut(len..padded).ok_or(Error::Length)?;
    tail.fill(0);
    if let Some(first) = tail.first_mut() {
        *first = PADDING_MARKER;
    }
    Ok(padded)
}

/// How the chaining value is enciphered.
enum Chain {
    /// MAC algorithm 1: the block cipher itself.
    Cipher(Cipher),
    /// MAC algorithm 3: single DES with the left key, the output transformation
    /// decrypts with the right key and encrypts with the left key again.
    Retail { left: Des, right: Des },
}

/// A CBC-MAC computed as the message arrives.
pub struct CbcMac {
    chain: Chain,
    block_size: usize,
    state: [u8; MAX_BLOCK_SIZE],
    pending: [u8; MAX_BLOCK_SIZE],
    pending_len: usize,
}

impl CbcMac {
    /// ISO/IEC 9797-1 MAC algorithm 1 with the key's block cipher. `iv` is the initial
    /// chaining value, at most one block, padded on the right with `00`.
    pub fn algorithm1(key: &SecretKey, iv: &[u8]) -> Result<Self, Error> {
        CbcMac::with_chain(
            Chain::Cipher(Cipher::new(key)),
            key.algorithm().block_size(),
            iv,
        )
    }

    /// ISO/IEC 9797-1 MAC algorithm 3 (the "retail MAC", ANSI X9.19) for a two-key
    /// 3DES key: single DES CBC with K1, last block finished with 3DES (K1, K2).
    pub fn algorithm3(key: &SecretKey, iv: &[u8]) -> Result<Self, Error> {
        if key.algorithm() != Algorithm::Des3 {
            return Err(Error::UnsupportedAlgorithm);
        }
        let (k1, k2) = key.expose_bytes().split_at(8);
        let left = Des::new_from_slice(k1).map_err(|_| Error::Length)?;
        let right = Des::new_from_slice(k2).map_err(|_| Error::Length)?;
        CbcMac::with_chain(
            Chain::Retail { left, right },
            Algorithm::Des3.block_size(),
            iv,
        )
    }

    /// The MAC the card uses for line protection with this key: algorithm 3 for 3DES
    /// (as PBOC), algorithm 1 for SM4 and AES.
    pub fn line_protection(key: &SecretKey, iv: &[u8]) -> Result<Self, Error> {
        match key.algorithm() {
            Algorithm::Des3 => CbcMac::algorithm3(key, iv),
            Algorithm::Sm4 | Algorithm::Aes128 => CbcMac::algorithm1(key, iv),
        }
    }

    fn with_chain(chain: Chain, block_size: usize, iv: &[u8]) -> Result<Self, Error> {
        let mut state = [0; MAX_BLOCK_SIZE];
        state
            .get_mut(..iv.len())
            .filter(|_| iv.len() <= block_size)
            .ok_or(Error::Length)?
            .copy_from_slice(iv);
        Ok(CbcMac {
            chain,
            block_size,
            state,
            pending: [0; MAX_BLOCK_SIZE],
            pending_len: 0,
        })
    }

    /// Adds message bytes.
    pub fn update(&mut self, mut data: &[u8]) -> Result<(), Error> {
        while !data.is_empty() {
            let room = self.block_size.saturating_sub(self.pending_len);
            let (now, rest) = data.split_at(room.min(data.len()));
            self.pending
                .get_mut(self.pending_len..self.pending_len + now.len())
                .ok_or(Error::Length)?
                .copy_from_slice(now);
            self.pending_len += now.len();
            data = rest;
            if self.pending_len == self.block_size {
                self.absorb_pending()?;
            }
        }
        Ok(())
    }

    /// Pads with method 2 and returns the whole last block (8 or 16 bytes).
    pub fn finalize(mut self) -> Result<Cryptogram, Error> {
        let len = self.pending_len;
        let block_size = self.block_size;
        pad_method2(&mut self.pending, len, block_size)?;
        self.absorb_pending()?;
        self.output()
    }

    /// For messages already a whole number of blocks long (no padding is added).
    pub fn finalize_unpadded(self) -> Result<Cryptogram, Error> {
        if self.pending_len != 0 {
            return Err(Error::Length);
        }
        self.output()
    }

    fn absorb_pending(&mut self) -> Result<(), Error> {
        let size = self.block_size;
        let state = self.state.get_mut(..size).ok_or(Error::Length)?;
        let block = self.pending.get(..size).ok_or(Error::Length)?;
        state.iter_mut().zip(block).for_each(|(s, b)| *s ^= b);
        match &self.chain {
            Chain::Cipher(cipher) => cipher.encrypt(state)?,
            Chain::Retail { left, .. } => left.encrypt_block(des_block(state)?),
        }
        self.pending_len = 0;
        Ok(())
    }

    fn output(mut self) -> Result<Cryptogram, Error> {
        let size = self.block_size;
        let state = self.state.get_mut(..size).ok_or(Error::Length)?;
        if let Chain::Retail { left, right } = &self.chain {
            let block = des_block(state)?;
            right.decrypt_block(block);
            left.encrypt_block(block);
        }
        Cryptogram::from_slice(state)
    }
}

impl Drop for CbcMac {
    fn drop(&mut self) {
        self.state.zeroize();
        self.pending.zeroize();
    }
}

fn des_block(block: &mut [u8]) -> Result<&mut Array<u8, des::cipher::consts::U8>, Error> {
    Array::slice_as_mut_array(block).ok_or(Error::Length)
}

/// The line-protection MAC of a whole message: [`CbcMac::line_protection`], padding
/// method 2, leftmost 4 bytes.
pub fn line_mac(
    key: &SecretKey,
    iv: &[u8],
    message: &[&[u8]],
) -> Result<[u8; LINE_MAC_LEN], Error> {
    let mut mac = CbcMac::line_protection(key, iv)?;
    message.iter().try_for_each(|part| mac.update(part))?;
    let full = mac.finalize()?;
    let mut left = [0; LINE_MAC_LEN];
    left.copy_from_slice(full.as_bytes().get(..LINE_MAC_LEN).ok_or(Error::Length)?);
    Ok(left)
}

/// AES-CMAC (RFC 4493) with an AES-128 key; other keys are [`Error::UnsupportedAlgorithm`].
pub fn aes_cmac(key: &SecretKey, message: &[u8]) -> Result<[u8; 16], Error> {
    if key.algorithm() != Algorithm::Aes128 {
        return Err(Error::UnsupportedAlgorithm);
    }
    let mut mac = <Cmac<aes::Aes128> as cmac::KeyInit>::new_from_slice(key.expose_bytes())
        .map_err(|_| Error::Length)?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().into())
}

/// Compares a received MAC or cryptogram with the expected one in constant time.
/// Different lengths never match, nor does an empty value.
pub fn verify(expected: &[u8], received: &[u8]) -> Result<(), Error> {
    if !expected.is_empty() && bool::from(expected.ct_eq(received)) {
        Ok(())
    } else {
        Err(Error::Mismatch)
    }
}
