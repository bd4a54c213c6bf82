//! GET DATA: card serial number, card life cycle, memory, integrity of the current DF's EFs.

use super::{Answer, Context};
use crate::apdu::Command;
use crate::data_tags;
use crate::fs::header::{alloc_pointer, CardHeader};
use crate::fs::integrity;
use crate::memory_map::DATA_OFFSET;
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
        data_tags::SERIAL_NUMBER => writer.extend(&header.serial_number)?,
        data_tags::CARD_LIFE_CYCLE => writer.push(header.life_cycle)?,
        data_tags::MEMORY => {
            let capacity = ctx.storage.capacity();
            let free = capacity.saturating_sub(alloc_pointer(ctx.storage)?);
            writer.extend(&free.to_be_bytes())?;
            writer.extend(&capacity.saturating_sub(DATA_OFFSET).to_be_bytes())?;
        }
        data_tags::INTEGRITY => {
            // FID (2) and status (00 intact, 01 damaged, 02 unprotected) per EF of the current DF.
            let df = ctx.selection.df;
            for (index, entry) in ctx.index.iter() {
                if entry.parent != df || entry.is_df() {
                    continue;
                }
                let file = ctx.index.descriptor(ctx.storage, index)?;
                let status = integrity::check(ctx.storage, index, &file)?;
                writer.extend(&file.fid.to_be_bytes())?;
                writer.push(status as u8)?;
            }
        }
        _ => return Err(Status::ReferencedDataNotFound),
    }
    Ok(Answer::Long(writer.len(), Status::Success))
}
