//! The undo journal: the one mechanism that makes a command atomic.
//!
//! Before a range is overwritten its old bytes are appended as an entry, then the journal header
//! (state, entry count, bytes used) is written: that 8-byte write is the only one assumed atomic.
//! Commit sets the header back to idle. At power-on an active journal is rolled back in reverse
//! order, which is idempotent, so a cut during recovery is harmless.

use crate::memory_map::{
    DATA_OFFSET, FILE_TABLE_OFFSET, JOURNAL_ENTRY_HEADER_SIZE, JOURNAL_HEADER_SIZE, JOURNAL_OFFSET,
    JOURNAL_SIZE,
};
use crate::storage::{Storage, StorageError};
use crate::sw::Status;

const STATE_IDLE: u8 = 0x00;
const STATE_ACTIVE: u8 = 0xA5;
const ENTRIES_OFFSET: u32 = JOURNAL_OFFSET + JOURNAL_HEADER_SIZE;
const ENTRIES_SIZE: u32 = JOURNAL_SIZE - JOURNAL_HEADER_SIZE;
/// Old bytes are copied into the journal through a buffer of this size.
const COPY_CHUNK: usize = 64;

fn header_bytes(active: bool, count: u16, used: u32) -> [u8; 8] {
    let [c1, c2] = count.to_be_bytes();
    let [u1, u2, u3, u4] = used.to_be_bytes();
    [
        if active { STATE_ACTIVE } else { STATE_IDLE },
        0,
        c1,
        c2,
        u1,
        u2,
        u3,
        u4,
    ]
}

/// Writes the idle journal header (used by `format`).
pub(crate) fn write_idle<S: Storage>(storage: &mut S) -> Result<(), StorageError> {
    storage.write(JOURNAL_OFFSET, &header_bytes(false, 0, 0))
}

/// Whether `len` bytes at `offset` may be journaled and written: inside the storage, without
/// wrapping, and not over the journal itself.
fn writable<S: Storage>(storage: &S, offset: u32, len: u32) -> bool {
    offset.checked_add(len).is_some_and(|end| {
        end <= storage.capacity() && (end <= JOURNAL_OFFSET || offset >= FILE_TABLE_OFFSET)
    })
}

/// Entry `index` of the active journal: where its old bytes are, its target and its length.
/// Every entry up to it is checked on the way: it lies in the journal and its target is
/// [`writable`]; anything else was never written by a transaction, so the journal is corrupt.
/// Also returns where the next entry would start.
fn entry<S: Storage>(storage: &S, index: u16) -> Result<(u32, u32, u32, u32), StorageError> {
    let mut position = ENTRIES_OFFSET;
    let mut entry = [0u8; JOURNAL_ENTRY_HEADER_SIZE as usize];
    for i in 0..=index {
        storage.read(position, &mut entry)?;
        let [o1, o2, o3, o4, l1, l2] = entry;
        let target = u32::from_be_bytes([o1, o2, o3, o4]);
        let len = u32::from(u16::from_be_bytes([l1, l2]));
        let body = position + JOURNAL_ENTRY_HEADER_SIZE;
        let next = body + len;
        if next > JOURNAL_OFFSET + JOURNAL_SIZE || !writable(storage, target, len) {
            return Err(StorageError::ReadFailed);
        }
        if i == index {
            return Ok((body, target, len, next));
        }
        position = next;
    }
    Err(StorageError::ReadFailed)
}

/// Copies `len` bytes inside the storage, chunk by chunk.
fn copy<S: Storage>(storage: &mut S, from: u32, to: u32, len: u32) -> Result<(), StorageError> {
    let mut chunk = [0u8; COPY_CHUNK];
    let mut done = 0u32;
    while done < len {
        let n = (len - done).min(COPY_CHUNK as u32);
        let buf = chunk
            .get_mut(..n as usize)
            .ok_or(StorageError::OutOfBounds)?;
        storage.read(from + done, buf)?;
        storage.write(to + done, buf)?;
        done += n;
    }
    Ok(())
}

/// Rolls back an interrupted transaction, if any. Called at power-on; safe to repeat.
pub fn recover<S: Storage>(storage: &mut S) -> Result<(), StorageError> {
    let mut header = [0u8; 8];
    storage.read(JOURNAL_OFFSET, &mut header)?;
    let [state, _, c1, c2, u1, u2, u3, u4] = header;
    if state != STATE_ACTIVE {
        return Ok(());
    }
    let count = u16::from_be_bytes([c1, c2]);
    let used = u32::from_be_bytes([u1, u2, u3, u4]);
    // A corrupt journal is not replayed at all (a partial rollback would be worse): every entry
    // must be in range and together they must fill exactly the bytes the header counts.
    let end = match count.checked_sub(1) {
        Some(last) => entry(storage, last)?.3,
        None => ENTRIES_OFFSET,
    };
    if end != ENTRIES_OFFSET.wrapping_add(used) {
        return Err(StorageError::ReadFailed);
    }
    for index in (0..count).rev() {
        // Entries have variable lengths: each is found by walking from the first.
        let (body, target, len, _) = entry(storage, index)?;
        copy(storage, body, target, len)?;
    }
    storage.write(JOURNAL_OFFSET, &header_bytes(false, 0, 0))
}

