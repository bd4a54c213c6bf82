//! The card header: reading and changing its fields.

use crate::journal::{memory_failure, Transaction};
use crate::memory_map::*;
use crate::storage::{Storage, StorageError};
use crate::sw::Status;

/// The header fields the card uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardHeader {
    pub life_cycle: u8,
    pub serial_number: [u8; SERIAL_LEN],
    pub historical_len: u8,
    pub historical: [u8; HISTORICAL_MAX],
    /// Next free byte of the data area.
    pub alloc: u32,
}

/// Why a storage does not hold a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    NotFormatted,
    UnsupportedVersion(u8),
    Storage(StorageError),
}

impl CardHeader {
    pub fn read<S: Storage>(storage: &S) -> Result<Self, HeaderError> {
        let mut bytes = [0u8; HEADER_SIZE as usize];
        storage
            .read(HEADER_OFFSET, &mut bytes)
            .map_err(HeaderError::Storage)?;
        let get = |at: u32| bytes.get(at as usize).copied().unwrap_or(0);
        if bytes.get(..4) != Some(&MAGIC[..]) {
            return Err(HeaderError::NotFormatted);
        }
        let version = get(HDR_VERSION);
        if version != FORMAT_VERSION {
            return Err(HeaderError::UnsupportedVersion(version));
        }
        let mut serial_number = [0u8; SERIAL_LEN];
        let mut historical = [0u8; HISTORICAL_MAX];
        let mut alloc = [0u8; 4];
        for (i, b) in serial_number.iter_mut().enumerate() {
            *b = get(HDR_SERIAL + i as u32);
        }
        for (i, b) in historical.iter_mut().enumerate() {
            *b = get(HDR_HISTORICAL + i as u32);
        }
        for (i, b) in alloc.iter_mut().enumerate() {
            *b = get(HDR_ALLOC + i as u32);
        }
        Ok(CardHeader {
            life_cycle: get(HDR_LIFE_CYCLE),
            serial_number,
            historical_len: get(HDR_HISTORICAL_LEN).min(HISTORICAL_MAX as u8),
            historical,
            alloc: u32::from_be_bytes(alloc),
        })
    }

    /// The ATR historical bytes.
    pub fn historical(&self) -> &[u8] {
        self.historical
            .get(..usize::from(self.historical_len))
            .unwrap_or(&[])
    }
}

/// Reads just the card life cycle byte.
pub fn life_cycle<S: Storage>(storage: &S) -> Result<u8, Status> {
    let mut byte = [0u8];
    storage
        .read(HEADER_OFFSET + HDR_LIFE_CYCLE, &mut byte)
        .map_err(memory_failure)?;
    let [value] = byte;
    Ok(value)
}

/// Changes the card life cycle (e.g. ISSUE CARD) inside a transaction.
pub fn set_life_cycle<S: Storage>(tx: &mut Transaction<'_, S>, value: u8) -> Result<(), Status> {
    tx.write(HEADER_OFFSET + HDR_LIFE_CYCLE, &[value])
}

/// Reads the allocation pointer.
pub fn alloc_pointer<S: Storage>(storage: &S) -> Result<u32, Status> {
    let mut bytes = [0u8; 4];
    storage
        .read(HEADER_OFFSET + HDR_ALLOC, &mut bytes)
        .map_err(memory_failure)?;
    Ok(u32::from_be_bytes(bytes))
}

/// Moves the allocation pointer inside a transaction.
pub fn set_alloc_pointer<S: Storage>(
    tx: &mut Transaction<'_, S>,
    value: u32,
) -> Result<(), Status> {
    tx.write(HEADER_OFFSET + HDR_ALLOC, &value.to_be_bytes())
}
