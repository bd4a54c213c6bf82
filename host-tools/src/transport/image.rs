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
//!
//! A card image has one owner at a time, a [`CardImage`]: it holds the image's lock ([`lock`])
//! from opening to its last save, so no other process or thread can save a stale copy of the
//! card over a change that was acknowledged. Replacing the file ([`replace`]) keeps its mode and
//! owner, never follows a link, and refuses a read-only image.

mod lock;
mod replace;

use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::TransportError;

pub use lock::lock_path;

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

/// Why a card image may not be changed. A read-only image is never replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadOnly {
    #[error("its mode {0:04o} lets nobody write it")]
    Mode(u32),
    #[error("this user may not write it")]
    NotWritable,
    #[error("it belongs to user {uid}, and a new copy could not be given to that user")]
    OtherOwner { uid: u32 },
}

/// Reads and checks a card image file. Reading needs no ownership: a save replaces the whole file
/// at once, so a reader sees one complete image or the next.
pub fn load(path: &Path) -> Result<Vec<u8>, TransportError> {
    load_as(path, path)
}

fn load_as(real: &Path, shown: &Path) -> Result<Vec<u8>, TransportError> {
    let file = fs::read(real).map_err(|source| TransportError::ImageIo {
        path: shown.display().to_string(),
        source,
    })?;
    decode(&file).map_err(|reason| TransportError::DamagedImage {
        path: shown.display().to_string(),
        reason,
    })
}

/// A card image and its one owner, this value: the image's lock is held until it is dropped.
#[derive(Debug)]
pub struct CardImage {
    /// As the user named it, for messages.
    shown: PathBuf,
    /// Symlinks resolved: where the image, its lock and its temporary files are, so two names for
    /// one image share one lock, and a symlink the user made stays a symlink.
    real: PathBuf,
    _lock: lock::ImageLock,
}

impl CardImage {
    /// Takes ownership of an existing image, waiting at most `wait` for another owner to finish
    /// ([`TransportError::ImageInUse`] after that), and reads it.
    pub fn open(path: &Path, wait: Duration) -> Result<(CardImage, Vec<u8>), TransportError> {
        let real = fs::canonicalize(path).map_err(|source| TransportError::ImageIo {
            path: path.display().to_string(),
            source,
        })?;
        let lock = lock::ImageLock::acquire(&real, path, wait)?;
        let memory = load_as(&real, path)?;
        let image = CardImage {
            shown: path.to_path_buf(),
            real,
            _lock: lock,
        };
        Ok((image, memory))
    }

    /// Takes ownership of `path` to write an image there, whether or not one exists yet.
    pub fn create(path: &Path, wait: Duration) -> Result<CardImage, TransportError> {
        let io = |source| TransportError::ImageIo {
            path: path.display().to_string(),
            source,
        };
        let real = match fs::canonicalize(path) {
            Ok(real) => real,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let name = path.file_name().ok_or_else(|| {
                    io(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "the path names no file",
                    ))
                })?;
                let directory = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                fs::canonicalize(directory).map_err(io)?.join(name)
            }
            Err(e) => return Err(io(e)),
        };
        let lock = lock::ImageLock::acquire(&real, path, wait)?;
        Ok(CardImage {
            shown: path.to_path_buf(),
            real,
            _lock: lock,
        })
    }

    /// The image as the user named it.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// Refuses an image this process may not replace ([`TransportError::ImageReadOnly`]).
    pub fn check_writable(&self) -> Result<(), TransportError> {
        replace::writable(&self.real, &self.shown).map(|_| ())
    }

    /// Replaces the image with `memory`, atomically, keeping its mode and owner.
    pub fn save(&self, memory: &[u8]) -> Result<(), TransportError> {
        replace::replace(&self.real, &self.shown, &encode(memory))
    }
}

