//! The platform's SM2 keys: generation, PKCS#8 PEM and hex files, key ids, the verifier's key set.

use crate::ids::KeyId;
use serde::{Deserialize, Serialize};
use sm2::dsa::VerifyingKey;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use sm2::{PublicKey, SecretKey};
use sm3::{Digest, Sm3};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

/// The SM2 distinguishing identifier (ID_A of GB/T 32918.2) of the platform: the default
/// "1234567812345678" of GM/T 0009, which the signer and every verifier must use alike.
pub const DISTINGUISHING_ID: &str = "1234567812345678";

/// Largest key file read; a PEM key is about 250 bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

/// Why a key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random generator failed")]
    Random,
    #[error("the key is not a valid SM2 key in {format}")]
    Format { format: &'static str },
    #[error("the key file {path} is larger than {MAX_KEY_FILE_BYTES} bytes")]
    FileTooLarge { path: String },
    #[error("cannot read or write the key file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("two keys in the set have the same key id {0}")]
    DuplicateKeyId(KeyId),
}

/// The platform's secret signing key. Its Debug output shows only the key id, and its memory
/// is wiped on drop (the inner `SecretKey` zeroizes itself; every text form is `Zeroizing`).
pub struct PlatformSecretKey {
    // `SecretKey` wipes its scalar on drop; `assert_wiped_on_drop` below keeps it so.
    secret: SecretKey,
    public: PlatformPublicKey,
}

const _: () = {
    const fn assert_wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    assert_wiped_on_drop::<SecretKey>();
};

impl PlatformSecretKey {
    /// A new key from the operating system's random generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        // Rejection sampling: a draw of zero or >= n is not a key; this ends almost at once.
        loop {
            getrandom::fill(bytes.as_mut_slice()).map_err(|_| KeyError::Random)?;
            if let Ok(key) = SecretKey::from_slice(bytes.as_slice()) {
                return Self::from_secret(key);
            }
        }
    }

    /// From 64 hexadecimal digits (the big-endian scalar).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let format = || KeyError::Format {
            format: "hex (64 digits)",
        };
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), bytes.as_mut_slice()).map_err(|_| format())?;
        let secret = SecretKey::from_slice(bytes.as_slice()).map_err(|_| format())?;
        Self::from_secret(secret)
    }

    fn from_secret(secret: SecretKey) -> Result<Self, KeyError> {
        let public = PlatformPublicKey::from_point(secret.public_key())?;
        Ok(Self { secret, public })
    }

    /// The 64 hexadecimal digits of the scalar.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.secret.to_bytes()))
    }

    /// From an unencrypted PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`, as OpenSSL writes).
    pub fn from_pkcs8_pem(text: &str) -> Result<Self, KeyError> {
        let secret = SecretKey::from_pkcs8_pem(text).map_err(|_| KeyError::Format {
            format: "PKCS#8 PEM",
        })?;
        Self::from_secret(secret)
    }

    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Format {
                format: "PKCS#8 PEM",
            })
    }

    /// Reads a key file: PKCS#8 PEM when it starts with `-----BEGIN`, otherwise hex.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = Zeroizing::new(read_bounded(path)?);
        if text.trim_start().starts_with("-----BEGIN") {
            Self::from_pkcs8_pem(&text)
        } else {
            Self::from_hex(&text)
        }
    }

    /// Writes the key as PKCS#8 PEM to a new file, readable by its owner only; never overwrites.
    pub fn save_pem(&self, path: &Path) -> Result<(), KeyError> {
        let pem = self.to_pkcs8_pem()?;
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(pem.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    pub fn public_key(&self) -> &PlatformPublicKey {
        &self.public
    }

    pub(crate) fn secret(&self) -> &SecretKey {
        &self.secret
    }
}

impl fmt::Debug for PlatformSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PlatformSecretKey {{ key_id: {}, secret: <redacted> }}",
            self.public.key_id()
        )
    }
}

fn read_bounded(path: &Path) -> Result<String, KeyError> {
    use std::io::Read;
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // Room for the whole bounded read up front, so no partial copy of a key is left behind in a
    // reallocated buffer.
    let mut text = String::with_capacity(MAX_KEY_FILE_BYTES as usize + 1);
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(KeyError::FileTooLarge {
            path: path.display().to_string(),
        });
    }
    Ok(text)
}

