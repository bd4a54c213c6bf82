//! APPLICATION BLOCK (`84 1E`), APPLICATION UNBLOCK (`84 18`), CARD BLOCK (`84 16`), each with a
//! MAC by the current DF's MAC key (usage `05`).

use super::{atomically, done, expect_p1p2, secure, Answer, Context};
use crate::apdu::Command;
use crate::crypto::mac::LINE_MAC_LEN;
use crate::fs::header::set_life_cycle;
use crate::fs::FileIndex;
use crate::journal::Transaction;
use crate::memory_map::{
    APPLICATION_BLOCKED_PERMANENTLY, APPLICATION_BLOCKED_TEMPORARILY, APPLICATION_NORMAL,
    LIFE_CYCLE_CARD_BLOCKED,
};
use crate::security::{objects, Usage};
use crate::storage::Storage;
use crate::sw::Status;

/// Data must be the MAC alone, checked with the current DF's MAC key; then `change` runs on the
/// current DF in one transaction.
fn with_mac<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    change: impl FnOnce(&mut Transaction<'_, S>, &FileIndex, u8) -> Result<(), Status>,
) -> Result<Answer, Status> {
    if command.data.len() != LINE_MAC_LEN {
        return Err(Status::WrongLength);
    }
    let df = ctx.selection.df;
    secure::verify(ctx, command, df, 0, Usage::Mac)?;
    let files = &*ctx.index;
    atomically(ctx.storage, |tx| change(tx, files, df))?;
    done()
}

/// APPLICATION BLOCK `84 1E 00 00|01 04 MAC`: the current DF blocked temporarily (`00`) or
/// permanently (`01`).
pub(super) fn block_application<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    let state = match (command.p1, command.p2) {
        (0, 0) => APPLICATION_BLOCKED_TEMPORARILY,
        (0, 1) => APPLICATION_BLOCKED_PERMANENTLY,
        _ => return Err(Status::IncorrectP1P2),
    };
    with_mac(ctx, command, |tx, files, df| {
        objects::set_application_state(tx, files, df, state)
    })
}

/// APPLICATION UNBLOCK `84 18 00 00 04 MAC`: a temporarily blocked current DF works again.
pub(super) fn unblock_application<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    expect_p1p2(command, 0, 0)?;
    with_mac(ctx, command, |tx, files, df| {
        objects::set_application_state(tx, files, df, APPLICATION_NORMAL)
    })
}

/// CARD BLOCK `84 16 00 00 04 MAC`: card life cycle `04`, irreversible.
pub(super) fn block_card<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    expect_p1p2(command, 0, 0)?;
    with_mac(ctx, command, |tx, _, _| {
        set_life_cycle(tx, LIFE_CYCLE_CARD_BLOCKED)
    })
}
