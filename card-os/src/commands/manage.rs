//! Personalisation and life-cycle commands: CREATE FILE, DELETE FILE, ACTIVATE / DEACTIVATE FILE,
//! TERMINATE EF / DF.

use super::{atomically, done, expect_p1p2, permitted, personalisation_only, Answer, Context};
use crate::access::Operation;
use crate::apdu::Command;
use crate::fs::descriptor::{
    descriptor_offset, Descriptor, D_DATA_SIZE, D_KIND, D_LIFE_CYCLE, D_NAME,
};
use crate::fs::header::{alloc_pointer, set_alloc_pointer};
use crate::fs::{
    fcp, integrity, FileKind, LCS_ACTIVATED, LCS_DEACTIVATED, LCS_TERMINATED, MF_INDEX,
};
use crate::journal::memory_failure;
use crate::memory_map::{DATA_OFFSET, DF_NAME_MAX, DF_SECURITY_SIZE};
use crate::storage::Storage;
use crate::sw::Status;

/// CREATE FILE under the current DF; the new file becomes current.
pub(super) fn create<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    expect_p1p2(command, 0, 0)?;
    personalisation_only(ctx)?;
    let parent_index = ctx.selection.df;
    let parent = ctx.index.descriptor(ctx.storage, parent_index)?;
    if matches!(parent.life_cycle, LCS_DEACTIVATED | LCS_TERMINATED) {
        return Err(Status::ConditionsOfUseNotSatisfied);
    }
    permitted(ctx, &parent.access, Operation::Admin)?;
    let mut file = fcp::parse_create(command.data, parent_index)?;
    if file.fid == parent.fid || ctx.index.child(parent_index, file.fid).is_some() {
        return Err(Status::FileAlreadyExists);
    }
    if file.sfi != 0 && ctx.index.child_by_sfi(parent_index, file.sfi).is_some() {
        return Err(Status::FileAlreadyExists);
    }
    if file.name_len > 0 && name_taken(ctx, file.name())? {
        return Err(Status::DfNameAlreadyExists);
    }
    let slot = ctx.index.free_slot().ok_or(Status::NotEnoughMemory)?;
    let size = if file.kind == FileKind::Df {
        DF_SECURITY_SIZE
    } else {
        u32::from(file.data_size)
    };
    if file.kind == FileKind::Df {
        file.data_size = DF_SECURITY_SIZE as u16;
    }
    // The stored allocation pointer is trusted only when every file lies below it and it lies
    // in the memory.
    let start = alloc_pointer(ctx.storage)?;
    if start < ctx.index.data_end() || start > ctx.storage.capacity() {
        return Err(Status::MemoryFailure);
    }
    let end = start.checked_add(size).ok_or(Status::NotEnoughMemory)?;
    if end > ctx.storage.capacity() {
        return Err(Status::NotEnoughMemory);
    }
    file.data_offset = start;
    let result = atomically(ctx.storage, |tx| {
        // Beyond the allocation pointer nothing is owned yet: no need to journal the zeroing.
        let zeros = [0u8; 64];
        let mut at = start;
        while at < end {
            let n = (end - at).min(zeros.len() as u32) as usize;
            tx.write_fresh(at, zeros.get(..n).unwrap_or(&[]))?;
            at += n as u32;
        }
        tx.write(descriptor_offset(slot), &file.encode())?;
        if file.kind != FileKind::Df {
            integrity::seal_blank(tx, slot, &file)?;
        }
        set_alloc_pointer(tx, end)
    });
    ctx.index
        .refresh(ctx.storage, slot)
        .map_err(memory_failure)?;
    result?;
    if file.kind == FileKind::Df {
        ctx.selection.df = slot;
        ctx.selection.ef = None;
    } else {
        ctx.selection.ef = Some(slot);
    }
    ctx.selection.record = None;
    done()
}

