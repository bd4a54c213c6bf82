//! The holder PIN: VERIFY (`00 20`), CHANGE PIN (`80 5E 01 00`), CHANGE REFERENCE DATA
//! (`00 24 00 00`), PIN UNBLOCK (`84 24`), PIN RELOAD (`84 2C`). The PIN is card-global: these
//! commands reach it from any DF.

use super::{atomically, done, expect_p1p2, secure, Answer, Context};
use crate::apdu::Command;
use crate::crypto::mac::LINE_MAC_LEN;
use crate::crypto::{Pin, PIN_MAX_BCD_LEN};
use crate::security::objects::{self, PinObject};
use crate::security::{tries, Usage};
use crate::storage::Storage;
use crate::sw::Status;

/// A PIN from command data: 2-8 bytes (`6700`), packed BCD of 4-16 digits padded with `F`
/// (`6A80`).
fn pin_from(bcd: &[u8]) -> Result<Pin, Status> {
    if bcd.len() < 2 || bcd.len() > PIN_MAX_BCD_LEN {
        return Err(Status::WrongLength);
    }
    Pin::from_bcd(bcd).map_err(|_| Status::IncorrectDataParameters)
}

/// Spends a try, compares `offered` with the PIN in constant time; a wrong PIN is `63Cx` and
/// clears the verified state.
fn check_pin<S: Storage>(
    ctx: &mut Context<'_, S>,
    pin: &PinObject,
    offered: &Pin,
) -> Result<(), Status> {
    let left = tries::spend(ctx.storage, pin.tries_at(), pin.tries)?;
    // Mutant: the try just spent is put back, so a wrong PIN never blocks.
    #[cfg(feature = "mutants")]
    if crate::mutants::active(crate::mutants::Mutant::SkipPinDecrement) {
        atomically(ctx.storage, |tx| tx.write(pin.tries_at(), &[pin.tries]))?;
    }
    if *offered == pin.value {
        Ok(())
    } else {
        forget_pin(ctx);
        Err(tries::wrong(left))
    }
}

/// Clears the verified state.
fn forget_pin<S: Storage>(ctx: &mut Context<'_, S>) {
    ctx.security.pin_verified = false;
    ctx.security.pin_initial = false;
}

/// In one transaction: the PIN's value replaced by `new` when there is one, and its tries back
/// to the limit.
fn store<S: Storage>(storage: &mut S, pin: &PinObject, new: Option<&Pin>) -> Result<(), Status> {
    atomically(storage, |tx| {
        if let Some(new) = new {
            objects::set_pin_value(tx, pin, new)?;
        }
        tx.write(pin.tries_at(), &[pin.limit])
    })
}

/// Checks the command's MAC with key P2 of `usage` in the PIN's DF.
fn verify_mac<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    usage: Usage,
) -> Result<(), Status> {
    let df = objects::holder_pin_df(ctx.storage)?;
    secure::verify(ctx, command, df, command.p2, usage)?;
    Ok(())
}

/// VERIFY `00 20 00 00 Lc PIN`. Without data: `9000` if verified, else `63Cx` (tries left) or
/// `6983`. The initial PIN verifies (`9000`) but does not satisfy `pin` rules (`6984`).
pub(super) fn verify<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    expect_p1p2(command, 0, 0)?;
    let pin = objects::read_pin(ctx.storage, ctx.index)?;
    if command.data.is_empty() {
        return match pin.tries {
            _ if ctx.security.pin_verified => done(),
            0 => Err(Status::AuthenticationMethodBlocked),
            left => Err(tries::wrong(left)),
        };
    }
    let offered = pin_from(command.data)?;
    check_pin(ctx, &pin, &offered)?;
    store(ctx.storage, &pin, None)?;
    let initial = pin.is_initial();
    ctx.security.pin_verified = !initial;
    ctx.security.pin_initial = initial;
    done()
}

/// CHANGE PIN `80 5E 01 00 Lc old FF new`.
pub(super) fn change_pin<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    expect_p1p2(command, 0x01, 0x00)?;
    let split = command
        .data
        .iter()
        .position(|b| *b == 0xFF)
        .ok_or(Status::IncorrectDataParameters)?;
    let (old, new) = command.data.split_at(split);
    change(ctx, old, new.get(1..).unwrap_or(&[]))
}

/// CHANGE REFERENCE DATA `00 24 00 00 Lc old new`: the old PIN has the stored PIN's length.
pub(super) fn change_reference_data<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    expect_p1p2(command, 0, 0)?;
    let stored = objects::read_pin(ctx.storage, ctx.index)?;
    let split = stored.value.as_bcd().len();
    if command.data.len() <= split {
        return Err(Status::WrongLength);
    }
    let (old, new) = command.data.split_at(split);
    change(ctx, old, new)
}

/// Replaces the PIN after checking the old one; the new PIN may not be the initial PIN (`6A80`).
fn change<S: Storage>(ctx: &mut Context<'_, S>, old: &[u8], new: &[u8]) -> Result<Answer, Status> {
    let pin = objects::read_pin(ctx.storage, ctx.index)?;
    let old = pin_from(old)?;
    let new = pin_from(new)?;
    if new == pin.initial {
        return Err(Status::IncorrectDataParameters);
    }
    check_pin(ctx, &pin, &old)?;
    store(ctx.storage, &pin, Some(&new))?;
    ctx.security.pin_verified = true;
    ctx.security.pin_initial = false;
    done()
}

/// The PIN a MAC-protected PIN command (`84 24`, `84 2C`) works on, after checking its P1 is
/// `00` (its P2 is the key id).
fn pin_for_keyed_command<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<PinObject, Status> {
    if command.p1 != 0 {
        return Err(Status::IncorrectP1P2);
    }
    objects::read_pin(ctx.storage, ctx.index)
}

/// PIN UNBLOCK `84 24 00 <key id> 04 MAC`: the tries are back to the limit, the PIN unchanged.
/// The key (usage `03`) is in the PIN's DF.
pub(super) fn unblock<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    let pin = pin_for_keyed_command(ctx, command)?;
    if command.data.len() != LINE_MAC_LEN {
        return Err(Status::WrongLength);
    }
    verify_mac(ctx, command, Usage::PinUnblock)?;
    store(ctx.storage, &pin, None)?;
    done()
}

/// PIN RELOAD `84 2C 00 <key id> Lc new-PIN MAC`: a new PIN with all its tries; the key (usage
/// `04`) is in the PIN's DF. The verified state is cleared.
pub(super) fn reload<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    let pin = pin_for_keyed_command(ctx, command)?;
    let data_len = command
        .data
        .len()
        .checked_sub(LINE_MAC_LEN)
        .ok_or(Status::WrongLength)?;
    let new = pin_from(command.data.get(..data_len).unwrap_or(&[]))?;
    verify_mac(ctx, command, Usage::PinReload)?;
    store(ctx.storage, &pin, Some(&new))?;
    forget_pin(ctx);
    done()
}