/// A platform public key with its key id, ready to verify.
#[derive(Clone)]
pub struct PlatformPublicKey {
    point: PublicKey,
    verifying: VerifyingKey,
    id: KeyId,
}

impl PlatformPublicKey {
    fn from_point(point: PublicKey) -> Result<Self, KeyError> {
        let sec1 = point.to_sec1_point(false);
        let digest = Sm3::digest(sec1.as_bytes());
        let mut id = [0u8; 4];
        id.copy_from_slice(digest.get(..4).unwrap_or(&[0; 4]));
        // The verifying key precomputes Z_A from the distinguishing id and the point.
        let verifying =
            VerifyingKey::new(DISTINGUISHING_ID, point).map_err(|_| KeyError::Format {
                format: "an SM2 public key",
            })?;
        Ok(Self {
            point,
            verifying,
            id: KeyId(u32::from_be_bytes(id)),
        })
    }

    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The uncompressed SEC1 point `04 || x || y` in hex (130 digits).
    pub fn to_sec1_hex(&self) -> String {
        hex::encode(self.point.to_sec1_point(false).as_bytes())
    }

    /// From SEC1 hex, compressed or uncompressed.
    pub fn from_sec1_hex(text: &str) -> Result<Self, KeyError> {
        let format = || KeyError::Format { format: "SEC1 hex" };
        let bytes = hex::decode(text.trim()).map_err(|_| format())?;
        Self::from_point(PublicKey::from_sec1_bytes(&bytes).map_err(|_| format())?)
    }

    /// From a SubjectPublicKeyInfo PEM document (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_public_key_pem(text: &str) -> Result<Self, KeyError> {
        Self::from_point(
            PublicKey::from_public_key_pem(text).map_err(|_| KeyError::Format {
                format: "public key PEM",
            })?,
        )
    }

    pub fn to_public_key_pem(&self) -> Result<String, KeyError> {
        self.point
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| KeyError::Format {
                format: "public key PEM",
            })
    }

    /// Reads a public key file: PEM when it starts with `-----BEGIN`, otherwise SEC1 hex.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = read_bounded(path)?;
        if text.trim_start().starts_with("-----BEGIN") {
            Self::from_public_key_pem(&text)
        } else {
            Self::from_sec1_hex(&text)
        }
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }
}

impl fmt::Debug for PlatformPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlatformPublicKey({}: {})", self.id, self.to_sec1_hex())
    }
}

impl PartialEq for PlatformPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.point == other.point
    }
}

impl Eq for PlatformPublicKey {}

/// The platform keys a verifier trusts, by key id: the current one and those still in rotation.
/// Serialised as a JSON list of SEC1 hex points, which the back office can publish.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct PublicKeySet(BTreeMap<KeyId, PlatformPublicKey>);

impl PublicKeySet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key; refuses a second key with the same id (a 32-bit id collision), and accepts
    /// the same key again.
    pub fn insert(&mut self, key: PlatformPublicKey) -> Result<(), KeyError> {
        match self.0.get(&key.key_id()) {
            Some(existing) if *existing != key => Err(KeyError::DuplicateKeyId(key.key_id())),
            _ => {
                self.0.insert(key.key_id(), key);
                Ok(())
            }
        }
    }

    pub fn remove(&mut self, id: KeyId) -> Option<PlatformPublicKey> {
        self.0.remove(&id)
    }

    pub fn get(&self, id: KeyId) -> Option<&PlatformPublicKey> {
        self.0.get(&id)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<PlatformPublicKey> for Result<PublicKeySet, KeyError> {
    fn from_iter<I: IntoIterator<Item = PlatformPublicKey>>(keys: I) -> Self {
        let mut set = PublicKeySet::new();
        for key in keys {
            set.insert(key)?;
        }
        Ok(set)
    }
}

impl TryFrom<Vec<String>> for PublicKeySet {
    type Error = KeyError;
    fn try_from(points: Vec<String>) -> Result<Self, Self::Error> {
        points
            .iter()
            .map(|point| PlatformPublicKey::from_sec1_hex(point))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .collect()
    }
}

impl From<PublicKeySet> for Vec<String> {
    fn from(set: PublicKeySet) -> Self {
        set.0.values().map(PlatformPublicKey::to_sec1_hex).collect()
    }
}
