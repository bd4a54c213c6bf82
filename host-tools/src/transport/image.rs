//! Card image files: a simulated card's non-volatile memory on disk.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "SSCIMAGE"
//!      8     2  format version (1), big-endian
//!     10     2  reserved, 0
//!     12     4  capacity: bytes of card memory, big-endian
//!     16     4  stored: bytes of memory kept in the file, big-endian
//!     20     1  fill: the value of every byte after the stored ones
//!     21     3  reserved, 0
//!     24    32  SHA-256 of bytes 0..24 and the stored bytes
//!     56     …  the first `stored` bytes of memory
//! ```
//!
//! Only the used prefix is stored: an erased tail (all one value) costs one byte. Saving is atomic
//! (write a temporary file beside the image, fsync, rename, fsync the directory), so a crash leaves
//! the old image or the new one, never a mix; anything else is caught by the checksum.

use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::TransportError;

pub const MAGIC: &[u8; 8] = b"SSCIMAGE";
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 56;
/// Refuse headers claiming more memory than any card has, before allocating it.
pub const MAX_CAPACITY: usize = 16 << 20;

/// Why bytes are not a usable card image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("it is not an sscard card image (no SSCIMAGE header)")]
    NotAnImage,
    #[error("it is {0} bytes long, shorter than the 56-byte header")]
    TruncatedHeader(usize),
    #[error("it has format version {0}, this sscard reads version 1")]
    UnsupportedVersion(u16),
    #[error("its header is inconsistent ({0})")]
    BadHeader(&'static str),
    #[error("it should be {expected} bytes long but is {actual}")]
    WrongLength { expected: usize, actual: usize },
    #[error("its checksum does not match its contents")]
    ChecksumMismatch,
}

fn checksum(header: &[u8], stored: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(header);
    hash.update(stored);
    hash.finalize().into()
}

/// The file bytes for a card memory.
pub fn encode(memory: &[u8]) -> Vec<u8> {
    let fill = memory.last().copied().unwrap_or(0xFF);
    let stored = memory.len() - memory.iter().rev().take_while(|&&b| b == fill).count();
    let mut out = Vec::with_capacity(HEADER_LEN + stored);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(memory.len() as u32).to_be_bytes());
    out.extend_from_slice(&(stored as u32).to_be_bytes());
    out.extend_from_slice(&[fill, 0, 0, 0]);
    let sum = checksum(&out, &memory[..stored]);
    out.extend_from_slice(&sum);
    out.extend_from_slice(&memory[..stored]);
    out
}

/// The card memory in file bytes, after checking everything the header promises.
pub fn decode(file: &[u8]) -> Result<Vec<u8>, ImageError> {
    if !file.starts_with(MAGIC) {
        return Err(if file.len() < MAGIC.len() && MAGIC.starts_with(file) {
            ImageError::TruncatedHeader(file.len())
        } else {
            ImageError::NotAnImage
        });
    }
    let Some((header, rest)) = file.split_first_chunk::<HEADER_LEN>() else {
        return Err(ImageError::TruncatedHeader(file.len()));
    };
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]) as usize
    };
    let version = u16::from_be_bytes([header[8], header[9]]);
    if version != VERSION {
        return Err(ImageError::UnsupportedVersion(version));
    }
    let (capacity, stored, fill) = (be32(12), be32(16), header[20]);
    if capacity > MAX_CAPACITY {
        return Err(ImageError::BadHeader("capacity over 16 MiB"));
    }
    if stored > capacity {
        return Err(ImageError::BadHeader("more stored bytes than capacity"));
    }
    if rest.len() != stored {
        return Err(ImageError::WrongLength {
            expected: HEADER_LEN + stored,
            actual: file.len(),
        });
    }
    if checksum(&header[..24], rest) != header[24..HEADER_LEN] {
        return Err(ImageError::ChecksumMismatch);
    }
    if header[10..12] != [0, 0] || header[21..24] != [0, 0, 0] {
        return Err(ImageError::BadHeader("reserved bytes are not zero"));
    }
    let mut memory = rest.to_vec();
    memory.resize(capacity, fill);
    Ok(memory)
}

/// Reads and checks a card image file.
pub fn load(path: &Path) -> Result<Vec<u8>, TransportError> {
    let file = fs::read(path).map_err(|source| TransportError::ImageIo {
        path: path.display().to_string(),
        source,
    })?;
    decode(&file).map_err(|reason| TransportError::DamagedImage {
        path: path.display().to_string(),
        reason,
    })
}

