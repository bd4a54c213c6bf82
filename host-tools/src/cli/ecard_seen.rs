//! An offline terminal's memory of the codes it accepted, across runs of `sscard ecard verify
//! --offline --seen FILE`: each nonce with its code's expiry, in a JSON file that is locked while
//! a code is checked and recorded, so two runs at once cannot both accept one code.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sscard_ecard::replay::DEFAULT_REPLAY_CAPACITY;
use sscard_ecard::{FirstUse, ReplayGuard, UnixTime, VerifiedCode};

/// How long a run waits for another run holding the file.
const LOCK_WAIT: Duration = Duration::from_secs(5);
/// The largest file read: [`DEFAULT_REPLAY_CAPACITY`] entries of about 40 bytes fit well.
const MAX_SEEN_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why the seen-codes file could not answer; the code is then refused (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum SeenFileError {
    #[error("the seen-codes file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the seen-codes file {path} is not one: {source}")]
    Format {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the seen-codes file {path} stayed in use by another run for {} s", LOCK_WAIT.as_secs())]
    Busy { path: String },
    #[error("the seen-codes file holds {0} unexpired codes, its limit")]
    Full(usize),
}

/// The file-backed replay guard.
pub struct SeenFile {
    path: PathBuf,
}

impl SeenFile {
    pub fn new(path: &Path) -> SeenFile {
        SeenFile {
            path: path.to_owned(),
        }
    }

    fn io(&self) -> impl Fn(std::io::Error) -> SeenFileError + '_ {
        |source| SeenFileError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// The lock beside the file (the file itself is replaced whole, so it cannot hold a lock).
    fn lock(&self) -> Result<File, SeenFileError> {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(PathBuf::from(name))
            .map_err(self.io())?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match lock.try_lock() {
                Ok(()) => return Ok(lock),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(SeenFileError::Busy {
                        path: self.path.display().to_string(),
                    })
                }
                Err(TryLockError::Error(e)) => return Err(self.io()(e)),
            }
        }
    }

    fn load(&self) -> Result<BTreeMap<String, u64>, SeenFileError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.io()(e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_SEEN_FILE_BYTES)
            .read_to_end(&mut bytes)
            .map_err(self.io())?;
        serde_json::from_slice(&bytes).map_err(|source| SeenFileError::Format {
            path: self.path.display().to_string(),
            source,
        })
    }
}

impl ReplayGuard for SeenFile {
    type Error = SeenFileError;

    fn record_first_use(
        &self,
        code: &VerifiedCode,
        now: UnixTime,
    ) -> Result<FirstUse, SeenFileError> {
        let _lock = self.lock()?;
        let mut seen = self.load()?;
        // Past its expiry a code is refused as expired anyway: no need to remember it.
        seen.retain(|_, expires_at| *expires_at > now.secs());
        let nonce = code.nonce.to_string();
        if seen.contains_key(&nonce) {
            return Ok(FirstUse::Replayed);
        }
        if seen.len() >= DEFAULT_REPLAY_CAPACITY {
            return Err(SeenFileError::Full(seen.len()));
        }
        seen.insert(nonce, code.expires_at.secs());
        let bytes = serde_json::to_vec(&seen).map_err(|source| SeenFileError::Format {
            path: self.path.display().to_string(),
            source,
        })?;
        super::ecard::replace_file(&self.path, &bytes).map_err(self.io())?;
        Ok(FirstUse::Fresh)
    }
}
