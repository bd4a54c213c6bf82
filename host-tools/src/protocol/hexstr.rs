//! Hex input from people: bytes as pairs of hex digits, optionally separated by spaces, tabs or
//! colons (`00A4 0400`, `00:a4:04:00`). An error names the offending character and its position so
//! the CLI can draw a caret under it.

use std::fmt;

/// What is wrong at [`HexError::position`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexErrorKind {
    /// A character that is neither a hex digit nor a separator.
    NotHexDigit(char),
    /// A separator between the two digits of one byte.
    SplitByte(char),
    /// The last byte has only one digit.
    OddDigit,
    /// The input is longer than [`MAX_HEX_INPUT_CHARS`]; `position` is the first character past it.
    TooLong,
}

/// Longest hex input, in characters: room for the largest extended APDU (65,544 bytes) written
/// with a separator after every byte.
pub const MAX_HEX_INPUT_CHARS: usize = 3 * 65_544;

/// A hex string that is not bytes, with the character position (0-based, in `char`s) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct HexError {
    pub input: String,
    pub position: usize,
    pub kind: HexErrorKind,
}

impl HexError {
    /// One sentence for a person, without the caret drawing.
    pub fn sentence(&self) -> String {
        let column = self.position + 1;
        match self.kind {
            HexErrorKind::NotHexDigit(c) => {
                format!("character {column} ({c:?}) is not a hex digit")
            }
            HexErrorKind::SplitByte(c) => {
                format!("character {column} ({c:?}) splits a byte: write each byte as two adjacent hex digits")
            }
            HexErrorKind::OddDigit => {
                format!("character {column} is a lone hex digit: the last byte needs two digits")
            }
            HexErrorKind::TooLong => format!(
                "the input is longer than {MAX_HEX_INPUT_CHARS} characters, the limit (the largest extended APDU written with spaces)"
            ),
        }
    }

    /// The input and a caret line pointing at the offending character.
    pub fn caret(&self) -> String {
        if self.kind == HexErrorKind::TooLong {
            // Not the whole input again: its start is enough to recognise it.
            return format!("  {}...", self.input);
        }
        // Widths in chars: the input may hold any Unicode, but a terminal shows most of it one column wide.
        format!("  {}\n  {}^", self.input, " ".repeat(self.position))
    }
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence())
    }
}

fn is_separator(c: char) -> bool {
    c == ' ' || c == ':' || c == '\t'
}

/// Parses hex digits (either case) into bytes; separators may stand between bytes. Input longer
/// than [`MAX_HEX_INPUT_CHARS`] is refused before it is parsed.
pub fn parse(input: &str) -> Result<Vec<u8>, HexError> {
    if input.chars().nth(MAX_HEX_INPUT_CHARS).is_some() {
        return Err(HexError {
            input: input.chars().take(32).collect(),
            position: MAX_HEX_INPUT_CHARS,
            kind: HexErrorKind::TooLong,
        });
    }
    let error = |position, kind| HexError {
        input: input.to_string(),
        position,
        kind,
    };
    let mut bytes = Vec::with_capacity(input.len() / 2);
    // The first digit of the byte being read, with its position.
    let mut high: Option<(usize, u8)> = None;
    for (position, c) in input.chars().enumerate() {
        if is_separator(c) {
            if high.is_some() {
                return Err(error(position, HexErrorKind::SplitByte(c)));
            }
            continue;
        }
        let Some(nibble) = c.to_digit(16) else {
            return Err(error(position, HexErrorKind::NotHexDigit(c)));
        };
        // to_digit(16) is at most 15.
        let nibble = nibble as u8;
        match high.take() {
            None => high = Some((position, nibble)),
            Some((_, h)) => bytes.push(h << 4 | nibble),
        }
    }
    if let Some((position, _)) = high {
        return Err(error(position, HexErrorKind::OddDigit));
    }
    Ok(bytes)
}

/// Upper-case hex without separators, the form traces and JSON use.
pub fn encode(bytes: &[u8]) -> String {
    ::hex::encode_upper(bytes)
}

/// Upper-case hex with a space between bytes, for people.
pub fn spaced(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_spaces_colons_and_either_case() {
        assert_eq!(parse("00a4 04:00").unwrap(), vec![0x00, 0xA4, 0x04, 0x00]);
        assert_eq!(parse("  3B6D  ").unwrap(), vec![0x3B, 0x6D]);
        assert_eq!(parse("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn points_at_a_bad_character() {
        let e = parse("00A4 04G0").unwrap_err();
        assert_eq!(e.position, 7);
        assert_eq!(e.kind, HexErrorKind::NotHexDigit('G'));
        assert_eq!(e.caret(), "  00A4 04G0\n         ^");
        assert!(e.sentence().contains("character 8"));
    }

    #[test]
    fn input_longer_than_the_limit_is_refused_without_echoing_it() {
        let longest = "00 ".repeat(MAX_HEX_INPUT_CHARS / 3);
        assert_eq!(parse(&longest).unwrap().len(), 65_544);
        let e = parse(&format!("{longest}0")).unwrap_err();
        assert_eq!(
            (e.position, e.kind),
            (MAX_HEX_INPUT_CHARS, HexErrorKind::TooLong)
        );
        assert!(
            e.sentence().contains("196632 characters, the limit"),
            "{}",
            e.sentence()
        );
        assert!(e.caret().len() < 64, "{}", e.caret());
    }

    #[test]
    fn points_at_a_split_byte_and_a_lone_digit() {
        let e = parse("0 0").unwrap_err();
        assert_eq!((e.position, e.kind), (1, HexErrorKind::SplitByte(' ')));
        let e = parse("00A").unwrap_err();
        assert_eq!((e.position, e.kind), (2, HexErrorKind::OddDigit));
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let e = parse("é0").unwrap_err();
        assert_eq!((e.position, e.kind), (0, HexErrorKind::NotHexDigit('é')));
        let e = parse("00é").unwrap_err();
        assert_eq!(e.position, 2);
    }

    proptest! {
        #[test]
        fn round_trips_in_every_form(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(parse(&encode(&bytes)).unwrap(), bytes.clone());
            prop_assert_eq!(parse(&spaced(&bytes)).unwrap(), bytes.clone());
            prop_assert_eq!(parse(&encode(&bytes).to_lowercase()).unwrap(), bytes.clone());
            let colons = bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
            prop_assert_eq!(parse(&colons).unwrap(), bytes);
        }

        #[test]
        fn any_error_points_inside_the_input(s in ".{0,40}") {
            if let Err(e) = parse(&s) {
                prop_assert!(e.position < s.chars().count());
                let at = s.chars().nth(e.position).unwrap();
                match e.kind {
                    HexErrorKind::NotHexDigit(c) | HexErrorKind::SplitByte(c) => prop_assert_eq!(c, at),
                    HexErrorKind::OddDigit => prop_assert!(at.is_ascii_hexdigit()),
                    HexErrorKind::TooLong => prop_assert!(s.chars().count() > MAX_HEX_INPUT_CHARS),
                }
            }
        }
    }
}
