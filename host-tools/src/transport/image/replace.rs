//! Replacing a card image atomically, without following links and without changing who may
//! read or write it.
//!
//! The new image is written to a temporary file in the image's directory whose name is unique
//! (process id, a counter and a random number) and which is created exclusively (`O_CREAT |
//! O_EXCL`, and `O_NOFOLLOW`): a file or symlink planted at that name makes the attempt fail and
//! another name is tried, it is never opened. The file gets the image's mode (and owner, when that
//! differs), is fsynced, renamed over the image, and the directory is fsynced, so a crash leaves
//! the old image or the new one.

use std::fs::{self, File, Metadata, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::ReadOnly;
use crate::transport::TransportError;

/// Names tried before giving up (each is unique and unpredictable, so one is almost always enough).
const ATTEMPTS: usize = 16;

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary name beside `image`: `demo.card.<pid>-<counter>-<random>.tmp`.
pub(super) fn temporary_path(image: &Path) -> PathBuf {
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((std::process::id(), sequence));
    let mut name = image
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(
        ".{}-{sequence}-{:08x}.tmp",
        std::process::id(),
        random as u32
    ));
    image.with_file_name(name)
}

/// Creates `path` for writing only if nothing (not even a dangling symlink) is there.
fn create_exclusive(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Creates the first name of `names` that is free; a taken name is never opened.
pub(super) fn create_temporary(
    names: impl IntoIterator<Item = PathBuf>,
) -> io::Result<(File, PathBuf)> {
    let mut last = io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary name");
    for path in names.into_iter().take(ATTEMPTS) {
        match create_exclusive(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Why the image at `real` cannot be replaced by this process, checked before anything is written.
pub(super) fn writable(real: &Path, shown: &Path) -> Result<Option<Metadata>, TransportError> {
    let io = |source| TransportError::ImageIo {
        path: shown.display().to_string(),
        source,
    };
    let existing = match fs::symlink_metadata(real) {
        Ok(m) => m,
        // Not there (a new image, or removed by hand): it is simply written.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    if !existing.file_type().is_file() {
        return Err(io(io::Error::other("it is no longer a regular file")));
    }
    let read_only = |reason| TransportError::ImageReadOnly {
        path: shown.display().to_string(),
        reason,
    };
    // The mode is the user's word, even for root, whom the permission check below never stops.
    if existing.permissions().readonly() {
        return Err(read_only(ReadOnly::Mode(mode_of(&existing))));
    }
    let mut probe = OpenOptions::new();
    probe.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        probe.custom_flags(libc::O_NOFOLLOW);
    }
    match probe.open(real) {
        Ok(_) => Ok(Some(existing)),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            Err(read_only(ReadOnly::NotWritable))
        }
        Err(e) => Err(io(e)),
    }
}

fn mode_of(metadata: &Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.permissions().mode() & 0o7777
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        0o444
    }
}

/// Gives the new file the image's owner (when it differs) and then its mode.
fn keep_owner_and_mode(file: &File, image: &Metadata, shown: &Path) -> Result<(), TransportError> {
    let io = |source| TransportError::ImageIo {
        path: shown.display().to_string(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let new = file.metadata().map_err(io)?;
        if (new.uid(), new.gid()) != (image.uid(), image.gid()) {
            std::os::unix::fs::fchown(file, Some(image.uid()), Some(image.gid())).map_err(|e| {
                if e.kind() == io::ErrorKind::PermissionDenied {
                    TransportError::ImageReadOnly {
                        path: shown.display().to_string(),
                        reason: ReadOnly::OtherOwner { uid: image.uid() },
                    }
                } else {
                    io(e)
                }
            })?;
        }
    }
    // After the owner: a change of owner may clear set-id bits.
    file.set_permissions(image.permissions()).map_err(io)
}

/// Replaces the image at `real` (symlinks resolved) with `bytes`. The caller owns the image.
pub(super) fn replace(real: &Path, shown: &Path, bytes: &[u8]) -> Result<(), TransportError> {
    let existing = writable(real, shown)?;
    let io = |source| TransportError::ImageIo {
        path: shown.display().to_string(),
        source,
    };
    let (mut file, temporary) =
        create_temporary(std::iter::repeat_with(|| temporary_path(real))).map_err(io)?;
    let written = (|| {
        file.write_all(bytes).map_err(io)?;
        if let Some(image) = &existing {
            keep_owner_and_mode(&file, image, shown)?;
        }
        file.sync_all().map_err(io)?;
        fs::rename(&temporary, real).map_err(io)
    })();
    if let Err(e) = written {
        // Best effort: the error that matters is the one above.
        let _ = fs::remove_file(&temporary);
        return Err(e);
    }
    // The rename is durable only once the directory entry is.
    let directory = match real.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(directory).and_then(|d| d.sync_all()).map_err(io)
}
