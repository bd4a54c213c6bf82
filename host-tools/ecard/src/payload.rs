//! The QR payload, format version 1: this project's own format (the national one is not public).
//!
//! ```text
//! text    = "SSC1:" base32(body || signature)          RFC 4648 alphabet, no padding
//! body    offset  size  field
//!         0       1     format version, 1
//!         1       4     key id of the platform signing key (big-endian)
//!         5       1     purpose: 1 identity, 2 payment
//!         6       1     flags: bit 0 = a family member's e-card id follows; other bits 0
//!         7       16    e-card id of the holder showing the code
//!         23      4     issued-at, Unix seconds (big-endian, unsigned: until 2106)
//!         27      2     validity in seconds; expires-at = issued-at + validity
//!         29      12    nonce, random, for replay detection
//!         41      16    (flag bit 0 only) the family member's e-card id
//! signature       64    SM2 r || s over SIGNING_CONTEXT || body, SM3, distinguishing id
//!                       "1234567812345678"
//! ```
//!
//! 105 bytes (121 with a member), 173 (199) characters with the prefix: a version 7 (8) QR code
//! at error correction level M in alphanumeric mode.

use crate::base32::{self, Base32Error};
use crate::ids::{EcardId, KeyId, Purpose, UnixTime};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The text every code starts with; the digit is the format version.
pub const PREFIX: &str = "SSC1:";
/// The format version inside the signed body.
pub const FORMAT_VERSION: u8 = 1;
/// Signed before the body and never transmitted, so a platform signature over anything else
/// (a blacklist, a future format) can never pass for a QR code.
pub const SIGNING_CONTEXT: &[u8] = b"sscard e-card QR code\0";
/// Longest text looked at; anything longer is refused before decoding.
pub const MAX_CODE_CHARS: usize = 256;

const FLAG_MEMBER: u8 = 0x01;
const BASE_BODY_LEN: usize = 41;
const SIGNATURE_LEN: usize = 64;
const NONCE_LEN: usize = 12;

/// A code's random nonce: the key of replay detection. Serialised as 24 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Nonce(pub [u8; NONCE_LEN]);

impl From<Nonce> for String {
    fn from(nonce: Nonce) -> Self {
        nonce.to_string()
    }
}

impl Nonce {
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; NONCE_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({self})")
    }
}

/// What the back office asks a code to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The e-card of the holder showing the code.
    pub ecard: EcardId,
    /// The family member's e-card when the holder shows a member's code; the member is then the
    /// person identified and charged.
    pub member: Option<EcardId>,
    pub purpose: Purpose,
}

/// Everything a code's signed body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Body {
    pub key_id: KeyId,
    pub claims: Claims,
    pub issued_at: u32,
    pub validity_secs: u16,
    pub nonce: Nonce,
}

impl Body {
    pub fn to_bytes(self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(BASE_BODY_LEN + EcardId::LEN);
        bytes.push(FORMAT_VERSION);
        bytes.extend_from_slice(&self.key_id.0.to_be_bytes());
        bytes.push(self.claims.purpose.code());
        bytes.push(if self.claims.member.is_some() {
            FLAG_MEMBER
        } else {
            0
        });
        bytes.extend_from_slice(self.claims.ecard.as_bytes());
        bytes.extend_from_slice(&self.issued_at.to_be_bytes());
        bytes.extend_from_slice(&self.validity_secs.to_be_bytes());
        bytes.extend_from_slice(&self.nonce.0);
        if let Some(member) = &self.claims.member {
            bytes.extend_from_slice(member.as_bytes());
        }
        bytes
    }

    pub fn issued_at(self) -> UnixTime {
        UnixTime(u64::from(self.issued_at))
    }

    pub fn expires_at(self) -> UnixTime {
        self.issued_at().plus_secs(u64::from(self.validity_secs))
    }
}

/// The code's text: prefix, then body and signature in base32.
pub(crate) fn to_text(body: &[u8], signature: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(body.len() + signature.len());
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(signature);
    code_text(&bytes)
}

/// The bytes (body and signature) a code's text carries, without checking their fields: for
/// diagnostics and tests. [`crate::verify_offline`] is the way to read a code.
pub fn code_bytes(text: &str) -> Result<Vec<u8>, Malformed> {
    if text.len() > MAX_CODE_CHARS {
        return Err(Malformed::TooLong { len: text.len() });
    }
    let encoded = text.strip_prefix(PREFIX).ok_or(Malformed::Prefix)?;
    base32::decode(encoded).map_err(Malformed::Encoding)
}

/// The text of raw code bytes (body and signature), the inverse of [`code_bytes`].
pub fn code_text(bytes: &[u8]) -> String {
    format!("{PREFIX}{}", base32::encode(bytes))
}

