//! A RAM index of the file table, so lookups by FID, SFI or parent do not read every descriptor
//! from storage. It is derived data: rebuilt at power-on and after every command that changes the
//! table, never written back.
//!
//! Building it is also when the card checks its file table as a whole: a descriptor that is not
//! sound on its own (`Descriptor::read`) or whose contents overlap another file's is marked
//! [`DAMAGED`], and every use of it answers `6581` (see [`FileIndex::descriptor`]).

use crate::memory_map::{DATA_OFFSET, DESCRIPTOR_SIZE, DF_SECURITY_SIZE, MAX_FILES};
use crate::storage::{Storage, StorageError};
use crate::sw::Status;

use super::descriptor::{
    descriptor_offset, field, sound, Descriptor, FileKind, D_DATA_OFFSET, D_DATA_SIZE, D_MRL,
};
use super::{MF_INDEX, NO_PARENT};

/// The index's kind for a damaged descriptor (stored kinds are 1-5): used, so its slot and area
/// are never given to a new file, and never answered but with `6581`.
pub const DAMAGED: u8 = 0xFF;

/// What the index keeps of one descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexEntry {
    /// `0` = free slot, else a `FileKind` byte or [`DAMAGED`].
    pub kind: u8,
    pub fid: u16,
    pub parent: u8,
    pub sfi: u8,
    /// Length of the DF name (0 = none), to skip reading unnamed DFs.
    pub name_len: u8,
}

impl IndexEntry {
    pub fn is_df(&self) -> bool {
        self.kind == FileKind::Df as u8
    }
    pub fn is_used(&self) -> bool {
        self.kind != 0
    }
}

/// The index of all `MAX_FILES` descriptors.
#[derive(Clone, Debug)]
pub struct FileIndex {
    entries: [IndexEntry; MAX_FILES],
    /// One bit per descriptor: the EF's content matched its CRC at a read since power-on (or
    /// since the index was rebuilt). Reads are the hot path, so each file is checked once a
    /// session; writes update the CRC in their own transaction and keep the bit true.
    verified: u64,
    /// End of the highest area a descriptor names (a sound file's, or a lost one's; `u32::MAX`
    /// while a descriptor is damaged): CREATE FILE allocates above it, whatever the stored
    /// allocation pointer says.
    data_end: u32,
}

impl Default for FileIndex {
    fn default() -> Self {
        FileIndex {
            entries: [IndexEntry::default(); MAX_FILES],
            verified: 0,
            data_end: DATA_OFFSET,
        }
    }
}

fn bit(index: u8) -> u64 {
    1u64.checked_shl(u32::from(index)).unwrap_or(0)
}

impl FileIndex {
    /// Reads every descriptor and checks every file's place: each must be sound on its own and
    /// overlap no other.
    pub fn rebuild<S: Storage>(&mut self, storage: &S) -> Result<(), StorageError> {
        *self = FileIndex::default();
        let mut areas = [(0u32, 0u32); MAX_FILES];
        for (i, area) in areas.iter_mut().enumerate() {
            *area = self.refresh(storage, i as u8)?;
        }
        // The MF's area is known whatever its descriptor says: `format` puts it first.
        if let Some(mf) = areas.first_mut() {
            *mf = (DATA_OFFSET, DATA_OFFSET + DF_SECURITY_SIZE);
        }
        for (entry, &(start, end)) in self.entries.iter_mut().zip(&areas) {
            if start >= end {
                continue;
            }
            // Itself excepted: one area overlapping another marks both.
            let overlaps = areas
                .iter()
                .filter(|&&(other_start, other_end)| start < other_end && other_start < end)
                .count();
            if overlaps > 1 {
                entry.kind = DAMAGED;
                self.data_end = u32::MAX;
            }
        }
        Ok(())
    }

