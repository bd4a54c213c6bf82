//! Per-EF integrity: a CRC-32 of each EF's whole content area, kept in its descriptor (bytes
//! 75..80: marker `C5`, then the CRC big-endian), set at CREATE FILE and updated in the same
//! journal transaction as every write to the EF (from the changed bytes alone, so a 30-byte
//! record costs the same in a 1 KiB file as in a 64-byte one), checked at the first read of the EF after
//! power-on (the RAM file index remembers which files passed, so reads stay fast). Memory that changed
//! behind the card's back (worn cells, a write torn outside the journal) answers `6581`.
//! Files created before the marker existed carry none and are reported as unprotected.

use crate::crypto::hash::Crc32;
use crate::journal::{memory_failure, Transaction};
use crate::storage::Storage;
use crate::sw::Status;

use super::descriptor::{descriptor_offset, Descriptor};
use super::index::FileIndex;

/// Where the marker and the CRC live in a descriptor (reserved bytes before this module).
pub const D_INTEGRITY: u32 = 75;
/// The marker byte: the CRC that follows is valid.
pub const INTEGRITY_MARKER: u8 = 0xC5;

/// What GET DATA `DF7F` (`data_tags::INTEGRITY`) reports per EF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integrity {
    /// The content matches its CRC (`00`).
    Intact = 0,
    /// The content does not match its CRC (`01`).
    Damaged = 1,
    /// No CRC kept for this file (`02`).
    Unprotected = 2,
}

/// CRC-32 of the EF's content area (`data_size` bytes from `data_offset`).
fn content_crc<S: Storage>(storage: &S, file: &Descriptor) -> Result<u32, Status> {
    let mut crc = Crc32::new();
    let mut buf = [0u8; 64];
    let extent = file.extent();
    let size = u32::from(file.data_size);
    let mut at = 0u32;
    while at < size {
        let n = (size - at).min(buf.len() as u32);
        let chunk = buf.get_mut(..n as usize).ok_or(Status::MemoryFailure)?;
        storage
            .read(extent.at(at, n)?, chunk)
            .map_err(memory_failure)?;
        crc.update(chunk);
        at += n;
    }
    Ok(crc.finalize())
}

/// The integrity of EF `index` (`file` is its descriptor).
pub fn check<S: Storage>(storage: &S, index: u8, file: &Descriptor) -> Result<Integrity, Status> {
    let mut stored = [0u8; 5];
    storage
        .read(descriptor_offset(index) + D_INTEGRITY, &mut stored)
        .map_err(memory_failure)?;
    let [marker, a, b, c, d] = stored;
    if marker != INTEGRITY_MARKER {
        return Ok(Integrity::Unprotected);
    }
    if content_crc(storage, file)? == u32::from_be_bytes([a, b, c, d]) {
        Ok(Integrity::Intact)
    } else {
        Ok(Integrity::Damaged)
    }
}

/// `6581` when EF `index` is damaged; reads call this first. A file that passed since power-on
/// is not checked again.
pub fn verify<S: Storage>(
    storage: &S,
    files: &mut FileIndex,
    index: u8,
    file: &Descriptor,
) -> Result<(), Status> {
    if files.is_verified(index) {
        return Ok(());
    }
    match check(storage, index, file)? {
        Integrity::Damaged => Err(Status::MemoryFailure),
        Integrity::Intact | Integrity::Unprotected => {
            files.mark_verified(index);
            Ok(())
        }
    }
}

/// Seals a newly created EF whose content area is all zeros, inside the transaction that
/// created it; the CRC of `data_size` zero bytes needs no pass over them.
pub fn seal_blank<S: Storage>(
    tx: &mut Transaction<'_, S>,
    index: u8,
    file: &Descriptor,
) -> Result<(), Status> {
    let crc = Crc32::new().after_zeros(file.data_size);
    let [a, b, c, d] = crc.finalize().to_be_bytes();
    tx.write(
        descriptor_offset(index) + D_INTEGRITY,
        &[INTEGRITY_MARKER, a, b, c, d],
    )
}

/// Writes `data` at `at` in EF `index`'s content area, inside the transaction, and brings its
/// CRC along from the changed bytes alone (see [`Crc32`]): the cost follows the write, not the
/// file. A file that was already damaged stays damaged, so a write never hides a fault. A file
/// without a CRC is written as it is. `6A84` when the range leaves the content area.
pub fn write<S: Storage>(
    tx: &mut Transaction<'_, S>,
    index: u8,
    file: &Descriptor,
    at: u32,
    data: &[u8],
) -> Result<(), Status> {
    let end = at
        .checked_add(data.len() as u32)
        .filter(|&end| end <= u32::from(file.data_size))
        .ok_or(Status::NotEnoughMemory)?;
    let mut stored = [0u8; 5];
    tx.storage()
        .read(descriptor_offset(index) + D_INTEGRITY, &mut stored)
        .map_err(memory_failure)?;
    let [marker, a, b, c, d] = stored;
    if marker == INTEGRITY_MARKER {
        let mut difference = Crc32::of_difference();
        let mut old = [0u8; 64];
        let mut offset = at;
        for new in data.chunks(old.len()) {
            let chunk = old.get_mut(..new.len()).ok_or(Status::MemoryFailure)?;
            let address = file.extent().at(offset, new.len() as u32)?;
            tx.storage().read(address, chunk).map_err(memory_failure)?;
            offset += new.len() as u32;
            chunk.iter_mut().zip(new).for_each(|(o, n)| *o ^= n);
            difference.update(chunk);
        }
        let trailing = u16::try_from(u32::from(file.data_size) - end).unwrap_or(0);
        let change = difference.after_zeros(trailing);
        let crc = u32::from_be_bytes([a, b, c, d]) ^ change.difference();
        tx.write(
            descriptor_offset(index) + D_INTEGRITY + 1,
            &crc.to_be_bytes(),
        )?;
    }
    tx.write(file.extent().at(at, data.len() as u32)?, data)
}
