//! One file descriptor: its fixed byte layout in the file table and its RAM form.

use crate::journal::{memory_failure, Transaction};
use crate::memory_map::{
    DATA_OFFSET, DESCRIPTOR_SIZE, DF_NAME_MAX, DF_SECURITY_SIZE, FILE_TABLE_OFFSET, MAX_FILES,
    PROPRIETARY_MAX,
};
use crate::storage::Storage;
use crate::sw::Status;

/// What a file is. The byte is stored at offset 0 of the descriptor (`0` = free slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Df = 1,
    Transparent = 2,
    LinearFixed = 3,
    LinearVariable = 4,
    Cyclic = 5,
}

impl FileKind {
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => FileKind::Df,
            2 => FileKind::Transparent,
            3 => FileKind::LinearFixed,
            4 => FileKind::LinearVariable,
            5 => FileKind::Cyclic,
            _ => return None,
        })
    }

    pub fn is_record(self) -> bool {
        matches!(
            self,
            FileKind::LinearFixed | FileKind::LinearVariable | FileKind::Cyclic
        )
    }

    /// The file descriptor byte of FCP tag `82`.
    pub fn descriptor_byte(self) -> u8 {
        match self {
            FileKind::Df => 0x38,
            FileKind::Transparent => 0x01,
            FileKind::LinearFixed => 0x02,
            FileKind::LinearVariable => 0x04,
            FileKind::Cyclic => 0x06,
        }
    }
}

/// Byte offsets inside a descriptor.
pub const D_KIND: u32 = 0;
pub const D_LIFE_CYCLE: u32 = 1;
pub const D_FID: u32 = 2;
pub const D_PARENT: u32 = 4;
pub const D_SFI: u32 = 5;
pub const D_NAME_LEN: u32 = 6;
pub const D_NAME: u32 = 7;
pub const D_ACCESS: u32 = 23;
pub const D_DATA_OFFSET: u32 = 32;
pub const D_DATA_SIZE: u32 = 36;
pub const D_MRL: u32 = 38;
pub const D_NR: u32 = 39;
pub const D_RECORDS: u32 = 40;
pub const D_NEWEST: u32 = 41;
pub const D_PROP_LEN: u32 = 42;
pub const D_PROP: u32 = 43;

/// A file's descriptor as held in RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub kind: FileKind,
    /// `03`, `05`, `04` or `0C` (see `fs::LCS_*`).
    pub life_cycle: u8,
    pub fid: u16,
    /// Index of the parent DF (`fs::NO_PARENT` for the MF).
    pub parent: u8,
    /// Short file identifier 1-30, 0 = none.
    pub sfi: u8,
    pub name_len: u8,
    pub name: [u8; DF_NAME_MAX],
    /// (condition, key id) for read, update, append, admin.
    pub access: [u8; 8],
    /// Start of the contents (for a DF: its security area).
    pub data_offset: u32,
    /// Bytes reserved for the contents.
    pub data_size: u16,
    /// Maximum record length (record files).
    pub max_record_len: u8,
    /// Number of record slots (record files).
    pub record_slots: u8,
    /// Records in use.
    pub records: u8,
    /// Cyclic files: slot of record 1 (the newest).
    pub newest: u8,
    pub proprietary_len: u8,
    pub proprietary: [u8; PROPRIETARY_MAX],
}

/// Where descriptor `index` lives. An index read from storage (a parent link, the holder PIN's
/// DF) may lie beyond the table: [`Descriptor::read`] and [`Descriptor::write_field`] refuse it.
pub fn descriptor_offset(index: u8) -> u32 {
    FILE_TABLE_OFFSET + u32::from(index) * DESCRIPTOR_SIZE
}

/// `6581` for an index beyond the file table.
fn in_table(index: u8) -> Result<u32, Status> {
    if usize::from(index) < MAX_FILES {
        Ok(descriptor_offset(index))
    } else {
        Err(Status::MemoryFailure)
    }
}