/// Writes a card image atomically, as its owner for that moment: refused at once
/// ([`TransportError::ImageInUse`]) while another process or thread has the image open.
pub fn save(path: &Path, memory: &[u8]) -> Result<(), TransportError> {
    CardImage::create(path, Duration::ZERO)?.save(memory)
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

    /// The names in a directory, sorted.
    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn save_replaces_atomically_and_leaves_no_temporary_nor_lock() {
        let dir = crate::testdir::TestDir::new("image-save");
        let path = dir.path().join("a.card");
        save(&path, &memory()).unwrap();
        assert_eq!(load(&path).unwrap(), memory());
        let mut changed = memory();
        changed[7] = 7;
        save(&path, &changed).unwrap();
        assert_eq!(load(&path).unwrap(), changed);
        assert_eq!(names_in(dir.path()), ["a.card"]);
    }

    #[test]
    fn temporary_names_are_unique_and_beside_the_image() {
        let image = Path::new("/some/dir/a.card");
        let names: std::collections::HashSet<PathBuf> =
            (0..1000).map(|_| replace::temporary_path(image)).collect();
        assert_eq!(names.len(), 1000);
        let prefix = format!("a.card.{}-", std::process::id());
        for name in &names {
            assert_eq!(name.parent(), image.parent());
            let file = name.file_name().unwrap().to_str().unwrap();
            assert!(
                file.starts_with(&prefix) && file.ends_with(".tmp"),
                "{file}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_or_file_at_a_temporary_name_is_never_opened() {
        use std::os::unix::fs::symlink;
        let dir = crate::testdir::TestDir::new("image-symlink-tmp");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let planted = [
            dir.path().join("a.card.tmp"),
            dir.path().join("a.card.1-0-00000000.tmp"),
            dir.path().join("a.card.2-0-00000000.tmp"),
        ];
        symlink(&victim, &planted[0]).unwrap();
        symlink(dir.path().join("nowhere"), &planted[1]).unwrap();
        fs::write(&planted[2], b"someone's file").unwrap();
        let free = dir.path().join("a.card.3-0-00000000.tmp");
        let names = planted.iter().cloned().chain([free.clone()]);
        let (mut file, chosen) = replace::create_temporary(names).unwrap();
        assert_eq!(chosen, free);
        std::io::Write::write_all(&mut file, b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(
            !dir.path().join("nowhere").exists(),
            "a dangling link is not created through"
        );
        assert_eq!(fs::read(&planted[2]).unwrap(), b"someone's file");
        assert!(fs::symlink_metadata(&planted[0])
            .unwrap()
            .file_type()
            .is_symlink());
        // Only planted names: the attempt fails rather than open any of them.
        let e = replace::create_temporary(planted.iter().cloned()).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_lock_name_is_not_followed() {
        let dir = crate::testdir::TestDir::new("image-symlink-lock");
        let path = dir.path().join("a.card");
        save(&path, &memory()).unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, lock_path(&path)).unwrap();
        let e = CardImage::open(&path, Duration::ZERO).unwrap_err();
        assert!(matches!(e, TransportError::ImageIo { .. }), "{e:?}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_save_keeps_the_image_mode_and_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = crate::testdir::TestDir::new("image-mode");
        let path = dir.path().join("a.card");
        save(&path, &memory()).unwrap();
        for kept in [0o640, 0o604, 0o600, 0o666] {
            set_mode(&path, kept);
            let before = fs::metadata(&path).unwrap();
            let (image, mut m) = CardImage::open(&path, Duration::ZERO).unwrap();
            m[9] = kept as u8;
            image.save(&m).unwrap();
            drop(image);
            let after = fs::metadata(&path).unwrap();
            assert_ne!(before.ino(), after.ino(), "the image was replaced");
            assert_eq!(mode(&path), kept);
            assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
            assert_eq!(load(&path).unwrap(), m);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_image_is_read_but_never_replaced() {
        let dir = crate::testdir::TestDir::new("image-read-only");
        let path = dir.path().join("a.card");
        save(&path, &memory()).unwrap();
        set_mode(&path, 0o444);
        let before = fs::read(&path).unwrap();
        let (image, m) = CardImage::open(&path, Duration::ZERO).unwrap();
        assert_eq!(m, memory(), "a read-only image can be read");
        let e = image.check_writable().unwrap_err();
        assert!(
            matches!(
                &e,
                TransportError::ImageReadOnly {
                    reason: ReadOnly::Mode(0o444),
                    ..
                }
            ),
            "{e:?}"
        );
        let mut changed = m.clone();
        changed[3] ^= 1;
        let e = image.save(&changed).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the card image {} is read-only (its mode 0444 lets nobody write it), and sscard does not change a read-only image: nothing was saved",
                path.display()
            )
        );
        drop(image);
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(mode(&path), 0o444);
        assert_eq!(names_in(dir.path()), ["a.card"], "no temporary file left");
        // The one-shot save (sim new, personalise) refuses it too.
        assert!(matches!(
            save(&path, &changed),
            Err(TransportError::ImageReadOnly { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_second_owner_is_refused_with_the_first_owners_pid() {
        let dir = crate::testdir::TestDir::new("image-in-use");
        let path = dir.path().join("a.card");
        save(&path, &memory()).unwrap();
        let (first, _) = CardImage::open(&path, Duration::ZERO).unwrap();
        let pid = std::process::id();
        let recorded = fs::read_to_string(lock_path(&path)).unwrap();
        assert_eq!(recorded.trim().parse::<u32>().unwrap(), pid);
        // Another thread of the same process is another owner, refused like another process.
        let refused = std::thread::scope(|s| {
            s.spawn(|| CardImage::open(&path, Duration::ZERO).unwrap_err())
                .join()
                .unwrap()
        });
        assert!(
            matches!(refused, TransportError::ImageInUse { owner: Some(p), .. } if p == pid),
            "{refused:?}"
        );
        assert_eq!(
            refused.to_string(),
            format!(
                "the card image {} is in use by process {pid}: one program at a time may use a card image",
                path.display()
            )
        );
        // Writing a new image over it (sim new, personalise) is refused as well.
        assert!(matches!(
            save(&path, &[0; 8]),
            Err(TransportError::ImageInUse { .. })
        ));
        drop(first);
        assert!(
            !lock_path(&path).exists(),
            "the lock file goes with its owner"
        );
        CardImage::open(&path, Duration::ZERO).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn two_names_for_one_image_share_its_lock_and_a_symlink_stays_one() {
        let dir = crate::testdir::TestDir::new("image-two-names");
        let path = dir.path().join("a.card");
        save(&path, &memory()).unwrap();
        let link = dir.path().join("link.card");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let (through_link, mut m) = CardImage::open(&link, Duration::ZERO).unwrap();
        assert!(matches!(
            CardImage::open(&path, Duration::ZERO),
            Err(TransportError::ImageInUse { .. })
        ));
        m[1] = 0x11;
        through_link.save(&m).unwrap();
        drop(through_link);
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(load(&path).unwrap(), m);
    }

    #[test]
    fn a_lock_file_left_by_a_killed_owner_does_not_stop_the_next() {
        let dir = crate::testdir::TestDir::new("image-stale-lock");
        let path = dir.path().join("a.card");
        save(&path, &memory()).unwrap();
        fs::write(lock_path(&path), "     99999\n").unwrap();
        let (_image, m) = CardImage::open(&path, Duration::ZERO).unwrap();
        assert_eq!(m, memory());
        let recorded = fs::read_to_string(lock_path(&path)).unwrap();
        assert_eq!(recorded.trim().parse::<u32>().unwrap(), std::process::id());
    }

    #[test]
    fn waiting_for_the_image_has_a_bound() {
        let dir = crate::testdir::TestDir::new("image-wait");
        let path = dir.path().join("a.card");
        save(&path, &memory()).unwrap();
        let (held, _) = CardImage::open(&path, Duration::ZERO).unwrap();
        let start = std::time::Instant::now();
        let e = CardImage::open(&path, Duration::from_millis(300)).unwrap_err();
        let waited = start.elapsed();
        assert!(matches!(e, TransportError::ImageInUse { .. }), "{e:?}");
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
        // Given up within the bound, the image is taken as soon as its owner lets go.
        std::thread::scope(|s| {
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                drop(held);
            });
            let start = std::time::Instant::now();
            let (_image, m) = CardImage::open(&path, Duration::from_secs(20)).unwrap();
            assert_eq!(m, memory());
            assert!(start.elapsed() >= Duration::from_millis(150));
            assert!(start.elapsed() < Duration::from_secs(10));
        });
    }

    #[test]
    fn threads_counting_on_one_image_lose_no_increment() {
        let dir = crate::testdir::TestDir::new("image-threads");
        let path = dir.path().join("a.card");
        save(&path, &[0; 64]).unwrap();
        const THREADS: u32 = 8;
        const ROUNDS: u32 = 25;
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    for _ in 0..ROUNDS {
                        // Read, add one, write back: the classic lost update, unless one owner.
                        let (image, mut m) =
                            CardImage::open(&path, Duration::from_secs(60)).unwrap();
                        let count = u32::from_be_bytes([m[0], m[1], m[2], m[3]]) + 1;
                        m[..4].copy_from_slice(&count.to_be_bytes());
                        image.save(&m).unwrap();
                        // Meanwhile nobody sees a partial image.
                        assert!(load(&path).is_ok());
                    }
                });
            }
        });
        let m = load(&path).unwrap();
        assert_eq!(
            u32::from_be_bytes([m[0], m[1], m[2], m[3]]),
            THREADS * ROUNDS
        );
        assert_eq!(names_in(dir.path()), ["a.card"]);
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
