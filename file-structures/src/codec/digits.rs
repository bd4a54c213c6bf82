//! `cn` packed BCD (left-aligned, F padding) and `b` binary given as hex.

use super::CodecError;

pub(super) fn encode_bcd(value: &str, len: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    if let Some((position, ch)) = value.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(CodecError::NotDigit { ch, position });
    }
    let digits = value.as_bytes();
    let bytes = digits.len().div_ceil(2);
    if bytes > len {
        return Err(CodecError::TooLong { bytes, max: len });
    }
    for pair in digits.chunks(2) {
        let high = pair[0] - b'0';
        let low = pair.get(1).map_or(0x0F, |d| d - b'0');
        out.push(high << 4 | low);
    }
    out.resize(out.len() + (len - bytes), 0xFF);
    Ok(())
}

pub(super) fn decode_bcd(bytes: &[u8]) -> Result<String, CodecError> {
    let mut digits = String::with_capacity(bytes.len() * 2);
    let mut padding = false;
    for (position, nibble) in bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]).enumerate() {
        match nibble {
            0x0F => padding = true,
            0..=9 if !padding => digits.push(char::from(b'0' + nibble)),
            _ => return Err(CodecError::BadBcd { nibble, position }),
        }
    }
    Ok(digits)
}

pub(super) fn encode_hex(value: &str, len: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let bytes = hex::decode(value).map_err(|_| CodecError::NotHex(value.to_owned()))?;
    if bytes.len() != len {
        return Err(CodecError::WrongLength {
            found: bytes.len(),
            expected: len,
        });
    }
    out.extend_from_slice(&bytes);
    Ok(())
}
