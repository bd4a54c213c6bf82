//! One owner per card image: an advisory lock on a lock file beside the image, held for the
//! whole session (from opening the image to its last save).
//!
//! Why a separate file (`NAME.lock`) and not the image: a save renames a new file over the image,
//! and a lock on the old file would not exclude a process that opens the new one.
//!
//! Why std's `File::try_lock` (flock(2) on Unix, stable since Rust 1.89, the workspace's minimum):
//! it needs no extra crate and no `unsafe`; it belongs to the open file, so it excludes other
//! threads of the same process as well as other processes (fcntl's POSIX locks would not); and the
//! kernel drops it when the owner dies, however it dies, so a killed sscard leaves no stale lock.
//!
//! The owner writes its process id into the file, so a refused process can name it, and removes
//! the file before letting the lock go. Whoever then gets the lock on the removed file sees that
//! the name no longer leads to it and starts again with a fresh file: two owners can never hold
//! locks on two different files of the same name.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::transport::TransportError;

/// How often a waiting process tries the lock again.
const POLL: Duration = Duration::from_millis(10);
/// The owner's pid is written right-aligned in this many digits and a newline, always at offset 0,
/// so a reader sees one whole pid or another, never a mix of a long and a short one.
const PID_WIDTH: usize = 10;

/// The lock file of an image: `demo.card` → `demo.card.lock`, in the same directory.
pub fn lock_path(image: &Path) -> PathBuf {
    let mut name = image
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    image.with_file_name(name)
}

/// Ownership of one card image; dropping it gives the image up.
#[derive(Debug)]
pub struct ImageLock {
    /// Holds the lock: closing it is unlocking.
    _file: File,
    path: PathBuf,
}

impl ImageLock {
    /// Takes ownership of the image at `image` (symlinks already resolved), waiting at most `wait`
    /// for its current owner to finish. `shown` is the image as the user named it, for messages.
    pub fn acquire(image: &Path, shown: &Path, wait: Duration) -> Result<Self, TransportError> {
        let path = lock_path(image);
        let io = |source| TransportError::ImageIo {
            path: path.display().to_string(),
            source,
        };
        // None only for a wait the clock cannot represent (the CLI caps --wait-image at a day):
        // that caller asked to wait until the owner lets go.
        let deadline = Instant::now().checked_add(wait);
        loop {
            let file = open_no_follow(&path).map_err(io)?;
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) => {
                        let left =
                            deadline.map_or(POLL, |d| d.saturating_duration_since(Instant::now()));
                        if left.is_zero() {
                            return Err(TransportError::ImageInUse {
                                path: shown.display().to_string(),
                                owner: owner_of(&file),
                            });
                        }
                        thread::sleep(POLL.min(left));
                    }
                    Err(TryLockError::Error(source)) => return Err(io(source)),
                }
            }
            // The previous owner may have removed this file just before unlocking it: then the
            // lock is on a file nobody else will open, and the name must be locked afresh.
            if still_named(&file, &path).map_err(io)? {
                record_owner(&file).map_err(io)?;
                return Ok(ImageLock { _file: file, path });
            }
        }
    }
}

impl Drop for ImageLock {
    fn drop(&mut self) {
        // Removed while still locked (see the module's note); the lock goes with the file handle.
        // A failure leaves an unlocked file, which the next owner simply reuses.
        let _ = fs::remove_file(&self.path);
    }
}

/// Writes this process's id into the lock file it has just locked.
fn record_owner(mut file: &File) -> io::Result<()> {
    let pid = format!("{:>PID_WIDTH$}\n", std::process::id());
    file.seek(SeekFrom::Start(0))?;
    file.write_all(pid.as_bytes())?;
    file.set_len(pid.len() as u64)
}

/// Opens (or creates) the lock file, never through a symlink planted at its name.
fn open_no_follow(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o644).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Whether `path` still names the file `file` is open on.
fn still_named(file: &File, path: &Path) -> io::Result<bool> {
    let named = match fs::symlink_metadata(path) {
        Ok(named) => named,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let open = file.metadata()?;
        Ok(open.dev() == named.dev() && open.ino() == named.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (file, named);
        Ok(true)
    }
}

/// The pid the current owner wrote, if it has written it yet.
fn owner_of(file: &File) -> Option<u32> {
    // The owner writes its pid a moment after it gets the lock: give it that moment.
    for _ in 0..3 {
        let mut text = String::new();
        let mut reader = file;
        let read = reader
            .seek(SeekFrom::Start(0))
            .and_then(|_| reader.read_to_string(&mut text));
        if let Ok(pid) = text.trim().parse() {
            return Some(pid);
        }
        if read.is_err() {
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
    None
}
