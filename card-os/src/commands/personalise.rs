//! Personalisation: WRITE KEY (`80 D4 00 00 14`), WRITE PIN (`80 D4 01 00 Lc`), ISSUE CARD
//! (`80 F0 02 00`). Card life cycle `01` only.

use super::{atomically, done, expect_p1p2, personalisation_only, Answer, Context};
use crate::apdu::Command;
use crate::crypto::{Algorithm, Pin, SecretKey, KEY_LEN, PIN_MAX_BCD_LEN};
use crate::fs::header::set_life_cycle;
use crate::memory_map::LIFE_CYCLE_ISSUED;
use crate::security::{objects, random, Usage};
use crate::storage::Storage;
use crate::sw::Status;

/// Largest error limit / try limit (a counter must fit `63Cx`).
const LIMIT_MAX: u8 = 15;

/// WRITE KEY (P1 `00`) or WRITE PIN (P1 `01`) into the current DF's security area.
pub(super) fn write<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    match (command.p1, command.p2) {
        (0x00, 0x00) => write_key(ctx, command.data),
        (0x01, 0x00) => write_pin(ctx, command.data),
        _ => Err(Status::IncorrectP1P2),
    }
}

fn limit(byte: u8) -> Result<u8, Status> {
    if (1..=LIMIT_MAX).contains(&byte) {
        Ok(byte)
    } else {
        Err(Status::IncorrectDataParameters)
    }
}

/// Data: key id (not `00`), usage, algorithm, error limit (1-15), 16 key bytes. The same id again
/// replaces the key; no free slot `6A84`.
fn write_key<S: Storage>(ctx: &mut Context<'_, S>, data: &[u8]) -> Result<Answer, Status> {
    personalisation_only(ctx)?;
    let [id, usage, algorithm, error_limit, key @ ..] = data else {
        return Err(Status::WrongLength);
    };
    if key.len() != KEY_LEN {
        return Err(Status::WrongLength);
    }
    let bad = Status::IncorrectDataParameters;
    if *id == 0 {
        return Err(bad);
    }
    let usage = Usage::from_byte(*usage).ok_or(bad)?;
    let algorithm = Algorithm::from_byte(*algorithm).map_err(|_| bad)?;
    let error_limit = limit(*error_limit)?;
    let key = SecretKey::from_slice(algorithm, key).map_err(|_| Status::WrongLength)?;
    let area = objects::security_area(ctx.storage, ctx.index, ctx.selection.df)?;
    let slot = objects::slot_for(ctx.storage, area, *id)?.ok_or(Status::NotEnoughMemory)?;
    atomically(ctx.storage, |tx| {
        objects::write_key(tx, area, slot, *id, usage, &key, error_limit)?;
        // Once a key is loaded the challenge generator's seed is secret.
        random::absorb(tx, key.expose_bytes())
    })?;
    done()
}

/// Data: try limit (1-15), then the PIN (packed BCD padded with `F`, 4-16 digits). It becomes the
/// holder PIN of the card, and its initial PIN.
fn write_pin<S: Storage>(ctx: &mut Context<'_, S>, data: &[u8]) -> Result<Answer, Status> {
    personalisation_only(ctx)?;
    let [tries, bcd @ ..] = data else {
        return Err(Status::WrongLength);
    };
    if bcd.len() < 2 || bcd.len() > PIN_MAX_BCD_LEN {
        return Err(Status::WrongLength);
    }
    let tries = limit(*tries)?;
    let pin = Pin::from_bcd(bcd).map_err(|_| Status::IncorrectDataParameters)?;
    let df = ctx.selection.df;
    let area = objects::security_area(ctx.storage, ctx.index, df)?;
    atomically(ctx.storage, |tx| {
        objects::write_pin(tx, df, area, tries, &pin)
    })?;
    done()
}

/// ISSUE CARD: life cycle `01` → `02`, irreversible; the access conditions apply from now on.
pub(super) fn issue<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    expect_p1p2(command, 0x02, 0x00)?;
    if !command.data.is_empty() {
        return Err(Status::WrongLength);
    }
    personalisation_only(ctx)?;
    atomically(ctx.storage, |tx| set_life_cycle(tx, LIFE_CYCLE_ISSUED))?;
    done()
}
