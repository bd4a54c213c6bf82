//! A RAM index of the file table, so lookups by FID, SFI or parent do not read every descriptor
//! from storage. It is derived data: rebuilt at power-on and after every command that changes the
//! table, never written back.

use crate::memory_map::MAX_FILES;
use crate::storage::{Storage, StorageError};

use super::descriptor::{descriptor_offset, FileKind, D_KIND};

/// What the index keeps of one descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexEntry {
    /// `0` = free slot, else a `FileKind` byte.
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
}

impl Default for FileIndex {
    fn default() -> Self {
        FileIndex {
            entries: [IndexEntry::default(); MAX_FILES],
            verified: 0,
        }
    }
}

impl FileIndex {
    /// Reads the first bytes of every descriptor.
    pub fn rebuild<S: Storage>(&mut self, storage: &S) -> Result<(), StorageError> {
        self.verified = 0;
        for (i, entry) in self.entries.iter_mut().enumerate() {
            *entry = Self::entry_of(storage, i as u8)?;
        }
        Ok(())
    }

    /// Re-reads descriptor `index` alone, after a command that changed only that one (CREATE
    /// FILE); its file counts as not yet checked.
    pub fn refresh<S: Storage>(&mut self, storage: &S, index: u8) -> Result<(), StorageError> {
        let entry = Self::entry_of(storage, index)?;
        if let Some(slot) = self.entries.get_mut(usize::from(index)) {
            *slot = entry;
        }
        if let Some(bit) = 1u64.checked_shl(u32::from(index)) {
            self.verified &= !bit;
        }
        Ok(())
    }

    fn entry_of<S: Storage>(storage: &S, index: u8) -> Result<IndexEntry, StorageError> {
        let mut bytes = [0u8; 7];
        storage.read(descriptor_offset(index) + D_KIND, &mut bytes)?;
        let [kind, _, f1, f2, parent, sfi, name_len] = bytes;
        Ok(if FileKind::from_byte(kind).is_some() {
            IndexEntry {
                kind,
                fid: u16::from_be_bytes([f1, f2]),
                parent,
                sfi,
                name_len,
            }
        } else {
            IndexEntry::default()
        })
    }

    /// Whether EF `index` passed its integrity check since power-on.
    pub fn is_verified(&self, index: u8) -> bool {
        1u64.checked_shl(u32::from(index))
            .is_some_and(|bit| self.verified & bit != 0)
    }

    /// Notes that EF `index` passed its integrity check.
    pub fn mark_verified(&mut self, index: u8) {
        if let Some(bit) = 1u64.checked_shl(u32::from(index)) {
            self.verified |= bit;
        }
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
