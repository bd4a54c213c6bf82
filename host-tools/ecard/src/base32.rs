//! RFC 4648 base32 (alphabet `A-Z2-7`, no padding), strict in both directions.
//!
//! Every character is in the QR alphanumeric set, so a code is encoded in alphanumeric mode, and
//! none needs quoting in a shell or a URL. Decoding accepts exactly one text for each byte string:
//! no lower case, no padding, no whitespace, and the unused low bits of the last character must be
//! zero. Otherwise two different texts would carry the same signed bytes, and a "flipped" code
//! would still verify.

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Why a text is not canonical base32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Base32Error {
    #[error("character {position} is not in the base32 alphabet A-Z 2-7")]
    Character { position: usize },
    #[error("the text has a length no byte string encodes to")]
    Length,
    #[error("the last character has unused bits set (not the canonical encoding)")]
    TrailingBits,
}

/// The text of `bytes`, without padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(symbol(buffer >> bits));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        text.push(symbol(buffer << (5 - bits)));
    }
    text
}

fn symbol(value: u16) -> char {
    // `value` < 32 by construction; the mask keeps the lookup total.
    char::from(
        ALPHABET
            .get(usize::from(value & 31))
            .copied()
            .unwrap_or(b'A'),
    )
}

fn value_of(c: u8) -> Option<u16> {
    match c {
        b'A'..=b'Z' => Some(u16::from(c - b'A')),
        b'2'..=b'7' => Some(u16::from(c - b'2') + 26),
        _ => None,
    }
}

/// The bytes of a canonical unpadded base32 text.
pub fn decode(text: &str) -> Result<Vec<u8>, Base32Error> {
    // Lengths mod 8 of 1, 3 and 6 leave a whole character unused: no byte string encodes to them.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(Base32Error::Length);
    }
    let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits = 0u32;
    for (position, c) in text.bytes().enumerate() {
        let value = value_of(c).ok_or(Base32Error::Character { position })?;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if buffer != 0 {
        return Err(Base32Error::TrailingBits);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_4648_vectors_without_padding() {
        for (plain, coded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded).as_deref(), Ok(plain.as_bytes()));
        }
    }

    #[test]
    fn non_canonical_texts_are_refused() {
        assert_eq!(decode("MZ"), Err(Base32Error::TrailingBits)); // "MY" with a low bit set
        assert_eq!(decode("mzxq"), Err(Base32Error::Character { position: 0 }));
        assert_eq!(
            decode("MZXQ===="),
            Err(Base32Error::Character { position: 4 })
        );
        assert_eq!(decode("MZX"), Err(Base32Error::Length));
        assert_eq!(decode("M"), Err(Base32Error::Length));
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = encode(&bytes);
            prop_assert!(text.bytes().all(|c| ALPHABET.contains(&c)));
            prop_assert_eq!(decode(&text), Ok(bytes));
        }

        #[test]
        fn decoding_is_one_to_one(text in "[A-Z2-7]{0,40}") {
            // Whatever decodes re-encodes to the very same text.
            if let Ok(bytes) = decode(&text) {
                prop_assert_eq!(encode(&bytes), text);
            }
        }
    }
}
