//! Field codecs: how one field value (as a person writes it in a record) becomes the bytes of a
//! record on the card, and back.
//!
//! Every encoder writes exactly the field's declared length (left-aligned, padded as its storage
//! class says) and every decoder is its exact inverse, so `decode(encode(v)) == v` for every valid `v`.

mod card_number;
mod citizen_id;
mod codes;
mod date;
mod digits;
mod text;

pub use card_number::card_number_check_char;
pub use citizen_id::citizen_id_check_char;
pub use codes::{gender_name, is_valid_gender, is_valid_nation, is_valid_region, nation_name};
pub use date::{is_valid_date, Day};

use std::fmt;

/// The encodings a layout field may declare. The first four are the storage classes of the
/// national specification; the others are checked formats stored in one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `an`: printable ASCII, left-aligned, padded with 00.
    An,
    /// `an` holding Chinese text: GBK bytes, left-aligned, padded with 00.
    Gbk,
    /// `cn`: packed BCD digits, left-aligned, padded with F.
    Cn,
    /// `b`: binary, given as hex, exactly the field's length.
    B,
    /// `cn` 4: a calendar date YYYYMMDD.
    Date,
    /// `an` 18: citizen ID number (GB 11643) with its ISO 7064 MOD 11-2 check character.
    CitizenId,
    /// `an` 9: card number, 8 digits or upper-case letters and a GB 11714 check character.
    CardNumber,
    /// `cn` 3: administrative region code (GB/T 2260), 6 digits.
    Region,
    /// `an` 1: gender code (GB/T 2261.1).
    Gender,
    /// `cn` 1: nation code (GB 3304), 2 digits.
    Nation,
    /// `b` 16: card identification code: region (3 BCD bytes) + `D156000005` + 8 card bytes.
    CardIdCode,
}

/// How an encoding pads and stores its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageClass {
    /// Text padded with 00.
    Text,
    /// Packed BCD padded with F.
    Bcd,
    /// Binary, exact length.
    Binary,
}

impl Encoding {
    /// Every encoding with the name a layout file uses for it.
    pub const ALL: [(&'static str, Encoding); 11] = [
        ("an", Encoding::An),
        ("gbk", Encoding::Gbk),
        ("cn", Encoding::Cn),
        ("b", Encoding::B),
        ("date", Encoding::Date),
        ("citizen-id", Encoding::CitizenId),
        ("card-number", Encoding::CardNumber),
        ("region", Encoding::Region),
        ("gender", Encoding::Gender),
        ("nation", Encoding::Nation),
        ("card-id-code", Encoding::CardIdCode),
    ];

    /// The encoding a layout file names, if it is one.
    pub fn from_name(name: &str) -> Option<Encoding> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
    }

    /// The name a layout file uses.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, e)| *e == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// The byte length this encoding requires, when it fixes one.
    pub fn required_len(self) -> Option<usize> {
        match self {
            Encoding::Date => Some(4),
            Encoding::CitizenId => Some(18),
            Encoding::CardNumber => Some(9),
            Encoding::Region => Some(3),
            Encoding::Gender | Encoding::Nation => Some(1),
            Encoding::CardIdCode => Some(16),
            Encoding::An | Encoding::Gbk | Encoding::Cn | Encoding::B => None,
        }
    }