fn name_taken<S: Storage>(ctx: &Context<'_, S>, name: &[u8]) -> Result<bool, Status> {
    let mut stored = [0u8; DF_NAME_MAX];
    for (i, entry) in ctx.index.iter() {
        if entry.is_df() && usize::from(entry.name_len) == name.len() {
            let stored = stored
                .get_mut(..name.len())
                .ok_or(Status::NoPreciseDiagnosis)?;
            ctx.storage
                .read(descriptor_offset(i) + D_NAME, stored)
                .map_err(memory_failure)?;
            if stored == name {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The file a management command names: a FID child of the current DF in the data, or (empty
/// data) the current EF, else the current DF.
fn target<S: Storage>(ctx: &Context<'_, S>, command: &Command<'_>) -> Result<u8, Status> {
    expect_p1p2(command, 0, 0)?;
    match command.data {
        [] => Ok(ctx.selection.ef.unwrap_or(ctx.selection.df)),
        [hi, lo] => ctx
            .index
            .child(ctx.selection.df, u16::from_be_bytes([*hi, *lo]))
            .ok_or(Status::FileNotFound),
        _ => Err(Status::WrongLength),
    }
}

/// DELETE FILE: the file (a DF with everything below it); space at the end of the data area is
/// given back.
pub(super) fn delete<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
) -> Result<Answer, Status> {
    let target = target(ctx, command)?;
    personalisation_only(ctx)?;
    if target == MF_INDEX {
        return Err(Status::ConditionsOfUseNotSatisfied);
    }
    let file = ctx.index.descriptor(ctx.storage, target)?;
    permitted(ctx, &file.access, Operation::Admin)?;
    let index = &*ctx.index;
    let mut end = DATA_OFFSET;
    let mut highest = None;
    for (i, _) in index.iter() {
        if !index.is_within(i, target) {
            // A damaged file's end is unknown: the allocation pointer then stays where it is.
            let kept = index.descriptor(ctx.storage, i).ok();
            let kept_end = kept.and_then(|kept| kept.extent().end());
            if kept_end.unwrap_or(u32::MAX) >= end {
                end = kept_end.unwrap_or(u32::MAX);
                highest = kept.map(|kept| (i, kept));
            }
        }
    }
    // The highest remaining file decides how far the pointer comes down: a size that shrank
    // behind the card's back would give away the rest of the file, and its CRC tells.
    if let Some((i, kept)) = highest {
        if integrity::check(ctx.storage, i, &kept)? == integrity::Integrity::Damaged {
            end = u32::MAX;
        }
    }
    let old_end = alloc_pointer(ctx.storage)?;
    let result = atomically(ctx.storage, |tx| {
        for (i, _) in index.iter() {
            if index.is_within(i, target) {
                // Size 0 too: a free descriptor with a size is a file whose kind byte was lost.
                Descriptor::write_field(tx, i, D_KIND, &[0])?;
                Descriptor::write_field(tx, i, D_DATA_SIZE, &[0, 0])?;
            }
        }
        if end < old_end {
            set_alloc_pointer(tx, end)?;
        }
        Ok(())
    });
    let selection = *ctx.selection;
    let df_gone = index.is_within(selection.df, target);
    let ef_gone = selection.ef.is_some_and(|ef| index.is_within(ef, target));
    ctx.index.rebuild(ctx.storage).map_err(memory_failure)?;
    result?;
    if df_gone {
        ctx.selection.df = file.parent;
    }
    if df_gone || ef_gone {
        ctx.selection.ef = None;
        ctx.selection.record = None;
    }
    done()
}

/// A life-cycle change of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change {
    Activate,
    Deactivate,
    TerminateEf,
    TerminateDf,
}

/// ACTIVATE / DEACTIVATE FILE and TERMINATE EF / DF. A terminated file stays terminated (`6985`).
pub(super) fn set_life_cycle<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    change: Change,
) -> Result<Answer, Status> {
    let target = match (change, command.data) {
        (Change::TerminateEf, []) if (command.p1, command.p2) == (0, 0) => {
            ctx.selection.ef.ok_or(Status::NoCurrentEf)?
        }
        (Change::TerminateDf, []) if (command.p1, command.p2) == (0, 0) => ctx.selection.df,
        _ => target(ctx, command)?,
    };
    let file = ctx.index.descriptor(ctx.storage, target)?;
    let wanted_df = match change {
        Change::TerminateEf => Some(false),
        Change::TerminateDf => Some(true),
        _ => None,
    };
    if wanted_df.is_some_and(|df| df != (file.kind == FileKind::Df)) {
        return Err(Status::IncompatibleFileStructure);
    }
    if file.life_cycle == LCS_TERMINATED {
        return Err(Status::ConditionsOfUseNotSatisfied);
    }
    permitted(ctx, &file.access, Operation::Admin)?;
    let value = match change {
        Change::Activate => LCS_ACTIVATED,
        Change::Deactivate => LCS_DEACTIVATED,
        Change::TerminateEf | Change::TerminateDf => LCS_TERMINATED,
    };
    atomically(ctx.storage, |tx| {
        Descriptor::write_field(tx, target, D_LIFE_CYCLE, &[value])
    })?;
    done()
}
