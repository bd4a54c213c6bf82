//! The card's non-volatile memory: byte-addressed reads and writes at offsets.

/// Why a storage access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// The range lies (partly) outside the memory.
    OutOfBounds,
    /// The memory did not accept the write (worn cell, power lost, injected fault).
    WriteFailed,
    /// The memory could not be read.
    ReadFailed,
}

impl core::fmt::Display for StorageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            StorageError::OutOfBounds => "storage access out of bounds",
            StorageError::WriteFailed => "storage write failed",
            StorageError::ReadFailed => "storage read failed",
        })
    }
}

/// Byte-addressed non-volatile memory. Only the journal header write (8 bytes) is assumed atomic;
/// the journal makes every command atomic on top of torn writes.
pub trait Storage {
    /// Total bytes of non-volatile memory.
    fn capacity(&self) -> u32;
    /// Fills `buf` from `offset`.
    fn read(&self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;
    /// Writes `data` at `offset`. A power cut may leave it torn.
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError>;
}

impl<S: Storage + ?Sized> Storage for &mut S {
    fn capacity(&self) -> u32 {
        (**self).capacity()
    }
    #[inline]
    fn read(&self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        (**self).read(offset, buf)
    }
    #[inline]
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        (**self).write(offset, data)
    }
}

/// Storage in a RAM array of `N` bytes (the simulator's memory; erased state `FF` like flash).
#[derive(Clone)]
pub struct RamStorage<const N: usize> {
    bytes: [u8; N],
}

impl<const N: usize> RamStorage<N> {
    /// An erased memory (every byte `FF`).
    pub fn new() -> Self {
        RamStorage { bytes: [0xFF; N] }
    }

    /// A memory holding `image` (the rest erased); `None` when the image is larger than `N`.
    pub fn from_image(image: &[u8]) -> Option<Self> {
        let mut storage = Self::new();
        storage.bytes.get_mut(..image.len())?.copy_from_slice(image);
        Some(storage)
    }

    /// The whole memory, e.g. to save a card image.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl<const N: usize> Default for RamStorage<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for RamStorage<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RamStorage<{N}>")
    }
}

fn range(
    offset: u32,
    len: usize,
    capacity: usize,
) -> Result<core::ops::Range<usize>, StorageError> {
    let start = usize::try_from(offset).map_err(|_| StorageError::OutOfBounds)?;
    let end = start.checked_add(len).ok_or(StorageError::OutOfBounds)?;
    if end > capacity {
        return Err(StorageError::OutOfBounds);
    }
    Ok(start..end)
}

impl<const N: usize> Storage for RamStorage<N> {
    fn capacity(&self) -> u32 {
        u32::try_from(N).unwrap_or(u32::MAX)
    }

    #[inline]
    fn read(&self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        let src = self
            .bytes
            .get(range(offset, buf.len(), N)?)
            .ok_or(StorageError::OutOfBounds)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    #[inline]
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let dest = self
            .bytes
            .get_mut(range(offset, data.len(), N)?)
            .ok_or(StorageError::OutOfBounds)?;
        dest.copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_was_written_and_refuses_out_of_bounds() {
        let mut storage = RamStorage::<16>::new();
        storage.write(4, &[1, 2, 3]).unwrap();
        let mut buf = [0; 5];
        storage.read(3, &mut buf).unwrap();
        assert_eq!(buf, [0xFF, 1, 2, 3, 0xFF]);
        assert_eq!(storage.write(15, &[1, 2]), Err(StorageError::OutOfBounds));
        assert_eq!(
            storage.read(u32::MAX, &mut buf),
            Err(StorageError::OutOfBounds)
        );
    }
}
