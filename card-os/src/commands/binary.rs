//! READ BINARY and UPDATE BINARY.

use super::{atomically, authorise, done, target_ef, Answer, Context};
use crate::access::Operation;
use crate::apdu::Command;
use crate::fs::{integrity, Descriptor, FileKind};
use crate::journal::memory_failure;
use crate::storage::Storage;
use crate::sw::Status;

/// The transparent EF and offset named by P1-P2 (SFI in P1 when its top bit is set).
fn target<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    operation: Operation,
) -> Result<(u8, Descriptor, u32), Status> {
    let (sfi, offset) = if command.p1 & 0x80 != 0 {
        let sfi = command.p1 & 0x1F;
        if command.p1 & 0x60 != 0 || sfi == 0 || sfi > 30 {
            return Err(Status::IncorrectP1P2);
        }
        (sfi, u32::from(command.p2))
    } else {
        (0, u32::from(u16::from_be_bytes([command.p1, command.p2])))
    };
    let (index, file) = target_ef(ctx, sfi)?;
    if file.kind != FileKind::Transparent {
        return Err(Status::IncompatibleFileStructure);
    }
    authorise(ctx, &file, operation)?;
    if offset > u32::from(file.data_size) {
        return Err(Status::WrongParameters);
    }
    Ok((index, file, offset))
}

/// Returns up to Ne bytes from the offset; `6282` when the file ends first.
pub(super) fn read<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let ne = command.ne.ok_or(Status::WrongLength)?;
    let (index, file, offset) = target(ctx, command, Operation::Read)?;
    integrity::verify(ctx.storage, ctx.index, index, &file)?;
    let available = (u32::from(file.data_size) - offset) as usize;
    let n = ne.min(available).min(out.len());
    let dest = out.get_mut(..n).ok_or(Status::NoPreciseDiagnosis)?;
    ctx.storage
        .read(file.extent().at(offset, n as u32)?, dest)
        .map_err(memory_failure)?;
    let sw = if ne > available {
        Status::EndOfFileReached
    } else {
        Status::Success
    };
    Ok(Answer::Data(n, sw))
}

/// Writes the data at the offset; a write past the end is `6A84` and writes nothing.
pub(super) fn update<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    if command.data.is_empty() {
        return Err(Status::WrongLength);
    }
    let (index, file, offset) = target(ctx, command, Operation::Update)?;
    if offset as usize + command.data.len() > usize::from(file.data_size) {
        return Err(Status::NotEnoughMemory);
    }
    atomically(ctx.storage, |tx| {
        integrity::write(tx, index, &file, offset, command.data)
    })?;
    done()
}