/// Every state-changing command writes through one of these; reads go to the storage directly.
pub struct Transaction<'s, S: Storage> {
    storage: &'s mut S,
    count: u16,
    used: u32,
}

impl<'s, S: Storage> Transaction<'s, S> {
    /// Starts a transaction; nothing is written until the first `write`. The journal must be idle
    /// (it is after power-on recovery and after every commit or rollback).
    pub fn begin(storage: &'s mut S) -> Self {
        Transaction {
            storage,
            count: 0,
            used: 0,
        }
    }

    /// The storage, for reads inside the transaction.
    pub fn storage(&self) -> &S {
        self.storage
    }

    /// Writes `data` at `offset`, journaling the old bytes first. `6A84` when the journal is full
    /// (nothing written), `6581` when the memory fails.
    pub fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), Status> {
        let len = u16::try_from(data.len()).map_err(|_| Status::NotEnoughMemory)?;
        let entry_size = JOURNAL_ENTRY_HEADER_SIZE + u32::from(len);
        let count = self.count.checked_add(1).ok_or(Status::NotEnoughMemory)?;
        if !writable(self.storage, offset, u32::from(len)) {
            return Err(Status::MemoryFailure);
        }
        if self.used + entry_size > ENTRIES_SIZE {
            return Err(Status::NotEnoughMemory);
        }
        let entry = ENTRIES_OFFSET + self.used;
        let [o1, o2, o3, o4] = offset.to_be_bytes();
        let [l1, l2] = len.to_be_bytes();
        self.storage
            .write(entry, &[o1, o2, o3, o4, l1, l2])
            .map_err(memory_failure)?;
        copy(
            self.storage,
            offset,
            entry + JOURNAL_ENTRY_HEADER_SIZE,
            u32::from(len),
        )
        .map_err(memory_failure)?;
        self.used += entry_size;
        self.count = count;
        self.storage
            .write(JOURNAL_OFFSET, &header_bytes(true, self.count, self.used))
            .map_err(memory_failure)?;
        self.storage.write(offset, data).map_err(memory_failure)
    }

    /// Writes without journaling. Only for ranges that no committed state refers to (space beyond
    /// the allocation pointer as it was when the transaction began): a rollback frees them again.
    pub fn write_fresh(&mut self, offset: u32, data: &[u8]) -> Result<(), Status> {
        if offset < DATA_OFFSET {
            return Err(Status::MemoryFailure);
        }
        self.storage.write(offset, data).map_err(memory_failure)
    }

    /// Makes every write permanent (the idle header write is the commit point).
    pub fn commit(self) -> Result<(), Status> {
        if self.count == 0 {
            return Ok(());
        }
        self.storage
            .write(JOURNAL_OFFSET, &header_bytes(false, 0, 0))
            .map_err(memory_failure)
    }

    /// Undoes every write of this transaction now.
    pub fn rollback(self) -> Result<(), Status> {
        if self.count == 0 {
            return Ok(());
        }
        recover(self.storage).map_err(memory_failure)
    }
}

/// Runs `change` in one transaction: committed when it succeeds, rolled back when it fails.
pub(crate) fn atomically<S: Storage, T>(
    storage: &mut S,
    change: impl FnOnce(&mut Transaction<'_, S>) -> Result<T, Status>,
) -> Result<T, Status> {
    let mut tx = Transaction::begin(storage);
    match change(&mut tx) {
        Ok(value) => {
            tx.commit()?;
            Ok(value)
        }
        Err(sw) => {
            tx.rollback()?;
            Err(sw)
        }
    }
}

/// A failing memory answers `6581`.
pub fn memory_failure(_: StorageError) -> Status {
    Status::MemoryFailure
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::RamStorage;

    #[test]
    fn rollback_restores_overlapping_writes_in_reverse() {
        let mut storage = RamStorage::<8192>::new();
        write_idle(&mut storage).unwrap();
        storage.write(5000, &[1, 2, 3, 4]).unwrap();
        let mut tx = Transaction::begin(&mut storage);
        tx.write(5000, &[9, 9]).unwrap();
        tx.write(5001, &[7, 7, 7]).unwrap();
        tx.rollback().unwrap();
        let mut buf = [0; 4];
        storage.read(5000, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);
    }

    #[test]
    fn commit_keeps_writes_and_recovery_then_does_nothing() {
        let mut storage = RamStorage::<8192>::new();
        write_idle(&mut storage).unwrap();
        let mut tx = Transaction::begin(&mut storage);
        tx.write(6000, &[5, 6]).unwrap();
        tx.commit().unwrap();
        recover(&mut storage).unwrap();
        let mut buf = [0; 2];
        storage.read(6000, &mut buf).unwrap();
        assert_eq!(buf, [5, 6]);
    }

    #[test]
    fn a_full_journal_refuses_the_write_with_6a84() {
        let mut storage = RamStorage::<16384>::new();
        write_idle(&mut storage).unwrap();
        let mut tx = Transaction::begin(&mut storage);
        let big = [0u8; 2100];
        assert_eq!(tx.write(8000, &big), Err(Status::NotEnoughMemory));
    }
}
