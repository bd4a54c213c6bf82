//! The MAC of SSC secure messaging (CLA `04` / `84`): the card's check and the
//! terminal's computation are this one function.
//!
//! MAC = leftmost 4 bytes of the line-protection CBC-MAC (3DES: ISO/IEC 9797-1 MAC
//! algorithm 3; SM4 / AES: algorithm 1) with
//! - key: the session key, [`session_key`] of the card key and the challenge;
//! - IV: the challenge padded with `00` to the block size;
//! - message: CLA (chaining bit `10` cleared) INS P1 P2 Lc || data, padding method 2,
//!   where Lc counts the data and the 4 MAC bytes: one byte up to 255, else `00 hi lo`.

use super::auth::challenge_block;
use super::diversify::session_key;
use super::mac::{line_mac, verify, LINE_MAC_LEN};
use super::{Error, SecretKey};

/// CLA bit of command chaining, not part of the MAC'd header.
const CLA_CHAINING: u8 = 0x10;

/// The MAC for a command: `header` is CLA INS P1 P2, `data` the command data without MAC.
pub fn command_mac(
    card_key: &SecretKey,
    challenge: &[u8],
    header: [u8; 4],
    data: &[u8],
) -> Result<[u8; LINE_MAC_LEN], Error> {
    session_command_mac(&session_key(card_key, challenge)?, challenge, header, data)
}

/// [`command_mac`] from the session key itself: what a terminal computes when its encryption
/// machine gives it the one-time session key of a challenge instead of the card key.
pub fn session_command_mac(
    session: &SecretKey,
    challenge: &[u8],
    header: [u8; 4],
    data: &[u8],
) -> Result<[u8; LINE_MAC_LEN], Error> {
    let (iv, iv_len) = challenge_block(session.algorithm(), challenge)?;
    let [cla, ins, p1, p2] = header;
    let mac_header = [cla & !CLA_CHAINING, ins, p1, p2];
    let (lc, lc_len) = encode_lc(data.len() + LINE_MAC_LEN)?;
    line_mac(
        session,
        iv.get(..iv_len).ok_or(Error::Length)?,
        &[&mac_header, lc.get(..lc_len).ok_or(Error::Length)?, data],
    )
}

/// The card's check of a command that ends with its 4-byte MAC; returns the data
/// without the MAC. A wrong MAC is [`Error::Mismatch`], a command shorter than the MAC
/// [`Error::Length`].
pub fn verify_command_mac<'a>(
    card_key: &SecretKey,
    challenge: &[u8],
    header: [u8; 4],
    data_and_mac: &'a [u8],
) -> Result<&'a [u8], Error> {
    let split = data_and_mac
        .len()
        .checked_sub(LINE_MAC_LEN)
        .ok_or(Error::Length)?;
    let (data, received) = data_and_mac.split_at(split);
    #[cfg(feature = "mutants")]
    if crate::mutants::active(crate::mutants::Mutant::AcceptAnyMac) {
        return Ok(data);
    }
    verify(&command_mac(card_key, challenge, header, data)?, received)?;
    Ok(data)
}

/// Lc as in the MAC input: short form up to 255, else extended `00 hi lo`.
fn encode_lc(lc: usize) -> Result<([u8; 3], usize), Error> {
    match (u8::try_from(lc), u16::try_from(lc)) {
        (Ok(short), _) => Ok(([short, 0, 0], 1)),
        (_, Ok(extended)) => {
            let [hi, lo] = extended.to_be_bytes();
            Ok(([0, hi, lo], 3))
        }
        _ => Err(Error::Length),
    }
}