    /// Re-reads descriptor `index` alone, after a command that changed only that one (CREATE
    /// FILE); its file counts as not yet checked. Returns its area (empty for a free or damaged
    /// descriptor).
    pub fn refresh<S: Storage>(
        &mut self,
        storage: &S,
        index: u8,
    ) -> Result<(u32, u32), StorageError> {
        // Up to the data size first: most slots are free, and a free slot needs no more.
        let mut bytes = [0u8; DESCRIPTOR_SIZE as usize];
        let (head, rest) = bytes.split_at_mut(D_MRL as usize);
        storage.read(descriptor_offset(index), head)?;
        if head.first() != Some(&0) {
            storage.read(descriptor_offset(index) + D_MRL, rest)?;
        }
        let [kind, _, f1, f2, parent, sfi, name_len, ..] = bytes;
        let mut entry = IndexEntry {
            kind,
            fid: u16::from_be_bytes([f1, f2]),
            parent,
            sfi,
            name_len,
        };
        self.verified &= !bit(index);
        let start = u32::from_be_bytes(field(&bytes, D_DATA_OFFSET));
        let size = u32::from(u16::from_be_bytes(field(&bytes, D_DATA_SIZE)));
        let end = start.saturating_add(size);
        let mut area = (0, 0);
        if kind == 0 {
            // A free descriptor that still names an area below the allocation pointer is a file
            // whose kind byte was lost (DELETE FILE clears the size): its area stays reserved.
            entry = IndexEntry::default();
            if size > 0 && end <= super::header::alloc_pointer(storage).unwrap_or(0) {
                entry = IndexEntry {
                    kind: DAMAGED,
                    parent: NO_PARENT,
                    ..entry
                };
                self.data_end = self.data_end.max(end);
            }
        } else if sound(&bytes, storage.capacity()) && (index != MF_INDEX || start == DATA_OFFSET) {
            self.data_end = self.data_end.max(end);
            area = (start, end);
        } else {
            // Where a damaged file really lies is unknown: no new file until it is deleted.
            entry.kind = DAMAGED;
            self.data_end = u32::MAX;
        }
        if let Some(slot) = self.entries.get_mut(usize::from(index)) {
            *slot = entry;
        }
        Ok(area)
    }

    /// Descriptor `index`; `6581` when the index found it damaged, as for one that is not sound.
    /// (Not inlined on the chip: one copy of it is smaller there; inlined on a host: faster.)
    #[cfg_attr(target_os = "none", inline(never))]
    pub fn descriptor<S: Storage>(&self, storage: &S, index: u8) -> Result<Descriptor, Status> {
        if self.get(index).is_some_and(|e| e.kind == DAMAGED) {
            return Err(Status::MemoryFailure);
        }
        Descriptor::read(storage, index)
    }

    /// Where the highest area named by a descriptor ends: new files go at or above it.
    pub fn data_end(&self) -> u32 {
        self.data_end
    }

    /// Whether EF `index` passed its integrity check since power-on.
    pub fn is_verified(&self, index: u8) -> bool {
        self.verified & bit(index) != 0
    }

    /// Notes that EF `index` passed its integrity check.
    pub fn mark_verified(&mut self, index: u8) {
        self.verified |= bit(index);
    }

    pub fn get(&self, index: u8) -> Option<&IndexEntry> {
        self.entries.get(usize::from(index)).filter(|e| e.is_used())
    }

    /// Used entries with their indices.
    pub fn iter(&self) -> impl Iterator<Item = (u8, &IndexEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_used())
            .map(|(i, e)| (i as u8, e))
    }

    /// A free descriptor slot.
    pub fn free_slot(&self) -> Option<u8> {
        self.entries
            .iter()
            .position(|e| !e.is_used())
            .map(|i| i as u8)
    }

    /// The child of `parent` with this FID.
    pub fn child(&self, parent: u8, fid: u16) -> Option<u8> {
        self.iter()
            .find(|(_, e)| e.parent == parent && e.fid == fid)
            .map(|(i, _)| i)
    }

    /// The EF of `parent` with this SFI.
    pub fn child_by_sfi(&self, parent: u8, sfi: u8) -> Option<u8> {
        self.iter()
            .find(|(_, e)| e.parent == parent && e.sfi == sfi && !e.is_df())
            .map(|(i, _)| i)
    }

    /// Whether `index` is `ancestor` or lies below it.
    pub fn is_within(&self, mut index: u8, ancestor: u8) -> bool {
        for _ in 0..MAX_FILES {
            if index == ancestor {
                return true;
            }
            match self.get(index) {
                Some(e) => index = e.parent,
                None => return false,
            }
        }
        false
    }
}
