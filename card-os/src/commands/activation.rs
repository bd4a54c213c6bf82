//! The six-month rule on the card (see `crate::restriction`): SET DATE, the medical insurance
//! status (GET DATA `DF41`) and the refusal of settlement-type operations while restricted.

use super::{done, expect_p1p2, Answer, Context};
use crate::apdu::Command;
use crate::fs::records::{self, Occurrence};
use crate::fs::MF_INDEX;
use crate::memory_map::RECORD_MAX;
use crate::restriction::{
    self, CardDate, ACTIVATED, ACTIVATION_SFI, ACTIVATION_STATE_TAG, ISSUE_DATE_SFI,
    ISSUE_DATE_TAG, RESTRICTED_DF_FID, STATUS_RESTRICTED,
};
use crate::security::objects;
use crate::storage::Storage;
use crate::sw::Status;

/// SET DATE `80 DA 00 00 04 YYYYMMDD` (packed BCD): today's date, from the terminal, kept in RAM
/// until the next reset. P1-P2 ≠ `0000` `6A86`; not 4 bytes `6700`; not a date `6A80`.
pub(super) fn set_date<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    expect_p1p2(command, 0, 0)?;
    let date: [u8; 4] = command.data.try_into().map_err(|_| Status::WrongLength)?;
    if CardDate::from_bcd(&date).is_none() {
        return Err(Status::IncorrectDataParameters);
    }
    ctx.security.terminal_date = Some(date);
    done()
}

/// The value of record `tag` of the EF with `sfi` in DF `df`, into `out`; `None` when the file
/// or the record is not there.
fn record_value<'o, S: Storage>(
    ctx: &Context<'_, S>,
    df: u8,
    sfi: u8,
    tag: u8,
    out: &'o mut [u8; RECORD_MAX],
) -> Result<Option<&'o [u8]>, Status> {
    let Some(index) = ctx.index.child_by_sfi(df, sfi) else {
        return Ok(None);
    };
    let file = ctx.index.descriptor(ctx.storage, index)?;
    if !file.kind.is_record() {
        return Ok(None);
    }
    let number = match records::find(ctx.storage, &file, tag, Occurrence::First, None) {
        Ok(number) => number,
        Err(Status::RecordNotFound) => return Ok(None),
        Err(sw) => return Err(sw),
    };
    let len = records::read(ctx.storage, &file, number, out)?;
    // A record is `tag len value`.
    Ok(out.get(2..len))
}

/// The medical insurance status byte (`restriction::STATUS_*`). A card without an activation
/// file is not restricted.
fn medical_status<S: Storage>(ctx: &Context<'_, S>) -> Result<u8, Status> {
    let Ok(ssse) = objects::holder_pin_df(ctx.storage) else {
        return Ok(restriction::STATUS_NORMAL);
    };
    let mut buffer = [0u8; RECORD_MAX];
    let activated =
        match record_value(ctx, ssse, ACTIVATION_SFI, ACTIVATION_STATE_TAG, &mut buffer)? {
            None => return Ok(restriction::STATUS_NORMAL),
            Some(value) => value == [ACTIVATED],
        };
    let issue = record_value(ctx, ssse, ISSUE_DATE_SFI, ISSUE_DATE_TAG, &mut buffer)?
        .and_then(CardDate::from_bcd);
    let today = ctx
        .security
        .terminal_date
        .and_then(|d| CardDate::from_bcd(&d));
    Ok(restriction::status(activated, issue, today))
}

/// GET DATA `00 CA DF 41`: one byte, the medical insurance status.
pub(super) fn get_status<S: Storage>(
    ctx: &mut Context<'_, S>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let status = medical_status(ctx)?;
    *out.first_mut().ok_or(Status::WrongLength)? = status;
    Ok(Answer::Long(1, Status::Success))
}

/// A settlement-type operation (`Instruction::settlement`: UPDATE RECORD and APPEND RECORD) in
/// the medical insurance application (once the card is issued) is refused with `9302` while the
/// application is restricted.
pub(super) fn check_settlement<S: Storage>(ctx: &Context<'_, S>) -> Result<(), Status> {
    if ctx.life_cycle == crate::memory_map::LIFE_CYCLE_PERSONALISATION
        || ctx.index.child(MF_INDEX, RESTRICTED_DF_FID) != Some(ctx.selection.df)
    {
        return Ok(());
    }
    if medical_status(ctx)? == STATUS_RESTRICTED {
        return Err(Status::MEDICAL_RESTRICTED);
    }
    Ok(())
}
