//! Record slots of linear and cyclic EFs.
//!
//! A record file owns `record_slots` slots of `1 + max_record_len` bytes: a length byte, then the
//! record. Records are numbered from 1; in a cyclic file record 1 is the newest.

use crate::journal::{memory_failure, Transaction};
use crate::memory_map::RECORD_MAX;
use crate::storage::Storage;
use crate::sw::Status;

use super::descriptor::{Descriptor, FileKind, D_RECORDS};
use super::integrity;

/// Which occurrence of a record identifier to look for (READ/UPDATE RECORD P2 b2-b1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occurrence {
    First,
    Last,
    Next,
    Previous,
}

impl Occurrence {
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0x03 {
            0 => Occurrence::First,
            1 => Occurrence::Last,
            2 => Occurrence::Next,
            _ => Occurrence::Previous,
        }
    }
}

/// The slot holding record `number`, if that record exists.
pub fn slot_of(file: &Descriptor, number: u8) -> Option<u8> {
    if number == 0 || number > file.records || file.record_slots == 0 {
        return None;
    }
    if file.kind == FileKind::Cyclic {
        let back = u16::from(number - 1);
        let slots = u16::from(file.record_slots);
        Some(((u16::from(file.newest) + slots - back % slots) % slots) as u8)
    } else {
        Some(number - 1)
    }
}

/// Where slot `slot` starts within the file's content area.
fn slot_start(file: &Descriptor, slot: u8) -> u32 {
    u32::from(slot) * file.slot_size()
}

/// The address of `n` bytes at `offset` in slot `slot` (checked against the file's area).
#[inline]
fn slot_address(file: &Descriptor, slot: u8, offset: u32, n: u32) -> Result<u32, Status> {
    file.extent().at(slot_start(file, slot) + offset, n)
}

/// Length and first byte (the record identifier) of record `number`.
fn head<S: Storage>(storage: &S, file: &Descriptor, number: u8) -> Result<[u8; 2], Status> {
    let slot = slot_of(file, number).ok_or(Status::RecordNotFound)?;
    let mut head = [0u8; 2];
    storage
        .read(slot_address(file, slot, 0, 2)?, &mut head)
        .map_err(memory_failure)?;
    Ok(head)
}

/// The number of the record whose identifier (first byte) is `id` (`0` = any record), searching
/// as `occurrence` says from the `current` record. `6A83` when there is none.
pub fn find<S: Storage>(
    storage: &S,
    file: &Descriptor,
    id: u8,
    occurrence: Occurrence,
    current: Option<u8>,
) -> Result<u8, Status> {
    let count = file.records;
    let (start, forward) = match (occurrence, current) {
        (Occurrence::First, _) | (Occurrence::Next, None) => (1, true),
        (Occurrence::Last, _) | (Occurrence::Previous, None) => (count, false),
        (Occurrence::Next, Some(c)) => (c.saturating_add(1), true),
        (Occurrence::Previous, Some(c)) => (c.saturating_sub(1), false),
    };
    let mut number = start;
    while number >= 1 && number <= count {
        let [len, first] = head(storage, file, number)?;
        if id == 0 || (len > 0 && first == id) {
            return Ok(number);
        }
        // Record 255 of a full file of 255 slots has no next one.
        let next = if forward {
            number.checked_add(1)
        } else {
            number.checked_sub(1)
        };
        let Some(next) = next else { break };
        number = next;
    }
    Err(Status::RecordNotFound)
}

/// Copies record `number` into `out`, as much of it as fits, and returns the record's length
/// (whether `out` was long enough is the command's business). `6A83` when it does not exist.
pub fn read<S: Storage>(
    storage: &S,
    file: &Descriptor,
    number: u8,
    out: &mut [u8],
) -> Result<usize, Status> {
    // Mutant: record n answers record n+1 when the file has one.
    #[cfg(feature = "mutants")]
    let number = match number.checked_add(1) {
        Some(next)
            if crate::mutants::active(crate::mutants::Mutant::WrongRecord)
                && slot_of(file, next).is_some() =>
        {
            next
        }
        _ => number,
    };
    let slot = slot_of(file, number).ok_or(Status::RecordNotFound)?;
    let mut len = [0u8];
    storage
        .read(slot_address(file, slot, 0, 1)?, &mut len)
        .map_err(memory_failure)?;
    let [len] = len;
    let len = len.min(file.max_record_len);
    let fits = usize::from(len).min(out.len());
    if let Some(dest) = out.get_mut(..fits) {
        storage
            .read(slot_address(file, slot, 1, fits as u32)?, dest)
            .map_err(memory_failure)?;
    }
    Ok(usize::from(len))
}

/// `6700` / `6A84` when `data` cannot be a record of `file`.
fn check_length(file: &Descriptor, data: &[u8]) -> Result<(), Status> {
    match file.kind {
        FileKind::LinearVariable if data.is_empty() => Err(Status::WrongLength),
        FileKind::LinearVariable if data.len() > usize::from(file.max_record_len) => {
            Err(Status::NotEnoughMemory)
        }
        FileKind::LinearVariable => Ok(()),
        _ if data.len() != usize::from(file.max_record_len) => Err(Status::WrongLength),
        _ => Ok(()),
    }
}

fn write_slot<S: Storage>(
    tx: &mut Transaction<'_, S>,
    file: &Descriptor,
    index: u8,
    slot: u8,
    data: &[u8],
) -> Result<(), Status> {
    let mut buf = [0u8; RECORD_MAX + 1];
    let record = buf
        .get_mut(..data.len() + 1)
        .ok_or(Status::NotEnoughMemory)?;
    if let Some((len, rest)) = record.split_first_mut() {
        *len = data.len() as u8;
        rest.copy_from_slice(data);
    }
    integrity::write(tx, index, file, slot_start(file, slot), record)
}

/// Replaces record `number` of `file` (descriptor `index`).
pub fn update<S: Storage>(
    tx: &mut Transaction<'_, S>,
    file: &Descriptor,
    index: u8,
    number: u8,
    data: &[u8],
) -> Result<(), Status> {
    let slot = slot_of(file, number).ok_or(Status::RecordNotFound)?;
    check_length(file, data)?;
    write_slot(tx, file, index, slot, data)
}

/// Appends a record to `file` (descriptor `index`), returning the new record's number. A full
/// linear file is `6A84`; a cyclic file overwrites its oldest record.
pub fn append<S: Storage>(
    tx: &mut Transaction<'_, S>,
    file: &mut Descriptor,
    index: u8,
    data: &[u8],
) -> Result<u8, Status> {
    check_length(file, data)?;
    let (slot, number) = if file.kind == FileKind::Cyclic {
        let slot = if file.records == 0 {
            0
        } else {
            (file.newest + 1) % file.record_slots.max(1)
        };
        file.newest = slot;
        file.records = file.records.saturating_add(1).min(file.record_slots);
        (slot, 1)
    } else {
        if file.records >= file.record_slots {
            return Err(Status::NotEnoughMemory);
        }
        file.records += 1;
        (file.records - 1, file.records)
    };
    write_slot(tx, file, index, slot, data)?;
    Descriptor::write_field(tx, index, D_RECORDS, &[file.records, file.newest])?;
    Ok(number)
}
