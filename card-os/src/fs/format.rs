//! Writing a blank card: header, idle journal, empty file table with the MF, life cycle
//! "personalisation".

use crate::journal;
use crate::memory_map::*;
use crate::storage::{Storage, StorageError};

use super::descriptor::{descriptor_offset, Descriptor, FileKind};
use super::{MF_FID, MF_INDEX, NO_PARENT};

/// What a blank card is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatParams {
    /// Card serial number (GET DATA `005A`).
    pub serial_number: [u8; SERIAL_LEN],
    /// ATR historical bytes (SSC style: `00 81 54 4C <gen> 86 84 <region(2)> <4 card bytes>`).
    pub historical_bytes: [u8; 13],
    /// Access conditions of the MF (read, update, append, admin), `00`s = free.
    pub mf_access: [u8; 8],
}

impl FormatParams {
    /// SSC-style parameters: historical bytes `00 81 54 4C <generation> 86 84 <region> <card_bytes>`.
    pub fn ssc(
        serial_number: [u8; SERIAL_LEN],
        generation: u8,
        region: [u8; 2],
        card_bytes: [u8; 4],
    ) -> Self {
        let [r1, r2] = region;
        let [c1, c2, c3, c4] = card_bytes;
        FormatParams {
            serial_number,
            historical_bytes: [
                0x00, 0x81, 0x54, 0x4C, generation, 0x86, 0x84, r1, r2, c1, c2, c3, c4,
            ],
            mf_access: [0; 8],
        }
    }
}

/// Why a card could not be formatted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The storage is smaller than the fixed regions plus the MF's security area.
    TooSmall {
        needed: u32,
        capacity: u32,
    },
    Storage(StorageError),
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FormatError::TooSmall { needed, capacity } => {
                write!(
                    f,
                    "storage of {capacity} bytes is too small for a card (at least {needed})"
                )
            }
            FormatError::Storage(e) => write!(f, "formatting failed: {e}"),
        }
    }
}

/// Writes a blank card into `storage`. The magic is written last, so a cut leaves "not formatted".
pub fn format<S: Storage>(storage: &mut S, params: &FormatParams) -> Result<(), FormatError> {
    let needed = DATA_OFFSET + DF_SECURITY_SIZE;
    let capacity = storage.capacity();
    if capacity < needed {
        return Err(FormatError::TooSmall { needed, capacity });
    }
    let io = FormatError::Storage;
    storage
        .write(HEADER_OFFSET + HDR_MAGIC, &[0; 4])
        .map_err(io)?;
    journal::write_idle(storage).map_err(io)?;
    let blank = [0u8; DESCRIPTOR_SIZE as usize];
    for index in 0..MAX_FILES {
        storage
            .write(descriptor_offset(index as u8), &blank)
            .map_err(io)?;
    }
    let mut mf = Descriptor::new(FileKind::Df, MF_FID, NO_PARENT);
    mf.access = params.mf_access;
    mf.data_offset = DATA_OFFSET;
    mf.data_size = DF_SECURITY_SIZE as u16;
    storage
        .write(descriptor_offset(MF_INDEX), &mf.encode())
        .map_err(io)?;
    let zeros = [0u8; 32];
    let mut at = DATA_OFFSET;
    while at < needed {
        storage.write(at, &zeros).map_err(io)?;
        at += zeros.len() as u32;
    }

    let mut header = [0u8; HEADER_SIZE as usize];
    let mut put = |offset: u32, value: &[u8]| {
        if let Some(dest) = header.get_mut(offset as usize..offset as usize + value.len()) {
            dest.copy_from_slice(value);
        }
    };
    put(HDR_VERSION, &[FORMAT_VERSION, LIFE_CYCLE_PERSONALISATION]);
    put(HDR_SERIAL, &params.serial_number);
    put(HDR_HISTORICAL_LEN, &[params.historical_bytes.len() as u8]);
    put(HDR_HISTORICAL, &params.historical_bytes);
    put(HDR_ALLOC, &needed.to_be_bytes());
    put(
        HDR_SEED,
        &crate::security::random::initial_seed(&params.serial_number, &params.historical_bytes),
    );
    let body = header.get(4..).unwrap_or(&[]);
    storage.write(HEADER_OFFSET + 4, body).map_err(io)?;
    storage.write(HEADER_OFFSET + HDR_MAGIC, &MAGIC).map_err(io)
}
