//! `an` text: printable ASCII or GBK, left-aligned and padded with 00.

use super::CodecError;

fn pad(out: &mut Vec<u8>, used: usize, len: usize) -> Result<(), CodecError> {
    if used > len {
        return Err(CodecError::TooLong {
            bytes: used,
            max: len,
        });
    }
    out.resize(out.len() + (len - used), 0);
    Ok(())
}

pub(super) fn encode_ascii(value: &str, len: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    if let Some((position, ch)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| !(' '..='~').contains(c))
    {
        return Err(CodecError::NotAscii { ch, position });
    }
    if value.len() > len {
        return Err(CodecError::TooLong {
            bytes: value.len(),
            max: len,
        });
    }
    out.extend_from_slice(value.as_bytes());
    pad(out, value.len(), len)
}

pub(super) fn encode_gbk(value: &str, len: usize, out: &mut Vec<u8>) -> Result<(), CodecError> {
    // 00 is the padding and control characters have no place in a printed name.
    if let Some((position, ch)) = value.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(CodecError::NotGbk { ch, position });
    }
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(value);
    if unmappable {
        // encoding_rs replaced the character; find it to name it.
        let mut buf = [0u8; 4];
        let found = value.chars().enumerate().find(|(_, c)| {
            let (b, _, bad) = encoding_rs::GBK.encode(c.encode_utf8(&mut buf));
            bad || b.is_empty()
        });
        let (position, ch) = found.unwrap_or((0, '?'));
        return Err(CodecError::NotGbk { ch, position });
    }
    if bytes.len() > len {
        return Err(CodecError::TooLong {
            bytes: bytes.len(),
            max: len,
        });
    }
    out.extend_from_slice(&bytes);
    pad(out, bytes.len(), len)
}

fn strip_padding(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    bytes.get(..end).unwrap_or_default()
}

pub(super) fn decode_ascii(bytes: &[u8]) -> Result<String, CodecError> {
    let text = strip_padding(bytes);
    match text.iter().position(|b| !(0x20..=0x7E).contains(b)) {
        Some(position) => Err(CodecError::NotAscii {
            ch: char::from(text[position]),
            position,
        }),
        None => Ok(text.iter().map(|&b| char::from(b)).collect()),
    }
}

pub(super) fn decode_gbk(bytes: &[u8]) -> Result<String, CodecError> {
    let text = strip_padding(bytes);
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(text)
        .map(|s| s.into_owned())
        .ok_or(CodecError::BadGbkBytes)
}
