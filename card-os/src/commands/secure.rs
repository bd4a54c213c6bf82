//! The 4-byte MAC that ends a command with CLA `04` / `84`: secure messaging on writes, PIN
//! UNBLOCK / RELOAD, APPLICATION BLOCK / UNBLOCK, CARD BLOCK. The key's error counter guards it
//! like a PIN's.

use super::Context;
use crate::apdu::Command;
use crate::crypto::mac::LINE_MAC_LEN;
use crate::crypto::sm::verify_command_mac;
use crate::journal::atomically;
use crate::security::{objects, tries, Usage};
use crate::storage::Storage;
use crate::sw::Status;

/// Whether the CLA announces the SSC MAC (secure-messaging bits `01`, i.e. `x4`).
pub(crate) fn has_mac(cla: u8) -> bool {
    (cla >> 2) & 0x03 == 1
}

/// Commands that check their MAC with a key of their own usage (PIN UNBLOCK with a MAC'd class,
/// PIN RELOAD, APPLICATION BLOCK / UNBLOCK, CARD BLOCK); any other command with a MAC'd class is
/// checked with the current DF's MAC key before it runs.
pub(crate) fn checks_own_mac(ins: u8) -> bool {
    matches!(ins, 0x24 | 0x2C | 0x1E | 0x18 | 0x16)
}

/// Checks the MAC at the end of the command data with the key (`id`, or `00` = the first key of
/// that usage) of DF `df` and the challenge of the GET CHALLENGE just before; returns the data
/// without the MAC. No SM class `6987`; data shorter than a MAC `6700`; no challenge `6985`; no
/// such key `6A88`; key blocked `6983`; wrong MAC `6988` (a try of the key spent).
pub(crate) fn verify<'d, S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'d>,
    df: u8,
    id: u8,
    usage: Usage,
) -> Result<&'d [u8], Status> {
    if !has_mac(command.cla) {
        return Err(Status::SmDataObjectsMissing);
    }
    if command.data.len() < LINE_MAC_LEN {
        return Err(Status::WrongLength);
    }
    let challenge = ctx
        .challenge
        .take()
        .ok_or(Status::ConditionsOfUseNotSatisfied)?;
    let key = objects::find_key(ctx.storage, ctx.index, df, id, usage)?;
    tries::spend(ctx.storage, key.tries_at, key.tries)?;
    let header = [command.cla, command.ins, command.p1, command.p2];
    let data = verify_command_mac(&key.key, challenge.as_bytes(), header, command.data)
        .map_err(|e| Status::from_u16(e.status_word()))?;
    atomically(ctx.storage, |tx| tx.write(key.tries_at, &[key.limit]))?;
    Ok(data)
}
