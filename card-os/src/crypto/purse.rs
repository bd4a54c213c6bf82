//! The medical purse's cryptography (docs/settlement.md, "Keys and MACs"): session keys, MAC1,
//! MAC2 and TAC of a load and of a purchase. The card checks and computes with these functions;
//! the PSAM, a terminal and the back office compute and verify with the same ones. No heap.
//!
//! - Session key from a purse key K over 8 bytes of input: 3DES keys encrypt the input (EDE) to
//!   an 8-byte single-DES key; 16-byte-block keys (SM4) encrypt the input zero-padded to 16 bytes
//!   to a 16-byte key. (A single-DES key is held as `K || K`, which 3DES EDE turns into DES.)
//! - MAC: IV zero, padding `80 00..` always, CBC; an 8-byte block gives its left 4 bytes, a
//!   16-byte block the XOR of its four quarters (or, by setting, its left 4 bytes).
//! - TAC key: for 3DES the left half XOR the right half of DTK (single DES); else DTK itself.

use super::cipher::Cipher;
use super::mac::CbcMac;
use zeroize::Zeroize;

use super::{Algorithm, Error, SecretKey, KEY_LEN};

/// Length of MAC1, MAC2 and TAC.
pub const PURSE_MAC_LEN: usize = 4;
/// A purse MAC or TAC.
pub type PurseMac = [u8; PURSE_MAC_LEN];
/// Length of the terminal number (cn6).
pub const TERMINAL_NO_LEN: usize = 6;
/// Length of a transaction time (cn7, `YYYYMMDDhhmmss`).
pub const TIME_LEN: usize = 7;
/// Transaction type of a load (record type `'1'`).
pub const TYPE_LOAD: u8 = 1;
/// Transaction type of a purchase (settlement, record type `'2'`).
pub const TYPE_PURCHASE: u8 = 2;

/// The purse's answers to the open points of the specification, stored on the card at
/// personalisation (4 bytes, [`Settings::to_bytes`]); the defaults are `Settings::default()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The transaction type in MAC and TAC input as ASCII (`'1'`, `'2'`) rather than binary
    /// (`01`, `02`). Default: binary.
    pub ascii_type: bool,
    /// 16-byte-block MACs (SM4) keep the left 4 bytes of the last block instead of the XOR of
    /// its quarters (the rule written for SSF33). Default: XOR of the quarters.
    pub sm4_left_bytes: bool,
    /// The load TAC carries the balance after the load rather than before. Default: before.
    pub load_tac_balance_after: bool,
    /// The purchase serial in INITIALIZE FOR PURCHASE and GET TRANSACTION PROOF has 4 bytes
    /// (`00 00` then the 2-byte counter) rather than 2. Default: 2.
    pub four_byte_serial: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_bytes([0; 4])
    }
}

impl Settings {
    /// Length of the stored settings.
    pub const LEN: usize = 4;

    /// The stored form: one byte per setting, `00` = default, `01` = the alternative.
    pub const fn to_bytes(self) -> [u8; 4] {
        [
            self.ascii_type as u8,
            self.sm4_left_bytes as u8,
            self.load_tac_balance_after as u8,
            self.four_byte_serial as u8,
        ]
    }

    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        let [a, b, c, d] = bytes;
        Settings {
            ascii_type: a != 0,
            sm4_left_bytes: b != 0,
            load_tac_balance_after: c != 0,
            four_byte_serial: d != 0,
        }
    }

    /// The type byte as it enters a MAC or TAC.
    pub const fn type_byte(self, kind: u8) -> u8 {
        if self.ascii_type {
            b'0' + kind
        } else {
            kind
        }
    }

    /// Length of the purchase serial on the wire.
    pub const fn serial_len(self) -> usize {
        if self.four_byte_serial {
            4
        } else {
            2
        }
    }
}

/// The session key of `key` (DLK or DPK) over 8 bytes of input.
pub fn session_key(key: &SecretKey, input: &[u8; 8]) -> Result<SecretKey, Error> {
    let cipher = Cipher::new(key);
    let mut block = [0u8; KEY_LEN];
    let (left, right) = block.split_at_mut(8);
    left.copy_from_slice(input);
    let result = if key.algorithm() == Algorithm::Des3 {
        cipher.encrypt(left).map(|()| right.copy_from_slice(left))
    } else {
        cipher.encrypt(&mut block)
    };
    let session = result.map(|()| SecretKey::new(key.algorithm(), block));
    block.zeroize();
    session
}

/// The purchase session key input: random ‖ purchase serial ‖ the rightmost 2 bytes of the
/// terminal serial.
pub fn purchase_session_input(random: &[u8; 4], serial: u16, terminal_serial: &[u8; 4]) -> [u8; 8] {
    let [r1, r2, r3, r4] = *random;
    let [s1, s2] = serial.to_be_bytes();
    let [_, _, t3, t4] = *terminal_serial;
    [r1, r2, r3, r4, s1, s2, t3, t4]
}

