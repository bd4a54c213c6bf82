//! Strings at the boundary: GBK in and out (no source uses UTF-8 there), the `|`-terminated
//! lists, and the cut of an answer to the buffer size the spec promises callers.

use crate::interface::codes::{Failure, ILLEGAL_CHARACTERS};

/// GBK bytes (without their NUL) as text; bytes that are not GBK are −41.
pub fn from_gbk(bytes: &[u8], what: &str) -> Result<String, Failure> {
    let (text, had_errors) = encoding_rs::GBK.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(Failure::new(
            ILLEGAL_CHARACTERS,
            format!("{what} is not GBK text"),
        ));
    }
    Ok(text.into_owned())
}

/// Text as GBK; a character GBK lacks becomes `?` (encoding_rs writes an HTML entity, which a
/// caller splitting on `|` does not expect).
pub fn to_gbk(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut encoder = encoding_rs::GBK.new_encoder();
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        let piece = ch.encode_utf8(&mut buf);
        let mut bytes = [0u8; 8];
        let (result, _read, written) =
            encoder.encode_from_utf8_without_replacement(piece, &mut bytes, true);
        match result {
            encoding_rs::EncoderResult::InputEmpty => {
                out.extend_from_slice(bytes.get(..written).unwrap_or_default())
            }
            _ => out.push(b'?'),
        }
    }
    out
}

/// The longest prefix of GBK `bytes` of at most `max` bytes that ends on a character boundary
/// (a lead byte `81`..`FE` starts a two-byte character).
pub fn gbk_prefix(bytes: &[u8], max: usize) -> &[u8] {
    let mut end = 0;
    while end < bytes.len() {
        let width = if bytes[end] >= 0x81 && bytes[end] <= 0xFE {
            2
        } else {
            1
        };
        if end + width > max || end + width > bytes.len() {
            break;
        }
        end += width;
    }
    &bytes[..end]
}

/// The text of pOutInfo as GBK, cut to fit `capacity` bytes with its NUL.
pub fn out_bytes(text: &str, capacity: usize) -> Vec<u8> {
    let gbk = to_gbk(text);
    let mut out = gbk_prefix(&gbk, capacity.saturating_sub(1)).to_vec();
    out.push(0);
    out
}

/// Items as the interface lists them: each followed by `|`, the last one too.
pub fn list<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    for item in items {
        out.push_str(item.as_ref());
        out.push('|');
    }
    out
}

/// Splits a `|`-terminated list into its items; the text after the last `|` must be empty.
pub fn split_list(text: &str) -> Option<Vec<&str>> {
    let body = text.strip_suffix('|')?;
    Some(body.split('|').collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip_through_gbk() {
        let gbk = to_gbk("张测试|");
        assert_eq!(gbk, [0xD5, 0xC5, 0xB2, 0xE2, 0xCA, 0xD4, b'|']);
        assert_eq!(from_gbk(&gbk, "x").unwrap(), "张测试|");
    }

    #[test]
    fn bytes_that_are_not_gbk_are_illegal_characters() {
        assert_eq!(from_gbk(&[0x81], "x").unwrap_err().code, -41);
        assert_eq!(from_gbk(&[0xFF, 0xFF], "x").unwrap_err().code, -41);
    }

    #[test]
    fn a_character_gbk_lacks_is_a_question_mark() {
        assert_eq!(to_gbk("a😀b"), b"a?b");
    }

    #[test]
    fn the_cut_never_splits_a_character() {
        // 3 bytes of room (4 with the NUL): "a" and one Chinese character, not half of the next.
        assert_eq!(out_bytes("a张三", 4), [b'a', 0xD5, 0xC5, 0]);
        assert_eq!(out_bytes("a张三", 3), [b'a', 0]);
        assert_eq!(out_bytes("", 1), [0]);
    }

    #[test]
    fn lists_end_with_a_bar() {
        assert_eq!(list(["a", "", "b"]), "a||b|");
        assert_eq!(split_list("a||b|").unwrap(), ["a", "", "b"]);
        assert!(split_list("a|b").is_none());
    }

    proptest! {
        #[test]
        fn out_bytes_fit_and_decode(text in "\\PC{0,64}", capacity in 1usize..80) {
            let out = out_bytes(&text, capacity);
            prop_assert!(out.len() <= capacity);
            prop_assert_eq!(out.last(), Some(&0));
            let body = &out[..out.len() - 1];
            prop_assert!(from_gbk(body, "x").is_ok());
            prop_assert!(to_gbk(&text).starts_with(body));
        }
    }
}