/// Why a text is not a well-formed code. Nothing here has been authenticated yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("it is {len} bytes long; a code has at most {MAX_CODE_CHARS} characters")]
    TooLong { len: usize },
    #[error("it does not start with {PREFIX}")]
    Prefix,
    #[error("its text is not canonical base32")]
    Encoding(#[source] Base32Error),
    #[error("its format version is {0}, this software reads version {FORMAT_VERSION}")]
    Version(u8),
    #[error(
        "it is {bytes} bytes long, a version {FORMAT_VERSION} code with these flags is {expected}"
    )]
    Length { bytes: usize, expected: usize },
    #[error("its purpose code {0} is neither 1 (identity) nor 2 (payment)")]
    Purpose(u8),
    #[error("its flags {0:#04x} set bits this version does not define")]
    Flags(u8),
}

/// A well-formed but not yet verified code.
pub(crate) struct Parsed {
    pub body: Body,
    pub body_bytes: Vec<u8>,
    pub signature: [u8; SIGNATURE_LEN],
}

fn byte(bytes: &[u8], at: usize) -> u8 {
    bytes.get(at).copied().unwrap_or(0)
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(part) = bytes.get(at..at + N) {
        out.copy_from_slice(part);
    }
    out
}

/// Parses a code's text. The length is checked against the flags before any field is read, so
/// the field readers above never fall back to their defaults.
pub(crate) fn parse(text: &str) -> Result<Parsed, Malformed> {
    let bytes = code_bytes(text)?;
    if bytes.len() < BASE_BODY_LEN + SIGNATURE_LEN {
        return Err(Malformed::Length {
            bytes: bytes.len(),
            expected: BASE_BODY_LEN + SIGNATURE_LEN,
        });
    }
    let version = byte(&bytes, 0);
    if version != FORMAT_VERSION {
        return Err(Malformed::Version(version));
    }
    let flags = byte(&bytes, 6);
    if flags & !FLAG_MEMBER != 0 {
        return Err(Malformed::Flags(flags));
    }
    let body_len = if flags & FLAG_MEMBER != 0 {
        BASE_BODY_LEN + EcardId::LEN
    } else {
        BASE_BODY_LEN
    };
    if bytes.len() != body_len + SIGNATURE_LEN {
        return Err(Malformed::Length {
            bytes: bytes.len(),
            expected: body_len + SIGNATURE_LEN,
        });
    }
    let purpose_code = byte(&bytes, 5);
    let purpose = Purpose::from_code(purpose_code).ok_or(Malformed::Purpose(purpose_code))?;
    let member =
        (flags & FLAG_MEMBER != 0).then(|| EcardId::from_bytes(array(&bytes, BASE_BODY_LEN)));
    let body = Body {
        key_id: KeyId(u32::from_be_bytes(array(&bytes, 1))),
        claims: Claims {
            ecard: EcardId::from_bytes(array(&bytes, 7)),
            member,
            purpose,
        },
        issued_at: u32::from_be_bytes(array(&bytes, 23)),
        validity_secs: u16::from_be_bytes(array(&bytes, 27)),
        nonce: Nonce(array(&bytes, 29)),
    };
    let (body_bytes, signature) = bytes.split_at(body_len);
    Ok(Parsed {
        body,
        body_bytes: body_bytes.to_vec(),
        signature: array(signature, 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(member: Option<EcardId>) -> Body {
        Body {
            key_id: KeyId(0x0102_0304),
            claims: Claims {
                ecard: EcardId::from_bytes([7; 16]),
                member,
                purpose: Purpose::Payment,
            },
            issued_at: 1_800_000_000,
            validity_secs: 60,
            nonce: Nonce([9; 12]),
        }
    }

    #[test]
    fn body_round_trips_through_the_text_with_and_without_a_member() {
        for member in [None, Some(EcardId::from_bytes([8; 16]))] {
            let body = body(member);
            let text = to_text(&body.to_bytes(), &[5; 64]);
            let parsed = parse(&text).map_err(|e| e.to_string());
            let parsed = parsed.as_ref().map(|p| (p.body, p.signature));
            assert_eq!(parsed, Ok((body, [5; 64])));
        }
    }

    #[test]
    fn sizes_are_the_documented_ones() {
        assert_eq!(body(None).to_bytes().len(), 41);
        assert_eq!(to_text(&body(None).to_bytes(), &[0; 64]).len(), 173);
        let member = Some(EcardId::from_bytes([8; 16]));
        assert_eq!(to_text(&body(member).to_bytes(), &[0; 64]).len(), 199);
    }
}