/// The load session key input: random ‖ load serial ‖ `80 00`.
pub fn load_session_input(random: &[u8; 4], serial: u16) -> [u8; 8] {
    let [r1, r2, r3, r4] = *random;
    let [s1, s2] = serial.to_be_bytes();
    [r1, r2, r3, r4, s1, s2, 0x80, 0x00]
}

/// The TAC key: left XOR right half of DTK (as a single-DES key) for 3DES, DTK for the others.
pub fn tac_key(dtk: &SecretKey) -> SecretKey {
    let mut bytes = *dtk.expose_bytes();
    if dtk.algorithm() == Algorithm::Des3 {
        let (left, right) = bytes.split_at_mut(8);
        left.iter_mut().zip(right.iter()).for_each(|(l, r)| *l ^= r);
        right.copy_from_slice(left);
    }
    SecretKey::new(dtk.algorithm(), bytes)
}

/// The purse MAC of the concatenated `parts` with `key` (a session key or the TAC key).
pub fn purse_mac(key: &SecretKey, settings: Settings, parts: &[&[u8]]) -> Result<PurseMac, Error> {
    let mut mac = CbcMac::algorithm1(key, &[])?;
    parts.iter().try_for_each(|part| mac.update(part))?;
    let block = mac.finalize()?;
    let bytes = block.as_bytes();
    let mut out = [0u8; PURSE_MAC_LEN];
    if bytes.len() == 16 && !settings.sm4_left_bytes {
        for quarter in bytes.chunks_exact(PURSE_MAC_LEN) {
            out.iter_mut().zip(quarter).for_each(|(o, b)| *o ^= b);
        }
    } else {
        out.copy_from_slice(bytes.get(..PURSE_MAC_LEN).ok_or(Error::Length)?);
    }
    Ok(out)
}

/// The amounts of a purchase: account 4 ‖ self-pay 4 ‖ pooled 4.
pub type Amounts = [u8; 12];

/// A purchase as MAC1, MAC2 and TAC see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Purchase {
    pub amounts: Amounts,
    pub terminal_no: [u8; TERMINAL_NO_LEN],
    pub terminal_serial: [u8; 4],
    pub time: [u8; TIME_LEN],
}

impl Purchase {
    /// MAC1 = MAC(SESPK, amounts ‖ type ‖ terminal no. ‖ time).
    pub fn mac1(&self, session: &SecretKey, settings: Settings) -> Result<PurseMac, Error> {
        let kind = [settings.type_byte(TYPE_PURCHASE)];
        purse_mac(
            session,
            settings,
            &[&self.amounts, &kind, &self.terminal_no, &self.time],
        )
    }

    /// MAC2 = MAC(SESPK, amounts).
    pub fn mac2(&self, session: &SecretKey, settings: Settings) -> Result<PurseMac, Error> {
        purse_mac(session, settings, &[&self.amounts])
    }

    /// The back office's check of a purchase's TAC (constant time): [`Error::Mismatch`] when it
    /// is not the TAC of this purchase under the card's DTK.
    pub fn verify_tac(
        &self,
        dtk: &SecretKey,
        settings: Settings,
        received: &[u8],
    ) -> Result<(), Error> {
        super::mac::verify(&self.tac(dtk, settings)?, received)
    }

    /// TAC = MAC(DTK', amounts ‖ type ‖ terminal no. ‖ terminal serial ‖ time).
    pub fn tac(&self, dtk: &SecretKey, settings: Settings) -> Result<PurseMac, Error> {
        let kind = [settings.type_byte(TYPE_PURCHASE)];
        purse_mac(
            &tac_key(dtk),
            settings,
            &[
                &self.amounts,
                &kind,
                &self.terminal_no,
                &self.terminal_serial,
                &self.time,
            ],
        )
    }
}

/// A load as MAC1, MAC2 and TAC see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    /// The balance before the load.
    pub balance: u32,
    pub amount: u32,
    pub serial: u16,
    pub terminal_no: [u8; TERMINAL_NO_LEN],
}

impl Load {
    /// MAC1 = MAC(SESLK, balance ‖ amount ‖ type ‖ terminal no.).
    pub fn mac1(&self, session: &SecretKey, settings: Settings) -> Result<PurseMac, Error> {
        let kind = [settings.type_byte(TYPE_LOAD)];
        purse_mac(
            session,
            settings,
            &[
                &self.balance.to_be_bytes(),
                &self.amount.to_be_bytes(),
                &kind,
                &self.terminal_no,
            ],
        )
    }

