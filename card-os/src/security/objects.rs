//! Key objects and the PIN object in a DF's security area (layout in docs/card-os.md and
//! `crate::memory_map`), read into RAM types whose secrets print redacted and zeroize on drop.

use zeroize::Zeroize;

use crate::crypto::{Algorithm, Pin, SecretKey, KEY_LEN, PIN_MAX_BCD_LEN};
use crate::fs::header::CardHeader;
use crate::fs::{FileIndex, FileKind};
use crate::journal::{memory_failure, Transaction};
use crate::memory_map::*;
use crate::storage::Storage;
use crate::sw::Status;

/// What a key may be used for (the usage byte of WRITE KEY).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    ExternalAuth = 0x01,
    InternalAuth = 0x02,
    PinUnblock = 0x03,
    PinReload = 0x04,
    /// Line protection: secure messaging, APPLICATION BLOCK / UNBLOCK, CARD BLOCK.
    Mac = 0x05,
    /// The medical purse's load key DLK (CREDIT FOR LOAD).
    PurseLoad = 0x06,
    /// The medical purse's purchase key DPK (DEBIT FOR PURCHASE).
    PursePurchase = 0x07,
    /// The medical purse's TAC key DTK.
    PurseTac = 0x08,
}

impl Usage {
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0x01 => Usage::ExternalAuth,
            0x02 => Usage::InternalAuth,
            0x03 => Usage::PinUnblock,
            0x04 => Usage::PinReload,
            0x05 => Usage::Mac,
            0x06 => Usage::PurseLoad,
            0x07 => Usage::PursePurchase,
            0x08 => Usage::PurseTac,
            _ => return None,
        })
    }
}

/// The start of DF `df`'s security area; `6581` if `df` is not a sound DF. A sound DF's area has
/// exactly `DF_SECURITY_SIZE` bytes inside the data area (checked when its descriptor is read),
/// so the fixed field offsets below added to it stay inside it.
#[inline(never)]
pub fn security_area<S: Storage>(storage: &S, files: &FileIndex, df: u8) -> Result<u32, Status> {
    let file = files.descriptor(storage, df)?;
    if file.kind != FileKind::Df {
        return Err(Status::MemoryFailure);
    }
    Ok(file.data_offset)
}

/// One key object as stored.
#[derive(Debug)]
pub struct KeyObject {
    pub id: u8,
    pub usage: Usage,
    pub limit: u8,
    pub tries: u8,
    pub key: SecretKey,
    /// Where its tries-left byte is.
    pub tries_at: u32,
}

fn slot_offset(area: u32, slot: u32) -> u32 {
    area + slot * KEY_SLOT_SIZE
}

/// The slot holding key `id` in the area, or else the first empty slot (`None`: neither).
pub fn slot_for<S: Storage>(storage: &S, area: u32, id: u8) -> Result<Option<u32>, Status> {
    let mut empty = None;
    for slot in 0..KEY_SLOTS {
        let mut stored = [0u8];
        storage
            .read(slot_offset(area, slot) + KEY_ID, &mut stored)
            .map_err(memory_failure)?;
        match stored {
            [found] if found == id => return Ok(Some(slot)),
            [0] if empty.is_none() => empty = Some(slot),
            _ => {}
        }
    }
    Ok(empty)
}

/// The key of DF `df` with this id (`00`: the first key of that usage) and usage; `6A88` when
/// there is none.
pub fn find_key<S: Storage>(
    storage: &S,
    files: &FileIndex,
    df: u8,
    id: u8,
    usage: Usage,
) -> Result<KeyObject, Status> {
    let area = security_area(storage, files, df)?;
    for slot in 0..KEY_SLOTS {
        let at = slot_offset(area, slot);
        let mut bytes = [0u8; KEY_SLOT_SIZE as usize];
        storage.read(at, &mut bytes).map_err(memory_failure)?;
        let found = decode_key(&bytes, at)
            .filter(|key| key.usage == usage && (key.id == id || (id == 0 && key.id != 0)));
        bytes.zeroize();
        if let Some(key) = found {
            return Ok(key);
        }
    }
    Err(Status::ReferencedDataNotFound)
}

fn decode_key(bytes: &[u8; KEY_SLOT_SIZE as usize], at: u32) -> Option<KeyObject> {
    let get = |i: u32| bytes.get(i as usize).copied().unwrap_or(0);
    let id = get(KEY_ID);
    if id == 0 {
        return None;
    }
    let algorithm = Algorithm::from_byte(get(KEY_ALGORITHM)).ok()?;
    let key = bytes.get(KEY_BYTES as usize..KEY_BYTES as usize + KEY_LEN)?;
    Some(KeyObject {
        id,
        usage: Usage::from_byte(get(KEY_USAGE))?,
        limit: get(KEY_LIMIT),
        tries: get(KEY_TRIES),
        key: SecretKey::from_slice(algorithm, key).ok()?,
        tries_at: at + KEY_TRIES,
    })
}

/// Writes a key object into `slot` of the area (tries left = the error limit).
pub fn write_key<S: Storage>(
    tx: &mut Transaction<'_, S>,
    area: u32,
    slot: u32,
    id: u8,
    usage: Usage,
    key: &SecretKey,
    limit: u8,
) -> Result<(), Status> {
    let mut bytes = [0u8; KEY_SLOT_SIZE as usize];
    let mut put = |at: u32, value: &[u8]| {
        if let Some(dest) = bytes.get_mut(at as usize..at as usize + value.len()) {
            dest.copy_from_slice(value);
        }
    };
    put(
        KEY_ID,
        &[id, usage as u8, key.algorithm().to_byte(), limit, limit],
    );
    put(KEY_BYTES, key.expose_bytes());
    let result = tx.write(slot_offset(area, slot), &bytes);
    bytes.zeroize();
    result
}

