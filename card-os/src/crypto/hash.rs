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
/// final XOR `FFFFFFFF`), one table lookup per byte.
///
/// The CRC is linear over GF(2), which lets a write update a file's CRC from the bytes it changed
/// alone: for two messages of equal length, `crc(a) ^ crc(b)` is the register of
/// [`Crc32::of_difference`] over `a ^ b`, and the zero bytes that follow the changed range are
/// skipped with [`Crc32::after_zeros`] in a few multiplications instead of a pass over them.
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

    /// A register starting at zero, for the difference of two equal-length messages; read it
    /// with [`Crc32::difference`], not `finalize`.
    pub const fn of_difference() -> Self {
        Crc32(0)
    }

    /// The register as it stands (no final XOR): for a register started with
    /// [`Crc32::of_difference`], the XOR of the two messages' CRCs.
    pub const fn difference(self) -> u32 {
        self.0
    }

    /// `a(x)·b(x) mod P` in the reflected bit order (bit 31 is x⁰), one bit of `a` at a time;
    /// for the tables the compiler computes.
    const fn multiply_bitwise(a: u32, mut b: u32) -> u32 {
        let mut product = 0;
        let mut power = 0;
        while power < 32 {
            let take = ((a << power) >> 31).wrapping_neg();
            product ^= b & take;
            let reduce = (b & 1).wrapping_neg();
            b = (b >> 1) ^ (Crc32::POLYNOMIAL & reduce);
            power += 1;
        }
        product
    }

    /// The same product, Horner's rule over the four bytes of `a`: `b·x^t` for t < 8 once, then
    /// per byte a table step (·x⁸) and masked XORs that do not depend on each other. Branch-free,
    /// since the bits of a power of x are as good as random.
    fn multiply(a: u32, b: u32) -> u32 {
        let mut shifted = [b; 8];
        let mut previous = b;
        for slot in shifted.iter_mut().skip(1) {
            previous = (previous >> 1) ^ (Crc32::POLYNOMIAL & (previous & 1).wrapping_neg());
            *slot = previous;
        }
        // The byte of `a` holding x^(8j)..x^(8j+7) sits at bits 31-8j down to 24-8j.
        a.to_le_bytes().iter().fold(0u32, |product, &byte| {
            let [low, ..] = product.to_le_bytes();
            let stepped = (product >> 8) ^ Crc32::TABLE.get(usize::from(low)).copied().unwrap_or(0);
            shifted.iter().enumerate().fold(stepped, |sum, (t, &term)| {
                sum ^ (term & (u32::from(byte >> (7 - t)) & 1).wrapping_neg())
            })
        })
    }

    /// `x^(8·v·16^d) mod P` at `[d][v]`: feeding `v·16^d` zero bytes multiplies the register by
    /// it, so any count below 65,536 takes at most four multiplications (256 bytes of flash).
    #[allow(clippy::indexing_slicing)]
    const ZERO_BYTES_POWERS: [[u32; 16]; 4] = {
        let one = 0x8000_0000;
        let mut powers = [[one; 16]; 4];
        let mut base = 0x8000_0000 >> 8; // x^8: one zero byte
        let mut digit = 0;
        while digit < 4 {
            let mut value = 1;
            while value < 16 {
                powers[digit][value] = Crc32::multiply_bitwise(powers[digit][value - 1], base);
                value += 1;
            }
            base = Crc32::multiply_bitwise(powers[digit][15], base);
            digit += 1;
        }
        powers
    };

    /// The register after `count` zero bytes (a file's content is shorter than 64 KiB).
    pub fn after_zeros(self, count: u16) -> Self {
        let register = Crc32::ZERO_BYTES_POWERS.iter().enumerate().fold(
            self.0,
            |register, (digit, powers)| {
                let value = usize::from(count >> (4 * digit) & 0x0F);
                match powers.get(value) {
                    Some(&power) if value != 0 => Crc32::multiply(power, register),
                    _ => register,
                }
            },
        );
        Crc32(register)
    }

    /// One entry per byte value, computed at compile time: a lookup per byte instead of eight
    /// shifts, for the whole-file check at an EF's first read after power-on (1 KiB of flash).
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