    /// MAC2 = MAC(SESLK, amount ‖ type ‖ terminal no. ‖ host time).
    pub fn mac2(
        &self,
        session: &SecretKey,
        settings: Settings,
        time: &[u8; TIME_LEN],
    ) -> Result<PurseMac, Error> {
        let kind = [settings.type_byte(TYPE_LOAD)];
        purse_mac(
            session,
            settings,
            &[&self.amount.to_be_bytes(), &kind, &self.terminal_no, time],
        )
    }

    /// The back office's check of a load's TAC (constant time).
    pub fn verify_tac(
        &self,
        dtk: &SecretKey,
        settings: Settings,
        time: &[u8; TIME_LEN],
        received: &[u8],
    ) -> Result<(), Error> {
        super::mac::verify(&self.tac(dtk, settings, time)?, received)
    }

    /// TAC = MAC(DTK', balance ‖ load serial ‖ amount ‖ type ‖ terminal no. ‖ host time); the
    /// balance before or after the load as the settings say.
    pub fn tac(
        &self,
        dtk: &SecretKey,
        settings: Settings,
        time: &[u8; TIME_LEN],
    ) -> Result<PurseMac, Error> {
        let balance = if settings.load_tac_balance_after {
            self.balance.wrapping_add(self.amount)
        } else {
            self.balance
        };
        let kind = [settings.type_byte(TYPE_LOAD)];
        purse_mac(
            &tac_key(dtk),
            settings,
            &[
                &balance.to_be_bytes(),
                &self.serial.to_be_bytes(),
                &self.amount.to_be_bytes(),
                &kind,
                &self.terminal_no,
                time,
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(algorithm: Algorithm, byte: u8) -> SecretKey {
        SecretKey::new(algorithm, [byte; 16])
    }

    #[test]
    fn a_des_session_key_is_single_des_held_twice() {
        let k = SecretKey::new(Algorithm::Des3, *b"0123456789ABCDEF");
        let s = session_key(&k, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        let (l, r) = s.expose_bytes().split_at(8);
        assert_eq!(l, r);
        let mut block = [1, 2, 3, 4, 5, 6, 7, 8];
        super::super::encrypt_block(&k, &mut block).unwrap();
        assert_eq!(l, block);
    }

    #[test]
    fn an_sm4_session_key_encrypts_the_zero_padded_input() {
        let k = key(Algorithm::Sm4, 0x11);
        let s = session_key(&k, &[9; 8]).unwrap();
        let mut block = [0u8; 16];
        block[..8].copy_from_slice(&[9; 8]);
        super::super::encrypt_block(&k, &mut block).unwrap();
        assert_eq!(s.expose_bytes(), &block);
    }

    #[test]
    fn the_des_tac_key_is_left_xor_right() {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&[0xF0; 8]);
        bytes[8..].copy_from_slice(&[0x0F; 8]);
        let t = tac_key(&SecretKey::new(Algorithm::Des3, bytes));
        assert_eq!(t.expose_bytes(), &[0xFF; 16]);
        let sm4 = key(Algorithm::Sm4, 7);
        assert_eq!(tac_key(&sm4).expose_bytes(), sm4.expose_bytes());
    }

    #[test]
    fn sm4_macs_xor_the_quarters_unless_the_setting_keeps_the_left_bytes() {
        let k = key(Algorithm::Sm4, 3);
        let xor = purse_mac(&k, Settings::default(), &[b"abc"]).unwrap();
        let left = purse_mac(
            &k,
            Settings {
                sm4_left_bytes: true,
                ..Settings::default()
            },
            &[b"abc"],
        )
        .unwrap();
        let mut full = CbcMac::algorithm1(&k, &[]).unwrap();
        full.update(b"abc").unwrap();
        let block = full.finalize().unwrap();
        let b = block.as_bytes();
        assert_eq!(left, b[..4]);
        let expected: [u8; 4] = core::array::from_fn(|i| b[i] ^ b[4 + i] ^ b[8 + i] ^ b[12 + i]);
        assert_eq!(xor, expected);
    }

    #[test]
    fn settings_round_trip_and_change_the_macs() {
        for n in 0..16u8 {
            let s = Settings::from_bytes([n & 1, (n >> 1) & 1, (n >> 2) & 1, (n >> 3) & 1]);
            assert_eq!(Settings::from_bytes(s.to_bytes()), s);
        }
        let p = Purchase {
            amounts: [1; 12],
            terminal_no: [2; 6],
            terminal_serial: [3; 4],
            time: [4; 7],
        };
        let k = key(Algorithm::Des3, 5);
        let ascii = Settings {
            ascii_type: true,
            ..Settings::default()
        };
        assert_ne!(
            p.mac1(&k, Settings::default()).unwrap(),
            p.mac1(&k, ascii).unwrap()
        );
        assert_eq!(
            p.mac2(&k, Settings::default()).unwrap(),
            p.mac2(&k, ascii).unwrap()
        );
    }
}
