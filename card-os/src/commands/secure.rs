//! The 4-byte MAC that ends a command with CLA `04` / `84`: secure messaging on writes, PIN
//! UNBLOCK / RELOAD, APPLICATION BLOCK / UNBLOCK, CARD BLOCK. The key's error counter guards it
//! like a PIN's.

use super::Context;
use crate::apdu::{Command, SecureMessaging};
use crate::crypto::mac::LINE_MAC_LEN;
use crate::crypto::sm::verify_command_mac;
use crate::instructions::Instruction;
use crate::journal::atomically;
use crate::security::{objects, tries, Usage};
use crate::storage::Storage;
use crate::sw::Status;

/// A MAC'd class on any command but those that check their own MAC: the MAC of the current
/// DF's (`df`) MAC key, checked and stripped before the command runs (an unknown instruction too,
/// as before it is found unknown). Returns the command as its handler sees it.
pub(crate) fn check_class_mac<'d, S: Storage>(
    ctx: &mut Context<'_, S>,
    instruction: Option<&Instruction>,
    command: Command<'d>,
    df: u8,
) -> Result<Command<'d>, Status> {
    if ctx.secure_messaging != SecureMessaging::SscMac
        || instruction.is_some_and(|i| i.checks_own_mac)
    {
        return Ok(command);
    }
    let data = verify(ctx, &command, df, 0, Usage::Mac)?;
    ctx.security.sm_mac_verified = true;
    Ok(Command { data, ..command })
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
    if ctx.secure_messaging != SecureMessaging::SscMac {
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
