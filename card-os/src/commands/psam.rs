//! The PSAM personality (docs/security.md, "PSAM"): a card whose application holds issuer master
//! keys derives a card's key into RAM (DELIVER KEY) and computes with it (CIPHER DATA), so that a
//! terminal never sees a key.

use super::{done, Answer, Context};
use crate::apdu::Command;
use crate::crypto::diversify::FACTOR_LEN;
use crate::crypto::mac::LINE_MAC_LEN;
use crate::crypto::sm::command_mac;
use crate::crypto::{diversify, internal_authenticate, CHALLENGE_LENS, INTERNAL_AUTH_MAX};
use crate::security::{objects, Usage};
use crate::storage::Storage;
use crate::sw::Status;

/// CIPHER DATA P1: encrypt (ECB, zero padding).
const CIPHER_ENCRYPT: u8 = 0x00;
/// CIPHER DATA P1: the secure-messaging MAC of a command.
const CIPHER_MAC: u8 = 0x05;

/// DELIVER KEY `80 1A <usage> <key id> Lc factors`: the master key (`id`, `usage`) of the current
/// DF diversified with one 8-byte factor or two (16 bytes: region factor then card factor) is
/// kept in RAM for CIPHER DATA until the next DELIVER KEY or reset. Usage not `01`..`05` or key
/// id `00` `6A86`; factors not 8 or 16 bytes `6700`; no such key `6A88`.
pub(super) fn deliver_key<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    let usage = Usage::from_byte(command.p1).ok_or(Status::IncorrectP1P2)?;
    if command.p2 == 0 {
        return Err(Status::IncorrectP1P2);
    }
    *ctx.derived_key = None;
    let master = objects::find_key(ctx.storage, ctx.index, ctx.selection.df, command.p2, usage)?;
    let crypto = |e: crate::crypto::Error| Status::from_u16(e.status_word());
    let factor = |bytes: &[u8]| -> Result<[u8; FACTOR_LEN], Status> {
        bytes.try_into().map_err(|_| Status::WrongLength)
    };
    let key = match command.data.len() {
        FACTOR_LEN => diversify(&master.key, &factor(command.data)?).map_err(crypto)?,
        16 => {
            let (region, card) = command.data.split_at(FACTOR_LEN);
            let regional = diversify(&master.key, &factor(region)?).map_err(crypto)?;
            diversify(&regional, &factor(card)?).map_err(crypto)?
        }
        _ => return Err(Status::WrongLength),
    };
    *ctx.derived_key = Some(key);
    done()
}

/// CIPHER DATA `80 FA <mode> 00 Lc data`, with the key of the last DELIVER KEY (`6985` if none):
/// mode `00` = `E(key, data zero-padded)` for 1–16 bytes (the EXTERNAL AUTHENTICATE cryptogram
/// of a challenge; the expected INTERNAL AUTHENTICATE answer); mode `05` = the 4-byte
/// secure-messaging MAC, data = challenge length (4 or 8), challenge, CLA INS P1 P2, command data
/// without MAC. Other modes or P2 ≠ `00` `6A86`; lengths `6700`.
pub(super) fn cipher_data<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    if command.p2 != 0 || !matches!(command.p1, CIPHER_ENCRYPT | CIPHER_MAC) {
        return Err(Status::IncorrectP1P2);
    }
    let key = ctx
        .derived_key
        .as_ref()
        .ok_or(Status::ConditionsOfUseNotSatisfied)?;
    let crypto = |e: crate::crypto::Error| Status::from_u16(e.status_word());
    let mac: [u8; LINE_MAC_LEN];
    let cryptogram;
    let answer: &[u8] = if command.p1 == CIPHER_ENCRYPT {
        if command.data.is_empty() || command.data.len() > INTERNAL_AUTH_MAX {
            return Err(Status::WrongLength);
        }
        cryptogram = internal_authenticate(key, command.data).map_err(crypto)?;
        cryptogram.as_bytes()
    } else {
        let (&len, rest) = command.data.split_first().ok_or(Status::WrongLength)?;
        let len = usize::from(len);
        if !CHALLENGE_LENS.contains(&len) || rest.len() < len + 4 {
            return Err(Status::WrongLength);
        }
        let (challenge, rest) = rest.split_at(len);
        let (header, data) = rest.split_at(4);
        let header: [u8; 4] = header.try_into().map_err(|_| Status::WrongLength)?;
        mac = command_mac(key, challenge, header, data).map_err(crypto)?;
        &mac
    };
    out.get_mut(..answer.len())
        .ok_or(Status::NotEnoughMemory)?
        .copy_from_slice(answer);
    Ok(Answer::Long(answer.len(), Status::Success))
}
