//! Writing into a caller's `&mut [u8]` without allocation.

use crate::sw::Status;

/// Appends bytes to a fixed buffer; running out of room is an error, never a panic.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    /// Appends one byte; `6A84` when full.
    pub fn push(&mut self, byte: u8) -> Result<(), Status> {
        self.extend(&[byte])
    }

    /// Appends bytes; `6A84` when they do not fit (nothing written then).
    pub fn extend(&mut self, bytes: &[u8]) -> Result<(), Status> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(Status::NotEnoughMemory)?;
        let dest = self
            .buf
            .get_mut(self.len..end)
            .ok_or(Status::NotEnoughMemory)?;
        dest.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// What has been written.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Writes `data` followed by the status word into `out`, returning the response length. Data that
/// does not fit before the SW is cut; a buffer shorter than 2 bytes receives nothing (0).
pub fn finish(out: &mut [u8], data_len: usize, sw: Status) -> usize {
    if out.len() < 2 {
        return 0;
    }
    let data_len = data_len.min(out.len() - 2);
    let [sw1, sw2] = sw.to_bytes();
    if let Some(tail) = out.get_mut(data_len..data_len + 2) {
        tail.copy_from_slice(&[sw1, sw2]);
    }
    data_len + 2
}