/// The temporary file a save writes before renaming it over `path` ("demo.card" → "demo.card.tmp").
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes a card image atomically: a reader of `path` sees the old image or the new one.
pub fn save(path: &Path, memory: &[u8]) -> Result<(), TransportError> {
    let io = |source| TransportError::ImageIo {
        path: path.display().to_string(),
        source,
    };
    let temporary = temporary_path(path);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)?;
        file.write_all(&encode(memory))?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        // Best effort: the error that matters is the one above.
        let _ = fs::remove_file(&temporary);
        return Err(io(e));
    }
    // The rename is durable only once the directory entry is.
    let directory = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(directory).and_then(|d| d.sync_all()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn memory() -> Vec<u8> {
        let mut m = vec![0xFF; 4096];
        m[..5].copy_from_slice(b"SSC1\x01");
        m[100] = 0x42;
        m
    }

    #[test]
    fn stores_only_the_used_prefix() {
        let file = encode(&memory());
        assert_eq!(file.len(), HEADER_LEN + 101);
        assert_eq!(decode(&file).unwrap(), memory());
        assert_eq!(decode(&encode(&[])).unwrap(), Vec::<u8>::new());
        assert_eq!(encode(&[0xFF; 10]).len(), HEADER_LEN);
    }

    #[test]
    fn every_kind_of_damage_is_named() {
        let good = encode(&memory());
        assert_eq!(decode(b"hello").unwrap_err(), ImageError::NotAnImage);
        assert_eq!(
            decode(b"SSCIM").unwrap_err(),
            ImageError::TruncatedHeader(5)
        );
        assert_eq!(
            decode(&good[..40]).unwrap_err(),
            ImageError::TruncatedHeader(40)
        );
        assert!(matches!(
            decode(&good[..good.len() - 1]).unwrap_err(),
            ImageError::WrongLength { .. }
        ));
        let mut v2 = good.clone();
        v2[9] = 2;
        assert_eq!(decode(&v2).unwrap_err(), ImageError::UnsupportedVersion(2));
        let mut flipped = good.clone();
        flipped[HEADER_LEN + 3] ^= 1;
        assert_eq!(decode(&flipped).unwrap_err(), ImageError::ChecksumMismatch);
    }

    proptest! {
        #[test]
        fn round_trips(prefix in proptest::collection::vec(any::<u8>(), 0..300), tail in 0usize..300, fill in any::<u8>()) {
            let mut m = prefix;
            m.resize(m.len() + tail, fill);
            prop_assert_eq!(decode(&encode(&m)).unwrap(), m);
        }

        #[test]
        fn any_flipped_bit_is_refused(at in 0usize..(HEADER_LEN + 101), bit in 0u8..8) {
            let mut file = encode(&memory());
            file[at] ^= 1 << bit;
            prop_assert!(decode(&file).is_err());
        }

        #[test]
        fn decode_never_panics(mut file in proptest::collection::vec(any::<u8>(), 0..120), magic in any::<bool>()) {
            if magic && file.len() >= 8 {
                file[..8].copy_from_slice(MAGIC);
            }
            let _ = decode(&file);
        }
    }

    #[test]
    fn save_replaces_atomically_and_leaves_no_temporary() {
        let dir = crate::testdir::TestDir::new("image-save");
        let path = dir.path().join("a.card");
        save(&path, &memory()).unwrap();
        assert_eq!(load(&path).unwrap(), memory());
        let mut changed = memory();
        changed[7] = 7;
        save(&path, &changed).unwrap();
        assert_eq!(load(&path).unwrap(), changed);
        assert!(!temporary_path(&path).exists());
        assert_eq!(temporary_path(&path).file_name().unwrap(), "a.card.tmp");
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_path() {
        let dir = crate::testdir::TestDir::new("image-damaged");
        let path = dir.path().join("bad.card");
        let mut file = encode(&memory());
        let last = file.len() - 1;
        file[last] ^= 0x80;
        fs::write(&path, file).unwrap();
        let e = load(&path).unwrap_err();
        assert!(
            matches!(
                &e,
                TransportError::DamagedImage {
                    reason: ImageError::ChecksumMismatch,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("bad.card"));
        let missing = load(&dir.path().join("missing.card")).unwrap_err();
        assert!(matches!(missing, TransportError::ImageIo { .. }));
    }
}