/// Where a file's contents live: `len` bytes from `start`. Every address inside an EF's contents
/// comes from [`Extent::at`], which checks it, so corrupted metadata can never send a read or
/// write outside the file's own area, nor wrap around to the header. (A DF's security objects
/// sit at fixed offsets inside its 288 bytes, checked once by [`Descriptor::read`].)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    start: u32,
    len: u32,
}

impl Extent {
    /// The address of `n` bytes at `offset` in the file: `6581` unless they lie inside it and
    /// the file lies in the data area.
    // Inlined on a host (the read path's speed); one copy on the chip (its flash).
    #[cfg_attr(not(target_os = "none"), inline)]
    pub fn at(&self, offset: u32, n: u32) -> Result<u32, Status> {
        offset
            .checked_add(n)
            .filter(|&end| end <= self.len && self.start >= DATA_OFFSET)
            .and_then(|_| self.start.checked_add(offset))
            .ok_or(Status::MemoryFailure)
    }

    /// One past the last byte; `None` when that wraps.
    pub fn end(&self) -> Option<u32> {
        self.start.checked_add(self.len)
    }
}

pub(crate) fn field<const N: usize>(bytes: &[u8; DESCRIPTOR_SIZE as usize], at: u32) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(at as usize..at as usize + N) {
        out.copy_from_slice(src);
    }
    out
}

/// Whether a stored descriptor's geometry can be true in a storage of `capacity` bytes: a known
/// kind; the contents inside the data area, without wrapping; a DF's security area of its fixed
/// size; a record file's slots filling its area exactly, with no more records than slots and the
/// newest slot among them.
#[cfg_attr(not(target_os = "none"), inline)]
pub(crate) fn sound(bytes: &[u8; DESCRIPTOR_SIZE as usize], capacity: u32) -> bool {
    let [kind] = field(bytes, D_KIND);
    let start = u32::from_be_bytes(field(bytes, D_DATA_OFFSET));
    let size = u32::from(u16::from_be_bytes(field(bytes, D_DATA_SIZE)));
    let [mrl, slots, records, newest] = field(bytes, D_MRL);
    let inside = start >= DATA_OFFSET && start.checked_add(size).is_some_and(|end| end <= capacity);
    let shaped = match FileKind::from_byte(kind) {
        Some(FileKind::Df) => size == DF_SECURITY_SIZE,
        Some(FileKind::Transparent) => true,
        Some(_) => {
            u32::from(slots) * (1 + u32::from(mrl)) == size && records <= slots && newest < slots
        }
        None => false,
    };
    inside && shaped
}

impl Descriptor {
    /// A blank descriptor of `kind` (activated, free access, no contents).
    pub fn new(kind: FileKind, fid: u16, parent: u8) -> Self {
        Descriptor {
            kind,
            life_cycle: super::LCS_ACTIVATED,
            fid,
            parent,
            sfi: 0,
            name_len: 0,
            name: [0; DF_NAME_MAX],
            access: [0; 8],
            data_offset: 0,
            data_size: 0,
            max_record_len: 0,
            record_slots: 0,
            records: 0,
            newest: 0,
            proprietary_len: 0,
            proprietary: [0; PROPRIETARY_MAX],
        }
    }

    /// The DF name (empty for EFs and unnamed DFs).
    pub fn name(&self) -> &[u8] {
        self.name.get(..usize::from(self.name_len)).unwrap_or(&[])
    }

    /// The proprietary `A5` content given at creation.
    pub fn proprietary(&self) -> &[u8] {
        self.proprietary
            .get(..usize::from(self.proprietary_len))
            .unwrap_or(&[])
    }

    /// Bytes of one record slot (length byte + maximum record).
    pub fn slot_size(&self) -> u32 {
        1 + u32::from(self.max_record_len)
    }

    /// The file's contents as an [`Extent`].
    pub fn extent(&self) -> Extent {
        Extent {
            start: self.data_offset,
            len: u32::from(self.data_size),
        }
    }