    pub fn storage(self) -> StorageClass {
        match self {
            Encoding::An
            | Encoding::Gbk
            | Encoding::CitizenId
            | Encoding::CardNumber
            | Encoding::Gender => StorageClass::Text,
            Encoding::Cn | Encoding::Date | Encoding::Region | Encoding::Nation => {
                StorageClass::Bcd
            }
            Encoding::B | Encoding::CardIdCode => StorageClass::Binary,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a value cannot be encoded, or bytes cannot be decoded. Each message is the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("{bytes} bytes do not fit the field's {max} bytes")]
    TooLong { bytes: usize, max: usize },
    #[error("the value is {found} bytes but the field must be exactly {expected}")]
    WrongLength { found: usize, expected: usize },
    #[error("character {ch:?} at position {position} is not printable ASCII")]
    NotAscii { ch: char, position: usize },
    #[error("character {ch:?} at position {position} has no GBK encoding")]
    NotGbk { ch: char, position: usize },
    #[error("the bytes are not valid GBK text")]
    BadGbkBytes,
    #[error("character {ch:?} at position {position} is not a decimal digit")]
    NotDigit { ch: char, position: usize },
    #[error("BCD nibble {nibble:X} at position {position} is neither a digit nor the F padding")]
    BadBcd { nibble: u8, position: usize },
    #[error("{0:?} is not hex (two hex digits per byte)")]
    NotHex(String),
    #[error("{value} is not a calendar date YYYYMMDD between 1900 and 2099")]
    BadDate { value: String },
    #[error("{value} must be 17 digits followed by a digit or upper-case X")]
    CitizenIdForm { value: String },
    #[error("{value} has check character {found} but ISO 7064 MOD 11-2 gives {expected}")]
    CitizenIdCheck {
        value: String,
        found: char,
        expected: char,
    },
    #[error("{value} must be 8 digits or upper-case letters followed by a digit or X")]
    CardNumberForm { value: String },
    #[error("{value} has check character {found} but the GB 11714 rule gives {expected}")]
    CardNumberCheck {
        value: String,
        found: char,
        expected: char,
    },
    #[error("{value} is not a GB/T 2260 region code (6 digits, a known province prefix)")]
    BadRegion { value: String },
    #[error("{value} is not a GB/T 2261.1 gender code (0, 1, 2 or 9)")]
    BadGender { value: String },
    #[error("{value} is not a GB 3304 nation code (01 to 56, 97 or 98)")]
    BadNation { value: String },
    #[error("the card identification code must be region (3 BCD bytes) + D156000005 + 8 bytes: {reason}")]
    BadCardIdCode { reason: String },
    #[error("the value is empty")]
    Empty,
}

/// Appends exactly `len` bytes encoding `value` to `out`. On error `out` is left as it was.
pub fn encode_into(
    encoding: Encoding,
    len: usize,
    value: &str,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let start = out.len();
    let result = encode_unchecked_len(encoding, len, value, out);
    match result {
        Ok(()) if out.len() - start == len => Ok(()),
        Ok(()) => {
            let found = out.len() - start;
            out.truncate(start);
            Err(CodecError::WrongLength {
                found,
                expected: len,
            })
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// The `len` bytes encoding `value`.
pub fn encode(encoding: Encoding, len: usize, value: &str) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(len);
    encode_into(encoding, len, value, &mut out)?;
    Ok(out)
}

fn encode_unchecked_len(
    encoding: Encoding,
    len: usize,
    value: &str,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    check_value(encoding, value)?;
    match encoding.storage() {
        StorageClass::Text if encoding == Encoding::Gbk => text::encode_gbk(value, len, out),
        StorageClass::Text => text::encode_ascii(value, len, out),
        StorageClass::Bcd => digits::encode_bcd(value, len, out),
        StorageClass::Binary => digits::encode_hex(value, len, out),
    }
}

/// The rule a value of `encoding` obeys beyond its storage class, written or read.
fn check_value(encoding: Encoding, value: &str) -> Result<(), CodecError> {
    match encoding {
        Encoding::Date => date::check(value)?,
        Encoding::CitizenId => citizen_id::check(value)?,
        Encoding::CardNumber => card_number::check(value)?,
        Encoding::Region => codes::check_region(value)?,
        Encoding::Gender => codes::check_gender(value)?,
        Encoding::Nation => codes::check_nation(value)?,
        Encoding::CardIdCode => codes::check_card_id_code(value)?,
        Encoding::An | Encoding::Gbk | Encoding::Cn | Encoding::B => {}
    }
    Ok(())
}

/// The value `bytes` hold, as a person writes it (the inverse of [`encode`]).
pub fn decode(encoding: Encoding, bytes: &[u8]) -> Result<String, CodecError> {
    let value = match encoding.storage() {
        StorageClass::Text if encoding == Encoding::Gbk => text::decode_gbk(bytes)?,
        StorageClass::Text => text::decode_ascii(bytes)?,
        StorageClass::Bcd => digits::decode_bcd(bytes)?,
        StorageClass::Binary => hex::encode_upper(bytes),
    };
    // A value read from a card obeys the same rules as one written to it.
    check_value(encoding, &value)?;
    Ok(value)
}