/// The holder PIN and the application state of its DF, as stored.
#[derive(Debug)]
pub struct PinObject {
    pub limit: u8,
    pub tries: u8,
    pub value: Pin,
    /// The PIN written at personalisation (WRITE PIN): the PIN may never become it again by
    /// CHANGE PIN, and while the PIN equals it the PIN cannot transact.
    pub initial: Pin,
    /// The security area holding it.
    pub area: u32,
}

impl PinObject {
    pub fn tries_at(&self) -> u32 {
        self.area + PIN_OBJECT_OFFSET + PIN_TRIES
    }

    /// Whether the PIN is still the initial one (constant time).
    pub fn is_initial(&self) -> bool {
        self.value == self.initial
    }
}

/// The DF holding the holder PIN (card-global); `6A88` when no PIN was written.
pub fn holder_pin_df<S: Storage>(storage: &S) -> Result<u8, Status> {
    let mut byte = [0u8];
    storage
        .read(HEADER_OFFSET + HDR_PIN_DF, &mut byte)
        .map_err(memory_failure)?;
    match byte {
        [0] => Err(Status::ReferencedDataNotFound),
        [n] => Ok(n - 1),
    }
}

/// Reads the holder PIN; `6A88` when there is none (or its DF was deleted).
pub fn read_pin<S: Storage>(storage: &S, files: &FileIndex) -> Result<PinObject, Status> {
    let df = holder_pin_df(storage)?;
    if files.get(df).is_none() && usize::from(df) < MAX_FILES {
        return Err(Status::ReferencedDataNotFound);
    }
    let area = security_area(storage, files, df)?;
    let mut bytes = [0u8; PIN_OBJECT_SIZE as usize];
    storage
        .read(area + PIN_OBJECT_OFFSET, &mut bytes)
        .map_err(memory_failure)?;
    let get = |i: u32| bytes.get(i as usize).copied().unwrap_or(0);
    let bcd = |at: u32| {
        bytes
            .get(at as usize..at as usize + PIN_MAX_BCD_LEN)
            .ok_or(Status::MemoryFailure)
            .and_then(|b| Pin::from_bcd(b).map_err(|_| Status::MemoryFailure))
    };
    let pin = if get(PIN_PRESENT) == 1 {
        Ok(PinObject {
            limit: get(PIN_LIMIT),
            tries: get(PIN_TRIES),
            value: bcd(PIN_VALUE)?,
            initial: bcd(PIN_INITIAL)?,
            area,
        })
    } else {
        Err(Status::ReferencedDataNotFound)
    };
    bytes.zeroize();
    pin
}

/// The PIN as stored: packed BCD padded with `F` to 8 bytes.
fn stored_pin(pin: &Pin) -> [u8; PIN_MAX_BCD_LEN] {
    let mut bytes = [0xFF; PIN_MAX_BCD_LEN];
    let bcd = pin.as_bcd();
    if let Some(dest) = bytes.get_mut(..bcd.len()) {
        dest.copy_from_slice(bcd);
    }
    bytes
}

/// Writes a new PIN object into DF `df`'s area (WRITE PIN) and makes it the holder PIN.
pub fn write_pin<S: Storage>(
    tx: &mut Transaction<'_, S>,
    df: u8,
    area: u32,
    limit: u8,
    pin: &Pin,
) -> Result<(), Status> {
    let mut value = stored_pin(pin);
    let result = tx
        .write(area + PIN_OBJECT_OFFSET + PIN_PRESENT, &[1, limit, limit])
        .and_then(|()| tx.write(area + PIN_OBJECT_OFFSET + PIN_VALUE, &value))
        .and_then(|()| tx.write(area + PIN_OBJECT_OFFSET + PIN_INITIAL, &value))
        .and_then(|()| tx.write(HEADER_OFFSET + HDR_PIN_DF, &[df.saturating_add(1)]));
    value.zeroize();
    result
}

/// Replaces the PIN value (CHANGE PIN, PIN RELOAD).
pub fn set_pin_value<S: Storage>(
    tx: &mut Transaction<'_, S>,
    pin: &PinObject,
    new: &Pin,
) -> Result<(), Status> {
    let mut value = stored_pin(new);
    let result = tx.write(pin.area + PIN_OBJECT_OFFSET + PIN_VALUE, &value);
    value.zeroize();
    result
}

/// The application state of DF `df` (`APPLICATION_*`).
pub fn application_state<S: Storage>(storage: &S, files: &FileIndex, df: u8) -> Result<u8, Status> {
    let area = security_area(storage, files, df)?;
    let mut byte = [0u8];
    storage
        .read(area + PIN_OBJECT_OFFSET + APPLICATION_STATE, &mut byte)
        .map_err(memory_failure)?;
    let [state] = byte;
    Ok(state)
}

/// Changes the application state of DF `df`.
pub fn set_application_state<S: Storage>(
    tx: &mut Transaction<'_, S>,
    files: &FileIndex,
    df: u8,
    state: u8,
) -> Result<(), Status> {
    let area = security_area(tx.storage(), files, df)?;
    tx.write(area + PIN_OBJECT_OFFSET + APPLICATION_STATE, &[state])
}

/// Reads the card header's life cycle byte (an unreadable header is `6581`).
pub fn card_life_cycle<S: Storage>(storage: &S) -> Result<u8, Status> {
    CardHeader::read(storage)
        .map(|h| h.life_cycle)
        .map_err(|_| Status::MemoryFailure)
}