    /// Reads descriptor `index`; `6581` for an index beyond the table, a free slot, an unreadable
    /// one, or one that is not [`sound`]: every descriptor the card uses was checked here, once,
    /// before any address is formed from it.
    pub fn read<S: Storage>(storage: &S, index: u8) -> Result<Self, Status> {
        let mut bytes = [0u8; DESCRIPTOR_SIZE as usize];
        storage
            .read(in_table(index)?, &mut bytes)
            .map_err(memory_failure)?;
        if !sound(&bytes, storage.capacity()) {
            return Err(Status::MemoryFailure);
        }
        Self::decode(&bytes).ok_or(Status::MemoryFailure)
    }

    /// Decodes the stored bytes; `None` for a free slot.
    #[inline]
    pub fn decode(bytes: &[u8; DESCRIPTOR_SIZE as usize]) -> Option<Self> {
        let [kind, life_cycle] = field(bytes, D_KIND);
        let [sfi] = field(bytes, D_SFI);
        let [parent] = field(bytes, D_PARENT);
        let [name_len] = field(bytes, D_NAME_LEN);
        let [mrl, nr, records, newest, prop_len] = field(bytes, D_MRL);
        Some(Descriptor {
            kind: FileKind::from_byte(kind)?,
            life_cycle,
            fid: u16::from_be_bytes(field(bytes, D_FID)),
            parent,
            sfi,
            name_len: name_len.min(DF_NAME_MAX as u8),
            name: field(bytes, D_NAME),
            access: field(bytes, D_ACCESS),
            data_offset: u32::from_be_bytes(field(bytes, D_DATA_OFFSET)),
            data_size: u16::from_be_bytes(field(bytes, D_DATA_SIZE)),
            max_record_len: mrl,
            record_slots: nr,
            records,
            newest,
            proprietary_len: prop_len.min(PROPRIETARY_MAX as u8),
            proprietary: field(bytes, D_PROP),
        })
    }

    /// The stored bytes.
    pub fn encode(&self) -> [u8; DESCRIPTOR_SIZE as usize] {
        let mut bytes = [0u8; DESCRIPTOR_SIZE as usize];
        let mut put = |at: u32, value: &[u8]| {
            if let Some(dest) = bytes.get_mut(at as usize..at as usize + value.len()) {
                dest.copy_from_slice(value);
            }
        };
        put(D_KIND, &[self.kind as u8, self.life_cycle]);
        put(D_FID, &self.fid.to_be_bytes());
        put(D_PARENT, &[self.parent, self.sfi, self.name_len]);
        put(D_NAME, &self.name);
        put(D_ACCESS, &self.access);
        put(D_DATA_OFFSET, &self.data_offset.to_be_bytes());
        put(D_DATA_SIZE, &self.data_size.to_be_bytes());
        put(
            D_MRL,
            &[
                self.max_record_len,
                self.record_slots,
                self.records,
                self.newest,
                self.proprietary_len,
            ],
        );
        put(D_PROP, &self.proprietary);
        bytes
    }

    /// Changes one stored field of descriptor `index` through the journal.
    pub fn write_field<S: Storage>(
        tx: &mut Transaction<'_, S>,
        index: u8,
        at: u32,
        value: &[u8],
    ) -> Result<(), Status> {
        tx.write(in_table(index)? + at, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trips() {
        let mut d = Descriptor::new(FileKind::Cyclic, 0xEF08, 3);
        d.sfi = 8;
        d.access = [1, 0, 2, 4, 0, 0, 0xFF, 0];
        d.data_offset = 0x1234_5678;
        d.data_size = 300;
        d.max_record_len = 9;
        d.record_slots = 30;
        d.records = 2;
        d.newest = 1;
        d.proprietary_len = 2;
        d.proprietary[..2].copy_from_slice(&[0x9F, 0x0C]);
        assert_eq!(Descriptor::decode(&d.encode()), Some(d));
        assert_eq!(Descriptor::decode(&[0; DESCRIPTOR_SIZE as usize]), None);
    }
}
