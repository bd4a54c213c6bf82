//! READ RECORD, UPDATE RECORD, APPEND RECORD (by number or by record identifier = tag).

use super::{atomically, authorise, done, target_ef, Answer, Context};
use crate::access::Operation;
use crate::apdu::Command;
use crate::fs::records::{self, Occurrence};
use crate::fs::{integrity, Descriptor};
use crate::storage::Storage;
use crate::sw::Status;

/// The record EF named by P2's SFI bits (0 = current EF).
fn target<S: Storage>(
    ctx: &mut Context<'_, S>,
    p2: u8,
    operation: Operation,
) -> Result<(u8, Descriptor), Status> {
    let sfi = p2 >> 3;
    if sfi == 31 {
        return Err(Status::IncorrectP1P2);
    }
    let (index, file) = target_ef(ctx, sfi)?;
    if !file.kind.is_record() {
        return Err(Status::IncompatibleFileStructure);
    }
    authorise(ctx, &file, operation)?;
    Ok((index, file))
}

/// The record number P1/P2 address: mode `04` record P1 (0 = current), `00`-`03` an occurrence of
/// identifier P1.
fn locate<S: Storage>(
    ctx: &Context<'_, S>,
    file: &Descriptor,
    p1: u8,
    p2: u8,
) -> Result<u8, Status> {
    match p2 & 0x07 {
        0x04 if p1 == 0 => ctx.selection.record.ok_or(Status::RecordNotFound),
        0x04 => records::slot_of(file, p1)
            .map(|_| p1)
            .ok_or(Status::RecordNotFound),
        mode @ 0x00..=0x03 => records::find(
            ctx.storage,
            file,
            p1,
            Occurrence::from_bits(mode),
            ctx.selection.record,
        ),
        _ => Err(Status::IncorrectP1P2),
    }
}

/// The whole record; `6Cxx` when Ne is shorter.
pub(super) fn read<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let (index, file) = target(ctx, command.p2, Operation::Read)?;
    integrity::verify(ctx.storage, ctx.index, index, &file)?;
    let number = locate(ctx, &file, command.p1, command.p2)?;
    let limit = command.ne.unwrap_or(0).min(out.len());
    let len = records::read(
        ctx.storage,
        &file,
        number,
        out.get_mut(..limit).unwrap_or(&mut []),
    )?;
    if len > limit {
        // `6Cxx`: Ne is shorter than the record; xx = the record's length.
        return Err(Status::WrongLe(len as u8));
    }
    ctx.selection.record = Some(number);
    Ok(Answer::Data(len, Status::Success))
}

pub(super) fn update<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    let (index, file) = target(ctx, command.p2, Operation::Update)?;
    let number = locate(ctx, &file, command.p1, command.p2)?;
    atomically(ctx.storage, |tx| {
        records::update(tx, &file, index, number, command.data)
    })?;
    ctx.selection.record = Some(number);
    done()
}

pub(super) fn append<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    if command.p1 != 0 || command.p2 & 0x07 != 0 {
        return Err(Status::IncorrectP1P2);
    }
    let (index, mut file) = target(ctx, command.p2, Operation::Append)?;
    let number = atomically(ctx.storage, |tx| {
        records::append(tx, &mut file, index, command.data)
    })?;
    ctx.selection.record = Some(number);
    done()
}
