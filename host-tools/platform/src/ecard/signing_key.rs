//! The platform's SM2 signing key for QR codes: `--ecard-key FILE`, or a key generated on the
//! first start into the data directory (PKCS#8 PEM, mode 0600, never overwritten).

use std::path::{Path, PathBuf};

use sscard_ecard::{KeyError, PlatformSecretKey, PublicKeySet};

/// The key file's name in the data directory when no `--ecard-key` is given.
pub const DEFAULT_KEY_FILE: &str = "sscard-ecard-key.pem";

/// The key at `explicit` (which must exist), or the data directory's, generated there when
/// missing. Answers the key and the file it came from.
pub fn load_or_generate(
    data_dir: &Path,
    explicit: Option<&Path>,
) -> Result<(PlatformSecretKey, PathBuf), KeyError> {
    if let Some(path) = explicit {
        return Ok((PlatformSecretKey::load(path)?, path.to_owned()));
    }
    let path = data_dir.join(DEFAULT_KEY_FILE);
    if path.exists() {
        return Ok((PlatformSecretKey::load(&path)?, path));
    }
    let key = PlatformSecretKey::generate()?;
    key.save_pem(&path)?;
    Ok((key, path))
}

/// The key set terminals verify with: the current key's public half.
pub fn published(key: &PlatformSecretKey) -> Result<PublicKeySet, KeyError> {
    let mut set = PublicKeySet::new();
    set.insert(key.public_key().clone())?;
    Ok(set)
}
