//! SELECT: by FID, child DF, child EF, parent, DF name, path; answering FCI, FCP or nothing.

use super::{Answer, Context};
use crate::apdu::Command;
use crate::fs::descriptor::{descriptor_offset, D_NAME};
use crate::fs::fcp::{self, FCI_TAG, FCP_TAG};
use crate::fs::{
    FileIndex, FileKind, LCS_DEACTIVATED, LCS_TERMINATED, MF_FID, MF_INDEX, NO_PARENT,
};
use crate::journal::memory_failure;
use crate::memory_map::{
    APPLICATION_BLOCKED_PERMANENTLY, APPLICATION_BLOCKED_TEMPORARILY, DF_NAME_MAX,
};
use crate::response::Writer;
use crate::security::objects;
use crate::storage::Storage;
use crate::sw::Status;

pub(super) fn select<S: Storage>(
    ctx: &mut Context<'_, S>,
    command: &Command<'_>,
    out: &mut [u8],
) -> Result<Answer, Status> {
    let p2 = command.p2;
    let occurrence = p2 & 0x03;
    if p2 & 0xF0 != 0 || (occurrence != 0 && !(command.p1 == 0x04 && occurrence == 0x02)) {
        return Err(Status::IncorrectP1P2);
    }
    let current = ctx.selection.df;
    let index: &FileIndex = ctx.index;
    let target = match (command.p1, command.data) {
        (0x00, [] | [0x3F, 0x00]) => MF_INDEX,
        (0x00, [hi, lo]) => by_fid(index, current, u16::from_be_bytes([*hi, *lo]))?,
        (0x01, [hi, lo]) => index
            .child(current, u16::from_be_bytes([*hi, *lo]))
            .filter(|i| is_df(index, *i))
            .ok_or(Status::FileNotFound)?,
        (0x02, [hi, lo]) => index
            .child(current, u16::from_be_bytes([*hi, *lo]))
            .filter(|i| !is_df(index, *i))
            .ok_or(Status::FileNotFound)?,
        (0x03, []) => match index.get(current).map(|e| e.parent) {
            Some(parent) if parent != NO_PARENT => parent,
            _ => return Err(Status::FileNotFound),
        },
        (0x04, name) if !name.is_empty() => {
            let after = if occurrence == 0x02 {
                Some(current)
            } else {
                None
            };
            by_name(ctx.storage, index, name, after)?
        }
        (0x08, [0x3F, 0x00, rest @ ..]) if !rest.is_empty() => by_path(index, MF_INDEX, rest)?,
        (0x08, path) => by_path(index, MF_INDEX, path)?,
        (0x09, path) => by_path(index, current, path)?,
        (0x00..=0x04, _) => return Err(Status::WrongLength),
        _ => return Err(Status::IncorrectP1P2),
    };
    let file = ctx.index.descriptor(ctx.storage, target)?;
    if file.kind == FileKind::Df {
        ctx.selection.df = target;
        ctx.selection.ef = None;
    } else {
        ctx.selection.df = file.parent;
        ctx.selection.ef = Some(target);
    }
    ctx.selection.record = None;
    let sw = match file.life_cycle {
        LCS_DEACTIVATED => Status::SelectedFileDeactivated,
        LCS_TERMINATED => Status::SelectedFileTerminated,
        _ => match objects::application_state(ctx.storage, ctx.index, ctx.selection.df)? {
            APPLICATION_BLOCKED_TEMPORARILY => Status::SelectedFileDeactivated,
            APPLICATION_BLOCKED_PERMANENTLY => Status::APPLICATION_PERMANENTLY_BLOCKED,
            _ => Status::Success,
        },
    };
    let tag = match p2 & 0x0C {
        0x0C => return Ok(Answer::Data(0, sw)),
        0x04 => FCP_TAG,
        _ => FCI_TAG,
    };
    let mut writer = Writer::new(out);
    fcp::write(&file, tag, &mut writer)?;
    Ok(Answer::Long(writer.len(), sw))
}

fn is_df(index: &FileIndex, i: u8) -> bool {
    index.get(i).is_some_and(|e| e.is_df())
}

/// ISO search order: children of the current DF, the current DF, its parent, the parent's
/// children, then the MF's children.
fn by_fid(index: &FileIndex, current: u8, fid: u16) -> Result<u8, Status> {
    if fid == MF_FID {
        return Ok(MF_INDEX);
    }
    if let Some(found) = index.child(current, fid) {
        return Ok(found);
    }
    let own = index.get(current).ok_or(Status::FileNotFound)?;
    if own.fid == fid {
        return Ok(current);
    }
    if own.parent != NO_PARENT {
        if index.get(own.parent).is_some_and(|p| p.fid == fid) {
            return Ok(own.parent);
        }
        if let Some(found) = index.child(own.parent, fid) {
            return Ok(found);
        }
    }
    index.child(MF_INDEX, fid).ok_or(Status::FileNotFound)
}

/// The first DF (in table order, after `after` for "next occurrence") whose name starts with
/// `name`; an exact name is the longest prefix.
fn by_name<S: Storage>(
    storage: &S,
    index: &FileIndex,
    name: &[u8],
    after: Option<u8>,
) -> Result<u8, Status> {
    if name.len() > DF_NAME_MAX {
        return Err(Status::FileNotFound);
    }
    let mut stored = [0u8; DF_NAME_MAX];
    for (i, entry) in index.iter() {
        if !entry.is_df()
            || usize::from(entry.name_len) < name.len()
            || after.is_some_and(|a| i <= a)
        {
            continue;
        }
        let stored = stored.get_mut(..name.len()).ok_or(Status::FileNotFound)?;
        storage
            .read(descriptor_offset(i) + D_NAME, stored)
            .map_err(memory_failure)?;
        if stored == name {
            return Ok(i);
        }
    }
    Err(Status::FileNotFound)
}

/// Follows a path of FIDs from `start`: every element but the last must be a DF.
fn by_path(index: &FileIndex, start: u8, path: &[u8]) -> Result<u8, Status> {
    if path.is_empty() || !path.len().is_multiple_of(2) {
        return Err(Status::WrongLength);
    }
    let mut at = start;
    for fid in path.chunks_exact(2) {
        if !is_df(index, at) {
            return Err(Status::FileNotFound);
        }
        let fid = u16::from_be_bytes([
            fid.first().copied().unwrap_or(0),
            fid.get(1).copied().unwrap_or(0),
        ]);
        at = index.child(at, fid).ok_or(Status::FileNotFound)?;
    }
    Ok(at)
}
