//! Test support shared with the host tools' tests and the benches (feature `testing`): fault
//! injection by power cuts, and (from feature `demo`) the demo card and the exchange helper.

pub use crate::demo::*;
use crate::storage::{Storage, StorageError};

/// A storage that loses power after a number of writes: the writes before the cut land, every
/// later one fails and is lost. With `tear` the first lost write still lands partly (its first
/// half), as a torn EEPROM page would; writes of at most 8 bytes stay atomic (the journal header).
#[derive(Clone, Debug)]
pub struct TearingStorage<S> {
    inner: S,
    writes: usize,
    cut_after: Option<usize>,
    tear: bool,
}

impl<S: Storage> TearingStorage<S> {
    /// A storage that never cuts until told.
    pub fn new(inner: S) -> Self {
        TearingStorage {
            inner,
            writes: 0,
            cut_after: None,
            tear: false,
        }
    }

    /// Power fails after `writes` more successful writes; `tear` leaves the next one half done.
    pub fn cut_after(&mut self, writes: usize, tear: bool) {
        self.cut_after = Some(self.writes + writes);
        self.tear = tear;
    }

    /// Writes that landed so far.
    pub fn writes(&self) -> usize {
        self.writes
    }

    /// Whether power has been cut (a write was refused).
    pub fn is_cut(&self) -> bool {
        self.cut_after.is_some_and(|limit| self.writes >= limit)
    }

    /// Power back: no more cuts planned.
    pub fn restore_power(&mut self) {
        self.cut_after = None;
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Storage> Storage for TearingStorage<S> {
    fn capacity(&self) -> u32 {
        self.inner.capacity()
    }

    fn read(&self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.inner.read(offset, buf)
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        if let Some(limit) = self.cut_after {
            if self.writes >= limit {
                if self.tear && self.writes == limit && data.len() > 8 {
                    let half = data.get(..data.len() / 2).unwrap_or(&[]);
                    self.inner.write(offset, half)?;
                }
                // Later writes are refused; counting past the limit stops further tears.
                self.writes = limit + 1;
                return Err(StorageError::WriteFailed);
            }
        }
        self.inner.write(offset, data)?;
        self.writes += 1;
        Ok(())
    }
}

/// SELECT of the SSSE by name ([`SSSE_NAME`]), asking for the FCI.
pub const SELECT_SSSE_BY_NAME: [u8; 21] = select_ssse_by_name();

// Evaluated at compile time: an index out of range fails the build, it cannot panic on a card.
#[allow(clippy::indexing_slicing)]
const fn select_ssse_by_name() -> [u8; 21] {
    let mut apdu = [0u8; 21];
    apdu[1] = 0xA4;
    apdu[2] = 0x04;
    apdu[4] = SSSE_NAME.len() as u8;
    let mut i = 0;
    while i < SSSE_NAME.len() {
        apdu[5 + i] = SSSE_NAME[i];
        i += 1;
    }
    apdu
}

/// The benches' read mix: select the SSSE, then read EF05 (SFI 5: card identification code and
/// card number) and EF06 (SFI 6: social security number and name) by tag.
pub const READ_MIX: [&[u8]; 5] = [
    &SELECT_SSSE_BY_NAME,
    &[0x00, 0xB2, 0x01, 0x28, 0x00],
    &[0x00, 0xB2, 0x07, 0x28, 0x00],
    &[0x00, 0xB2, 0x08, 0x30, 0x00],
    &[0x00, 0xB2, 0x09, 0x30, 0x20],
];
