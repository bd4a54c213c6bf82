//! GET DATA: card serial number, card life cycle, memory.

use super::{Answer, Context};
use crate::apdu::Command;
use crate::fs::header::{alloc_pointer, CardHeader};
use crate::layout::DATA_OFFSET;
use crate::response::Writer;
use crate::storage::Storage;
use crate::sw::Status;

pub(super) fn get_data<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let header = CardHeader::read(ctx.storage).map_err(|_| Status::MemoryFailure)?;
    let mut writer = Writer::new(out);
    match u16::from_be_bytes([command.p1, command.p2]) {
        0x005A => writer.extend(&header.serial_number)?,
        0x9F70 => writer.push(header.life_cycle)?,
        0x0066 => {
            let capacity = ctx.storage.capacity();
            let free = capacity.saturating_sub(alloc_pointer(ctx.storage)?);
            writer.extend(&free.to_be_bytes())?;
            writer.extend(&capacity.saturating_sub(DATA_OFFSET).to_be_bytes())?;
        }
        _ => return Err(Status::ReferencedDataNotFound),
    }
    Ok(Answer::Long(writer.len(), Status::Success))
}
