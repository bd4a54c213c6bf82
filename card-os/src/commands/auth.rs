//! GET CHALLENGE (`00 84`), EXTERNAL AUTHENTICATE (`00 82`), INTERNAL AUTHENTICATE (`00 88`).
//! Keys are those of the current DF.

use super::{atomically, done, expect_p1p2, Answer, Context};
use crate::apdu::Command;
use crate::crypto::{internal_authenticate, verify_external_cryptogram, INTERNAL_AUTH_MAX};
use crate::security::{objects, random, tries, Usage};
use crate::storage::Storage;
use crate::sw::Status;

/// GET CHALLENGE `00 84 00 00 04|08`: a new challenge for the next command.
pub(super) fn get_challenge<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    expect_p1p2(command, 0, 0)?;
    let len = match command.ne {
        Some(len @ (4 | 8)) if command.data.is_empty() => len,
        _ => return Err(Status::WrongLength),
    };
    let challenge = random::next_challenge(ctx.storage, ctx.pool, len)?;
    out.get_mut(..len)
        .ok_or(Status::WrongLength)?
        .copy_from_slice(challenge.as_bytes());
    ctx.security.challenge = Some(challenge);
    Ok(Answer::Data(len, Status::Success))
}

/// P2 = key id (not `00`), P1 = `00`.
fn key_id(command: &Command<'_>) -> Result<u8, Status> {
    match (command.p1, command.p2) {
        (0, 0) | (1..=0xFF, _) => Err(Status::IncorrectP1P2),
        (0, id) => Ok(id),
    }
}

/// EXTERNAL AUTHENTICATE `00 82 00 <key id> Lc cryptogram`: the key is authenticated in the
/// current DF until another DF is selected or the card is reset.
pub(super) fn external<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    let id = key_id(command)?;
    let challenge = ctx
        .challenge
        .take()
        .ok_or(Status::ConditionsOfUseNotSatisfied)?;
    let key = objects::find_key(
        ctx.storage,
        ctx.index,
        ctx.selection.df,
        id,
        Usage::ExternalAuth,
    )?;
    if command.data.len() != key.key.algorithm().block_size() {
        return Err(Status::WrongLength);
    }
    let left = tries::spend(ctx.storage, key.tries_at, key.tries)?;
    if verify_external_cryptogram(&key.key, challenge.as_bytes(), command.data).is_err() {
        return Err(tries::wrong(left));
    }
    atomically(ctx.storage, |tx| tx.write(key.tries_at, &[key.limit]))?;
    ctx.security.authenticated_keys.insert(id);
    done()
}

/// INTERNAL AUTHENTICATE `00 88 00 <key id> Lc data Le`: `E(key, data zero-padded)`.
pub(super) fn internal<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let id = key_id(command)?;
    if command.data.is_empty() || command.data.len() > INTERNAL_AUTH_MAX {
        return Err(Status::WrongLength);
    }
    let key = objects::find_key(
        ctx.storage,
        ctx.index,
        ctx.selection.df,
        id,
        Usage::InternalAuth,
    )?;
    let answer = internal_authenticate(&key.key, command.data)
        .map_err(|e| Status::from_u16(e.status_word()))?;
    let bytes = answer.as_bytes();
    out.get_mut(..bytes.len())
        .ok_or(Status::NotEnoughMemory)?
        .copy_from_slice(bytes);
    Ok(Answer::Long(bytes.len(), Status::Success))
}
