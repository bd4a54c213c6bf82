//! Hashes for file integrity: SHA-256 (FIPS 180-4) and CRC-32 (IEEE 802.3).

use sha2::Digest;

/// Length of a SHA-256 digest.
pub const SHA256_LEN: usize = 32;

/// SHA-256 of one buffer.
pub fn sha256(data: &[u8]) -> [u8; SHA256_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(data);
    hasher.finalize()
}

/// SHA-256 over data that arrives in pieces (e.g. a file read from storage in chunks).
#[derive(Clone, Default)]
pub struct Sha256(sha2::Sha256);

impl Sha256 {
    pub fn new() -> Self {
        Sha256(sha2::Sha256::new())
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finalize(self) -> [u8; SHA256_LEN] {
        self.0.finalize().into()
    }
}

/// CRC-32 as in IEEE 802.3 / zlib (reflected polynomial `EDB88320`, initial value and
/// final XOR `FFFFFFFF`), bitwise so that it needs no table in flash.
#[derive(Clone, Copy, Debug)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Crc32::new()
    }
}

impl Crc32 {
    const POLYNOMIAL: u32 = 0xEDB8_8320;

    pub const fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    /// One entry per byte value, computed at compile time: a lookup per byte instead of eight
    /// shifts, because every write to an EF re-seals its whole-file CRC (1 KiB of flash).
    /// Evaluated by the compiler: an index out of range would fail the build, never the card.
    #[allow(clippy::indexing_slicing)]
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (Crc32::POLYNOMIAL & mask);
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };

    pub fn update(&mut self, data: &[u8]) {
        for &byte in data {
            let [index, ..] = (self.0 ^ u32::from(byte)).to_le_bytes();
            let entry = Crc32::TABLE.get(usize::from(index)).copied().unwrap_or(0);
            self.0 = (self.0 >> 8) ^ entry;
        }
    }

    pub const fn finalize(self) -> u32 {
        !self.0
    }
}

/// CRC-32 of one buffer.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(data);
    crc.finalize()
}
