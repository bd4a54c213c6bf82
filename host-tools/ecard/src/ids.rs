//! The small values a code carries: e-card ids, key ids, times and purposes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An e-card's identifier: 16 random bytes the back office draws when it issues the e-card.
///
/// It is the only holder reference a QR code carries: it is derived from nothing about the
/// person (not the ID number, not the card number), so a code read over someone's shoulder tells
/// nothing without the back office. Written as 32 lower-case hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EcardId([u8; 16]);

impl EcardId {
    /// Its length in the binary payload.
    pub const LEN: usize = 16;

    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// A fresh random id from the operating system's generator.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for EcardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for EcardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcardId({self})")
    }
}

/// Text that is not 32 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an e-card id is 32 hexadecimal digits")]
pub struct EcardIdFormError;

impl FromStr for EcardId {
    type Err = EcardIdFormError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 16];
        if text.len() != 32 {
            return Err(EcardIdFormError);
        }
        hex::decode_to_slice(text, &mut bytes).map_err(|_| EcardIdFormError)?;
        Ok(Self(bytes))
    }
}

impl TryFrom<String> for EcardId {
    type Error = EcardIdFormError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<EcardId> for String {
    fn from(id: EcardId) -> Self {
        id.to_string()
    }
}

/// Which platform key signed a code: the first 4 bytes of SM3 over the key's uncompressed SEC1
/// encoding (`04 || x || y`). Written as 8 lower-case hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Text that is not 8 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a key id is 8 hexadecimal digits")]
pub struct KeyIdFormError;

impl FromStr for KeyId {
    type Err = KeyIdFormError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 4];
        if text.len() != 8 {
            return Err(KeyIdFormError);
        }
        hex::decode_to_slice(text, &mut bytes).map_err(|_| KeyIdFormError)?;
        Ok(Self(u32::from_be_bytes(bytes)))
    }
}

impl TryFrom<String> for KeyId {
    type Error = KeyIdFormError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<KeyId> for String {
    fn from(id: KeyId) -> Self {
        id.to_string()
    }
}

/// A moment, in whole seconds since the Unix epoch (UTC). Callers pass the clock in, so tests and
/// the back office decide what "now" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// The system clock; a clock before 1970 reads as 1970.
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(since.as_secs())
    }

    pub const fn secs(self) -> u64 {
        self.0
    }

    pub const fn plus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a code may be used for. Identity covers identification and queries (e-card level 1);
/// payment also settles from the medical account (level 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    Identity,
    Payment,
}

impl Purpose {
    pub(crate) const fn code(self) -> u8 {
        match self {
            Purpose::Identity => 1,
            Purpose::Payment => 2,
        }
    }

    pub(crate) const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Purpose::Identity),
            2 => Some(Purpose::Payment),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Purpose::Identity => "identity",
            Purpose::Payment => "payment",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
